//! The notify service: events to people: the in-app inbox, SMS, email and webhooks, with templates, preferences, quiet hours and broadcasts.
//!
//! The contracts are in `proto/terrace/notify/v1`. Built so far (issue 12, part by part): the
//! in-app inbox (`ListInbox`, `MarkRead`, live `WatchInbox`), notify's projection of people, the
//! rules that tell buyers and sellers of their orders and villagers of their requests, one-time
//! codes by SMS, delivery records (`ListDeliveries`, `GetDelivery`) with retries and receipts,
//! preferences, subscriptions and versioned templates with preview.
//! The other RPCs answer `UNIMPLEMENTED` (tonic's generated default) until their part lands.
//!
//! # Layout
//!
//! - [`templates`]: versioned message templates per locale and channel (MiniJinja), seeded with
//!   the platform's own texts ([`templates::defaults`]); what the rules render.
//! - [`preferences`]: each person's channels, quiet hours and subscriptions (empty until built).
//! - [`subscriptions`]: what people follow beyond their own records (new listings of a
//!   category in an area).
//! - [`inbox`]: the in-app inbox: its RPCs, exactly-once writes, live streams woken through
//!   PostgreSQL's `pg_notify` on every replica.
//! - [`rules`]: which events become notifications, for whom, saying what (market's orders,
//!   governance's service requests).
//! - [`deliveries`]: deliveries on the outside channels: queued by the rules, sent and retried by
//!   each replica's dispatcher, their records with status history.
//! - [`channels`]: the one trait outside channels are sent through.
//! - [`email`]: the e-mail channel (SMTP through lettre).
//! - [`sms`]: the SMS channel: providers (an HTTP gateway, the development log), segment
//!   counting, delivery receipts.
//! - [`config`]: the service's settings (`[services.notify]`).
//! - [`contacts`]: the e-mail addresses notify keeps from identity's users.
//! - [`erasure`]: what notify keeps of a person beyond the projection, and forgets of one
//!   identity erased.
//! - [`broadcasts`]: messages to a whole village, township or county (empty until built).
//! - [`webhooks`]: signed webhooks to agencies (empty until built).
//! - [`grpc`]: the handlers of `terrace.notify.v1.NotifyService`.
//! - [`migration`]: the service's migrator (the platform's tables first, then its own).
//! - `main.rs`: the `terrace-notify` binary, the same as `terrace serve --service notify`.

pub mod broadcasts;
pub mod channels;
pub mod config;
pub mod contacts;
pub mod deliveries;
pub mod email;
pub mod erasure;
pub mod grpc;
pub mod inbox;
pub mod migration;
pub mod preferences;
pub mod rules;
pub mod sms;
pub mod subscriptions;
pub mod templates;
pub mod webhooks;

use std::sync::Arc;

use terrace_platform::grpc::GrpcServer;
use terrace_platform::service::{Service, ServiceContext};
use terrace_proto::notify::v1::notify_service_server::NotifyServiceServer;

/// The notify service, as the platform runner starts it.
#[derive(Debug)]
pub struct Notify;

/// What the handlers and the background tasks share: this replica's inbox streams, its
/// settings and its outside channels.
#[derive(Debug)]
pub struct NotifyState {
    pub watchers: inbox::watch::Watchers,
    pub settings: config::NotifySettings,
    pub sms: sms::SmsChannel,
    pub email: email::EmailChannel,
}

/// The person whose notifications the caller reads or sets (an inbox, preferences,
/// subscriptions): their own, or the villager's for a helper. `what` names the thing in the
/// refusal ("an inbox", "preferences").
pub fn own_person(
    caller: &terrace_platform::auth::Caller,
    what: &str,
) -> terrace_platform::error::Result<uuid::Uuid> {
    caller.subject_user().ok_or_else(|| {
        terrace_platform::error::Error::permission_denied(
            "NOT_A_USER",
            format!("{what} belong to a person; sign in as one"),
        )
    })
}

