//! Agency clients: other systems — a county bureau's data platform, a cooperative's software —
//! that call Terrace with client credentials instead of as a person (OAuth 2.0 client-credentials
//! grant).
//!
//! # What a client may do
//!
//! A client holds **API scopes** (which RPC families it may call) and **areas** (where it acts, and
//! with what standing). Its access token carries both: `kind` = `agency`, `sub` = the client id,
//! `scope` = the API scopes space-separated, `roles` = the areas. A handler an agency can reach
//! checks both, `Principal::require_api_scope` for what and `Principal::require_role_in` for where
//! (see `terrace_platform::auth`).
//!
//! ## API scope format
//!
//! `<domain>.<resource>[.<sub-resource>...]:<read|write>`, at most 64 bytes, as the regular
//! expression `^(identity|governance|agri|market|notify)(\.[a-z][a-z_]*)+:(read|write)$`:
//! the domain is one of the five services, each resource segment is lower-case ASCII letters and
//! underscores starting with a letter, and the access is `read` or `write`. Examples:
//! `governance.requests:write`, `agri.statistics:read`, `market.price_reports:read`. Scopes are
//! compared as exact strings: `write` does not imply `read`, and no wildcard exists. The format
//! keeps them free of spaces, which separate them in the token's `scope` claim.
//!
//! ## Areas
//!
//! An area is a role grant — a role and an administrative-code prefix, valid as any grant is
//! (`RoleGrant::validate`) — stored in the shape of a token's `roles` claim. The role is the
//! client's standing there: a handler that serves "officials of the area" serves an agency whose
//! area grant is an official role covering the place. The contract's `AgencyClient.areas` carries
//! codes only, so an area given over gRPC gets the official standing of its level
//! ([`standing_for`]); `terrace agency create --area ROLE@PREFIX` names the role. A client has at
//! least one area (a client with none could be managed by any admin, and act nowhere).
//!
//! # Secrets
//!
//! A secret is 32 random bytes, base64url without padding (43 characters), answered once at
//! creation or rotation; only its argon2id hash (PHC string, the password parameters) is kept, with
//! its last four characters as a hint so that people can tell two secrets apart. Rotation makes a
//! new secret and keeps the old one valid for an overlap — the request's `overlap`, else
//! `agency_secret_overlap` (24 h), at most 7 days, zero meaning at once — so the agency can
//! redeploy without an outage. A second rotation within the overlap drops the oldest secret.
//!
//! # Exchange
//!
//! [`Agencies::exchange`] answers an unknown client, a wrong secret, a revoked client and an mTLS
//! client without its certificate (see below) with the same `UNAUTHENTICATED` message after the
//! same work: every exchange verifies exactly two argon2 hashes — the current secret's and the
//! previous one's while its overlap lasts — with a dummy hash standing in for each that is absent,
//! so neither the answer nor its timing tells an unknown client id from a known one. Exchanges are
//! throttled per client id and per client address (in-process, so per replica) before any hash is
//! computed. Agency tokens have no refresh token and cannot be recalled: revoking a client refuses
//! its next exchange, and tokens already issued expire within `access_token_ttl`.
//!
//! # Who manages clients
//!
//! A user acting for themself (not a helper, not an agency) holding `county_admin` or
//! `platform_admin`, for clients whose every area lies inside one of those grants
//! (`AdminScope::covers_scope`) at no higher rank than the grant; the operator at the command line
//! (`principal` = `None`) with the database's authority. A client outside the caller's areas is
//! `NOT_FOUND` to them (its existence is not revealed); anyone else is `PERMISSION_DENIED`. Every
//! change writes an audit record and publishes `identity.agency.created|updated|revoked` in the
//! transaction that makes it.
//!
//! # mTLS
//!
//! A client may be registered with `AGENCY_AUTH_METHOD_MTLS` and the SHA-256 fingerprint of its
//! certificate (lower-case hex of the DER), which is stored and can be updated. It exchanges with
//! its client id and no secret over a TLS connection on which it presented that certificate: the
//! gRPC server must terminate TLS itself with a client CA (`grpc.tls.client_ca_file`), which
//! verifies the chain during the handshake, and the exchange then compares the leaf's fingerprint
//! with the stored one in constant time. A fingerprint is never taken from a header
//! (`x-client-cert` and the like): anything between the agency and this process could write one,
//! so mTLS through a TLS-terminating proxy is not supported. A missing or different certificate is
//! refused like a wrong secret, after the same two argon2 verifications (both dummies).

use std::fmt;
use std::time::Duration;

use anyhow::anyhow;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, SubsecRound as _, Utc};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbErr, QueryResult, Statement, TransactionTrait as _,
};
use secrecy::SecretString;
use serde::Deserialize;
use terrace_platform::Clock;
use terrace_platform::auth::{AdminLevel, AdminScope, Principal, PrincipalKind, Role, RoleGrant};
use terrace_platform::bus::outbox;
use terrace_platform::config::{Settings, humantime_secs};
use terrace_platform::db::SqlMigration;
use terrace_platform::error::{Error, Result, Violations};
use terrace_platform::service::Service;
use terrace_platform::throttle::{Rate, Throttle};
use terrace_proto::common::v1 as common;
use terrace_proto::identity::v1 as pb;
use uuid::Uuid;

use crate::domain::password;
use crate::tokens::TokenService;
use crate::users::timestamp;

