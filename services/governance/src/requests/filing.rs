//! Filing a request (`CreateServiceRequest`): who files and how ([`Filing`]), and the two ways a
//! filing is written.
//!
//! - **At once**: a villager's own filing without photos — what phones send most — is one
//!   statement ([`idempotency::create_if`]): the claim, the row, its first timeline entry and its
//!   event, written only if, when the statement runs, the type is still active at the version this
//!   replica checked the filing against, the village exists and the filer's `request_id` made no
//!   request before. What it needs beforehand comes from memory: the type from [`TypeCache`],
//!   the reference number from a block of the sequence ([`ReferenceNumbers`]), the due time from
//!   the SLA (an SLA in working days reads the calendar first).
//! - **Carefully**: every other filing (an official's, which is audited and shown possible
//!   duplicates; one with photos to attach; one for a resident with an account), and an at-once
//!   filing whose conditions did not hold or that its cached type refused, in one transaction
//!   through [`idempotency::once`], reading what it checks, so a refusal is always said against
//!   the type as it is now.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Datelike as _, Utc};
use sea_orm::{ConnectionTrait, DbErr};
use terrace_platform::auth::{Caller, Role};
use terrace_platform::bus::{Envelope, outbox};
use terrace_platform::clock::CHINA_TIME;
use terrace_platform::error::{Error, Result, Violations};
use terrace_platform::idempotency::{self, Condition, Keep, NewRow};
use terrace_proto::common::v1 as common;
use terrace_proto::governance::v1 as pb;
use uuid::Uuid;

use super::parse::{CreateServiceRequest, Filer};
use super::{PHOTOS_OF_REQUEST, REQUESTS_WRITE, Requests, area, entry, proto, store};
use crate::entity::request_types::Model as TypeRow;
use crate::entity::service_request_timeline::Model as EntryRow;
use crate::entity::service_requests::{Model as RequestRow, RequestStatus as Status};
use crate::register::encoded_actor;

/// How many types a replica keeps for at-once filings.
const CACHED_TYPES: usize = 4_096;

/// The request types filings were last checked against, by id: each replica's own. A filing's
/// statement checks the type's version, so a type changed since costs one careful filing, never a
/// wrong one.
#[derive(Clone)]
pub struct TypeCache(Arc<quick_cache::sync::Cache<Uuid, Arc<TypeRow>>>);

impl TypeCache {
    pub fn new() -> Self {
        Self(Arc::new(quick_cache::sync::Cache::new(CACHED_TYPES)))
    }

    fn get(&self, id: Uuid) -> Option<Arc<TypeRow>> {
        self.0.get(&id)
    }

    fn keep(&self, row: &TypeRow) {
        self.0.insert(row.id, Arc::new(row.clone()));
    }

    fn forget(&self, id: Uuid) {
        self.0.remove(&id);
    }
}

impl Default for TypeCache {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for TypeCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TypeCache")
            .field("len", &self.0.len())
            .finish()
    }
}

/// Reference numbers, taken from the sequence [`store::NUMBER_BLOCK`] at a time: one round trip
/// per block instead of per filing. Numbers are unique across replicas but not in filing order,
/// and a replica's unused numbers are skipped when it stops; a reference is a name, not a count.
#[derive(Debug, Clone, Default)]
pub struct ReferenceNumbers(Arc<Mutex<std::ops::Range<i64>>>);

impl ReferenceNumbers {
    pub async fn next<C: ConnectionTrait>(&self, conn: &C) -> Result<i64, DbErr> {
        if let Some(number) = self.taken().next() {
            return Ok(number);
        }
        let first = store::next_number_block(conn).await?;
        let mut block = self.taken();
        // Another filing may have taken a block meanwhile: this one replaces its rest.
        *block = first + 1..first + store::NUMBER_BLOCK;
        Ok(first)
    }

    fn taken(&self) -> std::sync::MutexGuard<'_, std::ops::Range<i64>> {
        // A range is whole whatever panicked while it was held.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A filing the type takes: its extra fields as stored, and when it is due.
struct Admitted {
    field_values: serde_json::Value,
    due_at: Option<DateTime<Utc>>,
}

impl Requests {
    pub async fn create(
        &self,
        caller: &Caller,
        command: CreateServiceRequest,
    ) -> Result<pb::CreateServiceRequestResponse> {
        let filing = Filing::of(caller, &command)?;
        let now = self.clock.now();
        if filing.at_once(&command)
            && let Some(answer) = self.file_at_once(caller, &command, &filing, now).await?
        {
            return Ok(answer);
        }
        self.file_carefully(caller, &command, &filing, now).await
    }

