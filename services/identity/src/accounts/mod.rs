//! Accounts: signing up, logging in with a one-time code or a password, refreshing and ending
//! sessions, and the throttles that keep guessing expensive.
//!
//! Layout: [`parse`] turns the requests into commands; [`Accounts`] applies them (this module);
//! the SQL of users and codes is `crate::users`, of sessions `crate::tokens`.
//!
//! Every request here is a mutation run once per `request_id` (`idempotency::once`). Their
//! answers carry tokens, which are not kept: a retry of a login that already succeeded is told to
//! log in again with a new `request_id` (`ANSWER_NOT_KEPT`), never given a second session. The
//! exceptions are a code request (its answer is only times; a retry gets it again and sends no
//! second text) and signing out (nothing secret).
//!
//! Nothing here reveals whether a phone is registered to someone who has not proven they hold it:
//! a code is "sent" for any number (the SMS goes out, the answer is the same), and a wrong password
//! for a registered phone takes as long, and reads the same, as any password for an unregistered
//! one (the hash is verified against a dummy). Once the code is proven, saying "no account for this
//! phone, sign up" tells the phone's holder nothing they could not know.

pub mod parse;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::DatabaseTransaction;
use terrace_platform::auth::{Caller, Role, RoleGrant};
use terrace_platform::bus::outbox;
use terrace_platform::error::{Error, Result};
use terrace_platform::idempotency::{self, Keep};
use terrace_platform::service::ServiceContext;
use terrace_platform::throttle::{Rate, Throttle};
use terrace_proto::identity::v1 as pb;
use uuid::Uuid;

pub use self::parse::{
    LoginWithOtp, LoginWithPassword, RequestOtp, RevokeAllSessions, SignUp, WithRefreshToken,
};
use crate::config::IdentitySettings;
use crate::domain::phone::PhoneNumber;
use crate::domain::{otp, password};
use crate::keys::SigningKeys;
use crate::tokens::{LoginMethod, TokenService};
use crate::users::{self, NewUser, OtpPurpose, User, UserStatus, timestamp};

/// Consecutive wrong passwords that lock an account.
const LOCK_AFTER_FAILURES: i32 = 5;
/// Who grants a buyer's standing at sign-up, in the audit log and the grant's record.
const SIGN_UP: &str = "identity.sign-up";
/// How long such a lock lasts.
const LOCK_DURATION: Duration = Duration::from_secs(15 * 60);

/// Everything the identity handlers share.
#[derive(Debug)]
pub struct Accounts {
    pub ctx: ServiceContext,
    pub settings: IdentitySettings,
    pub keys: SigningKeys,
    pub tokens: TokenService,
    /// Keys the HMAC of one-time codes; derived from the service secret for this use only.
    otp_key: [u8; 32],
    limits: Limits,
}

/// In-process throttles (per replica). The lasting defences are in the database: the lock after
/// consecutive wrong passwords, the attempt count of a code, the interval between codes.
///
/// Guessing is stopped per phone: that is where a guesser aims. Limits per client address only
/// stop floods, and are wide, because a whole village's phones often share one carrier-grade
/// NAT address: a village meeting where a hundred people log in within a minute must go through.
#[derive(Debug)]
struct Limits {
    /// Password and code guesses per phone.
    guesses_per_phone: Throttle<String>,
    /// Logins and code checks per client address: a flood guard, not a guessing guard.
    logins_per_address: Throttle<String>,
    /// Code requests per client address: a flood guard against texting many phones from one place.
    codes_per_address: Throttle<String>,
    /// Text messages to one phone, whatever their purpose and whoever asks: nobody can flood a
    /// phone with codes from many addresses.
    texts_per_phone: Throttle<String>,
}

