//! The Ed25519 keys identity signs access tokens with, and the key set (JWKS) every service
//! verifies them against.
//!
//! # Lifecycle: next, active, retired, gone
//!
//! - **next**: made and published, not signing yet. A key is published for at least
//!   [`KeyTiming::overlap_margin`] before it signs, so that by the time a token carries its `kid`
//!   every identity replica serves it in its key set (replicas refresh every
//!   [`KeyTiming::maintenance_interval`]), whichever replica a verifier fetches from.
//! - **active**: the one key that signs. There is exactly one however many replicas start at once:
//!   every change to the table happens in a transaction holding an advisory lock, and a partial
//!   unique index refuses a second active (or next) key outright should anything bypass the lock.
//! - **retired**: no longer signs, still published until `expires_at` = retirement +
//!   `access_token_ttl` + the overlap margin. The margin covers the replicas that keep signing with
//!   it until their next refresh notices the rotation, and clock skew: every token a retired key
//!   signed has expired before the key leaves the set.
//! - after `expires_at` the key verifies nothing: it leaves the published set and its row is
//!   deleted (a key that can verify nothing is only a liability).
//!
//! Rotation is due when the active key is older than `signing_key_rotation` (and the next key has
//! been published for the margin): the next key becomes active, the active one retires, a new next
//! key is made. [`SigningKeys::rotate`] does the same at once, on an operator's word. Verifiers in
//! other processes pick a new `kid` up without a restart: they already have it from their last
//! fetch (pre-publication), or refetch the set when a token names a `kid` they do not know.
//!
//! # At rest
//!
//! A key's 32-byte Ed25519 seed is stored encrypted with AES-256-GCM under a key derived from
//! `services.identity.secret` with HKDF-SHA256 ([`derive_key`]). Each key has its own random nonce,
//! and its `kid` is the associated data, so a ciphertext copied into another row does not decrypt.
//! A replica started with the wrong secret fails its first [`SigningKeys::refresh`] with an error
//! naming the secret, before it writes anything (it must not add keys the others cannot read).
//!
//! # In memory
//!
//! The active key is decrypted once and held with its JOSE header: [`SigningKeys::sign`] makes no
//! database call. The published set is written into the process's [`SharedJwks`], which the
//! verifiers of the other services in the same process read, and which `/.well-known/jwks.json`
//! and `GetJwks` serve ([`SigningKeys::jwks`]).
//!
//! A `kid` is the RFC 7638 thumbprint of the public key (base64url SHA-256 of its canonical JWK),
//! so a `kid` names exactly one key and anyone can recompute it.

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Nonce, Payload};
use anyhow::{Context as _, anyhow};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, SubsecRound as _, Utc};
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::EncodePrivateKey as _;
use hkdf::Hkdf;
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, Jwk, KeyAlgorithm,
    OctetKeyPairParameters, OctetKeyPairType, PublicKeyUse, ThumbprintHash,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rand::TryRngCore as _;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait as _, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    EntityTrait as _, QueryFilter as _, Statement, TransactionTrait,
};
use secrecy::{ExposeSecret as _, SecretString};
use sha2::Sha256;
use terrace_platform::Clock;
use terrace_platform::auth::{Claims, JwkSet, SharedJwks, TOKEN_TYPE};
use terrace_platform::db::SqlMigration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::IdentitySettings;
use crate::entity::signing_keys::{self, Column, Entity as Keys, KeyStatus as Status};

/// The signing keys table.
pub const MIGRATION: SqlMigration = SqlMigration {
    name: "m20261128_200002_identity_signing_keys",
    up: r"
CREATE TABLE signing_keys (
    -- RFC 7638 thumbprint of the public key (base64url SHA-256 of its canonical JWK).
    kid               text        PRIMARY KEY,
    -- The Ed25519 public key.
    public_key        bytea       NOT NULL CHECK (octet_length(public_key) = 32),
    -- The 32-byte Ed25519 seed, AES-256-GCM encrypted (with its 16-byte tag) under a key derived
    -- from services.identity.secret by HKDF-SHA256; the kid is the associated data.
    private_key       bytea       NOT NULL CHECK (octet_length(private_key) = 48),
    private_key_nonce bytea       NOT NULL CHECK (octet_length(private_key_nonce) = 12),
    -- next: published, not signing yet; active: signs; retired: published until expires_at.
    status            text        NOT NULL CHECK (status IN ('next', 'active', 'retired')),
    created_at        timestamptz NOT NULL,
    activated_at      timestamptz,
    -- No longer signs from then on.
    retired_at        timestamptz,
    -- Leaves the published key set: retired_at + access-token lifetime + overlap margin.
    expires_at        timestamptz,
    CHECK ((status = 'next') = (activated_at IS NULL)),
    CHECK ((status = 'retired') = (retired_at IS NOT NULL)),
    CHECK ((status = 'retired') = (expires_at IS NOT NULL))
);
-- At most one key signs and at most one waits, whatever the replicas do.
CREATE UNIQUE INDEX signing_keys_one_per_status ON signing_keys (status)
    WHERE status IN ('next', 'active');
",
};

