//! The consumer runner: inbox deduplication, retries, and the dead-letter stream.

use std::time::Duration;

use futures::StreamExt as _;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use terrace_platform::auth::Role;
use terrace_platform::bus::Envelope;
use terrace_platform::bus::consumer::{
    HEADER_DEAD_CONSUMER, HEADER_DEAD_DELIVERIES, HEADER_DEAD_ERROR,
};
use terrace_platform::service::ServiceDef;
use terrace_testkit::TestApp;
use terrace_testkit::pb::RecordRequest;
use terrace_testkit::pb::probe_service_client::ProbeServiceClient;
use terrace_testkit::probe::Probe;
use uuid::Uuid;

async fn record(app: &TestApp, text: &str) -> Uuid {
    let token = app.token("user-1", &[(Role::Farmer, "110101001001")]);
    let mut client = ProbeServiceClient::new(app.channel().await);
    let request = RecordRequest {
        request_id: Uuid::now_v7().to_string(),
        text: text.into(),
        fail_after_write: false,
    };
    let response = client
        .record(app.request(request, &token))
        .await
        .unwrap()
        .into_inner();
    response.event_id.parse().unwrap()
}

async fn seen(db: &DatabaseConnection, event_id: Uuid) -> Option<(i32, i32)> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            "SELECT s.handled, a.attempts FROM probe_seen s JOIN probe_attempts a USING (event_id) \
             WHERE s.event_id = $1",
            [event_id.into()],
        ))
        .await
        .unwrap()?;
    Some((
        row.try_get("", "handled").unwrap(),
        row.try_get("", "attempts").unwrap(),
    ))
}

async fn attempts(db: &DatabaseConnection, event_id: Uuid) -> i32 {
    db.query_one_raw(Statement::from_sql_and_values(
        db.get_database_backend(),
        "SELECT attempts FROM probe_attempts WHERE event_id = $1",
        [event_id.into()],
    ))
    .await
    .unwrap()
    .map_or(0, |row| row.try_get("", "attempts").unwrap())
}

