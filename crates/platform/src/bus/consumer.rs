//! The consumer runner: durable pull consumers with an inbox and a dead-letter stream.
//!
//! For every message the runner opens a transaction, records the event id in the `inbox` table and
//! calls the handler with that transaction. Only after the commit does it acknowledge. Messages
//! that have already arrived together (up to `consumer.batch`) share one transaction and one commit,
//! each with its own inbox row and span; if any of them fails, none is kept and they are handled
//! one by one as below. So:
//! - a crash before the commit leaves nothing behind, and the redelivery is processed anew;
//! - a crash after the commit but before the ack leads to a redelivery whose inbox insert finds the
//!   id already there: the runner acknowledges it without calling the handler.
//!
//! A failing handler rolls back and the message is redelivered after a backoff; after
//! `max_deliver` attempts (or at once, for a [`HandlerError::Reject`]) the message is copied to the
//! dead-letter stream with the error and terminated, so that one poisoned event cannot hold up the
//! rest. Shutdown stops pulling and returns after the message in hand.
//!
//! A consumer made [`Consumer::from_state`] starts a projection from the domain's state stream
//! (see [`streams`](super::streams)) the first time it runs, i.e. while its durable does not exist
//! yet: it notes the event stream's last sequence `L`, then reads the state stream to its end
//! (every entity's latest snapshot or tombstone, however old), handing each to the handler in a
//! transaction of its own, and only then creates its durable at sequence `L + 1`. An event stored
//! before the state was read is reflected in the snapshots; one stored after is delivered: no gap.
//! The snapshots and events that overlap (a change whose snapshot was read and whose event
//! came after `L`) are the reason handlers are idempotent per entity: each message carries its
//! time ([`Envelope::time`]), and a handler leaves an entity alone if it holds a newer version. A
//! crash during the read leaves no durable, so the next start reads the state again.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream::AckKind;
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, PullConsumer, pull};
use async_nats::jetstream::context::ConsumerInfoErrorKind;
use futures::StreamExt as _;
use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Gauge};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, Statement, TransactionTrait,
};
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use super::Bus;
use super::envelope::{Envelope, HEADER_MSG_ID};
use crate::config::ConsumerSettings;
use crate::db::SqlMigration;

/// How far before the event stream's end, as the server dated its messages, a projection that
/// starts from the state stream begins to follow events: longer than any snapshot can lag behind
/// its event in the relay's pipelined publishes (the relay publishes a snapshot just before its
/// event, on one connection).
pub const STATE_OVERLAP: Duration = Duration::from_secs(10);

/// The inbox table: which events each consumer has processed.
pub const MIGRATION: SqlMigration = SqlMigration {
    name: "m20261128_000002_platform_inbox",
    up: r#"
CREATE TABLE inbox (
    consumer      text        NOT NULL,
    event_id      uuid        NOT NULL,
    subject       text        NOT NULL,
    processed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
CREATE INDEX inbox_processed_at ON inbox (processed_at);
"#,
};

/// Header on a dead letter: the consumer that gave up.
pub const HEADER_DEAD_CONSUMER: &str = "terrace-dead-consumer";
/// Header on a dead letter: the last error.
pub const HEADER_DEAD_ERROR: &str = "terrace-dead-error";
/// Header on a dead letter: the subject it was published on.
pub const HEADER_DEAD_SUBJECT: &str = "terrace-dead-subject";
/// Header on a dead letter: how many times it was delivered.
pub const HEADER_DEAD_DELIVERIES: &str = "terrace-dead-deliveries";

/// Why a handler did not process an event.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Something that may pass later (a lock timeout, a dependency down): retry with backoff.
    #[error("retry: {0:#}")]
    Retry(anyhow::Error),
    /// The event can never be processed (undecodable, violates an invariant): dead-letter it now.
    #[error("reject: {0:#}")]
    Reject(anyhow::Error),
}

impl From<sea_orm::DbErr> for HandlerError {
    fn from(error: sea_orm::DbErr) -> Self {
        Self::Retry(error.into())
    }
}

/// What a consumer does with one event, inside the transaction that records it in the inbox.
pub trait Handler: Send + Sync + 'static {
    fn handle(
        &self,
        txn: &DatabaseTransaction,
        event: &Envelope,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send;
}

