//! Consented helpers: a villager lets a named helper (an official or a digital helper) act for
//! them for a while.
//!
//! A consent names the villager (grantor), the helper, what the helper may do (API scopes, never
//! a blanket consent) and a period of at most a year. The villager records it in the app, or an
//! official governing the villager's area records a consent given in person (`witnessed`).
//! While it is in force the helper, logged in as themself, asks for a delegated access token
//! ([`Consents::issue_token`]) whose `sub` is the villager and whose `act.sub` is the helper, so
//! every service that audits (`audit::record`, `terrace.common.v1.Actor`) records both people.
//! The villager, the helper or an official governing the villager may withdraw it at any time;
//! no delegated token is issued under it afterwards, and those already issued die within
//! `access_token_ttl`, since a delegated token has no refresh token and never outlives its
//! consent.
//!
//! The status is not stored but computed from the times ([`ConsentRow::status_at`] the service
//! clock's now): pending before `starts_at`, active until `ends_at`, then expired; withdrawn once
//! `withdrawn_at` is set. Every change is audited and published
//! (`identity.consent.granted|withdrawn`) in the transaction that makes it; a periodic job
//! ([`Consents::publish_expired`]) publishes `identity.consent.expired` once for each consent
//! that reached its end without being withdrawn.
//!
//! Who may do what, in [`Caller`]'s words:
//! - **Give**: a user acting for themself ([`Caller::require_self`]), for themself, or for a
//!   villager they govern ([`Caller::reach`] over the villager's live areas) when recording an
//!   in-person consent. A helper acting for a villager cannot make more consents.
//! - **See**: the villager (also through a helper acting for them), the helper, and officials
//!   governing the villager.
//! - **Withdraw**: whoever sees it, except that a helper acting for the villager gives back only
//!   their own consent. Anyone else is told it does not exist.
//! - **Use**: only its helper, acting for themself.
//!
//! Agencies, jobs and the operator take no part in consents.
//!
//! Layout (the service's rhythm, `docs/architecture.md`): [`parse`] turns requests into
//! commands, this module applies them over a [`Caller`], [`store`] holds the SQL, and `grpc.rs`
//! answers.

pub mod parse;
pub mod store;

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, TransactionTrait as _};
use terrace_platform::Clock;
use terrace_platform::auth::{AdminScope, Caller, Role, RoleGrant};
use terrace_platform::bus::{Event, outbox};
use terrace_platform::db::SqlMigration;
use terrace_platform::error::{Error, Result, Violations};
use terrace_platform::idempotency::{self, Keep};
use terrace_platform::jobs::Schedule;
use terrace_platform::service::ServiceContext;
use terrace_platform::validate::to_timestamp;
use terrace_proto::common::v1 as common;
use terrace_proto::identity::v1 as pb;
use uuid::Uuid;

use crate::grants;
use crate::tokens::TokenService;
use crate::users::UserStatus;

pub use self::parse::{GrantConsent, IssueDelegatedToken, ListConsents, WithdrawConsent};
pub use self::store::ConsentRow;

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

/// The request that created a consent, unique per caller: a retry of `GrantConsent` after the
/// idempotency log was pruned finds the consent it made instead of making a second one.
pub const REQUEST_IDS: SqlMigration = SqlMigration {
    name: "m20261202_000001_identity_consent_request_ids",
    up: r"
ALTER TABLE consents ADD COLUMN caller_key text, ADD COLUMN request_id uuid;
-- Consents made before this migration have neither.
CREATE UNIQUE INDEX consents_request ON consents (caller_key, request_id);
",
};

/// A consent lasts at most this long (the contract: at most one year after start).
const MAX_PERIOD_DAYS: i64 = 366;

impl ConsentRow {
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

