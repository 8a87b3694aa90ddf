//! A villager's claim of a resident record: `RequestResidentClaim`, `VerifyResidentClaim`,
//! `ListResidentClaims`, `DecideResidentClaim`.
//!
//! An official can link a record to an account directly (`UpdateResident`). A villager can also
//! claim their record themselves, in three steps:
//! 1. **Request**: they name the record by its village, the name on it and the national id on it
//!    (what the person it describes knows). Governance finds the current resident by the keyed
//!    hash of the number, and sends a six-digit code to the phone *on the record*
//!    (`secret.governance.resident_claim.code_requested`, delivered by notify; shown by the
//!    development SMS sink), keeping only the code's keyed hash
//!    ([`terrace_platform::otp`], under a key derived from the national-id hash secret).
//! 2. **Verify**: the right code within [`CODE_LIFETIME`] proves they hold that phone. Every try
//!    is counted before it is checked, in a statement of its own, so a wrong code stays counted;
//!    [`MAX_TRIES`] close the claim.
//! 3. **Decide**: an official of the village (never an agency) confirms it — the record is linked
//!    to the claimant's account, as `UpdateResident` would link it (event, state snapshot, audit
//!    entry) — or refuses it with a reason the villager reads.
//!
//! A claimant makes at most [`CLAIMS_PER_DAY`] claims a day (a code is an SMS someone pays for,
//! and each request tests a name and number). An erased record takes its claims with it.

pub mod parse;
pub mod store;

use std::time::Duration;

use terrace_platform::auth::{Caller, Role};
use terrace_platform::bus::outbox;
use terrace_platform::error::{Error, Result};
use terrace_platform::idempotency::{self, Keep};
use terrace_platform::otp;
use terrace_platform::validate::to_timestamp;
use terrace_proto::governance::v1 as pb;
use uuid::Uuid;

use self::parse::{DecideClaim, ListClaims, RequestClaim, VerifyClaim, status_to_proto};
use super::{Register, audited, decoded_actor, encoded_actor, known_account, officials_only};
use crate::entity::resident_claims::{ClaimStatus, Model as ClaimRow};

/// The claims table.
pub const MIGRATION: terrace_platform::db::SqlMigration = terrace_platform::db::SqlMigration {
    name: "m20261204_100001_governance_resident_claims",
    up: store::MIGRATION_SQL,
};

/// How long a code can be entered.
pub const CODE_LIFETIME: Duration = Duration::from_secs(10 * 60);
/// Codes tried per claim, the right one included.
pub const MAX_TRIES: i32 = 5;
/// Claims one account may make in a day.
pub const CLAIMS_PER_DAY: u64 = 5;
/// What the code's hash is bound to, beside the phone.
const PURPOSE: &str = "resident_claim";

/// `RESOURCE_EXHAUSTED`: the day's claims are used up.
fn too_many() -> Error {
    Error::ResourceExhausted {
        reason: "TOO_MANY_CLAIMS",
        message: format!(
            "at most {CLAIMS_PER_DAY} claims a day; try again tomorrow or ask your village official"
        ),
        retry_after: None,
    }
}

/// The claim an answer carries (every claim RPC answers with one).
fn the_claim(claim: Option<pb::ResidentClaim>) -> Result<pb::ResidentClaim> {
    claim.ok_or_else(|| Error::internal(anyhow::anyhow!("a claim answer without one")))
}

/// `FAILED_PRECONDITION`: the record is someone's already.
fn record_linked() -> Error {
    Error::failed_precondition(
        "RECORD_ALREADY_LINKED",
        "this record is linked to an account already; ask your village official",
    )
}

/// `NOT_FOUND` for a claim the caller may not see.
fn unknown_claim(id: Uuid) -> Error {
    Error::not_found("resident claim", id.to_string())
}

fn masked(phone: &str) -> String {
    terrace_platform::phone::PhoneNumber::parse(phone)
        .map(|phone| phone.masked())
        .unwrap_or_default()
}

impl ClaimRow {
    /// The claim as reads and events show it, with the names given.
    /// The status as of `now`: a code past its time has lapsed, whether or not anyone tried it.
    fn shown_status(&self, now: chrono::DateTime<chrono::Utc>) -> ClaimStatus {
        if self.status == ClaimStatus::AwaitingCode && self.code_expires_at <= now {
            ClaimStatus::Lapsed
        } else {
            self.status
        }
    }

