//! The idempotency log on a real PostgreSQL: a claim, a replay, a reused id, a secret answer.

use sea_orm::{ConnectionTrait as _, TransactionTrait as _};
use terrace_platform::Error;
use terrace_platform::auth::Caller;
use terrace_platform::idempotency::{self, Claim, Keep, RequestKey};
use terrace_proto::common::v1::Money;
use terrace_testkit::context::TestContext;
use uuid::Uuid;

fn money(amount_minor: i64) -> Money {
    Money {
        amount_minor,
        currency_code: "CNY".to_owned(),
    }
}

#[tokio::test]
async fn a_retry_gets_the_first_answer_and_a_reused_id_is_refused() {
    let ctx = TestContext::new();
    let db = ctx.database("idem").await;
    db.execute_unprepared(idempotency::MIGRATION.up)
        .await
        .unwrap();
    let operator = Caller::operator("test");
    let now = terrace_platform::Clock::system_now();
    let id = Uuid::now_v7();
    let key = RequestKey::new(&operator, "Price", id, &money(350));

    // The first time: claimed, answered, remembered.
    let txn = db.begin().await.unwrap();
    let Claim::New(claimed) = idempotency::claim::<Money>(&txn, &key, now).await.unwrap() else {
        panic!("a new request")
    };
    claimed
        .remember(&txn, &money(700), Keep::Answer)
        .await
        .unwrap();
    txn.commit().await.unwrap();

    // The retry: the first answer, not a second piece of work.
    let txn = db.begin().await.unwrap();
    let Claim::Replay(answer) = idempotency::claim::<Money>(&txn, &key, now).await.unwrap() else {
        panic!("a replay")
    };
    assert_eq!(answer, money(700));
    txn.rollback().await.unwrap();

    // The same id for another request, or another RPC, is refused.
    for other in [
        RequestKey::new(&operator, "Price", id, &money(351)),
        RequestKey::new(&operator, "Refund", id, &money(350)),
    ] {
        let txn = db.begin().await.unwrap();
        let Err(Error::FailedPrecondition { reason, .. }) =
            idempotency::claim::<Money>(&txn, &other, now).await
        else {
            panic!("a reused id")
        };
        assert_eq!(reason, "REQUEST_ID_REUSED");
    }

    // Another caller's id is its own; its answer carried a secret, so it is not kept and the
    // retry is told what to do instead.
    let job = Caller::System { job: "test" };
    let theirs = RequestKey::new(&job, "Price", id, &money(351));
    let txn = db.begin().await.unwrap();
    let Claim::New(claimed) = idempotency::claim::<Money>(&txn, &theirs, now)
        .await
        .unwrap()
    else {
        panic!("another caller's request is new")
    };
    claimed
        .remember(
            &txn,
            &money(1),
            Keep::Nothing {
                instead: "ask for a new one",
            },
        )
        .await
        .unwrap();
    txn.commit().await.unwrap();
    let txn = db.begin().await.unwrap();
    let Err(Error::FailedPrecondition { reason, message }) =
        idempotency::claim::<Money>(&txn, &theirs, now).await
    else {
        panic!("a secret answer is not replayed")
    };
    assert_eq!(reason, "ANSWER_NOT_KEPT");
    assert!(message.ends_with("ask for a new one"), "{message}");
    txn.rollback().await.unwrap();

    // Pruned after the retention, counted by the clock it is given.
    let later = now + chrono::Duration::days(8);
    assert_eq!(
        idempotency::prune(&db, later, idempotency::RETENTION)
            .await
            .unwrap(),
        2
    );
}

