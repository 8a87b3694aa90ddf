//! `terrace dev`: all five services in one process, healthy, listed, guarded, and stopping cleanly.

use terrace_proto::identity::v1::identity_service_client::IdentityServiceClient;
use terrace_proto::identity::v1::{
    GetJwksRequest, LoginWithOtpRequest, LoginWithPasswordRequest, OtpPurpose, RequestOtpRequest,
};
use terrace_proto::market::v1::ListCategoriesRequest;
use terrace_proto::market::v1::market_service_client::MarketServiceClient;
use terrace_testkit::TestContext;
use terrace_testkit::process::{TerraceProcess, health, reflected_services};
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;

const SERVICES: [&str; 5] = [
    "terrace.identity.v1.IdentityService",
    "terrace.governance.v1.GovernanceService",
    "terrace.agri.v1.AgriService",
    "terrace.market.v1.MarketService",
    "terrace.notify.v1.NotifyService",
];

#[tokio::test]
async fn dev_runs_every_service_and_stops_cleanly_on_sigterm() {
    let ctx = TestContext::new();
    let data_dir = std::env::temp_dir().join(format!("terrace-dev-sms-{}", ctx.id));
    let dev = TerraceProcess::start(
        std::path::Path::new(env!("CARGO_BIN_EXE_terrace")),
        &["dev", "--demo", "--data-dir", data_dir.to_str().unwrap()],
        &ctx,
    )
    .await
    .unwrap();
    let channel = dev.channel().await.unwrap();

    for service in SERVICES {
        assert_eq!(
            health(&channel, service).await,
            Some(ServingStatus::Serving),
            "{service}"
        );
    }
    let names = reflected_services(&channel).await.unwrap();
    for service in SERVICES {
        assert!(
            names.iter().any(|name| name == service),
            "{service} missing from {names:?}"
        );
    }

    // A public method answers without a token: identity publishes its signing keys, over gRPC
    // and on the HTTP port alike.
    let keys = IdentityServiceClient::new(channel.clone())
        .get_jwks(GetJwksRequest::default())
        .await
        .unwrap()
        .into_inner()
        .keys;
    assert!(!keys.is_empty(), "identity made a signing key at start");
    let http_jwks = terrace_testkit::http_client()
        .get(format!(
            "http://127.0.0.1:{}/.well-known/jwks.json",
            dev.http_port
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for key in &keys {
        assert!(
            http_jwks.contains(&key.kid),
            "{} missing from {http_jwks}",
            key.kid
        );
    }
    // --demo made the demonstration accounts: log in as the farmer.
    let login = IdentityServiceClient::new(channel.clone())
        .login_with_password(LoginWithPasswordRequest {
            request_id: uuid::Uuid::now_v7().to_string(),
            phone_number: "+8613800000001".into(),
            password: "terrace-demo-farmer".into(),
            client_description: "dev test".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(login.user.unwrap().display_name, "王秀英（农户）");
    // One-time codes go out through notify's development SMS provider into the log; the farmer
    // logs in with one.
    IdentityServiceClient::new(channel.clone())
        .request_otp(RequestOtpRequest {
            request_id: uuid::Uuid::now_v7().to_string(),
            phone_number: "+8613800000001".into(),
            purpose: OtpPurpose::Login as i32,
            locale: "zh-CN".into(),
        })
        .await
        .unwrap();
    let sms_log = data_dir.join("sms.log");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    let code = loop {
        let log = std::fs::read_to_string(&sms_log).unwrap_or_default();
        // notify's development provider: `<phone> 【Terrace】验证码 123456，...`.
        if let Some(code) = log
            .lines()
            .filter(|line| line.starts_with("+8613800000001 "))
            .find_map(|line| {
                let (_, after) = line
                    .split_once("验证码 ")
                    .or_else(|| line.split_once("code "))?;
                Some(after.get(..6)?.to_owned())
            })
        {
            break code;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no code in {}",
            sms_log.display()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let login = IdentityServiceClient::new(channel.clone())
        .login_with_otp(LoginWithOtpRequest {
            request_id: uuid::Uuid::now_v7().to_string(),
            phone_number: "+8613800000001".into(),
            otp_code: code,
            client_description: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(login.user.unwrap().phone_number, "+8613800000001");
    let _ = std::fs::remove_dir_all(&data_dir);

    // A guarded method needs a token.
    let status = MarketServiceClient::new(channel.clone())
        .list_categories(ListCategoriesRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");

    // Metrics on the side port count those calls.
    let metrics = terrace_testkit::http_client()
        .get(format!("http://127.0.0.1:{}/metrics", dev.http_port))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let refused = metrics.lines().find(|line| {
        line.starts_with("rpc_server_requests_total")
            && line.contains("rpc_method=\"ListCategories\"")
    });
    assert!(
        refused.is_some_and(|line| line.contains("rpc_grpc_status_code=\"16\"")),
        "the refused call is counted as UNAUTHENTICATED: {metrics}"
    );

    // SIGTERM: the process drains and exits 0.
    let status = dev.terminate().await.unwrap();
    assert!(status.success(), "terrace dev exited with {status}");
}

#[tokio::test]
async fn serve_runs_one_service_as_its_container_does() {
    let ctx = TestContext::new();
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_terrace"));
    let market = TerraceProcess::start(bin, &["serve", "--service", "market"], &ctx)
        .await
        .unwrap();
    let channel = market.channel().await.unwrap();
    assert_eq!(
        health(&channel, "terrace.market.v1.MarketService").await,
        Some(ServingStatus::Serving)
    );
    // Only market is registered: health knows nothing of the others.
    assert_eq!(
        health(&channel, "terrace.identity.v1.IdentityService").await,
        None
    );
    let status = market.terminate().await.unwrap();
    assert!(status.success(), "terrace serve exited with {status}");
}

#[tokio::test]
async fn migrate_creates_and_migrates_every_database_then_exits() {
    use sea_orm::{ConnectionTrait, Statement};

    let ctx = TestContext::new();
    let status = tokio::process::Command::new(env!("CARGO_BIN_EXE_terrace"))
        .arg("migrate")
        .env(
            "TERRACE__DATABASE__DATABASE_PREFIX",
            &ctx.settings.database.database_prefix,
        )
        .env("TERRACE__TELEMETRY__LOG_FILTER", "warn")
        .status()
        .await
        .unwrap();
    assert!(status.success());
    for service in ["identity", "governance", "agri", "market", "notify"] {
        let db = ctx.database(service).await;
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT count(*) AS n FROM seaql_migrations WHERE version LIKE '%platform_outbox'",
            ))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            row.try_get::<i64>("", "n").unwrap(),
            1,
            "{service} is migrated"
        );
    }
    let unknown = tokio::process::Command::new(env!("CARGO_BIN_EXE_terrace"))
        .args(["migrate", "--service", "weather"])
        .stderr(std::process::Stdio::piped())
        .output()
        .await
        .unwrap();
    assert!(!unknown.status.success());
    let message = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        message.contains("one of: identity, governance, agri, market, notify"),
        "{message}"
    );
}

#[tokio::test]
async fn dev_starts_a_private_postgresql_and_nats_when_none_listens() {
    use terrace_testkit::process::free_port;

    // Ports where nothing listens: terrace dev must bring its own servers (they, and everything
    // in them, go with the data directory).
    let private = TestContext::new();
    let data_dir = std::env::temp_dir().join(format!("terrace-dev-{}", private.id));
    let (pg_port, nats_port) = (free_port().await.unwrap(), free_port().await.unwrap());
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_terrace"));
    let dev = TerraceProcess::start_with_env(
        bin,
        &["dev", "--data-dir", data_dir.to_str().unwrap()],
        &private,
        &[
            (
                "TERRACE__DATABASE__URL",
                format!("postgres://postgres@127.0.0.1:{pg_port}"),
            ),
            (
                "TERRACE__NATS__URL",
                format!("nats://127.0.0.1:{nats_port}"),
            ),
        ],
    )
    .await
    .unwrap();
    assert!(
        data_dir.join("postgres/PG_VERSION").exists(),
        "a private cluster was initialised"
    );
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", nats_port))
            .await
            .is_ok(),
        "a private nats listens"
    );
    let status = dev.terminate().await.unwrap();
    assert!(status.success(), "terrace dev exited with {status}");
    // Both were stopped with it.
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", pg_port))
            .await
            .is_err(),
        "postgresql stopped"
    );
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", nats_port))
            .await
            .is_err(),
        "nats stopped"
    );
    let _ = std::fs::remove_dir_all(&data_dir);
}

/// Runs `terrace <args>` against `ctx`'s databases, with `stdin` as its input.
async fn terrace(ctx: &TestContext, args: &[&str], stdin: &str) -> std::process::Output {
    use tokio::io::AsyncWriteExt as _;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_terrace"))
        .args(args)
        .env(
            "TERRACE__DATABASE__DATABASE_PREFIX",
            &ctx.settings.database.database_prefix,
        )
        .env("TERRACE__TELEMETRY__LOG_FILTER", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).await.unwrap();
    drop(input);
    child.wait_with_output().await.unwrap()
}

#[tokio::test]
async fn the_first_admin_is_made_from_the_command_line_and_logs_in() {
    use base64::Engine as _;

    let ctx = TestContext::new();
    let weak = terrace(
        &ctx,
        &[
            "user",
            "create",
            "--phone",
            "13500135000",
            "--name",
            "管理员",
            "--password-stdin",
        ],
        "12345678\n",
    )
    .await;
    assert!(!weak.status.success());
    assert!(
        String::from_utf8_lossy(&weak.stderr).contains("most common passwords"),
        "{weak:?}"
    );

    let created = terrace(
        &ctx,
        &[
            "user",
            "create",
            "--phone",
            "13500135000",
            "--name",
            "管理员",
            "--password-stdin",
        ],
        "村委会办公室的新密码\n",
    )
    .await;
    assert!(created.status.success(), "{created:?}");
    assert!(String::from_utf8_lossy(&created.stdout).contains("+8613500135000"));
    let again = terrace(
        &ctx,
        &[
            "user",
            "create",
            "--phone",
            "+8613500135000",
            "--name",
            "又一个",
        ],
        "",
    )
    .await;
    assert!(!again.status.success(), "one account per phone");

    let granted = terrace(
        &ctx,
        &[
            "user",
            "grant",
            "--phone",
            "13500135000",
            "--role",
            "platform_admin",
        ],
        "",
    )
    .await;
    assert!(granted.status.success(), "{granted:?}");
    let too_broad = terrace(
        &ctx,
        &[
            "user",
            "grant",
            "--phone",
            "13500135000",
            "--role",
            "village_official",
            "--scope",
            "110101",
        ],
        "",
    )
    .await;
    assert!(!too_broad.status.success());

    let dev = TerraceProcess::start(
        std::path::Path::new(env!("CARGO_BIN_EXE_terrace")),
        &["dev"],
        &ctx,
    )
    .await
    .unwrap();
    let login = IdentityServiceClient::new(dev.channel().await.unwrap())
        .login_with_password(LoginWithPasswordRequest {
            request_id: uuid::Uuid::now_v7().to_string(),
            phone_number: "13500135000".into(),
            password: "村委会办公室的新密码".into(),
            client_description: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let token = login.tokens.unwrap().access_token;
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        claims["roles"],
        serde_json::json!([{ "role": "platform_admin", "scope": "" }])
    );
    assert!(dev.terminate().await.unwrap().success());
}

/// The value after `label: ` on its line of `output`'s standard output.
fn printed(output: &std::process::Output, label: &str) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{label}: ")))
        .unwrap_or_else(|| panic!("no {label} in {stdout}"))
        .to_owned()
}

#[tokio::test]
async fn an_agency_client_is_made_from_the_command_line_and_exchanges_its_secret() {
    use terrace_platform::auth::{KeySource, PrincipalKind, Role, RoleGrant, Verifier};
    use terrace_platform::config::AuthSettings;
    use terrace_proto::identity::v1::ExchangeClientCredentialsRequest;

    let ctx = TestContext::new();
    let bad_scope = terrace(
        &ctx,
        &[
            "agency",
            "create",
            "--name",
            "县农业农村局 data platform",
            "--scope",
            "weather:read",
            "--area",
            "county_admin@110101",
        ],
        "",
    )
    .await;
    assert!(!bad_scope.status.success());
    assert!(
        String::from_utf8_lossy(&bad_scope.stderr).contains("scopes[0]"),
        "{bad_scope:?}"
    );
    let too_broad = terrace(
        &ctx,
        &[
            "agency",
            "create",
            "--name",
            "县农业农村局 data platform",
            "--scope",
            "agri.statistics:read",
            "--area",
            "village_official@110101",
        ],
        "",
    )
    .await;
    assert!(
        !too_broad.status.success(),
        "a village official's area is a village"
    );

    let created = terrace(
        &ctx,
        &[
            "agency",
            "create",
            "--name",
            "县农业农村局 data platform",
            "--scope",
            "agri.statistics:read",
            "--scope",
            "governance.requests:write",
            "--area",
            "county_admin@110101",
        ],
        "",
    )
    .await;
    assert!(created.status.success(), "{created:?}");
    let client_id = printed(&created, "client_id");
    let secret = printed(&created, "client_secret");

    let dev = TerraceProcess::start(
        std::path::Path::new(env!("CARGO_BIN_EXE_terrace")),
        &["dev"],
        &ctx,
    )
    .await
    .unwrap();
    let mut identity = IdentityServiceClient::new(dev.channel().await.unwrap());
    let exchange = |secret: &str| ExchangeClientCredentialsRequest {
        request_id: uuid::Uuid::now_v7().to_string(),
        client_id: client_id.clone(),
        client_secret: secret.to_owned(),
        ..Default::default()
    };
    let token = identity
        .exchange_client_credentials(exchange(&secret))
        .await
        .unwrap()
        .into_inner()
        .tokens
        .unwrap()
        .access_token;
    // A verifier of another process reads it as the agency, with its scopes and area.
    let jwks = format!("http://127.0.0.1:{}/.well-known/jwks.json", dev.http_port);
    let verifier = Verifier::new(
        &AuthSettings {
            jwks_url: Some(jwks.clone()),
            ..AuthSettings::default()
        },
        KeySource::Url(jwks),
    );
    let principal = verifier.verify(&token).await.unwrap();
    assert_eq!(principal.kind, PrincipalKind::Agency);
    assert_eq!(principal.subject, client_id);
    assert_eq!(
        principal.api_scopes,
        ["agri.statistics:read", "governance.requests:write"]
    );
    assert_eq!(
        principal.grants,
        [RoleGrant::parse(Role::CountyAdmin, "110101").unwrap()]
    );

    // Rotated from the command line: the new secret works, the old one for the overlap.
    let rotated = terrace(&ctx, &["agency", "rotate", "--client-id", &client_id], "").await;
    assert!(rotated.status.success(), "{rotated:?}");
    let new_secret = printed(&rotated, "client_secret");
    assert_ne!(new_secret, secret);
    identity
        .exchange_client_credentials(exchange(&new_secret))
        .await
        .unwrap();
    identity
        .exchange_client_credentials(exchange(&secret))
        .await
        .unwrap();
    let wrong = identity
        .exchange_client_credentials(exchange("not the secret"))
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), Code::Unauthenticated);
    assert!(dev.terminate().await.unwrap().success());
}

