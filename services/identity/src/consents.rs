//! Consented helpers: a villager lets a named helper (an official) act for them for a while.
//!
//! A consent names the villager (grantor), the helper, what the helper may do (API scopes, never
//! a blanket consent) and a period of at most a year. The villager records it in the app, or an
//! official of the villager's area records a consent given in person (`witnessed`). While it is
//! in force the helper, logged in as themself, asks [`issue_delegated_token`] for an access token
//! whose `sub` is the villager and whose `act.sub` is the helper, so every service that audits
//! (`audit::record`, `terrace.common.v1.Actor`) records both people. The villager, the helper or
//! an overseeing official may withdraw it at any time; no delegated token is issued under it
//! afterwards, and those already issued die within `access_token_ttl`, since a delegated token
//! has no refresh token and never outlives its consent.
//!
//! The status is not stored but computed from the times: pending before `starts_at`, active
//! until `ends_at`, then expired; withdrawn once `withdrawn_at` is set. Every change is audited
//! and published (`identity.consent.granted|withdrawn`) in the transaction that makes it; a
//! periodic job ([`spawn_expiry`]) publishes `identity.consent.expired` once for each consent
//! that reached its end without being withdrawn.

use chrono::{DateTime, Duration, SubsecRound as _, Utc};
use sea_orm::DatabaseConnection;
use sea_orm::{
    ConnectionTrait, DatabaseTransaction, QueryResult, Statement, TransactionTrait as _,
};
use terrace_platform::auth::{Caller, Principal, PrincipalKind, Role, RoleGrant};
use terrace_platform::bus::outbox;
use terrace_platform::db::SqlMigration;
use terrace_platform::error::{Error, Result, Violations};
use terrace_platform::jobs::Schedule;
use terrace_proto::common::v1 as common;
use terrace_proto::identity::v1 as pb;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::accounts::Accounts;
use crate::users::{self, timestamp};
use crate::{agencies, grants, replay};

/// The consents table.
pub const MIGRATION: SqlMigration = SqlMigration {
    name: "m20261128_200006_identity_consents",
    up: r"
CREATE TABLE consents (
    id               uuid        PRIMARY KEY,
    -- The villager who consents; the `sub` of the delegated tokens.
    grantor_user_id  uuid        NOT NULL,
    -- The helper who may act for them; the `act.sub` of the delegated tokens.
    helper_user_id   uuid        NOT NULL,
    -- API scopes as a JSON array of strings ('market.listings:write'); never empty.
    scopes           jsonb       NOT NULL CHECK (jsonb_typeof(scopes) = 'array' AND jsonb_array_length(scopes) > 0),
    starts_at        timestamptz NOT NULL,
    ends_at          timestamptz NOT NULL,
    note             text        NOT NULL DEFAULT '',
    -- Whether an official recorded a consent the villager gave in person.
    witnessed        boolean     NOT NULL DEFAULT false,
    -- Who recorded it: the villager, or the witnessing official.
    recorded_by      uuid        NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    withdrawn_at     timestamptz,
    -- The villager, the helper or an official (the helper when acting with a delegated token
    -- is recorded in the audit trail as well).
    withdrawn_by     uuid,
    withdraw_reason  text,
    -- When `identity.consent.expired` was published (by the expiry job); NULL before.
    expiry_published_at timestamptz,
    CHECK (grantor_user_id <> helper_user_id),
    CHECK (ends_at > starts_at),
    CHECK ((withdrawn_at IS NULL) = (withdrawn_by IS NULL))
);
CREATE INDEX consents_grantor ON consents (grantor_user_id, id DESC);
CREATE INDEX consents_helper ON consents (helper_user_id, id DESC);
-- What the expiry job looks for.
CREATE INDEX consents_due ON consents (ends_at) WHERE withdrawn_at IS NULL AND expiry_published_at IS NULL;
",
};

/// A consent lasts at most this long (the contract: at most one year after start).
const MAX_PERIOD_DAYS: i64 = 366;
/// At most this many scopes in one consent.
const MAX_SCOPES: usize = 32;
/// Notes and reasons are short free text.
const MAX_NOTE_CHARS: usize = 500;

const COLUMNS: &str = "id, grantor_user_id, helper_user_id, scopes, starts_at, ends_at, note, \
                       witnessed, recorded_by, created_at, withdrawn_at, withdrawn_by, withdraw_reason";

