//! A villager's claim of their record: the code goes to the phone on the record, the right code
//! puts the claim before the village's officials, a confirmation links the record; wrong codes,
//! expiry, refusals, the daily limit and erasure.

use std::time::Duration;

use terrace_platform::auth::Role;
use terrace_proto::common::v1 as common;
use terrace_proto::governance::v1 as pb;
use terrace_testkit::rpc::{assert_refused, reason, request_id, violated_fields};
use tonic::Code;

use super::{NEIGHBOUR, VILLAGE, World, member, national_id};

/// Reads the claim codes governance sends, as notify will.
type Texts = terrace_testkit::events::Texts<pb::ResidentClaimCodeRequested>;

fn village(code: &str) -> Option<common::AdminCode> {
    Some(
        terrace_platform::auth::AdminScope::parse(code)
            .unwrap()
            .to_proto(),
    )
}

impl World {
    async fn claim(
        &mut self,
        token: &str,
        name: &str,
        number: &str,
    ) -> Result<pb::ResidentClaim, tonic::Status> {
        let request = pb::RequestResidentClaimRequest {
            request_id: request_id(),
            village_code: village(VILLAGE),
            name: name.into(),
            national_id: number.into(),
        };
        Ok(self
            .client
            .request_resident_claim(self.app.request(request, token))
            .await?
            .into_inner()
            .claim
            .unwrap())
    }

    async fn verify(
        &mut self,
        token: &str,
        claim: &str,
        code: &str,
        request_id: &str,
    ) -> Result<pb::ResidentClaim, tonic::Status> {
        let request = pb::VerifyResidentClaimRequest {
            request_id: request_id.into(),
            claim_id: claim.into(),
            code: code.into(),
        };
        Ok(self
            .client
            .verify_resident_claim(self.app.request(request, token))
            .await?
            .into_inner()
            .claim
            .unwrap())
    }

    async fn decide(
        &mut self,
        token: &str,
        claim: &str,
        confirm: bool,
        refusal_reason: &str,
    ) -> Result<pb::ResidentClaim, tonic::Status> {
        let request = pb::DecideResidentClaimRequest {
            request_id: request_id(),
            claim_id: claim.into(),
            confirm,
            refusal_reason: refusal_reason.into(),
        };
        Ok(self
            .client
            .decide_resident_claim(self.app.request(request, token))
            .await?
            .into_inner()
            .claim
            .unwrap())
    }

    async fn claims(
        &mut self,
        token: &str,
        area: Option<&str>,
        statuses: &[pb::ResidentClaimStatus],
    ) -> Result<Vec<pb::ResidentClaim>, tonic::Status> {
        let request = pb::ListResidentClaimsRequest {
            area: area.and_then(village),
            statuses: statuses.iter().map(|s| *s as i32).collect(),
            page: None,
        };
        Ok(self
            .client
            .list_resident_claims(self.app.request(request, token))
            .await?
            .into_inner()
            .claims)
    }

    /// A household of 余村 with one resident: `name`, `number`, the phone 13800138000.
    async fn record(&mut self, household: &str, name: &str, number: &str) -> pb::Resident {
        let official = self.official.clone();
        let household = self.household(&official, VILLAGE, household).await.unwrap();
        self.resident(&official, member(&household, name, number))
            .await
            .unwrap()
    }

    fn wrong(code: &str) -> String {
        format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000)
    }
}

