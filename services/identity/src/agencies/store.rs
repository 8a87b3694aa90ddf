//! The `agency_clients` table. Raw SQL until the table has its sea-orm entity (the persistence
//! issue); every statement takes "now" from the caller's clock, never the database's.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr, QueryResult, Statement, Value};
use terrace_platform::auth::{AdminScope, RoleGrant};
use terrace_platform::error::{Error, Result};
use uuid::Uuid;

use super::parse::{Authentication, Changes, ListCursor, NewClient};

/// How a client proves who it is, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    Secret,
    Mtls,
}

impl AuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Secret => "secret",
            Self::Mtls => "mtls",
        }
    }
}

/// A client as stored (without its secret hashes, which only the exchange reads).
#[derive(Debug, Clone)]
pub struct ClientRow {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub revoked: bool,
    pub auth_method: AuthMethod,
    pub certificate_sha256: Option<String>,
    pub api_scopes: Vec<String>,
    pub areas: Vec<RoleGrant>,
    pub secret_hint: Option<String>,
    pub secret_rotated_at: Option<DateTime<Utc>>,
    /// Until when the secret before the last rotation still works.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_by: Option<Uuid>,
    pub updated_at: DateTime<Utc>,
    pub last_exchange_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_by: Option<Uuid>,
    pub revoke_reason: Option<String>,
}

const COLUMNS: &str = "id, name, description, status, auth_method, certificate_sha256, api_scopes, \
                       areas, secret_hint, secret_rotated_at, previous_secret_expires_at, \
                       created_by, created_at, updated_by, updated_at, last_exchange_at, \
                       revoked_at, revoked_by, revoke_reason";

fn read_areas(row: &QueryResult) -> Result<Vec<RoleGrant>, DbErr> {
    let json: serde_json::Value = row.try_get("", "areas")?;
    let areas: Vec<RoleGrant> = serde_json::from_value(json)
        .map_err(|error| DbErr::Custom(format!("stored agency areas are not grants: {error}")))?;
    if let Some(bad) = areas.iter().find(|area| area.validate().is_err()) {
        return Err(DbErr::Custom(format!(
            "stored agency area {}@{:?} is not valid",
            bad.role,
            bad.scope.as_str()
        )));
    }
    Ok(areas)
}

fn auth_method(row: &QueryResult) -> Result<AuthMethod, DbErr> {
    let method: String = row.try_get("", "auth_method")?;
    Ok(if method == "mtls" {
        AuthMethod::Mtls
    } else {
        AuthMethod::Secret
    })
}

fn areas_json(areas: &[RoleGrant]) -> Result<serde_json::Value> {
    serde_json::to_value(areas).map_err(Error::internal)
}

impl ClientRow {
    fn from_row(row: &QueryResult) -> Result<Self, DbErr> {
        let status: String = row.try_get("", "status")?;
        Ok(Self {
            id: row.try_get("", "id")?,
            name: row.try_get("", "name")?,
            description: row.try_get("", "description")?,
            revoked: status == "revoked",
            auth_method: auth_method(row)?,
            certificate_sha256: row.try_get("", "certificate_sha256")?,
            api_scopes: row.try_get("", "api_scopes")?,
            areas: read_areas(row)?,
            secret_hint: row.try_get("", "secret_hint")?,
            secret_rotated_at: row.try_get("", "secret_rotated_at")?,
            previous_secret_expires_at: row.try_get("", "previous_secret_expires_at")?,
            created_by: row.try_get("", "created_by")?,
            created_at: row.try_get("", "created_at")?,
            updated_by: row.try_get("", "updated_by")?,
            updated_at: row.try_get("", "updated_at")?,
            last_exchange_at: row.try_get("", "last_exchange_at")?,
            revoked_at: row.try_get("", "revoked_at")?,
            revoked_by: row.try_get("", "revoked_by")?,
            revoke_reason: row.try_get("", "revoke_reason")?,
        })
    }
}

fn rows(rows: &[QueryResult]) -> Result<Vec<ClientRow>> {
    Ok(rows
        .iter()
        .map(ClientRow::from_row)
        .collect::<Result<_, _>>()?)
}

/// The client that `sql` (a statement `RETURNING` or selecting [`COLUMNS`]) answers, if any.
async fn fetch<C: ConnectionTrait>(
    conn: &C,
    sql: String,
    values: impl IntoIterator<Item = Value>,
) -> Result<Option<ClientRow>> {
    let found = conn
        .query_one_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            sql,
            values,
        ))
        .await?;
    Ok(found.as_ref().map(ClientRow::from_row).transpose()?)
}

