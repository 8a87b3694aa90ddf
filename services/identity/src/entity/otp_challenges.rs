//! The `otp_challenges` table (`migration::USERS`): one-time codes sent, as their hashes.

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;

/// A one-time code challenge as stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "otp_challenges")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub phone_number: String,
    /// `sign_up`, `login`, `change_phone`, `reset_password` (also hashed into the code's HMAC).
    pub purpose: String,
    /// HMAC-SHA256 of the code under the service secret; the code itself is never stored.
    pub code_hash: Vec<u8>,
    pub expires_at: DateTime<Utc>,
    /// Tries counted so far.
    pub attempts: i32,
    pub consumed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
