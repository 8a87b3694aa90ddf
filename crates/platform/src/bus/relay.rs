//! The outbox relay: drains committed outbox rows into JetStream.
//!
//! Each round claims a batch of unsent rows with `FOR UPDATE SKIP LOCKED` (so replicas of a service
//! share the work without waiting on each other), publishes them all asynchronously — the
//! JetStream context bounds how many acknowledgements may be outstanding — waits for the acks,
//! marks the acknowledged rows sent and commits. A crash anywhere in between leaves rows unsent;
//! the next round publishes them again and JetStream drops the copies by `Nats-Msg-Id`.
//!
//! The relay sleeps on `LISTEN terrace_outbox` and wakes as soon as a transaction with an outbox
//! row commits; the poll interval is only a safety net for a lost notification.
//!
//! Ordering: one relay publishes in commit-sequence order. With several replicas, batches may
//! interleave, so consumers must not depend on the order of events across entities.

use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream::message::PublishMessage;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::StreamExt as _;
use futures::stream::FuturesOrdered;
use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Gauge};
use sea_orm::DatabaseConnection;
use sqlx::postgres::{PgListener, PgPool};
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;
use uuid::Uuid;

use super::Bus;
use super::envelope::Envelope;
use super::outbox::NOTIFY_CHANNEL;
use crate::config::OutboxSettings;

/// The relay of one service's outbox.
#[derive(Debug, Clone)]
pub struct Relay {
    pool: PgPool,
    bus: Bus,
    settings: OutboxSettings,
    metrics: RelayMetrics,
}

#[derive(Debug, Clone)]
struct RelayMetrics {
    service: KeyValue,
    published: Counter<u64>,
    failures: Counter<u64>,
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

impl Relay {
    /// A relay for the outbox in `db`, publishing through `bus`. `service` labels its metrics.
    pub fn new(
        service: &str,
        db: &DatabaseConnection,
        bus: &Bus,
        settings: &OutboxSettings,
    ) -> Self {
        let meter = crate::telemetry::meter();
        Self {
            pool: db.get_postgres_connection_pool().clone(),
            bus: bus.clone(),
            settings: settings.clone(),
            metrics: RelayMetrics {
                service: KeyValue::new("service", service.to_owned()),
                published: meter
                    .u64_counter("outbox.published")
                    .with_description(
                        "events published from the outbox and acknowledged by JetStream",
                    )
                    .build(),
                failures: meter
                    .u64_counter("outbox.publish_failures")
                    .with_description("outbox rounds that failed and will be retried")
                    .build(),
                backlog: meter
                    .u64_gauge("outbox.backlog")
                    .with_description("outbox rows not yet published")
                    .build(),
            },
        }
    }

    /// Runs until `shutdown`, then returns after the round in progress.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let mut listener = self.listen().await?;
        let mut failures = 0u32;
        let mut last_cleanup = tokio::time::Instant::now();
        loop {
            if shutdown.is_cancelled() {
                return Ok(());
            }
            match self.drain_once().await {
                // A full batch means there is probably more: go again without sleeping.
                Ok(count) if count as u64 >= self.settings.batch_size => {
                    failures = 0;
                    continue;
                }
                Ok(_) => failures = 0,
                Err(error) => {
                    failures = failures.saturating_add(1);
                    self.metrics
                        .failures
                        .add(1, std::slice::from_ref(&self.metrics.service));
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
            // After a failure, back off (100 ms doubling to 5 s) instead of hammering NATS.
            let wait = if failures > 0 {
                Duration::from_millis(100u64.saturating_mul(1 << failures.min(6)))
                    .min(Duration::from_secs(5))
            } else {
                self.settings.poll_interval
            };
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                () = tokio::time::sleep(wait) => {}
                notification = listener.recv(), if failures == 0 => {
                    if let Err(error) = notification {
                        // PgListener reconnects by itself on the next recv; note it and poll.
                        tracing::warn!(%error, "outbox listener interrupted");
                    }
                }
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

    /// Publishes one batch of pending rows; returns how many were claimed.
    pub async fn drain_once(&self) -> anyhow::Result<usize> {
        let mut tx = self.pool.begin().await?;
        let rows: Vec<OutboxRow> = sqlx::query_as(
            "SELECT seq, event_id, subject, event_type, source, payload, traceparent, occurred_at \
             FROM outbox WHERE sent_at IS NULL ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED",
        )
        .bind(i64::try_from(self.settings.batch_size).unwrap_or(i64::MAX))
        .fetch_all(&mut *tx)
        .await
        .context("claiming outbox rows")?;
        let claimed = rows.len();
        if claimed == 0 {
            return Ok(0);
        }
        let span = tracing::debug_span!("outbox.relay", claimed);
        let (sent, error) = self.publish(rows).instrument(span).await;
        if !sent.is_empty() {
            sqlx::query("UPDATE outbox SET sent_at = now() WHERE seq = ANY($1)")
                .bind(&sent)
                .execute(&mut *tx)
                .await
                .context("marking outbox rows sent")?;
        }
        tx.commit().await.context("committing outbox round")?;
        self.metrics.published.add(
            sent.len() as u64,
            std::slice::from_ref(&self.metrics.service),
        );
        match error {
            Some(error) => Err(error),
            None => Ok(claimed),
        }
    }

    /// Publishes rows in order; returns the sequence numbers JetStream acknowledged, and the first
    /// error if any publish failed (the rest of the batch is left for the next round).
    async fn publish(&self, rows: Vec<OutboxRow>) -> (Vec<i64>, Option<anyhow::Error>) {
        let mut acks = FuturesOrdered::new();
        let mut error = None;
        for row in rows {
            let envelope = Envelope {
                id: row.event_id,
                subject: row.subject,
                event_type: row.event_type,
                source: row.source,
                time: row.occurred_at,
                traceparent: row.traceparent,
                payload: Bytes::from(row.payload),
            };
            let subject = self.bus.naming.subject(&envelope.subject);
            let message = PublishMessage::build()
                .payload(envelope.payload.clone())
                .headers(envelope.headers())
                .message_id(envelope.id.to_string());
            match self.bus.jetstream.send_publish(subject, message).await {
                Ok(ack) => acks.push_back(async move { (row.seq, ack.await) }),
                Err(publish_error) => {
                    error = Some(
                        anyhow::Error::new(publish_error).context("publishing an outbox event"),
                    );
                    break;
                }
            }
        }
        let mut sent = Vec::with_capacity(acks.len());
        while let Some((seq, ack)) = acks.next().await {
            match ack {
                Ok(_) => sent.push(seq),
                Err(ack_error) => {
                    if error.is_none() {
                        error =
                            Some(anyhow::Error::new(ack_error).context("awaiting a jetstream ack"));
                    }
                }
            }
        }
        (sent, error)
    }

    /// Deletes sent rows older than the retention.
    async fn cleanup(&self) -> anyhow::Result<()> {
        let cutoff = Utc::now()
            - chrono::Duration::from_std(self.settings.retention)
                .unwrap_or(chrono::Duration::days(1));
        sqlx::query("DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < $1")
            .bind(cutoff)
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

    /// Rows not yet published.
    pub async fn backlog(&self) -> anyhow::Result<u64> {
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }
}