/// Which events a consumer takes.
#[derive(Debug, Clone)]
pub struct ConsumerSpec {
    /// The durable name, unique per stream, e.g. `notify-market-listings`.
    pub name: String,
    /// The domain whose stream is read, e.g. `market`.
    pub domain: String,
    /// The logical subject filter (wildcards allowed), e.g. `market.listing.>`; `None` takes the
    /// whole stream. One filter only: Debian's NATS server (2.9) predates multi-subject filters.
    pub subject: Option<String>,
}

/// A durable consumer bound to a handler.
#[derive(Debug)]
pub struct Consumer<H> {
    spec: ConsumerSpec,
    db: DatabaseConnection,
    bus: Bus,
    settings: ConsumerSettings,
    handler: Arc<H>,
    metrics: ConsumerMetrics,
    /// The logical state subject filter to start from (e.g. `state.identity.>`), if any.
    state: Option<String>,
}

#[derive(Debug, Clone)]
struct ConsumerMetrics {
    consumer: KeyValue,
    outcomes: Counter<u64>,
    pending: Gauge<u64>,
}

#[derive(Debug, Clone, Copy)]
enum Outcome {
    Processed,
    Duplicate,
    Retried,
    DeadLettered,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Self::Processed => "processed",
            Self::Duplicate => "duplicate",
            Self::Retried => "retried",
            Self::DeadLettered => "dead_lettered",
        }
    }
}

impl<H: Handler> Consumer<H> {
    pub fn new(
        spec: ConsumerSpec,
        db: &DatabaseConnection,
        bus: &Bus,
        settings: &ConsumerSettings,
        handler: H,
    ) -> Self {
        let consumer = KeyValue::new("consumer", spec.name.clone());
        Self {
            spec,
            db: db.clone(),
            bus: bus.clone(),
            settings: settings.clone(),
            handler: Arc::new(handler),
            state: None,
            metrics: ConsumerMetrics {
                consumer,
                outcomes: crate::telemetry::meter()
                    .u64_counter("consumer.messages")
                    .with_description("events handled by a consumer, by outcome")
                    .build(),
                pending: crate::telemetry::meter()
                    .u64_gauge("consumer.pending")
                    .with_description(
                        "events in the stream not yet delivered to the consumer (its lag)",
                    )
                    .build(),
            },
        }
    }

    /// Starts the projection from the state stream of the spec's domain, taking the snapshots on
    /// `subject` (logical, wildcards allowed, e.g. `state.identity.>`), before the events; see the
    /// module documentation. The handler receives both: [`Envelope::is_state`] tells them apart.
    #[must_use]
    pub fn from_state(mut self, subject: &str) -> Self {
        self.state = Some(subject.to_owned());
        self
    }

    /// Creates the durable consumer on the server, or updates it to this configuration. For a
    /// consumer [`from_state`](Self::from_state) whose durable does not exist yet, first reads
    /// the state stream into the handler and starts the durable after the events it reflects.
    pub async fn ensure(&self) -> anyhow::Result<PullConsumer> {
        let stream_name = self.bus.naming.stream(&self.spec.domain);
        let mut stream = self.open(&stream_name).await?;
        let mut deliver_policy = DeliverPolicy::All;
        if let Some(state) = &self.state {
            match stream.consumer_info(&self.spec.name).await {
                // The start of an existing durable cannot change (nor need to).
                Ok(info) => deliver_policy = info.config.deliver_policy,
                Err(error) if error.kind() == ConsumerInfoErrorKind::NotFound => {
                    // Taken before the state is read: every event stored after it is delivered,
                    // and so are the events of the [`STATE_OVERLAP`] before it, because JetStream
                    // orders nothing across streams: an event may be stored a moment before its
                    // snapshot, and would otherwise fall between the two. Handlers keep the
                    // newest `ce-time`, so an event they already hold as state changes nothing.
                    let events = stream
                        .info()
                        .await
                        .with_context(|| format!("reading stream {stream_name}"))?
                        .state
                        .clone();
                    self.load_state(state).await?;
                    deliver_policy = if events.messages == 0 {
                        DeliverPolicy::All
                    } else {
                        DeliverPolicy::ByStartTime {
                            start_time: events.last_timestamp - STATE_OVERLAP,
                        }
                    };
                }
                Err(error) => {
                    return Err(error).with_context(|| {
                        format!("reading consumer {} on {stream_name}", self.spec.name)
                    });
                }
            }
        }
        let config = pull::Config {
            durable_name: Some(self.spec.name.clone()),
            filter_subject: self
                .spec
                .subject
                .as_deref()
                .map(|s| self.bus.naming.subject(s))
                .unwrap_or_default(),
            ack_policy: AckPolicy::Explicit,
            ack_wait: self.settings.ack_wait,
            deliver_policy,
            // The server stops redelivering after this many attempts even if the process handling
            // the message dies every time (the runner moves it to the dead letters before that).
            // One more than the runner's own limit: the runner dead-letters on its last attempt,
            // and if that attempt dies with the process the server still redelivers once, so
            // the event is dead-lettered then instead of silently dropped.
            max_deliver: self.settings.max_deliver.saturating_add(1),
            max_ack_pending: 1024,
            ..Default::default()
        };
        stream
            .create_consumer(config)
            .await
            .with_context(|| format!("creating consumer {} on {stream_name}", self.spec.name))
    }

