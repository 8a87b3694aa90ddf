//! `role_grants` (`crate::grants::MIGRATION`, `crate::grants::REQUESTS`): a role in an area given
//! to a user. The role is text the platform's [`terrace_platform::auth::Role`] parses; the grant
//! as the service reads it is [`crate::grants::GrantRow`], a view over [`Model`].

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "role_grants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    /// `Role::as_str`; parsed with `Role::from_str` (an unknown role is an error).
    pub role: String,
    /// The division-code prefix ('' = the whole country).
    pub scope: String,
    pub expires_at: Option<DateTimeUtc>,
    pub reason: String,
    pub granted_by: Option<Uuid>,
    pub granted_at: DateTimeUtc,
    pub revoked_at: Option<DateTimeUtc>,
    pub revoked_by: Option<Uuid>,
    pub revoke_reason: Option<String>,
    /// The idempotency key of the caller whose request made the grant.
    pub created_by_key: Option<String>,
    pub created_request_id: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
