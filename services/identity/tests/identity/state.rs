//! State streams: a projection started after the fact rebuilds every current user and grant from
//! `state.identity.>`, then follows on with the events, and an erased user disappears.
//!
//! There is no erase RPC yet: the erasure is the tombstone a test helper writes through the
//! outbox ([`outbox::publish_tombstone`]), as the erase path will.

use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, Statement};
use terrace_identity::admin::{self, NewAccount};
use terrace_platform::auth::{Role, RoleGrant};
use terrace_platform::bus::consumer::{Consumer, ConsumerSpec, Handler, HandlerError};
use terrace_platform::bus::{Envelope, Event as _, Snapshot as _, outbox};
use terrace_platform::service::ServiceDef;
use terrace_proto::identity::v1 as pb;
use terrace_testkit::TestApp;
use tokio_util::sync::CancellationToken;

/// Projects users and grants into `proj_entity`, newest version wins; logs what it was given in
/// `proj_seen`.
struct Projection {
    table: &'static str,
}

impl Projection {
    async fn upsert(
        &self,
        txn: &DatabaseTransaction,
        kind: &str,
        id: &str,
        detail: String,
        event: &Envelope,
    ) -> Result<(), HandlerError> {
        // A snapshot or event older than what is held changes nothing.
        txn.execute_raw(Statement::from_sql_and_values(
            txn.get_database_backend(),
            format!(
                "INSERT INTO {t} (kind, id, version, detail) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (kind, id) DO UPDATE SET version = EXCLUDED.version, \
                 detail = EXCLUDED.detail WHERE {t}.version < EXCLUDED.version",
                t = self.table
            ),
            [kind.into(), id.into(), event.time.into(), detail.into()],
        ))
        .await?;
        Ok(())
    }
}

fn grant_detail(grant: &pb::RoleGrant) -> String {
    let state = if grant.revoke_time.is_some() {
        "revoked"
    } else {
        "live"
    };
    format!("{}:{state}", grant.user_id)
}

impl Handler for Projection {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        event: &Envelope,
    ) -> Result<(), HandlerError> {
        txn.execute_raw(Statement::from_sql_and_values(
            txn.get_database_backend(),
            format!(
                "INSERT INTO {}_seen (message_id, subject, state) VALUES ($1, $2, $3)",
                self.table
            ),
            [
                event.id.into(),
                event.subject.clone().into(),
                event.is_state().into(),
            ],
        ))
        .await?;
        let reject = HandlerError::Reject;
        let kind = if event.is_about::<pb::User>() {
            "user"
        } else {
            "grant"
        };
        // On the state stream (a projection started later) or the events (one already running).
        if event.is_tombstone() {
            txn.execute_raw(Statement::from_sql_and_values(
                txn.get_database_backend(),
                format!("DELETE FROM {} WHERE kind = $1 AND id = $2", self.table),
                [kind.into(), event.entity_id().into()],
            ))
            .await?;
            return Ok(());
        }
        if event.is_state() {
            if kind == "user" {
                let user: pb::User = event.decode_snapshot().map_err(reject)?;
                return self
                    .upsert(txn, "user", &user.id, user.display_name.clone(), event)
                    .await;
            }
            let grant: pb::RoleGrant = event.decode_snapshot().map_err(reject)?;
            return self
                .upsert(txn, "grant", &grant.id, grant_detail(&grant), event)
                .await;
        }
        let user = match event.event_type.as_str() {
            pb::UserCreated::TYPE => event.decode::<pb::UserCreated>().map_err(reject)?.user,
            pb::UserUpdated::TYPE => event.decode::<pb::UserUpdated>().map_err(reject)?.user,
            _ => None,
        };
        if let Some(user) = user {
            return self
                .upsert(txn, "user", &user.id, user.display_name.clone(), event)
                .await;
        }
        let grant = match event.event_type.as_str() {
            pb::RoleGranted::TYPE => event.decode::<pb::RoleGranted>().map_err(reject)?.grant,
            pb::RoleRevoked::TYPE => event.decode::<pb::RoleRevoked>().map_err(reject)?.grant,
            _ => None,
        };
        if let Some(grant) = grant {
            return self
                .upsert(txn, "grant", &grant.id, grant_detail(&grant), event)
                .await;
        }
        Ok(())
    }
}

async fn projected(db: &DatabaseConnection, table: &str) -> Vec<(String, String, String)> {
    db.query_all_raw(Statement::from_string(
        db.get_database_backend(),
        format!("SELECT kind, id, detail FROM {table} ORDER BY kind, id"),
    ))
    .await
    .unwrap()
    .into_iter()
    .map(|row| {
        (
            row.try_get("", "kind").unwrap(),
            row.try_get("", "id").unwrap(),
            row.try_get("", "detail").unwrap(),
        )
    })
    .collect()
}

/// How often the projection was handed `id` (a message id), and whether as state.
async fn seen(db: &DatabaseConnection, table: &str, id: uuid::Uuid) -> Vec<bool> {
    db.query_all_raw(Statement::from_sql_and_values(
        db.get_database_backend(),
        format!("SELECT state FROM {table}_seen WHERE message_id = $1"),
        [id.into()],
    ))
    .await
    .unwrap()
    .into_iter()
    .map(|row| row.try_get("", "state").unwrap())
    .collect()
}