/// The agency clients table.
pub const MIGRATION: SqlMigration = SqlMigration {
    name: "m20261128_200005_identity_agencies",
    up: r"
CREATE TABLE agency_clients (
    -- UUIDv7; the client_id of the credentials exchange.
    id                         uuid        PRIMARY KEY,
    name                       text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    description                text        NOT NULL DEFAULT '',
    -- active, or revoked for good.
    status                     text        NOT NULL CHECK (status IN ('active', 'revoked')),
    -- secret: client id + secret; mtls: a client certificate (not accepted yet: no TLS).
    auth_method                text        NOT NULL CHECK (auth_method IN ('secret', 'mtls')),
    -- mtls clients: lower-case hex SHA-256 of the client certificate.
    certificate_sha256         text        CHECK (certificate_sha256 ~ '^[0-9a-f]{64}$'),
    -- The RPC families the client may call, e.g. {governance.requests:write}.
    api_scopes                 text[]      NOT NULL CHECK (cardinality(api_scopes) > 0),
    -- Where it acts and its standing there, shaped as a token's roles claim (a JSON array of
    -- objects with a role and a scope, e.g. county_admin in 110101).
    areas                      jsonb       NOT NULL
        CHECK (jsonb_typeof(areas) = 'array' AND jsonb_array_length(areas) > 0),
    -- argon2id PHC string of the current secret; the secret itself is never stored.
    secret_hash                text,
    -- The secret's last four characters, so that people can tell two secrets apart.
    secret_hint                text,
    secret_rotated_at          timestamptz,
    -- The secret before the last rotation, accepted until previous_secret_expires_at.
    previous_secret_hash       text,
    previous_secret_expires_at timestamptz,
    -- The user who created or last changed it; NULL for the operator at the command line.
    created_by                 uuid,
    created_at                 timestamptz NOT NULL,
    updated_by                 uuid,
    updated_at                 timestamptz NOT NULL,
    -- The last successful exchange, so that operators can find clients nobody uses.
    last_exchange_at           timestamptz,
    revoked_at                 timestamptz,
    revoked_by                 uuid,
    revoke_reason              text,
    CHECK ((auth_method = 'secret') = (secret_hash IS NOT NULL)),
    CHECK ((auth_method = 'secret') = (secret_hint IS NOT NULL)),
    CHECK ((auth_method = 'mtls') = (certificate_sha256 IS NOT NULL)),
    CHECK ((previous_secret_hash IS NULL) = (previous_secret_expires_at IS NULL)),
    CHECK ((status = 'revoked') = (revoked_at IS NOT NULL))
);
-- Lists go by name (keyset: name, id).
CREATE INDEX agency_clients_name ON agency_clients (name, id);
",
};

/// The longest overlap a rotated-out secret may be given (the contract's bound).
pub const MAX_OVERLAP: Duration = Duration::from_secs(7 * 24 * 3600);
/// The domains an API scope may name: the services.
pub const API_DOMAINS: [&str; 5] = ["identity", "governance", "agri", "market", "notify"];
/// Longest API scope, in bytes (they are ASCII).
pub const MAX_SCOPE_LENGTH: usize = 64;
/// Most API scopes, and most areas, one client may hold: a token stays small.
pub const MAX_SCOPES: usize = 32;
pub const MAX_AREAS: usize = 32;
pub const MAX_NAME_CHARS: usize = 100;
pub const MAX_DESCRIPTION_CHARS: usize = 1000;
pub const MAX_REASON_CHARS: usize = 500;
/// Bytes of randomness in a secret.
const SECRET_BYTES: usize = 32;
/// Exchanges per minute from one client address (per replica), whatever the client ids.
const EXCHANGES_PER_ADDRESS_PER_MINUTE: u32 = 60;
/// The one answer to every refused exchange (unknown client, wrong secret or certificate, revoked).
pub const REFUSED: &str = "unknown client or wrong credentials";
/// The events' actor, and the audit record's, when the operator acts at the command line.
const COMMAND_LINE: &str = "terrace command line";

const SCOPE_FORMAT: &str = "must be <domain>.<resource>:<read|write> with domain one of identity, \
                            governance, agri, market, notify and lower-case resources, \
                            e.g. governance.requests:write";

/// The agency part of `[services.identity]` (`TERRACE__SERVICES__IDENTITY__<KEY>`). Read from
/// the same section as [`crate::config::IdentitySettings`]; each ignores the other's keys.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct AgencySettings {
    /// How long a rotated-out secret keeps working when the rotation does not say, so that the
    /// agency can roll the new one out without an outage. At most [`MAX_OVERLAP`].
    #[serde(with = "humantime_secs")]
    pub agency_secret_overlap: Duration,
    /// Credential exchanges per minute for one client id (per replica). A client needs one per
    /// token lifetime; the limit bounds what guessing a secret, and the argon2 work, may cost.
    pub agency_exchanges_per_minute: u32,
}

impl Default for AgencySettings {
    fn default() -> Self {
        Self {
            agency_secret_overlap: Duration::from_secs(24 * 3600),
            agency_exchanges_per_minute: 30,
        }
    }
}

impl AgencySettings {
    /// Reads and checks the settings; the service refuses to start on bad ones.
    pub fn load(settings: &Settings) -> anyhow::Result<Self> {
        let loaded: Self = settings.service(<crate::Identity as Service>::NAME)?;
        if loaded.agency_secret_overlap > MAX_OVERLAP {
            anyhow::bail!("services.identity.agency_secret_overlap must be at most 7 days");
        }
        if loaded.agency_exchanges_per_minute == 0 {
            anyhow::bail!("services.identity.agency_exchanges_per_minute must be at least 1");
        }
        Ok(loaded)
    }
}

/// How a client proves who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    Secret,
    Mtls,
}

impl AuthMethod {
    fn as_str(self) -> &'static str {
        match self {
            Self::Secret => "secret",
            Self::Mtls => "mtls",
        }
    }

    /// The contract's method; `None` when unset.
    pub fn from_proto(method: i32) -> Option<Self> {
        match pb::AgencyAuthMethod::try_from(method).ok()? {
            pb::AgencyAuthMethod::Secret => Some(Self::Secret),
            pb::AgencyAuthMethod::Mtls => Some(Self::Mtls),
            pb::AgencyAuthMethod::Unspecified => None,
        }
    }

    fn to_proto(self) -> pb::AgencyAuthMethod {
        match self {
            Self::Secret => pb::AgencyAuthMethod::Secret,
            Self::Mtls => pb::AgencyAuthMethod::Mtls,
        }
    }
}

/// The standing an area given as a bare code (over gRPC) confers: the official role of the area's
/// level, so that the agency is served where an official of the area would be — within its API
/// scopes. Above a county there is no official role but the platform admin's, held for that
/// province or city only.
pub fn standing_for(scope: &AdminScope) -> Role {
    match scope.level() {
        AdminLevel::Village => Role::VillageOfficial,
        AdminLevel::Township => Role::TownshipOfficial,
        AdminLevel::County => Role::CountyAdmin,
        AdminLevel::City | AdminLevel::Province | AdminLevel::Country => Role::PlatformAdmin,
    }
}

/// Whether `scope` is a well-formed API scope (see the module documentation); why not otherwise.
pub fn check_api_scope(scope: &str) -> std::result::Result<(), &'static str> {
    if scope.len() > MAX_SCOPE_LENGTH {
        return Err("at most 64 characters");
    }
    let Some((path, access)) = scope.rsplit_once(':') else {
        return Err(SCOPE_FORMAT);
    };
    if access != "read" && access != "write" {
        return Err(SCOPE_FORMAT);
    }
    let mut segments = path.split('.');
    if !segments
        .next()
        .is_some_and(|domain| API_DOMAINS.contains(&domain))
    {
        return Err(SCOPE_FORMAT);
    }
    let mut resources = 0;
    for segment in segments {
        let mut chars = segment.chars();
        let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_lowercase());
        if !starts_with_letter || !chars.all(|c| c.is_ascii_lowercase() || c == '_') {
            return Err(SCOPE_FORMAT);
        }
        resources += 1;
    }
    if resources == 0 {
        return Err(SCOPE_FORMAT);
    }
    Ok(())
}

