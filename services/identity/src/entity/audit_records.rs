//! `audit_records` (`crate::grants::MIGRATION`): who did what to whom, written in the transaction
//! that does it.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_records")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub at: DateTimeUtc,
    /// A user id, `agency:<client id>` or `system:<component>` (`crate::audit::stored_actor`).
    pub actor_id: String,
    pub on_behalf_of: Option<String>,
    pub action: String,
    pub target_user: Option<Uuid>,
    pub details: Json,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
