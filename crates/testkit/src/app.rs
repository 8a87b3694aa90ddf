//! Services started for a test, on real sockets.

use std::net::SocketAddr;
use std::time::Duration;

use terrace_platform::auth::Role;
use terrace_platform::clock::ManualClock;
use terrace_platform::config::Settings;
use terrace_platform::service::{Listeners, ServiceDef};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};
use tonic_health::pb::health_check_response::ServingStatus;

use crate::context::TestContext;
use crate::tls::TestPki;
use crate::tokens::TestIssuer;

/// Services running in this test process, as `terrace dev` or `terrace serve` would run them.
#[derive(Debug)]
pub struct TestApp {
    pub grpc_addr: SocketAddr,
    pub http_addr: SocketAddr,
    /// Signs tokens that the services accept (its JWKS is served over HTTP to their verifier).
    pub issuer: TestIssuer,
    /// Cancelling it is what SIGTERM does to a real process.
    pub shutdown: CancellationToken,
    pub settings: Settings,
    /// The services' clock: it stands still until the test moves it ([`ManualClock::advance`]),
    /// and the test's tokens are dated by it too.
    pub clock: ManualClock,
    server: Option<JoinHandle<anyhow::Result<()>>>,
    /// Set when the gRPC port speaks TLS ([`TestApp::spawn_tls`]): how [`TestApp::channel`] and
    /// the health checks reach it.
    tls: Option<ClientTlsConfig>,
    // Dropped last: removes the databases and streams.
    pub ctx: TestContext,
}

impl TestApp {
    /// Starts `services` and waits until their health is `SERVING`.
    pub async fn spawn(services: &[ServiceDef]) -> Self {
        Self::spawn_with(services, |_| {}).await
    }

    /// As [`TestApp::spawn`], with a chance to change the settings first.
    pub async fn spawn_with(
        services: &[ServiceDef],
        configure: impl FnOnce(&mut Settings),
    ) -> Self {
        let app = Self::start(services, configure).await;
        app.wait_until_serving().await;
        app
    }

    /// As [`TestApp::spawn_with`], with the gRPC port terminating TLS with `pki`'s server
    /// certificate and, with `client_ca`, accepting (optional) client certificates of its CA.
    /// [`TestApp::channel`] then connects over TLS without a client certificate.
    pub async fn spawn_tls(
        services: &[ServiceDef],
        pki: &TestPki,
        client_ca: bool,
        configure: impl FnOnce(&mut Settings),
    ) -> Self {
        let mut app = Self::start(services, |settings| {
            settings.grpc.tls = Some(pki.server_settings(client_ca));
            configure(settings);
        })
        .await;
        app.tls = Some(pki.client_config(None));
        app.wait_until_serving().await;
        app
    }

    /// Starts `services` without waiting for readiness.
    pub async fn start(services: &[ServiceDef], configure: impl FnOnce(&mut Settings)) -> Self {
        let ctx = TestContext::new();
        for def in services {
            ctx.track_service(def.name);
        }
        let clock = ManualClock::starting_now();
        let issuer = TestIssuer::new().on_clock(clock.clock());
        let jwks_url = issuer.serve_jwks().await;
        let mut settings = ctx.settings.clone();
        settings.auth.jwks_url = Some(jwks_url);
        configure(&mut settings);
        let grpc = TcpListener::bind(settings.grpc.addr)
            .await
            .expect("bind grpc");
        let http = TcpListener::bind(settings.http.addr)
            .await
            .expect("bind http");
        let grpc_addr = grpc.local_addr().expect("grpc addr");
        let http_addr = http.local_addr().expect("http addr");
        let shutdown = CancellationToken::new();
        let server = tokio::spawn(terrace_platform::service::run(
            settings.clone(),
            services.to_vec(),
            Listeners {
                grpc,
                http: Some(http),
            },
            clock.clock(),
            shutdown.clone(),
        ));
        Self {
            grpc_addr,
            http_addr,
            issuer,
            shutdown,
            settings,
            clock,
            server: Some(server),
            tls: None,
            ctx,
        }
    }

    /// Polls the overall health until `SERVING` (panics after 30 s).
    pub async fn wait_until_serving(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if self.health("").await == Some(ServingStatus::Serving) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "services did not become ready in 30 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The health of one service (`""` for the whole server), or `None` if unreachable.
    pub async fn health(&self, service: &str) -> Option<ServingStatus> {
        let channel = self.endpoint()?.connect().await.ok()?;
        crate::process::health(&channel, service).await
    }

    /// The gRPC port, over TLS when it speaks TLS.
    fn endpoint(&self) -> Option<Endpoint> {
        match &self.tls {
            None => Channel::from_shared(format!("http://{}", self.grpc_addr)).ok(),
            Some(tls) => Channel::from_shared(format!("https://{}", self.grpc_addr))
                .ok()?
                .tls_config(tls.clone())
                .ok(),
        }
    }

    /// A channel to the gRPC port.
    pub async fn channel(&self) -> Channel {
        self.endpoint()
            .expect("endpoint")
            .connect()
            .await
            .expect("connect to the test server")
    }

    /// An access token for `subject` with `grants` of (role, administrative-code prefix).
    pub fn token(&self, subject: &str, grants: &[(Role, &str)]) -> String {
        self.issuer.token(subject, grants)
    }

    /// Wraps `message` in a request that carries `token`.
    pub fn request<T>(&self, message: T, token: &str) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        let value = format!("Bearer {token}").parse().expect("token header");
        request.metadata_mut().insert("authorization", value);
        request
    }

    /// Cancels the services (as SIGTERM would) and returns what `run` returned.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        match self.server.take() {
            Some(server) => server.await?,
            None => Ok(()),
        }
    }
}

impl Drop for TestApp {
    /// Cancelling lets the services stop their own tasks; the context's clean-up then drops the
    /// databases (disconnecting whatever is left).
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
