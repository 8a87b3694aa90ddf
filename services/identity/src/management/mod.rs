//! User management: officials registering villagers who have no smartphone, reading, listing,
//! updating, locking and disabling users; a user's own phone number, password and sessions;
//! signing-key rotation on demand.
//!
//! # Which users an official governs
//!
//! A user row has no area of its own: **a user lives where they hold live role grants (neither
//! revoked nor expired).** A villager registered at the village desk gets a resident (or farmer)
//! grant in the official's village in the transaction that creates them (`CreateUser` with no
//! `initial_grants` grants *resident* in the caller's village when the caller is the official of
//! exactly one village), so they are in that village, its township, county and province from the
//! first moment.
//!
//! Who governs a user, and with what rank, is [`Caller::reach`] over the places the user lives
//! (an agency only with the RPC's API scope, a helper acting for a villager never; a user living
//! nowhere only from the whole country). Then:
//!
//! - **read** (`GetUser`, `ListUsers`): the user themself (or their helper), or anyone who
//!   reaches them (agencies with `identity.users:read`). Anyone else gets `NOT_FOUND`, as for a
//!   user who does not exist.
//! - **update** (`UpdateUser`): the user themself, or a reaching official who registered them.
//! - **status** (`SetUserStatus`): a reaching official (not an agency) whose rank is above every
//!   role the user holds and at least that of whoever set the current status; never one's own
//!   account.
//! - **create** (`CreateUser`): each grant through [`grants::give`], the one grant path, with
//!   `identity.users:write` as the API scope under which an agency may give it.
//! - **own account** (`ChangePhoneNumber`, `ChangePassword`): the user themself, not a helper;
//!   `ListSessions` a helper too; `ResetPassword` whoever holds the phone (a one-time code).
//!
//! Every mutation runs once per caller and `request_id` ([`idempotency::once`]), writes an
//! `audit_records` row and publishes `identity.user.created|updated` in the transaction that
//! makes it. The two proven with a one-time code check it in a transaction of their own
//! (`Accounts::verify_code` commits a wrong code's count although the request fails), do their
//! work there and commit it before the request's claim commits; a retry waits for the claim and
//! gets the first answer. Revoking sessions (`tokens`) happens before the change commits, so that
//! a change is never committed with the old sessions alive.
//!
//! Layout (the service's rhythm, `docs/architecture.md`): [`parse`] turns requests into
//! commands, this module applies them over a [`Caller`], [`store`] holds the SQL, and `grpc.rs`
//! answers.

pub mod parse;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction};
use terrace_platform::Clock;
use terrace_platform::auth::{AdminScope, Caller, Principal, PrincipalKind, Role, RoleGrant};
use terrace_platform::bus::outbox;
use terrace_platform::db::SqlMigration;
use terrace_platform::error::{Error, Result};
use terrace_platform::idempotency::{self, Keep, Mutation};
use terrace_proto::common::v1 as common;
use terrace_proto::identity::v1 as pb;
use uuid::Uuid;

pub use self::parse::{
    ChangePassword, ChangePhoneNumber, CreateUser, GetUser, ListSessions, ListUsers, ResetPassword,
    RotateSigningKey, SetUserStatus, UpdateUser, UserCursor,
};
pub use self::store::UserView;
use crate::accounts::Code;
use crate::accounts::{Accounts, hash_password};
use crate::domain::password;
use crate::domain::password::PasswordKey;
use crate::domain::phone::PhoneNumber;
use crate::grants::{self, GrantRow};
use crate::keys::SigningKeys;
use crate::tokens::{SessionInfo, TokenService};
use crate::users::{self, NewUser, timestamp};

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

/// Which request made a user: a `CreateUser` retried after the idempotency log forgot it (a phone
/// back online after days) finds the user it made instead of making a second.
pub const CREATED_BY_REQUEST: SqlMigration = SqlMigration {
    name: "m20261202_060001_identity_users_created_by_request",
    up: r"
-- The creating caller's idempotency key ('user:<id>', 'agency:<id>', ...) and request id;
-- NULL for users who signed up themselves or were made before this.
ALTER TABLE users ADD COLUMN created_by_key text, ADD COLUMN created_request_id uuid;
CREATE UNIQUE INDEX users_created_by_request ON users (created_by_key, created_request_id);
",
};

/// The API scope an agency needs to read users.
pub const USERS_READ: &str = "identity.users:read";
/// The API scope an agency needs to create users.
pub const USERS_WRITE: &str = "identity.users:write";
/// How recent a login must be to set a first password without a current one.
const RECENT_LOGIN: Duration = Duration::from_secs(10 * 60);

/// A user's status (the entity's column type).
pub use crate::users::UserStatus as Status;