/// The transaction-scoped advisory lock every change of the key table holds (the bytes of
/// `"sigkeys"`; advisory locks are per database, and the outbox uses `"outbox"`).
const LOCK_KEY: i64 = 0x0073_6967_6b65_7973;

/// HKDF info of the key that encrypts the signing keys at rest.
const ENCRYPTION_PURPOSE: &str = "terrace identity signing-key encryption v1";

/// Derives a 32-byte key for one `purpose` from the service secret with HKDF-SHA256.
///
/// Every use of the secret (encrypting the signing keys, keying the hash of refresh tokens) takes
/// its own derived key, so that the uses stay independent: a key recovered from one of them tells
/// nothing about the others or about the secret.
pub fn derive_key(secret: &SecretString, purpose: &str) -> [u8; 32] {
    let hkdf = Hkdf::<Sha256>::new(Some(b"terrace-identity"), secret.expose_secret().as_bytes());
    let mut key = [0u8; 32];
    if hkdf.expand(purpose.as_bytes(), &mut key).is_err() {
        // HKDF-SHA256 expands to at most 8160 bytes; 32 always fit.
        unreachable!("hkdf cannot fail to expand 32 bytes");
    }
    key
}

/// How often replicas look at the key table and how long keys overlap. The defaults suit
/// production; tests shrink them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyTiming {
    /// How often [`SigningKeys::spawn_maintenance`] refreshes. A replica notices a rotation made by
    /// another within this long, so this is also how long it may go on signing with a key that has
    /// just been retired.
    pub maintenance_interval: Duration,
    /// How long a key is published before it signs, and beyond `access_token_ttl` after it stops
    /// signing. Must exceed `maintenance_interval` plus the clock skew between replicas.
    pub overlap_margin: Duration,
}

impl Default for KeyTiming {
    fn default() -> Self {
        Self {
            maintenance_interval: Duration::from_secs(60),
            overlap_margin: Duration::from_secs(180),
        }
    }
}

/// The signing keys of this process: the decrypted active key and the published key set.
///
/// Cheap to clone: clones share one cache, so a refresh by any of them (the maintenance task, a
/// rotation) is seen by every handler at once.
#[derive(Clone)]
pub struct SigningKeys {
    inner: Arc<Inner>,
    timing: KeyTiming,
}

struct Inner {
    db: DatabaseConnection,
    /// AES-256-GCM under the key derived from the service secret.
    cipher: Aes256Gcm,
    rotation: Duration,
    access_token_ttl: Duration,
    /// The published set, shared with the verifiers of this process.
    jwks: SharedJwks,
    /// What signs now. A std lock: held only to clone an `Arc`, never across an await.
    current: RwLock<Option<Current>>,
    /// One refresh at a time in this process, so that two cannot install their views out of order.
    refresh: tokio::sync::Mutex<()>,
    /// When keys are due for rotation and expiry (the service clock).
    clock: Clock,
}

#[derive(Clone)]
struct Current {
    signer: Arc<Signer>,
    /// The last successful refresh: a signer not confirmed for too long is refreshed before use.
    refreshed_at: Instant,
}

struct Signer {
    kid: String,
    header: Header,
    key: EncodingKey,
}

impl fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kid = self
            .inner
            .current()
            .map(|current| current.signer.kid.clone());
        f.debug_struct("SigningKeys")
            .field("active_kid", &kid)
            .field("rotation", &self.inner.rotation)
            .field("timing", &self.timing)
            .finish_non_exhaustive()
    }
}

/// What a refresh may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    /// Make the keys that are missing and rotate when due.
    IfDue,
    /// Rotate now.
    RotateNow,
}

/// One row of `signing_keys`.
type KeyRow = signing_keys::Model;

impl KeyRow {
    fn is_published(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_none_or(|at| at > now)
    }
}

