//! Villagers' service requests and their workflow: `CreateServiceRequest`, `GetServiceRequest`,
//! `ListServiceRequests`, `ChangeServiceRequestStatus`, `AddServiceRequestNote`,
//! `ListServiceRequestTimeline`.
//!
//! **Filing.** A villager files for themself in a village where they hold a role (a helper with
//! the villager's consent to `governance.requests:write` does it for them); an official of the
//! village, or an agency under that scope, files on behalf of someone — a resident with an
//! account, or a walk-in or caller known by name and the phone to answer them on — noting how the
//! person agreed. The type must be active and offered in the village, and the extra fields are
//! checked against it as it is then. The request gets a reference (`R-<year>-<number>`, from one
//! sequence, so no counter row is contended), a due time from the type's SLA
//! ([`crate::request_settings::calendar`]), and the area responsible: the village, or its township
//! for types the township handles. A phone that files offline sends its `request_id` days later:
//! the row keeps the filer's key and that id, so a retry finds the request even after the
//! idempotency log has forgotten it.
//!
//! **Who reads and acts.** The requester reads their request and its public timeline. Officials
//! whose role covers the village read it, internal notes included; officials of the responsible
//! area (and agencies with `governance.requests:write` there) move it along its workflow
//! ([`workflow`]) with a note, public or internal. Anyone else is told it does not exist.
//!
//! **Events.** `governance.request.created`, `governance.request.status_changed`,
//! `governance.request.note_added` (public notes only), written through the outbox with the
//! change; an official's or agency's action is appended to the county's audit chain. A
//! villager's own filing is not an official action and is not audited.
//!
//! Layout (the service's rhythm, `docs/architecture.md`): [`parse`] turns each request into a
//! command, this module applies it over a [`Caller`], [`store`] holds the SQL, `grpc.rs` answers.

pub mod duplicates;
pub mod filing;
pub mod outcome;
pub mod parse;
pub mod sla;
pub mod stats;
pub mod store;
pub mod workflow;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use terrace_platform::Clock;
use terrace_platform::auth::{AdminScope, Caller, Role};
use terrace_platform::bus::outbox;
use terrace_platform::error::{Error, Result, Violations};
use terrace_platform::idempotency::{self, Keep};
use terrace_platform::validate::{page_response, to_timestamp};
use terrace_proto::common::v1 as common;
use terrace_proto::governance::v1 as pb;
use uuid::Uuid;

use self::parse::{
    AddNote, ChangeStatus, EntryCursor, ListServiceRequests, ListTimeline, RequestCursor,
};
use crate::entity::service_request_followers::Model as FollowerRow;
use crate::entity::service_request_timeline::Model as EntryRow;
use crate::entity::service_requests::{Model as RequestRow, RequestStatus as Status};
use crate::register::{decoded_actor, encoded_actor};

/// The service's requests, retention and all: their migration.
pub const MIGRATION: terrace_platform::db::SqlMigration = terrace_platform::db::SqlMigration {
    name: "m20261204_140001_governance_service_requests",
    up: store::MIGRATION_SQL,
};

/// The officials' inbox of a township or county (open requests, overdue first): by status and
/// due time within the area, so a page reads its open rows in order instead of the area's every
/// request (`docs/benchmarks.md`, service requests: a township's 5,000 requests scanned and sorted
/// for 276 open ones).
/// Reference numbers taken from the sequence a block at a time (`filing::ReferenceNumbers`).
pub const NUMBER_BLOCK_MIGRATION: terrace_platform::db::SqlMigration =
    terrace_platform::db::SqlMigration {
        name: "m20261204_160001_governance_service_request_number_blocks",
        up: store::NUMBER_BLOCK_MIGRATION_SQL,
    };

/// A villager's followed requests, for their list and their sight of them.
pub const FOLLOWERS_MIGRATION: terrace_platform::db::SqlMigration =
    terrace_platform::db::SqlMigration {
        name: "m20261204_160002_governance_service_request_followers_by_user",
        up: "CREATE INDEX service_request_followers_by_user ON service_request_followers (user_id) \
             WHERE user_id IS NOT NULL;",
    };

pub const INBOX_MIGRATION: terrace_platform::db::SqlMigration =
    terrace_platform::db::SqlMigration {
        name: "m20261204_150001_governance_service_requests_inbox",
        up: "
CREATE INDEX service_requests_township_inbox ON service_requests (township_code, status, due_at);
CREATE INDEX service_requests_county_inbox ON service_requests (county_code, status, due_at);
",
    };

/// The API scope under which an agency (or a villager's helper) reads requests.
pub const REQUESTS_READ: &str = "governance.requests:read";
/// The API scope under which an agency files and handles requests, and a helper files them.
pub const REQUESTS_WRITE: &str = "governance.requests:write";

