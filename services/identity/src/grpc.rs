//! The handlers of `terrace.identity.v1.IdentityService`: decode and validate, call
//! [`Accounts`], map the result. RPCs not implemented yet answer `UNIMPLEMENTED` (the generated
//! default) until their part of the identity issue lands.

use std::str::FromStr as _;
use std::sync::Arc;

use terrace_platform::auth::Principal;
use terrace_platform::error::{Error, Violations, parse_request_id};
use terrace_proto::identity::v1 as pb;
use terrace_proto::identity::v1::identity_service_server::IdentityService;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::accounts::Accounts;
use crate::domain::phone::PhoneNumber;
use crate::domain::{otp, password};
use crate::users;

/// The locales the product speaks.
pub const LOCALES: [&str; 2] = ["zh-CN", "en"];
/// The locale of a user who did not choose one.
pub const DEFAULT_LOCALE: &str = "zh-CN";
/// The time zone of a user who did not choose one.
pub const DEFAULT_TIME_ZONE: &str = "Asia/Shanghai";

/// Handlers over the shared [`Accounts`].
#[derive(Debug)]
pub struct IdentityGrpc {
    accounts: Arc<Accounts>,
}

impl IdentityGrpc {
    pub fn new(accounts: Arc<Accounts>) -> Self {
        Self { accounts }
    }
}

/// The caller's address, the key of per-client throttling.
fn client_of<T>(request: &Request<T>) -> String {
    request
        .remote_addr()
        .map(|addr| addr.ip().to_string())
        .unwrap_or_else(|| "unknown".to_owned())
}

fn check_phone(violations: &mut Violations, field: &str, value: &str) -> Option<PhoneNumber> {
    PhoneNumber::parse(value)
        .map_err(|error| violations.add(field, error.to_string()))
        .ok()
}

fn check_locale(violations: &mut Violations, field: &str, value: &str) -> String {
    if value.is_empty() {
        return DEFAULT_LOCALE.to_owned();
    }
    if !LOCALES.contains(&value) {
        violations.add(field, format!("must be one of {}", LOCALES.join(", ")));
    }
    value.to_owned()
}

fn check_time_zone(violations: &mut Violations, field: &str, value: &str) -> String {
    if value.is_empty() {
        return DEFAULT_TIME_ZONE.to_owned();
    }
    if chrono_tz::Tz::from_str(value).is_err() {
        violations.add(field, "must be an IANA time zone such as Asia/Shanghai");
    }
    value.to_owned()
}

fn check_code(violations: &mut Violations, field: &str, value: &str) {
    if !otp::well_formed(value) {
        violations.add(
            field,
            format!(
                "must be the {}-digit code from the text message",
                otp::LENGTH
            ),
        );
    }
}

fn check_text(violations: &mut Violations, field: &str, value: &str, required: bool, max: usize) {
    let length = value.chars().count();
    if required && value.trim().is_empty() {
        violations.add(field, "required");
    } else if length > max {
        violations.add(field, format!("at most {max} characters"));
    } else if value.chars().any(char::is_control) {
        violations.add(field, "must not contain control characters");
    }
}

