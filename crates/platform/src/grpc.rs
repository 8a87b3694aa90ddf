//! The gRPC server every service runs.
//!
//! One listener answers native gRPC (HTTP/2) and gRPC-Web (HTTP/1.1 from browsers, with CORS), so
//! the web console, the farmers' PWA and agencies reach the same handlers. Around the handlers, from
//! the outside in:
//!
//! 1. [`GrpcTraceLayer`]: a span per call, joined to the caller's trace; RED metrics.
//! 2. CORS and gRPC-Web translation.
//! 3. Load shedding over a process-wide concurrency limit: when every slot is taken a new call is
//!    answered `RESOURCE_EXHAUSTED` at once instead of queueing behind the rest.
//! 4. The request timeout (`DEADLINE_EXCEEDED`); tonic also honours the client's `grpc-timeout`.
//! 5. [`AuthLayer`]: no principal, no call (except the public methods).
//! 6. Message-size limits, set on each generated service.
//!
//! Health starts `NOT_SERVING` for every registered service and is flipped by the caller once the
//! database and NATS are ready; on shutdown it flips back to `NOT_SERVING` first, waits
//! `drain_delay` so that load balancers stop sending, then stops accepting and drains in-flight
//! calls for at most `drain_timeout`.

use std::time::Duration;

use anyhow::Context as _;
use http::header::HeaderName;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::server::NamedService;
use tonic::service::{Routes, RoutesBuilder};
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;
use tower::ServiceBuilder;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::auth::{AuthLayer, Verifier};
use crate::config::GrpcSettings;
use crate::telemetry::GrpcTraceLayer;

/// Methods that never need a token: health checks and reflection.
pub const ALWAYS_PUBLIC: [&str; 3] = [
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1.ServerReflection/",
    "/grpc.reflection.v1alpha.ServerReflection/",
];

/// Builds the router of one process: its services, health and reflection.
#[derive(Debug)]
pub struct GrpcServer {
    settings: GrpcSettings,
    routes: RoutesBuilder,
    service_names: Vec<&'static str>,
    public_methods: Vec<String>,
    descriptor_sets: Vec<&'static [u8]>,
    health: Health,
}

/// The health of every service of a process, as `grpc.health.v1.Health` reports it.
#[derive(Clone)]
pub struct Health {
    reporter: HealthReporter,
    names: std::sync::Arc<std::sync::Mutex<Vec<&'static str>>>,
    /// Set once the process is stopping: from then on nothing turns health back to `SERVING`.
    stopping: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl std::fmt::Debug for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Health").finish_non_exhaustive()
    }
}

impl Health {
    /// Sets every registered service, and the server as a whole (`""`), to `serving`. Once
    /// [`Health::stop`] was called, only `NOT_SERVING` is set.
    pub async fn set_all(&self, serving: bool) {
        let serving = serving && !self.stopping.load(std::sync::atomic::Ordering::SeqCst);
        let status = if serving {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        let names = self
            .names
            .lock()
            .map(|names| names.clone())
            .unwrap_or_default();
        for name in names.into_iter().chain([""]) {
            self.reporter.set_service_status(name, status).await;
        }
    }

    /// Turns everything `NOT_SERVING` for good: the process is stopping.
    pub async fn stop(&self) {
        self.stopping
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.set_all(false).await;
    }
}

impl GrpcServer {
    pub fn new(settings: &GrpcSettings) -> Self {
        let (reporter, health_service) = tonic_health::server::health_reporter();
        let mut routes = RoutesBuilder::default();
        routes.add_service(health_service);
        Self {
            settings: settings.clone(),
            routes,
            service_names: Vec::new(),
            public_methods: ALWAYS_PUBLIC.iter().map(|m| (*m).to_owned()).collect(),
            descriptor_sets: vec![
                terrace_proto::FILE_DESCRIPTOR_SET,
                tonic_health::pb::FILE_DESCRIPTOR_SET,
            ],
            health: Health {
                reporter,
                names: Default::default(),
                stopping: Default::default(),
            },
        }
    }

