//! The Open311 GeoReport v2 door on the HTTP port (`/open311/v2/`), to the published
//! specification, so that existing civic tools work unchanged: service discovery, `services`,
//! `services/{service_code}`, `requests` (GET with its filters, POST) and
//! `requests/{service_request_id}`, each as `.json` or `.xml` (XML is the spec's required format).
//!
//! **Mapping.** A service is a request type; its `service_code` is the type's id (codes are
//! unique only within an area, and a village is offered the types of several areas). The
//! `jurisdiction_id` is an administrative code: for `services`, the types relevant to that area;
//! for a POST, the village the request concerns (required). A type's extra fields are the
//! service definition's attributes. A request's `status` is `open` while it is being handled and
//! `closed` once resolved, closed, rejected or merged; `status_notes` is the latest public note
//! an official wrote (with a status change or as a note: never a requester's note, rating
//! comment or reopening reason, an edit or an escalation); `agency_responsible` the name of the
//! area now answerable; `media_url` its first public photo.
//!
//! **What is public.** Villagers file from home, and some types are personal (a certificate), so
//! `GET requests` and `requests/{id}` show only requests of a type listed publicly
//! (`RequestType.public_listing`, chosen by the type's owner); the others are as if they did not
//! exist. A listed request's description and address are shown, its point rounded to 3 decimals
//! (about 100 m). Never a requester or a contact. `services` lists every active type, listed or
//! not: agencies file to them.
//!
//! **POST** is an agency's: its access token from identity's client-credentials exchange, sent as
//! `Authorization: Bearer` or as `api_key`, verified locally against the cached key set (never a
//! call to identity), under `governance.requests:write` for the village, through the same rules
//! as `CreateServiceRequest`. A person named (`first_name`, `last_name`, `email`) is filed for
//! on behalf of, with their `phone` (required then: it is how they are answered; `email` is not
//! kept); nobody named, the request is the agency's own (channel AGENCY, no contact, no consent).
//! `media_url` is not fetched (the server does not reach out to addresses it is given); the
//! answer's `service_notice` says so.
//!
//! Errors are the spec's list of `{code, description}` with the HTTP status of the first.

mod views;

use std::collections::{BTreeMap, HashMap};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use prost::Message as _;
use sea_orm::{ConnectionTrait as _, DatabaseConnection, Statement};
use terrace_platform::Clock;
use terrace_platform::auth::{AdminScope, Caller, Verifier};
use terrace_platform::error::Error;
use terrace_proto::common::v1 as common;
use terrace_proto::governance::v1 as pb;
use uuid::Uuid;

use self::views::{Format, Problem};
use crate::entity::service_requests::Model as RequestRow;
use crate::requests::Requests;

/// The most requests one GET answers, and the default window when none is asked for.
const MAX_REQUESTS: u64 = 1000;
const DEFAULT_DAYS: i64 = 90;

/// What the door's handlers share.
#[derive(Clone)]
pub struct Open311 {
    db: DatabaseConnection,
    requests: Requests,
    verifier: Verifier,
    clock: Clock,
    photos: terrace_photos::Photos,
}

impl std::fmt::Debug for Open311 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Open311")
    }
}

impl Open311 {
    pub fn new(
        db: DatabaseConnection,
        requests: Requests,
        verifier: Verifier,
        clock: Clock,
        photos: terrace_photos::Photos,
    ) -> Self {
        Self {
            db,
            requests,
            verifier,
            clock,
            photos,
        }
    }

    /// The routes, under `/open311/v2/`.
    pub fn router(self) -> Router {
        Router::new()
            .route("/open311/v2/{file}", get(top).post(post_request))
            .route("/open311/v2/services/{file}", get(service_definition))
            .route("/open311/v2/requests/{file}", get(one_request))
            .with_state(self)
    }
}

/// `name.json` or `name.xml`.
fn split(file: &str) -> Result<(&str, Format), Problem> {
    match file.rsplit_once('.') {
        Some((name, "json")) => Ok((name, Format::Json)),
        Some((name, "xml")) => Ok((name, Format::Xml)),
        _ => Err(Problem::new(
            StatusCode::NOT_FOUND,
            "unknown resource: use .json or .xml",
        )),
    }
}