impl SigningKeys {
    /// Keys kept in `db`, encrypted under `settings.secret`, published into `jwks` (the process's
    /// shared set, `ServiceContext::jwks`). Nothing is loaded until [`SigningKeys::refresh`].
    pub fn new(db: DatabaseConnection, settings: &IdentitySettings, jwks: SharedJwks) -> Self {
        let key = derive_key(&settings.secret, ENCRYPTION_PURPOSE);
        Self {
            inner: Arc::new(Inner {
                db,
                cipher: Aes256Gcm::new(&key.into()),
                rotation: settings.signing_key_rotation,
                access_token_ttl: settings.access_token_ttl,
                jwks,
                current: RwLock::new(None),
                refresh: tokio::sync::Mutex::new(()),
                clock: Clock::system(),
            }),
            timing: KeyTiming::default(),
        }
    }

    /// The same keys on another clock (the service's). Call before cloning: a clone made earlier
    /// keeps the wall clock.
    #[must_use]
    pub fn with_clock(mut self, clock: Clock) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.clock = clock;
        }
        self
    }

    /// The same keys with other intervals (tests use tiny ones). Call before cloning.
    #[must_use]
    pub fn with_timing(self, timing: KeyTiming) -> Self {
        Self { timing, ..self }
    }

    /// Brings this process up to date with the key table: makes the active and next keys when
    /// missing, rotates when the active key is due, drops expired keys, publishes the current set
    /// (active, next, and retired keys not yet expired) and caches the active key for signing.
    ///
    /// Safe with any number of replicas at once. Fails when the stored keys cannot be decrypted
    /// with the configured secret, before changing anything.
    pub async fn refresh(&self) -> anyhow::Result<()> {
        let _one_at_a_time = self.inner.refresh.lock().await;
        self.refresh_locked(Change::IfDue).await.map(drop)
    }

    /// Rotates now: the next key (or a new one) starts signing, the active key retires but stays
    /// published until every token it signed has expired. Returns the new active `kid`.
    pub async fn rotate(&self) -> anyhow::Result<String> {
        let _one_at_a_time = self.inner.refresh.lock().await;
        self.refresh_locked(Change::RotateNow).await
    }

    /// The key set published now, as `/.well-known/jwks.json` serves it.
    pub async fn jwks(&self) -> JwkSet {
        self.inner.jwks.read().await.clone()
    }

    /// The `kid` that signs now, if the keys were loaded.
    pub fn active_kid(&self) -> Option<String> {
        self.inner
            .current()
            .map(|current| current.signer.kid.clone())
    }

    /// Signs `claims` as an access token (`alg: EdDSA`, `typ: at+jwt`, the active `kid`), the
    /// format `terrace_platform::auth::Verifier` accepts.
    ///
    /// Uses the cached key; goes to the database only when nothing is loaded yet or the last
    /// refresh is older than the maintenance interval plus the overlap margin (the maintenance task
    /// has stopped working, and the cached key may have been retired long ago).
    pub async fn sign(&self, claims: &Claims) -> anyhow::Result<String> {
        let signer = self.signer().await?;
        jsonwebtoken::encode(&signer.header, claims, &signer.key).context("signing an access token")
    }

    /// Refreshes every maintenance interval until `shutdown`, so that this replica picks up
    /// rotations made by another and makes the ones that fall due. Failures are logged and retried
    /// at the next tick; the cached key keeps signing meanwhile.
    pub fn spawn_maintenance(&self, tasks: &TaskTracker, shutdown: CancellationToken) {
        let keys = self.clone();
        // A zero period would make the interval panic.
        let period = self
            .timing
            .maintenance_interval
            .max(Duration::from_millis(10));
        tasks.spawn(async move {
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    _ = ticks.tick() => {}
                }
                if let Err(error) = keys.refresh().await {
                    tracing::warn!(
                        error = format!("{error:#}"),
                        "refreshing the signing keys failed"
                    );
                }
            }
        });
    }

    /// The signer to use now, refreshing first when there is none or it is stale.
    async fn signer(&self) -> anyhow::Result<Arc<Signer>> {
        let stale_after = self.timing.maintenance_interval + self.timing.overlap_margin;
        let fresh = |current: Option<Current>| {
            current
                .filter(|current| current.refreshed_at.elapsed() < stale_after)
                .map(|current| current.signer)
        };
        if let Some(signer) = fresh(self.inner.current()) {
            return Ok(signer);
        }
        let _one_at_a_time = self.inner.refresh.lock().await;
        // Another caller may have refreshed while this one waited.
        if let Some(signer) = fresh(self.inner.current()) {
            return Ok(signer);
        }
        self.refresh_locked(Change::IfDue).await?;
        self.inner
            .current()
            .map(|current| current.signer)
            .context("no signing key after a refresh")
    }

    /// The refresh proper; the caller holds `inner.refresh`. Returns the active `kid`.
    async fn refresh_locked(&self, change: Change) -> anyhow::Result<String> {
        let inner = &self.inner;
        let txn = inner
            .db
            .begin()
            .await
            .context("starting the signing-key transaction")?;
        // Raw: an advisory lock is a function call the query builder has no word for.
        txn.execute_raw(Statement::from_sql_and_values(
            txn.get_database_backend(),
            "SELECT pg_advisory_xact_lock($1)",
            [LOCK_KEY.into()],
        ))
        .await
        .context("locking the signing keys")?;
        // Taken after the lock: another replica may have held it for a while.
        let now = inner.clock.now().trunc_subsecs(6);
        let rows = load(&txn).await?;
        let cached = inner.current().map(|current| current.signer);

        // Prove the secret before writing anything: a replica with a wrong one must not add keys
        // that the others cannot read. A cached signer proved it at the first refresh.
        if cached.is_none()
            && let Some(row) = rows.first()
        {
            inner.decrypt(row)?;
        }

        let mut changed = false;
        let deleted = Keys::delete_many()
            .filter(Column::Status.eq(Status::Retired))
            .filter(Column::ExpiresAt.lte(now))
            .exec(&txn)
            .await
            .context("deleting expired signing keys")?
            .rows_affected;
        changed |= deleted > 0;

        let active = rows.iter().find(|row| row.status == Status::Active);
        let next = rows.iter().find(|row| row.status == Status::Next);
        let rotate = match (change, active) {
            (Change::RotateNow, _) | (_, None) => true,
            (Change::IfDue, Some(active)) => {
                let due = active
                    .activated_at
                    .is_none_or(|at| at + inner.rotation <= now);
                let next_ready =
                    next.is_some_and(|next| next.created_at + self.timing.overlap_margin <= now);
                due && next_ready
            }
        };
        let mut next = next.map(|row| row.kid.clone());
        if rotate {
            if let Some(active) = active {
                let expires_at = now + inner.access_token_ttl + self.timing.overlap_margin;
                Keys::update_many()
                    .col_expr(Column::Status, Expr::value(Status::Retired))
                    .col_expr(Column::RetiredAt, Expr::value(now))
                    .col_expr(Column::ExpiresAt, Expr::value(expires_at))
                    .filter(Column::Kid.eq(active.kid.as_str()))
                    .exec(&txn)
                    .await
                    .context("retiring the active signing key")?;
                tracing::info!(kid = %active.kid, %expires_at, "signing key retired");
            }
            let kid = match next.take() {
                Some(kid) => {
                    Keys::update_many()
                        .col_expr(Column::Status, Expr::value(Status::Active))
                        .col_expr(Column::ActivatedAt, Expr::value(now))
                        .filter(Column::Kid.eq(kid.as_str()))
                        .exec(&txn)
                        .await
                        .context("activating the next signing key")?;
                    kid
                }
                None => inner.insert_new(&txn, true, now).await?,
            };
            tracing::info!(%kid, "signing key activated");
            changed = true;
        }
        if next.is_none() {
            let kid = inner.insert_new(&txn, false, now).await?;
            tracing::info!(%kid, "next signing key made");
            changed = true;
        }
        let rows = if changed { load(&txn).await? } else { rows };

        let active = rows
            .iter()
            .find(|row| row.status == Status::Active)
            .context("no active signing key after a refresh")?;
        // Decrypt before committing, so that a key that cannot be used is not made the active one.
        let signer = match cached {
            Some(signer) if signer.kid == active.kid => signer,
            _ => Arc::new(inner.signer(active)?),
        };
        txn.commit()
            .await
            .context("committing the signing-key transaction")?;

        let published = JwkSet {
            keys: rows
                .iter()
                .filter(|row| row.is_published(now))
                .map(|row| jwk(Some(&row.kid), &row.public_key))
                .collect(),
        };
        *inner.jwks.write().await = published;
        *inner
            .current
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(Current {
            signer: Arc::clone(&signer),
            refreshed_at: Instant::now(),
        });
        Ok(active.kid.clone())
    }
}

