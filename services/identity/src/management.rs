//! User management: officials registering villagers who have no smartphone, reading, listing,
//! updating, locking and disabling users; a user's own phone number, password and sessions; the
//! audit trail; signing-key rotation on demand.
//!
//! # Which users an official governs
//!
//! A user row has no area of its own: **a user is in an area when they hold a live role grant
//! (neither revoked nor expired) whose scope lies inside that area.** A villager registered at the
//! village desk gets a resident (or farmer) grant in the official's village in the same
//! transaction that creates them (`CreateUser` with no `initial_grants` grants *resident* in the
//! caller's village when the caller is the official of exactly one village), so they are in that
//! village, its township, county and province from the first moment.
//!
//! A caller *reaches* a user through one of the caller's own official grants (a user acting for
//! themself, not a helper acting for a villager; or an agency holding the RPC's API scope, whose
//! areas stand for grants) whose scope covers one of the user's grants; a platform admin's
//! country-wide grant reaches every user, grants or not. Then:
//!
//! - **read** (`GetUser`, `ListUsers`): the user themself, or anyone who reaches them. Anyone else
//!   gets `NOT_FOUND`, as for a user who does not exist.
//! - **update** (`UpdateUser`): the user themself, or a reaching official who registered them.
//! - **status** (`SetUserStatus`): a reaching official (not an agency) whose rank is above every
//!   role the user holds, and never one's own account.
//! - **create** (`CreateUser`): each grant checked as `GrantRole` would (`Principal::can_grant`); an
//!   agency needs `identity.users:write` and an area covering each grant at no lower rank.
//! - **audit** (`ListAuditRecords`): records about oneself; county admins for users they reach;
//!   platform admins everything.
//!
//! Every mutation writes an `audit_records` row and publishes `identity.user.created|updated` in
//! the transaction that makes it.

use std::time::Duration;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr, QueryResult, Statement, TransactionTrait as _, Value};
use terrace_platform::auth::{AdminScope, Caller, Principal, PrincipalKind, Role, RoleGrant};
use terrace_platform::bus::outbox;
use terrace_platform::db::SqlMigration;
use terrace_platform::error::{Error, Result, Violations};
use terrace_proto::common::v1 as common;
use terrace_proto::identity::v1 as pb;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::accounts::{Accounts, hash_password};
use crate::domain::password;
use crate::domain::phone::PhoneNumber;
use crate::grants::{self, GrantRow};
use crate::grpc::{
    check_code, check_locale, check_new_password, check_page_size, check_phone, check_scope,
    check_text, check_time_zone, client_of,
};
use crate::users::{self, NewUser, UserRow, timestamp};

/// The e-mail address of a user (optional, for notifications; never used to log in).
pub const MIGRATION: SqlMigration = SqlMigration {
    name: "m20261128_200007_identity_management",
    up: r"
ALTER TABLE users ADD COLUMN email text;
-- Users in an area: live grants by scope prefix.
CREATE INDEX role_grants_scope ON role_grants (scope text_pattern_ops) WHERE revoked_at IS NULL;
",
};

/// Who set a user's status: an official may not undo what a higher rank decided.
pub const STATUS_RANK: SqlMigration = SqlMigration {
    name: "m20261128_200008_identity_status_rank",
    up: r"
-- The rank of the official who set the current status (0 when active or set by the user's own
-- actions); changing it needs at least that rank.
ALTER TABLE users ADD COLUMN status_set_rank smallint NOT NULL DEFAULT 0;
",
};

/// The API scope an agency needs to read users.
pub const USERS_READ: &str = "identity.users:read";
/// The API scope an agency needs to create users.
pub const USERS_WRITE: &str = "identity.users:write";
/// How recent a login must be to set a first password without a current one.
const RECENT_LOGIN: Duration = Duration::from_secs(10 * 60);
const MAX_DISPLAY_NAME: usize = 64;
const MAX_EMAIL: usize = 254;
const MAX_REASON: usize = 500;

// ---------------------------------------------------------------------------------------------
// Who may do what

/// The grants through which `principal` acts on other users' accounts: a user's own official
/// grants (not a helper's, who acts for a villager), or an agency's areas when it holds
/// `api_scope` (`None`: agencies may not).
fn reach<'a>(
    principal: &'a Principal,
    api_scope: Option<&str>,
) -> impl Iterator<Item = &'a RoleGrant> + 'a {
    let allowed = match principal.kind {
        PrincipalKind::User => principal.actor.is_none(),
        PrincipalKind::Agency => {
            api_scope.is_some_and(|scope| principal.api_scopes.iter().any(|held| held == scope))
        }
    };
    principal
        .grants
        .iter()
        .filter(move |grant| allowed && grant.role.is_official())
}

/// The highest rank with which `principal` reaches a user holding `grants`, if it does.
fn reaching_rank(
    principal: &Principal,
    api_scope: Option<&str>,
    grants: &[GrantRow],
) -> Option<u8> {
    reach(principal, api_scope)
        .filter(|own| {
            // A user is in an area when every one of their live grants lies in it: reaching them
            // through one grant in your area while they live elsewhere is not reaching them.
            own.scope.as_str().is_empty()
                || (!grants.is_empty()
                    && grants
                        .iter()
                        .all(|g| own.scope.covers_scope(&g.grant.scope)))
        })
        .map(|own| own.role.rank())
        .max()
}

/// Whether the caller is this user acting for themself (a helper's token names the villager as
/// its subject, but it is not the villager).
fn is_self(principal: &Principal, user_id: Uuid) -> bool {
    principal.kind == PrincipalKind::User
        && principal.actor.is_none()
        && principal.subject == user_id.to_string()
}

/// The person behind the request: the helper when one acts for a villager, else the subject.
fn acting_user(principal: &Principal) -> Option<Uuid> {
    if principal.is_agency() {
        return None;
    }
    Uuid::parse_str(principal.actor.as_deref().unwrap_or(&principal.subject)).ok()
}

/// The calling user's own account, for the RPCs about "my" phone, password and sessions.
/// `allow_helper`: whether a helper acting for the villager may call it.
fn own_account(principal: &Principal, allow_helper: bool) -> Result<Uuid> {
    if principal.is_agency() {
        return Err(Error::permission_denied(
            "NOT_A_USER",
            "only a user can do this for their own account",
        ));
    }
    if principal.actor.is_some() && !allow_helper {
        return Err(Error::permission_denied(
            "DELEGATED_TOKEN",
            "a helper cannot do this for the villager; the villager must do it themself",
        ));
    }
    Uuid::parse_str(&principal.subject)
        .map_err(|_| Error::Unauthenticated("the token has no user".to_owned()))
}

// ---------------------------------------------------------------------------------------------
// SQL

