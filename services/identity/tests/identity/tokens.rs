//! Sessions and refresh tokens: rotation, reuse detection (also under concurrency), revocation,
//! expiry; access tokens that the platform's verifier accepts.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement, TransactionTrait};
use terrace_identity::config::IdentitySettings;
use terrace_identity::keys::SigningKeys;
use terrace_identity::tokens::{LoginMethod, REASON_LOGOUT, REASON_REUSED, TokenService};
use terrace_platform::Error;
use terrace_platform::auth::{KeySource, PrincipalKind, Role, RoleGrant, Verifier};
use terrace_platform::config::AuthSettings;
use terrace_testkit::TestContext;
use uuid::Uuid;

use crate::keys::{migrated, settings, shared_jwks};

struct Setup {
    db: DatabaseConnection,
    keys: SigningKeys,
    tokens: TokenService,
    clock: terrace_platform::clock::ManualClock,
}

async fn setup(ctx: &TestContext, settings: IdentitySettings) -> Setup {
    let db = migrated(ctx).await;
    let clock = terrace_platform::clock::ManualClock::starting_now();
    let keys = SigningKeys::new(db.clone(), &settings, shared_jwks()).with_clock(clock.clock());
    keys.refresh().await.unwrap();
    let tokens = TokenService::new(
        db.clone(),
        keys.clone(),
        &settings,
        &AuthSettings::default(),
        clock.clock(),
    );
    Setup {
        db,
        keys,
        tokens,
        clock,
    }
}

/// A session of `user`, committed.
async fn login(setup: &Setup, user: Uuid, device: &str) -> (Uuid, String) {
    let session = setup
        .tokens
        .start_session(&setup.db, user, LoginMethod::Password, device)
        .await
        .unwrap();
    (session.session_id, session.refresh_token)
}

#[track_caller]
fn assert_unauthenticated<T: std::fmt::Debug>(result: Result<T, Error>, expected: &str) {
    match result {
        Err(Error::Unauthenticated(message)) => assert_eq!(message, expected),
        other => panic!("expected UNAUTHENTICATED {expected:?}, got {other:?}"),
    }
}

struct SessionRow {
    revoked_at: Option<DateTime<Utc>>,
    revoke_reason: Option<String>,
    last_used_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

async fn session_row(db: &DatabaseConnection, id: Uuid) -> SessionRow {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            "SELECT revoked_at, revoke_reason, last_used_at, expires_at FROM sessions \
             WHERE id = $1",
            [id.into()],
        ))
        .await
        .unwrap()
        .expect("the session row");
    SessionRow {
        revoked_at: row.try_get("", "revoked_at").unwrap(),
        revoke_reason: row.try_get("", "revoke_reason").unwrap(),
        last_used_at: row.try_get("", "last_used_at").unwrap(),
        expires_at: row.try_get("", "expires_at").unwrap(),
    }
}

#[tokio::test]
async fn rotation_spends_the_token_and_reuse_revokes_the_whole_session() {
    let ctx = TestContext::new();
    let setup = setup(&ctx, settings()).await;
    let user = Uuid::now_v7();
    let (session_id, first) = login(&setup, user, "phone").await;
    assert_eq!(URL_SAFE_NO_PAD.decode(&first).unwrap().len(), 32);
    let started = session_row(&setup.db, session_id).await;

    setup.clock.advance(Duration::from_secs(60));
    let rotated = setup.tokens.rotate(&first).await.unwrap();
    assert_eq!(rotated.user_id, user);
    assert_eq!(rotated.session_id, session_id);
    assert_ne!(rotated.refresh_token, first);
    let second = rotated.refresh_token;
    let used = session_row(&setup.db, session_id).await;
    assert!(used.last_used_at > started.last_used_at);
    assert!(used.expires_at > started.expires_at, "the expiry slides");
    assert_eq!(used.expires_at, rotated.expires_at);

    // The family goes on with the newest token.
    let third = setup.tokens.rotate(&second).await.unwrap().refresh_token;

    // The first token again: someone else holds the family.
    assert_unauthenticated(
        setup.tokens.rotate(&first).await,
        "refresh token was already used; the session has been revoked",
    );
    let revoked = session_row(&setup.db, session_id).await;
    assert!(revoked.revoked_at.is_some());
    assert_eq!(revoked.revoke_reason.as_deref(), Some(REASON_REUSED));
    // Even the newest token is dead now.
    assert_unauthenticated(
        setup.tokens.rotate(&third).await,
        "the session has been revoked",
    );
    assert!(setup.tokens.list_sessions(user).await.unwrap().is_empty());
}

