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

/// The probe's database refusing connections (as during a PostgreSQL restart), or taking them
/// again.
async fn set_database_open(app: &TestApp, open: bool) {
    let admin = terrace_platform::db::connect_to(&app.settings.database, "postgres")
        .await
        .unwrap();
    let name = app.settings.database.database_name("probe");
    admin
        .execute_unprepared(&format!(
            "ALTER DATABASE \"{name}\" WITH ALLOW_CONNECTIONS {open}"
        ))
        .await
        .unwrap();
    if !open {
        admin
            .execute_unprepared(&format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
            ))
            .await
            .unwrap();
    }
}

/// An event that arrives while the database is down is held, however long the outage, without
/// its deliveries counting against it (tests allow three before the dead letters), and handled
/// once when the database is back; the consumer neither dies nor gives the event up.
#[tokio::test]
async fn an_event_waits_out_a_database_outage_and_is_handled_once_after_it() {
    let app = TestApp::spawn(&[ServiceDef::of::<Probe>()]).await;
    let first = record(&app, "before the outage").await;
    let db = app.ctx.database("probe").await;
    crate::eventually("the first event handled", Duration::from_secs(10), || {
        seen(&db, first)
    })
    .await;
    drop(db);

    set_database_open(&app, false).await;
    // The service's own outbox is behind the same outage: the event comes straight to the stream,
    // as one already relayed would.
    let bus = app.ctx.bus(&["probe"]).await;
    let envelope = Envelope::new(
        "terrace/probe",
        &terrace_testkit::pb::NoteRecorded {
            note_id: Uuid::now_v7().to_string(),
            text: "during the outage".into(),
        },
    );
    bus.jetstream
        .publish_with_headers(
            bus.naming.subject("probe.note.recorded"),
            envelope.headers(),
            envelope.payload.clone(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    // Held: delivered to the consumer and not acknowledged, while its handler keeps meeting a
    // database that refuses it — for longer than three deliveries' backoff (50 ms each).
    let stream = bus
        .jetstream
        .get_stream(bus.naming.stream("probe"))
        .await
        .unwrap();
    let pending = || async {
        let info = stream
            .consumer_info("probe-notes")
            .await
            .expect("the consumer");
        (info.num_ack_pending, info.num_redelivered)
    };
    crate::eventually("the event delivered", Duration::from_secs(20), || async {
        (pending().await.0 == 1).then_some(())
    })
    .await;
    // Not a timing: the outage only has to outlast a few retries; the assertions come after.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let info = pending().await;
    assert_eq!(info, (1, 0), "still held: neither given up nor redelivered");

    set_database_open(&app, true).await;
    let db = app.ctx.database("probe").await;
    let (handled, attempts) =
        crate::eventually("the held event handled", Duration::from_secs(20), || {
            seen(&db, envelope.id)
        })
        .await;
    assert_eq!(
        (handled, attempts),
        (1, 1),
        "handled once; the outage's tries never reached the handler"
    );
    let dead = bus
        .jetstream
        .get_stream(bus.naming.stream("deadletter"))
        .await
        .map(|stream| stream.cached_info().state.messages)
        .unwrap_or(0);
    assert_eq!(dead, 0, "nothing dead-lettered");
}
