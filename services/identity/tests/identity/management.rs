//! User management over real gRPC, PostgreSQL and NATS: who may read, list, register, update,
//! lock and disable whom; a villager registered at the desk logging in; phone and password
//! changes; key rotation; bad input and refusals that change nothing.

use base64::Engine as _;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use terrace_identity::Identity;
use terrace_identity::domain::phone::PhoneNumber;
use terrace_identity::users::{self, NewUser};
use terrace_platform::auth::{AdminScope, Role, RoleGrant};
use terrace_platform::service::ServiceDef;
use terrace_proto::common::v1::{AdminCode, AdminLevel, PageRequest};
use terrace_proto::identity::v1 as pb;
use terrace_proto::identity::v1::identity_service_client::IdentityServiceClient;
use terrace_testkit::TestApp;
use tonic::Code;
use tonic::transport::Channel;
use uuid::Uuid;

use crate::accounts::Sms;
use terrace_testkit::rpc::{reason, request_id, violated_fields};

const VILLAGE: &str = "110101001001";
const OTHER_VILLAGE: &str = "110101002001";
const TOWNSHIP: &str = "110101001";
const COUNTY: &str = "110101";
const PASSWORD: &str = "村口老槐树下的井";

fn code(prefix: &str) -> AdminCode {
    let level = match prefix.len() {
        0 => AdminLevel::Country,
        2 => AdminLevel::Province,
        4 => AdminLevel::City,
        6 => AdminLevel::County,
        9 => AdminLevel::Township,
        _ => AdminLevel::Village,
    };
    AdminCode {
        code: format!("{prefix:0<12}"),
        level: level as i32,
    }
}

async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
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

/// How many audit records of `action` there are.
async fn audited(db: &DatabaseConnection, action: &str) -> i64 {
    counted(
        db,
        "SELECT count(*) AS n FROM audit_records WHERE action = $1",
        action,
    )
    .await
}

/// How many events of `subject` were published.
async fn events(app: &TestApp, subject: &str) -> i64 {
    terrace_testkit::events::published(app, "identity", subject).await as i64
}

async fn counted(db: &DatabaseConnection, sql: &str, value: &str) -> i64 {
    db.query_one_raw(Statement::from_sql_and_values(
        db.get_database_backend(),
        sql,
        [value.into()],
    ))
    .await
    .unwrap()
    .unwrap()
    .try_get("", "n")
    .unwrap()
}

/// A user made directly in the database, with grants given by the operator.
async fn user_with(
    db: &DatabaseConnection,
    phone: &str,
    name: &str,
    created_by: Option<Uuid>,
    grants: &[(Role, &str)],
) -> Uuid {
    let user = users::insert(
        db,
        NewUser {
            phone: &PhoneNumber::parse(phone).unwrap(),
            display_name: name,
            locale: "zh-CN",
            time_zone: "Asia/Shanghai",
            password_hash: None,
            created_by,
            email: None,
            created_by_request: None,
            created_at: terrace_platform::Clock::system_now(),
        },
    )
    .await
    .unwrap()
    .unwrap();
    for (role, scope) in grants {
        terrace_identity::grants::Grants::on(
            db.clone(),
            "terrace/identity".to_owned(),
            terrace_platform::Clock::system(),
        )
        .give_now(
            &terrace_platform::auth::Caller::operator("test"),
            terrace_identity::grants::Give {
                user_id: user.id,
                grant: &RoleGrant::new(*role, AdminScope::parse(scope).unwrap()).unwrap(),
                expires_at: None,
                reason: "test",
                api_scope: None,
                request: None,
            },
        )
        .await
        .unwrap();
    }
    user.id
}

async fn client(app: &TestApp) -> IdentityServiceClient<Channel> {
    IdentityServiceClient::new(app.channel().await)
}

