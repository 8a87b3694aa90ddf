//! Role grants: a role (farmer, village official, ...) in an administrative area, and who gave
//! and took it.
//!
//! Who may give or take a grant is [`Caller::can_grant`] in the platform, the rule every service
//! reads tokens with: an official grants roles up to their own rank inside their own area. Every
//! grant and revoke is audited and published (`identity.role.granted` / `identity.role.revoked`)
//! in the transaction that makes it. [`give`] is the one way a grant is written: `GrantRole`,
//! `CreateUser`'s first roles and the command line all go through it, so the rules below hold on
//! every path:
//! - **Lives elsewhere**: a user who already holds roles somewhere is given more only by a caller
//!   who governs all of those places; otherwise an official could pull anyone into their area
//!   (and then manage them) by granting them a role there. Such a user is answered as unknown.
//! - **Expired grants make room**: an expired grant still holds its place in the one-live-grant
//!   index until the expiry job retires it; giving the role again retires it first.
//! - **Granting twice** answers the live grant and changes nothing.
//!
//! Layout (the service's rhythm, `docs/architecture.md`): [`parse`] turns requests into
//! commands, this module applies them over a [`Caller`], [`store`] holds the SQL, and `grpc.rs`
//! answers.

pub mod parse;
pub mod store;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, TransactionTrait as _};
use terrace_platform::Clock;
use terrace_platform::auth::{Caller, RoleGrant};
use terrace_platform::bus::outbox;
use terrace_platform::db::SqlMigration;
use terrace_platform::error::{Error, Result};
use terrace_platform::idempotency::{self, Keep};
use terrace_platform::jobs::Schedule;
use terrace_platform::service::ServiceContext;
use terrace_platform::validate::to_timestamp;
use terrace_proto::common::v1 as common;
use terrace_proto::identity::v1 as pb;
use uuid::Uuid;

pub use self::parse::{GrantRole, ListRoleGrants, RevokeRole};
pub use self::store::GrantRow;

