//! `orders` (`crate::orders::MIGRATION`): a buyer's order on a listing and where it stands.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "orders")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// `M-<yyyymmdd>-<number>`, the number from one sequence.
    pub reference: String,
    pub listing_id: Uuid,
    pub buyer_user_id: Uuid,
    pub seller_user_id: Uuid,
    /// The listing's village: whose officials see the order.
    pub village_code: String,
    /// `terrace.common.v1.Unit`'s number, the listing's unit.
    pub unit: i16,
    pub quantity_milli: i64,
    /// Fen per unit when ordered, and the total, rounded half-even.
    pub unit_price_minor: i64,
    pub total_minor: i64,
    /// `terrace.market.v1.FulfilmentMethod`'s number.
    pub fulfilment_method: i16,
    pub delivery_address: String,
    pub contact_phone: String,
    pub buyer_note: String,
    pub seller_note: String,
    pub status: OrderStatus,
    pub reservation_expire_at: DateTimeUtc,
    /// When it was shipped or picked up: it completes by itself seven days later.
    pub handed_over_at: Option<DateTimeUtc>,
    pub cancel_reason: String,
    /// The contract's `Actor` who cancelled or declined it, protobuf-encoded.
    pub cancelled_by: Option<Vec<u8>>,
    /// The listing's title when ordered (`LocalizedText.translations` as JSON).
    pub listing_title: Json,
    /// Every status entered, oldest first: a JSON array of `{status, at, actor, note}`, the actor
    /// the contract's `Actor` protobuf-encoded in base64 (`crate::orders::history`).
    pub history: Json,
    pub version: i64,
    pub created_key: String,
    pub created_request_id: Uuid,
    pub created_at: DateTimeUtc,
    pub created_by: Vec<u8>,
    pub updated_at: DateTimeUtc,
    pub updated_by: Vec<u8>,
}

/// The numbers are `terrace.market.v1.OrderStatus`'s.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "i16", db_type = "SmallInteger")]
pub enum OrderStatus {
    #[sea_orm(num_value = 1)]
    Pending,
    #[sea_orm(num_value = 2)]
    Confirmed,
    #[sea_orm(num_value = 3)]
    Declined,
    #[sea_orm(num_value = 4)]
    Expired,
    #[sea_orm(num_value = 5)]
    Cancelled,
    #[sea_orm(num_value = 6)]
    Shipped,
    #[sea_orm(num_value = 7)]
    PickedUp,
    #[sea_orm(num_value = 8)]
    Completed,
    #[sea_orm(num_value = 9)]
    NoShow,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
