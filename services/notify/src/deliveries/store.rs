//! The deliveries' tables and their SQL: one row per notification to one address on one
//! channel (unique by channel and deduplication key), with its status history beside it.

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ConnectionTrait, FromQueryResult, QueryOrder as _, QuerySelect as _, Statement};
use terrace_platform::db::SqlMigration;

/// The deliveries' tables.
pub const MIGRATION: SqlMigration = SqlMigration {
    name: "m20261205_000001_notify_deliveries",
    up: r"
CREATE TABLE deliveries (
    id                  uuid        PRIMARY KEY,
    recipient_user_id   uuid,
    -- Phone (E.164), e-mail address or URL: needed to send, shown only masked.
    address             text        NOT NULL,
    channel             smallint    NOT NULL,
    category            smallint    NOT NULL,
    critical            boolean     NOT NULL,
    template_key        text        NOT NULL,
    -- 0: the platform's built-in text.
    template_version    integer     NOT NULL,
    template_code       text        NOT NULL,
    locale              text        NOT NULL,
    subject             text        NOT NULL,
    -- The rendered text and its values, until the delivery is final; then emptied when they
    -- hold a secret (a one-time code).
    body                text        NOT NULL,
    params              jsonb       NOT NULL,
    secret              boolean     NOT NULL,
    status              smallint    NOT NULL,
    attempts            integer     NOT NULL DEFAULT 0,
    next_attempt_at     timestamptz NOT NULL,
    -- While SENDING: until when the replica sending it holds it.
    lease_until         timestamptz,
    -- A delivery not sent by then is useless (a code that expired) and is dropped.
    expire_at           timestamptz,
    last_error          text        NOT NULL DEFAULT '',
    provider_message_id text        NOT NULL DEFAULT '',
    sms_segments        integer     NOT NULL DEFAULT 0,
    dedupe_key          text        NOT NULL,
    source_event_id     text        NOT NULL,
    source_event_type   text        NOT NULL,
    -- The area the notification is about (officials of it may read the record); '' for none.
    area                text        NOT NULL,
    broadcast_id        uuid,
    webhook_endpoint_id uuid,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    UNIQUE (channel, dedupe_key)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status IN (1, 2, 3);
CREATE INDEX deliveries_by_recipient ON deliveries (recipient_user_id, id DESC);
CREATE INDEX deliveries_by_provider_id ON deliveries (provider_message_id)
    WHERE provider_message_id <> '';
CREATE INDEX deliveries_by_area ON deliveries (area text_pattern_ops, id DESC);
CREATE TABLE delivery_history (
    delivery_id uuid        NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    seq         bigserial,
    status      smallint    NOT NULL,
    at          timestamptz NOT NULL,
    detail      text        NOT NULL,
    PRIMARY KEY (delivery_id, seq)
);
",
};

/// A delivery's status, numbered as the contract's `DeliveryStatus`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "i16", db_type = "SmallInteger")]
pub enum Status {
    #[sea_orm(num_value = 1)]
    Queued,
    #[sea_orm(num_value = 2)]
    Deferred,
    #[sea_orm(num_value = 3)]
    Sending,
    #[sea_orm(num_value = 4)]
    Sent,
    #[sea_orm(num_value = 5)]
    Delivered,
    #[sea_orm(num_value = 6)]
    Failed,
    #[sea_orm(num_value = 7)]
    Suppressed,
}

impl Status {
    /// The stored (and the contract's) number.
    pub fn code(self) -> i16 {
        self.to_value()
    }
}

/// `deliveries`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "deliveries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub recipient_user_id: Option<Uuid>,
    pub address: String,
    pub channel: i16,
    pub category: i16,
    pub critical: bool,
    pub template_key: String,
    pub template_version: i32,
    pub template_code: String,
    pub signature: String,
    pub locale: String,
    pub subject: String,
    pub body: String,
    pub params: Json,
    pub secret: bool,
    pub status: Status,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    pub lease_until: Option<DateTimeUtc>,
    pub expire_at: Option<DateTimeUtc>,
    pub last_error: String,
    pub provider_message_id: String,
    pub sms_segments: i32,
    pub dedupe_key: String,
    pub source_event_id: String,
    pub source_event_type: String,
    pub area: String,
    pub digest: bool,
    pub broadcast_id: Option<Uuid>,
    pub webhook_endpoint_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// One line of a delivery's history.
#[derive(Clone, Debug, PartialEq, Eq, FromQueryResult)]
pub struct Change {
    pub delivery_id: Uuid,
    pub status: Status,
    pub at: DateTimeUtc,
    pub detail: String,
}

/// Writes `row` unless its notification was queued before on that channel; `true` when written
/// now (with its first history line, saying `detail`).
pub async fn insert<C: ConnectionTrait>(conn: &C, row: Model, detail: &str) -> Result<bool, DbErr> {
    let (id, status, at) = (row.id, row.status, row.created_at);
    let written = Entity::insert(ActiveModel::from(row))
        .on_conflict(
            OnConflict::columns([Column::Channel, Column::DedupeKey])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    if written > 0 {
        history(conn, id, status, at, detail).await?;
    }
    Ok(written > 0)
}

/// Appends a line to `delivery`'s history.
pub async fn history<C: ConnectionTrait>(
    conn: &C,
    delivery: Uuid,
    status: Status,
    at: DateTime<Utc>,
    detail: &str,
) -> Result<(), DbErr> {
    conn.execute_raw(Statement::from_sql_and_values(
        conn.get_database_backend(),
        "INSERT INTO delivery_history (delivery_id, status, at, detail) VALUES ($1, $2, $3, $4)",
        [
            delivery.into(),
            status.code().into(),
            at.into(),
            detail.into(),
        ],
    ))
    .await?;
    Ok(())
}

/// Takes up to `limit` deliveries due at `now` — queued or deferred until now, or left sending
/// by a replica whose lease lapsed — marks them SENDING for this replica until `lease_until`, and
/// counts the attempt. Raw SQL: the builder cannot say `FOR UPDATE SKIP LOCKED`, which lets every
/// replica take a different batch without waiting on the others.
pub async fn claim_due<C: ConnectionTrait>(
    conn: &C,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<Model>, DbErr> {
    Model::find_by_statement(Statement::from_sql_and_values(
        conn.get_database_backend(),
        r"
WITH claimed AS (
    UPDATE deliveries d
       SET status = 3, attempts = d.attempts + 1, lease_until = $2, updated_at = $1
      FROM (SELECT id FROM deliveries
             WHERE status IN (1, 2, 3) AND next_attempt_at <= $1
               AND (status <> 3 OR lease_until <= $1)
             ORDER BY next_attempt_at
             LIMIT $3
             FOR UPDATE SKIP LOCKED) due
     WHERE d.id = due.id
    RETURNING d.*
), logged AS (
    INSERT INTO delivery_history (delivery_id, status, at, detail)
    SELECT id, 3, $1, 'attempt ' || attempts FROM claimed
)
SELECT * FROM claimed",
        [now.into(), lease_until.into(), i64::from(limit).into()],
    ))
    .all(conn)
    .await
}

/// What became of an attempt.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: Status,
    pub detail: String,
    /// For SENT: the provider's id.
    pub provider_message_id: Option<String>,
    /// For a retry: when.
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// Records `outcome` of the attempt on `row` (still held by this replica: SENDING with the
/// lease it took); `false` when the row moved on meanwhile (another replica took it over).
pub async fn record<C: ConnectionTrait>(
    conn: &C,
    row: &Model,
    outcome: &Outcome,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let last_error = match outcome.status {
        Status::Sent | Status::Delivered => row.last_error.clone(),
        _ => outcome.detail.clone(),
    };
    let is_final = matches!(
        outcome.status,
        Status::Sent | Status::Delivered | Status::Failed | Status::Suppressed
    );
    let updated = conn
        .execute_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            r"
UPDATE deliveries
   SET status = $3, last_error = $4, updated_at = $5, lease_until = NULL,
       provider_message_id = COALESCE($6, provider_message_id),
       next_attempt_at = COALESCE($7, next_attempt_at),
       body = CASE WHEN secret AND $8 THEN '' ELSE body END,
       params = CASE WHEN secret AND $8 THEN '{}'::jsonb ELSE params END
 WHERE id = $1 AND status = 3 AND attempts = $2",
            [
                row.id.into(),
                row.attempts.into(),
                outcome.status.code().into(),
                last_error.into(),
                now.into(),
                outcome.provider_message_id.clone().into(),
                outcome.next_attempt_at.into(),
                is_final.into(),
            ],
        ))
        .await?
        .rows_affected();
    if updated > 0 {
        history(conn, row.id, outcome.status, now, &outcome.detail).await?;
    }
    Ok(updated > 0)
}

/// A receipt for the delivery the provider knows as `provider_message_id`: DELIVERED, or FAILED
/// with `detail`. Applied to a SENT delivery only (a late or repeated receipt changes nothing);
/// the delivery as it is now when applied.
pub async fn receipt<C: ConnectionTrait>(
    conn: &C,
    provider_message_id: &str,
    status: Status,
    detail: &str,
    now: DateTime<Utc>,
) -> Result<Option<Model>, DbErr> {
    let row = Model::find_by_statement(Statement::from_sql_and_values(
        conn.get_database_backend(),
        r"
UPDATE deliveries SET status = $2, updated_at = $3,
       last_error = CASE WHEN $2 = 6 THEN $4 ELSE last_error END
 WHERE provider_message_id = $1 AND status = 4
RETURNING *",
        [
            provider_message_id.into(),
            status.code().into(),
            now.into(),
            detail.into(),
        ],
    ))
    .one(conn)
    .await?;
    if let Some(row) = &row {
        history(conn, row.id, status, now, detail).await?;
    }
    Ok(row)
}

/// Whether any delivery carries `provider_message_id`.
pub async fn known_provider_id<C: ConnectionTrait>(
    conn: &C,
    provider_message_id: &str,
) -> Result<bool, DbErr> {
    Ok(Entity::find()
        .filter(Column::ProviderMessageId.eq(provider_message_id))
        .one(conn)
        .await?
        .is_some())
}

/// What a list reads.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only to this person.
    pub recipient: Option<Uuid>,
    /// Only about places under one of these areas (code prefixes; `""` is the whole country);
    /// `None`: anywhere. An official's list is limited to their areas here.
    pub areas: Option<Vec<String>>,
    pub source_event_id: Option<String>,
    pub broadcast_id: Option<Uuid>,
    pub webhook_endpoint_id: Option<Uuid>,
    pub channels: Vec<i16>,
    pub statuses: Vec<Status>,
    pub created_from: Option<DateTime<Utc>>,
    pub created_until: Option<DateTime<Utc>>,
}

