//! Accounts: signing up, logging in with a one-time code or a password, and the throttles that
//! keep guessing expensive.
//!
//! Nothing here reveals whether a phone is registered to someone who has not proven they hold it:
//! a code is "sent" for any number (the SMS goes out, the answer is the same), and a wrong password
//! for a registered phone takes as long, and reads the same, as any password for an unregistered
//! one (the hash is verified against a dummy). Once the code is proven, saying "no account for this
//! phone, sign up" tells the phone's holder nothing they could not know.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{DatabaseTransaction, TransactionTrait};
use terrace_platform::bus::outbox;
use terrace_platform::error::{Error, Result};
use terrace_platform::service::ServiceContext;
use terrace_platform::throttle::{Rate, Throttle};
use terrace_proto::identity::v1 as pb;
use uuid::Uuid;

use crate::config::IdentitySettings;
use crate::domain::phone::PhoneNumber;
use crate::domain::{otp, password};
use crate::keys::SigningKeys;
use crate::tokens::TokenService;
use crate::users::{self, NewUser, UserRow, timestamp};

/// Consecutive wrong passwords that lock an account.
const LOCK_AFTER_FAILURES: i32 = 5;
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

/// A successful login or sign-up.
#[derive(Debug)]
pub struct LoggedIn {
    pub user: UserRow,
    pub tokens: pb::TokenPair,
}