/// Checks a client's name: 1 to 100 characters, no control characters.
pub fn check_name(violations: &mut Violations, field: &str, name: &str) {
    if name.trim().is_empty() {
        violations.add(field, "required");
    } else if name.chars().count() > MAX_NAME_CHARS {
        violations.add(field, format!("at most {MAX_NAME_CHARS} characters"));
    } else if name.chars().any(char::is_control) {
        violations.add(field, "must not contain control characters");
    }
}

/// Checks a description: at most 1000 characters; line breaks are fine, other controls are not.
pub fn check_description(violations: &mut Violations, field: &str, description: &str) {
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        violations.add(field, format!("at most {MAX_DESCRIPTION_CHARS} characters"));
    } else if description
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        violations.add(field, "must not contain control characters");
    }
}

/// Checks a client's API scopes: at least one, at most [`MAX_SCOPES`], each well formed, no
/// repeats. Bad ones are named `field[i]`.
pub fn check_scopes(violations: &mut Violations, field: &str, scopes: &[String]) {
    if scopes.is_empty() {
        violations.add(field, "required: at least one API scope");
        return;
    }
    if scopes.len() > MAX_SCOPES {
        violations.add(field, format!("at most {MAX_SCOPES} scopes"));
    }
    for (i, scope) in scopes.iter().enumerate() {
        if let Err(problem) = check_api_scope(scope) {
            violations.add(format!("{field}[{i}]"), problem);
        } else if scopes[..i].contains(scope) {
            violations.add(format!("{field}[{i}]"), "duplicate scope");
        }
    }
}

/// Checks a client's areas: at least one, at most [`MAX_AREAS`], each a valid grant, no repeats.
pub fn check_areas(violations: &mut Violations, field: &str, areas: &[RoleGrant]) {
    if areas.is_empty() {
        violations.add(field, "required: at least one area");
        return;
    }
    if areas.len() > MAX_AREAS {
        violations.add(field, format!("at most {MAX_AREAS} areas"));
    }
    for (i, area) in areas.iter().enumerate() {
        if let Err(error) = area.validate() {
            violations.add(format!("{field}[{i}]"), error.to_string());
        } else if areas[..i].contains(area) {
            violations.add(format!("{field}[{i}]"), "duplicate area");
        }
    }
}

/// Checks a certificate fingerprint: 64 lower-case hex digits.
pub fn check_fingerprint(violations: &mut Violations, field: &str, fingerprint: &str) {
    if fingerprint.len() != 64
        || !fingerprint
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        violations.add(
            field,
            "must be the certificate's SHA-256 fingerprint as 64 lower-case hex digits",
        );
    }
}

/// A client to create.
#[derive(Debug, Clone)]
pub struct NewClient {
    pub name: String,
    pub description: String,
    pub auth_method: AuthMethod,
    /// For mTLS clients; none for secret clients.
    pub certificate_sha256: Option<String>,
    pub api_scopes: Vec<String>,
    pub areas: Vec<RoleGrant>,
}

impl NewClient {
    /// Adds a violation for every bad field, named `<prefix><field>`.
    pub fn check(&self, violations: &mut Violations, prefix: &str) {
        check_name(violations, &format!("{prefix}name"), &self.name);
        check_description(
            violations,
            &format!("{prefix}description"),
            &self.description,
        );
        let field = format!("{prefix}certificate_sha256");
        match (self.auth_method, self.certificate_sha256.as_deref()) {
            (AuthMethod::Mtls, Some(fingerprint)) => {
                check_fingerprint(violations, &field, fingerprint);
            }
            (AuthMethod::Mtls, None) => violations.add(field, "required for mTLS clients"),
            (AuthMethod::Secret, Some(_)) => {
                violations.add(field, "only mTLS clients have a certificate");
            }
            (AuthMethod::Secret, None) => {}
        }
        check_scopes(violations, &format!("{prefix}scopes"), &self.api_scopes);
        check_areas(violations, &format!("{prefix}areas"), &self.areas);
    }
}

/// Changes to a client; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct Changes {
    pub name: Option<String>,
    pub description: Option<String>,
    pub api_scopes: Option<Vec<String>>,
    pub areas: Option<Vec<RoleGrant>>,
    pub certificate_sha256: Option<String>,
}

impl Changes {
    /// Adds a violation for every bad field, named `<prefix><field>`.
    pub fn check(&self, violations: &mut Violations, prefix: &str) {
        if self.paths().is_empty() {
            violations.add("update_mask", "required: name the fields to change");
        }
        if let Some(name) = &self.name {
            check_name(violations, &format!("{prefix}name"), name);
        }
        if let Some(description) = &self.description {
            check_description(violations, &format!("{prefix}description"), description);
        }
        if let Some(scopes) = &self.api_scopes {
            check_scopes(violations, &format!("{prefix}scopes"), scopes);
        }
        if let Some(areas) = &self.areas {
            check_areas(violations, &format!("{prefix}areas"), areas);
        }
        if let Some(fingerprint) = &self.certificate_sha256 {
            check_fingerprint(
                violations,
                &format!("{prefix}certificate_sha256"),
                fingerprint,
            );
        }
    }

    /// The contract's names of the fields changed.
    pub fn paths(&self) -> Vec<String> {
        [
            ("name", self.name.is_some()),
            ("description", self.description.is_some()),
            ("scopes", self.api_scopes.is_some()),
            ("areas", self.areas.is_some()),
            ("certificate_sha256", self.certificate_sha256.is_some()),
        ]
        .into_iter()
        .filter(|(_, changed)| *changed)
        .map(|(path, _)| path.to_owned())
        .collect()
    }
}

/// A client as stored (without its secret hashes, which only the exchange reads).
#[derive(Debug, Clone)]
pub struct ClientRow {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub revoked: bool,
    pub auth_method: AuthMethod,
    pub certificate_sha256: Option<String>,
    pub api_scopes: Vec<String>,
    pub areas: Vec<RoleGrant>,
    pub secret_hint: Option<String>,
    pub secret_rotated_at: Option<DateTime<Utc>>,
    /// Until when the secret before the last rotation still works.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_by: Option<Uuid>,
    pub updated_at: DateTime<Utc>,
    pub last_exchange_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_by: Option<Uuid>,
    pub revoke_reason: Option<String>,
}