/// A page of deliveries, newest first, before `before` (the last id of the previous page).
pub async fn page<C: ConnectionTrait>(
    conn: &C,
    filter: &Filter,
    before: Option<Uuid>,
    limit: u64,
) -> Result<Vec<Model>, DbErr> {
    let mut query = Entity::find();
    if let Some(recipient) = filter.recipient {
        query = query.filter(Column::RecipientUserId.eq(recipient));
    }
    if let Some(areas) = &filter.areas {
        let mut any = sea_orm::Condition::any();
        for area in areas {
            any = any.add(Column::Area.starts_with(area.as_str()));
        }
        // An area-limited reader sees nothing that is about no place.
        query = query.filter(Column::Area.ne("")).filter(any);
    }
    if let Some(source) = &filter.source_event_id {
        query = query.filter(Column::SourceEventId.eq(source.as_str()));
    }
    if let Some(broadcast) = filter.broadcast_id {
        query = query.filter(Column::BroadcastId.eq(broadcast));
    }
    if let Some(endpoint) = filter.webhook_endpoint_id {
        query = query.filter(Column::WebhookEndpointId.eq(endpoint));
    }
    if !filter.channels.is_empty() {
        query = query.filter(Column::Channel.is_in(filter.channels.iter().copied()));
    }
    if !filter.statuses.is_empty() {
        query = query.filter(Column::Status.is_in(filter.statuses.iter().copied()));
    }
    if let Some(from) = filter.created_from {
        query = query.filter(Column::CreatedAt.gte(from));
    }
    if let Some(until) = filter.created_until {
        query = query.filter(Column::CreatedAt.lt(until));
    }
    if let Some(before) = before {
        query = query.filter(Column::Id.lt(before));
    }
    query.order_by_desc(Column::Id).limit(limit).all(conn).await
}

/// Delivery `id`.
pub async fn find<C: ConnectionTrait>(conn: &C, id: Uuid) -> Result<Option<Model>, DbErr> {
    Entity::find_by_id(id).one(conn).await
}

/// The histories of `ids`, oldest first.
pub async fn histories<C: ConnectionTrait>(conn: &C, ids: &[Uuid]) -> Result<Vec<Change>, DbErr> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Change::find_by_statement(Statement::from_sql_and_values(
        conn.get_database_backend(),
        "SELECT delivery_id, status, at, detail FROM delivery_history
          WHERE delivery_id = ANY($1) ORDER BY delivery_id, seq",
        [ids.to_vec().into()],
    ))
    .all(conn)
    .await
}
