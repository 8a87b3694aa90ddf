//! Agency clients: other systems — a county bureau's data platform, a cooperative's software —
//! that call Terrace with client credentials instead of as a person (OAuth 2.0 client-credentials
//! grant).
//!
//! # What a client may do
//!
//! A client holds **API scopes** (which RPC families it may call) and **areas** (where it acts, and
//! with what standing). Its access token carries both: `kind` = `agency`, `sub` = the client id,
//! `scope` = the API scopes space-separated, `roles` = the areas. A handler an agency can reach
//! asks the [`Caller`] both at once: `Caller::reach` and `covers` take the API scope a request
//! needs, and an agency governs its areas only for requests its API scopes name.
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
//! A user acting for themself holding `county_admin` or `platform_admin`, for clients each of
//! whose areas that user governs ([`Caller::covers`]) with at least a county admin's rank and the
//! area's own (nobody hands out a standing above their own); the operator at the command line
//! ([`Caller::Operator`], with the reason they gave) everywhere. Helpers manage nothing (a
//! villager's standing is not an official's). Agencies manage no clients whatever their API
//! scopes: a client able to make clients could give one any API scope, so its own scopes would
//! bound nothing. A client outside the caller's areas is `NOT_FOUND` to them (its existence is
//! not revealed); anyone else is `PERMISSION_DENIED`. Every change writes an audit record and
//! publishes `identity.agency.created|updated|revoked` in the transaction that makes it.
//!
//! # Retries
//!
//! Every change, and the exchange, runs through `idempotency::once` keyed by the caller and the
//! request's `request_id`: a retry gets the first answer without doing the work again. Updates and
//! revocations keep their answer. An answer with a secret in it — a secret client's creation, a
//! rotation, an exchange's token — is not kept: its retry is `FAILED_PRECONDITION`
//! `ANSWER_NOT_KEPT`, saying what to do instead, never a second secret or a second client. A
//! creation also records its request (the caller's key and `request_id`, unique together) on the
//! client, so that a retry after the log was pruned (a phone back after days offline) still finds
//! the client: the same `ANSWER_NOT_KEPT` for a secret client, the client as it now is for an mTLS
//! one. The command line has no request ids; each command is one change.
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
//!
//! Layout (the service's rhythm, `docs/architecture.md`): [`parse`] turns requests into
//! commands, this module applies them over a [`Caller`], [`store`] holds the SQL, and `grpc.rs`
//! answers.

pub mod parse;
pub mod store;

use std::time::Duration;

use anyhow::anyhow;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, SubsecRound as _, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, TransactionTrait as _};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;
use terrace_platform::Clock;
use terrace_platform::auth::{AdminScope, Caller, Role, RoleGrant};
use terrace_platform::bus::outbox;
use terrace_platform::config::{Settings, humantime_secs};
use terrace_platform::db::SqlMigration;
use terrace_platform::error::{Error, Result};
use terrace_platform::idempotency::{self, Keep, Mutation};
use terrace_platform::service::{Service, ServiceContext};
use terrace_platform::throttle::{Rate, Throttle};
use terrace_platform::validate::to_timestamp;
use terrace_proto::common::v1 as common;
use terrace_proto::identity::v1 as pb;
use uuid::Uuid;

use crate::domain::password;
use crate::tokens::TokenService;

pub use self::parse::{
    Authentication, Changes, CreateAgencyClient, ExchangeClientCredentials, GetAgencyClient,
    ListAgencyClients, ListCursor, MAX_OVERLAP, NewClient, RevokeAgencyClient,
    RotateAgencyClientSecret, UpdateAgencyClient, standing_for,
};
pub use self::store::{AuthMethod, ClientRow};

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

/// The request that created a client, so that its retry finds it after the idempotency log has
/// forgotten the request (see "Retries" above).
pub const CREATING_REQUESTS: SqlMigration = SqlMigration {
    name: "m20261202_100005_identity_agency_creating_requests",
    up: r"
ALTER TABLE agency_clients
    -- The creator's idempotency key ('user:<id>', ...) and the request_id it sent; NULL for
    -- clients made at the command line, which has no request ids.
    ADD COLUMN request_caller text,
    ADD COLUMN request_id     uuid,
    ADD CHECK ((request_caller IS NULL) = (request_id IS NULL));
-- A request id is the caller's own: unique per caller.
CREATE UNIQUE INDEX agency_clients_request ON agency_clients (request_caller, request_id);
",
};

