//! The shared runtime of every Terrace service.
//!
//! A service crate owns its domain, its SQL and its handlers; everything that every service needs in
//! the same way lives here, once, so that the services stay small and behave alike on the wire.
//!
//! # Layout
//!
//! - [`clock`]: the time every domain rule and job reads; tests move it by hand.
//! - [`config`]: typed, layered settings (defaults, an optional file, `TERRACE__SECTION__KEY`
//!   environment overrides); the only module that reads the environment.
//! - [`telemetry`]: the tracing subscriber, OTLP export, Prometheus metrics, and W3C trace context
//!   carried over gRPC metadata and NATS headers.
//! - [`db`]: the PostgreSQL pool of one service's own database, created if missing, migrated at start.
//! - [`bus`]: the event envelope, JetStream streams, the transactional outbox and its relay, and the
//!   consumer runner with inbox deduplication and a dead-letter stream.
//! - [`auth`]: EdDSA JWT verification against a JWKS, the [`auth::Principal`] with its scoped role
//!   grants, and the layer that turns away unauthenticated calls.
//! - [`error`]: the one conversion from domain errors to `tonic::Status` with google.rpc details.
//! - [`i18n`]: errors in the caller's language (Accept-Language, a zh-CN catalog of the texts).
//! - [`grpc`]: the server every service runs: health, reflection, gRPC-Web, tracing, timeouts,
//!   load shedding, message-size limits and a graceful drain.
//! - [`idempotency`]: `(caller, request_id)` claimed once; a retry gets the first answer.
//! - [`jobs`]: periodic work run once per deployment on the service clock, with a lease.
//! - [`mounts`]: plain HTTP routes a service mounts on the gRPC port by path prefix (photos),
//!   outside authentication.
//! - [`http`]: the side HTTP port: `/metrics`, liveness, and routes a service adds (JWKS).
//! - [`service`]: the [`service::Service`] trait each service crate implements, and [`service::run`],
//!   which runs one or all of them over already-bound listeners.
//! - [`otp`]: one-time codes sent by SMS: made, hashed, compared.
//! - [`people`]: a service's own projection of identity's users (`known_users`), kept by a consumer.
//! - [`officials`]: a service's own projection of identity's role grants (`known_grants`): who
//!   governs an area.
//! - [`phone`]: phone numbers, parsed and normalised to E.164 (logins, register records).
//! - [`shutdown`]: the signal that tells every task of a process to finish.
//! - [`throttle`]: per-key rate limits on the clock, each refusing in its own words.
//! - [`web_apps`]: the built web apps (console, farmer) served on the gRPC port, same origin as
//!   gRPC-Web.
//! - [`validate`]: one policy per kind of request field (ids, text, pages, times, areas, money,
//!   quantities, localized text), collecting every violation of a request at once.

pub mod auth;
pub mod backoff;
pub mod bus;
pub mod clock;
pub mod config;
pub mod db;
pub mod error;
pub mod grpc;
pub mod http;
pub mod i18n;
pub mod idempotency;
pub mod jobs;
pub mod mounts;
pub mod officials;
pub mod otp;
pub mod people;
pub mod phone;
pub mod service;
pub mod shutdown;
pub mod telemetry;
pub mod throttle;
pub mod validate;
pub mod web_apps;

pub use clock::Clock;
pub use error::{Error, Result};
