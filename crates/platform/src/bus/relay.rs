//! The outbox relay: drains committed outbox rows into JetStream.
//!
//! Each round claims a batch of pending rows with `FOR UPDATE SKIP LOCKED` (so replicas of a service
//! share the work without waiting on each other), publishes them asynchronously with at most
//! `outbox.max_in_flight` acknowledgements outstanding, deletes the acknowledged rows and commits.
//! A crash anywhere in between leaves rows unsent; the next round publishes them again and
//! JetStream drops the copies by `Nats-Msg-Id`.
//!
//! Published rows are deleted, not marked: the event lives on in its stream, and marking a row
//! rewrote it (a new row version with three index entries, as much WAL as the insert that made it),
//! which cost every create about a quarter of its rate in the bench (`docs/benchmarks.md`).
//!
//! A row that fails is not allowed to hold up the others: its attempt is counted and the rest of
//! the batch goes on. A row that can never be published (larger than NATS accepts, a subject no
//! stream captures after many tries) is parked — kept with its error, skipped, counted in the
//! `outbox.parked` metric — for an operator to look at. Only failures of NATS itself (a timeout, a
//! broken connection) end the round early and make the relay back off.
//!
//! The relay sleeps on `LISTEN terrace_outbox` and wakes as soon as a transaction with an outbox
//! row commits; the poll interval is only a safety net for a lost notification. Writers notify only
//! while the relay sleeps (see [`outbox`](super::outbox) for why and how), and while writers are in
//! flight the relay does not sleep but looks again within milliseconds.
//!
//! Ordering: rows are published in insertion order (`seq`), which for concurrent transactions is
//! not exactly commit order; a row that failed is published after later ones; several replicas
//! interleave their batches. Consumers must not depend on the order of events across entities.

use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream::context::{PublishAckFuture, PublishErrorKind};
use async_nats::jetstream::message::PublishMessage;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::StreamExt as _;
use futures::stream::FuturesOrdered;
use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Gauge};
use opentelemetry::trace::TraceContextExt as _;
use sea_orm::DatabaseConnection;
use sqlx::postgres::{PgListener, PgPool};
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use uuid::Uuid;

use super::Bus;
use super::envelope::Envelope;
use super::outbox::{NOTIFY_CHANNEL, RELAY_IDLE_LOCK};
use super::streams::Naming;
use crate::config::OutboxSettings;

/// Failed attempts after which a row whose subject no stream captures is parked.
const MAX_ATTEMPTS: i32 = 10;

/// The relay of one service's outbox.
#[derive(Debug, Clone)]
pub struct Relay {
    pool: PgPool,
    /// A JetStream context of the relay's own, so that its acknowledgement budget is not shared
    /// with (and cannot be exhausted by) other relays or consumers of the same connection.
    jetstream: async_nats::jetstream::Context,
    naming: Naming,
    /// Unsent secrets older than this are deleted.
    secret_max_age: Duration,
    settings: OutboxSettings,
    metrics: RelayMetrics,
}

#[derive(Debug, Clone)]
struct RelayMetrics {
    service: KeyValue,
    published: Counter<u64>,
    failures: Counter<u64>,
    parked: Counter<u64>,
    backlog: Gauge<u64>,
}

#[derive(sqlx::FromRow)]
struct OutboxRow {
    seq: i64,
    event_id: Uuid,
    subject: String,
    event_type: String,
    source: String,
    payload: Vec<u8>,
    traceparent: Option<String>,
    occurred_at: DateTime<Utc>,
}

/// What one round did with the rows it claimed.
#[derive(Debug, Default)]
struct Round {
    sent: Vec<i64>,
    /// Rows that failed on their own account, with the error; parked when `permanent`.
    failed: Vec<(i64, String, bool)>,
    /// A failure of NATS itself that ended the round early.
    interrupted: Option<anyhow::Error>,
}

/// How a wait for work ended.
#[derive(Debug, Clone, Copy)]
enum Slept {
    /// The relay slept (or found work just before).
    Idle,
    /// Writers were in flight; the relay only paused.
    Busy,
}