/// A user with what the contract shows of them.
#[derive(Debug, Clone)]
pub struct UserView {
    pub row: UserRow,
    pub email: Option<String>,
    pub created_by: Option<Uuid>,
    pub grants: Vec<GrantRow>,
}

impl UserView {
    pub fn to_proto(&self) -> pb::User {
        let mut user = self.row.to_proto();
        user.email = self.email.clone().unwrap_or_default();
        user.role_grants = self.grants.iter().map(GrantRow::to_proto).collect();
        let creator = self.created_by.unwrap_or(self.row.id);
        user.audit = Some(common::AuditInfo {
            create_time: Some(timestamp(self.row.created_at)),
            creator: Some(common::Actor {
                kind: common::ActorKind::User as i32,
                user_id: creator.to_string(),
                ..Default::default()
            }),
            update_time: Some(timestamp(self.row.updated_at)),
            updater: None,
        });
        user
    }
}

/// The user with their e-mail, creator and live grants.
async fn load<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<UserView>> {
    let Some(row) = users::by_id(conn, id).await? else {
        return Ok(None);
    };
    let extra = conn
        .query_one_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            "SELECT email, created_by FROM users WHERE id = $1",
            [id.into()],
        ))
        .await?;
    let (email, created_by) = match extra {
        Some(extra) => (
            extra.try_get("", "email")?,
            extra.try_get("", "created_by")?,
        ),
        None => (None, None),
    };
    let grants = grants::store::live(conn, id, now).await?;
    Ok(Some(UserView {
        row,
        email,
        created_by,
        grants,
    }))
}

/// Locks the user's row for the rest of `txn`.
async fn lock_user<C: ConnectionTrait>(conn: &C, id: Uuid) -> Result<()> {
    conn.execute_raw(Statement::from_sql_and_values(
        conn.get_database_backend(),
        "SELECT id FROM users WHERE id = $1 FOR UPDATE",
        [id.into()],
    ))
    .await?;
    Ok(())
}

/// Publishes `identity.user.updated` for `user` with the changed paths.
async fn publish_updated<C: ConnectionTrait>(
    conn: &C,
    source: &str,
    principal: &Principal,
    user: &UserView,
    changed: &[&str],
    reason: &str,
) -> Result<()> {
    let event = pb::UserUpdated {
        user: Some(user.to_proto()),
        changed_fields: Some(prost_types::FieldMask {
            paths: changed.iter().map(|p| (*p).to_owned()).collect(),
        }),
        actor: Some(crate::audit::caller_of(Some(principal)).actor()),
        reason: reason.to_owned(),
    };
    outbox::publish(conn, source, &event).await?;
    Ok(())
}

fn not_found(id: Uuid) -> Error {
    Error::not_found("user", id.to_string())
}

fn check_user_id(violations: &mut Violations, field: &str, value: &str) -> Option<Uuid> {
    Uuid::parse_str(value)
        .map_err(|_| violations.add(field, "must be a user id"))
        .ok()
}

fn check_email(violations: &mut Violations, field: &str, value: &str) {
    if value.is_empty() {
        return;
    }
    let parts: Vec<&str> = value.split('@').collect();
    let well_formed = value.chars().count() <= MAX_EMAIL
        && parts.len() == 2
        && !parts[0].is_empty()
        && parts[1].contains('.')
        && !parts[1].starts_with('.')
        && !parts[1].ends_with('.')
        && !value.chars().any(|c| c.is_whitespace() || c.is_control());
    if !well_formed {
        violations.add(field, "must be an e-mail address such as name@example.com");
    }
}

fn check_page_token(violations: &mut Violations, field: &str, token: &str) -> Option<String> {
    if token.is_empty() {
        return None;
    }
    let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok());
    if decoded.is_none() {
        violations.add(field, "not a token from this list");
    }
    decoded
}

fn page_token(value: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value)
}

