//! The tables of service requests: rows and SQL, no rules; "now" comes in as a parameter from the
//! service clock.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait as _, NullOrdering, Order};
use sea_orm::{
    ActiveModelTrait as _, ColumnTrait as _, Condition, ConnectionTrait, DbErr, EntityTrait as _,
    IntoActiveModel as _, QueryFilter as _, QueryOrder as _, QuerySelect as _, Statement,
};
use terrace_platform::auth::AdminLevel;
use uuid::Uuid;

use super::parse::{Assignee, ListServiceRequests, RequestCursor};
use crate::entity::service_request_followers::{
    Column as FollowerColumn, Entity as Followers, Model as FollowerRow,
};
use crate::entity::service_request_timeline::{
    Column as EntryColumn, Entity as Timeline, Model as EntryRow,
};
use crate::entity::service_requests::{
    Column, Entity as ServiceRequests, Model as RequestRow, RequestStatus as Status,
};
use terrace_proto::governance::v1 as pb;

/// Service requests, their timelines and followers.
pub const MIGRATION_SQL: &str = "
-- One sequence numbers every request: references are unique everywhere without a counter row
-- that every filing in a county would queue on.
CREATE SEQUENCE service_request_number;

CREATE TABLE service_requests (
    id                 uuid        PRIMARY KEY,
    reference          text        NOT NULL UNIQUE,
    type_id            uuid        NOT NULL REFERENCES request_types (id),
    village_code       text        NOT NULL,
    -- The township's and the county's codes, for their lists (an equality an index orders).
    township_code      text        NOT NULL GENERATED ALWAYS AS (left(village_code, 9)) STORED,
    county_code        text        NOT NULL GENERATED ALWAYS AS (left(village_code, 6)) STORED,
    description        text        NOT NULL,
    latitude           double precision,
    longitude          double precision,
    address            text        NOT NULL,
    field_values       jsonb       NOT NULL,
    requester_user_id  uuid,
    contact_name       text        NOT NULL,
    contact_phone      text        NOT NULL,
    filed_by           bytea       NOT NULL,
    on_behalf_consent  text        NOT NULL,
    channel            smallint    NOT NULL,
    status             smallint    NOT NULL,
    priority           smallint    NOT NULL,
    assignee_user_id   uuid,
    due_at             timestamptz,
    -- The due time the request was filed with: SLA compliance is judged against it, however
    -- escalations and reopening moved due_at since.
    first_due_at       timestamptz,
    escalation_level   integer     NOT NULL,
    responsible_area   text        NOT NULL,
    rating             smallint    NOT NULL CHECK (rating BETWEEN 0 AND 5),
    rating_comment     text        NOT NULL,
    merged_into        uuid,
    reopen_count       integer     NOT NULL,
    resolved_at        timestamptz,
    closed_at          timestamptz,
    reopen_deadline    timestamptz,
    version            bigint      NOT NULL,
    created_key        text        NOT NULL,
    created_request_id uuid        NOT NULL,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    updated_by         bytea       NOT NULL,
    UNIQUE (created_key, created_request_id)
);
-- A township's or a county's list, newest first (a village's reads its township's, filtered).
CREATE INDEX service_requests_township ON service_requests (township_code, created_at DESC, id DESC);
CREATE INDEX service_requests_county ON service_requests (county_code, created_at DESC, id DESC);
-- A villager's own requests.
CREATE INDEX service_requests_requester ON service_requests (requester_user_id, created_at DESC)
    WHERE requester_user_id IS NOT NULL;
-- The SLA job: open requests by due time.
CREATE INDEX service_requests_due ON service_requests (due_at)
    WHERE status IN (1, 2, 3, 7) AND due_at IS NOT NULL;
-- The closing job: resolved requests by the end of their reopen window.
CREATE INDEX service_requests_reopen_deadline ON service_requests (reopen_deadline)
    WHERE status = 4;