/// What the photos of a request are attached to.
pub const PHOTOS_OF_REQUEST: &str = "service_request";
/// What the photos of a note are attached to (the timeline entry).
pub const PHOTOS_OF_NOTE: &str = "service_request_note";

/// Service requests: the *apply* step of their RPCs.
#[derive(Debug, Clone)]
pub struct Requests {
    db: DatabaseConnection,
    source: String,
    clock: Clock,
    photos: terrace_photos::Photos,
    types: filing::TypeCache,
    numbers: filing::ReferenceNumbers,
}

/// The villager a caller files or reads as: a user for themself, or a helper whose consent
/// names `scope`.
fn villager(caller: &Caller, scope: &str) -> Option<Uuid> {
    match caller {
        Caller::User(_) => caller.subject_user(),
        Caller::Helper(p) if p.api_scopes.iter().any(|held| held == scope) => caller.subject_user(),
        _ => None,
    }
}

fn area(code: &str) -> Result<AdminScope> {
    AdminScope::parse(code)
        .map_err(|error| Error::internal(anyhow::anyhow!("a stored area code {code:?}: {error}")))
}

/// Officials whose role covers the village (and agencies under `scope` there).
fn governs_village(caller: &Caller, row: &RequestRow, scope: &str) -> Result<bool> {
    Ok(caller.covers(
        &area(&row.village_code)?,
        Role::VillageOfficial.rank(),
        Some(scope),
    ))
}

/// Officials of the area now responsible (and agencies with the write scope there).
fn handles(caller: &Caller, row: &RequestRow) -> Result<bool> {
    Ok(caller.covers(
        &area(&row.responsible_area)?,
        Role::VillageOfficial.rank(),
        Some(REQUESTS_WRITE),
    ))
}

fn is_requester(caller: &Caller, row: &RequestRow, scope: &str) -> bool {
    row.requester_user_id.is_some() && villager(caller, scope) == row.requester_user_id
}

fn unknown(id: Uuid) -> Error {
    Error::not_found("service request", id.to_string())
}

/// How the caller may see a request: as an official (everything), as its requester (public
/// entries), as a follower (a requester whose own request was merged into it: public entries,
/// nothing of who filed it), or not at all (it does not exist for them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sight {
    Official,
    Requester,
    Follower,
}

impl Sight {
    /// Sees only the public timeline, and not who else follows.
    fn public_only(self) -> bool {
        self != Sight::Official
    }
}

fn sight(caller: &Caller, row: &RequestRow) -> Result<Sight> {
    if governs_village(caller, row, REQUESTS_READ)? || governs_village(caller, row, REQUESTS_WRITE)?
    {
        Ok(Sight::Official)
    } else if is_requester(caller, row, REQUESTS_READ) || is_requester(caller, row, REQUESTS_WRITE)
    {
        Ok(Sight::Requester)
    } else {
        Err(unknown(row.id))
    }
}

/// [`sight`], or, for a caller it does not know, whether they follow the request (their own was
/// merged into it): for reading a request, never for acting on it.
async fn reading_sight<C: ConnectionTrait>(
    conn: &C,
    caller: &Caller,
    row: &RequestRow,
) -> Result<Sight> {
    match sight(caller, row) {
        Err(not_theirs) => {
            let own = villager(caller, REQUESTS_READ).or_else(|| villager(caller, REQUESTS_WRITE));
            match own {
                Some(user) if store::follows(conn, row.id, user).await? => Ok(Sight::Follower),
                _ => Err(not_theirs),
            }
        }
        known => known,
    }
}

/// `Ok` when the caller handles the request; `NOT_RESPONSIBLE` for an official who only reads
/// it, `OFFICIALS_ONLY` for its requester; unknown for everyone else.
fn require_handler(caller: &Caller, row: &RequestRow) -> Result<()> {
    if handles(caller, row)? {
        return Ok(());
    }
    Err(match sight(caller, row)? {
        Sight::Official => Error::permission_denied(
            "NOT_RESPONSIBLE",
            "the request is handled by the officials of the area now responsible for it",
        ),
        Sight::Requester | Sight::Follower => Error::permission_denied(
            "OFFICIALS_ONLY",
            "officials of the area handle a request; its requester follows it and adds notes",
        ),
    })
}

impl Requests {
    pub fn new(
        db: DatabaseConnection,
        source: String,
        clock: Clock,
        photos: terrace_photos::Photos,
    ) -> Self {
        Self {
            db,
            source,
            clock,
            photos,
            types: filing::TypeCache::new(),
            numbers: filing::ReferenceNumbers::default(),
        }
    }

