//! Role grants scoped to administrative areas, and the audit trail of who gave and took them.
//!
//! A grant is a role (farmer, village official, ...) in an area given as a division-code prefix.
//! Who may give or take a grant is decided by [`Principal::can_grant`] in the platform, the same rule
//! every service reads tokens with: an official may grant roles up to their own rank inside their
//! own area. Every grant and revoke is audited (`audit_records`) and published
//! (`identity.role.granted` / `identity.role.revoked`) in the transaction that makes it.

use chrono::{DateTime, Utc};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbErr, QueryResult, Statement, TransactionTrait as _,
};
use terrace_platform::auth::{AdminScope, Principal, Role, RoleGrant};
use terrace_platform::bus::outbox;
use terrace_platform::db::SqlMigration;
use terrace_platform::error::{Error, Result};
use terrace_platform::service::ServiceContext;
use terrace_proto::common::v1 as common;
use terrace_proto::identity::v1 as pb;
use uuid::Uuid;

use crate::users::{self, timestamp};

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

/// Roles of the contract that can be granted, as the platform knows them.
pub fn role_from_proto(role: i32) -> Option<Role> {
    match pb::Role::try_from(role).ok()? {
        pb::Role::Resident => Some(Role::Resident),
        pb::Role::Farmer => Some(Role::Farmer),
        pb::Role::Buyer => Some(Role::Buyer),
        pb::Role::VillageOfficial => Some(Role::VillageOfficial),
        pb::Role::TownshipOfficial => Some(Role::TownshipOfficial),
        pb::Role::CountyAdmin => Some(Role::CountyAdmin),
        pb::Role::PlatformAdmin => Some(Role::PlatformAdmin),
        pb::Role::DigitalHelper => Some(Role::DigitalHelper),
        pb::Role::Unspecified => None,
    }
}

fn role_to_proto(role: Role) -> pb::Role {
    match role {
        Role::Resident => pb::Role::Resident,
        Role::Farmer => pb::Role::Farmer,
        Role::Buyer => pb::Role::Buyer,
        Role::DigitalHelper => pb::Role::DigitalHelper,
        Role::VillageOfficial => pb::Role::VillageOfficial,
        Role::TownshipOfficial => pb::Role::TownshipOfficial,
        Role::CountyAdmin => pb::Role::CountyAdmin,
        Role::PlatformAdmin => pb::Role::PlatformAdmin,
    }
}

/// The contract's 12-digit code and level for a scope.
pub fn admin_code(scope: &AdminScope) -> common::AdminCode {
    let level = match scope.level() {
        terrace_platform::auth::AdminLevel::Country => common::AdminLevel::Country,
        terrace_platform::auth::AdminLevel::Province => common::AdminLevel::Province,
        terrace_platform::auth::AdminLevel::City => common::AdminLevel::City,
        terrace_platform::auth::AdminLevel::County => common::AdminLevel::County,
        terrace_platform::auth::AdminLevel::Township => common::AdminLevel::Township,
        terrace_platform::auth::AdminLevel::Village => common::AdminLevel::Village,
    };
    common::AdminCode {
        code: format!("{:0<12}", scope.as_str()),
        level: level as i32,
    }
}

/// A grant as stored.
#[derive(Debug, Clone)]
pub struct GrantRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub grant: RoleGrant,
    pub expires_at: Option<DateTime<Utc>>,
    pub reason: String,
    pub granted_by: Option<Uuid>,
    pub granted_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_by: Option<Uuid>,
    pub revoke_reason: Option<String>,
}

/// The columns [`GrantRow::from_row`] reads, for queries elsewhere in the crate.
pub(crate) const COLUMNS: &str = "id, user_id, role, scope, expires_at, reason, granted_by, granted_at, revoked_at, revoked_by, revoke_reason";

