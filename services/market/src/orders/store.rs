//! The `orders` table and the stock arithmetic on `listings`: rows and SQL, no rules; "now"
//! comes in as a parameter from the service clock.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait as _, ColumnTrait as _, ConnectionTrait, DbErr, EntityTrait as _,
    IntoActiveModel as _, QueryFilter as _, QueryOrder as _, QuerySelect as _, Statement,
};
use uuid::Uuid;

use super::parse::{ListOrders, Side};
use crate::entity::listings::{Entity as Listings, Model as ListingRow};
use crate::entity::orders::{Column, Entity as Orders, Model as OrderRow, OrderStatus};

/// Orders.
pub const MIGRATION_SQL: &str = "
-- One sequence numbers every order: references unique everywhere, no counter row to queue on.
CREATE SEQUENCE order_number;

CREATE TABLE orders (
    id                    uuid        PRIMARY KEY,
    reference             text        NOT NULL UNIQUE,
    listing_id            uuid        NOT NULL REFERENCES listings (id),
    buyer_user_id         uuid        NOT NULL,
    seller_user_id        uuid        NOT NULL,
    village_code          text        NOT NULL,
    unit                  smallint    NOT NULL,
    quantity_milli        bigint      NOT NULL CHECK (quantity_milli > 0),
    unit_price_minor      bigint      NOT NULL CHECK (unit_price_minor > 0),
    total_minor           bigint      NOT NULL,
    fulfilment_method     smallint    NOT NULL,
    delivery_address      text        NOT NULL,
    contact_phone         text        NOT NULL,
    buyer_note            text        NOT NULL,
    seller_note           text        NOT NULL,
    status                smallint    NOT NULL,
    reservation_expire_at timestamptz NOT NULL,
    handed_over_at        timestamptz,
    cancel_reason         text        NOT NULL,
    cancelled_by          bytea,
    listing_title         jsonb       NOT NULL,
    history               jsonb       NOT NULL,
    version               bigint      NOT NULL,
    created_key           text        NOT NULL,
    created_request_id    uuid        NOT NULL,
    created_at            timestamptz NOT NULL,
    created_by            bytea       NOT NULL,
    updated_at            timestamptz NOT NULL,
    updated_by            bytea       NOT NULL,
    UNIQUE (created_key, created_request_id)
);
CREATE INDEX orders_buyer ON orders (buyer_user_id, id DESC);
CREATE INDEX orders_seller ON orders (seller_user_id, id DESC);
CREATE INDEX orders_listing ON orders (listing_id, id DESC);
CREATE INDEX orders_village ON orders (village_code text_pattern_ops, id DESC);
-- The jobs: pending orders by the end of their reservation; handed-over orders by when.
CREATE INDEX orders_pending ON orders (reservation_expire_at) WHERE status = 1;
CREATE INDEX orders_handed_over ON orders (handed_over_at) WHERE status IN (6, 7);
-- The price reference: completed orders of a category in an area, recent first.
CREATE INDEX orders_completed ON orders (village_code text_pattern_ops, updated_at) WHERE status = 8;
";

/// What a buyer asks to reserve.
#[derive(Debug, Clone, Copy)]
pub struct Reservation {
    pub listing_id: Uuid,
    pub quantity_milli: i64,
    /// `terrace.common.v1.Unit`'s number: the listing's own, or nothing is reserved.
    pub unit: i16,
    pub buyer: Uuid,
    /// `terrace.market.v1.FulfilmentMethod`'s number: one the listing offers.
    pub fulfilment: i16,
}

/// Reserves what `wanted` asks in one statement, or nothing: only on an active, not hidden
/// listing of someone else, in its unit, at least its minimum order, by a way it offers, with at
/// least that much available — all judged under the row's lock, so no interleaving of buyers ever
/// reserves more than the stock (the table's CHECK stands behind it). A listing left with nothing
/// available becomes sold out. When nothing is reserved the caller reads the listing to say why. Raw SQL: the condition on the arithmetic and the
/// status that follows from it are one `UPDATE … RETURNING`, which the query builder cannot say.
pub async fn reserve<C: ConnectionTrait>(
    conn: &C,
    wanted: &Reservation,
    now: DateTime<Utc>,
    by: Vec<u8>,
) -> Result<Option<ListingRow>, DbErr> {
    Listings::find()
        .from_raw_sql(Statement::from_sql_and_values(
            conn.get_database_backend(),
            "UPDATE listings SET
                 reserved_milli = reserved_milli + $2,
                 status = CASE WHEN stocked_milli - reserved_milli - sold_milli - $2 = 0
                               THEN 4 ELSE status END,
                 version = version + 1,
                 updated_at = $3,
                 updated_by = $4
             WHERE id = $1 AND status = 2 AND NOT hidden
               AND stocked_milli - reserved_milli - sold_milli >= $2
               AND unit = $5 AND minimum_order_milli <= $2
               AND seller_user_id <> $6 AND $7 = ANY (fulfilment_methods)
             RETURNING *",
            [
                wanted.listing_id.into(),
                wanted.quantity_milli.into(),
                now.into(),
                by.into(),
                wanted.unit.into(),
                wanted.buyer.into(),
                wanted.fulfilment.into(),
            ],
        ))
        .one(conn)
        .await
}

