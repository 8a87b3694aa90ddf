//! The event as it travels.
//!
//! The NATS message body is the protobuf encoding of the event message from the domain's
//! `events.proto`; everything about the event travels in headers, in the shape of the CloudEvents
//! NATS binding (binary mode), so that a consumer can route, deduplicate and trace an event without
//! decoding it, and an agency can read the stream with any NATS client.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// `Nats-Msg-Id`: the event id; JetStream drops a second publish with the same id.
pub const HEADER_MSG_ID: &str = "Nats-Msg-Id";
/// `ce-type`: the full protobuf name of the payload, e.g. `terrace.market.v1.ListingCreated`.
pub const HEADER_TYPE: &str = "ce-type";
/// `ce-source`: the service that produced the event, e.g. `terrace/market`.
pub const HEADER_SOURCE: &str = "ce-source";
/// `ce-time`: when the state change committed, RFC 3339.
pub const HEADER_TIME: &str = "ce-time";
/// `ce-id`: the event id again, for CloudEvents readers.
pub const HEADER_ID: &str = "ce-id";
/// `traceparent`: the W3C trace context of the request that caused the event.
pub const HEADER_TRACEPARENT: &str = "traceparent";

/// `ce-type` of a tombstone: the entity of this state subject was erased. Its payload is empty;
/// a consumer deletes what it holds of the entity.
pub const TOMBSTONE_TYPE: &str = "terrace.platform.Tombstone";

/// An entity snapshot published on a state stream (see `terrace_proto::Snapshot`).
pub use terrace_proto::Snapshot;

/// The event subject of the erasure of an entity of `S`: `state.identity.user` ->
/// `identity.user.erased`.
pub fn erased_subject<S: Snapshot>() -> String {
    let entity = S::ROOT
        .strip_prefix(super::streams::STATE_ROOT)
        .and_then(|rest| rest.strip_prefix('.'))
        .unwrap_or(S::ROOT);
    format!("{entity}.erased")
}

/// A protobuf event message and where it is published: defined with the contracts, implemented
/// there for every event of every domain (see `terrace_proto::Event`).
pub use terrace_proto::Event;

/// One event with its metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    pub id: Uuid,
    /// Subject without the deployment prefix.
    pub subject: String,
    pub event_type: String,
    pub source: String,
    pub time: DateTime<Utc>,
    pub traceparent: Option<String>,
    pub payload: Bytes,
}

impl Envelope {
    /// Wraps an event produced now by `source`, in the trace of the current span.
    // The envelope's CloudEvents `time` is when it was written, by the wall clock, as every
    // broker and tracer reads it; the domain's own times (expiries, deadlines) are fields of the
    // event, taken from the service clock.
    #[allow(clippy::disallowed_methods)]
    pub fn new<E: Event>(source: &str, event: &E) -> Self {
        Self {
            id: Uuid::now_v7(),
            subject: E::SUBJECT.to_owned(),
            event_type: E::TYPE.to_owned(),
            source: source.to_owned(),
            time: Utc::now(),
            traceparent: crate::telemetry::propagation::current_traceparent(),
            payload: Bytes::from(event.encode_to_vec()),
        }
    }

    /// The latest state of entity `id`, by `source`, for its state stream. Its `time` is the
    /// version a consumer compares: a snapshot or event older than what it holds changes nothing.
    #[allow(clippy::disallowed_methods)]
    pub fn snapshot<S: Snapshot>(source: &str, snapshot: &S, id: &str) -> Self {
        Self {
            id: Uuid::now_v7(),
            subject: format!("{}.{id}", S::ROOT),
            event_type: S::TYPE.to_owned(),
            source: source.to_owned(),
            time: Utc::now(),
            traceparent: crate::telemetry::propagation::current_traceparent(),
            payload: Bytes::from(snapshot.encode_to_vec()),
        }
    }

    /// The tombstone of the erased entity `id` of `S`: an empty payload typed
    /// [`TOMBSTONE_TYPE`], which replaces the entity's last snapshot in its state stream.
    pub fn tombstone<S: Snapshot>(source: &str, id: &str) -> Self {
        Self {
            event_type: TOMBSTONE_TYPE.to_owned(),
            payload: Bytes::new(),
            ..Self::snapshot(source, &S::default(), id)
        }
    }

