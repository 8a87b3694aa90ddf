//! The inbox's table and its SQL: one row per notification to one person, written exactly once
//! per notification (`dedup_key` is unique), and the `pg_notify` that wakes every replica's
//! watchers of that person.

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ConnectionTrait, QueryOrder as _, QuerySelect as _, Statement};
use terrace_platform::db::SqlMigration;

/// The channel every replica listens on; the payload is the person's user id.
pub const CHANNEL: &str = "notify_inbox";

/// The inbox's table.
pub const MIGRATION: SqlMigration = SqlMigration {
    name: "m20261204_220001_notify_inbox",
    up: r"
CREATE SEQUENCE inbox_read_seq;
CREATE TABLE inbox_items (
    id          uuid        PRIMARY KEY,
    user_id     uuid        NOT NULL,
    category    smallint    NOT NULL,
    title       text        NOT NULL,
    body        text        NOT NULL,
    link        text        NOT NULL,
    critical    boolean     NOT NULL,
    created_at  timestamptz NOT NULL,
    read_at     timestamptz,
    -- Raised from inbox_read_seq when the item is read: what a watcher last saw of reads.
    read_seq    bigint,
    source_id   text        NOT NULL,
    -- One notification, one row: the rule's key (event id, rule, recipient).
    dedup_key   text        NOT NULL UNIQUE
);
CREATE INDEX inbox_items_by_user ON inbox_items (user_id, id DESC);
CREATE INDEX inbox_items_unread ON inbox_items (user_id) WHERE read_at IS NULL;
CREATE INDEX inbox_items_reads ON inbox_items (user_id, read_seq) WHERE read_seq IS NOT NULL;
",
};

/// `inbox_items`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "inbox_items")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    pub category: i16,
    pub title: String,
    pub body: String,
    pub link: String,
    pub critical: bool,
    pub created_at: DateTimeUtc,
    pub read_at: Option<DateTimeUtc>,
    pub read_seq: Option<i64>,
    pub source_id: String,
    pub dedup_key: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Writes `row` unless its notification was written before; `true` when it was written now.
/// Wakes the person's watchers (on commit).
pub async fn insert<C: ConnectionTrait>(conn: &C, row: Model) -> Result<bool, DbErr> {
    let user = row.user_id;
    let written = Entity::insert(ActiveModel::from(row))
        .on_conflict(OnConflict::column(Column::DedupKey).do_nothing().to_owned())
        .exec_without_returning(conn)
        .await?;
    if written > 0 {
        wake(conn, user).await?;
    }
    Ok(written > 0)
}

/// Wakes `user`'s watchers on every replica when the transaction commits.
pub async fn wake<C: ConnectionTrait>(conn: &C, user: Uuid) -> Result<(), DbErr> {
    conn.execute_raw(Statement::from_sql_and_values(
        conn.get_database_backend(),
        "SELECT pg_notify($1, $2)",
        [CHANNEL.into(), user.to_string().into()],
    ))
    .await?;
    Ok(())
}

/// What a list reads.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub unread_only: bool,
    pub categories: Vec<i16>,
}

/// A page of `user`'s items, newest first, before `before` (the last id of the previous page).
pub async fn page<C: ConnectionTrait>(
    conn: &C,
    user: Uuid,
    filter: &Filter,
    before: Option<Uuid>,
    limit: u64,
) -> Result<Vec<Model>, DbErr> {
    let mut query = Entity::find().filter(Column::UserId.eq(user));
    if filter.unread_only {
        query = query.filter(Column::ReadAt.is_null());
    }
    if !filter.categories.is_empty() {
        query = query.filter(Column::Category.is_in(filter.categories.iter().copied()));
    }
    if let Some(before) = before {
        query = query.filter(Column::Id.lt(before));
    }
    query.order_by_desc(Column::Id).limit(limit).all(conn).await
}

/// `user`'s item `id`, if it is theirs.
pub async fn find<C: ConnectionTrait>(
    conn: &C,
    user: Uuid,
    id: Uuid,
) -> Result<Option<Model>, DbErr> {
    Entity::find_by_id(id)
        .filter(Column::UserId.eq(user))
        .one(conn)
        .await
}

