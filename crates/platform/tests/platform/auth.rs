//! Authentication: the verifier against a real JWKS endpoint, the tower layer in isolation, and
//! the whole server turning away calls without a valid token.

// Helpers here are test code too: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, Jwk};
use terrace_platform::Error;
use terrace_platform::auth::{AuthLayer, KeySource, Principal, PrincipalKind, Role, Verifier};
use terrace_platform::config::AuthSettings;
use terrace_platform::service::ServiceDef;
use terrace_testkit::TestApp;
use terrace_testkit::pb::EchoRequest;
use terrace_testkit::pb::probe_service_client::ProbeServiceClient;
use terrace_testkit::probe::Probe;
use terrace_testkit::tokens::{JWKS_PATH, TestIssuer};
use tower::{Layer as _, ServiceExt as _};

const VILLAGE: &str = "110101001001";

fn settings(issuer: &TestIssuer, url: &str) -> AuthSettings {
    AuthSettings {
        jwks_url: Some(url.to_owned()),
        ..issuer.auth_settings()
    }
}

async fn http_verifier(issuer: &TestIssuer, change: impl FnOnce(&mut AuthSettings)) -> Verifier {
    let url = issuer.serve_jwks().await;
    let mut settings = settings(issuer, &url);
    change(&mut settings);
    Verifier::new(&settings, KeySource::Url(url))
}

#[track_caller]
fn unauthenticated<T: fmt::Debug>(result: terrace_platform::Result<T>) -> String {
    match result {
        Err(Error::Unauthenticated(message)) => message,
        other => panic!("expected unauthenticated, got {other:?}"),
    }
}

#[tokio::test]
async fn a_valid_token_becomes_a_principal() {
    let clock = terrace_platform::clock::ManualClock::starting_now();
    let issuer = TestIssuer::new().on_clock(clock.clock());
    let verifier = http_verifier(&issuer, |_| {}).await;

    let token = issuer.token(
        "farmer-1",
        &[(Role::Farmer, VILLAGE), (Role::Resident, VILLAGE)],
    );
    let principal = verifier.verify(&token).await.unwrap();
    assert_eq!(principal.subject, "farmer-1");
    assert_eq!(principal.kind, PrincipalKind::User);
    assert!(principal.has_role_in(Role::Farmer, VILLAGE));
    assert!(principal.actor.is_none());
    // Issued at the issuer's (standing) clock, living the platform's 15 minutes.
    assert_eq!(
        principal.expires_at.timestamp(),
        clock.now().timestamp() + 15 * 60
    );

    let helped = issuer
        .build("villager-1")
        .grant(Role::Resident, VILLAGE)
        .actor("helper-9")
        .sign();
    let principal = verifier.verify(&helped).await.unwrap();
    assert_eq!(
        (principal.subject.as_str(), principal.actor.as_deref()),
        ("villager-1", Some("helper-9"))
    );

    let agency = issuer
        .build("client-7")
        .agency(&["governance.requests:read", "agri.stats:read"])
        .grant(Role::Buyer, "1101")
        .sign();
    let principal = verifier.verify(&agency).await.unwrap();
    assert!(principal.is_agency());
    assert_eq!(
        principal.api_scopes,
        ["governance.requests:read", "agri.stats:read"]
    );
    assert!(principal.require_api_scope("agri.stats:read").is_ok());
    assert!(principal.has_role_in(Role::Buyer, VILLAGE));

    // The token is cached now; a second verification answers the same.
    assert_eq!(verifier.verify(&agency).await.unwrap(), principal);
    assert_eq!(issuer.jwks_fetches(), 1);
}

