//! The notify service's integration tests: one binary, real PostgreSQL, NATS and gRPC.

// Helpers of a test binary are test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod email;
mod inbox;
mod preferences;
mod requests;
mod sms;
mod subscriptions;
mod templates;
pub mod world;