    /// The event that tells consumers already following the events of `id`'s erasure: on
    /// `<domain>.<entity>.erased` (see [`erased_subject`]), typed [`TOMBSTONE_TYPE`], the id as
    /// its payload. [`outbox::publish_tombstone`](super::outbox::publish_tombstone) writes it with
    /// the tombstone.
    pub fn erased<S: Snapshot>(source: &str, id: &str) -> Self {
        Self {
            subject: erased_subject::<S>(),
            payload: Bytes::from(id.to_owned()),
            ..Self::tombstone::<S>(source, id)
        }
    }

    /// Whether this says an entity was erased: a tombstone on its state subject, or the erasure
    /// event that goes with it. Either way [`entity_id`](Self::entity_id) is the erased id.
    pub fn is_tombstone(&self) -> bool {
        self.event_type == TOMBSTONE_TYPE
    }

    /// Whether this is a state message or an erasure about an entity of `S`.
    pub fn is_about<S: Snapshot>(&self) -> bool {
        self.subject
            .strip_prefix(S::ROOT)
            .is_some_and(|rest| rest.starts_with('.'))
            || self.subject == erased_subject::<S>()
    }

    /// Whether this is an entity's state (a snapshot or a tombstone) rather than an event.
    pub fn is_state(&self) -> bool {
        super::streams::is_state(&self.subject)
    }

    /// The entity id of a state message (the last token of its subject) or of an erasure event
    /// (its payload).
    pub fn entity_id(&self) -> &str {
        if !self.is_state() && self.is_tombstone() {
            return std::str::from_utf8(&self.payload).unwrap_or_default();
        }
        self.subject.rsplit('.').next().unwrap_or_default()
    }

    /// Decodes a snapshot's payload as `S`, checking its type.
    pub fn decode_snapshot<S: Snapshot>(&self) -> anyhow::Result<S> {
        anyhow::ensure!(
            self.event_type == S::TYPE,
            "state {} is a {}, not a {}",
            self.id,
            self.event_type,
            S::TYPE
        );
        Ok(S::decode(self.payload.clone())?)
    }

    /// Decodes the payload as `E`, checking that the type header says it is one.
    pub fn decode<E: Event>(&self) -> anyhow::Result<E> {
        anyhow::ensure!(
            self.event_type == E::TYPE,
            "event {} is a {}, not a {}",
            self.id,
            self.event_type,
            E::TYPE
        );
        Ok(E::decode(self.payload.clone())?)
    }

    /// The NATS headers of this event.
    pub fn headers(&self) -> async_nats::HeaderMap {
        let mut headers = async_nats::HeaderMap::new();
        let id = self.id.to_string();
        headers.insert(HEADER_MSG_ID, id.as_str());
        headers.insert(HEADER_ID, id.as_str());
        headers.insert(HEADER_TYPE, self.event_type.as_str());
        headers.insert(HEADER_SOURCE, self.source.as_str());
        headers.insert(HEADER_TIME, self.time.to_rfc3339().as_str());
        if let Some(traceparent) = &self.traceparent {
            headers.insert(HEADER_TRACEPARENT, traceparent.as_str());
        }
        headers
    }

    /// Reads an event back from a NATS message; `subject` is the message's subject with the
    /// deployment prefix already removed.
    pub fn from_message(
        subject: &str,
        headers: Option<&async_nats::HeaderMap>,
        payload: Bytes,
    ) -> anyhow::Result<Self> {
        let headers =
            headers.ok_or_else(|| anyhow::anyhow!("event on {subject} has no headers"))?;
        let get = |name: &str| headers.get(name).map(|value| value.as_str().to_owned());
        // `ce-id` is the event's identity; `Nats-Msg-Id` normally equals it, but a republished
        // copy (after the duplicate window) may carry another one.
        let id = get(HEADER_ID)
            .or_else(|| get(HEADER_MSG_ID))
            .ok_or_else(|| anyhow::anyhow!("event on {subject} has no {HEADER_ID}"))?;
        let id =
            Uuid::parse_str(&id).map_err(|_| anyhow::anyhow!("event id {id:?} is not a uuid"))?;
        let time = get(HEADER_TIME)
            .and_then(|time| DateTime::parse_from_rfc3339(&time).ok())
            // An envelope without a time (written by a foreign producer) is dated on arrival.
            .map_or_else(crate::Clock::system_now, |time| time.with_timezone(&Utc));
        Ok(Self {
            id,
            subject: subject.to_owned(),
            event_type: get(HEADER_TYPE).unwrap_or_default(),
            source: get(HEADER_SOURCE).unwrap_or_default(),
            time,
            traceparent: get(HEADER_TRACEPARENT),
            payload,
        })
    }
}