/// The durable consumer keeping the people notify knows (names and phones), from identity.
pub const PEOPLE_CONSUMER: &str = "notify-people";

impl Service for Notify {
    const NAME: &'static str = "notify";
    type Migrator = migration::Migrator;
    type State = NotifyState;

    fn state(ctx: &ServiceContext) -> anyhow::Result<NotifyState> {
        let settings: config::NotifySettings = ctx
            .settings
            .service(Self::NAME)
            .map_err(|error| anyhow::anyhow!("settings of services.notify: {error}"))?;
        Ok(NotifyState {
            watchers: inbox::watch::Watchers::default(),
            sms: sms::SmsChannel::from_settings(&settings.sms)?,
            email: email::EmailChannel::from_settings(&settings.email)?,
            settings,
        })
    }

    fn http_routes(ctx: &ServiceContext, state: &Arc<NotifyState>) -> axum::Router {
        sms::receipts::router(sms::receipts::Receipts {
            db: ctx.db.clone(),
            clock: ctx.clock.clone(),
            token: state.settings.sms.receipt_token.clone(),
            source: ctx.event_source(),
        })
    }

    fn register(ctx: &ServiceContext, state: &Arc<NotifyState>, server: &mut GrpcServer) {
        let limit = server.max_message_bytes();
        server.add_service(
            NotifyServiceServer::new(grpc::NotifyGrpc::new(ctx.clone(), state))
                .max_decoding_message_size(limit)
                .max_encoding_message_size(limit),
        );
    }

    async fn start(ctx: &ServiceContext, state: &Arc<NotifyState>) -> anyhow::Result<()> {
        let seeded = templates::seed(&ctx.db, ctx.clock.now()).await?;
        if seeded != templates::Seeded::default() {
            tracing::info!(
                added = seeded.added,
                updated = seeded.updated,
                "built-in templates seeded"
            );
        }
        let pool = ctx.db.get_postgres_connection_pool().clone();
        ctx.tasks
            .spawn(state.watchers.clone().listen(pool, ctx.shutdown.clone()));
        let people = terrace_platform::people::consumer(ctx, PEOPLE_CONSUMER, erasure::Erase);
        people.ensure().await?;
        ctx.tasks.spawn(people.run(ctx.shutdown.clone()));
        let officials =
            terrace_platform::officials::consumer(ctx, rules::officials::GRANTS_CONSUMER);
        officials.ensure().await?;
        ctx.tasks.spawn(officials.run(ctx.shutdown.clone()));
        let texting = rules::Texting::of(state);
        let (identity_codes, claim_codes) = rules::codes::consumers(ctx, &texting);
        identity_codes.ensure().await?;
        ctx.tasks.spawn(identity_codes.run(ctx.shutdown.clone()));
        claim_codes.ensure().await?;
        ctx.tasks.spawn(claim_codes.run(ctx.shutdown.clone()));
        let dispatcher = deliveries::dispatch::Dispatcher::new(
            ctx.db.clone(),
            ctx.clock.clone(),
            channels::Channels::default()
                .with(
                    terrace_proto::notify::v1::Channel::Sms,
                    Arc::new(state.sms.clone()),
                )
                .with(
                    terrace_proto::notify::v1::Channel::Email,
                    Arc::new(state.email.clone()),
                ),
            state.settings.delivery.clone(),
            ctx.event_source(),
        );
        ctx.tasks.spawn(dispatcher.run(ctx.shutdown.clone()));
        let orders = rules::market::consumer(ctx, &texting);
        orders.ensure().await?;
        ctx.tasks.spawn(orders.run(ctx.shutdown.clone()));
        let listings = rules::listings::consumer(ctx);
        listings.ensure().await?;
        ctx.tasks.spawn(listings.run(ctx.shutdown.clone()));
        let requests = rules::governance::consumer(ctx, &texting);
        requests.ensure().await?;
        ctx.tasks.spawn(requests.run(ctx.shutdown.clone()));
        Ok(())
    }
}
