//! The `listings` table: rows and SQL, no rules; "now" comes in as a parameter from the service
//! clock.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait as _, ColumnTrait as _, ConnectionTrait, DbErr, EntityTrait as _,
    IntoActiveModel as _, QueryFilter as _, QueryOrder as _, QuerySelect as _,
};
use uuid::Uuid;

use super::parse::{ListListings, Whose};
use crate::entity::listings::{Column, Entity as Listings, ListingStatus, Model as ListingRow};

/// Listings.
pub const MIGRATION_SQL: &str = "
CREATE TABLE listings (
    id                  uuid        PRIMARY KEY,
    seller_user_id      uuid        NOT NULL,
    category_id         text        NOT NULL,
    title               jsonb       NOT NULL,
    description         jsonb       NOT NULL,
    variety             text        NOT NULL,
    grade               smallint    NOT NULL,
    certifications      smallint[]  NOT NULL,
    unit                smallint    NOT NULL,
    stocked_milli       bigint      NOT NULL CHECK (stocked_milli > 0),
    reserved_milli      bigint      NOT NULL CHECK (reserved_milli >= 0),
    sold_milli          bigint      NOT NULL CHECK (sold_milli >= 0),
    minimum_order_milli bigint      NOT NULL CHECK (minimum_order_milli > 0),
    unit_price_minor    bigint      NOT NULL CHECK (unit_price_minor > 0),
    net_weight_milli    bigint,
    net_weight_unit     smallint,
    price_per_kg_minor  bigint,
    harvest_date        date,
    village_code        text        NOT NULL,
    harvest_lot_code    text        NOT NULL,
    fulfilment_methods  smallint[]  NOT NULL,
    status              smallint    NOT NULL,
    expire_at           timestamptz,
    published_at        timestamptz,
    hidden              boolean     NOT NULL,
    hidden_reason       text        NOT NULL,
    hidden_by           bytea,
    version             bigint      NOT NULL,
    created_key         text        NOT NULL,
    created_request_id  uuid        NOT NULL,
    created_at          timestamptz NOT NULL,
    created_by          bytea       NOT NULL,
    updated_at          timestamptz NOT NULL,
    updated_by          bytea       NOT NULL,
    -- Never oversold: whatever the concurrency, what is reserved and sold fits in the stock.
    CHECK (reserved_milli + sold_milli <= stocked_milli),
    UNIQUE (created_key, created_request_id)
);
-- A seller's own listings, newest first.
CREATE INDEX listings_seller ON listings (seller_user_id, id DESC);
-- An area's listings for its officials (a prefix of the village code), newest first.
CREATE INDEX listings_village ON listings (village_code text_pattern_ops, id DESC);
-- The expiry job: listings that can expire, by expiry.
CREATE INDEX listings_expiring ON listings (expire_at) WHERE status IN (2, 3, 4);
";

pub async fn find<C: ConnectionTrait>(conn: &C, id: Uuid) -> Result<Option<ListingRow>, DbErr> {
    Listings::find_by_id(id).one(conn).await
}

/// The row locked for a change (`FOR UPDATE`): changes of one listing queue on it.
pub async fn find_for_update<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
) -> Result<Option<ListingRow>, DbErr> {
    Listings::find_by_id(id).lock_exclusive().one(conn).await
}

/// The listing a creator's `request_id` made, if any (a resend after the idempotency log forgot).
pub async fn find_created<C: ConnectionTrait>(
    conn: &C,
    key: &str,
    request_id: Uuid,
) -> Result<Option<ListingRow>, DbErr> {
    Listings::find()
        .filter(Column::CreatedKey.eq(key))
        .filter(Column::CreatedRequestId.eq(request_id))
        .one(conn)
        .await
}

/// Writes every column of `row` (changed under its lock).
pub async fn save<C: ConnectionTrait>(conn: &C, row: ListingRow) -> Result<ListingRow, DbErr> {
    row.into_active_model().reset_all().update(conn).await
}

/// A page of listings, newest first.
pub async fn list<C: ConnectionTrait>(
    conn: &C,
    query: &ListListings,
    seller: Option<Uuid>,
    limit: u64,
) -> Result<Vec<ListingRow>, DbErr> {
    let mut select = Listings::find();
    if let Some(seller) = seller {
        select = select.filter(Column::SellerUserId.eq(seller));
    }
    let area = match &query.whose {
        Whose::Area(area) => Some(area),
        Whose::Seller(_) => query.area.as_ref(),
    };
    if let Some(area) = area
        && !area.as_str().is_empty()
    {
        select = select.filter(Column::VillageCode.starts_with(area.as_str()));
    }
    select = if query.statuses.is_empty() {
        select.filter(Column::Status.ne(ListingStatus::Closed))
    } else {
        select.filter(Column::Status.is_in(query.statuses.iter().copied()))
    };
    if query.hidden_only {
        select = select.filter(Column::Hidden.eq(true));
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

/// Listings whose expiry has come, locked for the job (`SKIP LOCKED`: a listing a seller is
/// changing right now is left for the next run).
pub async fn due_to_expire<C: ConnectionTrait>(
    conn: &C,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<ListingRow>, DbErr> {
    Listings::find()
        .filter(Column::Status.is_in([
            ListingStatus::Active,
            ListingStatus::Paused,
            ListingStatus::SoldOut,
        ]))
        .filter(Column::ExpireAt.lte(now))
        .order_by_asc(Column::ExpireAt)
        .limit(limit)
        .lock_with_behavior(
            sea_orm::sea_query::LockType::Update,
            sea_orm::sea_query::LockBehavior::SkipLocked,
        )
        .all(conn)
        .await
}

/// Every listing, a page at a time by id (the search index's rebuild).
pub async fn page_by_id<C: ConnectionTrait>(
    conn: &C,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<ListingRow>, DbErr> {
    let mut select = Listings::find();
    if let Some(after) = after {
        select = select.filter(Column::Id.gt(after));
    }
    select.order_by_asc(Column::Id).limit(limit).all(conn).await
}
