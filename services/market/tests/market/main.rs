//! The market service's integration tests: one binary, real PostgreSQL, NATS and gRPC.

// Helpers of a test binary are test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod audit;
mod listings;
mod orders;
mod prices;
mod search;
pub mod world;