impl UserView {
    /// The user as the contract describes them.
    pub fn to_proto(&self) -> pb::User {
        let mut user = self.row.to_proto();
        user.email = self.row.email.clone().unwrap_or_default();
        user.role_grants = self.grants.iter().map(GrantRow::to_proto).collect();
        let creator = self.row.created_by.unwrap_or(self.row.id);
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

/// A live session as the contract describes it.
pub fn session_to_proto(user_id: Uuid, session: &SessionInfo) -> pb::Session {
    pb::Session {
        id: session.id.to_string(),
        user_id: user_id.to_string(),
        login_method: session.login_method.to_proto() as i32,
        client_description: session.client_description.clone(),
        create_time: Some(timestamp(session.created_at)),
        last_refresh_time: Some(timestamp(session.last_used_at)),
        expire_time: Some(timestamp(session.expires_at)),
        ..Default::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Who may do what: rules over a caller and a user, free of storage.

fn not_found(id: Uuid) -> Error {
    Error::not_found("user", id.to_string())
}

/// Whether `caller` governs anyone anywhere under `api_scope`: holds an official role (or, for an
/// agency, an area and the API scope), or is the operator.
fn governs_anywhere(caller: &Caller, api_scope: Option<&str>) -> bool {
    caller.reach(&[], api_scope).is_some()
        || caller.principal().is_some_and(|principal| {
            principal
                .grants
                .iter()
                .any(|grant| caller.reach(&[&grant.scope], api_scope).is_some())
        })
}

/// The grant of someone registered at the village desk without naming one: resident of the
/// caller's village, when the caller is the official of exactly one.
fn desk_grant(caller: &Caller) -> Option<RoleGrant> {
    let official = Role::VillageOfficial;
    let villages: Vec<&AdminScope> = caller
        .principal()
        .map(|principal| {
            principal
                .grants
                .iter()
                .filter(|grant| grant.role == official)
                .filter(|grant| caller.covers(&grant.scope, official.rank(), Some(USERS_WRITE)))
                .map(|grant| &grant.scope)
                .collect()
        })
        .unwrap_or_default();
    match villages.as_slice() {
        [village] => RoleGrant::new(Role::Resident, (*village).clone()).ok(),
        _ => None,
    }
}

/// Whether `caller` may see `user`: themself (or their helper), or someone who reaches them.
fn may_read(caller: &Caller, user: &UserView) -> bool {
    caller.subject_user() == Some(user.row.id)
        || caller.reach(&user.areas(), Some(USERS_READ)).is_some()
}

/// Whether `caller` may change `user`'s profile: the user themself (not a helper acting for
/// them), or a reaching official who registered them.
fn may_update(caller: &Caller, user: &UserView) -> Result<()> {
    if caller.subject_user() == Some(user.row.id) {
        return caller.require_self().map(drop);
    }
    if caller.reach(&user.areas(), None).is_none() {
        return Err(not_found(user.row.id));
    }
    if user.row.created_by.is_none() || user.row.created_by != caller.acting_user() {
        return Err(Error::permission_denied(
            "NOT_REGISTERED_BY_YOU",
            "officials update the profiles of the users they registered; ask the user",
        ));
    }
    Ok(())
}

/// Whether `caller` may end `user`'s sessions: an official who reaches the user (else the user is
/// unknown to them) and outranks every role the user holds — the same standing that may lock them.
/// Answers the rank with which they reach the user.
pub(crate) fn may_end_sessions(caller: &Caller, user: &UserView) -> Result<u8> {
    let rank = caller
        .reach(&user.areas(), None)
        .ok_or_else(|| not_found(user.row.id))?;
    let held = user
        .grants
        .iter()
        .map(|row| row.grant.role.rank())
        .max()
        .unwrap_or(0);
    if rank <= held {
        return Err(Error::permission_denied(
            "OUTRANKED",
            "this user holds a role of your rank or higher",
        ));
    }
    Ok(rank)
}

/// Refuses a status change of one's own account (a helper's of the villager's too).
fn not_own_account(caller: &Caller, user_id: Uuid) -> Result<()> {
    if caller.subject_user() == Some(user_id) || caller.acting_user() == Some(user_id) {
        return Err(Error::failed_precondition(
            "OWN_ACCOUNT",
            "you cannot change the status of your own account",
        ));
    }
    Ok(())
}

/// The rank with which `caller` may set `user`'s status: they reach the user (else the user is
/// unknown to them), outrank every role the user holds, and rank at least as high as whoever set
/// the current status.
fn status_rank(caller: &Caller, user: &UserView) -> Result<u8> {
    let rank = may_end_sessions(caller, user)?;
    if i16::from(rank) < user.row.status_set_rank {
        return Err(Error::permission_denied(
            "STATUS_SET_BY_HIGHER_RANK",
            "a higher-ranking official set this user's status; ask them",
        ));
    }
    Ok(rank)
}

/// The holder of a phone proven with a one-time code, acting on their own account without a
/// token (`ResetPassword`): recorded as the user themself. Governs nothing.
fn code_holder(user_id: Uuid, now: DateTime<Utc>) -> Caller {
    Caller::User(Principal {
        subject: user_id.to_string(),
        kind: PrincipalKind::User,
        grants: Vec::new(),
        api_scopes: Vec::new(),
        actor: None,
        token_id: String::new(),
        expires_at: now,
    })
}

/// Whether `given` proves that the caller owns `user` now: the current password, or for a first
/// password a login within [`RECENT_LOGIN`].
async fn proves_owner(user: &users::User, given: Option<&str>, now: DateTime<Utc>) -> Result<()> {
    let Some(hash) = user.password_hash.clone() else {
        let recent = chrono::Duration::from_std(RECENT_LOGIN).unwrap_or_default();
        if user.last_login_at.is_some_and(|at| at + recent > now) {
            return Ok(());
        }
        return Err(Error::failed_precondition(
            "RECENT_LOGIN_REQUIRED",
            "log in again (within 10 minutes) to set your first password",
        ));
    };
    let candidate = given.unwrap_or_default().to_owned();
    let matches = tokio::task::spawn_blocking(move || password::verify(&candidate, &hash))
        .await
        .map_err(Error::internal)?;
    if matches {
        Ok(())
    } else {
        Err(Error::Unauthenticated("wrong current password".to_owned()))
    }
}

// ---------------------------------------------------------------------------------------------
// Apply

/// User `id` as they are at `now`, or `NOT_FOUND`.
async fn existing<C: ConnectionTrait>(conn: &C, id: Uuid, now: DateTime<Utc>) -> Result<UserView> {
    store::load(conn, id, now)
        .await?
        .ok_or_else(|| not_found(id))
}

/// A change to a user as the audit trail and `identity.user.updated` tell it.
#[derive(Debug)]
struct Change<'a> {
    /// The audit action, `user.<verb>`.
    action: &'static str,
    details: serde_json::Value,
    /// The contract's `User` fields it changed.
    fields: &'a [&'a str],
    /// Why, when the caller said.
    reason: &'a str,
}

impl Change<'_> {
    /// A new password: nothing of it in the record.
    fn password(action: &'static str) -> Self {
        Self {
            action,
            details: serde_json::json!({}),
            fields: &["has_password"],
            reason: "",
        }
    }
}

/// User management: the *apply* step of its RPCs.
#[derive(Debug, Clone)]
pub struct Management {
    db: DatabaseConnection,
    source: String,
    clock: Clock,
    tokens: TokenService,
    keys: SigningKeys,
    /// Checks one-time codes, with their throttles.
    codes: Arc<Accounts>,
    password_key: PasswordKey,
}

impl Management {
    pub fn new(accounts: &Arc<Accounts>) -> Self {
        Self {
            db: accounts.ctx.db.clone(),
            source: accounts.ctx.event_source(),
            clock: accounts.ctx.clock.clone(),
            tokens: accounts.tokens.clone(),
            keys: accounts.keys.clone(),
            codes: accounts.clone(),
            password_key: PasswordKey::new(&accounts.settings.secret),
        }
    }