/// Per phone: ten guesses a minute (the code's five tries and the password lock are the lasting
/// limits).
pub const GUESSES_PER_PHONE: Rate = Rate::per_minute(10);
/// Per client address: 600 logins a minute, 300 at once — a village behind one NAT address logs
/// in together; a flood from one address is still cut off.
pub const LOGINS_PER_ADDRESS: Rate = Rate::per_minute(600).with_burst(300);
/// Per client address: 300 code requests a minute, 150 at once.
pub const CODES_PER_ADDRESS: Rate = Rate::per_minute(300).with_burst(150);
/// Per phone: five texts at once, then one a minute.
pub const TEXTS_PER_PHONE: Rate = Rate::per_minute(1).with_burst(5);

/// What a retry of a login that succeeded is told: its tokens were shown once.
const LOG_IN_AGAIN: Keep = Keep::Nothing {
    instead: "the login succeeded but its tokens are shown only once; log in again with a new request_id",
};

/// A code proven right by [`Accounts::check_code`], not yet used up.
#[derive(Debug)]
#[must_use = "use the code up in the request's transaction"]
pub(crate) struct CheckedCode(Uuid);

/// A one-time code a request is proven with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Code<'a> {
    pub phone: &'a PhoneNumber,
    pub purpose: OtpPurpose,
    pub code: &'a str,
    /// A password the request sets, to hash once the code is proven.
    pub new_password: Option<&'a str>,
}

/// A successful login or sign-up.
#[derive(Debug)]
pub struct LoggedIn {
    pub user: User,
    pub tokens: pb::TokenPair,
}

impl Accounts {
    pub fn new(ctx: &ServiceContext, settings: IdentitySettings) -> Self {
        let keys = SigningKeys::new(ctx.db.clone(), &settings, ctx.jwks.clone())
            .with_clock(ctx.clock.clone());
        let tokens = TokenService::new(
            ctx.db.clone(),
            keys.clone(),
            &settings,
            &ctx.settings.auth,
            ctx.clock.clone(),
        );
        Self {
            ctx: ctx.clone(),
            otp_key: crate::keys::derive_key(&settings.secret, "otp"),
            settings,
            keys,
            tokens,
            limits: Limits {
                guesses_per_phone: Throttle::new(
                    &ctx.clock,
                    GUESSES_PER_PHONE,
                    "TOO_MANY_ATTEMPTS",
                    "attempts for this phone",
                ),
                logins_per_address: Throttle::new(
                    &ctx.clock,
                    LOGINS_PER_ADDRESS,
                    "TOO_MANY_REQUESTS",
                    "logins from your network",
                ),
                codes_per_address: Throttle::new(
                    &ctx.clock,
                    CODES_PER_ADDRESS,
                    "TOO_MANY_REQUESTS",
                    "code requests from your network",
                ),
                texts_per_phone: Throttle::new(
                    &ctx.clock,
                    TEXTS_PER_PHONE,
                    "TOO_MANY_TEXTS",
                    "text messages to this phone",
                ),
            },
        }
    }

    fn secret(&self) -> &[u8] {
        &self.otp_key
    }

