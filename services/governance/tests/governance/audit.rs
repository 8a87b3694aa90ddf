//! The tamper-evident audit log: appends in the action's transaction, one gap-free chain per
//! county under concurrent appends, `ListAuditEntries` (paging, filters, who may read, bad
//! input), verification naming the first broken entry of an edited, a deleted and a reordered
//! chain, and identity's audit records arriving in their county's chain.

use std::time::Duration;

use chrono::{DateTime, Utc};

use sea_orm::{ConnectionTrait as _, DatabaseConnection, Statement, TransactionTrait as _};
use terrace_governance::Governance;
use terrace_governance::audit::chain::{Break, GENESIS, Problem, Verdict, verify};
use terrace_governance::audit::{self, NewEntry};
use terrace_identity::Identity;
use terrace_platform::auth::{AdminScope, Caller, Principal, PrincipalKind, Role, RoleGrant};
use terrace_platform::service::ServiceDef;
use terrace_proto::common::v1::{self as common, PageRequest};
use terrace_proto::governance::v1 as pb;
use terrace_proto::governance::v1::governance_service_client::GovernanceServiceClient;
use terrace_testkit::TestApp;
use terrace_testkit::rpc::violated_fields;
use tonic::Code;
use tonic::transport::Channel;
use uuid::Uuid;

const ANJI: &str = "330523";
const YUCUN: &str = "330523108204";

fn scope(code: &str) -> AdminScope {
    AdminScope::parse(code).unwrap()
}

/// A county official acting through a token, as a handler would see them.
fn official(role: Role, area: &str) -> Caller {
    Caller::User(Principal {
        subject: Uuid::now_v7().to_string(),
        kind: PrincipalKind::User,
        grants: vec![RoleGrant::parse(role, area).unwrap()],
        api_scopes: Vec::new(),
        actor: None,
        token_id: "t".to_owned(),
        expires_at: chrono::DateTime::from_timestamp(4_000_000_000, 0).unwrap(),
    })
}

/// Appends one entry about `target` in `area`, in a transaction of its own, now.
async fn append(
    app: &TestApp,
    db: &DatabaseConnection,
    caller: &Caller,
    area: &str,
    target: &str,
) -> audit::AuditEntry {
    append_at(db, caller, area, target, app.clock.now()).await
}

async fn append_at(
    db: &DatabaseConnection,
    caller: &Caller,
    area: &str,
    target: &str,
    at: DateTime<Utc>,
) -> audit::AuditEntry {
    let txn = db.begin().await.unwrap();
    let entry = audit::append(
        &txn,
        caller,
        NewEntry {
            action: "resident.updated",
            target_type: "resident",
            target_id: target.to_owned(),
            area: &scope(area),
            details: serde_json::json!({ "changed": ["phone_number"], "note": "搬家" }),
        },
        at,
    )
    .await
    .unwrap();
    txn.commit().await.unwrap();
    entry
}

async fn governance() -> (
    TestApp,
    DatabaseConnection,
    GovernanceServiceClient<Channel>,
) {
    let app = TestApp::spawn(&[ServiceDef::of::<Governance>()]).await;
    let db = app.ctx.database("governance").await;
    let client = GovernanceServiceClient::new(app.channel().await);
    (app, db, client)
}

fn list(area: &str) -> pb::ListAuditEntriesRequest {
    pb::ListAuditEntriesRequest {
        area: Some(scope(area).to_proto()),
        ..Default::default()
    }
}

async fn verdict(db: &DatabaseConnection, chain: &str) -> Verdict {
    audit::verify_stored(db, &scope(chain)).await.unwrap()
}

async fn sql(db: &DatabaseConnection, statement: &str, chain: &str) {
    db.execute_raw(Statement::from_sql_and_values(
        db.get_database_backend(),
        statement,
        [chain.into()],
    ))
    .await
    .unwrap();
}