    /// `UploadPhoto`: any signed-in user (or agency) uploads a photo to attach afterwards. Not
    /// wrapped in the idempotency log: a retry finds its photo by `(uploader, request_id)` and
    /// is answered with freshly signed URLs.
    pub async fn upload_photo(
        &self,
        caller: &Caller,
        command: terrace_photos::UploadCommand,
    ) -> Result<common::MediaRef> {
        let photo = self
            .photos
            .upload(&self.db, caller, command.request_id, command.upload)
            .await?;
        Ok(self.photos.media_ref(&photo))
    }

    pub async fn get(&self, caller: &Caller, id: Uuid) -> Result<pb::GetServiceRequestResponse> {
        let row = store::find(&self.db, id)
            .await?
            .ok_or_else(|| unknown(id))?;
        let sight = reading_sight(&self.db, caller, &row).await?;
        let request_type = crate::request_types::store::find(&self.db, row.type_id)
            .await?
            .map(|row| crate::request_types::to_proto(&row))
            .transpose()?;
        Ok(pb::GetServiceRequestResponse {
            service_request: Some(self.to_proto(&self.db, &row, sight).await?),
            request_type,
        })
    }

    pub async fn list(
        &self,
        caller: &Caller,
        mut query: ListServiceRequests,
    ) -> Result<pb::ListServiceRequestsResponse> {
        // Officials list an area they govern; a villager lists their own requests.
        let official = match &query.area {
            Some(area) => {
                caller.covers(area, Role::VillageOfficial.rank(), Some(REQUESTS_READ))
                    || caller.covers(area, Role::VillageOfficial.rank(), Some(REQUESTS_WRITE))
            }
            None => false,
        };
        if !official {
            let own = villager(caller, REQUESTS_READ).or_else(|| villager(caller, REQUESTS_WRITE));
            match (own, query.requester) {
                (Some(own), Some(asked)) if own == asked => {}
                (Some(own), None) if query.area.is_none() => query.requester = Some(own),
                _ => {
                    return Err(Error::permission_denied(
                        "OUTSIDE_YOUR_AREA",
                        "officials list the requests of an area they govern; a villager lists their own",
                    ));
                }
            }
        }
        let now = self.clock.now();
        let rows = store::list(&self.db, &query, now).await?;
        let order = query.order;
        let (rows, next) = query.page.finish(rows, |rows| {
            rows.last().map(|row| RequestCursor {
                time: match order {
                    pb::ServiceRequestOrder::DueTimeAsc => row.due_at,
                    pb::ServiceRequestOrder::UpdateTimeDesc => Some(row.updated_at),
                    _ => Some(row.created_at),
                },
                id: row.id,
            })
        });
        // A villager's list holds their own requests and those they follow.
        let sight_of = |row: &RequestRow| match (official, query.requester) {
            (true, _) => Sight::Official,
            (false, requester) if row.requester_user_id == requester => Sight::Requester,
            (false, _) => Sight::Follower,
        };
        let followers = if official {
            self.followers(&self.db, &rows, Sight::Official).await?
        } else {
            HashMap::new()
        };
        let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
        let mut photos = self.photos.refs(&self.db, PHOTOS_OF_REQUEST, &ids).await?;
        Ok(pb::ListServiceRequestsResponse {
            service_requests: rows
                .iter()
                .map(|row| {
                    seen_as(
                        sight_of(row),
                        pb::ServiceRequest {
                            photos: photos.remove(&row.id).unwrap_or_default(),
                            ..proto(
                                row,
                                followers.get(&row.id).map(Vec::as_slice).unwrap_or(&[]),
                            )
                        },
                    )
                })
                .collect(),
            page: Some(page_response(next.as_ref())),
        })
    }

