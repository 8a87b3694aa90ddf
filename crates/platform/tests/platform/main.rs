//! The platform's integration tests: one binary, real PostgreSQL, real NATS, real gRPC sockets.
//!
//! Most tests drive the testkit's probe service, which is built only from platform parts.

// Helpers of a test binary are test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth;
mod consumer;
mod errors;
mod idempotency;
mod outbox;
mod server;
mod telemetry;
mod tls;
mod trace;

use std::time::Duration;

/// Polls `check` every 20 ms until it returns `Some`, or panics after `timeout` naming `what`.
pub(crate) async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
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
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