#[tokio::test]
async fn entries_are_appended_per_county_and_listed_with_their_head() {
    let (app, db, mut client) = governance().await;
    let clerk = official(Role::VillageOfficial, YUCUN);
    let first = append(&app, &db, &clerk, YUCUN, "r1").await;
    app.clock.advance(Duration::from_secs(60));
    append(
        &app,
        &db,
        &Caller::operator("fixing a typo"),
        "330523108",
        "r2",
    )
    .await;
    append(&app, &db, &clerk, YUCUN, "r1").await;
    // Another county has a chain of its own, from 1.
    let elsewhere = append(&app, &db, &clerk, "330522001001", "r9").await;
    assert_eq!(
        (elsewhere.chain.as_str(), elsewhere.sequence),
        ("330522", 1)
    );
    // Above county level: the area's own chain.
    let province = append(&app, &db, &Caller::operator("x"), "33", "p1").await;
    assert_eq!((province.chain.as_str(), province.sequence), ("33", 1));

    assert_eq!(first.previous_hash, GENESIS);
    let admin = app.token("county-admin", &[(Role::CountyAdmin, ANJI)]);
    let answer = client
        .list_audit_entries(app.request(list(ANJI), &admin))
        .await
        .unwrap()
        .into_inner();
    let sequences: Vec<i64> = answer.entries.iter().map(|e| e.sequence).collect();
    assert_eq!(sequences, [1, 2, 3]);
    assert_eq!(answer.head_sequence, 3);
    assert_eq!(answer.head_hash, answer.entries[2].hash);
    assert_eq!(
        answer.head_time.unwrap().seconds,
        app.clock.now().timestamp()
    );
    let entry = &answer.entries[0];
    assert_eq!(entry.chain.as_ref().unwrap().code, "330523000000");
    assert_eq!(entry.area.as_ref().unwrap().code, YUCUN);
    assert_eq!(entry.target_id, "r1");
    assert_eq!(
        entry.actor.as_ref().unwrap().kind,
        common::ActorKind::User as i32
    );
    assert_eq!(entry.hash, first.hash);
    // The time is the clock's, kept to the microsecond.
    let time = entry.time.unwrap();
    assert_eq!(time.nanos % 1000, 0);
    // The operator's reason is in the details it hashed.
    let second: serde_json::Value = serde_json::from_str(&answer.entries[1].details_json).unwrap();
    assert_eq!(second["operator_reason"], "fixing a typo");
    assert_eq!(
        verify(
            "330523000000",
            &answer.entries,
            Some((answer.head_sequence, &answer.head_hash))
        ),
        Verdict::Intact {
            entries: 3,
            head_hash: answer.head_hash.clone()
        }
    );

    // Pages by sequence; a village area and a target filter within the county's chain.
    let page = |size: i32, token: String| pb::ListAuditEntriesRequest {
        page: Some(PageRequest {
            page_size: size,
            page_token: token,
        }),
        ..list(ANJI)
    };
    let one = client
        .list_audit_entries(app.request(page(2, String::new()), &admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(one.entries.len(), 2);
    let two = client
        .list_audit_entries(app.request(page(2, one.page.unwrap().next_page_token), &admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        two.entries.iter().map(|e| e.sequence).collect::<Vec<_>>(),
        [3]
    );
    assert!(two.page.unwrap().next_page_token.is_empty());
    let village = client
        .list_audit_entries(app.request(list(YUCUN), &admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        village
            .entries
            .iter()
            .map(|e| e.sequence)
            .collect::<Vec<_>>(),
        [1, 3]
    );
    let about = client
        .list_audit_entries(app.request(
            pb::ListAuditEntriesRequest {
                target_id: "r2".to_owned(),
                from_sequence: 2,
                ..list(ANJI)
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        about.entries.iter().map(|e| e.sequence).collect::<Vec<_>>(),
        [2]
    );
    // An action rolled back leaves no entry and no gap.
    let txn = db.begin().await.unwrap();
    audit::append(
        &txn,
        &clerk,
        NewEntry {
            action: "resident.updated",
            target_type: "resident",
            target_id: "r3".to_owned(),
            area: &scope(YUCUN),
            details: serde_json::json!({}),
        },
        app.clock.now(),
    )
    .await
    .unwrap();
    txn.rollback().await.unwrap();
    let after = append(&app, &db, &clerk, YUCUN, "r4").await;
    assert_eq!(after.sequence, 4);
    assert!(matches!(
        verdict(&db, ANJI).await,
        Verdict::Intact { entries: 4, .. }
    ));
}

#[tokio::test]
async fn verification_names_the_first_edited_deleted_or_reordered_entry() {
    let (app, db, _client) = governance().await;
    let clerk = official(Role::PlatformAdmin, "33");
    // Four counties of five entries each: one left alone, one edited, one with an entry
    // deleted, one with two entries' contents swapped.
    let counties = ["330521", "330522", "330523", "330524"];
    for county in counties {
        for n in 1..=5 {
            append(
                &app,
                &db,
                &clerk,
                &format!("{county}001001"),
                &format!("r{n}"),
            )
            .await;
        }
        assert!(
            matches!(
                verdict(&db, county).await,
                Verdict::Intact { entries: 5, .. }
            ),
            "{county}"
        );
    }
    let broken = |verdict: Verdict| match verdict {
        Verdict::Broken(broken) => broken,
        Verdict::Intact { .. } => panic!("tampering not detected"),
    };

    sql(
        &db,
        r#"UPDATE audit_entries SET details_json = '{"changed":["name"]}'
           WHERE chain = $1 AND sequence = 3"#,
        "330522",
    )
    .await;
    assert_eq!(
        broken(verdict(&db, "330522").await),
        Break {
            sequence: 3,
            problem: Problem::Edited
        }
    );

    sql(
        &db,
        "DELETE FROM audit_entries WHERE chain = $1 AND sequence = 2",
        "330523",
    )
    .await;
    assert_eq!(
        broken(verdict(&db, "330523").await),
        Break {
            sequence: 2,
            problem: Problem::Missing { found: 3 }
        }
    );

    // Every column but the place (chain, sequence) swapped between entries 2 and 3.
    sql(
        &db,
        "UPDATE audit_entries a SET at = b.at, actor_kind = b.actor_kind, \
         actor_user_id = b.actor_user_id, actor_on_behalf_of = b.actor_on_behalf_of, \
         actor_agency_client_id = b.actor_agency_client_id, \
         actor_system_component = b.actor_system_component, action = b.action, \
         target_type = b.target_type, target_id = b.target_id, area = b.area, \
         details_json = b.details_json, previous_hash = b.previous_hash, hash = b.hash \
         FROM audit_entries b WHERE a.chain = $1 AND b.chain = $1 \
         AND ((a.sequence = 2 AND b.sequence = 3) OR (a.sequence = 3 AND b.sequence = 2))",
        "330524",
    )
    .await;
    assert_eq!(
        broken(verdict(&db, "330524").await),
        Break {
            sequence: 2,
            problem: Problem::Reordered
        }
    );

    // The last entries deleted: the head shows it.
    sql(
        &db,
        "DELETE FROM audit_entries WHERE chain = $1 AND sequence >= 4",
        "330521",
    )
    .await;
    assert_eq!(
        broken(verdict(&db, "330521").await),
        Break {
            sequence: 4,
            problem: Problem::Truncated { head: 5 }
        }
    );
    let mut chains: Vec<String> = audit::chains(&db)
        .await
        .unwrap()
        .iter()
        .map(|c| c.as_str().to_owned())
        .collect();
    chains.sort();
    assert_eq!(chains, counties);
}

#[tokio::test]
async fn concurrent_appends_in_one_county_keep_one_gap_free_chain() {
    let (app, db, _client) = governance().await;
    let clerk = official(Role::CountyAdmin, ANJI);
    let at = app.clock.now();
    let mut writers = tokio::task::JoinSet::new();
    for n in 0..24 {
        let (db, clerk) = (db.clone(), clerk.clone());
        // Most in 安吉县, a few next door: the other chain does not wait for this one.
        let area = if n % 4 == 0 { "330522001001" } else { YUCUN };
        writers.spawn(async move { append_at(&db, &clerk, area, &format!("r{n}"), at).await });
    }
    let entries = writers.join_all().await;
    let mut anji: Vec<i64> = entries
        .iter()
        .filter(|e| e.chain == ANJI)
        .map(|e| e.sequence)
        .collect();
    anji.sort_unstable();
    assert_eq!(anji, (1..=18).collect::<Vec<_>>());
    assert!(matches!(
        verdict(&db, ANJI).await,
        Verdict::Intact { entries: 18, .. }
    ));
    assert!(matches!(
        verdict(&db, "330522").await,
        Verdict::Intact { entries: 6, .. }
    ));
}

#[tokio::test]
async fn identitys_audit_records_arrive_in_their_countys_chain() {
    let app = TestApp::spawn(&[ServiceDef::of::<Identity>(), ServiceDef::of::<Governance>()]).await;
    let db = app.ctx.database("governance").await;
    let farmer = app
        .seed_user("+8613800138001", "余村农户", &[(Role::Farmer, YUCUN)])
        .await;
    let target = farmer.id.to_string();
    let entries = terrace_testkit::eventually(
        "the role grant in 安吉县's chain",
        Duration::from_secs(30),
        || async {
            let entries: Vec<pb::AuditEntry> = audit::store::page(
                &db,
                &audit::store::Filter {
                    chain: &scope(ANJI),
                    within: None,
                    target_id: Some(&target),
                    from: 1,
                },
                None,
                100,
            )
            .await
            .unwrap()
            .iter()
            .map(audit::AuditEntry::to_proto)
            .collect();
            entries
                .iter()
                .any(|e| e.action == "role.granted")
                .then_some(entries)
        },
    )
    .await;
    let granted = entries.iter().find(|e| e.action == "role.granted").unwrap();
    assert_eq!(granted.target_type, "user");
    assert_eq!(granted.area.as_ref().unwrap().code, YUCUN);
    assert_eq!(
        granted.actor.as_ref().unwrap().kind,
        common::ActorKind::User as i32
    );
    let details: serde_json::Value = serde_json::from_str(&granted.details_json).unwrap();
    assert_eq!(details["role"], "farmer");
    assert!(details["identity_record_id"].is_string());
    assert!(matches!(verdict(&db, ANJI).await, Verdict::Intact { .. }));
    // A platform admin reads it over gRPC too.
    let admin = app.token("platform-admin", &[(Role::PlatformAdmin, "")]);
    let listed = GovernanceServiceClient::new(app.channel().await)
        .list_audit_entries(app.request(list(YUCUN), &admin))
        .await
        .unwrap()
        .into_inner();
    assert!(listed.entries.iter().any(|e| e.target_id == target));
}

/// Who (their grants) asks for which area, and how many entries they read (`None`: refused).
type Case<'a> = (&'a str, Vec<(Role, &'a str)>, &'a str, Option<usize>);

#[tokio::test]
async fn county_admins_read_their_county_and_platform_admins_every_county() {
    let (app, db, mut client) = governance().await;
    let clerk = official(Role::VillageOfficial, YUCUN);
    append(&app, &db, &clerk, YUCUN, "r1").await;
    append(&app, &db, &clerk, "330522001001", "r2").await;
    #[rustfmt::skip]
    let table: Vec<Case<'_>> = vec![
        ("county admin, own county", vec![(Role::CountyAdmin, ANJI)], ANJI, Some(1)),
        ("county admin, a village of own county", vec![(Role::CountyAdmin, ANJI)], YUCUN, Some(1)),
        ("county admin, other county", vec![(Role::CountyAdmin, "330522")], ANJI, None),
        ("county admin, own county's province chain", vec![(Role::CountyAdmin, ANJI)], "33", None),
        ("township official", vec![(Role::TownshipOfficial, "330523108")], ANJI, None),
        ("township official, own township", vec![(Role::TownshipOfficial, "330523108")], "330523108", None),
        ("village official", vec![(Role::VillageOfficial, YUCUN)], YUCUN, None),
        ("farmer", vec![(Role::Farmer, YUCUN)], YUCUN, None),
        ("platform admin", vec![(Role::PlatformAdmin, "")], ANJI, Some(1)),
        ("platform admin, other county", vec![(Role::PlatformAdmin, "")], "330522", Some(1)),
        ("province's platform admin", vec![(Role::PlatformAdmin, "33")], ANJI, Some(1)),
    ];
    for (who, grants, area, allowed) in table {
        let token = app.token(&Uuid::now_v7().to_string(), &grants);
        let answer = client
            .list_audit_entries(app.request(list(area), &token))
            .await;
        match (allowed, answer) {
            (Some(n), Ok(answer)) => assert_eq!(answer.into_inner().entries.len(), n, "{who}"),
            (None, Err(status)) => {
                assert_eq!(status.code(), Code::PermissionDenied, "{who}");
                assert_eq!(
                    terrace_testkit::rpc::reason(&status),
                    "OUT_OF_SCOPE",
                    "{who}"
                );
            }
            (allowed, answer) => panic!("{who}: expected {allowed:?}, got {answer:?}"),
        }
    }
    let anonymous = client
        .list_audit_entries(tonic::Request::new(list(ANJI)))
        .await
        .unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn bad_requests_are_refused_field_by_field_and_change_nothing() {
    let (app, db, mut client) = governance().await;
    append(
        &app,
        &db,
        &official(Role::VillageOfficial, YUCUN),
        YUCUN,
        "r1",
    )
    .await;
    let before = verdict(&db, ANJI).await;
    let admin = app.token("platform-admin", &[(Role::PlatformAdmin, "")]);
    let cases: Vec<(pb::ListAuditEntriesRequest, Vec<&str>)> = vec![
        (pb::ListAuditEntriesRequest::default(), vec!["area"]),
        (
            pb::ListAuditEntriesRequest {
                area: Some(common::AdminCode {
                    code: "33052".to_owned(),
                    level: common::AdminLevel::County as i32,
                }),
                ..Default::default()
            },
            vec!["area.code"],
        ),
        (
            pb::ListAuditEntriesRequest {
                area: Some(common::AdminCode {
                    code: "330523000000".to_owned(),
                    level: common::AdminLevel::Village as i32,
                }),
                ..Default::default()
            },
            vec!["area.level"],
        ),
        (
            pb::ListAuditEntriesRequest {
                page: Some(PageRequest {
                    page_size: -1,
                    page_token: "not a token".to_owned(),
                }),
                from_sequence: -1,
                ..list(ANJI)
            },
            vec!["page.page_size", "page.page_token", "from_sequence"],
        ),
    ];
    for (request, fields) in cases {
        let status = client
            .list_audit_entries(app.request(request, &admin))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{fields:?}");
        assert_eq!(violated_fields(&status), fields);
    }
    assert_eq!(verdict(&db, ANJI).await, before);
}
