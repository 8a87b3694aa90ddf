//! The governance service's migrations. Applied migrations are never edited; a change is a new one.

use sea_orm_migration::{MigrationTrait, MigratorTrait};

/// The migrator of the `governance` database.
#[derive(Debug)]
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut migrations = terrace_platform::db::migrations();
        migrations.push(crate::divisions::MIGRATION.boxed());
        migrations.push(crate::register::MIGRATION.boxed());
        migrations.push(crate::audit::MIGRATION.boxed());
        migrations.push(crate::people::MIGRATION.boxed());
        migrations.push(crate::divisions::REVISION_MIGRATION.boxed());
        migrations.push(crate::register::claims::MIGRATION.boxed());
        migrations.push(crate::request_types::MIGRATION.boxed());
        migrations.push(crate::requests::MIGRATION.boxed());
        migrations.push(terrace_photos::MIGRATION.boxed());
        migrations.push(crate::people::grants::MIGRATION.boxed());
        migrations.push(crate::requests::INBOX_MIGRATION.boxed());
        migrations.push(crate::requests::NUMBER_BLOCK_MIGRATION.boxed());
        migrations.push(crate::requests::FOLLOWERS_MIGRATION.boxed());
        migrations.push(crate::request_types::PUBLIC_LISTING_MIGRATION.boxed());
        migrations.push(terrace_platform::people::LOCALE_MIGRATION.boxed());
        migrations
    }
}
