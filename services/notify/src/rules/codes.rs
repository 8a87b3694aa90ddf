//! One-time codes go out by SMS: identity's login, sign-up, reset and phone-change codes
//! (`secret.identity.otp.requested`) and governance's resident-claim codes
//! (`secret.governance.resident_claim.code_requested`), each a critical text to the phone that
//! asked (quiet hours and preferences do not hold it back). Two consumers, one per producer,
//! because a consumer takes one subject filter and `secret.>` would take the secret dead letters
//! too.
//!
//! The code exists in clear only in the event (on the short-lived `secret.>` stream) and in the
//! delivery's text until the delivery is final; then the text is emptied. Nothing here logs it,
//! and errors never quote the payload. A code that expired before it could be sent is dropped.

use chrono::{DateTime, Utc};
use sea_orm::DatabaseTransaction;
use serde::Serialize;
use terrace_platform::Clock;
use terrace_platform::bus::Envelope;
use terrace_platform::bus::consumer::{Consumer, Handler, HandlerError};
use terrace_platform::service::ServiceContext;
use terrace_proto::governance::v1::ResidentClaimCodeRequested;
use terrace_proto::identity::v1::{OtpPurpose, OtpRequested};
use terrace_proto::notify::v1 as pb;
use uuid::Uuid;

use super::Texting;

/// The consumer of identity's codes.
pub const IDENTITY_CONSUMER: &str = "notify-identity-codes";
/// The consumer of governance's resident-claim codes.
pub const GOVERNANCE_CONSUMER: &str = "notify-governance-codes";

/// The consumers of both kinds of code, to be run by the service.
pub fn consumers(
    ctx: &ServiceContext,
    texting: &Texting,
) -> (
    Consumer<CodeRules<OtpRequested>>,
    Consumer<CodeRules<ResidentClaimCodeRequested>>,
) {
    (
        super::consumer(
            ctx,
            IDENTITY_CONSUMER,
            "secret",
            "secret.identity.otp.requested",
            CodeRules::new(ctx.clock.clone(), texting.clone()),
        ),
        super::consumer(
            ctx,
            GOVERNANCE_CONSUMER,
            "secret",
            "secret.governance.resident_claim.code_requested",
            CodeRules::new(ctx.clock.clone(), texting.clone()),
        ),
    )
}

/// A code to text, as its event carries it.
#[derive(Debug)]
pub struct Code {
    pub phone: String,
    pub user: Option<Uuid>,
    pub code: String,
    pub locale: String,
    pub expire_at: Option<DateTime<Utc>>,
    /// The text's key.
    pub key: &'static str,
    /// What it is for, by purpose (identity's codes).
    pub purpose: Option<OtpPurpose>,
}

/// An event that asks for a code to be texted.
pub trait CodeEvent: terrace_proto::Event + Send + Sync + 'static {
    fn code(self) -> Code;
}

fn time(value: Option<prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    value.and_then(|t| DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).ok()?))
}

impl CodeEvent for OtpRequested {
    fn code(self) -> Code {
        Code {
            purpose: OtpPurpose::try_from(self.purpose).ok(),
            phone: self.phone_number,
            user: Uuid::parse_str(&self.user_id).ok(),
            code: self.code,
            locale: self.locale,
            expire_at: time(self.expire_time),
            key: "identity.otp",
        }
    }
}

impl CodeEvent for ResidentClaimCodeRequested {
    fn code(self) -> Code {
        Code {
            purpose: None,
            phone: self.phone_number,
            // The phone on the record may be nobody's account yet.
            user: None,
            code: self.code,
            locale: self.locale,
            expire_at: time(self.expire_time),
            key: "governance.resident_claim.code",
        }
    }
}

/// What a code is for, in the text's language.
pub fn purpose_words(purpose: Option<OtpPurpose>, locale: &str) -> &'static str {
    let english = locale.starts_with("en");
    match (purpose, english) {
        (Some(OtpPurpose::SignUp), false) => "注册",
        (Some(OtpPurpose::SignUp), true) => "sign up",
        (Some(OtpPurpose::ResetPassword), false) => "重设密码",
        (Some(OtpPurpose::ResetPassword), true) => "reset your password",
        (Some(OtpPurpose::ChangePhone), false) => "更换手机号",
        (Some(OtpPurpose::ChangePhone), true) => "change your phone number",
        (_, false) => "登录",
        (_, true) => "log in",
    }
}

#[derive(Debug, Serialize)]
struct Vars<'a> {
    code: &'a str,
    purpose: &'static str,
    minutes: i64,
}

/// Texts each code of `E`.
#[derive(Debug)]
pub struct CodeRules<E> {
    clock: Clock,
    texting: Texting,
    _event: std::marker::PhantomData<fn() -> E>,
}

impl<E> CodeRules<E> {
    pub fn new(clock: Clock, texting: Texting) -> Self {
        Self {
            clock,
            texting,
            _event: std::marker::PhantomData,
        }
    }
}

impl<E: CodeEvent> Handler for CodeRules<E> {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        envelope: &Envelope,
    ) -> Result<(), HandlerError> {
        // The decoding error names no field values, so it is safe to keep in a dead letter.
        let code = envelope
            .decode::<E>()
            .map_err(|_| HandlerError::Reject(anyhow::anyhow!("not a code event")))?
            .code();
        let now = self.clock.now();
        if code.expire_at.is_some_and(|at| at <= now) || code.phone.is_empty() {
            // Useless now, or nowhere to send it.
            return Ok(());
        }
        // Whole minutes left (rounded up: a code texted a moment after it was made still reads
        // "5 minutes"), on the service clock that set the expiry.
        let minutes = code.expire_at.map_or(5, |at| {
            ((at - now).num_seconds() + 59).div_euclid(60).max(1)
        });
        let vars = Vars {
            code: &code.code,
            purpose: purpose_words(code.purpose, &code.locale),
            minutes,
        };
        let template = crate::templates::active(txn, code.key).await?;
        super::queue_sms(
            txn,
            &self.texting,
            super::Text {
                template: &template,
                locale: &code.locale,
                vars: &vars,
            },
            // Critical: no preference holds a code back.
            super::Recipient {
                user: code.user,
                phone: &code.phone,
                preferences: None,
            },
            super::About {
                category: pb::NotificationCategory::Security,
                critical: true,
                secret: true,
                expire_at: code.expire_at,
                dedupe_key: format!("{}:{}", envelope.id, code.key),
                area: String::new(),
            },
            envelope,
            now,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::templates::defaults;

    #[test]
    fn each_purpose_is_named_in_the_codes_language() {
        assert_eq!(purpose_words(Some(OtpPurpose::Login), "zh-CN"), "登录");
        assert_eq!(purpose_words(Some(OtpPurpose::SignUp), "en"), "sign up");
        assert_eq!(purpose_words(None, "zh-CN"), "登录");
        let rendered = defaults::built_in_of("identity.otp")
            .and_then(|otp| {
                otp.render(
                    pb::Channel::Sms,
                    "en",
                    &Vars {
                        code: "654321",
                        purpose: purpose_words(Some(OtpPurpose::ResetPassword), "en"),
                        minutes: 5,
                    },
                )
            })
            .unwrap()
            .unwrap();
        assert!(
            rendered
                .body
                .starts_with("Terrace code 654321 to reset your password"),
            "{}",
            rendered.body
        );
    }
}