    /// `RequestOtp`: makes a code for the phone and queues it for delivery
    /// (`secret.identity.otp.requested`). A retry (the phone lost the answer) gets the first
    /// answer, and no second text.
    pub async fn request_otp(
        &self,
        caller: &Caller,
        command: RequestOtp,
    ) -> Result<pb::RequestOtpResponse> {
        let RequestOtp {
            mutation,
            phone,
            purpose,
            locale,
        } = command;
        let stored =
            OtpPurpose::from_proto(purpose).ok_or_else(|| Error::invalid("purpose", "required"))?;
        let now = self.ctx.clock.now();
        idempotency::once(
            &self.ctx.db,
            caller,
            &mutation,
            now,
            Keep::Answer,
            async |txn| {
                self.limits.codes_per_address.check(&flood_key(caller))?;
                self.limits
                    .texts_per_phone
                    .check(&phone.as_str().to_owned())?;
                let resend = chrono::Duration::from_std(self.settings.otp_resend_interval)
                    .unwrap_or_default();
                if let Some(last) = users::latest_challenge(txn, &phone, stored).await?
                    && last.created_at + resend > now
                {
                    let wait = (last.created_at + resend - now)
                        .to_std()
                        .unwrap_or_default();
                    return Err(Error::ResourceExhausted {
                        reason: "OTP_RESEND_TOO_SOON",
                        message: format!(
                            "a code was just sent; request another in {} s",
                            wait.as_secs().max(1)
                        ),
                        retry_after: Some(wait.max(Duration::from_secs(1))),
                    });
                }
                let code = otp::generate();
                let id = Uuid::now_v7();
                let expires_at =
                    now + chrono::Duration::from_std(self.settings.otp_ttl).unwrap_or_default();
                users::insert_challenge(
                    txn,
                    id,
                    &phone,
                    stored,
                    otp::hash(self.secret(), phone.as_str(), stored.as_str(), &code),
                    now,
                    expires_at,
                )
                .await?;
                let user_id = users::by_phone(txn, &phone, false)
                    .await?
                    .map(|user| user.id.to_string())
                    .unwrap_or_default();
                let event = pb::OtpRequested {
                    otp_id: id.to_string(),
                    phone_number: phone.as_str().to_owned(),
                    user_id,
                    code,
                    purpose: purpose as i32,
                    locale,
                    expire_time: Some(timestamp(expires_at)),
                };
                outbox::publish(txn, &self.ctx.event_source(), &event).await?;
                tracing::info!(phone = %phone.masked(), purpose = stored.as_str(), "one-time code requested");
                Ok(pb::RequestOtpResponse {
                    expire_time: Some(timestamp(expires_at)),
                    retry_time: Some(timestamp(now + resend)),
                })
            },
        )
        .await
    }

    /// Checks a code for `phone` and `purpose` before the request's transaction, and returns
    /// the challenge for [`Accounts::use_code`] to use up inside it (so that if the request fails,
    /// the code is not used up). The try is counted first, in a statement of its own: a wrong
    /// code stays counted although its request fails. No transaction is held meanwhile, so a
    /// flood of guesses never holds two connections at once.
    async fn check_code(
        &self,
        caller: &Caller,
        phone: &PhoneNumber,
        purpose: OtpPurpose,
        code: &str,
    ) -> Result<CheckedCode> {
        self.limits.logins_per_address.check(&flood_key(caller))?;
        self.limits
            .guesses_per_phone
            .check(&phone.as_str().to_owned())?;
        let now = self.ctx.clock.now();
        let Some(challenge) = users::count_try(&self.ctx.db, phone, purpose).await? else {
            return Err(Error::failed_precondition(
                "OTP_NOT_REQUESTED",
                "no code was requested for this phone; request one first",
            ));
        };
        if challenge.consumed_at.is_some() {
            return Err(already_used());
        }
        if challenge.expires_at <= now {
            return Err(Error::failed_precondition(
                "OTP_EXPIRED",
                "the code has expired; request a new one",
            ));
        }
        let max_attempts = i32::try_from(self.settings.otp_max_attempts).unwrap_or(i32::MAX);
        // `attempts` counts this try too.
        if challenge.attempts > max_attempts {
            return Err(Error::failed_precondition(
                "OTP_ATTEMPTS_EXHAUSTED",
                "too many wrong codes; request a new one",
            ));
        }
        if !otp::matches(
            self.secret(),
            phone.as_str(),
            purpose.as_str(),
            code,
            &challenge.code_hash,
        ) {
            let left = max_attempts - challenge.attempts;
            return Err(Error::invalid(
                "otp_code",
                format!("wrong code; {left} attempts left"),
            ));
        }
        Ok(CheckedCode(challenge.id))
    }

