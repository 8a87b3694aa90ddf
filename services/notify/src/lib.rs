//! The notify service: events to people: the in-app inbox, SMS, email and webhooks, with templates, preferences, quiet hours and broadcasts.
//!
//! The contracts are in `proto/terrace/notify/v1`; the behaviour lands with the service's own issue,
//! and until then every RPC answers `UNIMPLEMENTED` (tonic's generated default). What exists now is
//! the frame every service shares: registration with the platform's gRPC server, the database with
//! the platform's outbox and inbox tables, and a binary of its own.
//!
//! # Layout
//!
//! - [`templates`]: versioned message templates per locale (empty until built).
//! - [`preferences`]: each person's channels, quiet hours and subscriptions (empty until built).
//! - [`inbox`]: the in-app inbox (empty until built).
//! - [`deliveries`]: deliveries on every channel and their receipts (empty until built).
//! - [`broadcasts`]: messages to a whole village, township or county (empty until built).
//! - [`webhooks`]: signed webhooks to agencies (empty until built).
//! - [`grpc`]: the handlers of `terrace.notify.v1.NotifyService`.
//! - [`migration`]: the service's migrator (the platform's tables first, then its own).
//! - `main.rs`: the `terrace-notify` binary, the same as `terrace serve --service notify`.

pub mod broadcasts;
pub mod deliveries;
pub mod grpc;
pub mod inbox;
pub mod migration;
pub mod preferences;
pub mod templates;
pub mod webhooks;

use std::sync::Arc;

use terrace_platform::grpc::GrpcServer;
use terrace_platform::service::{Service, ServiceContext};
use terrace_proto::notify::v1::notify_service_server::NotifyServiceServer;

/// The notify service, as the platform runner starts it.
#[derive(Debug)]
pub struct Notify;

impl Service for Notify {
    const NAME: &'static str = "notify";
    type Migrator = migration::Migrator;
    type State = ();

    fn state(_ctx: &ServiceContext) -> anyhow::Result<()> {
        Ok(())
    }

    fn register(ctx: &ServiceContext, _state: &Arc<()>, server: &mut GrpcServer) {
        let limit = server.max_message_bytes();
        server.add_service(
            NotifyServiceServer::new(grpc::NotifyGrpc::new(ctx.clone()))
                .max_decoding_message_size(limit)
                .max_encoding_message_size(limit),
        );
    }
}
