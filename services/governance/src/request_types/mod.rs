//! The catalogue of service-request types per area: `CreateRequestType`, `GetRequestType`,
//! `ListRequestTypes`, `UpdateRequestType`.
//!
//! **What a type is.** A kind of request villagers can file (the Open311 "service"): a code
//! unique in its area, names in zh-CN and more, a group, extra fields with their own validation
//! ([`fields`]), the role responsible for handling it, and an SLA in calendar hours or in working
//! days ([`crate::request_settings`] counts them). A type defined for an area is offered in every
//! village under it, so a county defines what all its villages share and a township or village
//! adds its own. Its requests are listed publicly (Open311's anonymous reading, `crate::open311`)
//! only when its owner says so (`public_listing`, false by default): a broken well is the
//! village's business, a certificate its requester's.
//!
//! **Who.** Township officials define types for their township and its villages, county admins
//! for their county; anyone signed in reads the catalogue (a villager picks from it). Changes
//! apply to requests filed afterwards: a request keeps the due time it was given.
//!
//! **Events.** `governance.request_type.created|updated`, and the latest snapshot of each type on
//! `state.governance.request_type.<id>`, written through the outbox with the change; every change
//! is appended to the audit chain of the type's area.
//!
//! Layout (the service's rhythm, `docs/architecture.md`): [`parse`] turns each request into a
//! command, this module applies it over a [`Caller`], [`store`] holds the SQL, `grpc.rs` answers.

pub mod fields;
pub mod parse;
pub mod store;

use chrono::{DateTime, Utc};
use prost::Message as _;
use sea_orm::DatabaseConnection;
use terrace_platform::Clock;
use terrace_platform::auth::{AdminScope, Caller, Role};
use terrace_platform::bus::outbox;
use terrace_platform::error::{Error, Result};
use terrace_platform::idempotency::{self, Keep};
use terrace_platform::validate::page_response;
use terrace_proto::common::v1 as common;
use terrace_proto::governance::v1 as pb;
use uuid::Uuid;

use self::parse::{
    CreateRequestType, Definition, ListRequestTypes, Sla, TypeCursor, UpdateRequestType,
};
use crate::entity::request_types::Model as TypeRow;
use crate::register::{audit_info, encoded_actor};

/// The catalogue's migration (with the areas' settings and the working calendar).
pub const MIGRATION: terrace_platform::db::SqlMigration = terrace_platform::db::SqlMigration {
    name: "m20261204_120001_governance_request_types",
    up: store::MIGRATION_SQL,
};

/// Whether a type's requests are listed publicly (Open311), a column added to the catalogue.
pub const PUBLIC_LISTING_MIGRATION: terrace_platform::db::SqlMigration =
    terrace_platform::db::SqlMigration {
        name: "m20261204_170001_governance_request_types_public",
        up: store::PUBLIC_LISTING_MIGRATION_SQL,
    };

/// The catalogue: the *apply* step of its RPCs.
#[derive(Debug, Clone)]
pub struct RequestTypes {
    db: DatabaseConnection,
    source: String,
    clock: Clock,
}

/// Whether `caller` may define types for `area`: a township official for their township and its
/// villages, a county admin for their county, and so up.
fn defines(caller: &Caller, area: &AdminScope) -> bool {
    caller.covers(area, Role::TownshipOfficial.rank(), None)
}

fn outside() -> Error {
    Error::permission_denied(
        "OUTSIDE_YOUR_AREA",
        "request types are defined by township officials for their township and county admins for their county",
    )
}

impl RequestTypes {
    pub fn new(db: DatabaseConnection, source: String, clock: Clock) -> Self {
        Self { db, source, clock }
    }

