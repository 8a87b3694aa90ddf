//! Verification of access tokens against identity's published keys.
//!
//! The keys live in memory, decoded, by `kid`. A token signed by a key the verifier has not seen
//! (identity rotated) makes it reload the key set, at most once per `jwks_min_refresh_interval`
//! and once for any number of concurrent callers; the set is also reloaded in the background after
//! `jwks_refresh_interval`, so that withdrawn keys stop verifying. Nothing on the request path
//! waits for the network except that first load and an unknown `kid`.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use super::{ALGORITHM, Claims, Principal, TOKEN_TYPE};
use crate::clock::Clock;
use crate::config::AuthSettings;
use crate::{Error, Result};

/// A key set that identity, running in the same process, publishes and rotates.
pub type SharedJwks = Arc<tokio::sync::RwLock<JwkSet>>;

/// Where a [`Verifier`] gets the public keys.
#[derive(Clone)]
pub enum KeySource {
    /// Identity's `/.well-known/jwks.json`, fetched over HTTP(S).
    Url(String),
    /// The key set of an identity service in the same process; read, never fetched.
    Shared(SharedJwks),
}

impl fmt::Debug for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Url(url) => f.debug_tuple("Url").field(url).finish(),
            Self::Shared(_) => f.write_str("Shared"),
        }
    }
}

/// Tokens longer than this are refused unread: a real one is well under 2 KiB.
const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// Verified tokens remembered at once; past it, expired entries go, then all of them.
const CACHE_CAPACITY: usize = 8 * 1024;
/// A key-set fetch that takes longer than this has failed.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// Verifies access tokens. Cheap to clone: every clone shares one key cache.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

struct Inner {
    validation: Validation,
    /// Expiry and not-before are checked against this, not the wall clock, so that a test that
    /// moves the services' clock by days moves their tokens' lifetimes with it.
    clock: Clock,
    leeway_secs: i64,
    refresh_interval: Duration,
    min_refresh_interval: Duration,
    source: Source,
    /// The current keys. Swapped whole on refresh, so a reader holds the lock for one `Arc` clone.
    keys: RwLock<Arc<KeyRing>>,
    /// Held while reloading: the single flight that concurrent unknown `kid`s wait on.
    reload: tokio::sync::Mutex<ReloadState>,
    /// A background reload is running (so that a burst of requests after the refresh interval
    /// starts one, not one each).
    background: AtomicBool,
    cache: TokenCache,
}

enum Source {
    Url {
        url: String,
        client: Option<reqwest::Client>,
    },
    Shared(SharedJwks),
}

#[derive(Default)]
struct ReloadState {
    last_attempt: Option<Instant>,
}

/// The usable keys of one key set.
#[derive(Default)]
struct KeyRing {
    keys: HashMap<String, DecodingKey>,
    /// When this set was loaded; `None` until the first load succeeded.
    loaded_at: Option<Instant>,
    /// Counts reloads: a caller that saw an older one knows another caller reloaded meanwhile.
    generation: u64,
    /// Counts reloads that withdrew a key. A cached token is trusted only under the epoch it was
    /// verified in, so a verification racing with a withdrawal cannot cache a withdrawn key's token.
    epoch: u64,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ring = self.inner.ring();
        let mut kids: Vec<&str> = ring.keys.keys().map(String::as_str).collect();
        kids.sort_unstable();
        let source = match &self.inner.source {
            Source::Url { url, .. } => url.as_str(),
            Source::Shared(_) => "shared",
        };
        f.debug_struct("Verifier")
            .field("issuer", &self.inner.validation.iss)
            .field("audience", &self.inner.validation.aud)
            .field("source", &source)
            .field("kids", &kids)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// A verifier with no keys yet: the first verification (or [`Verifier::refresh`]) loads them.
    pub fn new(settings: &AuthSettings, source: KeySource) -> Self {
        Self::new_with_clock(settings, source, Clock::system())
    }

