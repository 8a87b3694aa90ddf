//! `resident_claims` (`crate::register::claims::MIGRATION`): a villager's claim that a resident
//! record is theirs, proven by a code sent to the record's phone and decided by an official.
//! Deleted with the record it claims (an erasure leaves no claim behind).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "resident_claims")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub resident_id: Uuid,
    /// The record's village when the claim was made (the officials who decide).
    pub village_code: String,
    pub claimant_user_id: Uuid,
    pub status: ClaimStatus,
    /// E.164: the phone on the record, where the code went.
    pub phone_number: String,
    /// The code's keyed hash (`terrace_platform::otp::hash`), never the code.
    pub code_hash: Vec<u8>,
    /// Codes tried, the right one included.
    pub attempts: i32,
    pub created_at: DateTimeUtc,
    pub code_expires_at: DateTimeUtc,
    pub verified_at: Option<DateTimeUtc>,
    pub decided_at: Option<DateTimeUtc>,
    /// The contract's `Actor`, protobuf-encoded: shown, never queried.
    pub decided_by: Option<Vec<u8>>,
    pub refusal_reason: String,
}

/// The numbers are `terrace.governance.v1.ResidentClaimStatus`'s.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "i16", db_type = "SmallInteger")]
pub enum ClaimStatus {
    #[sea_orm(num_value = 1)]
    AwaitingCode,
    #[sea_orm(num_value = 2)]
    AwaitingOfficial,
    #[sea_orm(num_value = 3)]
    Confirmed,
    #[sea_orm(num_value = 4)]
    Refused,
    #[sea_orm(num_value = 5)]
    Lapsed,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
