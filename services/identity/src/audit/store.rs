//! The `audit_records` table, through its entity ([`crate::entity::audit_records`]); every
//! statement takes "now" from the caller's clock, never the database's.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait as _, Condition, ConnectionTrait, EntityTrait as _, QueryFilter,
    QueryOrder as _, QuerySelect as _, QueryTrait as _, Select,
};
use terrace_platform::auth::AdminScope;
use terrace_platform::error::Result;
use uuid::Uuid;

use crate::entity::audit_records::{self, Column, Entity};
use crate::grants::store::lives_in;

/// A record as stored: the entity's model.
pub use crate::entity::audit_records::Model as AuditRow;

/// A record to write.
#[derive(Debug)]
pub struct NewRecord<'a> {
    pub actor_id: String,
    pub on_behalf_of: Option<String>,
    pub action: &'a str,
    pub target_user: Option<Uuid>,
    pub details: serde_json::Value,
    pub at: DateTime<Utc>,
}

/// Writes `record`.
pub async fn insert<C: ConnectionTrait>(conn: &C, record: NewRecord<'_>) -> Result<AuditRow> {
    let row = AuditRow {
        id: Uuid::now_v7(),
        at: record.at,
        actor_id: record.actor_id,
        on_behalf_of: record.on_behalf_of,
        action: record.action.to_owned(),
        target_user: record.target_user,
        details: record.details,
    };
    let active = audit_records::ActiveModel {
        id: Set(row.id),
        at: Set(row.at),
        actor_id: Set(row.actor_id.clone()),
        on_behalf_of: Set(row.on_behalf_of.clone()),
        action: Set(row.action.clone()),
        target_user: Set(row.target_user),
        details: Set(row.details.clone()),
    };
    Entity::insert(active).exec_without_returning(conn).await?;
    Ok(row)
}

/// The areas of `user`'s grants live at `at`, counting a grant revoked at that very instant
/// (by the action being recorded) as live.
pub async fn areas_at<C: ConnectionTrait>(
    conn: &C,
    user: Uuid,
    at: DateTime<Utc>,
) -> Result<Vec<AdminScope>> {
    use crate::entity::role_grants::{Column as Grant, Entity as Grants};
    let scopes: Vec<String> = Grants::find()
        .select_only()
        .column(Grant::Scope)
        .filter(Grant::UserId.eq(user))
        .filter(
            Condition::any().add(Grant::RevokedAt.gte(at)).add(
                Condition::all().add(Grant::RevokedAt.is_null()).add(
                    Condition::any()
                        .add(Grant::ExpiresAt.is_null())
                        .add(Grant::ExpiresAt.gt(at)),
                ),
            ),
        )
        .into_tuple()
        .all(conn)
        .await?;
    // A stored scope is always valid (grants are checked when written); one that is not is left
    // out rather than failing the action being recorded.
    Ok(scopes
        .iter()
        .filter_map(|scope| AdminScope::parse(scope).ok())
        .collect())
}

/// Which records a list may show and asks for.
#[derive(Debug)]
pub struct Filter<'a> {
    /// Every record may be shown.
    pub everything: bool,
    /// Records about this user may be shown.
    pub own: Option<Uuid>,
    /// Records about users living (holding a live grant) inside these areas may be shown.
    pub areas: &'a [AdminScope],
    /// Records about these agency clients (those the caller manages) may be shown.
    pub agencies: &'a [Uuid],
    /// Only records about users living inside this area, or about these agency clients (those
    /// with an area inside it).
    pub area: Option<(&'a AdminScope, &'a [Uuid])>,
    /// Only these actions; empty: all.
    pub actions: &'a [String],
    pub target: Option<Uuid>,
    pub actor: Option<Uuid>,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    /// What "live" means for a grant.
    pub now: DateTime<Utc>,
}

/// Up to `limit` records matching `filter`, newest first, after record `after`.
pub async fn page<C: ConnectionTrait>(
    conn: &C,
    filter: &Filter<'_>,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<AuditRow>> {
    Ok(select(filter, after, limit).all(conn).await?)
}

/// The actions of records about an agency client, whose `details.client_id` names it (the
/// record's `target_user` is empty: a client is not a user).
pub const AGENCY_ACTIONS: &str = "agency.";