const COLUMNS: &str = "id, name, description, status, auth_method, certificate_sha256, api_scopes, \
                       areas, secret_hint, secret_rotated_at, previous_secret_expires_at, \
                       created_by, created_at, updated_by, updated_at, last_exchange_at, \
                       revoked_at, revoked_by, revoke_reason";

fn read_areas(row: &QueryResult) -> Result<Vec<RoleGrant>, DbErr> {
    let json: serde_json::Value = row.try_get("", "areas")?;
    let areas: Vec<RoleGrant> = serde_json::from_value(json)
        .map_err(|error| DbErr::Custom(format!("stored agency areas are not grants: {error}")))?;
    if let Some(bad) = areas.iter().find(|area| area.validate().is_err()) {
        return Err(DbErr::Custom(format!(
            "stored agency area {}@{:?} is not valid",
            bad.role,
            bad.scope.as_str()
        )));
    }
    Ok(areas)
}

fn areas_json(areas: &[RoleGrant]) -> Result<serde_json::Value> {
    serde_json::to_value(areas).map_err(Error::internal)
}

impl ClientRow {
    fn from_row(row: &QueryResult) -> Result<Self, DbErr> {
        let status: String = row.try_get("", "status")?;
        let method: String = row.try_get("", "auth_method")?;
        Ok(Self {
            id: row.try_get("", "id")?,
            name: row.try_get("", "name")?,
            description: row.try_get("", "description")?,
            revoked: status == "revoked",
            auth_method: if method == "mtls" {
                AuthMethod::Mtls
            } else {
                AuthMethod::Secret
            },
            certificate_sha256: row.try_get("", "certificate_sha256")?,
            api_scopes: row.try_get("", "api_scopes")?,
            areas: read_areas(row)?,
            secret_hint: row.try_get("", "secret_hint")?,
            secret_rotated_at: row.try_get("", "secret_rotated_at")?,
            previous_secret_expires_at: row.try_get("", "previous_secret_expires_at")?,
            created_by: row.try_get("", "created_by")?,
            created_at: row.try_get("", "created_at")?,
            updated_by: row.try_get("", "updated_by")?,
            updated_at: row.try_get("", "updated_at")?,
            last_exchange_at: row.try_get("", "last_exchange_at")?,
            revoked_at: row.try_get("", "revoked_at")?,
            revoked_by: row.try_get("", "revoked_by")?,
            revoke_reason: row.try_get("", "revoke_reason")?,
        })
    }

    /// The client as the contract describes it (never a secret; the hint only).
    pub fn to_proto(&self) -> pb::AgencyClient {
        pb::AgencyClient {
            id: self.id.to_string(),
            name: self.name.clone(),
            description: self.description.clone(),
            auth_method: self.auth_method.to_proto() as i32,
            certificate_sha256: self.certificate_sha256.clone().unwrap_or_default(),
            scopes: self.api_scopes.clone(),
            areas: self
                .areas
                .iter()
                .map(|area| area.scope.to_proto())
                .collect(),
            status: if self.revoked {
                pb::AgencyClientStatus::Revoked
            } else {
                pb::AgencyClientStatus::Active
            } as i32,
            secret_hint: self.secret_hint.clone().unwrap_or_default(),
            secret_rotate_time: self.secret_rotated_at.map(timestamp),
            audit: Some(common::AuditInfo {
                create_time: Some(timestamp(self.created_at)),
                creator: Some(actor_from_id(self.created_by)),
                update_time: Some(timestamp(self.updated_at)),
                updater: Some(actor_from_id(self.updated_by)),
            }),
        }
    }
}

/// A client just created, with its secret (secret clients), shown this once.
#[derive(Debug)]
pub struct Created {
    pub client: ClientRow,
    pub secret: Option<SecretString>,
}

/// A rotation: the new secret, shown this once, and when the previous one stops working.
#[derive(Debug)]
pub struct RotatedSecret {
    pub client: ClientRow,
    pub secret: SecretString,
    /// `None` when the previous secret stopped at once (a zero overlap).
    pub previous_expires_at: Option<DateTime<Utc>>,
}

/// Filters of [`list`].
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Only clients with an area inside this one.
    pub area: Option<AdminScope>,
    pub include_revoked: bool,
}

/// The roles whose holders manage agency clients.
const MANAGERS: [Role; 2] = [Role::CountyAdmin, Role::PlatformAdmin];

/// Refuses callers who may manage no client at all: agencies, helpers acting for someone, and
/// users without a county or platform admin grant.
fn require_manager(principal: &Principal) -> Result<()> {
    if principal.kind != PrincipalKind::User || principal.actor.is_some() {
        return Err(Error::permission_denied(
            "MISSING_ROLE",
            "agency clients are managed by county or platform admins acting for themselves",
        ));
    }
    if !principal
        .grants
        .iter()
        .any(|grant| MANAGERS.contains(&grant.role))
    {
        return Err(Error::permission_denied(
            "MISSING_ROLE",
            "managing agency clients requires role county_admin or platform_admin",
        ));
    }
    Ok(())
}

/// Whether `principal` (already a manager) manages a client with these areas: each lies inside
/// one of its admin grants, of at least the area's rank. A client without areas is nobody's.
fn manages(principal: &Principal, areas: &[RoleGrant]) -> bool {
    !areas.is_empty()
        && areas.iter().all(|area| {
            principal.grants.iter().any(|own| {
                MANAGERS.contains(&own.role)
                    && own.role.rank() >= area.role.rank()
                    && own.scope.covers_scope(&area.scope)
            })
        })
}

fn out_of_scope() -> Error {
    Error::permission_denied(
        "OUT_OF_SCOPE",
        "an area of this client lies outside the areas you administer",
    )
}

fn not_found(id: Uuid) -> Error {
    Error::not_found("agency client", id.to_string())
}

/// The user id recorded as creator or updater; `None` for the operator.
fn user_id_of(principal: Option<&Principal>) -> Option<Uuid> {
    principal.and_then(|p| Uuid::parse_str(&p.subject).ok())
}

fn actor_from_id(id: Option<Uuid>) -> common::Actor {
    match id {
        Some(id) => common::Actor {
            kind: common::ActorKind::User as i32,
            user_id: id.to_string(),
            ..Default::default()
        },
        None => common::Actor {
            kind: common::ActorKind::System as i32,
            system_component: COMMAND_LINE.to_owned(),
            ..Default::default()
        },
    }
}