impl Relay {
    /// A relay for the outbox in `db`, publishing through `bus`. `service` labels its metrics.
    pub fn new(
        service: &str,
        db: &DatabaseConnection,
        bus: &Bus,
        settings: &OutboxSettings,
    ) -> Self {
        let meter = crate::telemetry::meter();
        let service = KeyValue::new("service", service.to_owned());
        Self {
            pool: db.get_postgres_connection_pool().clone(),
            jetstream: async_nats::jetstream::context::ContextBuilder::new()
                .timeout(Duration::from_secs(10))
                .max_ack_inflight(settings.max_in_flight.max(1))
                .backpressure_on_inflight(true)
                .build(bus.client.clone()),
            naming: bus.naming.clone(),
            secret_max_age: bus.secret_max_age,
            settings: settings.clone(),
            metrics: RelayMetrics {
                service,
                published: meter
                    .u64_counter("outbox.published")
                    .with_description(
                        "events published from the outbox and acknowledged by JetStream",
                    )
                    .build(),
                failures: meter
                    .u64_counter("outbox.publish_failures")
                    .with_description("outbox publishes that failed and will be retried")
                    .build(),
                parked: meter
                    .u64_counter("outbox.parked")
                    .with_description(
                        "outbox rows that can never be published, parked for an operator",
                    )
                    .build(),
                backlog: meter
                    .u64_gauge("outbox.backlog")
                    .with_description("outbox rows not yet published")
                    .build(),
            },
        }
    }

