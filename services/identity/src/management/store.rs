//! The `users` table as user management reads and writes it, beside [`crate::users`] (whose
//! rows and inserts it uses). Raw SQL until the table has its sea-orm entity; every statement
//! takes "now" from the caller's clock, never the database's.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, Statement};
use terrace_platform::auth::{AdminScope, Role};
use terrace_platform::error::Result;
use uuid::Uuid;

use super::parse::{Profile, Search, UserCursor};
use crate::domain::phone::PhoneNumber;
use crate::grants::{self, GrantRow};
use crate::users::{self, UserRow};

/// A user with what management shows and decides by.
#[derive(Debug, Clone)]
pub struct UserView {
    pub row: UserRow,
    pub email: Option<String>,
    /// Who registered them, when it was not the user.
    pub created_by: Option<Uuid>,
    /// The rank of the official who set the current status (0: active, or the user's own doing).
    pub status_set_rank: i16,
    /// Their live grants: where they live.
    pub grants: Vec<GrantRow>,
}

impl UserView {
    /// The areas the user lives in.
    pub fn areas(&self) -> Vec<&AdminScope> {
        self.grants.iter().map(|row| &row.grant.scope).collect()
    }
}

/// User `id` with their e-mail, creator and live grants at `now`.
pub async fn load<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<UserView>> {
    let Some(row) = users::by_id(conn, id).await? else {
        return Ok(None);
    };
    let Some(extra) = conn
        .query_one_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            "SELECT email, created_by, status_set_rank FROM users WHERE id = $1",
            [id.into()],
        ))
        .await?
    else {
        return Ok(None);
    };
    Ok(Some(UserView {
        row,
        email: extra.try_get("", "email")?,
        created_by: extra.try_get("", "created_by")?,
        status_set_rank: extra.try_get("", "status_set_rank")?,
        grants: grants::store::live(conn, id, now).await?,
    }))
}

/// Locks user `id`'s row for the rest of the transaction.
pub async fn lock<C: ConnectionTrait>(conn: &C, id: Uuid) -> Result<()> {
    conn.execute_raw(Statement::from_sql_and_values(
        conn.get_database_backend(),
        "SELECT id FROM users WHERE id = $1 FOR UPDATE",
        [id.into()],
    ))
    .await?;
    Ok(())
}

/// The user that `caller_key`'s request `request_id` created, if any.
pub async fn created_by_request<C: ConnectionTrait>(
    conn: &C,
    caller_key: &str,
    request_id: Uuid,
) -> Result<Option<Uuid>> {
    let found = conn
        .query_one_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            "SELECT id FROM users WHERE created_by_key = $1 AND created_request_id = $2",
            [caller_key.into(), request_id.into()],
        ))
        .await?;
    Ok(found.map(|row| row.try_get("", "id")).transpose()?)
}

/// Records on a user just created what [`crate::users::insert`] does not: their e-mail, and
/// which request of which caller created them.
pub async fn complete_created<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    email: Option<&str>,
    caller_key: &str,
    request_id: Uuid,
) -> Result<()> {
    conn.execute_raw(Statement::from_sql_and_values(
        conn.get_database_backend(),
        "UPDATE users SET email = $2, created_by_key = $3, created_request_id = $4 WHERE id = $1",
        [
            id.into(),
            email.map(str::to_owned).into(),
            caller_key.into(),
            request_id.into(),
        ],
    ))
    .await?;
    Ok(())
}

/// Changes the fields of `profile` that are given.
pub async fn update_profile<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    profile: &Profile,
    now: DateTime<Utc>,
) -> Result<()> {
    conn.execute_raw(Statement::from_sql_and_values(
        conn.get_database_backend(),
        "UPDATE users SET display_name = COALESCE($2, display_name), \
         locale = COALESCE($3, locale), time_zone = COALESCE($4, time_zone), \
         email = CASE WHEN $5 THEN $6 ELSE email END, updated_at = $7 WHERE id = $1",
        [
            id.into(),
            profile.display_name.clone().into(),
            profile.locale.clone().into(),
            profile.time_zone.clone().into(),
            profile.email.is_some().into(),
            profile.email.clone().flatten().into(),
            now.into(),
        ],
    ))
    .await?;
    Ok(())
}

/// Sets the status (`active`, `locked`, `disabled`) and the rank of who set it; becoming active
/// clears the wrong-password count and the rank.
pub async fn set_status<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    status: &str,
    locked_until: Option<DateTime<Utc>>,
    rank: i16,
    now: DateTime<Utc>,
) -> Result<()> {
    conn.execute_raw(Statement::from_sql_and_values(
        conn.get_database_backend(),
        "UPDATE users SET status = $2, locked_until = $3, \
         failed_logins = CASE WHEN $2 = 'active' THEN 0 ELSE failed_logins END, \
         status_set_rank = CASE WHEN $2 = 'active' THEN 0 ELSE $4 END, updated_at = $5 \
         WHERE id = $1",
        [
            id.into(),
            status.into(),
            locked_until.into(),
            rank.into(),
            now.into(),
        ],
    ))
    .await?;
    Ok(())
}

/// Sets the phone number.
pub async fn set_phone<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    phone: &PhoneNumber,
    now: DateTime<Utc>,
) -> Result<()> {
    conn.execute_raw(Statement::from_sql_and_values(
        conn.get_database_backend(),
        "UPDATE users SET phone_number = $2, updated_at = $3 WHERE id = $1",
        [id.into(), phone.as_str().into(), now.into()],
    ))
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
    conn.execute_raw(Statement::from_sql_and_values(
        conn.get_database_backend(),
        "UPDATE users SET password_hash = $2, failed_logins = 0, \
         locked_until = CASE WHEN status = 'locked' THEN locked_until END, updated_at = $3 \
         WHERE id = $1",
        [id.into(), hash.into(), now.into()],
    ))
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
    pub status: Option<&'a str>,
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
                filter.status.map(str::to_owned).into(),
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
