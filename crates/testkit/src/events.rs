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
    let mut messages = consumer.messages().await.expect("reading the stream");
    let mut ids = Vec::with_capacity(expected);
    while ids.len() < expected {
        let message = futures::StreamExt::next(&mut messages)
            .await
            .expect("as many messages as counted")
            .expect("a message");
        let id = message
            .headers
            .as_ref()
            .and_then(|headers| headers.get("Nats-Msg-Id"))
            .expect("a message id")
            .as_str()
            .parse()
            .expect("a uuid message id");
        ids.push(id);
    }
    ids
}

/// The stream that captures `subject`: a state stream per domain for `state.<domain>.…`, else
/// the stream named by the subject's first token.
fn stream_of(naming: &terrace_platform::bus::streams::Naming, subject: &str) -> String {
    match subject.split('.').collect::<Vec<_>>().as_slice() {
        ["state", domain, ..] => naming.state_stream(domain),
        _ => naming.stream_of_subject(subject),
    }
}
