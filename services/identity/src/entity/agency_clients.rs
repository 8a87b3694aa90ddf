//! `agency_clients` (`crate::agencies::MIGRATION`, `crate::agencies::CREATING_REQUESTS`): agency
//! clients and their credentials (the secrets' hashes live on the row; there is no secrets table).

use sea_orm::entity::prelude::*;

/// Whether a client may still exchange credentials (`status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "Text")]
pub enum Status {
    #[sea_orm(string_value = "active")]
    Active,
    /// Revoked for good.
    #[sea_orm(string_value = "revoked")]
    Revoked,
}

/// How a client proves who it is (`auth_method`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "Text")]
pub enum AuthMethod {
    /// Client id and secret.
    #[sea_orm(string_value = "secret")]
    Secret,
    /// A client certificate.
    #[sea_orm(string_value = "mtls")]
    Mtls,
}

impl AuthMethod {
    /// The stored value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Secret => "secret",
            Self::Mtls => "mtls",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "agency_clients")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub status: Status,
    pub auth_method: AuthMethod,
    /// mtls clients: lower-case hex SHA-256 of the client certificate.
    pub certificate_sha256: Option<String>,
    /// `text[]`: the RPC families the client may call.
    pub api_scopes: Vec<String>,
    /// A JSON array of `RoleGrant`s, as a token's roles claim.
    pub areas: Json,
    /// argon2id PHC string of the current secret.
    pub secret_hash: Option<String>,
    pub secret_hint: Option<String>,
    pub secret_rotated_at: Option<DateTimeUtc>,
    pub previous_secret_hash: Option<String>,
    pub previous_secret_expires_at: Option<DateTimeUtc>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_by: Option<Uuid>,
    pub updated_at: DateTimeUtc,
    pub last_exchange_at: Option<DateTimeUtc>,
    pub revoked_at: Option<DateTimeUtc>,
    pub revoked_by: Option<Uuid>,
    pub revoke_reason: Option<String>,
    /// The creator's idempotency key and request id; NULL at the command line.
    pub request_caller: Option<String>,
    pub request_id: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

#[cfg(test)]
mod tests {
    use sea_orm::{ActiveEnum as _, Iterable as _};

    use super::*;

    #[test]
    fn every_status_round_trips_and_an_unknown_one_is_an_error() {
        for status in Status::iter() {
            assert_eq!(Status::try_from_value(&status.to_value()).unwrap(), status);
        }
        assert_eq!(Status::Active.to_value(), "active");
        assert_eq!(Status::Revoked.to_value(), "revoked");
        assert!(Status::try_from_value(&"suspended".to_owned()).is_err());
    }

    #[test]
    fn every_auth_method_round_trips_and_an_unknown_one_is_an_error() {
        for method in AuthMethod::iter() {
            assert_eq!(
                AuthMethod::try_from_value(&method.to_value()).unwrap(),
                method
            );
            assert_eq!(method.to_value(), method.as_str());
        }
        assert_eq!(AuthMethod::Secret.to_value(), "secret");
        assert_eq!(AuthMethod::Mtls.to_value(), "mtls");
        assert!(AuthMethod::try_from_value(&"password".to_owned()).is_err());
    }
}