impl GrantRow {
    /// Reads a row selected with [`COLUMNS`].
    pub(crate) fn from_row(row: &QueryResult) -> Result<Self, DbErr> {
        let role: String = row.try_get("", "role")?;
        let scope: String = row.try_get("", "scope")?;
        let grant = role
            .parse::<Role>()
            .ok()
            .and_then(|role| RoleGrant::parse(role, &scope).ok())
            .ok_or_else(|| DbErr::Custom(format!("stored grant {role}@{scope} is not valid")))?;
        Ok(Self {
            id: row.try_get("", "id")?,
            user_id: row.try_get("", "user_id")?,
            grant,
            expires_at: row.try_get("", "expires_at")?,
            reason: row.try_get("", "reason")?,
            granted_by: row.try_get("", "granted_by")?,
            granted_at: row.try_get("", "granted_at")?,
            revoked_at: row.try_get("", "revoked_at")?,
            revoked_by: row.try_get("", "revoked_by")?,
            revoke_reason: row.try_get("", "revoke_reason")?,
        })
    }

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
            role: role_to_proto(self.grant.role) as i32,
            scope: Some(admin_code(&self.grant.scope)),
            expire_time: self.expires_at.map(timestamp),
            reason: self.reason.clone(),
            granted_by: actor(self.granted_by),
            grant_time: Some(timestamp(self.granted_at)),
            revoke_time: self.revoked_at.map(timestamp),
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
) -> Result<Vec<RoleGrant>, DbErr> {
    let rows = conn
        .query_all_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            format!(
                "SELECT {COLUMNS} FROM role_grants WHERE user_id = $1 AND revoked_at IS NULL \
                 AND (expires_at IS NULL OR expires_at > $2) ORDER BY granted_at"
            ),
            [user_id.into(), now.into()],
        ))
        .await?;
    rows.iter()
        .map(|row| GrantRow::from_row(row).map(|row| row.grant))
        .collect()
}

/// Writes an audit record in the caller's transaction.
pub async fn audit<C: ConnectionTrait>(
    conn: &C,
    actor: &Principal,
    action: &str,
    target_user: Option<Uuid>,
    details: serde_json::Value,
) -> Result<(), DbErr> {
    conn.execute_raw(Statement::from_sql_and_values(
        conn.get_database_backend(),
        "INSERT INTO audit_records (id, actor_id, on_behalf_of, action, target_user, details) \
         VALUES ($1, $2, $3, $4, $5, $6)",
        [
            Uuid::now_v7().into(),
            actor
                .actor
                .clone()
                .unwrap_or_else(|| actor.subject.clone())
                .into(),
            actor.actor.as_ref().map(|_| actor.subject.clone()).into(),
            action.into(),
            target_user.into(),
            details.into(),
        ],
    ))
    .await?;
    Ok(())
}

/// The operator at the command line (`terrace user grant`), who acts with the database's authority.
pub(crate) fn operator() -> Principal {
    Principal {
        subject: "system:cli".to_owned(),
        kind: terrace_platform::auth::PrincipalKind::User,
        grants: Vec::new(),
        api_scopes: Vec::new(),
        actor: None,
        token_id: String::new(),
        expires_at: Utc::now(),
    }
}

