//! Agency clients over real gRPC: created, read, listed, updated, rotated and revoked by those
//! allowed to, refused to everyone else without a trace; credentials exchanged for tokens that
//! another service's verifier reads as an agency with its scopes and areas.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sea_orm::{ConnectionTrait, Statement};
use terrace_identity::Identity;
use terrace_identity::agencies::REFUSED;
use terrace_platform::auth::{KeySource, PrincipalKind, Role, RoleGrant, Verifier};
use terrace_platform::config::AuthSettings;
use terrace_platform::service::ServiceDef;
use terrace_proto::common::v1::{AdminCode, AdminLevel};
use terrace_proto::identity::v1 as pb;
use terrace_proto::identity::v1::identity_service_client::IdentityServiceClient;
use terrace_testkit::TestApp;
use terrace_testkit::rpc::{reason, request_id, violated_fields};
use terrace_testkit::tls::TestPki;
use tonic::transport::Channel;
use tonic::{Code, Status};
use tonic_types::StatusExt as _;
use uuid::Uuid;

type Client = IdentityServiceClient<Channel>;

/// Identity alone, with `section` as its settings. Callers' tokens come from the test issuer
/// (`app.token`); the tokens identity mints are checked with [`identity_verifier`].
async fn identity(section: serde_json::Value) -> TestApp {
    TestApp::spawn_with(&[ServiceDef::of::<Identity>()], |settings| {
        settings.services.insert("identity".into(), section);
    })
    .await
}

/// A verifier as another service in another process has one: identity's JWKS over HTTP.
fn identity_verifier(app: &TestApp) -> Verifier {
    let url = format!("http://{}/.well-known/jwks.json", app.http_addr);
    let auth = AuthSettings {
        jwks_url: Some(url.clone()),
        ..app.settings.auth.clone()
    };
    Verifier::new(&auth, KeySource::Url(url))
}

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

fn secret_client(name: &str, scopes: &[&str], areas: &[&str]) -> pb::AgencyClient {
    pb::AgencyClient {
        name: name.into(),
        description: "张主任, 0851-1234567".into(),
        auth_method: pb::AgencyAuthMethod::Secret as i32,
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        areas: areas.iter().map(|a| code(a)).collect(),
        ..Default::default()
    }
}

async fn create(
    app: &TestApp,
    client: &mut Client,
    token: &str,
    agency: pb::AgencyClient,
) -> Result<pb::CreateAgencyClientResponse, Status> {
    let request = pb::CreateAgencyClientRequest {
        request_id: request_id(),
        client: Some(agency),
    };
    client
        .create_agency_client(app.request(request, token))
        .await
        .map(tonic::Response::into_inner)
}

/// Client `id` as `token` reads it.
async fn read(app: &TestApp, client: &mut Client, token: &str, id: &str) -> pb::AgencyClient {
    let request = pb::GetAgencyClientRequest {
        client_id: id.to_owned(),
    };
    client
        .get_agency_client(app.request(request, token))
        .await
        .unwrap()
        .into_inner()
        .client
        .unwrap()
}

async fn exchange(
    client: &mut Client,
    client_id: &str,
    secret: &str,
) -> Result<pb::ExchangeClientCredentialsResponse, Status> {
    exchange_for(client, client_id, secret, &[], &[]).await
}

