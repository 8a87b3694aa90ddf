//! The handlers of `terrace.identity.v1.IdentityService`: decode and validate, call
//! [`Accounts`], map the result. RPCs not implemented yet answer `UNIMPLEMENTED` (the generated
//! default) until their part of the identity issue lands.

use std::str::FromStr as _;
use std::sync::Arc;

use secrecy::ExposeSecret as _;
use terrace_platform::auth::Principal;
use terrace_platform::error::{Error, Violations};
use terrace_proto::identity::v1 as pb;
use terrace_proto::identity::v1::identity_service_server::IdentityService;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::accounts::Accounts;
use crate::agencies::{self, Agencies, AgencySettings, AuthMethod, Changes, NewClient};
use crate::consents::{self, Consents};
use crate::domain::phone::PhoneNumber;
use crate::domain::{otp, password};
use crate::grants::{self, Grants};
use crate::users;
use terrace_platform::Clock;
use terrace_platform::auth::Caller;
use terrace_platform::validate::page_response;

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
    grants: Grants,
    consents: Consents,
    clock: Clock,
    /// The credentials exchange and its throttles (one per process, as the handlers are).
    agencies: Agencies,
}

impl IdentityGrpc {
    pub fn new(accounts: Arc<Accounts>) -> Self {
        // `Identity::state` already refused unreadable agency settings at start, so the default
        // stands in only where no service runs (a handler built by hand).
        let settings = AgencySettings::load(&accounts.ctx.settings).unwrap_or_default();
        let agencies = Agencies::new(
            accounts.ctx.db.clone(),
            accounts.tokens.clone(),
            settings,
            accounts.ctx.clock.clone(),
        );
        let grants = Grants::new(&accounts.ctx);
        let consents = Consents::new(&accounts.ctx, accounts.tokens.clone());
        let clock = accounts.ctx.clock.clone();
        Self {
            accounts,
            grants,
            consents,
            clock,
            agencies,
        }
    }
}

/// The caller's address, the key of per-client throttling.
pub(crate) fn client_of<T>(request: &Request<T>) -> String {
    request
        .remote_addr()
        .map(|addr| addr.ip().to_string())
        .unwrap_or_else(|| "unknown".to_owned())
}

pub(crate) fn check_phone(
    violations: &mut Violations,
    field: &str,
    value: &str,
) -> Option<PhoneNumber> {
    PhoneNumber::parse(value)
        .map_err(|error| violations.add(field, error.to_string()))
        .ok()
}

pub(crate) fn check_locale(violations: &mut Violations, field: &str, value: &str) -> String {
    if value.is_empty() {
        return DEFAULT_LOCALE.to_owned();
    }
    if !LOCALES.contains(&value) {
        violations.add(field, format!("must be one of {}", LOCALES.join(", ")));
    }
    value.to_owned()
}

pub(crate) fn check_time_zone(violations: &mut Violations, field: &str, value: &str) -> String {
    if value.is_empty() {
        return DEFAULT_TIME_ZONE.to_owned();
    }
    if chrono_tz::Tz::from_str(value).is_err() {
        violations.add(field, "must be an IANA time zone such as Asia/Shanghai");
    }
    value.to_owned()
}

/// A keyset page token of a list (the id of the last row of the previous page), or `None` for the
/// first page.
pub(crate) fn check_page_token(
    violations: &mut Violations,
    field: &str,
    token: &str,
) -> Option<Uuid> {
    if token.is_empty() {
        return None;
    }
    Uuid::parse_str(token)
        .map_err(|_| violations.add(field, "not a token from this list"))
        .ok()
}

/// A scope given as the contract's 12-digit code with its level; the two must agree.
pub(crate) fn check_scope(
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
    if scope.to_proto().level != code.level {
        violations.add(
            format!("{field}.level"),
            "does not match the level the code names",
        );
        return None;
    }
    Some(scope)
}

/// A new password: required, and within the policy for this phone number.
pub(crate) fn check_new_password(
    violations: &mut Violations,
    field: &str,
    value: &str,
    phone: &str,
) {
    if value.is_empty() {
        violations.add(field, "required");
    } else if let Err(error) = password::check(value, phone) {
        violations.add(field, error.to_string());
    }
}

