//! The people governance knows: the platform's projection of identity's users
//! ([`terrace_platform::people`]: id, name, phone), so that a record is linked only to an account
//! that exists and the access log names who looked.
//!
//! The consumer `governance-people` keeps `known_users`; when a person is erased, governance
//! also forgets their grants and takes them out of the requests they filed or follow ([`Erase`]).
//!
//! [`grants`]: who holds which role where (`known_grants`, the consumer `governance-officials`),
//! and the questions the rest of governance asks of it: `holds_official_role`, `officials_of`.

use sea_orm::{DatabaseTransaction, DbErr};
use terrace_platform::bus::consumer::Consumer;
use terrace_platform::people::{People, PersonalData};
use terrace_platform::service::ServiceContext;
use uuid::Uuid;

pub use terrace_platform::people::{display_names, find};

pub mod grants;

/// The projection's table (governance's own migration, from before the platform had one).
pub const MIGRATION: terrace_platform::db::SqlMigration = terrace_platform::db::SqlMigration {
    name: "m20261215_200001_governance_known_users",
    up: terrace_platform::people::SQL,
};

/// The durable consumer's name.
pub const CONSUMER: &str = "governance-people";

/// The consumer that keeps `known_users`, to be run by the service.
pub fn consumer(ctx: &ServiceContext) -> Consumer<People<Erase>> {
    terrace_platform::people::consumer(ctx, CONSUMER, Erase)
}

/// What governance forgets of an erased person besides their row.
#[derive(Debug, Clone, Copy)]
pub struct Erase;

impl PersonalData for Erase {
    async fn forget(&self, txn: &DatabaseTransaction, id: Uuid) -> Result<(), DbErr> {
        // Identity tombstones the user, not their grants: an erased person leaves nothing.
        grants::forget_user(txn, id).await?;
        // Their requests stay (the matter, and what officials did about it, is the village's
        // record), but no longer say who filed or follows them, nor how to reach them, nor what
        // they filled in about themselves.
        crate::requests::store::forget_person(txn, id).await?;
        Ok(())
    }
}