/// Every key, active first, then next, then retired (newest first).
async fn load(txn: &DatabaseTransaction) -> anyhow::Result<Vec<KeyRow>> {
    let mut rows = Keys::find()
        .all(txn)
        .await
        .context("loading the signing keys")?;
    rows.sort_by(|a, b| {
        a.status
            .cmp(&b.status)
            .then_with(|| b.created_at.cmp(&a.created_at))
    });
    Ok(rows)
}

impl Inner {
    fn current(&self) -> Option<Current> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Makes a key and stores it encrypted, active or next; returns its `kid`.
    async fn insert_new(
        &self,
        txn: &DatabaseTransaction,
        active: bool,
        now: DateTime<Utc>,
    ) -> anyhow::Result<String> {
        let mut seed = [0u8; 32];
        rand::rngs::OsRng
            .try_fill_bytes(&mut seed)
            .context("drawing a signing key from the operating system")?;
        let public_key = SigningKey::from_bytes(&seed).verifying_key().to_bytes();
        let kid = jwk(None, &public_key)
            .thumbprint(ThumbprintHash::SHA256)
            .context("computing a key thumbprint")?;
        let nonce: [u8; 12] = rand::random();
        let private_key = self
            .cipher
            .encrypt(
                &nonce.into(),
                Payload {
                    msg: &seed,
                    aad: kid.as_bytes(),
                },
            )
            .map_err(|_| anyhow!("encrypting a signing key failed"))?;
        let (status, activated_at) = if active {
            (Status::Active, Some(now))
        } else {
            (Status::Next, None)
        };
        let key = signing_keys::ActiveModel {
            kid: Set(kid.clone()),
            public_key: Set(public_key.to_vec()),
            private_key: Set(private_key),
            private_key_nonce: Set(nonce.to_vec()),
            status: Set(status),
            created_at: Set(now),
            activated_at: Set(activated_at),
            retired_at: Set(None),
            expires_at: Set(None),
        };
        Keys::insert(key)
            .exec_without_returning(txn)
            .await
            .context("storing a new signing key")?;
        Ok(kid)
    }

