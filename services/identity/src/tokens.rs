//! Access tokens, and sessions with rotating refresh tokens.
//!
//! # Access tokens
//!
//! Short-lived (`access_token_ttl`, 15 minutes) EdDSA JWTs signed by [`SigningKeys`] in the
//! format of `terrace_platform::auth`. Every service verifies them on its own, so an access token
//! cannot be revoked: its short life bounds what a revoked session can still do.
//!
//! # Sessions and refresh tokens
//!
//! A session is one login on one device: a family of refresh tokens, exactly one of them current. A
//! refresh token is 256 random bits (base64url), handed to the client once and stored only as its
//! HMAC-SHA256 under a key derived from the service secret: a copy of the table yields no usable
//! token, and a token is found by an index lookup of its keyed hash, so no comparison of secrets
//! takes a time that depends on how much of them matched.
//!
//! Each use rotates the family ([`TokenService::rotate`]): the presented token is spent (its
//! hash moves to `rotated_refresh_tokens`), a new one becomes current, and the session's expiry
//! slides to `refresh_token_ttl` from now. A session unused for that long expires.
//!
//! # Reuse detection
//!
//! A spent token presented again means that two parties hold the family, the client and a thief,
//! and identity cannot tell which is which. So the whole session is revoked
//! (`refresh_token_reused`): the thief's newest token dies with the client's, and the user logs in
//! again (OAuth 2.0 Security BCP, refresh token rotation). Two concurrent rotations of one token
//! are the same case and end the same way: the session row is locked (`SELECT ... FOR UPDATE`),
//! the first rotation wins, the second finds the token spent. A client that retries a refresh whose
//! answer it lost is therefore logged out; that is the price of the rule.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use anyhow::anyhow;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, SubsecRound as _, Utc};
use hmac::{Hmac, KeyInit as _, Mac as _};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait as _, Condition, ConnectionTrait, DatabaseConnection,
    DatabaseTransaction, EntityTrait as _, JoinType, QueryFilter as _, QueryOrder as _,
    QuerySelect as _, RelationTrait as _, TransactionTrait,
};
use sha2::Sha256;
use terrace_platform::auth::{Actor, Claims, PrincipalKind, RoleGrant};
use terrace_platform::config::AuthSettings;
use terrace_platform::db::SqlMigration;
use terrace_platform::{Clock, Error, Result};
use uuid::Uuid;

use crate::config::IdentitySettings;
use crate::entity::rotated_refresh_tokens::{self as rotated, Entity as RotatedTokens};
pub use crate::entity::sessions::LoginMethod;
use crate::entity::sessions::{self, Column, Entity as Sessions};
use crate::keys::{SigningKeys, derive_key};

