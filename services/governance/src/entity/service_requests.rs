//! `service_requests` (`crate::requests::MIGRATION`): a villager's service request (the Open311
//! "request") and where it stands in its workflow.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "service_requests")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// `R-<year>-<number>`, the number from one sequence: unique everywhere, so within a county.
    pub reference: String,
    pub type_id: Uuid,
    pub village_code: String,
    pub description: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub address: String,
    /// The extra fields' values as a JSON object of key to string.
    pub field_values: Json,
    pub requester_user_id: Option<Uuid>,
    pub contact_name: String,
    pub contact_phone: String,
    /// The contract's `Actor` who filed it, protobuf-encoded.
    pub filed_by: Vec<u8>,
    pub on_behalf_consent: String,
    /// `terrace.governance.v1.RequestChannel`'s number.
    pub channel: i16,
    pub status: RequestStatus,
    /// `terrace.governance.v1.RequestPriority`'s number.
    pub priority: i16,
    pub assignee_user_id: Option<Uuid>,
    pub due_at: Option<DateTimeUtc>,
    /// The due time it was filed with, which SLA compliance is judged against.
    pub first_due_at: Option<DateTimeUtc>,
    pub escalation_level: i32,
    /// The area now answerable for it: its village, its township or its county (normalized).
    pub responsible_area: String,
    pub rating: i16,
    pub rating_comment: String,
    pub merged_into: Option<Uuid>,
    pub reopen_count: i32,
    pub resolved_at: Option<DateTimeUtc>,
    pub closed_at: Option<DateTimeUtc>,
    pub reopen_deadline: Option<DateTimeUtc>,
    /// Raised by every change.
    pub version: i64,
    /// The filer's idempotency key and request id: a phone that syncs days later finds the
    /// request it made even after the idempotency log forgot it.
    pub created_key: String,
    pub created_request_id: Uuid,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub updated_by: Vec<u8>,
}

/// The numbers are `terrace.governance.v1.ServiceRequestStatus`'s.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "i16", db_type = "SmallInteger")]
pub enum RequestStatus {
    #[sea_orm(num_value = 1)]
    Submitted,
    #[sea_orm(num_value = 2)]
    Acknowledged,
    #[sea_orm(num_value = 3)]
    InProgress,
    #[sea_orm(num_value = 4)]
    Resolved,
    #[sea_orm(num_value = 5)]
    Closed,
    #[sea_orm(num_value = 6)]
    Rejected,
    #[sea_orm(num_value = 7)]
    Reopened,
    #[sea_orm(num_value = 8)]
    Merged,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
