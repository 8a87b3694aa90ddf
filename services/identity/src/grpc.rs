//! *Answer*: the handlers of `terrace.identity.v1.IdentityService`. Each takes the [`Caller`],
//! parses the request into its resource's command, applies it and answers; errors reach tonic
//! through the platform's one conversion (`docs/architecture.md`, "One rhythm per RPC").

use std::sync::Arc;

use terrace_proto::identity::v1 as pb;
use terrace_proto::identity::v1::identity_service_server::IdentityService;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::accounts::{self, Accounts};
use crate::agencies::{self, Agencies, AgencySettings};
use crate::audit::{self, Audit};
use crate::consents::{self, Consents};
use crate::grants::{self, Grants};
use crate::keys;
use crate::management::{self, Management};
use crate::web_session;
use terrace_platform::Clock;
use terrace_platform::auth::Caller;
use terrace_platform::validate::page_response;

/// Handlers over the shared [`Accounts`].
#[derive(Debug)]
pub struct IdentityGrpc {
    accounts: Arc<Accounts>,
    grants: Grants,
    management: Management,
    audit: Audit,
    consents: Consents,
    clock: Clock,
    /// Agency clients, and the credentials exchange with its throttles (one per process, as the
    /// handlers are).
    agencies: Agencies,
}

impl IdentityGrpc {
    pub fn new(accounts: Arc<Accounts>) -> Self {
        // `Identity::state` already refused unreadable agency settings at start, so the default
        // stands in only where no service runs (a handler built by hand).
        let settings = AgencySettings::load(&accounts.ctx.settings).unwrap_or_default();
        let agencies = Agencies::new(&accounts.ctx, accounts.tokens.clone(), settings);
        let grants = Grants::new(&accounts.ctx);
        let management = Management::new(&accounts);
        let audit = Audit::new(&accounts.ctx);
        let consents = Consents::new(&accounts.ctx, accounts.tokens.clone());
        let clock = accounts.ctx.clock.clone();
        Self {
            accounts,
            grants,
            management,
            audit,
            consents,
            clock,
            agencies,
        }
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

    // --- user management (crate::management) and the audit trail (crate::audit) ---
    #[tracing::instrument(skip_all, fields(request_id = %request.get_ref().request_id))]
    async fn create_user(
        &self,
        request: Request<pb::CreateUserRequest>,
    ) -> Result<Response<pb::CreateUserResponse>, Status> {
        let caller = Caller::required(&request)?;
        let key = self.management.password_key();
        let command = management::CreateUser::parse(request.into_inner(), key)?;
        Ok(Response::new(
            self.management.create(&caller, command).await?,
        ))
    }

    #[tracing::instrument(skip_all, fields(user_id = %request.get_ref().user_id))]
    async fn get_user(
        &self,
        request: Request<pb::GetUserRequest>,
    ) -> Result<Response<pb::GetUserResponse>, Status> {
        let caller = Caller::required(&request)?;
        let query = management::GetUser::parse(request.into_inner())?;
        let user = self.management.get(&caller, query).await?;
        Ok(Response::new(pb::GetUserResponse {
            user: Some(user.to_proto()),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn list_users(
        &self,
        request: Request<pb::ListUsersRequest>,
    ) -> Result<Response<pb::ListUsersResponse>, Status> {
        let caller = Caller::required(&request)?;
        let query = management::ListUsers::parse(request.into_inner())?;
        let (users, next) = self.management.list(&caller, query).await?;
        Ok(Response::new(pb::ListUsersResponse {
            users: users.iter().map(management::UserView::to_proto).collect(),
            page: Some(page_response(next.as_ref())),
        }))
    }

    #[tracing::instrument(skip_all, fields(user_id = %request.get_ref().user.as_ref().map(|u| u.id.as_str()).unwrap_or_default()))]
    async fn update_user(
        &self,
        request: Request<pb::UpdateUserRequest>,
    ) -> Result<Response<pb::UpdateUserResponse>, Status> {
        let caller = Caller::required(&request)?;
        let command = management::UpdateUser::parse(request.into_inner())?;
        Ok(Response::new(
            self.management.update(&caller, command).await?,
        ))
    }

    #[tracing::instrument(skip_all, fields(user_id = %request.get_ref().user_id))]
    async fn set_user_status(
        &self,
        request: Request<pb::SetUserStatusRequest>,
    ) -> Result<Response<pb::SetUserStatusResponse>, Status> {
        let caller = Caller::required(&request)?;
        let command = management::SetUserStatus::parse(request.into_inner(), self.clock.now())?;
        Ok(Response::new(
            self.management.set_status(&caller, command).await?,
        ))
    }

    #[tracing::instrument(skip_all, fields(request_id = %request.get_ref().request_id))]
    async fn change_phone_number(
        &self,
        request: Request<pb::ChangePhoneNumberRequest>,
    ) -> Result<Response<pb::ChangePhoneNumberResponse>, Status> {
        let caller = Caller::required(&request)?;
        let command = management::ChangePhoneNumber::parse(request.into_inner())?;
        let answer = self.management.change_phone_number(&caller, command);
        Ok(Response::new(answer.await?))
    }

    #[tracing::instrument(skip_all, fields(request_id = %request.get_ref().request_id))]
    async fn reset_password(
        &self,
        request: Request<pb::ResetPasswordRequest>,
    ) -> Result<Response<pb::ResetPasswordResponse>, Status> {
        let caller = Caller::of(&request);
        let key = self.management.password_key();
        let command = management::ResetPassword::parse(request.into_inner(), key)?;
        let answer = self.management.reset_password(&caller, command);
        Ok(Response::new(answer.await?))
    }

    #[tracing::instrument(skip_all, fields(request_id = %request.get_ref().request_id))]
    async fn change_password(
        &self,
        request: Request<pb::ChangePasswordRequest>,
    ) -> Result<Response<pb::ChangePasswordResponse>, Status> {
        let caller = Caller::required(&request)?;
        let key = self.management.password_key();
        let command = management::ChangePassword::parse(request.into_inner(), key)?;
        Ok(Response::new(
            self.management.change_password(&caller, command).await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn list_sessions(
        &self,
        request: Request<pb::ListSessionsRequest>,
    ) -> Result<Response<pb::ListSessionsResponse>, Status> {
        let caller = Caller::required(&request)?;
        let query = management::ListSessions::parse(request.into_inner())?;
        let (user_id, sessions) = self.management.sessions(&caller, query).await?;
        Ok(Response::new(pb::ListSessionsResponse {
            sessions: sessions
                .iter()
                .map(|session| management::session_to_proto(user_id, session))
                .collect(),
            page: Some(page_response::<Uuid>(None)),
        }))
    }

    #[tracing::instrument(skip_all, fields(request_id = %request.get_ref().request_id))]
    async fn rotate_signing_key(
        &self,
        request: Request<pb::RotateSigningKeyRequest>,
    ) -> Result<Response<pb::RotateSigningKeyResponse>, Status> {
        let caller = Caller::required(&request)?;
        let command = management::RotateSigningKey::parse(request.into_inner())?;
        Ok(Response::new(
            self.management.rotate_signing_key(&caller, command).await?,
        ))
    }

    #[tracing::instrument(skip_all, fields(target_id = %request.get_ref().target_id))]
    async fn list_audit_records(
        &self,
        request: Request<pb::ListAuditRecordsRequest>,
    ) -> Result<Response<pb::ListAuditRecordsResponse>, Status> {
        let caller = Caller::required(&request)?;
        let query = audit::ListAuditRecords::parse(request.into_inner())?;
        let (rows, next) = self.audit.list(&caller, query).await?;
        Ok(Response::new(pb::ListAuditRecordsResponse {
            records: rows.iter().map(audit::AuditRow::to_proto).collect(),
            page: Some(page_response(next.as_ref())),
        }))
    }

    #[tracing::instrument(skip_all, fields(request_id = %request.get_ref().request_id))]
    async fn request_otp(
        &self,
        request: Request<pb::RequestOtpRequest>,
    ) -> Result<Response<pb::RequestOtpResponse>, Status> {
        let caller = Caller::of(&request);
        let command = accounts::RequestOtp::parse(request.into_inner())?;
        Ok(Response::new(
            self.accounts.request_otp(&caller, command).await?,
        ))
    }

    #[tracing::instrument(skip_all, fields(request_id = %request.get_ref().request_id))]
    async fn sign_up(
        &self,
        request: Request<pb::SignUpRequest>,
    ) -> Result<Response<pb::SignUpResponse>, Status> {
        let caller = Caller::of(&request);
        let cookie = web_session::wanted(request.metadata());
        let key = self.management.password_key();
        let command = accounts::SignUp::parse(request.into_inner(), key)?;
        let answer = self.accounts.sign_up(&caller, command).await?;
        Ok(signed_in(answer, cookie, |a| (&a.user, &mut a.tokens)))
    }

    #[tracing::instrument(skip_all, fields(request_id = %request.get_ref().request_id))]
    async fn login_with_password(
        &self,
        request: Request<pb::LoginWithPasswordRequest>,
    ) -> Result<Response<pb::LoginWithPasswordResponse>, Status> {
        let caller = Caller::of(&request);
        let cookie = web_session::wanted(request.metadata());
        let key = self.management.password_key();
        let command = accounts::LoginWithPassword::parse(request.into_inner(), key)?;
        let answer = self.accounts.login_with_password(&caller, command).await?;
        Ok(signed_in(answer, cookie, |a| (&a.user, &mut a.tokens)))
    }

    #[tracing::instrument(skip_all, fields(request_id = %request.get_ref().request_id))]
    async fn login_with_otp(
        &self,
        request: Request<pb::LoginWithOtpRequest>,
    ) -> Result<Response<pb::LoginWithOtpResponse>, Status> {
        let caller = Caller::of(&request);
        let cookie = web_session::wanted(request.metadata());
        let command = accounts::LoginWithOtp::parse(request.into_inner())?;
        let answer = self.accounts.login_with_otp(&caller, command).await?;
        Ok(signed_in(answer, cookie, |a| (&a.user, &mut a.tokens)))
    }

    #[tracing::instrument(skip_all, fields(request_id = %request.get_ref().request_id))]
    async fn refresh_token(
        &self,
        request: Request<pb::RefreshTokenRequest>,
    ) -> Result<Response<pb::RefreshTokenResponse>, Status> {
        let caller = Caller::of(&request);
        // A browser's refresh token comes in its account's cookie, and goes back in one.
        let account = match web_session::wanted(request.metadata()) {
            true => web_session::account(request.metadata())?,
            false => None,
        };
        let (metadata, _, mut message) = request.into_parts();
        if let (Some(account), true) = (account, message.refresh_token.is_empty()) {
            message.refresh_token =
                web_session::refresh_token(&metadata, account).ok_or_else(|| {
                    terrace_platform::error::Error::Unauthenticated(
                        "no session cookie for this account: log in again".to_owned(),
                    )
                })?;
        }
        let command = accounts::WithRefreshToken::parse_refresh(message)?;
        let mut answer = self.accounts.refresh(&caller, command).await?;
        let mut headers = tonic::metadata::MetadataMap::new();
        if let (Some(account), Some(tokens)) = (account, answer.tokens.as_mut()) {
            web_session::keep(&mut headers, &account.to_string(), tokens);
        }
        Ok(answer_with(headers, answer))
    }

    #[tracing::instrument(skip_all, fields(request_id = %request.get_ref().request_id))]
    async fn logout(
        &self,
        request: Request<pb::LogoutRequest>,
    ) -> Result<Response<pb::LogoutResponse>, Status> {
        let caller = Caller::required(&request)?;
        let account = web_session::account(request.metadata())?;
        let (metadata, _, mut message) = request.into_parts();
        if let (Some(account), true) = (account, message.refresh_token.is_empty()) {
            message.refresh_token =
                web_session::refresh_token(&metadata, account).unwrap_or_default();
        }
        let command = accounts::WithRefreshToken::parse_logout(message)?;
        let answer = self.accounts.logout(&caller, command).await?;
        let mut headers = tonic::metadata::MetadataMap::new();
        if let Some(account) = account {
            web_session::clear(&mut headers, account);
        }
        Ok(answer_with(headers, answer))
    }

    #[tracing::instrument(skip_all, fields(user_id = %request.get_ref().user_id))]
    async fn revoke_all_sessions(
        &self,
        request: Request<pb::RevokeAllSessionsRequest>,
    ) -> Result<Response<pb::RevokeAllSessionsResponse>, Status> {
        let caller = Caller::required(&request)?;
        let command = accounts::RevokeAllSessions::parse(request.into_inner())?;
        Ok(Response::new(
            self.accounts.revoke_all_sessions(&caller, command).await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn get_jwks(
        &self,
        _request: Request<pb::GetJwksRequest>,
    ) -> Result<Response<pb::GetJwksResponse>, Status> {
        let set = self.accounts.keys.jwks().await;
        let keys = set.keys.iter().filter_map(keys::jwk_to_proto).collect();
        Ok(Response::new(pb::GetJwksResponse { keys }))
    }

    #[tracing::instrument(skip_all)]
    async fn get_current_user(
        &self,
        request: Request<pb::GetCurrentUserRequest>,
    ) -> Result<Response<pb::GetCurrentUserResponse>, Status> {
        let caller = Caller::required(&request)?;
        let user = self.accounts.current_user(&caller).await?;
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
        let command = grants::GrantRole::parse(request.into_inner())?;
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

    #[tracing::instrument(skip_all, fields(request_id = %request.get_ref().request_id))]
    async fn create_agency_client(
        &self,
        request: Request<pb::CreateAgencyClientRequest>,
    ) -> Result<Response<pb::CreateAgencyClientResponse>, Status> {
        let caller = Caller::required(&request)?;
        let command = agencies::CreateAgencyClient::parse(request.into_inner())?;
        let created = self.agencies.clients.create(&caller, command).await?;
        Ok(Response::new(created))
    }

    #[tracing::instrument(skip_all, fields(client_id = %request.get_ref().client_id))]
    async fn get_agency_client(
        &self,
        request: Request<pb::GetAgencyClientRequest>,
    ) -> Result<Response<pb::GetAgencyClientResponse>, Status> {
        let caller = Caller::required(&request)?;
        let query = agencies::GetAgencyClient::parse(request.into_inner())?;
        let client = self.agencies.clients.get(&caller, query).await?;
        Ok(Response::new(pb::GetAgencyClientResponse {
            client: Some(client.to_proto()),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn list_agency_clients(
        &self,
        request: Request<pb::ListAgencyClientsRequest>,
    ) -> Result<Response<pb::ListAgencyClientsResponse>, Status> {
        let caller = Caller::required(&request)?;
        let query = agencies::ListAgencyClients::parse(request.into_inner())?;
        let (clients, next) = self.agencies.clients.list(&caller, query).await?;
        Ok(Response::new(pb::ListAgencyClientsResponse {
            clients: clients.iter().map(agencies::ClientRow::to_proto).collect(),
            page: Some(page_response(next.as_ref())),
        }))
    }

    #[tracing::instrument(skip_all, fields(client_id = %request.get_ref().client.as_ref().map(|c| c.id.as_str()).unwrap_or_default()))]
    async fn update_agency_client(
        &self,
        request: Request<pb::UpdateAgencyClientRequest>,
    ) -> Result<Response<pb::UpdateAgencyClientResponse>, Status> {
        let caller = Caller::required(&request)?;
        let command = agencies::UpdateAgencyClient::parse(request.into_inner())?;
        let updated = self.agencies.clients.update(&caller, command).await?;
        Ok(Response::new(updated))
    }

    #[tracing::instrument(skip_all, fields(client_id = %request.get_ref().client_id))]
    async fn rotate_agency_client_secret(
        &self,
        request: Request<pb::RotateAgencyClientSecretRequest>,
    ) -> Result<Response<pb::RotateAgencyClientSecretResponse>, Status> {
        let caller = Caller::required(&request)?;
        let command = agencies::RotateAgencyClientSecret::parse(request.into_inner())?;
        let rotated = self
            .agencies
            .clients
            .rotate_secret(&caller, command)
            .await?;
        Ok(Response::new(rotated))
    }

    #[tracing::instrument(skip_all, fields(client_id = %request.get_ref().client_id))]
    async fn revoke_agency_client(
        &self,
        request: Request<pb::RevokeAgencyClientRequest>,
    ) -> Result<Response<pb::RevokeAgencyClientResponse>, Status> {
        let caller = Caller::required(&request)?;
        let command = agencies::RevokeAgencyClient::parse(request.into_inner())?;
        let revoked = self.agencies.clients.revoke(&caller, command).await?;
        Ok(Response::new(revoked))
    }

    #[tracing::instrument(skip_all, fields(client_id = %request.get_ref().client_id))]
    async fn exchange_client_credentials(
        &self,
        request: Request<pb::ExchangeClientCredentialsRequest>,
    ) -> Result<Response<pb::ExchangeClientCredentialsResponse>, Status> {
        let caller = Caller::of(&request);
        // The leaf certificate verified in this connection's own TLS handshake (never a header: a
        // proxy could write any fingerprint there). `None` without TLS or without a certificate.
        let certificate = request
            .peer_certs()
            .and_then(|chain| chain.first().map(|leaf| leaf.to_vec()));
        let command = agencies::ExchangeClientCredentials::parse(request.into_inner())?;
        let exchanged = self
            .agencies
            .exchange(&caller, command, certificate.as_deref())
            .await?;
        Ok(Response::new(exchanged))
    }
}

/// The answer of a sign-up or login; for a browser that asked for a cookie session, its refresh
/// token moves from the body to the account's cookie.
fn signed_in<T>(
    mut answer: T,
    cookie: bool,
    parts: impl FnOnce(&mut T) -> (&Option<pb::User>, &mut Option<pb::TokenPair>),
) -> Response<T> {
    let mut headers = tonic::metadata::MetadataMap::new();
    if cookie {
        let (user, tokens) = parts(&mut answer);
        if let (Some(user), Some(tokens)) = (user, tokens.as_mut()) {
            web_session::keep(&mut headers, &user.id, tokens);
        }
    }
    answer_with(headers, answer)
}

/// A response carrying `headers` (response metadata) beside `answer`.
fn answer_with<T>(headers: tonic::metadata::MetadataMap, answer: T) -> Response<T> {
    Response::from_parts(headers, answer, tonic::Extensions::default())
}
