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
