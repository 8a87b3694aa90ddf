//! The `terrace` binary, run as a person would run it.

// Helpers of a test binary are test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod audit;
mod dev;
mod web;
