//! The claim RPCs' requests as commands: every bad field collected at once.

use chrono::NaiveDate;
use terrace_platform::auth::AdminScope;
use terrace_platform::error::{Result, Violations};
use terrace_platform::idempotency::Mutation;
use terrace_platform::validate::{self, Page, Text};
use terrace_proto::governance::v1 as pb;
use uuid::Uuid;

use crate::entity::resident_claims::ClaimStatus;
use crate::register::national_id::NationalId;
use crate::register::parse::{MAX_NAME, reason, village_code};

/// `RequestResidentClaim`: the record named by its village, name and national id.
#[derive(Debug)]
pub struct RequestClaim {
    pub mutation: Mutation,
    pub village: AdminScope,
    pub name: String,
    pub national_id: NationalId,
}

impl RequestClaim {
    pub fn parse(request: pb::RequestResidentClaimRequest, today: NaiveDate) -> Result<Self> {
        let mut violations = Violations::new();
        let mutation = Mutation::parse(
            &mut violations,
            "RequestResidentClaim",
            &request.request_id,
            &request,
        );
        let village = village_code(
            &mut violations,
            "village_code",
            request
                .village_code
                .as_ref()
                .map_or("", |code| code.code.as_str()),
        );
        let name = validate::text(
            &mut violations,
            "name",
            request.name.trim(),
            Text::required(MAX_NAME),
        );
        let national_id = NationalId::parse(request.national_id.trim(), today)
            .map_err(|error| violations.add("national_id", error.to_string()))
            .ok();
        violations.finish_with(|| {
            Some(Self {
                mutation: mutation?,
                village: village?,
                name: name?,
                national_id: national_id?,
            })
        })
    }
}

/// `VerifyResidentClaim`: the code typed for a claim.
#[derive(Debug)]
pub struct VerifyClaim {
    pub mutation: Mutation,
    pub claim_id: Uuid,
    pub code: String,
}

impl VerifyClaim {
    pub fn parse(request: pb::VerifyResidentClaimRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let mutation = Mutation::parse(
            &mut violations,
            "VerifyResidentClaim",
            &request.request_id,
            &request,
        );
        let claim_id = validate::id(&mut violations, "claim_id", &request.claim_id, "claim");
        let code = terrace_platform::otp::field(&mut violations, "code", request.code.trim());
        violations.finish_with(|| {
            Some(Self {
                mutation: mutation?,
                claim_id: claim_id?,
                code: code?,
            })
        })
    }
}

/// `ListResidentClaims`: an area's claims, or the caller's own.
#[derive(Debug)]
pub struct ListClaims {
    pub area: Option<AdminScope>,
    pub statuses: Vec<ClaimStatus>,
    pub page: Page<Uuid>,
}

impl ListClaims {
    pub fn parse(request: pb::ListResidentClaimsRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let area = validate::optional_admin_code(&mut violations, "area", request.area.as_ref());
        let mut statuses = Vec::new();
        for (i, status) in request.statuses.iter().enumerate() {
            match status_of(*status) {
                Some(status) => statuses.push(status),
                None => violations.add(
                    format!("statuses[{i}]"),
                    "must be a claim status (awaiting code, awaiting official, confirmed, refused, lapsed)",
                ),
            }
        }
        let page = validate::page(&mut violations, "page", request.page.as_ref());
        violations.finish_with(|| {
            Some(Self {
                area: area?,
                statuses,
                page: page?,
            })
        })
    }
}

/// `DecideResidentClaim`: confirm, or refuse with a reason.
#[derive(Debug)]
pub struct DecideClaim {
    pub mutation: Mutation,
    pub claim_id: Uuid,
    /// `None` confirms; a refusal carries its reason.
    pub refusal: Option<String>,
}

impl DecideClaim {
    pub fn parse(request: pb::DecideResidentClaimRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let mutation = Mutation::parse(
            &mut violations,
            "DecideResidentClaim",
            &request.request_id,
            &request,
        );
        let claim_id = validate::id(&mut violations, "claim_id", &request.claim_id, "claim");
        let refusal = if request.confirm {
            if !request.refusal_reason.trim().is_empty() {
                violations.add("refusal_reason", "must be empty when confirming");
            }
            Some(None)
        } else {
            reason(
                &mut violations,
                "refusal_reason",
                &request.refusal_reason,
                "the villager reads why their claim was refused",
            )
            .map(Some)
        };
        violations.finish_with(|| {
            Some(Self {
                mutation: mutation?,
                claim_id: claim_id?,
                refusal: refusal?,
            })
        })
    }
}

/// A claim status of the contract, as stored.
fn status_of(value: i32) -> Option<ClaimStatus> {
    match pb::ResidentClaimStatus::try_from(value).ok()? {
        pb::ResidentClaimStatus::Unspecified => None,
        pb::ResidentClaimStatus::AwaitingCode => Some(ClaimStatus::AwaitingCode),
        pb::ResidentClaimStatus::AwaitingOfficial => Some(ClaimStatus::AwaitingOfficial),
        pb::ResidentClaimStatus::Confirmed => Some(ClaimStatus::Confirmed),
        pb::ResidentClaimStatus::Refused => Some(ClaimStatus::Refused),
        pb::ResidentClaimStatus::Lapsed => Some(ClaimStatus::Lapsed),
    }
}

/// A stored status in the contract's form.
pub fn status_to_proto(status: ClaimStatus) -> pb::ResidentClaimStatus {
    match status {
        ClaimStatus::AwaitingCode => pb::ResidentClaimStatus::AwaitingCode,
        ClaimStatus::AwaitingOfficial => pb::ResidentClaimStatus::AwaitingOfficial,
        ClaimStatus::Confirmed => pb::ResidentClaimStatus::Confirmed,
        ClaimStatus::Refused => pb::ResidentClaimStatus::Refused,
        ClaimStatus::Lapsed => pb::ResidentClaimStatus::Lapsed,
    }
}
