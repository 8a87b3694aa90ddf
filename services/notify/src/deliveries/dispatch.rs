//! The sender: every replica looks every `delivery.poll_interval` (tokio time) for deliveries
//! due by the service clock, takes a batch (`FOR UPDATE SKIP LOCKED`, so replicas take different
//! ones), hands each to its channel and records what happened:
//!
//! - taken: SENT, with the provider's id (receipts later make it DELIVERED or FAILED);
//! - a retryable failure: QUEUED again after `first_retry`, doubled each attempt up to
//!   `max_retry`, until `max_attempts`, then FAILED;
//! - a permanent failure: FAILED at once; no provider configured: SUPPRESSED;
//! - a delivery whose `expire_at` passed before it could go (a code): SUPPRESSED, never sent.
//!
//! A replica that dies while sending leaves its deliveries SENDING with a lease; once the lease
//! lapses another replica sends them again, with the same delivery id as the idempotency key,
//! so the provider recognises the repeat. Final records publish `notify.delivery.delivered` or
//! `notify.delivery.failed` through the outbox.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt as _;
use sea_orm::{DatabaseConnection, TransactionTrait as _};
use terrace_platform::Clock;
use terrace_platform::bus::outbox;
use terrace_proto::notify::v1 as pb;
use tokio_util::sync::CancellationToken;

use super::store::{self, Outcome, Status};
use super::{DeliveryRow, to_proto};
use crate::channels::{Channels, Failure, Outgoing};
use crate::config::DeliverySettings;

/// Sends what is due.
#[derive(Debug, Clone)]
pub struct Dispatcher {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: DatabaseConnection,
    clock: Clock,
    channels: Channels,
    settings: DeliverySettings,
    /// The event source of the records' events (`terrace/notify`).
    source: String,
}

impl Dispatcher {
    pub fn new(
        db: DatabaseConnection,
        clock: Clock,
        channels: Channels,
        settings: DeliverySettings,
        source: String,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                db,
                clock,
                channels,
                settings,
                source,
            }),
        }
    }

    /// Sends until `shutdown`; a failed look is logged and tried again at the next poll.
    pub async fn run(self, shutdown: CancellationToken) {
        let poll = self
            .inner
            .settings
            .poll_interval
            .max(Duration::from_millis(10));
        loop {
            match self.send_due().await {
                // A full batch: more may be waiting.
                Ok(taken) if taken >= self.inner.settings.batch as usize => continue,
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(error = format!("{error:#}"), "sending deliveries failed");
                }
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(poll) => {}
            }
        }
    }

    /// Takes one batch of due deliveries, sends it, and records every outcome in one
    /// transaction (one commit for the batch, not one per delivery: the commits were what the
    /// event-to-inbox path waited behind); how many it took. A batch is recorded once its
    /// slowest send returned (a gateway's timeout at most).
    pub async fn send_due(&self) -> anyhow::Result<usize> {
        let inner = &self.inner;
        let now = inner.clock.now();
        let lease_until = terrace_platform::clock::add(now, inner.settings.lease);
        let rows = store::claim_due(&inner.db, now, lease_until, inner.settings.batch).await?;
        let taken = rows.len();
        if taken == 0 {
            return Ok(0);
        }
        let attempts: Vec<(Vec<DeliveryRow>, Outcome)> = futures::stream::iter(sends(rows))
            .map(|rows| async move {
                let outcome = self.attempt(&rows).await;
                (rows, outcome)
            })
            .buffer_unordered(taken)
            .collect()
            .await;
        // If recording fails, the leases lapse and another look sends them again, under the
        // same delivery ids.
        let now = inner.clock.now();
        let txn = inner.db.begin().await?;
        for (rows, outcome) in &attempts {
            for row in rows {
                if store::record(&txn, row, outcome, now).await? {
                    let mut after = row.clone();
                    after.status = outcome.status;
                    if let Some(id) = &outcome.provider_message_id {
                        after.provider_message_id.clone_from(id);
                    }
                    if outcome.status == Status::Failed {
                        after.last_error.clone_from(&outcome.detail);
                    }
                    publish_final(&txn, &inner.source, &after).await?;
                }
            }
        }
        txn.commit().await?;
        Ok(taken)
    }

    /// One attempt at one message — a delivery, or a person's digest of several — and what came
    /// of it, for each of them.
    async fn attempt(&self, rows: &[DeliveryRow]) -> Outcome {
        let inner = &self.inner;
        let Some(first) = rows.first() else {
            return outcome(Status::Suppressed, "nothing to send");
        };
        let started = inner.clock.now();
        if rows.len() == 1 && first.expire_at.is_some_and(|at| at <= started) {
            return outcome(Status::Suppressed, "expired before it could be sent");
        }
        let channel = pb::Channel::try_from(i32::from(first.channel))
            .ok()
            .and_then(|channel| inner.channels.get(channel));
        let Some(channel) = channel else {
            return outcome(Status::Suppressed, "this channel is not available");
        };
        let message = if rows.len() == 1 {
            Outgoing {
                delivery_id: first.id,
                address: first.address.clone(),
                subject: first.subject.clone(),
                body: first.body.clone(),
                template_code: first.template_code.clone(),
                signature: first.signature.clone(),
                params: first.params.clone(),
            }
        } else {
            // The digest goes under its first delivery's id, on every attempt.
            Outgoing {
                delivery_id: first.id,
                address: first.address.clone(),
                subject: String::new(),
                body: digest_text(rows),
                template_code: String::new(),
                signature: String::new(),
                params: serde_json::json!({}),
            }
        };
        let sent = channel.send(&message).await;
        let mut judged = self.judge(first, sent, inner.clock.now());
        if rows.len() > 1 && judged.status == Status::Sent {
            judged.detail = format!("{} (a digest of {})", judged.detail, rows.len());
        }
        judged
    }

    /// What `sent` means for `row`.
    fn judge(
        &self,
        row: &DeliveryRow,
        sent: Result<crate::channels::Accepted, Failure>,
        now: DateTime<Utc>,
    ) -> Outcome {
        let settings = &self.inner.settings;
        match sent {
            Ok(accepted) => Outcome {
                status: Status::Sent,
                detail: format!("accepted as {}", accepted.provider_message_id),
                provider_message_id: Some(accepted.provider_message_id),
                next_attempt_at: None,
            },
            Err(Failure::Retry(error))
                if u32::try_from(row.attempts).unwrap_or(u32::MAX) < settings.max_attempts =>
            {
                let wait = retry_after(settings, row.attempts);
                Outcome {
                    status: Status::Queued,
                    detail: format!("{error}; retrying in {} s", wait.as_secs()),
                    provider_message_id: None,
                    next_attempt_at: Some(terrace_platform::clock::add(now, wait)),
                }
            }
            Err(Failure::Retry(error)) => outcome(
                Status::Failed,
                &format!("{error} (gave up after {} attempts)", row.attempts),
            ),
            Err(Failure::Permanent(error)) => outcome(Status::Failed, &error),
            Err(Failure::Suppress(why)) => outcome(Status::Suppressed, &why),
        }
    }
}

