//! `request_types` (`crate::request_types::MIGRATION`): a kind of service request offered in an
//! area (the Open311 "service").

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "request_types")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The area's normalized code prefix (`""` the country, `"330523"` a county).
    pub area: String,
    /// Unique within the area (the Open311 `service_code`).
    pub code: String,
    /// `LocalizedText.translations` as a JSON object of tag to text.
    pub name: Json,
    pub description: Json,
    pub group_name: String,
    /// The extra fields: a `terrace.governance.v1.RequestType` holding only `fields`,
    /// protobuf-encoded (read whole with the type, never queried).
    pub fields: Vec<u8>,
    /// The responsible role, as `terrace.identity.v1.Role`'s number.
    pub responsible_role: i16,
    pub sla_hours: i32,
    pub sla_working_days: i32,
    pub active: bool,
    /// Whether its requests are listed publicly (Open311's anonymous `GET requests`);
    /// added by `crate::request_types::PUBLIC_LISTING_MIGRATION`, false for older types.
    pub public_listing: bool,
    /// Raised by every change.
    pub version: i64,
    pub created_at: DateTimeUtc,
    /// The contract's `Actor`, protobuf-encoded: shown, never queried.
    pub created_by: Vec<u8>,
    pub updated_at: DateTimeUtc,
    pub updated_by: Vec<u8>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