    /// How the *parse* step fingerprints passwords.
    pub fn password_key(&self) -> &PasswordKey {
        &self.password_key
    }

    /// Does `work` once per caller and `request_id` ([`idempotency::once`]), keeping its answer
    /// for a retry: no answer of user management carries a secret.
    async fn once<R: prost::Message + Default>(
        &self,
        caller: &Caller,
        mutation: &Mutation,
        now: DateTime<Utc>,
        work: impl AsyncFnOnce(&DatabaseTransaction) -> Result<R>,
    ) -> Result<R> {
        idempotency::once(&self.db, caller, mutation, now, Keep::Answer, work).await
    }

    /// Records `change` to `user` (as they now are) by `caller`: the audit record and
    /// `identity.user.updated`, in the transaction that makes it.
    async fn record_change<C: ConnectionTrait>(
        &self,
        conn: &C,
        caller: &Caller,
        user: &UserView,
        change: Change<'_>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let id = Some(user.row.id);
        crate::audit::record(conn, caller, change.action, id, change.details, now).await?;
        let event = pb::UserUpdated {
            user: Some(user.to_proto()),
            changed_fields: Some(prost_types::FieldMask {
                paths: change
                    .fields
                    .iter()
                    .map(|path| (*path).to_owned())
                    .collect(),
            }),
            actor: Some(caller.actor()),
            reason: change.reason.to_owned(),
        };
        let id = user.row.id.to_string();
        outbox::publish_state(conn, &self.source, &user.to_proto(), &id).await?;
        outbox::publish(conn, &self.source, &event).await?;
        Ok(())
    }

