//! *Parse*: the requests about service requests become commands, every bad field reported at
//! once with the platform's `validate` policies. What depends on the request type (its extra
//! fields) is checked when the command is applied, against the type as it is then.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use terrace_platform::auth::AdminScope;
use terrace_platform::error::{Result, Violations};
use terrace_platform::idempotency::Mutation;
use terrace_platform::phone::PhoneNumber;
use terrace_platform::validate::{self, Page, Text};
use terrace_proto::governance::v1 as pb;
use uuid::Uuid;

use crate::entity::service_requests::RequestStatus as Status;
use crate::register::parse::village_code;

pub const MAX_DESCRIPTION_CHARS: usize = 4000;
pub const MAX_NOTE_CHARS: usize = 4000;
const MAX_ADDRESS_CHARS: usize = 200;
const MAX_CONTACT_NAME_CHARS: usize = 50;
const MAX_CONSENT_CHARS: usize = 200;
/// A reason (escalating, reopening) or a rating's comment.
const MAX_REASON_CHARS: usize = 1000;
pub use terrace_photos::MAX_PHOTOS;
/// The most values of one filter list.
const MAX_FILTER_VALUES: usize = 50;

/// Who the request is for, as the filer says.
#[derive(Debug, Clone)]
pub enum Filer {
    /// The caller (or the villager a helper acts for) files for themself; an agency, its own
    /// request (nobody named to answer).
    ForSelf,
    /// An official or an agency files for someone: a resident with an account, or a walk-in or
    /// caller known by name and phone.
    OnBehalf {
        user: Option<Uuid>,
        contact_name: String,
        contact_phone: Option<PhoneNumber>,
        consent: String,
    },
}

pub use terrace_photos::Attachment as PhotoToAttach;

/// `CreateServiceRequest`.
#[derive(Debug)]
pub struct CreateServiceRequest {
    pub mutation: Mutation,
    pub type_id: Uuid,
    pub village: AdminScope,
    pub description: String,
    pub point: Option<(f64, f64)>,
    pub address: String,
    pub photos: Vec<PhotoToAttach>,
    /// Checked against the type's fields when applied.
    pub field_values: BTreeMap<String, String>,
    pub filer: Filer,
    /// As given; checked against who files when applied.
    pub channel: pb::RequestChannel,
}

impl CreateServiceRequest {
    pub fn parse(request: pb::CreateServiceRequestRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let mutation = Mutation::parse(
            &mut violations,
            "CreateServiceRequest",
            &request.request_id,
            &request,
        );
        let given = request.service_request.unwrap_or_default();
        let type_id = validate::id(
            &mut violations,
            "service_request.type_id",
            &given.type_id,
            "request type",
        );
        let village = village_code(
            &mut violations,
            "service_request.village_code",
            &given.village_code,
        );
        let description = validate::text(
            &mut violations,
            "service_request.description",
            &given.description,
            Text::required(MAX_DESCRIPTION_CHARS).multiline(),
        );
        let location = given.location.unwrap_or_default();
        let point = validate::geo_point(
            &mut violations,
            "service_request.location.point",
            location.point.as_ref(),
        );
        let address = validate::text(
            &mut violations,
            "service_request.location.address",
            &location.address,
            Text::optional(MAX_ADDRESS_CHARS),
        );
        let photos =
            terrace_photos::attachments(&mut violations, "service_request.photos", &given.photos);
        let filer = filer(
            &mut violations,
            &request.on_behalf_of_user_id,
            &given.contact_name,
            &given.contact_phone,
            &given.on_behalf_consent,
        );
        let channel = pb::RequestChannel::try_from(given.channel).unwrap_or_else(|_| {
            violations.add(
                "service_request.channel",
                format!("unknown value {}", given.channel),
            );
            pb::RequestChannel::Unspecified
        });
        violations.finish_with(|| {
            Some(Self {
                mutation: mutation?,
                type_id: type_id?,
                village: village?,
                description: description?,
                point: point?,
                address: address?,
                photos: photos?,
                field_values: given.field_values,
                filer: filer?,
                channel,
            })
        })
    }
}

