//! The identity service: who is who for the whole platform: users, phone login with one-time
//! codes, sessions, roles scoped to administrative areas, agency clients, consented helpers and
//! the signing keys every service verifies tokens with.
//!
//! What works now: sign-up with an SMS code, login with a code or a password (throttled, with
//! lockout), access tokens signed with rotating Ed25519 keys, refresh-token rotation with reuse
//! detection, logout, revoking all sessions, and the JWKS over gRPC, over HTTP
//! (`/.well-known/jwks.json`) and in memory for the other services of the same process; role
//! grants; agency clients exchanging client credentials for scoped tokens; villagers' consents
//! for helpers, with delegated tokens that name both people; user management by officials within
//! their areas (registering villagers, profiles, status, phone and password changes, sessions,
//! the audit trail).
//!
//! # Layout
//!
//! Each resource is a module directory in the service's rhythm (`docs/architecture.md`, "One
//! rhythm per RPC"): `parse.rs` turns requests into commands, `mod.rs` applies them over a
//! `Caller`, `store.rs` holds the SQL; [`grpc`] answers.
//!
//! - [`config`]: the service's own settings (`[services.identity]`).
//! - [`admin`]: what an operator does from the command line (`terrace user ...`).
//! - [`accounts`]: sign-up and login flows and their throttles; the state the handlers share.
//! - [`users`]: the SQL of users and one-time code challenges, shared by accounts and
//!   management.
//! - [`demo`]: the demonstration world of `terrace dev --demo`: accounts with roles in 安吉县.
//! - [`domain`]: phone numbers, passwords and one-time codes.
//! - [`keys`]: the Ed25519 signing keys: made, rotated with overlap, encrypted at rest, published
//!   as the JWKS every service verifies tokens against.
//! - [`tokens`]: access tokens and sessions with rotating refresh tokens.
//! - [`grants`]: role grants scoped to areas: the one grant path and its rules.
//! - [`audit`]: the audit trail, written in the transaction of what it records, and listed.
//! - [`agencies`]: agency clients: credentials exchanged for tokens with API scopes and areas,
//!   created, rotated and revoked by admins (`terrace agency ...` at the command line).
//! - [`consents`]: villagers' consents for helpers, and the delegated tokens helpers act with.
//! - [`management`]: user management by officials (registering villagers, status, profiles), a
//!   user's own phone, password and sessions; which users an official governs.
//! - [`entity`]: the tables as sea-orm entities, one module per table, read and written by the
//!   stores.
//! - [`grpc`]: the handlers of `terrace.identity.v1.IdentityService`.
//! - [`web_session`]: browser sessions, the refresh token in an `HttpOnly` cookie.
//! - [`migration`]: the service's migrator (the platform's tables first, then its own).
//! - `main.rs`: the `terrace-identity` binary, the same as `terrace serve --service identity`.

pub mod accounts;
pub mod admin;
pub mod agencies;
pub mod audit;
pub mod config;
pub mod consents;
pub mod demo;
pub mod domain;
pub mod entity;
pub mod grants;
pub mod grpc;
pub mod keys;
pub mod management;
pub mod migration;
pub mod tokens;
pub mod users;
pub mod web_session;

use std::sync::Arc;

use secrecy::ExposeSecret as _;
use terrace_platform::grpc::GrpcServer;
use terrace_platform::service::{Service, ServiceContext};
use terrace_proto::identity::v1::identity_service_server::IdentityServiceServer;

use crate::accounts::Accounts;
use crate::config::IdentitySettings;

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

