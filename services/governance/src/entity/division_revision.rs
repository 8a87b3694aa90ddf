//! `division_revision` (`crate::divisions::REVISION_MIGRATION`): one row counting the writes to
//! `divisions`. Every import batch that writes rows bumps it in its own transaction, so a reader
//! that sees a revision sees the rows written up to it; the search index is built at a revision
//! and rebuilt when the row has moved on (`crate::divisions::index`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "division_revision")]
pub struct Model {
    /// Always `true`: the table holds one row.
    #[sea_orm(primary_key, auto_increment = false)]
    pub singleton: bool,
    pub revision: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
