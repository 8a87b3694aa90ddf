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
mod web_apps;

pub(crate) use terrace_testkit::eventually;