    /// As [`Verifier::new`], checking expiry against `clock`.
    pub fn new_with_clock(settings: &AuthSettings, source: KeySource, clock: Clock) -> Self {
        let mut validation = Validation::new(Algorithm::EdDSA);
        // `exp` and `nbf` are checked against the service clock in `verify` (jsonwebtoken would
        // read the wall clock); `exp` is still required.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.set_issuer(&[&settings.issuer]);
        validation.set_audience(&[&settings.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let source = match source {
            KeySource::Url(url) => {
                // reqwest is built without a rustls provider so that the tree has one, ring (see
                // deny.toml); building a client panics until one is installed.
                let _already_installed = rustls::crypto::ring::default_provider().install_default();
                let client = reqwest::Client::builder()
                    .timeout(FETCH_TIMEOUT)
                    .build()
                    .inspect_err(|error| tracing::error!(%error, "cannot build the jwks client"))
                    .ok();
                Source::Url { url, client }
            }
            KeySource::Shared(set) => Source::Shared(set),
        };
        Self {
            inner: Arc::new(Inner {
                validation,
                clock,
                leeway_secs: i64::try_from(settings.leeway.as_secs()).unwrap_or(i64::MAX),
                refresh_interval: settings.jwks_refresh_interval,
                min_refresh_interval: settings.jwks_min_refresh_interval,
                source,
                keys: RwLock::new(Arc::new(KeyRing::default())),
                reload: tokio::sync::Mutex::new(ReloadState::default()),
                background: AtomicBool::new(false),
                cache: TokenCache::new(CACHE_CAPACITY),
            }),
        }
    }

    /// Loads the key set now, e.g. at start-up so that the first request does not wait for it.
    pub async fn refresh(&self) -> Result<()> {
        let mut state = self.inner.reload.lock().await;
        self.inner
            .reload_locked(&mut state)
            .await
            .map(drop)
            .map_err(|error| {
                Error::internal(anyhow::anyhow!("loading the token signing keys: {error}"))
            })
    }

    /// Verifies a compact JWS access token and returns its principal. Every failure is
    /// `UNAUTHENTICATED` with a short reason, except keys that cannot be loaded at all, which is
    /// `UNAVAILABLE` (the caller should retry, not log in again).
    pub async fn verify(&self, token: &str) -> Result<Principal> {
        let inner = &self.inner;
        let ring = inner.ring();
        inner.schedule_refresh_if_stale(&ring);

        let now = inner.clock.now().timestamp();
        if let Some(principal) = inner.cache.get(token, ring.epoch, inner.leeway_secs, now) {
            return Ok(principal);
        }
        if token.is_empty() {
            return Err(unauthenticated("missing token"));
        }
        if token.len() > MAX_TOKEN_BYTES {
            return Err(unauthenticated("malformed token"));
        }
        let kid = parse_header(token)?;
        let ring = if ring.keys.contains_key(&kid) {
            ring
        } else {
            inner.reload_for_unknown_kid(&kid, ring).await?
        };
        let Some(key) = ring.keys.get(&kid) else {
            return Err(unauthenticated("unknown signing key"));
        };
        let claims = jsonwebtoken::decode::<Claims>(token, key, &inner.validation)
            .map_err(|error| unauthenticated(describe(error.kind())))?
            .claims;
        if claims.exp.saturating_add(inner.leeway_secs) < now {
            return Err(unauthenticated(describe(&ErrorKind::ExpiredSignature)));
        }
        if claims
            .nbf
            .is_some_and(|nbf| nbf.saturating_sub(inner.leeway_secs) > now)
        {
            return Err(unauthenticated(describe(&ErrorKind::ImmatureSignature)));
        }
        let exp = claims.exp;
        let principal = claims.into_principal().map_err(|reason| {
            tracing::debug!(reason, "token claims refused");
            unauthenticated("malformed token claims")
        })?;
        inner
            .cache
            .insert(token, &principal, exp, ring.epoch, inner.leeway_secs, now);
        Ok(principal)
    }
}

impl Inner {
    fn ring(&self) -> Arc<KeyRing> {
        self.keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Starts a background reload when the keys are older than the refresh interval.
    fn schedule_refresh_if_stale(self: &Arc<Self>, ring: &KeyRing) {
        let stale = ring
            .loaded_at
            .is_some_and(|at| at.elapsed() >= self.refresh_interval);
        if !stale || self.background.swap(true, Ordering::AcqRel) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.background.store(false, Ordering::Release);
            return;
        };
        let inner = Arc::clone(self);
        runtime.spawn(async move {
            let mut failed = false;
            {
                let mut state = inner.reload.lock().await;
                // Another reload may have run while this one waited for the lock.
                let stale = inner
                    .ring()
                    .loaded_at
                    .is_some_and(|at| at.elapsed() >= inner.refresh_interval);
                if stale && let Err(error) = inner.reload_locked(&mut state).await {
                    tracing::warn!(%error, "periodic reload of the token signing keys failed");
                    failed = true;
                }
            }
            if failed {
                // Keep the flag up for a while, so that requests do not start a reload each
                // while the key endpoint is down.
                tokio::time::sleep(inner.min_refresh_interval).await;
            }
            inner.background.store(false, Ordering::Release);
        });
    }

    /// Reloads the keys for a `kid` not in `seen`, unless another caller did meanwhile or (for a
    /// fetched key set) the last attempt was too recent. Returns the keys to look the `kid` up in.
    async fn reload_for_unknown_kid(&self, kid: &str, seen: Arc<KeyRing>) -> Result<Arc<KeyRing>> {
        let fetched = match &self.source {
            // An in-process key set is cheap to look at: reload only when it has the key, and then
            // without the rate limit (identity may have rotated a moment ago).
            Source::Shared(set) => {
                if set.read().await.find(kid).is_none() {
                    return Err(unauthenticated("unknown signing key"));
                }
                false
            }
            Source::Url { .. } => true,
        };
        let mut state = self.reload.lock().await;
        let current = self.ring();
        if current.keys.contains_key(kid) {
            return Ok(current);
        }
        if fetched {
            // Another caller fetched while this one waited: one fetch serves them all.
            if current.generation != seen.generation {
                return Ok(current);
            }
            let recent = state
                .last_attempt
                .is_some_and(|at| at.elapsed() < self.min_refresh_interval);
            if recent {
                return match current.loaded_at {
                    Some(_) => Ok(current),
                    None => Err(keys_unavailable(self.min_refresh_interval)),
                };
            }
        }
        match self.reload_locked(&mut state).await {
            Ok(ring) => Ok(ring),
            Err(error) => {
                tracing::warn!(%error, "reloading the token signing keys failed");
                match current.loaded_at {
                    // The kid may be genuine, but the keys at hand cannot tell.
                    Some(_) => Err(unauthenticated("unknown signing key")),
                    None => Err(keys_unavailable(self.min_refresh_interval)),
                }
            }
        }
    }

    /// Loads the key set and installs it. The caller holds the reload lock.
    async fn reload_locked(
        &self,
        state: &mut ReloadState,
    ) -> std::result::Result<Arc<KeyRing>, String> {
        state.last_attempt = Some(Instant::now());
        let jwks = match &self.source {
            Source::Url { url, client } => {
                let client = client.as_ref().ok_or("no http client")?;
                fetch(client, url).await?
            }
            Source::Shared(set) => set.read().await.keys.clone(),
        };
        let mut ring = KeyRing::from_jwks(&jwks);
        if ring.keys.is_empty() {
            // Identity always publishes at least its current key; an empty set is a fault (a
            // restart, a misconfiguration), and the keys at hand stay in use.
            return Err("the key set has no usable ed25519 key".to_owned());
        }
        let old = self.ring();
        ring.generation = old.generation + 1;
        ring.epoch = old.epoch;
        if old.keys.keys().any(|kid| !ring.keys.contains_key(kid)) {
            // A withdrawn key must stop verifying now, including the tokens it signed.
            ring.epoch += 1;
            self.cache.clear();
        }
        let ring = Arc::new(ring);
        tracing::debug!(keys = ring.keys.len(), "token signing keys loaded");
        *self.keys.write().unwrap_or_else(PoisonError::into_inner) = Arc::clone(&ring);
        Ok(ring)
    }
}

/// Fetches a JWKS document. Keys this verifier cannot parse are skipped, not fatal: identity may
/// publish other kinds beside the Ed25519 ones.
async fn fetch(client: &reqwest::Client, url: &str) -> std::result::Result<Vec<Jwk>, String> {
    #[derive(Deserialize)]
    struct RawSet {
        keys: Vec<serde_json::Value>,
    }
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|error| format!("fetching {url}: {error}"))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("fetching {url}: http status {status}"));
    }
    let body = response
        .bytes()
        .await
        .map_err(|error| format!("reading {url}: {error}"))?;
    let raw: RawSet = serde_json::from_slice(&body)
        .map_err(|error| format!("parsing the jwks at {url}: {error}"))?;
    Ok(raw
        .keys
        .into_iter()
        .filter_map(|key| serde_json::from_value(key).ok())
        .collect())
}