    /// The filing in one statement; `None` when it must be filed carefully after all.
    async fn file_at_once(
        &self,
        caller: &Caller,
        command: &CreateServiceRequest,
        filing: &Filing,
        now: DateTime<Utc>,
    ) -> Result<Option<pb::CreateServiceRequestResponse>> {
        let request_type = match self.types.get(command.type_id) {
            Some(cached) => cached,
            None => match crate::request_types::store::find(&self.db, command.type_id).await? {
                Some(read) => {
                    self.types.keep(&read);
                    Arc::new(read)
                }
                None => return Ok(None),
            },
        };
        let Ok(admitted) = self.admit(&self.db, &request_type, command, now).await else {
            // Said again against the type as it is now.
            self.types.forget(command.type_id);
            return Ok(None);
        };
        let number = self.numbers.next(&self.db).await?;
        let row = filing.request_row(caller, command, &request_type, admitted, number, now);
        let entry = filed_entry(&row, caller, now);
        let service_request = proto(&row, &[]);
        let event = Envelope::new(
            &self.source,
            &pb::ServiceRequestCreated {
                service_request: Some(service_request.clone()),
                actor: Some(caller.actor()),
            },
        );
        let answer = pb::CreateServiceRequestResponse {
            service_request: Some(service_request),
            possible_duplicates: Vec::new(),
        };
        let conditions = [
            Condition::Exists {
                table: "request_types",
                equal: vec![
                    ("id", request_type.id.into()),
                    ("version", request_type.version.into()),
                    ("active", true.into()),
                ],
            },
            Condition::Exists {
                table: "divisions",
                equal: vec![("code", command.village.as_str().into())],
            },
            // A phone's resend after the idempotency log forgot it: the careful filing finds it.
            Condition::Absent {
                table: "service_requests",
                equal: vec![
                    ("created_key", row.created_key.clone().into()),
                    ("created_request_id", row.created_request_id.into()),
                ],
            },
        ];
        let created = idempotency::create_if(
            &self.db,
            caller,
            &command.mutation,
            now,
            answer,
            &conditions,
            vec![NewRow::of(&row), NewRow::of(&entry)],
            &[event],
        )
        .await?;
        match &created {
            Some(_) => {
                tracing::info!(service_request_id = %row.id, reference = %row.reference, "service request filed");
            }
            None => self.types.forget(command.type_id),
        }
        Ok(created)
    }

    /// The filing in one transaction that reads what it checks.
    async fn file_carefully(
        &self,
        caller: &Caller,
        command: &CreateServiceRequest,
        filing: &Filing,
        now: DateTime<Utc>,
    ) -> Result<pb::CreateServiceRequestResponse> {
        let key = caller.idempotency_key();
        idempotency::once(
            &self.db,
            caller,
            &command.mutation,
            now,
            Keep::Answer,
            async |txn| {
                if let Some(existing) =
                    store::find_created(txn, &key, command.mutation.request_id()).await?
                {
                    let sight = super::sight(caller, &existing)?;
                    return Ok(pb::CreateServiceRequestResponse {
                        service_request: Some(self.to_proto(txn, &existing, sight).await?),
                        possible_duplicates: Vec::new(),
                    });
                }
                let request_type = crate::request_types::store::find(txn, command.type_id)
                    .await?
                    .ok_or_else(|| Error::not_found("request type", command.type_id.to_string()))?;
                self.types.keep(&request_type);
                let admitted = self.admit(txn, &request_type, command, now).await?;
                if crate::divisions::store::find(txn, command.village.as_str())
                    .await?
                    .is_none()
                {
                    return Err(Error::not_found("village", command.village.as_str()));
                }
                if let Some(user) = filing.on_behalf_of
                    && crate::people::find(txn, user).await?.is_none()
                {
                    return Err(Error::not_found("user", user.to_string()));
                }
                let number = self.numbers.next(txn).await?;
                let row = filing.request_row(caller, command, &request_type, admitted, number, now);
                store::insert(txn, row.clone()).await?;
                self.photos
                    .attach(
                        txn,
                        caller,
                        "service_request.photos",
                        &command.photos,
                        PHOTOS_OF_REQUEST,
                        row.id,
                        now,
                    )
                    .await?;
                store::insert_entry(txn, filed_entry(&row, caller, now)).await?;
                // Just made: nobody follows it yet, and its photos are read only if it has any.
                let photos = if command.photos.is_empty() {
                    Vec::new()
                } else {
                    self.photos
                        .refs(txn, PHOTOS_OF_REQUEST, &[row.id])
                        .await?
                        .remove(&row.id)
                        .unwrap_or_default()
                };
                let service_request = pb::ServiceRequest {
                    photos,
                    ..proto(&row, &[])
                };
                outbox::publish(
                    txn,
                    &self.source,
                    &pb::ServiceRequestCreated {
                        service_request: Some(super::on_bus(service_request.clone())),
                        actor: Some(caller.actor()),
                    },
                )
                .await?;
                if filing.official {
                    self.audited(txn, caller, &row, "service_request.filed", serde_json::json!({
                        "reference": row.reference,
                        "on_behalf_of": filing.on_behalf_of,
                        "channel": filing.channel.as_str_name(),
                    }), now)
                    .await?;
                }
                tracing::info!(service_request_id = %row.id, reference = %row.reference, "service request filed");
                // The official filing for someone is shown what may be the same matter; a
                // villager is not shown others' requests.
                let possible_duplicates = if filing.official {
                    self.candidates_at_filing(txn, &row).await?
                } else {
                    Vec::new()
                };
                Ok(pb::CreateServiceRequestResponse {
                    service_request: Some(service_request),
                    possible_duplicates,
                })
            },
        )
        .await
    }

