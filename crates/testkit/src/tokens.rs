//! A token issuer for tests: an Ed25519 key pair, its JWKS on a real HTTP endpoint, and access
//! tokens in exactly the format identity mints (see `terrace_platform::auth`).
//!
//! [`TestIssuer::token`] makes the ordinary token; [`TestIssuer::build`] makes the odd ones a test
//! needs (expired, foreign issuer or audience, an agency, a helper, a forged algorithm). Rotation
//! keeps the old key published, as identity does during its overlap, so tests can watch a
//! verifier pick up a new `kid`.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm,
    OctetKeyPairParameters, OctetKeyPairType, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use terrace_platform::auth::{
    Actor, AdminScope, Claims, KeySource, PrincipalKind, Role, RoleGrant, SharedJwks, TOKEN_TYPE,
};
use terrace_platform::clock::Clock;
use terrace_platform::config::AuthSettings;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// How long [`TestIssuer::token`]'s tokens live, as identity's access tokens do.
pub const TOKEN_TTL: Duration = Duration::from_secs(15 * 60);

/// Where [`TestIssuer::serve_jwks`] publishes the key set, as identity does.
pub const JWKS_PATH: &str = "/.well-known/jwks.json";

/// Signs test access tokens; see the module documentation.
pub struct TestIssuer {
    /// `iat` and `exp` are read from it: the services' clock when the issuer serves a [`TestApp`].
    ///
    /// [`TestApp`]: crate::app::TestApp
    clock: Clock,
    issuer: String,
    audience: String,
    state: Arc<IssuerState>,
    servers: Mutex<Vec<JoinHandle<()>>>,
}

struct IssuerState {
    /// Every key made, oldest first; the last one signs.
    keys: Mutex<Vec<TestKey>>,
    /// The published set, for a verifier in the same process ([`KeySource::Shared`]).
    shared: SharedJwks,
    fetches: AtomicUsize,
}

#[derive(Clone)]
struct TestKey {
    kid: String,
    signing: SigningKey,
    encoding: EncodingKey,
    published: bool,
}

impl TestKey {
    fn generate(kid: String) -> Self {
        let signing = SigningKey::from_bytes(&rand::random::<[u8; 32]>());
        let der = signing
            .to_pkcs8_der()
            .expect("encode an ed25519 key as pkcs8");
        let encoding = EncodingKey::from_ed_der(der.as_bytes());
        Self {
            kid,
            signing,
            encoding,
            published: true,
        }
    }

    fn jwk(&self) -> Jwk {
        Jwk {
            common: CommonParameters {
                key_id: Some(self.kid.clone()),
                key_algorithm: Some(KeyAlgorithm::EdDSA),
                public_key_use: Some(PublicKeyUse::Signature),
                ..CommonParameters::default()
            },
            algorithm: AlgorithmParameters::OctetKeyPair(OctetKeyPairParameters {
                key_type: OctetKeyPairType::OctetKeyPair,
                curve: EllipticCurve::Ed25519,
                x: URL_SAFE_NO_PAD.encode(self.signing.verifying_key().as_bytes()),
            }),
        }
    }
}

impl IssuerState {
    fn keys(&self) -> std::sync::MutexGuard<'_, Vec<TestKey>> {
        self.keys.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn published(&self) -> JwkSet {
        JwkSet {
            keys: self
                .keys()
                .iter()
                .filter(|key| key.published)
                .map(TestKey::jwk)
                .collect(),
        }
    }

    async fn publish(&self) {
        let set = self.published();
        *self.shared.write().await = set;
    }
}

impl fmt::Debug for TestIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestIssuer")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("kid", &self.kid())
            .finish_non_exhaustive()
    }
}

impl Default for TestIssuer {
    fn default() -> Self {
        Self::new()
    }
}

impl TestIssuer {
    /// An issuer for the default settings (`iss` and `aud` both `terrace`) with a fresh key.
    pub fn new() -> Self {
        Self::with_kid(&format!("test-{}", uuid::Uuid::new_v4().simple()))
    }

    /// As [`TestIssuer::new`], with a chosen `kid` (to forge a token under another's key id).
    pub fn with_kid(kid: &str) -> Self {
        let defaults = AuthSettings::default();
        let key = TestKey::generate(kid.to_owned());
        let set = JwkSet {
            keys: vec![key.jwk()],
        };
        Self {
            clock: Clock::system(),
            issuer: defaults.issuer,
            audience: defaults.audience,
            state: Arc::new(IssuerState {
                keys: Mutex::new(vec![key]),
                shared: Arc::new(tokio::sync::RwLock::new(set)),
                fetches: AtomicUsize::new(0),
            }),
            servers: Mutex::new(Vec::new()),
        }
    }