/// Client `id`.
pub async fn get<C: ConnectionTrait>(conn: &C, id: Uuid) -> Result<Option<ClientRow>> {
    fetch(
        conn,
        format!("SELECT {COLUMNS} FROM agency_clients WHERE id = $1"),
        [id.into()],
    )
    .await
}

/// Client `id`, locked for the rest of the transaction.
pub async fn lock<C: ConnectionTrait>(conn: &C, id: Uuid) -> Result<Option<ClientRow>> {
    fetch(
        conn,
        format!("SELECT {COLUMNS} FROM agency_clients WHERE id = $1 FOR UPDATE"),
        [id.into()],
    )
    .await
}

/// The client created by the request `request_id` of the caller whose idempotency key is
/// `caller_key`.
pub async fn created_by_request<C: ConnectionTrait>(
    conn: &C,
    caller_key: &str,
    request_id: Uuid,
) -> Result<Option<ClientRow>> {
    fetch(
        conn,
        format!(
            "SELECT {COLUMNS} FROM agency_clients \
             WHERE request_caller = $1 AND request_id = $2"
        ),
        [caller_key.into(), request_id.into()],
    )
    .await
}

/// A secret as stored: its argon2id hash and its last four characters.
#[derive(Debug, Clone)]
pub struct StoredSecret {
    pub hash: String,
    pub hint: String,
}

/// A client to insert.
#[derive(Debug)]
pub struct NewRow<'a> {
    pub client: &'a NewClient,
    /// Secret clients' first secret.
    pub secret: Option<StoredSecret>,
    /// The request that creates it, `(caller key, request id)`, so that a retry finds it once
    /// the idempotency log has forgotten the request; none at the command line.
    pub request: Option<(&'a str, Uuid)>,
    pub by: Option<Uuid>,
    pub now: DateTime<Utc>,
}

/// Inserts a client.
pub async fn insert<C: ConnectionTrait>(conn: &C, new: NewRow<'_>) -> Result<ClientRow> {
    let client = new.client;
    let (auth_method, certificate) = match &client.authentication {
        Authentication::Secret => (AuthMethod::Secret, None),
        Authentication::Mtls { certificate_sha256 } => {
            (AuthMethod::Mtls, Some(certificate_sha256.clone()))
        }
    };
    let (hash, hint) = new.secret.map(|secret| (secret.hash, secret.hint)).unzip();
    let rotated_at = hash.as_ref().map(|_| new.now);
    let (request_caller, request_id) = new.request.unzip();
    fetch(
        conn,
        format!(
            "INSERT INTO agency_clients (id, name, description, status, auth_method, \
             certificate_sha256, api_scopes, areas, secret_hash, secret_hint, secret_rotated_at, \
             created_by, created_at, updated_by, updated_at, request_caller, request_id) \
             VALUES ($1, $2, $3, 'active', $4, $5, $6, $7, $8, $9, $10, $11, $12, $11, $12, \
             $13, $14) RETURNING {COLUMNS}"
        ),
        [
            Uuid::now_v7().into(),
            client.name.clone().into(),
            client.description.clone().into(),
            auth_method.as_str().into(),
            certificate.into(),
            client.api_scopes.clone().into(),
            areas_json(&client.areas)?.into(),
            hash.into(),
            hint.into(),
            rotated_at.into(),
            new.by.into(),
            new.now.into(),
            request_caller.map(str::to_owned).into(),
            request_id.into(),
        ],
    )
    .await?
    .ok_or_else(|| Error::internal(anyhow::anyhow!("an insert returned no row")))
}

/// What a list asks for.
#[derive(Debug)]
pub struct Filter<'a> {
    /// Only clients with an area inside this one.
    pub area: Option<&'a AdminScope>,
    pub include_revoked: bool,
}

/// Up to `limit` clients matching `filter`, by name then id, after `after`.
pub async fn page<C: ConnectionTrait>(
    conn: &C,
    filter: &Filter<'_>,
    after: Option<&ListCursor>,
    limit: u64,
) -> Result<Vec<ClientRow>> {
    let (after_name, after_id) = after.cloned().unzip();
    let found = conn
        .query_all_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            format!(
                "SELECT {COLUMNS} FROM agency_clients c \
                 WHERE ($1::text IS NULL OR (c.name, c.id) > ($1, $2::uuid)) \
                   AND ($3 OR c.status = 'active') \
                   AND ($4::text IS NULL OR EXISTS ( \
                        SELECT 1 FROM jsonb_array_elements(c.areas) a \
                        WHERE starts_with(a->>'scope', $4))) \
                 ORDER BY c.name, c.id LIMIT $5"
            ),
            [
                after_name.into(),
                after_id.into(),
                filter.include_revoked.into(),
                filter.area.map(|area| area.as_str().to_owned()).into(),
                i64::try_from(limit).unwrap_or(i64::MAX).into(),
            ],
        ))
        .await?;
    rows(&found)
}