    /// Whether `request_type` takes the filing (active, offered in the village, its extra fields
    /// filled in as it says), and when it is due.
    async fn admit<C: ConnectionTrait>(
        &self,
        conn: &C,
        request_type: &TypeRow,
        command: &CreateServiceRequest,
        now: DateTime<Utc>,
    ) -> Result<Admitted> {
        if !request_type.active {
            return Err(Error::failed_precondition(
                "REQUEST_TYPE_INACTIVE",
                "this request type no longer takes new requests",
            ));
        }
        if !area(&request_type.area)?.covers_scope(&command.village) {
            return Err(Error::failed_precondition(
                "REQUEST_TYPE_NOT_OFFERED",
                "this request type is not offered in the village",
            ));
        }
        let definitions = crate::request_types::decoded_fields(&request_type.fields)?;
        let mut violations = Violations::new();
        let values = crate::request_types::fields::values(
            &mut violations,
            "service_request.field_values",
            &definitions,
            &command.field_values,
        );
        let values: BTreeMap<String, String> = violations.finish_with(|| values)?;
        let sla = crate::request_types::sla_of(request_type);
        let due_at =
            crate::request_settings::calendar::due_time(conn, sla, &command.village, now).await?;
        Ok(Admitted {
            field_values: serde_json::to_value(&values).unwrap_or_default(),
            due_at,
        })
    }
}

/// The first entry of a request's timeline: submitted, public.
fn filed_entry(row: &RequestRow, caller: &Caller, now: DateTime<Utc>) -> EntryRow {
    entry(row, caller, now, pb::TimelineEntryKind::Submitted)
        .to(Status::Submitted)
        .public()
        .into()
}

/// Officials of the village (and agencies with `governance.requests:write` there) file for others
/// and, agencies, for themselves.
fn require_village_official(caller: &Caller, command: &CreateServiceRequest) -> Result<()> {
    if caller.covers(
        &command.village,
        Role::VillageOfficial.rank(),
        Some(REQUESTS_WRITE),
    ) {
        return Ok(());
    }
    Err(Error::permission_denied(
        "OUTSIDE_YOUR_AREA",
        "requests are filed on behalf of someone by the officials of their village",
    ))
}

/// Who files a request, and how, as the caller and the command say.
pub(super) struct Filing {
    requester: Option<Uuid>,
    on_behalf_of: Option<Uuid>,
    contact_name: String,
    contact_phone: String,
    consent: String,
    channel: pb::RequestChannel,
    /// An official's or agency's action (audited).
    official: bool,
}

impl Filing {
    fn of(caller: &Caller, command: &CreateServiceRequest) -> Result<Self> {
        use pb::RequestChannel as Channel;
        let wrong_channel = |allowed: &str| {
            Error::invalid(
                "service_request.channel",
                format!("must be {allowed} for this caller"),
            )
        };
        match &command.filer {
            // An agency that names nobody files its own request (an Open311 report): nobody to
            // answer but the agency, so no requester, contact or consent.
            Filer::ForSelf if matches!(caller, Caller::Agency(_)) => {
                require_village_official(caller, command)?;
                let channel = match command.channel {
                    Channel::Unspecified | Channel::Agency => Channel::Agency,
                    _ => return Err(wrong_channel("AGENCY")),
                };
                Ok(Self::own(None, channel, true))
            }
            Filer::ForSelf => {
                let Some(user) = super::villager(caller, REQUESTS_WRITE) else {
                    return Err(Error::permission_denied(
                        "NOT_A_VILLAGER",
                        "a request is filed by a villager for themself, or on behalf of someone by an official of the village",
                    ));
                };
                // A resident's or farmer's role in the village, not any role that reaches it: a
                // buyer's county-wide standing or an official's grant is no home there.
                let lives_there = caller.principal().is_some_and(|p| {
                    p.grants.iter().any(|grant| {
                        matches!(grant.role, Role::Resident | Role::Farmer)
                            && grant.scope.covers_scope(&command.village)
                    })
                });
                if !lives_there {
                    return Err(Error::permission_denied(
                        "OUTSIDE_YOUR_VILLAGE",
                        "a villager files requests in the village where they are a resident or a farmer",
                    ));
                }
                let channel = match command.channel {
                    Channel::Unspecified | Channel::App => Channel::App,
                    _ => return Err(wrong_channel("APP")),
                };
                Ok(Self::own(Some(user), channel, false))
            }
            Filer::OnBehalf {
                user,
                contact_name,
                contact_phone,
                consent,
            } => {
                require_village_official(caller, command)?;
                let channel = match (caller, command.channel) {
                    (Caller::Agency(_), Channel::Unspecified | Channel::Agency) => Channel::Agency,
                    (Caller::Agency(_), _) => return Err(wrong_channel("AGENCY")),
                    (_, Channel::Unspecified | Channel::WalkIn) => Channel::WalkIn,
                    (_, Channel::Phone) => Channel::Phone,
                    _ => return Err(wrong_channel("WALK_IN or PHONE")),
                };
                Ok(Self {
                    requester: *user,
                    on_behalf_of: *user,
                    contact_name: contact_name.clone(),
                    contact_phone: contact_phone
                        .as_ref()
                        .map(|phone| phone.as_str().to_owned())
                        .unwrap_or_default(),
                    consent: consent.clone(),
                    channel,
                    official: true,
                })
            }
        }
    }

