//! Who holds which role where, for governance: the platform's projection of identity's role
//! grants ([`terrace_platform::officials`]: `known_grants`, kept by the consumer
//! `governance-officials`), and the questions governance asks of it: `holds_official_role`,
//! `officials_of`.

use terrace_platform::bus::consumer::Consumer;
use terrace_platform::service::ServiceContext;

pub use terrace_platform::officials::{
    MAX_OFFICIALS, Official, Officials, forget_user, holds_official_role, officials_of,
};

/// The projection's table (governance's own migration, from before the platform had one).
pub const MIGRATION: terrace_platform::db::SqlMigration = terrace_platform::db::SqlMigration {
    name: "m20261204_130001_governance_known_grants",
    up: terrace_platform::officials::SQL,
};

/// The durable consumer's name.
pub const CONSUMER: &str = "governance-officials";

/// The consumer that keeps `known_grants`, to be run by the service.
pub fn consumer(ctx: &ServiceContext) -> Consumer<Officials> {
    terrace_platform::officials::consumer(ctx, CONSUMER)
}
