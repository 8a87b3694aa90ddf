//! The `signing_keys` table (`keys::MIGRATION`): the Ed25519 keys that sign access tokens, their
//! seeds encrypted at rest.

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;

/// A signing key as stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "signing_keys")]
pub struct Model {
    /// RFC 7638 thumbprint of the public key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub kid: String,
    /// The Ed25519 public key (32 bytes).
    pub public_key: Vec<u8>,
    /// The 32-byte seed, AES-256-GCM encrypted with its tag (48 bytes); the kid is the associated
    /// data.
    pub private_key: Vec<u8>,
    pub private_key_nonce: Vec<u8>,
    pub status: KeyStatus,
    pub created_at: DateTime<Utc>,
    pub activated_at: Option<DateTime<Utc>>,
    /// No longer signs from then on.
    pub retired_at: Option<DateTime<Utc>>,
    /// Leaves the published key set.
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// `signing_keys.status`, ordered as the keys are listed: active, next, retired.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "Text")]
pub enum KeyStatus {
    /// The one key that signs.
    #[sea_orm(string_value = "active")]
    Active,
    /// Published, not signing yet.
    #[sea_orm(string_value = "next")]
    Next,
    /// No longer signs; published until `expires_at`.
    #[sea_orm(string_value = "retired")]
    Retired,
}

#[cfg(test)]
mod tests {
    use sea_orm::{ActiveEnum as _, Iterable as _};

    use super::*;

    #[test]
    fn every_key_status_round_trips_through_its_stored_string() {
        let stored: Vec<String> = KeyStatus::iter().map(|status| status.to_value()).collect();
        assert_eq!(stored, ["active", "next", "retired"]);
        for status in KeyStatus::iter() {
            assert_eq!(
                KeyStatus::try_from_value(&status.to_value()).unwrap(),
                status
            );
        }
    }

    #[test]
    fn an_unknown_stored_key_status_is_an_error() {
        assert!(KeyStatus::try_from_value(&"revoked".to_owned()).is_err());
    }
}
