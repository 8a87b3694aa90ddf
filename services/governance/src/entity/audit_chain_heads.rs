//! `audit_chain_heads` (`crate::audit::MIGRATION`): the last entry of each chain of the audit
//! log. An append locks its chain's row (`INSERT .. ON CONFLICT DO UPDATE`), so appends to one
//! chain take turns while appends to other chains go on; it is also the anchor that shows a
//! deleted tail.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_chain_heads")]
pub struct Model {
    /// The chain's normalized code prefix, as `audit_entries.chain`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub chain: String,
    /// The last entry's sequence; 0 before the first.
    pub sequence: i64,
    /// The last entry's hash; 64 zeros before the first.
    pub hash: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