    /// `CreateUser`: an official (or an agency with `identity.users:write`) registers a villager
    /// with their grants, in one transaction. The user row records the request that made it, so
    /// that a retry after the idempotency log was pruned answers that user as they now are.
    pub async fn create(
        &self,
        caller: &Caller,
        command: CreateUser,
    ) -> Result<pb::CreateUserResponse> {
        if !governs_anywhere(caller, Some(USERS_WRITE)) {
            return Err(Error::permission_denied(
                "MISSING_ROLE",
                "registering users needs an official role (or identity.users:write for an agency)",
            ));
        }
        let wanted = if command.grants.is_empty() {
            let grant = desk_grant(caller).ok_or_else(|| {
                Error::invalid(
                    "initial_grants",
                    "required: the role and village the user lives in (e.g. resident at a \
                     village)",
                )
            })?;
            vec![parse::InitialGrant {
                grant,
                reason: "registered at the village desk".to_owned(),
            }]
        } else {
            command.grants.clone()
        };
        let password_hash = match &command.password {
            Some(password) => Some(hash_password(password).await?),
            None => None,
        };
        let now = self.clock.now();
        let key = command.mutation.key(caller);
        self.once(caller, &command.mutation, now, async |txn| {
            if let Some(id) =
                store::created_by_request(txn, key.caller_key(), key.request_id()).await?
            {
                let user = existing(txn, id, now).await?;
                return Ok(pb::CreateUserResponse {
                    user: Some(user.to_proto()),
                });
            }
            let new = NewUser {
                phone: &command.phone,
                display_name: &command.display_name,
                locale: &command.locale,
                time_zone: &command.time_zone,
                password_hash,
                created_by: caller.acting_user(),
                email: command.email.as_deref(),
                created_by_request: Some((key.caller_key(), key.request_id())),
                created_at: now,
            };
            let row = users::insert(txn, new)
                .await?
                .ok_or_else(|| Error::AlreadyExists {
                    resource: "user",
                    id: command.phone.masked(),
                })?;
            for wanted in &wanted {
                let give = grants::Give {
                    request: None,
                    user_id: row.id,
                    grant: &wanted.grant,
                    expires_at: None,
                    reason: &wanted.reason,
                    api_scope: Some(USERS_WRITE),
                };
                grants::give(txn, &self.source, caller, give, now).await?;
            }
            let created = existing(txn, row.id, now).await?;
            let grant_parts: Vec<String> = wanted
                .iter()
                .map(|wanted| {
                    format!(
                        "{}@{}:{}",
                        wanted.grant.role.as_str(),
                        wanted.grant.scope.as_str(),
                        wanted.reason
                    )
                })
                .collect();
            crate::audit::record(
                txn,
                caller,
                "user.created",
                Some(row.id),
                serde_json::json!({
                    "phone_number": command.phone.masked(),
                    "grants": grant_parts,
                }),
                now,
            )
            .await?;
            let event = pb::UserCreated {
                user: Some(created.to_proto()),
                actor: Some(caller.actor()),
            };
            outbox::publish_state(txn, &self.source, &created.to_proto(), &row.id.to_string())
                .await?;
            outbox::publish(txn, &self.source, &event).await?;
            tracing::info!(user_id = %row.id, "user registered by an official");
            Ok(pb::CreateUserResponse {
                user: Some(created.to_proto()),
            })
        })
        .await
    }

    /// `GetUser`: the user themself, or anyone who reaches them; `NOT_FOUND` for everyone else.
    pub async fn get(&self, caller: &Caller, query: GetUser) -> Result<UserView> {
        let id = query.user_id;
        store::load(&self.db, id, self.clock.now())
            .await?
            .filter(|user| may_read(caller, user))
            .ok_or_else(|| not_found(id))
    }

    /// `ListUsers`: users with a live grant inside an area the caller reaches (every user, for
    /// who governs the whole country and names no role), by display name; and the cursor of the
    /// next page.
    pub async fn list(
        &self,
        caller: &Caller,
        query: ListUsers,
    ) -> Result<(Vec<UserView>, Option<UserCursor>)> {
        if !governs_anywhere(caller, Some(USERS_READ)) {
            return Err(Error::permission_denied(
                "MISSING_ROLE",
                "listing users needs an official role (or identity.users:read for an agency)",
            ));
        }
        let country = AdminScope::country();
        let area = match query.area {
            Some(area) => area,
            None if caller.reach(&[&country], Some(USERS_READ)).is_some() => country,
            None => {
                return Err(Error::invalid(
                    "area",
                    "required: the area whose users to list",
                ));
            }
        };
        if caller.reach(&[&area], Some(USERS_READ)).is_none() {
            return Err(Error::permission_denied(
                "OUT_OF_SCOPE",
                format!("area {:?} is outside your scope", area.as_str()),
            ));
        }
        let everyone = area.as_str().is_empty() && query.role.is_none();
        let now = self.clock.now();
        let filter = store::Filter {
            area: (!everyone).then_some(&area),
            role: query.role,
            status: query.status,
            search: &query.search,
            now,
        };
        let found = store::page(
            &self.db,
            &filter,
            query.page.after.as_ref(),
            query.page.fetch_limit(),
        )
        .await?;
        let (found, next) = query
            .page
            .finish(found, |page| page.last().map(|(_, cursor)| cursor.clone()));
        let mut users = Vec::with_capacity(found.len());
        for (id, _) in &found {
            if let Some(user) = store::load(&self.db, *id, now).await? {
                users.push(user);
            }
        }
        Ok((users, next))
    }

