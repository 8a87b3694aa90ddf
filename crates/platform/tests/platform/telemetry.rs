//! OTLP export: with an endpoint set, spans and metrics reach a collector over OTLP/gRPC; and
//! one change is one trace there — the call that made it, the consumer that handled its event —
//! with the relay's batch span linked to it.
//!
//! The collector is a small local tonic server speaking the real OTLP protocol (the generated
//! services of `opentelemetry-proto`). `telemetry::init` installs process-wide state, so this test
//! must be the only one in its process: nextest runs every test in a process of its own.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use terrace_platform::config::TelemetrySettings;
use tonic::{Request, Response, Status};

/// A span as the collector received it.
#[derive(Clone, Debug)]
struct Received {
    name: String,
    service: String,
    /// Hex.
    trace_id: String,
    /// The trace ids of its links, hex.
    links: Vec<String>,
}

#[derive(Clone, Default)]
struct Collector {
    spans: Arc<Mutex<Vec<Received>>>,
    metrics: Arc<Mutex<Vec<String>>>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let mut spans = self.spans.lock().unwrap();
        for resource in request.into_inner().resource_spans {
            let service = resource
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .find(|kv| kv.key == "service.name")
                .and_then(|kv| kv.value.as_ref())
                .map(|v| format!("{:?}", v.value))
                .unwrap_or_default();
            for scope in resource.scope_spans {
                for span in scope.spans {
                    spans.push(Received {
                        name: span.name,
                        service: service.clone(),
                        trace_id: hex(&span.trace_id),
                        links: span.links.iter().map(|l| hex(&l.trace_id)).collect(),
                    });
                }
            }
        }
        Ok(Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

#[tonic::async_trait]
impl MetricsService for Collector {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        let mut metrics = self.metrics.lock().unwrap();
        for resource in request.into_inner().resource_metrics {
            for scope in resource.scope_metrics {
                metrics.extend(scope.metrics.into_iter().map(|m| m.name));
            }
        }
        Ok(Response::new(ExportMetricsServiceResponse {
            partial_success: None,
        }))
    }
}

/// Serves the collector on a free loopback port; its address and the server's task.
async fn collect(collector: &Collector) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let collector = collector.clone();
    let server = tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(collector.clone()))
            .add_service(MetricsServiceServer::new(collector))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
            .await
            .unwrap();
    });
    (addr, server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_and_metrics_are_exported_over_otlp_when_an_endpoint_is_set() {
    let collector = Collector::default();
    let (addr, server) = collect(&collector).await;

    let settings = TelemetrySettings {
        otlp_endpoint: Some(format!("http://{addr}")),
        log_filter: "warn".into(),
        ..TelemetrySettings::default()
    };
    let guard = terrace_platform::telemetry::init(&settings, "terrace-otlp-test").unwrap();
    {
        let span = tracing::info_span!("otlp_probe_span");
        let _entered = span.enter();
        tracing::info!("inside the probe span");
    }
    terrace_platform::telemetry::meter()
        .u64_counter("otlp.probe.counter")
        .build()
        .add(3, &[]);
    // Shutting down flushes both pipelines.
    tokio::task::spawn_blocking(move || guard.shutdown())
        .await
        .unwrap()
        .unwrap();

    let spans = collector.spans.lock().unwrap().clone();
    let span = spans
        .iter()
        .find(|span| span.name == "otlp_probe_span")
        .expect("the span was exported");
    assert!(
        span.service.contains("terrace-otlp-test"),
        "resource names the service: {}",
        span.service
    );
    let metrics = collector.metrics.lock().unwrap().clone();
    assert!(
        metrics.iter().any(|name| name == "otlp.probe.counter"),
        "{metrics:?}"
    );
    server.abort();
    let _ = tokio::time::timeout(Duration::from_secs(1), server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_change_is_one_trace_in_the_collector_with_the_relay_round_linked_to_it() {
    use sea_orm::{ConnectionTrait as _, Statement};
    use terrace_platform::auth::Role;
    use terrace_platform::service::ServiceDef;
    use terrace_testkit::TestApp;
    use terrace_testkit::pb::RecordRequest;
    use terrace_testkit::pb::probe_service_client::ProbeServiceClient;
    use terrace_testkit::probe::Probe;

    let collector = Collector::default();
    let (addr, server) = collect(&collector).await;
    let settings = TelemetrySettings {
        otlp_endpoint: Some(format!("http://{addr}")),
        log_filter: "warn".into(),
        ..TelemetrySettings::default()
    };
    // Installed first: the app's own test telemetry then finds it in place.
    let guard = terrace_platform::telemetry::init(&settings, "terrace-trace-test").unwrap();
    let app = TestApp::spawn(&[ServiceDef::of::<Probe>()]).await;
    let db = app.ctx.database("probe").await;
    let token = app.token("user-1", &[(Role::Farmer, "110101")]);
    let trace_id = format!("{:032x}", rand::random::<u128>() | 1);
    let mut request = app.request(
        RecordRequest {
            request_id: uuid::Uuid::now_v7().to_string(),
            text: "traced".into(),
            fail_after_write: false,
        },
        &token,
    );
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{trace_id}-{:016x}-01", rand::random::<u64>() | 1)
            .parse()
            .unwrap(),
    );
    let event_id: uuid::Uuid = ProbeServiceClient::new(app.channel().await)
        .record(request)
        .await
        .unwrap()
        .into_inner()
        .event_id
        .parse()
        .unwrap();
    crate::eventually("event consumed", Duration::from_secs(10), || async {
        db.query_one_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            "SELECT 1 FROM probe_seen WHERE event_id = $1",
            [event_id.into()],
        ))
        .await
        .unwrap()
    })
    .await;
    drop(app);
    tokio::task::spawn_blocking(move || guard.shutdown())
        .await
        .unwrap()
        .unwrap();

    let spans = collector.spans.lock().unwrap().clone();
    let in_trace: Vec<&str> = spans
        .iter()
        .filter(|span| span.trace_id == trace_id)
        .map(|span| span.name.as_str())
        .collect();
    assert!(
        in_trace.iter().any(|name| name.ends_with("/Record")),
        "the call is in the trace: {in_trace:?}"
    );
    assert!(
        in_trace.iter().any(|name| name.starts_with("consume ")),
        "the consumer's handling is in the trace: {in_trace:?}"
    );
    let relay = spans
        .iter()
        .filter(|span| span.name == "outbox.relay")
        .find(|span| span.links.contains(&trace_id))
        .unwrap_or_else(|| panic!("no relay round linked to the trace: {spans:?}"));
    assert_ne!(relay.trace_id, trace_id, "the round is a trace of its own");
    server.abort();
    let _ = tokio::time::timeout(Duration::from_secs(1), server).await;
}