    async fn open(
        &self,
        stream_name: &str,
    ) -> anyhow::Result<async_nats::jetstream::stream::Stream> {
        self.bus
            .jetstream
            .get_stream(stream_name)
            .await
            .with_context(|| format!("opening stream {stream_name}"))
    }

    /// Reads the state stream to its present end, handing every snapshot and tombstone on
    /// `subject` to the handler, each in its own transaction; returns how many it handled.
    pub async fn load_state(&self, subject: &str) -> anyhow::Result<u64> {
        let stream_name = self.bus.naming.state_stream(&self.spec.domain);
        let mut stream = self.open(&stream_name).await?;
        let end = stream
            .info()
            .await
            .with_context(|| format!("reading stream {stream_name}"))?
            .state
            .clone();
        if end.messages == 0 {
            return Ok(0);
        }
        // An ephemeral consumer: nothing to remember, the server drops it when it goes idle.
        let reader: PullConsumer = stream
            .create_consumer(pull::Config {
                filter_subject: self.bus.naming.subject(subject),
                ack_policy: AckPolicy::None,
                deliver_policy: DeliverPolicy::All,
                inactive_threshold: Duration::from_secs(60),
                ..Default::default()
            })
            .await
            .with_context(|| format!("reading the state on {stream_name}"))?;
        let mut messages = reader
            .stream()
            .max_messages_per_batch(self.settings.batch.max(100))
            .heartbeat(Duration::from_secs(5))
            .expires(Duration::from_secs(30))
            .messages()
            .await
            .context("pulling state")?;
        let mut handled = 0u64;
        loop {
            let Some(message) = messages.next().await else {
                anyhow::bail!("the state stream ended before its end");
            };
            let message = message.context("receiving state")?;
            let (sequence, pending) = message
                .info()
                .map(|info| (info.stream_sequence, info.pending))
                .map_err(|error| anyhow::anyhow!(error))?;
            let subject = self.bus.naming.strip(message.subject.as_str()).to_owned();
            match Envelope::from_message(
                &subject,
                message.headers.as_ref(),
                message.payload.clone(),
            ) {
                Ok(envelope) => {
                    let txn = self.db.begin().await?;
                    match self.handler.handle(&txn, &envelope).await {
                        Ok(()) => {
                            txn.commit().await?;
                            handled += 1;
                        }
                        Err(HandlerError::Retry(error)) => {
                            return Err(error.context(format!("handling state {subject}")));
                        }
                        // A snapshot that can never be handled is skipped, not retried forever:
                        // the entity's next change or a resnapshot brings it again.
                        Err(HandlerError::Reject(error)) => tracing::error!(
                            consumer = %self.spec.name,
                            subject,
                            error = format!("{error:#}"),
                            "state rejected, skipped"
                        ),
                    }
                }
                Err(error) => tracing::error!(
                    consumer = %self.spec.name,
                    subject,
                    error = format!("{error:#}"),
                    "unreadable state, skipped"
                ),
            }
            if pending == 0 || sequence >= end.last_sequence {
                break;
            }
        }
        let _ = stream.delete_consumer(&reader.cached_info().name).await;
        tracing::info!(consumer = %self.spec.name, handled, "projection loaded from the state stream");
        Ok(handled)
    }

