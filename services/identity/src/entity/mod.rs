//! The service's tables as sea-orm entities: one module per table, its `Model` the one row type
//! (the sea-orm convention). Stores (`<resource>/store.rs`, `users.rs`, `tokens.rs`, `keys.rs`)
//! read and write through them; the migrations that make the tables stay SQL (`crate::migration`
//! and the modules' constants).

pub mod agency_clients;
pub mod audit_records;
pub mod consents;
pub mod otp_challenges;
pub mod role_grants;
pub mod rotated_refresh_tokens;
pub mod sessions;
pub mod signing_keys;
pub mod users;