fn status_name(status: pb::UserStatus) -> Option<&'static str> {
    match status {
        pb::UserStatus::Active => Some("active"),
        pb::UserStatus::Locked => Some("locked"),
        pb::UserStatus::Disabled => Some("disabled"),
        pb::UserStatus::Unspecified => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Handlers

/// `CreateUser`: an official (or an agency with `identity.users:write`) registers a villager, with
/// their grants, in one transaction; idempotent through `request_id`.
#[tracing::instrument(skip_all)]
pub async fn create_user(
    accounts: &Accounts,
    request: Request<pb::CreateUserRequest>,
) -> Result<Response<pb::CreateUserResponse>, Status> {
    let principal = Principal::from_request(&request)?.clone();
    let message = request.into_inner();
    let mut violations = Violations::new();
    let request_id =
        terrace_platform::validate::request_id(&mut violations, "request_id", &message.request_id);
    let user = message.user.unwrap_or_default();
    let phone = check_phone(&mut violations, "user.phone_number", &user.phone_number);
    check_text(
        &mut violations,
        "user.display_name",
        &user.display_name,
        true,
        MAX_DISPLAY_NAME,
    );
    let locale = check_locale(&mut violations, "user.locale", &user.locale);
    let time_zone = check_time_zone(&mut violations, "user.time_zone", &user.time_zone);
    check_email(&mut violations, "user.email", &user.email);
    if !message.password.is_empty() {
        check_new_password(
            &mut violations,
            "password",
            &message.password,
            &user.phone_number,
        );
    }
    let mut wanted = Vec::new();
    for (i, proposed) in message.initial_grants.iter().enumerate() {
        let field = format!("initial_grants[{i}]");
        let role = pb::Role::try_from(proposed.role)
            .ok()
            .and_then(Role::from_proto);
        if role.is_none() {
            violations.add(
                format!("{field}.role"),
                "required: a role that can be granted",
            );
        }
        let scope = check_scope(
            &mut violations,
            &format!("{field}.scope"),
            proposed.scope.as_ref(),
        );
        check_text(
            &mut violations,
            &format!("{field}.reason"),
            &proposed.reason,
            false,
            MAX_REASON,
        );
        if let (Some(role), Some(scope)) = (role, scope) {
            match RoleGrant::new(role, scope) {
                Ok(grant) => wanted.push((grant, proposed.reason.clone())),
                Err(error) => violations.add(format!("{field}.scope"), error.to_string()),
            }
        }
    }
    // No grants named: a resident of the caller's village, when the caller is its official.
    if message.initial_grants.is_empty() {
        let villages: Vec<&RoleGrant> = reach(&principal, Some(USERS_WRITE))
            .filter(|g| g.role == Role::VillageOfficial)
            .collect();
        match villages.as_slice() {
            [village] => {
                if let Ok(grant) = RoleGrant::new(Role::Resident, village.scope.clone()) {
                    wanted.push((grant, "registered at the village desk".to_owned()));
                }
            }
            _ if reach(&principal, Some(USERS_WRITE)).next().is_some() => violations.add(
                "initial_grants",
                "required: the role and village the user lives in (e.g. resident at a village)",
            ),
            _ => {}
        }
    }
    violations.finish()?;
    let (Some(request_id), Some(phone)) = (request_id, phone) else {
        return Err(Error::invalid("request_id", "required").into());
    };
    // Every grant must be one the caller could give with GrantRole.
    if reach(&principal, Some(USERS_WRITE)).next().is_none() {
        return Err(Error::permission_denied(
            "MISSING_ROLE",
            "registering users needs an official role (or identity.users:write for an agency)",
        )
        .into());
    }
    for (grant, _) in &wanted {
        if !crate::audit::caller_of(Some(&principal)).can_grant(grant, Some(USERS_WRITE)) {
            return Err(Error::permission_denied(
                "OUT_OF_SCOPE",
                format!(
                    "your roles do not allow granting {} in area {:?}",
                    grant.role.as_str(),
                    grant.scope.as_str()
                ),
            )
            .into());
        }
    }
    let password_hash = if message.password.is_empty() {
        None
    } else {
        Some(hash_password(&message.password).await?)
    };
    let grant_parts: Vec<String> = wanted
        .iter()
        .map(|(g, reason)| format!("{}@{}:{reason}", g.role.as_str(), g.scope.as_str()))
        .collect();
    // The caller is part of the request: another caller reusing the id gets no one else's answer.
    let mut parts = vec![
        principal.subject.as_str(),
        principal.actor.as_deref().unwrap_or(""),
        phone.as_str(),
        user.display_name.trim(),
        locale.as_str(),
        time_zone.as_str(),
        user.email.as_str(),
        if message.password.is_empty() {
            ""
        } else {
            "password"
        },
    ];
    parts.extend(grant_parts.iter().map(String::as_str));
    let fingerprint = crate::replay::fingerprint(&parts);

    let source = accounts.ctx.event_source();
    let txn = accounts.ctx.db.begin().await.map_err(Error::from)?;
    if let Some(previous) =
        crate::replay::previous(&txn, request_id, "CreateUser", &fingerprint).await?
    {
        return Ok(Response::new(previous));
    }
    let row = users::insert(
        &txn,
        NewUser {
            phone: &phone,
            display_name: user.display_name.trim(),
            locale: &locale,
            time_zone: &time_zone,
            password_hash,
            created_by: acting_user(&principal),
            created_at: accounts.ctx.clock.now(),
        },
    )
    .await
    .map_err(Error::from)?
    .ok_or_else(|| Error::AlreadyExists {
        resource: "user",
        id: phone.masked(),
    })?;
    if !user.email.is_empty() {
        txn.execute_raw(Statement::from_sql_and_values(
            txn.get_database_backend(),
            "UPDATE users SET email = $2 WHERE id = $1",
            [row.id.into(), user.email.clone().into()],
        ))
        .await
        .map_err(Error::from)?;
    }
    for (grant, reason) in &wanted {
        let give = grants::Give {
            user_id: row.id,
            grant,
            expires_at: None,
            reason,
            api_scope: Some(USERS_WRITE),
            request: None,
        };
        grants::give(
            &txn,
            &source,
            &crate::audit::caller_of(Some(&principal)),
            give,
            accounts.ctx.clock.now(),
        )
        .await?;
    }
    let created = load(&txn, row.id, accounts.ctx.clock.now())
        .await?
        .ok_or_else(|| not_found(row.id))?;
    crate::audit::record(
        &txn,
        &crate::audit::caller_of(Some(&principal)),
        "user.created",
        Some(row.id),
        serde_json::json!({ "phone_number": phone.masked(), "grants": grant_parts }),
        accounts.ctx.clock.now(),
    )
    .await
    .map_err(Error::from)?;
    outbox::publish(
        &txn,
        &source,
        &pb::UserCreated {
            user: Some(created.to_proto()),
            actor: Some(crate::audit::caller_of(Some(&principal)).actor()),
        },
    )
    .await
    .map_err(Error::from)?;
    let response = pb::CreateUserResponse {
        user: Some(created.to_proto()),
    };
    crate::replay::remember(&txn, request_id, "CreateUser", &fingerprint, &response).await?;
    txn.commit().await.map_err(Error::from)?;
    tracing::info!(user_id = %row.id, "user registered by an official");
    Ok(Response::new(response))
}

/// `GetUser`: the user themself, or anyone who reaches them; `NOT_FOUND` for everyone else.
#[tracing::instrument(skip_all)]
pub async fn get_user(
    accounts: &Accounts,
    request: Request<pb::GetUserRequest>,
) -> Result<Response<pb::GetUserResponse>, Status> {
    let principal = Principal::from_request(&request)?.clone();
    let message = request.into_inner();
    let mut violations = Violations::new();
    let id = check_user_id(&mut violations, "user_id", &message.user_id);
    violations.finish()?;
    let id = id.ok_or_else(|| Error::invalid("user_id", "required"))?;
    let user = load(&accounts.ctx.db, id, accounts.ctx.clock.now())
        .await?
        .ok_or_else(|| not_found(id))?;
    // The user, or a helper acting for them, may read the profile.
    let own = principal.kind == PrincipalKind::User && principal.subject == id.to_string();
    if !own && reaching_rank(&principal, Some(USERS_READ), &user.grants).is_none() {
        return Err(not_found(id).into());
    }
    Ok(Response::new(pb::GetUserResponse {
        user: Some(user.to_proto()),
    }))
}

/// `ListUsers`: users with a live grant inside an area the caller reaches, by display name.
#[tracing::instrument(skip_all)]
pub async fn list_users(
    accounts: &Accounts,
    request: Request<pb::ListUsersRequest>,
) -> Result<Response<pb::ListUsersResponse>, Status> {
    let principal = Principal::from_request(&request)?.clone();
    let message = request.into_inner();
    let mut violations = Violations::new();
    let page = message.page.unwrap_or_default();
    let page_size = check_page_size(&mut violations, "page.page_size", page.page_size);
    let decoded = check_page_token(&mut violations, "page.page_token", &page.page_token);
    let after = decoded.as_ref().and_then(|token| {
        let (name, id) = token.rsplit_once('\n')?;
        Some((name.to_owned(), Uuid::parse_str(id).ok()?))
    });
    if decoded.is_some() && after.is_none() {
        violations.add("page.page_token", "not a token from this list");
    }
    let area = message
        .area
        .as_ref()
        .and_then(|code| check_scope(&mut violations, "area", Some(code)));
    let role = if message.role == 0 {
        None
    } else {
        let role = pb::Role::try_from(message.role)
            .ok()
            .and_then(Role::from_proto);
        if role.is_none() {
            violations.add("role", "not a role users hold");
        }
        role
    };
    let status = if message.status == 0 {
        None
    } else {
        let status = pb::UserStatus::try_from(message.status)
            .ok()
            .and_then(status_name);
        if status.is_none() {
            violations.add("status", "not a user status");
        }
        status
    };
    check_text(
        &mut violations,
        "query",
        &message.query,
        false,
        MAX_DISPLAY_NAME,
    );
    let everywhere = reach(&principal, Some(USERS_READ)).any(|g| g.scope.as_str().is_empty());
    if message.area.is_none() && !everywhere && reach(&principal, Some(USERS_READ)).next().is_some()
    {
        violations.add("area", "required: the area whose users to list");
    }
    violations.finish()?;
    if reach(&principal, Some(USERS_READ)).next().is_none() {
        return Err(Error::permission_denied(
            "MISSING_ROLE",
            "listing users needs an official role (or identity.users:read for an agency)",
        )
        .into());
    }
    let area = area.unwrap_or_else(AdminScope::country);
    if !reach(&principal, Some(USERS_READ)).any(|g| g.scope.covers_scope(&area)) {
        return Err(Error::permission_denied(
            "OUT_OF_SCOPE",
            format!("area {:?} is outside your scope", area.as_str()),
        )
        .into());
    }
    // A phone number is matched exactly, anything else as a prefix of the display name.
    let (phone, name_prefix) = match PhoneNumber::parse(&message.query) {
        Ok(phone) if !message.query.is_empty() => (Some(phone.as_str().to_owned()), None),
        _ if message.query.is_empty() => (None, None),
        _ => (None, Some(message.query.clone())),
    };
    let everyone = everywhere && area.as_str().is_empty() && role.is_none();
    // Everyone is exactly "area is the country and no role asked" (which names $1 and $2 too).
    let in_area = if everyone {
        "($1::text = '' AND $2::text IS NULL)"
    } else {
        "EXISTS (SELECT 1 FROM role_grants g WHERE g.user_id = u.id AND g.revoked_at IS NULL \
         AND (g.expires_at IS NULL OR g.expires_at > now()) \
         AND starts_with(g.scope, $1) AND ($2::text IS NULL OR g.role = $2))"
    };
    let values: Vec<Value> = vec![
        area.as_str().into(),
        role.map(|r| r.as_str().to_owned()).into(),
        status.map(str::to_owned).into(),
        phone.into(),
        name_prefix.into(),
        after.as_ref().map(|(name, _)| name.clone()).into(),
        after.as_ref().map(|(_, id)| *id).into(),
        i64::try_from(page_size + 1).unwrap_or(51).into(),
    ];
    let db = &accounts.ctx.db;
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            format!(
                "SELECT u.id, u.display_name FROM users u WHERE {in_area} \
                 AND ($3::text IS NULL OR u.status = $3) \
                 AND ($4::text IS NULL OR u.phone_number = $4) \
                 AND ($5::text IS NULL OR starts_with(u.display_name, $5)) \
                 AND ($6::text IS NULL OR (u.display_name, u.id) > ($6, $7::uuid)) \
                 ORDER BY u.display_name, u.id LIMIT $8"
            ),
            values,
        ))
        .await
        .map_err(Error::from)?;
    let mut found = Vec::new();
    for row in &rows {
        let id: Uuid = row.try_get("", "id").map_err(Error::from)?;
        let name: String = row.try_get("", "display_name").map_err(Error::from)?;
        found.push((id, name));
    }
    let more = found.len() as u64 > page_size;
    found.truncate(usize::try_from(page_size).unwrap_or(50));
    let next = if more {
        found
            .last()
            .map(|(id, name)| page_token(&format!("{name}\n{id}")))
            .unwrap_or_default()
    } else {
        String::new()
    };
    let mut users = Vec::with_capacity(found.len());
    for (id, _) in &found {
        if let Some(user) = load(db, *id, accounts.ctx.clock.now()).await? {
            users.push(user.to_proto());
        }
    }
    Ok(Response::new(pb::ListUsersResponse {
        users,
        page: Some(common::PageResponse {
            next_page_token: next,
            total_size: None,
        }),
    }))
}

