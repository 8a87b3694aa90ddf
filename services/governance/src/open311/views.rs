//! The spec's shapes, in JSON and in XML: the same structs, serialized by `serde_json` or by
//! `quick-xml` under the spec's root and item element names.

use std::collections::HashMap;
use terrace_platform::clock::CHINA_TIME;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use terrace_proto::governance::v1 as pb;
use terrace_proto::governance::v1::RequestFieldType as Kind;
use uuid::Uuid;

use crate::entity::request_types::Model as TypeRow;
use crate::entity::service_requests::{Model as RequestRow, RequestStatus as Status};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Format {
    Json,
    Xml,
}

/// Answers `items` as a JSON array, or as XML `<root><item>...</item>...</root>`.
fn answer<T: Serialize>(
    format: Format,
    status: StatusCode,
    root: &str,
    item: &str,
    items: &[T],
) -> Response {
    match format {
        Format::Json => match serde_json::to_string(items) {
            Ok(body) => (
                status,
                [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
                body,
            )
                .into_response(),
            Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        },
        Format::Xml => {
            let mut body = format!("<?xml version=\"1.0\" encoding=\"utf-8\"?><{root}>");
            for one in items {
                match quick_xml::se::to_string_with_root(item, one) {
                    Ok(xml) => body.push_str(&xml),
                    Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
                }
            }
            body.push_str(&format!("</{root}>"));
            (
                status,
                [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
                body,
            )
                .into_response()
        }
    }
}

/// Answers one object: JSON as it is, XML under `root`.
fn answer_one<T: Serialize>(format: Format, root: &str, value: &T) -> Response {
    match format {
        Format::Json => match serde_json::to_string(value) {
            Ok(body) => (
                [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
                body,
            )
                .into_response(),
            Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        },
        Format::Xml => match quick_xml::se::to_string_with_root(root, value) {
            Ok(xml) => (
                [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
                format!("<?xml version=\"1.0\" encoding=\"utf-8\"?>{xml}"),
            )
                .into_response(),
            Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        },
    }
}

/// An error as the spec writes it.
#[derive(Debug, Clone)]
pub(super) struct Problem {
    status: StatusCode,
    description: String,
}

#[derive(Serialize)]
struct ErrorView {
    code: u16,
    description: String,
}

impl Problem {
    pub(super) fn new(status: StatusCode, description: &str) -> Self {
        Self {
            status,
            description: description.to_owned(),
        }
    }

    pub(super) fn internal(error: impl std::fmt::Display) -> Self {
        tracing::error!(%error, "open311: internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    }

    pub(super) fn answer(self, format: Format) -> Response {
        let view = ErrorView {
            code: self.status.as_u16(),
            description: self.description,
        };
        answer(format, self.status, "errors", "error", &[view])
    }
}

#[derive(Serialize)]
struct Formats {
    format: Vec<&'static str>,
}

#[derive(Serialize)]
struct Endpoint {
    specification: &'static str,
    url: &'static str,
    changeset: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    formats: Formats,
}

#[derive(Serialize)]
struct Endpoints {
    endpoint: Vec<Endpoint>,
}

#[derive(Serialize)]
struct Discovery {
    changeset: &'static str,
    contact: &'static str,
    key_service: &'static str,
    endpoints: Endpoints,
}

/// Service discovery: this one endpoint, its formats.
pub(super) fn discovery(format: Format) -> Response {
    let endpoint = Endpoint {
        specification: "http://wiki.open311.org/GeoReport_v2",
        url: "/open311/v2",
        changeset: "2026-12-04T00:00:00+08:00",
        kind: "production",
        formats: Formats {
            format: vec!["text/xml", "application/json"],
        },
    };
    let discovery = Discovery {
        changeset: "2026-12-04T00:00:00+08:00",
        contact: "the county's Terrace operators",
        key_service: "an agency client's access token (identity's client-credentials exchange)",
        endpoints: Endpoints {
            endpoint: vec![endpoint],
        },
    };
    match format {
        // In JSON, `endpoints` and `formats` are plain arrays.
        Format::Json => {
            let json = serde_json::json!({
                "changeset": discovery.changeset,
                "contact": discovery.contact,
                "key_service": discovery.key_service,
                "endpoints": discovery.endpoints.endpoint.iter().map(|e| serde_json::json!({
                    "specification": e.specification,
                    "url": e.url,
                    "changeset": e.changeset,
                    "type": e.kind,
                    "formats": e.formats.format,
                })).collect::<Vec<_>>(),
            });
            answer_one(format, "discovery", &json)
        }
        Format::Xml => answer_one(format, "discovery", &discovery),
    }
}

fn text(value: &serde_json::Value) -> String {
    let text = crate::request_types::localized(value);
    ["zh-CN", "en"]
        .iter()
        .find_map(|tag| text.translations.get(*tag))
        .or_else(|| text.translations.values().next())
        .cloned()
        .unwrap_or_default()
}

#[derive(Serialize)]
struct ServiceView {
    service_code: String,
    service_name: String,
    description: String,
    metadata: bool,
    #[serde(rename = "type")]
    kind: &'static str,
    keywords: String,
    group: String,
}

pub(super) fn services(format: Format, types: &[TypeRow]) -> Response {
    let views: Vec<ServiceView> = types
        .iter()
        .map(|row| ServiceView {
            service_code: row.id.to_string(),
            service_name: text(&row.name),
            description: text(&row.description),
            metadata: !crate::request_types::decoded_fields(&row.fields)
                .unwrap_or_default()
                .is_empty(),
            kind: "realtime",
            keywords: row.code.clone(),
            group: row.group_name.clone(),
        })
        .collect();
    answer(format, StatusCode::OK, "services", "service", &views)
}

#[derive(Serialize)]
struct ValueView {
    key: String,
    name: String,
}

#[derive(Serialize)]
struct Values {
    value: Vec<ValueView>,
}

#[derive(Serialize)]
struct AttributeView {
    variable: bool,
    code: String,
    datatype: &'static str,
    required: bool,
    datatype_description: String,
    order: usize,
    description: String,
    values: Values,
}

#[derive(Serialize)]
struct Attributes {
    attribute: Vec<AttributeView>,
}

#[derive(Serialize)]
struct DefinitionView {
    service_code: String,
    attributes: Attributes,
}

/// The spec's datatype of a field, and how its value is written.
fn datatype(field: &pb::RequestFieldDefinition) -> (&'static str, &'static str) {
    match Kind::try_from(field.r#type).unwrap_or(Kind::Unspecified) {
        Kind::Text if field.max_length > 0 && field.max_length <= 255 => ("string", ""),
        Kind::Text => ("text", ""),
        Kind::Number => ("number", "a decimal number, e.g. 3 or 2.5"),
        Kind::Boolean => ("singlevaluelist", ""),
        Kind::Date => ("datetime", "a date, YYYY-MM-DD"),
        Kind::Datetime => ("datetime", "a date and time with its offset"),
        Kind::Choice => ("singlevaluelist", ""),
        Kind::MultiChoice => ("multivaluelist", ""),
        Kind::Phone => ("string", "a phone number"),
        Kind::Unspecified => ("string", ""),
    }
}

pub(super) fn definition(
    format: Format,
    row: &TypeRow,
    fields: &[pb::RequestFieldDefinition],
) -> Response {
    let attributes = fields
        .iter()
        .enumerate()
        .map(|(index, field)| {
            let (datatype, described) = datatype(field);
            let label = |text: &Option<terrace_proto::common::v1::LocalizedText>| {
                text.as_ref()
                    .and_then(|text| {
                        text.translations
                            .get("zh-CN")
                            .or_else(|| text.translations.values().next())
                    })
                    .cloned()
                    .unwrap_or_default()
            };
            let values = if field.r#type == Kind::Boolean as i32 {
                vec![
                    ValueView {
                        key: "true".into(),
                        name: "是".into(),
                    },
                    ValueView {
                        key: "false".into(),
                        name: "否".into(),
                    },
                ]
            } else {
                field
                    .options
                    .iter()
                    .map(|option| ValueView {
                        key: option.value.clone(),
                        name: label(&option.label),
                    })
                    .collect()
            };
            AttributeView {
                variable: true,
                code: field.key.clone(),
                datatype,
                required: field.required,
                datatype_description: match label(&field.help) {
                    help if help.is_empty() => described.to_owned(),
                    help => help,
                },
                order: index + 1,
                description: label(&field.label),
                values: Values { value: values },
            }
        })
        .collect();
    let view = DefinitionView {
        service_code: row.id.to_string(),
        attributes: Attributes {
            attribute: attributes,
        },
    };
    match format {
        Format::Json => {
            let json = serde_json::json!({
                "service_code": view.service_code,
                "attributes": view.attributes.attribute.iter().map(|a| serde_json::json!({
                    "variable": a.variable,
                    "code": a.code,
                    "datatype": a.datatype,
                    "required": a.required,
                    "datatype_description": a.datatype_description,
                    "order": a.order,
                    "description": a.description,
                    "values": a.values.value.iter().map(|v| serde_json::json!({"key": v.key, "name": v.name})).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
            });
            answer_one(format, "service_definition", &json)
        }
        Format::Xml => answer_one(format, "service_definition", &view),
    }
}

/// What a request's public view needs beyond its row.
#[derive(Debug, Default)]
pub(super) struct Extras {
    pub(super) notes: HashMap<Uuid, String>,
    pub(super) types: HashMap<Uuid, TypeRow>,
    pub(super) areas: HashMap<String, String>,
    pub(super) media: HashMap<Uuid, String>,
}

#[derive(Serialize)]
struct RequestView {
    service_request_id: String,
    status: &'static str,
    status_notes: String,
    service_name: String,
    service_code: String,
    description: String,
    agency_responsible: String,
    service_notice: String,
    requested_datetime: String,
    updated_datetime: String,
    expected_datetime: String,
    address: String,
    address_id: String,
    zipcode: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    lat: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    long: Option<f64>,
    media_url: String,
}

fn time(at: DateTime<Utc>) -> String {
    at.with_timezone(&CHINA_TIME)
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `open` while the request is being handled; `closed` once resolved or ended.
pub(super) fn open311_status(status: Status) -> &'static str {
    if crate::requests::workflow::is_open(status) {
        "open"
    } else {
        "closed"
    }
}

/// A coordinate to 3 decimals (about 100 m north-south, less east-west): where the well or the
/// road is, not whose house the report was filed from.
pub(super) fn coarse(degrees: f64) -> f64 {
    (degrees * 1000.0).round() / 1000.0
}

pub(super) fn requests(format: Format, rows: &[RequestRow], extras: &Extras) -> Response {
    let views: Vec<RequestView> = rows
        .iter()
        .map(|row| {
            // What the villager wrote and where they said, only for a type whose owner chose
            // to publish its requests (the store lists no others; this holds if one slips in).
            let listed = extras
                .types
                .get(&row.type_id)
                .is_some_and(|t| t.public_listing);
            let shown = |text: &str| {
                if listed {
                    text.to_owned()
                } else {
                    String::new()
                }
            };
            RequestView {
                service_request_id: row.id.to_string(),
                status: open311_status(row.status),
                status_notes: extras.notes.get(&row.id).cloned().unwrap_or_default(),
                service_name: extras
                    .types
                    .get(&row.type_id)
                    .map(|t| text(&t.name))
                    .unwrap_or_default(),
                service_code: row.type_id.to_string(),
                description: shown(&row.description),
                agency_responsible: extras
                    .areas
                    .get(&row.responsible_area)
                    .cloned()
                    .unwrap_or_else(|| row.responsible_area.clone()),
                service_notice: String::new(),
                requested_datetime: time(row.created_at),
                updated_datetime: time(row.updated_at),
                expected_datetime: row.due_at.map(time).unwrap_or_default(),
                address: shown(&row.address),
                address_id: String::new(),
                zipcode: String::new(),
                lat: row.latitude.filter(|_| listed).map(coarse),
                long: row.longitude.filter(|_| listed).map(coarse),
                media_url: extras
                    .media
                    .get(&row.id)
                    .filter(|_| listed)
                    .cloned()
                    .unwrap_or_default(),
            }
        })
        .collect();
    answer(
        format,
        StatusCode::OK,
        "service_requests",
        "request",
        &views,
    )
}

#[derive(Serialize)]
struct CreatedView {
    service_request_id: String,
    service_notice: String,
    account_id: String,
}

pub(super) fn created(format: Format, id: &str, notice: &str) -> Response {
    let view = CreatedView {
        service_request_id: id.to_owned(),
        service_notice: notice.to_owned(),
        account_id: String::new(),
    };
    answer(
        format,
        StatusCode::CREATED,
        "service_requests",
        "request",
        &[view],
    )
}

/// A person's name from the spec's first and last name: family name first and no space when
/// either is written in Chinese, "first last" otherwise.
pub(super) fn person(first: &str, last: &str) -> String {
    let chinese = |s: &str| s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
    match (first.is_empty(), last.is_empty()) {
        (true, true) => String::new(),
        (false, true) => first.to_owned(),
        (true, false) => last.to_owned(),
        _ if chinese(first) || chinese(last) => format!("{last}{first}"),
        _ => format!("{first} {last}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_are_given_to_about_a_hundred_metres() {
        assert_eq!(coarse(30.5231), 30.523);
        assert_eq!(coarse(119.61058), 119.611);
        assert_eq!(coarse(-33.86849), -33.868);
    }

    #[test]
    fn names_are_written_as_their_language_writes_them() {
        assert_eq!(person("秀英", "王"), "王秀英");
        assert_eq!(person("Jane", "Doe"), "Jane Doe");
        assert_eq!(person("", "王"), "王");
    }
}