#[tokio::test]
async fn untrustworthy_tokens_are_unauthenticated() {
    let issuer = TestIssuer::new();
    let verifier = http_verifier(&issuer, |_| {}).await;
    let impostor = TestIssuer::with_kid(&issuer.kid());
    let valid = issuer.token("u", &[]);
    let (head, rest) = valid.split_once('.').unwrap();
    let (payload, signature) = rest.rsplit_once('.').unwrap();
    // One character changed in the middle: still 64 bytes, no longer the signature.
    let mut tampered = signature.to_owned().into_bytes();
    tampered[20] = if tampered[20] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let other_claims = issuer.token("admin", &[(Role::PlatformAdmin, "")]);
    let other_payload = other_claims.split('.').nth(1).unwrap();

    let cases: Vec<(&str, String, &str)> = vec![
        ("empty", String::new(), "missing token"),
        ("not a jws", "not-a-token".into(), "malformed token"),
        (
            "two parts",
            "eyJhbGciOiJFZERTQSJ9.e30".into(),
            "malformed token",
        ),
        ("garbage header", format!("!!!.{rest}"), "malformed token"),
        ("oversized", "a".repeat(10_000), "malformed token"),
        (
            "spliced payload",
            format!("{head}.{other_payload}.{signature}"),
            "bad signature",
        ),
        (
            "tampered signature",
            format!("{head}.{payload}.{tampered}"),
            "bad signature",
        ),
        (
            "expired",
            issuer.build("u").expired().sign(),
            "expired token",
        ),
        (
            "not yet valid",
            issuer
                .build("u")
                .not_before(Duration::from_secs(600))
                .sign(),
            "token not yet valid",
        ),
        (
            "another key, same kid",
            impostor.token("u", &[]),
            "bad signature",
        ),
        (
            "wrong issuer",
            issuer.build("u").issuer("evil").sign(),
            "wrong issuer",
        ),
        (
            "wrong audience",
            issuer.build("u").audience("other").sign(),
            "wrong audience",
        ),
        (
            "hs256 with the public key",
            issuer.build("u").forge_hs256().sign(),
            "unsupported token algorithm",
        ),
        (
            "alg none",
            issuer.build("u").unsigned().sign(),
            "unsupported token algorithm",
        ),
        (
            "no kid",
            issuer.build("u").without_kid().sign(),
            "token has no key id",
        ),
        (
            "unknown kid",
            issuer.build("u").kid("nobody").sign(),
            "unknown signing key",
        ),
        (
            "plain jwt typ",
            issuer.build("u").token_type(Some("JWT")).sign(),
            "not an access token",
        ),
        (
            "no typ",
            issuer.build("u").token_type(None).sign(),
            "not an access token",
        ),
        (
            "grant too broad for its role",
            issuer
                .build("u")
                .grant(Role::VillageOfficial, "1101")
                .sign(),
            "malformed token claims",
        ),
        (
            "empty subject",
            issuer.build("").sign(),
            "malformed token claims",
        ),
    ];
    let AlgorithmParameters::OctetKeyPair(public) = &issuer.jwks().keys[0].algorithm else {
        panic!("an okp key")
    };
    for (case, token, expected) in cases {
        let message = unauthenticated(verifier.verify(&token).await);
        assert_eq!(message, expected, "{case}");
        assert!(
            !message.contains(&public.x),
            "{case}: no key material in messages"
        );
    }
    // The valid token still passes: nothing above poisoned the verifier.
    assert!(verifier.verify(&valid).await.is_ok());
}

#[tokio::test]
async fn a_rotated_key_is_fetched_once_and_the_old_one_keeps_working() {
    let issuer = TestIssuer::new();
    let verifier = http_verifier(&issuer, |s| s.jwks_min_refresh_interval = Duration::ZERO).await;
    let old = issuer.token("u", &[]);
    verifier.verify(&old).await.unwrap();
    assert_eq!(issuer.jwks_fetches(), 1);

    let new_kid = issuer.rotate().await;
    let new = issuer.token("u", &[]);
    let header = jsonwebtoken::decode_header(&new).unwrap();
    assert_eq!(header.kid.as_deref(), Some(new_kid.as_str()));
    verifier.verify(&new).await.unwrap();
    assert_eq!(issuer.jwks_fetches(), 2, "exactly one more fetch");

    // During the overlap the old key verifies fresh tokens too, without another fetch.
    verifier.verify(&old).await.unwrap();
    assert_eq!(issuer.jwks_fetches(), 2);
}

#[tokio::test]
async fn concurrent_unknown_kids_cause_one_fetch() {
    let issuer = TestIssuer::new();
    let verifier = http_verifier(&issuer, |s| s.jwks_min_refresh_interval = Duration::ZERO).await;
    // Even the very first load is single-flight.
    let first = issuer.token("u", &[]);
    let results = futures::future::join_all((0..64).map(|_| verifier.verify(&first))).await;
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(issuer.jwks_fetches(), 1);

    issuer.rotate().await;
    let tokens: Vec<String> = (0..64)
        .map(|i| issuer.token(&format!("u{i}"), &[]))
        .collect();
    let tasks = tokens.into_iter().map(|token| {
        let verifier = verifier.clone();
        tokio::spawn(async move { verifier.verify(&token).await })
    });
    for result in futures::future::join_all(tasks).await {
        result.unwrap().unwrap();
    }
    assert_eq!(issuer.jwks_fetches(), 2);
}