/// Grants and the audit trail.
pub const MIGRATION: SqlMigration = SqlMigration {
    name: "m20261128_200004_identity_role_grants",
    up: r"
CREATE TABLE role_grants (
    id             uuid        PRIMARY KEY,
    user_id        uuid        NOT NULL,
    role           text        NOT NULL,
    -- The division-code prefix ('' = the whole country).
    scope          text        NOT NULL,
    expires_at     timestamptz,
    reason         text        NOT NULL DEFAULT '',
    granted_by     uuid,
    granted_at     timestamptz NOT NULL DEFAULT now(),
    revoked_at     timestamptz,
    revoked_by     uuid,
    revoke_reason  text
);
CREATE INDEX role_grants_user ON role_grants (user_id) WHERE revoked_at IS NULL;
-- One live grant of a role in an area per user.
CREATE UNIQUE INDEX role_grants_live ON role_grants (user_id, role, scope) WHERE revoked_at IS NULL;

CREATE TABLE audit_records (
    id           uuid        PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT now(),
    -- Who did it, and for whom when a helper acted on a villager's behalf.
    actor_id     text        NOT NULL,
    on_behalf_of text,
    action       text        NOT NULL,
    target_user  uuid,
    details      jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_records_target ON audit_records (target_user, at DESC);
",
};

/// The request that made a grant, kept on the grant (unique per caller), so that a retry after
/// the idempotency log forgot the request still finds the grant.
pub const REQUESTS: SqlMigration = SqlMigration {
    name: "m20261201_100001_identity_role_grant_requests",
    up: r"
ALTER TABLE role_grants ADD COLUMN created_by_key text, ADD COLUMN created_request_id uuid;
CREATE UNIQUE INDEX role_grants_request ON role_grants (created_by_key, created_request_id)
    WHERE created_request_id IS NOT NULL;
",
};

impl GrantRow {
    /// The grant as the contract describes it.
    pub fn to_proto(&self) -> pb::RoleGrant {
        let actor = |id: Option<Uuid>| {
            id.map(|id| common::Actor {
                kind: common::ActorKind::User as i32,
                user_id: id.to_string(),
                ..Default::default()
            })
        };
        pb::RoleGrant {
            id: self.id.to_string(),
            user_id: self.user_id.to_string(),
            role: self.grant.role.to_proto() as i32,
            scope: Some(self.grant.scope.to_proto()),
            expire_time: self.expires_at.map(to_timestamp),
            reason: self.reason.clone(),
            granted_by: actor(self.granted_by),
            grant_time: Some(to_timestamp(self.granted_at)),
            revoke_time: self.revoked_at.map(to_timestamp),
            revoked_by: actor(self.revoked_by),
            revoke_reason: self.revoke_reason.clone().unwrap_or_default(),
        }
    }
}

/// The live (not revoked, not expired) grants of a user: what their tokens carry.
pub async fn live_grants<C: ConnectionTrait>(
    conn: &C,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Vec<RoleGrant>> {
    Ok(store::live(conn, user_id, now)
        .await?
        .into_iter()
        .map(|row| row.grant)
        .collect())
}

fn out_of_scope(grant: &RoleGrant) -> Error {
    Error::permission_denied(
        "OUT_OF_SCOPE",
        format!(
            "your roles do not allow granting or revoking {} in area {:?}",
            grant.role.as_str(),
            grant.scope.as_str()
        ),
    )
}

/// Whether `caller` may see a grant: the user's own (or their helper's view of it), or one in an
/// area the caller governs — for agencies only with `identity.users:read`.
fn sees(caller: &Caller, row: &GrantRow) -> bool {
    caller.subject_user() == Some(row.user_id)
        || caller
            .reach(&[&row.grant.scope], Some(crate::management::USERS_READ))
            .is_some()
}

/// A grant to give: to whom, what, until when, why.
#[derive(Debug, Clone)]
pub struct Give<'a> {
    pub user_id: Uuid,
    pub grant: &'a RoleGrant,
    pub expires_at: Option<DateTime<Utc>>,
    pub reason: &'a str,
    /// The API scope under which an agency may give it (`identity.users:write` when registering
    /// users); `None`: agencies may not.
    pub api_scope: Option<&'a str>,
    /// The request that asks for it, recorded on the grant: `(caller key, request id)`.
    pub request: Option<(&'a str, Uuid)>,
}

/// Gives a grant in the caller's transaction: the one grant path (see the module's rules).
/// `source` is the events' `ce-source`. The user must exist and be locked or freshly created by
/// the transaction.
pub async fn give<C: ConnectionTrait>(
    txn: &C,
    source: &str,
    caller: &Caller,
    give: Give<'_>,
    now: DateTime<Utc>,
) -> Result<GrantRow> {
    let Give {
        user_id,
        grant,
        expires_at,
        reason,
        api_scope,
        request,
    } = give;
    if !caller.can_grant(grant, api_scope) {
        return Err(out_of_scope(grant));
    }
    crate::users::by_id(txn, user_id)
        .await?
        .ok_or_else(|| Error::not_found("user", user_id.to_string()))?;
    let existing = live_grants(txn, user_id, now).await?;
    let places: Vec<_> = existing.iter().map(|grant| &grant.scope).collect();
    if !places.is_empty() && caller.reach(&places, api_scope).is_none() {
        return Err(Error::not_found("user", user_id.to_string()));
    }
    store::retire_expired_slot(txn, user_id, grant, now).await?;
    let new = store::NewGrant {
        user_id,
        grant,
        expires_at,
        reason,
        granted_by: caller.acting_user(),
        granted_at: now,
        request,
    };
    let Some(row) = store::insert(txn, new).await? else {
        return store::live_one(txn, user_id, grant)
            .await?
            .ok_or_else(|| Error::internal(anyhow::anyhow!("a conflicting grant vanished")));
    };
    crate::audit::record(
        txn,
        caller,
        "role.granted",
        Some(user_id),
        serde_json::json!({
            "grant_id": row.id,
            "role": row.grant.role.as_str(),
            "scope": row.grant.scope.as_str(),
            "reason": reason,
        }),
        now,
    )
    .await?;
    let event = pb::RoleGranted {
        grant: Some(row.to_proto()),
        actor: Some(caller.actor()),
    };
    outbox::publish_state(txn, source, &row.to_proto(), &row.id.to_string()).await?;
    outbox::publish(txn, source, &event).await?;
    tracing::info!(
        grant_id = %row.id,
        user_id = %user_id,
        role = row.grant.role.as_str(),
        scope = row.grant.scope.as_str(),
        "role granted"
    );
    Ok(row)
}

/// Takes grant `grant_id` back in the caller's transaction.
pub async fn take<C: ConnectionTrait>(
    txn: &C,
    source: &str,
    caller: &Caller,
    grant_id: Uuid,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<GrantRow> {
    let unknown = || Error::not_found("role grant", grant_id.to_string());
    let row = store::lock(txn, grant_id).await?.ok_or_else(unknown)?;
    // A grant the caller cannot see is answered as unknown: its role and area are not theirs
    // to learn.
    if !sees(caller, &row) {
        return Err(unknown());
    }
    if !caller.can_grant(&row.grant, None) {
        return Err(out_of_scope(&row.grant));
    }
    if row.revoked_at.is_some() {
        return Err(Error::failed_precondition(
            "ALREADY_REVOKED",
            "this grant was already revoked",
        ));
    }
    let row = store::mark_revoked(txn, grant_id, caller.acting_user(), reason, now)
        .await?
        .ok_or_else(unknown)?;
    crate::audit::record(
        txn,
        caller,
        "role.revoked",
        Some(row.user_id),
        serde_json::json!({ "grant_id": row.id, "reason": reason }),
        now,
    )
    .await?;
    let event = pb::RoleRevoked {
        grant: Some(row.to_proto()),
        actor: Some(caller.actor()),
        expired: false,
    };
    outbox::publish_state(txn, source, &row.to_proto(), &row.id.to_string()).await?;
    outbox::publish(txn, source, &event).await?;
    tracing::info!(grant_id = %row.id, "role revoked");
    Ok(row)
}

/// The job that retires expired grants.
pub const EXPIRY_JOB: Schedule = Schedule {
    job: "identity.grant-expiry",
    every: std::time::Duration::from_secs(60),
};

/// How many expired grants one run of the job retires per transaction.
const EXPIRY_BATCH: u32 = 100;

/// Role grants: the *apply* step of their RPCs and the expiry job.
#[derive(Debug, Clone)]
pub struct Grants {
    db: DatabaseConnection,
    source: String,
    clock: Clock,
}

impl Grants {
    pub fn new(ctx: &ServiceContext) -> Self {
        Self::on(ctx.db.clone(), ctx.event_source(), ctx.clock.clone())
    }

    /// Over a database without a running service (the command line).
    pub fn on(db: DatabaseConnection, source: String, clock: Clock) -> Self {
        Self { db, source, clock }
    }

    /// `GrantRole`.
    pub async fn grant(
        &self,
        caller: &Caller,
        command: GrantRole,
    ) -> Result<pb::GrantRoleResponse> {
        let now = self.clock.now();
        idempotency::once(
            &self.db,
            caller,
            &command.mutation,
            now,
            Keep::Answer,
            async |txn| {
                let key = command.mutation.key(caller);
                let request = (key.caller_key(), key.request_id());
                // Made by this request before the log forgot it: answered as it now is.
                let row = match store::by_request(txn, request).await? {
                    Some(row) => row,
                    None if command.expires_at.is_some_and(|expiry| expiry <= now) => {
                        return Err(Error::invalid("grant.expire_time", "must be in the future"));
                    }
                    None => {
                        let give = Give {
                            user_id: command.user_id,
                            grant: &command.grant,
                            expires_at: command.expires_at,
                            reason: &command.reason,
                            api_scope: None,
                            request: Some(request),
                        };
                        self::give(txn, &self.source, caller, give, now).await?
                    }
                };
                Ok(pb::GrantRoleResponse {
                    grant: Some(row.to_proto()),
                })
            },
        )
        .await
    }

    /// `RevokeRole`.
    pub async fn revoke(
        &self,
        caller: &Caller,
        command: RevokeRole,
    ) -> Result<pb::RevokeRoleResponse> {
        let now = self.clock.now();
        idempotency::once(
            &self.db,
            caller,
            &command.mutation,
            now,
            Keep::Answer,
            async |txn| {
                let row = take(
                    txn,
                    &self.source,
                    caller,
                    command.grant_id,
                    &command.reason,
                    now,
                )
                .await?;
                Ok(pb::RevokeRoleResponse {
                    grant: Some(row.to_proto()),
                })
            },
        )
        .await
    }

    /// Gives a grant outside any request (the command line).
    pub async fn give_now(&self, caller: &Caller, give: Give<'_>) -> Result<GrantRow> {
        let txn = self.db.begin().await?;
        let row = self::give(&txn, &self.source, caller, give, self.clock.now()).await?;
        txn.commit().await?;
        Ok(row)
    }

    /// Takes a grant back outside any request (the command line).
    pub async fn take_now(
        &self,
        caller: &Caller,
        grant_id: Uuid,
        reason: &str,
    ) -> Result<GrantRow> {
        let txn = self.db.begin().await?;
        let row = take(
            &txn,
            &self.source,
            caller,
            grant_id,
            reason,
            self.clock.now(),
        )
        .await?;
        txn.commit().await?;
        Ok(row)
    }

    /// `ListRoleGrants`: the grants `caller` may see, newest first, and the cursor of the next
    /// page. Rows are fetched a page at a time and filtered by visibility, so a page may come
    /// back short while the cursor goes on.
    pub async fn list(
        &self,
        caller: &Caller,
        query: ListRoleGrants,
    ) -> Result<(Vec<GrantRow>, Option<Uuid>)> {
        let filter = store::Filter {
            user_id: query.user_id,
            area: query.area.as_ref(),
            role: query.role,
            include_inactive: query.include_inactive,
            now: self.clock.now(),
        };
        let rows = store::page(&self.db, &filter, query.page.after, query.page.size).await?;
        let next = (rows.len() as u64 == query.page.size)
            .then(|| rows.last().map(|row| row.id))
            .flatten();
        let visible = rows.into_iter().filter(|row| sees(caller, row)).collect();
        Ok((visible, next))
    }

    /// Retires grants whose time is up: marks them revoked (`expired`), audits it and publishes
    /// `identity.role.revoked` with `expired = true`, so other services drop the role from their
    /// projections.
    pub async fn retire_expired(&self, now: DateTime<Utc>) -> Result<u64> {
        let job = Caller::System {
            job: EXPIRY_JOB.job,
        };
        let txn = self.db.begin().await?;
        let rows = store::retire_expired(&txn, now, EXPIRY_BATCH).await?;
        for row in &rows {
            crate::audit::record(
                &txn,
                &job,
                "role.expired",
                Some(row.user_id),
                serde_json::json!({ "grant_id": row.id }),
                now,
            )
            .await?;
            let event = pb::RoleRevoked {
                grant: Some(row.to_proto()),
                actor: Some(job.actor()),
                expired: true,
            };
            outbox::publish_state(&txn, &self.source, &row.to_proto(), &row.id.to_string()).await?;
            outbox::publish(&txn, &self.source, &event).await?;
        }
        txn.commit().await?;
        Ok(rows.len() as u64)
    }
}