    pub async fn create(
        &self,
        caller: &Caller,
        command: CreateRequestType,
    ) -> Result<pb::CreateRequestTypeResponse> {
        if !defines(caller, &command.area) {
            return Err(outside());
        }
        let now = self.clock.now();
        idempotency::once(
            &self.db,
            caller,
            &command.mutation,
            now,
            Keep::Answer,
            async |txn| {
                if !command.area.as_str().is_empty()
                    && crate::divisions::store::find(txn, command.area.as_str())
                        .await?
                        .is_none()
                {
                    return Err(Error::not_found("division", command.area.as_str()));
                }
                let actor = encoded_actor(caller);
                let row = new_row(&command, actor, now);
                if !store::insert(txn, row.clone()).await? {
                    return Err(Error::AlreadyExists {
                        resource: "request type",
                        id: command.code.clone(),
                    });
                }
                let request_type = to_proto(&row)?;
                outbox::publish_state(txn, &self.source, &request_type, &request_type.id).await?;
                outbox::publish(
                    txn,
                    &self.source,
                    &pb::RequestTypeCreated {
                        request_type: Some(request_type.clone()),
                        actor: Some(caller.actor()),
                    },
                )
                .await?;
                crate::audit::append(
                    txn,
                    caller,
                    crate::audit::NewEntry {
                        action: "request_type.created",
                        target_type: "request_type",
                        target_id: row.id.to_string(),
                        area: &command.area,
                        details: serde_json::json!({ "code": row.code }),
                    },
                    now,
                )
                .await?;
                tracing::info!(request_type_id = %row.id, area = %row.area, code = %row.code, "request type created");
                Ok(pb::CreateRequestTypeResponse {
                    request_type: Some(request_type),
                })
            },
        )
        .await
    }

    /// Any signed-in caller reads any type (the catalogue is what villagers choose from).
    pub async fn get(&self, id: Uuid) -> Result<pb::RequestType> {
        let row = store::find(&self.db, id)
            .await?
            .ok_or_else(|| Error::not_found("request type", id.to_string()))?;
        to_proto(&row)
    }

    pub async fn list(&self, query: ListRequestTypes) -> Result<pb::ListRequestTypesResponse> {
        let rows = store::list(
            &self.db,
            &query.offered,
            query.include_inactive,
            query.page.after.as_ref(),
            query.page.fetch_limit(),
        )
        .await?;
        let (rows, next) = query.page.finish(rows, |rows| {
            rows.last().map(|row| TypeCursor {
                group: row.group_name.clone(),
                code: row.code.clone(),
                id: row.id,
            })
        });
        Ok(pb::ListRequestTypesResponse {
            request_types: rows.iter().map(to_proto).collect::<Result<_>>()?,
            page: Some(page_response(next.as_ref())),
        })
    }

    pub async fn update(
        &self,
        caller: &Caller,
        command: UpdateRequestType,
    ) -> Result<pb::UpdateRequestTypeResponse> {
        let now = self.clock.now();
        idempotency::once(
            &self.db,
            caller,
            &command.mutation,
            now,
            Keep::Answer,
            async |txn| {
                let unknown = || Error::not_found("request type", command.id.to_string());
                let mut row = store::find_for_update(txn, command.id).await?.ok_or_else(unknown)?;
                let area = area_of(&row)?;
                if !defines(caller, &area) {
                    return Err(outside());
                }
                apply(&mut row, &command.changes)?;
                row.version += 1;
                row.updated_at = now;
                row.updated_by = encoded_actor(caller);
                let row = store::update(txn, row).await?;
                let request_type = to_proto(&row)?;
                outbox::publish_state(txn, &self.source, &request_type, &request_type.id).await?;
                outbox::publish(
                    txn,
                    &self.source,
                    &pb::RequestTypeUpdated {
                        request_type: Some(request_type.clone()),
                        changed_fields: Some(prost_types::FieldMask {
                            paths: command.paths.clone(),
                        }),
                        actor: Some(caller.actor()),
                    },
                )
                .await?;
                crate::audit::append(
                    txn,
                    caller,
                    crate::audit::NewEntry {
                        action: "request_type.updated",
                        target_type: "request_type",
                        target_id: row.id.to_string(),
                        area: &area,
                        details: serde_json::json!({ "fields": command.paths, "version": row.version }),
                    },
                    now,
                )
                .await?;
                Ok(pb::UpdateRequestTypeResponse {
                    request_type: Some(request_type),
                })
            },
        )
        .await
    }
}

fn new_row(command: &CreateRequestType, actor: Vec<u8>, now: DateTime<Utc>) -> TypeRow {
    let mut row = TypeRow {
        id: Uuid::now_v7(),
        area: command.area.as_str().to_owned(),
        code: command.code.clone(),
        name: serde_json::Value::Null,
        description: serde_json::Value::Null,
        group_name: String::new(),
        fields: Vec::new(),
        responsible_role: 0,
        sla_hours: 0,
        sla_working_days: 0,
        active: true,
        public_listing: false,
        version: 1,
        created_at: now,
        created_by: actor.clone(),
        updated_at: now,
        updated_by: actor,
    };
    define(&mut row, &command.definition);
    row
}