/// The query's parameters (a repeated one keeps its last value; lists are comma-separated).
fn params(query: Option<&str>) -> BTreeMap<String, String> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect()
}

async fn top(
    State(door): State<Open311>,
    Path(file): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let (name, format) = match split(&file) {
        Ok(found) => found,
        Err(problem) => return problem.answer(Format::Xml),
    };
    let params = params(query.as_deref());
    let answer = match name {
        "discovery" => Ok(views::discovery(format)),
        "services" => door.services(format, &params).await,
        "requests" => door.list_requests(format, &params).await,
        _ => Err(Problem::new(StatusCode::NOT_FOUND, "unknown resource")),
    };
    answer.unwrap_or_else(|problem| problem.answer(format))
}

async fn service_definition(State(door): State<Open311>, Path(file): Path<String>) -> Response {
    let (code, format) = match split(&file) {
        Ok(found) => found,
        Err(problem) => return problem.answer(Format::Xml),
    };
    door.definition(format, code)
        .await
        .unwrap_or_else(|problem| problem.answer(format))
}

async fn one_request(State(door): State<Open311>, Path(file): Path<String>) -> Response {
    let (id, format) = match split(&file) {
        Ok(found) => found,
        Err(problem) => return problem.answer(Format::Xml),
    };
    let Ok(id) = Uuid::parse_str(id) else {
        return Problem::new(StatusCode::NOT_FOUND, "no such service request").answer(format);
    };
    let mut params = BTreeMap::new();
    params.insert("service_request_id".to_owned(), id.to_string());
    match door.list_requests(format, &params).await {
        Ok(answer) => answer,
        Err(problem) => problem.answer(format),
    }
}

async fn post_request(
    State(door): State<Open311>,
    Path(file): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (name, format) = match split(&file) {
        Ok(found) => found,
        Err(problem) => return problem.answer(Format::Xml),
    };
    if name != "requests" {
        return Problem::new(StatusCode::NOT_FOUND, "unknown resource").answer(format);
    }
    door.create(format, &headers, &body)
        .await
        .unwrap_or_else(|problem| problem.answer(format))
}

impl Open311 {
    async fn services(
        &self,
        format: Format,
        params: &BTreeMap<String, String>,
    ) -> Result<Response, Problem> {
        let area = match params
            .get("jurisdiction_id")
            .filter(|code| !code.is_empty())
        {
            Some(code) => Some(jurisdiction(code)?),
            None => None,
        };
        let types = crate::request_types::store::relevant_to(&self.db, area.as_ref())
            .await
            .map_err(Problem::internal)?;
        Ok(views::services(format, &types))
    }

    async fn definition(&self, format: Format, code: &str) -> Result<Response, Problem> {
        let unknown = || Problem::new(StatusCode::NOT_FOUND, "no such service_code");
        let id = Uuid::parse_str(code).map_err(|_| unknown())?;
        let row = crate::request_types::store::find(&self.db, id)
            .await
            .map_err(Problem::internal)?
            .filter(|row| row.active)
            .ok_or_else(unknown)?;
        let fields = crate::request_types::decoded_fields(&row.fields).map_err(Problem::from)?;
        Ok(views::definition(format, &row, &fields))
    }

    async fn list_requests(
        &self,
        format: Format,
        params: &BTreeMap<String, String>,
    ) -> Result<Response, Problem> {
        let bad = |what: &str| Problem::new(StatusCode::BAD_REQUEST, what);
        let ids = list_of(params.get("service_request_id"), |id| {
            Uuid::parse_str(id).ok()
        })
        .ok_or_else(|| bad("service_request_id: a comma-separated list of ids"))?;
        // The spec: "service_request_id ... overrides all other arguments".
        let query = if ids.is_empty() {
            self.filters(params)?
        } else {
            crate::requests::store::PublicQuery {
                ids,
                ..Default::default()
            }
        };
        let rows = crate::requests::store::public_list(&self.db, &query, MAX_REQUESTS)
            .await
            .map_err(Problem::internal)?;
        if !query.ids.is_empty() && rows.is_empty() {
            return Err(Problem::new(
                StatusCode::NOT_FOUND,
                "no such service request",
            ));
        }
        let extras = self.extras(&rows).await?;
        Ok(views::requests(format, &rows, &extras))
    }