#[tokio::test]
async fn concurrent_rotations_of_one_token_let_exactly_one_through() {
    let ctx = TestContext::new();
    let setup = setup(&ctx, settings()).await;
    // A race is won by luck now and then: run it a few times over.
    for _ in 0..5 {
        let (session_id, token) = login(&setup, Uuid::now_v7(), "phone").await;

        let mut rotations = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let tokens = setup.tokens.clone();
            let token = token.clone();
            rotations.spawn(async move { tokens.rotate(&token).await });
        }
        let mut succeeded = Vec::new();
        let mut refused = 0;
        while let Some(result) = rotations.join_next().await {
            match result.unwrap() {
                Ok(rotated) => succeeded.push(rotated),
                Err(error) => {
                    assert_eq!(
                        error.to_string(),
                        "refresh token was already used; the session has been revoked"
                    );
                    refused += 1;
                }
            }
        }
        assert_eq!(succeeded.len(), 1, "exactly one rotation succeeds");
        assert_eq!(refused, 7);
        // The losers were reuses: the winner's token is dead too.
        let row = session_row(&setup.db, session_id).await;
        assert_eq!(row.revoke_reason.as_deref(), Some(REASON_REUSED));
        assert_unauthenticated(
            setup.tokens.rotate(&succeeded[0].refresh_token).await,
            "the session has been revoked",
        );
    }
}

#[tokio::test]
async fn revoke_all_ends_every_session_of_the_user_and_no_other() {
    let ctx = TestContext::new();
    let setup = setup(&ctx, settings()).await;
    let user = Uuid::now_v7();
    let other = Uuid::now_v7();
    let mut tokens = Vec::new();
    for device in ["phone", "tablet", "office computer"] {
        tokens.push(login(&setup, user, device).await.1);
    }
    let (other_session, other_token) = login(&setup, other, "phone").await;

    let listed = setup.tokens.list_sessions(user).await.unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|session| session.client_description.as_str())
            .collect::<Vec<_>>(),
        ["office computer", "tablet", "phone"],
        "most recently used first"
    );
    assert!(
        listed
            .iter()
            .all(|session| session.login_method == LoginMethod::Password)
    );

    assert_eq!(
        setup
            .tokens
            .revoke_all(&setup.db, user, "stolen phone")
            .await
            .unwrap(),
        3
    );
    for token in &tokens {
        assert_unauthenticated(
            setup.tokens.rotate(token).await,
            "the session has been revoked",
        );
    }
    assert!(setup.tokens.list_sessions(user).await.unwrap().is_empty());
    // Nothing left to revoke.
    assert_eq!(
        setup
            .tokens
            .revoke_all(&setup.db, user, "again")
            .await
            .unwrap(),
        0
    );

    // The other user is untouched.
    let listed = setup.tokens.list_sessions(other).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, other_session);
    setup.tokens.rotate(&other_token).await.unwrap();
}