    /// Does a request proven with a one-time code once per request id: its code is tried
    /// before the request's transaction ([`Accounts::check_code`], so a wrong one stays
    /// counted), then `work` runs in [`idempotency::once`] with the code used up in the same
    /// transaction. A retry is given the first answer instead of trying its code again — whether
    /// it comes after the first request ended, or while it ran and used the code up (trying the
    /// code then fails, and the first answer is there to give). A request that sets a password
    /// names it in `code.new_password`: it is hashed after the code is proven (its throttles come
    /// before the costly hashing) and before the transaction (no pooled connection waits on
    /// argon2), and `work` gets the hash.
    pub(crate) async fn once_with_code<R, F>(
        &self,
        caller: &Caller,
        mutation: &idempotency::Mutation,
        code: Code<'_>,
        keep: Keep,
        work: F,
    ) -> Result<R>
    where
        R: prost::Message + Default,
        F: AsyncFnOnce(&DatabaseTransaction, Option<String>) -> Result<R>,
    {
        let answered = async || idempotency::previous::<R>(&self.ctx.db, caller, mutation).await;
        if let Some(answer) = answered().await? {
            return Ok(answer);
        }
        let checked = match self
            .check_code(caller, code.phone, code.purpose, code.code)
            .await
        {
            Ok(checked) => checked,
            Err(error) => return answered().await?.ok_or(error),
        };
        let password_hash = match code.new_password {
            Some(password) => Some(hash_password(password).await?),
            None => None,
        };
        let now = self.ctx.clock.now();
        idempotency::once(&self.ctx.db, caller, mutation, now, keep, async |txn| {
            self.use_code(txn, checked).await?;
            work(txn, password_hash).await
        })
        .await
    }

    /// Uses a checked code up in the request's transaction; fails if another request used it
    /// in the meantime (two requests with one code).
    async fn use_code(&self, txn: &DatabaseTransaction, code: CheckedCode) -> Result<()> {
        if users::consume_challenge(txn, code.0, self.ctx.clock.now()).await? {
            Ok(())
        } else {
            Err(already_used())
        }
    }

    /// `SignUp`: creates an account for a phone proven with a sign-up code, and logs it in; with a
    /// buyer's standing over the whole country when the person chose to buy.
    pub async fn sign_up(&self, caller: &Caller, command: SignUp) -> Result<pb::SignUpResponse> {
        let now = self.ctx.clock.now();
        let keep = Keep::Nothing {
            instead: "the account was created; log in with a new request_id",
        };
        // The code first: its throttles must come before the costly hashing, or anyone could
        // make the server run argon2 with made-up codes.
        let code = Code {
            phone: &command.phone,
            purpose: OtpPurpose::SignUp,
            code: &command.code,
            new_password: command.password.as_deref(),
        };
        self.once_with_code(
            caller,
            &command.mutation,
            code,
            keep,
            async |txn, password_hash| {
                let new = NewUser {
                    phone: &command.phone,
                    display_name: &command.display_name,
                    locale: &command.locale,
                    time_zone: &command.time_zone,
                    password_hash,
                    created_by: None,
                    email: None,
                    created_by_request: None,
                    created_at: now,
                };
                let user = users::insert(txn, new)
                    .await?
                    .ok_or_else(|| Error::AlreadyExists {
                        resource: "user",
                        id: command.phone.masked(),
                    })?;
                let actor = terrace_proto::common::v1::Actor {
                    kind: terrace_proto::common::v1::ActorKind::User as i32,
                    user_id: user.id.to_string(),
                    ..Default::default()
                };
                let event = pb::UserCreated {
                    user: Some(user.to_proto()),
                    actor: Some(actor),
                };
                let source = self.ctx.event_source();
                outbox::publish_state(txn, &source, &user.to_proto(), &user.id.to_string()).await?;
                outbox::publish(txn, &source, &event).await?;
                if command.as_buyer {
                    // Buyer standing is country-wide and the person's own choice: granted by the
                    // sign-up itself, recorded (and audited) like any grant.
                    let buyer = RoleGrant::parse(Role::Buyer, "")
                        .map_err(|problem| Error::internal(anyhow::anyhow!("{problem}")))?;
                    crate::grants::give(
                        txn,
                        &source,
                        &Caller::System { job: SIGN_UP },
                        crate::grants::Give {
                            user_id: user.id,
                            grant: &buyer,
                            expires_at: None,
                            reason: "chose to buy produce when signing up",
                            api_scope: None,
                            request: None,
                        },
                        now,
                    )
                    .await?;
                }
                let logged_in = self
                    .log_in(txn, user, LoginMethod::Otp, &command.client_description)
                    .await?;
                tracing::info!(user_id = %logged_in.user.id, "user signed up");
                Ok(pb::SignUpResponse {
                    user: Some(logged_in.user.to_proto()),
                    tokens: Some(logged_in.tokens),
                })
            },
        )
        .await
    }