    pub async fn change_status(
        &self,
        caller: &Caller,
        command: ChangeStatus,
    ) -> Result<pb::ChangeServiceRequestStatusResponse> {
        let now = self.clock.now();
        idempotency::once(
            &self.db,
            caller,
            &command.mutation,
            now,
            Keep::Answer,
            async |txn| {
                let mut row = store::find_for_update(txn, command.id)
                    .await?
                    .ok_or_else(|| unknown(command.id))?;
                require_handler(caller, &row)?;
                let current = status_name(row.status);
                if let Some(expected) = command.expected
                    && expected != row.status
                {
                    return Err(Error::aborted(
                        "STATUS_CHANGED",
                        "the request's status changed meanwhile; read it again",
                        [("current_status", current)],
                    ));
                }
                if !workflow::official_may_move(row.status, command.to) {
                    return Err(Error::failed_precondition_with(
                        "INVALID_TRANSITION",
                        "the request cannot move to that status from where it is",
                        [("current_status", current)],
                    ));
                }
                let from = row.status;
                row.status = command.to;
                match command.to {
                    Status::Resolved => {
                        let village = area(&row.village_code)?;
                        let (settings, _) =
                            crate::request_settings::in_effect(txn, &village).await?;
                        row.resolved_at = Some(now);
                        row.reopen_deadline = Some(
                            now + chrono::Duration::days(i64::from(settings.reopen_window_days)),
                        );
                    }
                    Status::Closed | Status::Rejected => row.closed_at = Some(now),
                    _ => {}
                }
                let entry: EntryRow =
                    entry(&row, caller, now, pb::TimelineEntryKind::StatusChanged)
                        .from(from)
                        .to(command.to)
                        .note(&command.note, command.visibility)
                        .into();
                let row = self.save(txn, caller, row, &entry, now).await?;
                let service_request = self.to_proto(txn, &row, Sight::Official).await?;
                outbox::publish(
                    txn,
                    &self.source,
                    &pb::ServiceRequestStatusChanged {
                        service_request: Some(on_bus(service_request.clone())),
                        from_status: status_proto(from) as i32,
                        entry: Some(entry_proto(&published(entry))),
                        actor: Some(caller.actor()),
                    },
                )
                .await?;
                self.audited(
                    txn,
                    caller,
                    &row,
                    "service_request.status_changed",
                    serde_json::json!({ "from": status_name(from), "to": status_name(row.status) }),
                    now,
                )
                .await?;
                Ok(pb::ChangeServiceRequestStatusResponse {
                    service_request: Some(service_request),
                })
            },
        )
        .await
    }

    pub async fn add_note(
        &self,
        caller: &Caller,
        command: AddNote,
    ) -> Result<pb::AddServiceRequestNoteResponse> {
        let now = self.clock.now();
        idempotency::once(
            &self.db,
            caller,
            &command.mutation,
            now,
            Keep::Answer,
            async |txn| {
                let row = store::find_for_update(txn, command.id)
                    .await?
                    .ok_or_else(|| unknown(command.id))?;
                let official = handles(caller, &row)?;
                if !official {
                    let sight = sight(caller, &row)?;
                    if sight == Sight::Official || !is_requester(caller, &row, REQUESTS_WRITE) {
                        require_handler(caller, &row)?;
                    }
                    if command.visibility == pb::NoteVisibility::Internal {
                        return Err(Error::permission_denied(
                            "INTERNAL_NOTES_ARE_OFFICIALS",
                            "a requester's notes are public",
                        ));
                    }
                }
                if row.status == Status::Merged {
                    return Err(Error::failed_precondition(
                        "REQUEST_MERGED",
                        "the request was merged into another; write on that one",
                    ));
                }
                let entry: EntryRow = entry(&row, caller, now, pb::TimelineEntryKind::Note)
                    .note(&command.note, command.visibility)
                    .into();
                let row = self.save(txn, caller, row, &entry, now).await?;
                self.photos
                    .attach(
                        txn,
                        caller,
                        "photos",
                        &command.photos,
                        PHOTOS_OF_NOTE,
                        entry.id,
                        now,
                    )
                    .await?;
                let entry_photos = self
                    .photos
                    .refs(txn, PHOTOS_OF_NOTE, &[entry.id])
                    .await?
                    .remove(&entry.id)
                    .unwrap_or_default();
                let entry_with_photos = pb::ServiceRequestTimelineEntry {
                    photos: entry_photos,
                    ..entry_proto(&entry)
                };
                if command.visibility == pb::NoteVisibility::Public {
                    let service_request = self.to_proto(txn, &row, Sight::Official).await?;
                    outbox::publish(
                        txn,
                        &self.source,
                        &pb::ServiceRequestNoteAdded {
                            service_request: Some(on_bus(service_request)),
                            entry: Some(pb::ServiceRequestTimelineEntry {
                                photos: unsigned(entry_with_photos.photos.clone()),
                                ..entry_with_photos.clone()
                            }),
                        },
                    )
                    .await?;
                }
                if official {
                    self.audited(
                        txn,
                        caller,
                        &row,
                        "service_request.note_added",
                        serde_json::json!({ "visibility": command.visibility.as_str_name() }),
                        now,
                    )
                    .await?;
                }
                Ok(pb::AddServiceRequestNoteResponse {
                    entry: Some(entry_with_photos),
                })
            },
        )
        .await
    }