impl KeyRing {
    /// Keeps the keys that can verify EdDSA tokens: Ed25519 public keys with a `kid`, meant for
    /// signatures. Anything else (an RSA or HMAC key, a key without `kid`) is ignored, so that a
    /// token cannot pick an algorithm by picking a key.
    fn from_jwks(jwks: &[Jwk]) -> Self {
        let mut keys = HashMap::with_capacity(jwks.len());
        for jwk in jwks {
            let Some(kid) = jwk.common.key_id.as_deref().filter(|kid| !kid.is_empty()) else {
                continue;
            };
            let AlgorithmParameters::OctetKeyPair(params) = &jwk.algorithm else {
                continue;
            };
            let usable = params.curve == EllipticCurve::Ed25519
                && matches!(jwk.common.key_algorithm, None | Some(KeyAlgorithm::EdDSA))
                && matches!(jwk.common.public_key_use, None | Some(PublicKeyUse::Signature))
                // jsonwebtoken slices the first 32 bytes of the key on every verification; a
                // shorter one must never reach it.
                && URL_SAFE_NO_PAD.decode(params.x.trim_end_matches('=')).is_ok_and(|x| x.len() == 32);
            if !usable {
                tracing::debug!(kid, "ignoring a jwks key that cannot verify eddsa tokens");
                continue;
            }
            match DecodingKey::from_jwk(jwk) {
                Ok(key) => {
                    keys.entry(kid.to_owned()).or_insert(key);
                }
                Err(error) => tracing::debug!(kid, %error, "ignoring an unreadable jwks key"),
            }
        }
        Self {
            keys,
            loaded_at: Some(Instant::now()),
            generation: 0,
            epoch: 0,
        }
    }
}