    fn to_proto(
        &self,
        resident_name: &str,
        claimant_display_name: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> pb::ResidentClaim {
        pb::ResidentClaim {
            id: self.id.to_string(),
            resident_id: self.resident_id.to_string(),
            resident_name: resident_name.to_owned(),
            village_code: self.village_code.clone(),
            claimant_user_id: self.claimant_user_id.to_string(),
            claimant_display_name: claimant_display_name.to_owned(),
            status: status_to_proto(self.shown_status(now)) as i32,
            masked_phone_number: masked(&self.phone_number),
            create_time: Some(to_timestamp(self.created_at)),
            code_expire_time: Some(to_timestamp(self.code_expires_at)),
            verify_time: self.verified_at.map(to_timestamp),
            decide_time: self.decided_at.map(to_timestamp),
            decided_by: self.decided_by.as_deref().map(decoded_actor),
            refusal_reason: self.refusal_reason.clone(),
        }
    }
}

impl Register {
    /// `claims` as reads show them: with the records' names and the claimants' display names.
    async fn claims_shown<C: sea_orm::ConnectionTrait>(
        &self,
        conn: &C,
        claims: &[ClaimRow],
    ) -> Result<Vec<pb::ResidentClaim>> {
        let now = self.clock.now();
        let residents: Vec<Uuid> = claims.iter().map(|claim| claim.resident_id).collect();
        let names = store::resident_names(conn, &residents).await?;
        let claimants: Vec<Uuid> = claims.iter().map(|claim| claim.claimant_user_id).collect();
        let claimants = crate::people::display_names(conn, &claimants).await?;
        Ok(claims
            .iter()
            .map(|claim| {
                claim.to_proto(
                    names.get(&claim.resident_id).map_or("", String::as_str),
                    claimants
                        .get(&claim.claimant_user_id)
                        .map_or("", String::as_str),
                    now,
                )
            })
            .collect())
    }

    async fn claim_shown<C: sea_orm::ConnectionTrait>(
        &self,
        conn: &C,
        claim: &ClaimRow,
    ) -> Result<pb::ResidentClaim> {
        let mut shown = self.claims_shown(conn, std::slice::from_ref(claim)).await?;
        shown
            .pop()
            .ok_or_else(|| Error::internal(anyhow::anyhow!("a claim shown as nothing")))
    }

    /// `RequestResidentClaim`.
    pub async fn request_claim(
        &self,
        caller: &Caller,
        command: RequestClaim,
    ) -> Result<pb::ResidentClaim> {
        let user = caller.require_self()?;
        let now = self.clock.now();
        let hash = self.sealer.hash(&command.national_id);
        if let Some(answer) = idempotency::previous::<pb::RequestResidentClaimResponse>(
            &self.db,
            caller,
            &command.mutation,
        )
        .await?
        {
            return the_claim(answer.claim);
        }
        let day_ago = now - chrono::Duration::days(1);
        // Every request counts, found or not, in a statement of its own committed before the
        // lookup: a refused request is rolled back, and an uncounted one would let anyone test
        // names and ID numbers against the register without end.
        if store::count_request(&self.db, user, now, day_ago).await? > CLAIMS_PER_DAY {
            return Err(too_many());
        }
        let answer = idempotency::once(
            &self.db,
            caller,
            &command.mutation,
            now,
            Keep::Answer,
            async |txn| {
                if super::store::current_of_user(txn, user).await?.is_some() {
                    return Err(super::store::account_taken(user));
                }
                let resident = store::current_in_village(txn, command.village.as_str(), &hash)
                    .await?
                    .filter(|resident| resident.name == command.name)
                    .ok_or_else(|| {
                        Error::not_found(
                            "current resident of that village with that name and ID number",
                            command.village.as_str(),
                        )
                    })?;
                if resident.user_id.is_some() {
                    return Err(record_linked());
                }
                if resident.phone_number.is_empty() {
                    return Err(Error::failed_precondition(
                        "NO_PHONE_ON_RECORD",
                        "this record has no phone number to send a code to; ask your village \
                         official to link your account",
                    ));
                }
                // A phone receives at most as many codes a day as an account asks for.
                if store::made_for_since(txn, resident.id, day_ago).await? >= CLAIMS_PER_DAY {
                    return Err(too_many());
                }
                store::lapse_unproven(txn, user).await?;
                let code = otp::generate();
                let claim = ClaimRow {
                    id: Uuid::now_v7(),
                    resident_id: resident.id,
                    village_code: resident.village_code.clone(),
                    claimant_user_id: user,
                    status: ClaimStatus::AwaitingCode,
                    phone_number: resident.phone_number.clone(),
                    code_hash: otp::hash(
                        self.sealer.code_key(),
                        &resident.phone_number,
                        PURPOSE,
                        &code,
                    ),
                    attempts: 0,
                    created_at: now,
                    code_expires_at: now
                        + chrono::Duration::from_std(CODE_LIFETIME).map_err(Error::internal)?,
                    verified_at: None,
                    decided_at: None,
                    decided_by: None,
                    refusal_reason: String::new(),
                };
                store::insert(txn, claim.clone()).await?;
                outbox::publish(
                    txn,
                    &self.source,
                    &pb::ResidentClaimCodeRequested {
                        claim_id: claim.id.to_string(),
                        phone_number: claim.phone_number.clone(),
                        claimant_user_id: user.to_string(),
                        code,
                        locale: terrace_platform::i18n::current().tag().to_owned(),
                        expire_time: Some(to_timestamp(claim.code_expires_at)),
                    },
                )
                .await?;
                tracing::info!(claim_id = %claim.id, resident_id = %resident.id, "resident claim requested");
                Ok(pb::RequestResidentClaimResponse {
                    claim: Some(self.claim_shown(txn, &claim).await?),
                })
            },
        )
        .await?;
        the_claim(answer.claim)
    }

