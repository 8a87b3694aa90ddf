//! The register's SQL: households, residents and the access log, through their entities.

use std::collections::HashMap;

use sea_orm::sea_query::{Expr, ExprTrait as _, Func};
use sea_orm::{
    ActiveModelTrait as _, ColumnTrait as _, Condition, ConnectionTrait, DbErr, EntityTrait as _,
    FromQueryResult, IntoActiveModel as _, Order, QueryFilter as _, QueryOrder as _,
    QuerySelect as _, SqlErr,
};
use terrace_platform::auth::AdminScope;
use terrace_platform::db::escape_like;
use terrace_platform::error::{Error, Result};
use uuid::Uuid;

use super::parse::{ListHouseholds, ListResidents};
use crate::entity::households::{self, Entity as Households, Model as HouseholdRow};
use crate::entity::resident_access_log::{self, Entity as AccessLog, Model as AccessRow};
use crate::entity::residents::{self, Entity as Residents, Model as ResidentRow, ResidentStatus};

/// The unique index that keeps household numbers apart within a village.
const HOUSEHOLD_NUMBER_INDEX: &str = "households_village_number";
/// The unique index that keeps one current record per national id in a county.
const NATIONAL_ID_INDEX: &str = "residents_national_id_in_county";
/// The unique index that links an account to one current record.
const USER_INDEX: &str = "residents_user";

/// The register's tables. Rows are keyed by UUIDv7; a resident's county is the first six digits
/// of its village code, which the national-id index is built on.
pub const MIGRATION_SQL: &str = r"
CREATE TABLE households (
    id               uuid PRIMARY KEY,
    village_code     text NOT NULL REFERENCES divisions (code),
    household_number text NOT NULL,
    address          text NOT NULL,
    head_resident_id uuid,
    status           smallint NOT NULL,
    created_at       timestamptz NOT NULL,
    created_by       bytea NOT NULL,
    updated_at       timestamptz NOT NULL,
    updated_by       bytea NOT NULL
);
CREATE UNIQUE INDEX households_village_number ON households (village_code, household_number);
-- Lists of an area: a prefix of the village code (LIKE '3305%' needs text_pattern_ops).
CREATE INDEX households_area ON households (village_code text_pattern_ops, household_number);

CREATE TABLE residents (
    id                 uuid PRIMARY KEY,
    household_id       uuid NOT NULL REFERENCES households (id),
    village_code       text NOT NULL REFERENCES divisions (code),
    name               text NOT NULL,
    gender             smallint NOT NULL,
    birth_date         date,
    relationship       smallint NOT NULL,
    phone_number       text NOT NULL,
    user_id            uuid,
    -- The national id, sealed (AES-256-GCM): never stored in the clear.
    national_id_sealed bytea,
    national_id_nonce  bytea,
    national_id_key    text,
    -- HMAC-SHA256 of the number: duplicates found without decrypting.
    national_id_hash   bytea,
    national_id_masked text NOT NULL,
    status             smallint NOT NULL,
    remarks            text NOT NULL,
    created_at         timestamptz NOT NULL,
    created_by         bytea NOT NULL,
    updated_at         timestamptz NOT NULL,
    updated_by         bytea NOT NULL
);
CREATE INDEX residents_household ON residents (household_id);
CREATE INDEX residents_area_name ON residents (village_code text_pattern_ops, name, id);
CREATE INDEX residents_name ON residents (name, id);
CREATE INDEX residents_phone ON residents (phone_number) WHERE phone_number <> '';
-- One current (active or away) record per number in a county, and per linked account.
CREATE UNIQUE INDEX residents_national_id_in_county ON residents (left(village_code, 6), national_id_hash)
    WHERE national_id_hash IS NOT NULL AND status IN (1, 2);
CREATE UNIQUE INDEX residents_user ON residents (user_id) WHERE user_id IS NOT NULL AND status IN (1, 2);
CREATE INDEX residents_key ON residents (national_id_key) WHERE national_id_key IS NOT NULL;

-- Who read a resident's sensitive data. No foreign key: the log outlives an erased record.
CREATE TABLE resident_access_log (
    id          uuid PRIMARY KEY,
    resident_id uuid NOT NULL,
    actor       bytea NOT NULL,
    field       text NOT NULL,
    reason      text NOT NULL,
    accessed_at timestamptz NOT NULL
);
CREATE INDEX resident_access_log_resident ON resident_access_log (resident_id, id DESC);
";

/// A write refused by one of the register's unique indexes, as the caller should hear it.
fn refused(error: DbErr, what: impl FnOnce(&str) -> Option<Error>) -> Error {
    if let Some(SqlErr::UniqueConstraintViolation(message)) = error.sql_err()
        && let Some(answer) = what(&message)
    {
        return answer;
    }
    Error::from(error)
}

