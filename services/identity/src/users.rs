//! Users in the database: the `users` and `otp_challenges` tables through their entities
//! ([`crate::entity::users`], [`crate::entity::otp_challenges`]).

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait as _, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait as _, ConnectionTrait, DbErr, EntityTrait as _, QueryFilter as _,
    QueryOrder as _, QuerySelect as _, TryInsertResult,
};
use terrace_proto::identity::v1 as pb;
use uuid::Uuid;

use crate::domain::phone::PhoneNumber;
use crate::entity::otp_challenges::{self, Entity as Challenges};
use crate::entity::users::{self as entity, Column, Entity as Users};

pub use crate::entity::otp_challenges::OtpPurpose;
pub use crate::entity::users::{Model as User, UserStatus};

impl User {
    /// The user as the contract describes it (without role grants, which are not yet loaded here).
    pub fn to_proto(&self) -> pb::User {
        pb::User {
            id: self.id.to_string(),
            phone_number: self.phone_number.clone(),
            display_name: self.display_name.clone(),
            locale: self.locale.clone(),
            time_zone: self.time_zone.clone(),
            status: self.status.to_proto() as i32,
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
) -> Result<Option<User>, DbErr> {
    let query = Users::find().filter(Column::PhoneNumber.eq(phone.as_str()));
    if for_update {
        query.lock_exclusive().one(conn).await
    } else {
        query.one(conn).await
    }
}

/// The user with this id.
pub async fn by_id<C: ConnectionTrait>(conn: &C, id: Uuid) -> Result<Option<User>, DbErr> {
    Users::find_by_id(id).one(conn).await
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
    pub email: Option<&'a str>,
    /// The caller's idempotency key and request id, when another caller creates the user (so
    /// that a retry after the idempotency log forgot finds the user it made).
    pub created_by_request: Option<(&'a str, Uuid)>,
    /// The service clock's now.
    pub created_at: DateTime<Utc>,
}

/// Inserts a user; `None` when the phone already has an account.
pub async fn insert<C: ConnectionTrait>(
    conn: &C,
    user: NewUser<'_>,
) -> Result<Option<User>, DbErr> {
    let row = entity::ActiveModel {
        id: Set(Uuid::now_v7()),
        phone_number: Set(user.phone.as_str().to_owned()),
        display_name: Set(user.display_name.to_owned()),
        locale: Set(user.locale.to_owned()),
        time_zone: Set(user.time_zone.to_owned()),
        status: Set(UserStatus::Active),
        password_hash: Set(user.password_hash),
        created_by: Set(user.created_by),
        email: Set(user.email.map(str::to_owned)),
        created_by_key: Set(user.created_by_request.map(|(key, _)| key.to_owned())),
        created_request_id: Set(user.created_by_request.map(|(_, id)| id)),
        created_at: Set(user.created_at),
        updated_at: Set(user.created_at),
        ..Default::default()
    };
    // `exec_with_returning_many`: the one-row `exec_with_returning` reports a conflict's empty
    // RETURNING as `RecordNotFound`, not as `Conflicted`.
    let inserted = Users::insert(row)
        .on_conflict_do_nothing_on([Column::PhoneNumber])
        .exec_with_returning_many(conn)
        .await?;
    Ok(match inserted {
        TryInsertResult::Inserted(users) => users.into_iter().next(),
        TryInsertResult::Conflicted | TryInsertResult::Empty => None,
    })
}

/// Records a successful login: clears the failure count and any lock.
pub async fn record_login<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    // Clears the wrong-password count and its lock; an official's lock (status 'locked') is
    // lifted only by an official or by its own end. One statement: the row decides, not a read
    // before the write.
    let locked = Column::Status.eq(UserStatus::Locked);
    Users::update_many()
        .col_expr(Column::LastLoginAt, Expr::value(now))
        .col_expr(Column::FailedLogins, Expr::value(0))
        .col_expr(
            Column::LockedUntil,
            Expr::case(locked.clone(), Expr::col(Column::LockedUntil)).into(),
        )
        .col_expr(
            Column::Status,
            Expr::case(
                locked.and(Column::LockedUntil.lte(now)),
                Expr::value(UserStatus::Active.as_str()),
            )
            .finally(Expr::col(Column::Status))
            .into(),
        )
        .filter(Column::Id.eq(id))
        .exec(conn)
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
    let failed = Expr::col(Column::FailedLogins).add(1);
    let rows = Users::update_many()
        .col_expr(Column::FailedLogins, failed.clone())
        .col_expr(
            Column::LockedUntil,
            Expr::case(failed.gte(limit), Expr::value(lock_until))
                .finally(Expr::col(Column::LockedUntil))
                .into(),
        )
        .filter(Column::Id.eq(id))
        .exec_with_returning(conn)
        .await?;
    let Some(row) = rows.into_iter().next() else {
        return Ok(None);
    };
    Ok(if row.failed_logins >= limit {
        row.locked_until
    } else {
        None
    })
}

/// A one-time code challenge as stored.
pub type Challenge = otp_challenges::Model;

/// The newest challenge for a phone and purpose, without counting a try (the interval between
/// codes), locked for the rest of the transaction.
pub async fn latest_challenge<C: ConnectionTrait>(
    conn: &C,
    phone: &PhoneNumber,
    purpose: OtpPurpose,
) -> Result<Option<Challenge>, DbErr> {
    Challenges::find()
        .filter(otp_challenges::Column::PhoneNumber.eq(phone.as_str()))
        .filter(otp_challenges::Column::Purpose.eq(purpose))
        .order_by_desc(otp_challenges::Column::CreatedAt)
        .limit(1)
        .lock_exclusive()
        .one(conn)
        .await
}

/// Counts a try of the newest challenge for a phone and purpose, in one statement (its own
/// transaction), and returns the challenge with the try counted.
pub async fn count_try<C: ConnectionTrait>(
    conn: &C,
    phone: &PhoneNumber,
    purpose: OtpPurpose,
) -> Result<Option<Challenge>, DbErr> {
    use otp_challenges::Column as C;
    let newest = Query::select()
        .column(C::Id)
        .from(Challenges)
        .and_where(C::PhoneNumber.eq(phone.as_str()))
        .and_where(C::Purpose.eq(purpose))
        .order_by(C::CreatedAt, sea_orm::Order::Desc)
        .limit(1)
        .to_owned();
    let rows = Challenges::update_many()
        .col_expr(C::Attempts, Expr::col(C::Attempts).add(1))
        .filter(C::Id.in_subquery(newest))
        .exec_with_returning(conn)
        .await?;
    Ok(rows.into_iter().next())
}

/// Stores a new challenge.
pub async fn insert_challenge<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    phone: &PhoneNumber,
    purpose: OtpPurpose,
    code_hash: Vec<u8>,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<(), DbErr> {
    let challenge = otp_challenges::ActiveModel {
        id: Set(id),
        phone_number: Set(phone.as_str().to_owned()),
        purpose: Set(purpose),
        code_hash: Set(code_hash),
        created_at: Set(created_at),
        expires_at: Set(expires_at),
        ..Default::default()
    };
    Challenges::insert(challenge)
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// Uses a challenge up; `false` when it already was.
pub async fn consume_challenge<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let used = Challenges::update_many()
        .col_expr(otp_challenges::Column::ConsumedAt, Expr::value(now))
        .filter(otp_challenges::Column::Id.eq(id))
        .filter(otp_challenges::Column::ConsumedAt.is_null())
        .exec(conn)
        .await?
        .rows_affected;
    Ok(used == 1)
}