/// A create in one statement: the row, its event and the claim together or not at all; a retry
/// (also one sent while the first runs) gets the first answer; a failing row leaves no claim
/// and no event, so the request can be sent again.
#[tokio::test]
async fn a_create_in_one_statement_is_all_or_nothing_and_done_once() {
    use terrace_platform::bus::{Envelope, outbox};
    use terrace_platform::error::Violations;
    use terrace_platform::idempotency::{Mutation, NewRow};
    let ctx = TestContext::new();
    let db = ctx.database("create_once").await;
    for sql in [
        idempotency::MIGRATION.up,
        outbox::MIGRATION.up,
        "CREATE TABLE things (id uuid PRIMARY KEY, name text NOT NULL UNIQUE)",
    ] {
        db.execute_unprepared(sql).await.unwrap();
    }
    let caller = Caller::operator("test");
    let now = terrace_platform::Clock::system_now();
    let create = |name: &'static str, request_id: Uuid| {
        let db = db.clone();
        let caller = caller.clone();
        async move {
            let request = money(name.len() as i64);
            let mutation = Mutation::parse(
                &mut Violations::new(),
                "CreateThing",
                &request_id.to_string(),
                &Money {
                    currency_code: name.to_owned(),
                    ..request
                },
            )
            .unwrap();
            let id = Uuid::now_v7();
            let row = NewRow {
                table: "things",
                columns: vec!["id", "name"],
                values: vec![id.into(), name.into()],
            };
            let event = Envelope::new(
                "terrace/test",
                &terrace_testkit::pb::NoteRecorded {
                    note_id: id.to_string(),
                    text: name.to_owned(),
                },
            );
            idempotency::create_once(
                &db,
                &caller,
                &mutation,
                now,
                money(i64::from(id.as_fields().0)),
                row,
                &[event],
            )
            .await
        }
    };
    let count = |table: &'static str| {
        let db = db.clone();
        async move {
            db.query_one_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                format!("SELECT count(*) AS n FROM {table}"),
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get::<i64>("", "n")
            .unwrap()
        }
    };

    // Twice at once: one row, one event, one answer for both.
    let first_id = Uuid::now_v7();
    let (a, b) = tokio::join!(create("稻谷", first_id), create("稻谷", first_id));
    assert_eq!(a.unwrap(), b.unwrap());
    assert_eq!(
        (
            count("things").await,
            count("outbox").await,
            count("idempotency").await
        ),
        (1, 1, 1)
    );
    // A second create whose row is refused (the name is taken) leaves nothing behind...
    let second_id = Uuid::now_v7();
    assert!(create("稻谷", second_id).await.is_err());
    assert_eq!(
        (
            count("things").await,
            count("outbox").await,
            count("idempotency").await
        ),
        (1, 1, 1)
    );
    // ...so the same request id can be used again once the name is free.
    db.execute_unprepared("DELETE FROM things").await.unwrap();
    create("稻谷", second_id).await.unwrap();
    assert_eq!(
        (
            count("things").await,
            count("outbox").await,
            count("idempotency").await
        ),
        (1, 2, 2)
    );
    // The id in another request is refused, as on the transactional path.
    let Err(Error::FailedPrecondition { reason, .. }) = create("玉米", first_id).await else {
        panic!("a reused id")
    };
    assert_eq!(reason, "REQUEST_ID_REUSED");
}

