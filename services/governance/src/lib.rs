//! The governance service: the village registry (administrative divisions, households, residents), villagers' service requests with SLA and escalation, open village affairs (notices, finance disclosures) and polls.
//!
//! The contracts are in `proto/terrace/governance/v1`. Built so far: the division tree, the
//! register and the audit log; the RPCs of service requests, notices, finances and polls answer
//! `UNIMPLEMENTED` (tonic's generated default) until their issues.
//!
//! # Layout
//!
//! - [`divisions`]: the national division tree, its import and search.
//! - [`entity`]: one sea-orm entity per table.
//! - [`people`]: the users governance knows and the roles they hold where, projected from
//!   identity's state stream and events.
//! - [`register`]: households and residents, with national ids sealed at rest and their access log.
//! - [`request_types`]: the catalogue of service-request types per area (empty until built).
//! - [`requests`]: villagers' service requests, their workflow, escalation, duplicates and ratings (empty until built).
//! - [`notices`]: public notices of the village's affairs, their revisions and read receipts (empty until built).
//! - [`finances`]: finance disclosures and their approval (empty until built).
//! - [`polls`]: polls and votes (empty until built).
//! - [`audit`]: the tamper-evident audit log: one hash chain per county, `append` for every
//!   mutating action, identity's audit records joining it (a consumer), `ListAuditEntries` and the
//!   chain's verification (`terrace governance verify-audit`).
//! - [`config`]: the service's own settings (`[services.governance]`).
//! - [`demo`]: the demonstration county for `terrace dev --demo`.
//! - [`grpc`]: the handlers of `terrace.governance.v1.GovernanceService`.
//! - [`migration`]: the service's migrator (the platform's tables first, then its own).
//! - `main.rs`: the `terrace-governance` binary, the same as `terrace serve --service governance`.

pub mod audit;
pub mod config;
pub mod demo;
pub mod divisions;
pub mod entity;
pub mod finances;
pub mod grpc;
pub mod migration;
pub mod notices;
pub mod open311;
pub mod people;
pub mod polls;
pub mod register;
pub mod request_settings;
pub mod request_types;
pub mod requests;

use std::sync::Arc;

use terrace_platform::grpc::GrpcServer;
use terrace_platform::service::{Service, ServiceContext};
use terrace_proto::governance::v1::governance_service_server::GovernanceServiceServer;

/// What governance's handlers share beyond the service context: its settings and the sealer of
/// national ids (built at start, so bad keys stop the service with a clear error).
#[derive(Debug)]
pub struct GovernanceState {
    pub settings: config::GovernanceSettings,
    pub sealer: register::sealing::Sealer,
    /// This replica's division search index.
    pub division_index: Arc<divisions::index::SearchIndex>,
    /// The photos of service requests and their notes.
    pub photos: terrace_photos::Photos,
}

/// The governance service, as the platform runner starts it.
#[derive(Debug)]
pub struct Governance;

impl Service for Governance {
    const NAME: &'static str = "governance";
    type Migrator = migration::Migrator;
    type State = GovernanceState;

    fn state(ctx: &ServiceContext) -> anyhow::Result<GovernanceState> {
        let settings: config::GovernanceSettings = ctx.settings.service(Self::NAME)?;
        if settings.national_id.is_development() {
            tracing::warn!(
                "services.governance.national_id uses the development keys: national ids are not \
                 protected; configure keys of your own before registering real residents"
            );
        }
        let sealer = register::sealing::Sealer::new(&settings.national_id)?;
        let photos =
            terrace_photos::Photos::new(Self::NAME, &ctx.settings.photos, ctx.clock.clone())?;
        Ok(GovernanceState {
            settings,
            sealer,
            division_index: Arc::default(),
            photos,
        })
    }

    fn register(ctx: &ServiceContext, state: &Arc<GovernanceState>, server: &mut GrpcServer) {
        // An upload (UploadPhoto) may be larger than other messages: up to the photos' own limit.
        let limit = server
            .max_message_bytes()
            .max(state.photos.max_request_bytes());
        server.add_http_routes(&state.photos.prefix(), state.photos.router(ctx.db.clone()));
        server.add_service(
            GovernanceServiceServer::new(grpc::GovernanceGrpc::new(ctx.clone(), state))
                .max_decoding_message_size(limit)
                .max_encoding_message_size(limit),
        );
    }