/// `UpdateUser`: display name, locale, time zone, e-mail; the user themself or the reaching
/// official who registered them.
#[tracing::instrument(skip_all)]
pub async fn update_user(
    accounts: &Accounts,
    request: Request<pb::UpdateUserRequest>,
) -> Result<Response<pb::UpdateUserResponse>, Status> {
    let principal = Principal::from_request(&request)?.clone();
    let message = request.into_inner();
    let mut violations = Violations::new();
    terrace_platform::validate::request_id(&mut violations, "request_id", &message.request_id);
    let user = message.user.unwrap_or_default();
    let id = check_user_id(&mut violations, "user.id", &user.id);
    let paths = message.update_mask.unwrap_or_default().paths;
    if paths.is_empty() {
        violations.add("update_mask", "required: name the fields to change");
    }
    let mut display_name = None;
    let mut locale = None;
    let mut time_zone = None;
    let mut email = None;
    for path in &paths {
        match path.as_str() {
            "display_name" => {
                check_text(
                    &mut violations,
                    "user.display_name",
                    &user.display_name,
                    true,
                    MAX_DISPLAY_NAME,
                );
                display_name = Some(user.display_name.trim().to_owned());
            }
            "locale" => {
                locale = Some(check_locale(&mut violations, "user.locale", &user.locale));
            }
            "time_zone" => {
                time_zone = Some(check_time_zone(
                    &mut violations,
                    "user.time_zone",
                    &user.time_zone,
                ));
            }
            "email" => {
                check_email(&mut violations, "user.email", &user.email);
                email = Some(user.email.clone());
            }
            "phone_number" | "status" | "role_grants" => violations.add(
                "update_mask",
                format!("{path:?} has its own RPC (ChangePhoneNumber, SetUserStatus, GrantRole)"),
            ),
            other => violations.add(
                "update_mask",
                format!(
                    "{other:?} cannot be changed; display_name, locale, time_zone or email can"
                ),
            ),
        }
    }
    violations.finish()?;
    let id = id.ok_or_else(|| Error::invalid("user.id", "required"))?;
    let txn = accounts.ctx.db.begin().await.map_err(Error::from)?;
    lock_user(&txn, id).await?;
    let before = load(&txn, id, accounts.ctx.clock.now())
        .await?
        .ok_or_else(|| not_found(id))?;
    if principal.actor.is_some() && principal.subject == id.to_string() {
        return Err(Error::permission_denied(
            "DELEGATED_TOKEN",
            "a helper cannot change the villager's profile; the villager must do it themself",
        )
        .into());
    }
    if !is_self(&principal, id) {
        let reaches = reaching_rank(&principal, None, &before.grants).is_some();
        if !reaches {
            return Err(not_found(id).into());
        }
        if before.created_by.is_none() || before.created_by != acting_user(&principal) {
            return Err(Error::permission_denied(
                "NOT_REGISTERED_BY_YOU",
                "officials update the profiles of the users they registered; ask the user",
            )
            .into());
        }
    }
    txn.execute_raw(Statement::from_sql_and_values(
        txn.get_database_backend(),
        "UPDATE users SET display_name = COALESCE($2, display_name), locale = COALESCE($3, locale), \
         time_zone = COALESCE($4, time_zone), email = CASE WHEN $5::bool THEN NULLIF($6, '') ELSE email END, \
         updated_at = now() WHERE id = $1",
        [
            id.into(),
            display_name.clone().into(),
            locale.clone().into(),
            time_zone.clone().into(),
            email.is_some().into(),
            email.clone().unwrap_or_default().into(),
        ],
    ))
    .await
    .map_err(Error::from)?;
    let after = load(&txn, id, accounts.ctx.clock.now())
        .await?
        .ok_or_else(|| not_found(id))?;
    let changed: Vec<&str> = paths.iter().map(String::as_str).collect();
    crate::audit::record(
        &txn,
        &crate::audit::caller_of(Some(&principal)),
        "user.updated",
        Some(id),
        serde_json::json!({
            "fields": changed,
            "before": { "display_name": before.row.display_name, "locale": before.row.locale, "time_zone": before.row.time_zone },
            "after": { "display_name": after.row.display_name, "locale": after.row.locale, "time_zone": after.row.time_zone },
        }),
        accounts.ctx.clock.now(),
    )
    .await
    .map_err(Error::from)?;
    publish_updated(
        &txn,
        &accounts.ctx.event_source(),
        &principal,
        &after,
        &changed,
        "",
    )
    .await?;
    txn.commit().await.map_err(Error::from)?;
    Ok(Response::new(pb::UpdateUserResponse {
        user: Some(after.to_proto()),
    }))
}