/// A consent as stored.
#[derive(Debug, Clone)]
pub struct ConsentRow {
    pub id: Uuid,
    pub grantor: Uuid,
    pub helper: Uuid,
    pub scopes: Vec<String>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub note: String,
    pub witnessed: bool,
    pub recorded_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub withdrawn_at: Option<DateTime<Utc>>,
    pub withdrawn_by: Option<Uuid>,
    pub withdraw_reason: Option<String>,
}

impl ConsentRow {
    fn from_row(row: &QueryResult) -> Result<Self> {
        let scopes: serde_json::Value = row.try_get("", "scopes")?;
        let scopes = serde_json::from_value(scopes).map_err(Error::internal)?;
        Ok(Self {
            id: row.try_get("", "id")?,
            grantor: row.try_get("", "grantor_user_id")?,
            helper: row.try_get("", "helper_user_id")?,
            scopes,
            starts_at: row.try_get("", "starts_at")?,
            ends_at: row.try_get("", "ends_at")?,
            note: row.try_get("", "note")?,
            witnessed: row.try_get("", "witnessed")?,
            recorded_by: row.try_get("", "recorded_by")?,
            created_at: row.try_get("", "created_at")?,
            withdrawn_at: row.try_get("", "withdrawn_at")?,
            withdrawn_by: row.try_get("", "withdrawn_by")?,
            withdraw_reason: row.try_get("", "withdraw_reason")?,
        })
    }

    /// The status at `now`: withdrawn is final, then expiry, then the start.
    pub fn status_at(&self, now: DateTime<Utc>) -> pb::ConsentStatus {
        if self.withdrawn_at.is_some() {
            pb::ConsentStatus::Withdrawn
        } else if self.ends_at <= now {
            pb::ConsentStatus::Expired
        } else if self.starts_at > now {
            pb::ConsentStatus::Pending
        } else {
            pb::ConsentStatus::Active
        }
    }

    /// The consent as the contract describes it.
    pub fn to_proto(&self) -> pb::Consent {
        let user = |id: Uuid| common::Actor {
            kind: common::ActorKind::User as i32,
            user_id: id.to_string(),
            ..Default::default()
        };
        pb::Consent {
            id: self.id.to_string(),
            grantor_user_id: self.grantor.to_string(),
            helper_user_id: self.helper.to_string(),
            scopes: self.scopes.clone(),
            start_time: Some(timestamp(self.starts_at)),
            end_time: Some(timestamp(self.ends_at)),
            status: self.status_at(Utc::now()) as i32,
            note: self.note.clone(),
            recorded_by: Some(user(self.recorded_by)),
            witnessed: self.witnessed,
            withdraw_time: self.withdrawn_at.map(timestamp),
            withdrawn_by: self.withdrawn_by.map(user),
            create_time: Some(timestamp(self.created_at)),
        }
    }
}

/// The consent with `id`, locked for update when `for_update`.
async fn by_id<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    for_update: bool,
) -> Result<Option<ConsentRow>> {
    let lock = if for_update { " FOR UPDATE" } else { "" };
    conn.query_one_raw(Statement::from_sql_and_values(
        conn.get_database_backend(),
        format!("SELECT {COLUMNS} FROM consents WHERE id = $1{lock}"),
        [id.into()],
    ))
    .await?
    .map(|row| ConsentRow::from_row(&row))
    .transpose()
}

/// The caller as a person acting for themself: a user token without a helper. Consents are
/// given, withdrawn and used by people, so agencies and delegated tokens are refused where the
/// contract does not name them.
fn person(principal: &Principal) -> Result<Uuid> {
    if principal.kind != PrincipalKind::User {
        return Err(Error::permission_denied(
            "USERS_ONLY",
            "consents are for people; an agency cannot give, use or withdraw them",
        ));
    }
    if principal.actor.is_some() {
        return Err(Error::permission_denied(
            "DELEGATED_TOKEN",
            "a helper acting for a villager cannot do this; the villager must do it themself",
        ));
    }
    user_id(principal)
}

fn user_id(principal: &Principal) -> Result<Uuid> {
    Uuid::parse_str(&principal.subject)
        .map_err(|_| Error::Unauthenticated("the token's subject is not a user".to_owned()))
}

/// The official areas of `principal` (none for an agency or a helper acting for someone).
fn official_scopes(principal: &Principal) -> Vec<String> {
    if principal.kind != PrincipalKind::User || principal.actor.is_some() {
        return Vec::new();
    }
    principal
        .grants
        .iter()
        .filter(|grant| grant.role.is_official())
        .map(|grant| grant.scope.as_str().to_owned())
        .collect()
}