    /// `UpdateUser`: display name, locale, time zone, e-mail; the user themself or the reaching
    /// official who registered them.
    pub async fn update(
        &self,
        caller: &Caller,
        command: UpdateUser,
    ) -> Result<pb::UpdateUserResponse> {
        let id = command.user_id;
        let now = self.clock.now();
        self.once(caller, &command.mutation, now, async |txn| {
            store::lock(txn, id).await?;
            let before = existing(txn, id, now).await?;
            may_update(caller, &before)?;
            store::update_profile(txn, id, &command.profile, now).await?;
            let after = existing(txn, id, now).await?;
            let profile = |user: &UserView| {
                serde_json::json!({
                    "display_name": user.row.display_name,
                    "locale": user.row.locale,
                    "time_zone": user.row.time_zone,
                })
            };
            let change = Change {
                action: "user.updated",
                details: serde_json::json!({
                    "fields": command.fields,
                    "before": profile(&before),
                    "after": profile(&after),
                }),
                fields: &command.fields,
                reason: "",
            };
            self.record_change(txn, caller, &after, change, now).await?;
            Ok(pb::UpdateUserResponse {
                user: Some(after.to_proto()),
            })
        })
        .await
    }

    /// `SetUserStatus`: lock, unlock, disable, re-enable. Locking or disabling revokes every
    /// session (a locked or disabled user's refresh is refused anyway; revoking makes it final
    /// and visible in their list of sessions).
    pub async fn set_status(
        &self,
        caller: &Caller,
        command: SetUserStatus,
    ) -> Result<pb::SetUserStatusResponse> {
        let (id, status) = (command.user_id, command.status);
        not_own_account(caller, id)?;
        let now = self.clock.now();
        self.once(caller, &command.mutation, now, async |txn| {
            store::lock(txn, id).await?;
            let before = existing(txn, id, now).await?;
            let rank = status_rank(caller, &before)?;
            if before.row.status == status && status != Status::Locked {
                return Ok(pb::SetUserStatusResponse {
                    user: Some(before.to_proto()),
                });
            }
            let until = command.locked_until;
            store::set_status(txn, id, status, until, i16::from(rank), now).await?;
            let after = existing(txn, id, now).await?;
            let change = Change {
                action: "user.status_changed",
                details: serde_json::json!({
                    "from": before.row.status.as_str(),
                    "to": status.as_str(),
                    "reason": command.reason,
                    "locked_until": until,
                }),
                fields: &["status"],
                reason: &command.reason,
            };
            self.record_change(txn, caller, &after, change, now).await?;
            if status != Status::Active {
                let reason = format!("user_{}", status.as_str());
                self.tokens.revoke_all(txn, id, &reason).await?;
            }
            tracing::info!(user_id = %id, status = status.as_str(), "user status changed");
            Ok(pb::SetUserStatusResponse {
                user: Some(after.to_proto()),
            })
        })
        .await
    }

    /// `ChangePhoneNumber`: the caller's own number, proven with a code sent to the new one.
    /// Every session goes: whoever else held the account must log in again with the new phone.
    /// (A stolen access token could still change the number within its 15 minutes; closing that
    /// needs a code to the old phone too, which the contract does not carry yet.)
    pub async fn change_phone_number(
        &self,
        caller: &Caller,
        command: ChangePhoneNumber,
    ) -> Result<pb::ChangePhoneNumberResponse> {
        let id = caller.require_self()?;
        let phone = &command.phone;
        // A retry is answered instead of trying its code again; the try is counted outside the
        // request's transaction, the code used up inside it.
        let code = Code {
            phone,
            purpose: users::OtpPurpose::ChangePhone,
            code: &command.code,
            new_password: None,
        };
        let now = self.clock.now();
        let codes = &self.codes;
        codes
            .once_with_code(
                caller,
                &command.mutation,
                code,
                Keep::Answer,
                async |txn, _| {
                    store::lock(txn, id).await?;
                    let before = existing(txn, id, now).await?;
                    if before.row.phone_number == phone.as_str() {
                        return Err(Error::failed_precondition(
                            "SAME_PHONE_NUMBER",
                            "this is already your phone number",
                        ));
                    }
                    if users::by_phone(txn, phone, false).await?.is_some() {
                        return Err(Error::AlreadyExists {
                            resource: "phone number",
                            id: phone.masked(),
                        });
                    }
                    store::set_phone(txn, id, phone, now).await?;
                    let after = existing(txn, id, now).await?;
                    let old = PhoneNumber::parse(&before.row.phone_number)
                        .map(|old| old.masked())
                        .unwrap_or_default();
                    let change = Change {
                        action: "user.phone_changed",
                        details: serde_json::json!({ "from": old, "to": phone.masked() }),
                        fields: &["phone_number"],
                        reason: "",
                    };
                    self.record_change(txn, caller, &after, change, now).await?;
                    self.tokens
                        .revoke_all(txn, id, "phone number changed")
                        .await?;
                    Ok(pb::ChangePhoneNumberResponse {
                        user: Some(after.to_proto()),
                    })
                },
            )
            .await
    }

