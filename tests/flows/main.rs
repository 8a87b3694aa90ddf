//! The platform's end-to-end flows: all five services running in one test process over real
//! PostgreSQL, NATS (JetStream) and gRPC, talking to each other only through events; the one
//! thing outside the platform, the SMS gateway, is a small local server speaking its protocol.
//!
//! - [`market`]: a farmer lists, a buyer orders, both are told once (in-app and by SMS).
//! - [`requests`]: a villager files a request, an official resolves it, she is told; an overdue
//!   request escalates and she is told.
//! - [`codes`]: a one-time code arrives through the SMS gateway, and signs a buyer up.
//! - [`templates`]: an admin's new order text goes out under its own template id and
//!   signature, and the edit is audited.

// Helpers of a test binary are test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod codes;
mod market;
mod requests;
mod templates;
pub mod world;
