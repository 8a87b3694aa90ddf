//! The market service: produce listings, search that understands Chinese, orders without overselling, and the price reference.
//!
//! The contracts are in `proto/terrace/market/v1`; the behaviour lands with the service's own issue,
//! and until then every RPC answers `UNIMPLEMENTED` (tonic's generated default). What exists now is
//! the frame every service shares: registration with the platform's gRPC server, the database with
//! the platform's outbox and inbox tables, and a binary of its own.
//!
//! # Layout
//!
//! - [`categories`]: the produce taxonomy (empty until built).
//! - [`listings`]: produce listings and their lifecycle (empty until built).
//! - [`search`]: the search index of listings: the tantivy index (jieba for Chinese, a stemmer for
//!   English, versioned writes, filters and facets); its RPCs are still to come.
//! - [`orders`]: orders that never oversell (empty until built).
//! - [`prices`]: the price reference (empty until built).
//! - [`grpc`]: the handlers of `terrace.market.v1.MarketService`.
//! - [`migration`]: the service's migrator (the platform's tables first, then its own).
//! - `main.rs`: the `terrace-market` binary, the same as `terrace serve --service market`.

pub mod categories;
pub mod grpc;
pub mod listings;
pub mod migration;
pub mod orders;
pub mod prices;
pub mod search;

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
    type State = ();

    fn state(_ctx: &ServiceContext) -> anyhow::Result<()> {
        Ok(())
    }

    fn register(ctx: &ServiceContext, _state: &Arc<()>, server: &mut GrpcServer) {
        let limit = server.max_message_bytes();
        server.add_service(
            MarketServiceServer::new(grpc::MarketGrpc::new(ctx.clone()))
                .max_decoding_message_size(limit)
                .max_encoding_message_size(limit),
        );
    }
}