    /// Dates its tokens by `clock` instead of the wall clock.
    pub fn on_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The `kid` that signs now.
    pub fn kid(&self) -> String {
        self.state
            .keys()
            .last()
            .map(|key| key.kid.clone())
            .unwrap_or_default()
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// The published key set: Ed25519 public keys as OKP JWKs with `kid`, `alg: EdDSA`, `use: sig`.
    pub fn jwks(&self) -> JwkSet {
        self.state.published()
    }

    /// The published key set as identity shares it in-process; rotation updates it.
    pub fn shared_jwks(&self) -> SharedJwks {
        Arc::clone(&self.state.shared)
    }

    /// A key source that reads [`TestIssuer::shared_jwks`].
    pub fn key_source(&self) -> KeySource {
        KeySource::Shared(self.shared_jwks())
    }

    /// Settings a verifier of this issuer's tokens needs (no `jwks_url`: set it, or use
    /// [`TestIssuer::key_source`]).
    pub fn auth_settings(&self) -> AuthSettings {
        AuthSettings {
            jwks_url: None,
            issuer: self.issuer.clone(),
            audience: self.audience.clone(),
            ..AuthSettings::default()
        }
    }

    /// Serves the key set at `http://127.0.0.1:<port>/.well-known/jwks.json` until the issuer is
    /// dropped, and returns that URL. Every fetch is counted ([`TestIssuer::jwks_fetches`]).
    pub async fn serve_jwks(&self) -> String {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the jwks server");
        let addr = listener.local_addr().expect("jwks server address");
        let router = Router::new()
            .route(JWKS_PATH, get(serve_jwks))
            .with_state(Arc::clone(&self.state));
        let server = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                tracing::warn!(%error, "test jwks server stopped");
            }
        });
        self.servers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(server);
        format!("http://{addr}{JWKS_PATH}")
    }

    /// How many times the key set was fetched over HTTP.
    pub fn jwks_fetches(&self) -> usize {
        self.state.fetches.load(Ordering::SeqCst)
    }

    /// A user's access token for `subject`, valid for 15 minutes, with `grants` of (role,
    /// administrative-code prefix). Panics on a malformed prefix.
    pub fn token(&self, subject: &str, grants: &[(Role, &str)]) -> String {
        self.build(subject).grants(grants).sign()
    }

    /// A token builder for `subject`, starting from what [`TestIssuer::token`] would make.
    pub fn build(&self, subject: &str) -> TokenBuilder<'_> {
        let now = self.clock.now().timestamp();
        TokenBuilder {
            issuer: self,
            claims: Claims {
                iss: self.issuer.clone(),
                aud: self.audience.clone(),
                sub: subject.to_owned(),
                kind: PrincipalKind::User,
                exp: now + secs(TOKEN_TTL),
                iat: now,
                nbf: None,
                jti: uuid::Uuid::now_v7().to_string(),
                roles: Vec::new(),
                scope: String::new(),
                act: None,
            },
            kid: None,
            typ: Some(TOKEN_TYPE.to_owned()),
            signing: Signing::CurrentKey,
        }
    }

    /// Makes a new signing key and publishes it beside the old ones (which keep verifying until
    /// [`TestIssuer::withdraw`]). Returns the new `kid`.
    pub async fn rotate(&self) -> String {
        let key = TestKey::generate(format!("test-{}", uuid::Uuid::new_v4().simple()));
        let kid = key.kid.clone();
        self.state.keys().push(key);
        self.state.publish().await;
        kid
    }

    /// Stops publishing the key `kid` (the end of a rotation's overlap, or a compromised key).
    pub async fn withdraw(&self, kid: &str) {
        for key in self.state.keys().iter_mut().filter(|key| key.kid == kid) {
            key.published = false;
        }
        self.state.publish().await;
    }
}

impl Drop for TestIssuer {
    fn drop(&mut self) {
        for server in self
            .servers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
        {
            server.abort();
        }
    }
}

async fn serve_jwks(State(state): State<Arc<IssuerState>>) -> impl axum::response::IntoResponse {
    state.fetches.fetch_add(1, Ordering::SeqCst);
    let body = serde_json::to_vec(&state.published()).expect("serialize the jwks");
    ([(CONTENT_TYPE, "application/json")], body)
}

fn secs(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).expect("a test duration fits in i64")
}

enum Signing {
    CurrentKey,
    /// HS256 keyed with the issuer's *public* key: the algorithm-confusion forgery.
    Hs256WithPublicKey,
    /// `alg: none` and no signature.
    Unsigned,
}

