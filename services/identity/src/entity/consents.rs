//! `consents` (`crate::consents::MIGRATION`, `crate::consents::REQUEST_IDS`): a villager's consent
//! for a helper. Its status is not stored but computed from the times.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "consents")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub grantor_user_id: Uuid,
    pub helper_user_id: Uuid,
    /// API scopes as a JSON array of strings; never empty.
    pub scopes: Json,
    pub starts_at: DateTimeUtc,
    pub ends_at: DateTimeUtc,
    pub note: String,
    pub witnessed: bool,
    pub recorded_by: Uuid,
    pub created_at: DateTimeUtc,
    pub withdrawn_at: Option<DateTimeUtc>,
    pub withdrawn_by: Option<Uuid>,
    pub withdraw_reason: Option<String>,
    /// When `identity.consent.expired` was published (by the expiry job).
    pub expiry_published_at: Option<DateTimeUtc>,
    pub caller_key: Option<String>,
    pub request_id: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