/// The ids of what identity published on `subject` (NATS wildcards allowed), in stream order.
async fn published_ids(app: &TestApp, subject: &str) -> Vec<uuid::Uuid> {
    terrace_testkit::events::ids(app, "identity", subject).await
}

/// A deadline for the relay and the projection (a loaded machine delays them), not a timing.
async fn eventually<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    terrace_testkit::eventually(what, Duration::from_secs(30), check).await
}

async fn create(db: &DatabaseConnection, phone: &str, name: &str) -> String {
    let account = NewAccount {
        phone,
        display_name: name,
        password: None,
        locale: "zh-CN",
        time_zone: "Asia/Shanghai",
    };
    admin::create_user(db, account, "state test")
        .await
        .unwrap()
        .unwrap()
        .id
        .to_string()
}

async fn grant(db: &DatabaseConnection, phone: &str, village: &str) -> String {
    admin::grant(
        db,
        phone,
        RoleGrant::parse(Role::Farmer, village).unwrap(),
        "lives there",
    )
    .await
    .unwrap()
    .id
    .to_string()
}

async fn projection_tables(db: &DatabaseConnection, table: &str) {
    for sql in [
        format!(
            "CREATE TABLE {table} (kind text, id text, version timestamptz NOT NULL, \
             detail text NOT NULL, PRIMARY KEY (kind, id))"
        ),
        format!("CREATE TABLE {table}_seen (message_id uuid, subject text, state boolean)"),
    ] {
        db.execute_raw(Statement::from_string(db.get_database_backend(), sql))
            .await
            .unwrap();
    }
}

fn start(
    app: &TestApp,
    db: &DatabaseConnection,
    bus: &terrace_platform::bus::Bus,
    name: &str,
    table: &'static str,
    shutdown: &CancellationToken,
) {
    let spec = ConsumerSpec {
        name: name.to_owned(),
        domain: "identity".to_owned(),
        subject: Some("identity.>".to_owned()),
    };
    let consumer = Consumer::new(spec, db, bus, &app.settings.consumer, Projection { table })
        .from_state("state.identity.>");
    tokio::spawn(consumer.run(shutdown.clone()));
}

