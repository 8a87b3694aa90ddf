//! The agri service: agricultural data: plots with geometry, plantings, activity logs, harvest lots with public traceability, sensor telemetry and alerts, statistics.
//!
//! The contracts are in `proto/terrace/agri/v1`; the behaviour lands with the service's own issue,
//! and until then every RPC answers `UNIMPLEMENTED` (tonic's generated default). What exists now is
//! the frame every service shares: registration with the platform's gRPC server, the database with
//! the platform's outbox and inbox tables, and a binary of its own.
//!
//! # Layout
//!
//! - [`plots`]: farmers' plots (empty until built).
//! - [`crops`]: the crop catalogue (empty until built).
//! - [`plantings`]: what is planted where (empty until built).
//! - [`activities`]: the farm diary and its revisions (empty until built).
//! - [`lots`]: harvest lots and their traceability (empty until built).
//! - [`devices`]: sensors and gateways and their credentials (empty until built).
//! - [`readings`]: telemetry coming in and read back (empty until built).
//! - [`alerts`]: alert rules and the alerts they raise (empty until built).
//! - [`statistics`]: statistics of an area (empty until built).
//! - [`grpc`]: the handlers of `terrace.agri.v1.AgriService`.
//! - [`migration`]: the service's migrator (the platform's tables first, then its own).
//! - `main.rs`: the `terrace-agri` binary, the same as `terrace serve --service agri`.

pub mod activities;
pub mod alerts;
pub mod crops;
pub mod devices;
pub mod grpc;
pub mod lots;
pub mod migration;
pub mod plantings;
pub mod plots;
pub mod readings;
pub mod statistics;

use std::sync::Arc;

use terrace_platform::grpc::GrpcServer;
use terrace_platform::service::{Service, ServiceContext};
use terrace_proto::agri::v1::agri_service_server::AgriServiceServer;

/// RPCs callable without an access token (marked **public** in the contract).
pub const PUBLIC_METHODS: [&str; 2] = [
    "/terrace.agri.v1.AgriService/LookupTraceability",
    "/terrace.agri.v1.AgriService/IngestTelemetry",
];

/// The agri service, as the platform runner starts it.
#[derive(Debug)]
pub struct Agri;

impl Service for Agri {
    const NAME: &'static str = "agri";
    type Migrator = migration::Migrator;
    type State = ();

    fn state(_ctx: &ServiceContext) -> anyhow::Result<()> {
        Ok(())
    }

    fn register(ctx: &ServiceContext, _state: &Arc<()>, server: &mut GrpcServer) {
        let limit = server.max_message_bytes();
        server.add_public_methods(PUBLIC_METHODS);
        server.add_service(
            AgriServiceServer::new(grpc::AgriGrpc::new(ctx.clone()))
                .max_decoding_message_size(limit)
                .max_encoding_message_size(limit),
        );
    }
}
