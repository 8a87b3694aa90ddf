//! Rust types, gRPC servers and clients generated from Terrace's protobuf contracts.
//!
//! The contracts live in the repository's `proto/` directory (see `proto/README.md` for the
//! conventions every RPC follows: idempotency through `request_id`, update masks, cursor paging,
//! error codes, area scopes). This crate only generates code from them; behaviour lives in the
//! services. Every `.proto` file under `proto/` is compiled by `build.rs` with tonic-prost-build
//! and a vendored protoc, so nothing needs to be installed to build it.
//!
//! # Layout
//!
//! Modules mirror protobuf packages, without the leading `terrace`:
//!
//! - [`common::v1`] — shared types: `Money`, `LocalizedText`, `GeoPoint`, `Polygon`, `Quantity`
//!   with `Unit`, `AdminCode` with `AdminLevel`, `PageRequest`/`PageResponse`, `Actor`,
//!   `AuditInfo`, `MediaRef`, `Date`, `TimeRange`.
//! - [`identity::v1`] — `IdentityService` (users, login, tokens, JWKS, role grants, agencies,
//!   consents) and identity's events.
//! - [`governance::v1`] — `GovernanceService` (divisions, register, service requests, notices,
//!   finance disclosures, polls, audit log) and its events.
//! - [`agri::v1`] — `AgriService` (plots, plantings, activity logs, harvest lots, devices,
//!   telemetry, alerts, statistics) and its events.
//! - [`market::v1`] — `MarketService` (categories, listings, search, orders, price reference)
//!   and its events.
//! - [`notify::v1`] — `NotifyService` (templates, preferences, inbox, deliveries, broadcasts,
//!   webhooks) and its events.
//!
//! Each service module has `<name>_server` (the trait to implement, the tower service wrapping
//! it, and its `SERVICE_NAME`) and `<name>_client`. Events are plain messages; each one's doc
//! names its NATS subject. Google well-known types map to [`prost_types`].
//!
//! [`FILE_DESCRIPTOR_SET`] is the encoded `FileDescriptorSet` of all of the above (with imports
//! and comments), for tonic-reflection and for tools that need the schema at run time.

// Lints on generated code: tonic-prost-build already puts `#[allow(clippy::all)]` on every
// message and enum, and prost derives `Debug`; what it does not cover are the doc comments it
// copies from the .proto files onto service traits and client methods, where Markdown written
// for protobuf readers can trip clippy's doc lints. Those are allowed on each generated module,
// and nowhere else.

/// Shared types used by every domain (`terrace.common.v1`).
pub mod common {
    /// Version 1 of the shared types.
    #[allow(clippy::doc_lazy_continuation, clippy::doc_overindented_list_items)]
    pub mod v1 {
        tonic::include_proto!("terrace.common.v1");
    }
}

/// Identity and access (`terrace.identity.v1`).
pub mod identity {
    /// Version 1 of the identity contracts.
    #[allow(clippy::doc_lazy_continuation, clippy::doc_overindented_list_items)]
    pub mod v1 {
        tonic::include_proto!("terrace.identity.v1");
    }
}

/// Village registry and open village affairs (`terrace.governance.v1`).
pub mod governance {
    /// Version 1 of the governance contracts.
    #[allow(clippy::doc_lazy_continuation, clippy::doc_overindented_list_items)]
    pub mod v1 {
        tonic::include_proto!("terrace.governance.v1");
    }
}

/// Farm records, traceability and sensing (`terrace.agri.v1`).
pub mod agri {
    /// Version 1 of the agri contracts.
    #[allow(clippy::doc_lazy_continuation, clippy::doc_overindented_list_items)]
    pub mod v1 {
        tonic::include_proto!("terrace.agri.v1");
    }
}

/// Produce market (`terrace.market.v1`).
pub mod market {
    /// Version 1 of the market contracts.
    #[allow(clippy::doc_lazy_continuation, clippy::doc_overindented_list_items)]
    pub mod v1 {
        tonic::include_proto!("terrace.market.v1");
    }
}

/// Notifications (`terrace.notify.v1`).
pub mod notify {
    /// Version 1 of the notify contracts.
    #[allow(clippy::doc_lazy_continuation, clippy::doc_overindented_list_items)]
    pub mod v1 {
        tonic::include_proto!("terrace.notify.v1");
    }
}

/// The encoded `google.protobuf.FileDescriptorSet` of every Terrace contract and its imports,
/// with source comments. Register it with tonic-reflection's
/// `Builder::register_encoded_file_descriptor_set`.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/terrace_descriptor.bin"));

/// A protobuf event message and the subject it is published on.
///
/// Implemented (by the build script) for every message of a domain's `events.proto` whose comment
/// names its subject, so the subject is written once, in the contract. The platform's outbox and
/// consumers work with it (`terrace_platform::bus::Event` is this trait).
pub trait Event: prost::Message + Default {
    /// The subject without the deployment prefix, e.g. `market.listing.created`.
    const SUBJECT: &'static str;
    /// The full protobuf name, e.g. `terrace.market.v1.ListingCreated`.
    const TYPE: &'static str;
}

/// An entity that other services project, published as its latest snapshot on its state stream.
///
/// The state subject of one entity is `<ROOT>.<id>`, e.g. `state.identity.user.<uuid>`; the state
/// stream keeps only the last message of each subject (see `terrace_platform::bus::streams`).
pub trait Snapshot: prost::Message + Default {
    /// The subject root without the deployment prefix, e.g. `state.identity.user`.
    const ROOT: &'static str;
    /// The full protobuf name, e.g. `terrace.identity.v1.User`.
    const TYPE: &'static str;
}

impl Snapshot for identity::v1::User {
    const ROOT: &'static str = "state.identity.user";
    const TYPE: &'static str = "terrace.identity.v1.User";
}

impl Snapshot for identity::v1::RoleGrant {
    const ROOT: &'static str = "state.identity.grant";
    const TYPE: &'static str = "terrace.identity.v1.RoleGrant";
}

/// A resident of a village register, without its national id (cleared before publishing).
impl Snapshot for governance::v1::Resident {
    const ROOT: &'static str = "state.governance.resident";
    const TYPE: &'static str = "terrace.governance.v1.Resident";
}

/// A division of the national list, by its normalized code (`state.governance.division.330523`).
impl Snapshot for governance::v1::Division {
    const ROOT: &'static str = "state.governance.division";
    const TYPE: &'static str = "terrace.governance.v1.Division";
}

impl Snapshot for governance::v1::Household {
    const ROOT: &'static str = "state.governance.household";
    const TYPE: &'static str = "terrace.governance.v1.Household";
}

/// A kind of service request of an area's catalogue (`state.governance.request_type.<id>`).
impl Snapshot for governance::v1::RequestType {
    const ROOT: &'static str = "state.governance.request_type";
    const TYPE: &'static str = "terrace.governance.v1.RequestType";
}

/// A produce listing, its stock included (`state.market.listing.<id>`).
impl Snapshot for market::v1::Listing {
    const ROOT: &'static str = "state.market.listing";
    const TYPE: &'static str = "terrace.market.v1.Listing";
}

include!(concat!(env!("OUT_DIR"), "/events.rs"));

#[cfg(test)]
mod tests;
