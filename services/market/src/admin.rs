//! The market at the command line (`terrace market …`, `terrace events resnapshot --service
//! market`): the operator's authority over the database, no tokens.

use sea_orm::{DatabaseConnection, TransactionTrait as _};
use terrace_platform::Clock;
use terrace_platform::bus::outbox;
use terrace_platform::config::Settings;
use terrace_platform::error::Result;

use crate::listings::Listings;
use crate::search::index::{SearchPage, SearchQuery};

/// The events' `ce-source` of what the command line publishes.
const SOURCE: &str = "terrace/market";

/// Snapshots written per transaction.
const BATCH: u64 = 500;

/// Listings with the command line's authority, photos as the settings store them.
pub fn listings(db: DatabaseConnection, settings: &Settings) -> anyhow::Result<Listings> {
    let clock = Clock::system();
    let photos = terrace_photos::Photos::new("market", &settings.photos, clock.clone())?;
    Ok(Listings::new(db, SOURCE.to_owned(), clock, photos))
}

/// Republishes every listing's current snapshot through the outbox: after the state stream was
/// lost, and as `terrace market reindex`, which every replica's index then takes (each follows
/// the state stream; a snapshot it holds already is dropped by its version). Returns how many.
pub async fn resnapshot(listings: &Listings) -> Result<u64> {
    let mut after = None;
    let mut written = 0;
    loop {
        let (page, last) = listings.page_for_bus(after, BATCH).await?;
        let Some(last) = last else {
            return Ok(written);
        };
        after = Some(last);
        let txn = listings.db().begin().await?;
        for listing in &page {
            outbox::publish_state(&txn, SOURCE, listing, &listing.id).await?;
        }
        txn.commit().await?;
        written += page.len() as u64;
    }
}

/// Searches the database's listings the way a replica does: an index built here, queried once
/// (`terrace market search "<query>"`).
pub async fn search(listings: &Listings, query: &SearchQuery) -> anyhow::Result<SearchPage> {
    let (index, _) = crate::search::feed::build(listings).await?;
    Ok(index.search(query)?)
}
