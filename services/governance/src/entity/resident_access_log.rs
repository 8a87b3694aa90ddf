//! `resident_access_log` (`crate::register::MIGRATION`): one read of a resident's sensitive data.
//! Appended by a reveal, never changed; kept when the resident is erased (see the register's
//! retention rules), so it has no foreign key.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "resident_access_log")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub resident_id: Uuid,
    /// The contract's `Actor`, protobuf-encoded: shown, never queried.
    pub actor: Vec<u8>,
    /// Which field was revealed (`national_id`).
    pub field: String,
    pub reason: String,
    pub accessed_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