    /// Pulls and handles messages until `shutdown`, reconnecting after errors.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let mut restarts = crate::backoff::Restarts::new(
            format!("consumer {}", self.spec.name),
            Duration::from_millis(200),
            Duration::from_secs(7),
        );
        loop {
            let started = tokio::time::Instant::now();
            let ended = self.run_once(&shutdown).await;
            if !restarts.again(started, ended, &shutdown).await {
                return Ok(());
            }
        }
    }

    async fn run_once(&self, shutdown: &CancellationToken) -> anyhow::Result<()> {
        let mut consumer = self.ensure().await?;
        let mut lag = tokio::time::interval(Duration::from_secs(15));
        let mut last_prune = tokio::time::Instant::now();
        let mut messages = consumer
            .clone()
            .stream()
            .max_messages_per_batch(self.settings.batch)
            .heartbeat(Duration::from_secs(5))
            .expires(Duration::from_secs(30))
            .messages()
            .await
            .context("pulling messages")?;
        loop {
            let message = tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                _ = lag.tick() => {
                    match consumer.info().await {
                        Ok(info) => self.metrics.pending.record(info.num_pending, std::slice::from_ref(&self.metrics.consumer)),
                        Err(error) => tracing::debug!(%error, "cannot read the consumer's lag"),
                    }
                    if last_prune.elapsed() > Duration::from_secs(3600) {
                        last_prune = tokio::time::Instant::now();
                        self.prune_inbox().await;
                    }
                    continue;
                }
                message = messages.next() => message,
            };
            let Some(message) = message else {
                anyhow::bail!("message stream ended");
            };
            let mut batch = vec![message.context("receiving a message")?];
            // What has already arrived joins the batch (never waiting for more): one transaction
            // and one commit for all of it.
            while batch.len() < self.settings.batch.max(1) {
                match futures::FutureExt::now_or_never(messages.next()) {
                    Some(Some(message)) => batch.push(message.context("receiving a message")?),
                    Some(None) => anyhow::bail!("message stream ended"),
                    None => break,
                }
            }
            for outcome in self.process_batch(&batch, shutdown).await? {
                self.metrics.outcomes.add(
                    1,
                    &[
                        self.metrics.consumer.clone(),
                        KeyValue::new("outcome", outcome.label()),
                    ],
                );
            }
        }
    }

    /// Handles messages that arrived together in one transaction — each with its inbox row, each
    /// handler in the span of its event — and acknowledges them after the one commit. If anything
    /// in it fails (a handler, the database, an unreadable message), nothing of it is kept and the
    /// messages are handled one by one, where each failure gets its own retry or dead letter.
    async fn process_batch(
        &self,
        batch: &[async_nats::jetstream::Message],
        shutdown: &CancellationToken,
    ) -> anyhow::Result<Vec<Outcome>> {
        if batch.len() > 1
            && let Some(fresh) = self.handle_together(batch).await
        {
            let mut outcomes = Vec::with_capacity(batch.len());
            for (message, fresh) in batch.iter().zip(fresh) {
                message
                    .ack()
                    .await
                    .map_err(|error| anyhow::anyhow!(error))
                    .context("acking")?;
                outcomes.push(match fresh {
                    true => Outcome::Processed,
                    false => Outcome::Duplicate,
                });
            }
            return Ok(outcomes);
        }
        let mut outcomes = Vec::with_capacity(batch.len());
        for message in batch {
            outcomes.push(self.process(message, shutdown).await?);
        }
        Ok(outcomes)
    }

    /// The batch in one transaction; per message whether it was new (`false`: handled before).
    /// `None` when any of it failed: then nothing was committed.
    async fn handle_together(&self, batch: &[async_nats::jetstream::Message]) -> Option<Vec<bool>> {
        let mut envelopes = Vec::with_capacity(batch.len());
        for message in batch {
            let subject = self.bus.naming.strip(message.subject.as_str()).to_owned();
            let envelope =
                Envelope::from_message(&subject, message.headers.as_ref(), message.payload.clone())
                    .ok()?;
            let delivered = message.info().map(|info| info.delivered).unwrap_or(1);
            envelopes.push((self.span(&subject, &envelope, delivered), envelope));
        }
        let txn = self.db.begin().await.ok()?;
        let mut fresh = Vec::with_capacity(envelopes.len());
        for (span, envelope) in &envelopes {
            let handled = async {
                if !self.record_in_inbox(&txn, envelope).await? {
                    return Ok(false);
                }
                self.handler.handle(&txn, envelope).await.map(|()| true)
            }
            .instrument(span.clone())
            .await;
            match handled {
                Ok(new) => fresh.push(new),
                Err(error) => {
                    let error = match error {
                        HandlerError::Retry(error) | HandlerError::Reject(error) => error,
                    };
                    tracing::debug!(
                        parent: span,
                        error = format!("{error:#}"),
                        "a batch failed, handling its events one by one"
                    );
                    let _ = txn.rollback().await;
                    return None;
                }
            }
        }
        txn.commit().await.ok()?;
        Some(fresh)
    }

    /// The span an event is handled in: a consumer span, child of the trace that produced it.
    fn span(&self, subject: &str, envelope: &Envelope, delivered: i64) -> tracing::Span {
        let span = tracing::info_span!(
            "consume",
            otel.name = %format!("consume {subject}"),
            otel.kind = "consumer",
            consumer = %self.spec.name,
            event_id = %envelope.id,
            event_type = %envelope.event_type,
            delivered,
        );
        if let Some(traceparent) = &envelope.traceparent {
            let _ = span.set_parent(crate::telemetry::propagation::context_from_traceparent(
                traceparent,
            ));
        }
        span
    }

    async fn process(
        &self,
        message: &async_nats::jetstream::Message,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<Outcome> {
        let delivered = message.info().map(|info| info.delivered).unwrap_or(1);
        let subject = self.bus.naming.strip(message.subject.as_str()).to_owned();
        let envelope = match Envelope::from_message(
            &subject,
            message.headers.as_ref(),
            message.payload.clone(),
        ) {
            Ok(envelope) => envelope,
            Err(error) => {
                self.dead_letter(message, &subject, delivered, &error)
                    .await?;
                return Ok(Outcome::DeadLettered);
            }
        };
        let span = self.span(&subject, &envelope, delivered);
        // A loop, not a recursive retry: an outage of the database may last thousands of tries,
        // and each recursion would have kept its frame on the worker's stack.
        loop {
            let result = self
                .handle_in_inbox(&envelope)
                .instrument(span.clone())
                .await;
            let _entered = span.enter();
            return match result {
                Ok(true) => {
                    message
                        .ack()
                        .await
                        .map_err(|error| anyhow::anyhow!(error))
                        .context("acking")?;
                    Ok(Outcome::Processed)
                }
                Ok(false) => {
                    tracing::debug!("event already processed, acknowledging the redelivery");
                    message
                        .ack()
                        .await
                        .map_err(|error| anyhow::anyhow!(error))
                        .context("acking")?;
                    Ok(Outcome::Duplicate)
                }
                Err(HandlerError::Retry(error)) if is_unavailable(&error) => {
                    // The database is down: that says nothing about this event, so the attempt is
                    // not counted against it. Keep the message (extending its ack deadline) and
                    // try again when the database answers.
                    tracing::warn!(
                        error = format!("{error:#}"),
                        "database unavailable, holding the event"
                    );
                    let _ = message.ack_with(AckKind::Progress).await;
                    tokio::select! {
                        () = tokio::time::sleep(self.backoff(1)) => continue,
                        // Stopping: the message is neither acked nor refused, so the server delivers
                        // it again (to this consumer after a restart, or to another replica).
                        () = shutdown.cancelled() => Ok(Outcome::Retried),
                    }
                }
                Err(HandlerError::Retry(error)) if delivered < self.settings.max_deliver => {
                    let delay = self.backoff(delivered);
                    tracing::warn!(
                        error = format!("{error:#}"),
                        ?delay,
                        "handler failed, will retry"
                    );
                    message
                        .ack_with(AckKind::Nak(Some(delay)))
                        .await
                        .map_err(|error| anyhow::anyhow!(error))
                        .context("nak")?;
                    Ok(Outcome::Retried)
                }
                Err(HandlerError::Retry(error) | HandlerError::Reject(error)) => {
                    tracing::error!(
                        error = format!("{error:#}"),
                        "handler gave up, dead-lettering the event"
                    );
                    self.dead_letter(message, &subject, delivered, &error)
                        .await?;
                    Ok(Outcome::DeadLettered)
                }
            };
        }
    }

    /// Records the event in the inbox and runs the handler in one transaction. `Ok(false)` means the
    /// event was processed before.
    async fn handle_in_inbox(&self, envelope: &Envelope) -> Result<bool, HandlerError> {
        let txn = self.db.begin().await?;
        if !self.record_in_inbox(&txn, envelope).await? {
            txn.rollback().await?;
            return Ok(false);
        }
        self.handler.handle(&txn, envelope).await?;
        txn.commit().await?;
        Ok(true)
    }

    /// Adds the event to the inbox in `txn`; `false` when it is there already (handled before).
    async fn record_in_inbox(
        &self,
        txn: &DatabaseTransaction,
        envelope: &Envelope,
    ) -> Result<bool, HandlerError> {
        let inserted = txn
            .execute_raw(Statement::from_sql_and_values(
                txn.get_database_backend(),
                "INSERT INTO inbox (consumer, event_id, subject) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                [self.spec.name.clone().into(), envelope.id.into(), envelope.subject.clone().into()],
            ))
            .await?
            .rows_affected();
        Ok(inserted > 0)
    }

    /// Forgets processed events older than the streams keep messages (7 days, plus a margin):
    /// they can no longer be redelivered.
    async fn prune_inbox(&self) {
        let result = self
            .db
            .execute_raw(Statement::from_sql_and_values(
                self.db.get_database_backend(),
                "DELETE FROM inbox WHERE consumer = $1 AND processed_at < now() - interval '8 days'",
                [self.spec.name.clone().into()],
            ))
            .await;
        if let Err(error) = result {
            tracing::warn!(%error, consumer = %self.spec.name, "pruning the inbox failed");
        }
    }

    fn backoff(&self, delivered: i64) -> Duration {
        let index = usize::try_from(delivered.saturating_sub(1)).unwrap_or(0);
        self.settings
            .backoff
            .get(index)
            .or(self.settings.backoff.last())
            .copied()
            .unwrap_or(Duration::from_secs(1))
    }

    /// Copies the message to the dead-letter stream with why it died, then terminates it.
    async fn dead_letter(
        &self,
        message: &async_nats::jetstream::Message,
        subject: &str,
        delivered: i64,
        error: &anyhow::Error,
    ) -> anyhow::Result<()> {
        let mut headers = message.headers.clone().unwrap_or_default();
        // A new message id, so that a second dead-lettering of the same event (after a crash
        // between the publish and the term) is dropped too.
        // The stream sequence identifies the message even when it has no id of its own.
        let sequence = message
            .info()
            .map(|info| info.stream_sequence)
            .unwrap_or_default();
        headers.insert(
            HEADER_MSG_ID,
            format!("{}:{}:{sequence}", self.spec.name, message.subject).as_str(),
        );
        headers.insert(HEADER_DEAD_CONSUMER, self.spec.name.as_str());
        headers.insert(HEADER_DEAD_SUBJECT, subject);
        headers.insert(HEADER_DEAD_DELIVERIES, delivered.to_string().as_str());
        // Header values are single lines.
        headers.insert(
            HEADER_DEAD_ERROR,
            format!("{error:#}").replace(['\r', '\n'], " ").as_str(),
        );
        let dead_subject = self
            .bus
            .naming
            .dead_letter_subject(&self.spec.name, subject);
        self.bus
            .jetstream
            .publish_with_headers(dead_subject, headers, message.payload.clone())
            .await
            .context("publishing a dead letter")?
            .await
            .context("awaiting the dead letter's ack")?;
        message
            .ack_with(AckKind::Term)
            .await
            .map_err(|error| anyhow::anyhow!(error))
            .context("terminating a dead-lettered message")?;
        Ok(())
    }
}

/// Whether a handler's error is the database being unreachable (not the event's fault).
fn is_unavailable(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<sea_orm::DbErr>(),
            Some(sea_orm::DbErr::ConnectionAcquire(_) | sea_orm::DbErr::Conn(_))
        )
    })
}
