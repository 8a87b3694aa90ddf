//! Streams and subjects.
//!
//! One stream per domain (`IDENTITY`, `GOVERNANCE`, `AGRI`, `MARKET`, `NOTIFY`) captures
//! `<domain>.>`, plus `DEADLETTER` for events a consumer gave up on. A deployment prefix, empty in
//! production, is put in front of every stream name and subject: tests give each test its own, so
//! that many tests share one NATS server without seeing each other's events.

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
    Ok(())
}

/// Deletes the streams [`ensure_streams`] made (tests clean up after themselves).
pub async fn delete_streams(
    jetstream: &async_nats::jetstream::Context,
    naming: &Naming,
    services: &[&str],
) -> anyhow::Result<()> {
    for domain in stream_domains(services) {
        match jetstream.delete_stream(naming.stream(domain)).await {
            Ok(_) => {}
            Err(error) if error.to_string().contains("not found") => {}
            Err(error) => {
                return Err(error)
                    .with_context(|| format!("deleting stream {}", naming.stream(domain)));
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
    }
}
