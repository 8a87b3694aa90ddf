//! The village register over gRPC: households and residents registered and read back with the
//! national id masked, the number sealed at rest, duplicates found by the keyed hash, reveals
//! written to the resident's access log, bad input refused field by field, and who may do what.

use sea_orm::{ConnectionTrait as _, DatabaseConnection, Statement};
use terrace_governance::Governance;
use terrace_governance::register::national_id::with_check_digit;
use terrace_platform::auth::Role;
use terrace_platform::service::ServiceDef;
use terrace_proto::common::v1 as common;
use terrace_proto::governance::v1 as pb;
use terrace_proto::governance::v1::governance_service_client::GovernanceServiceClient;
use terrace_testkit::TestApp;
use terrace_testkit::rpc::{assert_refused, reason, request_id, violated_fields};
use tonic::Code;
use tonic::transport::Channel;
use uuid::Uuid;

mod claims;

/// 余村, of 天荒坪镇, of 安吉县.
const VILLAGE: &str = "330523108204";
/// Another village of the same township.
const NEIGHBOUR: &str = "330523108201";
const TOWNSHIP: &str = "330523108";
const COUNTY: &str = "330523";

/// A valid national id born 1980-01-01 with sequence `seq` (odd: a man).
fn national_id(seq: u32) -> String {
    with_check_digit(&format!("33052319800101{seq:03}")).unwrap()
}

struct World {
    app: TestApp,
    db: DatabaseConnection,
    client: GovernanceServiceClient<Channel>,
    /// A village official of 余村.
    official: String,
}

impl World {
    async fn new() -> Self {
        let services = [
            ServiceDef::of::<Governance>(),
            ServiceDef::of::<terrace_identity::Identity>(),
        ];
        let app = TestApp::spawn_with(&services, |settings| {
            settings.services.insert(
                "governance".into(),
                serde_json::json!({ "demo_divisions": true }),
            );
        })
        .await;
        let db = app.ctx.database("governance").await;
        let client = GovernanceServiceClient::new(app.channel().await);
        let official = app
            .seed_user(
                "+8613800138001",
                "李建国",
                &[(Role::VillageOfficial, VILLAGE)],
            )
            .await;
        let w = Self {
            app,
            db,
            client,
            official: official.token,
        };
        w.known(official.id).await;
        w
    }

    /// A villager with an account in identity, known to governance (so a record can be linked to
    /// it).
    async fn villager(&self, phone: &str, name: &str) -> (Uuid, String) {
        let user = self
            .app
            .seed_user(phone, name, &[(Role::Resident, VILLAGE)])
            .await;
        self.known(user.id).await;
        (user.id, user.token)
    }

    /// Waits until governance's projection of identity's users holds `user`.
    async fn known(&self, user: Uuid) {
        let sql = format!("SELECT count(*) AS n FROM known_users WHERE id = '{user}'");
        terrace_testkit::eventually(
            "the user projected into governance",
            std::time::Duration::from_secs(20),
            || async { (self.count(&sql).await == 1).then_some(()) },
        )
        .await;
    }

    fn user(&self, role: Role, area: &str) -> (Uuid, String) {
        let id = Uuid::now_v7();
        (id, self.app.token(&id.to_string(), &[(role, area)]))
    }

    async fn household(
        &mut self,
        token: &str,
        village: &str,
        number: &str,
    ) -> Result<pb::Household, tonic::Status> {
        let request = pb::CreateHouseholdRequest {
            request_id: request_id(),
            household: Some(pb::Household {
                village_code: village.into(),
                household_number: number.into(),
                address: "一组 12 号".into(),
                ..Default::default()
            }),
        };
        let answer = self
            .client
            .create_household(self.app.request(request, token))
            .await?;
        Ok(answer.into_inner().household.unwrap())
    }

    async fn resident(
        &mut self,
        token: &str,
        resident: pb::Resident,
    ) -> Result<pb::Resident, tonic::Status> {
        let request = pb::CreateResidentRequest {
            request_id: request_id(),
            resident: Some(resident),
        };
        let answer = self
            .client
            .create_resident(self.app.request(request, token))
            .await?;
        Ok(answer.into_inner().resident.unwrap())
    }

    /// `UpdateResident` of `resident`'s status alone.
    async fn set_status(
        &mut self,
        token: &str,
        resident: &str,
        status: pb::ResidentStatus,
    ) -> Result<pb::Resident, tonic::Status> {
        let request = pb::UpdateResidentRequest {
            request_id: request_id(),
            resident: Some(pb::Resident {
                id: resident.into(),
                status: status as i32,
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["status".into()],
            }),
        };
        let answer = self
            .client
            .update_resident(self.app.request(request, token))
            .await?;
        Ok(answer.into_inner().resident.unwrap())
    }

    async fn reveal(
        &mut self,
        token: &str,
        resident: &str,
        reason: &str,
    ) -> Result<pb::RevealResidentNationalIdResponse, tonic::Status> {
        self.reveal_as(token, resident, reason, &request_id()).await
    }

