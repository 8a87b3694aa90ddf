//! The `audit_records` table. Raw SQL until the table has its sea-orm entity; every statement
//! takes "now" from the caller's clock, never the database's.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr, QueryResult, Statement};
use terrace_platform::auth::AdminScope;
use terrace_platform::error::Result;
use uuid::Uuid;

/// A record as stored.
#[derive(Debug, Clone)]
pub struct AuditRow {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    /// A user id, `agency:<client id>` or `system:<component>`.
    pub actor_id: String,
    pub on_behalf_of: Option<String>,
    pub action: String,
    pub target_user: Option<Uuid>,
    /// The details, as JSON text.
    pub details: String,
}

impl AuditRow {
    fn from_row(row: &QueryResult) -> Result<Self, DbErr> {
        Ok(Self {
            id: row.try_get("", "id")?,
            at: row.try_get("", "at")?,
            actor_id: row.try_get("", "actor_id")?,
            on_behalf_of: row.try_get("", "on_behalf_of")?,
            action: row.try_get("", "action")?,
            target_user: row.try_get("", "target_user")?,
            details: row.try_get("", "details")?,
        })
    }
}

/// A record to write.
#[derive(Debug)]
pub struct NewRecord<'a> {
    pub actor_id: String,
    pub on_behalf_of: Option<String>,
    pub action: &'a str,
    pub target_user: Option<Uuid>,
    pub details: serde_json::Value,
    pub at: DateTime<Utc>,
}

/// Writes `record`.
pub async fn insert<C: ConnectionTrait>(conn: &C, record: NewRecord<'_>) -> Result<(), DbErr> {
    conn.execute_raw(Statement::from_sql_and_values(
        conn.get_database_backend(),
        "INSERT INTO audit_records (id, actor_id, on_behalf_of, action, target_user, details, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        [
            Uuid::now_v7().into(),
            record.actor_id.into(),
            record.on_behalf_of.into(),
            record.action.into(),
            record.target_user.into(),
            record.details.into(),
            record.at.into(),
        ],
    ))
    .await?;
    Ok(())
}

/// Which records a list may show and asks for.
#[derive(Debug)]
pub struct Filter<'a> {
    /// Every record may be shown.
    pub everything: bool,
    /// Records about this user may be shown.
    pub own: Option<Uuid>,
    /// Records about users living (holding a live grant) inside these areas may be shown.
    pub areas: &'a [AdminScope],
    /// Only records about users living inside this area.
    pub area: Option<&'a AdminScope>,
    /// Only these actions; empty: all.
    pub actions: &'a [String],
    pub target: Option<Uuid>,
    pub actor: Option<Uuid>,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    /// What "live" means for a grant.
    pub now: DateTime<Utc>,
}

/// Up to `limit` records matching `filter`, newest first, after record `after`. Area codes
/// (digits) and action names (letters, dots, underscores) travel as comma-separated lists.
pub async fn page<C: ConnectionTrait>(
    conn: &C,
    filter: &Filter<'_>,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<AuditRow>> {
    let areas: Vec<&str> = filter.areas.iter().map(AdminScope::as_str).collect();
    let actions = (!filter.actions.is_empty()).then(|| filter.actions.join(","));
    let found = conn
        .query_all_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            "SELECT a.id, a.at, a.actor_id, a.on_behalf_of, a.action, a.target_user, \
             a.details::text AS details FROM audit_records a \
             WHERE ($1 OR a.target_user = $2 OR EXISTS (SELECT 1 FROM role_grants g \
                 WHERE g.user_id = a.target_user AND g.revoked_at IS NULL \
                 AND (g.expires_at IS NULL OR g.expires_at > $3) \
                 AND EXISTS (SELECT 1 FROM unnest(string_to_array($4, ',')) AS p(prefix) \
                     WHERE starts_with(g.scope, p.prefix)))) \
             AND ($5::text IS NULL OR EXISTS (SELECT 1 FROM role_grants g \
                 WHERE g.user_id = a.target_user AND g.revoked_at IS NULL \
                 AND (g.expires_at IS NULL OR g.expires_at > $3) AND starts_with(g.scope, $5))) \
             AND ($6::text IS NULL OR a.action = ANY(string_to_array($6, ','))) \
             AND ($7::uuid IS NULL OR a.target_user = $7) \
             AND ($8::text IS NULL OR a.actor_id = $8) \
             AND ($9::uuid IS NULL OR a.id < $9) \
             AND ($10::timestamptz IS NULL OR a.at >= $10) \
             AND ($11::timestamptz IS NULL OR a.at < $11) \
             ORDER BY a.id DESC LIMIT $12",
            [
                filter.everything.into(),
                filter.own.into(),
                filter.now.into(),
                areas.join(",").into(),
                filter.area.map(|area| area.as_str().to_owned()).into(),
                actions.into(),
                filter.target.into(),
                filter.actor.map(|actor| actor.to_string()).into(),
                after.into(),
                filter.start.into(),
                filter.end.into(),
                i64::try_from(limit).unwrap_or(i64::MAX).into(),
            ],
        ))
        .await?;
    Ok(found
        .iter()
        .map(AuditRow::from_row)
        .collect::<Result<_, _>>()?)
}
