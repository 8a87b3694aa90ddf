//! Access and refresh tokens (being written).

use terrace_platform::db::SqlMigration;

/// The sessions table.
pub const MIGRATION: SqlMigration = SqlMigration {
    name: "m20261128_200003_identity_sessions",
    up: "SELECT 1",
};
