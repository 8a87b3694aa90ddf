//! The notify service's migrations. Applied migrations are never edited; a change is a new one.

use sea_orm_migration::{MigrationTrait, MigratorTrait};

/// The migrator of the `notify` database.
#[derive(Debug)]
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut migrations = terrace_platform::db::migrations();
        migrations.push(terrace_platform::people::MIGRATION.boxed());
        migrations.push(crate::inbox::store::MIGRATION.boxed());
        migrations.push(terrace_platform::people::LOCALE_MIGRATION.boxed());
        migrations.push(crate::deliveries::store::MIGRATION.boxed());
        migrations.push(crate::preferences::store::MIGRATION.boxed());
        migrations.push(crate::subscriptions::store::MIGRATION.boxed());
        migrations.push(crate::templates::store::MIGRATION.boxed());
        migrations.push(crate::contacts::MIGRATION.boxed());
        migrations.push(GRANTS_MIGRATION.boxed());
        migrations
    }
}

/// Notify's projection of identity's role grants (`terrace_platform::officials`): who governs
/// an area, to tell them of requests.
pub const GRANTS_MIGRATION: terrace_platform::db::SqlMigration =
    terrace_platform::db::SqlMigration {
        name: "m20261205_000006_notify_known_grants",
        up: terrace_platform::officials::SQL,
    };
