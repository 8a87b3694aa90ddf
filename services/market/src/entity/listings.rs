//! `listings` (`crate::listings::MIGRATION`): produce a farmer offers, its stock and where it
//! stands in its lifecycle.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "listings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub seller_user_id: Uuid,
    /// A leaf of `crate::categories::taxonomy`.
    pub category_id: String,
    /// `LocalizedText.translations` as a JSON object of BCP 47 tag to text.
    pub title: Json,
    pub description: Json,
    pub variety: String,
    /// `terrace.market.v1.ProduceGrade`'s number.
    pub grade: i16,
    /// `terrace.market.v1.Certification` numbers, ascending.
    pub certifications: Vec<i16>,
    /// `terrace.common.v1.Unit`'s number: the unit of every quantity and of the price.
    pub unit: i16,
    /// Thousandths of `unit`: stocked = available + reserved + sold.
    pub stocked_milli: i64,
    pub reserved_milli: i64,
    pub sold_milli: i64,
    pub minimum_order_milli: i64,
    /// Fen per one `unit`.
    pub unit_price_minor: i64,
    /// A package's net weight: thousandths of `net_weight_unit`, a mass unit.
    pub net_weight_milli: Option<i64>,
    pub net_weight_unit: Option<i16>,
    /// Fen per kilogram, when the unit is a mass or the package states its weight.
    pub price_per_kg_minor: Option<i64>,
    pub harvest_date: Option<Date>,
    pub village_code: String,
    pub harvest_lot_code: String,
    /// `terrace.market.v1.FulfilmentMethod` numbers, ascending.
    pub fulfilment_methods: Vec<i16>,
    pub status: ListingStatus,
    pub expire_at: Option<DateTimeUtc>,
    pub published_at: Option<DateTimeUtc>,
    pub hidden: bool,
    pub hidden_reason: String,
    /// The contract's `Actor` who hid it, protobuf-encoded.
    pub hidden_by: Option<Vec<u8>>,
    /// Raised by every change, stock included; only increases.
    pub version: i64,
    /// The creator's idempotency key and request id: a phone that syncs days later finds the
    /// listing it made even after the idempotency log forgot it.
    pub created_key: String,
    pub created_request_id: Uuid,
    pub created_at: DateTimeUtc,
    pub created_by: Vec<u8>,
    pub updated_at: DateTimeUtc,
    pub updated_by: Vec<u8>,
}

/// The numbers are `terrace.market.v1.ListingStatus`'s.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "i16", db_type = "SmallInteger")]
pub enum ListingStatus {
    #[sea_orm(num_value = 1)]
    Draft,
    #[sea_orm(num_value = 2)]
    Active,
    #[sea_orm(num_value = 3)]
    Paused,
    #[sea_orm(num_value = 4)]
    SoldOut,
    #[sea_orm(num_value = 5)]
    Expired,
    #[sea_orm(num_value = 6)]
    Closed,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
