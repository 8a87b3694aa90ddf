//! Users in the database: the SQL of the `users` and `otp_challenges` tables.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr, QueryResult, Statement};
use terrace_proto::identity::v1 as pb;
use uuid::Uuid;

use crate::domain::phone::PhoneNumber;

/// A user as stored.
#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: Uuid,
    pub phone_number: String,
    pub display_name: String,
    pub locale: String,
    pub time_zone: String,
    pub status: String,
    pub password_hash: Option<String>,
    pub failed_logins: i32,
    pub locked_until: Option<DateTime<Utc>>,
    pub last_login_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, phone_number, display_name, locale, time_zone, status, password_hash, \
                       failed_logins, locked_until, last_login_at, created_at, updated_at";

impl UserRow {
    fn from_row(row: &QueryResult) -> Result<Self, DbErr> {
        Ok(Self {
            id: row.try_get("", "id")?,
            phone_number: row.try_get("", "phone_number")?,
            display_name: row.try_get("", "display_name")?,
            locale: row.try_get("", "locale")?,
            time_zone: row.try_get("", "time_zone")?,
            status: row.try_get("", "status")?,
            password_hash: row.try_get("", "password_hash")?,
            failed_logins: row.try_get("", "failed_logins")?,
            locked_until: row.try_get("", "locked_until")?,
            last_login_at: row.try_get("", "last_login_at")?,
            created_at: row.try_get("", "created_at")?,
            updated_at: row.try_get("", "updated_at")?,
        })
    }

    /// The user as the contract describes it (without role grants, which are not yet loaded here).
    pub fn to_proto(&self) -> pb::User {
        pb::User {
            id: self.id.to_string(),
            phone_number: self.phone_number.clone(),
            display_name: self.display_name.clone(),
            locale: self.locale.clone(),
            time_zone: self.time_zone.clone(),
            status: match self.status.as_str() {
                "active" => pb::UserStatus::Active,
                "locked" => pb::UserStatus::Locked,
                _ => pb::UserStatus::Disabled,
            } as i32,
            has_password: self.password_hash.is_some(),
            last_login_time: self.last_login_at.map(timestamp),
            locked_until: self.locked_until.map(timestamp),
            ..Default::default()
        }
    }
}

/// A protobuf timestamp.
pub fn timestamp(time: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: time.timestamp(),
        nanos: i32::try_from(time.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

/// The user with this phone number, locking the row when `for_update`.
pub async fn by_phone<C: ConnectionTrait>(
    conn: &C,
    phone: &PhoneNumber,
    for_update: bool,
) -> Result<Option<UserRow>, DbErr> {
    let lock = if for_update { " FOR UPDATE" } else { "" };
    conn.query_one_raw(Statement::from_sql_and_values(
        conn.get_database_backend(),
        format!("SELECT {COLUMNS} FROM users WHERE phone_number = $1{lock}"),
        [phone.as_str().into()],
    ))
    .await?
    .map(|row| UserRow::from_row(&row))
    .transpose()
}

/// The user with this id.
pub async fn by_id<C: ConnectionTrait>(conn: &C, id: Uuid) -> Result<Option<UserRow>, DbErr> {
    conn.query_one_raw(Statement::from_sql_and_values(
        conn.get_database_backend(),
        format!("SELECT {COLUMNS} FROM users WHERE id = $1"),
        [id.into()],
    ))
    .await?
    .map(|row| UserRow::from_row(&row))
    .transpose()
}

/// What a new user is made of.
#[derive(Debug)]
pub struct NewUser<'a> {
    pub phone: &'a PhoneNumber,
    pub display_name: &'a str,
    pub locale: &'a str,
    pub time_zone: &'a str,
    pub password_hash: Option<String>,
    pub created_by: Option<Uuid>,
    /// The service clock's now.
    pub created_at: DateTime<Utc>,
}

/// Inserts a user; `None` when the phone already has an account.
pub async fn insert<C: ConnectionTrait>(
    conn: &C,
    user: NewUser<'_>,
) -> Result<Option<UserRow>, DbErr> {
    conn.query_one_raw(Statement::from_sql_and_values(
        conn.get_database_backend(),
        format!(
            "INSERT INTO users (id, phone_number, display_name, locale, time_zone, status, password_hash, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, 'active', $6, $7, $8, $8) ON CONFLICT (phone_number) DO NOTHING RETURNING {COLUMNS}"
        ),
        [
            Uuid::now_v7().into(),
            user.phone.as_str().into(),
            user.display_name.into(),
            user.locale.into(),
            user.time_zone.into(),
            user.password_hash.into(),
            user.created_by.into(),
            user.created_at.into(),
        ],
    ))
    .await?
    .map(|row| UserRow::from_row(&row))
    .transpose()
}

/// Records a successful login: clears the failure count and any lock.
pub async fn record_login<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    conn.execute_raw(Statement::from_sql_and_values(
        conn.get_database_backend(),
        // Clears the wrong-password count and its lock; an official's lock (status 'locked') is
        // lifted only by an official or by its own end.
        "UPDATE users SET last_login_at = $2, failed_logins = 0, \
         locked_until = CASE WHEN status = 'locked' THEN locked_until END, \
         status = CASE WHEN status = 'locked' AND locked_until <= $2 THEN 'active' ELSE status END \
         WHERE id = $1",
        [id.into(), now.into()],
    ))
    .await?;
    Ok(())
}

