//! The sea-orm entities of identity's tables: one module per table, its `Model` the one row type
//! of that table.

pub mod otp_challenges;
pub mod rotated_refresh_tokens;
pub mod sessions;
pub mod signing_keys;
pub mod users;
