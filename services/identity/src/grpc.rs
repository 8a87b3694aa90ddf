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
use crate::{grants, users};

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

/// A scope given as the contract's 12-digit code with its level; the two must agree.
fn check_scope(
    violations: &mut Violations,
    field: &str,
    code: Option<&terrace_proto::common::v1::AdminCode>,
) -> Option<terrace_platform::auth::AdminScope> {
    let Some(code) = code else {
        violations.add(field, "required");
        return None;
    };
    if code.code.len() != 12 {
        violations.add(
            format!("{field}.code"),
            "must be the 12-digit division code (000000000000 for the whole country)",
        );
        return None;
    }
    let scope = match terrace_platform::auth::AdminScope::parse(&code.code) {
        Ok(scope) => scope,
        Err(error) => {
            violations.add(format!("{field}.code"), error.to_string());
            return None;
        }
    };
    if grants::admin_code(&scope).level != code.level {
        violations.add(
            format!("{field}.level"),
            "does not match the level the code names",
        );
        return None;
    }
    Some(scope)
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
        let request_id = parse_request_id(&mut violations, "request_id", &message.request_id);
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
        let (Some(phone), Some(request_id)) = (phone, request_id) else {
            return Err(Error::invalid("phone_number", "required").into());
        };
        Ok(Response::new(
            self.accounts
                .request_otp(request_id, &phone, purpose, &locale, &client)
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

    #[tracing::instrument(skip_all)]
    async fn grant_role(
        &self,
        request: Request<pb::GrantRoleRequest>,
    ) -> Result<Response<pb::GrantRoleResponse>, Status> {
        let principal = Principal::from_request(&request)?.clone();
        let message = request.into_inner();
        let mut violations = Violations::new();
        parse_request_id(&mut violations, "request_id", &message.request_id);
        let proposed = message.grant.unwrap_or_default();
        let user_id = Uuid::parse_str(&proposed.user_id)
            .map_err(|_| violations.add("grant.user_id", "must be a user id"))
            .ok();
        let role = grants::role_from_proto(proposed.role);
        if role.is_none() {
            violations.add(
                "grant.role",
                "required: a role that can be granted (digital helpers act through consents)",
            );
        }
        let scope = check_scope(&mut violations, "grant.scope", proposed.scope.as_ref());
        check_text(
            &mut violations,
            "grant.reason",
            &proposed.reason,
            false,
            500,
        );
        let expires_at = proposed.expire_time.map(|t| {
            chrono::DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap_or(0))
        });
        if let Some(expiry) = &expires_at {
            violations.check(
                expiry.is_some_and(|e| e > chrono::Utc::now()),
                "grant.expire_time",
                "must be in the future",
            );
        }
        let grant = match (role, scope) {
            (Some(role), Some(scope)) => terrace_platform::auth::RoleGrant::new(role, scope)
                .map_err(|error| violations.add("grant.scope", error.to_string()))
                .ok(),
            _ => None,
        };
        violations.finish()?;
        let (Some(user_id), Some(grant)) = (user_id, grant) else {
            return Err(Error::invalid("grant", "incomplete").into());
        };
        let row = grants::grant(
            &self.accounts.ctx.db,
            &self.accounts.ctx.event_source(),
            Some(&principal),
            user_id,
            grant,
            expires_at.flatten(),
            &proposed.reason,
        )
        .await?;
        Ok(Response::new(pb::GrantRoleResponse {
            grant: Some(row.to_proto()),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn revoke_role(
        &self,
        request: Request<pb::RevokeRoleRequest>,
    ) -> Result<Response<pb::RevokeRoleResponse>, Status> {
        let principal = Principal::from_request(&request)?.clone();
        let message = request.into_inner();
        let mut violations = Violations::new();
        parse_request_id(&mut violations, "request_id", &message.request_id);
        let grant_id = Uuid::parse_str(&message.grant_id)
            .map_err(|_| violations.add("grant_id", "must be a grant id"))
            .ok();
        check_text(&mut violations, "reason", &message.reason, true, 500);
        violations.finish()?;
        let grant_id = grant_id.ok_or_else(|| Error::invalid("grant_id", "required"))?;
        let row = grants::revoke(
            &self.accounts.ctx.db,
            &self.accounts.ctx.event_source(),
            Some(&principal),
            grant_id,
            &message.reason,
        )
        .await?;
        Ok(Response::new(pb::RevokeRoleResponse {
            grant: Some(row.to_proto()),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn list_role_grants(
        &self,
        request: Request<pb::ListRoleGrantsRequest>,
    ) -> Result<Response<pb::ListRoleGrantsResponse>, Status> {
        let principal = Principal::from_request(&request)?.clone();
        let message = request.into_inner();
        let mut violations = Violations::new();
        let user_id = if message.user_id.is_empty() {
            None
        } else {
            Uuid::parse_str(&message.user_id)
                .map_err(|_| violations.add("user_id", "must be a user id"))
                .ok()
        };
        let page = message.page.unwrap_or_default();
        violations.check(
            (0..=200).contains(&page.page_size),
            "page.page_size",
            "must be between 0 and 200",
        );
        let after = if page.page_token.is_empty() {
            None
        } else {
            Uuid::parse_str(&page.page_token)
                .map_err(|_| violations.add("page.page_token", "not a token from this list"))
                .ok()
        };
        violations.check(
            message.area.is_none() && message.role == 0,
            "area",
            "filtering by area or role is not supported yet",
        );
        violations.finish()?;
        let page_size = if page.page_size == 0 {
            50
        } else {
            u64::try_from(page.page_size).unwrap_or(50)
        };
        let (rows, next) = grants::list(
            &self.accounts.ctx,
            &principal,
            user_id,
            message.include_inactive,
            page_size,
            after,
        )
        .await?;
        Ok(Response::new(pb::ListRoleGrantsResponse {
            grants: rows.iter().map(grants::GrantRow::to_proto).collect(),
            page: Some(terrace_proto::common::v1::PageResponse {
                next_page_token: next.map(|id| id.to_string()).unwrap_or_default(),
                total_size: None,
            }),
        }))
    }
}