    async fn reveal_as(
        &mut self,
        token: &str,
        resident: &str,
        reason: &str,
        request_id: &str,
    ) -> Result<pb::RevealResidentNationalIdResponse, tonic::Status> {
        let request = pb::RevealResidentNationalIdRequest {
            request_id: request_id.into(),
            resident_id: resident.into(),
            reason: reason.into(),
        };
        Ok(self
            .client
            .reveal_resident_national_id(self.app.request(request, token))
            .await?
            .into_inner())
    }

    async fn access_log(
        &mut self,
        token: &str,
        resident: &str,
    ) -> Result<Vec<pb::ResidentAccessLogEntry>, tonic::Status> {
        let request = pb::ListResidentAccessLogRequest {
            resident_id: resident.into(),
            ..Default::default()
        };
        Ok(self
            .client
            .list_resident_access_log(self.app.request(request, token))
            .await?
            .into_inner()
            .entries)
    }

    async fn count(&self, sql: &str) -> i64 {
        let row = self
            .db
            .query_one_raw(Statement::from_string(
                self.db.get_database_backend(),
                sql.to_owned(),
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get("", "n").unwrap()
    }

    /// Rows of the register's tables: households, residents, access log entries.
    async fn footprint(&self) -> (i64, i64, i64) {
        (
            self.count("SELECT count(*) AS n FROM households").await,
            self.count("SELECT count(*) AS n FROM residents").await,
            self.count("SELECT count(*) AS n FROM resident_access_log")
                .await,
        )
    }
}

fn member(household: &pb::Household, name: &str, national_id: &str) -> pb::Resident {
    pb::Resident {
        household_id: household.id.clone(),
        name: name.into(),
        relationship: pb::HouseholdRelationship::Head as i32,
        phone_number: "13800138000".into(),
        national_id: national_id.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_resident_is_registered_read_back_masked_and_sealed_at_rest() {
    let mut w = World::new().await;
    let official = w.official.clone();
    let household = w.household(&official, VILLAGE, "A-001").await.unwrap();
    assert_eq!(household.member_count, 0);
    let number = national_id(123);
    let resident = w
        .resident(&official, member(&household, "王秀英", &number))
        .await
        .unwrap();
    assert_eq!(resident.village_code, VILLAGE);
    assert_eq!(resident.national_id, "");
    assert_eq!(
        resident.national_id_masked,
        format!("330523********{}", &number[14..])
    );
    assert_eq!(resident.phone_number, "+8613800138000");
    // What the number says filled in what the request left out.
    assert_eq!(
        resident.birth_date,
        Some(common::Date {
            year: 1980,
            month: 1,
            day: 1
        })
    );
    assert_eq!(resident.gender, pb::Gender::Male as i32);
    assert_eq!(resident.status, pb::ResidentStatus::Active as i32);

    // The household counts its member and took the head of household.
    let read = w
        .client
        .get_household(w.app.request(
            pb::GetHouseholdRequest {
                household_id: household.id.clone(),
            },
            &official,
        ))
        .await
        .unwrap()
        .into_inner();
    let read_household = read.household.unwrap();
    assert_eq!(read_household.member_count, 1);
    assert_eq!(read_household.head_resident_id, resident.id);
    assert_eq!(read_household.head_name, "王秀英");
    let listed = w
        .client
        .list_households(w.app.request(
            pb::ListHouseholdsRequest {
                area: Some(common::AdminCode {
                    code: VILLAGE.into(),
                    level: common::AdminLevel::Village as i32,
                }),
                ..Default::default()
            },
            &official,
        ))
        .await
        .unwrap()
        .into_inner()
        .households;
    assert_eq!(
        listed
            .iter()
            .map(|h| (
                h.household_number.as_str(),
                h.member_count,
                h.head_name.as_str()
            ))
            .collect::<Vec<_>>(),
        [("A-001", 1, "王秀英")]
    );
    assert_eq!(read.members.len(), 1);
    assert_eq!(
        read.members[0].national_id_masked,
        resident.national_id_masked
    );

    // At rest: no column of any row holds the number, as text or as bytes.
    let hex: String = number.bytes().map(|b| format!("{b:02x}")).collect();
    let clear = format!(
        "SELECT count(*) AS n FROM residents r WHERE r::text LIKE '%{number}%' \
         OR encode(r.national_id_sealed, 'hex') LIKE '%{hex}%' \
         OR encode(r.national_id_hash, 'hex') LIKE '%{hex}%'"
    );
    assert_eq!(w.count(&clear).await, 0);
    assert_eq!(
        w.count("SELECT count(*) AS n FROM residents WHERE national_id_sealed IS NOT NULL AND national_id_key = 'development'")
            .await,
        1
    );
    // Nor any event or state snapshot: not even the masked form.
    for subject in [
        "governance.resident.registered",
        "governance.household.registered",
    ] {
        assert_eq!(
            terrace_testkit::events::published(&w.app, "governance", subject).await,
            1,
            "{subject}"
        );
    }
    let masked = resident.national_id_masked.clone();
    let leaked = format!(
        "SELECT count(*) AS n FROM outbox WHERE position(convert_to('{number}', 'UTF8') in payload) > 0 \
         OR position(convert_to('{masked}', 'UTF8') in payload) > 0"
    );
    assert_eq!(w.count(&leaked).await, 0);

    // Listed in the village by name prefix and by phone.
    for query in ["王", "13800138000"] {
        let listed = w
            .client
            .list_residents(w.app.request(
                pb::ListResidentsRequest {
                    area: Some(common::AdminCode {
                        code: VILLAGE.into(),
                        level: common::AdminLevel::Village as i32,
                    }),
                    query: query.into(),
                    ..Default::default()
                },
                &official,
            ))
            .await
            .unwrap()
            .into_inner()
            .residents;
        assert_eq!(listed.len(), 1, "{query}");
        assert_eq!(listed[0].id, resident.id);
    }
}

#[tokio::test]
async fn a_number_is_current_once_per_county_found_without_decrypting() {
    let mut w = World::new().await;
    let official = w.official.clone();
    let (_, township) = w.user(Role::TownshipOfficial, TOWNSHIP);
    let home = w.household(&official, VILLAGE, "A-001").await.unwrap();
    let away = w.household(&township, NEIGHBOUR, "B-001").await.unwrap();
    let number = national_id(125);
    let first = w
        .resident(&official, member(&home, "李四", &number))
        .await
        .unwrap();
    let before = w.footprint().await;
    // In another village of the county, or typed in lower case: the same number.
    let lower = number.to_lowercase();
    for (household, typed) in [(&away, number.as_str()), (&home, lower.as_str())] {
        let refused = w
            .resident(&township, member(household, "李四", typed))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::AlreadyExists, "{refused:?}");
    }
    assert_eq!(w.footprint().await, before, "nothing changed");

    // Once the first record moved out, the number may be registered again.
    w.set_status(&official, &first.id, pb::ResidentStatus::MovedOut)
        .await
        .unwrap();
    let again = w
        .resident(&township, member(&away, "李四", &number))
        .await
        .unwrap();
    assert_eq!(again.national_id_masked, first.national_id_masked);
    // And the moved-out record cannot come back while the new one is current.
    let refused = w
        .set_status(&official, &first.id, pb::ResidentStatus::Active)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::AlreadyExists);
}

#[tokio::test]
async fn every_reveal_is_in_the_access_log_the_resident_reads() {
    let mut w = World::new().await;
    let official = w.official.clone();
    let household = w.household(&official, VILLAGE, "A-001").await.unwrap();
    let (villager, villager_token) = w.villager("+8613800138002", "张三").await;
    let number = national_id(127);
    let mut record = member(&household, "张三", &number);
    record.user_id = villager.to_string();
    let resident = w.resident(&official, record).await.unwrap();

    let revealed = w
        .reveal(&official, &resident.id, "办理低保核对身份")
        .await
        .unwrap();
    assert_eq!(revealed.national_id, number);
    let entry = revealed.access_log_entry.unwrap();
    assert_eq!(entry.field, "national_id");
    assert_eq!(entry.reason, "办理低保核对身份");

    // A retry of the same request does not hand the number out again, nor log it twice.
    let request = request_id();
    w.reveal_as(&official, &resident.id, "医保报销核对", &request)
        .await
        .unwrap();
    assert_refused(
        w.reveal_as(&official, &resident.id, "医保报销核对", &request)
            .await,
        Code::FailedPrecondition,
        "ANSWER_NOT_KEPT",
    );

    // The villager reads who looked, when and why: newest first.
    let log = w.access_log(&villager_token, &resident.id).await.unwrap();
    assert_eq!(
        log.iter().map(|e| e.reason.as_str()).collect::<Vec<_>>(),
        ["医保报销核对", "办理低保核对身份"]
    );
    assert!(log.iter().all(|e| {
        let actor = e.actor.as_ref().unwrap();
        actor.kind == common::ActorKind::User as i32 && actor.display_name == "李建国"
    }));
    // A record is linked only to an account governance knows.
    let mut stranger = member(&household, "陌生人", "");
    stranger.user_id = Uuid::now_v7().to_string();
    let refused = w.resident(&official, stranger).await.unwrap_err();
    assert_eq!(refused.code(), Code::NotFound, "{refused:?}");
    // Their own record, household and housemates.
    let mine = w
        .client
        .get_my_resident(w.app.request(pb::GetMyResidentRequest {}, &villager_token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(mine.resident.unwrap().id, resident.id);
    assert_eq!(mine.household.unwrap().id, household.id);
    assert_eq!(mine.members.len(), 1);
    // A villager cannot reveal even their own number through this door (they know it).
    let refused = w
        .reveal(&villager_token, &resident.id, "看看我的号码")
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::NotFound);
    assert_eq!(
        w.count("SELECT count(*) AS n FROM resident_access_log")
            .await,
        2
    );
}

#[tokio::test]
async fn bad_requests_are_refused_specifically_and_change_nothing() {
    let mut w = World::new().await;
    let official = w.official.clone();
    let household = w.household(&official, VILLAGE, "A-001").await.unwrap();
    let plain = w
        .resident(&official, member(&household, "赵六", ""))
        .await
        .unwrap();
    let before = w.footprint().await;

    // A wrong check digit, a name too long, an unknown enum, a future birth date.
    let mut typo = national_id(131).into_bytes();
    typo[17] = if typo[17] == b'1' { b'2' } else { b'1' };
    let bad = pb::Resident {
        household_id: household.id.clone(),
        name: "长".repeat(51),
        gender: 7,
        birth_date: Some(common::Date {
            year: 2999,
            month: 1,
            day: 1,
        }),
        national_id: String::from_utf8(typo).unwrap(),
        phone_number: "12".into(),
        ..Default::default()
    };
    let refused = w.resident(&official, bad).await.unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    let mut fields = violated_fields(&refused);
    fields.sort();
    assert_eq!(
        fields,
        [
            "resident.birth_date",
            "resident.gender",
            "resident.name",
            "resident.national_id",
            "resident.phone_number"
        ]
    );
    // In the caller's language: a Chinese official reads why in Chinese.
    let mut typo = national_id(131).into_bytes();
    typo[17] = if typo[17] == b'1' { b'2' } else { b'1' };
    let mut request = w.app.request(
        pb::CreateResidentRequest {
            request_id: request_id(),
            resident: Some(member(
                &household,
                "赵六",
                &String::from_utf8(typo).unwrap(),
            )),
        },
        &official,
    );
    request
        .metadata_mut()
        .insert("accept-language", "zh-CN,zh;q=0.9".parse().unwrap());
    let refused = w.client.create_resident(request).await.unwrap_err();
    let details = tonic_types::StatusExt::get_error_details(&refused);
    let violation = &details.bad_request().unwrap().field_violations[0];
    assert_eq!(violation.field, "resident.national_id");
    let localized = violation.localized_message.as_ref().unwrap();
    assert_eq!(localized.locale, "zh-CN");
    assert!(localized.message.contains("校验码不符"), "{localized:?}");
    // A number whose birth date disagrees with the one given.
    let mut mismatch = member(&household, "赵七", &national_id(133));
    mismatch.birth_date = Some(common::Date {
        year: 1981,
        month: 2,
        day: 3,
    });
    let refused = w.resident(&official, mismatch).await.unwrap_err();
    assert_eq!(violated_fields(&refused), ["resident.national_id"]);

    // Codes that are not a village's, an unknown village, an unknown household.
    let (_, county) = w.user(Role::CountyAdmin, COUNTY);
    for (code, expected) in [
        ("33052310820", Code::InvalidArgument),
        (TOWNSHIP, Code::InvalidArgument),
        ("33052310820x", Code::InvalidArgument),
        ("330523108999", Code::NotFound),
        // A village out of the caller's reach.
    ] {
        let refused = w.household(&county, code, "X-1").await.unwrap_err();
        assert_eq!(refused.code(), expected, "{code}: {refused:?}");
    }
    let refused = w.household(&official, NEIGHBOUR, "X-1").await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let refused = w
        .resident(
            &official,
            member(
                &pb::Household {
                    id: Uuid::now_v7().to_string(),
                    ..Default::default()
                },
                "钱八",
                "",
            ),
        )
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::NotFound);
    // A household number taken in the village.
    let refused = w.household(&official, VILLAGE, "A-001").await.unwrap_err();
    assert_eq!(refused.code(), Code::AlreadyExists);

    // A reveal without a reason, or with too short a one; a reveal of no number.
    for reason_given in ["", "看看"] {
        let refused = w
            .reveal(&official, &plain.id, reason_given)
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&refused), ["reason"], "{reason_given:?}");
    }
    assert_refused(
        w.reveal(&official, &plain.id, "核对身份信息").await,
        Code::FailedPrecondition,
        "NO_NATIONAL_ID",
    );
    // An update naming output-only or unknown fields, or none.
    for paths in [vec!["national_id_masked"], vec!["colour"], vec![]] {
        let request = pb::UpdateResidentRequest {
            request_id: request_id(),
            resident: Some(pb::Resident {
                id: plain.id.clone(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: paths.iter().map(|p| (*p).to_owned()).collect(),
            }),
        };
        let refused = w
            .client
            .update_resident(w.app.request(request, &official))
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&refused), ["update_mask"], "{paths:?}");
    }
    assert_eq!(w.footprint().await, before, "nothing changed");
}