/// Bytes of randomness in a secret.
const SECRET_BYTES: usize = 32;
/// Exchanges per minute from one client address (per replica), whatever the client ids.
const EXCHANGES_PER_ADDRESS_PER_MINUTE: u32 = 60;
/// The one answer to every refused exchange (unknown client, wrong secret or certificate, revoked).
pub const REFUSED: &str = "unknown client or wrong credentials";

/// What a retry of an answer that carried a secret should do instead (`ANSWER_NOT_KEPT`).
const CREATED_INSTEAD: &str = "the client exists; rotate its secret (RotateAgencyClientSecret) to \
                               get a new one";
const ROTATED_INSTEAD: &str = "the new secret is in force; rotate again, with a new request_id, \
                               to get another";
const EXCHANGED_INSTEAD: &str = "exchange again with a new request_id for a new token";

/// Managing clients is no agency's business under any API scope (see "Who manages clients").
const MANAGE_API_SCOPE: Option<&str> = None;
/// The roles whose holders manage clients.
const MANAGERS: [Role; 2] = [Role::CountyAdmin, Role::PlatformAdmin];

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

impl ClientRow {
    /// The client as the contract describes it (never a secret; the hint only).
    pub fn to_proto(&self) -> pb::AgencyClient {
        pb::AgencyClient {
            id: self.id.to_string(),
            name: self.name.clone(),
            description: self.description.clone(),
            auth_method: match self.auth_method {
                AuthMethod::Secret => pb::AgencyAuthMethod::Secret,
                AuthMethod::Mtls => pb::AgencyAuthMethod::Mtls,
            } as i32,
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
            secret_rotate_time: self.secret_rotated_at.map(to_timestamp),
            audit: Some(common::AuditInfo {
                create_time: Some(to_timestamp(self.created_at)),
                creator: Some(author(self.created_by)),
                update_time: Some(to_timestamp(self.updated_at)),
                updater: Some(author(self.updated_by)),
            }),
        }
    }
}

