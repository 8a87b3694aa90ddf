//! Signing keys: one active key however many replicas start, tokens that verify with the platform's
//! verifier over real HTTP across rotations, expiry out of the key set, encryption at rest.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use ed25519_dalek::SigningKey;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, KeyAlgorithm, PublicKeyUse};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use sea_orm_migration::MigratorTrait;
use secrecy::SecretString;
use terrace_identity::config::IdentitySettings;
use terrace_identity::keys::{KeyTiming, SigningKeys, derive_key};
use terrace_identity::migration::Migrator;
use terrace_platform::auth::{Claims, JwkSet, KeySource, PrincipalKind, SharedJwks, Verifier};
use terrace_platform::config::AuthSettings;
use terrace_testkit::TestContext;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub(crate) const SECRET: &str = "a test secret of more than thirty-two bytes";

/// The test's identity database, migrated.
pub(crate) async fn migrated(ctx: &TestContext) -> DatabaseConnection {
    let db = ctx.database("identity").await;
    Migrator::up(&db, None).await.unwrap();
    db
}

pub(crate) fn settings() -> IdentitySettings {
    IdentitySettings {
        secret: SecretString::from(SECRET),
        ..IdentitySettings::default()
    }
}

pub(crate) fn shared_jwks() -> SharedJwks {
    Arc::new(tokio::sync::RwLock::new(JwkSet::default()))
}

/// Claims of a user's access token valid for 15 minutes, as the verifier's defaults expect them.
fn claims(subject: &str) -> Claims {
    let auth = AuthSettings::default();
    let now = terrace_platform::Clock::system_now().timestamp();
    Claims {
        iss: auth.issuer,
        aud: auth.audience,
        sub: subject.to_owned(),
        kind: PrincipalKind::User,
        exp: now + 900,
        iat: now,
        nbf: None,
        jti: uuid::Uuid::now_v7().to_string(),
        roles: Vec::new(),
        scope: String::new(),
        act: None,
    }
}

struct Row {
    kid: String,
    status: String,
    public_key: Vec<u8>,
    private_key: Vec<u8>,
    nonce: Vec<u8>,
    retired_at: Option<DateTime<Utc>>,
    expires_at: Option<DateTime<Utc>>,
}

async fn rows(db: &DatabaseConnection) -> Vec<Row> {
    db.query_all_raw(Statement::from_string(
        db.get_database_backend(),
        "SELECT kid, status, public_key, private_key, private_key_nonce, retired_at, expires_at \
         FROM signing_keys ORDER BY created_at, kid",
    ))
    .await
    .unwrap()
    .iter()
    .map(|row| Row {
        kid: row.try_get("", "kid").unwrap(),
        status: row.try_get("", "status").unwrap(),
        public_key: row.try_get("", "public_key").unwrap(),
        private_key: row.try_get("", "private_key").unwrap(),
        nonce: row.try_get("", "private_key_nonce").unwrap(),
        retired_at: row.try_get("", "retired_at").unwrap(),
        expires_at: row.try_get("", "expires_at").unwrap(),
    })
    .collect()
}

fn kids_with_status(rows: &[Row], status: &str) -> Vec<String> {
    rows.iter()
        .filter(|row| row.status == status)
        .map(|row| row.kid.clone())
        .collect()
}

fn published_kids(set: &JwkSet) -> BTreeSet<String> {
    set.keys
        .iter()
        .map(|jwk| jwk.common.key_id.clone().unwrap())
        .collect()
}