/// `terrace governance rotate-id-key`: with a new key made active beside the old one, every
/// national id of the register is re-sealed under it and still reveals the same number.
#[tokio::test]
async fn a_rotation_from_the_command_line_reseals_every_national_id() {
    use terrace_governance::register::parse::{CreateHousehold, CreateResident, Reveal};
    use terrace_governance::register::sealing::{NationalIdKeys, Sealer};
    use terrace_governance::register::{Register, national_id};
    use terrace_platform::auth::Caller;
    use terrace_proto::governance::v1 as pb;

    let ctx = TestContext::new();
    let db = ctx.database("governance").await;
    terrace_platform::db::migrate::<terrace_governance::migration::Migrator>(&db)
        .await
        .unwrap();
    let clock = terrace_platform::Clock::system();
    terrace_governance::demo::create_demo_divisions(&db, "terrace/governance", clock.now())
        .await
        .unwrap();
    let secret = |name: &str| format!("{name}-a-command-line-secret-of-32-bytes");
    let keys = |active: &str, names: &[&str]| NationalIdKeys {
        active_key: active.to_owned(),
        keys: names
            .iter()
            .map(|name| ((*name).to_owned(), secret(name).into()))
            .collect(),
        hash_secret: secret("hash").into(),
    };
    let before = Register::new(
        db.clone(),
        "terrace/governance".into(),
        clock.clone(),
        Sealer::new(&keys("old", &["old"])).unwrap(),
    );
    let operator = Caller::operator("a test of the rotation");
    let household = before
        .create_household(
            &operator,
            CreateHousehold::parse(pb::CreateHouseholdRequest {
                request_id: uuid::Uuid::now_v7().to_string(),
                household: Some(pb::Household {
                    village_code: "330523108204".into(),
                    household_number: "K-1".into(),
                    ..Default::default()
                }),
            })
            .unwrap(),
        )
        .await
        .unwrap();
    let number = national_id::with_check_digit("33052319750505246").unwrap();
    let resident = before
        .create_resident(
            &operator,
            CreateResident::parse(
                pb::CreateResidentRequest {
                    request_id: uuid::Uuid::now_v7().to_string(),
                    resident: Some(pb::Resident {
                        household_id: household.id.clone(),
                        name: "吴芳".into(),
                        national_id: number.clone(),
                        ..Default::default()
                    }),
                },
                before.today(),
            )
            .unwrap(),
        )
        .await
        .unwrap();

    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_terrace"))
        .args(["governance", "rotate-id-key"])
        .env(
            "TERRACE__DATABASE__DATABASE_PREFIX",
            &ctx.settings.database.database_prefix,
        )
        .env("TERRACE__TELEMETRY__LOG_FILTER", "warn")
        .env(
            "TERRACE__SERVICES__GOVERNANCE__NATIONAL_ID__ACTIVE_KEY",
            "new",
        )
        .env(
            "TERRACE__SERVICES__GOVERNANCE__NATIONAL_ID__KEYS__OLD",
            secret("old"),
        )
        .env(
            "TERRACE__SERVICES__GOVERNANCE__NATIONAL_ID__KEYS__NEW",
            secret("new"),
        )
        .env(
            "TERRACE__SERVICES__GOVERNANCE__NATIONAL_ID__HASH_SECRET",
            secret("hash"),
        )
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert!(
        stdout.contains("sealed under key \"new\" (1 re-sealed)"),
        "{stdout}"
    );

    // Only the new key is needed now.
    let after = Register::new(
        db.clone(),
        "terrace/governance".into(),
        clock,
        Sealer::new(&keys("new", &["new"])).unwrap(),
    );
    let revealed = after
        .reveal(
            &operator,
            Reveal::parse(pb::RevealResidentNationalIdRequest {
                request_id: uuid::Uuid::now_v7().to_string(),
                resident_id: resident.id.clone(),
                reason: "轮换后核对".into(),
            })
            .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(revealed.national_id, number);
}