    /// `VerifyResidentClaim`: the try counted first (see the module), then the claim moved on in
    /// the request's transaction. A retry of a request that proved the claim gets its answer.
    pub async fn verify_claim(
        &self,
        caller: &Caller,
        command: VerifyClaim,
    ) -> Result<pb::ResidentClaim> {
        let user = caller.require_self()?;
        let answered = async || {
            idempotency::previous::<pb::VerifyResidentClaimResponse>(
                &self.db,
                caller,
                &command.mutation,
            )
            .await
        };
        if let Some(answer) = answered().await? {
            return the_claim(answer.claim);
        }
        let now = self.clock.now();
        let Some(claim) = store::count_try(&self.db, command.claim_id, user, MAX_TRIES).await?
        else {
            // A retry of a request that proved the claim meanwhile gets its answer.
            if let Some(answer) = answered().await? {
                return the_claim(answer.claim);
            }
            let claim = store::find(&self.db, command.claim_id, false)
                .await?
                .filter(|claim| claim.claimant_user_id == user)
                .ok_or_else(|| unknown_claim(command.claim_id))?;
            if claim.status == ClaimStatus::AwaitingCode {
                // Its tries are used up (see `count_try`).
                store::lapse(&self.db, claim.id).await?;
                return Err(Error::failed_precondition(
                    "CLAIM_TRIES_EXHAUSTED",
                    "too many wrong codes; make a new claim",
                ));
            }
            return Err(match claim.status {
                ClaimStatus::AwaitingOfficial | ClaimStatus::Confirmed => {
                    Error::failed_precondition(
                        "CLAIM_ALREADY_PROVEN",
                        "this claim was proven already",
                    )
                }
                _ => Error::failed_precondition(
                    "CLAIM_CLOSED",
                    "this claim is closed; make a new one",
                ),
            });
        };
        if claim.code_expires_at <= now {
            store::lapse(&self.db, claim.id).await?;
            return Err(Error::failed_precondition(
                "CLAIM_CODE_EXPIRED",
                "the code has expired; make a new claim",
            ));
        }
        if !otp::matches(
            self.sealer.code_key(),
            &claim.phone_number,
            PURPOSE,
            &command.code,
            &claim.code_hash,
        ) {
            let left = MAX_TRIES - claim.attempts;
            if left <= 0 {
                store::lapse(&self.db, claim.id).await?;
                return Err(Error::failed_precondition(
                    "CLAIM_TRIES_EXHAUSTED",
                    "too many wrong codes; make a new claim",
                ));
            }
            return Err(Error::invalid(
                "code",
                format!("wrong code; {left} attempts left"),
            ));
        }
        let result = idempotency::once(
            &self.db,
            caller,
            &command.mutation,
            now,
            Keep::Answer,
            async |txn| {
                let mut claim = store::find(txn, claim.id, true)
                    .await?
                    .ok_or_else(|| unknown_claim(claim.id))?;
                if claim.status != ClaimStatus::AwaitingCode {
                    return Err(Error::failed_precondition(
                        "CLAIM_ALREADY_PROVEN",
                        "this claim was proven already",
                    ));
                }
                claim.status = ClaimStatus::AwaitingOfficial;
                claim.verified_at = Some(now);
                store::update(txn, claim.clone()).await?;
                let shown = self.claim_shown(txn, &claim).await?;
                outbox::publish(
                    txn,
                    &self.source,
                    &pb::ResidentClaimVerified {
                        claim: Some(shown.clone()),
                    },
                )
                .await?;
                Ok(pb::VerifyResidentClaimResponse { claim: Some(shown) })
            },
        )
        .await;
        // A retry that raced the first request: the first answer, if it was given.
        let answer = match result {
            Ok(answer) => answer,
            Err(error) => answered().await?.ok_or(error)?,
        };
        the_claim(answer.claim)
    }