    /// The consent as the contract describes it, with its status at `now`.
    pub fn to_proto(&self, now: DateTime<Utc>) -> pb::Consent {
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
            start_time: Some(to_timestamp(self.starts_at)),
            end_time: Some(to_timestamp(self.ends_at)),
            status: self.status_at(now) as i32,
            note: self.note.clone(),
            recorded_by: Some(user(self.recorded_by)),
            witnessed: self.witnessed,
            withdraw_time: self.withdrawn_at.map(to_timestamp),
            withdrawn_by: self.withdrawn_by.map(user),
            create_time: Some(to_timestamp(self.created_at)),
        }
    }
}

/// The two people of a consent being recorded, as the recorder decides them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Parties {
    /// Who records it: the villager, or the witnessing official.
    recorder: Uuid,
    grantor: Uuid,
    helper: Uuid,
    /// Recorded by an official for the villager in person.
    witnessed: bool,
}

/// Whose consent `command` records when `recorder` records it: their own (no grantor, or
/// themself), or, witnessed, another villager's. Nobody helps themself, and an official recording
/// a consent does not name themself as the helper.
fn parties(recorder: Uuid, command: &GrantConsent) -> Result<Parties> {
    let mut violations = Violations::new();
    let other = command.grantor.filter(|grantor| *grantor != recorder);
    match (other, command.witnessed) {
        (None, true) => violations.add(
            "consent.witnessed",
            "only an official recording a villager's consent in person sets it",
        ),
        (Some(_), false) => violations.add(
            "consent.witnessed",
            "must be true when recording another villager's consent (in person)",
        ),
        _ => {}
    }
    let grantor = other.unwrap_or(recorder);
    if command.helper == grantor {
        violations.add(
            "consent.helper_user_id",
            "must not be the villager who consents",
        );
    } else if other.is_some() && command.helper == recorder {
        violations.add(
            "consent.helper_user_id",
            "an official recording a consent may not name themself as the helper",
        );
    }
    violations.finish_with(|| {
        Some(Parties {
            recorder,
            grantor,
            helper: command.helper,
            witnessed: other.is_some(),
        })
    })
}

/// The period of a consent recorded at `now`: a start in the past (or none) means now, since a
/// consent cannot act before it was given; it ends in the future, after its start, at most a
/// year later.
fn period(
    starts_at: Option<DateTime<Utc>>,
    ends_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>)> {
    let starts_at = starts_at.map_or(now, |start| start.max(now));
    let field = "consent.end_time";
    if ends_at <= now {
        Err(Error::invalid(field, "must be in the future"))
    } else if ends_at <= starts_at {
        Err(Error::invalid(field, "must be after start_time"))
    } else if ends_at - starts_at > Duration::days(MAX_PERIOD_DAYS) {
        Err(Error::invalid(field, "at most one year after start_time"))
    } else {
        Ok((starts_at, ends_at))
    }
}

/// The person pressing the button: a user, or a helper acting for a villager. Consents are
/// given, held and withdrawn by people.
fn acting_person(caller: &Caller) -> Result<Uuid> {
    caller.acting_user().ok_or_else(|| {
        Error::permission_denied(
            "NOT_A_USER",
            "consents are for people; an agency or a job cannot give, see or withdraw them",
        )
    })
}

/// Whether `caller` governs a villager who lives in `areas` (an official of the villager's area,
/// or above). Agencies take no part in consents: no API scope lets them.
fn governs(caller: &Caller, areas: &[AdminScope]) -> bool {
    let areas: Vec<&AdminScope> = areas.iter().collect();
    caller.reach(&areas, None).is_some()
}

/// Whether `caller` may see `consent`, whose villager lives in `villager_areas`: the villager
/// (also through a helper acting for them), the helper acting for themself, or an official
/// governing the villager.
fn sees(caller: &Caller, consent: &ConsentRow, villager_areas: &[AdminScope]) -> bool {
    caller.subject_user() == Some(consent.grantor)
        || caller.is_user(consent.helper)
        || governs(caller, villager_areas)
}

