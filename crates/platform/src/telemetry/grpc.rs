//! The server side of gRPC telemetry: one span and the RED metrics per call.

use std::task::{Context, Poll};
use std::time::Instant;

use futures::future::BoxFuture;
use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Histogram};
use opentelemetry::trace::TraceContextExt as _;
use tonic::Code;
use tower::{Layer, Service};
use tracing::Instrument as _;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use super::propagation;

/// The error type of [`GrpcTraceService`]: whatever the inner service failed with, boxed, as
/// tonic expects of every layer.
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The label values used for calls that name no method of this server, so that random paths
/// cannot add label values (and series) to the metrics without bound.
const OTHER: &str = "_OTHER";

/// Latency buckets in seconds, from a cache hit to the request timeout: the SDK's defaults are
/// meant for milliseconds and would put every call in the first bucket.
const DURATION_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Server-side tower layer that traces and measures every gRPC call.
///
/// For each request it extracts the caller's trace context from the request headers, opens an
/// `INFO` span `grpc` (OpenTelemetry name `<package.Service>/<Method>`, kind server, with
/// `rpc.system`, `rpc.service`, `rpc.method`, `rpc.grpc.status_code` and `trace_id` fields) as
/// a child of that context, and runs the call inside it. The handler's own spans and logs are
/// therefore part of the caller's trace, and every log line of the call names its `trace_id`
/// (in the `grpc{...}` prefix, or the `spans` list of a JSON line).
///
/// The status code comes from the `grpc-status` response header, which is where tonic puts it
/// for every error a handler returns (a trailers-only response); a response without it is
/// counted as `OK` (0), so an error sent in the trailers after a streamed body is not seen.
/// Errors of the inner service are mapped as tonic maps them for the client, and a call whose
/// future is dropped before it answers (the client went away) is recorded as `CANCELLED` (1).
///
/// Metrics (created from [`meter`](super::meter) when the layer wraps a service):
/// - counter `rpc.server.requests` {`rpc.service`, `rpc.method`, `rpc.grpc.status_code`},
///   in Prometheus `rpc_server_requests_total`;
/// - histogram `rpc.server.duration`, seconds until the response headers, {`rpc.service`,
///   `rpc.method`}, in Prometheus `rpc_server_duration_seconds`.
///
/// Calls answered `UNIMPLEMENTED`, and paths that are not `/<service>/<method>`, are counted
/// under `_OTHER` for both service and method (their span still names the real path): the path
/// is chosen by the client, and the metrics must not grow with it.
///
/// Construct it with `GrpcTraceLayer::default()`; the private field keeps room for options
/// (buckets, extra labels) without breaking callers.
#[derive(Debug, Clone, Default)]
pub struct GrpcTraceLayer {
    _private: (),
}

impl<S> Layer<S> for GrpcTraceLayer {
    type Service = GrpcTraceService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcTraceService {
            inner,
            metrics: RpcMetrics::new(),
        }
    }
}

/// The service [`GrpcTraceLayer`] wraps around a gRPC server; see there.
#[derive(Debug, Clone)]
pub struct GrpcTraceService<S> {
    inner: S,
    metrics: RpcMetrics,
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for GrpcTraceService<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    type Response = http::Response<ResBody>;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let start = Instant::now();
        let path = request.uri().path();
        let (service, method) = split_path(path).unwrap_or((OTHER, OTHER));
        let span = tracing::info_span!(
            "grpc",
            otel.name = path.strip_prefix('/').unwrap_or(path),
            otel.kind = "server",
            otel.status_code = Empty,
            rpc.system = "grpc",
            rpc.service = service,
            rpc.method = method,
            rpc.grpc.status_code = Empty,
            trace_id = Empty,
        );
        // Fails only when no OpenTelemetry layer is installed or the span is filtered out; the
        // call then simply runs untraced.
        let _ = span.set_parent(propagation::extract_http_headers(request.headers()));
        let trace_id = span.context().span().span_context().trace_id();
        span.record("trace_id", tracing::field::display(trace_id));
        let call = Call {
            metrics: self.metrics.clone(),
            labels: Some((service.to_owned(), method.to_owned())),
            start,
            span: span.clone(),
        };

        let future = span.in_scope(|| self.inner.call(request));
        Box::pin(
            async move {
                let (code, result) = match future.await.map_err(Into::into) {
                    Ok(response) => (code_of(&response), Ok(response)),
                    Err(err) => match tonic::Status::try_from_error(err) {
                        // Handed on as the status itself, which is what tonic answers with.
                        Ok(status) => (status.code(), Err(Box::new(status) as BoxError)),
                        Err(err) => (Code::Unknown, Err(err)),
                    },
                };
                call.finish(code);
                result
            }
            .instrument(span),
        )
    }
}