CREATE TABLE service_request_timeline (
    id                 uuid        PRIMARY KEY,
    service_request_id uuid        NOT NULL REFERENCES service_requests (id) ON DELETE CASCADE,
    kind               smallint    NOT NULL,
    from_status        smallint    NOT NULL,
    to_status          smallint    NOT NULL,
    note               text        NOT NULL,
    visibility         smallint    NOT NULL,
    assignee_user_id   uuid,
    related_request_id uuid,
    rating             smallint    NOT NULL,
    actor              bytea       NOT NULL,
    at                 timestamptz NOT NULL
);
CREATE INDEX service_request_timeline_by_request ON service_request_timeline (service_request_id, id);

CREATE TABLE service_request_followers (
    service_request_id uuid NOT NULL REFERENCES service_requests (id) ON DELETE CASCADE,
    merged_request_id  uuid NOT NULL,
    user_id            uuid,
    contact_name       text NOT NULL,
    contact_phone      text NOT NULL,
    PRIMARY KEY (service_request_id, merged_request_id)
);
";

/// The statuses of a request still being handled (`workflow::is_open`), as stored.
pub const OPEN: [Status; 4] = [
    Status::Submitted,
    Status::Acknowledged,
    Status::InProgress,
    Status::Reopened,
];

/// How many reference numbers one `nextval` gives: the block from its value up.
pub const NUMBER_BLOCK: i64 = 50;

/// The sequence steps a block at a time ([`NUMBER_BLOCK`]); numbers taken one by one before stay
/// below the next block.
pub const NUMBER_BLOCK_MIGRATION_SQL: &str =
    "ALTER SEQUENCE service_request_number INCREMENT BY 50;";

/// The first number of the next block of the reference sequence ([`NUMBER_BLOCK`] numbers).
pub async fn next_number_block<C: ConnectionTrait>(conn: &C) -> Result<i64, DbErr> {
    let row = conn
        .query_one_raw(Statement::from_string(
            conn.get_database_backend(),
            "SELECT nextval('service_request_number') AS n",
        ))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("nextval answered no row".to_owned()))?;
    row.try_get("", "n")
}