    /// The stored seed of `row`, checked against its public key.
    fn decrypt(&self, row: &KeyRow) -> anyhow::Result<SigningKey> {
        let kid = &row.kid;
        let nonce = Nonce::<Aes256Gcm>::try_from(row.private_key_nonce.as_slice())
            .map_err(|_| anyhow!("signing key {kid} is corrupt: its nonce is not 12 bytes"))?;
        let seed = self
            .cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: &row.private_key,
                    aad: kid.as_bytes(),
                },
            )
            .map_err(|_| {
                anyhow!(
                    "cannot decrypt signing key {kid}: services.identity.secret is not the secret \
                     it was encrypted with (changed or mistyped?); configure that secret again"
                )
            })?;
        let seed: [u8; 32] = seed
            .as_slice()
            .try_into()
            .map_err(|_| anyhow!("signing key {kid} is corrupt: its seed is not 32 bytes"))?;
        let key = SigningKey::from_bytes(&seed);
        anyhow::ensure!(
            key.verifying_key().as_bytes().as_slice() == row.public_key.as_slice(),
            "signing key {kid} is corrupt: its private key does not match its public key"
        );
        Ok(key)
    }

    /// The decrypted key of `row`, ready to sign.
    fn signer(&self, row: &KeyRow) -> anyhow::Result<Signer> {
        let key = self.decrypt(row)?;
        let der = key
            .to_pkcs8_der()
            .context("encoding a signing key as pkcs8")?;
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(row.kid.clone());
        header.typ = Some(TOKEN_TYPE.to_owned());
        Ok(Signer {
            kid: row.kid.clone(),
            header,
            key: EncodingKey::from_ed_der(der.as_bytes()),
        })
    }
}

/// The public JWK of an Ed25519 key: `kty: OKP`, `crv: Ed25519`, `alg: EdDSA`, `use: sig`.
fn jwk(kid: Option<&str>, public_key: &[u8]) -> Jwk {
    Jwk {
        common: CommonParameters {
            key_id: kid.map(str::to_owned),
            key_algorithm: Some(KeyAlgorithm::EdDSA),
            public_key_use: Some(PublicKeyUse::Signature),
            ..CommonParameters::default()
        },
        algorithm: AlgorithmParameters::OctetKeyPair(OctetKeyPairParameters {
            key_type: OctetKeyPairType::OctetKeyPair,
            curve: EllipticCurve::Ed25519,
            x: URL_SAFE_NO_PAD.encode(public_key),
        }),
    }
}
/// A signing key as the contract publishes it.
pub fn jwk_to_proto(jwk: &jsonwebtoken::jwk::Jwk) -> Option<terrace_proto::identity::v1::Jwk> {
    let jsonwebtoken::jwk::AlgorithmParameters::OctetKeyPair(okp) = &jwk.algorithm else {
        return None;
    };
    Some(terrace_proto::identity::v1::Jwk {
        kid: jwk.common.key_id.clone().unwrap_or_default(),
        kty: "OKP".to_owned(),
        crv: "Ed25519".to_owned(),
        x: okp.x.clone(),
        alg: "EdDSA".to_owned(),
        r#use: "sig".to_owned(),
        ..Default::default()
    })
}
