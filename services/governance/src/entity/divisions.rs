//! `divisions` (`crate::divisions::MIGRATION`): one administrative division of the national list,
//! keyed by its normalized code prefix (`"33"`, `"330523"`, `"330523108204"`, as
//! [`terrace_platform::auth::AdminScope`] writes it).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "divisions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub code: String,
    /// The parent's code; `None` for a province.
    pub parent_code: Option<String>,
    pub level: Level,
    /// The official name, e.g. "余村村民委员会".
    pub name: String,
    /// The names of the ancestors and this one, top down, joined by spaces.
    pub full_name: String,
    /// The pinyin initials of `name`, lower case ("ycc"), for search from a Latin keyboard.
    pub initials: String,
    /// Whether the last complete import listed it.
    pub active: bool,
    pub updated_at: DateTimeUtc,
}

/// The level of a division; the numbers are `terrace.common.v1.AdminLevel`'s.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "i16", db_type = "SmallInteger")]
pub enum Level {
    #[sea_orm(num_value = 2)]
    Province,
    #[sea_orm(num_value = 3)]
    City,
    #[sea_orm(num_value = 4)]
    County,
    #[sea_orm(num_value = 5)]
    Township,
    #[sea_orm(num_value = 6)]
    Village,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
