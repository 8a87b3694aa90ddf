//! The `role_grants` table, through its entity ([`crate::entity::role_grants`]); every
//! statement here takes "now" from the caller's clock, never the database's.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait as _, IntoColumnRef, OnConflict, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait as _, Condition, ConnectionTrait, DbErr, EntityTrait as _,
    QueryFilter as _, QueryOrder as _, QuerySelect as _, QueryTrait as _, Statement,
    TryInsertResult,
};
use terrace_platform::auth::{AdminScope, Role, RoleGrant};
use terrace_platform::error::Result;
use uuid::Uuid;

use crate::entity::role_grants::{self, Column, Entity};

/// A grant as the service reads it: the stored row with its role and area parsed.
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

impl TryFrom<role_grants::Model> for GrantRow {
    type Error = DbErr;

    /// An unknown role or an invalid area is an error, never a default.
    fn try_from(row: role_grants::Model) -> Result<Self, DbErr> {
        let grant = row
            .role
            .parse::<Role>()
            .ok()
            .and_then(|role| RoleGrant::parse(role, &row.scope).ok())
            .ok_or_else(|| {
                DbErr::Custom(format!(
                    "stored grant {}@{} is not valid",
                    row.role, row.scope
                ))
            })?;
        Ok(Self {
            id: row.id,
            user_id: row.user_id,
            grant,
            expires_at: row.expires_at,
            reason: row.reason,
            granted_by: row.granted_by,
            granted_at: row.granted_at,
            revoked_at: row.revoked_at,
            revoked_by: row.revoked_by,
            revoke_reason: row.revoke_reason,
        })
    }
}

fn rows(rows: Vec<role_grants::Model>) -> Result<Vec<GrantRow>> {
    Ok(rows
        .into_iter()
        .map(GrantRow::try_from)
        .collect::<Result<_, _>>()?)
}

fn one(row: Option<role_grants::Model>) -> Result<Option<GrantRow>> {
    Ok(row.map(GrantRow::try_from).transpose()?)
}

/// Not revoked and not expired at `now`.
fn live_at(now: DateTime<Utc>) -> Condition {
    Condition::all().add(Column::RevokedAt.is_null()).add(
        Condition::any()
            .add(Column::ExpiresAt.is_null())
            .add(Column::ExpiresAt.gt(now)),
    )
}

/// Whether the user in column `user` of the outer query holds a grant live at `now` inside one of
/// `areas` (no areas: false): `EXISTS (SELECT 1 FROM role_grants g WHERE g.user_id = <user> ..)`.
/// How the audit trail and consents find the people living in an area.
pub fn lives_in(user: impl IntoColumnRef, areas: &[&AdminScope], now: DateTime<Utc>) -> Expr {
    let g = Alias::new("g");
    let column = |column: Column| Expr::col((g.clone(), column));
    // Area codes are digits: no LIKE wildcard to escape.
    let inside = areas.iter().fold(Condition::any(), |inside, area| {
        inside.add(column(Column::Scope).like(format!("{}%", area.as_str())))
    });
    Expr::exists(
        Query::select()
            .expr(Expr::val(1))
            .from_as(Entity, g.clone())
            .and_where(column(Column::UserId).equals(user))
            .and_where(column(Column::RevokedAt).is_null())
            .cond_where(
                Condition::any()
                    .add(column(Column::ExpiresAt).is_null())
                    .add(column(Column::ExpiresAt).gt(now)),
            )
            .cond_where(inside)
            .to_owned(),
    )
}

/// The grant of `grant` to `user_id` (any state).
fn of(user_id: Uuid, grant: &RoleGrant) -> Condition {
    Condition::all()
        .add(Column::UserId.eq(user_id))
        .add(Column::Role.eq(grant.role.as_str()))
        .add(Column::Scope.eq(grant.scope.as_str()))
}

/// The live (not revoked, not expired at `now`) grants of a user.
pub async fn live<C: ConnectionTrait>(
    conn: &C,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Vec<GrantRow>> {
    let found = Entity::find()
        .filter(Column::UserId.eq(user_id))
        .filter(live_at(now))
        .order_by_asc(Column::GrantedAt)
        .all(conn)
        .await?;
    rows(found)
}

/// The live (not revoked, not expired at `now`) grants of `users`.
pub async fn live_of<C: ConnectionTrait>(
    conn: &C,
    users: &[Uuid],
    now: DateTime<Utc>,
) -> Result<Vec<GrantRow>> {
    if users.is_empty() {
        return Ok(Vec::new());
    }
    let found = Entity::find()
        .filter(Column::UserId.is_in(users.iter().copied()))
        .filter(live_at(now))
        .order_by_asc(Column::GrantedAt)
        .all(conn)
        .await?;
    rows(found)
}

/// Marks the expired grant holding the place of `grant` in the one-live-grant index as
/// revoked, so the role can be given again.
pub async fn retire_expired_slot<C: ConnectionTrait>(
    conn: &C,
    user_id: Uuid,
    grant: &RoleGrant,
    now: DateTime<Utc>,
) -> Result<()> {
    Entity::update_many()
        .col_expr(Column::RevokedAt, Expr::value(now))
        .col_expr(Column::RevokeReason, Expr::value("expired"))
        .filter(of(user_id, grant))
        .filter(Column::RevokedAt.is_null())
        .filter(Column::ExpiresAt.lte(now))
        .exec(conn)
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
    let found = Entity::find()
        .filter(Column::CreatedByKey.eq(request.0))
        .filter(Column::CreatedRequestId.eq(request.1))
        .one(conn)
        .await?;
    one(found)
}

/// Inserts `new`; `None` when the same live grant exists (the unique index says so:
/// `ON CONFLICT DO NOTHING`, with no target, as any unique index of the table may answer).
pub async fn insert<C: ConnectionTrait>(conn: &C, new: NewGrant<'_>) -> Result<Option<GrantRow>> {
    let row = role_grants::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(new.user_id),
        role: Set(new.grant.role.as_str().to_owned()),
        scope: Set(new.grant.scope.as_str().to_owned()),
        expires_at: Set(new.expires_at),
        reason: Set(new.reason.to_owned()),
        granted_by: Set(new.granted_by),
        granted_at: Set(new.granted_at),
        created_by_key: Set(new.request.map(|(key, _)| key.to_owned())),
        created_request_id: Set(new.request.map(|(_, id)| id)),
        ..Default::default()
    };
    // `exec_with_returning_many`: the one-row `exec_with_returning` reports a conflict's empty
    // RETURNING as `RecordNotFound`, not as `Conflicted` (as in `users::insert`).
    let inserted = Entity::insert(row)
        .on_conflict(OnConflict::new().do_nothing().to_owned())
        .try_insert()
        .exec_with_returning_many(conn)
        .await?;
    match inserted {
        TryInsertResult::Inserted(rows) => one(rows.into_iter().next()),
        TryInsertResult::Conflicted | TryInsertResult::Empty => Ok(None),
    }
}