/// Records a wrong password; at `limit` consecutive failures the account is locked until
/// `lock_until`. Returns the lock's end when this failure locked it.
pub async fn record_failed_login<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    limit: i32,
    lock_until: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, DbErr> {
    let row = conn
        .query_one_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            "UPDATE users SET failed_logins = failed_logins + 1, \
             locked_until = CASE WHEN failed_logins + 1 >= $2 THEN $3 ELSE locked_until END \
             WHERE id = $1 RETURNING failed_logins, locked_until",
            [id.into(), limit.into(), lock_until.into()],
        ))
        .await?;
    let Some(row) = row else { return Ok(None) };
    let failed: i32 = row.try_get("", "failed_logins")?;
    let locked: Option<DateTime<Utc>> = row.try_get("", "locked_until")?;
    Ok(if failed >= limit { locked } else { None })
}

/// A one-time code challenge as stored.
#[derive(Debug, Clone)]
pub struct Challenge {
    pub id: Uuid,
    pub code_hash: Vec<u8>,
    pub expires_at: DateTime<Utc>,
    pub attempts: i32,
    pub consumed: bool,
    pub created_at: DateTime<Utc>,
}

/// The newest challenge for a phone and purpose, without counting a try (the interval between
/// codes).
pub async fn latest_challenge<C: ConnectionTrait>(
    conn: &C,
    phone: &PhoneNumber,
    purpose: &str,
) -> Result<Option<Challenge>, DbErr> {
    let row = conn
        .query_one_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            format!(
                "SELECT {CHALLENGE_COLUMNS} FROM otp_challenges WHERE phone_number = $1 \
                 AND purpose = $2 ORDER BY created_at DESC LIMIT 1 FOR UPDATE"
            ),
            [phone.as_str().into(), purpose.into()],
        ))
        .await?;
    row.as_ref().map(Challenge::from_row).transpose()
}

/// Counts a try of the newest challenge for a phone and purpose, in one statement (its own
/// transaction), and returns the challenge with the try counted.
pub async fn count_try<C: ConnectionTrait>(
    conn: &C,
    phone: &PhoneNumber,
    purpose: &str,
) -> Result<Option<Challenge>, DbErr> {
    let row = conn
        .query_one_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            format!(
                "UPDATE otp_challenges SET attempts = attempts + 1 WHERE id = ( \
                 SELECT id FROM otp_challenges WHERE phone_number = $1 AND purpose = $2 \
                 ORDER BY created_at DESC LIMIT 1) RETURNING {CHALLENGE_COLUMNS}"
            ),
            [phone.as_str().into(), purpose.into()],
        ))
        .await?;
    row.as_ref().map(Challenge::from_row).transpose()
}

const CHALLENGE_COLUMNS: &str =
    "id, code_hash, expires_at, attempts, consumed_at IS NOT NULL AS consumed, created_at";

impl Challenge {
    fn from_row(row: &sea_orm::QueryResult) -> Result<Self, DbErr> {
        Ok(Self {
            id: row.try_get("", "id")?,
            code_hash: row.try_get("", "code_hash")?,
            expires_at: row.try_get("", "expires_at")?,
            attempts: row.try_get("", "attempts")?,
            consumed: row.try_get("", "consumed")?,
            created_at: row.try_get("", "created_at")?,
        })
    }
}

/// Stores a new challenge.
pub async fn insert_challenge<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    phone: &PhoneNumber,
    purpose: &str,
    code_hash: Vec<u8>,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<(), DbErr> {
    conn.execute_raw(Statement::from_sql_and_values(
        conn.get_database_backend(),
        "INSERT INTO otp_challenges (id, phone_number, purpose, code_hash, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
        [
            id.into(),
            phone.as_str().into(),
            purpose.into(),
            code_hash.into(),
            created_at.into(),
            expires_at.into(),
        ],
    ))
    .await?;
    Ok(())
}

/// Uses a challenge up; `false` when it already was.
pub async fn consume_challenge<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let used = conn
        .execute_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            "UPDATE otp_challenges SET consumed_at = $2 WHERE id = $1 AND consumed_at IS NULL",
            [id.into(), now.into()],
        ))
        .await?
        .rows_affected();
    Ok(used == 1)
}