/// Records about one of `clients` (callers leave it out when there are none).
fn about_agencies(clients: &[Uuid]) -> Condition {
    // In scope here only: their `contains` would shadow `str::contains` in the tests.
    use sea_orm::sea_query::ExprTrait as _;
    use sea_orm::sea_query::extension::postgres::PgExpr as _;
    Condition::all()
        .add(Column::Action.starts_with(AGENCY_ACTIONS))
        .add(
            Expr::col(Column::Details)
                .cast_json_field("client_id")
                .is_in(clients.iter().map(Uuid::to_string)),
        )
}

/// The query of [`page`].
fn select(filter: &Filter<'_>, after: Option<Uuid>, limit: u64) -> Select<Entity> {
    let areas: Vec<&AdminScope> = filter.areas.iter().collect();
    let visible = (!filter.everything).then(|| {
        Condition::any()
            .add_option(filter.own.map(|own| Column::TargetUser.eq(own)))
            .add_option(
                (!areas.is_empty())
                    .then(|| lives_in((Entity, Column::TargetUser), &areas, filter.now)),
            )
            .add_option((!filter.agencies.is_empty()).then(|| about_agencies(filter.agencies)))
    });
    Entity::find()
        // Nothing visible (no own records, no areas, no clients) is an empty `any`: false.
        .apply_if(visible, QueryFilter::filter)
        .apply_if(filter.area, |query, (area, clients)| {
            query.filter(
                Condition::any()
                    .add(lives_in((Entity, Column::TargetUser), &[area], filter.now))
                    .add_option((!clients.is_empty()).then(|| about_agencies(clients))),
            )
        })
        .apply_if(
            (!filter.actions.is_empty()).then_some(filter.actions),
            |query, actions| query.filter(Column::Action.is_in(actions.iter().cloned())),
        )
        .apply_if(filter.target, |query, target| {
            query.filter(
                Condition::any()
                    .add(Column::TargetUser.eq(target))
                    .add(about_agencies(&[target])),
            )
        })
        .apply_if(filter.actor, |query, actor| {
            query.filter(Column::ActorId.eq(actor.to_string()))
        })
        .apply_if(after, |query, after| query.filter(Column::Id.lt(after)))
        .apply_if(filter.start, |query, start| {
            query.filter(Column::At.gte(start))
        })
        .apply_if(filter.end, |query, end| query.filter(Column::At.lt(end)))
        .order_by_desc(Column::Id)
        .limit(limit)
}

#[cfg(test)]
mod tests {
    use sea_orm::DbBackend;

    use super::*;

    fn filter<'a>(everything: bool, own: Option<Uuid>, areas: &'a [AdminScope]) -> Filter<'a> {
        Filter {
            everything,
            own,
            areas,
            agencies: &[],
            area: None,
            actions: &[],
            target: None,
            actor: None,
            start: None,
            end: None,
            now: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
        }
    }

    fn sql(filter: &Filter<'_>) -> String {
        select(filter, None, 10)
            .build(DbBackend::Postgres)
            .to_string()
    }

    #[test]
    fn a_caller_who_may_see_nothing_gets_a_false_condition_not_no_condition() {
        let none = sql(&filter(false, None, &[]));
        assert!(none.contains("WHERE FALSE"), "{none}");
        let everything = sql(&filter(true, None, &[]));
        assert!(!everything.contains("WHERE"), "{everything}");
        let areas = [AdminScope::parse("110101").unwrap()];
        let own = sql(&filter(false, Some(Uuid::nil()), &areas));
        assert!(
            own.contains("\"target_user\" = '00000000-0000-0000-0000-000000000000' OR EXISTS"),
            "{own}"
        );
        assert!(own.contains("LIKE '110101%'"), "{own}");
        let client = Uuid::nil();
        let agencies = sql(&Filter {
            agencies: &[client],
            ..filter(false, None, &[])
        });
        assert!(
            agencies.contains(
                "\"action\" LIKE 'agency.%' AND (\"details\" ->> 'client_id') IN \
                 ('00000000-0000-0000-0000-000000000000')"
            ),
            "{agencies}"
        );
    }
}
