//! The `otp_challenges` table (`migration::USERS`): one-time codes sent, as their hashes.

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use terrace_proto::identity::v1 as pb;

/// A one-time code challenge as stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "otp_challenges")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub phone_number: String,
    pub purpose: OtpPurpose,
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

/// `otp_challenges.purpose`: what a code proves.
#[derive(Copy, Clone, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "Text")]
pub enum OtpPurpose {
    #[sea_orm(string_value = "sign_up")]
    SignUp,
    #[sea_orm(string_value = "login")]
    Login,
    #[sea_orm(string_value = "change_phone")]
    ChangePhone,
    #[sea_orm(string_value = "reset_password")]
    ResetPassword,
}

impl OtpPurpose {
    /// The purpose a request names; `None` for unspecified.
    pub fn from_proto(purpose: pb::OtpPurpose) -> Option<Self> {
        match purpose {
            pb::OtpPurpose::Login => Some(Self::Login),
            pb::OtpPurpose::SignUp => Some(Self::SignUp),
            pb::OtpPurpose::ResetPassword => Some(Self::ResetPassword),
            pb::OtpPurpose::ChangePhone => Some(Self::ChangePhone),
            pb::OtpPurpose::Unspecified => None,
        }
    }

    /// As stored, and as bound into the code's HMAC (so these strings never change).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignUp => "sign_up",
            Self::Login => "login",
            Self::ChangePhone => "change_phone",
            Self::ResetPassword => "reset_password",
        }
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::{ActiveEnum as _, Iterable as _};

    use super::*;

    #[test]
    fn every_purpose_round_trips_through_its_stored_string() {
        for purpose in OtpPurpose::iter() {
            let stored = purpose.to_value();
            assert_eq!(stored, purpose.as_str());
            assert_eq!(OtpPurpose::try_from_value(&stored).unwrap(), purpose);
        }
    }

    #[test]
    fn an_unknown_stored_purpose_is_an_error() {
        assert!(OtpPurpose::try_from_value(&"signup".to_owned()).is_err());
    }
}
