//! The `role_grants` table. Raw SQL until the table has its sea-orm entity (the persistence
//! issue); every statement here takes "now" from the caller's clock, never the database's.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr, QueryResult, Statement};
use terrace_platform::auth::{AdminScope, Role, RoleGrant};
use terrace_platform::error::Result;
use uuid::Uuid;

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

const COLUMNS: &str = "id, user_id, role, scope, expires_at, reason, granted_by, granted_at, \
                       revoked_at, revoked_by, revoke_reason";

impl GrantRow {
    fn from_row(row: &QueryResult) -> Result<Self, DbErr> {
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
}

fn rows(rows: &[QueryResult]) -> Result<Vec<GrantRow>> {
    Ok(rows
        .iter()
        .map(GrantRow::from_row)
        .collect::<Result<_, _>>()?)
}

fn one(row: Option<QueryResult>) -> Result<Option<GrantRow>> {
    Ok(row.as_ref().map(GrantRow::from_row).transpose()?)
}

/// The live (not revoked, not expired at `now`) grants of a user.
pub async fn live<C: ConnectionTrait>(
    conn: &C,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Vec<GrantRow>> {
    let found = conn
        .query_all_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            format!(
                "SELECT {COLUMNS} FROM role_grants WHERE user_id = $1 AND revoked_at IS NULL \
                 AND (expires_at IS NULL OR expires_at > $2) ORDER BY granted_at"
            ),
            [user_id.into(), now.into()],
        ))
        .await?;
    rows(&found)
}

/// Marks the expired grant holding the place of `grant` in the one-live-grant index as
/// revoked, so the role can be given again.
pub async fn retire_expired_slot<C: ConnectionTrait>(
    conn: &C,
    user_id: Uuid,
    grant: &RoleGrant,
    now: DateTime<Utc>,
) -> Result<()> {
    conn.execute_raw(Statement::from_sql_and_values(
        conn.get_database_backend(),
        "UPDATE role_grants SET revoked_at = $4, revoke_reason = 'expired' \
         WHERE user_id = $1 AND role = $2 AND scope = $3 AND revoked_at IS NULL \
         AND expires_at <= $4",
        [
            user_id.into(),
            grant.role.as_str().into(),
            grant.scope.as_str().into(),
            now.into(),
        ],
    ))
    .await?;
    Ok(())
}

/// A grant to insert.
#[derive(Debug)]
pub struct NewGrant<'a> {
    pub user_id: Uuid,
    pub grant: &'a RoleGrant,
    pub expires_at: Option<DateTime<Utc>>,
    pub reason: &'a str,
    pub granted_by: Option<Uuid>,
    pub granted_at: DateTime<Utc>,
    /// The request that made it: `(caller key, request id)`.
    pub request: Option<(&'a str, Uuid)>,
}

/// The grant made by `request` (`(caller key, request id)`), if any.
pub async fn by_request<C: ConnectionTrait>(
    conn: &C,
    request: (&str, Uuid),
) -> Result<Option<GrantRow>> {
    let found = conn
        .query_one_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            format!(
                "SELECT {COLUMNS} FROM role_grants \
                 WHERE created_by_key = $1 AND created_request_id = $2"
            ),
            [request.0.into(), request.1.into()],
        ))
        .await?;
    one(found)
}

/// Inserts `new`; `None` when the same live grant exists (the unique index says so, raw SQL
/// for its `ON CONFLICT DO NOTHING`).
pub async fn insert<C: ConnectionTrait>(conn: &C, new: NewGrant<'_>) -> Result<Option<GrantRow>> {
    let inserted = conn
        .query_one_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            format!(
                "INSERT INTO role_grants \
                 (id, user_id, role, scope, expires_at, reason, granted_by, granted_at, \
                  created_by_key, created_request_id) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING \
                 RETURNING {COLUMNS}"
            ),
            [
                Uuid::now_v7().into(),
                new.user_id.into(),
                new.grant.role.as_str().into(),
                new.grant.scope.as_str().into(),
                new.expires_at.into(),
                new.reason.into(),
                new.granted_by.into(),
                new.granted_at.into(),
                new.request.map(|(key, _)| key.to_owned()).into(),
                new.request.map(|(_, id)| id).into(),
            ],
        ))
        .await?;
    one(inserted)
}

