//! `known_grants` (`crate::people::grants::MIGRATION`): governance's projection of identity's role
//! grants, kept from `state.identity.grant` and the `identity.role.*` events.

use sea_orm::entity::prelude::*;
use terrace_platform::auth::Role;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "known_grants")]
pub struct Model {
    /// The grant's id in identity.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    pub role: GrantRole,
    /// The normalized division-code prefix (`AdminScope::as_str`; `''` = the whole country), so
    /// "covers area X" is an equality on each of X's prefixes.
    pub scope: String,
    pub expire_at: Option<DateTimeUtc>,
    /// Revoked by someone, or retired by identity's expiry job.
    pub revoked: bool,
    /// The time of the snapshot or event this row reflects: an older one changes nothing.
    pub version: DateTimeUtc,
}

/// A role as stored: the numbers are `terrace.identity.v1.Role`'s, so a stored value reads the
/// same in the contract, and an unknown one is refused rather than read as some other role.
/// (A plain `i16` would need that check at every read; this enum is the one place.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "i16", db_type = "SmallInteger")]
pub enum GrantRole {
    #[sea_orm(num_value = 1)]
    Resident,
    #[sea_orm(num_value = 2)]
    Farmer,
    #[sea_orm(num_value = 3)]
    Buyer,
    #[sea_orm(num_value = 4)]
    VillageOfficial,
    #[sea_orm(num_value = 5)]
    TownshipOfficial,
    #[sea_orm(num_value = 6)]
    CountyAdmin,
    #[sea_orm(num_value = 7)]
    PlatformAdmin,
    #[sea_orm(num_value = 8)]
    DigitalHelper,
}

impl From<Role> for GrantRole {
    fn from(role: Role) -> Self {
        match role {
            Role::Resident => Self::Resident,
            Role::Farmer => Self::Farmer,
            Role::Buyer => Self::Buyer,
            Role::VillageOfficial => Self::VillageOfficial,
            Role::TownshipOfficial => Self::TownshipOfficial,
            Role::CountyAdmin => Self::CountyAdmin,
            Role::PlatformAdmin => Self::PlatformAdmin,
            Role::DigitalHelper => Self::DigitalHelper,
        }
    }
}

impl From<GrantRole> for Role {
    fn from(role: GrantRole) -> Self {
        match role {
            GrantRole::Resident => Self::Resident,
            GrantRole::Farmer => Self::Farmer,
            GrantRole::Buyer => Self::Buyer,
            GrantRole::VillageOfficial => Self::VillageOfficial,
            GrantRole::TownshipOfficial => Self::TownshipOfficial,
            GrantRole::CountyAdmin => Self::CountyAdmin,
            GrantRole::PlatformAdmin => Self::PlatformAdmin,
            GrantRole::DigitalHelper => Self::DigitalHelper,
        }
    }
}

/// The holder, as governance knows them: for their name (no foreign key: a grant may arrive
/// before its user does).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::known_users::Entity",
        from = "Column::UserId",
        to = "super::known_users::Column::Id"
    )]
    User,
}

impl ActiveModelBehavior for ActiveModel {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_numbers_are_the_contracts() {
        for role in Role::ALL {
            let stored = GrantRole::from(role);
            assert_eq!(i32::from(stored.to_value()), role.to_proto() as i32);
            assert_eq!(Role::from(stored), role);
        }
    }
}