#[tokio::test]
async fn a_late_projection_rebuilds_users_and_grants_then_follows_events() {
    let app = TestApp::spawn(&[ServiceDef::of::<terrace_identity::Identity>()]).await;
    let db = app.ctx.database("identity").await;
    let bus = app.ctx.bus(&[]).await;

    // Before the projection exists: two users, three grants, one of them revoked since.
    let li = create(&db, "+8613700137001", "李雷").await;
    let han = create(&db, "+8613700137002", "韩梅梅").await;
    let li_home = grant(&db, "+8613700137001", "110101001001").await;
    let li_away = grant(&db, "+8613700137001", "110101002001").await;
    let han_home = grant(&db, "+8613700137002", "110101001001").await;
    admin::revoke(&db, li_away.parse().unwrap(), "moved away")
        .await
        .unwrap();
    let earlier_events = published_ids(&app, "identity.>").await;
    assert_eq!(
        earlier_events.len(),
        10,
        "2 users created, 3 granted, 1 revoked, and the audit records of the grants and the revoke"
    );

    // Events are kept a week; the projection starts later, and still learns the present.
    projection_tables(&db, "proj_a").await;
    let shutdown = CancellationToken::new();
    start(&app, &db, &bus, "late-projection", "proj_a", &shutdown);
    let expected = |mut rows: Vec<(&str, &str, &str)>| {
        rows.sort();
        rows.into_iter()
            .map(|(k, i, d)| (k.to_owned(), i.to_owned(), d.to_owned()))
            .collect::<Vec<_>>()
    };
    let li_live = format!("{li}:live");
    let han_live = format!("{han}:live");
    let li_revoked = format!("{li}:revoked");
    let present = expected(vec![
        ("user", &li, "李雷"),
        ("user", &han, "韩梅梅"),
        ("grant", &li_home, &li_live),
        ("grant", &li_away, &li_revoked),
        ("grant", &han_home, &han_live),
    ]);
    eventually("the projection rebuilt from state", || async {
        (projected(&db, "proj_a").await == present).then_some(())
    })
    .await;
    let states = published_ids(&app, "state.identity.>").await;
    assert_eq!(
        states.len(),
        5,
        "the state stream keeps one snapshot per entity (six changes, five entities)"
    );

    // After the start: each event exactly once, none missed.
    let lucy = create(&db, "+8613700137003", "露西").await;
    let lucy_home = grant(&db, "+8613700137003", "110101001001").await;
    admin::revoke(&db, li_home.parse().unwrap(), "left")
        .await
        .unwrap();
    let lucy_live = format!("{lucy}:live");
    let now = expected(vec![
        ("user", &li, "李雷"),
        ("user", &han, "韩梅梅"),
        ("user", &lucy, "露西"),
        ("grant", &li_home, &li_revoked),
        ("grant", &li_away, &li_revoked),
        ("grant", &han_home, &han_live),
        ("grant", &lucy_home, &lucy_live),
    ]);
    eventually("the projection followed the events", || async {
        (projected(&db, "proj_a").await == now).then_some(())
    })
    .await;
    // Events stored in the overlap before the start (`STATE_OVERLAP`) may come again after the
    // state: at most once each, and they changed nothing (the projection above is exact).
    for id in &earlier_events {
        assert!(
            matches!(seen(&db, "proj_a", *id).await.as_slice(), [] | [false]),
            "an event before the start comes at most once"
        );
    }
    let all_events = published_ids(&app, "identity.>").await;
    let later_events = &all_events[earlier_events.len()..];
    // Created, granted and revoked, and the audit records of the grant and the revoke.
    assert_eq!(later_events.len(), 5);
    for id in later_events {
        eventually("each later event delivered", || async {
            (seen(&db, "proj_a", *id).await == vec![false]).then_some(())
        })
        .await;
    }

    // Erasure: the tombstone replaces Han's snapshot, and the projection forgets her.
    let txn = sea_orm::TransactionTrait::begin(&db).await.unwrap();
    outbox::publish_tombstone::<_, pb::User>(&txn, admin::SOURCE, &han)
        .await
        .unwrap();
    txn.commit().await.unwrap();
    eventually("the erased user gone from the projection", || async {
        (!projected(&db, "proj_a")
            .await
            .iter()
            .any(|(kind, id, _)| kind == "user" && *id == han))
        .then_some(())
    })
    .await;
    // Nothing of her is left in the state stream but the tombstone, nor in the outbox.
    let stream = bus
        .jetstream
        .get_stream(bus.naming.state_stream("identity"))
        .await
        .unwrap();
    let subject = bus.naming.subject(&format!("{}.{han}", pb::User::ROOT));
    let last = stream
        .get_last_raw_message_by_subject(&subject)
        .await
        .unwrap();
    assert!(last.payload.is_empty(), "the tombstone carries no data");
    let mut subjects = Box::pin(stream.info_with_subjects(&subject).await.unwrap());
    let mut counts = Vec::new();
    while let Some(entry) = futures::StreamExt::next(&mut subjects).await {
        counts.push(entry.unwrap());
    }
    assert_eq!(counts, vec![(subject.clone(), 1)], "only the tombstone");
    assert_eq!(
        terrace_testkit::events::published(&app, "identity", &format!("{}.{han}", pb::User::ROOT))
            .await,
        1,
        "published, the tombstone's row left the outbox too"
    );

    // A projection started after the erasure never sees her, yet sees everyone else.
    projection_tables(&db, "proj_b").await;
    start(&app, &db, &bus, "later-projection", "proj_b", &shutdown);
    let without_han: Vec<_> = now
        .iter()
        .filter(|(kind, id, _)| !(kind == "user" && *id == han))
        .cloned()
        .collect();
    eventually("the second projection rebuilt", || async {
        (projected(&db, "proj_b").await == without_han).then_some(())
    })
    .await;
    shutdown.cancel();
}

#[tokio::test]
async fn resnapshot_restores_a_lost_state_stream() {
    let app = TestApp::spawn(&[ServiceDef::of::<terrace_identity::Identity>()]).await;
    let db = app.ctx.database("identity").await;
    let bus = app.ctx.bus(&[]).await;
    let li = create(&db, "+8613700137011", "李雷").await;
    let home = grant(&db, "+8613700137011", "110101001001").await;
    terrace_testkit::events::published(&app, "identity", "identity.>").await;
    // The state stream is lost (purged); the events are past their week (not read here either).
    let stream = bus
        .jetstream
        .get_stream(bus.naming.state_stream("identity"))
        .await
        .unwrap();
    stream.purge().await.unwrap();

    assert_eq!(admin::resnapshot(&db).await.unwrap(), (1, 1));
    terrace_testkit::events::published(&app, "identity", "identity.>").await;
    projection_tables(&db, "proj_c").await;
    let shutdown = CancellationToken::new();
    // Filtering on the user entities only: the grants' snapshots are not handed over.
    let spec = ConsumerSpec {
        name: "users-only".to_owned(),
        domain: "identity".to_owned(),
        subject: Some("identity.user.>".to_owned()),
    };
    let consumer = Consumer::new(
        spec,
        &db,
        &bus,
        &app.settings.consumer,
        Projection { table: "proj_c" },
    )
    .from_state("state.identity.user.>");
    assert_eq!(
        consumer.load_state("state.identity.user.>").await.unwrap(),
        1
    );
    tokio::spawn(consumer.run(shutdown.clone()));
    eventually("the projection rebuilt from the resnapshot", || async {
        (projected(&db, "proj_c").await == vec![("user".to_owned(), li.clone(), "李雷".to_owned())])
            .then_some(())
    })
    .await;
    assert!(!home.is_empty());
    shutdown.cancel();
}
