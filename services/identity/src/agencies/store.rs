//! The `agency_clients` table, through its entity ([`crate::entity::agency_clients`]); every
//! statement takes "now" from the caller's clock, never the database's.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait as _, Condition, ConnectionTrait, DbErr, EntityTrait as _, QueryFilter as _,
    QueryOrder as _, QuerySelect as _, QueryTrait as _,
};
use terrace_platform::auth::{AdminScope, RoleGrant};
use terrace_platform::error::{Error, Result};
use uuid::Uuid;

use super::parse::{Authentication, Changes, ListCursor, NewClient};
use crate::entity::agency_clients::{self, Column, Entity, Status};

pub use crate::entity::agency_clients::AuthMethod;

/// A client as the service reads it (without its secret hashes, which only the exchange reads):
/// the stored row with its areas parsed.
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

/// The stored areas: a JSON array of valid grants, or an error.
fn read_areas(json: serde_json::Value) -> Result<Vec<RoleGrant>, DbErr> {
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

fn areas_json(areas: &[RoleGrant]) -> Result<serde_json::Value> {
    serde_json::to_value(areas).map_err(Error::internal)
}

impl TryFrom<agency_clients::Model> for ClientRow {
    type Error = DbErr;

    fn try_from(row: agency_clients::Model) -> Result<Self, DbErr> {
        Ok(Self {
            id: row.id,
            name: row.name,
            description: row.description,
            revoked: row.status == Status::Revoked,
            auth_method: row.auth_method,
            certificate_sha256: row.certificate_sha256,
            api_scopes: row.api_scopes,
            areas: read_areas(row.areas)?,
            secret_hint: row.secret_hint,
            secret_rotated_at: row.secret_rotated_at,
            previous_secret_expires_at: row.previous_secret_expires_at,
            created_by: row.created_by,
            created_at: row.created_at,
            updated_by: row.updated_by,
            updated_at: row.updated_at,
            last_exchange_at: row.last_exchange_at,
            revoked_at: row.revoked_at,
            revoked_by: row.revoked_by,
            revoke_reason: row.revoke_reason,
        })
    }
}

fn one(row: Option<agency_clients::Model>) -> Result<Option<ClientRow>> {
    Ok(row.map(ClientRow::try_from).transpose()?)
}

/// Client `id`.
pub async fn get<C: ConnectionTrait>(conn: &C, id: Uuid) -> Result<Option<ClientRow>> {
    one(Entity::find_by_id(id).one(conn).await?)
}

/// Client `id`, locked (`FOR UPDATE`) for the rest of the transaction.
pub async fn lock<C: ConnectionTrait>(conn: &C, id: Uuid) -> Result<Option<ClientRow>> {
    one(Entity::find_by_id(id).lock_exclusive().one(conn).await?)
}

/// The client created by the request `request_id` of the caller whose idempotency key is
/// `caller_key`.
pub async fn created_by_request<C: ConnectionTrait>(
    conn: &C,
    caller_key: &str,
    request_id: Uuid,
) -> Result<Option<ClientRow>> {
    let found = Entity::find()
        .filter(Column::RequestCaller.eq(caller_key))
        .filter(Column::RequestId.eq(request_id))
        .one(conn)
        .await?;
    one(found)
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
    let row = agency_clients::ActiveModel {
        id: Set(Uuid::now_v7()),
        name: Set(client.name.clone()),
        description: Set(client.description.clone()),
        status: Set(Status::Active),
        auth_method: Set(auth_method),
        certificate_sha256: Set(certificate),
        api_scopes: Set(client.api_scopes.clone()),
        areas: Set(areas_json(&client.areas)?),
        secret_hash: Set(hash),
        secret_hint: Set(hint),
        secret_rotated_at: Set(rotated_at),
        created_by: Set(new.by),
        created_at: Set(new.now),
        updated_by: Set(new.by),
        updated_at: Set(new.now),
        request_caller: Set(request_caller.map(str::to_owned)),
        request_id: Set(request_id),
        ..Default::default()
    };
    Ok(ClientRow::try_from(
        Entity::insert(row).exec_with_returning(conn).await?,
    )?)
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
    let found = Entity::find()
        // Keyset: (name, id) > the cursor's.
        .apply_if(after, |query, (name, id)| {
            query.filter(
                Expr::tuple([Expr::col(Column::Name), Expr::col(Column::Id)])
                    .gt(Expr::tuple([Expr::val(name.as_str()), Expr::val(*id)])),
            )
        })
        .apply_if((!filter.include_revoked).then_some(()), |query, ()| {
            query.filter(Column::Status.eq(Status::Active))
        })
        // A fragment of SQL: the builder has no set-returning `jsonb_array_elements` to look
        // inside the JSON areas with.
        .apply_if(filter.area, |query, area| {
            query.filter(Expr::cust_with_values(
                "EXISTS (SELECT 1 FROM jsonb_array_elements(agency_clients.areas) a \
                 WHERE starts_with(a->>'scope', $1))",
                [area.as_str()],
            ))
        })
        .order_by_asc(Column::Name)
        .order_by_asc(Column::Id)
        .limit(limit)
        .all(conn)
        .await?;
    Ok(found
        .into_iter()
        .map(ClientRow::try_from)
        .collect::<Result<_, _>>()?)
}

/// Every client, revoked ones too, with an area inside one of `areas` (no areas: none): the
/// candidates among which the audit trail looks for the clients an official manages.
pub async fn with_area_inside<C: ConnectionTrait>(
    conn: &C,
    areas: &[&AdminScope],
) -> Result<Vec<ClientRow>> {
    if areas.is_empty() {
        return Ok(Vec::new());
    }
    // A fragment of SQL, as in `page`: the builder cannot look inside the JSON areas.
    let inside = areas.iter().fold(Condition::any(), |inside, area| {
        inside.add(Expr::cust_with_values(
            "EXISTS (SELECT 1 FROM jsonb_array_elements(agency_clients.areas) a \
             WHERE starts_with(a->>'scope', $1))",
            [area.as_str()],
        ))
    });
    let found = Entity::find().filter(inside).all(conn).await?;
    Ok(found
        .into_iter()
        .map(ClientRow::try_from)
        .collect::<Result<_, _>>()?)
}

/// Writes the fields `row` sets to client `id`; the client as it then is.
async fn set<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    row: agency_clients::ActiveModel,
) -> Result<Option<ClientRow>> {
    let updated = Entity::update_many()
        .set(row)
        .filter(Column::Id.eq(id))
        .exec_with_returning(conn)
        .await?;
    one(updated.into_iter().next())
}

