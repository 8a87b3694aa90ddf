//! The governance service's integration tests: one binary, real PostgreSQL, NATS and gRPC.

// Helpers of a test binary are test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod audit;
mod divisions;
mod officials;
mod open311;
mod register;
mod request_types;
mod requests;

use std::path::{Path, PathBuf};

/// The demonstration county's slice of the national list, committed as a fixture.
pub fn anji() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/admin-divisions/anji")
}