/// `SetUserStatus`: lock, unlock, disable, re-enable. Locking or disabling revokes every session.
#[tracing::instrument(skip_all)]
pub async fn set_user_status(
    accounts: &Accounts,
    request: Request<pb::SetUserStatusRequest>,
) -> Result<Response<pb::SetUserStatusResponse>, Status> {
    let principal = Principal::from_request(&request)?.clone();
    let message = request.into_inner();
    let mut violations = Violations::new();
    terrace_platform::validate::request_id(&mut violations, "request_id", &message.request_id);
    let id = check_user_id(&mut violations, "user_id", &message.user_id);
    let status = pb::UserStatus::try_from(message.status)
        .ok()
        .and_then(status_name);
    if status.is_none() {
        violations.add(
            "status",
            "required: USER_STATUS_ACTIVE, _LOCKED or _DISABLED",
        );
    }
    check_text(&mut violations, "reason", &message.reason, true, MAX_REASON);
    let locked_until = message.locked_until.map(|t| {
        DateTime::<Utc>::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap_or(u32::MAX))
    });
    match (&locked_until, status) {
        (Some(until), Some("locked")) => violations.check(
            until.is_some_and(|until| until > Utc::now()),
            "locked_until",
            "must be in the future",
        ),
        (Some(_), _) => violations.add("locked_until", "only for USER_STATUS_LOCKED"),
        _ => {}
    }
    violations.finish()?;
    let (Some(id), Some(status)) = (id, status) else {
        return Err(Error::invalid("user_id", "required").into());
    };
    if principal.subject == id.to_string() || acting_user(&principal) == Some(id) {
        return Err(Error::failed_precondition(
            "OWN_ACCOUNT",
            "you cannot change the status of your own account",
        )
        .into());
    }
    let txn = accounts.ctx.db.begin().await.map_err(Error::from)?;
    lock_user(&txn, id).await?;
    let before = load(&txn, id, accounts.ctx.clock.now())
        .await?
        .ok_or_else(|| not_found(id))?;
    let Some(rank) = reaching_rank(&principal, None, &before.grants) else {
        return Err(not_found(id).into());
    };
    let target_rank = before
        .grants
        .iter()
        .map(|g| g.grant.role.rank())
        .max()
        .unwrap_or(0);
    if rank <= target_rank {
        return Err(Error::permission_denied(
            "OUTRANKED",
            "this user holds a role of your rank or higher",
        )
        .into());
    }
    let set_by: i16 = txn
        .query_one_raw(Statement::from_sql_and_values(
            txn.get_database_backend(),
            "SELECT status_set_rank FROM users WHERE id = $1",
            [id.into()],
        ))
        .await
        .map_err(Error::from)?
        .map(|row| row.try_get("", "status_set_rank"))
        .transpose()
        .map_err(Error::from)?
        .unwrap_or(0);
    if i16::from(rank) < set_by {
        return Err(Error::permission_denied(
            "STATUS_SET_BY_HIGHER_RANK",
            "a higher-ranking official set this user's status; ask them",
        )
        .into());
    }
    if before.row.status == status && status != "locked" {
        return Ok(Response::new(pb::SetUserStatusResponse {
            user: Some(before.to_proto()),
        }));
    }
    let until = locked_until.flatten();
    txn.execute_raw(Statement::from_sql_and_values(
        txn.get_database_backend(),
        "UPDATE users SET status = $2, locked_until = $3, \
         failed_logins = CASE WHEN $2 = 'active' THEN 0 ELSE failed_logins END, \
         status_set_rank = CASE WHEN $2 = 'active' THEN 0 ELSE $4 END, updated_at = now() \
         WHERE id = $1",
        [
            id.into(),
            status.into(),
            until.into(),
            i16::from(rank).into(),
        ],
    ))
    .await
    .map_err(Error::from)?;
    let after = load(&txn, id, accounts.ctx.clock.now())
        .await?
        .ok_or_else(|| not_found(id))?;
    crate::audit::record(
        &txn,
        &crate::audit::caller_of(Some(&principal)),
        "user.status_changed",
        Some(id),
        serde_json::json!({ "from": before.row.status, "to": status, "reason": message.reason, "locked_until": until }),
        accounts.ctx.clock.now(),
    )
    .await
    .map_err(Error::from)?;
    publish_updated(
        &txn,
        &accounts.ctx.event_source(),
        &principal,
        &after,
        &["status"],
        &message.reason,
    )
    .await?;
    txn.commit().await.map_err(Error::from)?;
    // A disabled or locked user's refresh is refused anyway (`ensure_may_log_in`); revoking makes
    // it final and visible in their list of sessions.
    if status != "active" {
        accounts
            .tokens
            .revoke_all(&accounts.ctx.db, id, &format!("user_{status}"))
            .await?;
    }
    tracing::info!(user_id = %id, status, "user status changed");
    Ok(Response::new(pb::SetUserStatusResponse {
        user: Some(after.to_proto()),
    }))
}

