//! The `users` table (`migration::USERS`, with the columns `management`'s migrations add).

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use terrace_proto::identity::v1 as pb;

/// A user as stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// E.164; one account per phone.
    #[sea_orm(unique)]
    pub phone_number: String,
    pub display_name: String,
    pub locale: String,
    pub time_zone: String,
    pub status: UserStatus,
    /// argon2id PHC string; `None` for villagers who only log in with one-time codes.
    pub password_hash: Option<String>,
    /// Consecutive wrong passwords.
    pub failed_logins: i32,
    pub locked_until: Option<DateTime<Utc>>,
    pub last_login_at: Option<DateTime<Utc>>,
    /// Who registered the user when it was not the user.
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub email: Option<String>,
    /// The rank of the official who set the current status (0: active, or the user's own doing).
    pub status_set_rank: i16,
    /// The creating caller's idempotency key, when a caller other than the user created them.
    pub created_by_key: Option<String>,
    /// The request of `created_by_key` that created the user.
    pub created_request_id: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// `users.status`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "Text")]
pub enum UserStatus {
    #[sea_orm(string_value = "active")]
    Active,
    /// Locked until `locked_until` (or until an official unlocks, when `None`).
    #[sea_orm(string_value = "locked")]
    Locked,
    #[sea_orm(string_value = "disabled")]
    Disabled,
}

impl UserStatus {
    /// The status a request asks for; `None` for unspecified.
    pub fn from_proto(status: pb::UserStatus) -> Option<Self> {
        match status {
            pb::UserStatus::Active => Some(Self::Active),
            pb::UserStatus::Locked => Some(Self::Locked),
            pb::UserStatus::Disabled => Some(Self::Disabled),
            pb::UserStatus::Unspecified => None,
        }
    }

    /// The status as the contract says it.
    pub fn to_proto(self) -> pb::UserStatus {
        match self {
            Self::Active => pb::UserStatus::Active,
            Self::Locked => pb::UserStatus::Locked,
            Self::Disabled => pb::UserStatus::Disabled,
        }
    }

    /// As stored in `users.status` (and written in audit records and revoke reasons).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Locked => "locked",
            Self::Disabled => "disabled",
        }
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::{ActiveEnum as _, Iterable as _};

    use super::*;

    #[test]
    fn every_status_round_trips_through_its_stored_string() {
        for status in UserStatus::iter() {
            let stored = status.to_value();
            assert_eq!(stored, status.as_str());
            assert_eq!(UserStatus::try_from_value(&stored).unwrap(), status);
            assert_eq!(UserStatus::from_proto(status.to_proto()), Some(status));
        }
    }

    #[test]
    fn an_unknown_stored_status_is_an_error() {
        assert!(UserStatus::try_from_value(&"frozen".to_owned()).is_err());
        assert!(UserStatus::try_from_value(&"Active".to_owned()).is_err());
    }
}