/// Whether `caller` may withdraw `consent`: whoever sees it, except that a helper acting for
/// the villager gives back only their own consent, never the villager's consents to others.
fn may_withdraw(caller: &Caller, consent: &ConsentRow, villager_areas: &[AdminScope]) -> bool {
    match caller {
        Caller::Helper(_) => {
            caller.subject_user() == Some(consent.grantor)
                && caller.acting_user() == Some(consent.helper)
        }
        _ => sees(caller, consent, villager_areas),
    }
}

/// Where `user` lives: the areas of their live grants at `now`.
async fn areas_of<C: ConnectionTrait>(
    conn: &C,
    user: Uuid,
    now: DateTime<Utc>,
) -> Result<Vec<AdminScope>> {
    Ok(grants::live_grants(conn, user, now)
        .await?
        .into_iter()
        .map(|grant| grant.scope)
        .collect())
}

/// Whether `user` may hold consents at `now`: an active account with a role that may help (an
/// official or a digital helper). An official who left office, a volunteer whose role was
/// revoked, helps no one any more.
async fn may_help<C: ConnectionTrait>(
    conn: &C,
    user: &crate::users::User,
    now: DateTime<Utc>,
    whose: &str,
) -> Result<()> {
    if user.status != UserStatus::Active {
        return Err(Error::failed_precondition(
            "HELPER_NOT_ACTIVE",
            format!("{whose} account is locked or disabled"),
        ));
    }
    if !grants::live_grants(conn, user.id, now)
        .await?
        .iter()
        .any(|grant| grant.role.may_help())
    {
        return Err(Error::failed_precondition(
            "HELPER_NOT_ELIGIBLE",
            format!("{whose} roles allow no helping: an official or digital-helper role is needed"),
        ));
    }
    Ok(())
}

/// A page of consents and the cursor of the next, as seen at `at`.
#[derive(Debug)]
pub struct Listed {
    pub consents: Vec<ConsentRow>,
    pub next: Option<Uuid>,
    /// The service clock's now when the list was read: the time of the statuses.
    pub at: DateTime<Utc>,
}

/// The job that announces ended consents (`identity.consent.expired`); an ended consent is
/// refused whether or not its event went out yet.
pub const EXPIRY_JOB: Schedule = Schedule {
    job: "identity.consent-expiry",
    every: std::time::Duration::from_secs(60),
};

/// Most consents one run of the job announces per transaction; the rest wait for the next run.
const EXPIRY_BATCH: u32 = 500;

/// Consents: the *apply* step of their RPCs and the expiry job.
#[derive(Debug, Clone)]
pub struct Consents {
    db: DatabaseConnection,
    source: String,
    clock: Clock,
    tokens: TokenService,
}

impl Consents {
    pub fn new(ctx: &ServiceContext, tokens: TokenService) -> Self {
        Self {
            db: ctx.db.clone(),
            source: ctx.event_source(),
            clock: ctx.clock.clone(),
            tokens,
        }
    }

    /// `GrantConsent`. A retry finds its first answer in the idempotency log, or, once the log
    /// was pruned, the consent its request made, as it now is.
    pub async fn grant(
        &self,
        caller: &Caller,
        command: GrantConsent,
    ) -> Result<pb::GrantConsentResponse> {
        let parties = parties(caller.require_self()?, &command)?;
        let now = self.clock.now();
        let key = command.mutation.key(caller);
        idempotency::once(
            &self.db,
            caller,
            &command.mutation,
            now,
            Keep::Answer,
            async |txn| {
                let made = store::by_request(txn, key.caller_key(), key.request_id()).await?;
                let row = match made {
                    Some(row) => row,
                    None => {
                        let new = New {
                            command: &command,
                            parties,
                            caller_key: key.caller_key(),
                        };
                        self.record(txn, caller, new, now).await?
                    }
                };
                Ok(pb::GrantConsentResponse {
                    consent: Some(row.to_proto(now)),
                })
            },
        )
        .await
    }