/// The identity service's periodic jobs, each run once per deployment on the service clock.
fn spawn_jobs(ctx: &ServiceContext, state: &Accounts) {
    let consents = consents::Consents::new(ctx, state.tokens.clone());
    terrace_platform::jobs::spawn(ctx, consents::EXPIRY_JOB, move |now| {
        let consents = consents.clone();
        async move { Ok(consents.publish_expired(now).await?) }
    });
    let grants = grants::Grants::new(ctx);
    terrace_platform::jobs::spawn(ctx, grants::EXPIRY_JOB, move |now| {
        let grants = grants.clone();
        async move { Ok(grants.retire_expired(now).await?) }
    });
    let db = ctx.db.clone();
    terrace_platform::jobs::spawn(ctx, IDEMPOTENCY_PRUNE_JOB, move |now| {
        let db = db.clone();
        async move {
            Ok(terrace_platform::idempotency::prune(
                &db,
                now,
                terrace_platform::idempotency::RETENTION,
            )
            .await?)
        }
    });
}

/// Forgets answers kept for replay once they are older than the platform's retention.
const IDEMPOTENCY_PRUNE_JOB: terrace_platform::jobs::Schedule = terrace_platform::jobs::Schedule {
    job: "identity.idempotency-prune",
    every: std::time::Duration::from_secs(3600),
};

/// The identity service, as the platform runner starts it.
#[derive(Debug)]
pub struct Identity;

impl Service for Identity {
    const NAME: &'static str = "identity";
    type Migrator = migration::Migrator;
    type State = Accounts;

    fn state(ctx: &ServiceContext) -> anyhow::Result<Accounts> {
        let settings: IdentitySettings = ctx.settings.service(Self::NAME)?;
        // A code must not outlive its life anywhere: the SECRET stream keeps it
        // `nats.secret_max_age`, so codes may not be shorter-lived than that.
        anyhow::ensure!(
            settings.otp_ttl >= ctx.settings.nats.secret_max_age,
            "services.identity.otp_ttl ({:?}) is shorter than nats.secret_max_age ({:?}), so the \
             SECRET stream would keep codes past their life: lower nats.secret_max_age",
            settings.otp_ttl,
            ctx.settings.nats.secret_max_age
        );
        // Read again by the handlers (`IdentityGrpc::new`); checked here so that a bad value
        // stops the start.
        agencies::AgencySettings::load(&ctx.settings)?;
        if settings.secret.expose_secret() == config::DEVELOPMENT_SECRET {
            tracing::warn!(
                "services.identity.secret is the development default: set a secret of your own before real use"
            );
        }
        Ok(Accounts::new(ctx, settings))
    }

    fn register(_ctx: &ServiceContext, state: &Arc<Accounts>, server: &mut GrpcServer) {
        let limit = server.max_message_bytes();
        server.add_public_methods(PUBLIC_METHODS);
        server.add_service(
            IdentityServiceServer::new(grpc::IdentityGrpc::new(state.clone()))
                .max_decoding_message_size(limit)
                .max_encoding_message_size(limit),
        );
    }

    /// `/.well-known/jwks.json`: the public signing keys, for verifiers in other processes.
    fn http_routes(_ctx: &ServiceContext, state: &Arc<Accounts>) -> axum::Router {
        let state = state.clone();
        axum::Router::new().route(
            "/.well-known/jwks.json",
            axum::routing::get(move || {
                let state = state.clone();
                async move { axum::Json(state.keys.jwks().await) }
            }),
        )
    }

    /// Makes or loads the signing keys (and publishes them) before the service reports ready, and
    /// keeps them rotated; publishes the expiry of consents as they end.
    async fn start(ctx: &ServiceContext, state: &Arc<Accounts>) -> anyhow::Result<()> {
        state.keys.refresh().await?;
        state
            .keys
            .spawn_maintenance(&ctx.tasks, ctx.shutdown.clone());
        spawn_jobs(ctx, state);
        if state.settings.demo_users {
            let created = demo::create_demo_world(&ctx.db).await?;
            tracing::info!(
                accounts = created.accounts,
                grants = created.grants,
                "demonstration world ready in 安吉县 (accounts and passwords in the README)"
            );
        }
        Ok(())
    }
}
