//! The table of each person's delivery preferences: one row per person who changed anything
//! (nobody else has one: the defaults hold). "Now" comes in from the service clock.

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ConnectionTrait, Statement};
use serde::{Deserialize, Serialize};
use terrace_platform::db::SqlMigration;

/// The preferences' table, and the digest mark deliveries need.
pub const MIGRATION: SqlMigration = SqlMigration {
    name: "m20261205_000002_notify_preferences",
    up: r"
CREATE TABLE preferences (
    user_id           uuid        PRIMARY KEY,
    -- [[category, channel, enabled], ...]: the pairs the person set.
    channel_settings  jsonb       NOT NULL,
    quiet_enabled     boolean     NOT NULL,
    quiet_start       smallint    NOT NULL,
    quiet_end         smallint    NOT NULL,
    digest_enabled    boolean     NOT NULL,
    digest_minute     smallint    NOT NULL,
    digest_categories jsonb       NOT NULL,
    digest_channel    smallint    NOT NULL,
    -- '' = identity's (notify's projection of people).
    time_zone         text        NOT NULL,
    locale            text        NOT NULL,
    updated_at        timestamptz NOT NULL
);
-- A delivery held for its recipient's daily digest: sent with the others due with it.
ALTER TABLE deliveries ADD COLUMN digest boolean NOT NULL DEFAULT false;
",
};

/// One setting: category, channel (the contract's numbers), on or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Setting(pub i32, pub i32, pub bool);

/// `preferences`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "preferences")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: Uuid,
    pub channel_settings: Json,
    pub quiet_enabled: bool,
    pub quiet_start: i16,
    pub quiet_end: i16,
    pub digest_enabled: bool,
    pub digest_minute: i16,
    pub digest_categories: Json,
    pub digest_channel: i16,
    pub time_zone: String,
    pub locale: String,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// The settings as written.
    pub fn settings(&self) -> Vec<Setting> {
        serde_json::from_value(self.channel_settings.clone()).unwrap_or_default()
    }

    /// The digest's categories as written.
    pub fn digest_categories(&self) -> Vec<i32> {
        serde_json::from_value(self.digest_categories.clone()).unwrap_or_default()
    }
}

/// `user`'s row, if they changed anything.
pub async fn find<C: ConnectionTrait>(conn: &C, user: Uuid) -> Result<Option<Model>, DbErr> {
    Entity::find_by_id(user).one(conn).await
}

/// Writes `row` whole (a person's preferences are one record).
pub async fn save<C: ConnectionTrait>(conn: &C, row: Model) -> Result<(), DbErr> {
    Entity::insert(ActiveModel::from(row))
        .on_conflict(
            OnConflict::column(Column::UserId)
                .update_columns([
                    Column::ChannelSettings,
                    Column::QuietEnabled,
                    Column::QuietStart,
                    Column::QuietEnd,
                    Column::DigestEnabled,
                    Column::DigestMinute,
                    Column::DigestCategories,
                    Column::DigestChannel,
                    Column::TimeZone,
                    Column::Locale,
                    Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// How many texts or mails (`channel`) `user` was sent or has waiting since `since`, critical
/// ones aside: what the per-person rate limit counts.
pub async fn recent_sends<C: ConnectionTrait>(
    conn: &C,
    user: Uuid,
    channel: i16,
    since: DateTimeUtc,
) -> Result<i64, DbErr> {
    let row = conn
        .query_one_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            "SELECT count(*) AS n FROM deliveries
              WHERE recipient_user_id = $1 AND channel = $2 AND created_at >= $3
                AND NOT critical AND status <> 7",
            [user.into(), channel.into(), since.into()],
        ))
        .await?;
    row.map_or(Ok(0), |row| row.try_get::<i64>("", "n"))
}