/// The event's actor: the user (or the helper acting for one, or the agency) behind `principal`,
/// or the command line when there is none.
pub(crate) fn actor_of(principal: Option<&Principal>) -> common::Actor {
    let Some(principal) = principal.filter(|p| p.subject != "system:cli") else {
        return common::Actor {
            kind: common::ActorKind::System as i32,
            system_component: "terrace command line".to_owned(),
            ..Default::default()
        };
    };
    common::Actor {
        kind: if principal.is_agency() {
            common::ActorKind::Agency
        } else {
            common::ActorKind::User
        } as i32,
        user_id: principal
            .actor
            .clone()
            .unwrap_or_else(|| principal.subject.clone()),
        on_behalf_of_user_id: principal
            .actor
            .as_ref()
            .map(|_| principal.subject.clone())
            .unwrap_or_default(),
        ..Default::default()
    }
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

/// Gives `grant` to `user_id` on behalf of `principal` (`None`: the operator at the command line,
/// who acts with the database's authority). `source` is the events' `ce-source`.
pub async fn grant(
    db: &DatabaseConnection,
    source: &str,
    principal: Option<&Principal>,
    user_id: Uuid,
    grant: RoleGrant,
    expires_at: Option<DateTime<Utc>>,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<GrantRow> {
    if let Some(principal) = principal
        && !principal.can_grant(&grant)
    {
        return Err(out_of_scope(&grant));
    }
    let txn = db.begin().await?;
    users::by_id(&txn, user_id)
        .await?
        .ok_or_else(|| Error::not_found("user", user_id.to_string()))?;
    // A user who already lives somewhere can be given roles only by an official of that whole
    // place: otherwise an official could pull anyone into their area (and then manage them) by
    // granting them a role there. Such a user is answered as unknown, like one out of reach.
    let existing = live_grants(&txn, user_id, now).await?;
    if let Some(principal) = principal
        && !existing.is_empty()
        && !principal.grants.iter().any(|own| {
            own.role.is_official()
                && existing
                    .iter()
                    .all(|theirs| own.scope.covers_scope(&theirs.scope))
        })
    {
        return Err(Error::not_found("user", user_id.to_string()));
    }
    // An expired grant still holds its place in the unique index: retire it, so the role can be
    // given again.
    txn.execute_raw(Statement::from_sql_and_values(
        txn.get_database_backend(),
        "UPDATE role_grants SET revoked_at = $4, revoke_reason = 'expired' \
         WHERE user_id = $1 AND role = $2 AND scope = $3 AND revoked_at IS NULL AND expires_at <= $4",
        [
            user_id.into(),
            grant.role.as_str().into(),
            grant.scope.as_str().into(),
            now.into(),
        ],
    ))
    .await?;
    let granted_by =
        principal.and_then(|p| Uuid::parse_str(p.actor.as_deref().unwrap_or(&p.subject)).ok());
    let inserted = txn
        .query_one_raw(Statement::from_sql_and_values(
            txn.get_database_backend(),
            format!(
                "INSERT INTO role_grants (id, user_id, role, scope, expires_at, reason, granted_by, granted_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING RETURNING {COLUMNS}"
            ),
            [
                Uuid::now_v7().into(),
                user_id.into(),
                grant.role.as_str().into(),
                grant.scope.as_str().into(),
                expires_at.into(),
                reason.into(),
                granted_by.into(),
                now.into(),
            ],
        ))
        .await?;
    let Some(row) = inserted else {
        // The same live grant exists: granting again is a no-op that answers it.
        let existing = txn
            .query_one_raw(Statement::from_sql_and_values(
                txn.get_database_backend(),
                format!(
                    "SELECT {COLUMNS} FROM role_grants WHERE user_id = $1 AND role = $2 AND scope = $3 AND revoked_at IS NULL"
                ),
                [user_id.into(), grant.role.as_str().into(), grant.scope.as_str().into()],
            ))
            .await?
            .ok_or_else(|| Error::internal(anyhow::anyhow!("a conflicting grant vanished")))?;
        return Ok(GrantRow::from_row(&existing)?);
    };
    let row = GrantRow::from_row(&row)?;
    let system = operator();
    let actor = principal.unwrap_or(&system);
    audit(
        &txn,
        actor,
        "role.granted",
        Some(user_id),
        serde_json::json!({ "grant_id": row.id, "role": row.grant.role.as_str(), "scope": row.grant.scope.as_str(), "reason": reason }),
    )
    .await?;
    let event = pb::RoleGranted {
        grant: Some(row.to_proto()),
        actor: Some(actor_of(principal)),
    };
    outbox::publish(&txn, source, &event).await?;
    txn.commit().await?;
    tracing::info!(grant_id = %row.id, user_id = %user_id, role = row.grant.role.as_str(), scope = row.grant.scope.as_str(), "role granted");
    Ok(row)
}

/// Takes a grant back.
pub async fn revoke(
    db: &DatabaseConnection,
    source: &str,
    principal: Option<&Principal>,
    grant_id: Uuid,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<GrantRow> {
    let txn = db.begin().await?;
    let row = txn
        .query_one_raw(Statement::from_sql_and_values(
            txn.get_database_backend(),
            format!("SELECT {COLUMNS} FROM role_grants WHERE id = $1 FOR UPDATE"),
            [grant_id.into()],
        ))
        .await?
        .ok_or_else(|| Error::not_found("role grant", grant_id.to_string()))?;
    let row = GrantRow::from_row(&row)?;
    if let Some(principal) = principal {
        // A grant the caller cannot see is answered as unknown: its role and area are not theirs
        // to learn.
        if !sees(principal, &row) {
            return Err(Error::not_found("role grant", grant_id.to_string()));
        }
        if !principal.can_grant(&row.grant) {
            return Err(out_of_scope(&row.grant));
        }
    }
    if row.revoked_at.is_some() {
        return Err(Error::failed_precondition(
            "ALREADY_REVOKED",
            "this grant was already revoked",
        ));
    }
    let revoked_by =
        principal.and_then(|p| Uuid::parse_str(p.actor.as_deref().unwrap_or(&p.subject)).ok());
    let updated = txn
        .query_one_raw(Statement::from_sql_and_values(
            txn.get_database_backend(),
            format!(
                "UPDATE role_grants SET revoked_at = $4, revoked_by = $2, revoke_reason = $3 WHERE id = $1 RETURNING {COLUMNS}"
            ),
            [grant_id.into(), revoked_by.into(), reason.into(), now.into()],
        ))
        .await?
        .ok_or_else(|| Error::not_found("role grant", grant_id.to_string()))?;
    let row = GrantRow::from_row(&updated)?;
    let system = operator();
    let actor = principal.unwrap_or(&system);
    audit(
        &txn,
        actor,
        "role.revoked",
        Some(row.user_id),
        serde_json::json!({ "grant_id": row.id, "reason": reason }),
    )
    .await?;
    let event = pb::RoleRevoked {
        grant: Some(row.to_proto()),
        actor: Some(actor_of(principal)),
        expired: false,
    };
    outbox::publish(&txn, source, &event).await?;
    txn.commit().await?;
    tracing::info!(grant_id = %row.id, "role revoked");
    Ok(row)
}

/// Whether `principal` may see a grant: their own (the user themself, or their helper), or one
/// in an area where they hold an official role — for agencies only with `identity.users:read`.
fn sees(principal: &Principal, row: &GrantRow) -> bool {
    let own = !principal.is_agency() && row.user_id.to_string() == principal.subject;
    let may_oversee = principal.actor.is_none()
        && (!principal.is_agency()
            || principal
                .api_scopes
                .iter()
                .any(|scope| scope == "identity.users:read"));
    let overseen = may_oversee
        && principal
            .grants
            .iter()
            .any(|g| g.role.is_official() && g.scope.covers_scope(&row.grant.scope));
    own || overseen
}

/// The job that retires expired grants.
pub const EXPIRY_JOB: terrace_platform::jobs::Schedule = terrace_platform::jobs::Schedule {
    job: "identity.grant-expiry",
    every: std::time::Duration::from_secs(60),
};

/// Retires grants whose time is up: marks them revoked (`expired`), audits it and publishes
/// `identity.role.revoked` with `expired = true`, so other services drop the role from their
/// projections. Claimed with `SKIP LOCKED`, so replicas share the work without doubling it.
pub async fn retire_expired(
    db: &DatabaseConnection,
    source: &str,
    now: DateTime<Utc>,
) -> Result<u64> {
    let txn = db.begin().await?;
    let rows = txn
        .query_all_raw(Statement::from_sql_and_values(
            txn.get_database_backend(),
            format!(
                "UPDATE role_grants SET revoked_at = $1, revoke_reason = 'expired' WHERE id IN ( \
                 SELECT id FROM role_grants WHERE revoked_at IS NULL AND expires_at <= $1 \
                 ORDER BY expires_at LIMIT 100 FOR UPDATE SKIP LOCKED) RETURNING {COLUMNS}"
            ),
            [now.into()],
        ))
        .await?;
    let job = operator();
    for row in &rows {
        let row = GrantRow::from_row(row)?;
        audit(
            &txn,
            &job,
            "role.expired",
            Some(row.user_id),
            serde_json::json!({ "grant_id": row.id }),
        )
        .await?;
        let event = pb::RoleRevoked {
            grant: Some(row.to_proto()),
            actor: Some(common::Actor {
                kind: common::ActorKind::System as i32,
                system_component: "grant expiry".to_owned(),
                ..Default::default()
            }),
            expired: true,
        };
        outbox::publish(&txn, source, &event).await?;
    }
    txn.commit().await?;
    Ok(rows.len() as u64)
}

/// The grants `principal` may see: their own, and those in areas where they hold an official role.
pub async fn list(
    ctx: &ServiceContext,
    principal: &Principal,
    user_id: Option<Uuid>,
    include_inactive: bool,
    page_size: u64,
    after: Option<Uuid>,
) -> Result<(Vec<GrantRow>, Option<Uuid>)> {
    let inactive = if include_inactive {
        ""
    } else {
        " AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $4)"
    };
    // Fetch generously and filter by visibility; a page may come back short, the token goes on.
    let rows = ctx
        .db
        .query_all_raw(Statement::from_sql_and_values(
            ctx.db.get_database_backend(),
            format!(
                "SELECT {COLUMNS} FROM role_grants WHERE ($1::uuid IS NULL OR user_id = $1) \
                 AND ($2::uuid IS NULL OR id < $2){inactive} ORDER BY id DESC LIMIT $3"
            ),
            [
                user_id.into(),
                after.into(),
                i64::try_from(page_size).unwrap_or(50).into(),
                ctx.clock.now().into(),
            ],
        ))
        .await?;
    let mut grants = Vec::new();
    let mut last = None;
    for row in &rows {
        let row = GrantRow::from_row(row)?;
        last = Some(row.id);
        if sees(principal, &row) {
            grants.push(row);
        }
    }
    let next = if rows.len() as u64 == page_size {
        last
    } else {
        None
    };
    Ok((grants, next))
}