    /// The filters of a `GET requests` that names no ids: `service_code`, `status`,
    /// `start_date`, `end_date` (90 days back from the end by default), `jurisdiction_id`.
    fn filters(
        &self,
        params: &BTreeMap<String, String>,
    ) -> Result<crate::requests::store::PublicQuery, Problem> {
        let bad = |what: &str| Problem::new(StatusCode::BAD_REQUEST, what);
        let types = list_of(params.get("service_code"), |id| Uuid::parse_str(id).ok())
            .ok_or_else(|| bad("service_code: a comma-separated list of service codes"))?;
        let statuses = list_of(params.get("status"), |status| match status {
            "open" | "closed" => Some(status.to_owned()),
            _ => None,
        })
        .ok_or_else(|| bad("status: open, closed, or both comma-separated"))?;
        let time = |key: &str| -> Result<Option<DateTime<Utc>>, Problem> {
            params
                .get(key)
                .filter(|value| !value.is_empty())
                .map(|value| {
                    DateTime::parse_from_rfc3339(value)
                        .map(|time| time.with_timezone(&Utc))
                        .map_err(|_| bad(&format!("{key}: a date and time in W3C format, e.g. 2026-12-04T09:30:00+08:00")))
                })
                .transpose()
        };
        let (start, end) = (time("start_date")?, time("end_date")?);
        let area = match params
            .get("jurisdiction_id")
            .filter(|code| !code.is_empty())
        {
            Some(code) => Some(jurisdiction(code)?),
            None => None,
        };
        let start = start.unwrap_or_else(|| {
            end.unwrap_or_else(|| self.clock.now()) - chrono::Duration::days(DEFAULT_DAYS)
        });
        let open = match (
            statuses.iter().any(|s| s == "open"),
            statuses.iter().any(|s| s == "closed"),
        ) {
            (true, false) => Some(true),
            (false, true) => Some(false),
            _ => None,
        };
        Ok(crate::requests::store::PublicQuery {
            ids: Vec::new(),
            types,
            open,
            start: Some(start),
            end,
            area,
        })
    }

    /// What each request's public view needs beyond its row: its type (its name, whether it is
    /// listed), the answerable area's name, its latest official note, its first public photo.
    async fn extras(&self, rows: &[RequestRow]) -> Result<views::Extras, Problem> {
        let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
        let mut extras = views::Extras::default();
        if ids.is_empty() {
            return Ok(extras);
        }
        let requesters: HashMap<Uuid, Option<Uuid>> = rows
            .iter()
            .map(|row| (row.id, row.requester_user_id))
            .collect();
        let backend = self.db.get_database_backend();
        // The candidates for `status_notes`, newest first: public words written with a status
        // change (not a requester's reopening) or as a note. Whose they are is in the encoded
        // actor, read below.
        let notes = self
            .db
            .query_all_raw(Statement::from_sql_and_values(
                backend,
                "SELECT service_request_id, note, actor FROM service_request_timeline \
                 WHERE service_request_id = ANY($1) AND visibility = $2 AND note <> '' \
                 AND ((kind = $3 AND to_status <> $4) OR kind = $5) \
                 ORDER BY service_request_id, id DESC",
                [
                    ids.clone().into(),
                    (pb::NoteVisibility::Public as i16).into(),
                    (pb::TimelineEntryKind::StatusChanged as i16).into(),
                    (pb::ServiceRequestStatus::Reopened as i16).into(),
                    (pb::TimelineEntryKind::Note as i16).into(),
                ],
            ))
            .await
            .map_err(Problem::internal)?;
        for row in notes {
            let id: Uuid = row
                .try_get("", "service_request_id")
                .map_err(Problem::internal)?;
            if extras.notes.contains_key(&id) {
                continue;
            }
            let actor: Vec<u8> = row.try_get("", "actor").map_err(Problem::internal)?;
            let actor = common::Actor::decode(actor.as_slice()).map_err(Problem::internal)?;
            if by_official(&actor, requesters.get(&id).copied().flatten()) {
                extras
                    .notes
                    .insert(id, row.try_get("", "note").map_err(Problem::internal)?);
            }
        }
        let type_ids: Vec<Uuid> = rows.iter().map(|row| row.type_id).collect();
        for row in crate::request_types::store::by_ids(&self.db, &type_ids)
            .await
            .map_err(Problem::internal)?
        {
            extras.types.insert(row.id, row);
        }
        let areas: Vec<String> = rows
            .iter()
            .map(|row| row.responsible_area.clone())
            .collect();
        for division in crate::divisions::store::by_codes_in(&self.db, &areas)
            .await
            .map_err(Problem::internal)?
        {
            extras.areas.insert(division.code.clone(), division.name);
        }
        let photos = self
            .photos
            .refs(&self.db, crate::requests::PHOTOS_OF_REQUEST, &ids)
            .await
            .map_err(Problem::from)?;
        for (id, refs) in photos {
            if let Some(public) = refs.into_iter().find(|photo| photo.public) {
                extras.media.insert(id, public.uri);
            }
        }
        Ok(extras)
    }