pub(crate) fn check_code(violations: &mut Violations, field: &str, value: &str) {
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

pub(crate) fn check_text(
    violations: &mut Violations,
    field: &str,
    value: &str,
    required: bool,
    max: usize,
) {
    let length = value.chars().count();
    if required && value.trim().is_empty() {
        violations.add(field, "required");
    } else if length > max {
        violations.add(field, format!("at most {max} characters"));
    } else if value.chars().any(char::is_control) {
        violations.add(field, "must not contain control characters");
    }
}

fn check_client_id(violations: &mut Violations, field: &str, value: &str) -> Option<Uuid> {
    Uuid::parse_str(value)
        .map_err(|_| violations.add(field, "must be an agency client id"))
        .ok()
}

/// An agency's areas given as codes, each with the official standing of its level
/// ([`agencies::standing_for`]: the contract names no role). `None` when any is malformed.
fn check_agency_areas(
    violations: &mut Violations,
    field: &str,
    codes: &[terrace_proto::common::v1::AdminCode],
) -> Option<Vec<terrace_platform::auth::RoleGrant>> {
    let mut areas = Vec::new();
    let mut complete = true;
    for (i, code) in codes.iter().enumerate() {
        match check_scope(violations, &format!("{field}[{i}]"), Some(code)) {
            Some(scope) => {
                let role = agencies::standing_for(&scope);
                match terrace_platform::auth::RoleGrant::new(role, scope) {
                    Ok(grant) => areas.push(grant),
                    Err(error) => {
                        violations.add(format!("{field}[{i}]"), error.to_string());
                        complete = false;
                    }
                }
            }
            None => complete = false,
        }
    }
    if complete {
        agencies::check_areas(violations, field, &areas);
        Some(areas)
    } else {
        None
    }
}

/// A page size as proto/README.md says: 0 is the default (50), above 500 is lowered to 500.
pub(crate) fn check_page_size(violations: &mut Violations, field: &str, size: i32) -> u64 {
    if size < 0 {
        violations.add(field, "must not be negative");
    }
    match u64::try_from(size) {
        Ok(0) | Err(_) => 50,
        Ok(size) => size.min(500),
    }
}

#[tonic::async_trait]
impl IdentityService for IdentityGrpc {
    #[tracing::instrument(skip_all, fields(helper_user_id = %request.get_ref().consent.as_ref().map(|c| c.helper_user_id.as_str()).unwrap_or_default()))]
    async fn grant_consent(
        &self,
        request: Request<pb::GrantConsentRequest>,
    ) -> Result<Response<pb::GrantConsentResponse>, Status> {
        let caller = Caller::required(&request)?;
        let command = consents::GrantConsent::parse(request.into_inner())?;
        Ok(Response::new(self.consents.grant(&caller, command).await?))
    }

    #[tracing::instrument(skip_all, fields(grantor_user_id = %request.get_ref().grantor_user_id, helper_user_id = %request.get_ref().helper_user_id))]
    async fn list_consents(
        &self,
        request: Request<pb::ListConsentsRequest>,
    ) -> Result<Response<pb::ListConsentsResponse>, Status> {
        let caller = Caller::required(&request)?;
        let query = consents::ListConsents::parse(request.into_inner())?;
        let listed = self.consents.list(&caller, query).await?;
        Ok(Response::new(pb::ListConsentsResponse {
            consents: listed
                .consents
                .iter()
                .map(|c| c.to_proto(listed.at))
                .collect(),
            page: Some(page_response(listed.next.as_ref())),
        }))
    }

    #[tracing::instrument(skip_all, fields(consent_id = %request.get_ref().consent_id))]
    async fn withdraw_consent(
        &self,
        request: Request<pb::WithdrawConsentRequest>,
    ) -> Result<Response<pb::WithdrawConsentResponse>, Status> {
        let caller = Caller::required(&request)?;
        let command = consents::WithdrawConsent::parse(request.into_inner())?;
        Ok(Response::new(
            self.consents.withdraw(&caller, command).await?,
        ))
    }

    #[tracing::instrument(skip_all, fields(consent_id = %request.get_ref().consent_id))]
    async fn issue_delegated_token(
        &self,
        request: Request<pb::IssueDelegatedTokenRequest>,
    ) -> Result<Response<pb::IssueDelegatedTokenResponse>, Status> {
        let caller = Caller::required(&request)?;
        let command = consents::IssueDelegatedToken::parse(request.into_inner())?;
        Ok(Response::new(
            self.consents.issue_token(&caller, command).await?,
        ))
    }

    // --- user management: handlers delegate to crate::management ---
    async fn create_user(
        &self,
        request: Request<pb::CreateUserRequest>,
    ) -> Result<Response<pb::CreateUserResponse>, Status> {
        crate::management::create_user(&self.accounts, request).await
    }

    async fn get_user(
        &self,
        request: Request<pb::GetUserRequest>,
    ) -> Result<Response<pb::GetUserResponse>, Status> {
        crate::management::get_user(&self.accounts, request).await
    }

    async fn list_users(
        &self,
        request: Request<pb::ListUsersRequest>,
    ) -> Result<Response<pb::ListUsersResponse>, Status> {
        crate::management::list_users(&self.accounts, request).await
    }

    async fn update_user(
        &self,
        request: Request<pb::UpdateUserRequest>,
    ) -> Result<Response<pb::UpdateUserResponse>, Status> {
        crate::management::update_user(&self.accounts, request).await
    }

    async fn set_user_status(
        &self,
        request: Request<pb::SetUserStatusRequest>,
    ) -> Result<Response<pb::SetUserStatusResponse>, Status> {
        crate::management::set_user_status(&self.accounts, request).await
    }

    async fn change_phone_number(
        &self,
        request: Request<pb::ChangePhoneNumberRequest>,
    ) -> Result<Response<pb::ChangePhoneNumberResponse>, Status> {
        crate::management::change_phone_number(&self.accounts, request).await
    }

    async fn reset_password(
        &self,
        request: Request<pb::ResetPasswordRequest>,
    ) -> Result<Response<pb::ResetPasswordResponse>, Status> {
        crate::management::reset_password(&self.accounts, request).await
    }

    async fn change_password(
        &self,
        request: Request<pb::ChangePasswordRequest>,
    ) -> Result<Response<pb::ChangePasswordResponse>, Status> {
        crate::management::change_password(&self.accounts, request).await
    }

    async fn list_sessions(
        &self,
        request: Request<pb::ListSessionsRequest>,
    ) -> Result<Response<pb::ListSessionsResponse>, Status> {
        crate::management::list_sessions(&self.accounts, request).await
    }

    async fn rotate_signing_key(
        &self,
        request: Request<pb::RotateSigningKeyRequest>,
    ) -> Result<Response<pb::RotateSigningKeyResponse>, Status> {
        crate::management::rotate_signing_key(&self.accounts, request).await
    }

    async fn list_audit_records(
        &self,
        request: Request<pb::ListAuditRecordsRequest>,
    ) -> Result<Response<pb::ListAuditRecordsResponse>, Status> {
        crate::management::list_audit_records(&self.accounts, request).await
    }

    #[tracing::instrument(skip_all)]
    async fn request_otp(
        &self,
        request: Request<pb::RequestOtpRequest>,
    ) -> Result<Response<pb::RequestOtpResponse>, Status> {
        let client = client_of(&request);
        let message = request.into_inner();
        let mut violations = Violations::new();
        let request_id = terrace_platform::validate::request_id(
            &mut violations,
            "request_id",
            &message.request_id,
        );
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
        terrace_platform::validate::request_id(&mut violations, "request_id", &message.request_id);
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
        // Optional at sign-up: a villager may log in with codes only.
        if !message.password.is_empty() {
            check_new_password(
                &mut violations,
                "password",
                &message.password,
                &message.phone_number,
            );
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
        terrace_platform::validate::request_id(&mut violations, "request_id", &message.request_id);
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
        terrace_platform::validate::request_id(&mut violations, "request_id", &message.request_id);
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
        terrace_platform::validate::request_id(&mut violations, "request_id", &message.request_id);
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
        terrace_platform::validate::request_id(&mut violations, "request_id", &message.request_id);
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
        // A helper acting for a villager, or an agency, does not sign the villager out.
        if principal.actor.is_some() || principal.is_agency() {
            return Err(Error::permission_denied(
                "DELEGATED_TOKEN",
                "only the user themself can revoke their sessions",
            )
            .into());
        }
        let message = request.into_inner();
        let mut violations = Violations::new();
        terrace_platform::validate::request_id(&mut violations, "request_id", &message.request_id);
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

    #[tracing::instrument(skip_all, fields(user_id = %request.get_ref().grant.as_ref().map(|g| g.user_id.as_str()).unwrap_or_default()))]
    async fn grant_role(
        &self,
        request: Request<pb::GrantRoleRequest>,
    ) -> Result<Response<pb::GrantRoleResponse>, Status> {
        let caller = Caller::required(&request)?;
        let command = grants::GrantRole::parse(request.into_inner(), self.clock.now())?;
        Ok(Response::new(self.grants.grant(&caller, command).await?))
    }

    #[tracing::instrument(skip_all, fields(grant_id = %request.get_ref().grant_id))]
    async fn revoke_role(
        &self,
        request: Request<pb::RevokeRoleRequest>,
    ) -> Result<Response<pb::RevokeRoleResponse>, Status> {
        let caller = Caller::required(&request)?;
        let command = grants::RevokeRole::parse(request.into_inner())?;
        Ok(Response::new(self.grants.revoke(&caller, command).await?))
    }

    #[tracing::instrument(skip_all, fields(user_id = %request.get_ref().user_id))]
    async fn list_role_grants(
        &self,
        request: Request<pb::ListRoleGrantsRequest>,
    ) -> Result<Response<pb::ListRoleGrantsResponse>, Status> {
        let caller = Caller::required(&request)?;
        let query = grants::ListRoleGrants::parse(request.into_inner())?;
        let (rows, next) = self.grants.list(&caller, query).await?;
        Ok(Response::new(pb::ListRoleGrantsResponse {
            grants: rows.iter().map(grants::GrantRow::to_proto).collect(),
            page: Some(page_response(next.as_ref())),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn create_agency_client(
        &self,
        request: Request<pb::CreateAgencyClientRequest>,
    ) -> Result<Response<pb::CreateAgencyClientResponse>, Status> {
        let principal = Principal::from_request(&request)?.clone();
        let message = request.into_inner();
        let mut violations = Violations::new();
        terrace_platform::validate::request_id(&mut violations, "request_id", &message.request_id);
        let client = message.client.unwrap_or_default();
        let auth_method = AuthMethod::from_proto(client.auth_method);
        if auth_method.is_none() {
            violations.add(
                "client.auth_method",
                "required: AGENCY_AUTH_METHOD_SECRET or AGENCY_AUTH_METHOD_MTLS",
            );
        }
        let areas = if client.areas.is_empty() {
            violations.add("client.areas", "required: at least one area");
            None
        } else {
            check_agency_areas(&mut violations, "client.areas", &client.areas)
        };
        let new = NewClient {
            name: client.name,
            description: client.description,
            auth_method: auth_method.unwrap_or(AuthMethod::Secret),
            certificate_sha256: (!client.certificate_sha256.is_empty())
                .then_some(client.certificate_sha256),
            api_scopes: client.scopes,
            areas: areas.unwrap_or_default(),
        };
        agencies::check_name(&mut violations, "client.name", &new.name);
        agencies::check_description(&mut violations, "client.description", &new.description);
        match (auth_method, new.certificate_sha256.as_deref()) {
            (Some(AuthMethod::Mtls), Some(fingerprint)) => agencies::check_fingerprint(
                &mut violations,
                "client.certificate_sha256",
                fingerprint,
            ),
            (Some(AuthMethod::Mtls), None) => {
                violations.add("client.certificate_sha256", "required for mTLS clients");
            }
            (Some(AuthMethod::Secret), Some(_)) => violations.add(
                "client.certificate_sha256",
                "only mTLS clients have a certificate",
            ),
            _ => {}
        }
        agencies::check_scopes(&mut violations, "client.scopes", &new.api_scopes);
        violations.finish()?;
        let created = agencies::create(
            &self.accounts.ctx.db,
            &self.accounts.ctx.event_source(),
            Some(&principal),
            new,
            self.accounts.ctx.clock.now(),
        )
        .await?;
        Ok(Response::new(pb::CreateAgencyClientResponse {
            client: Some(created.client.to_proto()),
            client_secret: created
                .secret
                .map(|secret| secret.expose_secret().to_owned())
                .unwrap_or_default(),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn get_agency_client(
        &self,
        request: Request<pb::GetAgencyClientRequest>,
    ) -> Result<Response<pb::GetAgencyClientResponse>, Status> {
        let principal = Principal::from_request(&request)?.clone();
        let message = request.into_inner();
        let mut violations = Violations::new();
        let id = check_client_id(&mut violations, "client_id", &message.client_id);
        violations.finish()?;
        let id = id.ok_or_else(|| Error::invalid("client_id", "required"))?;
        let client = agencies::get(&self.accounts.ctx.db, Some(&principal), id).await?;
        Ok(Response::new(pb::GetAgencyClientResponse {
            client: Some(client.to_proto()),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn list_agency_clients(
        &self,
        request: Request<pb::ListAgencyClientsRequest>,
    ) -> Result<Response<pb::ListAgencyClientsResponse>, Status> {
        let principal = Principal::from_request(&request)?.clone();
        let message = request.into_inner();
        let mut violations = Violations::new();
        let page = message.page.unwrap_or_default();
        let page_size = check_page_size(&mut violations, "page.page_size", page.page_size);
        let after = check_page_token(&mut violations, "page.page_token", &page.page_token);
        let area = message
            .area
            .as_ref()
            .and_then(|code| check_scope(&mut violations, "area", Some(code)));
        violations.finish()?;
        let filter = agencies::ListFilter {
            area,
            include_revoked: message.include_revoked,
        };
        let (clients, next) = agencies::list(
            &self.accounts.ctx.db,
            Some(&principal),
            &filter,
            page_size,
            after,
        )
        .await?;
        Ok(Response::new(pb::ListAgencyClientsResponse {
            clients: clients.iter().map(agencies::ClientRow::to_proto).collect(),
            page: Some(terrace_proto::common::v1::PageResponse {
                next_page_token: next.map(|id| id.to_string()).unwrap_or_default(),
                total_size: None,
            }),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn update_agency_client(
        &self,
        request: Request<pb::UpdateAgencyClientRequest>,
    ) -> Result<Response<pb::UpdateAgencyClientResponse>, Status> {
        let principal = Principal::from_request(&request)?.clone();
        let message = request.into_inner();
        let mut violations = Violations::new();
        terrace_platform::validate::request_id(&mut violations, "request_id", &message.request_id);
        let client = message.client.unwrap_or_default();
        let id = check_client_id(&mut violations, "client.id", &client.id);
        let paths = message.update_mask.unwrap_or_default().paths;
        if paths.is_empty() {
            violations.add("update_mask", "required: name the fields to change");
        }
        let mut changes = Changes::default();
        for path in &paths {
            match path.as_str() {
                "name" => {
                    agencies::check_name(&mut violations, "client.name", &client.name);
                    changes.name = Some(client.name.clone());
                }
                "description" => {
                    agencies::check_description(
                        &mut violations,
                        "client.description",
                        &client.description,
                    );
                    changes.description = Some(client.description.clone());
                }
                "scopes" => {
                    agencies::check_scopes(&mut violations, "client.scopes", &client.scopes);
                    changes.api_scopes = Some(client.scopes.clone());
                }
                "areas" => {
                    if client.areas.is_empty() {
                        violations.add("client.areas", "required: at least one area");
                    } else {
                        changes.areas =
                            check_agency_areas(&mut violations, "client.areas", &client.areas);
                    }
                }
                "certificate_sha256" => {
                    agencies::check_fingerprint(
                        &mut violations,
                        "client.certificate_sha256",
                        &client.certificate_sha256,
                    );
                    changes.certificate_sha256 = Some(client.certificate_sha256.clone());
                }
                other => violations.add(
                    "update_mask",
                    format!(
                        "{other:?} cannot be changed; name, description, scopes, areas or \
                         certificate_sha256 can"
                    ),
                ),
            }
        }
        violations.finish()?;
        let id = id.ok_or_else(|| Error::invalid("client.id", "required"))?;
        let client = agencies::update(
            &self.accounts.ctx.db,
            &self.accounts.ctx.event_source(),
            Some(&principal),
            id,
            changes,
            self.accounts.ctx.clock.now(),
        )
        .await?;
        Ok(Response::new(pb::UpdateAgencyClientResponse {
            client: Some(client.to_proto()),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn rotate_agency_client_secret(
        &self,
        request: Request<pb::RotateAgencyClientSecretRequest>,
    ) -> Result<Response<pb::RotateAgencyClientSecretResponse>, Status> {
        let principal = Principal::from_request(&request)?.clone();
        let message = request.into_inner();
        let mut violations = Violations::new();
        terrace_platform::validate::request_id(&mut violations, "request_id", &message.request_id);
        let id = check_client_id(&mut violations, "client_id", &message.client_id);
        let overlap = match message.overlap {
            None => Some(self.agencies.settings.agency_secret_overlap),
            Some(overlap) => match std::time::Duration::try_from(overlap) {
                Ok(overlap) if overlap <= agencies::MAX_OVERLAP => Some(overlap),
                Ok(_) => {
                    violations.add("overlap", "at most 7 days");
                    None
                }
                Err(_) => {
                    violations.add("overlap", "must not be negative");
                    None
                }
            },
        };
        violations.finish()?;
        let (Some(id), Some(overlap)) = (id, overlap) else {
            return Err(Error::invalid("client_id", "required").into());
        };
        let rotated = agencies::rotate_secret(
            &self.accounts.ctx.db,
            &self.accounts.ctx.event_source(),
            Some(&principal),
            id,
            overlap,
            self.accounts.ctx.clock.now(),
        )
        .await?;
        Ok(Response::new(pb::RotateAgencyClientSecretResponse {
            client: Some(rotated.client.to_proto()),
            client_secret: rotated.secret.expose_secret().to_owned(),
            previous_secret_expire_time: Some(users::timestamp(
                rotated
                    .previous_expires_at
                    .unwrap_or(rotated.client.updated_at),
            )),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn revoke_agency_client(
        &self,
        request: Request<pb::RevokeAgencyClientRequest>,
    ) -> Result<Response<pb::RevokeAgencyClientResponse>, Status> {
        let principal = Principal::from_request(&request)?.clone();
        let message = request.into_inner();
        let mut violations = Violations::new();
        terrace_platform::validate::request_id(&mut violations, "request_id", &message.request_id);
        let id = check_client_id(&mut violations, "client_id", &message.client_id);
        check_text(
            &mut violations,
            "reason",
            &message.reason,
            true,
            agencies::MAX_REASON_CHARS,
        );
        violations.finish()?;
        let id = id.ok_or_else(|| Error::invalid("client_id", "required"))?;
        let client = agencies::revoke(
            &self.accounts.ctx.db,
            &self.accounts.ctx.event_source(),
            Some(&principal),
            id,
            message.reason.trim(),
            self.accounts.ctx.clock.now(),
        )
        .await?;
        Ok(Response::new(pb::RevokeAgencyClientResponse {
            client: Some(client.to_proto()),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn exchange_client_credentials(
        &self,
        request: Request<pb::ExchangeClientCredentialsRequest>,
    ) -> Result<Response<pb::ExchangeClientCredentialsResponse>, Status> {
        let client = client_of(&request);
        // The leaf certificate verified in this connection's own TLS handshake (never a header: a
        // proxy could write any fingerprint there). `None` without TLS or without a certificate.
        let peer_certificate = request
            .peer_certs()
            .and_then(|chain| chain.first().map(|leaf| leaf.to_vec()));
        let message = request.into_inner();
        let mut violations = Violations::new();
        terrace_platform::validate::request_id(&mut violations, "request_id", &message.request_id);
        let id = check_client_id(&mut violations, "client_id", &message.client_id);
        // Empty is an mTLS client's secret: its certificate authenticates it.
        violations.check(
            message.client_secret.len() <= 256,
            "client_secret",
            "not a client secret",
        );
        for (i, scope) in message.scopes.iter().enumerate() {
            if let Err(problem) = agencies::check_api_scope(scope) {
                violations.add(format!("scopes[{i}]"), problem);
            }
        }
        let areas: Vec<_> = message
            .areas
            .iter()
            .enumerate()
            .filter_map(|(i, code)| {
                check_scope(&mut violations, &format!("areas[{i}]"), Some(code))
            })
            .collect();
        violations.finish()?;
        let id = id.ok_or_else(|| Error::invalid("client_id", "required"))?;
        let exchanged = self
            .agencies
            .exchange(agencies::Credentials {
                client_id: id,
                secret: &message.client_secret,
                peer_certificate: peer_certificate.as_deref(),
                scopes: &message.scopes,
                areas: &areas,
                address: &client,
            })
            .await?;
        Ok(Response::new(pb::ExchangeClientCredentialsResponse {
            tokens: Some(pb::TokenPair {
                access_token: exchanged.access_token,
                access_token_expire_time: Some(users::timestamp(exchanged.expires_at)),
                token_type: "Bearer".to_owned(),
                ..Default::default()
            }),
            scopes: exchanged.scopes,
        }))
    }
}