    /// Runs until `shutdown`, then publishes what is still pending (one last drain, bounded) and
    /// returns. Errors are retried with backoff; this only returns early if never asked to stop.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let mut listener: Option<PgListener> = None;
        let mut failures = 0u32;
        // 100 ms doubling to 5 s instead of hammering NATS or PostgreSQL.
        let mut backoff =
            crate::backoff::Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        let mut busy = 0u32;
        let mut last_cleanup = tokio::time::Instant::now();
        loop {
            if shutdown.is_cancelled() {
                self.final_drain().await;
                return Ok(());
            }
            match self.drain_once().await {
                // A full batch means there is probably more: go again without sleeping.
                Ok(claimed) if claimed as u64 >= self.settings.batch_size => {
                    failures = 0;
                    backoff.reset();
                    continue;
                }
                Ok(_) => {
                    failures = 0;
                    backoff.reset();
                }
                Err(error) => {
                    failures = failures.saturating_add(1);
                    tracing::warn!(
                        error = format!("{error:#}"),
                        failures,
                        "outbox relay round failed"
                    );
                }
            }
            if last_cleanup.elapsed() > Duration::from_secs(60) {
                last_cleanup = tokio::time::Instant::now();
                if let Err(error) = self.cleanup().await {
                    tracing::warn!(error = format!("{error:#}"), "outbox cleanup failed");
                }
                self.record_backlog().await;
            }
            if failures > 0 {
                let wait = backoff.next_delay();
                tokio::select! {
                    () = shutdown.cancelled() => {}
                    () = tokio::time::sleep(wait) => {}
                }
                continue;
            }
            let connected = match listener.as_mut() {
                Some(connected) => connected,
                None => match self.listen().await {
                    Ok(connected) => listener.insert(connected),
                    Err(error) => {
                        failures = 1;
                        tracing::warn!(
                            error = format!("{error:#}"),
                            "cannot listen for outbox notifications"
                        );
                        continue;
                    }
                },
            };
            match self.sleep(connected, &shutdown, busy).await {
                Ok(Slept::Idle) => busy = 0,
                Ok(Slept::Busy) => busy = busy.saturating_add(1),
                Err(error) => {
                    tracing::warn!(error = format!("{error:#}"), "outbox listener interrupted");
                    listener = None;
                }
            }
        }
    }

    /// After shutdown: publish what the last requests committed, for at most a few seconds.
    async fn final_drain(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while tokio::time::Instant::now() < deadline {
            match tokio::time::timeout_at(deadline, self.drain_once()).await {
                Ok(Ok(claimed)) if claimed > 0 => {}
                Ok(Err(error)) => {
                    tracing::warn!(error = format!("{error:#}"), "final outbox drain failed");
                    return;
                }
                _ => return,
            }
        }
    }

    async fn listen(&self) -> anyhow::Result<PgListener> {
        let mut listener = PgListener::connect_with(&self.pool)
            .await
            .context("connecting the outbox listener")?;
        listener
            .listen(NOTIFY_CHANNEL)
            .await
            .context("listening for outbox notifications")?;
        Ok(listener)
    }

    /// Waits for more work.
    ///
    /// To sleep, the relay takes [`RELAY_IDLE_LOCK`] exclusively on its listener's connection:
    /// from then on every writer fails to take it shared and notifies. Rows committed before the
    /// lock was taken did not notify, so it looks once more before sleeping. When the lock cannot
    /// be taken, a writer holds it shared — its row may be about to commit — or another replica
    /// sleeps on it; either way the relay looks again shortly (5 ms, doubling to 100 ms while it
    /// stays so) instead of sleeping.
    async fn sleep(
        &self,
        listener: &mut PgListener,
        shutdown: &CancellationToken,
        busy: u32,
    ) -> anyhow::Result<Slept> {
        // Notifications that arrived while the relay was draining are answered by that drain.
        while listener.next_buffered().is_some() {}
        let idle: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(RELAY_IDLE_LOCK)
            .fetch_one(&mut *listener)
            .await?;
        if !idle {
            let wait = Duration::from_millis(5u64 << busy.min(5)).min(Duration::from_millis(100));
            tokio::select! {
                () = shutdown.cancelled() => {}
                () = tokio::time::sleep(wait) => {}
                notification = listener.recv() => { notification?; }
            }
            return Ok(Slept::Busy);
        }
        let slept = async {
            if self.drain_once().await? > 0 {
                return anyhow::Ok(());
            }
            tokio::select! {
                () = shutdown.cancelled() => {}
                () = tokio::time::sleep(self.settings.poll_interval) => {}
                notification = listener.recv() => { notification?; }
            }
            Ok(())
        }
        .await;
        // If the connection broke, the server released the lock with it.
        let _ = sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(RELAY_IDLE_LOCK)
            .execute(&mut *listener)
            .await;
        slept.map(|()| Slept::Idle)
    }

    /// Publishes one batch of pending rows; returns how many were claimed. An error means NATS
    /// itself failed during the round (what was acknowledged is still deleted).
    pub async fn drain_once(&self) -> anyhow::Result<usize> {
        let mut tx = self.pool.begin().await?;
        let rows: Vec<OutboxRow> = sqlx::query_as(
            "SELECT seq, event_id, subject, event_type, source, payload, traceparent, occurred_at \
             FROM outbox WHERE parked_at IS NULL \
             ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED",
        )
        .bind(i64::try_from(self.settings.batch_size).unwrap_or(i64::MAX))
        .fetch_all(&mut *tx)
        .await
        .context("claiming outbox rows")?;
        let claimed = rows.len();
        if claimed == 0 {
            return Ok(0);
        }
        let span = tracing::debug_span!(parent: None, "outbox.relay", claimed);
        // A batch carries the events of many requests, so it is a trace of its own, linked to
        // each row's (OpenTelemetry's messaging conventions for a batch publish): in a collector
        // the change's trace leads to the relay round that published it, and back.
        for traceparent in rows.iter().filter_map(|row| row.traceparent.as_deref()) {
            let context = crate::telemetry::propagation::context_from_traceparent(traceparent);
            let linked = context.span().span_context().clone();
            if linked.is_valid() {
                span.add_link(linked);
            }
        }
        let round = self.publish(rows).instrument(span).await;
        if !round.sent.is_empty() {
            sqlx::query("DELETE FROM outbox WHERE seq = ANY($1)")
                .bind(&round.sent)
                .execute(&mut *tx)
                .await
                .context("deleting published outbox rows")?;
        }
        for (seq, error, permanent) in &round.failed {
            let parked: Option<DateTime<Utc>> = sqlx::query_scalar(
                "UPDATE outbox SET attempts = attempts + 1, last_error = $2, \
                 parked_at = CASE WHEN $3 OR attempts + 1 >= $4 THEN now() END \
                 WHERE seq = $1 RETURNING parked_at",
            )
            .bind(seq)
            .bind(error)
            .bind(permanent)
            .bind(MAX_ATTEMPTS)
            .fetch_one(&mut *tx)
            .await
            .context("recording a failed publish")?;
            if parked.is_some() {
                self.metrics
                    .parked
                    .add(1, std::slice::from_ref(&self.metrics.service));
                tracing::error!(seq, error = %error, "outbox row parked: it cannot be published");
            }
        }
        tx.commit().await.context("committing outbox round")?;
        let attrs = std::slice::from_ref(&self.metrics.service);
        self.metrics.published.add(round.sent.len() as u64, attrs);
        self.metrics.failures.add(round.failed.len() as u64, attrs);
        match round.interrupted {
            Some(error) => Err(error),
            None => Ok(claimed),
        }
    }

    /// Publishes rows in order, never with more than `max_in_flight` acknowledgements awaited.
    async fn publish(&self, rows: Vec<OutboxRow>) -> Round {
        let mut round = Round::default();
        let mut acks = FuturesOrdered::new();
        for row in rows {
            // Awaiting the oldest acknowledgement before sending more keeps the relay within its
            // context's budget, so a send never waits for a permit that only it could release.
            while acks.len() >= self.settings.max_in_flight.max(1) {
                if let Some((seq, ack)) = acks.next().await {
                    record_ack(&mut round, seq, ack);
                }
            }
            let envelope = Envelope {
                id: row.event_id,
                subject: row.subject,
                event_type: row.event_type,
                source: row.source,
                time: row.occurred_at,
                traceparent: row.traceparent,
                payload: Bytes::from(row.payload),
            };
            let message = PublishMessage::build()
                .payload(envelope.payload.clone())
                .headers(envelope.headers())
                .message_id(envelope.id.to_string());
            match self
                .jetstream
                .send_publish(self.naming.subject(&envelope.subject), message)
                .await
            {
                Ok(ack) => acks.push_back(ack_of(row.seq, ack)),
                Err(error) => match error.kind() {
                    // The row itself is unpublishable: park it and go on with the rest.
                    PublishErrorKind::MaxPayloadExceeded | PublishErrorKind::Other => {
                        round.failed.push((row.seq, error.to_string(), true));
                    }
                    // NATS is in trouble: stop here; the rest waits for the next round.
                    _ => {
                        round.interrupted =
                            Some(anyhow::Error::new(error).context("publishing an outbox event"));
                        break;
                    }
                },
            }
        }
        while let Some((seq, ack)) = acks.next().await {
            record_ack(&mut round, seq, ack);
        }
        round
    }

    /// Deletes secrets that outlived their age unsent (NATS was down longer than a code lives: the
    /// code is useless, and must not linger).
    async fn cleanup(&self) -> anyhow::Result<()> {
        // The outbox is dated by the wall clock (envelopes), so is its clean-up.
        let now = crate::Clock::system_now();
        let expired = now
            - chrono::Duration::from_std(self.secret_max_age).unwrap_or(chrono::Duration::zero());
        sqlx::query("DELETE FROM outbox WHERE subject LIKE $1 || '.%' AND occurred_at < $2")
            .bind(super::streams::SECRET_ROOT)
            .bind(expired)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn record_backlog(&self) {
        match self.backlog().await {
            Ok(count) => self
                .metrics
                .backlog
                .record(count, std::slice::from_ref(&self.metrics.service)),
            Err(error) => tracing::warn!(
                error = format!("{error:#}"),
                "cannot count the outbox backlog"
            ),
        }
    }

    /// Rows not yet published (parked rows excluded).
    pub async fn backlog(&self) -> anyhow::Result<u64> {
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE parked_at IS NULL")
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }
}

async fn ack_of(
    seq: i64,
    ack: PublishAckFuture,
) -> (
    i64,
    Result<
        async_nats::jetstream::publish::PublishAck,
        async_nats::jetstream::context::PublishError,
    >,
) {
    (seq, ack.await)
}

fn record_ack(
    round: &mut Round,
    seq: i64,
    ack: Result<
        async_nats::jetstream::publish::PublishAck,
        async_nats::jetstream::context::PublishError,
    >,
) {
    match ack {
        Ok(_) => round.sent.push(seq),
        // No stream captures the subject: counted, parked after MAX_ATTEMPTS.
        Err(error) if error.kind() == PublishErrorKind::StreamNotFound => {
            round.failed.push((seq, error.to_string(), false));
        }
        Err(error) => {
            if round.interrupted.is_none() {
                round.interrupted =
                    Some(anyhow::Error::new(error).context("awaiting a jetstream ack"));
            }
        }
    }
}
