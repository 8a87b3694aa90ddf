//! OTLP export: with an endpoint set, spans and metrics reach a collector over OTLP/gRPC.
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

#[derive(Clone, Default)]
struct Collector {
    spans: Arc<Mutex<Vec<(String, String)>>>,
    metrics: Arc<Mutex<Vec<String>>>,
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
                    spans.push((span.name, service.clone()));
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_and_metrics_are_exported_over_otlp_when_an_endpoint_is_set() {
    let collector = Collector::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(collector.clone()))
            .add_service(MetricsServiceServer::new(collector.clone()))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );

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
    let (_, service) = spans
        .iter()
        .find(|(name, _)| name == "otlp_probe_span")
        .expect("the span was exported");
    assert!(
        service.contains("terrace-otlp-test"),
        "resource names the service: {service}"
    );
    let metrics = collector.metrics.lock().unwrap().clone();
    assert!(
        metrics.iter().any(|name| name == "otlp.probe.counter"),
        "{metrics:?}"
    );
    server.abort();
    let _ = tokio::time::timeout(Duration::from_secs(1), server).await;
}
