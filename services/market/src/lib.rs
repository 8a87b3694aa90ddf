//! The market service: produce listings, search that understands Chinese, orders without overselling, and the price reference.
//!
//! The contracts are in `proto/terrace/market/v1`, every RPC of which is built: the taxonomy,
//! listings and their lifecycle with photos, orders that never oversell, search, the price
//! reference, and prices in a buyer's currency from the exchange rates operators keep.
//!
//! # Layout
//!
//! - [`admin`]: the command line's operations (resnapshot, reindex, search).
//! - [`audit`]: the actions governance's audit log records (officials' hides, helpers' and
//!   operators' actions), published in the action's transaction.
//! - [`config`]: the service's own settings (`[services.market]`).
//! - [`demo`]: the demonstration farmer's produce for `terrace dev --demo`.
//! - [`categories`]: the seeded produce taxonomy (in code) and its pictures.
//! - [`listings`]: produce listings, their lifecycle, versions and events; the expiry job.
//! - [`units`]: units of produce and exact arithmetic on them (斤 ⇄ kg, price per kg, totals).
//! - [`entity`]: one sea-orm entity per table.
//! - [`search`]: the search index of listings: one tantivy index per replica (jieba for Chinese, a
//!   stemmer for English, versioned writes, filters and facets), built from the database at start
//!   and fed by the listings' state stream; `SearchListings` and `RebuildSearchIndex`.
//! - [`orders`]: orders that never oversell: one conditional statement reserves, every step
//!   moves the same quantity back or into sold; the jobs that expire and complete orders. The
//!   people on both sides come from the platform's projection of identity's users
//!   (`terrace_platform::people`, the consumer `market-people`).
//! - [`places`]: the names of villages and areas, projected from governance's division tree
//!   (the consumer `market-places`).
//! - [`prices`]: the price reference (median and quartiles around a farmer, per her unit).
//! - [`rates`]: exchange rates operators keep, for prices shown in a buyer's currency.
//! - [`grpc`]: the handlers of `terrace.market.v1.MarketService`.
//! - [`migration`]: the service's migrator (the platform's tables first, then its own).
//! - `main.rs`: the `terrace-market` binary, the same as `terrace serve --service market`.

pub mod admin;
pub mod audit;
pub mod categories;
pub mod config;
pub mod demo;
pub mod entity;
pub mod grpc;
pub mod listings;
pub mod migration;
pub mod orders;
pub mod places;
pub mod prices;
pub mod rates;
pub mod search;
pub mod units;

use std::sync::Arc;

use terrace_platform::grpc::GrpcServer;
use terrace_platform::service::{Service, ServiceContext};
use terrace_proto::market::v1::market_service_server::MarketServiceServer;

/// The market service, as the platform runner starts it.
#[derive(Debug)]
pub struct Market;

impl Service for Market {
    const NAME: &'static str = "market";
    type Migrator = migration::Migrator;
    type State = MarketState;

    fn state(ctx: &ServiceContext) -> anyhow::Result<MarketState> {
        let photos =
            terrace_photos::Photos::new(Self::NAME, &ctx.settings.photos, ctx.clock.clone())?;
        Ok(MarketState {
            settings: ctx.settings.service(Self::NAME)?,
            photos,
            search: search::feed::Feed::new()?,
        })
    }

    fn register(ctx: &ServiceContext, state: &Arc<MarketState>, server: &mut GrpcServer) {
        // An upload (UploadPhoto) may be larger than other messages: up to the photos' own limit.
        let limit = server
            .max_message_bytes()
            .max(state.photos.max_request_bytes());
        // Before the photos' mount, which would take `/media/market/` whole.
        server.add_http_routes(categories::ICON_PREFIX, categories::router());
        server.add_http_routes(&state.photos.prefix(), state.photos.router(ctx.db.clone()));
        server.add_service(
            MarketServiceServer::new(grpc::MarketGrpc::new(ctx.clone(), state))
                .max_decoding_message_size(limit)
                .max_encoding_message_size(limit),
        );
    }

    async fn start(ctx: &ServiceContext, state: &Arc<MarketState>) -> anyhow::Result<()> {
        terrace_photos::spawn_prune(ctx, state.photos.clone());
        let listings = listings::Listings::new(
            ctx.db.clone(),
            ctx.event_source(),
            ctx.clock.clone(),
            state.photos.clone(),
        );
        // This replica's search index: built from the database, then following the listings.
        let follower =
            state
                .search
                .clone()
                .follow(listings.clone(), ctx.bus.clone(), ctx.shutdown.clone());
        ctx.tasks.spawn(async move {
            if let Err(error) = follower.await {
                tracing::error!(%error, "the search index stopped following listings");
            }
        });
        if state.settings.demo_listings {
            let (db, listings, now) = (ctx.db.clone(), listings.clone(), ctx.clock.now());
            ctx.tasks.spawn(async move {
                match demo::create_demo_listings(&db, &listings, now).await {
                    Ok(made) => tracing::info!(made, "demonstration listings of 余村 ready"),
                    Err(error) => tracing::warn!(%error, "demonstration listings not made"),
                }
            });
        }
        let expiring = listings.clone();
        terrace_platform::jobs::spawn(ctx, listings::EXPIRY_JOB, move |now| {
            let listings = expiring.clone();
            async move { Ok(listings.expire_due(now).await?) }
        });
        let orders = orders::Orders::new(
            ctx.db.clone(),
            ctx.event_source(),
            ctx.clock.clone(),
            listings,
        );
        let lapsing = orders.clone();
        terrace_platform::jobs::spawn(ctx, orders::EXPIRY_JOB, move |now| {
            let orders = lapsing.clone();
            async move { Ok(orders.expire_unanswered(now).await?) }
        });
        terrace_platform::jobs::spawn(ctx, orders::COMPLETION_JOB, move |now| {
            let orders = orders.clone();
            async move { Ok(orders.complete_handed_over(now).await?) }
        });
        let people = terrace_platform::people::consumer(
            ctx,
            PEOPLE_CONSUMER,
            terrace_platform::people::NothingElse,
        );
        people.ensure().await?;
        ctx.tasks.spawn(people.run(ctx.shutdown.clone()));
        let places = places::consumer(ctx);
        places.ensure().await?;
        ctx.tasks.spawn(places.run(ctx.shutdown.clone()));
        Ok(())
    }
}

/// The durable consumer keeping the people market knows (sellers' and buyers' names and phones,
/// shown to the other side of an accepted order).
pub const PEOPLE_CONSUMER: &str = "market-people";

/// What the market's handlers share beyond the service context.
#[derive(Debug)]
pub struct MarketState {
    pub settings: config::MarketSettings,
    /// The photos of listings.
    pub photos: terrace_photos::Photos,
    /// This replica's search index.
    pub search: search::feed::Feed,
}