/// The sessions table and the spent refresh tokens.
pub const MIGRATION: SqlMigration = SqlMigration {
    name: "m20261128_200003_identity_sessions",
    up: r"
-- One login on one device: a family of refresh tokens, one of them current.
CREATE TABLE sessions (
    id                 uuid        PRIMARY KEY,
    -- No foreign key: sessions outlive nothing, and users are never deleted, only disabled.
    user_id            uuid        NOT NULL,
    -- password, otp, ...
    login_method       text        NOT NULL,
    -- What the client said it is (app and device), shown in the list of sessions.
    client_description text        NOT NULL,
    -- A consented helper acting for the user, when the session is the helper's.
    actor_id           uuid,
    -- HMAC-SHA256 of the current refresh token under a key derived from the service secret.
    refresh_token_hash bytea       NOT NULL UNIQUE CHECK (octet_length(refresh_token_hash) = 32),
    created_at         timestamptz NOT NULL,
    last_used_at       timestamptz NOT NULL,
    -- Slides to refresh_token_ttl after every use.
    expires_at         timestamptz NOT NULL,
    revoked_at         timestamptz,
    -- logout, refresh_token_reused, or what revoked every session of the user.
    revoke_reason      text,
    CHECK ((revoked_at IS NULL) = (revoke_reason IS NULL))
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Refresh tokens already exchanged: presenting one again revokes its session.
CREATE TABLE rotated_refresh_tokens (
    token_hash bytea       PRIMARY KEY,
    session_id uuid        NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    rotated_at timestamptz NOT NULL
);
CREATE INDEX rotated_refresh_tokens_session ON rotated_refresh_tokens (session_id);
",
};

/// `revoke_reason` of a session whose spent refresh token was presented again.
pub const REASON_REUSED: &str = "refresh_token_reused";
/// `revoke_reason` of a session ended by [`TokenService::revoke`] (logout).
pub const REASON_LOGOUT: &str = "logout";
/// How [`TokenService::rotate_then`] says the token presented is not a session's current one.
pub const NOT_CURRENT: &str = "refresh token is not current";

/// HKDF info of the key that hashes refresh tokens.
const HASH_PURPOSE: &str = "terrace identity refresh-token hmac v1";
/// Bytes of randomness in a refresh token.
const TOKEN_BYTES: usize = 32;
/// A client description is free text from the client; bounded so that a session row stays small.
const MAX_CLIENT_DESCRIPTION_CHARS: usize = 256;

/// Issues access tokens and keeps sessions. Cheap to clone.
#[derive(Clone)]
pub struct TokenService {
    inner: Arc<Inner>,
}

struct Inner {
    db: DatabaseConnection,
    keys: SigningKeys,
    /// HMAC-SHA256 key of refresh tokens, derived from the service secret.
    hash_key: [u8; 32],
    access_token_ttl: Duration,
    refresh_token_ttl: Duration,
    issuer: String,
    audience: String,
    clock: Clock,
}

impl fmt::Debug for TokenService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenService")
            .field("keys", &self.inner.keys)
            .field("access_token_ttl", &self.inner.access_token_ttl)
            .field("refresh_token_ttl", &self.inner.refresh_token_ttl)
            .field("issuer", &self.inner.issuer)
            .field("audience", &self.inner.audience)
            .finish_non_exhaustive()
    }
}

/// A session just started: what the client keeps.
pub struct NewSession {
    pub session_id: Uuid,
    /// The first refresh token, shown to the client once and never stored.
    pub refresh_token: String,
    pub expires_at: DateTime<Utc>,
}

/// The outcome of a successful [`TokenService::rotate`]: who the session belongs to, so that the
/// caller can check the user is still allowed in before issuing an access token.
pub struct Rotated {
    pub user_id: Uuid,
    pub session_id: Uuid,
    /// The consented helper of a helper's session.
    pub actor_id: Option<Uuid>,
    /// The new refresh token; the presented one is spent.
    pub refresh_token: String,
    /// The session's new (slid) expiry.
    pub expires_at: DateTime<Utc>,
}