    pub async fn timeline(
        &self,
        caller: &Caller,
        query: ListTimeline,
    ) -> Result<pb::ListServiceRequestTimelineResponse> {
        let row = store::find(&self.db, query.id)
            .await?
            .ok_or_else(|| unknown(query.id))?;
        let sight = reading_sight(&self.db, caller, &row).await?;
        let rows = store::timeline(
            &self.db,
            row.id,
            sight.public_only(),
            query.page.after.as_ref().map(|cursor| cursor.id),
            query.page.fetch_limit(),
        )
        .await?;
        let (rows, next) = query.page.finish(rows, |rows| {
            rows.last().map(|row| EntryCursor { id: row.id })
        });
        // A villager is shown every move of their request, but an internal note's text and
        // photos stay the officials'.
        let rows: Vec<EntryRow> = if sight.public_only() {
            rows.into_iter().map(published).collect()
        } else {
            rows
        };
        let ids: Vec<Uuid> = rows
            .iter()
            .filter(|row| {
                row.visibility == pb::NoteVisibility::Public as i16 || !sight.public_only()
            })
            .map(|row| row.id)
            .collect();
        let mut photos = self.photos.refs(&self.db, PHOTOS_OF_NOTE, &ids).await?;
        Ok(pb::ListServiceRequestTimelineResponse {
            entries: rows
                .iter()
                .map(|row| pb::ServiceRequestTimelineEntry {
                    photos: photos.remove(&row.id).unwrap_or_default(),
                    ..entry_proto(row)
                })
                .collect(),
            page: Some(page_response(next.as_ref())),
        })
    }

    /// Stamps `row` as changed by `caller`, raises its version, writes it, and appends `entry`,
    /// which says what changed, to its timeline: every change of a request is in it.
    async fn save<C: ConnectionTrait>(
        &self,
        txn: &C,
        caller: &Caller,
        mut row: RequestRow,
        entry: &EntryRow,
        now: DateTime<Utc>,
    ) -> Result<RequestRow> {
        row.version += 1;
        row.updated_at = now;
        row.updated_by = encoded_actor(caller);
        let row = store::update(txn, row).await?;
        store::insert_entry(txn, entry.clone()).await?;
        Ok(row)
    }

    async fn audited<C: ConnectionTrait>(
        &self,
        txn: &C,
        caller: &Caller,
        row: &RequestRow,
        action: &str,
        details: serde_json::Value,
        now: DateTime<Utc>,
    ) -> Result<()> {
        crate::audit::append(
            txn,
            caller,
            crate::audit::NewEntry {
                action,
                target_type: "service_request",
                target_id: row.id.to_string(),
                area: &area(&row.village_code)?,
                details,
            },
            now,
        )
        .await?;
        Ok(())
    }

    async fn followers<C: ConnectionTrait>(
        &self,
        conn: &C,
        rows: &[RequestRow],
        sight: Sight,
    ) -> Result<HashMap<Uuid, Vec<FollowerRow>>> {
        // A requester does not learn who else follows their request.
        if sight.public_only() {
            return Ok(HashMap::new());
        }
        let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
        let mut by_request: HashMap<Uuid, Vec<FollowerRow>> = HashMap::new();
        for follower in store::followers(conn, &ids).await? {
            by_request
                .entry(follower.service_request_id)
                .or_default()
                .push(follower);
        }
        Ok(by_request)
    }

    async fn to_proto<C: ConnectionTrait>(
        &self,
        conn: &C,
        row: &RequestRow,
        sight: Sight,
    ) -> Result<pb::ServiceRequest> {
        let followers = self
            .followers(conn, std::slice::from_ref(row), sight)
            .await?;
        let photos = self
            .photos
            .refs(conn, PHOTOS_OF_REQUEST, &[row.id])
            .await?
            .remove(&row.id)
            .unwrap_or_default();
        Ok(seen_as(
            sight,
            pb::ServiceRequest {
                photos,
                ..proto(
                    row,
                    followers.get(&row.id).map(Vec::as_slice).unwrap_or(&[]),
                )
            },
        ))
    }
}

/// A request as `sight` shows it: whole to officials; to its requester without who else follows
/// it; to a follower without that nor who filed it, how to reach them, or what they filled in.
fn seen_as(sight: Sight, request: pb::ServiceRequest) -> pb::ServiceRequest {
    match sight {
        Sight::Official => request,
        Sight::Requester => for_requester(request),
        Sight::Follower => pb::ServiceRequest {
            requester_user_id: String::new(),
            contact_name: String::new(),
            contact_phone: String::new(),
            filed_by: None,
            on_behalf_consent: String::new(),
            field_values: Default::default(),
            audit: None,
            ..for_requester(request)
        },
    }
}

/// A request as an event carries it: its photos by id and size, without the signed addresses,
/// which would be capabilities kept in the stream for days (a consumer asks for fresh ones).
fn on_bus(request: pb::ServiceRequest) -> pb::ServiceRequest {
    pb::ServiceRequest {
        photos: unsigned(request.photos.clone()),
        ..request
    }
}