/// Whether `principal` is an official of an area where `villager` holds a live role: the
/// contract's "official of the villager's village" (or higher, as everywhere on the platform).
fn oversees(principal: &Principal, villager_grants: &[RoleGrant]) -> bool {
    principal.kind == PrincipalKind::User
        && principal.actor.is_none()
        && principal.grants.iter().any(|own| {
            // Every one of the villager's roles must lie in the official's area.
            own.role.is_official()
                && !villager_grants.is_empty()
                && villager_grants
                    .iter()
                    .all(|theirs| own.scope.covers_scope(&theirs.scope))
        })
}

fn time_of(
    field: &str,
    value: Option<&prost_types::Timestamp>,
    violations: &mut Violations,
) -> Option<DateTime<Utc>> {
    let value = value?;
    let time = u32::try_from(value.nanos)
        .ok()
        .and_then(|nanos| DateTime::from_timestamp(value.seconds, nanos));
    if time.is_none() {
        violations.add(field, "not a valid time");
    }
    time.map(|t| t.trunc_subsecs(6))
}

fn check_text(violations: &mut Violations, field: &str, value: &str) {
    if value.chars().count() > MAX_NOTE_CHARS {
        violations.add(field, format!("at most {MAX_NOTE_CHARS} characters"));
    } else if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        violations.add(field, "must not contain control characters");
    }
}

fn check_user_id(violations: &mut Violations, field: &str, value: &str) -> Option<Uuid> {
    Uuid::parse_str(value)
        .map_err(|_| violations.add(field, "must be a user id"))
        .ok()
}

/// What a valid GrantConsent asks for.
#[derive(Debug)]
struct Proposed {
    /// `None`: the caller is the villager.
    grantor: Option<Uuid>,
    helper: Uuid,
    scopes: Vec<String>,
    starts_at: DateTime<Utc>,
    /// The start as asked (`starts_at` is that, raised to now): part of what identifies a retry.
    requested_start: Option<DateTime<Utc>>,
    ends_at: DateTime<Utc>,
    note: String,
    witnessed: bool,
}

/// GrantConsent: validate, then [`grant`].
#[tracing::instrument(skip_all)]
pub async fn grant_consent(
    accounts: &Accounts,
    request: Request<pb::GrantConsentRequest>,
) -> Result<Response<pb::GrantConsentResponse>, Status> {
    let principal = Principal::from_request(&request)?.clone();
    let caller = person(&principal)?;
    let message = request.into_inner();
    let mut violations = Violations::new();
    let request_id =
        terrace_platform::validate::request_id(&mut violations, "request_id", &message.request_id);
    let Some(consent) = message.consent else {
        violations.add("consent", "required");
        violations.finish()?;
        return Err(Error::invalid("consent", "required").into());
    };
    let now = Utc::now().trunc_subsecs(6);
    let grantor = if consent.grantor_user_id.is_empty() {
        None
    } else {
        check_user_id(
            &mut violations,
            "consent.grantor_user_id",
            &consent.grantor_user_id,
        )
        .filter(|id| *id != caller)
    };
    let helper = if consent.helper_user_id.is_empty() {
        violations.add("consent.helper_user_id", "required");
        None
    } else {
        check_user_id(
            &mut violations,
            "consent.helper_user_id",
            &consent.helper_user_id,
        )
    };
    if let Some(helper) = helper {
        if helper == grantor.unwrap_or(caller) {
            violations.add(
                "consent.helper_user_id",
                "must not be the villager who consents",
            );
        } else if grantor.is_some() && helper == caller {
            violations.add(
                "consent.helper_user_id",
                "an official recording a consent may not name themself as the helper",
            );
        }
    }
    if consent.scopes.is_empty() {
        violations.add(
            "consent.scopes",
            "required: at least one scope (no blanket consent)",
        );
    } else if consent.scopes.len() > MAX_SCOPES {
        violations.add("consent.scopes", format!("at most {MAX_SCOPES} scopes"));
    } else {
        agencies::check_scopes(&mut violations, "consent.scopes", &consent.scopes);
    }
    let starts_at = time_of(
        "consent.start_time",
        consent.start_time.as_ref(),
        &mut violations,
    );
    let ends_at = time_of(
        "consent.end_time",
        consent.end_time.as_ref(),
        &mut violations,
    );
    if consent.end_time.is_none() {
        violations.add("consent.end_time", "required");
    }
    // A start in the past means now: a consent cannot act before it was given.
    let requested_start = starts_at;
    let starts_at = starts_at.map_or(now, |start| start.max(now));
    if let Some(ends_at) = ends_at {
        if ends_at <= now {
            violations.add("consent.end_time", "must be in the future");
        } else if ends_at <= starts_at {
            violations.add("consent.end_time", "must be after start_time");
        } else if ends_at - starts_at > Duration::days(MAX_PERIOD_DAYS) {
            violations.add("consent.end_time", "at most one year after start_time");
        }
    }
    check_text(&mut violations, "consent.note", &consent.note);
    if grantor.is_none() && consent.witnessed {
        violations.add(
            "consent.witnessed",
            "only an official recording a villager's consent in person sets it",
        );
    }
    if grantor.is_some() && !consent.witnessed {
        violations.add(
            "consent.witnessed",
            "must be true when recording another villager's consent (in person)",
        );
    }
    violations.finish()?;
    let (Some(request_id), Some(helper), Some(ends_at)) = (request_id, helper, ends_at) else {
        return Err(Error::invalid("consent", "incomplete").into());
    };
    let proposed = Proposed {
        grantor,
        helper,
        scopes: consent.scopes,
        starts_at,
        requested_start,
        ends_at,
        note: consent.note,
        witnessed: consent.witnessed,
    };
    let row = grant(accounts, &principal, caller, request_id, proposed).await?;
    Ok(Response::new(pb::GrantConsentResponse {
        consent: Some(row.to_proto()),
    }))
}

