//! `service_request_timeline` (`crate::requests::MIGRATION`): what happened to a request, appended
//! and never edited.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "service_request_timeline")]
pub struct Model {
    /// UUIDv7: the entries of a request in the order they were written.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub service_request_id: Uuid,
    /// `terrace.governance.v1.TimelineEntryKind`'s number.
    pub kind: i16,
    /// `ServiceRequestStatus` numbers; 0 when the entry changed no status.
    pub from_status: i16,
    pub to_status: i16,
    pub note: String,
    /// `NoteVisibility`'s number: public entries are the requester's to read.
    pub visibility: i16,
    pub assignee_user_id: Option<Uuid>,
    pub related_request_id: Option<Uuid>,
    pub rating: i16,
    /// The contract's `Actor`, protobuf-encoded.
    pub actor: Vec<u8>,
    pub at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