/// Photos without their signed addresses (see [`on_bus`]).
fn unsigned(photos: Vec<common::MediaRef>) -> Vec<common::MediaRef> {
    photos
        .into_iter()
        .map(|photo| common::MediaRef {
            uri: String::new(),
            thumbnail_uri: String::new(),
            ..photo
        })
        .collect()
}

/// A request as its requester is answered: without who else follows it.
fn for_requester(mut request: pb::ServiceRequest) -> pb::ServiceRequest {
    request.followers.clear();
    request
}

/// A timeline entry being written.
#[derive(Debug, Clone)]
struct NewEntry(EntryRow);

fn entry(
    row: &RequestRow,
    caller: &Caller,
    at: DateTime<Utc>,
    kind: pb::TimelineEntryKind,
) -> NewEntry {
    NewEntry(EntryRow {
        id: Uuid::now_v7(),
        service_request_id: row.id,
        kind: kind as i16,
        from_status: 0,
        to_status: 0,
        note: String::new(),
        visibility: pb::NoteVisibility::Internal as i16,
        assignee_user_id: None,
        related_request_id: None,
        rating: 0,
        actor: encoded_actor(caller),
        at,
    })
}

impl NewEntry {
    fn from(mut self, status: Status) -> Self {
        self.0.from_status = status_proto(status) as i16;
        self
    }
    fn to(mut self, status: Status) -> Self {
        self.0.to_status = status_proto(status) as i16;
        self
    }
    fn public(mut self) -> Self {
        self.0.visibility = pb::NoteVisibility::Public as i16;
        self
    }
    fn note(mut self, note: &str, visibility: pb::NoteVisibility) -> Self {
        self.0.note = note.to_owned();
        self.0.visibility = visibility as i16;
        self
    }
}

impl From<NewEntry> for EntryRow {
    fn from(entry: NewEntry) -> Self {
        entry.0
    }
}

/// An entry as an event carries it: an internal note's text left out.
fn published(entry: impl Into<EntryRow>) -> EntryRow {
    let mut entry = entry.into();
    if entry.visibility != pb::NoteVisibility::Public as i16 {
        entry.note.clear();
    }
    entry
}

fn entry_proto(entry: &EntryRow) -> pb::ServiceRequestTimelineEntry {
    pb::ServiceRequestTimelineEntry {
        id: entry.id.to_string(),
        service_request_id: entry.service_request_id.to_string(),
        kind: i32::from(entry.kind),
        from_status: i32::from(entry.from_status),
        to_status: i32::from(entry.to_status),
        note: entry.note.clone(),
        visibility: i32::from(entry.visibility),
        assignee_user_id: entry
            .assignee_user_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        related_request_id: entry
            .related_request_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        rating: i32::from(entry.rating),
        actor: Some(decoded_actor(&entry.actor)),
        time: Some(to_timestamp(entry.at)),
        photos: Vec::new(),
    }
}

pub fn status_proto(status: Status) -> pb::ServiceRequestStatus {
    use pb::ServiceRequestStatus as P;
    match status {
        Status::Submitted => P::Submitted,
        Status::Acknowledged => P::Acknowledged,
        Status::InProgress => P::InProgress,
        Status::Resolved => P::Resolved,
        Status::Closed => P::Closed,
        Status::Rejected => P::Rejected,
        Status::Reopened => P::Reopened,
        Status::Merged => P::Merged,
    }
}

fn status_name(status: Status) -> String {
    status_proto(status).as_str_name().to_owned()
}

