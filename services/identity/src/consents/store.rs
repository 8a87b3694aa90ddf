//! The `consents` table. Raw SQL until the table has its sea-orm entity (the persistence
//! issue); every statement here takes "now" from the caller's clock, never the database's.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, QueryResult, Statement};
use terrace_platform::auth::AdminScope;
use terrace_platform::error::{Error, Result};
use uuid::Uuid;

/// A consent as stored.
#[derive(Debug, Clone)]
pub struct ConsentRow {
    pub id: Uuid,
    pub grantor: Uuid,
    pub helper: Uuid,
    pub scopes: Vec<String>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub note: String,
    pub witnessed: bool,
    pub recorded_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub withdrawn_at: Option<DateTime<Utc>>,
    pub withdrawn_by: Option<Uuid>,
    pub withdraw_reason: Option<String>,
}

const COLUMNS: &str = "id, grantor_user_id, helper_user_id, scopes, starts_at, ends_at, note, \
                       witnessed, recorded_by, created_at, withdrawn_at, withdrawn_by, withdraw_reason";

impl ConsentRow {
    fn from_row(row: &QueryResult) -> Result<Self> {
        let scopes: serde_json::Value = row.try_get("", "scopes")?;
        Ok(Self {
            id: row.try_get("", "id")?,
            grantor: row.try_get("", "grantor_user_id")?,
            helper: row.try_get("", "helper_user_id")?,
            scopes: serde_json::from_value(scopes).map_err(Error::internal)?,
            starts_at: row.try_get("", "starts_at")?,
            ends_at: row.try_get("", "ends_at")?,
            note: row.try_get("", "note")?,
            witnessed: row.try_get("", "witnessed")?,
            recorded_by: row.try_get("", "recorded_by")?,
            created_at: row.try_get("", "created_at")?,
            withdrawn_at: row.try_get("", "withdrawn_at")?,
            withdrawn_by: row.try_get("", "withdrawn_by")?,
            withdraw_reason: row.try_get("", "withdraw_reason")?,
        })
    }
}

fn one(row: Option<QueryResult>) -> Result<Option<ConsentRow>> {
    row.as_ref().map(ConsentRow::from_row).transpose()
}

fn rows(rows: &[QueryResult]) -> Result<Vec<ConsentRow>> {
    rows.iter().map(ConsentRow::from_row).collect()
}

/// Consent `id`, locked for the rest of the transaction when `for_update`.
pub async fn by_id<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    for_update: bool,
) -> Result<Option<ConsentRow>> {
    let lock = if for_update { " FOR UPDATE" } else { "" };
    let found = conn
        .query_one_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            format!("SELECT {COLUMNS} FROM consents WHERE id = $1{lock}"),
            [id.into()],
        ))
        .await?;
    one(found)
}

/// The consent that request `request_id` of the caller keyed `caller_key` created, if any.
pub async fn by_request<C: ConnectionTrait>(
    conn: &C,
    caller_key: &str,
    request_id: Uuid,
) -> Result<Option<ConsentRow>> {
    let found = conn
        .query_one_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            format!("SELECT {COLUMNS} FROM consents WHERE caller_key = $1 AND request_id = $2"),
            [caller_key.into(), request_id.into()],
        ))
        .await?;
    one(found)
}

/// Locks user `id`'s row for the rest of the transaction; `false` when there is no such user.
pub async fn lock_user<C: ConnectionTrait>(conn: &C, id: Uuid) -> Result<bool> {
    let found = conn
        .query_one_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            "SELECT id FROM users WHERE id = $1 FOR UPDATE",
            [id.into()],
        ))
        .await?;
    Ok(found.is_some())
}

/// A live (not withdrawn) consent of `grantor` to `helper` whose period meets
/// `starts_at..ends_at`.
pub async fn overlapping<C: ConnectionTrait>(
    conn: &C,
    grantor: Uuid,
    helper: Uuid,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
) -> Result<Option<Uuid>> {
    let found = conn
        .query_one_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            "SELECT id FROM consents WHERE grantor_user_id = $1 AND helper_user_id = $2 \
             AND withdrawn_at IS NULL AND starts_at < $4 AND ends_at > $3 LIMIT 1",
            [
                grantor.into(),
                helper.into(),
                starts_at.into(),
                ends_at.into(),
            ],
        ))
        .await?;
    Ok(found.map(|row| row.try_get("", "id")).transpose()?)
}

/// A consent to insert.
#[derive(Debug)]
pub struct NewConsent<'a> {
    pub grantor: Uuid,
    pub helper: Uuid,
    pub scopes: &'a [String],
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub note: &'a str,
    pub witnessed: bool,
    pub recorded_by: Uuid,
    pub created_at: DateTime<Utc>,
    /// The request that creates it, unique per caller: a retry after the idempotency log was
    /// pruned finds it by them.
    pub caller_key: &'a str,
    pub request_id: Uuid,
}