/// A fresh secret, its argon2id hash and its hint. Hashing takes tens of milliseconds of CPU, so
/// it runs off the async workers.
async fn new_secret() -> Result<(SecretString, String, String)> {
    let bytes: [u8; SECRET_BYTES] = rand::random();
    let secret = URL_SAFE_NO_PAD.encode(bytes);
    let hint: String = secret[secret.len() - 4..].to_owned();
    let to_hash = secret.clone();
    let hash = tokio::task::spawn_blocking(move || password::hash(&to_hash))
        .await
        .map_err(Error::internal)?
        .map_err(Error::internal)?;
    Ok((SecretString::from(secret), hash, hint))
}

async fn select<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    for_update: bool,
) -> Result<Option<ClientRow>> {
    let lock = if for_update { " FOR UPDATE" } else { "" };
    let row = conn
        .query_one_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            format!("SELECT {COLUMNS} FROM agency_clients WHERE id = $1{lock}"),
            [id.into()],
        ))
        .await?;
    Ok(row.map(|row| ClientRow::from_row(&row)).transpose()?)
}

/// The client `id` locked for a change by `principal`: `NOT_FOUND` when it does not exist or lies
/// outside the caller's areas, `FAILED_PRECONDITION` (`revoked_reason`) once revoked.
async fn load_for_change<C: ConnectionTrait>(
    conn: &C,
    principal: Option<&Principal>,
    id: Uuid,
    revoked_reason: &'static str,
) -> Result<ClientRow> {
    let row = select(conn, id, true).await?.ok_or_else(|| not_found(id))?;
    if let Some(principal) = principal
        && !manages(principal, &row.areas)
    {
        return Err(not_found(id));
    }
    if row.revoked {
        return Err(Error::failed_precondition(
            revoked_reason,
            "this agency client is revoked",
        ));
    }
    Ok(row)
}

/// Creates a client on behalf of `principal` (`None`: the operator at the command line). `source`
/// is the events' `ce-source`.
pub async fn create(
    db: &DatabaseConnection,
    source: &str,
    principal: Option<&Principal>,
    new: NewClient,
    now: DateTime<Utc>,
) -> Result<Created> {
    // Checked here too, so that the command line gets exactly the rules the RPC has.
    let mut violations = Violations::new();
    new.check(&mut violations, "");
    violations.finish()?;
    if let Some(principal) = principal {
        require_manager(principal)?;
        if !manages(principal, &new.areas) {
            return Err(out_of_scope());
        }
    }
    let (secret, hash, hint) = match new.auth_method {
        AuthMethod::Secret => {
            let (secret, hash, hint) = new_secret().await?;
            (Some(secret), Some(hash), Some(hint))
        }
        AuthMethod::Mtls => (None, None, None),
    };
    let now = now.trunc_subsecs(6);
    let rotated_at = secret.as_ref().map(|_| now);
    let by = user_id_of(principal);
    let txn = db.begin().await?;
    let row = txn
        .query_one_raw(Statement::from_sql_and_values(
            txn.get_database_backend(),
            format!(
                "INSERT INTO agency_clients (id, name, description, status, auth_method, \
                 certificate_sha256, api_scopes, areas, secret_hash, secret_hint, secret_rotated_at, \
                 created_by, created_at, updated_by, updated_at) \
                 VALUES ($1, $2, $3, 'active', $4, $5, $6, $7, $8, $9, $10, $11, $12, $11, $12) \
                 RETURNING {COLUMNS}"
            ),
            [
                Uuid::now_v7().into(),
                new.name.trim().into(),
                new.description.clone().into(),
                new.auth_method.as_str().into(),
                new.certificate_sha256.clone().into(),
                new.api_scopes.clone().into(),
                areas_json(&new.areas)?.into(),
                hash.into(),
                hint.into(),
                rotated_at.into(),
                by.into(),
                now.into(),
            ],
        ))
        .await?
        .ok_or_else(|| Error::internal(anyhow!("an insert returned no row")))?;
    let client = ClientRow::from_row(&row)?;
    crate::audit::record(
        &txn,
        &crate::audit::caller_of(principal),
        "agency.created",
        None,
        serde_json::json!({
            "client_id": client.id,
            "name": client.name,
            "auth_method": client.auth_method.as_str(),
            "scopes": client.api_scopes,
            "areas": client.areas,
        }),
        now,
    )
    .await?;
    let event = pb::AgencyClientCreated {
        client: Some(client.to_proto()),
        actor: Some(crate::audit::caller_of(principal).actor()),
    };
    outbox::publish(&txn, source, &event).await?;
    txn.commit().await?;
    tracing::info!(client_id = %client.id, name = %client.name, "agency client created");
    Ok(Created { client, secret })
}

/// The client `id`, if `principal` manages it (else `NOT_FOUND`).
pub async fn get<C: ConnectionTrait>(
    conn: &C,
    principal: Option<&Principal>,
    id: Uuid,
) -> Result<ClientRow> {
    if let Some(principal) = principal {
        require_manager(principal)?;
    }
    let row = select(conn, id, false)
        .await?
        .ok_or_else(|| not_found(id))?;
    if let Some(principal) = principal
        && !manages(principal, &row.areas)
    {
        return Err(not_found(id));
    }
    Ok(row)
}

/// Most batches [`list`] reads looking for clients the caller manages before it answers a short
/// page (with a token to go on): a bound on the work of one call.
const LIST_BATCHES: usize = 10;

/// The clients `principal` manages, by name, `page_size` at most, after the client `after` (the
/// previous page's token). Returns the page and the next token (`None` at the end).
pub async fn list<C: ConnectionTrait>(
    conn: &C,
    principal: Option<&Principal>,
    filter: &ListFilter,
    page_size: u64,
    after: Option<Uuid>,
) -> Result<(Vec<ClientRow>, Option<Uuid>)> {
    if let Some(principal) = principal {
        require_manager(principal)?;
    }
    let limit = i64::try_from(page_size.max(1)).unwrap_or(i64::MAX);
    let area = filter.area.as_ref().map(|area| area.as_str().to_owned());
    let mut cursor = after;
    let mut page = Vec::new();
    for _ in 0..LIST_BATCHES {
        let rows = conn
            .query_all_raw(Statement::from_sql_and_values(
                conn.get_database_backend(),
                format!(
                    "SELECT {COLUMNS} FROM agency_clients c \
                     WHERE ($1::uuid IS NULL \
                            OR (c.name, c.id) > (SELECT name, id FROM agency_clients WHERE id = $1)) \
                       AND ($2 OR c.status = 'active') \
                       AND ($3::text IS NULL OR EXISTS ( \
                            SELECT 1 FROM jsonb_array_elements(c.areas) a \
                            WHERE starts_with(a->>'scope', $3))) \
                     ORDER BY c.name, c.id LIMIT $4"
                ),
                [
                    cursor.into(),
                    filter.include_revoked.into(),
                    area.clone().into(),
                    limit.into(),
                ],
            ))
            .await?;
        let exhausted = (rows.len() as u64) < page_size.max(1);
        for row in &rows {
            let client = ClientRow::from_row(row)?;
            cursor = Some(client.id);
            if principal.is_none_or(|principal| manages(principal, &client.areas)) {
                page.push(client);
                if page.len() as u64 == page_size {
                    // Full: the next page starts after this client, whether or not more follow.
                    return Ok((page, cursor));
                }
            }
        }
        if exhausted {
            return Ok((page, None));
        }
    }
    Ok((page, cursor))
}

