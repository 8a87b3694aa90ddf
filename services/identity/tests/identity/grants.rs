//! Role grants: who may give which role where, over real gRPC, with the audit trail and events.

use sea_orm::{ConnectionTrait, Statement};
use terrace_identity::Identity;
use terrace_identity::domain::phone::PhoneNumber;
use terrace_identity::users::{self, NewUser};
use terrace_platform::auth::{AdminScope, Role};
use terrace_platform::service::ServiceDef;
use terrace_proto::common::v1::{AdminCode, AdminLevel};
use terrace_proto::identity::v1 as pb;
use terrace_proto::identity::v1::identity_service_client::IdentityServiceClient;
use terrace_testkit::TestApp;
use tonic::Code;
use tonic_types::StatusExt as _;
use uuid::Uuid;

fn code(prefix: &str) -> AdminCode {
    AdminScope::parse(prefix).unwrap().to_proto()
}

async fn count(db: &sea_orm::DatabaseConnection, sql: &str) -> i64 {
    db.query_one_raw(Statement::from_string(
        db.get_database_backend(),
        sql.to_owned(),
    ))
    .await
    .unwrap()
    .unwrap()
    .try_get("", "n")
    .unwrap()
}

#[tokio::test]
async fn grants_follow_rank_and_area_for_every_granter_and_target() {
    let app = TestApp::spawn(&[ServiceDef::of::<Identity>()]).await;
    let db = app.ctx.database("identity").await;
    let target = users::insert(
        &db,
        NewUser {
            phone: &PhoneNumber::parse("+8613700137000").unwrap(),
            display_name: "赵敏",
            locale: "zh-CN",
            time_zone: "Asia/Shanghai",
            password_hash: None,
            created_by: None,
            email: None,
            created_by_request: None,
            created_at: terrace_platform::Clock::system_now(),
        },
    )
    .await
    .unwrap()
    .unwrap();
    let mut client = IdentityServiceClient::new(app.channel().await);

    // Village 110101001001 lies in township 110101001, in county 110101; 110101002001 is another
    // township's village in the same county; 120101001001 another province.
    let granters: [(&str, &[(Role, &str)]); 6] = [
        ("platform admin", &[(Role::PlatformAdmin, "")]),
        ("county admin", &[(Role::CountyAdmin, "110101")]),
        (
            "township official",
            &[(Role::TownshipOfficial, "110101001")],
        ),
        (
            "village official",
            &[(Role::VillageOfficial, "110101001001")],
        ),
        ("farmer", &[(Role::Farmer, "110101001001")]),
        ("nobody", &[]),
    ];
    let targets = [
        (Role::Farmer, "110101001001"),
        (Role::VillageOfficial, "110101001001"),
        (Role::VillageOfficial, "110101002001"),
        (Role::TownshipOfficial, "110101001"),
        (Role::CountyAdmin, "110101"),
        (Role::Farmer, "120101001001"),
        (Role::PlatformAdmin, ""),
    ];
    // Written out by hand, row by row: may this granter give this target grant?
    let expected: [[bool; 7]; 6] = [
        [true, true, true, true, true, true, true],
        [true, true, true, true, true, false, false],
        [true, true, false, true, false, false, false],
        [true, true, false, false, false, false, false],
        [false; 7],
        [false; 7],
    ];

    let mut allowed = 0;
    for ((who, grants), row) in granters.iter().zip(expected) {
        let token = app.token(&Uuid::now_v7().to_string(), grants);
        for ((role, scope), may) in targets.iter().zip(row) {
            let request = pb::GrantRoleRequest {
                request_id: Uuid::now_v7().to_string(),
                grant: Some(pb::RoleGrant {
                    user_id: target.id.to_string(),
                    role: role.to_proto() as i32,
                    scope: Some(code(scope)),
                    reason: "matrix".into(),
                    ..Default::default()
                }),
            };
            let result = client.grant_role(app.request(request, &token)).await;
            if may {
                let grant = result
                    .unwrap_or_else(|e| panic!("{who} should grant {role}@{scope:?}: {e:?}"))
                    .into_inner()
                    .grant
                    .unwrap();
                // ... and may take it back.
                let revoke = pb::RevokeRoleRequest {
                    request_id: Uuid::now_v7().to_string(),
                    grant_id: grant.id,
                    reason: "matrix".into(),
                };
                client
                    .revoke_role(app.request(revoke, &token))
                    .await
                    .unwrap();
                allowed += 1;
            } else {
                let status = result.expect_err(&format!("{who} must not grant {role}@{scope:?}"));
                assert_eq!(
                    status.code(),
                    Code::PermissionDenied,
                    "{who} {role}@{scope:?}: {status:?}"
                );
                assert_eq!(
                    status.get_error_details().error_info().unwrap().reason,
                    "OUT_OF_SCOPE"
                );
            }
        }
    }
    // Refusals changed nothing; every allowed grant and revoke left its audit record and event.
    assert_eq!(
        count(&db, "SELECT count(*) AS n FROM role_grants").await,
        allowed
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) AS n FROM role_grants WHERE revoked_at IS NULL"
        )
        .await,
        0
    );
    assert_eq!(
        count(&db, "SELECT count(*) AS n FROM audit_records").await,
        2 * allowed
    );
    assert_eq!(
        terrace_testkit::events::published(&app, "identity", "identity.role.*").await as i64,
        2 * allowed
    );
    assert_eq!(allowed, 7 + 5 + 3 + 2);
}