    /// `LoginWithOtp`: logs in with a code sent by SMS.
    pub async fn login_with_otp(
        &self,
        caller: &Caller,
        command: LoginWithOtp,
    ) -> Result<pb::LoginWithOtpResponse> {
        let now = self.ctx.clock.now();
        let code = Code {
            phone: &command.phone,
            purpose: OtpPurpose::Login,
            code: &command.code,
            new_password: None,
        };
        self.once_with_code(
            caller,
            &command.mutation,
            code,
            LOG_IN_AGAIN,
            async |txn, _| {
                let user = users::by_phone(txn, &command.phone, true)
                    .await?
                    .ok_or_else(|| {
                        Error::failed_precondition(
                            "NOT_REGISTERED",
                            "no account for this phone; sign up first",
                        )
                    })?;
                ensure_may_log_in(&user, false, now)?;
                let logged_in = self
                    .log_in(txn, user, LoginMethod::Otp, &command.client_description)
                    .await?;
                Ok(pb::LoginWithOtpResponse {
                    user: Some(logged_in.user.to_proto()),
                    tokens: Some(logged_in.tokens),
                })
            },
        )
        .await
    }

    /// `LoginWithPassword`. The password is checked before the request's transaction, so that a
    /// wrong one is counted towards the lock although the request fails.
    pub async fn login_with_password(
        &self,
        caller: &Caller,
        command: LoginWithPassword,
    ) -> Result<pb::LoginWithPasswordResponse> {
        self.limits.logins_per_address.check(&flood_key(caller))?;
        self.limits
            .guesses_per_phone
            .check(&command.phone.as_str().to_owned())?;
        let user = users::by_phone(&self.ctx.db, &command.phone, false).await?;
        // Always pay for one argon2 verification, registered phone or not.
        let hash = user
            .as_ref()
            .and_then(|user| user.password_hash.clone())
            .unwrap_or_else(|| password::dummy_hash().to_owned());
        let candidate = command.password.clone();
        let matches = tokio::task::spawn_blocking(move || password::verify(&candidate, &hash))
            .await
            .map_err(Error::internal)?;
        let wrong = || Error::Unauthenticated("wrong phone number or password".to_owned());
        let Some(user) = user.filter(|user| user.password_hash.is_some()) else {
            return Err(wrong());
        };
        if !matches {
            // Counted towards the lock, but a wrong password is always answered the same way, so
            // neither the lock nor the account's state tells anyone that the phone is registered.
            let lock_until = self.ctx.clock.after(LOCK_DURATION);
            if users::record_failed_login(&self.ctx.db, user.id, LOCK_AFTER_FAILURES, lock_until)
                .await?
                .is_some()
            {
                tracing::warn!(user_id = %user.id, "account locked after repeated wrong passwords");
            }
            return Err(wrong());
        }
        let now = self.ctx.clock.now();
        idempotency::once(
            &self.ctx.db,
            caller,
            &command.mutation,
            now,
            LOG_IN_AGAIN,
            async |txn| {
                // Read again under lock: an official may have disabled the account meanwhile.
                let user = users::by_phone(txn, &command.phone, true)
                    .await?
                    .filter(|again| again.id == user.id)
                    .ok_or_else(wrong)?;
                // The right password: only now may the answer say the account is locked or disabled.
                ensure_may_log_in(&user, true, now)?;
                let logged_in = self
                    .log_in(
                        txn,
                        user,
                        LoginMethod::Password,
                        &command.client_description,
                    )
                    .await?;
                Ok(pb::LoginWithPasswordResponse {
                    user: Some(logged_in.user.to_proto()),
                    tokens: Some(logged_in.tokens),
                })
            },
        )
        .await
    }

