//! What a service published, read where its events end up: the stream.
//!
//! The relay deletes outbox rows once JetStream has them, so a test that wants to know which
//! events a request produced waits for the service's outbox to drain and then counts the events
//! in their stream. That also proves what a count of outbox rows could not: the events got out.

use std::time::Duration;

use futures::TryStreamExt as _;
use sea_orm::{ConnectionTrait as _, Statement};

use crate::TestApp;

/// How many events `service` published on `subject` (a subject, or a filter with NATS wildcards:
/// `identity.consent.*`, `identity.>`). Waits until the service's outbox holds nothing left to
/// publish, then counts the messages in the stream that captures the subject.
pub async fn published(app: &TestApp, service: &str, subject: &str) -> usize {
    let db = app.ctx.database(service).await;
    crate::eventually("the outbox drained", Duration::from_secs(20), || async {
        let pending: i64 = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT count(*) AS n FROM outbox WHERE parked_at IS NULL".to_owned(),
            ))
            .await
            .expect("counting the outbox")
            .expect("a count")
            .try_get("", "n")
            .expect("a count");
        (pending == 0).then_some(())
    })
    .await;
    let bus = app.ctx.bus(&[]).await;
    let stream = bus
        .jetstream
        .get_stream(stream_of(&bus.naming, subject))
        .await
        .expect("the stream of the subject");
    stream
        .info_with_subjects(bus.naming.subject(subject))
        .await
        .expect("the stream's subjects")
        .try_fold(0, |total, (_, count)| async move { Ok(total + count) })
        .await
        .expect("the stream's subjects")
}

/// The ids of the events (or snapshots) `service` published on `subject` (a filter with NATS
/// wildcards allowed), in stream order, once its outbox has nothing left to publish.
pub async fn ids(app: &TestApp, service: &str, subject: &str) -> Vec<uuid::Uuid> {
    messages(app, service, subject)
        .await
        .iter()
        .map(|message| {
            message
                .headers
                .as_ref()
                .and_then(|headers| headers.get("Nats-Msg-Id"))
                .expect("a message id")
                .as_str()
                .parse()
                .expect("a uuid message id")
        })
        .collect()
}

/// The events of type `E` `service` published on `subject`, decoded, in stream order, once its
/// outbox has nothing left to publish: what a consumer of the stream is given.
pub async fn decoded<E: prost::Message + Default>(
    app: &TestApp,
    service: &str,
    subject: &str,
) -> Vec<E> {
    messages(app, service, subject)
        .await
        .iter()
        .map(|message| E::decode(message.payload.as_ref()).expect("an event of the type"))
        .collect()
}

/// The messages on `subject` once `service`'s outbox has drained.
async fn messages(
    app: &TestApp,
    service: &str,
    subject: &str,
) -> Vec<async_nats::jetstream::Message> {
    let expected = published(app, service, subject).await;
    if expected == 0 {
        return Vec::new();
    }
    let bus = app.ctx.bus(&[]).await;
    let stream = bus
        .jetstream
        .get_stream(stream_of(&bus.naming, subject))
        .await
        .expect("the stream of the subject");
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::Config {
            filter_subject: bus.naming.subject(subject),
            ack_policy: async_nats::jetstream::consumer::AckPolicy::None,
            ..Default::default()
        })
        .await
        .expect("a consumer reading the stream");
    let mut stream = consumer.messages().await.expect("reading the stream");
    let mut messages = Vec::with_capacity(expected);
    while messages.len() < expected {
        messages.push(
            futures::StreamExt::next(&mut stream)
                .await
                .expect("as many messages as counted")
                .expect("a message"),
        );
    }
    messages
}

/// The stream that captures `subject`: a state stream per domain for `state.<domain>.…`, else
/// the stream named by the subject's first token.
fn stream_of(naming: &terrace_platform::bus::streams::Naming, subject: &str) -> String {
    match subject.split('.').collect::<Vec<_>>().as_slice() {
        ["state", domain, ..] => naming.state_stream(domain),
        _ => naming.stream_of_subject(subject),
    }
}

/// Reads one kind of short-lived secret (a one-time code) from the SECRET stream, as notify will:
/// `Texts::<OtpRequested>::listen(&app)`, then `next()` for each one sent.
pub struct Texts<E> {
    messages: async_nats::jetstream::consumer::pull::Stream,
    naming: terrace_platform::bus::Naming,
    kind: std::marker::PhantomData<E>,
}

impl<E> std::fmt::Debug for Texts<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Texts").finish_non_exhaustive()
    }
}

impl<E: terrace_proto::Event + prost::Message + Default> Texts<E> {
    /// Starts reading the stream's secrets of this kind (those still kept, then each new one).
    pub async fn listen(app: &TestApp) -> Self {
        let bus = app.ctx.bus(&[]).await;
        let consumer = secret_stream(&bus)
            .await
            .create_consumer(async_nats::jetstream::consumer::pull::Config {
                filter_subject: bus.naming.subject(E::SUBJECT),
                ack_policy: async_nats::jetstream::consumer::AckPolicy::None,
                ..Default::default()
            })
            .await
            .expect("a consumer of the SECRET stream");
        Self {
            messages: consumer.messages().await.expect("the consumer's messages"),
            naming: bus.naming.clone(),
            kind: std::marker::PhantomData,
        }
    }

    /// The next secret sent (panics if none comes within 30 s: a deadline for it to arrive at
    /// all on a loaded machine, not a timing).
    pub async fn next(&mut self) -> E {
        use async_nats::jetstream::consumer::pull::MessagesErrorKind;
        use futures::StreamExt as _;
        let message = tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                match self.messages.next().await.expect("the stream goes on") {
                    Ok(message) => break message,
                    // The server's idle heartbeats came late (a loaded machine): the stream
                    // has already asked again, and goes on.
                    Err(error) if error.kind() == MessagesErrorKind::MissingHeartbeat => {}
                    Err(error) => panic!("a message: {error}"),
                }
            }
        })
        .await
        .expect("a secret on NATS");
        let subject = self.naming.strip(message.subject.as_str()).to_owned();
        terrace_platform::bus::Envelope::from_message(
            &subject,
            message.headers.as_ref(),
            message.payload.clone(),
        )
        .and_then(|envelope| envelope.decode())
        .expect("a secret event")
    }
}

/// The stream short-lived secrets travel in.
pub async fn secret_stream(
    bus: &terrace_platform::bus::Bus,
) -> async_nats::jetstream::stream::Stream {
    bus.jetstream
        .get_stream(
            bus.naming
                .stream(terrace_platform::bus::streams::SECRET_ROOT),
        )
        .await
        .expect("the SECRET stream")
}