/// Builds one test token; see [`TestIssuer::build`].
#[must_use]
pub struct TokenBuilder<'a> {
    issuer: &'a TestIssuer,
    claims: Claims,
    /// `None`: the issuer's current kid.
    kid: Option<Option<String>>,
    typ: Option<String>,
    signing: Signing,
}

impl fmt::Debug for TokenBuilder<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenBuilder")
            .field("claims", &self.claims)
            .finish_non_exhaustive()
    }
}

impl TokenBuilder<'_> {
    /// Adds a role grant. The prefix must parse, but the grant is not checked against its role,
    /// so a test can make a token with a grant identity would refuse.
    pub fn grant(mut self, role: Role, scope: &str) -> Self {
        let scope = AdminScope::parse(scope).expect("a valid administrative-code prefix");
        self.claims.roles.push(RoleGrant { role, scope });
        self
    }

    pub fn grants(self, grants: &[(Role, &str)]) -> Self {
        grants
            .iter()
            .fold(self, |builder, (role, scope)| builder.grant(*role, scope))
    }

    /// Expired an hour ago, well beyond any leeway.
    pub fn expired(mut self) -> Self {
        let now = self.issuer.clock.now().timestamp();
        self.claims.iat = now - 2 * 3600;
        self.claims.exp = now - 3600;
        self
    }

    /// Valid for `ttl` from now.
    pub fn valid_for(mut self, ttl: Duration) -> Self {
        self.claims.exp = self.claims.iat + secs(ttl);
        self
    }

    /// Not valid until `delay` from now.
    pub fn not_before(mut self, delay: Duration) -> Self {
        self.claims.nbf = Some(self.claims.iat + secs(delay));
        self
    }

    /// Another `iss`.
    pub fn issuer(mut self, issuer: &str) -> Self {
        issuer.clone_into(&mut self.claims.iss);
        self
    }

    /// Another `aud`.
    pub fn audience(mut self, audience: &str) -> Self {
        audience.clone_into(&mut self.claims.aud);
        self
    }

    /// An agency client's token with these API scopes.
    pub fn agency(mut self, api_scopes: &[&str]) -> Self {
        self.claims.kind = PrincipalKind::Agency;
        self.api_scopes(api_scopes)
    }

    /// Sets the `scope` claim.
    pub fn api_scopes(mut self, api_scopes: &[&str]) -> Self {
        self.claims.scope = api_scopes.join(" ");
        self
    }

    /// A consented helper's token: `helper` acts for the subject.
    pub fn actor(mut self, helper: &str) -> Self {
        self.claims.act = Some(Actor {
            sub: helper.to_owned(),
        });
        self
    }

    /// Another `kid` header.
    pub fn kid(mut self, kid: &str) -> Self {
        self.kid = Some(Some(kid.to_owned()));
        self
    }

    /// No `kid` header.
    pub fn without_kid(mut self) -> Self {
        self.kid = Some(None);
        self
    }

    /// Another `typ` header (`None`: none at all).
    pub fn token_type(mut self, typ: Option<&str>) -> Self {
        self.typ = typ.map(str::to_owned);
        self
    }

    /// Signs with HS256 keyed by the issuer's public key, the classic algorithm-confusion forgery.
    pub fn forge_hs256(mut self) -> Self {
        self.signing = Signing::Hs256WithPublicKey;
        self
    }

    /// `alg: none`, no signature.
    pub fn unsigned(mut self) -> Self {
        self.signing = Signing::Unsigned;
        self
    }

    /// Changes the claims in any other way.
    pub fn claims(mut self, change: impl FnOnce(&mut Claims)) -> Self {
        change(&mut self.claims);
        self
    }

    /// The compact JWS.
    pub fn sign(self) -> String {
        let key = self
            .issuer
            .state
            .keys()
            .last()
            .cloned()
            .expect("the issuer has a key");
        let kid = self.kid.unwrap_or(Some(key.kid.clone()));
        let algorithm = match self.signing {
            Signing::CurrentKey => Algorithm::EdDSA,
            Signing::Hs256WithPublicKey => Algorithm::HS256,
            Signing::Unsigned => {
                let mut header = serde_json::json!({ "alg": "none", "typ": self.typ });
                if let Some(kid) = kid {
                    header["kid"] = kid.into();
                }
                let header = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).expect("header"));
                let claims =
                    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&self.claims).expect("claims"));
                return format!("{header}.{claims}.");
            }
        };
        let mut header = Header::new(algorithm);
        header.kid = kid;
        header.typ = self.typ;
        let encoding = match self.signing {
            Signing::Hs256WithPublicKey => {
                EncodingKey::from_secret(key.signing.verifying_key().as_bytes())
            }
            _ => key.encoding,
        };
        jsonwebtoken::encode(&header, &self.claims, &encoding).expect("sign a test token")
    }
}