    /// `RefreshToken`: new tokens for a refresh token, which is then spent.
    pub async fn refresh(
        &self,
        caller: &Caller,
        command: WithRefreshToken,
    ) -> Result<pb::RefreshTokenResponse> {
        let now = self.ctx.clock.now();
        let keep = Keep::Nothing {
            instead: "the refresh token was spent by the first request; log in again",
        };
        let rotated = idempotency::once(
            &self.ctx.db,
            caller,
            &command.mutation,
            now,
            keep,
            async |txn| {
                let (rotated, (access_token, access_expires)) = self
                    .tokens
                    .rotate_then(
                        txn,
                        &command.refresh_token,
                        |user_id, session_id| async move {
                            let user = users::by_id(txn, user_id).await?.ok_or_else(|| {
                                Error::Unauthenticated(
                                    "the session's user no longer exists".to_owned(),
                                )
                            })?;
                            ensure_may_log_in(&user, false, now)?;
                            // Grants given or taken since the last token take effect now.
                            let grants = crate::grants::live_grants(txn, user.id, now).await?;
                            self.tokens
                                .access_token(user.id, &grants, Some(session_id))
                                .await
                        },
                    )
                    .await?;
                Ok(pb::RefreshTokenResponse {
                    tokens: Some(pb::TokenPair {
                        access_token,
                        access_token_expire_time: Some(timestamp(access_expires)),
                        refresh_token: rotated.refresh_token,
                        refresh_token_expire_time: Some(timestamp(rotated.expires_at)),
                        session_id: rotated.session_id.to_string(),
                        ..Default::default()
                    }),
                })
            },
        )
        .await;
        // Its transaction has ended: a spent token's session can be revoked now.
        match rotated {
            Ok(answer) => Ok(answer),
            Err(error) => Err(self
                .tokens
                .after_failed_rotation(&command.refresh_token, error)
                .await),
        }
    }

    /// `GetCurrentUser`: the account the token speaks for (a helper's token: the villager's).
    pub async fn current_user(&self, caller: &Caller) -> Result<crate::management::UserView> {
        let Some(id) = caller.subject_user() else {
            return Err(Error::permission_denied(
                "NOT_A_USER",
                "only a signed-in user has a current account",
            ));
        };
        // With the live grants: the roles the user holds now, as the contract promises (the
        // web apps show them, and an official's areas come from them).
        crate::management::store::load(&self.ctx.db, id, self.ctx.clock.now())
            .await?
            .ok_or_else(|| Error::not_found("user", id.to_string()))
    }

    /// `Logout`: ends the session of a refresh token. Logging out twice is harmless.
    pub async fn logout(
        &self,
        caller: &Caller,
        command: WithRefreshToken,
    ) -> Result<pb::LogoutResponse> {
        let now = self.ctx.clock.now();
        idempotency::once(
            &self.ctx.db,
            caller,
            &command.mutation,
            now,
            Keep::Answer,
            async |txn| {
                self.tokens.revoke(txn, &command.refresh_token).await?;
                Ok(pb::LogoutResponse {})
            },
        )
        .await
    }

    /// `RevokeAllSessions`: signs every device of the caller's own account out. A helper acting
    /// for a villager, or an agency, does not sign the villager out.
    pub async fn revoke_all_sessions(
        &self,
        caller: &Caller,
        command: RevokeAllSessions,
    ) -> Result<pb::RevokeAllSessionsResponse> {
        let own = caller.require_self()?;
        let target = command.user_id.unwrap_or(own);
        let reason = match (command.reason.is_empty(), target == own) {
            (false, _) => command.reason.as_str(),
            (true, true) => "revoked by the user",
            (true, false) => "revoked by an official",
        };
        let now = self.ctx.clock.now();
        idempotency::once(
            &self.ctx.db,
            caller,
            &command.mutation,
            now,
            Keep::Answer,
            async |txn| {
                // Someone else's sessions: an official who could lock them may end them; audited.
                if target != own {
                    let user = crate::management::store::load(txn, target, now)
                        .await?
                        .ok_or_else(|| Error::not_found("user", target.to_string()))?;
                    crate::management::may_end_sessions(caller, &user)?;
                    crate::audit::record(
                        txn,
                        caller,
                        "user.sessions_revoked",
                        Some(target),
                        serde_json::json!({ "reason": reason }),
                        now,
                    )
                    .await?;
                }
                let revoked = self.tokens.revoke_all(txn, target, reason).await?;
                Ok(pb::RevokeAllSessionsResponse {
                    revoked_count: i32::try_from(revoked).unwrap_or(i32::MAX),
                })
            },
        )
        .await
    }

