//! The outbox and its relay: every committed event reaches JetStream exactly once, however the
//! relay is interrupted; a rolled-back event never does.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use futures::StreamExt as _;
use sea_orm::TransactionTrait;
use sea_orm_migration::MigratorTrait;
use terrace_platform::bus::relay::Relay;
use terrace_platform::bus::{Envelope, outbox};
use terrace_testkit::TestContext;
use terrace_testkit::pb::NoteRecorded;
use terrace_testkit::probe::ProbeMigrator;
use uuid::Uuid;

/// Reads every message of the probe stream and returns the count per event id.
async fn stream_event_ids(
    bus: &terrace_platform::bus::Bus,
    expected: usize,
) -> HashMap<Uuid, usize> {
    let stream = bus
        .jetstream
        .get_stream(bus.naming.stream("probe"))
        .await
        .unwrap();
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::Config {
            deliver_policy: async_nats::jetstream::consumer::DeliverPolicy::All,
            ack_policy: async_nats::jetstream::consumer::AckPolicy::None,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut counts = HashMap::new();
    let mut messages = consumer.messages().await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while counts.values().sum::<usize>() < expected {
        let message = tokio::time::timeout_at(deadline, messages.next())
            .await
            .expect("stream messages in time")
            .unwrap()
            .unwrap();
        let subject = bus.naming.strip(message.subject.as_str()).to_owned();
        let envelope =
            Envelope::from_message(&subject, message.headers.as_ref(), message.payload.clone())
                .unwrap();
        *counts.entry(envelope.id).or_insert(0) += 1;
    }
    // Nothing more arrives: a duplicate would show up here.
    assert!(
        tokio::time::timeout(Duration::from_millis(500), messages.next())
            .await
            .is_err(),
        "more messages than committed events"
    );
    counts
}

#[tokio::test]
async fn committed_events_reach_jetstream_exactly_once_across_relay_crashes() {
    let ctx = TestContext::new();
    let db = ctx.database("probe").await;
    ProbeMigrator::up(&db, None).await.unwrap();
    let bus = ctx.bus(&["probe"]).await;

    // 200 events in 200 transactions; every 10th is rolled back.
    let mut committed = BTreeSet::new();
    for i in 0..200 {
        let txn = db.begin().await.unwrap();
        let event = NoteRecorded {
            note_id: Uuid::now_v7().to_string(),
            text: format!("note {i}"),
        };
        let id = outbox::publish(&txn, "terrace/probe", &event)
            .await
            .unwrap();
        if i % 10 == 0 {
            txn.rollback().await.unwrap();
        } else {
            txn.commit().await.unwrap();
            committed.insert(id);
        }
    }

    let mut settings = ctx.settings.outbox.clone();
    settings.batch_size = 7;
    let relay = Relay::new("probe", &db, &bus, &settings);

    // Three clean rounds: 21 events published and deleted.
    for _ in 0..3 {
        assert_eq!(relay.drain_once().await.unwrap(), 7);
    }
    // A relay that died after publishing the next 7 and before deleting them: they are in the
    // stream, and still unsent in the table.
    let pool = db.get_postgres_connection_pool();
    let unmarked: Vec<(Uuid, Vec<u8>)> =
        sqlx::query_as("SELECT event_id, payload FROM outbox ORDER BY seq LIMIT 7")
            .fetch_all(pool)
            .await
            .unwrap();
    for (event_id, payload) in &unmarked {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", event_id.to_string().as_str());
        headers.insert("ce-id", event_id.to_string().as_str());
        headers.insert("ce-type", "terrace.testkit.v1.NoteRecorded");
        bus.jetstream
            .publish_with_headers(
                bus.naming.subject("probe.note.recorded"),
                headers,
                payload.clone().into(),
            )
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let backlog_before_crashes = relay.backlog().await.unwrap();
    assert_eq!(backlog_before_crashes as usize, committed.len() - 21);

    // Then relays killed at arbitrary points (possibly between publishing and marking), again
    // and again, and finally one allowed to finish.
    for round in 0..8u64 {
        let shutdown = tokio_util::sync::CancellationToken::new();
        let task = tokio::spawn(relay.clone().run(shutdown));
        tokio::time::sleep(Duration::from_millis(3 + round * 2)).await;
        task.abort();
        let _ = task.await;
    }
    let shutdown = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn(relay.clone().run(shutdown.clone()));
    crate::eventually("outbox drained", Duration::from_secs(20), || async {
        (relay.backlog().await.unwrap() == 0).then_some(())
    })
    .await;
    shutdown.cancel();
    task.await.unwrap().unwrap();

    let counts = stream_event_ids(&bus, committed.len()).await;
    let seen: BTreeSet<Uuid> = counts.keys().copied().collect();
    assert_eq!(
        seen, committed,
        "exactly the committed events are in the stream"
    );
    assert!(counts.values().all(|&n| n == 1), "no event appears twice");
}

#[tokio::test]
async fn relay_wakes_on_notify_without_waiting_for_the_poll() {
    let ctx = TestContext::new();
    let db = ctx.database("probe").await;
    ProbeMigrator::up(&db, None).await.unwrap();
    let bus = ctx.bus(&["probe"]).await;
    let mut settings = ctx.settings.outbox.clone();
    // A poll this slow would fail the test; only the notification can deliver in time.
    settings.poll_interval = Duration::from_secs(60);
    let relay = Relay::new("probe", &db, &bus, &settings);
    let shutdown = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn(relay.clone().run(shutdown.clone()));
    // Wait until the relay sleeps: it then holds its idle lock.
    crate::eventually("the relay to sleep", Duration::from_secs(10), || async {
        let sleeping: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND mode = 'ExclusiveLock' \
             AND granted AND ((classid::bigint << 32) | objid::bigint) = $1)",
        )
        .bind(terrace_platform::bus::outbox::RELAY_IDLE_LOCK)
        .fetch_one(db.get_postgres_connection_pool())
        .await
        .unwrap();
        sleeping.then_some(())
    })
    .await;

    let txn = db.begin().await.unwrap();
    let event = NoteRecorded {
        note_id: "n1".into(),
        text: "wake up".into(),
    };
    let id = outbox::publish(&txn, "terrace/probe", &event)
        .await
        .unwrap();
    txn.commit().await.unwrap();

    let counts = stream_event_ids(&bus, 1).await;
    assert_eq!(counts.keys().copied().collect::<Vec<_>>(), vec![id]);
    shutdown.cancel();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn an_unpublishable_row_is_parked_and_the_rest_go_on() {
    let ctx = TestContext::new();
    let db = ctx.database("probe").await;
    ProbeMigrator::up(&db, None).await.unwrap();
    let bus = ctx.bus(&["probe"]).await;

    // Larger than the NATS server accepts (1 MiB by default), between two ordinary events.
    let first = NoteRecorded {
        note_id: "1".into(),
        text: "before".into(),
    };
    let huge = NoteRecorded {
        note_id: "2".into(),
        text: "x".repeat(2 * 1024 * 1024),
    };
    let last = NoteRecorded {
        note_id: "3".into(),
        text: "after".into(),
    };
    let mut ids = Vec::new();
    for event in [&first, &huge, &last] {
        let txn = db.begin().await.unwrap();
        ids.push(outbox::publish(&txn, "terrace/probe", event).await.unwrap());
        txn.commit().await.unwrap();
    }

    let relay = Relay::new("probe", &db, &bus, &ctx.settings.outbox);
    assert_eq!(
        relay.drain_once().await.unwrap(),
        3,
        "the round is not cut short"
    );
    assert_eq!(relay.backlog().await.unwrap(), 0, "nothing left pending");
    assert_eq!(
        relay.drain_once().await.unwrap(),
        0,
        "the parked row is not claimed again"
    );

    let counts = stream_event_ids(&bus, 2).await;
    let published: BTreeSet<Uuid> = counts.keys().copied().collect();
    assert_eq!(published, BTreeSet::from([ids[0], ids[2]]));

    let (attempts, error, parked): (i32, Option<String>, bool) = sqlx::query_as(
        "SELECT attempts, last_error, parked_at IS NOT NULL FROM outbox WHERE event_id = $1",
    )
    .bind(ids[1])
    .fetch_one(db.get_postgres_connection_pool())
    .await
    .unwrap();
    assert_eq!((attempts, parked), (1, true));
    assert!(
        error.unwrap().contains("payload"),
        "the reason is kept for an operator"
    );
}

#[tokio::test]
async fn a_batch_larger_than_the_ack_budget_still_drains() {
    let ctx = TestContext::new();
    let db = ctx.database("probe").await;
    ProbeMigrator::up(&db, None).await.unwrap();
    let bus = ctx.bus(&["probe"]).await;
    let txn = db.begin().await.unwrap();
    let mut committed = BTreeSet::new();
    for i in 0..300 {
        let event = NoteRecorded {
            note_id: i.to_string(),
            text: "bulk".into(),
        };
        committed.insert(
            outbox::publish(&txn, "terrace/probe", &event)
                .await
                .unwrap(),
        );
    }
    txn.commit().await.unwrap();

    let mut settings = ctx.settings.outbox.clone();
    settings.batch_size = 300;
    settings.max_in_flight = 16;
    let relay = Relay::new("probe", &db, &bus, &settings);
    let claimed = tokio::time::timeout(Duration::from_secs(20), relay.drain_once())
        .await
        .expect("no deadlock on the ack budget")
        .unwrap();
    assert_eq!(claimed, 300);
    let counts = stream_event_ids(&bus, 300).await;
    assert_eq!(counts.keys().copied().collect::<BTreeSet<_>>(), committed);
}