/// Changes a client's name, description, scopes, areas or certificate fingerprint. The caller
/// must manage the client both before and after the change.
pub async fn update(
    db: &DatabaseConnection,
    source: &str,
    principal: Option<&Principal>,
    id: Uuid,
    changes: Changes,
    now: DateTime<Utc>,
) -> Result<ClientRow> {
    let mut violations = Violations::new();
    changes.check(&mut violations, "");
    violations.finish()?;
    if let Some(principal) = principal {
        require_manager(principal)?;
        if let Some(areas) = &changes.areas
            && !manages(principal, areas)
        {
            return Err(out_of_scope());
        }
    }
    let txn = db.begin().await?;
    let current = load_for_change(&txn, principal, id, "CLIENT_REVOKED").await?;
    if changes.certificate_sha256.is_some() && current.auth_method != AuthMethod::Mtls {
        return Err(Error::invalid(
            "certificate_sha256",
            "only mTLS clients have a certificate",
        ));
    }
    let areas = changes.areas.as_deref().map(areas_json).transpose()?;
    let row = txn
        .query_one_raw(Statement::from_sql_and_values(
            txn.get_database_backend(),
            format!(
                "UPDATE agency_clients SET name = COALESCE($2, name), \
                 description = COALESCE($3, description), api_scopes = COALESCE($4, api_scopes), \
                 areas = COALESCE($5, areas), certificate_sha256 = COALESCE($6, certificate_sha256), \
                 updated_by = $7, updated_at = $8 WHERE id = $1 RETURNING {COLUMNS}"
            ),
            [
                id.into(),
                changes.name.as_deref().map(str::trim).into(),
                changes.description.clone().into(),
                changes.api_scopes.clone().into(),
                areas.into(),
                changes.certificate_sha256.clone().into(),
                user_id_of(principal).into(),
                now.trunc_subsecs(6).into(),
            ],
        ))
        .await?
        .ok_or_else(|| not_found(id))?;
    let client = ClientRow::from_row(&row)?;
    let paths = changes.paths();
    crate::audit::record(
        &txn,
        &crate::audit::caller_of(principal),
        "agency.updated",
        None,
        serde_json::json!({
            "client_id": client.id,
            "changed": paths,
            "scopes": client.api_scopes,
            "areas": client.areas,
        }),
        now,
    )
    .await?;
    let event = pb::AgencyClientUpdated {
        client: Some(client.to_proto()),
        changed_fields: Some(prost_types::FieldMask { paths }),
        actor: Some(crate::audit::caller_of(principal).actor()),
    };
    outbox::publish(&txn, source, &event).await?;
    txn.commit().await?;
    tracing::info!(client_id = %client.id, "agency client updated");
    Ok(client)
}

/// Gives a secret client a new secret; the old one keeps working for `overlap` (zero: stops now).
pub async fn rotate_secret(
    db: &DatabaseConnection,
    source: &str,
    principal: Option<&Principal>,
    id: Uuid,
    overlap: Duration,
    now: DateTime<Utc>,
) -> Result<RotatedSecret> {
    if overlap > MAX_OVERLAP {
        return Err(Error::invalid("overlap", "at most 7 days"));
    }
    if let Some(principal) = principal {
        require_manager(principal)?;
    }
    let (secret, hash, hint) = new_secret().await?;
    let now = now.trunc_subsecs(6);
    let previous_expires_at = if overlap.is_zero() {
        None
    } else {
        Some(now + chrono::Duration::from_std(overlap).map_err(Error::internal)?)
    };
    let txn = db.begin().await?;
    let current = load_for_change(&txn, principal, id, "CLIENT_REVOKED").await?;
    if current.auth_method != AuthMethod::Secret {
        return Err(Error::failed_precondition(
            "MTLS_CLIENT",
            "an mTLS client has no secret to rotate",
        ));
    }
    let row = txn
        .query_one_raw(Statement::from_sql_and_values(
            txn.get_database_backend(),
            format!(
                "UPDATE agency_clients SET \
                 previous_secret_hash = CASE WHEN $4::timestamptz IS NULL THEN NULL ELSE secret_hash END, \
                 previous_secret_expires_at = $4, secret_hash = $2, secret_hint = $3, \
                 secret_rotated_at = $5, updated_by = $6, updated_at = $5 \
                 WHERE id = $1 RETURNING {COLUMNS}"
            ),
            [
                id.into(),
                hash.into(),
                hint.into(),
                previous_expires_at.into(),
                now.into(),
                user_id_of(principal).into(),
            ],
        ))
        .await?
        .ok_or_else(|| not_found(id))?;
    let client = ClientRow::from_row(&row)?;
    crate::audit::record(
        &txn,
        &crate::audit::caller_of(principal),
        "agency.secret_rotated",
        None,
        serde_json::json!({
            "client_id": client.id,
            "secret_hint": client.secret_hint,
            "previous_secret_expires_at": previous_expires_at,
        }),
        now,
    )
    .await?;
    let event = pb::AgencyClientUpdated {
        client: Some(client.to_proto()),
        changed_fields: Some(prost_types::FieldMask {
            paths: vec!["secret_hint".to_owned()],
        }),
        actor: Some(crate::audit::caller_of(principal).actor()),
    };
    outbox::publish(&txn, source, &event).await?;
    txn.commit().await?;
    tracing::info!(client_id = %client.id, ?previous_expires_at, "agency client secret rotated");
    Ok(RotatedSecret {
        client,
        secret,
        previous_expires_at,
    })
}