    async fn create(
        &self,
        format: Format,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Response, Problem> {
        let mut fields: BTreeMap<String, String> = BTreeMap::new();
        let mut lists: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (key, value) in form_urlencoded::parse(body) {
            match key
                .strip_prefix("attribute[")
                .and_then(|rest| rest.split_once(']'))
            {
                Some((code, "[]")) => lists
                    .entry(code.to_owned())
                    .or_default()
                    .push(value.into_owned()),
                Some((code, "")) => {
                    fields.insert(format!("attribute:{code}"), value.into_owned());
                }
                _ => {
                    fields.insert(key.into_owned(), value.into_owned());
                }
            }
        }
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::to_owned);
        let token = bearer
            .or_else(|| fields.get("api_key").cloned())
            .filter(|token| !token.is_empty())
            .ok_or_else(|| {
                Problem::new(
                    StatusCode::FORBIDDEN,
                    "api_key: an agency's access token is required",
                )
            })?;
        let caller = match self.verifier.verify(&token).await {
            Ok(principal) => Caller::from(principal),
            Err(_) => {
                return Err(Problem::new(
                    StatusCode::FORBIDDEN,
                    "api_key: not a valid access token",
                ));
            }
        };
        if !matches!(caller, Caller::Agency(_)) {
            return Err(Problem::new(
                StatusCode::FORBIDDEN,
                "api_key: Open311 requests are filed by agencies with their client's token",
            ));
        }
        let get = |key: &str| {
            fields
                .get(key)
                .map(String::as_str)
                .unwrap_or_default()
                .trim()
                .to_owned()
        };
        let point = match (get("lat").as_str(), get("long").as_str()) {
            ("", "") => None,
            (lat, long) => Some(pb::RequestLocation {
                point: Some(terrace_proto::common::v1::GeoPoint {
                    latitude: lat
                        .parse()
                        .map_err(|_| Problem::new(StatusCode::BAD_REQUEST, "lat: a number"))?,
                    longitude: long
                        .parse()
                        .map_err(|_| Problem::new(StatusCode::BAD_REQUEST, "long: a number"))?,
                }),
                address: String::new(),
            }),
        };
        let mut location = point.unwrap_or_default();
        location.address = get("address_string");
        let mut field_values: BTreeMap<String, String> = fields
            .iter()
            .filter_map(|(key, value)| {
                Some((key.strip_prefix("attribute:")?.to_owned(), value.clone()))
            })
            .collect();
        for (code, values) in lists {
            field_values.insert(code, serde_json::to_string(&values).unwrap_or_default());
        }
        // A person named is answered by phone: without one, nobody could answer them. Nobody
        // named: the agency's own request (no requester, no contact, no consent noted).
        let name = views::person(&get("first_name"), &get("last_name"));
        let named = !name.is_empty() || !get("phone").is_empty() || !get("email").is_empty();
        if named && get("phone").is_empty() {
            return Err(Problem::new(
                StatusCode::BAD_REQUEST,
                "phone: required when a person is named (first_name, last_name or email): the phone to answer them on",
            ));
        }
        let consent = if named {
            "filed through Open311 by the agency, which holds the person's consent".to_owned()
        } else {
            String::new()
        };
        let request = pb::CreateServiceRequestRequest {
            request_id: Uuid::now_v7().to_string(),
            service_request: Some(pb::ServiceRequest {
                type_id: get("service_code"),
                village_code: get("jurisdiction_id"),
                description: get("description"),
                location: Some(location),
                field_values: field_values.into_iter().collect(),
                contact_name: name,
                contact_phone: get("phone"),
                on_behalf_consent: consent,
                channel: pb::RequestChannel::Agency as i32,
                ..Default::default()
            }),
            on_behalf_of_user_id: String::new(),
        };
        let command =
            crate::requests::parse::CreateServiceRequest::parse(request).map_err(Problem::from)?;
        let answer = self
            .requests
            .create(&caller, command)
            .await
            .map_err(Problem::from)?;
        let id = answer
            .service_request
            .map(|request| request.id)
            .unwrap_or_default();
        let notice = if get("media_url").is_empty() {
            String::new()
        } else {
            "media_url was not fetched: photos are uploaded through the GovernanceService UploadPhoto RPC".to_owned()
        };
        Ok(views::created(format, &id, &notice))
    }
}