/// A create with conditions, in one statement: its rows and event only while every condition
/// holds (a row at the version the caller knew exists, a row that would clash does not); when
/// one does not, nothing at all, claim included, and the caller is told so instead of answered.
#[tokio::test]
async fn a_create_with_conditions_writes_nothing_when_one_does_not_hold() {
    use terrace_platform::bus::{Envelope, outbox};
    use terrace_platform::error::Violations;
    use terrace_platform::idempotency::{Condition, Mutation, NewRow};
    let ctx = TestContext::new();
    let db = ctx.database("create_if").await;
    for sql in [
        idempotency::MIGRATION.up,
        outbox::MIGRATION.up,
        "CREATE TABLE kinds (id uuid PRIMARY KEY, version bigint NOT NULL)",
        "CREATE TABLE things (id uuid PRIMARY KEY, kind uuid NOT NULL, name text NOT NULL)",
        "CREATE TABLE notes (thing uuid NOT NULL REFERENCES things (id), text text NOT NULL)",
    ] {
        db.execute_unprepared(sql).await.unwrap();
    }
    let kind = Uuid::now_v7();
    db.execute_unprepared(&format!("INSERT INTO kinds VALUES ('{kind}', 1)"))
        .await
        .unwrap();
    let caller = Caller::operator("test");
    let now = terrace_platform::Clock::system_now();
    // A thing of `kind` named `name`, as the caller knows the kind (`version`); its note second.
    let create = |name: &'static str, version: i64, request_id: Uuid| {
        let (db, caller) = (db.clone(), caller.clone());
        async move {
            let mutation = Mutation::parse(
                &mut Violations::new(),
                "CreateThing",
                &request_id.to_string(),
                &Money {
                    currency_code: name.to_owned(),
                    ..money(version)
                },
            )
            .unwrap();
            let id = Uuid::now_v7();
            let event = Envelope::new(
                "terrace/test",
                &terrace_testkit::pb::NoteRecorded {
                    note_id: id.to_string(),
                    text: name.to_owned(),
                },
            );
            idempotency::create_if(
                &db,
                &caller,
                &mutation,
                now,
                Money {
                    amount_minor: 0,
                    currency_code: id.to_string(),
                },
                &[
                    Condition::Exists {
                        table: "kinds",
                        equal: vec![("id", kind.into()), ("version", version.into())],
                    },
                    Condition::Absent {
                        table: "things",
                        equal: vec![("name", name.into())],
                    },
                ],
                vec![
                    NewRow {
                        table: "things",
                        columns: vec!["id", "kind", "name"],
                        values: vec![id.into(), kind.into(), name.into()],
                    },
                    NewRow {
                        table: "notes",
                        columns: vec!["thing", "text"],
                        values: vec![id.into(), format!("{name} noted").into()],
                    },
                ],
                &[event],
            )
            .await
            .unwrap()
        }
    };
    let counts = || {
        let db = db.clone();
        async move {
            let mut counts = Vec::new();
            for table in ["things", "notes", "outbox", "idempotency"] {
                counts.push(
                    db.query_one_raw(sea_orm::Statement::from_string(
                        db.get_database_backend(),
                        format!("SELECT count(*) AS n FROM {table}"),
                    ))
                    .await
                    .unwrap()
                    .unwrap()
                    .try_get::<i64>("", "n")
                    .unwrap(),
                );
            }
            counts
        }
    };

    // Both conditions hold: both rows, the event, the claim.
    let first_id = Uuid::now_v7();
    let first = create("稻谷", 1, first_id).await.expect("written");
    assert_eq!(counts().await, [1, 1, 1, 1]);
    // A clash with an existing row, by another request or by the same one sent again: nothing
    // written, and not answered here (a caller's careful path says why, or replays).
    assert_eq!(create("稻谷", 1, Uuid::now_v7()).await, None);
    assert_eq!(create("稻谷", 1, first_id).await, None);
    assert_eq!(counts().await, [1, 1, 1, 1]);
    // Known at an old version: nothing written, not even the claim.
    db.execute_unprepared("UPDATE kinds SET version = 2")
        .await
        .unwrap();
    assert_eq!(create("玉米", 1, Uuid::now_v7()).await, None);
    assert_eq!(counts().await, [1, 1, 1, 1]);
    // Known at the version it is: written.
    let second_id = Uuid::now_v7();
    let second = create("玉米", 2, second_id).await.expect("written");
    assert_ne!(first, second);
    assert_eq!(counts().await, [2, 2, 2, 2]);
    // Sent again while the conditions hold: the first answer, nothing written.
    db.execute_unprepared("DELETE FROM notes; DELETE FROM things")
        .await
        .unwrap();
    assert_eq!(create("玉米", 2, second_id).await, Some(second));
    assert_eq!(counts().await, [0, 0, 2, 2]);
}