/// Revokes a client for good: its credentials are refused from now on (issued tokens expire).
pub async fn revoke(
    db: &DatabaseConnection,
    source: &str,
    principal: Option<&Principal>,
    id: Uuid,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<ClientRow> {
    let mut violations = Violations::new();
    if reason.trim().is_empty() {
        violations.add("reason", "required");
    } else if reason.chars().count() > MAX_REASON_CHARS {
        violations.add("reason", format!("at most {MAX_REASON_CHARS} characters"));
    }
    violations.finish()?;
    if let Some(principal) = principal {
        require_manager(principal)?;
    }
    let txn = db.begin().await?;
    load_for_change(&txn, principal, id, "ALREADY_REVOKED").await?;
    let now = now.trunc_subsecs(6);
    let by = user_id_of(principal);
    let row = txn
        .query_one_raw(Statement::from_sql_and_values(
            txn.get_database_backend(),
            format!(
                "UPDATE agency_clients SET status = 'revoked', revoked_at = $2, revoked_by = $3, \
                 revoke_reason = $4, previous_secret_hash = NULL, previous_secret_expires_at = NULL, \
                 updated_by = $3, updated_at = $2 WHERE id = $1 RETURNING {COLUMNS}"
            ),
            [id.into(), now.into(), by.into(), reason.into()],
        ))
        .await?
        .ok_or_else(|| not_found(id))?;
    let client = ClientRow::from_row(&row)?;
    crate::audit::record(
        &txn,
        &crate::audit::caller_of(principal),
        "agency.revoked",
        None,
        serde_json::json!({ "client_id": client.id, "reason": reason }),
        now,
    )
    .await?;
    let event = pb::AgencyClientRevoked {
        client: Some(client.to_proto()),
        actor: Some(crate::audit::caller_of(principal).actor()),
        reason: reason.to_owned(),
    };
    outbox::publish(&txn, source, &event).await?;
    txn.commit().await?;
    tracing::info!(client_id = %client.id, "agency client revoked");
    Ok(client)
}

/// What a client presents to [`Agencies::exchange`].
pub struct Credentials<'a> {
    pub client_id: Uuid,
    /// Empty for mTLS clients.
    pub secret: &'a str,
    /// DER of the leaf certificate the caller proved in the TLS handshake of this connection, if
    /// any (only the connection's own TLS, never a header).
    pub peer_certificate: Option<&'a [u8]>,
    /// Scopes wanted; empty: all the client's.
    pub scopes: &'a [String],
    /// Areas wanted; empty: all the client's.
    pub areas: &'a [AdminScope],
    /// The caller's address, the key of the per-address throttle.
    pub address: &'a str,
}

impl fmt::Debug for Credentials<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("client_id", &self.client_id)
            .field("secret", &"[redacted]")
            .field("peer_certificate", &self.peer_certificate.is_some())
            .field("scopes", &self.scopes)
            .field("areas", &self.areas)
            .field("address", &self.address)
            .finish()
    }
}

/// A successful exchange.
pub struct Exchanged {
    pub access_token: String,
    pub expires_at: DateTime<Utc>,
    /// The scopes the token carries.
    pub scopes: Vec<String>,
    /// The areas the token carries.
    pub areas: Vec<RoleGrant>,
}

impl fmt::Debug for Exchanged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Exchanged")
            .field("access_token", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .field("scopes", &self.scopes)
            .field("areas", &self.areas)
            .finish()
    }
}

/// Whether the SHA-256 of `der` is `expected` (lower-case hex), compared in constant time so that
/// the answer's timing tells nothing of how much of a stored fingerprint a certificate matched.
fn fingerprint_matches(der: &[u8], expected: &str) -> bool {
    use sha2::Digest as _;
    use std::fmt::Write as _;
    use subtle::ConstantTimeEq as _;
    let digest = sha2::Sha256::digest(der);
    let mut actual = String::with_capacity(64);
    for byte in digest.iter() {
        let _ = write!(actual, "{byte:02x}");
    }
    // Both are 64 bytes (the column's check); `ct_eq` answers a length mismatch with false.
    actual.as_bytes().ct_eq(expected.as_bytes()).into()
}

/// The credentials exchange, with its throttles. One per process (per replica).
pub struct Agencies {
    db: DatabaseConnection,
    tokens: TokenService,
    pub settings: AgencySettings,
    /// Exchanges per client id: bounds the guessing of one client's secret.
    per_client: Throttle<Uuid>,
    /// Exchanges per client address: bounds the argon2 work one caller causes across client ids.
    per_address: Throttle<String>,
    clock: Clock,
}

impl fmt::Debug for Agencies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Agencies")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// What the exchange reads of a client: its secret hashes among the rest.
struct Stored {
    usable: bool,
    /// `mtls`: authenticated by its certificate; `secret`: by its secret.
    mtls: bool,
    certificate_sha256: Option<String>,
    current_hash: Option<String>,
    previous_hash: Option<String>,
    previous_expires_at: Option<DateTime<Utc>>,
    api_scopes: Vec<String>,
    areas: Vec<RoleGrant>,
}

impl Agencies {
    /// Exchanges over `db`, with tokens from `tokens`.
    pub fn new(
        db: DatabaseConnection,
        tokens: TokenService,
        settings: AgencySettings,
        clock: Clock,
    ) -> Self {
        Self {
            db,
            tokens,
            per_client: Throttle::new(
                &clock,
                Rate::per_minute(settings.agency_exchanges_per_minute),
                "TOO_MANY_ATTEMPTS",
                "exchanges for this client",
            ),
            per_address: Throttle::new(
                &clock,
                Rate::per_minute(EXCHANGES_PER_ADDRESS_PER_MINUTE),
                "TOO_MANY_ATTEMPTS",
                "exchanges from your address",
            ),
            settings,
            clock,
        }
    }

