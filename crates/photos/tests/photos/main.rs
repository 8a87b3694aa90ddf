//! The photos' integration tests: one binary, real PostgreSQL (a database per test), real files in
//! a temporary directory, real HTTP over a socket to a real gRPC server for serving.

// Helpers of a test binary are test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod attach;
mod helpers;
mod images;
mod serve;
mod service;
mod upload;