impl fmt::Debug for NewSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewSession")
            .field("session_id", &self.session_id)
            .field("refresh_token", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl fmt::Debug for Rotated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rotated")
            .field("user_id", &self.user_id)
            .field("session_id", &self.session_id)
            .field("actor_id", &self.actor_id)
            .field("refresh_token", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// A session as stored, as the user's list of devices shows it.
pub type SessionInfo = sessions::Model;

impl TokenService {
    /// The service clock's time at PostgreSQL's precision, so that what is returned is what is
    /// stored.
    fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now().trunc_subsecs(6)
    }

    /// Sessions in `db`, access tokens signed by `keys` with the lifetimes of `settings` and the
    /// `iss`/`aud` every verifier expects (`auth`).
    pub fn new(
        db: DatabaseConnection,
        keys: SigningKeys,
        settings: &IdentitySettings,
        auth: &AuthSettings,
        clock: Clock,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                db,
                keys,
                hash_key: derive_key(&settings.secret, HASH_PURPOSE),
                access_token_ttl: settings.access_token_ttl,
                refresh_token_ttl: settings.refresh_token_ttl,
                issuer: auth.issuer.clone(),
                audience: auth.audience.clone(),
                clock,
            }),
        }
    }

    /// Starts a session for `user_id` in the caller's transaction (the login that creates it
    /// commits or rolls back with it) and returns its first refresh token.
    pub async fn start_session<C: ConnectionTrait>(
        &self,
        conn: &C,
        user_id: Uuid,
        login_method: LoginMethod,
        client_description: &str,
    ) -> Result<NewSession> {
        let session_id = Uuid::now_v7();
        let now = self.now();
        let expires_at = now + self.inner.refresh_token_ttl;
        let (refresh_token, hash) = self.inner.new_token();
        let client_description: String = client_description
            .chars()
            .take(MAX_CLIENT_DESCRIPTION_CHARS)
            .collect();
        let session = sessions::ActiveModel {
            id: Set(session_id),
            user_id: Set(user_id),
            login_method: Set(login_method),
            client_description: Set(client_description),
            actor_id: Set(None),
            refresh_token_hash: Set(hash),
            created_at: Set(now),
            last_used_at: Set(now),
            expires_at: Set(expires_at),
            revoked_at: Set(None),
            revoke_reason: Set(None),
        };
        Sessions::insert(session)
            .exec_without_returning(conn)
            .await?;
        tracing::debug!(%session_id, %user_id, login_method = ?login_method, "session started");
        Ok(NewSession {
            session_id,
            refresh_token,
            expires_at,
        })
    }

    /// A user's access token for `subject` with `grants`, valid for `access_token_ttl`; returns it
    /// with its expiry. `session_id` is logged with the token's `jti`, which ties the token to its
    /// login in the logs (the token format has no session claim).
    pub async fn access_token(
        &self,
        subject: Uuid,
        grants: &[RoleGrant],
        session_id: Option<Uuid>,
    ) -> Result<(String, DateTime<Utc>)> {
        let (token, expires_at, jti) = self
            .sign(PrincipalKind::User, subject, grants, String::new())
            .await?;
        tracing::debug!(%subject, ?session_id, %jti, "access token issued");
        Ok((token, expires_at))
    }

    /// An agency client's access token, valid for `access_token_ttl`; returns it with its expiry.
    /// `kind` is `agency`, `sub` the client id, `scope` the API scopes space-separated and
    /// `roles` the areas, which is what the platform's verifier reads as an agency
    /// (`Claims::into_principal`). There is no session: the client exchanges its credentials
    /// again when the token expires.
    pub async fn agency_access_token(
        &self,
        client_id: Uuid,
        api_scopes: &[String],
        areas: &[RoleGrant],
    ) -> Result<(String, DateTime<Utc>)> {
        // The claim is split on whitespace: a scope that is empty or holds a space would be read
        // back as something else.
        if let Some(bad) = api_scopes
            .iter()
            .find(|scope| scope.is_empty() || scope.chars().any(char::is_whitespace))
        {
            return Err(Error::internal(anyhow!(
                "refusing to sign a malformed api scope {bad:?}"
            )));
        }
        let (token, expires_at, jti) = self
            .sign(
                PrincipalKind::Agency,
                client_id,
                areas,
                api_scopes.join(" "),
            )
            .await?;
        tracing::debug!(%client_id, %jti, "agency access token issued");
        Ok((token, expires_at))
    }

    /// A consented helper's access token acting for `villager`: `sub` is the villager, `act.sub`
    /// the helper, `roles` the `grants` given, `scope` the consent's scopes space-separated. Valid
    /// for `access_token_ttl` but never past `not_after` (the consent's end); returns it with its
    /// expiry. There is no session: the helper asks again under the consent, which is checked
    /// each time.
    pub async fn delegated_access_token(
        &self,
        villager: Uuid,
        helper: Uuid,
        grants: &[RoleGrant],
        scopes: &[String],
        not_after: DateTime<Utc>,
    ) -> Result<(String, DateTime<Utc>)> {
        if let Some(bad) = scopes
            .iter()
            .find(|scope| scope.is_empty() || scope.chars().any(char::is_whitespace))
        {
            return Err(Error::internal(anyhow!(
                "refusing to sign a malformed consent scope {bad:?}"
            )));
        }
        if villager == helper {
            return Err(Error::internal(anyhow!(
                "refusing to sign a delegated token acting for oneself"
            )));
        }
        let (token, expires_at, jti) = self
            .sign_with(
                PrincipalKind::User,
                subject_and_actor(villager, Some(helper)),
                grants,
                scopes.join(" "),
                Some(not_after),
            )
            .await?;
        tracing::debug!(%villager, %helper, %jti, "delegated access token issued");
        Ok((token, expires_at))
    }

    /// Signs an access token of `kind` for `subject`; returns it with its expiry and `jti`.
    async fn sign(
        &self,
        kind: PrincipalKind,
        subject: Uuid,
        grants: &[RoleGrant],
        scope: String,
    ) -> Result<(String, DateTime<Utc>, String)> {
        self.sign_with(kind, subject_and_actor(subject, None), grants, scope, None)
            .await
    }

    /// As [`TokenService::sign`], with an acting party (`act`) and an expiry no later than
    /// `not_after` when given.
    async fn sign_with(
        &self,
        kind: PrincipalKind,
        (subject, act): (Uuid, Option<Actor>),
        grants: &[RoleGrant],
        scope: String,
        not_after: Option<DateTime<Utc>>,
    ) -> Result<(String, DateTime<Utc>, String)> {
        // The verifier refuses a token with any invalid grant as a whole: never sign one.
        for grant in grants {
            grant.validate().map_err(|error| {
                Error::internal(anyhow!("refusing to sign an invalid role grant: {error}"))
            })?;
        }
        let now = self.now().timestamp();
        let ttl = i64::try_from(self.inner.access_token_ttl.as_secs()).unwrap_or(i64::MAX);
        let mut exp = now.saturating_add(ttl);
        if let Some(not_after) = not_after {
            exp = exp.min(not_after.timestamp());
        }
        if exp <= now {
            return Err(Error::internal(anyhow!(
                "refusing to sign an access token that is already expired"
            )));
        }
        let claims = Claims {
            iss: self.inner.issuer.clone(),
            aud: self.inner.audience.clone(),
            sub: subject.to_string(),
            kind,
            exp,
            iat: now,
            nbf: None,
            jti: Uuid::now_v7().to_string(),
            roles: grants.to_vec(),
            scope,
            act,
        };
        let expires_at = DateTime::from_timestamp(claims.exp, 0)
            .ok_or_else(|| Error::internal(anyhow!("access token expiry out of range")))?;
        let token = self
            .inner
            .keys
            .sign(&claims)
            .await
            .map_err(Error::internal)?;
        Ok((token, expires_at, claims.jti))
    }

    /// Exchanges a refresh token for a new one (see the module documentation).
    ///
    /// Fails with `UNAUTHENTICATED` for a malformed, unknown, expired or revoked token, and for a
    /// spent one, which also revokes its whole session.
    pub async fn rotate(&self, refresh_token: &str) -> Result<Rotated> {
        let txn = self.inner.db.begin().await?;
        match self
            .rotate_then(&txn, refresh_token, |_, _| async { Ok(()) })
            .await
        {
            Ok((rotated, ())) => {
                txn.commit().await?;
                Ok(rotated)
            }
            Err(error) => {
                txn.rollback().await?;
                Err(self.after_failed_rotation(refresh_token, error).await)
            }
        }
    }

    /// As [`TokenService::rotate`], in the caller's transaction `txn` (which the caller commits),
    /// running `finish(user_id, session_id)` before it: if anything fails (the user was disabled,
    /// signing failed, the database hiccuped), the rotation rolls back with `txn` and the
    /// presented token stays valid — a client that retries is not mistaken for a thief replaying
    /// a spent token. A token that is not current fails with [`NOT_CURRENT`]; once `txn` has
    /// ended, the caller hands that error to [`TokenService::after_failed_rotation`], which
    /// revokes the session of a spent token. (Not inside `txn`: the failed request's transaction
    /// rolls back, and a second connection taken while `txn` holds one could exhaust the pool.)
    pub async fn rotate_then<F, Fut, T>(
        &self,
        txn: &DatabaseTransaction,
        refresh_token: &str,
        finish: F,
    ) -> Result<(Rotated, T)>
    where
        F: FnOnce(Uuid, Uuid) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let Some(hash) = self.inner.hash(refresh_token) else {
            return Err(unauthenticated("malformed refresh token"));
        };
        let now = self.now();
        // The lock makes concurrent rotations of one token wait for each other; the loser then
        // finds the token spent and is treated as a reuse.
        let current = Sessions::find()
            .filter(Column::RefreshTokenHash.eq(hash.clone()))
            .lock_exclusive()
            .one(txn)
            .await?;
        if let Some(session) = current {
            let (session_id, user_id, actor_id) = (session.id, session.user_id, session.actor_id);
            if session.revoked_at.is_some() {
                return Err(unauthenticated("the session has been revoked"));
            }
            if session.expires_at <= now {
                return Err(unauthenticated("refresh token has expired"));
            }
            let (refresh_token, new_hash) = self.inner.new_token();
            let expires_at = now + self.inner.refresh_token_ttl;
            let spent = rotated::ActiveModel {
                token_hash: Set(hash),
                session_id: Set(session_id),
                rotated_at: Set(now),
            };
            RotatedTokens::insert(spent)
                .exec_without_returning(txn)
                .await?;
            Sessions::update_many()
                .col_expr(Column::RefreshTokenHash, Expr::value(new_hash))
                .col_expr(Column::LastUsedAt, Expr::value(now))
                .col_expr(Column::ExpiresAt, Expr::value(expires_at))
                .filter(Column::Id.eq(session_id))
                .exec(txn)
                .await?;
            let finished = finish(user_id, session_id).await?;
            return Ok((
                Rotated {
                    user_id,
                    session_id,
                    actor_id,
                    refresh_token,
                    expires_at,
                },
                finished,
            ));
        }

        Err(unauthenticated(NOT_CURRENT))
    }

    /// What to answer after a rotation failed and its transaction ended: for a spent token
    /// (presented again: a thief or a replay), its whole session is revoked and the answer says
    /// so; any other error is answered as it is.
    pub async fn after_failed_rotation(&self, refresh_token: &str, error: Error) -> Error {
        if !matches!(&error, Error::Unauthenticated(message) if message == NOT_CURRENT) {
            return error;
        }
        match self.revoke_spent(refresh_token).await {
            Ok(true) => {
                unauthenticated("refresh token was already used; the session has been revoked")
            }
            Ok(false) => unauthenticated("unknown refresh token"),
            Err(failed) => failed,
        }
    }

    /// Revokes the session of `refresh_token` if it is a spent one; whether it was.
    async fn revoke_spent(&self, refresh_token: &str) -> Result<bool> {
        let Some(hash) = self.inner.hash(refresh_token) else {
            return Ok(false);
        };
        let db = &self.inner.db;
        let spent = Sessions::find()
            .join(
                JoinType::InnerJoin,
                sessions::Relation::RotatedRefreshTokens.def(),
            )
            .filter(rotated::Column::TokenHash.eq(hash))
            .one(db)
            .await?;
        let Some(session) = spent else {
            return Ok(false);
        };
        let (session_id, user_id) = (session.id, session.user_id);
        let revoked = revoke(
            Condition::all().add(Column::Id.eq(session_id)),
            self.now(),
            REASON_REUSED,
        )
        .exec(db)
        .await?
        .rows_affected;
        if revoked > 0 {
            tracing::warn!(
                %session_id,
                %user_id,
                "spent refresh token presented again, session revoked"
            );
        }
        Ok(true)
    }

    /// Logs out: revokes the session of `refresh_token` (current or spent). Returns whether a
    /// session was revoked now; an unknown token or an ended session is not an error, so logging
    /// out twice is harmless.
    pub async fn revoke<C: ConnectionTrait>(&self, db: &C, refresh_token: &str) -> Result<bool> {
        let Some(hash) = self.inner.hash(refresh_token) else {
            return Err(Error::invalid("refresh_token", "not a refresh token"));
        };
        let spent_of = Query::select()
            .column(rotated::Column::SessionId)
            .from(RotatedTokens)
            .and_where(rotated::Column::TokenHash.eq(hash.clone()))
            .to_owned();
        let which = Condition::any()
            .add(Column::RefreshTokenHash.eq(hash))
            .add(Column::Id.in_subquery(spent_of));
        let revoked = revoke(which, self.now(), REASON_LOGOUT)
            .exec(db)
            .await?
            .rows_affected;
        Ok(revoked > 0)
    }

    /// Revokes one session of `user_id` (signing out one device from the list of sessions).
    /// Returns whether it was live; a session of another user is left alone.
    pub async fn revoke_session<C: ConnectionTrait>(
        &self,
        db: &C,
        user_id: Uuid,
        session_id: Uuid,
        reason: &str,
    ) -> Result<bool> {
        let which = Condition::all()
            .add(Column::Id.eq(session_id))
            .add(Column::UserId.eq(user_id));
        let revoked = revoke(which, self.now(), reason)
            .exec(db)
            .await?
            .rows_affected;
        Ok(revoked > 0)
    }

    /// Revokes every live session of `user_id` (a stolen phone, a password reset, an official's
    /// decision); returns how many. Access tokens already issued live out their few minutes.
    pub async fn revoke_all<C: ConnectionTrait>(
        &self,
        db: &C,
        user_id: Uuid,
        reason: &str,
    ) -> Result<u64> {
        let now = self.now();
        let which = Condition::all()
            .add(Column::UserId.eq(user_id))
            .add(Column::ExpiresAt.gt(now));
        let revoked = revoke(which, now, reason).exec(db).await?.rows_affected;
        tracing::info!(%user_id, revoked, reason, "sessions revoked");
        Ok(revoked)
    }

    /// The live (neither revoked nor expired) sessions of `user_id`, most recently used first.
    pub async fn list_sessions(&self, user_id: Uuid) -> Result<Vec<SessionInfo>> {
        Ok(Sessions::find()
            .filter(Column::UserId.eq(user_id))
            .filter(Column::RevokedAt.is_null())
            .filter(Column::ExpiresAt.gt(self.now()))
            .order_by_desc(Column::LastUsedAt)
            .order_by_desc(Column::Id)
            .all(&self.inner.db)
            .await?)
    }

    /// Deletes sessions that ended (expired or were revoked) more than `retention` ago, with their
    /// spent tokens; returns how many. A token of a deleted session is then merely unknown, which
    /// is refused just the same. Meant for a periodic job.
    pub async fn prune(&self, retention: Duration) -> Result<u64> {
        let before = self.now() - retention;
        let deleted = Sessions::delete_many()
            .filter(
                Condition::any()
                    .add(Column::ExpiresAt.lt(before))
                    .add(Column::RevokedAt.lt(before)),
            )
            .exec(&self.inner.db)
            .await?
            .rows_affected;
        Ok(deleted)
    }
}

