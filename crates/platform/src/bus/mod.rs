//! Events between services: no event lost, none doubled.
//!
//! A state change and the event that tells of it commit in one PostgreSQL transaction: the
//! handler writes its rows and an [`outbox`] row together. The [`relay`] publishes outbox rows to
//! JetStream with `Nats-Msg-Id` = event id, so a republish after a crash is dropped by the server's
//! duplicate window, and marks them sent. A [`consumer`] pulls from a durable consumer, records each
//! event id in its inbox table in the same transaction as its own writes, and acks only after that
//! commit, so a redelivery is recognised and skipped. What keeps failing goes to a dead-letter
//! stream instead of blocking the rest.
//!
//! Entities other services project also have their latest snapshot on a compacted state stream
//! (`state.<domain>.<entity>.<id>`, one message per subject, tombstones for erased entities),
//! written through the same outbox ([`outbox::publish_state`], [`outbox::publish_tombstone`]); a
//! consumer made [`from_state`](consumer::Consumer::from_state) starts from it, then follows the
//! events.
//!
//! # Layout
//!
//! - [`envelope`]: the event as it travels: protobuf payload plus CloudEvents-style headers.
//! - [`streams`]: names of streams and subjects (with the per-test prefix) and their set-up.
//! - [`outbox`]: the outbox table and [`outbox::enqueue`], called inside a service's transaction.
//! - [`relay`]: the task that drains the outbox into JetStream.
//! - [`consumer`]: the runner of durable pull consumers, the inbox table and the dead-letter stream.

pub mod consumer;
pub mod envelope;
pub mod outbox;
pub mod relay;
pub mod streams;

use std::time::Duration;

use anyhow::Context as _;

pub use envelope::{Envelope, Event, Snapshot};
pub use streams::Naming;

use crate::config::NatsSettings;

/// The bus's tables (outbox, inbox); part of [`crate::db::migrations`].
pub fn migrations() -> Vec<Box<dyn sea_orm_migration::MigrationTrait>> {
    vec![outbox::MIGRATION.boxed(), consumer::MIGRATION.boxed()]
}

/// A connection to NATS and its JetStream context, with the naming every stream and subject uses.
#[derive(Debug, Clone)]
pub struct Bus {
    pub client: async_nats::Client,
    pub jetstream: async_nats::jetstream::Context,
    pub naming: Naming,
    /// How long a short-lived secret (`secret.>`) may exist anywhere: in its stream, and in the
    /// outbox while it waits to be published.
    pub secret_max_age: Duration,
}

impl Bus {
    /// Connects to NATS. `max_ack_inflight` bounds the publishes awaiting acknowledgement; when it
    /// is reached a publish waits rather than fails (backpressure instead of errors).
    pub async fn connect(
        settings: &NatsSettings,
        name: &str,
        max_ack_inflight: usize,
    ) -> anyhow::Result<Self> {
        let mut options = async_nats::ConnectOptions::new()
            .name(name)
            .connection_timeout(Duration::from_secs(5))
            .retry_on_initial_connect();
        if let Some(file) = &settings.credentials_file {
            options = options
                .credentials_file(file)
                .await
                .context("reading the nats credentials file")?;
        }
        let client = options
            .connect(settings.url.as_str())
            .await
            .with_context(|| format!("connecting to nats at {}", settings.url))?;
        let jetstream = async_nats::jetstream::context::ContextBuilder::new()
            .timeout(Duration::from_secs(10))
            .max_ack_inflight(max_ack_inflight.max(1))
            .backpressure_on_inflight(true)
            .build(client.clone());
        Ok(Self {
            client,
            jetstream,
            naming: Naming::new(&settings.prefix),
            secret_max_age: settings.secret_max_age,
        })
    }

    /// Whether the connection to the server is up (readiness).
    pub fn is_connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }
}