fn filer(
    violations: &mut Violations,
    on_behalf_of: &str,
    contact_name: &str,
    contact_phone: &str,
    consent: &str,
) -> Option<Filer> {
    let on_behalf = !on_behalf_of.is_empty()
        || !contact_name.trim().is_empty()
        || !contact_phone.trim().is_empty();
    if !on_behalf {
        if !consent.trim().is_empty() {
            violations.add(
                "service_request.on_behalf_consent",
                "only a request filed on behalf of someone carries their consent",
            );
            return None;
        }
        return Some(Filer::ForSelf);
    }
    let before = violations.len();
    let user = validate::optional_id(violations, "on_behalf_of_user_id", on_behalf_of, "user");
    let consent = validate::text(
        violations,
        "service_request.on_behalf_consent",
        consent,
        Text::required(MAX_CONSENT_CHARS),
    );
    let contact_name = validate::text(
        violations,
        "service_request.contact_name",
        contact_name,
        Text::optional(MAX_CONTACT_NAME_CHARS),
    );
    let contact_phone = if contact_phone.trim().is_empty() {
        Some(None)
    } else {
        PhoneNumber::field(
            violations,
            "service_request.contact_phone",
            contact_phone.trim(),
        )
        .map(Some)
    };
    if let (Some(None), Some(None)) = (&user, &contact_phone) {
        violations.add(
            "service_request.contact_phone",
            "required for someone without an account: the phone to answer them on",
        );
    }
    if let (Some(None), Some(name)) = (&user, &contact_name)
        && name.is_empty()
    {
        violations.add(
            "service_request.contact_name",
            "required for someone without an account",
        );
    }
    (violations.len() == before).then(|| Filer::OnBehalf {
        user: user.flatten(),
        contact_name: contact_name.unwrap_or_default(),
        contact_phone: contact_phone.flatten(),
        consent: consent.unwrap_or_default(),
    })
}

/// Where a list of requests continues: the order's key of the last one, and its id.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RequestCursor {
    pub time: Option<DateTime<Utc>>,
    pub id: Uuid,
}

/// Who a list is of when it names an assignee.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assignee {
    Any,
    Unassigned,
    Is(Uuid),
}

/// `ListServiceRequests`.
#[derive(Debug)]
pub struct ListServiceRequests {
    pub page: Page<RequestCursor>,
    pub area: Option<AdminScope>,
    pub statuses: Vec<Status>,
    pub type_ids: Vec<Uuid>,
    pub assignee: Assignee,
    pub requester: Option<Uuid>,
    pub overdue_only: bool,
    pub submitted_from: Option<DateTime<Utc>>,
    pub submitted_until: Option<DateTime<Utc>>,
    pub order: pb::ServiceRequestOrder,
}

impl ListServiceRequests {
    pub fn parse(request: pb::ListServiceRequestsRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let page = validate::page(&mut violations, "page", request.page.as_ref());
        let area = validate::optional_admin_code(&mut violations, "area", request.area.as_ref());
        if request.statuses.len() > MAX_FILTER_VALUES || request.type_ids.len() > MAX_FILTER_VALUES
        {
            violations.add(
                "statuses",
                format!("at most {MAX_FILTER_VALUES} values a filter"),
            );
        }
        let statuses: Vec<Status> = request
            .statuses
            .iter()
            .enumerate()
            .filter_map(|(index, value)| {
                status(&mut violations, &format!("statuses[{index}]"), *value)
            })
            .collect();
        let type_ids: Vec<Uuid> = request
            .type_ids
            .iter()
            .enumerate()
            .filter_map(|(index, id)| {
                validate::id(
                    &mut violations,
                    &format!("type_ids[{index}]"),
                    id,
                    "request type",
                )
            })
            .collect();
        let assignee = match request.assignee_user_id.as_str() {
            "" => Some(Assignee::Any),
            "-" => Some(Assignee::Unassigned),
            id => validate::id(&mut violations, "assignee_user_id", id, "user").map(Assignee::Is),
        };
        let requester = validate::optional_id(
            &mut violations,
            "requester_user_id",
            &request.requester_user_id,
            "user",
        );
        let range = request.submit_time_range.unwrap_or_default();
        let from = validate::timestamp(
            &mut violations,
            "submit_time_range.start_time",
            range.start_time.as_ref(),
        );
        let until = validate::timestamp(
            &mut violations,
            "submit_time_range.end_time",
            range.end_time.as_ref(),
        );
        let order = pb::ServiceRequestOrder::try_from(request.order_by).unwrap_or_else(|_| {
            violations.add("order_by", format!("unknown value {}", request.order_by));
            pb::ServiceRequestOrder::Unspecified
        });
        violations.finish_with(|| {
            Some(Self {
                page: page?,
                area: area?,
                statuses,
                type_ids,
                assignee: assignee?,
                requester: requester?,
                overdue_only: request.overdue_only,
                submitted_from: from?,
                submitted_until: until?,
                order,
            })
        })
    }
}

