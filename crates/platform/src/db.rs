//! The PostgreSQL database of one service.
//!
//! Every service owns one database on the shared server (`terrace_identity`, `terrace_market`, ...)
//! and never reads another's. In development and tests the database is created when missing; in
//! production the operator provisions it and the service only migrates it.

use std::time::Duration;

use anyhow::Context as _;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, Statement};
use sea_orm_migration::MigratorTrait;
use secrecy::ExposeSecret;

use crate::config::DatabaseSettings;

/// Connects to the service's own database, creating it first when allowed and missing.
pub async fn connect(
    settings: &DatabaseSettings,
    service: &str,
) -> anyhow::Result<DatabaseConnection> {
    let name = settings.database_name(service);
    if settings.create_if_missing {
        create_database_if_missing(settings, &name).await?;
    }
    connect_to(settings, &name).await
}

/// Connects to the named database with the configured pool limits.
pub async fn connect_to(
    settings: &DatabaseSettings,
    database: &str,
) -> anyhow::Result<DatabaseConnection> {
    pool(settings, database, false).await
}

/// The one pool builder: the named database with the configured limits. A `lazy` pool connects
/// on first use, so a service can start (and report `NOT_SERVING`) before PostgreSQL is up.
pub async fn pool(
    settings: &DatabaseSettings,
    database: &str,
    lazy: bool,
) -> anyhow::Result<DatabaseConnection> {
    let mut options = ConnectOptions::new(settings.url_for(database).expose_secret().to_owned());
    options
        .max_connections(settings.max_connections)
        .min_connections(settings.min_connections)
        .connect_timeout(settings.connect_timeout)
        .acquire_timeout(settings.connect_timeout)
        .idle_timeout(Duration::from_secs(300))
        // Statements are traced by our spans; sqlx's own per-statement info logs would drown them.
        .sqlx_logging(false)
        .connect_lazy(lazy);
    Database::connect(options)
        .await
        .with_context(|| format!("connecting to database {database}"))
}

/// The platform's own tables, which come first in every service's migrator: the outbox and
/// inbox, the idempotency log, the job leases.
pub fn migrations() -> Vec<Box<dyn sea_orm_migration::MigrationTrait>> {
    let mut migrations = crate::bus::migrations();
    migrations.push(crate::idempotency::MIGRATION.boxed());
    migrations.push(crate::jobs::MIGRATION.boxed());
    migrations.push(crate::bus::outbox::MIGRATION_DELETE_PUBLISHED.boxed());
    migrations
}

/// Runs every pending migration of a service.
pub async fn migrate<M: MigratorTrait>(db: &DatabaseConnection) -> anyhow::Result<()> {
    M::up(db, None).await.context("running migrations")
}

/// One connection to the server's `postgres` database, for creating and dropping databases.
pub async fn admin_connection(settings: &DatabaseSettings) -> anyhow::Result<DatabaseConnection> {
    let single = DatabaseSettings {
        max_connections: 1,
        min_connections: 0,
        ..settings.clone()
    };
    connect_to(&single, "postgres").await
}

/// Creates `database` on the configured server unless it exists.
pub async fn create_database_if_missing(
    settings: &DatabaseSettings,
    database: &str,
) -> anyhow::Result<()> {
    let identifier = quote_identifier(database)?;
    let admin = admin_connection(settings).await?;
    let exists = admin
        .query_one_raw(Statement::from_sql_and_values(
            admin.get_database_backend(),
            "SELECT 1 FROM pg_database WHERE datname = $1",
            [database.into()],
        ))
        .await?
        .is_some();
    if !exists {
        // Two processes may race to create it; losing that race is fine.
        match admin
            .execute_unprepared(&format!("CREATE DATABASE {identifier}"))
            .await
        {
            Ok(_) => tracing::info!(database, "database created"),
            Err(error) if error.to_string().contains("already exists") => {}
            Err(error) => {
                return Err(error).with_context(|| format!("creating database {database}"));
            }
        }
    }
    admin.close().await?;
    Ok(())
}

/// Drops `database`, disconnecting whoever is still in it (tests clean up after themselves).
pub async fn drop_database(settings: &DatabaseSettings, database: &str) -> anyhow::Result<()> {
    let identifier = quote_identifier(database)?;
    let admin = admin_connection(settings).await?;
    admin
        .execute_unprepared(&format!(
            "DROP DATABASE IF EXISTS {identifier} WITH (FORCE)"
        ))
        .await
        .with_context(|| format!("dropping database {database}"))?;
    admin.close().await?;
    Ok(())
}

/// Database names come from settings, never from requests; still, only plain names are accepted, so
/// that the one statement that cannot take a bind parameter cannot be abused.
fn quote_identifier(name: &str) -> anyhow::Result<String> {
    anyhow::ensure!(
        !name.is_empty()
            && name.len() <= 63
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
        "invalid database name {name:?}: use letters, digits and underscores, at most 63"
    );
    Ok(format!("\"{name}\""))
}

#[cfg(test)]
mod tests {
    use super::quote_identifier;

    #[test]
    fn only_plain_names_are_quoted() {
        assert_eq!(
            quote_identifier("terrace_agri").unwrap(),
            "\"terrace_agri\""
        );
        assert!(quote_identifier("x\"; DROP DATABASE postgres; --").is_err());
        assert!(quote_identifier("").is_err());
    }
}

/// A migration written as plain SQL, run in one transaction.
///
/// Migrations are never edited once applied and never import entities, so that a migration means
/// the same thing forever; SQL says exactly what it does to the schema.
#[derive(Debug, Clone, Copy)]
pub struct SqlMigration {
    /// `m<yyyymmdd>_<nnnnnn>_<what>`; the order of a migrator's list is the order they run in.
    pub name: &'static str,
    pub up: &'static str,
}

impl sea_orm_migration::MigrationName for SqlMigration {
    fn name(&self) -> &str {
        self.name
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl sea_orm_migration::MigrationTrait for SqlMigration {
    // The trait elides the manager's lifetime; the impl must match it exactly.
    #[allow(elided_lifetimes_in_paths)]
    async fn up(&self, manager: &sea_orm_migration::SchemaManager) -> Result<(), sea_orm::DbErr> {
        manager
            .get_connection()
            .execute_unprepared(self.up)
            .await
            .map(|_| ())
    }
}

impl SqlMigration {
    /// Boxed, as a migrator's list wants it.
    pub fn boxed(self) -> Box<dyn sea_orm_migration::MigrationTrait> {
        Box::new(self)
    }
}

/// `text` as a literal inside a `LIKE` pattern (PostgreSQL's default escape is `\`).
pub fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}
