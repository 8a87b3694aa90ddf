//! The `consents` table, through its entity ([`crate::entity::consents`]); every statement here
//! takes "now" from the caller's clock, never the database's.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait as _, Condition, ConnectionTrait, EntityTrait as _, QueryFilter,
    QueryOrder as _, QuerySelect as _, QueryTrait as _, Select, Statement,
};
use terrace_platform::auth::AdminScope;
use terrace_platform::error::{Error, Result};
use uuid::Uuid;

use crate::entity::consents::{self, Column, Entity};
use crate::grants::store::{self as grants, lives_in};

/// A consent as the service reads it: the stored row with its scopes parsed.
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

impl TryFrom<consents::Model> for ConsentRow {
    type Error = Error;

    /// Scopes that are not a JSON array of strings are an error.
    fn try_from(row: consents::Model) -> Result<Self> {
        Ok(Self {
            id: row.id,
            grantor: row.grantor_user_id,
            helper: row.helper_user_id,
            scopes: serde_json::from_value(row.scopes).map_err(Error::internal)?,
            starts_at: row.starts_at,
            ends_at: row.ends_at,
            note: row.note,
            witnessed: row.witnessed,
            recorded_by: row.recorded_by,
            created_at: row.created_at,
            withdrawn_at: row.withdrawn_at,
            withdrawn_by: row.withdrawn_by,
            withdraw_reason: row.withdraw_reason,
        })
    }
}

fn one(row: Option<consents::Model>) -> Result<Option<ConsentRow>> {
    row.map(ConsentRow::try_from).transpose()
}

fn rows(rows: Vec<consents::Model>) -> Result<Vec<ConsentRow>> {
    rows.into_iter().map(ConsentRow::try_from).collect()
}

/// Consent `id`, locked (`FOR UPDATE`) for the rest of the transaction when `for_update`.
pub async fn by_id<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    for_update: bool,
) -> Result<Option<ConsentRow>> {
    let found = Entity::find_by_id(id)
        .apply_if(for_update.then_some(()), |query, ()| query.lock_exclusive())
        .one(conn)
        .await?;
    one(found)
}

/// The consent that request `request_id` of the caller keyed `caller_key` created, if any.
pub async fn by_request<C: ConnectionTrait>(
    conn: &C,
    caller_key: &str,
    request_id: Uuid,
) -> Result<Option<ConsentRow>> {
    let found = Entity::find()
        .filter(Column::CallerKey.eq(caller_key))
        .filter(Column::RequestId.eq(request_id))
        .one(conn)
        .await?;
    one(found)
}

/// Locks user `id`'s row for the rest of the transaction; `false` when there is no such user.
pub async fn lock_user<C: ConnectionTrait>(conn: &C, id: Uuid) -> Result<bool> {
    let found = crate::entity::users::Entity::find_by_id(id)
        .lock_exclusive()
        .one(conn)
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
    let found = Entity::find()
        .select_only()
        .column(Column::Id)
        .filter(Column::GrantorUserId.eq(grantor))
        .filter(Column::HelperUserId.eq(helper))
        .filter(Column::WithdrawnAt.is_null())
        .filter(Column::StartsAt.lt(ends_at))
        .filter(Column::EndsAt.gt(starts_at))
        .into_tuple::<Uuid>()
        .one(conn)
        .await?;
    Ok(found)
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
    let row = consents::ActiveModel {
        id: Set(Uuid::now_v7()),
        grantor_user_id: Set(new.grantor),
        helper_user_id: Set(new.helper),
        scopes: Set(serde_json::json!(new.scopes)),
        starts_at: Set(new.starts_at),
        ends_at: Set(new.ends_at),
        note: Set(new.note.to_owned()),
        witnessed: Set(new.witnessed),
        recorded_by: Set(new.recorded_by),
        created_at: Set(new.created_at),
        caller_key: Set(Some(new.caller_key.to_owned())),
        request_id: Set(Some(new.request_id)),
        ..Default::default()
    };
    ConsentRow::try_from(Entity::insert(row).exec_with_returning(conn).await?)
}

/// Marks consent `id` withdrawn at `now` by `by`.
pub async fn mark_withdrawn<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    by: Uuid,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Option<ConsentRow>> {
    let updated = Entity::update_many()
        .col_expr(Column::WithdrawnAt, Expr::value(now))
        .col_expr(Column::WithdrawnBy, Expr::value(by))
        .col_expr(Column::WithdrawReason, Expr::value(reason))
        .filter(Column::Id.eq(id))
        .exec_with_returning(conn)
        .await?;
    one(updated.into_iter().next())
}