/// Inserts `new`.
pub async fn insert<C: ConnectionTrait>(conn: &C, new: NewConsent<'_>) -> Result<ConsentRow> {
    let inserted = conn
        .query_one_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            format!(
                "INSERT INTO consents (id, grantor_user_id, helper_user_id, scopes, starts_at, \
                 ends_at, note, witnessed, recorded_by, created_at, caller_key, request_id) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING {COLUMNS}"
            ),
            [
                Uuid::now_v7().into(),
                new.grantor.into(),
                new.helper.into(),
                serde_json::json!(new.scopes).into(),
                new.starts_at.into(),
                new.ends_at.into(),
                new.note.into(),
                new.witnessed.into(),
                new.recorded_by.into(),
                new.created_at.into(),
                new.caller_key.into(),
                new.request_id.into(),
            ],
        ))
        .await?;
    one(inserted)?.ok_or_else(|| Error::internal(anyhow::anyhow!("insert returned no consent")))
}

/// Marks consent `id` withdrawn at `now` by `by`.
pub async fn mark_withdrawn<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    by: Uuid,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Option<ConsentRow>> {
    let updated = conn
        .query_one_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            format!(
                "UPDATE consents SET withdrawn_at = $4, withdrawn_by = $2, withdraw_reason = $3 \
                 WHERE id = $1 RETURNING {COLUMNS}"
            ),
            [id.into(), by.into(), reason.into(), now.into()],
        ))
        .await?;
    one(updated)
}

/// Marks up to `batch` consents that reached their end by `now` without being withdrawn, and
/// were not announced yet, as announced. Claimed with `SKIP LOCKED`, so replicas running the
/// job at once never announce one twice.
pub async fn mark_expiry_published<C: ConnectionTrait>(
    conn: &C,
    now: DateTime<Utc>,
    batch: u32,
) -> Result<Vec<ConsentRow>> {
    let claimed = conn
        .query_all_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            format!(
                "UPDATE consents SET expiry_published_at = $1 WHERE id IN ( \
                 SELECT id FROM consents WHERE withdrawn_at IS NULL \
                 AND expiry_published_at IS NULL AND ends_at <= $1 \
                 ORDER BY ends_at LIMIT $2 FOR UPDATE SKIP LOCKED) RETURNING {COLUMNS}"
            ),
            [now.into(), i64::from(batch).into()],
        ))
        .await?;
    rows(&claimed)
}

/// What a list asks for.
#[derive(Debug)]
pub struct Filter<'a> {
    /// Consents given by this user.
    pub grantor_is: Option<Uuid>,
    /// Consents held by this user.
    pub helper_is: Option<Uuid>,
    /// Consents given by villagers holding a live role inside one of these areas.
    pub villagers_in: &'a [&'a AdminScope],
    /// Only consents given by this villager.
    pub grantor: Option<Uuid>,
    /// Only consents held by this helper.
    pub helper: Option<Uuid>,
    /// Withdrawn and ended consents too.
    pub include_inactive: bool,
    pub now: DateTime<Utc>,
}

/// A consent in a list, with the areas where its villager holds live roles (for the rule of
/// who sees it).
#[derive(Debug, Clone)]
pub struct Listed {
    pub consent: ConsentRow,
    pub villager_areas: Vec<AdminScope>,
}

/// Up to `limit` consents matching `filter`, newest first, after consent `after`.
pub async fn page<C: ConnectionTrait>(
    conn: &C,
    filter: &Filter<'_>,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<Listed>> {
    let live = "g.user_id = c.grantor_user_id AND g.revoked_at IS NULL \
                AND (g.expires_at IS NULL OR g.expires_at > $1)";
    let columns = COLUMNS
        .split(", ")
        .map(|column| format!("c.{column}"))
        .collect::<Vec<_>>()
        .join(", ");
    let areas: Vec<&str> = filter.villagers_in.iter().map(|a| a.as_str()).collect();
    let found = conn
        .query_all_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            format!(
                "SELECT {columns}, (SELECT COALESCE(jsonb_agg(g.scope), '[]'::jsonb) \
                 FROM role_grants g WHERE {live}) AS villager_areas \
                 FROM consents c WHERE \
                 (c.grantor_user_id = $2 OR c.helper_user_id = $3 OR EXISTS ( \
                    SELECT 1 FROM jsonb_array_elements_text($4::jsonb) AS area(prefix) \
                    WHERE area.prefix = '' OR EXISTS ( \
                      SELECT 1 FROM role_grants g WHERE {live} \
                      AND starts_with(g.scope, area.prefix)))) \
                 AND ($5::uuid IS NULL OR c.grantor_user_id = $5) \
                 AND ($6::uuid IS NULL OR c.helper_user_id = $6) \
                 AND ($7::uuid IS NULL OR c.id < $7) \
                 AND ($8 OR (c.withdrawn_at IS NULL AND c.ends_at > $1)) \
                 ORDER BY c.id DESC LIMIT $9"
            ),
            [
                filter.now.into(),
                filter.grantor_is.into(),
                filter.helper_is.into(),
                serde_json::json!(areas).into(),
                filter.grantor.into(),
                filter.helper.into(),
                after.into(),
                filter.include_inactive.into(),
                i64::try_from(limit).unwrap_or(i64::MAX).into(),
            ],
        ))
        .await?;
    found
        .iter()
        .map(|row| {
            let areas: Vec<String> = serde_json::from_value(row.try_get("", "villager_areas")?)
                .map_err(Error::internal)?;
            let villager_areas = areas
                .iter()
                .map(|area| AdminScope::parse(area).map_err(Error::internal))
                .collect::<Result<_>>()?;
            Ok(Listed {
                consent: ConsentRow::from_row(row)?,
                villager_areas,
            })
        })
        .collect()
}
