//! The gRPC server every service runs.
//!
//! One listener answers native gRPC (HTTP/2) and gRPC-Web (HTTP/1.1 from browsers, with CORS), so
//! the web console, the farmers' PWA and agencies reach the same handlers. Around the handlers, from
//! the outside in:
//!
//! 1. [`GrpcTraceLayer`]: a span per call, joined to the caller's trace; RED metrics. Inside it,
//!    plain HTTP routes services mount by prefix ([`crate::mounts`], photos) and the web apps
//!    ([`crate::web_apps`]) answer their paths before anything below sees them.
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
//!
//! With `grpc.tls` the listener terminates TLS itself (rustls, ring), so gRPC and gRPC-Web behave
//! as before, over TLS. With `grpc.tls.client_ca_file` a client may also present a certificate
//! signed by that CA; the verified chain reaches handlers as `tonic::Request::peer_certs`, which is
//! how identity authenticates mTLS agencies. Clients without a certificate still connect.
//!
//! The handshake is ours, not tonic's `Server::tls_config`: that one does apply to
//! `serve_with_incoming_shutdown`, but it offers only `h2` in ALPN, so a gRPC-Web client speaking
//! HTTP/1.1 over TLS (which offers `http/1.1`) is refused with `no_application_protocol`. Ours
//! offers both and yields `tokio_rustls` streams, whose certificates tonic reads all the same.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use futures::FutureExt as _;
use futures::StreamExt as _;
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
use crate::config::{GrpcSettings, TlsSettings};
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
    /// Plain HTTP routes services mount on this port (photos), served before authentication.
    mounts: crate::mounts::Mounts,
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
            mounts: crate::mounts::Mounts::default(),
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

    /// Serves `router` for every path under `prefix` (`/media/governance/`) on this port, before
    /// authentication: what a browser loads without a token (a photo in an `<img>`), each route
    /// authorizing by itself. The router sees the whole path. See [`crate::mounts`].
    pub fn add_http_routes(&mut self, prefix: &str, router: axum::Router) -> &mut Self {
        self.mounts.add(prefix, router);
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
        let web_apps = settings
            .web_apps_dir
            .as_deref()
            .map(crate::web_apps::WebApps::from_dir)
            .unwrap_or_default();
        let stack = ServiceBuilder::new()
            .layer(GrpcTraceLayer::default())
            // Mounted routes authorize by themselves (a photo URL's signature): before
            // authentication, like the apps.
            .layer(crate::mounts::MountsLayer::new(self.mounts))
            // Page loads carry no token: the apps are served before authentication.
            .layer(crate::web_apps::WebAppsLayer::new(web_apps))
            .layer(cors(&settings))
            .layer(tonic_web::GrpcWebLayer::new())
            // Outside authentication and load shedding, so that their refusals speak the
            // caller's language too.
            .layer(crate::i18n::LocaleLayer)
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
        let tls = settings
            .tls
            .as_ref()
            .map(server_tls_config)
            .transpose()
            .context("configuring grpc TLS")?;
        if let Some(tls) = &settings.tls {
            tracing::info!(
                client_certificates = tls.client_ca_file.is_some(),
                "grpc server terminates TLS"
            );
        }
        let builder = tonic::transport::Server::builder()
            .accept_http1(true)
            .http2_keepalive_interval(Some(Duration::from_secs(30)))
            .http2_keepalive_timeout(Some(Duration::from_secs(10)))
            .layer(stack);
        let server = match tls {
            None => builder
                .serve_with_incoming_shutdown(routes, incoming, signal)
                .boxed(),
            Some(tls) => builder
                .serve_with_incoming_shutdown(routes, tls_incoming(incoming, tls), signal)
                .boxed(),
        };
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

/// The listener's TLS: its certificate and, when configured, client certificates signed by the
/// client CA, requested but optional (browsers and secret-authenticated agencies have none). ALPN
/// offers `h2` and `http/1.1`, as the plaintext listener serves both.
fn server_tls_config(tls: &TlsSettings) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certificates = |path: &std::path::Path| {
        CertificateDer::pem_file_iter(path)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .with_context(|| format!("reading certificates from {}", path.display()))
    };
    let chain = certificates(&tls.cert_file)?;
    let key = PrivateKeyDer::from_pem_file(&tls.key_file)
        .with_context(|| format!("reading a private key from {}", tls.key_file.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let builder = match &tls.client_ca_file {
        None => builder.with_no_client_auth(),
        Some(path) => {
            let mut roots = rustls::RootCertStore::empty();
            for certificate in certificates(path)? {
                roots
                    .add(certificate)
                    .with_context(|| format!("a client CA in {}", path.display()))?;
            }
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                    .allow_unauthenticated()
                    .build()?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .context("the certificate does not match its key")?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// How long a TLS handshake may take before the connection is dropped, so that a client that
/// opens connections and never finishes handshaking holds nothing for long.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The connections of `incoming` once their TLS handshake is done. Each handshake runs in its own
/// task, so a slow or silent client never holds up the accept loop; failed handshakes are logged
/// and dropped. The listener closes when the server drops the returned stream (on shutdown).
fn tls_incoming(
    mut incoming: tonic::transport::server::TcpIncoming,
    config: Arc<rustls::ServerConfig>,
) -> impl futures::Stream<Item = std::io::Result<tokio_rustls::server::TlsStream<tokio::net::TcpStream>>>
+ Send
+ 'static {
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let (sender, receiver) = tokio::sync::mpsc::channel(64);
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                () = sender.closed() => break,
                accepted = incoming.next() => accepted,
            };
            let stream = match accepted {
                None => break,
                Some(Err(error)) => {
                    // tonic logs it and goes on accepting, as without TLS.
                    if sender.send(Err(error)).await.is_err() {
                        break;
                    }
                    continue;
                }
                Some(Ok(stream)) => stream,
            };
            let acceptor = acceptor.clone();
            let sender = sender.clone();
            tokio::spawn(async move {
                let peer = stream.peer_addr().ok();
                match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                    Ok(Ok(tls)) => {
                        let _ = sender.send(Ok(tls)).await;
                    }
                    Ok(Err(error)) => tracing::debug!(?peer, %error, "tls handshake failed"),
                    Err(_) => tracing::debug!(?peer, "tls handshake timed out"),
                }
            });
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(receiver)
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