fn household_number_taken(number: &str) -> impl FnOnce(&str) -> Option<Error> + '_ {
    move |index| {
        index
            .contains(HOUSEHOLD_NUMBER_INDEX)
            .then(|| Error::AlreadyExists {
                resource: "household number",
                id: number.to_owned(),
            })
    }
}

/// The answer when a national id is already current in the county.
pub fn national_id_taken(masked: &str) -> Error {
    Error::AlreadyExists {
        resource: "resident with national id",
        id: masked.to_owned(),
    }
}

/// The answer when an account is already linked to a current record.
pub fn account_taken(user: Uuid) -> Error {
    Error::failed_precondition(
        "ACCOUNT_ALREADY_LINKED",
        format!("user {user} is already linked to another current resident record"),
    )
}

fn resident_refusal(row: &ResidentRow) -> impl FnOnce(&str) -> Option<Error> + '_ {
    move |index| {
        if index.contains(NATIONAL_ID_INDEX) {
            Some(national_id_taken(&row.national_id_masked))
        } else if index.contains(USER_INDEX) {
            row.user_id.map(account_taken)
        } else {
            None
        }
    }
}

pub async fn insert_household<C: ConnectionTrait>(conn: &C, row: HouseholdRow) -> Result<()> {
    let number = row.household_number.clone();
    Households::insert(row.into_active_model())
        .exec_without_returning(conn)
        .await
        .map_err(|error| refused(error, household_number_taken(&number)))?;
    Ok(())
}

pub async fn update_household<C: ConnectionTrait>(conn: &C, row: HouseholdRow) -> Result<()> {
    let number = row.household_number.clone();
    row.into_active_model()
        .reset_all()
        .update(conn)
        .await
        .map_err(|error| refused(error, household_number_taken(&number)))?;
    Ok(())
}

/// A household, locked for the transaction when `lock`.
pub async fn household<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    lock: bool,
) -> Result<Option<HouseholdRow>> {
    let mut query = Households::find_by_id(id);
    if lock {
        query = query.lock_exclusive();
    }
    Ok(query.one(conn).await?)
}

#[derive(Debug, FromQueryResult)]
struct MemberCount {
    household_id: Uuid,
    members: i64,
}

/// The current members of each of `households`.
pub async fn member_counts<C: ConnectionTrait>(
    conn: &C,
    households: &[Uuid],
) -> Result<HashMap<Uuid, i32>> {
    if households.is_empty() {
        return Ok(HashMap::new());
    }
    let counts = Residents::find()
        .select_only()
        .column(residents::Column::HouseholdId)
        .column_as(Expr::col(residents::Column::Id).count(), "members")
        .filter(residents::Column::HouseholdId.is_in(households.iter().copied()))
        .filter(current())
        .group_by(residents::Column::HouseholdId)
        .into_model::<MemberCount>()
        .all(conn)
        .await?;
    Ok(counts
        .into_iter()
        .map(|c| (c.household_id, i32::try_from(c.members).unwrap_or(i32::MAX)))
        .collect())
}

#[derive(Debug, FromQueryResult)]
struct Name {
    id: Uuid,
    name: String,
}

/// The names of residents `ids`.
pub async fn names<C: ConnectionTrait>(conn: &C, ids: &[Uuid]) -> Result<HashMap<Uuid, String>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let names = Residents::find()
        .select_only()
        .column(residents::Column::Id)
        .column(residents::Column::Name)
        .filter(residents::Column::Id.is_in(ids.iter().copied()))
        .into_model::<Name>()
        .all(conn)
        .await?;
    Ok(names.into_iter().map(|n| (n.id, n.name)).collect())
}

/// Active and away: the residents still of the village.
pub(crate) fn current() -> Condition {
    Condition::any()
        .add(residents::Column::Status.eq(ResidentStatus::Active))
        .add(residents::Column::Status.eq(ResidentStatus::Away))
}

pub(crate) fn in_area(column: impl sea_orm::ColumnTrait, area: &AdminScope) -> Condition {
    Condition::all().add(column.like(format!("{}%", escape_like(area.as_str()))))
}