/// Marks up to `batch` consents that reached their end by `now` without being withdrawn, and
/// were not announced yet, as announced. Raw SQL: the claim is one `UPDATE .. WHERE id IN
/// (SELECT .. FOR UPDATE SKIP LOCKED) RETURNING`, so replicas running the job at once never
/// announce one twice; the rows still map to the entity.
pub async fn mark_expiry_published<C: ConnectionTrait>(
    conn: &C,
    now: DateTime<Utc>,
    batch: u32,
) -> Result<Vec<ConsentRow>> {
    let claimed = Entity::find()
        .from_raw_sql(Statement::from_sql_and_values(
            conn.get_database_backend(),
            "UPDATE consents SET expiry_published_at = $1 WHERE id IN ( \
             SELECT id FROM consents WHERE withdrawn_at IS NULL \
             AND expiry_published_at IS NULL AND ends_at <= $1 \
             ORDER BY ends_at LIMIT $2 FOR UPDATE SKIP LOCKED) RETURNING *",
            [now.into(), i64::from(batch).into()],
        ))
        .all(conn)
        .await?;
    rows(claimed)
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

/// Up to `limit` consents matching `filter`, newest first, after consent `after`, each with
/// the areas of its villager's live grants (a second query, for the page's villagers at once).
pub async fn page<C: ConnectionTrait>(
    conn: &C,
    filter: &Filter<'_>,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<Listed>> {
    let found = rows(select(filter, after, limit).all(conn).await?)?;
    let mut grantors: Vec<Uuid> = found.iter().map(|consent| consent.grantor).collect();
    grantors.sort_unstable();
    grantors.dedup();
    let mut areas: HashMap<Uuid, Vec<AdminScope>> = HashMap::new();
    for grant in grants::live_of(conn, &grantors, filter.now).await? {
        areas
            .entry(grant.user_id)
            .or_default()
            .push(grant.grant.scope);
    }
    Ok(found
        .into_iter()
        .map(|consent| Listed {
            villager_areas: areas.get(&consent.grantor).cloned().unwrap_or_default(),
            consent,
        })
        .collect())
}

/// The query of [`page`].
fn select(filter: &Filter<'_>, after: Option<Uuid>, limit: u64) -> Select<Entity> {
    // Who governs the whole country sees every villager's consents, with roles or without.
    let everyone = filter
        .villagers_in
        .iter()
        .any(|area| area.as_str().is_empty());
    let visible = (!everyone).then(|| {
        Condition::any()
            .add_option(filter.grantor_is.map(|me| Column::GrantorUserId.eq(me)))
            .add_option(filter.helper_is.map(|me| Column::HelperUserId.eq(me)))
            .add_option((!filter.villagers_in.is_empty()).then(|| {
                lives_in(
                    (Entity, Column::GrantorUserId),
                    filter.villagers_in,
                    filter.now,
                )
            }))
    });
    Entity::find()
        // Nothing visible is an empty `any`: false.
        .apply_if(visible, QueryFilter::filter)
        .apply_if(filter.grantor, |query, grantor| {
            query.filter(Column::GrantorUserId.eq(grantor))
        })
        .apply_if(filter.helper, |query, helper| {
            query.filter(Column::HelperUserId.eq(helper))
        })
        .apply_if(after, |query, after| query.filter(Column::Id.lt(after)))
        .apply_if(
            (!filter.include_inactive).then_some(filter.now),
            |query, now| {
                query
                    .filter(Column::WithdrawnAt.is_null())
                    .filter(Column::EndsAt.gt(now))
            },
        )
        .order_by_desc(Column::Id)
        .limit(limit)
}

#[cfg(test)]
mod tests {
    use sea_orm::DbBackend;

    use super::*;

    fn sql(me: Option<Uuid>, villagers_in: &[&AdminScope]) -> String {
        let filter = Filter {
            grantor_is: me,
            helper_is: me,
            villagers_in,
            grantor: None,
            helper: None,
            include_inactive: true,
            now: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
        };
        select(&filter, None, 10)
            .build(DbBackend::Postgres)
            .to_string()
    }

    #[test]
    fn who_sees_nothing_gets_false_and_the_whole_country_sees_everything() {
        let none = sql(None, &[]);
        assert!(none.contains("WHERE FALSE"), "{none}");
        let country = AdminScope::country();
        let everything = sql(None, &[&country]);
        assert!(!everything.contains("WHERE"), "{everything}");
        let county = AdminScope::parse("110101").unwrap();
        let official = sql(Some(Uuid::nil()), &[&county]);
        assert!(official.contains("\"grantor_user_id\" = '00000000-0000-0000-0000-000000000000' OR \"consents\".\"helper_user_id\""), "{official}");
        assert!(
            official.contains("EXISTS") && official.contains("LIKE '110101%'"),
            "{official}"
        );
    }
}