async fn exchange_for(
    client: &mut Client,
    client_id: &str,
    secret: &str,
    scopes: &[&str],
    areas: &[&str],
) -> Result<pb::ExchangeClientCredentialsResponse, Status> {
    client
        .exchange_client_credentials(pb::ExchangeClientCredentialsRequest {
            request_id: request_id(),
            client_id: client_id.into(),
            client_secret: secret.into(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            areas: areas.iter().map(|a| code(a)).collect(),
        })
        .await
        .map(tonic::Response::into_inner)
}

#[track_caller]
fn assert_refused<T: std::fmt::Debug>(result: Result<T, Status>, what: &str) {
    let status = result.expect_err(what);
    assert_eq!(status.code(), Code::Unauthenticated, "{what}: {status:?}");
    assert_eq!(status.message(), REFUSED, "{what}");
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

/// How many agency clients, agency audit records and agency events there are.
async fn footprint(app: &TestApp) -> (i64, i64, i64) {
    let db = &app.ctx.database("identity").await;
    (
        count(db, "SELECT count(*) AS n FROM agency_clients").await,
        count(
            db,
            "SELECT count(*) AS n FROM audit_records WHERE action LIKE 'agency.%'",
        )
        .await,
        terrace_testkit::events::published(app, "identity", "identity.agency.*").await as i64,
    )
}

#[tokio::test]
async fn a_platform_admin_creates_a_client_whose_token_verifies_as_an_agency() {
    let app = identity(serde_json::json!({})).await;
    let db = app.ctx.database("identity").await;
    let mut client = Client::new(app.channel().await);
    let admin_id = Uuid::now_v7().to_string();
    let admin = app.token(&admin_id, &[(Role::PlatformAdmin, "")]);

    let created = create(
        &app,
        &mut client,
        &admin,
        secret_client(
            "县农业农村局 data platform",
            &["governance.requests:write", "agri.statistics:read"],
            &["110101", "120101001001"],
        ),
    )
    .await
    .unwrap();
    let agency = created.client.unwrap();
    let secret = created.client_secret;
    assert_eq!(URL_SAFE_NO_PAD.decode(&secret).unwrap().len(), 32);
    assert_eq!(agency.secret_hint, secret[secret.len() - 4..]);
    assert_eq!(agency.status, pb::AgencyClientStatus::Active as i32);
    assert_eq!(agency.auth_method, pb::AgencyAuthMethod::Secret as i32);
    assert_eq!(agency.areas, [code("110101"), code("120101001001")]);
    assert_eq!(
        agency
            .audit
            .as_ref()
            .unwrap()
            .creator
            .as_ref()
            .unwrap()
            .user_id,
        admin_id
    );
    let client_id = agency.id.clone();
    // Only an argon2id hash of the secret is kept.
    let stored: String = db
        .query_one_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            "SELECT secret_hash FROM agency_clients WHERE id = $1",
            [Uuid::parse_str(&client_id).unwrap().into()],
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get("", "secret_hash")
        .unwrap();
    assert!(stored.starts_with("$argon2id$"), "{stored}");
    assert!(!stored.contains(&secret));
    // Audited and published in the same transaction.
    assert_eq!(footprint(&app).await, (1, 1, 1));
    assert_eq!(events(&app, "identity.agency.created").await, 1);

    // The exchange is public: no token, just the credentials.
    let issued_at = app.clock.now().timestamp();
    let exchanged = exchange(&mut client, &client_id, &secret).await.unwrap();
    assert_eq!(
        exchanged.scopes,
        ["governance.requests:write", "agri.statistics:read"]
    );
    let tokens = exchanged.tokens.unwrap();
    assert!(
        tokens.refresh_token.is_empty(),
        "agency tokens are not refreshed"
    );
    assert_eq!(tokens.token_type, "Bearer");
    let expires = tokens.access_token_expire_time.unwrap().seconds;
    assert_eq!(
        expires,
        issued_at + 15 * 60,
        "fifteen minutes by the service clock"
    );

    // Another service reads it as the agency, with its scopes and areas.
    let verifier = identity_verifier(&app);
    let principal = verifier.verify(&tokens.access_token).await.unwrap();
    assert_eq!(principal.kind, PrincipalKind::Agency);
    assert!(principal.is_agency());
    assert_eq!(principal.subject, client_id);
    assert_eq!(
        principal.api_scopes,
        ["governance.requests:write", "agri.statistics:read"]
    );
    assert_eq!(
        principal.grants,
        [
            RoleGrant::parse(Role::CountyAdmin, "110101").unwrap(),
            RoleGrant::parse(Role::VillageOfficial, "120101001001").unwrap(),
        ]
    );
    assert!(
        principal
            .require_api_scope("governance.requests:write")
            .is_ok()
    );
    assert!(
        principal
            .require_api_scope("governance.requests:read")
            .is_err()
    );
    assert!(
        principal
            .require_role_in(&[Role::CountyAdmin], "110101001001")
            .is_ok()
    );
    assert!(
        principal
            .require_role_in(&[Role::CountyAdmin], "110102001001")
            .is_err()
    );
    assert_eq!(principal.expires_at.timestamp(), expires);

    // A token for part of what the client may do.
    let narrow = exchange_for(
        &mut client,
        &client_id,
        &secret,
        &["agri.statistics:read"],
        &["110101001"],
    )
    .await
    .unwrap();
    assert_eq!(narrow.scopes, ["agri.statistics:read"]);
    let principal = verifier
        .verify(&narrow.tokens.unwrap().access_token)
        .await
        .unwrap();
    assert_eq!(principal.api_scopes, ["agri.statistics:read"]);
    assert_eq!(
        principal.grants,
        [RoleGrant::parse(Role::CountyAdmin, "110101001").unwrap()]
    );
    // ... never more.
    let status = exchange_for(
        &mut client,
        &client_id,
        &secret,
        &["market.orders:write"],
        &[],
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert_eq!(reason(&status), "SCOPE_NOT_ALLOWED");
    let status = exchange_for(&mut client, &client_id, &secret, &[], &["110102"])
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert_eq!(reason(&status), "AREA_NOT_ALLOWED");
    let status = exchange_for(&mut client, &client_id, &secret, &[], &["11"])
        .await
        .unwrap_err();
    assert_eq!(reason(&status), "AREA_NOT_ALLOWED", "broader than an area");

    // Reading it back never shows the secret; exchanges are not changes.
    let read = read(&app, &mut client, &admin, &client_id).await;
    assert_eq!(read.name, "县农业农村局 data platform");
    assert!(!format!("{read:?}").contains(&secret));
    assert_eq!(footprint(&app).await, (1, 1, 1));
}

#[tokio::test]
async fn only_admins_of_every_area_manage_a_client_and_refusals_change_nothing() {
    let app = identity(serde_json::json!({})).await;
    let mut client = Client::new(app.channel().await);
    let scope = ["identity.agencies:write"];

    let platform = app.token(&Uuid::now_v7().to_string(), &[(Role::PlatformAdmin, "")]);
    let county = app.token(
        &Uuid::now_v7().to_string(),
        &[(Role::CountyAdmin, "110101")],
    );
    let callers: [(&str, String); 7] = [
        ("platform admin", platform.clone()),
        ("county admin", county.clone()),
        (
            "township official",
            app.token(
                &Uuid::now_v7().to_string(),
                &[(Role::TownshipOfficial, "110101001")],
            ),
        ),
        (
            "village official",
            app.token(
                &Uuid::now_v7().to_string(),
                &[(Role::VillageOfficial, "110101001001")],
            ),
        ),
        (
            "farmer",
            app.token(
                &Uuid::now_v7().to_string(),
                &[(Role::Farmer, "110101001001")],
            ),
        ),
        (
            "agency",
            app.issuer
                .build(&Uuid::now_v7().to_string())
                .agency(&scope)
                .grants(&[(Role::CountyAdmin, "110101")])
                .sign(),
        ),
        (
            "helper acting for a county admin",
            app.issuer
                .build(&Uuid::now_v7().to_string())
                .grants(&[(Role::CountyAdmin, "110101")])
                .actor(&Uuid::now_v7().to_string())
                .sign(),
        ),
    ];
    // Village 110101001001 and county 110101 lie in the county admin's county; 110102 is the next
    // county; the fourth spans two provinces; then a province and the whole country.
    let targets: [&[&str]; 6] = [
        &["110101001001"],
        &["110101"],
        &["110102"],
        &["110101", "120101"],
        &["11"],
        &[""],
    ];
    // Written out by hand: may this caller create a client with these areas?
    let expected: [[bool; 6]; 7] = [
        [true, true, true, true, true, true],
        [true, true, false, false, false, false],
        [false; 6],
        [false; 6],
        [false; 6],
        [false; 6],
        [false; 6],
    ];

    let mut made_by_platform = Vec::new();
    let mut allowed = 0;
    for ((who, token), row) in callers.iter().zip(expected) {
        for (i, (areas, may)) in targets.iter().zip(row).enumerate() {
            let name = format!("client {i} of {who}");
            let result = create(
                &app,
                &mut client,
                token,
                secret_client(&name, &["agri.statistics:read"], areas),
            )
            .await;
            if may {
                let created = result
                    .unwrap_or_else(|e| panic!("{who} should create a client in {areas:?}: {e:?}"));
                if *who == "platform admin" {
                    made_by_platform.push(created.client.unwrap().id);
                }
                allowed += 1;
            } else {
                let status = result.expect_err(&format!("{who} must not create in {areas:?}"));
                assert_eq!(
                    status.code(),
                    Code::PermissionDenied,
                    "{who} {areas:?}: {status:?}"
                );
                let expected_reason = if *who == "county admin" {
                    "OUT_OF_SCOPE"
                } else {
                    "MISSING_ROLE"
                };
                assert_eq!(reason(&status), expected_reason, "{who} {areas:?}");
            }
        }
    }
    assert_eq!(allowed, 6 + 2);
    assert_eq!(footprint(&app).await, (8, 8, 8), "refusals left nothing");

    // Reading: the county admin sees the clients inside its county, and no other exists for it.
    let get = |id: &str| pb::GetAgencyClientRequest {
        client_id: id.to_owned(),
    };
    let county_sees = [true, true, false, false, false, false];
    for (id, sees) in made_by_platform.iter().zip(county_sees) {
        let result = client
            .get_agency_client(app.request(get(id), &county))
            .await;
        if sees {
            result.unwrap();
        } else {
            assert_eq!(result.unwrap_err().code(), Code::NotFound);
        }
    }
    let list = |token: &str, page_size: i32, page_token: String| {
        app.request(
            pb::ListAgencyClientsRequest {
                page: Some(terrace_proto::common::v1::PageRequest {
                    page_size,
                    page_token,
                }),
                ..Default::default()
            },
            token,
        )
    };
    let listed = client
        .list_agency_clients(list(&county, 0, String::new()))
        .await
        .unwrap()
        .into_inner();
    let names: Vec<String> = listed.clients.iter().map(|c| c.name.clone()).collect();
    assert_eq!(
        names,
        [
            "client 0 of county admin",
            "client 0 of platform admin",
            "client 1 of county admin",
            "client 1 of platform admin",
        ]
    );
    assert!(listed.page.unwrap().next_page_token.is_empty());
    // The platform admin pages through all eight by name.
    let mut all = Vec::new();
    let mut token = String::new();
    loop {
        let page = client
            .list_agency_clients(list(&platform, 3, token))
            .await
            .unwrap()
            .into_inner();
        assert!(page.clients.len() <= 3);
        all.extend(page.clients.into_iter().map(|c| c.name));
        token = page.page.unwrap().next_page_token;
        if token.is_empty() {
            break;
        }
    }
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(all.len(), 8);
    assert_eq!(all, sorted);
    // Filtered by area.
    let in_province = client
        .list_agency_clients(app.request(
            pb::ListAgencyClientsRequest {
                area: Some(code("12")),
                ..Default::default()
            },
            &platform,
        ))
        .await
        .unwrap()
        .into_inner()
        .clients;
    assert_eq!(
        in_province.len(),
        1,
        "only the client spanning two provinces"
    );

    // Nobody else reads, lists, changes, rotates or revokes anything.
    let target = &made_by_platform[0];
    for (who, token) in &callers[2..] {
        let denied = [
            client
                .get_agency_client(app.request(get(target), token))
                .await
                .unwrap_err(),
            client
                .list_agency_clients(list(token, 0, String::new()))
                .await
                .unwrap_err(),
            client
                .update_agency_client(app.request(
                    pb::UpdateAgencyClientRequest {
                        request_id: request_id(),
                        client: Some(pb::AgencyClient {
                            id: target.clone(),
                            name: "taken over".into(),
                            ..Default::default()
                        }),
                        update_mask: Some(prost_types::FieldMask {
                            paths: vec!["name".into()],
                        }),
                    },
                    token,
                ))
                .await
                .unwrap_err(),
            client
                .rotate_agency_client_secret(app.request(
                    pb::RotateAgencyClientSecretRequest {
                        request_id: request_id(),
                        client_id: target.clone(),
                        overlap: None,
                    },
                    token,
                ))
                .await
                .unwrap_err(),
            client
                .revoke_agency_client(app.request(
                    pb::RevokeAgencyClientRequest {
                        request_id: request_id(),
                        client_id: target.clone(),
                        reason: "taken over".into(),
                    },
                    token,
                ))
                .await
                .unwrap_err(),
        ];
        for status in denied {
            assert_eq!(status.code(), Code::PermissionDenied, "{who}: {status:?}");
            assert_eq!(reason(&status), "MISSING_ROLE", "{who}");
        }
    }
    assert_eq!(footprint(&app).await, (8, 8, 8));

    // The county admin inside its county: may rename, may not move the client out of it.
    let update =
        |id: &str, agency: pb::AgencyClient, paths: &[&str]| pb::UpdateAgencyClientRequest {
            request_id: request_id(),
            client: Some(pb::AgencyClient {
                id: id.to_owned(),
                ..agency
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: paths.iter().map(|p| (*p).to_owned()).collect(),
            }),
        };
    let moved = client
        .update_agency_client(app.request(
            update(
                target,
                pb::AgencyClient {
                    areas: vec![code("110102")],
                    ..Default::default()
                },
                &["areas"],
            ),
            &county,
        ))
        .await
        .unwrap_err();
    assert_eq!(moved.code(), Code::PermissionDenied);
    assert_eq!(reason(&moved), "OUT_OF_SCOPE");
    let renamed = client
        .update_agency_client(app.request(
            update(
                target,
                pb::AgencyClient {
                    name: "乡镇 data platform".into(),
                    scopes: vec!["agri.statistics:read".into(), "agri.plots:read".into()],
                    ..Default::default()
                },
                &["name", "scopes"],
            ),
            &county,
        ))
        .await
        .unwrap()
        .into_inner()
        .client
        .unwrap();
    assert_eq!(renamed.name, "乡镇 data platform");
    assert_eq!(renamed.scopes, ["agri.statistics:read", "agri.plots:read"]);
    assert_eq!(renamed.areas, [code("110101001001")], "areas untouched");
    assert_eq!(renamed.description, "张主任, 0851-1234567");
    // Outside its county the clients do not exist for it.
    let outside = &made_by_platform[2];
    for status in [
        client
            .update_agency_client(app.request(
                update(
                    outside,
                    pb::AgencyClient {
                        name: "x".into(),
                        ..Default::default()
                    },
                    &["name"],
                ),
                &county,
            ))
            .await
            .unwrap_err(),
        client
            .rotate_agency_client_secret(app.request(
                pb::RotateAgencyClientSecretRequest {
                    request_id: request_id(),
                    client_id: outside.clone(),
                    overlap: None,
                },
                &county,
            ))
            .await
            .unwrap_err(),
        client
            .revoke_agency_client(app.request(
                pb::RevokeAgencyClientRequest {
                    request_id: request_id(),
                    client_id: made_by_platform[3].clone(),
                    reason: "not mine".into(),
                },
                &county,
            ))
            .await
            .unwrap_err(),
    ] {
        assert_eq!(status.code(), Code::NotFound, "{status:?}");
    }
    // Inside it may rotate and revoke.
    client
        .rotate_agency_client_secret(app.request(
            pb::RotateAgencyClientSecretRequest {
                request_id: request_id(),
                client_id: made_by_platform[1].clone(),
                overlap: None,
            },
            &county,
        ))
        .await
        .unwrap();
    client
        .revoke_agency_client(app.request(
            pb::RevokeAgencyClientRequest {
                request_id: request_id(),
                client_id: target.clone(),
                reason: "the bureau moved to the provincial platform".into(),
            },
            &county,
        ))
        .await
        .unwrap();
    // Eight creations, one update, one rotation, one revocation: each audited and published once.
    assert_eq!(footprint(&app).await, (8, 11, 11));
    assert_eq!(events(&app, "identity.agency.updated").await, 2);
    assert_eq!(events(&app, "identity.agency.revoked").await, 1);
}

#[tokio::test]
async fn a_rotated_secret_works_until_the_overlap_ends_and_revocation_ends_everything() {
    let app = identity(serde_json::json!({ "agency_secret_overlap": "6s" })).await;
    let mut client = Client::new(app.channel().await);
    let admin = app.token(&Uuid::now_v7().to_string(), &[(Role::PlatformAdmin, "")]);
    let created = create(
        &app,
        &mut client,
        &admin,
        secret_client("rotation", &["governance.requests:read"], &["110101"]),
    )
    .await
    .unwrap();
    let id = created.client.unwrap().id;
    let first = created.client_secret;
    exchange(&mut client, &id, &first).await.unwrap();

    let rotate = |overlap: Option<prost_types::Duration>| pb::RotateAgencyClientSecretRequest {
        request_id: request_id(),
        client_id: id.clone(),
        overlap,
    };
    let rotated = client
        .rotate_agency_client_secret(app.request(rotate(None), &admin))
        .await
        .unwrap()
        .into_inner();
    let second = rotated.client_secret;
    assert_ne!(second, first);
    let agency = rotated.client.unwrap();
    assert_eq!(agency.secret_hint, second[second.len() - 4..]);
    let old_until = rotated.previous_secret_expire_time.unwrap().seconds;
    let now = app.clock.now().timestamp();
    assert_eq!(old_until, now + 6, "the configured overlap");
    // Both work during the overlap.
    exchange(&mut client, &id, &first).await.unwrap();
    exchange(&mut client, &id, &second).await.unwrap();
    // After it only the new one does.
    app.clock.advance(Duration::from_secs(7));
    assert_refused(
        exchange(&mut client, &id, &first).await,
        "the old secret after the overlap",
    );
    exchange(&mut client, &id, &second).await.unwrap();

    // A zero overlap ends the old secret at once; more than a week is refused.
    let too_long = client
        .rotate_agency_client_secret(app.request(
            rotate(Some(prost_types::Duration {
                seconds: 8 * 24 * 3600,
                nanos: 0,
            })),
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&too_long), ["overlap"]);
    let third = client
        .rotate_agency_client_secret(
            app.request(rotate(Some(prost_types::Duration::default())), &admin),
        )
        .await
        .unwrap()
        .into_inner()
        .client_secret;
    assert_refused(
        exchange(&mut client, &id, &second).await,
        "the old secret after a rotation without overlap",
    );
    exchange(&mut client, &id, &third).await.unwrap();

    // Revoked: the credentials are refused like wrong ones, and the client stays revoked.
    let revoked = client
        .revoke_agency_client(app.request(
            pb::RevokeAgencyClientRequest {
                request_id: request_id(),
                client_id: id.clone(),
                reason: "contract ended".into(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .client
        .unwrap();
    assert_eq!(revoked.status, pb::AgencyClientStatus::Revoked as i32);
    assert_refused(exchange(&mut client, &id, &third).await, "a revoked client");
    let before = footprint(&app).await;
    let again = client
        .revoke_agency_client(app.request(
            pb::RevokeAgencyClientRequest {
                request_id: request_id(),
                client_id: id.clone(),
                reason: "twice".into(),
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);
    assert_eq!(reason(&again), "ALREADY_REVOKED");
    let rotate_revoked = client
        .rotate_agency_client_secret(app.request(rotate(None), &admin))
        .await
        .unwrap_err();
    assert_eq!(rotate_revoked.code(), Code::FailedPrecondition);
    assert_eq!(reason(&rotate_revoked), "CLIENT_REVOKED");
    let update_revoked = client
        .update_agency_client(app.request(
            pb::UpdateAgencyClientRequest {
                request_id: request_id(),
                client: Some(pb::AgencyClient {
                    id: id.clone(),
                    name: "revived".into(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["name".into()],
                }),
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(update_revoked.code(), Code::FailedPrecondition);
    assert_eq!(footprint(&app).await, before, "refusals changed nothing");
    // Revoked clients are listed only when asked for.
    let list = |include_revoked| {
        app.request(
            pb::ListAgencyClientsRequest {
                include_revoked,
                ..Default::default()
            },
            &admin,
        )
    };
    assert!(
        client
            .list_agency_clients(list(false))
            .await
            .unwrap()
            .into_inner()
            .clients
            .is_empty()
    );
    assert_eq!(
        client
            .list_agency_clients(list(true))
            .await
            .unwrap()
            .into_inner()
            .clients
            .len(),
        1
    );
}

#[tokio::test]
async fn wrong_secrets_unknown_clients_and_mtls_clients_get_one_answer_and_are_throttled() {
    let app = identity(serde_json::json!({ "agency_exchanges_per_minute": 3 })).await;
    let mut client = Client::new(app.channel().await);
    let admin = app.token(&Uuid::now_v7().to_string(), &[(Role::PlatformAdmin, "")]);
    let created = create(
        &app,
        &mut client,
        &admin,
        secret_client("guessed at", &["agri.statistics:read"], &["110101"]),
    )
    .await
    .unwrap();
    let id = created.client.unwrap().id;
    let secret = created.client_secret;
    let mtls = create(
        &app,
        &mut client,
        &admin,
        pb::AgencyClient {
            auth_method: pb::AgencyAuthMethod::Mtls as i32,
            certificate_sha256: "ab".repeat(32),
            ..secret_client("certificate holder", &["agri.statistics:read"], &["110101"])
        },
    )
    .await
    .unwrap();
    assert!(
        mtls.client_secret.is_empty(),
        "an mTLS client has no secret"
    );
    let mtls = mtls.client.unwrap();
    assert_eq!(mtls.certificate_sha256, "ab".repeat(32));

    // The same code and message whatever is wrong, so a guesser learns nothing.
    let other = URL_SAFE_NO_PAD.encode([7u8; 32]);
    assert_refused(exchange(&mut client, &id, &other).await, "a wrong secret");
    assert_refused(
        exchange(&mut client, &Uuid::now_v7().to_string(), &secret).await,
        "an unknown client",
    );
    assert_refused(
        exchange(&mut client, &mtls.id, "").await,
        "an mTLS client without TLS",
    );
    // An mTLS client has no secret to rotate.
    let status = client
        .rotate_agency_client_secret(app.request(
            pb::RotateAgencyClientSecretRequest {
                request_id: request_id(),
                client_id: mtls.id.clone(),
                overlap: None,
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(reason(&status), "MTLS_CLIENT");

    // Three exchanges a minute for one client id: the fourth waits, even with the right secret.
    assert_refused(exchange(&mut client, &id, "wrong").await, "a wrong secret");
    exchange(&mut client, &id, &secret).await.unwrap();
    let status = exchange(&mut client, &id, &secret).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert_eq!(reason(&status), "TOO_MANY_ATTEMPTS");
    assert!(status.get_error_details().retry_info().is_some());
    // A minute later by the service clock (not the wall clock: a slow run changes nothing),
    // the client may exchange again.
    app.clock.advance(Duration::from_secs(60));
    exchange(&mut client, &id, &secret).await.unwrap();
}

#[tokio::test]
async fn malformed_requests_are_refused_field_by_field_and_change_nothing() {
    let app = identity(serde_json::json!({})).await;
    let mut client = Client::new(app.channel().await);
    let admin = app.token(&Uuid::now_v7().to_string(), &[(Role::PlatformAdmin, "")]);

    let bad = pb::CreateAgencyClientRequest {
        request_id: String::new(),
        client: Some(pb::AgencyClient {
            name: "  ".into(),
            auth_method: pb::AgencyAuthMethod::Unspecified as i32,
            scopes: vec![
                "governance:read".into(),
                "agri.statistics:read".into(),
                "agri.statistics:read".into(),
                "Agri.statistics:READ".into(),
            ],
            areas: vec![
                AdminCode {
                    code: "11010100100".into(),
                    level: AdminLevel::Village as i32,
                },
                AdminCode {
                    code: "110101000000".into(),
                    level: AdminLevel::Village as i32,
                },
            ],
            ..Default::default()
        }),
    };
    let status = client
        .create_agency_client(app.request(bad, &admin))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        violated_fields(&status),
        [
            "request_id",
            "client.auth_method",
            "client.areas[0].code",
            "client.areas[1].level",
            "client.name",
            "client.scopes[0]",
            "client.scopes[2]",
            "client.scopes[3]",
        ]
    );
    // No scopes, no areas, a name too long, a description with control characters.
    let empty = pb::AgencyClient {
        name: "名".repeat(101),
        description: "bell\u{7}".into(),
        ..secret_client("x", &[], &[])
    };
    let status = create(&app, &mut client, &admin, empty).await.unwrap_err();
    assert_eq!(
        violated_fields(&status),
        [
            "client.areas",
            "client.name",
            "client.description",
            "client.scopes"
        ]
    );
    // mTLS needs a fingerprint; a secret client has none.
    let mtls = pb::AgencyClient {
        auth_method: pb::AgencyAuthMethod::Mtls as i32,
        certificate_sha256: "AB".repeat(32),
        ..secret_client("x", &["agri.statistics:read"], &["110101"])
    };
    let status = create(&app, &mut client, &admin, mtls).await.unwrap_err();
    assert_eq!(violated_fields(&status), ["client.certificate_sha256"]);
    let secret_with_certificate = pb::AgencyClient {
        certificate_sha256: "ab".repeat(32),
        ..secret_client("x", &["agri.statistics:read"], &["110101"])
    };
    let status = create(&app, &mut client, &admin, secret_with_certificate)
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["client.certificate_sha256"]);
    assert_eq!(footprint(&app).await, (0, 0, 0));

    // Updates name what they change, and only what can change.
    let update = |id: &str, paths: &[&str]| pb::UpdateAgencyClientRequest {
        request_id: request_id(),
        client: Some(pb::AgencyClient {
            id: id.to_owned(),
            scopes: vec!["agri.statistics".into()],
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        }),
    };
    let real = create(
        &app,
        &mut client,
        &admin,
        secret_client("real", &["agri.statistics:read"], &["110101"]),
    )
    .await
    .unwrap()
    .client
    .unwrap()
    .id;
    let before = footprint(&app).await;
    for (request, expected) in [
        (update(&real, &[]), vec!["update_mask"]),
        (update(&real, &["status"]), vec!["update_mask"]),
        (update(&real, &["secret_hint"]), vec!["update_mask"]),
        (update(&real, &["scopes"]), vec!["client.scopes[0]"]),
        (update(&real, &["areas"]), vec!["client.areas"]),
        (update(&real, &["name"]), vec!["client.name"]),
        (update("client-7", &["description"]), vec!["client.id"]),
    ] {
        let status = client
            .update_agency_client(app.request(request, &admin))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert_eq!(violated_fields(&status), expected);
    }
    // A certificate for a client that authenticates with a secret.
    let status = client
        .update_agency_client(app.request(
            pb::UpdateAgencyClientRequest {
                request_id: request_id(),
                client: Some(pb::AgencyClient {
                    id: real.clone(),
                    certificate_sha256: "ab".repeat(32),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["certificate_sha256".into()],
                }),
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);

    // Rotation, revocation and the exchange.
    let status = client
        .rotate_agency_client_secret(app.request(
            pb::RotateAgencyClientSecretRequest {
                request_id: "not-a-uuid".into(),
                client_id: real.clone(),
                overlap: Some(prost_types::Duration {
                    seconds: -1,
                    nanos: 0,
                }),
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["request_id", "overlap"]);
    let status = client
        .revoke_agency_client(app.request(
            pb::RevokeAgencyClientRequest {
                request_id: request_id(),
                client_id: real.clone(),
                reason: " ".into(),
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["reason"]);
    let status = client
        .exchange_client_credentials(pb::ExchangeClientCredentialsRequest {
            request_id: String::new(),
            client_id: "client-7".into(),
            client_secret: "s".repeat(300),
            scopes: vec!["everything".into()],
            areas: vec![AdminCode {
                code: "1101".into(),
                level: AdminLevel::City as i32,
            }],
        })
        .await
        .unwrap_err();
    assert_eq!(
        violated_fields(&status),
        [
            "request_id",
            "client_id",
            "client_secret",
            "scopes[0]",
            "areas[0].code"
        ]
    );
    let status = client
        .get_agency_client(app.request(
            pb::GetAgencyClientRequest {
                client_id: String::new(),
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["client_id"]);
    let status = client
        .get_agency_client(app.request(
            pb::GetAgencyClientRequest {
                client_id: Uuid::now_v7().to_string(),
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    // The platform's page policy: a negative size is refused first; a token not from this list
    // (an old UUID token among them) is refused on its own.
    let page = |page_size, page_token: &str| {
        app.request(
            pb::ListAgencyClientsRequest {
                page: Some(terrace_proto::common::v1::PageRequest {
                    page_size,
                    page_token: page_token.into(),
                }),
                ..Default::default()
            },
            &admin,
        )
    };
    let status = client.list_agency_clients(page(-1, "x")).await.unwrap_err();
    assert_eq!(
        violated_fields(&status),
        ["page.page_size", "page.page_token"]
    );
    for token in ["x", real.as_str()] {
        let status = client
            .list_agency_clients(page(5, token))
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&status), ["page.page_token"], "{token:?}");
    }
    assert_eq!(footprint(&app).await, before, "refusals changed nothing");

    // Without a token, every management RPC is refused before it runs.
    let missing = [
        client
            .create_agency_client(pb::CreateAgencyClientRequest::default())
            .await
            .unwrap_err()
            .code(),
        client
            .get_agency_client(pb::GetAgencyClientRequest::default())
            .await
            .unwrap_err()
            .code(),
        client
            .list_agency_clients(pb::ListAgencyClientsRequest::default())
            .await
            .unwrap_err()
            .code(),
        client
            .update_agency_client(pb::UpdateAgencyClientRequest::default())
            .await
            .unwrap_err()
            .code(),
        client
            .rotate_agency_client_secret(pb::RotateAgencyClientSecretRequest::default())
            .await
            .unwrap_err()
            .code(),
        client
            .revoke_agency_client(pb::RevokeAgencyClientRequest::default())
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
async fn an_mtls_client_exchanges_with_its_certificate_and_with_no_other() {
    let pki = TestPki::new();
    let app = TestApp::spawn_tls(&[ServiceDef::of::<Identity>()], &pki, true, |settings| {
        settings
            .services
            .insert("identity".into(), serde_json::json!({}));
    })
    .await;
    let mut client = Client::new(app.channel().await);
    let admin = app.token(&Uuid::now_v7().to_string(), &[(Role::PlatformAdmin, "")]);
    let holder = pki.client("county bureau");
    let other = pki.client("someone else");
    let created = create(
        &app,
        &mut client,
        &admin,
        pb::AgencyClient {
            auth_method: pb::AgencyAuthMethod::Mtls as i32,
            certificate_sha256: holder.sha256.clone(),
            ..secret_client("certificate holder", &["agri.statistics:read"], &["110101"])
        },
    )
    .await
    .unwrap();
    let id = created.client.unwrap().id;

    // Its own certificate, no secret: a token for the agency.
    let mut as_holder = Client::new(pki.channel(app.grpc_addr, Some(&holder)).await.unwrap());
    let tokens = exchange(&mut as_holder, &id, "")
        .await
        .unwrap()
        .tokens
        .unwrap();
    let principal = identity_verifier(&app)
        .verify(&tokens.access_token)
        .await
        .unwrap();
    assert_eq!(principal.kind, PrincipalKind::Agency);
    assert_eq!(principal.subject, id);
    assert_eq!(principal.api_scopes, ["agri.statistics:read"]);

    // Another valid certificate of the same CA, no certificate, or a secret: the one refusal.
    let mut as_other = Client::new(pki.channel(app.grpc_addr, Some(&other)).await.unwrap());
    assert_refused(
        exchange(&mut as_other, &id, "").await,
        "another client's certificate",
    );
    assert_refused(exchange(&mut client, &id, "").await, "no certificate");
    let secret = URL_SAFE_NO_PAD.encode([7u8; 32]);
    assert_refused(
        exchange(&mut client, &id, &secret).await,
        "a secret instead of the certificate",
    );
    // A fingerprint in a header is not a certificate.
    let mut forged = tonic::Request::new(pb::ExchangeClientCredentialsRequest {
        request_id: request_id(),
        client_id: id.clone(),
        ..Default::default()
    });
    forged
        .metadata_mut()
        .insert("x-client-cert-sha256", holder.sha256.parse().unwrap());
    assert_refused(
        client.exchange_client_credentials(forged).await,
        "a fingerprint header",
    );

    // Revoked: its certificate no longer works.
    client
        .revoke_agency_client(app.request(
            pb::RevokeAgencyClientRequest {
                request_id: request_id(),
                client_id: id.clone(),
                reason: "certificate leaked".into(),
            },
            &admin,
        ))
        .await
        .unwrap();
    assert_refused(
        exchange(&mut as_holder, &id, "").await,
        "a revoked client's certificate",
    );
}

// --- Retries: every change is done once per caller and request_id ---

/// How many audit records of `action` there are.
async fn audits(db: &sea_orm::DatabaseConnection, action: &str) -> i64 {
    count(
        db,
        &format!("SELECT count(*) AS n FROM audit_records WHERE action = '{action}'"),
    )
    .await
}

/// How many events of `subject` were published.
async fn events(app: &TestApp, subject: &str) -> i64 {
    terrace_testkit::events::published(app, "identity", subject).await as i64
}

/// A `CreateAgencyClientRequest` with this request id.
fn create_request(request_id: &str, agency: pb::AgencyClient) -> pb::CreateAgencyClientRequest {
    pb::CreateAgencyClientRequest {
        request_id: request_id.to_owned(),
        client: Some(agency),
    }
}

fn mtls_client(name: &str) -> pb::AgencyClient {
    pb::AgencyClient {
        auth_method: pb::AgencyAuthMethod::Mtls as i32,
        certificate_sha256: "cd".repeat(32),
        ..secret_client(name, &["agri.statistics:read"], &["110101"])
    }
}

/// A running identity with a platform admin and one secret client of theirs.
struct WithClient {
    app: TestApp,
    db: sea_orm::DatabaseConnection,
    client: Client,
    admin: String,
    /// The agency client's id and secret.
    id: String,
    secret: String,
}

async fn with_a_client(scopes: &[&str]) -> WithClient {
    let app = identity(serde_json::json!({})).await;
    let db = app.ctx.database("identity").await;
    let mut client = Client::new(app.channel().await);
    let admin = app.token(&Uuid::now_v7().to_string(), &[(Role::PlatformAdmin, "")]);
    let created = create(
        &app,
        &mut client,
        &admin,
        secret_client("retried", scopes, &["110101"]),
    )
    .await
    .unwrap();
    WithClient {
        id: created.client.unwrap().id,
        secret: created.client_secret,
        app,
        db,
        client,
        admin,
    }
}

/// Renames client `id`.
fn rename(request_id: &str, id: &str, name: &str) -> pb::UpdateAgencyClientRequest {
    pb::UpdateAgencyClientRequest {
        request_id: request_id.to_owned(),
        client: Some(pb::AgencyClient {
            id: id.to_owned(),
            name: name.to_owned(),
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["name".into()],
        }),
    }
}

#[track_caller]
fn assert_failed_precondition(status: &Status, expected: &str) {
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert_eq!(reason(status), expected, "{status:?}");
}

#[tokio::test]
async fn a_retried_creation_makes_one_client_and_never_shows_its_secret_twice() {
    let app = identity(serde_json::json!({})).await;
    let mut client = Client::new(app.channel().await);
    let admin = app.token(&Uuid::now_v7().to_string(), &[(Role::PlatformAdmin, "")]);

    // A secret client: the retry is told the answer is gone and what to do instead.
    let id = request_id();
    let agency = secret_client("retried", &["agri.statistics:read"], &["110101"]);
    let first = client
        .create_agency_client(app.request(create_request(&id, agency.clone()), &admin))
        .await
        .unwrap()
        .into_inner();
    assert!(!first.client_secret.is_empty());
    let retried = client
        .create_agency_client(app.request(create_request(&id, agency.clone()), &admin))
        .await
        .unwrap_err();
    assert_failed_precondition(&retried, "ANSWER_NOT_KEPT");
    assert!(
        retried.message().contains("rotate its secret"),
        "{retried:?}"
    );
    assert!(!retried.message().contains(&first.client_secret));
    assert_eq!(footprint(&app).await, (1, 1, 1), "one client, made once");

    // The same id for another request is refused, whatever it asks.
    let other = secret_client("another", &["agri.statistics:read"], &["110101"]);
    let reused = client
        .create_agency_client(app.request(create_request(&id, other), &admin))
        .await
        .unwrap_err();
    assert_failed_precondition(&reused, "REQUEST_ID_REUSED");
    // Request ids are the caller's own: another admin's same id is another request.
    let other_admin = app.token(&Uuid::now_v7().to_string(), &[(Role::PlatformAdmin, "")]);
    client
        .create_agency_client(app.request(create_request(&id, agency), &other_admin))
        .await
        .unwrap();
    assert_eq!(footprint(&app).await, (2, 2, 2));

    // An mTLS client's answer holds no secret: its retry gets the first answer.
    let id = request_id();
    let first = client
        .create_agency_client(app.request(create_request(&id, mtls_client("mtls")), &admin))
        .await
        .unwrap()
        .into_inner();
    app.clock.advance(Duration::from_secs(60));
    let again = client
        .create_agency_client(app.request(create_request(&id, mtls_client("mtls")), &admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again, first, "the first answer, stamps and all");
    assert_eq!(footprint(&app).await, (3, 3, 3));
}

#[tokio::test]
async fn a_creation_retried_after_the_log_is_pruned_finds_its_client() {
    let app = identity(serde_json::json!({})).await;
    let db = app.ctx.database("identity").await;
    let mut client = Client::new(app.channel().await);
    let admin_id = Uuid::now_v7().to_string();
    let admin = app.token(&admin_id, &[(Role::PlatformAdmin, "")]);

    let secret_id = request_id();
    let secret_agency = secret_client("offline a week", &["agri.statistics:read"], &["110101"]);
    client
        .create_agency_client(
            app.request(create_request(&secret_id, secret_agency.clone()), &admin),
        )
        .await
        .unwrap();
    let mtls_id = request_id();
    let made = client
        .create_agency_client(app.request(create_request(&mtls_id, mtls_client("mtls")), &admin))
        .await
        .unwrap()
        .into_inner()
        .client
        .unwrap();
    // Renamed since: a retry finds the client as it now is.
    client
        .update_agency_client(app.request(rename(&request_id(), &made.id, "renamed"), &admin))
        .await
        .unwrap();

    // A week and more later the log has forgotten both requests.
    app.clock
        .advance(terrace_platform::idempotency::RETENTION + Duration::from_secs(3600));
    terrace_platform::idempotency::prune(
        &db,
        app.clock.now(),
        terrace_platform::idempotency::RETENTION,
    )
    .await
    .unwrap();
    assert_eq!(
        count(&db, "SELECT count(*) AS n FROM idempotency").await,
        0,
        "the log is empty"
    );
    let before = footprint(&app).await;
    assert_eq!(before.0, 2);

    // The same admin (a fresh token: the old one has expired) retries both.
    let admin = app.token(&admin_id, &[(Role::PlatformAdmin, "")]);
    for _ in 0..2 {
        let retried = client
            .create_agency_client(
                app.request(create_request(&secret_id, secret_agency.clone()), &admin),
            )
            .await
            .unwrap_err();
        assert_failed_precondition(&retried, "ANSWER_NOT_KEPT");
    }
    let found = client
        .create_agency_client(app.request(create_request(&mtls_id, mtls_client("mtls")), &admin))
        .await
        .unwrap()
        .into_inner();
    assert!(found.client_secret.is_empty());
    let found = found.client.unwrap();
    assert_eq!(found.id, made.id, "the client it made");
    assert_eq!(found.name, "renamed");
    assert_eq!(footprint(&app).await, before, "no second client, no trace");
}

#[tokio::test]
async fn a_retried_update_is_answered_as_first_and_done_once() {
    let WithClient {
        app,
        db,
        mut client,
        admin,
        id,
        ..
    } = with_a_client(&["agri.statistics:read"]).await;
    let update = |request_id: &str, name: &str| rename(request_id, &id, name);
    let once = request_id();
    let first = client
        .update_agency_client(app.request(update(&once, "first name"), &admin))
        .await
        .unwrap()
        .into_inner();
    // Done again a minute later, its update time would differ.
    app.clock.advance(Duration::from_secs(60));
    let again = client
        .update_agency_client(app.request(update(&once, "first name"), &admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again, first);
    assert_eq!(audits(&db, "agency.updated").await, 1);

    let reused = client
        .update_agency_client(app.request(update(&once, "second name"), &admin))
        .await
        .unwrap_err();
    assert_failed_precondition(&reused, "REQUEST_ID_REUSED");
    assert_eq!(audits(&db, "agency.updated").await, 1);
    let read = read(&app, &mut client, &admin, &id).await;
    assert_eq!(read.name, "first name");
}

#[tokio::test]
async fn a_retried_rotation_gives_no_second_secret() {
    let WithClient {
        app,
        db,
        mut client,
        admin,
        id,
        ..
    } = with_a_client(&["agri.statistics:read"]).await;
    let rotate = |request_id: &str, seconds: i64| pb::RotateAgencyClientSecretRequest {
        request_id: request_id.to_owned(),
        client_id: id.clone(),
        overlap: Some(prost_types::Duration { seconds, nanos: 0 }),
    };
    let once = request_id();
    let rotated = client
        .rotate_agency_client_secret(app.request(rotate(&once, 0), &admin))
        .await
        .unwrap()
        .into_inner();
    let retried = client
        .rotate_agency_client_secret(app.request(rotate(&once, 0), &admin))
        .await
        .unwrap_err();
    assert_failed_precondition(&retried, "ANSWER_NOT_KEPT");
    assert!(retried.message().contains("rotate again"), "{retried:?}");
    let reused = client
        .rotate_agency_client_secret(app.request(rotate(&once, 60), &admin))
        .await
        .unwrap_err();
    assert_failed_precondition(&reused, "REQUEST_ID_REUSED");
    // Rotated once: the first rotation's secret is the one in force.
    assert_eq!(audits(&db, "agency.secret_rotated").await, 1);
    exchange(&mut client, &id, &rotated.client_secret)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_retried_revocation_is_answered_as_first_and_done_once() {
    let WithClient {
        app,
        db,
        mut client,
        admin,
        id,
        ..
    } = with_a_client(&["agri.statistics:read"]).await;
    let revoke = |request_id: &str, reason: &str| pb::RevokeAgencyClientRequest {
        request_id: request_id.to_owned(),
        client_id: id.clone(),
        reason: reason.to_owned(),
    };
    let once = request_id();
    let first = client
        .revoke_agency_client(app.request(revoke(&once, "contract ended"), &admin))
        .await
        .unwrap()
        .into_inner();
    // A retry is answered as the first time, not ALREADY_REVOKED as a new revocation is.
    let again = client
        .revoke_agency_client(app.request(revoke(&once, "contract ended"), &admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again, first);
    let anew = client
        .revoke_agency_client(app.request(revoke(&request_id(), "contract ended"), &admin))
        .await
        .unwrap_err();
    assert_failed_precondition(&anew, "ALREADY_REVOKED");
    let reused = client
        .revoke_agency_client(app.request(revoke(&once, "another reason"), &admin))
        .await
        .unwrap_err();
    assert_failed_precondition(&reused, "REQUEST_ID_REUSED");
    assert_eq!(audits(&db, "agency.revoked").await, 1);
    assert_eq!(events(&app, "identity.agency.revoked").await, 1);
}

#[tokio::test]
async fn a_retried_exchange_issues_no_second_token() {
    let WithClient {
        app,
        db,
        mut client,
        admin,
        id,
        secret,
    } = with_a_client(&["agri.statistics:read", "governance.requests:read"]).await;
    let last_exchange = || async {
        db.query_one_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            "SELECT last_exchange_at FROM agency_clients WHERE id = $1",
            [Uuid::parse_str(&id).unwrap().into()],
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<Option<chrono::DateTime<chrono::Utc>>>("", "last_exchange_at")
        .unwrap()
    };
    let request = |request_id: &str, scopes: &[&str]| pb::ExchangeClientCredentialsRequest {
        request_id: request_id.to_owned(),
        client_id: id.clone(),
        client_secret: secret.clone(),
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        areas: Vec::new(),
    };

    let once = request_id();
    client
        .exchange_client_credentials(request(&once, &[]))
        .await
        .unwrap();
    let exchanged_at = last_exchange().await;
    assert!(exchanged_at.is_some());
    // A minute later the retry is refused without a token, and without an exchange.
    app.clock.advance(Duration::from_secs(60));
    let retried = client
        .exchange_client_credentials(request(&once, &[]))
        .await
        .unwrap_err();
    assert_failed_precondition(&retried, "ANSWER_NOT_KEPT");
    assert!(retried.message().contains("exchange again"), "{retried:?}");
    assert_eq!(last_exchange().await, exchanged_at, "not exchanged again");

    // A caller without a token is known by its request alone: the same id for another request
    // is another request. A caller with a token is known by it, and the id is refused.
    client
        .exchange_client_credentials(request(&once, &["agri.statistics:read"]))
        .await
        .unwrap();
    assert!(last_exchange().await > exchanged_at);
    let with_token = request_id();
    client
        .exchange_client_credentials(app.request(request(&with_token, &[]), &admin))
        .await
        .unwrap();
    let reused = client
        .exchange_client_credentials(
            app.request(request(&with_token, &["agri.statistics:read"]), &admin),
        )
        .await
        .unwrap_err();
    assert_failed_precondition(&reused, "REQUEST_ID_REUSED");
    // Refused credentials claim nothing: the same id then goes through with the right ones.
    let fresh = request_id();
    let wrong = pb::ExchangeClientCredentialsRequest {
        client_secret: URL_SAFE_NO_PAD.encode([7u8; 32]),
        ..request(&fresh, &[])
    };
    assert_refused(
        client
            .exchange_client_credentials(app.request(wrong, &admin))
            .await,
        "a wrong secret",
    );
    client
        .exchange_client_credentials(app.request(request(&fresh, &[]), &admin))
        .await
        .unwrap();
}

/// `ListAuditRecords` as `token` calls it: (action, target type, target id), newest first.
async fn audit_trail(
    app: &TestApp,
    client: &mut Client,
    token: &str,
    area: Option<&str>,
    target: &str,
) -> Vec<(String, String, String)> {
    let request = pb::ListAuditRecordsRequest {
        area: area.map(code),
        target_id: target.to_owned(),
        ..Default::default()
    };
    client
        .list_audit_records(app.request(request, token))
        .await
        .unwrap()
        .into_inner()
        .records
        .into_iter()
        .map(|record| (record.action, record.target_type, record.target_id))
        .collect()
}

#[tokio::test]
async fn a_county_admin_reads_the_audit_records_of_the_clients_they_manage_and_no_others() {
    let app = identity(serde_json::json!({})).await;
    let mut client = Client::new(app.channel().await);
    let county = app.token(
        &Uuid::now_v7().to_string(),
        &[(Role::CountyAdmin, "110101")],
    );
    let neighbour = app.token(
        &Uuid::now_v7().to_string(),
        &[(Role::CountyAdmin, "110102")],
    );
    let platform = app.token(&Uuid::now_v7().to_string(), &[(Role::PlatformAdmin, "")]);

    // The county admin's own client: created, rotated, revoked.
    let scopes = ["identity.users:read"];
    let ours = create(
        &app,
        &mut client,
        &county,
        secret_client("县统计局", &scopes, &["110101"]),
    )
    .await
    .unwrap()
    .client
    .unwrap()
    .id;
    client
        .rotate_agency_client_secret(app.request(
            pb::RotateAgencyClientSecretRequest {
                request_id: request_id(),
                client_id: ours.clone(),
                overlap: None,
            },
            &county,
        ))
        .await
        .unwrap();
    client
        .revoke_agency_client(app.request(
            pb::RevokeAgencyClientRequest {
                request_id: request_id(),
                client_id: ours.clone(),
                reason: "对接结束".into(),
            },
            &county,
        ))
        .await
        .unwrap();
    // The neighbouring county's client, and one acting in both counties, which neither county
    // admin manages (the agency screens do not show it to them either).
    let theirs = create(
        &app,
        &mut client,
        &platform,
        secret_client("邻县农业农村局", &scopes, &["110102"]),
    )
    .await
    .unwrap()
    .client
    .unwrap()
    .id;
    let shared = create(
        &app,
        &mut client,
        &platform,
        secret_client("市级平台", &scopes, &["110101", "110102"]),
    )
    .await
    .unwrap()
    .client
    .unwrap()
    .id;

    let about = |id: &str, actions: &[&str]| -> Vec<(String, String, String)> {
        actions
            .iter()
            .map(|action| {
                (
                    (*action).to_owned(),
                    "agency_client".to_owned(),
                    id.to_owned(),
                )
            })
            .collect()
    };
    let ours_trail = about(
        &ours,
        &["agency.revoked", "agency.secret_rotated", "agency.created"],
    );
    // Filtered by their county, as the console asks; unfiltered; by the client as the target.
    for (area, target) in [(Some("110101"), ""), (None, ""), (None, ours.as_str())] {
        assert_eq!(
            audit_trail(&app, &mut client, &county, area, target).await,
            ours_trail,
            "the county admin, area {area:?}, target {target:?}"
        );
    }
    let theirs_trail = about(&theirs, &["agency.created"]);
    for (area, target) in [(Some("110102"), ""), (None, ""), (None, theirs.as_str())] {
        assert_eq!(
            audit_trail(&app, &mut client, &neighbour, area, target).await,
            theirs_trail,
            "the neighbouring county admin, area {area:?}, target {target:?}"
        );
    }
    // Not the other county's client, even by its id.
    assert!(
        audit_trail(&app, &mut client, &neighbour, None, &ours)
            .await
            .is_empty()
    );
    assert!(
        audit_trail(&app, &mut client, &county, None, &shared)
            .await
            .is_empty()
    );
    let refused = client
        .list_audit_records(app.request(
            pb::ListAuditRecordsRequest {
                area: Some(code("110101")),
                ..Default::default()
            },
            &neighbour,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);

    // The platform admin sees every client's records; by area, those of the clients acting there.
    let everything = audit_trail(&app, &mut client, &platform, None, "").await;
    assert_eq!(everything.len(), 5);
    let in_neighbour: Vec<String> = audit_trail(&app, &mut client, &platform, Some("110102"), "")
        .await
        .into_iter()
        .map(|(_, _, id)| id)
        .collect();
    assert_eq!(in_neighbour, [shared.clone(), theirs.clone()]);
}