#[tokio::test]
async fn malformed_grants_and_missing_tokens_are_refused_specifically() {
    let app = TestApp::spawn(&[ServiceDef::of::<Identity>()]).await;
    let token = app.token(&Uuid::now_v7().to_string(), &[(Role::PlatformAdmin, "")]);
    let mut client = IdentityServiceClient::new(app.channel().await);

    let bad = pb::GrantRoleRequest {
        request_id: Uuid::now_v7().to_string(),
        grant: Some(pb::RoleGrant {
            user_id: "someone".into(),
            role: 99,
            scope: Some(AdminCode {
                code: "11010100100".into(),
                level: AdminLevel::Village as i32,
            }),
            ..Default::default()
        }),
    };
    let status = client
        .grant_role(app.request(bad, &token))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let fields: Vec<String> = status
        .get_error_details()
        .bad_request()
        .unwrap()
        .field_violations
        .iter()
        .map(|v| v.field.clone())
        .collect();
    assert_eq!(fields, ["grant.user_id", "grant.role", "grant.scope.code"]);

    // A village official's role cannot span a whole county, whoever grants it.
    let too_broad = pb::GrantRoleRequest {
        request_id: Uuid::now_v7().to_string(),
        grant: Some(pb::RoleGrant {
            user_id: Uuid::now_v7().to_string(),
            role: pb::Role::VillageOfficial as i32,
            scope: Some(code("110101")),
            ..Default::default()
        }),
    };
    let status = client
        .grant_role(app.request(too_broad, &token))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");

    // A grant for a user that does not exist.
    let nobody = pb::GrantRoleRequest {
        request_id: Uuid::now_v7().to_string(),
        grant: Some(pb::RoleGrant {
            user_id: Uuid::now_v7().to_string(),
            role: pb::Role::Farmer as i32,
            scope: Some(code("110101001001")),
            ..Default::default()
        }),
    };
    assert_eq!(
        client
            .grant_role(app.request(nobody, &token))
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );

    // Every guarded RPC implemented so far refuses a call without a token.
    let missing = [
        client
            .grant_role(pb::GrantRoleRequest::default())
            .await
            .unwrap_err()
            .code(),
        client
            .revoke_role(pb::RevokeRoleRequest::default())
            .await
            .unwrap_err()
            .code(),
        client
            .list_role_grants(pb::ListRoleGrantsRequest::default())
            .await
            .unwrap_err()
            .code(),
        client
            .get_current_user(pb::GetCurrentUserRequest::default())
            .await
            .unwrap_err()
            .code(),
        client
            .revoke_all_sessions(pb::RevokeAllSessionsRequest::default())
            .await
            .unwrap_err()
            .code(),
        client
            .logout(pb::LogoutRequest::default())
            .await
            .unwrap_err()
            .code(),
    ];
    assert!(
        missing.iter().all(|code| *code == Code::Unauthenticated),
        "{missing:?}"
    );
}