/// The messages a batch makes: each delivery alone, except a person's digest deliveries on one
/// channel, which go as one message.
fn sends(rows: Vec<DeliveryRow>) -> Vec<Vec<DeliveryRow>> {
    let mut sends: Vec<Vec<DeliveryRow>> = Vec::new();
    for row in rows {
        let digest_of = |send: &&mut Vec<DeliveryRow>| {
            send.first().is_some_and(|first| {
                first.digest
                    && row.digest
                    && first.recipient_user_id == row.recipient_user_id
                    && first.channel == row.channel
                    && first.address == row.address
            })
        };
        match sends.iter_mut().find(|send| digest_of(send)) {
            Some(send) => send.push(row),
            None => sends.push(vec![row]),
        }
    }
    for send in &mut sends {
        send.sort_by_key(|row| row.id);
    }
    sends
}

/// A digest's text: how many, then each, oldest first, in the first one's language.
pub fn digest_text(rows: &[DeliveryRow]) -> String {
    let chinese = rows.first().is_none_or(|row| row.locale.starts_with("zh"));
    let mut text = if chinese {
        format!("今日消息 {} 条：", rows.len())
    } else {
        format!("Your {} messages today:", rows.len())
    };
    for (index, row) in rows.iter().enumerate() {
        text.push_str(&format!("\n{}. {}", index + 1, row.body));
    }
    text
}

fn outcome(status: Status, detail: &str) -> Outcome {
    Outcome {
        status,
        detail: detail.to_owned(),
        provider_message_id: None,
        next_attempt_at: None,
    }
}

/// The wait after failed attempt number `attempts` (from 1): `first_retry` doubled each time,
/// at most `max_retry`.
pub fn retry_after(settings: &DeliverySettings, attempts: i32) -> Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(20);
    settings
        .first_retry
        .saturating_mul(1 << doublings)
        .min(settings.max_retry)
}

/// Publishes the event of a record that reached SENT, DELIVERED or FAILED.
pub async fn publish_final<C: sea_orm::ConnectionTrait>(
    conn: &C,
    source: &str,
    row: &DeliveryRow,
) -> Result<(), sea_orm::DbErr> {
    let delivery = Some(to_proto(row, Vec::new()));
    match row.status {
        Status::Sent | Status::Delivered => {
            outbox::publish(conn, source, &pb::DeliveryDelivered { delivery }).await?;
        }
        Status::Failed => {
            outbox::publish(conn, source, &pb::DeliveryFailed { delivery }).await?;
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_wait_twice_as_long_each_time_up_to_the_most() {
        let settings = DeliverySettings {
            first_retry: Duration::from_secs(30),
            max_retry: Duration::from_secs(600),
            ..DeliverySettings::default()
        };
        let waits: Vec<u64> = (1..=7)
            .map(|attempt| retry_after(&settings, attempt).as_secs())
            .collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 600, 600]);
    }
}