/// A page of households of an area, by village and number (one more row than the page).
pub async fn list_households<C: ConnectionTrait>(
    conn: &C,
    query: &ListHouseholds,
) -> Result<Vec<HouseholdRow>> {
    use households::Column;
    let mut select = Households::find()
        .filter(in_area(Column::VillageCode, &query.area))
        .filter(Column::Status.eq(query.status));
    if !query.query.is_empty() {
        let prefix = format!("{}%", escape_like(&query.query));
        select = select.filter(
            Condition::any()
                .add(Column::HouseholdNumber.like(prefix.clone()))
                .add(Column::Address.like(prefix)),
        );
    }
    if let Some(after) = &query.page.after {
        select = select.filter(
            Expr::tuple([
                Expr::col(Column::VillageCode),
                Expr::col(Column::HouseholdNumber),
            ])
            .gt(Expr::tuple([
                Expr::value(after.village_code.clone()),
                Expr::value(after.number.clone()),
            ])),
        );
    }
    Ok(select
        .order_by(Column::VillageCode, Order::Asc)
        .order_by(Column::HouseholdNumber, Order::Asc)
        .limit(query.page.fetch_limit())
        .all(conn)
        .await?)
}

/// Inserts a resident; a second current record of its number in the county, or of its account,
/// is refused by the unique indexes even when two officials race.
pub async fn insert_resident<C: ConnectionTrait>(conn: &C, row: ResidentRow) -> Result<()> {
    let shown = row.clone();
    Residents::insert(row.into_active_model())
        .exec_without_returning(conn)
        .await
        .map_err(|error| refused(error, resident_refusal(&shown)))?;
    Ok(())
}

pub async fn update_resident<C: ConnectionTrait>(conn: &C, row: ResidentRow) -> Result<()> {
    let shown = row.clone();
    row.into_active_model()
        .reset_all()
        .update(conn)
        .await
        .map_err(|error| refused(error, resident_refusal(&shown)))?;
    Ok(())
}

/// A resident, locked for the transaction when `lock`.
pub async fn resident<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    lock: bool,
) -> Result<Option<ResidentRow>> {
    let mut query = Residents::find_by_id(id);
    if lock {
        query = query.lock_exclusive();
    }
    Ok(query.one(conn).await?)
}

/// The current record of `county` holding the number hashed `hash`, other than `except`.
pub async fn current_with_national_id<C: ConnectionTrait>(
    conn: &C,
    county: &str,
    hash: &[u8],
    except: Option<Uuid>,
) -> Result<Option<ResidentRow>> {
    use residents::Column;
    let mut query = Residents::find()
        .filter(
            Expr::expr(
                Func::cust("left")
                    .arg(Expr::col(Column::VillageCode))
                    .arg(6),
            )
            .eq(county),
        )
        .filter(Column::NationalIdHash.eq(hash.to_vec()))
        .filter(current());
    if let Some(except) = except {
        query = query.filter(Column::Id.ne(except));
    }
    Ok(query.one(conn).await?)
}

/// The current record linked to `user`.
pub async fn current_of_user<C: ConnectionTrait>(
    conn: &C,
    user: Uuid,
) -> Result<Option<ResidentRow>> {
    Ok(Residents::find()
        .filter(residents::Column::UserId.eq(user))
        .filter(current())
        .one(conn)
        .await?)
}

/// The current members of a household, by name.
pub async fn members<C: ConnectionTrait>(conn: &C, household: Uuid) -> Result<Vec<ResidentRow>> {
    use residents::Column;
    Ok(Residents::find()
        .filter(Column::HouseholdId.eq(household))
        .filter(current())
        .order_by(Column::Name, Order::Asc)
        .order_by(Column::Id, Order::Asc)
        .all(conn)
        .await?)
}

/// A page of residents, by name (one more row than the page). `area` is where the caller may
/// look (the request's area, or the household's village).
pub async fn list_residents<C: ConnectionTrait>(
    conn: &C,
    area: &AdminScope,
    query: &ListResidents,
) -> Result<Vec<ResidentRow>> {
    use residents::Column;
    let mut select = Residents::find().filter(in_area(Column::VillageCode, area));
    select = match query.status {
        Some(status) => select.filter(Column::Status.eq(status)),
        None => select.filter(current()),
    };
    if let Some(household) = query.household {
        select = select.filter(Column::HouseholdId.eq(household));
    }
    if let Some(user) = query.user {
        select = select.filter(Column::UserId.eq(user));
    }
    select = match &query.phone {
        Some(phone) => select.filter(Column::PhoneNumber.eq(phone.as_str())),
        None if !query.query.is_empty() => {
            select.filter(Column::Name.like(format!("{}%", escape_like(&query.query))))
        }
        None => select,
    };
    if let Some(after) = &query.page.after {
        select = select.filter(
            Expr::tuple([Expr::col(Column::Name), Expr::col(Column::Id)]).gt(Expr::tuple([
                Expr::value(after.name.clone()),
                Expr::value(after.id),
            ])),
        );
    }
    Ok(select
        .order_by(Column::Name, Order::Asc)
        .order_by(Column::Id, Order::Asc)
        .limit(query.page.fetch_limit())
        .all(conn)
        .await?)
}