    /// `ListResidentClaims`: an area's (its officials) or the caller's own.
    pub async fn list_claims(
        &self,
        caller: &Caller,
        query: ListClaims,
    ) -> Result<(Vec<pb::ResidentClaim>, Option<Uuid>)> {
        let claimant = match &query.area {
            Some(area) => {
                if !caller.covers(area, Role::VillageOfficial.rank(), None) {
                    return Err(Error::permission_denied(
                        "OUT_OF_AREA",
                        "you do not govern this area",
                    ));
                }
                None
            }
            None => Some(caller.require_self()?),
        };
        let rows = store::list(
            &self.db,
            query.area.as_ref(),
            claimant,
            &query.statuses,
            query.page.after,
            query.page.fetch_limit(),
        )
        .await?;
        let (rows, next) = query
            .page
            .finish(rows, |rows| rows.last().map(|row| row.id));
        Ok((self.claims_shown(&self.db, &rows).await?, next))
    }

    /// `DecideResidentClaim`.
    pub async fn decide_claim(
        &self,
        caller: &Caller,
        command: DecideClaim,
    ) -> Result<pb::ResidentClaim> {
        let now = self.clock.now();
        let answer = idempotency::once(
            &self.db,
            caller,
            &command.mutation,
            now,
            Keep::Answer,
            async |txn| {
                let id = command.claim_id;
                // The record before the claim, the order an erasure locks them in (the record,
                // then its claims by cascade), so that the two never wait on each other.
                let claimed = store::find(txn, id, false)
                    .await?
                    .ok_or_else(|| unknown_claim(id))?;
                let resident = super::store::resident(txn, claimed.resident_id, true).await?;
                let mut claim = store::find(txn, id, true)
                    .await?
                    .ok_or_else(|| unknown_claim(id))?;
                let village = super::village_of(&claim.village_code)?;
                officials_only(
                    caller,
                    &village,
                    super::REGISTER_WRITE,
                    || unknown_claim(id),
                    "only an official of the village may decide a claim",
                )?;
                if claim.status != ClaimStatus::AwaitingOfficial {
                    return Err(Error::failed_precondition(
                        "CLAIM_NOT_AWAITING_OFFICIAL",
                        "this claim is not waiting for an official's decision",
                    ));
                }
                let audit = match &command.refusal {
                    None => {
                        let resident = resident.ok_or_else(|| unknown_claim(id))?;
                        self.link_claimed(txn, caller, &claim, resident, now)
                            .await?;
                        claim.status = ClaimStatus::Confirmed;
                        (
                            "resident.claim_confirmed",
                            serde_json::json!({
                                "claim_id": claim.id,
                                "linked_user": claim.claimant_user_id,
                            }),
                        )
                    }
                    Some(reason) => {
                        claim.status = ClaimStatus::Refused;
                        claim.refusal_reason.clone_from(reason);
                        (
                            "resident.claim_refused",
                            serde_json::json!({
                                "claim_id": claim.id,
                                "claimant": claim.claimant_user_id,
                                "reason": reason,
                            }),
                        )
                    }
                };
                claim.decided_at = Some(now);
                claim.decided_by = Some(encoded_actor(caller));
                store::update(txn, claim.clone()).await?;
                let shown = self.claim_shown(txn, &claim).await?;
                outbox::publish(
                    txn,
                    &self.source,
                    &pb::ResidentClaimDecided {
                        claim: Some(shown.clone()),
                        actor: Some(caller.actor()),
                    },
                )
                .await?;
                // Last: the county's chain head stays locked from here to the commit.
                audited(
                    txn,
                    caller,
                    audit.0,
                    ("resident", claim.resident_id),
                    &claim.village_code,
                    audit.1,
                    now,
                )
                .await?;
                Ok(pb::DecideResidentClaimResponse { claim: Some(shown) })
            },
        )
        .await?;
        the_claim(answer.claim)
    }

    /// Links the claimed record (`row`, locked) to the claimant, as `UpdateResident` would: the
    /// same checks, the event and the state snapshot (the caller appends the audit entry).
    async fn link_claimed(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        caller: &Caller,
        claim: &ClaimRow,
        mut row: super::ResidentRow,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<()> {
        if row.phone_number != claim.phone_number {
            return Err(Error::failed_precondition(
                "RECORD_CHANGED",
                "the record's phone changed after the code was sent; the villager must claim again",
            ));
        }
        if !row.status.is_current() {
            return Err(Error::failed_precondition(
                "RESIDENT_NOT_CURRENT",
                "the record is no longer of a current resident",
            ));
        }
        if row.user_id.is_some() {
            return Err(record_linked());
        }
        let claimant = claim.claimant_user_id;
        known_account(txn, Some(claimant)).await?;
        if super::store::current_of_user(txn, claimant)
            .await?
            .is_some()
        {
            return Err(super::store::account_taken(claimant));
        }
        row.user_id = Some(claimant);
        row.updated_at = now;
        row.updated_by = encoded_actor(caller);
        super::store::update_resident(txn, row.clone()).await?;
        self.publish_resident_updated(txn, caller, &row, vec!["user_id".to_owned()])
            .await
    }
}