/// Records a consent for `caller` (the villager, or a witnessing official).
async fn grant(
    accounts: &Accounts,
    principal: &Principal,
    caller: Uuid,
    request_id: Uuid,
    proposed: Proposed,
) -> Result<ConsentRow> {
    let db = &accounts.ctx.db;
    let grantor = proposed.grantor.unwrap_or(caller);
    let fingerprint = replay::fingerprint(&[
        "GrantConsent",
        &caller.to_string(),
        &grantor.to_string(),
        &proposed.helper.to_string(),
        &proposed.scopes.join(" "),
        &proposed
            .requested_start
            .map(|start| start.to_rfc3339())
            .unwrap_or_default(),
        &proposed.ends_at.to_rfc3339(),
        &proposed.note,
        if proposed.witnessed { "witnessed" } else { "" },
    ]);
    let txn = db.begin().await?;
    if let Some(previous) =
        replay::previous::<pb::GrantConsentResponse>(&txn, request_id, "GrantConsent", &fingerprint)
            .await?
    {
        txn.rollback().await?;
        let id = previous
            .consent
            .and_then(|c| Uuid::parse_str(&c.id).ok())
            .ok_or_else(|| Error::internal(anyhow::anyhow!("kept answer without a consent")))?;
        return by_id(db, id, false)
            .await?
            .ok_or_else(|| Error::not_found("consent", id.to_string()));
    }
    // The villager's row is locked: two consents for one villager are decided one at a time,
    // so the overlap check below cannot be raced.
    let villager = lock_user(&txn, grantor).await?;
    if proposed.grantor.is_some() {
        let Some(_) = villager else {
            return Err(Error::not_found("user", grantor.to_string()));
        };
        let villager_grants = grants::live_grants(&txn, grantor, accounts.ctx.clock.now()).await?;
        if !oversees(principal, &villager_grants) {
            return Err(Error::permission_denied(
                "OUT_OF_SCOPE",
                "only an official of the villager's area may record their consent",
            ));
        }
    }
    let helper = users::by_id(&txn, proposed.helper)
        .await?
        .ok_or_else(|| Error::not_found("user", proposed.helper.to_string()))?;
    if helper.status != "active" {
        return Err(Error::failed_precondition(
            "HELPER_NOT_ACTIVE",
            "the helper's account is locked or disabled",
        ));
    }
    let helper_grants = grants::live_grants(&txn, helper.id, accounts.ctx.clock.now()).await?;
    if !helper_grants.iter().any(|grant| grant.role.may_help()) {
        return Err(Error::failed_precondition(
            "HELPER_NOT_ELIGIBLE",
            "the helper must be an official or a digital helper",
        ));
    }
    let overlapping = txn
        .query_one_raw(Statement::from_sql_and_values(
            txn.get_database_backend(),
            "SELECT id FROM consents WHERE grantor_user_id = $1 AND helper_user_id = $2 \
             AND withdrawn_at IS NULL AND ends_at > now() AND starts_at < $4 AND ends_at > $3 LIMIT 1",
            [
                grantor.into(),
                proposed.helper.into(),
                proposed.starts_at.into(),
                proposed.ends_at.into(),
            ],
        ))
        .await?;
    if let Some(row) = overlapping {
        let id: Uuid = row.try_get("", "id")?;
        return Err(Error::failed_precondition(
            "CONSENT_OVERLAPS",
            format!(
                "this helper already holds a consent of this villager for an overlapping period ({id}); withdraw it first"
            ),
        ));
    }
    let inserted = txn
        .query_one_raw(Statement::from_sql_and_values(
            txn.get_database_backend(),
            format!(
                "INSERT INTO consents (id, grantor_user_id, helper_user_id, scopes, starts_at, ends_at, \
                 note, witnessed, recorded_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {COLUMNS}"
            ),
            [
                Uuid::now_v7().into(),
                grantor.into(),
                proposed.helper.into(),
                serde_json::json!(proposed.scopes).into(),
                proposed.starts_at.into(),
                proposed.ends_at.into(),
                proposed.note.clone().into(),
                proposed.witnessed.into(),
                caller.into(),
            ],
        ))
        .await?
        .ok_or_else(|| Error::internal(anyhow::anyhow!("insert returned no consent")))?;
    let row = ConsentRow::from_row(&inserted)?;
    crate::audit::record(
        &txn,
        &crate::audit::caller_of(Some(principal)),
        "consent.granted",
        Some(grantor),
        serde_json::json!({
            "consent_id": row.id,
            "helper_user_id": row.helper,
            "scopes": row.scopes,
            "start_time": row.starts_at,
            "end_time": row.ends_at,
            "witnessed": row.witnessed,
        }),
        accounts.ctx.clock.now(),
    )
    .await?;
    let event = pb::ConsentGranted {
        consent: Some(row.to_proto()),
        actor: Some(crate::audit::caller_of(Some(principal)).actor()),
    };
    outbox::publish(&txn, &accounts.ctx.event_source(), &event).await?;
    let response = pb::GrantConsentResponse {
        consent: Some(row.to_proto()),
    };
    replay::remember(&txn, request_id, "GrantConsent", &fingerprint, &response).await?;
    txn.commit().await?;
    tracing::info!(consent_id = %row.id, grantor = %grantor, helper = %row.helper, witnessed = row.witnessed, "consent granted");
    Ok(row)
}