/// Writes a whole definition into `row`.
fn define(row: &mut TypeRow, definition: &Definition) {
    row.name = translations(&definition.name);
    row.description = translations(&definition.description);
    row.group_name = definition.group.clone();
    row.fields = encoded_fields(definition.fields.clone());
    row.responsible_role = definition.responsible_role.to_proto() as i16;
    set_sla(row, definition.sla);
    row.public_listing = definition.public_listing;
}

/// Writes the changed parts into `row`.
fn apply(row: &mut TypeRow, changes: &parse::Changes) -> Result<()> {
    if let Some(name) = &changes.name {
        row.name = translations(name);
    }
    if let Some(description) = &changes.description {
        row.description = translations(description);
    }
    if let Some(group) = &changes.group {
        row.group_name = group.clone();
    }
    if let Some(fields) = &changes.fields {
        row.fields = encoded_fields(fields.clone());
    }
    if let Some(role) = changes.responsible_role {
        row.responsible_role = role.to_proto() as i16;
    }
    if let Some(sla) = changes.sla {
        set_sla(row, sla);
    }
    if let Some(active) = changes.active {
        row.active = active;
    }
    if let Some(public_listing) = changes.public_listing {
        row.public_listing = public_listing;
    }
    Ok(())
}

/// A stored type's SLA.
pub fn sla_of(row: &TypeRow) -> Sla {
    match (row.sla_hours, row.sla_working_days) {
        (0, 0) => Sla::None,
        (hours, 0) => Sla::Hours(hours),
        (_, days) => Sla::WorkingDays(days),
    }
}

fn set_sla(row: &mut TypeRow, sla: Sla) {
    (row.sla_hours, row.sla_working_days) = match sla {
        Sla::None => (0, 0),
        Sla::Hours(hours) => (hours, 0),
        Sla::WorkingDays(days) => (0, days),
    };
}

/// A type's fields are stored as a `RequestType` holding only them, so that the stored bytes
/// stay readable as the contract grows.
fn encoded_fields(fields: Vec<pb::RequestFieldDefinition>) -> Vec<u8> {
    pb::RequestType {
        fields,
        ..Default::default()
    }
    .encode_to_vec()
}

/// The fields of a stored type.
pub fn decoded_fields(bytes: &[u8]) -> Result<Vec<pb::RequestFieldDefinition>> {
    pb::RequestType::decode(bytes)
        .map(|holder| holder.fields)
        .map_err(|error| {
            Error::internal(anyhow::anyhow!("a stored request type's fields: {error}"))
        })
}

pub(crate) fn translations(text: &common::LocalizedText) -> serde_json::Value {
    serde_json::Value::Object(
        text.translations
            .iter()
            .map(|(tag, text)| (tag.clone(), serde_json::Value::String(text.clone())))
            .collect(),
    )
}

pub(crate) fn localized(value: &serde_json::Value) -> common::LocalizedText {
    common::LocalizedText {
        translations: value
            .as_object()
            .map(|object| {
                object
                    .iter()
                    .filter_map(|(tag, text)| Some((tag.clone(), text.as_str()?.to_owned())))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

fn area_of(row: &TypeRow) -> Result<AdminScope> {
    AdminScope::parse(&row.area)
        .map_err(|error| Error::internal(anyhow::anyhow!("a stored request type's area: {error}")))
}

pub fn to_proto(row: &TypeRow) -> Result<pb::RequestType> {
    Ok(pb::RequestType {
        id: row.id.to_string(),
        area: Some(area_of(row)?.to_proto()),
        code: row.code.clone(),
        name: Some(localized(&row.name)),
        description: Some(localized(&row.description)),
        group: row.group_name.clone(),
        fields: decoded_fields(&row.fields)?,
        responsible_role: i32::from(row.responsible_role),
        sla_hours: row.sla_hours,
        active: row.active,
        audit: Some(audit_info(
            row.created_at,
            &row.created_by,
            row.updated_at,
            &row.updated_by,
        )),
        sla_working_days: row.sla_working_days,
        version: row.version,
        public_listing: row.public_listing,
    })
}