/// Whether a timeline entry's words are an official's (or a handling agency's): not the
/// requester's own or their helper's, not a job's.
fn by_official(actor: &common::Actor, requester: Option<Uuid>) -> bool {
    let is_requester = |user: &str| requester.is_some_and(|id| id.to_string() == user);
    match common::ActorKind::try_from(actor.kind) {
        Ok(common::ActorKind::User) => {
            !is_requester(&actor.user_id) && !is_requester(&actor.on_behalf_of_user_id)
        }
        Ok(common::ActorKind::Agency) => true,
        _ => false,
    }
}

/// A `jurisdiction_id`: an administrative code.
fn jurisdiction(code: &str) -> Result<AdminScope, Problem> {
    AdminScope::parse(code).map_err(|_| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "jurisdiction_id: an administrative division code",
        )
    })
}

/// A comma-separated list, each item read by `read`; `None` if any item does not read.
fn list_of<T>(value: Option<&String>, read: impl Fn(&str) -> Option<T>) -> Option<Vec<T>> {
    match value
        .map(|value| value.trim())
        .filter(|value| !value.is_empty())
    {
        None => Some(Vec::new()),
        Some(value) => value.split(',').map(|item| read(item.trim())).collect(),
    }
}

impl From<Error> for Problem {
    fn from(error: Error) -> Self {
        let status = match error.code() {
            tonic::Code::InvalidArgument | tonic::Code::FailedPrecondition => {
                StatusCode::BAD_REQUEST
            }
            tonic::Code::NotFound => StatusCode::NOT_FOUND,
            tonic::Code::PermissionDenied | tonic::Code::Unauthenticated => StatusCode::FORBIDDEN,
            tonic::Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
            tonic::Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let description = match &error {
            Error::InvalidArgument(violations) => violations
                .iter()
                .map(|violation| {
                    format!(
                        "{}: {}",
                        open311_field(&violation.field),
                        violation.description
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
            Error::Internal(cause) => {
                tracing::error!(error = format!("{cause:#}"), "open311: internal error");
                "internal error".to_owned()
            }
            other => other.to_string(),
        };
        Problem::new(status, &description)
    }
}

/// The Open311 parameter a field of `CreateServiceRequest` came from.
fn open311_field(field: &str) -> String {
    let field = field.strip_prefix("service_request.").unwrap_or(field);
    match field {
        "type_id" => "service_code".to_owned(),
        "village_code" => "jurisdiction_id".to_owned(),
        "location.point.latitude" => "lat".to_owned(),
        "location.point.longitude" => "long".to_owned(),
        "location.address" => "address_string".to_owned(),
        "contact_name" => "first_name".to_owned(),
        "contact_phone" => "phone".to_owned(),
        other => match other.strip_prefix("field_values[") {
            Some(rest) => format!(
                "attribute[{}]",
                rest.trim_end_matches(']').trim_matches('"')
            ),
            None => other.to_owned(),
        },
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        self.answer(Format::Xml)
    }
}