/// What a caller may do: every RPC x official of the village / of another village / of the
/// township above / county admin / the resident themself / a villager / an agency.
#[tokio::test]
async fn who_may_do_what_in_the_register() {
    let mut w = World::new().await;
    let official = w.official.clone();
    let household = w.household(&official, VILLAGE, "A-001").await.unwrap();
    let (villager, villager_token) = w.villager("+8613800138002", "孙九").await;
    let mut record = member(&household, "孙九", &national_id(135));
    record.user_id = villager.to_string();
    let resident = w.resident(&official, record).await.unwrap();

    let (_, other_village) = w.user(Role::VillageOfficial, NEIGHBOUR);
    let (_, township) = w.user(Role::TownshipOfficial, TOWNSHIP);
    let (_, county) = w.user(Role::CountyAdmin, COUNTY);
    let (_, neighbour) = w.user(Role::Resident, VILLAGE);
    let reader = w
        .app
        .issuer
        .build(&Uuid::now_v7().to_string())
        .agency(&["governance.register:read"])
        .grants(&[(Role::VillageOfficial, VILLAGE)])
        .sign();
    // (who, may write, may read, may reveal, reads own record)
    let callers = [
        ("village official", official.clone(), true, true, true),
        (
            "other village's official",
            other_village,
            false,
            false,
            false,
        ),
        ("township official", township, true, true, true),
        ("county admin", county, true, true, true),
        ("the resident", villager_token, false, false, false),
        ("a neighbour", neighbour, false, false, false),
        ("agency reading", reader, false, true, false),
    ];
    for (who, token, may_write, may_read, may_reveal) in callers {
        let household_read = w
            .client
            .get_household(w.app.request(
                pb::GetHouseholdRequest {
                    household_id: household.id.clone(),
                },
                &token,
            ))
            .await;
        let resident_read = w
            .client
            .get_resident(w.app.request(
                pb::GetResidentRequest {
                    resident_id: resident.id.clone(),
                },
                &token,
            ))
            .await;
        let list = w
            .client
            .list_households(w.app.request(
                pb::ListHouseholdsRequest {
                    area: Some(common::AdminCode {
                        code: VILLAGE.into(),
                        level: common::AdminLevel::Village as i32,
                    }),
                    ..Default::default()
                },
                &token,
            ))
            .await;
        let own = who == "the resident";
        assert_eq!(
            household_read.is_ok(),
            may_read || own,
            "{who}: GetHousehold"
        );
        assert_eq!(resident_read.is_ok(), may_read || own, "{who}: GetResident");
        assert_eq!(list.is_ok(), may_read, "{who}: ListHouseholds");
        if !may_read && !own {
            assert_eq!(household_read.unwrap_err().code(), Code::NotFound, "{who}");
        }
        if !may_read {
            assert_eq!(list.unwrap_err().code(), Code::PermissionDenied, "{who}");
        }
        let log = w.access_log(&token, &resident.id).await;
        assert_eq!(log.is_ok(), may_read || own, "{who}: ListResidentAccessLog");

        let created = w
            .household(&token, VILLAGE, &format!("W-{}", who.len()))
            .await;
        assert_eq!(created.is_ok(), may_write, "{who}: CreateHousehold");
        if !may_write {
            assert_eq!(created.unwrap_err().code(), Code::PermissionDenied, "{who}");
        }
        let update = pb::UpdateResidentRequest {
            request_id: request_id(),
            resident: Some(pb::Resident {
                id: resident.id.clone(),
                remarks: format!("checked by {who}"),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["remarks".into()],
            }),
        };
        let updated = w
            .client
            .update_resident(w.app.request(update, &token))
            .await;
        assert_eq!(updated.is_ok(), may_write, "{who}: UpdateResident");

        let revealed = w.reveal(&token, &resident.id, "核对身份信息").await;
        assert_eq!(revealed.is_ok(), may_reveal, "{who}: Reveal");
        if who == "agency reading" {
            assert_eq!(reason(&revealed.unwrap_err()), "OFFICIALS_ONLY");
        }

        let area = Some(common::AdminCode {
            code: VILLAGE.into(),
            level: common::AdminLevel::Village as i32,
        });
        let residents = w
            .client
            .list_residents(w.app.request(
                pb::ListResidentsRequest {
                    area: area.clone(),
                    ..Default::default()
                },
                &token,
            ))
            .await;
        assert_eq!(residents.is_ok(), may_read, "{who}: ListResidents");
        let counts = w
            .client
            .get_register_counts(w.app.request(pb::GetRegisterCountsRequest { area }, &token))
            .await;
        assert_eq!(counts.is_ok(), may_read, "{who}: GetRegisterCounts");
        let update = pb::UpdateHouseholdRequest {
            request_id: request_id(),
            household: Some(pb::Household {
                id: household.id.clone(),
                address: format!("一组 {} 号", who.len()),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["address".into()],
            }),
        };
        let updated = w
            .client
            .update_household(w.app.request(update, &token))
            .await;
        assert_eq!(updated.is_ok(), may_write, "{who}: UpdateHousehold");
        let added = w
            .resident(
                &token,
                member(&household, &format!("成员{}", who.len()), ""),
            )
            .await;
        assert_eq!(added.is_ok(), may_write, "{who}: CreateResident");
        let mine = w
            .client
            .get_my_resident(w.app.request(pb::GetMyResidentRequest {}, &token))
            .await;
        assert_eq!(mine.is_ok(), own, "{who}: GetMyResident");
        // Erasing is for officials who govern the village; nobody else learns the record exists.
        let erased = w
            .client
            .erase_resident(w.app.request(
                pb::EraseResidentRequest {
                    request_id: request_id(),
                    resident_id: Uuid::now_v7().to_string(),
                    reason: "核对权限".into(),
                },
                &token,
            ))
            .await
            .unwrap_err();
        assert_eq!(erased.code(), Code::NotFound, "{who}: EraseResident");
    }
    // Erasure of the real record: the resident and an agency cannot, the village official can.
    let (agency_writer, erase) = (
        w.app
            .issuer
            .build(&Uuid::now_v7().to_string())
            .agency(&["governance.register:write"])
            .grants(&[(Role::VillageOfficial, VILLAGE)])
            .sign(),
        |id: &str| pb::EraseResidentRequest {
            request_id: request_id(),
            resident_id: id.into(),
            reason: "本人申请删除".into(),
        },
    );
    assert_refused(
        w.client
            .erase_resident(w.app.request(erase(&resident.id), &agency_writer))
            .await,
        Code::PermissionDenied,
        "OFFICIALS_ONLY",
    );
    // The township's lists reach the village; the other village's official sees nothing of it.
    let (_, township) = w.user(Role::TownshipOfficial, TOWNSHIP);
    let listed = w
        .client
        .list_residents(w.app.request(
            pb::ListResidentsRequest {
                area: Some(common::AdminCode {
                    code: format!("{TOWNSHIP:0<12}"),
                    level: common::AdminLevel::Township as i32,
                }),
                ..Default::default()
            },
            &township,
        ))
        .await
        .unwrap()
        .into_inner()
        .residents;
    // The resident and the three members the three writers added.
    assert_eq!(listed.len(), 4);
    // Reveals by the village official, township official and county admin: three entries.
    assert_eq!(
        w.count("SELECT count(*) AS n FROM resident_access_log")
            .await,
        3
    );
}