/// A status given in a request: known, not `UNSPECIFIED`.
pub fn status(violations: &mut Violations, field: &str, value: i32) -> Option<Status> {
    use pb::ServiceRequestStatus as P;
    let known = match P::try_from(value) {
        Ok(P::Submitted) => Status::Submitted,
        Ok(P::Acknowledged) => Status::Acknowledged,
        Ok(P::InProgress) => Status::InProgress,
        Ok(P::Resolved) => Status::Resolved,
        Ok(P::Closed) => Status::Closed,
        Ok(P::Rejected) => Status::Rejected,
        Ok(P::Reopened) => Status::Reopened,
        Ok(P::Merged) => Status::Merged,
        Ok(P::Unspecified) | Err(_) => {
            violations.add(field, "required: a status of the workflow");
            return None;
        }
    };
    Some(known)
}

/// A note's visibility, public when not given (`default`), or required.
fn visibility(
    violations: &mut Violations,
    field: &str,
    value: i32,
    default: Option<pb::NoteVisibility>,
) -> Option<pb::NoteVisibility> {
    match pb::NoteVisibility::try_from(value) {
        Ok(pb::NoteVisibility::Unspecified) => default.or_else(|| {
            violations.add(field, "required: PUBLIC or INTERNAL");
            None
        }),
        Ok(visibility) => Some(visibility),
        Err(_) => {
            violations.add(field, format!("unknown value {value}"));
            None
        }
    }
}

/// `ChangeServiceRequestStatus`.
#[derive(Debug)]
pub struct ChangeStatus {
    pub mutation: Mutation,
    pub id: Uuid,
    pub to: Status,
    pub note: String,
    pub visibility: pb::NoteVisibility,
    pub expected: Option<Status>,
}

impl ChangeStatus {
    pub fn parse(request: pb::ChangeServiceRequestStatusRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let mutation = Mutation::parse(
            &mut violations,
            "ChangeServiceRequestStatus",
            &request.request_id,
            &request,
        );
        let id = validate::id(
            &mut violations,
            "service_request_id",
            &request.service_request_id,
            "service request",
        );
        let to = status(&mut violations, "status", request.status).and_then(|to| {
            if matches!(
                to,
                Status::Acknowledged
                    | Status::InProgress
                    | Status::Resolved
                    | Status::Closed
                    | Status::Rejected
            ) {
                Some(to)
            } else {
                violations.add(
                    "status",
                    "must be ACKNOWLEDGED, IN_PROGRESS, RESOLVED, CLOSED or REJECTED (reopening and merging have their own RPCs)",
                );
                None
            }
        });
        let needs_note = matches!(to, Some(Status::Rejected | Status::Resolved));
        let note = validate::text(
            &mut violations,
            "note",
            &request.note,
            if needs_note {
                Text::required(MAX_NOTE_CHARS)
            } else {
                Text::optional(MAX_NOTE_CHARS)
            }
            .multiline(),
        );
        let visibility = visibility(
            &mut violations,
            "note_visibility",
            request.note_visibility,
            Some(pb::NoteVisibility::Public),
        );
        if to == Some(Status::Rejected) && visibility == Some(pb::NoteVisibility::Internal) {
            violations.add(
                "note_visibility",
                "a rejection is explained to the requester: its note is public",
            );
        }
        let expected = if request.expected_status == 0 {
            Some(None)
        } else {
            status(&mut violations, "expected_status", request.expected_status).map(Some)
        };
        violations.finish_with(|| {
            Some(Self {
                mutation: mutation?,
                id: id?,
                to: to?,
                note: note?,
                visibility: visibility?,
                expected: expected?,
            })
        })
    }
}