/// Applies `changes` to client `id`.
pub async fn update<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    changes: &Changes,
    by: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<Option<ClientRow>> {
    let areas = changes.areas.as_deref().map(areas_json).transpose()?;
    fetch(
        conn,
        format!(
            "UPDATE agency_clients SET name = COALESCE($2, name), \
             description = COALESCE($3, description), api_scopes = COALESCE($4, api_scopes), \
             areas = COALESCE($5, areas), certificate_sha256 = COALESCE($6, certificate_sha256), \
             updated_by = $7, updated_at = $8 WHERE id = $1 RETURNING {COLUMNS}"
        ),
        [
            id.into(),
            changes.name.clone().into(),
            changes.description.clone().into(),
            changes.api_scopes.clone().into(),
            areas.into(),
            changes.certificate_sha256.clone().into(),
            by.into(),
            now.into(),
        ],
    )
    .await
}

/// Makes `secret` client `id`'s current secret; the one it replaces keeps working until
/// `previous_expires_at` (`None`: not at all). A secret older than the replaced one is dropped.
pub async fn rotate<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    secret: StoredSecret,
    previous_expires_at: Option<DateTime<Utc>>,
    by: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<Option<ClientRow>> {
    fetch(
        conn,
        format!(
            "UPDATE agency_clients SET \
             previous_secret_hash = CASE WHEN $4::timestamptz IS NULL THEN NULL ELSE secret_hash END, \
             previous_secret_expires_at = $4, secret_hash = $2, secret_hint = $3, \
             secret_rotated_at = $5, updated_by = $6, updated_at = $5 \
             WHERE id = $1 RETURNING {COLUMNS}"
        ),
        [
            id.into(),
            secret.hash.into(),
            secret.hint.into(),
            previous_expires_at.into(),
            now.into(),
            by.into(),
        ],
    )
    .await
}

/// Marks client `id` revoked and forgets its previous secret.
pub async fn revoke<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    by: Option<Uuid>,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Option<ClientRow>> {
    fetch(
        conn,
        format!(
            "UPDATE agency_clients SET status = 'revoked', revoked_at = $2, revoked_by = $3, \
             revoke_reason = $4, previous_secret_hash = NULL, previous_secret_expires_at = NULL, \
             updated_by = $3, updated_at = $2 WHERE id = $1 RETURNING {COLUMNS}"
        ),
        [id.into(), now.into(), by.into(), reason.into()],
    )
    .await
}

/// What the exchange reads of a client: its credentials among the rest.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub active: bool,
    pub auth_method: AuthMethod,
    pub certificate_sha256: Option<String>,
    pub secret_hash: Option<String>,
    pub previous_secret_hash: Option<String>,
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub api_scopes: Vec<String>,
    pub areas: Vec<RoleGrant>,
}

/// Client `id`'s credentials.
pub async fn credentials<C: ConnectionTrait>(conn: &C, id: Uuid) -> Result<Option<Credentials>> {
    let found = conn
        .query_one_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            "SELECT status, auth_method, certificate_sha256, secret_hash, previous_secret_hash, \
             previous_secret_expires_at, api_scopes, areas FROM agency_clients WHERE id = $1",
            [id.into()],
        ))
        .await?;
    let read = |row: QueryResult| -> Result<Credentials, DbErr> {
        let status: String = row.try_get("", "status")?;
        Ok(Credentials {
            active: status == "active",
            auth_method: auth_method(&row)?,
            certificate_sha256: row.try_get("", "certificate_sha256")?,
            secret_hash: row.try_get("", "secret_hash")?,
            previous_secret_hash: row.try_get("", "previous_secret_hash")?,
            previous_secret_expires_at: row.try_get("", "previous_secret_expires_at")?,
            api_scopes: row.try_get("", "api_scopes")?,
            areas: read_areas(&row)?,
        })
    };
    Ok(found.map(read).transpose()?)
}

/// Records a successful exchange of client `id`.
pub async fn mark_exchanged<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<()> {
    conn.execute_raw(Statement::from_sql_and_values(
        conn.get_database_backend(),
        "UPDATE agency_clients SET last_exchange_at = $2 WHERE id = $1",
        [id.into(), now.into()],
    ))
    .await?;
    Ok(())
}