#[tokio::test]
async fn a_rotation_reseals_every_number_under_the_new_key() {
    use secrecy::SecretString;
    use terrace_governance::register::Register;
    use terrace_governance::register::sealing::{NationalIdKeys, Sealer};

    let keys = |active: &str, names: &[&str]| NationalIdKeys {
        active_key: active.into(),
        keys: names
            .iter()
            .map(|name| {
                (
                    (*name).to_owned(),
                    SecretString::from(format!("{name}-a-test-secret-of-thirty-two-bytes")),
                )
            })
            .collect(),
        hash_secret: SecretString::from("the-test-hash-secret-of-thirty-two-bytes"),
    };
    let app = TestApp::spawn_with(&[ServiceDef::of::<Governance>()], |settings| {
        settings.services.insert(
            "governance".into(),
            serde_json::json!({
                "demo_divisions": true,
                "national_id": {
                    "active_key": "k1",
                    "keys": { "k1": "k1-a-test-secret-of-thirty-two-bytes" },
                    "hash_secret": "the-test-hash-secret-of-thirty-two-bytes",
                },
            }),
        );
    })
    .await;
    let db = app.ctx.database("governance").await;
    let mut client = GovernanceServiceClient::new(app.channel().await);
    let official = app.token(
        &Uuid::now_v7().to_string(),
        &[(Role::VillageOfficial, VILLAGE)],
    );
    let household = client
        .create_household(app.request(
            pb::CreateHouseholdRequest {
                request_id: request_id(),
                household: Some(pb::Household {
                    village_code: VILLAGE.into(),
                    household_number: "R-1".into(),
                    ..Default::default()
                }),
            },
            &official,
        ))
        .await
        .unwrap()
        .into_inner()
        .household
        .unwrap();
    let mut ids = Vec::new();
    for seq in [141, 143, 145] {
        let resident = client
            .create_resident(app.request(
                pb::CreateResidentRequest {
                    request_id: request_id(),
                    resident: Some(member(&household, "周", &national_id(seq))),
                },
                &official,
            ))
            .await
            .unwrap()
            .into_inner()
            .resident
            .unwrap();
        ids.push((resident.id, national_id(seq)));
    }
    let sealed_under =
        |key: &str| format!("SELECT count(*) AS n FROM residents WHERE national_id_key = '{key}'");
    let count = |sql: String| {
        let db = db.clone();
        async move {
            db.query_one_raw(Statement::from_string(db.get_database_backend(), sql))
                .await
                .unwrap()
                .unwrap()
                .try_get::<i64>("", "n")
                .unwrap()
        }
    };
    assert_eq!(count(sealed_under("k1")).await, 3);

    // k2 becomes the active key; the rotation re-seals in batches until none is left.
    let rotated = Register::new(
        db.clone(),
        "terrace/governance".into(),
        terrace_platform::Clock::system(),
        Sealer::new(&keys("k2", &["k1", "k2"])).unwrap(),
    );
    let mut batches = Vec::new();
    loop {
        let done = rotated.reseal_batch(2).await.unwrap();
        if done == 0 {
            break;
        }
        batches.push(done);
    }
    assert_eq!(batches, [2, 1]);
    assert_eq!(count(sealed_under("k2")).await, 3);

    // Readable with k2 alone now, and duplicates are still found (the hash key did not change).
    let only_new = Register::new(
        db.clone(),
        "terrace/governance".into(),
        terrace_platform::Clock::system(),
        Sealer::new(&keys("k2", &["k2"])).unwrap(),
    );
    for (id, number) in &ids {
        let command = terrace_governance::register::parse::Reveal::parse(
            pb::RevealResidentNationalIdRequest {
                request_id: request_id(),
                resident_id: id.clone(),
                reason: "密钥轮换后核对".into(),
            },
        )
        .unwrap();
        let revealed = only_new
            .reveal(
                &terrace_platform::auth::Caller::operator("rotation check"),
                command,
            )
            .await
            .unwrap();
        assert_eq!(&revealed.national_id, number);
    }
    let refused = client
        .create_resident(app.request(
            pb::CreateResidentRequest {
                request_id: request_id(),
                resident: Some(member(&household, "周", &national_id(141))),
            },
            &official,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::AlreadyExists);
}

#[tokio::test]
async fn a_villager_downloads_their_data_and_an_erased_record_leaves_only_its_access_log() {
    let mut w = World::new().await;
    let official = w.official.clone();
    let household = w.household(&official, VILLAGE, "A-001").await.unwrap();
    let (villager, villager_token) = w.villager("+8613800138002", "郑十").await;
    let number = national_id(151);
    let mut record = member(&household, "郑十", &number);
    record.user_id = villager.to_string();
    let resident = w.resident(&official, record).await.unwrap();
    w.reveal(&official, &resident.id, "核对低保申请")
        .await
        .unwrap();

    // The villager's download: the whole number, the household, every read (this one first).
    let export = |token: &str, request: &str| {
        w.app.request(
            pb::DownloadMyDataRequest {
                request_id: request.into(),
            },
            token,
        )
    };
    let request = request_id();
    let data = w
        .client
        .download_my_data(export(&villager_token, &request))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(data.resident.as_ref().unwrap().national_id, number);
    assert_eq!(data.household.unwrap().id, household.id);
    assert_eq!(
        data.access_log
            .iter()
            .map(|e| (e.field.as_str(), e.reason.as_str()))
            .collect::<Vec<_>>(),
        [
            ("export", "personal data export by the resident"),
            ("national_id", "核对低保申请")
        ]
    );
    assert_refused(
        w.client
            .download_my_data(export(&villager_token, &request))
            .await,
        Code::FailedPrecondition,
        "ANSWER_NOT_KEPT",
    );
    // A helper acting for the villager cannot download it for them.
    let helper = w
        .app
        .issuer
        .build(&villager.to_string())
        .actor(&Uuid::now_v7().to_string())
        .grants(&[(Role::Resident, VILLAGE)])
        .sign();
    assert_refused(
        w.client
            .download_my_data(export(&helper, &request_id()))
            .await,
        Code::PermissionDenied,
        "DELEGATED_TOKEN",
    );

    let counts = |w: &mut World| {
        let request = w.app.request(
            pb::GetRegisterCountsRequest {
                area: Some(common::AdminCode {
                    code: VILLAGE.into(),
                    level: common::AdminLevel::Village as i32,
                }),
            },
            &official,
        );
        let mut client = w.client.clone();
        async move {
            client
                .get_register_counts(request)
                .await
                .unwrap()
                .into_inner()
        }
    };
    let before = counts(&mut w).await;
    assert_eq!(
        (
            before.households,
            before.active_residents,
            before.linked_residents,
            before.residents_with_national_id
        ),
        (1, 1, 1, 1)
    );

    // Erasure needs a reason; then the record is gone, its access log is not.
    let erase = |reason: &str| pb::EraseResidentRequest {
        request_id: request_id(),
        resident_id: resident.id.clone(),
        reason: reason.into(),
    };
    let refused = w
        .client
        .erase_resident(w.app.request(erase(""), &official))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&refused), ["reason"]);
    w.client
        .erase_resident(w.app.request(erase("本人申请删除个人信息"), &official))
        .await
        .unwrap();
    let gone = w
        .client
        .get_resident(w.app.request(
            pb::GetResidentRequest {
                resident_id: resident.id.clone(),
            },
            &official,
        ))
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Code::NotFound);
    assert_eq!(w.count("SELECT count(*) AS n FROM residents").await, 0);
    assert_eq!(
        w.count("SELECT count(*) AS n FROM resident_access_log")
            .await,
        2,
        "the reveal and the export stay logged"
    );
    let after = counts(&mut w).await;
    assert_eq!((after.households, after.active_residents), (1, 0));
    let read = w
        .client
        .get_household(w.app.request(
            pb::GetHouseholdRequest {
                household_id: household.id.clone(),
            },
            &official,
        ))
        .await
        .unwrap()
        .into_inner()
        .household
        .unwrap();
    assert_eq!((read.member_count, read.head_resident_id.as_str()), (0, ""));
    // Erased on the event stream and, as a tombstone, on the state stream.
    assert_eq!(
        terrace_testkit::events::published(&w.app, "governance", "governance.resident.erased")
            .await,
        1
    );
    let mine = w
        .client
        .get_my_resident(w.app.request(pb::GetMyResidentRequest {}, &villager_token))
        .await
        .unwrap_err();
    assert_eq!(mine.code(), Code::NotFound);

    // Every official's action is in the county's audit chain, in order, among identity's records
    // (the accounts seeded), and the chain verifies.
    let actions: Vec<String> =
        <Action as sea_orm::FromQueryResult>::find_by_statement(Statement::from_string(
            w.db.get_database_backend(),
            "SELECT action FROM audit_entries WHERE chain = '330523' \
             AND (action LIKE 'household.%' OR action LIKE 'resident.%') ORDER BY sequence"
                .to_owned(),
        ))
        .all(&w.db)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.action)
        .collect();
    assert_eq!(
        actions,
        [
            "household.registered",
            "resident.registered",
            "resident.national_id_revealed",
            "resident.erased"
        ]
    );
    let chain = terrace_governance::audit::chain_of(
        &terrace_platform::auth::AdminScope::parse(VILLAGE).unwrap(),
    );
    assert!(matches!(
        terrace_governance::audit::verify_stored(&w.db, &chain)
            .await
            .unwrap(),
        terrace_governance::audit::chain::Verdict::Intact { .. }
    ));
}