/// `AssignServiceRequest`.
#[derive(Debug)]
pub struct Assign {
    pub mutation: Mutation,
    pub id: Uuid,
    pub assignee: Option<Uuid>,
    pub note: String,
}

impl Assign {
    pub fn parse(request: pb::AssignServiceRequestRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let mutation = Mutation::parse(
            &mut violations,
            "AssignServiceRequest",
            &request.request_id,
            &request,
        );
        let id = validate::id(
            &mut violations,
            "service_request_id",
            &request.service_request_id,
            "service request",
        );
        let assignee = validate::optional_id(
            &mut violations,
            "assignee_user_id",
            &request.assignee_user_id,
            "user",
        );
        let note = validate::text(
            &mut violations,
            "note",
            &request.note,
            Text::optional(MAX_NOTE_CHARS).multiline(),
        );
        violations.finish_with(|| {
            Some(Self {
                mutation: mutation?,
                id: id?,
                assignee: assignee?,
                note: note?,
            })
        })
    }
}

/// `AddServiceRequestNote`.
#[derive(Debug)]
pub struct AddNote {
    pub mutation: Mutation,
    pub id: Uuid,
    pub note: String,
    pub visibility: pb::NoteVisibility,
    pub photos: Vec<PhotoToAttach>,
}

impl AddNote {
    pub fn parse(request: pb::AddServiceRequestNoteRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let mutation = Mutation::parse(
            &mut violations,
            "AddServiceRequestNote",
            &request.request_id,
            &request,
        );
        let id = validate::id(
            &mut violations,
            "service_request_id",
            &request.service_request_id,
            "service request",
        );
        let note = validate::text(
            &mut violations,
            "note",
            &request.note,
            Text::required(MAX_NOTE_CHARS).multiline(),
        );
        let visibility = visibility(&mut violations, "visibility", request.visibility, None);
        let photos = terrace_photos::attachments(&mut violations, "photos", &request.photos);
        violations.finish_with(|| {
            Some(Self {
                mutation: mutation?,
                id: id?,
                note: note?,
                visibility: visibility?,
                photos: photos?,
            })
        })
    }
}

/// `UploadPhoto`.
#[derive(Debug)]
pub struct UploadPhoto;

impl UploadPhoto {
    pub fn parse(request: pb::UploadPhotoRequest) -> Result<terrace_photos::UploadCommand> {
        terrace_photos::UploadCommand::parse(
            &request.request_id,
            request.content,
            request.content_type,
            request.public,
        )
    }
}

/// Where a timeline continues: after this entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EntryCursor {
    pub id: Uuid,
}

/// `ListServiceRequestTimeline`.
#[derive(Debug)]
pub struct ListTimeline {
    pub page: Page<EntryCursor>,
    pub id: Uuid,
}

impl ListTimeline {
    pub fn parse(request: pb::ListServiceRequestTimelineRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let page = validate::page(&mut violations, "page", request.page.as_ref());
        let id = validate::id(
            &mut violations,
            "service_request_id",
            &request.service_request_id,
            "service request",
        );
        violations.finish_with(|| {
            Some(Self {
                page: page?,
                id: id?,
            })
        })
    }
}

/// `EscalateServiceRequest`.
#[derive(Debug)]
pub struct Escalate {
    pub mutation: Mutation,
    pub id: Uuid,
    pub reason: String,
}

impl Escalate {
    pub fn parse(request: pb::EscalateServiceRequestRequest) -> Result<Self> {
        let (mutation, id, reason) = reasoned(
            "EscalateServiceRequest",
            &request,
            &request.request_id,
            &request.service_request_id,
            &request.reason,
        )?;
        Ok(Self {
            mutation,
            id,
            reason,
        })
    }
}

/// An action on a request that needs a reason (escalating, reopening): its idempotency key,
/// the request, the reason.
fn reasoned<M: prost::Message>(
    rpc: &'static str,
    request: &M,
    request_id: &str,
    service_request_id: &str,
    reason: &str,
) -> Result<(Mutation, Uuid, String)> {
    let mut violations = Violations::new();
    let mutation = Mutation::parse(&mut violations, rpc, request_id, request);
    let id = validate::id(
        &mut violations,
        "service_request_id",
        service_request_id,
        "service request",
    );
    let reason = validate::text(
        &mut violations,
        "reason",
        reason,
        Text::required(MAX_REASON_CHARS).multiline(),
    );
    violations.finish_with(|| Some((mutation?, id?, reason?)))
}

