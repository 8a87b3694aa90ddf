//! The market at the command line (`terrace market …`, `terrace events resnapshot --service
//! market`): the operator's authority over the database, no tokens.

use sea_orm::{DatabaseConnection, TransactionTrait as _};
use terrace_platform::bus::outbox;
use terrace_platform::error::Result;

use crate::listings;
use crate::search::index::{SearchPage, SearchQuery};

/// The events' `ce-source` of what the command line publishes.
const SOURCE: &str = "terrace/market";

/// Snapshots written per transaction.
const BATCH: u64 = 500;

/// Republishes every listing's current snapshot through the outbox: after the state stream was
/// lost, and as `terrace market reindex`, which every replica's index then takes (each follows
/// the state stream; a snapshot it holds already is dropped by its version). Returns how many.
pub async fn resnapshot(db: &DatabaseConnection) -> Result<u64> {
    let mut after = None;
    let mut written = 0;
    loop {
        let rows = listings::store::page_by_id(db, after, BATCH).await?;
        let Some(last) = rows.last() else {
            return Ok(written);
        };
        after = Some(last.id);
        let txn = db.begin().await?;
        for row in &rows {
            let listing = listings::on_bus(&listings::to_proto(row, Vec::new()));
            outbox::publish_state(&txn, SOURCE, &listing, &listing.id).await?;
        }
        txn.commit().await?;
        written += rows.len() as u64;
    }
}

/// Searches the database's listings the way a replica does: an index built here, queried once
/// (`terrace market search "<query>"`).
pub async fn search(db: &DatabaseConnection, query: &SearchQuery) -> anyhow::Result<SearchPage> {
    let (index, _) = crate::search::feed::build(db).await?;
    Ok(index.search(query)?)
}