/// The stored name of an OTP purpose.
fn purpose_name(purpose: pb::OtpPurpose) -> Option<&'static str> {
    match purpose {
        pb::OtpPurpose::Login => Some("login"),
        pb::OtpPurpose::SignUp => Some("sign_up"),
        pb::OtpPurpose::ResetPassword => Some("reset_password"),
        pb::OtpPurpose::ChangePhone => Some("change_phone"),
        pb::OtpPurpose::Unspecified => None,
    }
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

    /// Makes a code for `phone` and queues it for delivery (`secret.identity.otp.requested`).
    pub async fn request_otp(
        &self,
        request_id: Uuid,
        phone: &PhoneNumber,
        purpose: pb::OtpPurpose,
        locale: &str,
        client: &str,
    ) -> Result<pb::RequestOtpResponse> {
        self.limits.codes_per_address.check(&client.to_owned())?;
        self.limits
            .texts_per_phone
            .check(&phone.as_str().to_owned())?;
        let purpose_name =
            purpose_name(purpose).ok_or_else(|| Error::invalid("purpose", "required"))?;
        let txn = self.ctx.db.begin().await?;
        // A retried request (the phone lost the answer) gets the first answer, not a second SMS.
        let fingerprint = crate::replay::fingerprint(&[phone.as_str(), purpose_name]);
        if let Some(previous) =
            crate::replay::previous(&txn, request_id, "RequestOtp", &fingerprint).await?
        {
            return Ok(previous);
        }
        let now = self.ctx.clock.now();
        let resend =
            chrono::Duration::from_std(self.settings.otp_resend_interval).unwrap_or_default();
        if let Some(last) = users::latest_challenge(&txn, phone, purpose_name).await?
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
            &txn,
            id,
            phone,
            purpose_name,
            otp::hash(self.secret(), phone.as_str(), purpose_name, &code),
            now,
            expires_at,
        )
        .await?;
        let user_id = users::by_phone(&txn, phone, false)
            .await?
            .map(|user| user.id.to_string())
            .unwrap_or_default();
        let event = pb::OtpRequested {
            otp_id: id.to_string(),
            phone_number: phone.as_str().to_owned(),
            user_id,
            code,
            purpose: purpose as i32,
            locale: locale.to_owned(),
            expire_time: Some(timestamp(expires_at)),
        };
        outbox::publish(&txn, &self.ctx.event_source(), &event).await?;
        let response = pb::RequestOtpResponse {
            expire_time: Some(timestamp(expires_at)),
            retry_time: Some(timestamp(now + resend)),
        };
        crate::replay::remember(&txn, request_id, "RequestOtp", &fingerprint, &response).await?;
        txn.commit().await?;
        tracing::info!(phone = %phone.masked(), purpose = purpose_name, "one-time code requested");
        Ok(response)
    }

    /// Checks a code in `txn`; a wrong code is counted (and that count committed) before the error.
    pub(crate) async fn verify_code(
        &self,
        phone: &PhoneNumber,
        purpose: &'static str,
        code: &str,
        client: &str,
    ) -> Result<DatabaseTransaction> {
        self.limits.logins_per_address.check(&client.to_owned())?;
        self.limits
            .guesses_per_phone
            .check(&phone.as_str().to_owned())?;
        let now = self.ctx.clock.now();
        let txn = self.ctx.db.begin().await?;
        let Some(challenge) = users::latest_challenge(&txn, phone, purpose).await? else {
            return Err(Error::failed_precondition(
                "OTP_NOT_REQUESTED",
                "no code was requested for this phone; request one first",
            ));
        };
        if challenge.consumed {
            return Err(Error::failed_precondition(
                "OTP_ALREADY_USED",
                "this code was already used; request a new one",
            ));
        }
        if challenge.expires_at <= now {
            return Err(Error::failed_precondition(
                "OTP_EXPIRED",
                "the code has expired; request a new one",
            ));
        }
        let max_attempts = i32::try_from(self.settings.otp_max_attempts).unwrap_or(i32::MAX);
        if challenge.attempts >= max_attempts {
            return Err(Error::failed_precondition(
                "OTP_ATTEMPTS_EXHAUSTED",
                "too many wrong codes; request a new one",
            ));
        }
        if !otp::matches(
            self.secret(),
            phone.as_str(),
            purpose,
            code,
            &challenge.code_hash,
        ) {
            users::count_attempt(&txn, challenge.id).await?;
            txn.commit().await?;
            let left = max_attempts - challenge.attempts - 1;
            return Err(Error::invalid(
                "otp_code",
                format!("wrong code; {left} attempts left"),
            ));
        }
        users::consume_challenge(&txn, challenge.id, now).await?;
        Ok(txn)
    }

    /// Creates an account for a phone proven with a sign-up code.
    #[allow(clippy::too_many_arguments)] // The fields of one sign-up form, validated by the caller.
    pub async fn sign_up(
        &self,
        phone: &PhoneNumber,
        code: &str,
        display_name: &str,
        new_password: Option<&str>,
        locale: &str,
        time_zone: &str,
        client_description: &str,
        client: &str,
    ) -> Result<LoggedIn> {
        // The code first: its throttles must come before the costly hashing, or anyone could
        // make the server run argon2 with made-up codes.
        let txn = self.verify_code(phone, "sign_up", code, client).await?;
        let password_hash = match new_password {
            Some(password) => Some(hash_password(password).await?),
            None => None,
        };
        let user = users::insert(
            &txn,
            NewUser {
                phone,
                display_name,
                locale,
                time_zone,
                password_hash,
                created_by: None,
                created_at: self.ctx.clock.now(),
            },
        )
        .await?
        .ok_or_else(|| Error::AlreadyExists {
            resource: "user",
            id: phone.masked(),
        })?;
        let actor = terrace_proto::common::v1::Actor {
            user_id: user.id.to_string(),
            ..Default::default()
        };
        outbox::publish(
            &txn,
            &self.ctx.event_source(),
            &pb::UserCreated {
                user: Some(user.to_proto()),
                actor: Some(actor),
            },
        )
        .await?;
        let logged_in = self.log_in(&txn, user, "otp", client_description).await?;
        txn.commit().await?;
        tracing::info!(user_id = %logged_in.user.id, "user signed up");
        Ok(logged_in)
    }

    /// Logs in with a code sent by SMS.
    pub async fn login_with_otp(
        &self,
        phone: &PhoneNumber,
        code: &str,
        client_description: &str,
        client: &str,
    ) -> Result<LoggedIn> {
        let txn = self.verify_code(phone, "login", code, client).await?;
        let user = users::by_phone(&txn, phone, true).await?.ok_or_else(|| {
            Error::failed_precondition("NOT_REGISTERED", "no account for this phone; sign up first")
        })?;
        ensure_may_log_in(&user, false, self.ctx.clock.now())?;
        let logged_in = self.log_in(&txn, user, "otp", client_description).await?;
        txn.commit().await?;
        Ok(logged_in)
    }

    /// Logs in with a password.
    pub async fn login_with_password(
        &self,
        phone: &PhoneNumber,
        password: &str,
        client_description: &str,
        client: &str,
    ) -> Result<LoggedIn> {
        self.limits.logins_per_address.check(&client.to_owned())?;
        self.limits
            .guesses_per_phone
            .check(&phone.as_str().to_owned())?;
        let txn = self.ctx.db.begin().await?;
        let user = users::by_phone(&txn, phone, true).await?;
        // Always pay for one argon2 verification, registered phone or not.
        let hash = user
            .as_ref()
            .and_then(|user| user.password_hash.clone())
            .unwrap_or_else(|| password::dummy_hash().to_owned());
        let candidate = password.to_owned();
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
            if users::record_failed_login(&txn, user.id, LOCK_AFTER_FAILURES, lock_until)
                .await?
                .is_some()
            {
                tracing::warn!(user_id = %user.id, "account locked after repeated wrong passwords");
            }
            txn.commit().await?;
            return Err(wrong());
        }
        // The right password: only now may the answer say the account is locked or disabled.
        ensure_may_log_in(&user, true, self.ctx.clock.now())?;
        let logged_in = self
            .log_in(&txn, user, "password", client_description)
            .await?;
        txn.commit().await?;
        Ok(logged_in)
    }

    /// Starts a session for `user` in `txn` and issues its tokens.
    async fn log_in(
        &self,
        txn: &DatabaseTransaction,
        user: UserRow,
        method: &str,
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

    /// Exchanges a refresh token for new tokens (the old refresh token is then spent).
    pub async fn refresh(&self, refresh_token: &str) -> Result<pb::TokenPair> {
        // Everything that can fail happens before the rotation commits, so a failure leaves the
        // presented token valid for a retry.
        let (rotated, (access_token, access_expires)) = self
            .tokens
            .rotate_then(refresh_token, |user_id, session_id| async move {
                let user = users::by_id(&self.ctx.db, user_id).await?.ok_or_else(|| {
                    Error::Unauthenticated("the session's user no longer exists".to_owned())
                })?;
                ensure_may_log_in(&user, false, self.ctx.clock.now())?;
                // Grants given or taken since the last token take effect now.
                let grants =
                    crate::grants::live_grants(&self.ctx.db, user.id, self.ctx.clock.now()).await?;
                self.tokens
                    .access_token(user.id, &grants, Some(session_id))
                    .await
            })
            .await?;
        Ok(pb::TokenPair {
            access_token,
            access_token_expire_time: Some(timestamp(access_expires)),
            refresh_token: rotated.refresh_token,
            refresh_token_expire_time: Some(timestamp(rotated.expires_at)),
            session_id: rotated.session_id.to_string(),
            ..Default::default()
        })
    }
}

/// Whether `user` may log in now. Disabled accounts never; locked ones not until the lock ends.
fn ensure_may_log_in(user: &UserRow, password: bool, now: DateTime<Utc>) -> Result<()> {
    if user.status == "disabled" {
        return Err(Error::permission_denied(
            "ACCOUNT_DISABLED",
            "this account is disabled; ask your village office",
        ));
    }
    // Locked by an official: for every way in, until the lock's end (or until lifted if none).
    if user.status == "locked" && user.locked_until.is_none_or(|until| until > now) {
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