/// `RateServiceRequest`.
#[derive(Debug)]
pub struct Rate {
    pub mutation: Mutation,
    pub id: Uuid,
    pub rating: i16,
    pub comment: String,
}

impl Rate {
    pub fn parse(request: pb::RateServiceRequestRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let mutation = Mutation::parse(
            &mut violations,
            "RateServiceRequest",
            &request.request_id,
            &request,
        );
        let id = validate::id(
            &mut violations,
            "service_request_id",
            &request.service_request_id,
            "service request",
        );
        let rating = if (1..=5).contains(&request.rating) {
            Some(request.rating as i16)
        } else {
            violations.add("rating", "must be 1 (poor) to 5 (excellent)");
            None
        };
        let comment = validate::text(
            &mut violations,
            "comment",
            &request.comment,
            Text::optional(MAX_REASON_CHARS).multiline(),
        );
        violations.finish_with(|| {
            Some(Self {
                mutation: mutation?,
                id: id?,
                rating: rating?,
                comment: comment?,
            })
        })
    }
}

/// `ReopenServiceRequest`.
#[derive(Debug)]
pub struct Reopen {
    pub mutation: Mutation,
    pub id: Uuid,
    pub reason: String,
}

impl Reopen {
    pub fn parse(request: pb::ReopenServiceRequestRequest) -> Result<Self> {
        let (mutation, id, reason) = reasoned(
            "ReopenServiceRequest",
            &request,
            &request.request_id,
            &request.service_request_id,
            &request.reason,
        )?;
        Ok(Self {
            mutation,
            id,
            reason,
        })
    }
}

/// Where a page of candidates continues: after this many.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OffsetCursor {
    pub offset: usize,
}

/// `ListDuplicateCandidates`.
#[derive(Debug)]
pub struct ListDuplicates {
    pub page: Page<OffsetCursor>,
    pub id: Uuid,
    /// `None`: the area's setting.
    pub max_metres: Option<i32>,
    pub max_days: Option<i32>,
}

impl ListDuplicates {
    pub fn parse(request: pb::ListDuplicateCandidatesRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let page = validate::page(&mut violations, "page", request.page.as_ref());
        let id = validate::id(
            &mut violations,
            "service_request_id",
            &request.service_request_id,
            "service request",
        );
        let mut bounded = |field: &str, value: i32, bounds: std::ops::RangeInclusive<i32>| {
            if value == 0 {
                Some(None)
            } else if bounds.contains(&value) {
                Some(Some(value))
            } else {
                violations.add(
                    field,
                    format!(
                        "must be {} to {} (or 0 for the area's setting)",
                        bounds.start(),
                        bounds.end()
                    ),
                );
                None
            }
        };
        let max_metres = bounded(
            "max_distance_metres",
            request.max_distance_metres,
            crate::request_settings::parse::DUPLICATE_RADIUS_METRES,
        );
        let max_days = bounded(
            "max_days_apart",
            request.max_days_apart,
            crate::request_settings::parse::DUPLICATE_WINDOW_DAYS,
        );
        violations.finish_with(|| {
            Some(Self {
                page: page?,
                id: id?,
                max_metres: max_metres?,
                max_days: max_days?,
            })
        })
    }
}

/// `MergeServiceRequests`.
#[derive(Debug)]
pub struct Merge {
    pub mutation: Mutation,
    pub primary: Uuid,
    pub duplicate: Uuid,
    pub note: String,
}