/// What happens to an order's reservation when its order moves on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settle {
    /// Back to available (declined, cancelled, expired, no-show); a sold-out listing is active
    /// again.
    Release,
    /// Turned into sold (shipped, picked up).
    Sell,
}

/// Settles `quantity_milli` reserved on listing `id` as `settle` says, in one statement under the
/// row's lock; returns the listing after it.
pub async fn settle<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    quantity_milli: i64,
    settle: Settle,
    now: DateTime<Utc>,
    by: Vec<u8>,
) -> Result<Option<ListingRow>, DbErr> {
    let sql = match settle {
        Settle::Release => {
            "UPDATE listings SET
                 reserved_milli = reserved_milli - $2,
                 status = CASE WHEN status = 4 THEN 2 ELSE status END,
                 version = version + 1, updated_at = $3, updated_by = $4
             WHERE id = $1 RETURNING *"
        }
        Settle::Sell => {
            "UPDATE listings SET
                 reserved_milli = reserved_milli - $2,
                 sold_milli = sold_milli + $2,
                 version = version + 1, updated_at = $3, updated_by = $4
             WHERE id = $1 RETURNING *"
        }
    };
    Listings::find()
        .from_raw_sql(Statement::from_sql_and_values(
            conn.get_database_backend(),
            sql,
            [id.into(), quantity_milli.into(), now.into(), by.into()],
        ))
        .one(conn)
        .await
}

/// The next order number.
pub async fn next_number<C: ConnectionTrait>(conn: &C) -> Result<i64, DbErr> {
    let row = conn
        .query_one_raw(Statement::from_string(
            conn.get_database_backend(),
            "SELECT nextval('order_number') AS n",
        ))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("nextval".to_owned()))?;
    row.try_get("", "n")
}

pub async fn insert<C: ConnectionTrait>(conn: &C, row: OrderRow) -> Result<OrderRow, DbErr> {
    row.into_active_model().insert(conn).await
}

pub async fn save<C: ConnectionTrait>(conn: &C, row: OrderRow) -> Result<OrderRow, DbErr> {
    row.into_active_model().reset_all().update(conn).await
}

pub async fn find<C: ConnectionTrait>(conn: &C, id: Uuid) -> Result<Option<OrderRow>, DbErr> {
    Orders::find_by_id(id).one(conn).await
}

pub async fn find_for_update<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
) -> Result<Option<OrderRow>, DbErr> {
    Orders::find_by_id(id).lock_exclusive().one(conn).await
}

/// The order a buyer's `request_id` made, if any (a resend after the idempotency log forgot).
pub async fn find_created<C: ConnectionTrait>(
    conn: &C,
    key: &str,
    request_id: Uuid,
) -> Result<Option<OrderRow>, DbErr> {
    Orders::find()
        .filter(Column::CreatedKey.eq(key))
        .filter(Column::CreatedRequestId.eq(request_id))
        .one(conn)
        .await
}

/// A page of orders, newest first: a user's as buyer or seller, or an area's.
pub async fn list<C: ConnectionTrait>(
    conn: &C,
    query: &ListOrders,
    user: Option<Uuid>,
    limit: u64,
) -> Result<Vec<OrderRow>, DbErr> {
    let mut select = Orders::find();
    select = match (&query.side, user) {
        (Side::Buyer, Some(user)) => select.filter(Column::BuyerUserId.eq(user)),
        (Side::Seller, Some(user)) => select.filter(Column::SellerUserId.eq(user)),
        (Side::Area(area), _) if !area.as_str().is_empty() => {
            select.filter(Column::VillageCode.starts_with(area.as_str()))
        }
        _ => select,
    };
    if let Some(listing) = query.listing_id {
        select = select.filter(Column::ListingId.eq(listing));
    }
    if !query.statuses.is_empty() {
        select = select.filter(Column::Status.is_in(query.statuses.iter().copied()));
    }
    if let Some(after) = &query.page.after {
        select = select.filter(Column::Id.lt(after.id));
    }
    select
        .order_by_desc(Column::Id)
        .limit(limit)
        .all(conn)
        .await
}

/// Orders of `status` whose `column` time has come, locked for a job (`SKIP LOCKED`: an order a
/// person is moving right now is left for the next run).
pub async fn due<C: ConnectionTrait>(
    conn: &C,
    statuses: &[OrderStatus],
    column: Column,
    before: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<OrderRow>, DbErr> {
    Orders::find()
        .filter(Column::Status.is_in(statuses.iter().copied()))
        .filter(column.lte(before))
        .order_by_asc(column)
        .limit(limit)
        .lock_with_behavior(
            sea_orm::sea_query::LockType::Update,
            sea_orm::sea_query::LockBehavior::SkipLocked,
        )
        .all(conn)
        .await
}