pub async fn insert_access<C: ConnectionTrait>(conn: &C, row: AccessRow) -> Result<()> {
    AccessLog::insert(row.into_active_model())
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// A page of a resident's access log, newest first (one more row than the page).
pub async fn access_log<C: ConnectionTrait>(
    conn: &C,
    resident: Uuid,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<AccessRow>> {
    use resident_access_log::Column;
    let mut select = AccessLog::find().filter(Column::ResidentId.eq(resident));
    if let Some(after) = after {
        select = select.filter(Column::Id.lt(after));
    }
    Ok(select
        .order_by(Column::Id, Order::Desc)
        .limit(limit)
        .all(conn)
        .await?)
}

/// Up to `limit` residents whose number is sealed under another key than `active`, locked and
/// skipped by a concurrent rotation (`SKIP LOCKED`).
pub async fn sealed_under_other_keys<C: ConnectionTrait>(
    conn: &C,
    active: &str,
    limit: u64,
) -> Result<Vec<ResidentRow>> {
    use residents::Column;
    Ok(Residents::find()
        .filter(Column::NationalIdKey.is_not_null())
        .filter(Column::NationalIdKey.ne(active))
        .limit(limit)
        .lock_with_behavior(
            sea_orm::sea_query::LockType::Update,
            sea_orm::sea_query::LockBehavior::SkipLocked,
        )
        .all(conn)
        .await?)
}

/// Deletes a resident's row: erasure. The access log stays (it has no foreign key).
pub async fn delete_resident<C: ConnectionTrait>(conn: &C, id: Uuid) -> Result<()> {
    Residents::delete_by_id(id).exec(conn).await?;
    Ok(())
}

/// The register's counts in an area.
#[derive(Debug, Default, FromQueryResult)]
pub struct Counts {
    pub households: i64,
    pub active: i64,
    pub away: i64,
    pub moved_out: i64,
    pub deceased: i64,
    pub linked: i64,
    pub with_national_id: i64,
}

/// Counts of households and residents whose village lies in `area`.
pub async fn counts<C: ConnectionTrait>(conn: &C, area: &AdminScope) -> Result<Counts> {
    // Raw SQL: one pass over the area's residents with aggregate FILTERs, which the builder
    // cannot say.
    let prefix = format!("{}%", escape_like(area.as_str()));
    let counts = Counts::find_by_statement(sea_orm::Statement::from_sql_and_values(
        conn.get_database_backend(),
        "SELECT \
           (SELECT count(*) FROM households WHERE village_code LIKE $1 AND status = 1) AS households, \
           count(*) FILTER (WHERE status = 1) AS active, \
           count(*) FILTER (WHERE status = 2) AS away, \
           count(*) FILTER (WHERE status = 3) AS moved_out, \
           count(*) FILTER (WHERE status = 4) AS deceased, \
           count(*) FILTER (WHERE status IN (1, 2) AND user_id IS NOT NULL) AS linked, \
           count(*) FILTER (WHERE status IN (1, 2) AND national_id_hash IS NOT NULL) AS with_national_id \
         FROM residents WHERE village_code LIKE $1",
        [prefix.into()],
    ))
    .one(conn)
    .await?;
    Ok(counts.unwrap_or_default())
}

/// Up to `limit` residents moved out or deceased whose record last changed before `before`:
/// due for erasure at the end of their retention.
pub async fn past_retention<C: ConnectionTrait>(
    conn: &C,
    before: chrono::DateTime<chrono::Utc>,
    limit: u64,
) -> Result<Vec<ResidentRow>> {
    use residents::Column;
    Ok(Residents::find()
        .filter(
            Condition::any()
                .add(Column::Status.eq(ResidentStatus::MovedOut))
                .add(Column::Status.eq(ResidentStatus::Deceased)),
        )
        .filter(Column::UpdatedAt.lt(before))
        .limit(limit)
        .lock_with_behavior(
            sea_orm::sea_query::LockType::Update,
            sea_orm::sea_query::LockBehavior::SkipLocked,
        )
        .all(conn)
        .await?)
}

/// Deletes access-log entries older than `before`; returns how many.
pub async fn forget_access_before<C: ConnectionTrait>(
    conn: &C,
    before: chrono::DateTime<chrono::Utc>,
) -> Result<u64> {
    let deleted = AccessLog::delete_many()
        .filter(resident_access_log::Column::AccessedAt.lt(before))
        .exec(conn)
        .await?;
    Ok(deleted.rows_affected)
}