#[tokio::test]
async fn a_granted_role_is_in_the_next_token() {
    use base64::Engine as _;

    let app = TestApp::spawn(&[ServiceDef::of::<Identity>()]).await;
    let db = app.ctx.database("identity").await;
    let hash = terrace_identity::domain::password::hash("correct horse battery").unwrap();
    let phone = PhoneNumber::parse("+8613600136000").unwrap();
    let user = users::insert(
        &db,
        NewUser {
            phone: &phone,
            display_name: "钱多多",
            locale: "zh-CN",
            time_zone: "Asia/Shanghai",
            password_hash: Some(hash),
            created_by: None,
            email: None,
            created_by_request: None,
            created_at: terrace_platform::Clock::system_now(),
        },
    )
    .await
    .unwrap()
    .unwrap();
    let mut client = IdentityServiceClient::new(app.channel().await);
    let admin = app.token(&Uuid::now_v7().to_string(), &[(Role::PlatformAdmin, "")]);
    let grant = pb::GrantRoleRequest {
        request_id: Uuid::now_v7().to_string(),
        grant: Some(pb::RoleGrant {
            user_id: user.id.to_string(),
            role: pb::Role::Farmer as i32,
            scope: Some(code("110101001001")),
            ..Default::default()
        }),
    };
    let first = client
        .grant_role(app.request(grant.clone(), &admin))
        .await
        .unwrap()
        .into_inner()
        .grant
        .unwrap();
    // The same role over the same area again (another request): nothing new, the live grant.
    let again = client
        .grant_role(app.request(
            pb::GrantRoleRequest {
                request_id: Uuid::now_v7().to_string(),
                ..grant
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .grant
        .unwrap();
    assert_eq!(again.id, first.id, "the live grant answers");
    assert_eq!(
        count(&db, "SELECT count(*) AS n FROM role_grants").await,
        1,
        "nothing new"
    );

    let login = pb::LoginWithPasswordRequest {
        request_id: Uuid::now_v7().to_string(),
        phone_number: phone.as_str().into(),
        password: "correct horse battery".into(),
        client_description: String::new(),
    };
    let tokens = client
        .login_with_password(login)
        .await
        .unwrap()
        .into_inner()
        .tokens
        .unwrap();
    let payload = tokens.access_token.split('.').nth(1).unwrap();
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["sub"], user.id.to_string());
    assert_eq!(
        claims["roles"],
        serde_json::json!([{ "role": "farmer", "scope": "110101001001" }])
    );
    // And in the account the user reads about themselves.
    let own = app.token(&user.id.to_string(), &[(Role::Farmer, "110101001001")]);
    let me = client
        .get_current_user(app.request(pb::GetCurrentUserRequest::default(), &own))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    let held: Vec<_> = me
        .role_grants
        .iter()
        .map(|grant| (grant.role, grant.scope.clone().unwrap().code))
        .collect();
    assert_eq!(
        held,
        vec![(pb::Role::Farmer as i32, "110101001001".to_owned())]
    );
}

#[tokio::test]
async fn a_grant_out_of_reach_is_unknown_not_just_forbidden() {
    let app = TestApp::spawn(&[ServiceDef::of::<Identity>()]).await;
    let db = app.ctx.database("identity").await;
    let user = users::insert(
        &db,
        NewUser {
            phone: &PhoneNumber::parse("+8613500135001").unwrap(),
            display_name: "吴刚",
            locale: "zh-CN",
            time_zone: "Asia/Shanghai",
            password_hash: None,
            created_by: None,
            email: None,
            created_by_request: None,
            created_at: terrace_platform::Clock::system_now(),
        },
    )
    .await
    .unwrap()
    .unwrap();
    let mut client = IdentityServiceClient::new(app.channel().await);
    let admin = app.token(&Uuid::now_v7().to_string(), &[(Role::PlatformAdmin, "")]);
    let grant = pb::GrantRoleRequest {
        request_id: Uuid::now_v7().to_string(),
        grant: Some(pb::RoleGrant {
            user_id: user.id.to_string(),
            role: pb::Role::Farmer as i32,
            scope: Some(code("110101001001")),
            ..Default::default()
        }),
    };
    let grant = client
        .grant_role(app.request(grant, &admin))
        .await
        .unwrap()
        .into_inner()
        .grant
        .unwrap();
    let revoke = |token: &str| {
        app.request(
            pb::RevokeRoleRequest {
                request_id: Uuid::now_v7().to_string(),
                grant_id: grant.id.clone(),
                reason: "moved".into(),
            },
            token,
        )
    };
    let elsewhere = app.token(
        &Uuid::now_v7().to_string(),
        &[(Role::VillageOfficial, "120101001001")],
    );
    let status = client.revoke_role(revoke(&elsewhere)).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    assert!(
        !status.message().contains("farmer"),
        "the grant's role is not revealed: {}",
        status.message()
    );
    // Nor can an official elsewhere pull the farmer into their own village.
    let pull = pb::GrantRoleRequest {
        request_id: Uuid::now_v7().to_string(),
        grant: Some(pb::RoleGrant {
            user_id: user.id.to_string(),
            role: pb::Role::Resident as i32,
            scope: Some(code("120101001001")),
            ..Default::default()
        }),
    };
    assert_eq!(
        client
            .grant_role(app.request(pull, &elsewhere))
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    let here = app.token(
        &Uuid::now_v7().to_string(),
        &[(Role::VillageOfficial, "110101001001")],
    );
    client.revoke_role(revoke(&here)).await.unwrap();
}

#[tokio::test]
async fn a_status_set_by_a_higher_rank_is_not_undone_by_a_lower_one() {
    let app = TestApp::spawn(&[ServiceDef::of::<Identity>()]).await;
    let db = app.ctx.database("identity").await;
    let user = users::insert(
        &db,
        NewUser {
            phone: &PhoneNumber::parse("+8613500135002").unwrap(),
            display_name: "冯先生",
            locale: "zh-CN",
            time_zone: "Asia/Shanghai",
            password_hash: None,
            created_by: None,
            email: None,
            created_by_request: None,
            created_at: terrace_platform::Clock::system_now(),
        },
    )
    .await
    .unwrap()
    .unwrap();
    let mut client = IdentityServiceClient::new(app.channel().await);
    let admin = app.token(&Uuid::now_v7().to_string(), &[(Role::PlatformAdmin, "")]);
    let grant = pb::GrantRoleRequest {
        request_id: Uuid::now_v7().to_string(),
        grant: Some(pb::RoleGrant {
            user_id: user.id.to_string(),
            role: pb::Role::Resident as i32,
            scope: Some(code("110101001001")),
            ..Default::default()
        }),
    };
    client.grant_role(app.request(grant, &admin)).await.unwrap();
    let status = |status: pb::UserStatus| pb::SetUserStatusRequest {
        request_id: Uuid::now_v7().to_string(),
        user_id: user.id.to_string(),
        status: status as i32,
        reason: "review".into(),
        locked_until: None,
    };
    let county = app.token(
        &Uuid::now_v7().to_string(),
        &[(Role::CountyAdmin, "110101")],
    );
    let village = app.token(
        &Uuid::now_v7().to_string(),
        &[(Role::VillageOfficial, "110101001001")],
    );
    client
        .set_user_status(app.request(status(pb::UserStatus::Disabled), &county))
        .await
        .unwrap();
    let refused = client
        .set_user_status(app.request(status(pb::UserStatus::Active), &village))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert_eq!(
        refused.get_error_details().error_info().unwrap().reason,
        "STATUS_SET_BY_HIGHER_RANK"
    );
    // The county admin may, and then the village official may manage the user again.
    client
        .set_user_status(app.request(status(pb::UserStatus::Active), &county))
        .await
        .unwrap();
    client
        .set_user_status(app.request(status(pb::UserStatus::Disabled), &village))
        .await
        .unwrap();
    client
        .set_user_status(app.request(status(pb::UserStatus::Active), &village))
        .await
        .unwrap();
}

#[tokio::test]
async fn expired_grants_are_retired_and_announced() {
    let app = TestApp::spawn(&[ServiceDef::of::<Identity>()]).await;
    let db = app.ctx.database("identity").await;
    let user = users::insert(
        &db,
        NewUser {
            phone: &PhoneNumber::parse("+8613500135003").unwrap(),
            display_name: "陈静",
            locale: "zh-CN",
            time_zone: "Asia/Shanghai",
            password_hash: None,
            created_by: None,
            email: None,
            created_by_request: None,
            created_at: terrace_platform::Clock::system_now(),
        },
    )
    .await
    .unwrap()
    .unwrap();
    let mut client = IdentityServiceClient::new(app.channel().await);
    let admin = app.token(&Uuid::now_v7().to_string(), &[(Role::PlatformAdmin, "")]);
    let soon = app.clock.now() + chrono::Duration::days(2);
    let grant = |expire_time: Option<prost_types::Timestamp>| pb::GrantRoleRequest {
        request_id: Uuid::now_v7().to_string(),
        grant: Some(pb::RoleGrant {
            user_id: user.id.to_string(),
            role: pb::Role::Buyer as i32,
            scope: Some(code("110101")),
            expire_time,
            ..Default::default()
        }),
    };
    let expiring = Some(prost_types::Timestamp {
        seconds: soon.timestamp(),
        nanos: i32::try_from(soon.timestamp_subsec_nanos()).unwrap(),
    });
    client
        .grant_role(app.request(grant(expiring), &admin))
        .await
        .unwrap();
    assert_eq!(
        terrace_identity::grants::live_grants(&db, user.id, app.clock.now())
            .await
            .unwrap()
            .len(),
        1,
        "live until its time"
    );

    // Two days pass: the expiry job (on the service clock) retires it. Its first run (at the
    // start) must have ended first: a run in flight across the move would not be due again.
    let job = terrace_identity::grants::EXPIRY_JOB.job;
    terrace_testkit::jobs::settled(&db, job, 1).await;
    let runs = terrace_testkit::jobs::runs(&db, job).await;
    app.clock
        .advance(std::time::Duration::from_secs(2 * 86_400 + 1));
    terrace_testkit::jobs::settled(&db, job, runs + 1).await;
    assert_eq!(
        count(
            &db,
            "SELECT count(*) AS n FROM role_grants WHERE revoke_reason = 'expired'",
        )
        .await,
        1
    );
    assert_eq!(
        terrace_identity::grants::Grants::on(
            db.clone(),
            "terrace/identity".to_owned(),
            app.clock.clock()
        )
        .retire_expired(app.clock.now())
        .await
        .unwrap(),
        0,
        "once"
    );
    assert!(
        terrace_identity::grants::live_grants(&db, user.id, app.clock.now())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        terrace_testkit::events::published(&app, "identity", "identity.role.revoked").await as i64,
        1
    );
    // The role can be given again (by an admin whose token is dated by the moved clock).
    let admin = app.token(&Uuid::now_v7().to_string(), &[(Role::PlatformAdmin, "")]);
    client
        .grant_role(app.request(grant(None), &admin))
        .await
        .unwrap();
    assert_eq!(
        terrace_identity::grants::live_grants(&db, user.id, app.clock.now())
            .await
            .unwrap()
            .len(),
        1
    );
}

/// GrantRole and RevokeRole are done once per caller and request id: a retry gets the first
/// answer (one grant, one event, one audit record), the id in another request is refused, and a
/// retry after the idempotency log forgot the request still finds the grant as it now is.
#[tokio::test]
async fn retried_grants_and_revokes_are_done_once() {
    use terrace_testkit::rpc::{assert_refused, request_id};
    let app = TestApp::spawn(&[ServiceDef::of::<Identity>()]).await;
    let db = app.ctx.database("identity").await;
    let mut client = IdentityServiceClient::new(app.channel().await);
    let official = app
        .seed_user(
            "+8613700137001",
            "村主任",
            &[(Role::VillageOfficial, "110101001001")],
        )
        .await;
    let villager = app
        .seed_user(
            "+8613700137002",
            "村民",
            &[(Role::Resident, "110101001001")],
        )
        .await;
    let grant = pb::GrantRoleRequest {
        request_id: request_id(),
        grant: Some(pb::RoleGrant {
            user_id: villager.id.to_string(),
            role: pb::Role::Farmer as i32,
            scope: Some(code("110101001001")),
            reason: "种植户".into(),
            ..Default::default()
        }),
    };
    let first = client
        .grant_role(app.request(grant.clone(), &official.token))
        .await
        .unwrap()
        .into_inner();
    let retried = client
        .grant_role(app.request(grant.clone(), &official.token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(retried, first);
    let farmer_grants = "SELECT count(*) AS n FROM role_grants WHERE role = 'farmer'";
    assert_eq!(count(&db, farmer_grants).await, 1);
    let audits = "SELECT count(*) AS n FROM audit_records WHERE action = 'role.granted' \
                  AND details->>'role' = 'farmer'";
    assert_eq!(count(&db, audits).await, 1);
    let mut other = grant.clone();
    other.grant.as_mut().unwrap().reason = "another reason".into();
    assert_refused(
        client.grant_role(app.request(other, &official.token)).await,
        Code::FailedPrecondition,
        "REQUEST_ID_REUSED",
    );

    let grant_id = first.grant.unwrap().id;
    let revoke = pb::RevokeRoleRequest {
        request_id: request_id(),
        grant_id: grant_id.clone(),
        reason: "搬走了".into(),
    };
    let revoked = client
        .revoke_role(app.request(revoke.clone(), &official.token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        client
            .revoke_role(app.request(revoke.clone(), &official.token))
            .await
            .unwrap()
            .into_inner(),
        revoked,
        "the first answer, not ALREADY_REVOKED"
    );
    assert_refused(
        client
            .revoke_role(app.request(
                pb::RevokeRoleRequest {
                    reason: "another".into(),
                    ..revoke
                },
                &official.token,
            ))
            .await,
        Code::FailedPrecondition,
        "REQUEST_ID_REUSED",
    );

    // Eight days later the log has forgotten the grant request; its retry finds the grant as it
    // now is (revoked) instead of giving the role again.
    app.clock
        .advance(std::time::Duration::from_secs(8 * 86_400));
    let forgotten = terrace_platform::idempotency::prune(
        &db,
        app.clock.now(),
        terrace_platform::idempotency::RETENTION,
    )
    .await
    .unwrap();
    assert!(
        forgotten >= 2,
        "the grant and the revoke at least: {forgotten}"
    );
    let token = app.token(
        &official.id.to_string(),
        &[(Role::VillageOfficial, "110101001001")],
    );
    let late = client
        .grant_role(app.request(grant, &token))
        .await
        .unwrap()
        .into_inner()
        .grant
        .unwrap();
    assert_eq!(late.id, grant_id);
    assert!(late.revoke_time.is_some(), "answered as it now is");
    assert_eq!(count(&db, farmer_grants).await, 1, "no second grant");
}

/// The grant rules hold on every path a grant is written by (`grants::give`): an official may
/// not pull someone who lives elsewhere into their area, neither with GrantRole nor by
/// registering them with roles outside their area; the operator at the command line may move
/// anyone; and an expired grant never blocks the same role being given again, whichever path
/// gives it.
#[tokio::test]
async fn grant_rules_hold_on_every_path() {
    use terrace_identity::grants::{Give, Grants};
    use terrace_platform::auth::{Caller, RoleGrant};
    use terrace_testkit::rpc::{assert_refused, request_id};
    const HOME: &str = "110101001001";
    const AWAY: &str = "110101001002";
    let app = TestApp::spawn(&[ServiceDef::of::<Identity>()]).await;
    let db = app.ctx.database("identity").await;
    let mut client = IdentityServiceClient::new(app.channel().await);
    let villager = app
        .seed_user("+8613600136101", "村民", &[(Role::Resident, HOME)])
        .await;
    let away = app.token(
        &Uuid::now_v7().to_string(),
        &[(Role::VillageOfficial, AWAY)],
    );

    // GrantRole: the official of another village cannot pull the villager over.
    let pull = pb::GrantRoleRequest {
        request_id: request_id(),
        grant: Some(pb::RoleGrant {
            user_id: villager.id.to_string(),
            role: pb::Role::Farmer as i32,
            scope: Some(code(AWAY)),
            ..Default::default()
        }),
    };
    assert_eq!(
        client
            .grant_role(app.request(pull, &away))
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    // CreateUser: nor register someone with a role in a village not theirs.
    let register = pb::CreateUserRequest {
        request_id: request_id(),
        user: Some(pb::User {
            phone_number: "+8613600136102".into(),
            display_name: "新村民".into(),
            ..Default::default()
        }),
        initial_grants: vec![pb::RoleGrant {
            role: pb::Role::Farmer as i32,
            scope: Some(code(HOME)),
            ..Default::default()
        }],
        ..Default::default()
    };
    assert_refused(
        client.create_user(app.request(register, &away)).await,
        Code::PermissionDenied,
        "OUT_OF_SCOPE",
    );
    // The command line acts with the database's authority: it may move anyone.
    let moved = terrace_identity::admin::grant(
        &db,
        &villager.phone,
        RoleGrant::parse(Role::Farmer, AWAY).unwrap(),
        "moved to the next village",
    )
    .await
    .unwrap();
    assert_eq!(moved.user_id, villager.id);

    // Expiry: a grant that ran out holds no place, on the RPC path and the command line's.
    let admin = app.token(&Uuid::now_v7().to_string(), &[(Role::PlatformAdmin, "")]);
    let tomorrow = app.clock.now() + chrono::Duration::days(1);
    let buyer = |expire: Option<chrono::DateTime<chrono::Utc>>| pb::GrantRoleRequest {
        request_id: request_id(),
        grant: Some(pb::RoleGrant {
            user_id: villager.id.to_string(),
            role: pb::Role::Buyer as i32,
            scope: Some(code("110101")),
            expire_time: expire.map(terrace_platform::validate::to_timestamp),
            ..Default::default()
        }),
    };
    let first = client
        .grant_role(app.request(buyer(Some(tomorrow)), &admin))
        .await
        .unwrap()
        .into_inner()
        .grant
        .unwrap();
    app.clock
        .advance(std::time::Duration::from_secs(2 * 86_400));
    let admin = app.token(&Uuid::now_v7().to_string(), &[(Role::PlatformAdmin, "")]);
    let second = client
        .grant_role(app.request(buyer(None), &admin))
        .await
        .unwrap()
        .into_inner()
        .grant
        .unwrap();
    assert_ne!(second.id, first.id, "a new grant, not the expired one");
    let command_line = Grants::on(db.clone(), "terrace/identity".to_owned(), app.clock.clock());
    let resident_away = RoleGrant::parse(Role::Resident, AWAY).unwrap();
    let give = |expires_at| Give {
        user_id: villager.id,
        grant: &resident_away,
        expires_at,
        reason: "visiting",
        api_scope: None,
        request: None,
    };
    let operator = Caller::operator("test");
    let visiting = command_line
        .give_now(
            &operator,
            give(Some(app.clock.now() + chrono::Duration::days(1))),
        )
        .await
        .unwrap();
    app.clock
        .advance(std::time::Duration::from_secs(2 * 86_400));
    let again = command_line.give_now(&operator, give(None)).await.unwrap();
    assert_ne!(again.id, visiting.id);
    let live = terrace_identity::grants::live_grants(&db, villager.id, app.clock.now())
        .await
        .unwrap();
    let count_of = |role| live.iter().filter(|grant| grant.role == role).count();
    assert_eq!(
        (count_of(Role::Buyer), count_of(Role::Resident)),
        (1, 2),
        "one buyer, resident at home and again away: {live:?}"
    );
}