/// `Some(v)` is a change to `v`; `None` leaves the field as it is.
fn change<T: Into<sea_orm::Value>>(value: Option<T>) -> sea_orm::ActiveValue<T> {
    value.map_or(NotSet, Set)
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
    let row = agency_clients::ActiveModel {
        name: change(changes.name.clone()),
        description: change(changes.description.clone()),
        api_scopes: change(changes.api_scopes.clone()),
        areas: change(areas),
        certificate_sha256: change(changes.certificate_sha256.clone().map(Some)),
        updated_by: Set(by),
        updated_at: Set(now),
        ..Default::default()
    };
    set(conn, id, row).await
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
    // The replaced secret is the stored one: copied within the statement, so the row's own
    // value moves, never one read earlier.
    let previous = if previous_expires_at.is_some() {
        Expr::col(Column::SecretHash)
    } else {
        Expr::value(Option::<String>::None)
    };
    let updated = Entity::update_many()
        .col_expr(Column::PreviousSecretHash, previous)
        .col_expr(
            Column::PreviousSecretExpiresAt,
            Expr::value(previous_expires_at),
        )
        .col_expr(Column::SecretHash, Expr::value(secret.hash))
        .col_expr(Column::SecretHint, Expr::value(secret.hint))
        .col_expr(Column::SecretRotatedAt, Expr::value(now))
        .col_expr(Column::UpdatedBy, Expr::value(by))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::Id.eq(id))
        .exec_with_returning(conn)
        .await?;
    one(updated.into_iter().next())
}

/// Marks client `id` revoked and forgets its previous secret.
pub async fn revoke<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    by: Option<Uuid>,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Option<ClientRow>> {
    let row = agency_clients::ActiveModel {
        status: Set(Status::Revoked),
        revoked_at: Set(Some(now)),
        revoked_by: Set(by),
        revoke_reason: Set(Some(reason.to_owned())),
        previous_secret_hash: Set(None),
        previous_secret_expires_at: Set(None),
        updated_by: Set(by),
        updated_at: Set(now),
        ..Default::default()
    };
    set(conn, id, row).await
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

impl TryFrom<agency_clients::Model> for Credentials {
    type Error = DbErr;

    fn try_from(row: agency_clients::Model) -> Result<Self, DbErr> {
        Ok(Self {
            active: row.status == Status::Active,
            auth_method: row.auth_method,
            certificate_sha256: row.certificate_sha256,
            secret_hash: row.secret_hash,
            previous_secret_hash: row.previous_secret_hash,
            previous_secret_expires_at: row.previous_secret_expires_at,
            api_scopes: row.api_scopes,
            areas: read_areas(row.areas)?,
        })
    }
}

/// Client `id`'s credentials.
pub async fn credentials<C: ConnectionTrait>(conn: &C, id: Uuid) -> Result<Option<Credentials>> {
    let found = Entity::find_by_id(id).one(conn).await?;
    Ok(found.map(Credentials::try_from).transpose()?)
}

/// Records a successful exchange of client `id`.
pub async fn mark_exchanged<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<()> {
    Entity::update_many()
        .col_expr(Column::LastExchangeAt, Expr::value(now))
        .filter(Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}
