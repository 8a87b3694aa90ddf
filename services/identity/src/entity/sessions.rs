//! The `sessions` table (`tokens::MIGRATION`): one login on one device, a family of refresh
//! tokens.

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use terrace_proto::identity::v1 as pb;

/// A session as stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    pub login_method: LoginMethod,
    /// What the client said it is (app and device).
    pub client_description: String,
    /// A consented helper acting for the user, when the session is the helper's.
    pub actor_id: Option<Uuid>,
    /// HMAC-SHA256 of the current refresh token (never the token).
    #[sea_orm(unique)]
    pub refresh_token_hash: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    /// Slides to `refresh_token_ttl` after every use.
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// `logout`, `refresh_token_reused`, or the words of whoever revoked every session of the
    /// user (free text, not a closed set).
    pub revoke_reason: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::rotated_refresh_tokens::Entity")]
    RotatedRefreshTokens,
}

impl Related<super::rotated_refresh_tokens::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::RotatedRefreshTokens.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

/// `sessions.login_method`: how the session began.
#[derive(Copy, Clone, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "Text")]
pub enum LoginMethod {
    #[sea_orm(string_value = "password")]
    Password,
    #[sea_orm(string_value = "otp")]
    Otp,
    #[sea_orm(string_value = "sign_up")]
    SignUp,
    #[sea_orm(string_value = "delegated")]
    Delegated,
}

impl LoginMethod {
    /// The method as the contract says it.
    pub fn to_proto(self) -> pb::LoginMethod {
        match self {
            Self::Password => pb::LoginMethod::Password,
            Self::Otp => pb::LoginMethod::Otp,
            Self::SignUp => pb::LoginMethod::SignUp,
            Self::Delegated => pb::LoginMethod::Delegated,
        }
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::{ActiveEnum as _, Iterable as _};

    use super::*;

    #[test]
    fn every_login_method_round_trips_through_its_stored_string() {
        let stored: Vec<String> = LoginMethod::iter()
            .map(|method| method.to_value())
            .collect();
        assert_eq!(stored, ["password", "otp", "sign_up", "delegated"]);
        for method in LoginMethod::iter() {
            assert_eq!(
                LoginMethod::try_from_value(&method.to_value()).unwrap(),
                method
            );
        }
    }

    #[test]
    fn an_unknown_stored_login_method_is_an_error() {
        assert!(LoginMethod::try_from_value(&"sms".to_owned()).is_err());
        assert!(LoginMethod::try_from_value(&String::new()).is_err());
    }
}
