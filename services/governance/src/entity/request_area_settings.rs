//! `request_area_settings` (`crate::request_types::MIGRATION`): an area's own settings for service
//! requests; a field left `NULL` is inherited from the area above.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "request_area_settings")]
pub struct Model {
    /// The area's normalized code prefix.
    #[sea_orm(primary_key, auto_increment = false)]
    pub area: String,
    pub reopen_window_days: Option<i32>,
    pub duplicate_radius_metres: Option<i32>,
    pub duplicate_window_days: Option<i32>,
    pub updated_at: DateTimeUtc,
    /// The contract's `Actor`, protobuf-encoded.
    pub updated_by: Vec<u8>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
