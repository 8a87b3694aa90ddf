//! `residents` (`crate::register::MIGRATION`): a person in a village register. The national id
//! is held only sealed (`crate::register::sealing`): ciphertext, nonce, key name, keyed hash and
//! the masked form reads show.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "residents")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub household_id: Uuid,
    /// The household's village.
    pub village_code: String,
    pub name: String,
    pub gender: Gender,
    pub birth_date: Option<Date>,
    pub relationship: Relationship,
    /// E.164, or empty.
    pub phone_number: String,
    /// The identity user this record belongs to, once linked.
    pub user_id: Option<Uuid>,
    pub national_id_sealed: Option<Vec<u8>>,
    pub national_id_nonce: Option<Vec<u8>>,
    pub national_id_key: Option<String>,
    pub national_id_hash: Option<Vec<u8>>,
    /// `330523********1234`, or empty when no number is recorded.
    pub national_id_masked: String,
    pub status: ResidentStatus,
    pub remarks: String,
    pub created_at: DateTimeUtc,
    /// The contract's `Actor`, protobuf-encoded: shown, never queried.
    pub created_by: Vec<u8>,
    pub updated_at: DateTimeUtc,
    pub updated_by: Vec<u8>,
}

/// The numbers are `terrace.governance.v1.Gender`'s.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "i16", db_type = "SmallInteger")]
pub enum Gender {
    #[sea_orm(num_value = 0)]
    Unrecorded,
    #[sea_orm(num_value = 1)]
    Male,
    #[sea_orm(num_value = 2)]
    Female,
}

/// The numbers are `terrace.governance.v1.HouseholdRelationship`'s.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "i16", db_type = "SmallInteger")]
pub enum Relationship {
    #[sea_orm(num_value = 0)]
    Unrecorded,
    #[sea_orm(num_value = 1)]
    Head,
    #[sea_orm(num_value = 2)]
    Spouse,
    #[sea_orm(num_value = 3)]
    Child,
    #[sea_orm(num_value = 4)]
    Parent,
    #[sea_orm(num_value = 5)]
    Grandchild,
    #[sea_orm(num_value = 6)]
    Grandparent,
    #[sea_orm(num_value = 7)]
    Sibling,
    #[sea_orm(num_value = 8)]
    ChildInLaw,
    #[sea_orm(num_value = 9)]
    Other,
}

/// The numbers are `terrace.governance.v1.ResidentStatus`'s.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "i16", db_type = "SmallInteger")]
pub enum ResidentStatus {
    #[sea_orm(num_value = 1)]
    Active,
    #[sea_orm(num_value = 2)]
    Away,
    #[sea_orm(num_value = 3)]
    MovedOut,
    #[sea_orm(num_value = 4)]
    Deceased,
}

impl ResidentStatus {
    /// Whether the resident is still of the village: the statuses in which an ID number and a
    /// linked account must be unique.
    pub fn is_current(self) -> bool {
        matches!(self, Self::Active | Self::Away)
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