impl Inner {
    /// A fresh refresh token and its hash.
    fn new_token(&self) -> (String, Vec<u8>) {
        let bytes: [u8; TOKEN_BYTES] = rand::random();
        (URL_SAFE_NO_PAD.encode(bytes), self.hash_bytes(&bytes))
    }

    /// The stored hash of a presented token, or `None` when it cannot be one of ours.
    fn hash(&self, token: &str) -> Option<Vec<u8>> {
        // 32 bytes are 43 base64url characters; anything else is refused before decoding.
        if token.len() != 43 {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
        (bytes.len() == TOKEN_BYTES).then(|| self.hash_bytes(&bytes))
    }

    fn hash_bytes(&self, token: &[u8]) -> Vec<u8> {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.hash_key) else {
            // HMAC takes keys of any length.
            unreachable!("hmac accepts a 32-byte key");
        };
        mac.update(token);
        mac.finalize().into_bytes().to_vec()
    }
}

/// A token's subject with the party acting for it, if any (RFC 8693 `act`).
fn subject_and_actor(subject: Uuid, actor: Option<Uuid>) -> (Uuid, Option<Actor>) {
    (
        subject,
        actor.map(|actor| Actor {
            sub: actor.to_string(),
        }),
    )
}

/// Revokes the live (not yet revoked) sessions that `which` picks, at `now`, for `reason`.
fn revoke(which: Condition, now: DateTime<Utc>, reason: &str) -> sea_orm::UpdateMany<Sessions> {
    Sessions::update_many()
        .col_expr(Column::RevokedAt, Expr::value(now))
        .col_expr(Column::RevokeReason, Expr::value(reason))
        .filter(Column::RevokedAt.is_null())
        .filter(which)
}

fn unauthenticated(message: &str) -> Error {
    Error::Unauthenticated(message.to_owned())
}
