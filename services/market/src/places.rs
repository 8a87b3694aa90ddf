//! The places market knows by name: its projection of governance's division tree (code and
//! name), so that listings and orders say 余村 rather than 330523108204 and search's area counts
//! carry their names — without governance's database.
//!
//! The consumer `market-places` starts from governance's state stream
//! (`state.governance.division.>`: every division's latest snapshot) and follows
//! `governance.division.changed` (an import's batches). A row changes only for a message newer
//! than the one it reflects (the envelope's time), as snapshots and events overlap at the start.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbErr, FromQueryResult, Statement};
use terrace_platform::auth::AdminScope;
use terrace_platform::bus::consumer::{Consumer, ConsumerSpec, Handler, HandlerError};
use terrace_platform::bus::{Envelope, Event as _};
use terrace_platform::service::ServiceContext;
use terrace_proto::governance::v1 as governance;

/// The projection's table.
pub const MIGRATION: terrace_platform::db::SqlMigration = terrace_platform::db::SqlMigration {
    name: "m20261204_200004_market_known_places",
    up: "
CREATE TABLE known_places (
    code    text        PRIMARY KEY,
    name    text        NOT NULL,
    version timestamptz NOT NULL
);
",
};

/// The durable consumer's name.
pub const CONSUMER: &str = "market-places";

/// The consumer that keeps `known_places`, to be run by the service.
pub fn consumer(ctx: &ServiceContext) -> Consumer<Places> {
    Consumer::new(
        ConsumerSpec {
            name: CONSUMER.to_owned(),
            domain: "governance".to_owned(),
            subject: Some("governance.division.changed".to_owned()),
        },
        &ctx.db,
        &ctx.bus,
        &ctx.settings.consumer,
        Places,
    )
    .from_state("state.governance.division.>")
}

/// Keeps `known_places` from governance's division snapshots and import events.
#[derive(Debug)]
pub struct Places;

impl Handler for Places {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        event: &Envelope,
    ) -> Result<(), HandlerError> {
        let reject = HandlerError::Reject;
        let divisions = if event.is_state() {
            if event.is_tombstone() {
                return Ok(());
            }
            vec![
                event
                    .decode_snapshot::<governance::Division>()
                    .map_err(reject)?,
            ]
        } else if event.event_type == governance::DivisionsChanged::TYPE {
            event
                .decode::<governance::DivisionsChanged>()
                .map_err(reject)?
                .divisions
        } else {
            return Ok(());
        };
        for division in divisions {
            let Some(code) = division.code.as_ref() else {
                continue;
            };
            // The significant digits, as `AdminScope` keeps codes (330523108204, 330523108…).
            let Ok(scope) = AdminScope::from_proto(code) else {
                continue;
            };
            remember(txn, scope.as_str(), &division.name, event.time)
                .await
                .map_err(|e| HandlerError::Retry(e.into()))?;
        }
        Ok(())
    }
}

async fn remember(
    txn: &DatabaseTransaction,
    code: &str,
    name: &str,
    version: DateTime<Utc>,
) -> Result<(), DbErr> {
    txn.execute_raw(Statement::from_sql_and_values(
        txn.get_database_backend(),
        "INSERT INTO known_places (code, name, version) VALUES ($1, $2, $3)
         ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, version = EXCLUDED.version
         WHERE known_places.version < EXCLUDED.version",
        [code.into(), name.into(), version.into()],
    ))
    .await?;
    Ok(())
}

#[derive(Debug, FromQueryResult)]
struct Place {
    code: String,
    name: String,
}

/// The names of the places among `codes` (as `AdminScope` writes them) market knows.
pub async fn names<C: ConnectionTrait>(
    conn: &C,
    codes: &[String],
) -> Result<HashMap<String, String>, DbErr> {
    if codes.is_empty() {
        return Ok(HashMap::new());
    }
    let places = Place::find_by_statement(Statement::from_sql_and_values(
        conn.get_database_backend(),
        "SELECT code, name FROM known_places WHERE code = ANY($1)",
        [codes.to_vec().into()],
    ))
    .all(conn)
    .await?;
    Ok(places
        .into_iter()
        .map(|place| (place.code, place.name))
        .collect())
}

/// The name of one place, if known.
pub async fn name<C: ConnectionTrait>(conn: &C, code: &str) -> Result<Option<String>, DbErr> {
    Ok(names(conn, &[code.to_owned()]).await?.remove(code))
}