/// Who made a recorded change: a user, or (no user) the operator at the command line, the one
/// other caller who may change clients.
fn author(user: Option<Uuid>) -> common::Actor {
    user.map_or_else(
        || Caller::operator("").actor(),
        |user| crate::audit::stored_actor(user.to_string(), None),
    )
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

/// Refuses callers who may manage no client at all: agencies, helpers, system jobs, and users
/// without a county or platform admin grant.
fn require_manager(caller: &Caller) -> Result<()> {
    match caller {
        Caller::Operator { .. } => Ok(()),
        Caller::User(_) if MANAGERS.iter().any(|role| caller.holds(*role)) => Ok(()),
        Caller::User(_) => Err(Error::permission_denied(
            "MISSING_ROLE",
            "managing agency clients requires role county_admin or platform_admin",
        )),
        _ => Err(Error::permission_denied(
            "MISSING_ROLE",
            "agency clients are managed by county or platform admins acting for themselves",
        )),
    }
}

/// Whether `caller` manages a client with these areas: it governs each with at least a county
/// admin's rank and the area's own. A client without areas is nobody's. The audit trail shows
/// the records about a client to those who manage it (`crate::audit`).
pub(crate) fn governs(caller: &Caller, areas: &[RoleGrant]) -> bool {
    let manager = Role::CountyAdmin.rank();
    !areas.is_empty()
        && areas
            .iter()
            .all(|area| caller.covers(&area.scope, area.role.rank().max(manager), MANAGE_API_SCOPE))
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

/// A fresh secret, and how it is stored: its argon2id hash and its hint. Hashing takes tens of
/// milliseconds of CPU, so it runs off the async workers.
async fn new_secret() -> Result<(SecretString, store::StoredSecret)> {
    let bytes: [u8; SECRET_BYTES] = rand::random();
    let secret = URL_SAFE_NO_PAD.encode(bytes);
    let hint: String = secret[secret.len() - 4..].to_owned();
    let to_hash = secret.clone();
    let hash = tokio::task::spawn_blocking(move || password::hash(&to_hash))
        .await
        .map_err(Error::internal)?
        .map_err(Error::internal)?;
    Ok((
        SecretString::from(secret),
        store::StoredSecret { hash, hint },
    ))
}

/// Most batches [`Clients::list`] reads looking for clients the caller manages before it answers
/// a short page (with a token to go on): a bound on the work of one call.
const LIST_BATCHES: usize = 10;

/// Agency clients as people manage them: the *apply* step of their management RPCs, and of
/// `terrace agency ...` at the command line.
#[derive(Debug, Clone)]
pub struct Clients {
    db: DatabaseConnection,
    /// The events' `ce-source`.
    source: String,
    clock: Clock,
    settings: AgencySettings,
}

impl Clients {
    /// Over a database without a running service (the command line).
    pub fn on(
        db: DatabaseConnection,
        source: String,
        clock: Clock,
        settings: AgencySettings,
    ) -> Self {
        Self {
            db,
            source,
            clock,
            settings,
        }
    }

    /// The clock's time at PostgreSQL's precision, so that what is answered is what is stored.
    fn now(&self) -> DateTime<Utc> {
        self.clock.now().trunc_subsecs(6)
    }

    /// Does `work` once for `caller`'s `mutation`, at the clock's now (`idempotency::once`).
    async fn once<R, F>(
        &self,
        caller: &Caller,
        mutation: &Mutation,
        keep: Keep,
        work: F,
    ) -> Result<R>
    where
        R: prost::Message + Default,
        F: AsyncFnOnce(&DatabaseTransaction, DateTime<Utc>) -> Result<R>,
    {
        let now = self.now();
        idempotency::once(&self.db, caller, mutation, now, keep, async |txn| {
            work(txn, now).await
        })
        .await
    }

    /// Audits `action` by `caller` and publishes `event`, in the transaction of the change.
    async fn announce<C: ConnectionTrait, E: terrace_proto::Event>(
        &self,
        txn: &C,
        caller: &Caller,
        action: &str,
        details: serde_json::Value,
        event: &E,
        now: DateTime<Utc>,
    ) -> Result<()> {
        crate::audit::record(txn, caller, action, None, details, now).await?;
        outbox::publish(txn, &self.source, event).await?;
        Ok(())
    }

    /// `CreateAgencyClient`.
    pub async fn create(
        &self,
        caller: &Caller,
        command: CreateAgencyClient,
    ) -> Result<pb::CreateAgencyClientResponse> {
        let key = command.mutation.key(caller);
        let keep = match command.client.authentication {
            Authentication::Secret => Keep::Nothing {
                instead: CREATED_INSTEAD,
            },
            Authentication::Mtls { .. } => Keep::Answer,
        };
        self.once(caller, &command.mutation, keep, async |txn, now| {
            // A retry that the idempotency log no longer knows finds the client it made.
            let before = store::created_by_request(txn, key.caller_key(), key.request_id()).await?;
            if let Some(client) = before {
                return created_before(caller, client);
            }
            let request = Some((key.caller_key(), key.request_id()));
            let created = self
                .insert(txn, caller, &command.client, request, now)
                .await?;
            Ok(pb::CreateAgencyClientResponse {
                client: Some(created.client.to_proto()),
                client_secret: created
                    .secret
                    .map(|secret| secret.expose_secret().to_owned())
                    .unwrap_or_default(),
            })
        })
        .await
    }

    /// Creates a client outside any request (the command line).
    pub async fn create_now(&self, caller: &Caller, client: NewClient) -> Result<Created> {
        let txn = self.db.begin().await?;
        let created = self.insert(&txn, caller, &client, None, self.now()).await?;
        txn.commit().await?;
        Ok(created)
    }

    async fn insert<C: ConnectionTrait>(
        &self,
        txn: &C,
        caller: &Caller,
        client: &NewClient,
        request: Option<(&str, Uuid)>,
        now: DateTime<Utc>,
    ) -> Result<Created> {
        require_manager(caller)?;
        if !governs(caller, &client.areas) {
            return Err(out_of_scope());
        }
        let (secret, stored) = match client.authentication {
            Authentication::Secret => {
                let (secret, stored) = new_secret().await?;
                (Some(secret), Some(stored))
            }
            Authentication::Mtls { .. } => (None, None),
        };
        let new = store::NewRow {
            client,
            secret: stored,
            request,
            by: caller.acting_user(),
            now,
        };
        let row = store::insert(txn, new).await?;
        let details = serde_json::json!({
            "client_id": row.id,
            "name": row.name,
            "auth_method": row.auth_method.as_str(),
            "scopes": row.api_scopes,
            "areas": row.areas,
        });
        let event = pb::AgencyClientCreated {
            client: Some(row.to_proto()),
            actor: Some(caller.actor()),
        };
        self.announce(txn, caller, "agency.created", details, &event, now)
            .await?;
        tracing::info!(client_id = %row.id, name = %row.name, "agency client created");
        Ok(Created {
            client: row,
            secret,
        })
    }

    /// `GetAgencyClient`: the client, if `caller` manages it (else `NOT_FOUND`).
    pub async fn get(&self, caller: &Caller, query: GetAgencyClient) -> Result<ClientRow> {
        require_manager(caller)?;
        store::get(&self.db, query.client_id)
            .await?
            .filter(|row| governs(caller, &row.areas))
            .ok_or_else(|| not_found(query.client_id))
    }

    /// `ListAgencyClients`: the clients `caller` manages, by name, and the cursor of the next
    /// page (`None` at the end). Rows are read a page at a time and filtered, up to
    /// [`LIST_BATCHES`] pages, so a page may come back short while the cursor goes on.
    pub async fn list(
        &self,
        caller: &Caller,
        query: ListAgencyClients,
    ) -> Result<(Vec<ClientRow>, Option<ListCursor>)> {
        require_manager(caller)?;
        let filter = store::Filter {
            area: query.area.as_ref(),
            include_revoked: query.include_revoked,
        };
        let size = query.page.size;
        let mut cursor = query.page.after;
        let mut page = Vec::new();
        for _ in 0..LIST_BATCHES {
            let rows = store::page(&self.db, &filter, cursor.as_ref(), size).await?;
            let exhausted = (rows.len() as u64) < size;
            for row in rows {
                cursor = Some((row.name.clone(), row.id));
                if governs(caller, &row.areas) {
                    page.push(row);
                    if page.len() as u64 == size {
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

    /// The client `id` locked for a change by `caller`, who must manage clients at all and this
    /// one: `NOT_FOUND` when it does not exist or lies outside the caller's areas,
    /// `FAILED_PRECONDITION` (`revoked_reason`) once revoked.
    async fn lock_for_change<C: ConnectionTrait>(
        &self,
        txn: &C,
        caller: &Caller,
        id: Uuid,
        revoked_reason: &'static str,
    ) -> Result<ClientRow> {
        require_manager(caller)?;
        let row = store::lock(txn, id)
            .await?
            .filter(|row| governs(caller, &row.areas))
            .ok_or_else(|| not_found(id))?;
        if row.revoked {
            return Err(Error::failed_precondition(
                revoked_reason,
                "this agency client is revoked",
            ));
        }
        Ok(row)
    }

    /// `UpdateAgencyClient`: the caller must manage the client both before and after the change.
    pub async fn update(
        &self,
        caller: &Caller,
        command: UpdateAgencyClient,
    ) -> Result<pb::UpdateAgencyClientResponse> {
        let UpdateAgencyClient {
            mutation,
            client_id: id,
            changes,
        } = command;
        self.once(caller, &mutation, Keep::Answer, async |txn, now| {
            require_manager(caller)?;
            if let Some(areas) = &changes.areas
                && !governs(caller, areas)
            {
                return Err(out_of_scope());
            }
            let current = self
                .lock_for_change(txn, caller, id, "CLIENT_REVOKED")
                .await?;
            if changes.certificate_sha256.is_some() && current.auth_method != AuthMethod::Mtls {
                return Err(Error::invalid(
                    "client.certificate_sha256",
                    "only mTLS clients have a certificate",
                ));
            }
            let client = store::update(txn, id, &changes, caller.acting_user(), now)
                .await?
                .ok_or_else(|| not_found(id))?;
            let paths = changes.paths();
            let details = serde_json::json!({
                "client_id": client.id,
                "changed": paths,
                "scopes": client.api_scopes,
                "areas": client.areas,
            });
            let event = pb::AgencyClientUpdated {
                client: Some(client.to_proto()),
                changed_fields: Some(prost_types::FieldMask { paths }),
                actor: Some(caller.actor()),
            };
            self.announce(txn, caller, "agency.updated", details, &event, now)
                .await?;
            tracing::info!(client_id = %client.id, "agency client updated");
            Ok(pb::UpdateAgencyClientResponse {
                client: event.client,
            })
        })
        .await
    }

    /// `RotateAgencyClientSecret`.
    pub async fn rotate_secret(
        &self,
        caller: &Caller,
        command: RotateAgencyClientSecret,
    ) -> Result<pb::RotateAgencyClientSecretResponse> {
        let keep = Keep::Nothing {
            instead: ROTATED_INSTEAD,
        };
        self.once(caller, &command.mutation, keep, async |txn, now| {
            let rotated = self
                .rotate(txn, caller, command.client_id, command.overlap, now)
                .await?;
            Ok(pb::RotateAgencyClientSecretResponse {
                client: Some(rotated.client.to_proto()),
                client_secret: rotated.secret.expose_secret().to_owned(),
                // No overlap: the previous secret stopped with this change.
                previous_secret_expire_time: Some(to_timestamp(
                    rotated
                        .previous_expires_at
                        .unwrap_or(rotated.client.updated_at),
                )),
            })
        })
        .await
    }

    /// Rotates a client's secret outside any request (the command line), with the configured
    /// overlap.
    pub async fn rotate_secret_now(&self, caller: &Caller, id: Uuid) -> Result<RotatedSecret> {
        let txn = self.db.begin().await?;
        let rotated = self.rotate(&txn, caller, id, None, self.now()).await?;
        txn.commit().await?;
        Ok(rotated)
    }

    /// Gives a secret client a new secret; the old one keeps working for `overlap` (`None`: the
    /// configured one; zero: it stops now).
    async fn rotate<C: ConnectionTrait>(
        &self,
        txn: &C,
        caller: &Caller,
        id: Uuid,
        overlap: Option<Duration>,
        now: DateTime<Utc>,
    ) -> Result<RotatedSecret> {
        let overlap = overlap.unwrap_or(self.settings.agency_secret_overlap);
        let current = self
            .lock_for_change(txn, caller, id, "CLIENT_REVOKED")
            .await?;
        if current.auth_method != AuthMethod::Secret {
            return Err(Error::failed_precondition(
                "MTLS_CLIENT",
                "an mTLS client has no secret to rotate",
            ));
        }
        let previous_expires_at = if overlap.is_zero() {
            None
        } else {
            Some(now + chrono::Duration::from_std(overlap).map_err(Error::internal)?)
        };
        let (secret, stored) = new_secret().await?;
        let client = store::rotate(
            txn,
            id,
            stored,
            previous_expires_at,
            caller.acting_user(),
            now,
        )
        .await?
        .ok_or_else(|| not_found(id))?;
        let details = serde_json::json!({
            "client_id": client.id,
            "secret_hint": client.secret_hint,
            "previous_secret_expires_at": previous_expires_at,
        });
        let event = pb::AgencyClientUpdated {
            client: Some(client.to_proto()),
            changed_fields: Some(prost_types::FieldMask {
                paths: vec!["secret_hint".to_owned()],
            }),
            actor: Some(caller.actor()),
        };
        self.announce(txn, caller, "agency.secret_rotated", details, &event, now)
            .await?;
        tracing::info!(client_id = %client.id, ?previous_expires_at, "agency client secret rotated");
        Ok(RotatedSecret {
            client,
            secret,
            previous_expires_at,
        })
    }

    /// `RevokeAgencyClient`: revokes a client for good; its credentials are refused from now on
    /// (issued tokens expire).
    pub async fn revoke(
        &self,
        caller: &Caller,
        command: RevokeAgencyClient,
    ) -> Result<pb::RevokeAgencyClientResponse> {
        let RevokeAgencyClient {
            mutation,
            client_id: id,
            reason,
        } = command;
        self.once(caller, &mutation, Keep::Answer, async |txn, now| {
            self.lock_for_change(txn, caller, id, "ALREADY_REVOKED")
                .await?;
            let client = store::revoke(txn, id, caller.acting_user(), &reason, now)
                .await?
                .ok_or_else(|| not_found(id))?;
            let details = serde_json::json!({ "client_id": client.id, "reason": reason });
            let event = pb::AgencyClientRevoked {
                client: Some(client.to_proto()),
                actor: Some(caller.actor()),
                reason: reason.clone(),
            };
            self.announce(txn, caller, "agency.revoked", details, &event, now)
                .await?;
            tracing::info!(client_id = %client.id, "agency client revoked");
            Ok(pb::RevokeAgencyClientResponse {
                client: event.client,
            })
        })
        .await
    }
}

/// The answer to a creation retried after the idempotency log forgot it, `client` being what it
/// created: for a secret client the answer carried the secret, which is not shown again; an mTLS
/// client is answered as it now is, to a caller who still manages it.
fn created_before(caller: &Caller, client: ClientRow) -> Result<pb::CreateAgencyClientResponse> {
    match client.auth_method {
        AuthMethod::Secret => Err(idempotency::answer_not_kept(
            "CreateAgencyClient",
            CREATED_INSTEAD,
        )),
        AuthMethod::Mtls if governs(caller, &client.areas) => Ok(pb::CreateAgencyClientResponse {
            client: Some(client.to_proto()),
            client_secret: String::new(),
        }),
        AuthMethod::Mtls => Err(not_found(client.id)),
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

/// Whether `presented` proves `stored` (the client's credentials, if it exists), after exactly two
/// argon2 verifications whatever is stored (see "Exchange" above).
async fn proves(
    stored: Option<&store::Credentials>,
    secret: &SecretString,
    certificate: Option<&[u8]>,
    now: DateTime<Utc>,
) -> Result<bool> {
    // An mTLS client has no secret hashes: both verifications below are dummies for it.
    let (current, previous) = match stored {
        Some(stored) if stored.active && stored.auth_method == AuthMethod::Secret => (
            stored.secret_hash.clone(),
            stored.previous_secret_hash.clone().filter(|_| {
                stored
                    .previous_secret_expires_at
                    .is_some_and(|until| until > now)
            }),
        ),
        _ => (None, None),
    };
    let candidate = secret.clone();
    let secret_matched = tokio::task::spawn_blocking(move || {
        let candidate = candidate.expose_secret();
        let dummy = password::dummy_hash();
        let current_matches = password::verify(candidate, current.as_deref().unwrap_or(dummy));
        let previous_matches = password::verify(candidate, previous.as_deref().unwrap_or(dummy));
        (current_matches && current.is_some()) || (previous_matches && previous.is_some())
    })
    .await
    .map_err(Error::internal)?;
    let certificate_matched = match (stored, certificate) {
        (Some(stored), Some(der)) if stored.active && stored.auth_method == AuthMethod::Mtls => {
            stored
                .certificate_sha256
                .as_deref()
                .is_some_and(|expected| fingerprint_matches(der, expected))
        }
        _ => false,
    };
    Ok(secret_matched || certificate_matched)
}

/// The scopes a token carries: those `wanted` (all the client's when none), each the client's.
fn narrow_scopes(allowed: &[String], wanted: &[String]) -> Result<Vec<String>> {
    if wanted.is_empty() {
        return Ok(allowed.to_vec());
    }
    let mut granted: Vec<String> = Vec::new();
    for scope in wanted {
        if !allowed.contains(scope) {
            return Err(Error::permission_denied(
                "SCOPE_NOT_ALLOWED",
                format!("this client may not request scope {scope}"),
            ));
        }
        if !granted.contains(scope) {
            granted.push(scope.clone());
        }
    }
    Ok(granted)
}

/// The areas a token carries: those `wanted` (all the client's when none), each inside one of the
/// client's, with that area's standing.
fn narrow_areas(allowed: &[RoleGrant], wanted: &[AdminScope]) -> Result<Vec<RoleGrant>> {
    if wanted.is_empty() {
        return Ok(allowed.to_vec());
    }
    let mut granted: Vec<RoleGrant> = Vec::new();
    for wanted in wanted {
        let mut covered = false;
        for area in allowed
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
    Ok(granted)
}

/// Agency clients as the service holds them: their management ([`Clients`]) and the credentials
/// exchange with its tokens and throttles. One per process (per replica), as the throttles are.
#[derive(Debug)]
pub struct Agencies {
    pub clients: Clients,
    tokens: TokenService,
    /// Exchanges per client id: bounds the guessing of one client's secret.
    per_client: Throttle<Uuid>,
    /// Exchanges per client address: bounds the argon2 work one caller causes across client ids.
    per_address: Throttle<String>,
}

impl Agencies {
    /// Over the service's database, clock and events, with tokens from `tokens`.
    pub fn new(ctx: &ServiceContext, tokens: TokenService, settings: AgencySettings) -> Self {
        let clock = &ctx.clock;
        Self {
            per_client: Throttle::new(
                clock,
                Rate::per_minute(settings.agency_exchanges_per_minute),
                "TOO_MANY_ATTEMPTS",
                "exchanges for this client",
            ),
            per_address: Throttle::new(
                clock,
                Rate::per_minute(EXCHANGES_PER_ADDRESS_PER_MINUTE),
                "TOO_MANY_ATTEMPTS",
                "exchanges from your address",
            ),
            clients: Clients::on(ctx.db.clone(), ctx.event_source(), clock.clone(), settings),
            tokens,
        }
    }

    /// `ExchangeClientCredentials`: an access token carrying the wanted subset of the client's
    /// scopes and areas (see the module documentation for what is refused, and how).
    /// `certificate` is the DER of the leaf certificate the caller proved in this connection's
    /// own TLS handshake, if any.
    pub async fn exchange(
        &self,
        caller: &Caller,
        command: ExchangeClientCredentials,
        certificate: Option<&[u8]>,
    ) -> Result<pb::ExchangeClientCredentialsResponse> {
        // Callers are counted by address; one that sent a token (none needs to) by who it is.
        let address = match caller {
            Caller::Anonymous { address } => address.clone(),
            caller => caller.idempotency_key(),
        };
        self.per_address.check(&address)?;
        self.per_client.check(&command.client_id)?;
        let keep = Keep::Nothing {
            instead: EXCHANGED_INSTEAD,
        };
        let id = command.client_id;
        let clients = &self.clients;
        clients
            .once(caller, &command.mutation, keep, async |txn, now| {
                let stored = store::credentials(txn, id).await?;
                let proven = proves(stored.as_ref(), &command.secret, certificate, now).await?;
                let Some(stored) = stored.filter(|_| proven) else {
                    tracing::info!(client_id = %id, "agency credentials refused");
                    return Err(Error::Unauthenticated(REFUSED.to_owned()));
                };
                let scopes = narrow_scopes(&stored.api_scopes, &command.scopes)?;
                let areas = narrow_areas(&stored.areas, &command.areas)?;
                store::mark_exchanged(txn, id, now).await?;
                let (access_token, expires_at) =
                    self.tokens.agency_access_token(id, &scopes, &areas).await?;
                tracing::info!(client_id = %id, scopes = %scopes.join(" "), "agency token issued");
                Ok(pb::ExchangeClientCredentialsResponse {
                    tokens: Some(pb::TokenPair {
                        access_token,
                        access_token_expire_time: Some(to_timestamp(expires_at)),
                        token_type: "Bearer".to_owned(),
                        ..Default::default()
                    }),
                    scopes,
                })
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use terrace_platform::auth::{Principal, PrincipalKind};

    use super::*;

    fn principal(kind: PrincipalKind, grants: &[(Role, &str)]) -> Principal {
        Principal {
            subject: Uuid::now_v7().to_string(),
            kind,
            grants: grants
                .iter()
                .map(|(role, code)| RoleGrant::parse(*role, code).unwrap())
                .collect(),
            api_scopes: vec!["identity.agencies:write".to_owned()],
            actor: None,
            token_id: "t".into(),
            expires_at: DateTime::UNIX_EPOCH,
        }
    }

    fn area(role: Role, code: &str) -> RoleGrant {
        RoleGrant::parse(role, code).unwrap()
    }

    /// Who manages which clients: (case, caller, the client's areas, may manage).
    #[test]
    fn managers_manage_clients_inside_their_areas_only() {
        let county = Caller::User(principal(
            PrincipalKind::User,
            &[
                (Role::CountyAdmin, "110101"),
                (Role::VillageOfficial, "110102001001"),
            ],
        ));
        let platform = Caller::User(principal(PrincipalKind::User, &[(Role::PlatformAdmin, "")]));
        let operator = Caller::operator("bootstrap");
        #[rustfmt::skip]
        let table: &[(&str, &Caller, Vec<RoleGrant>, bool)] = &[
            ("county: a village in it", &county, vec![area(Role::VillageOfficial, "110101001001")], true),
            ("county: itself", &county, vec![area(Role::CountyAdmin, "110101")], true),
            ("county: the next county", &county, vec![area(Role::CountyAdmin, "110102")], false),
            ("county: a village it only officiates", &county, vec![area(Role::VillageOfficial, "110102001001")], false),
            ("county: one area of two", &county, vec![area(Role::CountyAdmin, "110101"), area(Role::CountyAdmin, "120101")], false),
            ("county: above its rank", &county, vec![area(Role::PlatformAdmin, "110101")], false),
            ("county: no areas", &county, vec![], false),
            ("platform: the country", &platform, vec![area(Role::PlatformAdmin, "")], true),
            ("operator: anywhere", &operator, vec![area(Role::PlatformAdmin, ""), area(Role::CountyAdmin, "120101")], true),
        ];
        for (case, caller, areas, expected) in table {
            assert_eq!(governs(caller, areas), *expected, "{case}");
        }
    }

    /// Who may manage clients at all, before any area is asked about.
    #[test]
    fn only_admins_acting_for_themselves_and_the_operator_manage_clients() {
        let county = principal(PrincipalKind::User, &[(Role::CountyAdmin, "110101")]);
        let mut helper = county.clone();
        helper.actor = Some(Uuid::now_v7().to_string());
        #[rustfmt::skip]
        let table: &[(&str, Caller, bool)] = &[
            ("county admin", Caller::from(county.clone()), true),
            ("platform admin", Caller::from(principal(PrincipalKind::User, &[(Role::PlatformAdmin, "")])), true),
            ("operator", Caller::operator("bootstrap"), true),
            ("township official", Caller::from(principal(PrincipalKind::User, &[(Role::TownshipOfficial, "110101001")])), false),
            ("agency with a county's standing", Caller::from(principal(PrincipalKind::Agency, &[(Role::CountyAdmin, "110101")])), false),
            ("helper acting for a county admin", Caller::from(helper), false),
            ("system job", Caller::System { job: "identity.test" }, false),
        ];
        for (case, caller, expected) in table {
            let refused = require_manager(caller).err();
            assert_eq!(refused.is_none(), *expected, "{case}");
            if let Some(error) = refused {
                assert!(
                    matches!(
                        error,
                        Error::PermissionDenied {
                            reason: "MISSING_ROLE",
                            ..
                        }
                    ),
                    "{case}: {error:?}"
                );
            }
        }
        // An agency's standing never reaches a client, whatever API scope it holds.
        let agency = Caller::from(principal(
            PrincipalKind::Agency,
            &[(Role::CountyAdmin, "110101")],
        ));
        assert!(!governs(
            &agency,
            &[area(Role::VillageOfficial, "110101001001")]
        ));
    }

    #[test]
    fn a_token_carries_what_was_asked_within_what_the_client_may() {
        let allowed = [
            "agri.statistics:read".to_owned(),
            "governance.requests:write".to_owned(),
        ];
        assert_eq!(narrow_scopes(&allowed, &[]).unwrap(), allowed);
        assert_eq!(
            narrow_scopes(&allowed, &vec!["agri.statistics:read".to_owned(); 2]).unwrap(),
            ["agri.statistics:read"]
        );
        assert!(narrow_scopes(&allowed, &["market.orders:write".to_owned()]).is_err());

        let areas = [
            area(Role::CountyAdmin, "110101"),
            area(Role::VillageOfficial, "120101001001"),
        ];
        let scope = |code: &str| AdminScope::parse(code).unwrap();
        assert_eq!(narrow_areas(&areas, &[]).unwrap(), areas);
        assert_eq!(
            narrow_areas(&areas, &[scope("110101001")]).unwrap(),
            [area(Role::CountyAdmin, "110101001")],
            "narrower keeps the standing"
        );
        assert!(narrow_areas(&areas, &[scope("11")]).is_err(), "broader");
        assert!(
            narrow_areas(&areas, &[scope("110102")]).is_err(),
            "elsewhere"
        );
    }
}