#[tokio::test]
async fn a_villager_proves_a_claim_with_the_code_and_an_official_confirms_it() {
    let mut w = World::new().await;
    let mut texts = Texts::listen(&w.app).await;
    let number = national_id(11);
    let resident = w.record("C-001", "王秀英", &number).await;
    let (villager, token) = w.villager("+8613900139001", "王秀英").await;

    // The record is found only by its village, its name and its number.
    let status = w.claim(&token, "王秀", &number).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    let status = w
        .claim(&token, "王秀英", &national_id(13))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");

    let claim = w.claim(&token, "王秀英", &number).await.unwrap();
    assert_eq!(claim.status, pb::ResidentClaimStatus::AwaitingCode as i32);
    assert_eq!(claim.resident_id, resident.id);
    assert_eq!(claim.masked_phone_number, "…8000");
    // The code goes to the phone on the record, not the claimant's.
    let text = texts.next().await;
    assert_eq!(text.claim_id, claim.id);
    assert_eq!(text.phone_number, "+8613800138000");
    assert_eq!(text.claimant_user_id, villager.to_string());

    let wrong = w
        .verify(&token, &claim.id, &World::wrong(&text.code), &request_id())
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&wrong), ["code"]);
    assert!(
        wrong.message().contains("4 attempts left"),
        "{}",
        wrong.message()
    );
    // Someone else's claim is unknown to them.
    let (_, stranger) = w.villager("+8613900139002", "张三").await;
    let status = w
        .verify(&stranger, &claim.id, &text.code, &request_id())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);

    let proving = request_id();
    let proven = w
        .verify(&token, &claim.id, &text.code, &proving)
        .await
        .unwrap();
    assert_eq!(
        proven.status,
        pb::ResidentClaimStatus::AwaitingOfficial as i32
    );
    assert!(proven.verify_time.is_some());
    // A retry gets the same answer; a second proof is refused.
    let again = w
        .verify(&token, &claim.id, &text.code, &proving)
        .await
        .unwrap();
    assert_eq!(again, proven);
    assert_refused(
        w.verify(&token, &claim.id, &text.code, &request_id()).await,
        Code::FailedPrecondition,
        "CLAIM_ALREADY_PROVEN",
    );

    // The claimant sees their claim; the village's official sees it with the claimant's name;
    // the neighbouring village's official neither sees nor decides it.
    let mine = w.claims(&token, None, &[]).await.unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].resident_name, "王秀英");
    let official = w.official.clone();
    let waiting = w
        .claims(
            &official,
            Some(VILLAGE),
            &[pb::ResidentClaimStatus::AwaitingOfficial],
        )
        .await
        .unwrap();
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].claimant_display_name, "王秀英");
    let (_, neighbour) = w.user(Role::VillageOfficial, NEIGHBOUR);
    let status = w.claims(&neighbour, Some(VILLAGE), &[]).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    let status = w.decide(&neighbour, &claim.id, true, "").await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound);

    let confirmed = w.decide(&official, &claim.id, true, "").await.unwrap();
    assert_eq!(confirmed.status, pb::ResidentClaimStatus::Confirmed as i32);
    assert!(confirmed.decided_by.is_some());
    let mine = w
        .client
        .get_my_resident(w.app.request(pb::GetMyResidentRequest {}, &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(mine.resident.unwrap().id, resident.id);
    assert_eq!(
        w.count(
            "SELECT count(*) AS n FROM audit_entries WHERE action = 'resident.claim_confirmed'"
        )
        .await,
        1
    );
    let status = w
        .decide(&official, &claim.id, false, "decided twice")
        .await
        .unwrap_err();
    assert_eq!(reason(&status), "CLAIM_NOT_AWAITING_OFFICIAL");
    // Linked now: no second claim.
    let status = w.claim(&token, "王秀英", &number).await.unwrap_err();
    assert_eq!(reason(&status), "ACCOUNT_ALREADY_LINKED");
}

#[tokio::test]
async fn bad_claims_change_nothing_and_codes_run_out_expire_or_are_refused() {
    let mut w = World::new().await;
    let mut texts = Texts::listen(&w.app).await;
    let number = national_id(21);
    let resident = w.record("C-002", "赵大山", &number).await;
    let (villager, token) = w.villager("+8613900139003", "赵大山").await;
    let claims_now = "SELECT count(*) AS n FROM resident_claims";

    // Every bad field at once; a wrong check digit; nothing written.
    let status = w
        .client
        .request_resident_claim(w.app.request(
            pb::RequestResidentClaimRequest {
                request_id: String::new(),
                village_code: village("330523108"),
                name: " ".into(),
                // The right number with another check digit.
                national_id: format!(
                    "{}{}",
                    &number[..17],
                    if number.ends_with('0') { '1' } else { '0' }
                ),
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        violated_fields(&status),
        ["request_id", "village_code", "name", "national_id"]
    );
    assert_eq!(w.count(claims_now).await, 0);

    // A record without a phone cannot be claimed by code.
    let official = w.official.clone();
    let household = w.household(&official, VILLAGE, "C-003").await.unwrap();
    let silent = national_id(23);
    w.resident(
        &official,
        pb::Resident {
            phone_number: String::new(),
            ..member(&household, "钱小二", &silent)
        },
    )
    .await
    .unwrap();
    let status = w.claim(&token, "钱小二", &silent).await.unwrap_err();
    assert_eq!(reason(&status), "NO_PHONE_ON_RECORD");
    assert_eq!(w.count(claims_now).await, 0);

    // Five wrong codes close the claim: the right one no longer works.
    let claim = w.claim(&token, "赵大山", &number).await.unwrap();
    let code = texts.next().await.code;
    for left in (1..5).rev() {
        let status = w
            .verify(&token, &claim.id, &World::wrong(&code), &request_id())
            .await
            .unwrap_err();
        assert!(
            status.message().contains(&format!("{left} attempts left")),
            "{}",
            status.message()
        );
    }
    let status = w
        .verify(&token, &claim.id, &World::wrong(&code), &request_id())
        .await
        .unwrap_err();
    assert_eq!(reason(&status), "CLAIM_TRIES_EXHAUSTED");
    let status = w
        .verify(&token, &claim.id, &code, &request_id())
        .await
        .unwrap_err();
    assert_eq!(reason(&status), "CLAIM_CLOSED");

    // A code is good for ten minutes of the service clock.
    let claim = w.claim(&token, "赵大山", &number).await.unwrap();
    let code = texts.next().await.code;
    w.app.clock.advance(Duration::from_secs(11 * 60));
    let status = w
        .verify(&token, &claim.id, &code, &request_id())
        .await
        .unwrap_err();
    assert_eq!(reason(&status), "CLAIM_CODE_EXPIRED");

    // A newer claim replaces an unproven one; a refusal needs a reason the villager reads.
    let first = w.claim(&token, "赵大山", &number).await.unwrap();
    let _ = texts.next().await;
    let claim = w.claim(&token, "赵大山", &number).await.unwrap();
    let code = texts.next().await.code;
    let status = w
        .verify(&token, &first.id, &code, &request_id())
        .await
        .unwrap_err();
    assert_eq!(reason(&status), "CLAIM_CLOSED");
    w.verify(&token, &claim.id, &code, &request_id())
        .await
        .unwrap();
    let status = w
        .decide(&official, &claim.id, false, "no")
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["refusal_reason"]);
    let refused = w
        .decide(&official, &claim.id, false, "户主本人未到场核实")
        .await
        .unwrap();
    assert_eq!(refused.status, pb::ResidentClaimStatus::Refused as i32);
    let mine = w.claims(&token, None, &[]).await.unwrap();
    assert_eq!(mine[0].refusal_reason, "户主本人未到场核实");
    assert_eq!(
        mine.iter()
            .filter(|c| c.status == pb::ResidentClaimStatus::Lapsed as i32)
            .count(),
        3
    );

    // Five claim requests a day are the most, refused ones included (the record without a phone
    // was the first), so that names and numbers cannot be tried against the register without end.
    let status = w.claim(&token, "赵大山", &number).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    w.app.clock.advance(Duration::from_secs(86_400));
    // Tokens of the day after.
    let token = w
        .app
        .token(&villager.to_string(), &[(Role::Resident, VILLAGE)]);
    let (_, official) = w.user(Role::VillageOfficial, VILLAGE);
    let claim = w.claim(&token, "赵大山", &number).await.unwrap();
    let code = texts.next().await.code;
    w.verify(&token, &claim.id, &code, &request_id())
        .await
        .unwrap();
    // The record's phone changed after the code went out: the proof no longer holds.
    w.client
        .update_resident(w.app.request(
            pb::UpdateResidentRequest {
                request_id: request_id(),
                resident: Some(pb::Resident {
                    id: resident.id.clone(),
                    phone_number: "13700137000".into(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["phone_number".into()],
                }),
            },
            &official,
        ))
        .await
        .unwrap();
    let status = w.decide(&official, &claim.id, true, "").await.unwrap_err();
    assert_eq!(reason(&status), "RECORD_CHANGED");

    // Erasing the record takes its claims with it.
    w.client
        .erase_resident(w.app.request(
            pb::EraseResidentRequest {
                request_id: request_id(),
                resident_id: resident.id.clone(),
                reason: "本人申请删除".into(),
            },
            &official,
        ))
        .await
        .unwrap();
    assert_eq!(w.count(claims_now).await, 0);
}