#[tokio::test]
async fn a_republished_event_is_handled_once() {
    let app = TestApp::spawn(&[ServiceDef::of::<Probe>()]).await;
    let db = app.ctx.database("probe").await;
    let event_id = record(&app, "hello").await;
    let (handled, _) = crate::eventually("event handled", Duration::from_secs(10), || {
        seen(&db, event_id)
    })
    .await;
    assert_eq!(handled, 1);

    // The same event again, under a new Nats-Msg-Id so that JetStream's own deduplication does not
    // catch it: what a republish after the duplicate window looks like to a consumer.
    let bus = app.ctx.bus(&["probe"]).await;
    let stream = bus
        .jetstream
        .get_stream(bus.naming.stream("probe"))
        .await
        .unwrap();
    let original = stream
        .get_last_raw_message_by_subject(&bus.naming.subject("probe.note.recorded"))
        .await
        .unwrap();
    let mut headers = original.headers.clone();
    headers.insert("Nats-Msg-Id", "a-second-copy");
    bus.jetstream
        .publish_with_headers(
            original.subject.to_string(),
            headers,
            original.payload.clone(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    // A later event proves the consumer moved past the copy.
    let later = record(&app, "later").await;
    crate::eventually("later event handled", Duration::from_secs(10), || {
        seen(&db, later)
    })
    .await;

    assert_eq!(
        seen(&db, event_id).await,
        Some((1, 1)),
        "the copy was recognised by the inbox"
    );
}

#[tokio::test]
async fn a_failed_attempt_is_rolled_back_and_retried() {
    let app = TestApp::spawn(&[ServiceDef::of::<Probe>()]).await;
    let db = app.ctx.database("probe").await;
    let event_id = record(&app, "fail-once").await;
    let (handled, attempts) = crate::eventually("event handled", Duration::from_secs(10), || {
        seen(&db, event_id)
    })
    .await;
    // The first attempt's write was rolled back with it; the second one is the only one kept.
    assert_eq!((handled, attempts), (1, 2));
}

#[tokio::test]
async fn an_event_that_always_fails_lands_in_the_dead_letters_after_max_deliver() {
    let app = TestApp::spawn(&[ServiceDef::of::<Probe>()]).await;
    let db = app.ctx.database("probe").await;
    let bus = app.ctx.bus(&["probe"]).await;
    let event_id = record(&app, "fail-always").await;

    let stream = bus
        .jetstream
        .get_stream(bus.naming.stream("deadletter"))
        .await
        .unwrap();
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::Config {
            ack_policy: async_nats::jetstream::consumer::AckPolicy::None,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut messages = consumer.messages().await.unwrap();
    let message = tokio::time::timeout(Duration::from_secs(15), messages.next())
        .await
        .expect("a dead letter in time")
        .unwrap()
        .unwrap();
    let headers = message.headers.clone().unwrap();
    assert_eq!(
        headers.get(HEADER_DEAD_CONSUMER).unwrap().as_str(),
        "probe-notes"
    );
    assert_eq!(headers.get(HEADER_DEAD_DELIVERIES).unwrap().as_str(), "3");
    assert!(
        headers
            .get(HEADER_DEAD_ERROR)
            .unwrap()
            .as_str()
            .contains("always fails")
    );
    assert!(
        message
            .subject
            .as_str()
            .ends_with("deadletter.probe-notes.probe.note.recorded")
    );
    let subject = bus.naming.strip(message.subject.as_str()).to_owned();
    let envelope =
        Envelope::from_message(&subject, message.headers.as_ref(), message.payload.clone())
            .unwrap();
    assert_eq!(envelope.id, event_id, "the dead letter is the same event");

    assert_eq!(
        attempts(&db, event_id).await,
        3,
        "tried exactly max_deliver times"
    );
    assert_eq!(
        seen(&db, event_id).await,
        None,
        "no attempt's writes were kept"
    );
    // And the consumer was not stuck on it.
    let next = record(&app, "after the poison").await;
    crate::eventually("next event handled", Duration::from_secs(10), || {
        seen(&db, next)
    })
    .await;
}

/// Events that arrive together are handled together (one transaction), yet each exactly once: a
/// failing one among them sends the whole group back to one-by-one handling, where it alone is
/// retried; a second copy of an event inside the group is recognised by the inbox.
#[tokio::test]
async fn events_arriving_together_are_each_handled_once_even_when_one_fails() {
    use async_nats::jetstream::message::PublishMessage;
    let app = TestApp::spawn(&[ServiceDef::of::<Probe>()]).await;
    let db = app.ctx.database("probe").await;
    let bus = app.ctx.bus(&["probe"]).await;
    let texts: Vec<String> = (0..30)
        .map(|i| match i {
            13 => "fail-once".to_owned(),
            i => format!("note {i}"),
        })
        .collect();
    let envelopes: Vec<Envelope> = texts
        .iter()
        .map(|text| {
            Envelope::new(
                "terrace/probe",
                &terrace_testkit::pb::NoteRecorded {
                    note_id: Uuid::now_v7().to_string(),
                    text: text.clone(),
                },
            )
        })
        .collect();
    // Published in one burst, without waiting for each acknowledgement; the eighth event a second
    // time in the middle of it (another message id, the same event id).
    let mut acks = Vec::new();
    let burst = envelopes
        .iter()
        .enumerate()
        .map(|(i, envelope)| (format!("burst-{i}"), envelope))
        .chain(std::iter::once(("burst-copy".to_owned(), &envelopes[7])));
    for (message_id, envelope) in burst {
        let message = PublishMessage::build()
            .payload(envelope.payload.clone())
            .headers(envelope.headers())
            .message_id(message_id);
        acks.push(
            bus.jetstream
                .send_publish(bus.naming.subject(&envelope.subject), message)
                .await
                .unwrap(),
        );
    }
    for ack in acks {
        ack.await.unwrap();
    }
    for envelope in &envelopes {
        let (handled, _) =
            crate::eventually("every event handled", Duration::from_secs(20), || {
                seen(&db, envelope.id)
            })
            .await;
        assert_eq!(handled, 1, "handled exactly once");
    }
    assert_eq!(
        attempts(&db, envelopes[13].id).await,
        2,
        "the failing one retried"
    );
    let copies = db
        .query_one_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            "SELECT count(*) AS n FROM inbox WHERE event_id = $1",
            [envelopes[7].id.into()],
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap();
    assert_eq!(copies, 1);
}