fn proto(row: &RequestRow, followers: &[FollowerRow]) -> pb::ServiceRequest {
    let field_values = row
        .field_values
        .as_object()
        .map(|values| {
            values
                .iter()
                .filter_map(|(key, value)| Some((key.clone(), value.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    let location =
        (row.latitude.is_some() || !row.address.is_empty()).then(|| pb::RequestLocation {
            point: row
                .latitude
                .zip(row.longitude)
                .map(|(latitude, longitude)| common::GeoPoint {
                    latitude,
                    longitude,
                }),
            address: row.address.clone(),
        });
    let filed_by = decoded_actor(&row.filed_by);
    pb::ServiceRequest {
        id: row.id.to_string(),
        reference: row.reference.clone(),
        type_id: row.type_id.to_string(),
        village_code: row.village_code.clone(),
        description: row.description.clone(),
        location,
        photos: Vec::new(),
        field_values,
        requester_user_id: row
            .requester_user_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        contact_name: row.contact_name.clone(),
        contact_phone: row.contact_phone.clone(),
        filed_by: Some(filed_by.clone()),
        channel: i32::from(row.channel),
        status: status_proto(row.status) as i32,
        priority: i32::from(row.priority),
        assignee_user_id: row
            .assignee_user_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        due_time: row.due_at.map(to_timestamp),
        escalation_level: row.escalation_level,
        responsible_area: AdminScope::parse(&row.responsible_area)
            .ok()
            .map(|area| area.to_proto()),
        rating: i32::from(row.rating),
        rating_comment: row.rating_comment.clone(),
        merged_into_request_id: row.merged_into.map(|id| id.to_string()).unwrap_or_default(),
        reopen_count: row.reopen_count,
        resolve_time: row.resolved_at.map(to_timestamp),
        close_time: row.closed_at.map(to_timestamp),
        reopen_deadline: row.reopen_deadline.map(to_timestamp),
        audit: Some(common::AuditInfo {
            create_time: Some(to_timestamp(row.created_at)),
            creator: Some(filed_by),
            update_time: Some(to_timestamp(row.updated_at)),
            updater: Some(decoded_actor(&row.updated_by)),
        }),
        followers: followers
            .iter()
            .map(|follower| pb::RequestFollower {
                user_id: follower
                    .user_id
                    .map(|id| id.to_string())
                    .unwrap_or_default(),
                contact_name: follower.contact_name.clone(),
                contact_phone: follower.contact_phone.clone(),
                merged_request_id: follower.merged_request_id.to_string(),
            })
            .collect(),
        on_behalf_consent: row.on_behalf_consent.clone(),
        version: row.version,
    }
}

impl Requests {
    /// `UpdateServiceRequest`: the requester edits what they filed while it is submitted; the
    /// village's officials set its priority while it is open.
    pub async fn update(
        &self,
        caller: &Caller,
        command: parse::UpdateRequest,
    ) -> Result<pb::UpdateServiceRequestResponse> {
        let now = self.clock.now();
        idempotency::once(
            &self.db,
            caller,
            &command.mutation,
            now,
            Keep::Answer,
            async |txn| {
                let mut row = store::find_for_update(txn, command.id)
                    .await?
                    .ok_or_else(|| unknown(command.id))?;
                let sight = sight(caller, &row)?;
                let official = governs_village(caller, &row, REQUESTS_WRITE)?;
                if command.edits_requesters_fields() {
                    if !is_requester(caller, &row, REQUESTS_WRITE) {
                        return Err(Error::permission_denied(
                            "REQUESTER_ONLY",
                            "what a request says is edited by its requester; officials add notes",
                        ));
                    }
                    if row.status != Status::Submitted {
                        return Err(Error::failed_precondition_with(
                            "REQUEST_NOT_EDITABLE",
                            "a request is edited only until an official has taken it up",
                            [("current_status", status_name(row.status))],
                        ));
                    }
                }
                if let Some(priority) = command.priority {
                    if !official {
                        return Err(if sight == Sight::Official {
                            Error::permission_denied(
                                "NOT_RESPONSIBLE",
                                "the request's priority is set by the officials of its village",
                            )
                        } else {
                            Error::permission_denied(
                                "OFFICIALS_ONLY",
                                "a request's priority is set by officials",
                            )
                        });
                    }
                    if !workflow::is_open(row.status) {
                        return Err(Error::failed_precondition_with(
                            "REQUEST_NOT_EDITABLE",
                            "the priority of a request no longer open stays as it was",
                            [("current_status", status_name(row.status))],
                        ));
                    }
                    row.priority = priority as i16;
                }
                if let Some(description) = &command.description {
                    row.description = description.clone();
                }
                if let Some(point) = command.point {
                    row.latitude = point.map(|(latitude, _)| latitude);
                    row.longitude = point.map(|(_, longitude)| longitude);
                }
                if let Some(address) = &command.address {
                    row.address = address.clone();
                }
                if let Some(values) = &command.field_values {
                    let request_type = crate::request_types::store::find(txn, row.type_id)
                        .await?
                        .ok_or_else(|| {
                        Error::not_found("request type", row.type_id.to_string())
                    })?;
                    let definitions = crate::request_types::decoded_fields(&request_type.fields)?;
                    let mut violations = Violations::new();
                    let checked = crate::request_types::fields::values(
                        &mut violations,
                        "service_request.field_values",
                        &definitions,
                        values,
                    );
                    let checked = violations.finish_with(|| checked)?;
                    row.field_values = serde_json::to_value(&checked).unwrap_or_default();
                }
                if let Some(photos) = &command.photos {
                    let current: Vec<Uuid> = self
                        .photos
                        .refs(txn, PHOTOS_OF_REQUEST, &[row.id])
                        .await?
                        .remove(&row.id)
                        .unwrap_or_default()
                        .iter()
                        .filter_map(|photo| Uuid::parse_str(&photo.id).ok())
                        .collect();
                    let dropped: Vec<Uuid> = current
                        .iter()
                        .copied()
                        .filter(|id| !photos.iter().any(|photo| photo.id == *id))
                        .collect();
                    let added: Vec<parse::PhotoToAttach> = photos
                        .iter()
                        .filter(|photo| !current.contains(&photo.id))
                        .cloned()
                        .collect();
                    if current.len() - dropped.len() + added.len() > parse::MAX_PHOTOS {
                        return Err(Error::invalid(
                            "service_request.photos",
                            format!("at most {} photos", parse::MAX_PHOTOS),
                        ));
                    }
                    self.photos
                        .detach_some(txn, PHOTOS_OF_REQUEST, row.id, &dropped)
                        .await?;
                    self.photos
                        .attach(
                            txn,
                            caller,
                            "service_request.photos",
                            &added,
                            PHOTOS_OF_REQUEST,
                            row.id,
                            now,
                        )
                        .await?;
                }
                let entry: EntryRow = entry(&row, caller, now, pb::TimelineEntryKind::Edited)
                    .note(&command.paths.join(", "), pb::NoteVisibility::Public)
                    .into();
                let row = self.save(txn, caller, row, &entry, now).await?;
                let service_request = self.to_proto(txn, &row, Sight::Official).await?;
                outbox::publish(
                    txn,
                    &self.source,
                    &pb::ServiceRequestUpdated {
                        service_request: Some(on_bus(service_request.clone())),
                        changed_fields: Some(prost_types::FieldMask {
                            paths: command.paths.clone(),
                        }),
                        actor: Some(caller.actor()),
                    },
                )
                .await?;
                if official && command.priority.is_some() {
                    self.audited(
                        txn,
                        caller,
                        &row,
                        "service_request.updated",
                        serde_json::json!({ "fields": command.paths }),
                        now,
                    )
                    .await?;
                }
                Ok(pb::UpdateServiceRequestResponse {
                    service_request: Some(if sight == Sight::Official {
                        service_request
                    } else {
                        for_requester(service_request)
                    }),
                })
            },
        )
        .await
    }
}

impl Requests {
    /// `AssignServiceRequest`: an official of the responsible area gives the request to an
    /// official of that area (as governance knows them from identity's grants), or takes it
    /// back.
    pub async fn assign(
        &self,
        caller: &Caller,
        command: parse::Assign,
    ) -> Result<pb::AssignServiceRequestResponse> {
        let now = self.clock.now();
        idempotency::once(
            &self.db,
            caller,
            &command.mutation,
            now,
            Keep::Answer,
            async |txn| {
                let mut row = store::find_for_update(txn, command.id)
                    .await?
                    .ok_or_else(|| unknown(command.id))?;
                require_handler(caller, &row)?;
                if workflow::is_final(row.status) {
                    return Err(Error::failed_precondition_with(
                        "REQUEST_FINAL",
                        "a request that is closed, rejected or merged is not assigned",
                        [("current_status", status_name(row.status))],
                    ));
                }
                if let Some(assignee) = command.assignee
                    && !crate::people::grants::holds_official_role(
                        txn,
                        assignee,
                        &area(&row.responsible_area)?,
                        Role::VillageOfficial.rank(),
                        now,
                    )
                    .await?
                {
                    return Err(Error::failed_precondition(
                        "ASSIGNEE_NOT_AN_OFFICIAL",
                        "a request is assigned to an official of the area responsible for it",
                    ));
                }
                let previous = std::mem::replace(&mut row.assignee_user_id, command.assignee);
                let mut entry: EntryRow = entry(&row, caller, now, pb::TimelineEntryKind::Assigned)
                    .note(&command.note, pb::NoteVisibility::Internal)
                    .into();
                entry.assignee_user_id = command.assignee;
                let row = self.save(txn, caller, row, &entry, now).await?;
                let service_request = self.to_proto(txn, &row, Sight::Official).await?;
                outbox::publish(
                    txn,
                    &self.source,
                    &pb::ServiceRequestAssigned {
                        service_request: Some(on_bus(service_request.clone())),
                        previous_assignee_user_id: previous
                            .map(|id| id.to_string())
                            .unwrap_or_default(),
                        actor: Some(caller.actor()),
                    },
                )
                .await?;
                self.audited(
                    txn,
                    caller,
                    &row,
                    "service_request.assigned",
                    serde_json::json!({ "from": previous, "to": command.assignee }),
                    now,
                )
                .await?;
                Ok(pb::AssignServiceRequestResponse {
                    service_request: Some(service_request),
                })
            },
        )
        .await
    }
}
