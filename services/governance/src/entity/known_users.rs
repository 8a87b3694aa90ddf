//! `known_users` (`crate::people::MIGRATION`): governance's projection of identity's users, kept
//! from `state.identity.user` and the `identity.user.*` events.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "known_users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub display_name: String,
    /// E.164.
    pub phone_number: String,
    /// The time of the snapshot or event this row reflects: an older one changes nothing.
    pub version: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