#[derive(Debug, sea_orm::FromQueryResult)]
struct Action {
    action: String,
}

#[tokio::test]
async fn the_retention_job_erases_old_records_and_forgets_old_reads() {
    use std::time::Duration;
    use terrace_governance::register::RETENTION_JOB;

    let app = TestApp::spawn_with(&[ServiceDef::of::<Governance>()], |settings| {
        settings.services.insert(
            "governance".into(),
            serde_json::json!({
                "demo_divisions": true,
                "retention": { "records": "10d", "access_log": "5d" },
            }),
        );
    })
    .await;
    let db = app.ctx.database("governance").await;
    let client = GovernanceServiceClient::new(app.channel().await);
    let official = app.token(
        &Uuid::now_v7().to_string(),
        &[(Role::VillageOfficial, VILLAGE)],
    );
    let mut w = World {
        app,
        db,
        client,
        official: official.clone(),
    };
    let household = w.household(&official, VILLAGE, "A-001").await.unwrap();
    let staying = w
        .resident(&official, member(&household, "留守", &national_id(161)))
        .await
        .unwrap();
    let mut leaving = member(&household, "迁出", &national_id(163));
    leaving.relationship = pb::HouseholdRelationship::Child as i32;
    let leaving = w.resident(&official, leaving).await.unwrap();
    w.reveal(&official, &staying.id, "核对身份信息")
        .await
        .unwrap();
    w.set_status(&official, &leaving.id, pb::ResidentStatus::MovedOut)
        .await
        .unwrap();

    terrace_testkit::jobs::settled(&w.db, RETENTION_JOB.job, 1).await;
    let runs = terrace_testkit::jobs::runs(&w.db, RETENTION_JOB.job).await;
    // Six days on: the read is past its retention, the moved-out record is not.
    w.app.clock.advance(Duration::from_secs(6 * 86_400));
    terrace_testkit::jobs::settled(&w.db, RETENTION_JOB.job, runs + 1).await;
    assert_eq!(w.footprint().await, (1, 2, 0));
    // Eleven days on: the moved-out record is erased; the current one stays.
    w.app.clock.advance(Duration::from_secs(5 * 86_400));
    terrace_testkit::jobs::settled(&w.db, RETENTION_JOB.job, runs + 2).await;
    assert_eq!(w.footprint().await, (1, 1, 0));
    let left = w
        .count(&format!(
            "SELECT count(*) AS n FROM residents WHERE id = '{}'",
            staying.id
        ))
        .await;
    assert_eq!(left, 1);
}