impl Merge {
    pub fn parse(request: pb::MergeServiceRequestsRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let mutation = Mutation::parse(
            &mut violations,
            "MergeServiceRequests",
            &request.request_id,
            &request,
        );
        let primary = validate::id(
            &mut violations,
            "primary_service_request_id",
            &request.primary_service_request_id,
            "service request",
        );
        let duplicate = validate::id(
            &mut violations,
            "duplicate_service_request_id",
            &request.duplicate_service_request_id,
            "service request",
        );
        if primary.is_some() && primary == duplicate {
            violations.add(
                "duplicate_service_request_id",
                "a request is not merged into itself",
            );
        }
        let note = validate::text(
            &mut violations,
            "note",
            &request.note,
            Text::optional(MAX_NOTE_CHARS).multiline(),
        );
        violations.finish_with(|| {
            Some(Self {
                mutation: mutation?,
                primary: primary?,
                duplicate: duplicate?,
                note: note?,
            })
        })
    }
}

/// `UpdateServiceRequest`: the fields its mask names, each checked as at filing.
#[derive(Debug)]
pub struct UpdateRequest {
    pub mutation: Mutation,
    pub id: Uuid,
    pub description: Option<String>,
    /// `Some(None)` removes the point.
    pub point: Option<Option<(f64, f64)>>,
    pub address: Option<String>,
    pub photos: Option<Vec<PhotoToAttach>>,
    /// Checked against the type when applied.
    pub field_values: Option<BTreeMap<String, String>>,
    pub priority: Option<pb::RequestPriority>,
    /// The mask's paths, as the event names them.
    pub paths: Vec<String>,
}

impl UpdateRequest {
    /// The requester's fields (while submitted), as opposed to the officials' priority.
    pub fn edits_requesters_fields(&self) -> bool {
        self.description.is_some()
            || self.point.is_some()
            || self.address.is_some()
            || self.photos.is_some()
            || self.field_values.is_some()
    }

    pub fn parse(request: pb::UpdateServiceRequestRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let mutation = Mutation::parse(
            &mut violations,
            "UpdateServiceRequest",
            &request.request_id,
            &request,
        );
        let given = request.service_request.unwrap_or_default();
        let id = validate::id(
            &mut violations,
            "service_request.id",
            &given.id,
            "service request",
        );
        let paths = crate::register::parse::mask(&mut violations, request.update_mask);
        let location = given.location.unwrap_or_default();
        let (mut description, mut point, mut address, mut photos_given, mut values, mut priority) =
            (None, None, None, None, None, None);
        for path in &paths {
            match path.as_str() {
                "description" => {
                    description = validate::text(
                        &mut violations,
                        "service_request.description",
                        &given.description,
                        Text::required(MAX_DESCRIPTION_CHARS).multiline(),
                    );
                }
                "location" | "location.point" | "location.address" => {
                    if path != "location.address" {
                        point = validate::geo_point(
                            &mut violations,
                            "service_request.location.point",
                            location.point.as_ref(),
                        );
                    }
                    if path != "location.point" {
                        address = validate::text(
                            &mut violations,
                            "service_request.location.address",
                            &location.address,
                            Text::optional(MAX_ADDRESS_CHARS),
                        );
                    }
                }
                "photos" => {
                    photos_given = terrace_photos::attachments(
                        &mut violations,
                        "service_request.photos",
                        &given.photos,
                    );
                }
                "field_values" => values = Some(given.field_values.clone()),
                "priority" => {
                    priority = validate::enum_value::<pb::RequestPriority>(
                        &mut violations,
                        "service_request.priority",
                        given.priority,
                        "LOW, NORMAL, HIGH or URGENT",
                    );
                }
                other => violations.add(
                    "update_mask",
                    format!(
                        "{other:?} cannot be changed; description, location, photos, \
                         field_values or priority can"
                    ),
                ),
            }
        }
        violations.finish_with(|| {
            Some(Self {
                mutation: mutation?,
                id: id?,
                description,
                point,
                address,
                photos: photos_given,
                field_values: values,
                priority,
                paths,
            })
        })
    }
}

/// `GetServiceRequestStats`.
pub fn stats(request: pb::GetServiceRequestStatsRequest) -> Result<super::stats::StatsQuery> {
    let mut violations = Violations::new();
    let area = validate::admin_code(&mut violations, "area", request.area.as_ref());
    let range = match request.range.as_ref() {
        None => Some(None),
        Some(range) => validate::date_range(&mut violations, "range", Some(range), 92).map(Some),
    };
    violations.finish_with(|| {
        Some(super::stats::StatsQuery {
            area: area?,
            range: range?,
        })
    })
}