fn header_kid(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

/// Serves `keys.jwks()` over real HTTP and counts the fetches.
async fn serve_jwks(keys: SigningKeys) -> (String, Arc<AtomicUsize>) {
    let fetches = Arc::new(AtomicUsize::new(0));
    let router = Router::new()
        .route(
            "/.well-known/jwks.json",
            get(
                |State((keys, fetches)): State<(SigningKeys, Arc<AtomicUsize>)>| async move {
                    fetches.fetch_add(1, Ordering::SeqCst);
                    axum::Json(keys.jwks().await)
                },
            ),
        )
        .with_state((keys, Arc::clone(&fetches)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (format!("http://{addr}/.well-known/jwks.json"), fetches)
}

#[tokio::test]
async fn the_first_refresh_makes_one_active_key_and_publishes_it() {
    let ctx = TestContext::new();
    let db = migrated(&ctx).await;
    let jwks = shared_jwks();
    let keys = SigningKeys::new(db.clone(), &settings(), Arc::clone(&jwks));
    assert!(keys.active_kid().is_none());

    keys.refresh().await.unwrap();

    let stored = rows(&db).await;
    let active = kids_with_status(&stored, "active");
    assert_eq!(active.len(), 1, "exactly one active key");
    assert_eq!(
        kids_with_status(&stored, "next").len(),
        1,
        "one key published ahead"
    );
    assert_eq!(stored.len(), 2);
    assert_eq!(keys.active_kid().as_deref(), Some(active[0].as_str()));

    // The published set is the shared one, and holds both keys as Ed25519 JWKs.
    let set = keys.jwks().await;
    assert_eq!(set, *jwks.read().await);
    assert_eq!(
        published_kids(&set),
        stored.iter().map(|row| row.kid.clone()).collect()
    );
    for jwk in &set.keys {
        let row = stored
            .iter()
            .find(|row| Some(&row.kid) == jwk.common.key_id.as_ref())
            .unwrap();
        assert_eq!(jwk.common.key_algorithm, Some(KeyAlgorithm::EdDSA));
        assert_eq!(jwk.common.public_key_use, Some(PublicKeyUse::Signature));
        let AlgorithmParameters::OctetKeyPair(params) = &jwk.algorithm else {
            panic!("not an OKP key: {jwk:?}");
        };
        assert_eq!(params.curve, EllipticCurve::Ed25519);
        assert_eq!(URL_SAFE_NO_PAD.decode(&params.x).unwrap(), row.public_key);
        // The kid is the RFC 7638 thumbprint.
        assert_eq!(
            jwk.thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256)
                .unwrap(),
            row.kid
        );
    }

    // Nothing is due: a second refresh changes nothing.
    keys.refresh().await.unwrap();
    let again = rows(&db).await;
    assert_eq!(
        again
            .iter()
            .map(|row| (&row.kid, &row.status))
            .collect::<Vec<_>>(),
        stored
            .iter()
            .map(|row| (&row.kid, &row.status))
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn replicas_starting_together_agree_on_one_active_key() {
    let ctx = TestContext::new();
    let db = migrated(&ctx).await;
    // A race is won by luck now and then: run it a few times over.
    for _ in 0..5 {
        db.execute_unprepared("DELETE FROM signing_keys")
            .await
            .unwrap();
        let replicas: Vec<SigningKeys> = (0..8)
            .map(|_| SigningKeys::new(db.clone(), &settings(), shared_jwks()))
            .collect();

        let mut refreshes = tokio::task::JoinSet::new();
        for keys in replicas.clone() {
            refreshes.spawn(async move { keys.refresh().await });
        }
        while let Some(result) = refreshes.join_next().await {
            result.unwrap().unwrap();
        }

        let stored = rows(&db).await;
        let active = kids_with_status(&stored, "active");
        assert_eq!(active.len(), 1, "one active key, not one per replica");
        assert_eq!(stored.len(), 2, "one active and one next key in all");
        for keys in &replicas {
            assert_eq!(keys.active_kid().as_deref(), Some(active[0].as_str()));
            let token = keys.sign(&claims("someone")).await.unwrap();
            assert_eq!(header_kid(&token), active[0]);
            assert_eq!(
                published_kids(&keys.jwks().await),
                published_kids(&replicas[0].jwks().await)
            );
        }
    }
}

#[tokio::test]
async fn a_verifier_follows_rotations_without_a_restart() {
    let ctx = TestContext::new();
    let db = migrated(&ctx).await;
    let keys = SigningKeys::new(db.clone(), &settings(), shared_jwks());
    keys.refresh().await.unwrap();
    let (url, fetches) = serve_jwks(keys.clone()).await;
    let auth = AuthSettings {
        jwks_url: Some(url.clone()),
        // This test rotates right after the first fetch; production waits a few seconds.
        jwks_min_refresh_interval: Duration::ZERO,
        ..AuthSettings::default()
    };
    let verifier = Verifier::new(&auth, KeySource::Url(url));

    let first_kid = keys.active_kid().unwrap();
    let token = keys.sign(&claims("villager-1")).await.unwrap();
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::EdDSA);
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(header.kid.as_deref(), Some(first_kid.as_str()));
    let principal = verifier.verify(&token).await.unwrap();
    assert_eq!(principal.subject, "villager-1");
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
    let seen_by_verifier = published_kids(&keys.jwks().await);

    // Signed before the rotations, verified only after them.
    let old_token = keys.sign(&claims("villager-2")).await.unwrap();

    // Rotate twice, so that the signing key is one the verifier has never seen.
    let second_kid = keys.rotate().await.unwrap();
    let third_kid = keys.rotate().await.unwrap();
    assert_ne!(second_kid, first_kid);
    assert_ne!(third_kid, second_kid);
    assert_eq!(keys.active_kid().as_deref(), Some(third_kid.as_str()));
    assert!(!seen_by_verifier.contains(&third_kid));

    let new_token = keys.sign(&claims("villager-3")).await.unwrap();
    assert_eq!(header_kid(&new_token), third_kid);
    let principal = verifier.verify(&new_token).await.unwrap();
    assert_eq!(principal.subject, "villager-3");
    assert_eq!(
        fetches.load(Ordering::SeqCst),
        2,
        "the unknown kid made the same verifier fetch the key set again"
    );

    // The retired keys stay published: what they signed still verifies.
    assert_eq!(header_kid(&old_token), first_kid);
    let principal = verifier.verify(&old_token).await.unwrap();
    assert_eq!(principal.subject, "villager-2");

    // Retired keys stay published for the access-token lifetime and the overlap margin.
    let stored = rows(&db).await;
    assert_eq!(kids_with_status(&stored, "active"), vec![third_kid.clone()]);
    let retired: BTreeSet<String> = kids_with_status(&stored, "retired").into_iter().collect();
    assert_eq!(retired, BTreeSet::from([first_kid, second_kid]));
    let overlap = settings().access_token_ttl + KeyTiming::default().overlap_margin;
    for row in stored.iter().filter(|row| row.status == "retired") {
        let published_for = row.expires_at.unwrap() - row.retired_at.unwrap();
        assert_eq!(published_for.to_std().unwrap(), overlap);
    }
    assert_eq!(published_kids(&keys.jwks().await).len(), 4);
}

#[tokio::test]
async fn an_expired_key_leaves_the_key_set() {
    let ctx = TestContext::new();
    let db = migrated(&ctx).await;
    let settings = IdentitySettings {
        access_token_ttl: Duration::from_secs(1),
        ..settings()
    };
    let keys = SigningKeys::new(db.clone(), &settings, shared_jwks()).with_timing(KeyTiming {
        maintenance_interval: Duration::from_millis(100),
        overlap_margin: Duration::from_millis(500),
    });
    keys.refresh().await.unwrap();
    let old_kid = keys.active_kid().unwrap();
    let new_kid = keys.rotate().await.unwrap();

    // Published for 1 s + 0.5 s after the rotation.
    keys.refresh().await.unwrap();
    assert!(published_kids(&keys.jwks().await).contains(&old_kid));

    tokio::time::sleep(Duration::from_millis(1700)).await;
    keys.refresh().await.unwrap();
    let published = published_kids(&keys.jwks().await);
    assert!(!published.contains(&old_kid), "{published:?}");
    assert!(published.contains(&new_kid));
    assert!(
        rows(&db).await.iter().all(|row| row.kid != old_kid),
        "an expired key is deleted"
    );
}

#[tokio::test]
async fn a_due_rotation_happens_and_other_replicas_pick_it_up() {
    let ctx = TestContext::new();
    let db = migrated(&ctx).await;
    let settings = IdentitySettings {
        signing_key_rotation: Duration::from_secs(1),
        ..settings()
    };
    let timing = KeyTiming {
        maintenance_interval: Duration::from_millis(100),
        overlap_margin: Duration::from_millis(200),
    };
    // Replica a refreshes by hand; replica b runs its maintenance task.
    let a = SigningKeys::new(db.clone(), &settings, shared_jwks()).with_timing(timing);
    let b = SigningKeys::new(db.clone(), &settings, shared_jwks()).with_timing(timing);
    a.refresh().await.unwrap();
    b.refresh().await.unwrap();
    let first_kid = a.active_kid().unwrap();
    assert_eq!(b.active_kid().as_deref(), Some(first_kid.as_str()));
    let tasks = TaskTracker::new();
    let shutdown = CancellationToken::new();
    b.spawn_maintenance(&tasks, shutdown.clone());

    // b's maintenance rotates once the key is a second old...
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while b.active_kid().as_deref() == Some(first_kid.as_str()) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no rotation in time"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // ...and a's refresh finds it.
    a.refresh().await.unwrap();
    let a_kid = a.active_kid().unwrap();
    assert_ne!(a_kid, first_kid);
    assert!(published_kids(&a.jwks().await).contains(&first_kid));

    // A rotation by a reaches b through its maintenance task.
    let rotated_by_a = a.rotate().await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while b.active_kid().as_deref() != Some(rotated_by_a.as_str()) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "b did not pick up a's rotation"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        kids_with_status(&rows(&db).await, "active").len(),
        1,
        "still one active key"
    );

    shutdown.cancel();
    tasks.close();
    tokio::time::timeout(Duration::from_secs(5), tasks.wait())
        .await
        .expect("the maintenance task stops on shutdown");
}

#[tokio::test]
async fn private_keys_are_encrypted_at_rest() {
    let ctx = TestContext::new();
    let db = migrated(&ctx).await;
    let keys = SigningKeys::new(db.clone(), &settings(), shared_jwks());
    keys.refresh().await.unwrap();
    keys.rotate().await.unwrap();

    let cipher = Aes256Gcm::new(
        &derive_key(
            &SecretString::from(SECRET),
            "terrace identity signing-key encryption v1",
        )
        .into(),
    );
    let stored = rows(&db).await;
    assert_eq!(stored.len(), 3);
    for row in &stored {
        // No 32 bytes of the stored column are the seed of the key.
        for window in row.private_key.windows(32) {
            let candidate = SigningKey::from_bytes(window.try_into().unwrap());
            assert_ne!(
                candidate.verifying_key().as_bytes().as_slice(),
                row.public_key.as_slice(),
                "the plain seed of {} is stored",
                row.kid
            );
        }
        // It is the seed, encrypted under the key derived from the secret, bound to its kid.
        let nonce = aes_gcm::aead::Nonce::<Aes256Gcm>::try_from(row.nonce.as_slice()).unwrap();
        let seed = cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: &row.private_key,
                    aad: row.kid.as_bytes(),
                },
            )
            .unwrap();
        let key = SigningKey::from_bytes(seed.as_slice().try_into().unwrap());
        assert_eq!(key.verifying_key().as_bytes().as_slice(), row.public_key);
        assert!(
            cipher
                .decrypt(
                    &nonce,
                    Payload {
                        msg: &row.private_key,
                        aad: b"another kid",
                    },
                )
                .is_err()
        );
    }
    let nonces: BTreeSet<&Vec<u8>> = stored.iter().map(|row| &row.nonce).collect();
    assert_eq!(nonces.len(), stored.len(), "a nonce per key");
}