#[tokio::test]
async fn forged_kids_do_not_hammer_the_key_endpoint() {
    let issuer = TestIssuer::new();
    let verifier = http_verifier(&issuer, |s| {
        s.jwks_min_refresh_interval = Duration::from_secs(60)
    })
    .await;
    verifier.verify(&issuer.token("u", &[])).await.unwrap();
    for i in 0..20 {
        let forged = issuer.build("u").kid(&format!("forged-{i}")).sign();
        assert_eq!(
            unauthenticated(verifier.verify(&forged).await),
            "unknown signing key"
        );
    }
    assert_eq!(issuer.jwks_fetches(), 1);
}

#[tokio::test]
async fn keys_are_reloaded_in_the_background_after_the_refresh_interval() {
    let issuer = TestIssuer::new();
    let verifier = http_verifier(&issuer, |s| {
        s.jwks_refresh_interval = Duration::from_millis(100);
        s.jwks_min_refresh_interval = Duration::ZERO;
    })
    .await;
    let token = issuer.token("u", &[]);
    verifier.verify(&token).await.unwrap();
    assert_eq!(issuer.jwks_fetches(), 1);
    tokio::time::sleep(Duration::from_millis(150)).await;
    // This request is answered from what is at hand; the reload happens beside it.
    verifier.verify(&token).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while issuer.jwks_fetches() < 2 {
        assert!(Instant::now() < deadline, "no background reload");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_withdrawn_key_stops_verifying_even_cached_tokens() {
    let issuer = TestIssuer::new();
    let verifier = Verifier::new(&issuer.auth_settings(), issuer.key_source());
    let old_kid = issuer.kid();
    let old = issuer.token("u", &[]);
    verifier.verify(&old).await.unwrap();

    // In-process rotation is seen at once, without waiting for any interval.
    issuer.rotate().await;
    let new = issuer.token("u", &[]);
    verifier.verify(&new).await.unwrap();

    issuer.withdraw(&old_kid).await;
    verifier.refresh().await.unwrap();
    assert_eq!(
        unauthenticated(verifier.verify(&old).await),
        "unknown signing key"
    );
    assert!(verifier.verify(&new).await.is_ok());
}

#[tokio::test]
async fn an_empty_key_set_does_not_wipe_the_keys_at_hand() {
    let issuer = TestIssuer::new();
    let verifier = Verifier::new(&issuer.auth_settings(), issuer.key_source());
    let token = issuer.token("u", &[]);
    verifier.verify(&token).await.unwrap();
    issuer.shared_jwks().write().await.keys.clear();
    assert!(verifier.refresh().await.is_err());
    let fresh = issuer.token("u2", &[]);
    assert_eq!(verifier.verify(&fresh).await.unwrap().subject, "u2");
}

#[tokio::test]
async fn unreachable_keys_are_unavailable_not_unauthenticated() {
    let issuer = TestIssuer::new();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}{JWKS_PATH}", listener.local_addr().unwrap());
    drop(listener);
    let verifier = Verifier::new(&settings(&issuer, &url), KeySource::Url(url));
    let result = verifier.verify(&issuer.token("u", &[])).await;
    assert!(
        matches!(result, Err(Error::Unavailable { .. })),
        "{result:?}"
    );
    assert!(verifier.refresh().await.is_err());
}

#[tokio::test]
async fn a_jwks_with_other_key_types_is_read_for_its_ed25519_keys() {
    let issuer = TestIssuer::new();
    let mut set = issuer.jwks();
    let hmac: Jwk = serde_json::from_value(serde_json::json!({
        "kty": "oct", "kid": "hmac", "alg": "HS256", "k": "c2VjcmV0"
    }))
    .unwrap();
    let short: Jwk = serde_json::from_value(serde_json::json!({
        "kty": "OKP", "crv": "Ed25519", "kid": "short", "x": "AAAA"
    }))
    .unwrap();
    set.keys.extend([hmac, short]);
    let verifier = Verifier::new(
        &issuer.auth_settings(),
        KeySource::Shared(Arc::new(tokio::sync::RwLock::new(set))),
    );
    assert!(verifier.verify(&issuer.token("u", &[])).await.is_ok());
    let forged = issuer.build("u").kid("hmac").forge_hs256().sign();
    assert_eq!(
        unauthenticated(verifier.verify(&forged).await),
        "unsupported token algorithm"
    );
    // A published key too short to be Ed25519 is ignored, never handed to the crypto.
    let short = issuer.build("u").kid("short").sign();
    assert_eq!(
        unauthenticated(verifier.verify(&short).await),
        "unknown signing key"
    );
}

type Body = tonic::body::Body;

/// The inner service of the layer tests: counts its calls and reports the subject it saw.
fn inner(
    calls: Arc<AtomicUsize>,
) -> impl tower::Service<
    http::Request<Body>,
    Response = http::Response<Body>,
    Error = Infallible,
    Future = impl Send,
> + Clone {
    tower::service_fn(move |request: http::Request<Body>| {
        calls.fetch_add(1, Ordering::SeqCst);
        async move {
            let request = tonic::Request::from_http(request);
            let subject = Principal::from_request(&request)
                .map_or_else(|_| "-".to_owned(), |principal| principal.subject.clone());
            let mut response = http::Response::new(Body::empty());
            response
                .headers_mut()
                .insert("x-subject", subject.parse().unwrap());
            Ok::<_, Infallible>(response)
        }
    })
}

fn grpc_request(path: &str, authorization: Option<&str>, web: bool) -> http::Request<Body> {
    let content_type = if web {
        "application/grpc-web+proto"
    } else {
        "application/grpc"
    };
    let mut builder = http::Request::post(path).header("content-type", content_type);
    if let Some(value) = authorization {
        builder = builder.header("authorization", value);
    }
    builder.body(Body::empty()).unwrap()
}

#[tokio::test]
async fn the_layer_turns_away_calls_without_a_valid_token() {
    let issuer = TestIssuer::new();
    let verifier = Verifier::new(&issuer.auth_settings(), issuer.key_source());
    let layer = AuthLayer::new(
        verifier,
        [
            "/terrace.identity.v1.IdentityService/Login",
            "/grpc.health.v1.Health/",
        ],
    );
    let calls = Arc::new(AtomicUsize::new(0));
    let service = layer.layer(inner(Arc::clone(&calls)));
    let method = "/terrace.governance.v1.GovernanceService/ListRequests";
    let valid = format!(
        "Bearer {}",
        issuer.token("official-1", &[(Role::VillageOfficial, VILLAGE)])
    );
    let expired = format!("Bearer {}", issuer.build("u").expired().sign());

    for web in [false, true] {
        for (authorization, message) in [
            (None, "missing token"),
            (Some("Basic dXNlcjpwYXNz"), "malformed authorization header"),
            (Some("Bearer"), "malformed authorization header"),
            (Some("Bearer not.a.token"), "malformed token"),
            (Some(expired.as_str()), "expired token"),
        ] {
            let response = service
                .clone()
                .oneshot(grpc_request(method, authorization, web))
                .await
                .unwrap();
            assert_eq!(
                response.status(),
                http::StatusCode::OK,
                "grpc answers errors in headers"
            );
            assert_eq!(response.headers()["grpc-status"], "16", "{authorization:?}");
            let status = tonic::Status::from_header_map(response.headers()).unwrap();
            assert_eq!(status.code(), tonic::Code::Unauthenticated);
            assert_eq!(status.message(), message);
        }
        assert_eq!(
            calls.load(Ordering::SeqCst),
            0,
            "the service was never called"
        );

        let response = service
            .clone()
            .oneshot(grpc_request(method, Some(&valid), web))
            .await
            .unwrap();
        assert!(response.headers().get("grpc-status").is_none());
        assert_eq!(response.headers()["x-subject"], "official-1");
        let lower = valid.replacen("Bearer", "bearer", 1);
        let response = service
            .clone()
            .oneshot(grpc_request(method, Some(&lower), web))
            .await
            .unwrap();
        assert_eq!(response.headers()["x-subject"], "official-1");

        // Public methods pass without a token, ignore a bad one and still attach a good one.
        for (path, authorization, subject) in [
            ("/terrace.identity.v1.IdentityService/Login", None, "-"),
            (
                "/terrace.identity.v1.IdentityService/Login",
                Some(expired.as_str()),
                "-",
            ),
            (
                "/terrace.identity.v1.IdentityService/Login",
                Some("Basic x"),
                "-",
            ),
            (
                "/terrace.identity.v1.IdentityService/Login",
                Some(valid.as_str()),
                "official-1",
            ),
            ("/grpc.health.v1.Health/Check", None, "-"),
        ] {
            let response = service
                .clone()
                .oneshot(grpc_request(path, authorization, web))
                .await
                .unwrap();
            assert_eq!(
                response.headers()["x-subject"],
                subject,
                "{path} {authorization:?}"
            );
        }
        let response = service
            .clone()
            .oneshot(grpc_request(
                "/terrace.identity.v1.IdentityService/Logout",
                None,
                web,
            ))
            .await
            .unwrap();
        assert_eq!(
            response.headers()["grpc-status"],
            "16",
            "only the listed method is public"
        );
        calls.store(0, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn the_layer_strips_a_principal_it_did_not_verify() {
    let issuer = TestIssuer::new();
    let verifier = Verifier::new(&issuer.auth_settings(), issuer.key_source());
    let service =
        AuthLayer::new(verifier, ["/public.Service/"]).layer(inner(Arc::new(AtomicUsize::new(0))));
    let mut request = grpc_request("/public.Service/Call", None, false);
    let smuggled = Verifier::new(&issuer.auth_settings(), issuer.key_source())
        .verify(&issuer.token("smuggled", &[]))
        .await
        .unwrap();
    request.extensions_mut().insert(smuggled);
    let response = service.oneshot(request).await.unwrap();
    assert_eq!(response.headers()["x-subject"], "-");
}

/// Run with `cargo test --release -p terrace-platform --test platform verify_cost -- --ignored --nocapture`.
#[tokio::test]
#[ignore = "a measurement, not a test"]
async fn verify_cost() {
    let issuer = TestIssuer::new();
    let verifier = Verifier::new(&issuer.auth_settings(), issuer.key_source());
    let n = 5_000;
    let tokens: Vec<String> = (0..n)
        .map(|i| {
            issuer.token(
                &format!("user-{i}"),
                &[(Role::VillageOfficial, VILLAGE), (Role::Farmer, VILLAGE)],
            )
        })
        .collect();
    verifier.verify(&tokens[0]).await.unwrap();
    let start = Instant::now();
    for token in &tokens[1..] {
        verifier.verify(token).await.unwrap();
    }
    let cold = start.elapsed() / (n - 1);
    let start = Instant::now();
    for _ in 0..10 {
        for token in &tokens {
            verifier.verify(token).await.unwrap();
        }
    }
    let warm = start.elapsed() / (10 * n);
    eprintln!("verify: {cold:?} per new token, {warm:?} per token seen before");
}

#[tokio::test]
async fn the_server_runs_handlers_only_for_valid_tokens() {
    let app = TestApp::spawn(&[ServiceDef::of::<Probe>()]).await;
    let mut client = ProbeServiceClient::new(app.channel().await);
    let echo = || EchoRequest {
        text: "hi".into(),
        repeat: 1,
    };
    let impostor = TestIssuer::with_kid(&app.issuer.kid());

    let status = client.echo(echo()).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    assert_eq!(status.message(), "missing token");
    for (token, message) in [
        (app.issuer.build("u").expired().sign(), "expired token"),
        (impostor.token("u", &[]), "bad signature"),
        ("not-a-token".to_owned(), "malformed token"),
    ] {
        let status = client.echo(app.request(echo(), &token)).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::Unauthenticated, "{message}");
        assert_eq!(status.message(), message);
    }

    let token = app
        .issuer
        .build("villager-1")
        .grant(Role::Resident, VILLAGE)
        .actor("helper-2")
        .sign();
    let response = client
        .echo(app.request(echo(), &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response.subject, "villager-1");
    assert_eq!(response.actor, "helper-2");
    assert_eq!(response.grants, [format!("resident@{VILLAGE}")]);
}