    /// Records a new consent in the caller's transaction.
    async fn record<C: ConnectionTrait>(
        &self,
        txn: &C,
        caller: &Caller,
        new: New<'_>,
        now: DateTime<Utc>,
    ) -> Result<ConsentRow> {
        let New {
            command,
            parties,
            caller_key,
        } = new;
        let (starts_at, ends_at) = period(command.starts_at, command.ends_at, now)?;
        // The villager's row is locked: two consents of one villager are decided one at a time,
        // so the overlap check below cannot be raced.
        let villager_exists = store::lock_user(txn, parties.grantor).await?;
        if parties.witnessed && !governs(caller, &areas_of(txn, parties.grantor, now).await?) {
            return Err(Error::permission_denied(
                "OUT_OF_SCOPE",
                "only an official of the villager's area may record their consent",
            ));
        }
        if !villager_exists {
            return Err(Error::not_found("user", parties.grantor.to_string()));
        }
        let helper = crate::users::by_id(txn, parties.helper)
            .await?
            .ok_or_else(|| Error::not_found("user", parties.helper.to_string()))?;
        may_help(txn, &helper, now, "the helper's").await?;
        if let Some(id) =
            store::overlapping(txn, parties.grantor, parties.helper, starts_at, ends_at).await?
        {
            return Err(Error::failed_precondition(
                "CONSENT_OVERLAPS",
                format!(
                    "this helper already holds a consent of this villager for an overlapping \
                     period ({id}); withdraw it first"
                ),
            ));
        }
        let row = store::insert(
            txn,
            store::NewConsent {
                grantor: parties.grantor,
                helper: parties.helper,
                scopes: &command.scopes,
                starts_at,
                ends_at,
                note: &command.note,
                witnessed: parties.witnessed,
                recorded_by: parties.recorder,
                created_at: now,
                caller_key,
                request_id: command.mutation.request_id(),
            },
        )
        .await?;
        let details = serde_json::json!({
            "scopes": row.scopes,
            "start_time": row.starts_at,
            "end_time": row.ends_at,
            "witnessed": row.witnessed,
        });
        let event = pb::ConsentGranted {
            consent: Some(row.to_proto(now)),
            actor: Some(caller.actor()),
        };
        self.announce(txn, caller, "consent.granted", &row, details, &event, now)
            .await?;
        tracing::info!(
            consent_id = %row.id,
            grantor = %row.grantor,
            helper = %row.helper,
            witnessed = row.witnessed,
            "consent granted"
        );
        Ok(row)
    }

    /// `ListConsents`: the consents `caller` may see, newest first, and the cursor of the next
    /// page. Rows are fetched a page at a time and filtered by visibility, so a page may come
    /// back short while the cursor goes on.
    pub async fn list(&self, caller: &Caller, query: ListConsents) -> Result<Listed> {
        acting_person(caller)?;
        let now = self.clock.now();
        // Where to look for the villagers an official governs: the caller's own areas that it
        // governs (none for a helper acting for someone); the rule itself is applied per row.
        let governed: Vec<&AdminScope> = caller
            .principal()
            .map(|own| own.grants.iter().map(|grant| &grant.scope))
            .into_iter()
            .flatten()
            .filter(|area| caller.reach(&[area], None).is_some())
            .collect();
        let filter = store::Filter {
            grantor_is: caller.subject_user(),
            helper_is: caller.subject_user().filter(|me| caller.is_user(*me)),
            villagers_in: &governed,
            grantor: query.grantor,
            helper: query.helper,
            include_inactive: query.include_inactive,
            now,
        };
        let size = query.page.size;
        let mut rows = store::page(&self.db, &filter, query.page.after, size + 1).await?;
        let more = rows.len() as u64 > size;
        rows.truncate(usize::try_from(size).unwrap_or(usize::MAX));
        let next = more
            .then(|| rows.last().map(|row| row.consent.id))
            .flatten();
        let consents = rows
            .into_iter()
            .filter(|row| sees(caller, &row.consent, &row.villager_areas))
            .map(|row| row.consent)
            .collect();
        Ok(Listed {
            consents,
            next,
            at: now,
        })
    }