    /// The largest message accepted and sent; services apply it to their generated servers with
    /// `max_decoding_message_size` / `max_encoding_message_size`.
    pub fn max_message_bytes(&self) -> usize {
        self.settings.max_message_bytes
    }

    /// Registers a generated service (already configured with its message-size limits).
    pub fn add_service<S>(&mut self, service: S) -> &mut Self
    where
        S: tower::Service<http::Request<tonic::body::Body>, Error = std::convert::Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Response: axum::response::IntoResponse,
        S::Future: Send + 'static,
    {
        self.service_names.push(S::NAME);
        if let Ok(mut names) = self.health.names.lock() {
            names.push(S::NAME);
        }
        self.routes.add_service(service);
        self
    }

    /// Methods callable without a token: a full path (`/pkg.Service/Method`) or a service prefix
    /// ending in `/`.
    pub fn add_public_methods<I: IntoIterator<Item = S>, S: Into<String>>(
        &mut self,
        methods: I,
    ) -> &mut Self {
        self.public_methods
            .extend(methods.into_iter().map(Into::into));
        self
    }

    /// Adds an encoded file descriptor set to reflection (Terrace's contracts and health are
    /// always there).
    pub fn add_file_descriptor_set(&mut self, set: &'static [u8]) -> &mut Self {
        self.descriptor_sets.push(set);
        self
    }

    /// The handle that flips health; starts `NOT_SERVING` for everything registered so far.
    pub fn health(&self) -> Health {
        self.health.clone()
    }

    /// Names of the registered services (for health and the start-up log).
    pub fn service_names(&self) -> &[&'static str] {
        &self.service_names
    }

    /// Serves on `listener` until `shutdown`, then drains.
    pub async fn serve(
        mut self,
        listener: TcpListener,
        verifier: Verifier,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let reflection = || {
            self.descriptor_sets.iter().fold(
                tonic_reflection::server::Builder::configure(),
                |builder, set| builder.register_encoded_file_descriptor_set(set),
            )
        };
        let reflection_v1 = reflection().build_v1().context("building reflection")?;
        let reflection_v1alpha = reflection()
            .build_v1alpha()
            .context("building reflection")?;
        self.routes
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha);
        let routes: Routes = self.routes.routes().prepare();

        let settings = self.settings;
        let stack = ServiceBuilder::new()
            .layer(GrpcTraceLayer::default())
            .layer(cors(&settings))
            .layer(tonic_web::GrpcWebLayer::new())
            .map_result(answer_errors)
            .layer(LimitExceptProbesLayer::new(settings.concurrency_limit))
            .timeout(settings.request_timeout)
            .layer(AuthLayer::new(verifier, self.public_methods))
            .into_inner();

        let health = self.health;
        let drain_delay = settings.drain_delay;
        let stopping = shutdown.clone();
        let signal = async move {
            stopping.cancelled().await;
            health.stop().await;
            tracing::info!(?drain_delay, "health set to not serving, draining");
            tokio::time::sleep(drain_delay).await;
        };
        let local_addr = listener.local_addr().ok();
        // TCP_NODELAY: gRPC writes small frames; with Nagle's algorithm a response can wait for the
        // peer's delayed ACK (40 ms on Linux). tonic sets it only on listeners it binds itself.
        let incoming =
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
        tracing::info!(addr = ?local_addr, "grpc server listening");
        let server = tonic::transport::Server::builder()
            .accept_http1(true)
            .http2_keepalive_interval(Some(Duration::from_secs(30)))
            .http2_keepalive_timeout(Some(Duration::from_secs(10)))
            .layer(stack)
            .serve_with_incoming_shutdown(routes, incoming, signal);
        let drain_timeout = settings.drain_timeout + drain_delay;
        tokio::pin!(server);
        tokio::select! {
            result = &mut server => result.context("grpc server failed"),
            () = async { shutdown.cancelled().await; tokio::time::sleep(drain_timeout).await } => {
                // Connections still open are left to the process's exit.
                tracing::warn!("drain timed out, not waiting for the remaining calls");
                Ok(())
            }
        }
    }
}