    /// Exchanges client credentials for an access token carrying the wanted subset of the
    /// client's scopes and areas (see the module documentation for what is refused, and how).
    pub async fn exchange(&self, credentials: Credentials<'_>) -> Result<Exchanged> {
        self.per_address.check(&credentials.address.to_owned())?;
        self.per_client.check(&credentials.client_id)?;
        let row = self
            .db
            .query_one_raw(Statement::from_sql_and_values(
                self.db.get_database_backend(),
                "SELECT status, auth_method, certificate_sha256, secret_hash, previous_secret_hash, \
                 previous_secret_expires_at, api_scopes, areas FROM agency_clients WHERE id = $1",
                [credentials.client_id.into()],
            ))
            .await?;
        let stored = row
            .map(|row| -> Result<Stored, DbErr> {
                let status: String = row.try_get("", "status")?;
                let method: String = row.try_get("", "auth_method")?;
                Ok(Stored {
                    usable: status == "active",
                    mtls: method == "mtls",
                    certificate_sha256: row.try_get("", "certificate_sha256")?,
                    current_hash: row.try_get("", "secret_hash")?,
                    previous_hash: row.try_get("", "previous_secret_hash")?,
                    previous_expires_at: row.try_get("", "previous_secret_expires_at")?,
                    api_scopes: row.try_get("", "api_scopes")?,
                    areas: read_areas(&row)?,
                })
            })
            .transpose()?;
        let now = self.clock.now().trunc_subsecs(6);
        // An mTLS client has no secret hashes: both verifications below are dummies for it.
        let (current, previous) = match &stored {
            Some(stored) if stored.usable && !stored.mtls => (
                stored.current_hash.clone(),
                stored
                    .previous_hash
                    .clone()
                    .filter(|_| stored.previous_expires_at.is_some_and(|until| until > now)),
            ),
            _ => (None, None),
        };
        let candidate = credentials.secret.to_owned();
        // Always two verifications, real or dummy, whatever is stored: the same work for every
        // answer.
        let matched = tokio::task::spawn_blocking(move || {
            let dummy = password::dummy_hash();
            let current_matches = password::verify(&candidate, current.as_deref().unwrap_or(dummy));
            let previous_matches =
                password::verify(&candidate, previous.as_deref().unwrap_or(dummy));
            (current_matches && current.is_some()) || (previous_matches && previous.is_some())
        })
        .await
        .map_err(Error::internal)?;
        let certificate_matched = match (&stored, credentials.peer_certificate) {
            (Some(stored), Some(der)) if stored.usable && stored.mtls => stored
                .certificate_sha256
                .as_deref()
                .is_some_and(|expected| fingerprint_matches(der, expected)),
            _ => false,
        };
        let matched = matched || certificate_matched;
        let Some(stored) = stored.filter(|_| matched) else {
            tracing::info!(client_id = %credentials.client_id, "agency credentials refused");
            return Err(Error::Unauthenticated(REFUSED.to_owned()));
        };

        let scopes = if credentials.scopes.is_empty() {
            stored.api_scopes.clone()
        } else {
            let mut granted: Vec<String> = Vec::new();
            for scope in credentials.scopes {
                if !stored.api_scopes.contains(scope) {
                    return Err(Error::permission_denied(
                        "SCOPE_NOT_ALLOWED",
                        format!("this client may not request scope {scope}"),
                    ));
                }
                if !granted.contains(scope) {
                    granted.push(scope.clone());
                }
            }
            granted
        };
        let areas = if credentials.areas.is_empty() {
            stored.areas.clone()
        } else {
            let mut granted: Vec<RoleGrant> = Vec::new();
            for wanted in credentials.areas {
                let mut covered = false;
                for area in stored
                    .areas
                    .iter()
                    .filter(|area| area.scope.covers_scope(wanted))
                {
                    covered = true;
                    // Narrower than an allowed area is always narrow enough for its role.
                    let narrowed = RoleGrant::new(area.role, wanted.clone())
                        .map_err(|error| Error::internal(anyhow!("narrowing an area: {error}")))?;
                    if !granted.contains(&narrowed) {
                        granted.push(narrowed);
                    }
                }
                if !covered {
                    return Err(Error::permission_denied(
                        "AREA_NOT_ALLOWED",
                        format!("this client may not act in area {wanted}"),
                    ));
                }
            }
            granted
        };
        self.db
            .execute_raw(Statement::from_sql_and_values(
                self.db.get_database_backend(),
                "UPDATE agency_clients SET last_exchange_at = $2 WHERE id = $1",
                [credentials.client_id.into(), now.into()],
            ))
            .await?;
        let (access_token, expires_at) = self
            .tokens
            .agency_access_token(credentials.client_id, &scopes, &areas)
            .await?;
        tracing::info!(client_id = %credentials.client_id, scopes = %scopes.join(" "), "agency token issued");
        Ok(Exchanged {
            access_token,
            expires_at,
            scopes,
            areas,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_scopes_follow_the_documented_format() {
        for good in [
            "governance.requests:write",
            "agri.statistics:read",
            "market.price_reports:read",
            "identity.users.grants:read",
        ] {
            assert_eq!(check_api_scope(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "governance:read",
            "governance.requests",
            "governance.requests:admin",
            "Governance.requests:read",
            "weather.forecasts:read",
            "governance.Requests:read",
            "governance.requests :read",
            "governance..requests:read",
            "governance.1requests:read",
            "governance.requests:read:write",
            "governance.requests-x:read",
            "governance.requests:read governance.requests:write",
        ] {
            assert!(check_api_scope(bad).is_err(), "{bad:?}");
        }
        let long = format!("agri.{}:read", "a".repeat(60));
        assert_eq!(check_api_scope(&long), Err("at most 64 characters"));
    }

    #[test]
    fn bare_codes_get_the_official_standing_of_their_level() {
        for (code, role) in [
            ("110101001001", Role::VillageOfficial),
            ("110101001", Role::TownshipOfficial),
            ("110101", Role::CountyAdmin),
            ("1101", Role::PlatformAdmin),
            ("11", Role::PlatformAdmin),
            ("", Role::PlatformAdmin),
        ] {
            let scope = AdminScope::parse(code).unwrap();
            assert_eq!(standing_for(&scope), role, "{code:?}");
            assert!(RoleGrant::new(role, scope).is_ok(), "always a valid grant");
        }
    }

    #[test]
    fn managers_manage_clients_inside_their_areas_only() {
        let user = |grants: &[(Role, &str)]| Principal {
            subject: Uuid::now_v7().to_string(),
            kind: PrincipalKind::User,
            grants: grants
                .iter()
                .map(|(role, code)| RoleGrant::parse(*role, code).unwrap())
                .collect(),
            api_scopes: Vec::new(),
            actor: None,
            token_id: "t".into(),
            expires_at: Utc::now(),
        };
        let area = |role, code: &str| RoleGrant::parse(role, code).unwrap();
        let county = user(&[(Role::CountyAdmin, "110101")]);
        assert!(manages(
            &county,
            &[area(Role::VillageOfficial, "110101001001")]
        ));
        assert!(manages(&county, &[area(Role::CountyAdmin, "110101")]));
        assert!(!manages(&county, &[area(Role::CountyAdmin, "110102")]));
        assert!(!manages(
            &county,
            &[
                area(Role::CountyAdmin, "110101"),
                area(Role::CountyAdmin, "120101")
            ]
        ));
        assert!(
            !manages(&county, &[area(Role::PlatformAdmin, "110101")]),
            "above its rank"
        );
        assert!(!manages(&county, &[]), "a client without areas is nobody's");
        let platform = user(&[(Role::PlatformAdmin, "")]);
        assert!(manages(&platform, &[area(Role::PlatformAdmin, "")]));
        let official = user(&[(Role::VillageOfficial, "110101001001")]);
        assert!(require_manager(&official).is_err());
        let mut agency = county.clone();
        agency.kind = PrincipalKind::Agency;
        assert!(require_manager(&agency).is_err());
        let mut helper = county;
        helper.actor = Some("helper".into());
        assert!(require_manager(&helper).is_err());
    }
}