    /// `WithdrawConsent`.
    pub async fn withdraw(
        &self,
        caller: &Caller,
        command: WithdrawConsent,
    ) -> Result<pb::WithdrawConsentResponse> {
        let withdrawn_by = acting_person(caller)?;
        let now = self.clock.now();
        idempotency::once(
            &self.db,
            caller,
            &command.mutation,
            now,
            Keep::Answer,
            async |txn| {
                let id = command.consent_id;
                let unknown = || Error::not_found("consent", id.to_string());
                let row = store::by_id(txn, id, true).await?.ok_or_else(unknown)?;
                if !may_withdraw(caller, &row, &areas_of(txn, row.grantor, now).await?) {
                    return Err(unknown());
                }
                match row.status_at(now) {
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
                let row = store::mark_withdrawn(txn, id, withdrawn_by, &command.reason, now)
                    .await?
                    .ok_or_else(unknown)?;
                let details = serde_json::json!({ "reason": command.reason });
                let event = pb::ConsentWithdrawn {
                    consent: Some(row.to_proto(now)),
                    actor: Some(caller.actor()),
                    reason: command.reason.clone(),
                };
                self.announce(txn, caller, "consent.withdrawn", &row, details, &event, now)
                    .await?;
                tracing::info!(consent_id = %row.id, %withdrawn_by, "consent withdrawn");
                Ok(pb::WithdrawConsentResponse {
                    consent: Some(row.to_proto(now)),
                })
            },
        )
        .await
    }

    /// `IssueDelegatedToken`: the helper, as themself, gets an access token acting for the
    /// villager under an active consent. The token carries the villager's resident-level roles
    /// (never an official's powers) and the consent's scopes, and lives no longer than the
    /// consent. No refresh token is issued (a refresh would not check the consent): the helper
    /// asks again. The answer carries a token, so it is not kept: a retry of the same request is
    /// told to ask anew.
    pub async fn issue_token(
        &self,
        caller: &Caller,
        command: IssueDelegatedToken,
    ) -> Result<pb::IssueDelegatedTokenResponse> {
        let helper = caller.require_self()?;
        let now = self.clock.now();
        let keep = Keep::Nothing {
            instead: "ask for a new delegated token with a new request_id",
        };
        idempotency::once(
            &self.db,
            caller,
            &command.mutation,
            now,
            keep,
            async |txn| {
                let id = command.consent_id;
                let unknown = || Error::not_found("consent", id.to_string());
                let row = store::by_id(txn, id, false)
                    .await?
                    .filter(|row| row.helper == helper)
                    .ok_or_else(unknown)?;
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
                // The helper's own token outlives a lock, a disablement or the loss of their
                // role by minutes; the delegation does not.
                let own = crate::users::by_id(txn, helper)
                    .await?
                    .ok_or_else(|| Error::not_found("user", helper.to_string()))?;
                may_help(txn, &own, now, "your").await?;
                let villager = crate::users::by_id(txn, row.grantor)
                    .await?
                    .ok_or_else(unknown)?;
                let locked = villager.status == UserStatus::Locked
                    || villager.locked_until.is_some_and(|until| until > now);
                if villager.status == UserStatus::Disabled || locked {
                    return Err(Error::failed_precondition(
                        "VILLAGER_UNAVAILABLE",
                        "the villager's account is locked or disabled",
                    ));
                }
                let roles: Vec<RoleGrant> = grants::live_grants(txn, row.grantor, now)
                    .await?
                    .into_iter()
                    .filter(|grant| {
                        matches!(grant.role, Role::Resident | Role::Farmer | Role::Buyer)
                    })
                    .collect();
                let (access_token, expires_at) = self
                    .tokens
                    .delegated_access_token(row.grantor, helper, &roles, &row.scopes, row.ends_at)
                    .await?;
                crate::audit::record(
                    txn,
                    &caller.acting_for(row.grantor),
                    "consent.token_issued",
                    Some(row.grantor),
                    serde_json::json!({
                        "consent_id": row.id,
                        "expire_time": expires_at,
                        "client_description": command.client_description,
                    }),
                    now,
                )
                .await?;
                tracing::info!(
                    consent_id = %row.id,
                    villager = %row.grantor,
                    %helper,
                    "delegated token issued"
                );
                Ok(pb::IssueDelegatedTokenResponse {
                    tokens: Some(pb::TokenPair {
                        access_token,
                        access_token_expire_time: Some(to_timestamp(expires_at)),
                        token_type: "Bearer".to_owned(),
                        ..Default::default()
                    }),
                })
            },
        )
        .await
    }

    /// Publishes `identity.consent.expired` (and audits it) for every consent that reached its
    /// end by `now` without being withdrawn and was not announced yet; returns how many.
    pub async fn publish_expired(&self, now: DateTime<Utc>) -> Result<u64> {
        let job = Caller::System {
            job: EXPIRY_JOB.job,
        };
        let txn = self.db.begin().await?;
        let rows = store::mark_expiry_published(&txn, now, EXPIRY_BATCH).await?;
        for row in &rows {
            let event = pb::ConsentExpired {
                consent: Some(row.to_proto(now)),
            };
            let details = serde_json::json!({});
            self.announce(&txn, &job, "consent.expired", row, details, &event, now)
                .await?;
        }
        txn.commit().await?;
        Ok(rows.len() as u64)
    }

    /// Audits `action` on `consent` by `caller` (against its villager, with its id, its helper
    /// and `details`) and publishes `event`, in the transaction that does it.
    async fn announce<C: ConnectionTrait, E: Event>(
        &self,
        txn: &C,
        caller: &Caller,
        action: &str,
        consent: &ConsentRow,
        details: serde_json::Value,
        event: &E,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut recorded = serde_json::json!({
            "consent_id": consent.id,
            "helper_user_id": consent.helper,
        });
        if let (Some(recorded), serde_json::Value::Object(details)) =
            (recorded.as_object_mut(), details)
        {
            recorded.extend(details);
        }
        crate::audit::record(txn, caller, action, Some(consent.grantor), recorded, now).await?;
        outbox::publish(txn, &self.source, event).await?;
        Ok(())
    }
}

/// A consent to record: the command, its parties as the recorder decided them, and the
/// recorder's idempotency key.
#[derive(Debug, Clone, Copy)]
struct New<'a> {
    command: &'a GrantConsent,
    parties: Parties,
    caller_key: &'a str,
}