/// The `kid` header of a JWT.
fn kid_of(token: &str) -> String {
    let header = token.split('.').next().unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .unwrap();
    let header: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn authorization_matrix_over_user_management() {
    let app = TestApp::spawn(&[ServiceDef::of::<Identity>()]).await;
    let db = app.ctx.database("identity").await;
    let mut client = client(&app).await;

    let official = user_with(
        &db,
        "+8613700137001",
        "村官",
        None,
        &[(Role::VillageOfficial, VILLAGE)],
    )
    .await;
    let villager = user_with(
        &db,
        "+8613700137000",
        "赵敏",
        Some(official),
        &[(Role::Resident, VILLAGE)],
    )
    .await;
    let helper = Uuid::now_v7().to_string();
    let v = villager.to_string();

    // (name, token). The villager's own token carries their grant, as identity would sign it.
    let callers: Vec<(&str, String)> = vec![
        ("the user", app.token(&v, &[(Role::Resident, VILLAGE)])),
        (
            "village official here",
            app.token(&official.to_string(), &[(Role::VillageOfficial, VILLAGE)]),
        ),
        (
            "village official elsewhere",
            app.token(
                &Uuid::now_v7().to_string(),
                &[(Role::VillageOfficial, OTHER_VILLAGE)],
            ),
        ),
        (
            "township official",
            app.token(
                &Uuid::now_v7().to_string(),
                &[(Role::TownshipOfficial, TOWNSHIP)],
            ),
        ),
        (
            "county admin",
            app.token(&Uuid::now_v7().to_string(), &[(Role::CountyAdmin, COUNTY)]),
        ),
        (
            "platform admin",
            app.token(&Uuid::now_v7().to_string(), &[(Role::PlatformAdmin, "")]),
        ),
        (
            "farmer",
            app.token(&Uuid::now_v7().to_string(), &[(Role::Farmer, VILLAGE)]),
        ),
        (
            "agency",
            app.issuer
                .build(&Uuid::now_v7().to_string())
                .agency(&["identity.users:read"])
                .grants(&[(Role::VillageOfficial, VILLAGE)])
                .sign(),
        ),
        (
            "helper",
            app.issuer
                .build(&v)
                .grants(&[(Role::Resident, VILLAGE)])
                .actor(&helper)
                .sign(),
        ),
    ];
    let admin = callers[5].1.clone();

    // Expected outcome per caller, in the order above. `Ok` is `None`.
    use Code::{FailedPrecondition as Fp, NotFound as Nf, PermissionDenied as Pd};
    let get_user: [Option<Code>; 9] =
        [None, None, Some(Nf), None, None, None, Some(Nf), None, None];
    let list_users: [Option<Code>; 9] = [
        Some(Pd),
        None,
        Some(Pd),
        None,
        None,
        None,
        Some(Pd),
        None,
        Some(Pd),
    ];
    // The last: a helper acting for the villager may not change the villager's profile.
    let update_user: [Option<Code>; 9] = [
        None,
        None,
        Some(Nf),
        Some(Pd),
        Some(Pd),
        Some(Pd),
        Some(Nf),
        Some(Nf),
        Some(Pd),
    ];
    let set_status: [Option<Code>; 9] = [
        Some(Fp),
        None,
        Some(Nf),
        None,
        None,
        None,
        Some(Nf),
        Some(Nf),
        Some(Fp),
    ];
    let create_user: [Option<Code>; 9] = [
        Some(Pd),
        None,
        Some(Pd),
        None,
        None,
        None,
        Some(Pd),
        Some(Pd),
        Some(Pd),
    ];
    let rotate: [Option<Code>; 9] = [
        Some(Pd),
        Some(Pd),
        Some(Pd),
        Some(Pd),
        Some(Pd),
        None,
        Some(Pd),
        Some(Pd),
        Some(Pd),
    ];
    // Whether the villager's audit records are visible (the list answers, possibly empty).
    let sees_audit: [bool; 9] = [true, false, false, false, true, true, false, false, true];

    for (i, (name, token)) in callers.iter().enumerate() {
        let outcome = |result: Result<(), tonic::Status>| result.err().map(|s| s.code());

        let got = client
            .get_user(app.request(pb::GetUserRequest { user_id: v.clone() }, token))
            .await
            .map(drop);
        assert_eq!(outcome(got), get_user[i], "GetUser by {name}");

        let got = client
            .list_users(app.request(
                pb::ListUsersRequest {
                    area: Some(code(VILLAGE)),
                    ..Default::default()
                },
                token,
            ))
            .await;
        if let Ok(listed) = &got {
            assert!(
                listed.get_ref().users.iter().any(|u| u.id == v),
                "ListUsers by {name} shows the villager"
            );
        }
        assert_eq!(outcome(got.map(drop)), list_users[i], "ListUsers by {name}");

        let got = client
            .update_user(app.request(
                pb::UpdateUserRequest {
                    request_id: request_id(),
                    user: Some(pb::User {
                        id: v.clone(),
                        display_name: format!("赵敏 {i}"),
                        ..Default::default()
                    }),
                    update_mask: Some(prost_types::FieldMask {
                        paths: vec!["display_name".into()],
                    }),
                },
                token,
            ))
            .await
            .map(drop);
        assert_eq!(outcome(got), update_user[i], "UpdateUser by {name}");

        let got = client
            .set_user_status(app.request(
                pb::SetUserStatusRequest {
                    request_id: request_id(),
                    user_id: v.clone(),
                    status: pb::UserStatus::Locked as i32,
                    reason: "matrix".into(),
                    locked_until: None,
                },
                token,
            ))
            .await
            .map(drop);
        assert_eq!(
            outcome(got.clone()),
            set_status[i],
            "SetUserStatus by {name}"
        );
        if got.is_ok() {
            // Back to active for the next caller.
            client
                .set_user_status(app.request(
                    pb::SetUserStatusRequest {
                        request_id: request_id(),
                        user_id: v.clone(),
                        status: pb::UserStatus::Active as i32,
                        reason: "matrix".into(),
                        locked_until: None,
                    },
                    &admin,
                ))
                .await
                .unwrap();
        }

        let got = client
            .create_user(app.request(
                pb::CreateUserRequest {
                    request_id: request_id(),
                    user: Some(pb::User {
                        phone_number: format!("+861390013900{i}"),
                        display_name: format!("村民 {i}"),
                        ..Default::default()
                    }),
                    password: String::new(),
                    initial_grants: vec![pb::RoleGrant {
                        role: pb::Role::Resident as i32,
                        scope: Some(code(VILLAGE)),
                        ..Default::default()
                    }],
                },
                token,
            ))
            .await
            .map(drop);
        assert_eq!(outcome(got), create_user[i], "CreateUser by {name}");

        let got = client
            .list_audit_records(app.request(
                pb::ListAuditRecordsRequest {
                    target_id: v.clone(),
                    ..Default::default()
                },
                token,
            ))
            .await
            .unwrap();
        assert_eq!(
            !got.get_ref().records.is_empty(),
            sees_audit[i],
            "ListAuditRecords by {name}"
        );

        let got = client
            .rotate_signing_key(app.request(
                pb::RotateSigningKeyRequest {
                    request_id: request_id(),
                    activation_delay: None,
                },
                token,
            ))
            .await
            .map(drop);
        assert_eq!(outcome(got), rotate[i], "RotateSigningKey by {name}");
    }

    // Officials do not lock their peers: the village official and the official next door.
    let peer = user_with(
        &db,
        "+8613700137002",
        "副村官",
        None,
        &[(Role::VillageOfficial, VILLAGE)],
    )
    .await;
    let refused = client
        .set_user_status(app.request(
            pb::SetUserStatusRequest {
                request_id: request_id(),
                user_id: peer.to_string(),
                status: pb::UserStatus::Disabled as i32,
                reason: "no".into(),
                locked_until: None,
            },
            &callers[1].1,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert_eq!(reason(&refused), "OUTRANKED");

    // Refusals changed nothing: the name is the one of the last permitted update, the status
    // active, and only the permitted creations exist.
    let name = client
        .get_user(app.request(pb::GetUserRequest { user_id: v.clone() }, &admin))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(name.display_name, "赵敏 1");
    assert_eq!(name.status, pb::UserStatus::Active as i32);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) AS n FROM users WHERE phone_number LIKE '+86139001390%'"
        )
        .await,
        4
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) AS n FROM users WHERE status <> 'active'"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn an_official_registers_a_villager_who_then_logs_in_with_a_code() {
    let app = TestApp::spawn(&[ServiceDef::of::<Identity>()]).await;
    let db = app.ctx.database("identity").await;
    let mut sms = Sms::listen(&app).await;
    let mut client = client(&app).await;
    let official = Uuid::now_v7().to_string();
    let token = app.token(&official, &[(Role::VillageOfficial, VILLAGE)]);

    let create = pb::CreateUserRequest {
        request_id: request_id(),
        user: Some(pb::User {
            phone_number: "+8613600136000".into(),
            display_name: "王大爷".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let created = client
        .create_user(app.request(create.clone(), &token))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(created.locale, "zh-CN");
    assert_eq!(created.time_zone, "Asia/Shanghai");
    assert!(!created.has_password);
    // The user and a resident grant in the official's village, in one step.
    assert_eq!(created.role_grants.len(), 1);
    assert_eq!(created.role_grants[0].role, pb::Role::Resident as i32);
    assert_eq!(created.role_grants[0].scope, Some(code(VILLAGE)));
    assert_eq!(
        created.audit.unwrap().creator.unwrap().user_id,
        official,
        "the registering official is the creator"
    );

    // A retry answers the same user; a new request for the same phone is refused.
    let again = client
        .create_user(app.request(create.clone(), &token))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(again.id, created.id);
    let taken = client
        .create_user(app.request(
            pb::CreateUserRequest {
                request_id: request_id(),
                ..create.clone()
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(taken.code(), Code::AlreadyExists);
    let reused = client
        .create_user(app.request(
            pb::CreateUserRequest {
                user: Some(pb::User {
                    phone_number: "+8613600136009".into(),
                    display_name: "别人".into(),
                    ..Default::default()
                }),
                ..create.clone()
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(reason(&reused), "REQUEST_ID_REUSED");
    assert_eq!(count(&db, "SELECT count(*) AS n FROM users").await, 1);
    assert_eq!(
        events(&app, "identity.user.created").await,
        1,
        "one identity.user.created, not one per retry"
    );
    assert_eq!(events(&app, "identity.role.granted").await, 1);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) AS n FROM audit_records WHERE action IN ('user.created', 'role.granted')"
        )
        .await,
        2
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) AS n FROM role_grants WHERE scope = '110101001001' AND role = 'resident'"
        )
        .await,
        1
    );

    // An agency with identity.users:write registers in its areas, at no higher rank.
    let agency = app
        .issuer
        .build(&Uuid::now_v7().to_string())
        .agency(&["identity.users:write"])
        .grants(&[(Role::VillageOfficial, VILLAGE)])
        .sign();
    let by_agency = |phone: &str, role: pb::Role| pb::CreateUserRequest {
        request_id: request_id(),
        user: Some(pb::User {
            phone_number: phone.into(),
            display_name: "合作社社员".into(),
            ..Default::default()
        }),
        initial_grants: vec![pb::RoleGrant {
            role: role as i32,
            scope: Some(code(VILLAGE)),
            ..Default::default()
        }],
        ..Default::default()
    };
    client
        .create_user(app.request(by_agency("+8613600136002", pb::Role::Farmer), &agency))
        .await
        .unwrap();
    let too_high = client
        .create_user(app.request(
            by_agency("+8613600136003", pb::Role::TownshipOfficial),
            &agency,
        ))
        .await
        .unwrap_err();
    assert_eq!(too_high.code(), Code::PermissionDenied, "{too_high:?}");
    assert_eq!(reason(&too_high), "OUT_OF_SCOPE");

    // The villager logs in with a code sent to their phone.
    client
        .request_otp(pb::RequestOtpRequest {
            request_id: request_id(),
            phone_number: "+8613600136000".into(),
            purpose: pb::OtpPurpose::Login as i32,
            locale: "zh-CN".into(),
        })
        .await
        .unwrap();
    let otp = sms.next().await;
    assert_eq!(otp.user_id, created.id);
    let logged_in = client
        .login_with_otp(pb::LoginWithOtpRequest {
            request_id: request_id(),
            phone_number: "+8613600136000".into(),
            otp_code: otp.code,
            client_description: "village desk".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(logged_in.user.unwrap().id, created.id);
    assert!(!logged_in.tokens.unwrap().access_token.is_empty());

    // Officials list the villagers of their village.
    let listed = client
        .list_users(app.request(
            pb::ListUsersRequest {
                area: Some(code(VILLAGE)),
                page: Some(PageRequest {
                    page_size: 10,
                    page_token: String::new(),
                }),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    // The villager and the agency's farmer, by name.
    let names: Vec<&str> = listed
        .users
        .iter()
        .map(|u| u.display_name.as_str())
        .collect();
    assert_eq!(names, ["合作社社员", "王大爷"]);
    assert_eq!(listed.users[1].id, created.id);
}

#[tokio::test]
async fn disabling_revokes_sessions_and_blocks_login() {
    let app = TestApp::spawn(&[ServiceDef::of::<Identity>()]).await;
    let mut client = client(&app).await;
    let official = Uuid::now_v7().to_string();
    let token = app.token(&official, &[(Role::VillageOfficial, VILLAGE)]);
    let created = client
        .create_user(app.request(
            pb::CreateUserRequest {
                request_id: request_id(),
                user: Some(pb::User {
                    phone_number: "+8613600136001".into(),
                    display_name: "李婶".into(),
                    email: "li@example.com".into(),
                    ..Default::default()
                }),
                password: PASSWORD.into(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    let login = pb::LoginWithPasswordRequest {
        request_id: request_id(),
        phone_number: "+8613600136001".into(),
        password: PASSWORD.into(),
        client_description: "phone".into(),
    };
    let tokens = client
        .login_with_password(login.clone())
        .await
        .unwrap()
        .into_inner()
        .tokens
        .unwrap();

    // An official cannot disable themself.
    let own = client
        .set_user_status(app.request(
            pb::SetUserStatusRequest {
                request_id: request_id(),
                user_id: official.clone(),
                status: pb::UserStatus::Disabled as i32,
                reason: "leaving".into(),
                locked_until: None,
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(own.code(), Code::FailedPrecondition);

    let disabled = client
        .set_user_status(app.request(
            pb::SetUserStatusRequest {
                request_id: request_id(),
                user_id: created.id.clone(),
                status: pb::UserStatus::Disabled as i32,
                reason: "moved away".into(),
                locked_until: None,
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(disabled.status, pb::UserStatus::Disabled as i32);
    assert_eq!(disabled.email, "li@example.com");

    let refresh = client
        .refresh_token(pb::RefreshTokenRequest {
            request_id: request_id(),
            refresh_token: tokens.refresh_token,
        })
        .await
        .unwrap_err();
    assert_eq!(refresh.code(), Code::Unauthenticated);
    let sessions = app.ctx.database("identity").await;
    assert_eq!(
        count(
            &sessions,
            "SELECT count(*) AS n FROM sessions WHERE revoked_at IS NULL"
        )
        .await,
        0
    );
    // A new attempt has a request id of its own (the first one's answer is not kept).
    let again = pb::LoginWithPasswordRequest {
        request_id: request_id(),
        ..login.clone()
    };
    let blocked = client.login_with_password(again).await.unwrap_err();
    assert_eq!(blocked.code(), Code::PermissionDenied);
    assert_eq!(reason(&blocked), "ACCOUNT_DISABLED");

    // Re-enabled, the villager logs in again.
    client
        .set_user_status(app.request(
            pb::SetUserStatusRequest {
                request_id: request_id(),
                user_id: created.id.clone(),
                status: pb::UserStatus::Active as i32,
                reason: "back".into(),
                locked_until: None,
            },
            &token,
        ))
        .await
        .unwrap();
    client
        .login_with_password(pb::LoginWithPasswordRequest {
            request_id: request_id(),
            ..login
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn change_phone_number_with_a_code_sent_to_the_new_number() {
    let app = TestApp::spawn(&[ServiceDef::of::<Identity>()]).await;
    let db = app.ctx.database("identity").await;
    let mut sms = Sms::listen(&app).await;
    let mut client = client(&app).await;
    let me = user_with(&db, "+8613500135000", "张三", None, &[]).await;
    user_with(&db, "+8613500135009", "李四", None, &[]).await;
    let token = app.token(&me.to_string(), &[]);

    let request_code = |phone: &str| pb::RequestOtpRequest {
        request_id: request_id(),
        phone_number: phone.into(),
        purpose: pb::OtpPurpose::ChangePhone as i32,
        locale: "zh-CN".into(),
    };
    let change = |phone: &str, code: &str| pb::ChangePhoneNumberRequest {
        request_id: request_id(),
        new_phone_number: phone.into(),
        otp_code: code.into(),
    };

    // A number that belongs to someone else.
    client
        .request_otp(request_code("+8613500135009"))
        .await
        .unwrap();
    let taken_code = sms.next().await.code;
    let taken = client
        .change_phone_number(app.request(change("+8613500135009", &taken_code), &token))
        .await
        .unwrap_err();
    assert_eq!(taken.code(), Code::AlreadyExists);

    client
        .request_otp(request_code("+8613500135001"))
        .await
        .unwrap();
    let otp = sms.next().await;
    assert_eq!(otp.phone_number, "+8613500135001");
    assert_eq!(otp.purpose, pb::OtpPurpose::ChangePhone as i32);
    let wrong = if otp.code == "000000" {
        "111111"
    } else {
        "000000"
    };
    let refused = client
        .change_phone_number(app.request(change("+8613500135001", wrong), &token))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&refused), ["otp_code"]);

    let changed = client
        .change_phone_number(app.request(change("+8613500135001", &otp.code), &token))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(changed.phone_number, "+8613500135001");
    let updated = client
        .update_user(app.request(
            pb::UpdateUserRequest {
                request_id: request_id(),
                user: Some(pb::User {
                    id: me.to_string(),
                    email: "zhang@example.com".into(),
                    locale: "en".into(),
                    display_name: "ignored: not in the mask".into(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["email".into(), "locale".into()],
                }),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(
        (
            updated.email.as_str(),
            updated.locale.as_str(),
            updated.display_name.as_str()
        ),
        ("zhang@example.com", "en", "张三")
    );
    assert_eq!(
        events(&app, "identity.user.updated").await,
        2,
        "the phone change and the profile change"
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) AS n FROM users WHERE phone_number = '+8613500135000'"
        )
        .await,
        0
    );
    // The code is spent.
    let reused = client
        .change_phone_number(app.request(change("+8613500135001", &otp.code), &token))
        .await
        .unwrap_err();
    assert_eq!(reason(&reused), "OTP_ALREADY_USED");
}

#[tokio::test]
async fn reset_and_change_password_revoke_sessions() {
    let app = TestApp::spawn(&[ServiceDef::of::<Identity>()]).await;
    let db = app.ctx.database("identity").await;
    let mut sms = Sms::listen(&app).await;
    let mut client = client(&app).await;
    let phone = "+8613400134000";
    let me = user_with(&db, phone, "孙七", None, &[]).await;
    let token = app.token(&me.to_string(), &[]);
    let login = |password: &str| pb::LoginWithPasswordRequest {
        request_id: request_id(),
        phone_number: phone.into(),
        password: password.into(),
        client_description: "phone".into(),
    };

    // No password yet and no recent login: a first password needs a fresh login.
    let stale = client
        .change_password(app.request(
            pb::ChangePasswordRequest {
                request_id: request_id(),
                current_password: String::new(),
                new_password: PASSWORD.into(),
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(reason(&stale), "RECENT_LOGIN_REQUIRED");

    // A helper acting for the villager cannot change their password or phone number.
    let helper = app
        .issuer
        .build(&me.to_string())
        .actor(&Uuid::now_v7().to_string())
        .sign();
    let delegated = client
        .change_password(app.request(
            pb::ChangePasswordRequest {
                request_id: request_id(),
                current_password: String::new(),
                new_password: PASSWORD.into(),
            },
            &helper,
        ))
        .await
        .unwrap_err();
    assert_eq!(reason(&delegated), "DELEGATED_TOKEN");
    let agency = app
        .issuer
        .build(&Uuid::now_v7().to_string())
        .agency(&["identity.users:read"])
        .sign();
    let not_a_user = client
        .list_sessions(app.request(pb::ListSessionsRequest::default(), &agency))
        .await
        .unwrap_err();
    assert_eq!(reason(&not_a_user), "NOT_A_USER");

    // Reset with a code.
    client
        .request_otp(pb::RequestOtpRequest {
            request_id: request_id(),
            phone_number: phone.into(),
            purpose: pb::OtpPurpose::ResetPassword as i32,
            locale: "zh-CN".into(),
        })
        .await
        .unwrap();
    let otp = sms.next().await;
    let weak = client
        .reset_password(pb::ResetPasswordRequest {
            request_id: request_id(),
            phone_number: phone.into(),
            otp_code: otp.code.clone(),
            new_password: "123".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(weak.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&weak), ["new_password"]);
    client
        .reset_password(pb::ResetPasswordRequest {
            request_id: request_id(),
            phone_number: phone.into(),
            otp_code: otp.code.clone(),
            new_password: PASSWORD.into(),
        })
        .await
        .unwrap();
    let session = client
        .login_with_password(login(PASSWORD))
        .await
        .unwrap()
        .into_inner()
        .tokens
        .unwrap();

    // Change it: the current one is required, and every session ends.
    let wrong = client
        .change_password(app.request(
            pb::ChangePasswordRequest {
                request_id: request_id(),
                current_password: "not the password".into(),
                new_password: "山那边的梯田绿了".into(),
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), Code::Unauthenticated);
    client.login_with_password(login(PASSWORD)).await.unwrap();
    client
        .change_password(app.request(
            pb::ChangePasswordRequest {
                request_id: request_id(),
                current_password: PASSWORD.into(),
                new_password: "山那边的梯田绿了".into(),
            },
            &token,
        ))
        .await
        .unwrap();
    let refresh = client
        .refresh_token(pb::RefreshTokenRequest {
            request_id: request_id(),
            refresh_token: session.refresh_token,
        })
        .await
        .unwrap_err();
    assert_eq!(refresh.code(), Code::Unauthenticated);
    assert_eq!(
        client
            .login_with_password(login(PASSWORD))
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );
    client
        .login_with_password(login("山那边的梯田绿了"))
        .await
        .unwrap();

    // The user's own sessions, and their audit trail.
    let sessions = client
        .list_sessions(app.request(pb::ListSessionsRequest::default(), &token))
        .await
        .unwrap()
        .into_inner()
        .sessions;
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].login_method, pb::LoginMethod::Password as i32);
    let records = client
        .list_audit_records(app.request(
            pb::ListAuditRecordsRequest {
                target_id: me.to_string(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .records;
    let actions: Vec<&str> = records.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions, ["user.password_changed", "user.password_reset"]);
}

#[tokio::test]
async fn rotate_signing_key_changes_the_active_kid() {
    let app = TestApp::spawn(&[ServiceDef::of::<Identity>()]).await;
    let db = app.ctx.database("identity").await;
    let mut client = client(&app).await;
    let phone = "+8613300133000";
    user_with(&db, phone, "周八", None, &[]).await;
    db.execute_raw(Statement::from_sql_and_values(
        db.get_database_backend(),
        "UPDATE users SET password_hash = $1",
        [terrace_identity::domain::password::hash(PASSWORD)
            .unwrap()
            .into()],
    ))
    .await
    .unwrap();
    let login = || pb::LoginWithPasswordRequest {
        request_id: request_id(),
        phone_number: phone.into(),
        password: PASSWORD.into(),
        client_description: "phone".into(),
    };
    let before = client
        .login_with_password(login())
        .await
        .unwrap()
        .into_inner()
        .tokens
        .unwrap()
        .access_token;
    let admin = app.token(&Uuid::now_v7().to_string(), &[(Role::PlatformAdmin, "")]);
    let rotated = client
        .rotate_signing_key(app.request(
            pb::RotateSigningKeyRequest {
                request_id: request_id(),
                activation_delay: None,
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .new_key
        .unwrap();
    assert_ne!(rotated.kid, kid_of(&before));
    let after = client
        .login_with_password(login())
        .await
        .unwrap()
        .into_inner()
        .tokens
        .unwrap()
        .access_token;
    assert_eq!(kid_of(&after), rotated.kid);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) AS n FROM audit_records WHERE action = 'signing_key.rotated'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn bad_input_gets_field_violations_and_changes_nothing() {
    let app = TestApp::spawn(&[ServiceDef::of::<Identity>()]).await;
    let db = app.ctx.database("identity").await;
    let mut client = client(&app).await;
    let token = app.token(
        &Uuid::now_v7().to_string(),
        &[(Role::VillageOfficial, VILLAGE)],
    );

    let bad = client
        .create_user(app.request(
            pb::CreateUserRequest {
                request_id: "not a uuid".into(),
                user: Some(pb::User {
                    phone_number: "12345".into(),
                    display_name: "   ".into(),
                    locale: "fr".into(),
                    time_zone: "Mars/Olympus".into(),
                    email: "nobody".into(),
                    ..Default::default()
                }),
                password: "123".into(),
                initial_grants: vec![pb::RoleGrant {
                    role: pb::Role::Resident as i32,
                    scope: Some(AdminCode {
                        code: "11".into(),
                        level: AdminLevel::Village as i32,
                    }),
                    ..Default::default()
                }],
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert_eq!(
        violated_fields(&bad),
        [
            "request_id",
            "user.phone_number",
            "user.display_name",
            "user.locale",
            "user.time_zone",
            "user.email",
            "password",
            "initial_grants[0].scope.code",
        ]
    );

    let bad = client
        .update_user(app.request(
            pb::UpdateUserRequest {
                request_id: request_id(),
                user: Some(pb::User {
                    id: "someone".into(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["phone_number".into(), "nickname".into()],
                }),
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        violated_fields(&bad),
        ["user.id", "update_mask", "update_mask"]
    );

    let bad = client
        .set_user_status(app.request(
            pb::SetUserStatusRequest {
                request_id: String::new(),
                user_id: Uuid::now_v7().to_string(),
                status: 0,
                reason: String::new(),
                locked_until: None,
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&bad), ["request_id", "status", "reason"]);

    // The page (the platform's policy: a negative size says nothing of the token), then the
    // area, which only who governs the whole country may leave out.
    let list = |page_size: i32, page_token: &str, role: i32| pb::ListUsersRequest {
        page: Some(PageRequest {
            page_size,
            page_token: page_token.into(),
        }),
        role,
        ..Default::default()
    };
    for (request, expected) in [
        (
            list(-1, "%%%", 0),
            &["page.page_size", "page.page_token"][..],
        ),
        (list(10, "%%%", 99), &["page.page_token", "role"][..]),
        (list(10, "", 0), &["area"][..]),
    ] {
        let bad = client
            .list_users(app.request(request, &token))
            .await
            .unwrap_err();
        assert_eq!(bad.code(), Code::InvalidArgument);
        assert_eq!(violated_fields(&bad), expected);
    }

    // An unknown user is not found, for whoever asks.
    let missing = client
        .get_user(app.request(
            pb::GetUserRequest {
                user_id: Uuid::now_v7().to_string(),
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);

    assert_eq!(count(&db, "SELECT count(*) AS n FROM users").await, 0);
    assert_eq!(
        count(&db, "SELECT count(*) AS n FROM audit_records").await,
        0
    );
}

#[tokio::test]
async fn users_and_audit_records_are_paged_with_keyset_tokens() {
    let app = TestApp::spawn(&[ServiceDef::of::<Identity>()]).await;
    let db = app.ctx.database("identity").await;
    let mut client = client(&app).await;
    let official = app.token(
        &Uuid::now_v7().to_string(),
        &[(Role::VillageOfficial, VILLAGE)],
    );
    let admin = app.token(&Uuid::now_v7().to_string(), &[(Role::PlatformAdmin, "")]);
    let mut ids = Vec::new();
    // Created out of name order; listed in it.
    for (i, name) in ["c", "a", "e", "b", "d"].iter().enumerate() {
        let user = client
            .create_user(app.request(
                pb::CreateUserRequest {
                    request_id: request_id(),
                    user: Some(pb::User {
                        phone_number: format!("+861380013800{i}"),
                        display_name: (*name).to_owned(),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                &official,
            ))
            .await
            .unwrap()
            .into_inner()
            .user
            .unwrap();
        ids.push(user.id);
    }
    // Someone in another village, whom the village's list does not show.
    user_with(
        &db,
        "+8613800138009",
        "aa",
        None,
        &[(Role::Resident, OTHER_VILLAGE)],
    )
    .await;

    let mut names = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = client
            .list_users(app.request(
                pb::ListUsersRequest {
                    area: Some(code(VILLAGE)),
                    page: Some(PageRequest {
                        page_size: 2,
                        page_token: token.clone(),
                    }),
                    ..Default::default()
                },
                &official,
            ))
            .await
            .unwrap()
            .into_inner();
        pages += 1;
        names.extend(page.users.into_iter().map(|u| u.display_name));
        token = page.page.unwrap().next_page_token;
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(names, ["a", "b", "c", "d", "e"]);
    assert_eq!(pages, 3);

    // Filters: a name prefix, an exact phone number, a status; the admin sees the country.
    let by_query = |query: &str| pb::ListUsersRequest {
        area: Some(code(VILLAGE)),
        query: query.into(),
        ..Default::default()
    };
    let found = client
        .list_users(app.request(by_query("+8613800138001"), &official))
        .await
        .unwrap()
        .into_inner()
        .users;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].display_name, "a");
    let everyone = client
        .list_users(app.request(pb::ListUsersRequest::default(), &admin))
        .await
        .unwrap()
        .into_inner()
        .users;
    assert_eq!(everyone.len(), 6);
    let prefixed = client
        .list_users(app.request(
            pb::ListUsersRequest {
                query: "a".into(),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .users;
    assert_eq!(prefixed.len(), 2);
    let disabled = client
        .list_users(app.request(
            pb::ListUsersRequest {
                status: pb::UserStatus::Disabled as i32,
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .users;
    assert!(disabled.is_empty());

    // The admin pages through the audit trail, newest first: five users created, five grants.
    let mut actions = Vec::new();
    let mut token = String::new();
    loop {
        let page = client
            .list_audit_records(app.request(
                pb::ListAuditRecordsRequest {
                    page: Some(PageRequest {
                        page_size: 3,
                        page_token: token.clone(),
                    }),
                    actions: vec!["user.created".into(), "role.granted".into()],
                    area: Some(code(VILLAGE)),
                    ..Default::default()
                },
                &admin,
            ))
            .await
            .unwrap()
            .into_inner();
        actions.extend(page.records.into_iter().map(|r| (r.action, r.target_id)));
        token = page.page.unwrap().next_page_token;
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(actions.len(), 10);
    assert_eq!(actions[0], ("user.created".to_owned(), ids[4].clone()));
    assert_eq!(actions[9], ("role.granted".to_owned(), ids[0].clone()));
}

/// What a call answers, encoded, so that the answers of different RPCs compare alike.
type Answer = Result<Vec<u8>, tonic::Status>;

/// One mutating RPC of the table below: `call(false)` sends its request, `call(true)` another
/// request under the same `request_id`; `work` is the audit action it records once.
struct Mutating<'a> {
    rpc: &'static str,
    call: Box<dyn Fn(bool) -> futures::future::BoxFuture<'a, Answer> + 'a>,
    work: &'static str,
}

/// A [`Mutating`] calling `$method` as `$token`, with the request `$request` makes of a request
/// id (one for the case) and whether it is to be the other request.
macro_rules! mutating {
    ($app:expr, $client:expr, $token:expr, $method:ident, $work:expr,
     |$id:ident, $other:ident| $request:expr) => {{
        let (app, client, token, id) = ($app, $client.clone(), $token.clone(), request_id());
        Mutating {
            rpc: stringify!($method),
            work: $work,
            call: Box::new(move |$other: bool| {
                let mut client = client.clone();
                let $id = id.clone();
                let request = app.request($request, &token);
                Box::pin(async move { encoded(client.$method(request).await) })
            }),
        }
    }};
}

/// Encodes a call's answer.
fn encoded<T: prost::Message>(answer: Result<tonic::Response<T>, tonic::Status>) -> Answer {
    answer.map(|response| response.into_inner().encode_to_vec())
}

#[tokio::test]
async fn every_mutation_answers_a_retry_with_its_first_answer_and_refuses_a_reused_id() {
    let app = TestApp::spawn(&[ServiceDef::of::<Identity>()]).await;
    let db = app.ctx.database("identity").await;
    let client = client(&app).await;
    let official = Uuid::now_v7();
    let official_token = app.token(&official.to_string(), &[(Role::VillageOfficial, VILLAGE)]);
    let admin = app.token(&Uuid::now_v7().to_string(), &[(Role::PlatformAdmin, "")]);
    let villager = user_with(
        &db,
        "+8613700137100",
        "赵敏",
        Some(official),
        &[(Role::Resident, VILLAGE)],
    )
    .await;
    // A user who logged in just now (on the services' clock) sets a first password.
    let me = user_with(&db, "+8613700137101", "钱六", None, &[]).await;
    db.execute_raw(Statement::from_sql_and_values(
        db.get_database_backend(),
        "UPDATE users SET last_login_at = $2 WHERE id = $1",
        [me.into(), app.clock.now().into()],
    ))
    .await
    .unwrap();
    let my_token = app.token(&me.to_string(), &[]);

    let cases: Vec<Mutating<'_>> = vec![
        mutating!(
            &app,
            &client,
            &official_token,
            create_user,
            "user.created",
            |id, other| pb::CreateUserRequest {
                request_id: id,
                user: Some(pb::User {
                    phone_number: if other {
                        "+8613700137103"
                    } else {
                        "+8613700137102"
                    }
                    .into(),
                    display_name: "王大爷".into(),
                    ..Default::default()
                }),
                password: PASSWORD.into(),
                ..Default::default()
            }
        ),
        mutating!(
            &app,
            &client,
            &official_token,
            update_user,
            "user.updated",
            |id, other| pb::UpdateUserRequest {
                request_id: id,
                user: Some(pb::User {
                    id: villager.to_string(),
                    display_name: if other { "赵二" } else { "赵一" }.into(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["display_name".into()],
                }),
            }
        ),
        mutating!(
            &app,
            &client,
            &official_token,
            set_user_status,
            "user.status_changed",
            |id, other| pb::SetUserStatusRequest {
                request_id: id,
                user_id: villager.to_string(),
                status: pb::UserStatus::Disabled as i32,
                reason: if other {
                    "another reason"
                } else {
                    "moved away"
                }
                .into(),
                locked_until: None,
            }
        ),
        mutating!(
            &app,
            &client,
            &my_token,
            change_password,
            "user.password_changed",
            |id, other| pb::ChangePasswordRequest {
                request_id: id,
                current_password: String::new(),
                new_password: if other {
                    "山那边的梯田绿了"
                } else {
                    PASSWORD
                }
                .into(),
            }
        ),
        mutating!(
            &app,
            &client,
            &admin,
            rotate_signing_key,
            "signing_key.rotated",
            |id, other| pb::RotateSigningKeyRequest {
                request_id: id,
                activation_delay: other.then_some(prost_types::Duration {
                    seconds: 600,
                    nanos: 0,
                }),
            }
        ),
    ];

    for case in &cases {
        let first = (case.call)(false).await;
        let first = first.unwrap_or_else(|status| panic!("{}: {status:?}", case.rpc));
        let again = (case.call)(false)
            .await
            .unwrap_or_else(|status| panic!("{} retried: {status:?}", case.rpc));
        assert_eq!(again, first, "{}: a retry gets the first answer", case.rpc);
        let reused = (case.call)(true).await.unwrap_err();
        assert_eq!(reused.code(), Code::FailedPrecondition, "{}", case.rpc);
        assert_eq!(reason(&reused), "REQUEST_ID_REUSED", "{}", case.rpc);
        assert_eq!(audited(&db, case.work).await, 1, "{}: done once", case.rpc);
    }
    // Once each: one user made, one event per change.
    assert_eq!(
        count(
            &db,
            "SELECT count(*) AS n FROM users WHERE phone_number IN ('+8613700137102', '+8613700137103')"
        )
        .await,
        1
    );
    assert_eq!(events(&app, "identity.user.created").await, 1);
    assert_eq!(
        events(&app, "identity.user.updated").await,
        3,
        "the profile, the status and the password, once each"
    );
    // The request ids are the caller's own: another official's same id is another request.
    let mut client = client.clone();
    let other_official = app.token(
        &Uuid::now_v7().to_string(),
        &[(Role::VillageOfficial, VILLAGE)],
    );
    let id = request_id();
    for (token, phone) in [
        (&official_token, "+8613700137104"),
        (&other_official, "+8613700137105"),
    ] {
        client
            .create_user(app.request(
                pb::CreateUserRequest {
                    request_id: id.clone(),
                    user: Some(pb::User {
                        phone_number: phone.into(),
                        display_name: "村民".into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                token,
            ))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn changes_proven_with_a_code_answer_a_retry_without_spending_another_code() {
    let app = TestApp::spawn(&[ServiceDef::of::<Identity>()]).await;
    let db = app.ctx.database("identity").await;
    let mut sms = Sms::listen(&app).await;
    let mut client = client(&app).await;
    let me = user_with(&db, "+8613500135100", "张三", None, &[]).await;
    let token = app.token(&me.to_string(), &[]);
    let code_for = |phone: &str, purpose: pb::OtpPurpose| pb::RequestOtpRequest {
        request_id: request_id(),
        phone_number: phone.into(),
        purpose: purpose as i32,
        locale: "zh-CN".into(),
    };

    // ChangePhoneNumber: the same request twice at once, then again, then the id reused.
    client
        .request_otp(code_for("+8613500135101", pb::OtpPurpose::ChangePhone))
        .await
        .unwrap();
    let code = sms.next().await.code;
    let change = pb::ChangePhoneNumberRequest {
        request_id: request_id(),
        new_phone_number: "+8613500135101".into(),
        otp_code: code,
    };
    let changer = client.clone();
    let call = |request: pb::ChangePhoneNumberRequest| {
        let mut client = changer.clone();
        let request = app.request(request, &token);
        async move { encoded(client.change_phone_number(request).await) }
    };
    let (one, two) = tokio::join!(call(change.clone()), call(change.clone()));
    let first = one.unwrap();
    assert_eq!(two.unwrap(), first, "the one in flight answers both");
    assert_eq!(call(change.clone()).await.unwrap(), first);
    client
        .request_otp(code_for("+8613500135102", pb::OtpPurpose::ChangePhone))
        .await
        .unwrap();
    let reused = call(pb::ChangePhoneNumberRequest {
        new_phone_number: "+8613500135102".into(),
        otp_code: sms.next().await.code,
        ..change.clone()
    })
    .await
    .unwrap_err();
    assert_eq!(reason(&reused), "REQUEST_ID_REUSED");
    assert_eq!(audited(&db, "user.phone_changed").await, 1);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) AS n FROM users WHERE phone_number = '+8613500135101'"
        )
        .await,
        1
    );

    // ResetPassword, public: a retry gets the first (empty) answer and resets nothing again.
    client
        .request_otp(code_for("+8613500135101", pb::OtpPurpose::ResetPassword))
        .await
        .unwrap();
    let reset = pb::ResetPasswordRequest {
        request_id: request_id(),
        phone_number: "+8613500135101".into(),
        otp_code: sms.next().await.code,
        new_password: PASSWORD.into(),
    };
    client.reset_password(reset.clone()).await.unwrap();
    client.reset_password(reset.clone()).await.unwrap();
    assert_eq!(audited(&db, "user.password_reset").await, 1);
    // A caller without a token is known only by its request: the same id with another password
    // is another request, and the code it carries is spent.
    let other = client
        .reset_password(pb::ResetPasswordRequest {
            new_password: "山那边的梯田绿了".into(),
            ..reset
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&other), "OTP_ALREADY_USED");
    client
        .login_with_password(pb::LoginWithPasswordRequest {
            request_id: request_id(),
            phone_number: "+8613500135101".into(),
            password: PASSWORD.into(),
            client_description: "phone".into(),
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn create_user_retried_after_the_log_was_pruned_finds_the_user_it_made() {
    let app = TestApp::spawn(&[ServiceDef::of::<Identity>()]).await;
    let db = app.ctx.database("identity").await;
    let mut client = client(&app).await;
    let official = Uuid::now_v7().to_string();
    let create = pb::CreateUserRequest {
        request_id: request_id(),
        user: Some(pb::User {
            phone_number: "+8613600136100".into(),
            display_name: "王大爷".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let token = app.token(&official, &[(Role::VillageOfficial, VILLAGE)]);
    let created = client
        .create_user(app.request(create.clone(), &token))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();

    // The phone comes back online after more than a week; meanwhile the user was renamed and the
    // log forgot the request.
    app.clock
        .advance(terrace_platform::idempotency::RETENTION + std::time::Duration::from_secs(60));
    let token = app.token(&official, &[(Role::VillageOfficial, VILLAGE)]);
    client
        .update_user(app.request(
            pb::UpdateUserRequest {
                request_id: request_id(),
                user: Some(pb::User {
                    id: created.id.clone(),
                    display_name: "王老汉".into(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["display_name".into()],
                }),
            },
            &token,
        ))
        .await
        .unwrap();
    // (The service's own prune job may have run when the clock moved; this makes sure.)
    terrace_platform::idempotency::prune(
        &db,
        app.clock.now(),
        terrace_platform::idempotency::RETENTION,
    )
    .await
    .unwrap();
    assert_eq!(
        count(
            &db,
            "SELECT count(*) AS n FROM idempotency WHERE rpc = 'CreateUser'"
        )
        .await,
        0,
        "the first answer is forgotten"
    );

    let again = client
        .create_user(app.request(create, &token))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(again.id, created.id);
    assert_eq!(again.display_name, "王老汉", "the user as they now are");
    assert_eq!(count(&db, "SELECT count(*) AS n FROM users").await, 1);
    assert_eq!(audited(&db, "user.created").await, 1);
}

/// A user with a password and `grants`, logged in `sessions` times; their id.
async fn logged_in(app: &TestApp, phone: &str, grants: &[(Role, &str)], sessions: usize) -> Uuid {
    let db = app.ctx.database("identity").await;
    let user = terrace_identity::admin::create_user(
        &db,
        terrace_identity::admin::NewAccount {
            phone,
            display_name: "村民",
            password: Some("村口老槐树下的井"),
            locale: "zh-CN",
            time_zone: "Asia/Shanghai",
        },
        "test",
    )
    .await
    .unwrap()
    .unwrap();
    for (role, area) in grants {
        terrace_identity::admin::grant(&db, phone, RoleGrant::parse(*role, area).unwrap(), "test")
            .await
            .unwrap();
    }
    let mut client = IdentityServiceClient::new(app.channel().await);
    for _ in 0..sessions {
        client
            .login_with_password(pb::LoginWithPasswordRequest {
                request_id: request_id(),
                phone_number: phone.into(),
                password: "村口老槐树下的井".into(),
                client_description: String::new(),
            })
            .await
            .unwrap();
    }
    user.id
}

#[tokio::test]
async fn an_official_who_outranks_a_user_ends_their_sessions_and_nobody_else_does() {
    let app = TestApp::spawn(&[ServiceDef::of::<Identity>()]).await;
    let db = app.ctx.database("identity").await;
    let mut client = IdentityServiceClient::new(app.channel().await);
    let village = "110101001001";
    let villager = logged_in(&app, "+8613700137201", &[(Role::Resident, village)], 2).await;
    let official = logged_in(
        &app,
        "+8613700137202",
        &[(Role::VillageOfficial, village)],
        1,
    )
    .await;
    let revoke = |user: Uuid| pb::RevokeAllSessionsRequest {
        request_id: request_id(),
        user_id: user.to_string(),
        reason: "phone stolen".into(),
    };
    let as_ = |id: Uuid, grants: &[(Role, &str)]| app.token(&id.to_string(), grants);

    // Another village's official does not know the villager; a peer official is not outranked.
    let elsewhere = as_(Uuid::now_v7(), &[(Role::VillageOfficial, "110101002001")]);
    let refused = client
        .revoke_all_sessions(app.request(revoke(villager), &elsewhere))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::NotFound, "{refused:?}");
    let peer = as_(Uuid::now_v7(), &[(Role::VillageOfficial, village)]);
    let refused = client
        .revoke_all_sessions(app.request(revoke(official), &peer))
        .await
        .unwrap_err();
    assert_eq!(reason(&refused), "OUTRANKED");
    let villager_token = as_(villager, &[(Role::Resident, village)]);
    let refused = client
        .revoke_all_sessions(app.request(revoke(official), &villager_token))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::NotFound, "{refused:?}");
    assert_eq!(
        count(
            &db,
            "SELECT count(*) AS n FROM sessions WHERE revoked_at IS NULL"
        )
        .await,
        3,
        "refusals ended nothing"
    );

    // The village's official ends the villager's two sessions, on the record.
    let ended = client
        .revoke_all_sessions(app.request(
            revoke(villager),
            &as_(official, &[(Role::VillageOfficial, village)]),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ended.revoked_count, 2);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) AS n FROM sessions WHERE revoked_at IS NULL"
        )
        .await,
        1,
        "the official's own session stays"
    );
    assert_eq!(audited(&db, "user.sessions_revoked").await, 1);
}