#[tonic::async_trait]
impl IdentityService for IdentityGrpc {
    #[tracing::instrument(skip_all)]
    async fn request_otp(
        &self,
        request: Request<pb::RequestOtpRequest>,
    ) -> Result<Response<pb::RequestOtpResponse>, Status> {
        let client = client_of(&request);
        let message = request.into_inner();
        let mut violations = Violations::new();
        parse_request_id(&mut violations, "request_id", &message.request_id);
        let phone = check_phone(&mut violations, "phone_number", &message.phone_number);
        let purpose =
            pb::OtpPurpose::try_from(message.purpose).unwrap_or(pb::OtpPurpose::Unspecified);
        violations.check(
            purpose != pb::OtpPurpose::Unspecified,
            "purpose",
            "required: one of the OTP_PURPOSE values",
        );
        let locale = check_locale(&mut violations, "locale", &message.locale);
        violations.finish()?;
        let phone = phone.ok_or_else(|| Error::invalid("phone_number", "required"))?;
        Ok(Response::new(
            self.accounts
                .request_otp(&phone, purpose, &locale, &client)
                .await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn sign_up(
        &self,
        request: Request<pb::SignUpRequest>,
    ) -> Result<Response<pb::SignUpResponse>, Status> {
        let client = client_of(&request);
        let message = request.into_inner();
        let mut violations = Violations::new();
        parse_request_id(&mut violations, "request_id", &message.request_id);
        let phone = check_phone(&mut violations, "phone_number", &message.phone_number);
        check_code(&mut violations, "otp_code", &message.otp_code);
        check_text(
            &mut violations,
            "display_name",
            &message.display_name,
            true,
            64,
        );
        let locale = check_locale(&mut violations, "locale", &message.locale);
        let time_zone = check_time_zone(&mut violations, "time_zone", &message.time_zone);
        check_text(
            &mut violations,
            "client_description",
            &message.client_description,
            false,
            200,
        );
        if !message.password.is_empty() {
            let digits = phone
                .as_ref()
                .map(|p| p.as_str().trim_start_matches('+').to_owned())
                .unwrap_or_default();
            if let Err(error) = password::check(&message.password, &digits) {
                violations.add("password", error.to_string());
            }
        }
        violations.finish()?;
        let phone = phone.ok_or_else(|| Error::invalid("phone_number", "required"))?;
        let new_password = (!message.password.is_empty()).then_some(message.password.as_str());
        let logged_in = self
            .accounts
            .sign_up(
                &phone,
                &message.otp_code,
                message.display_name.trim(),
                new_password,
                &locale,
                &time_zone,
                &message.client_description,
                &client,
            )
            .await?;
        Ok(Response::new(pb::SignUpResponse {
            user: Some(logged_in.user.to_proto()),
            tokens: Some(logged_in.tokens),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn login_with_password(
        &self,
        request: Request<pb::LoginWithPasswordRequest>,
    ) -> Result<Response<pb::LoginWithPasswordResponse>, Status> {
        let client = client_of(&request);
        let message = request.into_inner();
        let mut violations = Violations::new();
        parse_request_id(&mut violations, "request_id", &message.request_id);
        let phone = check_phone(&mut violations, "phone_number", &message.phone_number);
        violations.check(!message.password.is_empty(), "password", "required");
        violations.check(
            message.password.chars().count() <= password::MAX_LENGTH,
            "password",
            "too long",
        );
        check_text(
            &mut violations,
            "client_description",
            &message.client_description,
            false,
            200,
        );
        violations.finish()?;
        let phone = phone.ok_or_else(|| Error::invalid("phone_number", "required"))?;
        let logged_in = self
            .accounts
            .login_with_password(
                &phone,
                &message.password,
                &message.client_description,
                &client,
            )
            .await?;
        Ok(Response::new(pb::LoginWithPasswordResponse {
            user: Some(logged_in.user.to_proto()),
            tokens: Some(logged_in.tokens),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn login_with_otp(
        &self,
        request: Request<pb::LoginWithOtpRequest>,
    ) -> Result<Response<pb::LoginWithOtpResponse>, Status> {
        let client = client_of(&request);
        let message = request.into_inner();
        let mut violations = Violations::new();
        parse_request_id(&mut violations, "request_id", &message.request_id);
        let phone = check_phone(&mut violations, "phone_number", &message.phone_number);
        check_code(&mut violations, "otp_code", &message.otp_code);
        check_text(
            &mut violations,
            "client_description",
            &message.client_description,
            false,
            200,
        );
        violations.finish()?;
        let phone = phone.ok_or_else(|| Error::invalid("phone_number", "required"))?;
        let logged_in = self
            .accounts
            .login_with_otp(
                &phone,
                &message.otp_code,
                &message.client_description,
                &client,
            )
            .await?;
        Ok(Response::new(pb::LoginWithOtpResponse {
            user: Some(logged_in.user.to_proto()),
            tokens: Some(logged_in.tokens),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn refresh_token(
        &self,
        request: Request<pb::RefreshTokenRequest>,
    ) -> Result<Response<pb::RefreshTokenResponse>, Status> {
        let message = request.into_inner();
        let mut violations = Violations::new();
        parse_request_id(&mut violations, "request_id", &message.request_id);
        violations.check(
            !message.refresh_token.is_empty(),
            "refresh_token",
            "required",
        );
        violations.check(
            message.refresh_token.len() <= 256,
            "refresh_token",
            "not a refresh token",
        );
        violations.finish()?;
        let tokens = self.accounts.refresh(&message.refresh_token).await?;
        Ok(Response::new(pb::RefreshTokenResponse {
            tokens: Some(tokens),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn logout(
        &self,
        request: Request<pb::LogoutRequest>,
    ) -> Result<Response<pb::LogoutResponse>, Status> {
        Principal::from_request(&request)?;
        let message = request.into_inner();
        let mut violations = Violations::new();
        parse_request_id(&mut violations, "request_id", &message.request_id);
        violations.check(
            !message.refresh_token.is_empty(),
            "refresh_token",
            "required",
        );
        violations.finish()?;
        self.accounts.tokens.revoke(&message.refresh_token).await?;
        Ok(Response::new(pb::LogoutResponse {}))
    }

    #[tracing::instrument(skip_all)]
    async fn revoke_all_sessions(
        &self,
        request: Request<pb::RevokeAllSessionsRequest>,
    ) -> Result<Response<pb::RevokeAllSessionsResponse>, Status> {
        let principal = Principal::from_request(&request)?.clone();
        let message = request.into_inner();
        let mut violations = Violations::new();
        parse_request_id(&mut violations, "request_id", &message.request_id);
        check_text(&mut violations, "reason", &message.reason, false, 200);
        let target = if message.user_id.is_empty() {
            Uuid::parse_str(&principal.subject).ok()
        } else {
            Uuid::parse_str(&message.user_id)
                .map_err(|_| violations.add("user_id", "must be a user id"))
                .ok()
        };
        violations.finish()?;
        let target =
            target.ok_or_else(|| Error::Unauthenticated("the token has no user".to_owned()))?;
        // Until role grants land, only a user's own sessions can be revoked.
        if target.to_string() != principal.subject {
            return Err(Error::permission_denied(
                "NOT_YOUR_ACCOUNT",
                "you can only revoke your own sessions",
            )
            .into());
        }
        let reason = if message.reason.is_empty() {
            "revoked by the user"
        } else {
            message.reason.as_str()
        };
        let revoked = self.accounts.tokens.revoke_all(target, reason).await?;
        Ok(Response::new(pb::RevokeAllSessionsResponse {
            revoked_count: i32::try_from(revoked).unwrap_or(i32::MAX),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn get_jwks(
        &self,
        _request: Request<pb::GetJwksRequest>,
    ) -> Result<Response<pb::GetJwksResponse>, Status> {
        let set = self.accounts.keys.jwks().await;
        let keys = set
            .keys
            .iter()
            .filter_map(|jwk| {
                let jsonwebtoken::jwk::AlgorithmParameters::OctetKeyPair(okp) = &jwk.algorithm
                else {
                    return None;
                };
                Some(pb::Jwk {
                    kid: jwk.common.key_id.clone().unwrap_or_default(),
                    kty: "OKP".to_owned(),
                    crv: "Ed25519".to_owned(),
                    x: okp.x.clone(),
                    alg: "EdDSA".to_owned(),
                    r#use: "sig".to_owned(),
                    ..Default::default()
                })
            })
            .collect();
        Ok(Response::new(pb::GetJwksResponse { keys }))
    }

    #[tracing::instrument(skip_all)]
    async fn get_current_user(
        &self,
        request: Request<pb::GetCurrentUserRequest>,
    ) -> Result<Response<pb::GetCurrentUserResponse>, Status> {
        let principal = Principal::from_request(&request)?;
        let id = Uuid::parse_str(&principal.subject)
            .map_err(|_| Error::Unauthenticated("the token has no user".to_owned()))?;
        let user = users::by_id(&self.accounts.ctx.db, id)
            .await
            .map_err(Error::from)?
            .ok_or_else(|| Error::not_found("user", id.to_string()))?;
        Ok(Response::new(pb::GetCurrentUserResponse {
            user: Some(user.to_proto()),
            ..Default::default()
        }))
    }
}