/// One call in flight, recorded exactly once: with its status when it finishes, or as
/// `CANCELLED` when its future is dropped first (the client went away, the connection closed),
/// so that abandoned calls still count in the error rate.
struct Call {
    metrics: RpcMetrics,
    /// `None` once recorded.
    labels: Option<(String, String)>,
    start: Instant,
    span: tracing::Span,
}

impl Call {
    fn finish(mut self, code: Code) {
        self.record(code);
    }

    fn record(&mut self, code: Code) {
        let Some(labels) = self.labels.take() else {
            return;
        };
        self.span.record("rpc.grpc.status_code", code as i32);
        if is_server_error(code) {
            self.span.record("otel.status_code", "error");
        }
        self.metrics.record(labels, code, self.start);
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        self.record(Code::Cancelled);
    }
}

/// The instruments of [`GrpcTraceLayer`], cheap to clone into every call's future.
#[derive(Debug, Clone)]
struct RpcMetrics {
    requests: Counter<u64>,
    duration: Histogram<f64>,
}

impl RpcMetrics {
    fn new() -> Self {
        let meter = super::meter();
        Self {
            requests: meter
                .u64_counter("rpc.server.requests")
                .with_description("gRPC calls handled, by method and status code")
                .with_unit("{request}")
                .build(),
            duration: meter
                .f64_histogram("rpc.server.duration")
                .with_description("time from a gRPC request to its response headers")
                .with_unit("s")
                .with_boundaries(DURATION_BUCKETS.to_vec())
                .build(),
        }
    }

    fn record(&self, (service, method): (String, String), code: Code, start: Instant) {
        let (service, method) = if code == Code::Unimplemented {
            (OTHER.to_owned(), OTHER.to_owned())
        } else {
            (service, method)
        };
        let call = [
            KeyValue::new("rpc.service", service),
            KeyValue::new("rpc.method", method),
        ];
        self.duration.record(start.elapsed().as_secs_f64(), &call);
        let [service, method] = call;
        self.requests.add(
            1,
            &[
                service,
                method,
                KeyValue::new("rpc.grpc.status_code", i64::from(code as i32)),
            ],
        );
    }
}

/// `/<package.Service>/<Method>` split into its two names, if the path has that shape.
fn split_path(path: &str) -> Option<(&str, &str)> {
    let (service, method) = path.strip_prefix('/')?.split_once('/')?;
    let valid = !service.is_empty() && !method.is_empty() && !method.contains('/');
    valid.then_some((service, method))
}

/// The status of a response: its `grpc-status` header (trailers-only responses) or `OK`.
fn code_of<B>(response: &http::Response<B>) -> Code {
    response
        .headers()
        .get("grpc-status")
        .map_or(Code::Ok, |value| Code::from_bytes(value.as_bytes()))
}