pub async fn insert<C: ConnectionTrait>(conn: &C, row: RequestRow) -> Result<(), DbErr> {
    ServiceRequests::insert(row.into_active_model())
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

pub async fn insert_entry<C: ConnectionTrait>(conn: &C, entry: EntryRow) -> Result<(), DbErr> {
    Timeline::insert(entry.into_active_model())
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

pub async fn find<C: ConnectionTrait>(conn: &C, id: Uuid) -> Result<Option<RequestRow>, DbErr> {
    ServiceRequests::find_by_id(id).one(conn).await
}

/// A request locked for a change until the transaction ends.
pub async fn find_for_update<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
) -> Result<Option<RequestRow>, DbErr> {
    ServiceRequests::find_by_id(id)
        .lock_exclusive()
        .one(conn)
        .await
}

/// The request a filer made with `request_id`, if it exists.
pub async fn find_created<C: ConnectionTrait>(
    conn: &C,
    key: &str,
    request_id: Uuid,
) -> Result<Option<RequestRow>, DbErr> {
    ServiceRequests::find()
        .filter(Column::CreatedKey.eq(key))
        .filter(Column::CreatedRequestId.eq(request_id))
        .one(conn)
        .await
}

pub async fn update<C: ConnectionTrait>(conn: &C, row: RequestRow) -> Result<RequestRow, DbErr> {
    row.into_active_model().reset_all().update(conn).await
}

/// A page of requests as `query` filters and orders them, `now` deciding what is overdue.
pub async fn list<C: ConnectionTrait>(
    conn: &C,
    query: &ListServiceRequests,
    now: DateTime<Utc>,
) -> Result<Vec<RequestRow>, DbErr> {
    let mut select = ServiceRequests::find();
    if let Some(area) = &query.area {
        let code = area.as_str();
        select = match area.level() {
            AdminLevel::Village => select
                .filter(Expr::col(Alias::new("township_code")).eq(&code[..9]))
                .filter(Column::VillageCode.eq(code)),
            AdminLevel::Township => select.filter(Expr::col(Alias::new("township_code")).eq(code)),
            AdminLevel::County => select.filter(Expr::col(Alias::new("county_code")).eq(code)),
            _ => select.filter(Expr::col(Alias::new("county_code")).like(format!("{code}%"))),
        };
    }
    if !query.statuses.is_empty() {
        select = select.filter(Column::Status.is_in(query.statuses.iter().copied()));
    }
    if !query.type_ids.is_empty() {
        select = select.filter(Column::TypeId.is_in(query.type_ids.iter().copied()));
    }
    select = match query.assignee {
        Assignee::Any => select,
        Assignee::Unassigned => select.filter(Column::AssigneeUserId.is_null()),
        Assignee::Is(user) => select.filter(Column::AssigneeUserId.eq(user)),
    };
    if let Some(requester) = query.requester {
        // Their own requests, and those they follow since theirs was merged into them.
        let followed = sea_orm::sea_query::Query::select()
            .column(FollowerColumn::ServiceRequestId)
            .from(Followers)
            .and_where(Expr::col(FollowerColumn::UserId).eq(requester))
            .to_owned();
        select = select.filter(
            Condition::any()
                .add(Column::RequesterUserId.eq(requester))
                .add(Column::Id.in_subquery(followed)),
        );
    }
    if query.overdue_only {
        select = select
            .filter(Column::Status.is_in(OPEN))
            .filter(Column::DueAt.lt(now));
    }
    if let Some(from) = query.submitted_from {
        select = select.filter(Column::CreatedAt.gte(from));
    }
    if let Some(until) = query.submitted_until {
        select = select.filter(Column::CreatedAt.lt(until));
    }
    let after = query.page.after.as_ref();
    select = match query.order {
        pb::ServiceRequestOrder::DueTimeAsc => {
            if let Some(after) = after {
                select = select.filter(after_by_due(after));
            }
            select
                .order_by_with_nulls(Column::DueAt, Order::Asc, NullOrdering::Last)
                .order_by_asc(Column::Id)
        }
        pb::ServiceRequestOrder::UpdateTimeDesc => {
            if let Some(after) = after {
                select = select.filter(before(Column::UpdatedAt, after));
            }
            select
                .order_by_desc(Column::UpdatedAt)
                .order_by_desc(Column::Id)
        }
        pb::ServiceRequestOrder::SubmitTimeDesc | pb::ServiceRequestOrder::Unspecified => {
            if let Some(after) = after {
                select = select.filter(before(Column::CreatedAt, after));
            }
            select
                .order_by_desc(Column::CreatedAt)
                .order_by_desc(Column::Id)
        }
    };
    select.limit(query.page.fetch_limit()).all(conn).await
}

/// Rows after `cursor` in a newest-first order of `column`.
fn before(column: Column, cursor: &RequestCursor) -> Condition {
    let time = cursor.time.unwrap_or_default();
    Condition::any().add(column.lt(time)).add(
        Condition::all()
            .add(column.eq(time))
            .add(Column::Id.lt(cursor.id)),
    )
}

/// Rows after `cursor` in due-time order, requests without a due time last.
fn after_by_due(cursor: &RequestCursor) -> Condition {
    match cursor.time {
        Some(due) => Condition::any()
            .add(Column::DueAt.gt(due))
            .add(
                Condition::all()
                    .add(Column::DueAt.eq(due))
                    .add(Column::Id.gt(cursor.id)),
            )
            .add(Column::DueAt.is_null()),
        None => Condition::all()
            .add(Column::DueAt.is_null())
            .add(Column::Id.gt(cursor.id)),
    }
}

/// A page of a request's timeline from `after`, oldest first. When `public_only`: public entries
/// and every move of the request (status changes, escalations, merges), whatever its note's
/// visibility — the caller blanks the note of those.
pub async fn timeline<C: ConnectionTrait>(
    conn: &C,
    request: Uuid,
    public_only: bool,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<EntryRow>, DbErr> {
    let mut select = Timeline::find().filter(EntryColumn::ServiceRequestId.eq(request));
    if public_only {
        select = select.filter(
            Condition::any()
                .add(EntryColumn::Visibility.eq(pb::NoteVisibility::Public as i16))
                .add(EntryColumn::Kind.is_in([
                    pb::TimelineEntryKind::StatusChanged as i16,
                    pb::TimelineEntryKind::Escalated as i16,
                    pb::TimelineEntryKind::Merged as i16,
                ])),
        );
    }
    if let Some(after) = after {
        select = select.filter(EntryColumn::Id.gt(after));
    }
    select
        .order_by_asc(EntryColumn::Id)
        .limit(limit)
        .all(conn)
        .await
}

/// Whether `user` follows request `id` (their own was merged into it).
pub async fn follows<C: ConnectionTrait>(conn: &C, id: Uuid, user: Uuid) -> Result<bool, DbErr> {
    Ok(Followers::find()
        .filter(FollowerColumn::ServiceRequestId.eq(id))
        .filter(FollowerColumn::UserId.eq(user))
        .one(conn)
        .await?
        .is_some())
}

/// The followers of the requests `ids`.
pub async fn followers<C: ConnectionTrait>(
    conn: &C,
    ids: &[Uuid],
) -> Result<Vec<FollowerRow>, DbErr> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Followers::find()
        .filter(FollowerColumn::ServiceRequestId.is_in(ids.iter().copied()))
        .order_by_asc(FollowerColumn::MergedRequestId)
        .all(conn)
        .await
}

/// Open requests below county level past their due time at `now` (but those `passed_by`), the
/// longest overdue first, locked (skipping those another replica's job holds).
pub async fn overdue<C: ConnectionTrait>(
    conn: &C,
    now: DateTime<Utc>,
    passed_by: &[Uuid],
    limit: u64,
) -> Result<Vec<RequestRow>, DbErr> {
    ServiceRequests::find()
        .filter(Column::Status.is_in(OPEN))
        .filter(Column::DueAt.lte(now))
        .filter(Column::Id.is_not_in(passed_by.iter().copied()))
        .filter(Expr::cust("length(responsible_area) > 6"))
        .order_by_asc(Column::DueAt)
        .limit(limit)
        .lock_with_behavior(
            sea_orm::sea_query::LockType::Update,
            sea_orm::sea_query::LockBehavior::SkipLocked,
        )
        .all(conn)
        .await
}

/// Resolved requests whose reopen window ended by `now`, locked (skipping those held).
pub async fn past_reopen_window<C: ConnectionTrait>(
    conn: &C,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<RequestRow>, DbErr> {
    ServiceRequests::find()
        .filter(Column::Status.eq(Status::Resolved))
        .filter(Column::ReopenDeadline.lt(now))
        .order_by_asc(Column::ReopenDeadline)
        .limit(limit)
        .lock_with_behavior(
            sea_orm::sea_query::LockType::Update,
            sea_orm::sea_query::LockBehavior::SkipLocked,
        )
        .all(conn)
        .await
}

/// Open requests of `of`'s type in its village, other than it, filed between two times.
pub async fn same_kind_open<C: ConnectionTrait>(
    conn: &C,
    of: &RequestRow,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<RequestRow>, DbErr> {
    ServiceRequests::find()
        .filter(Expr::col(Alias::new("township_code")).eq(&of.village_code[..9]))
        .filter(Column::VillageCode.eq(of.village_code.as_str()))
        .filter(Column::TypeId.eq(of.type_id))
        .filter(Column::Status.is_in(OPEN))
        .filter(Column::Id.ne(of.id))
        .filter(Column::CreatedAt.between(from, until))
        .order_by_desc(Column::CreatedAt)
        .limit(limit)
        .all(conn)
        .await
}

/// Takes an erased user out of the requests they filed or follow: the link to them, the contact
/// details, the consent note, their extra fields and their rating comment.
pub async fn forget_person<C: ConnectionTrait>(conn: &C, user: Uuid) -> Result<(), DbErr> {
    ServiceRequests::update_many()
        .col_expr(Column::RequesterUserId, Expr::value(Option::<Uuid>::None))
        .col_expr(Column::ContactName, Expr::value(""))
        .col_expr(Column::ContactPhone, Expr::value(""))
        .col_expr(Column::OnBehalfConsent, Expr::value(""))
        .col_expr(Column::FieldValues, Expr::value(serde_json::json!({})))
        .col_expr(Column::RatingComment, Expr::value(""))
        .filter(Column::RequesterUserId.eq(user))
        .exec(conn)
        .await?;
    Followers::update_many()
        .col_expr(FollowerColumn::UserId, Expr::value(Option::<Uuid>::None))
        .col_expr(FollowerColumn::ContactName, Expr::value(""))
        .col_expr(FollowerColumn::ContactPhone, Expr::value(""))
        .filter(FollowerColumn::UserId.eq(user))
        .exec(conn)
        .await?;
    Ok(())
}

/// Adds followers to requests (a follower already there stays as it is).
pub async fn add_followers<C: ConnectionTrait>(
    conn: &C,
    followers: Vec<FollowerRow>,
) -> Result<(), DbErr> {
    if followers.is_empty() {
        return Ok(());
    }
    Followers::insert_many(followers.into_iter().map(|row| row.into_active_model()))
        .on_conflict(
            sea_orm::sea_query::OnConflict::columns([
                FollowerColumn::ServiceRequestId,
                FollowerColumn::MergedRequestId,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// What Open311's `GET requests` asks for.
#[derive(Debug, Default)]
pub struct PublicQuery {
    pub ids: Vec<Uuid>,
    pub types: Vec<Uuid>,
    /// `Some(true)`: open ones only; `Some(false)`: closed ones only.
    pub open: Option<bool>,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub area: Option<terrace_platform::auth::AdminScope>,
}

/// Requests as Open311 lists them: only those of a type listed publicly
/// (`request_types.public_listing`), newest first, at most `limit`.
pub async fn public_list<C: ConnectionTrait>(
    conn: &C,
    query: &PublicQuery,
    limit: u64,
) -> Result<Vec<RequestRow>, DbErr> {
    use crate::entity::request_types::{Column as TypeColumn, Entity as RequestTypes};
    let listed = sea_orm::sea_query::Query::select()
        .column(TypeColumn::Id)
        .from(RequestTypes)
        .and_where(TypeColumn::PublicListing.eq(true))
        .to_owned();
    let mut select = ServiceRequests::find().filter(Column::TypeId.in_subquery(listed));
    if !query.ids.is_empty() {
        select = select.filter(Column::Id.is_in(query.ids.iter().copied()));
    }
    if !query.types.is_empty() {
        select = select.filter(Column::TypeId.is_in(query.types.iter().copied()));
    }
    select = match query.open {
        Some(true) => select.filter(Column::Status.is_in(OPEN)),
        Some(false) => select.filter(Column::Status.is_not_in(OPEN)),
        None => select,
    };
    if let Some(start) = query.start {
        select = select.filter(Column::CreatedAt.gte(start));
    }
    if let Some(end) = query.end {
        select = select.filter(Column::CreatedAt.lte(end));
    }
    if let Some(area) = &query.area {
        select = select.filter(Column::VillageCode.starts_with(area.as_str()));
    }
    select
        .order_by_desc(Column::CreatedAt)
        .order_by_desc(Column::Id)
        .limit(limit)
        .all(conn)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_of_numbers_is_one_step_of_the_sequence() {
        assert_eq!(
            NUMBER_BLOCK_MIGRATION_SQL,
            format!("ALTER SEQUENCE service_request_number INCREMENT BY {NUMBER_BLOCK};")
        );
    }
}
