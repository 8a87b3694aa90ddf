//! *Parse*: the requests about delivery records become commands, every bad field reported at
//! once with the platform's `validate` policies.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use terrace_platform::auth::AdminScope;
use terrace_platform::error::{Result, Violations};
use terrace_platform::validate::{self, Page, Text};
use terrace_proto::notify::v1 as pb;
use uuid::Uuid;

use super::store::Status;

/// Where a page of deliveries ends: the last one's id (UUIDv7, newest first).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeliveryCursor {
    pub id: Uuid,
}

/// `ListDeliveries`.
#[derive(Debug)]
pub struct ListDeliveries {
    pub recipient: Option<Uuid>,
    pub broadcast_id: Option<Uuid>,
    pub source_event_id: Option<String>,
    pub channels: Vec<i16>,
    pub statuses: Vec<Status>,
    pub created_from: Option<DateTime<Utc>>,
    pub created_until: Option<DateTime<Utc>>,
    pub area: Option<AdminScope>,
    pub webhook_endpoint_id: Option<Uuid>,
    pub page: Page<DeliveryCursor>,
}

impl ListDeliveries {
    pub fn parse(request: &pb::ListDeliveriesRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let v = &mut violations;
        let recipient = validate::optional_id(
            v,
            "recipient_user_id",
            &request.recipient_user_id,
            "recipient",
        );
        let broadcast_id =
            validate::optional_id(v, "broadcast_id", &request.broadcast_id, "broadcast");
        let source_event_id = validate::text(
            v,
            "source_event_id",
            &request.source_event_id,
            Text::optional(200),
        )
        .map(|id| Some(id).filter(|id| !id.is_empty()));
        let channels = validate::enum_values::<pb::Channel>(
            v,
            "channels",
            &request.channels,
            "a channel such as CHANNEL_SMS",
        )
        .map(|channels| {
            channels
                .into_iter()
                .filter_map(|c| i16::try_from(c as i32).ok())
                .collect()
        });
        let statuses = validate::enum_values::<pb::DeliveryStatus>(
            v,
            "statuses",
            &request.statuses,
            "a status such as DELIVERY_STATUS_SENT",
        )
        .map(|statuses| statuses.into_iter().filter_map(status_of).collect());
        let range = request.create_time_range.as_ref();
        let created_from = validate::timestamp(
            v,
            "create_time_range.start_time",
            range.and_then(|r| r.start_time.as_ref()),
        );
        let created_until = validate::timestamp(
            v,
            "create_time_range.end_time",
            range.and_then(|r| r.end_time.as_ref()),
        );
        if let (Some(Some(from)), Some(Some(until))) = (created_from, created_until)
            && until <= from
        {
            v.add("create_time_range.end_time", "must be after start_time");
        }
        let area = validate::optional_admin_code(v, "area", request.area.as_ref());
        let webhook_endpoint_id = validate::optional_id(
            v,
            "webhook_endpoint_id",
            &request.webhook_endpoint_id,
            "webhook endpoint",
        );
        let page = validate::page(v, "page", request.page.as_ref());
        violations.finish_with(|| {
            Some(Self {
                recipient: recipient?,
                broadcast_id: broadcast_id?,
                source_event_id: source_event_id?,
                channels: channels?,
                statuses: statuses?,
                created_from: created_from?,
                created_until: created_until?,
                area: area?,
                webhook_endpoint_id: webhook_endpoint_id?,
                page: page?,
            })
        })
    }
}

/// `GetDelivery`.
#[derive(Debug)]
pub struct GetDelivery {
    pub id: Uuid,
}

impl GetDelivery {
    pub fn parse(request: &pb::GetDeliveryRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let id = validate::id(
            &mut violations,
            "delivery_id",
            &request.delivery_id,
            "delivery",
        );
        violations.finish_with(|| Some(Self { id: id? }))
    }
}

/// The stored status of a contract status.
pub fn status_of(status: pb::DeliveryStatus) -> Option<Status> {
    use pb::DeliveryStatus as S;
    Some(match status {
        S::Unspecified => return None,
        S::Queued => Status::Queued,
        S::Deferred => Status::Deferred,
        S::Sending => Status::Sending,
        S::Sent => Status::Sent,
        S::Delivered => Status::Delivered,
        S::Failed => Status::Failed,
        S::Suppressed => Status::Suppressed,
    })
}
