//! Streams and subjects.
//!
//! One stream per domain (`IDENTITY`, `GOVERNANCE`, `AGRI`, `MARKET`, `NOTIFY`) captures
//! `<domain>.>`, plus `DEADLETTER` for events a consumer gave up on. A deployment prefix, empty in
//! production, is put in front of every stream name and subject: tests give each test its own, so
//! that many tests share one NATS server without seeing each other's events.
//!
//! Each domain also has a compacted state stream, `STATE_<DOMAIN>`, capturing
//! `state.<domain>.>`: the latest snapshot of every entity other services project, one subject per
//! entity (`state.<domain>.<entity>.<id>`), kept without age limit but only the last message per
//! subject. An erased entity's subject ends in a tombstone, which replaces its last snapshot.

use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream::stream;

use crate::config::NatsSettings;

/// The domains that publish events, each with its stream.
pub const DOMAINS: [&str; 5] = ["identity", "governance", "agri", "market", "notify"];

/// The subject root of dead letters: `deadletter.<consumer>.<original subject>`.
pub const DEAD_LETTER_ROOT: &str = "deadletter";

/// The subject root of short-lived secrets (one-time codes): `secret.<domain>.<entity>.<event>`.
/// Its stream keeps a message only `nats.secret_max_age`; their dead letters stay under it
/// (`secret.deadletter.<consumer>.<rest>`), and the outbox deletes such a row once published.
pub const SECRET_ROOT: &str = "secret";

/// The subject root of entity snapshots: `state.<domain>.<entity>.<id>`, one stream per domain.
pub const STATE_ROOT: &str = "state";

/// Whether `subject` (without the deployment prefix) is an entity's state, not an event.
pub fn is_state(subject: &str) -> bool {
    subject
        .strip_prefix(STATE_ROOT)
        .is_some_and(|rest| rest.starts_with('.'))
}

/// Whether `subject` (without the deployment prefix) carries a short-lived secret.
pub fn is_secret(subject: &str) -> bool {
    subject
        .strip_prefix(SECRET_ROOT)
        .is_some_and(|rest| rest.starts_with('.'))
}

/// Maps logical stream names and subjects to the ones of this deployment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Naming {
    prefix: String,
}

impl Naming {
    /// `prefix` is a single subject token (letters, digits, `_`, `-`); empty for none.
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
        }
    }

    /// `market.listing.created` -> `<prefix>.market.listing.created`.
    pub fn subject(&self, subject: &str) -> String {
        if self.prefix.is_empty() {
            subject.to_owned()
        } else {
            format!("{}.{subject}", self.prefix)
        }
    }

    /// The logical subject of a message received on a (prefixed) subject.
    pub fn strip<'a>(&self, subject: &'a str) -> &'a str {
        if self.prefix.is_empty() {
            return subject;
        }
        subject
            .strip_prefix(self.prefix.as_str())
            .and_then(|rest| rest.strip_prefix('.'))
            .unwrap_or(subject)
    }

    /// `market` -> `MARKET`, or `<PREFIX>_MARKET`. Stream names cannot contain dots.
    pub fn stream(&self, domain: &str) -> String {
        let name = domain.to_ascii_uppercase();
        if self.prefix.is_empty() {
            name
        } else {
            format!(
                "{}_{name}",
                self.prefix.to_ascii_uppercase().replace('-', "_")
            )
        }
    }

    /// The state stream of `domain`: `STATE_<DOMAIN>` (or `<PREFIX>_STATE_<DOMAIN>`).
    pub fn state_stream(&self, domain: &str) -> String {
        self.stream(&format!("{STATE_ROOT}_{domain}"))
    }

    /// The stream a subject is captured by: its first token.
    pub fn stream_of_subject(&self, subject: &str) -> String {
        self.stream(subject.split('.').next().unwrap_or(subject))
    }

    /// The durable consumer name of `consumer` (consumer names are per stream, so unprefixed).
    /// A secret's dead letter stays in the secret stream, kept as briefly as the secret.
    pub fn dead_letter_subject(&self, consumer: &str, subject: &str) -> String {
        match subject
            .strip_prefix(SECRET_ROOT)
            .and_then(|rest| rest.strip_prefix('.'))
        {
            Some(rest) => self.subject(&format!(
                "{SECRET_ROOT}.{DEAD_LETTER_ROOT}.{consumer}.{rest}"
            )),
            None => self.subject(&format!("{DEAD_LETTER_ROOT}.{consumer}.{subject}")),
        }
    }
}