/// The live grant of `grant` to `user_id`.
pub async fn live_one<C: ConnectionTrait>(
    conn: &C,
    user_id: Uuid,
    grant: &RoleGrant,
) -> Result<Option<GrantRow>> {
    let found = conn
        .query_one_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            format!(
                "SELECT {COLUMNS} FROM role_grants \
                 WHERE user_id = $1 AND role = $2 AND scope = $3 AND revoked_at IS NULL"
            ),
            [
                user_id.into(),
                grant.role.as_str().into(),
                grant.scope.as_str().into(),
            ],
        ))
        .await?;
    one(found)
}

/// Grant `id`, locked for the rest of the transaction.
pub async fn lock<C: ConnectionTrait>(conn: &C, id: Uuid) -> Result<Option<GrantRow>> {
    let found = conn
        .query_one_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            format!("SELECT {COLUMNS} FROM role_grants WHERE id = $1 FOR UPDATE"),
            [id.into()],
        ))
        .await?;
    one(found)
}

/// Marks grant `id` revoked.
pub async fn mark_revoked<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    by: Option<Uuid>,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Option<GrantRow>> {
    let updated = conn
        .query_one_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            format!(
                "UPDATE role_grants SET revoked_at = $4, revoked_by = $2, revoke_reason = $3 \
                 WHERE id = $1 RETURNING {COLUMNS}"
            ),
            [id.into(), by.into(), reason.into(), now.into()],
        ))
        .await?;
    one(updated)
}

/// Marks up to `batch` grants whose time is up at `now` as revoked (`expired`). Claimed with
/// `SKIP LOCKED` (raw SQL for it), so replicas share the work without doubling it.
pub async fn retire_expired<C: ConnectionTrait>(
    conn: &C,
    now: DateTime<Utc>,
    batch: u32,
) -> Result<Vec<GrantRow>> {
    let retired = conn
        .query_all_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            format!(
                "UPDATE role_grants SET revoked_at = $1, revoke_reason = 'expired' WHERE id IN ( \
                 SELECT id FROM role_grants WHERE revoked_at IS NULL AND expires_at <= $1 \
                 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED) RETURNING {COLUMNS}"
            ),
            [now.into(), i64::from(batch).into()],
        ))
        .await?;
    rows(&retired)
}

/// What a list asks for.
#[derive(Debug)]
pub struct Filter<'a> {
    pub user_id: Option<Uuid>,
    pub area: Option<&'a AdminScope>,
    pub role: Option<Role>,
    /// Revoked and expired grants too.
    pub include_inactive: bool,
    pub now: DateTime<Utc>,
}

/// Up to `limit` grants matching `filter`, newest first, after grant `after`.
pub async fn page<C: ConnectionTrait>(
    conn: &C,
    filter: &Filter<'_>,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<GrantRow>> {
    let found = conn
        .query_all_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            format!(
                "SELECT {COLUMNS} FROM role_grants WHERE ($1::uuid IS NULL OR user_id = $1) \
                 AND ($2::uuid IS NULL OR id < $2) \
                 AND ($3::text IS NULL OR scope LIKE $3 || '%') \
                 AND ($4::text IS NULL OR role = $4) \
                 AND ($5 OR (revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $6))) \
                 ORDER BY id DESC LIMIT $7"
            ),
            [
                filter.user_id.into(),
                after.into(),
                filter.area.map(|area| area.as_str().to_owned()).into(),
                filter.role.map(|role| role.as_str().to_owned()).into(),
                filter.include_inactive.into(),
                filter.now.into(),
                i64::try_from(limit).unwrap_or(i64::MAX).into(),
            ],
        ))
        .await?;
    rows(&found)
}