    /// `ResetPassword` (public): a new password with a reset code; every session is revoked.
    pub async fn reset_password(
        &self,
        caller: &Caller,
        command: ResetPassword,
    ) -> Result<pb::ResetPasswordResponse> {
        let phone = &command.phone;
        // The code (and its throttles) before the costly hashing.
        let code = Code {
            phone,
            purpose: users::OtpPurpose::ResetPassword,
            code: &command.code,
            new_password: Some(&command.new_password),
        };
        let now = self.clock.now();
        let codes = &self.codes;
        codes
            .once_with_code(
                caller,
                &command.mutation,
                code,
                Keep::Answer,
                async |txn, hash| {
                    let hash = hash.ok_or_else(|| {
                        Error::internal(anyhow::anyhow!("the new password was not hashed"))
                    })?;
                    let Some(user) = users::by_phone(txn, phone, true).await? else {
                        // The code proved the phone; its holder learns nothing they could not know.
                        return Err(Error::Unauthenticated(
                            "no account for this phone number".to_owned(),
                        ));
                    };
                    store::set_password(txn, user.id, &hash, now).await?;
                    let after = existing(txn, user.id, now).await?;
                    let holder = code_holder(user.id, now);
                    let change = Change::password("user.password_reset");
                    self.record_change(txn, &holder, &after, change, now)
                        .await?;
                    self.tokens
                        .revoke_all(txn, user.id, "password_reset")
                        .await?;
                    Ok(pb::ResetPasswordResponse {})
                },
            )
            .await
    }

    /// `ChangePassword`: the current password (or a recent login, for a first password); every
    /// session is revoked (the token names no session, so the current one goes too: the app logs
    /// in again).
    pub async fn change_password(
        &self,
        caller: &Caller,
        command: ChangePassword,
    ) -> Result<pb::ChangePasswordResponse> {
        let id = caller.require_self()?;
        let gone = || Error::Unauthenticated("the token's user no longer exists".to_owned());
        let user = users::by_id(&self.db, id).await?.ok_or_else(gone)?;
        password::check(&command.new_password, &user.phone_number)
            .map_err(|error| Error::invalid("new_password", error.to_string()))?;
        let hash = hash_password(&command.new_password).await?;
        let now = self.clock.now();
        self.once(caller, &command.mutation, now, async |txn| {
            store::lock(txn, id).await?;
            let current = users::by_id(txn, id).await?.ok_or_else(gone)?;
            // Inside the claim: a retry of a change already made finds its answer, not a
            // current password that no longer is.
            proves_owner(&current, command.current_password.as_deref(), now).await?;
            store::set_password(txn, id, &hash, now).await?;
            let after = existing(txn, id, now).await?;
            let change = Change::password("user.password_changed");
            self.record_change(txn, caller, &after, change, now).await?;
            self.tokens.revoke_all(txn, id, "password_changed").await?;
            Ok(pb::ChangePasswordResponse {})
        })
        .await
    }

    /// `ListSessions`: the live sessions of the caller's account (a helper may look at the
    /// villager's), most recently used first; and whose they are.
    pub async fn sessions(
        &self,
        caller: &Caller,
        _query: ListSessions,
    ) -> Result<(Uuid, Vec<SessionInfo>)> {
        // Not a user at all: `require_self` says so.
        let id = caller
            .subject_user()
            .map_or_else(|| caller.require_self(), Ok)?;
        Ok((id, self.tokens.list_sessions(id).await?))
    }

