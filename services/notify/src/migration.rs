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
        migrations
    }
}
