//! `audit_entries` (`crate::audit::MIGRATION`): one entry of a county's hash chain of the
//! tamper-evident audit log. Written once, by `crate::audit`, never updated.
//!
//! `chain` and `area` are normalized code prefixes (`"330523"`, `""` for the country), as
//! [`terrace_platform::auth::AdminScope`] writes them; the contract's 12 digits are made on the
//! way out and are what is hashed. `details_json` is text, not `jsonb`: `jsonb` would reorder its
//! keys and the hash is over the exact text.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_entries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub chain: String,
    /// From 1 within the chain, without gaps.
    #[sea_orm(primary_key, auto_increment = false)]
    pub sequence: i64,
    /// When the action happened, to the microsecond.
    pub at: DateTimeUtc,
    /// `terrace.common.v1.ActorKind` by its value name (`ACTOR_KIND_USER`), as it is hashed.
    pub actor_kind: String,
    pub actor_user_id: String,
    pub actor_on_behalf_of: String,
    pub actor_agency_client_id: String,
    pub actor_system_component: String,
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    pub area: String,
    pub details_json: String,
    /// Lower-case hex SHA-256 of the chain's previous entry (64 zeros for the first).
    pub previous_hash: String,
    /// Lower-case hex SHA-256 of this entry's bytes (`crate::audit::chain`).
    pub hash: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