/// The streams of a process: the five domains, the dead letters, and any other service it runs.
fn stream_domains<'a>(services: &'a [&'a str]) -> Vec<&'a str> {
    let mut domains: Vec<&str> = DOMAINS
        .into_iter()
        .chain([DEAD_LETTER_ROOT, SECRET_ROOT])
        .collect();
    for service in services {
        if !domains.contains(service) {
            domains.push(service);
        }
    }
    domains
}

/// Creates or updates every domain stream, the dead-letter stream, and a stream for each other
/// service in `services`.
pub async fn ensure_streams(
    jetstream: &async_nats::jetstream::Context,
    naming: &Naming,
    settings: &NatsSettings,
    services: &[&str],
) -> anyhow::Result<()> {
    for domain in stream_domains(services) {
        // Events are kept for a week: long enough for a consumer that was down over a holiday to
        // catch up, short enough to bound the disk. Dead letters are kept longer so an operator
        // can look at them after the fact; secrets only as long as they are good for.
        let max_age = match domain {
            DEAD_LETTER_ROOT => Duration::from_secs(30 * 24 * 3600),
            SECRET_ROOT => settings.secret_max_age,
            _ => Duration::from_secs(7 * 24 * 3600),
        };
        let config = stream::Config {
            name: naming.stream(domain),
            subjects: vec![naming.subject(&format!("{domain}.>"))],
            storage: stream::StorageType::File,
            num_replicas: settings.stream_replicas,
            // JetStream refuses a duplicate window longer than the stream's age limit.
            duplicate_window: settings.duplicate_window.min(max_age),
            max_age,
            ..Default::default()
        };
        jetstream
            .create_or_update_stream(config)
            .await
            .with_context(|| format!("creating stream {}", naming.stream(domain)))?;
    }
    for domain in state_domains(services) {
        // The present, not the history: one message per entity, however old. A tombstone replaces
        // an erased entity's snapshot, so nothing of it remains but its id.
        let config = stream::Config {
            name: naming.state_stream(domain),
            subjects: vec![naming.subject(&format!("{STATE_ROOT}.{domain}.>"))],
            storage: stream::StorageType::File,
            num_replicas: settings.stream_replicas,
            duplicate_window: settings.duplicate_window,
            max_messages_per_subject: 1,
            ..Default::default()
        };
        jetstream
            .create_or_update_stream(config)
            .await
            .with_context(|| format!("creating stream {}", naming.state_stream(domain)))?;
    }
    Ok(())
}

/// The domains with a state stream: the five domains and any other service.
fn state_domains<'a>(services: &'a [&'a str]) -> Vec<&'a str> {
    stream_domains(services)
        .into_iter()
        .filter(|domain| ![DEAD_LETTER_ROOT, SECRET_ROOT].contains(domain))
        .collect()
}

/// Deletes the streams [`ensure_streams`] made (tests clean up after themselves).
pub async fn delete_streams(
    jetstream: &async_nats::jetstream::Context,
    naming: &Naming,
    services: &[&str],
) -> anyhow::Result<()> {
    let names = stream_domains(services)
        .into_iter()
        .map(|domain| naming.stream(domain))
        .chain(
            state_domains(services)
                .into_iter()
                .map(|domain| naming.state_stream(domain)),
        );
    for name in names {
        match jetstream.delete_stream(&name).await {
            Ok(_) => {}
            Err(error) if error.to_string().contains("not found") => {}
            Err(error) => {
                return Err(error).with_context(|| format!("deleting stream {name}"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Naming;

    #[test]
    fn prefix_applies_to_streams_and_subjects_and_strips_back() {
        let naming = Naming::new("t1a2b3");
        assert_eq!(
            naming.subject("market.listing.created"),
            "t1a2b3.market.listing.created"
        );
        assert_eq!(naming.stream("market"), "T1A2B3_MARKET");
        assert_eq!(
            naming.strip("t1a2b3.market.listing.created"),
            "market.listing.created"
        );
        assert_eq!(naming.stream_of_subject("agri.alert.raised"), "T1A2B3_AGRI");
        let plain = Naming::default();
        assert_eq!(
            plain.subject("market.listing.created"),
            "market.listing.created"
        );
        assert_eq!(plain.stream("notify"), "NOTIFY");
        assert_eq!(naming.state_stream("identity"), "T1A2B3_STATE_IDENTITY");
        assert_eq!(plain.state_stream("identity"), "STATE_IDENTITY");
        assert!(super::is_state("state.identity.user.1"));
        assert!(!super::is_state("statement.x"));
    }
}