#[tokio::test]
async fn an_expired_session_is_refused() {
    let ctx = TestContext::new();
    let setup = setup(
        &ctx,
        IdentitySettings {
            refresh_token_ttl: Duration::from_secs(1),
            ..settings()
        },
    )
    .await;
    let user = Uuid::now_v7();
    let (_, token) = login(&setup, user, "phone").await;
    setup.clock.advance(Duration::from_millis(1200));
    assert_unauthenticated(
        setup.tokens.rotate(&token).await,
        "refresh token has expired",
    );
    assert!(setup.tokens.list_sessions(user).await.unwrap().is_empty());
    // Expired, not revoked: nothing for revoke_all to do.
    assert_eq!(
        setup
            .tokens
            .revoke_all(&setup.db, user, "late")
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn logout_revokes_its_session_and_bad_tokens_are_refused() {
    let ctx = TestContext::new();
    let setup = setup(&ctx, settings()).await;
    let user = Uuid::now_v7();
    let (session_id, token) = login(&setup, user, "phone").await;
    let (_, other_token) = login(&setup, user, "tablet").await;

    assert!(setup.tokens.revoke(&setup.db, &token).await.unwrap());
    let row = session_row(&setup.db, session_id).await;
    assert_eq!(row.revoke_reason.as_deref(), Some(REASON_LOGOUT));
    assert_unauthenticated(
        setup.tokens.rotate(&token).await,
        "the session has been revoked",
    );
    assert!(
        !setup.tokens.revoke(&setup.db, &token).await.unwrap(),
        "twice is harmless"
    );
    // The user's other session goes on.
    setup.tokens.rotate(&other_token).await.unwrap();

    assert_unauthenticated(
        setup.tokens.rotate("not a token").await,
        "malformed refresh token",
    );
    assert_unauthenticated(setup.tokens.rotate("").await, "malformed refresh token");
    let unknown = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    assert_unauthenticated(setup.tokens.rotate(&unknown).await, "unknown refresh token");
    assert!(!setup.tokens.revoke(&setup.db, &unknown).await.unwrap());
    assert!(matches!(
        setup.tokens.revoke(&setup.db, "not a token").await,
        Err(Error::InvalidArgument(_))
    ));
}

#[tokio::test]
async fn a_session_rolled_back_with_its_login_never_existed() {
    let ctx = TestContext::new();
    let setup = setup(&ctx, settings()).await;
    let user = Uuid::now_v7();
    let txn = setup.db.begin().await.unwrap();
    let session = setup
        .tokens
        .start_session(&txn, user, LoginMethod::Otp, "phone")
        .await
        .unwrap();
    txn.rollback().await.unwrap();
    assert_unauthenticated(
        setup.tokens.rotate(&session.refresh_token).await,
        "unknown refresh token",
    );
    assert!(setup.tokens.list_sessions(user).await.unwrap().is_empty());
}

#[tokio::test]
async fn access_tokens_verify_with_the_platform_verifier() {
    let ctx = TestContext::new();
    let setup = setup(&ctx, settings()).await;
    let jwks = std::sync::Arc::new(tokio::sync::RwLock::new(setup.keys.jwks().await));
    let verifier = Verifier::new(&AuthSettings::default(), KeySource::Shared(jwks));
    let user = Uuid::now_v7();
    let grants = [
        RoleGrant::parse(Role::Farmer, "110101001001").unwrap(),
        RoleGrant::parse(Role::VillageOfficial, "110101001001").unwrap(),
    ];

    let issued = setup.clock.now().timestamp();
    let (token, expires_at) = setup
        .tokens
        .access_token(user, &grants, Some(Uuid::now_v7()))
        .await
        .unwrap();
    let principal = verifier.verify(&token).await.unwrap();
    assert_eq!(principal.subject, user.to_string());
    assert_eq!(principal.kind, PrincipalKind::User);
    assert_eq!(principal.grants, grants);
    assert!(principal.api_scopes.is_empty());
    assert_eq!(principal.actor, None);
    assert_eq!(principal.expires_at, expires_at);
    assert_eq!(
        expires_at.timestamp() - issued,
        900,
        "15 minutes on the service clock"
    );
    let jti = Uuid::parse_str(&principal.token_id).unwrap();
    assert_eq!(jti.get_version_num(), 7);
    assert_eq!(
        jsonwebtoken::decode_header(&token).unwrap().kid,
        setup.keys.active_kid()
    );

    // A grant the verifier would refuse is never signed.
    let too_broad = RoleGrant {
        role: Role::VillageOfficial,
        scope: terrace_platform::auth::AdminScope::parse("11").unwrap(),
    };
    assert!(matches!(
        setup.tokens.access_token(user, &[too_broad], None).await,
        Err(Error::Internal(_))
    ));
}