    /// Starts a session for `user` in `txn` and issues its tokens.
    async fn log_in(
        &self,
        txn: &DatabaseTransaction,
        user: User,
        method: LoginMethod,
        client_description: &str,
    ) -> Result<LoggedIn> {
        users::record_login(txn, user.id, self.ctx.clock.now()).await?;
        let session = self
            .tokens
            .start_session(txn, user.id, method, client_description)
            .await?;
        // The token carries the user's live role grants.
        let grants = crate::grants::live_grants(txn, user.id, self.ctx.clock.now()).await?;
        let (access_token, access_expires) = self
            .tokens
            .access_token(user.id, &grants, Some(session.session_id))
            .await?;
        Ok(LoggedIn {
            tokens: pb::TokenPair {
                access_token,
                access_token_expire_time: Some(timestamp(access_expires)),
                refresh_token: session.refresh_token,
                refresh_token_expire_time: Some(timestamp(session.expires_at)),
                session_id: session.session_id.to_string(),
                ..Default::default()
            },
            user,
        })
    }
}

/// Whether `user` may log in now. Disabled accounts never; locked ones not until the lock ends.
fn ensure_may_log_in(user: &User, password: bool, now: DateTime<Utc>) -> Result<()> {
    if user.status == UserStatus::Disabled {
        return Err(Error::permission_denied(
            "ACCOUNT_DISABLED",
            "this account is disabled; ask your village office",
        ));
    }
    // Locked by an official: for every way in, until the lock's end (or until lifted if none).
    if user.status == UserStatus::Locked && user.locked_until.is_none_or(|until| until > now) {
        return Err(match user.locked_until {
            Some(until) => locked_error(until, now),
            None => Error::permission_denied(
                "ACCOUNT_LOCKED",
                "this account is locked; ask your village office",
            ),
        });
    }
    // Locked by wrong passwords: passwords only; a one-time code still works.
    if let Some(until) = user.locked_until
        && until > now
        && password
    {
        return Err(locked_error(until, now));
    }
    Ok(())
}

fn already_used() -> Error {
    Error::failed_precondition(
        "OTP_ALREADY_USED",
        "this code was already used; request a new one",
    )
}

/// The key of the per-network flood guard: the address of an anonymous caller, the account of
/// a signed-in one.
fn flood_key(caller: &Caller) -> String {
    match caller {
        Caller::Anonymous { address } => address.clone(),
        caller => caller.idempotency_key(),
    }
}

fn locked_error(until: DateTime<Utc>, now: DateTime<Utc>) -> Error {
    let wait = (until - now).to_std().unwrap_or_default();
    Error::ResourceExhausted {
        reason: "ACCOUNT_LOCKED",
        message: format!(
            "too many wrong passwords; the account is locked for {} more minutes (a one-time code still works)",
            wait.as_secs().div_ceil(60).max(1)
        ),
        retry_after: Some(wait),
    }
}

/// Hashes off the async workers: argon2 takes tens of milliseconds of CPU.
pub(crate) async fn hash_password(password: &str) -> Result<String> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || password::hash(&password))
        .await
        .map_err(Error::internal)?
        .map_err(Error::internal)
}

/// The shared state of the identity service.
pub type State = Arc<Accounts>;
