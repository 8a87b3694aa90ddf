//! The test harness of every Terrace crate: real PostgreSQL, real NATS, real gRPC over a socket.
//!
//! Each test gets its own names — databases `t_<id>_<service>`, NATS streams and subjects under the
//! prefix `t<id>` — so tests run in parallel against the one server of each kind, and everything is
//! dropped when the test's [`TestContext`] goes. Logs are silent unless `TEST_LOG` is set.
//!
//! # Layout
//!
//! - [`context`]: per-test names and settings, a database or a bus on demand, and the clean-up.
//! - [`app`]: [`TestApp`], services started with `terrace_platform::service::run` on `127.0.0.1:0`.
//! - [`tokens`]: a test token issuer with a real JWKS endpoint.
//! - [`process`]: the `terrace` binary run as its own process, health and reflection helpers.
//! - [`tls`]: a CA, server and client certificates made at test time, and TLS channels.
//! - [`events`]: the events a service published, counted in their stream.
//! - [`jobs`]: waiting for the job runner to settle around a move of the clock.
//! - [`rpc`]: request ids, field violations and reasons of refusals, users seeded with roles.
//! - [`sms`]: an SMS gateway on loopback speaking notify's gateway protocol.
//! - [`probe`]: a small service that exercises every platform layer from the outside.
//! - [`pb`]: the probe's generated protobuf code.

// A harness that cannot set itself up is a failed test: panicking with the reason is right here.
#![allow(clippy::expect_used, clippy::unwrap_used)]

pub mod app;
pub mod context;
pub mod events;
pub mod jobs;
pub mod market;
pub mod probe;
pub mod process;
pub mod rpc;
pub mod sms;
pub mod smtp;
pub mod tls;
pub mod tokens;

/// Generated code of the probe service (`crates/testkit/proto`).
#[allow(
    missing_debug_implementations,
    unreachable_pub,
    clippy::all,
    clippy::pedantic
)]
pub mod pb {
    tonic::include_proto!("terrace.testkit.v1");

    /// The probe's descriptors, for reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("probe_descriptor");
}

pub use app::TestApp;

/// An HTTP client for tests (metrics, gRPC-Web, JWKS). The workspace's one rustls crypto provider
/// is ring, installed here because reqwest is built without choosing one.
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// As [`http_client`], answering redirects instead of following them.
pub fn http_client_without_redirects() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an http client")
}
pub use context::TestContext;

/// Polls `check` every 20 ms until it returns `Some`, or panics after `timeout` naming `what`:
/// a deadline for something asynchronous to happen at all (an event to arrive, a job to run),
/// never a timing assertion.
pub async fn eventually<T, F, Fut>(what: &str, timeout: std::time::Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