/// Load shedding over the process-wide concurrency limit, for every call but health checks and
/// reflection: a Kubernetes probe must get an answer from a busy pod, or the pod is restarted
/// exactly when it is busiest.
#[derive(Debug, Clone)]
struct LimitExceptProbesLayer {
    limit: tower::limit::GlobalConcurrencyLimitLayer,
}

impl LimitExceptProbesLayer {
    fn new(concurrency_limit: usize) -> Self {
        Self {
            limit: tower::limit::GlobalConcurrencyLimitLayer::new(concurrency_limit),
        }
    }
}

impl<S: Clone> tower::Layer<S> for LimitExceptProbesLayer {
    type Service = LimitExceptProbes<S>;

    fn layer(&self, inner: S) -> Self::Service {
        LimitExceptProbes {
            limited: tower::load_shed::LoadShed::new(self.limit.layer(inner.clone())),
            direct: inner,
        }
    }
}

#[derive(Debug, Clone)]
struct LimitExceptProbes<S> {
    limited: tower::load_shed::LoadShed<tower::limit::ConcurrencyLimit<S>>,
    direct: S,
}

impl<S, B> tower::Service<http::Request<B>> for LimitExceptProbes<S>
where
    S: tower::Service<http::Request<B>> + Send + 'static,
    S::Error: Into<tower::BoxError>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = tower::BoxError;
    type Future = futures::future::BoxFuture<'static, Result<S::Response, tower::BoxError>>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        // Load shedding never waits: `limited` is always ready (it remembers whether a slot was free).
        futures::ready!(self.direct.poll_ready(cx)).map_err(Into::into)?;
        self.limited.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        use futures::FutureExt as _;
        let path = request.uri().path();
        if path.starts_with("/grpc.health.v1.Health/") || path.starts_with("/grpc.reflection.") {
            let future = self.direct.call(request);
            async move { future.await.map_err(Into::into) }.boxed()
        } else {
            self.limited.call(request).boxed()
        }
    }
}

/// Turns the errors of the layers below gRPC-Web (shed load, timeouts) into gRPC answers, so that a
/// browser gets a framed `RESOURCE_EXHAUSTED` or `DEADLINE_EXCEEDED` with CORS headers instead of a
/// broken response, and the trace layer records the code.
fn answer_errors(
    result: Result<http::Response<tonic::body::Body>, tower::BoxError>,
) -> Result<http::Response<tonic::body::Body>, tower::BoxError> {
    Ok(match result {
        Ok(response) => response,
        Err(error) => {
            let status = if error.is::<tower::load_shed::error::Overloaded>() {
                tonic::Status::resource_exhausted("the server is at capacity; retry with backoff")
            } else if error.is::<tower::timeout::error::Elapsed>() {
                tonic::Status::deadline_exceeded("the call took longer than the server allows")
            } else {
                tonic::Status::from_error(error)
            };
            status.into_http()
        }
    })
}

fn cors(settings: &GrpcSettings) -> CorsLayer {
    let origins = if settings.cors_allowed_origins.is_empty() {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            settings
                .cors_allowed_origins
                .iter()
                .filter_map(|origin| origin.parse().ok()),
        )
    };
    CorsLayer::new()
        .allow_origin(origins)
        .allow_methods([http::Method::POST, http::Method::OPTIONS])
        .allow_headers([
            http::header::CONTENT_TYPE,
            http::header::AUTHORIZATION,
            HeaderName::from_static("x-grpc-web"),
            HeaderName::from_static("x-user-agent"),
            HeaderName::from_static("grpc-timeout"),
            HeaderName::from_static("traceparent"),
        ])
        .expose_headers([
            HeaderName::from_static("grpc-status"),
            HeaderName::from_static("grpc-message"),
            HeaderName::from_static("grpc-status-details-bin"),
        ])
        .max_age(Duration::from_secs(24 * 3600))
}
