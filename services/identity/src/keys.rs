//! Signing keys (being written).

use terrace_platform::db::SqlMigration;

/// The signing keys table.
pub const MIGRATION: SqlMigration = SqlMigration {
    name: "m20261128_200002_identity_signing_keys",
    up: "SELECT 1",
};
