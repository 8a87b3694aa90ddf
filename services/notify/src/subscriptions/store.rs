//! The table of what people follow beyond their own records: one row per subscription, unique
//! per person and topic. "Now" comes in from the service clock.

use sea_orm::entity::prelude::*;
use sea_orm::{ConnectionTrait, QueryOrder as _, QuerySelect as _, Statement};
use terrace_platform::db::SqlMigration;

/// The subscriptions' table.
pub const MIGRATION: SqlMigration = SqlMigration {
    name: "m20261205_000003_notify_subscriptions",
    up: r"
CREATE TABLE subscriptions (
    id          uuid        PRIMARY KEY,
    user_id     uuid        NOT NULL,
    -- A market category id ('fruit', 'fruit.apple'): it and its descendants.
    category_id text        NOT NULL,
    -- An area's code prefix ('330523' for a county).
    area        text        NOT NULL,
    created_at  timestamptz NOT NULL,
    UNIQUE (user_id, category_id, area)
);
CREATE INDEX subscriptions_by_category ON subscriptions (category_id);
",
};

/// `subscriptions`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "subscriptions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    pub category_id: String,
    pub area: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Writes `row`; `false` when the person already follows that topic.
pub async fn insert<C: ConnectionTrait>(conn: &C, row: Model) -> Result<bool, DbErr> {
    let written = Entity::insert(ActiveModel::from(row))
        .on_conflict(
            sea_orm::sea_query::OnConflict::columns([
                Column::UserId,
                Column::CategoryId,
                Column::Area,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(written > 0)
}

/// How many topics `user` follows.
pub async fn count<C: ConnectionTrait>(conn: &C, user: Uuid) -> Result<u64, DbErr> {
    Entity::find()
        .filter(Column::UserId.eq(user))
        .count(conn)
        .await
}

/// A page of `user`'s subscriptions, newest first, before `before`.
pub async fn page<C: ConnectionTrait>(
    conn: &C,
    user: Uuid,
    before: Option<Uuid>,
    limit: u64,
) -> Result<Vec<Model>, DbErr> {
    let mut query = Entity::find().filter(Column::UserId.eq(user));
    if let Some(before) = before {
        query = query.filter(Column::Id.lt(before));
    }
    query.order_by_desc(Column::Id).limit(limit).all(conn).await
}

/// Deletes `user`'s subscription `id`; `false` when they have none of that id.
pub async fn delete<C: ConnectionTrait>(conn: &C, user: Uuid, id: Uuid) -> Result<bool, DbErr> {
    let deleted = Entity::delete_many()
        .filter(Column::Id.eq(id))
        .filter(Column::UserId.eq(user))
        .exec(conn)
        .await?;
    Ok(deleted.rows_affected > 0)
}

/// Who follows a listing of `category` in `village` (12 digits): a subscription to the
/// category or one of its ancestors, over an area containing the village. Raw SQL: the match
/// runs the other way round (the stored values are prefixes of the given ones).
pub async fn followers<C: ConnectionTrait>(
    conn: &C,
    category: &str,
    village: &str,
) -> Result<Vec<Uuid>, DbErr> {
    let rows = conn
        .query_all_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            "SELECT DISTINCT user_id FROM subscriptions
              WHERE ($1 = category_id OR starts_with($1, category_id || '.'))
                AND starts_with($2, area)",
            [category.into(), village.into()],
        ))
        .await?;
    rows.iter()
        .map(|row| row.try_get::<Uuid>("", "user_id"))
        .collect()
}