/// Checks the JOSE header and returns its `kid`.
fn parse_header(token: &str) -> Result<String> {
    #[derive(Deserialize)]
    struct Header {
        alg: String,
        kid: Option<String>,
        typ: Option<String>,
        crit: Option<serde::de::IgnoredAny>,
    }
    let encoded = token.split('.').next().unwrap_or_default();
    if token.split('.').count() != 3 {
        return Err(unauthenticated("malformed token"));
    }
    let header: Header = URL_SAFE_NO_PAD
        .decode(encoded)
        .ok()
        .and_then(|json| serde_json::from_slice(&json).ok())
        .ok_or_else(|| unauthenticated("malformed token"))?;
    if header.alg != ALGORITHM {
        return Err(unauthenticated("unsupported token algorithm"));
    }
    if header.crit.is_some() {
        return Err(unauthenticated("unsupported critical token header"));
    }
    let typ = header.typ.as_deref().unwrap_or_default();
    let typ = typ.strip_prefix("application/").unwrap_or(typ);
    if !typ.eq_ignore_ascii_case(TOKEN_TYPE) {
        return Err(unauthenticated("not an access token"));
    }
    match header.kid {
        Some(kid) if !kid.is_empty() => Ok(kid),
        _ => Err(unauthenticated("token has no key id")),
    }
}

fn describe(kind: &ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidSignature => "bad signature",
        ErrorKind::ExpiredSignature => "expired token",
        ErrorKind::ImmatureSignature => "token not yet valid",
        ErrorKind::InvalidIssuer => "wrong issuer",
        ErrorKind::InvalidAudience => "wrong audience",
        ErrorKind::MissingRequiredClaim(_) => "token lacks a required claim",
        ErrorKind::InvalidAlgorithm | ErrorKind::MissingAlgorithm => "unsupported token algorithm",
        ErrorKind::InvalidEddsaKey | ErrorKind::InvalidKeyFormat => "unusable signing key",
        ErrorKind::Json(_) | ErrorKind::InvalidClaimFormat(_) => "malformed token claims",
        _ => "malformed token",
    }
}

fn unauthenticated(message: &str) -> Error {
    Error::Unauthenticated(message.to_owned())
}

fn keys_unavailable(retry_after: Duration) -> Error {
    Error::Unavailable {
        message: "token signing keys are unavailable".to_owned(),
        retry_after: Some(retry_after.max(Duration::from_secs(1))),
    }
}

/// Verified tokens by their exact text. A client sends one token for its whole life, so most
/// requests are answered here without an Ed25519 verification. Only tokens that verified are ever
/// inserted, so junk cannot fill it; the expiry is checked again on every hit.
struct TokenCache {
    entries: RwLock<HashMap<Box<str>, CachedToken>>,
    capacity: usize,
}

struct CachedToken {
    principal: Principal,
    exp: i64,
    epoch: u64,
}

impl TokenCache {
    fn new(capacity: usize) -> Self {
        Self {
            entries: RwLock::new(HashMap::new()),
            capacity,
        }
    }

    fn get(&self, token: &str, epoch: u64, leeway: i64, now: i64) -> Option<Principal> {
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        let entry = entries.get(token)?;
        let valid = entry.epoch == epoch && entry.exp.saturating_add(leeway) >= now;
        valid.then(|| entry.principal.clone())
    }

    #[allow(clippy::too_many_arguments)] // One cache entry's parts and the time it is put in.
    fn insert(
        &self,
        token: &str,
        principal: &Principal,
        exp: i64,
        epoch: u64,
        leeway: i64,
        now: i64,
    ) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= self.capacity {
            entries
                .retain(|_, entry| entry.epoch == epoch && entry.exp.saturating_add(leeway) >= now);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        let entry = CachedToken {
            principal: principal.clone(),
            exp,
            epoch,
        };
        entries.insert(token.into(), entry);
    }

    fn clear(&self) {
        self.entries
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}