/// `ChangePhoneNumber`: the caller's own number, proven with a code sent to the new one.
#[tracing::instrument(skip_all)]
pub async fn change_phone_number(
    accounts: &Accounts,
    request: Request<pb::ChangePhoneNumberRequest>,
) -> Result<Response<pb::ChangePhoneNumberResponse>, Status> {
    let client = client_of(&request);
    let principal = Principal::from_request(&request)?.clone();
    let message = request.into_inner();
    let id = own_account(&principal, false)?;
    let mut violations = Violations::new();
    terrace_platform::validate::request_id(&mut violations, "request_id", &message.request_id);
    let phone = check_phone(
        &mut violations,
        "new_phone_number",
        &message.new_phone_number,
    );
    check_code(&mut violations, "otp_code", &message.otp_code);
    violations.finish()?;
    let phone = phone.ok_or_else(|| Error::invalid("new_phone_number", "required"))?;
    let code = accounts
        .check_code(
            &Caller::Anonymous { address: client },
            &phone,
            "change_phone",
            &message.otp_code,
        )
        .await?;
    let txn = accounts.ctx.db.begin().await.map_err(Error::from)?;
    accounts.use_code(&txn, code).await?;
    lock_user(&txn, id).await?;
    let before = load(&txn, id, accounts.ctx.clock.now())
        .await?
        .ok_or_else(|| not_found(id))?;
    if before.row.phone_number == phone.as_str() {
        return Err(Error::failed_precondition(
            "SAME_PHONE_NUMBER",
            "this is already your phone number",
        )
        .into());
    }
    if users::by_phone(&txn, &phone, false)
        .await
        .map_err(Error::from)?
        .is_some()
    {
        return Err(Error::AlreadyExists {
            resource: "phone number",
            id: phone.masked(),
        }
        .into());
    }
    txn.execute_raw(Statement::from_sql_and_values(
        txn.get_database_backend(),
        "UPDATE users SET phone_number = $2, updated_at = now() WHERE id = $1",
        [id.into(), phone.as_str().into()],
    ))
    .await
    .map_err(Error::from)?;
    let after = load(&txn, id, accounts.ctx.clock.now())
        .await?
        .ok_or_else(|| not_found(id))?;
    let old = PhoneNumber::parse(&before.row.phone_number)
        .map(|p| p.masked())
        .unwrap_or_default();
    crate::audit::record(
        &txn,
        &crate::audit::caller_of(Some(&principal)),
        "user.phone_changed",
        Some(id),
        serde_json::json!({ "from": old, "to": phone.masked() }),
        accounts.ctx.clock.now(),
    )
    .await
    .map_err(Error::from)?;
    publish_updated(
        &txn,
        &accounts.ctx.event_source(),
        &principal,
        &after,
        &["phone_number"],
        "",
    )
    .await?;
    txn.commit().await.map_err(Error::from)?;
    // Every other session goes: whoever else held the account must log in again with the new
    // phone. (A stolen access token could still change the number within its 15 minutes; closing
    // that needs a code to the old phone too, which the contract does not carry yet.)
    accounts
        .tokens
        .revoke_all(&accounts.ctx.db, id, "phone number changed")
        .await?;
    Ok(Response::new(pb::ChangePhoneNumberResponse {
        user: Some(after.to_proto()),
    }))
}

/// `ResetPassword` (public): a new password with a reset code; every session is revoked.
#[tracing::instrument(skip_all)]
pub async fn reset_password(
    accounts: &Accounts,
    request: Request<pb::ResetPasswordRequest>,
) -> Result<Response<pb::ResetPasswordResponse>, Status> {
    let client = client_of(&request);
    let message = request.into_inner();
    let mut violations = Violations::new();
    terrace_platform::validate::request_id(&mut violations, "request_id", &message.request_id);
    let phone = check_phone(&mut violations, "phone_number", &message.phone_number);
    check_code(&mut violations, "otp_code", &message.otp_code);
    check_new_password(
        &mut violations,
        "new_password",
        &message.new_password,
        &message.phone_number,
    );
    violations.finish()?;
    let phone = phone.ok_or_else(|| Error::invalid("phone_number", "required"))?;
    // The code (and its throttles) before the costly hashing.
    let code = accounts
        .check_code(
            &Caller::Anonymous { address: client },
            &phone,
            "reset_password",
            &message.otp_code,
        )
        .await?;
    let txn = accounts.ctx.db.begin().await.map_err(Error::from)?;
    accounts.use_code(&txn, code).await?;
    let hash = hash_password(&message.new_password).await?;
    let Some(user) = users::by_phone(&txn, &phone, true)
        .await
        .map_err(Error::from)?
    else {
        // The code proved the phone; its holder learns nothing they could not know.
        txn.commit().await.map_err(Error::from)?;
        return Err(Error::Unauthenticated("no account for this phone number".to_owned()).into());
    };
    txn.execute_raw(Statement::from_sql_and_values(
        txn.get_database_backend(),
        // Lifts the wrong-password lock, never an official's ('locked' status stays as it is).
        "UPDATE users SET password_hash = $2, failed_logins = 0, \
         locked_until = CASE WHEN status = 'locked' THEN locked_until END, updated_at = now() \
         WHERE id = $1",
        [user.id.into(), hash.into()],
    ))
    .await
    .map_err(Error::from)?;
    let after = load(&txn, user.id, accounts.ctx.clock.now())
        .await?
        .ok_or_else(|| not_found(user.id))?;
    let principal = self_principal(user.id);
    crate::audit::record(
        &txn,
        &crate::audit::caller_of(Some(&principal)),
        "user.password_reset",
        Some(user.id),
        serde_json::json!({}),
        accounts.ctx.clock.now(),
    )
    .await
    .map_err(Error::from)?;
    publish_updated(
        &txn,
        &accounts.ctx.event_source(),
        &principal,
        &after,
        &["has_password"],
        "",
    )
    .await?;
    txn.commit().await.map_err(Error::from)?;
    accounts
        .tokens
        .revoke_all(&accounts.ctx.db, user.id, "password_reset")
        .await?;
    Ok(Response::new(pb::ResetPasswordResponse {}))
}

/// The user acting on their own account without a token (a public RPC proven with a code).
fn self_principal(id: Uuid) -> Principal {
    Principal {
        subject: id.to_string(),
        kind: PrincipalKind::User,
        grants: Vec::new(),
        api_scopes: Vec::new(),
        actor: None,
        token_id: String::new(),
        expires_at: Utc::now(),
    }
}

