//! `photos` ([`crate::MIGRATION`]): one row per uploaded photo, in the database of the service
//! it was uploaded to; its bytes live in the object store under `object_key`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "photos")]
pub struct Model {
    /// UUIDv7, as UploadPhoto answered it.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The uploader's idempotency key (`Caller::idempotency_key`): who may attach it.
    pub uploaded_by: String,
    /// The upload's request id; unique per uploader, so a retried upload finds its photo.
    pub request_id: Uuid,
    /// The stored JPEG's key in the object store; its thumbnail's is [`thumbnail_key`].
    pub object_key: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256_hex: String,
    pub width: i32,
    pub height: i32,
    pub public: bool,
    pub created_at: DateTimeUtc,
    /// What it is attached to (`service_request`, `request_note`, ...), set once with
    /// `attached_id` and `attached_at`; all three NULL until then.
    pub attached_kind: Option<String>,
    pub attached_id: Option<Uuid>,
    pub attached_at: Option<DateTimeUtc>,
    /// The caption given when it was attached: a `terrace.common.v1.LocalizedText`, encoded.
    pub caption: Option<Vec<u8>>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// The thumbnail's key beside a photo's (`<id>.jpg` → `<id>.thumb.jpg`).
pub fn thumbnail_key(object_key: &str) -> String {
    match object_key.strip_suffix(".jpg") {
        Some(stem) => format!("{stem}.thumb.jpg"),
        None => format!("{object_key}.thumb"),
    }
}