/// The codes that mean the server failed, as OpenTelemetry's gRPC conventions mark server spans
/// as errors; the others (a bad argument, a missing entity) are the caller's business.
fn is_server_error(code: Code) -> bool {
    matches!(
        code,
        Code::Unknown
            | Code::DeadlineExceeded
            | Code::Unimplemented
            | Code::Internal
            | Code::Unavailable
            | Code::DataLoss
    )
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use tower::ServiceExt as _;

    use super::*;
    use crate::telemetry::{init_for_tests, render_metrics};

    const REMOTE_TRACE: &str = "0af7651916cd43dd8448eb211c80319c";

    /// The value of the Prometheus sample `name` whose labels include all of `labels`.
    fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        text.lines()
            .filter(|line| line.starts_with(&format!("{name}{{")))
            .find(|line| {
                labels
                    .iter()
                    .all(|(key, value)| line.contains(&format!("{key}=\"{value}\"")))
            })
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|value| value.parse().ok())
    }

    fn request(path: &str) -> http::Request<()> {
        http::Request::builder()
            .uri(format!("http://localhost{path}"))
            .header(
                "traceparent",
                format!("00-{REMOTE_TRACE}-b7ad6b7169203331-01"),
            )
            .body(())
            .unwrap()
    }

    #[tokio::test]
    async fn trailers_only_error_is_traced_and_counted_with_its_code() {
        init_for_tests("telemetry-test");
        let handler = tower::service_fn(|_request: http::Request<()>| async {
            // The handler runs in the call's span, a child of the caller's trace.
            let trace_id = propagation::current_trace_id();
            let response = http::Response::builder()
                .header("grpc-status", "3")
                .header("x-handler-trace-id", trace_id.unwrap_or_default())
                .body(())
                .unwrap();
            Ok::<_, Infallible>(response)
        });
        let service = GrpcTraceLayer::default().layer(handler);

        let response = service
            .oneshot(request("/terrace.test.v1.Probe/InvalidArgument"))
            .await
            .unwrap();

        assert_eq!(response.headers()["x-handler-trace-id"], REMOTE_TRACE);
        let text = render_metrics();
        let labels = [
            ("rpc_service", "terrace.test.v1.Probe"),
            ("rpc_method", "InvalidArgument"),
            ("rpc_grpc_status_code", "3"),
        ];
        assert_eq!(
            sample(&text, "rpc_server_requests_total", &labels),
            Some(1.0),
            "{text}"
        );
        let ok = [labels[0], labels[1], ("rpc_grpc_status_code", "0")];
        assert_eq!(
            sample(&text, "rpc_server_requests_total", &ok),
            None,
            "{text}"
        );
        assert_eq!(
            sample(&text, "rpc_server_duration_seconds_count", &labels[..2]),
            Some(1.0),
            "{text}"
        );
    }

    #[tokio::test]
    async fn response_without_grpc_status_counts_as_ok() {
        init_for_tests("telemetry-test");
        let handler = tower::service_fn(|_request: http::Request<()>| async {
            Ok::<_, Infallible>(http::Response::new(()))
        });
        let service = GrpcTraceLayer::default().layer(handler);

        service
            .oneshot(request("/terrace.test.v1.Probe/Succeed"))
            .await
            .unwrap();

        let labels = [("rpc_method", "Succeed"), ("rpc_grpc_status_code", "0")];
        let text = render_metrics();
        assert_eq!(
            sample(&text, "rpc_server_requests_total", &labels),
            Some(1.0),
            "{text}"
        );
    }

    #[tokio::test]
    async fn inner_error_is_counted_as_the_status_tonic_answers() {
        init_for_tests("telemetry-test");
        let handler = tower::service_fn(|_request: http::Request<()>| async {
            Err::<http::Response<()>, _>(tonic::Status::unavailable("overloaded"))
        });
        let service = GrpcTraceLayer::default().layer(handler);

        let err = service
            .oneshot(request("/terrace.test.v1.Probe/Overload"))
            .await
            .unwrap_err();

        assert_eq!(
            err.downcast_ref::<tonic::Status>().map(tonic::Status::code),
            Some(Code::Unavailable)
        );
        let labels = [("rpc_method", "Overload"), ("rpc_grpc_status_code", "14")];
        let text = render_metrics();
        assert_eq!(
            sample(&text, "rpc_server_requests_total", &labels),
            Some(1.0),
            "{text}"
        );
    }

    #[tokio::test]
    async fn unknown_paths_share_one_series() {
        init_for_tests("telemetry-test");
        let handler = tower::service_fn(|_request: http::Request<()>| async {
            Ok::<_, Infallible>(
                http::Response::builder()
                    .header("grpc-status", "12")
                    .body(())
                    .unwrap(),
            )
        });
        let service = GrpcTraceLayer::default().layer(handler);

        for path in ["/nope.Random/A1", "/nope.Random/A2", "/not-grpc"] {
            service.clone().oneshot(request(path)).await.unwrap();
        }

        let text = render_metrics();
        assert!(!text.contains("nope.Random"), "{text}");
        let labels = [
            ("rpc_service", OTHER),
            ("rpc_method", OTHER),
            ("rpc_grpc_status_code", "12"),
        ];
        let count = sample(&text, "rpc_server_requests_total", &labels).unwrap_or_default();
        assert!(count >= 3.0, "{text}");
    }

    #[tokio::test]
    async fn abandoned_call_is_counted_as_cancelled() {
        init_for_tests("telemetry-test");
        let handler = tower::service_fn(|_request: http::Request<()>| {
            std::future::pending::<Result<http::Response<()>, Infallible>>()
        });
        let service = GrpcTraceLayer::default().layer(handler);

        let call = service.oneshot(request("/terrace.test.v1.Probe/Abandon"));
        let outcome = tokio::time::timeout(std::time::Duration::from_millis(20), call).await;
        assert!(outcome.is_err(), "the handler never answers");

        let labels = [("rpc_method", "Abandon"), ("rpc_grpc_status_code", "1")];
        let text = render_metrics();
        assert_eq!(
            sample(&text, "rpc_server_requests_total", &labels),
            Some(1.0),
            "{text}"
        );
    }

    #[test]
    fn paths_split_into_service_and_method() {
        assert_eq!(
            split_path("/terrace.market.v1.Market/Get"),
            Some(("terrace.market.v1.Market", "Get"))
        );
        assert_eq!(split_path("/terrace.market.v1.Market/"), None);
        assert_eq!(split_path("//Get"), None);
        assert_eq!(split_path("/a/b/c"), None);
        assert_eq!(split_path("/"), None);
    }
}
