//! `households` (`crate::register::MIGRATION`): a household (户) of a village register.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "households")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The village's 12-digit code.
    pub village_code: String,
    /// The local household number (户号), unique within the village.
    pub household_number: String,
    pub address: String,
    /// One of its residents, or none yet.
    pub head_resident_id: Option<Uuid>,
    pub status: HouseholdStatus,
    pub created_at: DateTimeUtc,
    /// The contract's `Actor`, protobuf-encoded: shown, never queried.
    pub created_by: Vec<u8>,
    pub updated_at: DateTimeUtc,
    pub updated_by: Vec<u8>,
}

/// The numbers are `terrace.governance.v1.HouseholdStatus`'s.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "i16", db_type = "SmallInteger")]
pub enum HouseholdStatus {
    #[sea_orm(num_value = 1)]
    Active,
    #[sea_orm(num_value = 2)]
    Archived,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
