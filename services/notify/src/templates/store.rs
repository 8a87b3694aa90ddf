//! The table of message templates: one row per saved version, immutable once written except for
//! which version of a key is active (exactly one, by a partial unique index). "Now" comes in
//! from the service clock.

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::Expr;
use sea_orm::{ConnectionTrait, QueryOrder as _, QuerySelect as _};
use serde::{Deserialize, Serialize};
use terrace_platform::db::SqlMigration;

/// The templates' table.
pub const MIGRATION: SqlMigration = SqlMigration {
    name: "m20261205_000004_notify_templates",
    up: r"
CREATE TABLE template_versions (
    key         text        NOT NULL,
    version     integer     NOT NULL,
    description text        NOT NULL,
    -- The contract's NotificationCategory.
    category    smallint    NOT NULL,
    critical    boolean     NOT NULL,
    -- [{name, type, required, description}]
    variables   jsonb       NOT NULL,
    -- [{locale, channel, subject, body, provider_template_id, signature}]
    contents    jsonb       NOT NULL,
    -- Seeded from the platform's built-in texts rather than saved by a person: a release with
    -- new built-in texts adds a version, and activates it while nobody has chosen another.
    platform    boolean     NOT NULL,
    active      boolean     NOT NULL,
    -- The saver, a terrace.common.v1.Actor.
    created_by  bytea       NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (key, version)
);
CREATE UNIQUE INDEX template_versions_one_active ON template_versions (key) WHERE active;
-- The SMS signature the text's template names; '' = the deployment's.
ALTER TABLE deliveries ADD COLUMN signature text NOT NULL DEFAULT '';
",
};

/// A declared variable, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variable {
    pub name: String,
    /// The contract's VariableType.
    #[serde(rename = "type")]
    pub kind: i32,
    pub required: bool,
    pub description: String,
}

/// One text of a template, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Content {
    pub locale: String,
    /// The contract's Channel.
    pub channel: i32,
    pub subject: String,
    pub body: String,
    pub provider_template_id: String,
    pub signature: String,
}

/// `template_versions`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "template_versions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub version: i32,
    pub description: String,
    pub category: i16,
    pub critical: bool,
    pub variables: Json,
    pub contents: Json,
    pub platform: bool,
    pub active: bool,
    pub created_by: Vec<u8>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// The declared variables (written by this module; unreadable ones read as none).
    pub fn variables(&self) -> Vec<Variable> {
        serde_json::from_value(self.variables.clone()).unwrap_or_default()
    }

    /// The texts.
    pub fn contents(&self) -> Vec<Content> {
        serde_json::from_value(self.contents.clone()).unwrap_or_default()
    }
}

/// The active version of `key`.
pub async fn active<C: ConnectionTrait>(conn: &C, key: &str) -> Result<Option<Model>, DbErr> {
    Entity::find()
        .filter(Column::Key.eq(key))
        .filter(Column::Active.eq(true))
        .one(conn)
        .await
}

/// The active version of `key`, locked until the transaction ends: what a new version or an
/// activation of that key waits on, so two editors never write the same version number.
pub async fn active_for_update<C: ConnectionTrait>(
    conn: &C,
    key: &str,
) -> Result<Option<Model>, DbErr> {
    Entity::find()
        .filter(Column::Key.eq(key))
        .filter(Column::Active.eq(true))
        .lock_exclusive()
        .one(conn)
        .await
}

/// Version `version` of `key`.
pub async fn version<C: ConnectionTrait>(
    conn: &C,
    key: &str,
    version: i32,
) -> Result<Option<Model>, DbErr> {
    Entity::find_by_id((key.to_owned(), version))
        .one(conn)
        .await
}

/// The newest version of `key`.
pub async fn latest<C: ConnectionTrait>(conn: &C, key: &str) -> Result<Option<Model>, DbErr> {
    Entity::find()
        .filter(Column::Key.eq(key))
        .order_by_desc(Column::Version)
        .one(conn)
        .await
}

/// Writes a version; `false` when that key and version exist already.
pub async fn insert<C: ConnectionTrait>(conn: &C, row: Model) -> Result<bool, DbErr> {
    let written = Entity::insert(ActiveModel::from(row))
        .on_conflict(
            sea_orm::sea_query::OnConflict::columns([Column::Key, Column::Version])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(written > 0)
}

/// Makes `version` the active one of `key` (the caller holds the key's lock).
pub async fn activate<C: ConnectionTrait>(conn: &C, key: &str, version: i32) -> Result<(), DbErr> {
    // Two statements, in this order, because the partial unique index allows one active row at
    // every moment.
    Entity::update_many()
        .col_expr(Column::Active, Expr::value(false))
        .filter(Column::Key.eq(key))
        .filter(Column::Active.eq(true))
        .exec(conn)
        .await?;
    Entity::update_many()
        .col_expr(Column::Active, Expr::value(true))
        .filter(Column::Key.eq(key))
        .filter(Column::Version.eq(version))
        .exec(conn)
        .await?;
    Ok(())
}

/// A page of active versions by key after `after`, optionally of one category and under a key
/// prefix.
pub async fn page_active<C: ConnectionTrait>(
    conn: &C,
    category: Option<i16>,
    key_prefix: &str,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<Model>, DbErr> {
    let mut query = Entity::find().filter(Column::Active.eq(true));
    if let Some(category) = category {
        query = query.filter(Column::Category.eq(category));
    }
    if !key_prefix.is_empty() {
        query = query.filter(Column::Key.starts_with(key_prefix));
    }
    if let Some(after) = after {
        query = query.filter(Column::Key.gt(after));
    }
    query.order_by_asc(Column::Key).limit(limit).all(conn).await
}

/// A page of `key`'s versions, newest first, before `before`.
pub async fn page_versions<C: ConnectionTrait>(
    conn: &C,
    key: &str,
    before: Option<i32>,
    limit: u64,
) -> Result<Vec<Model>, DbErr> {
    let mut query = Entity::find().filter(Column::Key.eq(key));
    if let Some(before) = before {
        query = query.filter(Column::Version.lt(before));
    }
    query
        .order_by_desc(Column::Version)
        .limit(limit)
        .all(conn)
        .await
}
