//! The identity service: who is who for the whole platform: users, phone login with one-time codes, sessions, roles scoped to administrative areas, agency clients, consented helpers and the signing keys every service verifies tokens with.
//!
//! The contracts are in `proto/terrace/identity/v1`; the behaviour lands with the service's own issue,
//! and until then every RPC answers `UNIMPLEMENTED` (tonic's generated default). What exists now is
//! the frame every service shares: registration with the platform's gRPC server, the database with
//! the platform's outbox and inbox tables, and a binary of its own.
//!
//! # Layout
//!
//! - [`config`]: the service's own settings (`[services.identity]`).
//! - [`domain`]: phone numbers, passwords and one-time codes.
//! - [`keys`]: the Ed25519 signing keys: made, rotated with overlap, encrypted at rest, published
//!   as the JWKS every service verifies tokens against.
//! - [`tokens`]: access tokens and sessions with rotating refresh tokens.
//! - [`grpc`]: the handlers of `terrace.identity.v1.IdentityService`.
//! - [`migration`]: the service's migrator (the platform's tables first, then its own).
//! - `main.rs`: the `terrace-identity` binary, the same as `terrace serve --service identity`.

pub mod config;
pub mod domain;
pub mod grpc;
pub mod keys;
pub mod migration;
pub mod tokens;

use std::sync::Arc;

use terrace_platform::grpc::GrpcServer;
use terrace_platform::service::{Service, ServiceContext};
use terrace_proto::identity::v1::identity_service_server::IdentityServiceServer;

/// RPCs callable without an access token (marked **public** in the contract).
pub const PUBLIC_METHODS: [&str; 8] = [
    "/terrace.identity.v1.IdentityService/RequestOtp",
    "/terrace.identity.v1.IdentityService/SignUp",
    "/terrace.identity.v1.IdentityService/LoginWithPassword",
    "/terrace.identity.v1.IdentityService/LoginWithOtp",
    "/terrace.identity.v1.IdentityService/RefreshToken",
    "/terrace.identity.v1.IdentityService/ResetPassword",
    "/terrace.identity.v1.IdentityService/GetJwks",
    "/terrace.identity.v1.IdentityService/ExchangeClientCredentials",
];

/// The identity service, as the platform runner starts it.
#[derive(Debug)]
pub struct Identity;

impl Service for Identity {
    const NAME: &'static str = "identity";
    type Migrator = migration::Migrator;
    type State = ();

    fn state(_ctx: &ServiceContext) -> anyhow::Result<()> {
        Ok(())
    }

    fn register(ctx: &ServiceContext, _state: &Arc<()>, server: &mut GrpcServer) {
        let limit = server.max_message_bytes();
        server.add_public_methods(PUBLIC_METHODS);
        server.add_service(
            IdentityServiceServer::new(grpc::IdentityGrpc::new(ctx.clone()))
                .max_decoding_message_size(limit)
                .max_encoding_message_size(limit),
        );
    }
}
