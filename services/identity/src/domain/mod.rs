//! The rules of identity, free of storage and transport: what a phone number, a password and a
//! one-time code must be.
//!
//! # Layout
//!
//! - [`phone`]: phone numbers, parsed and normalised to E.164 (the platform's, shared with
//!   governance's register).
//! - [`password`]: the password policy and argon2id hashing.
//! - [`otp`]: one-time codes: made, hashed, compared (the platform's, shared with governance's
//!   claims of a resident record).

pub mod password;
pub use terrace_platform::{otp, phone};