/// `ChangePassword`: the current password (or a recent login, for a first password); every session
/// is revoked (the token names no session, so the current one goes too: the app logs in again).
#[tracing::instrument(skip_all)]
pub async fn change_password(
    accounts: &Accounts,
    request: Request<pb::ChangePasswordRequest>,
) -> Result<Response<pb::ChangePasswordResponse>, Status> {
    let principal = Principal::from_request(&request)?.clone();
    let message = request.into_inner();
    let id = own_account(&principal, false)?;
    let current = users::by_id(&accounts.ctx.db, id)
        .await
        .map_err(Error::from)?
        .ok_or_else(|| Error::Unauthenticated("the token's user no longer exists".to_owned()))?;
    let mut violations = Violations::new();
    terrace_platform::validate::request_id(&mut violations, "request_id", &message.request_id);
    violations.check(
        message.current_password.chars().count() <= password::MAX_LENGTH,
        "current_password",
        "too long",
    );
    check_new_password(
        &mut violations,
        "new_password",
        &message.new_password,
        &current.phone_number,
    );
    violations.finish()?;
    match &current.password_hash {
        Some(hash) => {
            let (candidate, hash) = (message.current_password.clone(), hash.clone());
            let matches = tokio::task::spawn_blocking(move || password::verify(&candidate, &hash))
                .await
                .map_err(Error::internal)?;
            if !matches {
                return Err(Error::Unauthenticated("wrong current password".to_owned()).into());
            }
        }
        None => {
            let recent = current.last_login_at.is_some_and(|at| {
                at + chrono::Duration::from_std(RECENT_LOGIN).unwrap_or_default() > Utc::now()
            });
            if !recent {
                return Err(Error::failed_precondition(
                    "RECENT_LOGIN_REQUIRED",
                    "log in again (within 10 minutes) to set your first password",
                )
                .into());
            }
        }
    }
    let hash = hash_password(&message.new_password).await?;
    let txn = accounts.ctx.db.begin().await.map_err(Error::from)?;
    txn.execute_raw(Statement::from_sql_and_values(
        txn.get_database_backend(),
        "UPDATE users SET password_hash = $2, failed_logins = 0, updated_at = now() WHERE id = $1",
        [id.into(), hash.into()],
    ))
    .await
    .map_err(Error::from)?;
    let after = load(&txn, id, accounts.ctx.clock.now())
        .await?
        .ok_or_else(|| not_found(id))?;
    crate::audit::record(
        &txn,
        &crate::audit::caller_of(Some(&principal)),
        "user.password_changed",
        Some(id),
        serde_json::json!({}),
        accounts.ctx.clock.now(),
    )
    .await
    .map_err(Error::from)?;
    publish_updated(
        &txn,
        &accounts.ctx.event_source(),
        &principal,
        &after,
        &["has_password"],
        "",
    )
    .await?;
    txn.commit().await.map_err(Error::from)?;
    accounts
        .tokens
        .revoke_all(&accounts.ctx.db, id, "password_changed")
        .await?;
    Ok(Response::new(pb::ChangePasswordResponse {}))
}

/// `ListSessions`: the caller's own live sessions, most recently used first (one page: a user has
/// a handful of devices).
#[tracing::instrument(skip_all)]
pub async fn list_sessions(
    accounts: &Accounts,
    request: Request<pb::ListSessionsRequest>,
) -> Result<Response<pb::ListSessionsResponse>, Status> {
    let principal = Principal::from_request(&request)?.clone();
    let message = request.into_inner();
    let id = own_account(&principal, true)?;
    let mut violations = Violations::new();
    let page = message.page.unwrap_or_default();
    check_page_size(&mut violations, "page.page_size", page.page_size);
    violations.check(
        page.page_token.is_empty(),
        "page.page_token",
        "not a token from this list",
    );
    violations.finish()?;
    let sessions = accounts.tokens.list_sessions(id).await?;
    Ok(Response::new(pb::ListSessionsResponse {
        sessions: sessions
            .iter()
            .map(|s| pb::Session {
                id: s.id.to_string(),
                user_id: id.to_string(),
                login_method: match s.login_method.as_str() {
                    "password" => pb::LoginMethod::Password,
                    "otp" => pb::LoginMethod::Otp,
                    "sign_up" => pb::LoginMethod::SignUp,
                    "delegated" => pb::LoginMethod::Delegated,
                    _ => pb::LoginMethod::Unspecified,
                } as i32,
                client_description: s.client_description.clone(),
                create_time: Some(timestamp(s.created_at)),
                last_refresh_time: Some(timestamp(s.last_used_at)),
                expire_time: Some(timestamp(s.expires_at)),
                ..Default::default()
            })
            .collect(),
        page: Some(common::PageResponse::default()),
    }))
}

/// `RotateSigningKey`: platform admins of the whole country; the next key signs from now on.
#[tracing::instrument(skip_all)]
pub async fn rotate_signing_key(
    accounts: &Accounts,
    request: Request<pb::RotateSigningKeyRequest>,
) -> Result<Response<pb::RotateSigningKeyResponse>, Status> {
    let principal = Principal::from_request(&request)?.clone();
    let message = request.into_inner();
    let mut violations = Violations::new();
    terrace_platform::validate::request_id(&mut violations, "request_id", &message.request_id);
    if let Some(delay) = message.activation_delay {
        violations.check(
            Duration::try_from(delay).is_ok(),
            "activation_delay",
            "must not be negative",
        );
    }
    violations.finish()?;
    let admin = reach(&principal, None)
        .any(|g| g.role == Role::PlatformAdmin && g.scope.as_str().is_empty());
    if !admin {
        return Err(
            Error::permission_denied("MISSING_ROLE", "requires role platform_admin").into(),
        );
    }
    let kid = accounts.keys.rotate().await.map_err(Error::internal)?;
    crate::audit::record(
        &accounts.ctx.db,
        &crate::audit::caller_of(Some(&principal)),
        "signing_key.rotated",
        None,
        serde_json::json!({ "kid": kid }),
        accounts.ctx.clock.now(),
    )
    .await
    .map_err(Error::from)?;
    tracing::info!(%kid, "signing key rotated on request");
    let set = accounts.keys.jwks().await;
    let new_key = set
        .keys
        .iter()
        .find(|jwk| jwk.common.key_id.as_deref() == Some(kid.as_str()))
        .and_then(|jwk| match &jwk.algorithm {
            jsonwebtoken::jwk::AlgorithmParameters::OctetKeyPair(okp) => Some(pb::Jwk {
                kid: kid.clone(),
                kty: "OKP".to_owned(),
                crv: "Ed25519".to_owned(),
                x: okp.x.clone(),
                alg: "EdDSA".to_owned(),
                r#use: "sig".to_owned(),
                ..Default::default()
            }),
            _ => None,
        });
    Ok(Response::new(pb::RotateSigningKeyResponse { new_key }))
}