#[cfg(test)]
mod tests {
    use terrace_platform::auth::PrincipalKind;
    use terrace_platform::error::FieldViolation;
    use terrace_platform::idempotency::Mutation;

    use terrace_platform::auth::Principal;

    use super::*;

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap() + Duration::minutes(minutes)
    }

    /// The fields an error refuses.
    pub(super) fn refused<T: std::fmt::Debug>(result: Result<T>) -> Vec<String> {
        match result {
            Err(Error::InvalidArgument(list)) => list
                .into_iter()
                .map(|FieldViolation { field, .. }| field)
                .collect(),
            other => panic!("expected field violations, got {other:?}"),
        }
    }

    fn command(grantor: Option<Uuid>, helper: Uuid, witnessed: bool) -> GrantConsent {
        let mut violations = Violations::new();
        let request = pb::GrantConsentRequest {
            request_id: Uuid::now_v7().to_string(),
            ..Default::default()
        };
        GrantConsent {
            mutation: Mutation::parse(
                &mut violations,
                "GrantConsent",
                &request.request_id,
                &request,
            )
            .unwrap(),
            grantor,
            helper,
            scopes: vec!["market.listings:write".to_owned()],
            starts_at: None,
            ends_at: at(60),
            note: String::new(),
            witnessed,
        }
    }

    #[test]
    fn who_a_consent_is_for_follows_who_records_it() {
        let (me, villager, helper) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let own = parties(me, &command(None, helper, false)).unwrap();
        assert_eq!(
            own,
            Parties {
                recorder: me,
                grantor: me,
                helper,
                witnessed: false
            }
        );
        assert_eq!(
            parties(me, &command(Some(me), helper, false)).unwrap(),
            own,
            "naming oneself as grantor is one's own consent"
        );
        let recorded = parties(me, &command(Some(villager), helper, true)).unwrap();
        assert_eq!((recorded.grantor, recorded.witnessed), (villager, true));

        #[rustfmt::skip]
        let table: &[(&str, GrantConsent, &[&str])] = &[
            ("one's own, witnessed", command(Some(me), helper, true), &["consent.witnessed"]),
            ("another's, not witnessed", command(Some(villager), helper, false), &["consent.witnessed"]),
            ("helping oneself", command(None, me, false), &["consent.helper_user_id"]),
            ("the villager helping themself", command(Some(villager), villager, true), &["consent.helper_user_id"]),
            ("the recording official as helper", command(Some(villager), me, true), &["consent.helper_user_id"]),
            ("both", command(Some(villager), me, false), &["consent.witnessed", "consent.helper_user_id"]),
        ];
        for (case, command, fields) in table {
            assert_eq!(refused(parties(me, command)), *fields, "{case}");
        }
    }

    /// (case, start, end, the period recorded) in minutes from now; `None`: refused.
    type PeriodCase = (&'static str, Option<i64>, i64, Option<(i64, i64)>);

    #[test]
    fn a_period_starts_no_earlier_than_now_and_lasts_at_most_a_year() {
        let now = at(0);
        let year = MAX_PERIOD_DAYS * 24 * 60;
        #[rustfmt::skip]
        let table: &[PeriodCase] = &[
            ("from now", None, 60, Some((0, 60))),
            ("a start in the past means now", Some(-30), 60, Some((0, 60))),
            ("a later start", Some(30), 60, Some((30, 60))),
            ("a full year", None, year, Some((0, year))),
            ("a full year from a later start", Some(30), 30 + year, Some((30, 30 + year))),
            ("longer than a year", None, year + 1, None),
            ("ended already", Some(-120), -60, None),
            ("ending now", None, 0, None),
            ("ending before its start", Some(90), 60, None),
        ];
        for (case, start, end, expected) in table {
            let period = period(start.map(at), at(*end), now);
            match expected {
                Some((start, end)) => assert_eq!(period.unwrap(), (at(*start), at(*end)), "{case}"),
                None => assert_eq!(refused(period), ["consent.end_time"], "{case}"),
            }
        }
    }

    fn row(grantor: Uuid, helper: Uuid) -> ConsentRow {
        ConsentRow {
            id: Uuid::now_v7(),
            grantor,
            helper,
            scopes: vec!["market.listings:write".to_owned()],
            starts_at: at(0),
            ends_at: at(60),
            note: String::new(),
            witnessed: false,
            recorded_by: grantor,
            created_at: at(0),
            withdrawn_at: None,
            withdrawn_by: None,
            withdraw_reason: None,
        }
    }

    #[test]
    fn the_status_is_read_from_the_times() {
        let mut consent = row(Uuid::now_v7(), Uuid::now_v7());
        consent.starts_at = at(10);
        #[rustfmt::skip]
        let table = [
            ("before its start", 5, pb::ConsentStatus::Pending),
            ("at its start", 10, pb::ConsentStatus::Active),
            ("in force", 30, pb::ConsentStatus::Active),
            ("at its end", 60, pb::ConsentStatus::Expired),
            ("after", 90, pb::ConsentStatus::Expired),
        ];
        for (case, minutes, status) in table {
            assert_eq!(consent.status_at(at(minutes)), status, "{case}");
        }
        consent.withdrawn_at = Some(at(20));
        for minutes in [5, 30, 90] {
            assert_eq!(consent.status_at(at(minutes)), pb::ConsentStatus::Withdrawn);
        }
        assert_eq!(
            consent.to_proto(at(5)).status,
            pb::ConsentStatus::Withdrawn as i32
        );
    }

    fn principal(subject: Uuid, actor: Option<Uuid>, grants: &[(Role, &str)]) -> Principal {
        Principal {
            subject: subject.to_string(),
            kind: PrincipalKind::User,
            grants: grants
                .iter()
                .map(|(role, area)| RoleGrant::parse(*role, area).unwrap())
                .collect(),
            api_scopes: Vec::new(),
            actor: actor.map(|id| id.to_string()),
            token_id: "t".to_owned(),
            expires_at: at(15),
        }
    }

    #[test]
    fn who_sees_and_who_withdraws_a_consent() {
        const VILLAGE: &str = "110101001001";
        let (villager, helper, other) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let consent = row(villager, helper);
        let lives = [AdminScope::parse(VILLAGE).unwrap()];
        let user = |id, grants: &[(Role, &str)]| Caller::User(principal(id, None, grants));
        let for_villager = |actor| Caller::Helper(principal(villager, Some(actor), &[]));
        let mut agency = principal(Uuid::now_v7(), None, &[(Role::CountyAdmin, "110101")]);
        agency.kind = PrincipalKind::Agency;
        agency.api_scopes = vec!["identity.consents:write".to_owned()];
        #[rustfmt::skip]
        let table: &[(&str, Caller, bool, bool)] = &[
            ("the villager", user(villager, &[(Role::Resident, VILLAGE)]), true, true),
            ("the helper", user(helper, &[(Role::VillageOfficial, "110101001002")]), true, true),
            ("another villager", user(other, &[(Role::Resident, VILLAGE)]), false, false),
            ("the village's official", user(other, &[(Role::VillageOfficial, VILLAGE)]), true, true),
            ("the county's admin", user(other, &[(Role::CountyAdmin, "110101")]), true, true),
            ("another village's official", user(other, &[(Role::VillageOfficial, "120101001001")]), false, false),
            ("the helper acting for the villager", for_villager(helper), true, true),
            ("another helper acting for the villager", for_villager(other), true, false),
            ("an agency of the county", Caller::Agency(agency), false, false),
            ("a job", Caller::System { job: EXPIRY_JOB.job }, true, true),
        ];
        for (case, caller, sees_it, withdraws_it) in table {
            assert_eq!(sees(caller, &consent, &lives), *sees_it, "sees: {case}");
            assert_eq!(
                may_withdraw(caller, &consent, &lives),
                *withdraws_it,
                "withdraws: {case}"
            );
        }
        // Jobs govern everywhere, but take no part: the RPCs refuse them before any rule.
        assert!(
            acting_person(&Caller::System {
                job: EXPIRY_JOB.job
            })
            .is_err()
        );
    }

    #[test]
    fn a_delegated_token_is_recorded_with_both_people() {
        let (villager, helper) = (Uuid::now_v7(), Uuid::now_v7());
        let caller = Caller::User(principal(
            helper,
            None,
            &[(Role::DigitalHelper, "110101001001")],
        ));
        let actor = &caller.acting_for(villager).actor();
        assert_eq!(actor.user_id, helper.to_string());
        assert_eq!(actor.on_behalf_of_user_id, villager.to_string());
    }
}
