//! The `users` table as user management reads and writes it, beside [`crate::users`] (whose
//! reads and inserts it uses), through the [`crate::entity::users`] entity; every statement takes
//! "now" from the caller's clock, never the database's.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait as _, ConnectionTrait, EntityTrait as _, QueryFilter as _, QuerySelect as _,
    Statement,
};
use terrace_platform::auth::{AdminScope, Role};
use terrace_platform::error::Result;
use uuid::Uuid;

use super::parse::{Profile, Search, UserCursor};
use crate::domain::phone::PhoneNumber;
use crate::entity::users::{Column, Entity as Users};
use crate::grants::{self, GrantRow};
use crate::users::{self, User, UserStatus};

/// A user with what management shows and decides by.
#[derive(Debug, Clone)]
pub struct UserView {
    /// Every column of the user's row (e-mail, creator and status rank included).
    pub row: User,
    /// Their live grants: where they live.
    pub grants: Vec<GrantRow>,
}

impl UserView {
    /// The areas the user lives in.
    pub fn areas(&self) -> Vec<&AdminScope> {
        self.grants.iter().map(|row| &row.grant.scope).collect()
    }
}

/// User `id` with their live grants at `now`.
pub async fn load<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<UserView>> {
    let Some(row) = users::by_id(conn, id).await? else {
        return Ok(None);
    };
    Ok(Some(UserView {
        row,
        grants: grants::store::live(conn, id, now).await?,
    }))
}

/// Locks user `id`'s row for the rest of the transaction.
pub async fn lock<C: ConnectionTrait>(conn: &C, id: Uuid) -> Result<()> {
    Users::find_by_id(id)
        .select_only()
        .column(Column::Id)
        .lock_exclusive()
        .into_tuple::<Uuid>()
        .one(conn)
        .await?;
    Ok(())
}

/// The user that `caller_key`'s request `request_id` created, if any.
pub async fn created_by_request<C: ConnectionTrait>(
    conn: &C,
    caller_key: &str,
    request_id: Uuid,
) -> Result<Option<Uuid>> {
    Ok(Users::find()
        .select_only()
        .column(Column::Id)
        .filter(Column::CreatedByKey.eq(caller_key))
        .filter(Column::CreatedRequestId.eq(request_id))
        .into_tuple::<Uuid>()
        .one(conn)
        .await?)
}

/// Changes the fields of `profile` that are given.
pub async fn update_profile<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    profile: &Profile,
    now: DateTime<Utc>,
) -> Result<()> {
    let mut update = Users::update_many()
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::Id.eq(id));
    if let Some(name) = &profile.display_name {
        update = update.col_expr(Column::DisplayName, Expr::value(name.clone()));
    }
    if let Some(locale) = &profile.locale {
        update = update.col_expr(Column::Locale, Expr::value(locale.clone()));
    }
    if let Some(time_zone) = &profile.time_zone {
        update = update.col_expr(Column::TimeZone, Expr::value(time_zone.clone()));
    }
    if let Some(email) = &profile.email {
        update = update.col_expr(Column::Email, Expr::value(email.clone()));
    }
    update.exec(conn).await?;
    Ok(())
}

/// Sets the status and the rank of who set it; becoming active clears the wrong-password count
/// and the rank.
pub async fn set_status<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    status: UserStatus,
    locked_until: Option<DateTime<Utc>>,
    rank: i16,
    now: DateTime<Utc>,
) -> Result<()> {
    let mut update = Users::update_many()
        .col_expr(Column::Status, Expr::value(status))
        .col_expr(Column::LockedUntil, Expr::value(locked_until))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::Id.eq(id));
    update = if status == UserStatus::Active {
        update
            .col_expr(Column::FailedLogins, Expr::value(0))
            .col_expr(Column::StatusSetRank, Expr::value(0i16))
    } else {
        update.col_expr(Column::StatusSetRank, Expr::value(rank))
    };
    update.exec(conn).await?;
    Ok(())
}

/// Sets the phone number.
pub async fn set_phone<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    phone: &PhoneNumber,
    now: DateTime<Utc>,
) -> Result<()> {
    Users::update_many()
        .col_expr(Column::PhoneNumber, Expr::value(phone.as_str()))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Sets the password hash and clears the wrong-password count and its lock (never an
/// official's: a `locked` status keeps its end).
pub async fn set_password<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    Users::update_many()
        .col_expr(Column::PasswordHash, Expr::value(hash))
        .col_expr(Column::FailedLogins, Expr::value(0))
        .col_expr(
            Column::LockedUntil,
            Expr::case(
                Column::Status.eq(UserStatus::Locked),
                Expr::col(Column::LockedUntil),
            )
            .into(),
        )
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}

/// What a list of users asks for.
#[derive(Debug)]
pub struct Filter<'a> {
    /// Only users with a live grant inside this area (and of `role`, when given); `None`: every
    /// user, grants or not.
    pub area: Option<&'a AdminScope>,
    pub role: Option<Role>,
    pub status: Option<UserStatus>,
    pub search: &'a Search,
    pub now: DateTime<Utc>,
}

/// Up to `limit` users matching `filter` after `after`, by display name then id: their ids and
/// the cursor each one ends a page with.
pub async fn page<C: ConnectionTrait>(
    conn: &C,
    filter: &Filter<'_>,
    after: Option<&UserCursor>,
    limit: u64,
) -> Result<Vec<(Uuid, UserCursor)>> {
    let (phone, name_prefix) = match filter.search {
        Search::Anyone => (None, None),
        Search::Phone(phone) => (Some(phone.as_str().to_owned()), None),
        Search::NamePrefix(prefix) => (None, Some(prefix.clone())),
    };
    // Raw: one statement over two tables, the hot path of the user list: an EXISTS over
    // `role_grants` by scope prefix (`starts_with`, served by the `text_pattern_ops` index), a
    // row-value keyset comparison, and optional filters as `$n IS NULL OR ...`, so that it is one
    // prepared statement with one plan whatever is given (the builder would add and drop
    // clauses per filter, a statement shape per combination).
    let rows = conn
        .query_all_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            "SELECT u.id, u.display_name FROM users u \
             WHERE ($1::text IS NULL OR EXISTS (SELECT 1 FROM role_grants g \
                 WHERE g.user_id = u.id AND g.revoked_at IS NULL \
                 AND (g.expires_at IS NULL OR g.expires_at > $9) \
                 AND starts_with(g.scope, $1) AND ($2::text IS NULL OR g.role = $2))) \
             AND ($3::text IS NULL OR u.status = $3) \
             AND ($4::text IS NULL OR u.phone_number = $4) \
             AND ($5::text IS NULL OR starts_with(u.display_name, $5)) \
             AND ($6::text IS NULL OR (u.display_name, u.id) > ($6, $7::uuid)) \
             ORDER BY u.display_name, u.id LIMIT $8",
            [
                filter.area.map(|area| area.as_str().to_owned()).into(),
                filter.role.map(|role| role.as_str().to_owned()).into(),
                filter
                    .status
                    .map(|status| status.as_str().to_owned())
                    .into(),
                phone.into(),
                name_prefix.into(),
                after.map(|(name, _)| name.clone()).into(),
                after.map(|(_, id)| *id).into(),
                i64::try_from(limit).unwrap_or(i64::MAX).into(),
                filter.now.into(),
            ],
        ))
        .await?;
    rows.iter()
        .map(|row| {
            let id: Uuid = row.try_get("", "id")?;
            let name: String = row.try_get("", "display_name")?;
            Ok((id, (name, id)))
        })
        .collect()
}