    /// The Open311 GeoReport v2 door (`/open311/v2/`).
    fn http_routes(ctx: &ServiceContext, state: &Arc<GovernanceState>) -> axum::Router {
        let requests = requests::Requests::new(
            ctx.db.clone(),
            ctx.event_source(),
            ctx.clock.clone(),
            state.photos.clone(),
        );
        open311::Open311::new(
            ctx.db.clone(),
            requests,
            ctx.verifier.clone(),
            ctx.clock.clone(),
            state.photos.clone(),
        )
        .router()
    }

    async fn start(ctx: &ServiceContext, state: &Arc<GovernanceState>) -> anyhow::Result<()> {
        if state.settings.demo_divisions {
            let added =
                demo::create_demo_divisions(&ctx.db, &ctx.event_source(), ctx.clock.now()).await?;
            tracing::info!(added, "demonstration county ready: 安吉县 (330523)");
        }
        let register = register::Register::new(
            ctx.db.clone(),
            ctx.event_source(),
            ctx.clock.clone(),
            state.sealer.clone(),
        );
        if state.settings.demo_register {
            let residents = demo::create_demo_register(&register).await?;
            tracing::info!(residents, "demonstration register of 余村 ready");
        }
        if state.settings.demo_request_types {
            let types = request_types::RequestTypes::new(
                ctx.db.clone(),
                ctx.event_source(),
                ctx.clock.clone(),
            );
            let created = demo::create_demo_request_types(&types).await?;
            tracing::info!(created, "demonstration request types of 安吉县 ready");
        }
        // Built now rather than by the first search after start (a second or two for the
        // national list); a search that comes first waits for this same build.
        let (index, db) = (state.division_index.clone(), ctx.db.clone());
        ctx.tasks.spawn(async move {
            if let Err(error) = index.fresh(&db).await {
                tracing::warn!(%error, "division search index not built at start");
            }
        });
        terrace_photos::spawn_prune(ctx, state.photos.clone());
        let requests = requests::Requests::new(
            ctx.db.clone(),
            ctx.event_source(),
            ctx.clock.clone(),
            state.photos.clone(),
        );
        let escalating = requests.clone();
        terrace_platform::jobs::spawn(ctx, requests::sla::ESCALATION_JOB, move |now| {
            let requests = escalating.clone();
            async move { Ok(requests.escalate_overdue(now).await?) }
        });
        terrace_platform::jobs::spawn(ctx, requests::sla::CLOSING_JOB, move |now| {
            let requests = requests.clone();
            async move { Ok(requests.close_resolved(now).await?) }
        });
        let retention = state.settings.retention.clone();
        terrace_platform::jobs::spawn(ctx, register::RETENTION_JOB, move |now| {
            let (register, retention) = (register.clone(), retention.clone());
            async move { Ok(register.apply_retention(now, &retention).await?) }
        });
        let records = audit::identity::consumer(ctx);
        records.ensure().await?;
        ctx.tasks.spawn(records.run(ctx.shutdown.clone()));
        let market_records =
            audit::services::consumer::<terrace_proto::market::v1::AuditRecorded>(ctx);
        market_records.ensure().await?;
        ctx.tasks.spawn(market_records.run(ctx.shutdown.clone()));
        let notify_records =
            audit::services::consumer::<terrace_proto::notify::v1::AuditRecorded>(ctx);
        notify_records.ensure().await?;
        ctx.tasks.spawn(notify_records.run(ctx.shutdown.clone()));
        let people = people::consumer(ctx);
        people.ensure().await?;
        ctx.tasks.spawn(people.run(ctx.shutdown.clone()));
        let officials = people::grants::consumer(ctx);
        officials.ensure().await?;
        ctx.tasks.spawn(officials.run(ctx.shutdown.clone()));
        Ok(())
    }
}