/// Locks and returns the user `id`, if any.
async fn lock_user(txn: &DatabaseTransaction, id: Uuid) -> Result<Option<Uuid>> {
    let row = txn
        .query_one_raw(Statement::from_sql_and_values(
            txn.get_database_backend(),
            "SELECT id FROM users WHERE id = $1 FOR UPDATE",
            [id.into()],
        ))
        .await?;
    Ok(row.map(|row| row.try_get("", "id")).transpose()?)
}

/// ListConsents: the consents the caller gave or holds, and for officials those of villagers of
/// their areas. A helper acting for a villager sees the villager's own.
#[tracing::instrument(skip_all)]
pub async fn list_consents(
    accounts: &Accounts,
    request: Request<pb::ListConsentsRequest>,
) -> Result<Response<pb::ListConsentsResponse>, Status> {
    let principal = Principal::from_request(&request)?.clone();
    if principal.kind != PrincipalKind::User {
        return Err(Error::permission_denied(
            "USERS_ONLY",
            "consents are for people; an agency cannot list them",
        )
        .into());
    }
    let caller = user_id(&principal)?;
    let message = request.into_inner();
    let mut violations = Violations::new();
    let grantor = (!message.grantor_user_id.is_empty())
        .then(|| check_user_id(&mut violations, "grantor_user_id", &message.grantor_user_id))
        .flatten();
    let helper = (!message.helper_user_id.is_empty())
        .then(|| check_user_id(&mut violations, "helper_user_id", &message.helper_user_id))
        .flatten();
    let page = message.page.unwrap_or_default();
    if page.page_size < 0 {
        violations.add("page.page_size", "must not be negative");
    }
    let page_size: i64 = match page.page_size {
        size if size <= 0 => 50,
        size => i64::from(size.min(500)),
    };
    let after = crate::grpc::check_page_token(&mut violations, "page.page_token", &page.page_token);
    violations.finish()?;
    let inactive = if message.include_inactive {
        ""
    } else {
        " AND c.withdrawn_at IS NULL AND c.ends_at > now()"
    };
    // Visible: given by the caller; held by the caller (not when acting for someone); or given by
    // a villager holding a live role inside one of the caller's official areas.
    let as_helper = principal.actor.is_none();
    let areas = serde_json::json!(official_scopes(&principal));
    let db = &accounts.ctx.db;
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            format!(
                "SELECT {} FROM consents c WHERE \
                 (c.grantor_user_id = $1 OR ($2 AND c.helper_user_id = $1) OR EXISTS ( \
                    SELECT 1 FROM role_grants g, jsonb_array_elements_text($3::jsonb) AS area(prefix) \
                    WHERE g.user_id = c.grantor_user_id AND g.revoked_at IS NULL \
                    AND (g.expires_at IS NULL OR g.expires_at > now()) AND starts_with(g.scope, area.prefix))) \
                 AND ($4::uuid IS NULL OR c.grantor_user_id = $4) \
                 AND ($5::uuid IS NULL OR c.helper_user_id = $5) \
                 AND ($6::uuid IS NULL OR c.id < $6){inactive} \
                 ORDER BY c.id DESC LIMIT $7",
                COLUMNS
                    .split(", ")
                    .map(|column| format!("c.{}", column.trim()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            [
                caller.into(),
                as_helper.into(),
                areas.into(),
                grantor.into(),
                helper.into(),
                after.into(),
                (page_size + 1).into(),
            ],
        ))
        .await
        .map_err(Error::from)?;
    let mut consents = rows
        .iter()
        .map(ConsentRow::from_row)
        .collect::<Result<Vec<_>>>()?;
    let more = consents.len() as i64 > page_size;
    consents.truncate(usize::try_from(page_size).unwrap_or(50));
    let next = if more {
        consents
            .last()
            .map(|c| c.id.to_string())
            .unwrap_or_default()
    } else {
        String::new()
    };
    Ok(Response::new(pb::ListConsentsResponse {
        consents: consents.iter().map(ConsentRow::to_proto).collect(),
        page: Some(common::PageResponse {
            next_page_token: next,
            total_size: None,
        }),
    }))
}

/// WithdrawConsent: the villager (also through a helper acting for them), the helper, or an
/// official of the villager's area. Anyone else is told it does not exist.
#[tracing::instrument(skip_all)]
pub async fn withdraw_consent(
    accounts: &Accounts,
    request: Request<pb::WithdrawConsentRequest>,
) -> Result<Response<pb::WithdrawConsentResponse>, Status> {
    let principal = Principal::from_request(&request)?.clone();
    if principal.kind != PrincipalKind::User {
        return Err(Error::permission_denied(
            "USERS_ONLY",
            "consents are for people; an agency cannot withdraw them",
        )
        .into());
    }
    let caller = user_id(&principal)?;
    let message = request.into_inner();
    let mut violations = Violations::new();
    let request_id =
        terrace_platform::validate::request_id(&mut violations, "request_id", &message.request_id);
    let consent_id = Uuid::parse_str(&message.consent_id)
        .map_err(|_| violations.add("consent_id", "must be a consent id"))
        .ok();
    check_text(&mut violations, "reason", &message.reason);
    violations.finish()?;
    let (Some(request_id), Some(consent_id)) = (request_id, consent_id) else {
        return Err(Error::invalid("consent_id", "required").into());
    };
    let row = withdraw(
        accounts,
        &principal,
        caller,
        request_id,
        consent_id,
        &message.reason,
    )
    .await?;
    Ok(Response::new(pb::WithdrawConsentResponse {
        consent: Some(row.to_proto()),
    }))
}

async fn withdraw(
    accounts: &Accounts,
    principal: &Principal,
    caller: Uuid,
    request_id: Uuid,
    consent_id: Uuid,
    reason: &str,
) -> Result<ConsentRow> {
    let db = &accounts.ctx.db;
    let fingerprint = replay::fingerprint(&[
        "WithdrawConsent",
        &principal.subject,
        principal.actor.as_deref().unwrap_or(""),
        &consent_id.to_string(),
        reason,
    ]);
    let txn = db.begin().await?;
    if replay::previous::<pb::WithdrawConsentResponse>(
        &txn,
        request_id,
        "WithdrawConsent",
        &fingerprint,
    )
    .await?
    .is_some()
    {
        txn.rollback().await?;
        return by_id(db, consent_id, false)
            .await?
            .ok_or_else(|| Error::not_found("consent", consent_id.to_string()));
    }
    let not_found = || Error::not_found("consent", consent_id.to_string());
    let row = by_id(&txn, consent_id, true).await?.ok_or_else(not_found)?;
    let allowed = match principal
        .actor
        .as_deref()
        .and_then(|actor| Uuid::parse_str(actor).ok())
    {
        // A helper acting for the villager may give back their own consent, never the villager's
        // consents to other helpers.
        Some(helper) => row.grantor == caller && row.helper == helper,
        None => {
            row.grantor == caller
                || row.helper == caller
                || oversees(
                    principal,
                    &grants::live_grants(&txn, row.grantor, accounts.ctx.clock.now()).await?,
                )
        }
    };
    if !allowed {
        return Err(not_found());
    }
    match row.status_at(Utc::now()) {
        pb::ConsentStatus::Withdrawn => {
            return Err(Error::failed_precondition(
                "CONSENT_WITHDRAWN",
                "this consent was already withdrawn",
            ));
        }
        pb::ConsentStatus::Expired => {
            return Err(Error::failed_precondition(
                "CONSENT_EXPIRED",
                "this consent has already ended",
            ));
        }
        _ => {}
    }
    // The person who withdrew: the helper when a helper acted for the villager (the audit record
    // names both).
    let withdrawn_by = principal
        .actor
        .as_deref()
        .and_then(|actor| Uuid::parse_str(actor).ok())
        .unwrap_or(caller);
    let updated = txn
        .query_one_raw(Statement::from_sql_and_values(
            txn.get_database_backend(),
            format!(
                "UPDATE consents SET withdrawn_at = now(), withdrawn_by = $2, withdraw_reason = $3 \
                 WHERE id = $1 RETURNING {COLUMNS}"
            ),
            [consent_id.into(), withdrawn_by.into(), reason.into()],
        ))
        .await?
        .ok_or_else(not_found)?;
    let row = ConsentRow::from_row(&updated)?;
    crate::audit::record(
        &txn,
        &crate::audit::caller_of(Some(principal)),
        "consent.withdrawn",
        Some(row.grantor),
        serde_json::json!({ "consent_id": row.id, "helper_user_id": row.helper, "reason": reason }),
        accounts.ctx.clock.now(),
    )
    .await?;
    let event = pb::ConsentWithdrawn {
        consent: Some(row.to_proto()),
        actor: Some(crate::audit::caller_of(Some(principal)).actor()),
        reason: reason.to_owned(),
    };
    outbox::publish(&txn, &accounts.ctx.event_source(), &event).await?;
    let response = pb::WithdrawConsentResponse {
        consent: Some(row.to_proto()),
    };
    replay::remember(&txn, request_id, "WithdrawConsent", &fingerprint, &response).await?;
    txn.commit().await?;
    tracing::info!(consent_id = %row.id, withdrawn_by = %withdrawn_by, "consent withdrawn");
    Ok(row)
}

/// IssueDelegatedToken: the helper, as themself, gets an access token acting for the villager
/// under an active consent. The token carries the villager's resident-level roles (never an
/// official's powers) and the consent's scopes, and lives no longer than the consent. No refresh
/// token is issued (a refresh would not check the consent): the helper asks again.
#[tracing::instrument(skip_all)]
pub async fn issue_delegated_token(
    accounts: &Accounts,
    request: Request<pb::IssueDelegatedTokenRequest>,
) -> Result<Response<pb::IssueDelegatedTokenResponse>, Status> {
    let principal = Principal::from_request(&request)?.clone();
    let helper = person(&principal)?;
    let message = request.into_inner();
    let mut violations = Violations::new();
    terrace_platform::validate::request_id(&mut violations, "request_id", &message.request_id);
    let consent_id = Uuid::parse_str(&message.consent_id)
        .map_err(|_| violations.add("consent_id", "must be a consent id"))
        .ok();
    check_text(
        &mut violations,
        "client_description",
        &message.client_description,
    );
    violations.finish()?;
    let Some(consent_id) = consent_id else {
        return Err(Error::invalid("consent_id", "required").into());
    };
    let tokens = delegate(
        accounts,
        &principal,
        helper,
        consent_id,
        &message.client_description,
    )
    .await?;
    Ok(Response::new(pb::IssueDelegatedTokenResponse {
        tokens: Some(tokens),
    }))
}

/// Signs a delegated token for `helper` under `consent_id` and audits it with both identities.
async fn delegate(
    accounts: &Accounts,
    principal: &Principal,
    helper: Uuid,
    consent_id: Uuid,
    client_description: &str,
) -> Result<pb::TokenPair> {
    let db = &accounts.ctx.db;
    let txn = db.begin().await?;
    let not_found = || Error::not_found("consent", consent_id.to_string());
    let row = by_id(&txn, consent_id, false)
        .await?
        .filter(|row| row.helper == helper)
        .ok_or_else(not_found)?;
    let now = Utc::now();
    let status = row.status_at(now);
    if status != pb::ConsentStatus::Active {
        return Err(Error::failed_precondition(
            "CONSENT_NOT_ACTIVE",
            match status {
                pb::ConsentStatus::Pending => "this consent has not started yet",
                pb::ConsentStatus::Withdrawn => "this consent was withdrawn",
                _ => "this consent has ended",
            },
        ));
    }
    // The helper's own token outlives a lock or disablement by minutes; the delegation does not.
    let active = users::by_id(&txn, helper)
        .await?
        .is_some_and(|user| user.status == "active");
    if !active {
        return Err(Error::failed_precondition(
            "HELPER_NOT_ACTIVE",
            "your account is locked or disabled",
        ));
    }
    // Nor does it outlive the helper's standing: an official who left office, a volunteer whose
    // role was revoked, helps no one any more.
    if !grants::live_grants(&txn, helper, accounts.ctx.clock.now())
        .await?
        .iter()
        .any(|grant| grant.role.may_help())
    {
        return Err(Error::failed_precondition(
            "HELPER_NOT_ELIGIBLE",
            "you no longer hold an official or digital-helper role",
        ));
    }
    let villager = users::by_id(&txn, row.grantor)
        .await?
        .ok_or_else(not_found)?;
    let locked =
        villager.status == "locked" || villager.locked_until.is_some_and(|until| until > now);
    if villager.status == "disabled" || locked {
        return Err(Error::failed_precondition(
            "VILLAGER_UNAVAILABLE",
            "the villager's account is locked or disabled",
        ));
    }
    let roles: Vec<RoleGrant> = grants::live_grants(&txn, row.grantor, accounts.ctx.clock.now())
        .await?
        .into_iter()
        .filter(|grant| matches!(grant.role, Role::Resident | Role::Farmer | Role::Buyer))
        .collect();
    let (access_token, expires_at) = accounts
        .tokens
        .delegated_access_token(row.grantor, helper, &roles, &row.scopes, row.ends_at)
        .await?;
    let delegated = Principal {
        subject: row.grantor.to_string(),
        actor: Some(helper.to_string()),
        ..principal.clone()
    };
    crate::audit::record(
        &txn,
        &Caller::from(delegated),
        "consent.token_issued",
        Some(row.grantor),
        serde_json::json!({
            "consent_id": row.id,
            "expire_time": expires_at,
            "client_description": client_description,
        }),
        accounts.ctx.clock.now(),
    )
    .await?;
    txn.commit().await?;
    tracing::info!(consent_id = %row.id, villager = %row.grantor, helper = %helper, "delegated token issued");
    Ok(pb::TokenPair {
        access_token,
        access_token_expire_time: Some(timestamp(expires_at)),
        token_type: "Bearer".to_owned(),
        ..Default::default()
    })
}

/// The job that announces ended consents (`identity.consent.expired`); an ended consent is
/// refused whether or not its event went out yet.
pub const EXPIRY_JOB: Schedule = Schedule {
    job: "identity.consent-expiry",
    every: std::time::Duration::from_secs(60),
};
/// Most consents one pass of the expiry job handles; the rest wait for the next tick.
const EXPIRY_BATCH: i64 = 500;

/// Publishes `identity.consent.expired` (and audits it) for every consent that reached its end
/// without being withdrawn and was not published yet; returns how many. Rows are claimed with
/// `SKIP LOCKED`, so replicas running the job at once never publish one twice.
pub async fn publish_expired(
    db: &DatabaseConnection,
    source: &str,
    now: DateTime<Utc>,
) -> Result<u64> {
    let txn = db.begin().await?;
    let rows = txn
        .query_all_raw(Statement::from_sql_and_values(
            txn.get_database_backend(),
            format!(
                "UPDATE consents SET expiry_published_at = $2 WHERE id IN ( \
                 SELECT id FROM consents WHERE withdrawn_at IS NULL AND expiry_published_at IS NULL \
                 AND ends_at <= $2 ORDER BY ends_at LIMIT $1 FOR UPDATE SKIP LOCKED) RETURNING {COLUMNS}"
            ),
            [EXPIRY_BATCH.into(), now.into()],
        ))
        .await?;
    let job = Caller::System {
        job: EXPIRY_JOB.job,
    };
    for row in &rows {
        let row = ConsentRow::from_row(row)?;
        crate::audit::record(
            &txn,
            &job,
            "consent.expired",
            Some(row.grantor),
            serde_json::json!({ "consent_id": row.id, "helper_user_id": row.helper }),
            now,
        )
        .await?;
        let event = pb::ConsentExpired {
            consent: Some(row.to_proto()),
        };
        outbox::publish(&txn, source, &event).await?;
    }
    txn.commit().await?;
    let published = rows.len() as u64;
    if published > 0 {
        tracing::info!(published, "expired consents published");
    }
    Ok(published)
}