/// `user`'s items after `after` (all of them, oldest first, at most `limit`).
pub async fn after<C: ConnectionTrait>(
    conn: &C,
    user: Uuid,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<Model>, DbErr> {
    let mut query = Entity::find().filter(Column::UserId.eq(user));
    if let Some(after) = after {
        query = query.filter(Column::Id.gt(after));
    }
    query.order_by_asc(Column::Id).limit(limit).all(conn).await
}

/// `user`'s newest item id.
pub async fn newest<C: ConnectionTrait>(conn: &C, user: Uuid) -> Result<Option<Uuid>, DbErr> {
    Entity::find()
        .select_only()
        .column(Column::Id)
        .filter(Column::UserId.eq(user))
        .order_by_desc(Column::Id)
        .into_tuple()
        .one(conn)
        .await
}

/// `user`'s unread items.
pub async fn unread_count<C: ConnectionTrait>(conn: &C, user: Uuid) -> Result<i64, DbErr> {
    let count = Entity::find()
        .filter(Column::UserId.eq(user))
        .filter(Column::ReadAt.is_null())
        .count(conn)
        .await?;
    Ok(i64::try_from(count).unwrap_or(i64::MAX))
}

/// Which items are marked read.
#[derive(Debug, Clone)]
pub enum Marked {
    Items(Vec<Uuid>),
    UpTo(Uuid),
}

/// Marks `user`'s unread items of `which` read at `at`; answers the ids that changed.
/// Raw SQL: the read sequence's `nextval` per row.
pub async fn mark_read<C: ConnectionTrait>(
    conn: &C,
    user: Uuid,
    which: &Marked,
    at: DateTime<Utc>,
) -> Result<Vec<Uuid>, DbErr> {
    let (condition, value): (&str, sea_orm::Value) = match which {
        Marked::Items(ids) => ("id = ANY($3)", ids.clone().into()),
        Marked::UpTo(id) => ("id <= $3", (*id).into()),
    };
    let rows = conn
        .query_all_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            format!(
                "UPDATE inbox_items SET read_at = $2, read_seq = nextval('inbox_read_seq')
                  WHERE user_id = $1 AND read_at IS NULL AND {condition}
                  RETURNING id"
            ),
            [user.into(), at.into(), value],
        ))
        .await?;
    let ids = rows
        .iter()
        .map(|row| row.try_get::<Uuid>("", "id"))
        .collect::<Result<Vec<_>, _>>()?;
    if !ids.is_empty() {
        wake(conn, user).await?;
    }
    Ok(ids)
}

/// `user`'s items read after the read sequence `after`: their ids and the newest sequence.
pub async fn read_since<C: ConnectionTrait>(
    conn: &C,
    user: Uuid,
    after: i64,
) -> Result<(Vec<Uuid>, i64), DbErr> {
    let rows: Vec<(Uuid, Option<i64>)> = Entity::find()
        .select_only()
        .columns([Column::Id, Column::ReadSeq])
        .filter(Column::UserId.eq(user))
        .filter(Column::ReadSeq.gt(after))
        .order_by_asc(Column::ReadSeq)
        .into_tuple()
        .all(conn)
        .await?;
    let newest = rows
        .iter()
        .filter_map(|(_, seq)| *seq)
        .max()
        .unwrap_or(after);
    Ok((rows.into_iter().map(|(id, _)| id).collect(), newest))
}

/// The newest read sequence among `user`'s items (0 when none was read).
pub async fn newest_read<C: ConnectionTrait>(conn: &C, user: Uuid) -> Result<i64, DbErr> {
    let newest: Option<Option<i64>> = Entity::find()
        .select_only()
        .column_as(Column::ReadSeq.max(), "newest")
        .filter(Column::UserId.eq(user))
        .into_tuple()
        .one(conn)
        .await?;
    Ok(newest.flatten().unwrap_or(0))
}