    /// A filing for the filer themself (or, with no requester, an agency's own): nobody else
    /// to answer, so no contact and no consent.
    fn own(requester: Option<Uuid>, channel: pb::RequestChannel, official: bool) -> Self {
        Self {
            requester,
            on_behalf_of: None,
            contact_name: String::new(),
            contact_phone: String::new(),
            consent: String::new(),
            channel,
            official,
        }
    }

    /// Whether the filing may be written in one statement: a villager's own, with no photos.
    fn at_once(&self, command: &CreateServiceRequest) -> bool {
        !self.official && self.on_behalf_of.is_none() && command.photos.is_empty()
    }

    /// The new request's row.
    fn request_row(
        &self,
        caller: &Caller,
        command: &CreateServiceRequest,
        request_type: &TypeRow,
        admitted: Admitted,
        number: i64,
        now: DateTime<Utc>,
    ) -> RequestRow {
        let responsible_area = if i32::from(request_type.responsible_role)
            == Role::TownshipOfficial.to_proto() as i32
        {
            command.village.as_str()[..9].to_owned()
        } else {
            command.village.as_str().to_owned()
        };
        RequestRow {
            id: Uuid::now_v7(),
            reference: format!("R-{}-{number:06}", now.with_timezone(&CHINA_TIME).year()),
            type_id: request_type.id,
            village_code: command.village.as_str().to_owned(),
            description: command.description.clone(),
            latitude: command.point.map(|(latitude, _)| latitude),
            longitude: command.point.map(|(_, longitude)| longitude),
            address: command.address.clone(),
            field_values: admitted.field_values,
            requester_user_id: self.requester,
            contact_name: self.contact_name.clone(),
            contact_phone: self.contact_phone.clone(),
            filed_by: prost::Message::encode_to_vec(&common::Actor {
                on_behalf_of_user_id: self
                    .on_behalf_of
                    .map(|user| user.to_string())
                    .unwrap_or_default(),
                ..caller.actor()
            }),
            on_behalf_consent: self.consent.clone(),
            channel: self.channel as i16,
            status: Status::Submitted,
            priority: pb::RequestPriority::Normal as i16,
            assignee_user_id: None,
            due_at: admitted.due_at,
            first_due_at: admitted.due_at,
            escalation_level: 0,
            responsible_area,
            rating: 0,
            rating_comment: String::new(),
            merged_into: None,
            reopen_count: 0,
            resolved_at: None,
            closed_at: None,
            reopen_deadline: None,
            version: 1,
            created_key: caller.idempotency_key(),
            created_request_id: command.mutation.request_id(),
            created_at: now,
            updated_at: now,
            updated_by: encoded_actor(caller),
        }
    }
}
