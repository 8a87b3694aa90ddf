//! `working_calendar_days` (`crate::request_types::MIGRATION`): a day that differs from the
//! ordinary week, for the whole country (`area = ''`) or an area.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "working_calendar_days")]
pub struct Model {
    /// The area's normalized code prefix, `""` for the country.
    #[sea_orm(primary_key, auto_increment = false)]
    pub area: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub day: Date,
    pub working: bool,
    /// `LocalizedText.translations` as a JSON object of tag to text.
    pub name: Json,
    pub updated_at: DateTimeUtc,
    pub updated_by: Vec<u8>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