/// The live grant of `grant` to `user_id`.
pub async fn live_one<C: ConnectionTrait>(
    conn: &C,
    user_id: Uuid,
    grant: &RoleGrant,
) -> Result<Option<GrantRow>> {
    let found = Entity::find()
        .filter(of(user_id, grant))
        .filter(Column::RevokedAt.is_null())
        .one(conn)
        .await?;
    one(found)
}

/// Grant `id`, locked (`FOR UPDATE`) for the rest of the transaction.
pub async fn lock<C: ConnectionTrait>(conn: &C, id: Uuid) -> Result<Option<GrantRow>> {
    let found = Entity::find_by_id(id).lock_exclusive().one(conn).await?;
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
    let updated = Entity::update_many()
        .col_expr(Column::RevokedAt, Expr::value(now))
        .col_expr(Column::RevokedBy, Expr::value(by))
        .col_expr(Column::RevokeReason, Expr::value(reason))
        .filter(Column::Id.eq(id))
        .exec_with_returning(conn)
        .await?;
    one(updated.into_iter().next())
}

/// Marks up to `batch` grants whose time is up at `now` as revoked (`expired`). Raw SQL: the
/// claim is one `UPDATE .. WHERE id IN (SELECT .. FOR UPDATE SKIP LOCKED) RETURNING`, so replicas
/// share the work without doubling it, in one round trip; the rows still map to the entity.
pub async fn retire_expired<C: ConnectionTrait>(
    conn: &C,
    now: DateTime<Utc>,
    batch: u32,
) -> Result<Vec<GrantRow>> {
    let retired = Entity::find()
        .from_raw_sql(Statement::from_sql_and_values(
            conn.get_database_backend(),
            "UPDATE role_grants SET revoked_at = $1, revoke_reason = 'expired' WHERE id IN ( \
             SELECT id FROM role_grants WHERE revoked_at IS NULL AND expires_at <= $1 \
             ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED) RETURNING *",
            [now.into(), i64::from(batch).into()],
        ))
        .all(conn)
        .await?;
    rows(retired)
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
    let found = Entity::find()
        .apply_if(filter.user_id, |query, user| {
            query.filter(Column::UserId.eq(user))
        })
        .apply_if(after, |query, after| query.filter(Column::Id.lt(after)))
        // Area codes are digits: no LIKE wildcard to escape.
        .apply_if(filter.area, |query, area| {
            query.filter(Column::Scope.starts_with(area.as_str()))
        })
        .apply_if(filter.role, |query, role| {
            query.filter(Column::Role.eq(role.as_str()))
        })
        .apply_if(
            (!filter.include_inactive).then_some(filter.now),
            |query, now| query.filter(live_at(now)),
        )
        .order_by_desc(Column::Id)
        .limit(limit)
        .all(conn)
        .await?;
    rows(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(role: &str, scope: &str) -> role_grants::Model {
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        role_grants::Model {
            id: Uuid::now_v7(),
            user_id: Uuid::now_v7(),
            role: role.to_owned(),
            scope: scope.to_owned(),
            expires_at: None,
            reason: String::new(),
            granted_by: None,
            granted_at: at,
            revoked_at: None,
            revoked_by: None,
            revoke_reason: None,
            created_by_key: None,
            created_request_id: None,
        }
    }

    #[test]
    fn every_stored_role_reads_back_and_an_unknown_one_is_an_error() {
        // The narrowest area (a village) suits every role.
        let village = "110101001001";
        for role in Role::ALL {
            let row = GrantRow::try_from(stored(role.as_str(), village)).unwrap();
            assert_eq!(row.grant.role, role);
            assert_eq!(row.grant.scope.as_str(), village);
        }
        assert!(GrantRow::try_from(stored("mayor", village)).is_err());
        assert!(GrantRow::try_from(stored("Farmer", village)).is_err());
        // A stored area the role may not hold is as bad as an unknown role.
        assert!(GrantRow::try_from(stored("farmer", "")).is_err());
        assert!(GrantRow::try_from(stored("farmer", "11x")).is_err());
    }
}