    /// `RotateSigningKey`: platform admins of the whole country; the next key signs from now on.
    /// The rotation is the key store's own (it takes its lock and commits on its own); the audit
    /// record and the remembered answer commit after it.
    pub async fn rotate_signing_key(
        &self,
        caller: &Caller,
        command: RotateSigningKey,
    ) -> Result<pb::RotateSigningKeyResponse> {
        let admin = Role::PlatformAdmin;
        if !caller.covers(&AdminScope::country(), admin.rank(), None) {
            return Err(Error::permission_denied(
                "MISSING_ROLE",
                "requires role platform_admin",
            ));
        }
        let now = self.clock.now();
        self.once(caller, &command.mutation, now, async |txn| {
            let kid = self.keys.rotate().await.map_err(Error::internal)?;
            crate::audit::record(
                txn,
                caller,
                "signing_key.rotated",
                None,
                serde_json::json!({ "kid": kid }),
                now,
            )
            .await?;
            tracing::info!(%kid, "signing key rotated on request");
            let set = self.keys.jwks().await;
            let new_key = set
                .keys
                .iter()
                .find(|jwk| jwk.common.key_id.as_deref() == Some(kid.as_str()))
                .and_then(crate::keys::jwk_to_proto);
            Ok(pb::RotateSigningKeyResponse { new_key })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Any fixed instant: these rules do not read the clock.
    fn instant() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    const VILLAGE: &str = "110101001001";
    const OTHER_VILLAGE: &str = "110101002001";
    const TOWNSHIP: &str = "110101001";
    const COUNTY: &str = "110101";

    fn grant(role: Role, scope: &str) -> RoleGrant {
        RoleGrant::parse(role, scope).unwrap()
    }

    fn principal(kind: PrincipalKind, subject: Uuid, grants: &[(Role, &str)]) -> Principal {
        Principal {
            subject: subject.to_string(),
            kind,
            grants: grants
                .iter()
                .map(|(role, scope)| grant(*role, scope))
                .collect(),
            api_scopes: Vec::new(),
            actor: None,
            token_id: "t".to_owned(),
            expires_at: instant(),
        }
    }

    fn user(subject: Uuid, grants: &[(Role, &str)]) -> Caller {
        Caller::User(principal(PrincipalKind::User, subject, grants))
    }

    fn agency(api_scopes: &[&str], grants: &[(Role, &str)]) -> Caller {
        Caller::Agency(Principal {
            api_scopes: api_scopes.iter().map(|s| (*s).to_owned()).collect(),
            ..principal(PrincipalKind::Agency, Uuid::now_v7(), grants)
        })
    }

    fn helper_for(villager: Uuid) -> Caller {
        Caller::Helper(Principal {
            actor: Some(Uuid::now_v7().to_string()),
            ..principal(PrincipalKind::User, villager, &[(Role::Resident, VILLAGE)])
        })
    }

    /// A user living where `grants` say, registered by `created_by`, status set by `set_rank`.
    fn view(
        id: Uuid,
        grants: &[(Role, &str)],
        created_by: Option<Uuid>,
        set_rank: i16,
    ) -> UserView {
        let now = instant();
        UserView {
            row: users::User {
                id,
                phone_number: "+8613800138000".to_owned(),
                display_name: "赵敏".to_owned(),
                locale: "zh-CN".to_owned(),
                time_zone: "Asia/Shanghai".to_owned(),
                status: Status::Active,
                password_hash: None,
                failed_logins: 0,
                locked_until: None,
                last_login_at: None,
                created_by,
                created_at: now,
                updated_at: now,
                email: None,
                status_set_rank: set_rank,
                created_by_key: None,
                created_request_id: None,
            },
            grants: grants
                .iter()
                .map(|(role, scope)| GrantRow {
                    id: Uuid::now_v7(),
                    user_id: id,
                    grant: grant(*role, scope),
                    expires_at: None,
                    reason: String::new(),
                    granted_by: None,
                    granted_at: now,
                    revoked_at: None,
                    revoked_by: None,
                    revoke_reason: None,
                })
                .collect(),
        }
    }

    /// The outcome of a rule as the table writes it: `Ok` or the refusal's reason.
    fn outcome<T>(result: Result<T>) -> &'static str {
        match result {
            Ok(_) => "ok",
            Err(Error::NotFound { .. }) => "NOT_FOUND",
            Err(
                Error::PermissionDenied { reason, .. } | Error::FailedPrecondition { reason, .. },
            ) => reason,
            Err(other) => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn who_reads_updates_and_sets_the_status_of_a_villager() {
        let (villager, official) = (Uuid::now_v7(), Uuid::now_v7());
        let target = view(villager, &[(Role::Resident, VILLAGE)], Some(official), 0);
        let callers: Vec<(&str, Caller)> = vec![
            ("the user", user(villager, &[(Role::Resident, VILLAGE)])),
            ("their helper", helper_for(villager)),
            (
                "registering official",
                user(official, &[(Role::VillageOfficial, VILLAGE)]),
            ),
            (
                "official next door",
                user(Uuid::now_v7(), &[(Role::VillageOfficial, OTHER_VILLAGE)]),
            ),
            (
                "township official",
                user(Uuid::now_v7(), &[(Role::TownshipOfficial, TOWNSHIP)]),
            ),
            (
                "county admin",
                user(Uuid::now_v7(), &[(Role::CountyAdmin, COUNTY)]),
            ),
            ("farmer", user(Uuid::now_v7(), &[(Role::Farmer, VILLAGE)])),
            (
                "reading agency",
                agency(&[USERS_READ], &[(Role::VillageOfficial, VILLAGE)]),
            ),
            ("operator", Caller::operator("test")),
        ];
        // (read, update, status) per caller, in the order above.
        #[rustfmt::skip]
        let expected = [
            (true, "ok", "OWN_ACCOUNT"),
            (true, "DELEGATED_TOKEN", "OWN_ACCOUNT"),
            (true, "ok", "ok"),
            (false, "NOT_FOUND", "NOT_FOUND"),
            (true, "NOT_REGISTERED_BY_YOU", "ok"),
            (true, "NOT_REGISTERED_BY_YOU", "ok"),
            (false, "NOT_FOUND", "NOT_FOUND"),
            (true, "NOT_FOUND", "NOT_FOUND"),
            (true, "NOT_REGISTERED_BY_YOU", "ok"),
        ];
        for ((name, caller), (read, update, status)) in callers.iter().zip(expected) {
            assert_eq!(may_read(caller, &target), read, "read by {name}");
            assert_eq!(
                outcome(may_update(caller, &target)),
                update,
                "update by {name}"
            );
            let set = not_own_account(caller, villager).and_then(|()| status_rank(caller, &target));
            assert_eq!(outcome(set), status, "status by {name}");
        }
    }

    #[test]
    fn status_needs_a_higher_rank_than_the_user_and_whoever_set_it() {
        let township = user(Uuid::now_v7(), &[(Role::TownshipOfficial, TOWNSHIP)]);
        let official = view(Uuid::now_v7(), &[(Role::VillageOfficial, VILLAGE)], None, 0);
        assert_eq!(
            status_rank(&township, &official).unwrap(),
            Role::TownshipOfficial.rank()
        );
        let peer = view(
            Uuid::now_v7(),
            &[(Role::TownshipOfficial, TOWNSHIP)],
            None,
            0,
        );
        assert_eq!(outcome(status_rank(&township, &peer)), "OUTRANKED");
        let locked_by_county = view(
            Uuid::now_v7(),
            &[(Role::Resident, VILLAGE)],
            None,
            i16::from(Role::CountyAdmin.rank()),
        );
        assert_eq!(
            outcome(status_rank(&township, &locked_by_county)),
            "STATUS_SET_BY_HIGHER_RANK"
        );
        // Someone who lives in two villages is governed only by who governs both.
        let two = view(
            Uuid::now_v7(),
            &[(Role::Resident, VILLAGE), (Role::Farmer, OTHER_VILLAGE)],
            None,
            0,
        );
        let village = user(Uuid::now_v7(), &[(Role::VillageOfficial, VILLAGE)]);
        assert_eq!(outcome(status_rank(&village, &two)), "NOT_FOUND");
        assert!(!may_read(&village, &two));
        // Someone who lives nowhere only from the whole country.
        let nowhere = view(Uuid::now_v7(), &[], None, 0);
        let county = user(Uuid::now_v7(), &[(Role::CountyAdmin, COUNTY)]);
        let platform = user(Uuid::now_v7(), &[(Role::PlatformAdmin, "")]);
        assert_eq!(outcome(status_rank(&county, &nowhere)), "NOT_FOUND");
        assert_eq!(
            status_rank(&platform, &nowhere).unwrap(),
            Role::PlatformAdmin.rank()
        );
    }

    #[test]
    fn who_registers_and_where_the_desk_puts_them() {
        let village = user(Uuid::now_v7(), &[(Role::VillageOfficial, VILLAGE)]);
        let two_villages = user(
            Uuid::now_v7(),
            &[
                (Role::VillageOfficial, VILLAGE),
                (Role::VillageOfficial, OTHER_VILLAGE),
            ],
        );
        let township = user(Uuid::now_v7(), &[(Role::TownshipOfficial, TOWNSHIP)]);
        let farmer = user(Uuid::now_v7(), &[(Role::Farmer, VILLAGE)]);
        let writer = agency(&[USERS_WRITE], &[(Role::VillageOfficial, VILLAGE)]);
        let reader = agency(&[USERS_READ], &[(Role::VillageOfficial, VILLAGE)]);
        let resident = Some(grant(Role::Resident, VILLAGE));
        #[rustfmt::skip]
        let table: [(&str, &Caller, bool, Option<RoleGrant>); 7] = [
            ("village official", &village, true, resident.clone()),
            ("official of two villages", &two_villages, true, None),
            ("township official", &township, true, None),
            ("farmer", &farmer, false, None),
            ("helper", &helper_for(Uuid::now_v7()), false, None),
            ("agency with identity.users:write", &writer, true, resident),
            ("agency without it", &reader, false, None),
        ];
        for (name, caller, registers, desk) in table {
            assert_eq!(
                governs_anywhere(caller, Some(USERS_WRITE)),
                registers,
                "{name}"
            );
            assert_eq!(desk_grant(caller), desk, "{name}");
        }
        assert!(governs_anywhere(
            &Caller::operator("test"),
            Some(USERS_WRITE)
        ));
    }
}