#[tokio::test]
async fn a_wrong_secret_is_a_clear_error_and_changes_nothing() {
    let ctx = TestContext::new();
    let db = migrated(&ctx).await;
    let keys = SigningKeys::new(db.clone(), &settings(), shared_jwks());
    keys.refresh().await.unwrap();
    let before: Vec<(String, String)> = rows(&db)
        .await
        .into_iter()
        .map(|row| (row.kid, row.status))
        .collect();

    // A rotation would be due for this replica: it must still write nothing.
    let wrong = IdentitySettings {
        secret: SecretString::from("another secret of more than thirty-two bytes"),
        signing_key_rotation: Duration::ZERO,
        ..settings()
    };
    let jwks = shared_jwks();
    let misconfigured =
        SigningKeys::new(db.clone(), &wrong, Arc::clone(&jwks)).with_timing(KeyTiming {
            maintenance_interval: Duration::from_millis(100),
            overlap_margin: Duration::ZERO,
        });
    let error = format!("{:#}", misconfigured.refresh().await.unwrap_err());
    assert!(
        error.contains("cannot decrypt signing key") && error.contains("services.identity.secret"),
        "{error}"
    );
    assert!(misconfigured.rotate().await.is_err());
    assert!(misconfigured.sign(&claims("someone")).await.is_err());
    assert!(jwks.read().await.keys.is_empty(), "nothing published");

    let after: Vec<(String, String)> = rows(&db)
        .await
        .into_iter()
        .map(|row| (row.kid, row.status))
        .collect();
    assert_eq!(before, after);

    // The right secret still works.
    keys.refresh().await.unwrap();
    keys.sign(&claims("someone")).await.unwrap();
}