/// `ListAuditRecords`: newest first; one's own records, county admins' users, or everything for a
/// platform admin.
#[tracing::instrument(skip_all)]
pub async fn list_audit_records(
    accounts: &Accounts,
    request: Request<pb::ListAuditRecordsRequest>,
) -> Result<Response<pb::ListAuditRecordsResponse>, Status> {
    let principal = Principal::from_request(&request)?.clone();
    let message = request.into_inner();
    let mut violations = Violations::new();
    let page = message.page.unwrap_or_default();
    let page_size = check_page_size(&mut violations, "page.page_size", page.page_size);
    let after = crate::grpc::check_page_token(&mut violations, "page.page_token", &page.page_token);
    let area = message
        .area
        .as_ref()
        .and_then(|code| check_scope(&mut violations, "area", Some(code)));
    let target = if message.target_id.is_empty() {
        None
    } else {
        check_user_id(&mut violations, "target_id", &message.target_id)
    };
    let actor = if message.actor_user_id.is_empty() {
        None
    } else {
        check_user_id(&mut violations, "actor_user_id", &message.actor_user_id)
    };
    for (i, action) in message.actions.iter().enumerate() {
        violations.check(
            !action.is_empty()
                && action.len() <= 64
                && action
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '.' || c == '_'),
            &format!("actions[{i}]"),
            "must be an action such as role.granted",
        );
    }
    let range = message.time_range.unwrap_or_default();
    let start = range.start_time.map(|t| {
        DateTime::<Utc>::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap_or(u32::MAX))
    });
    let end = range.end_time.map(|t| {
        DateTime::<Utc>::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap_or(u32::MAX))
    });
    violations.check(
        start.is_none_or(|s| s.is_some()),
        "time_range.start_time",
        "not a valid time",
    );
    violations.check(
        end.is_none_or(|e| e.is_some()),
        "time_range.end_time",
        "not a valid time",
    );
    violations.finish()?;
    let (start, end) = (start.flatten(), end.flatten());
    // Whose records: everything (a platform admin), the users in the caller's county-level areas,
    // and the caller themself.
    let admin_areas: Vec<String> = reach(&principal, None)
        .filter(|g| g.role.rank() >= Role::CountyAdmin.rank())
        .map(|g| g.scope.as_str().to_owned())
        .collect();
    let own = if principal.is_agency() {
        None
    } else {
        Uuid::parse_str(&principal.subject).ok()
    };
    if let Some(area) = &area
        && !admin_areas
            .iter()
            .any(|a| area.as_str().starts_with(a.as_str()))
    {
        return Err(Error::permission_denied(
            "OUT_OF_SCOPE",
            format!("area {:?} is outside your scope", area.as_str()),
        )
        .into());
    }
    let mut values: Vec<Value> = vec![
        own.into(),
        target.into(),
        actor.map(|a| a.to_string()).into(),
        after.into(),
        start.into(),
        end.into(),
        i64::try_from(page_size).unwrap_or(50).into(),
    ];
    let mut visible = vec!["a.target_user = $1".to_owned()];
    for prefix in &admin_areas {
        values.push(prefix.clone().into());
        visible.push(format!(
            "EXISTS (SELECT 1 FROM role_grants g WHERE g.user_id = a.target_user \
             AND g.revoked_at IS NULL AND starts_with(g.scope, ${}))",
            values.len()
        ));
    }
    if admin_areas.iter().any(String::is_empty) {
        visible.push("TRUE".to_owned());
    }
    let area_filter = match &area {
        Some(area) => {
            values.push(area.as_str().to_owned().into());
            format!(
                " AND EXISTS (SELECT 1 FROM role_grants g WHERE g.user_id = a.target_user \
                 AND g.revoked_at IS NULL AND starts_with(g.scope, ${}))",
                values.len()
            )
        }
        None => String::new(),
    };
    let actions_filter = if message.actions.is_empty() {
        String::new()
    } else {
        let mut placeholders = Vec::new();
        for action in &message.actions {
            values.push(action.clone().into());
            placeholders.push(format!("${}", values.len()));
        }
        format!(" AND a.action IN ({})", placeholders.join(", "))
    };
    let db = &accounts.ctx.db;
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            format!(
                "SELECT a.id, a.at, a.actor_id, a.on_behalf_of, a.action, a.target_user, a.details::text AS details \
                 FROM audit_records a WHERE ({visible}) \
                 AND ($2::uuid IS NULL OR a.target_user = $2) \
                 AND ($3::text IS NULL OR a.actor_id = $3) \
                 AND ($4::uuid IS NULL OR a.id < $4) \
                 AND ($5::timestamptz IS NULL OR a.at >= $5) \
                 AND ($6::timestamptz IS NULL OR a.at < $6){area_filter}{actions_filter} \
                 ORDER BY a.id DESC LIMIT $7",
                visible = visible.join(" OR ")
            ),
            values,
        ))
        .await
        .map_err(Error::from)?;
    let mut records = Vec::with_capacity(rows.len());
    let mut last = None;
    for row in &rows {
        let record = audit_from_row(row).map_err(Error::from)?;
        last = Some(record.0);
        records.push(record.1);
    }
    let next = if rows.len() as u64 == page_size {
        last.map(|id| id.to_string()).unwrap_or_default()
    } else {
        String::new()
    };
    Ok(Response::new(pb::ListAuditRecordsResponse {
        records,
        page: Some(common::PageResponse {
            next_page_token: next,
            total_size: None,
        }),
    }))
}

fn audit_from_row(row: &QueryResult) -> Result<(Uuid, pb::AuditRecord), DbErr> {
    let id: Uuid = row.try_get("", "id")?;
    let at: DateTime<Utc> = row.try_get("", "at")?;
    let actor_id: String = row.try_get("", "actor_id")?;
    let on_behalf_of: Option<String> = row.try_get("", "on_behalf_of")?;
    let target: Option<Uuid> = row.try_get("", "target_user")?;
    let actor = if actor_id == "system:cli" {
        common::Actor {
            kind: common::ActorKind::System as i32,
            system_component: "terrace command line".to_owned(),
            ..Default::default()
        }
    } else {
        common::Actor {
            kind: common::ActorKind::User as i32,
            user_id: actor_id,
            on_behalf_of_user_id: on_behalf_of.unwrap_or_default(),
            ..Default::default()
        }
    };
    Ok((
        id,
        pb::AuditRecord {
            id: id.to_string(),
            time: Some(timestamp(at)),
            actor: Some(actor),
            action: row.try_get("", "action")?,
            target_type: if target.is_some() { "user" } else { "" }.to_owned(),
            target_id: target.map(|t| t.to_string()).unwrap_or_default(),
            area: None,
            details_json: row.try_get("", "details")?,
        },
    ))
}
