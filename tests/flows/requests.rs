//! A villager's request: resolved by an official, she is told at each step with the public
//! note; overdue, it escalates on the clock and she is told.

use std::time::Duration;

use terrace_governance::requests::sla::ESCALATION_JOB;
use terrace_platform::auth::{AdminScope, Role};
use terrace_proto::common::v1 as common;
use terrace_proto::governance::v1 as pb;
use terrace_proto::governance::v1::ServiceRequestStatus as S;
use terrace_proto::identity::v1::Role as RoleProto;
use terrace_testkit::jobs::{runs, settled};
use terrace_testkit::rpc::request_id;

use crate::world::{Person, TOWNSHIP, VILLAGE, World};

fn zh(text: &str) -> Option<common::LocalizedText> {
    Some(common::LocalizedText {
        translations: [("zh-CN".to_owned(), text.to_owned())].into(),
    })
}

/// A request type of the township: a broken well, answered within `sla_hours`.
async fn well_type(w: &World, sla_hours: i32) -> pb::RequestType {
    let township = w.official(Role::TownshipOfficial, TOWNSHIP);
    w.governance
        .clone()
        .create_request_type(w.app.request(
            pb::CreateRequestTypeRequest {
                request_id: request_id(),
                request_type: Some(pb::RequestType {
                    area: Some(AdminScope::parse(TOWNSHIP).unwrap().to_proto()),
                    code: "well".to_owned(),
                    name: zh("水井损坏"),
                    group: "water".to_owned(),
                    responsible_role: RoleProto::VillageOfficial as i32,
                    sla_hours,
                    ..Default::default()
                }),
            },
            &township,
        ))
        .await
        .unwrap()
        .into_inner()
        .request_type
        .unwrap()
}

async fn file(w: &World, villager: &Person, type_id: &str) -> pb::ServiceRequest {
    w.governance
        .clone()
        .create_service_request(w.app.request(
            pb::CreateServiceRequestRequest {
                request_id: request_id(),
                service_request: Some(pb::ServiceRequest {
                    type_id: type_id.to_owned(),
                    village_code: VILLAGE.to_owned(),
                    description: "三组村口的水井抽不上水了".to_owned(),
                    location: Some(pb::RequestLocation {
                        point: None,
                        address: "三组 村口桥边".to_owned(),
                    }),
                    ..Default::default()
                }),
                on_behalf_of_user_id: String::new(),
            },
            &villager.token,
        ))
        .await
        .unwrap()
        .into_inner()
        .service_request
        .unwrap()
}

async fn change(w: &World, official: &str, id: &str, to: S, note: &str) {
    w.governance
        .clone()
        .change_service_request_status(w.app.request(
            pb::ChangeServiceRequestStatusRequest {
                request_id: request_id(),
                service_request_id: id.to_owned(),
                status: to as i32,
                note: note.to_owned(),
                note_visibility: pb::NoteVisibility::Public as i32,
                expected_status: 0,
            },
            official,
        ))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_villager_files_a_request_an_official_resolves_it_and_she_is_told_each_step() {
    let w = World::new().await;
    let villager = w
        .person("+8613800000041", "赵大山", &[(Role::Resident, VILLAGE)])
        .await;
    let well = well_type(&w, 48).await;
    let filed = file(&w, &villager, &well.id).await;
    let official = w.official(Role::VillageOfficial, VILLAGE);
    change(&w, &official, &filed.id, S::Acknowledged, "").await;
    change(&w, &official, &filed.id, S::InProgress, "明天上午去修").await;
    change(&w, &official, &filed.id, S::Resolved, "已经换了新水泵").await;

    let told = w.inbox_when(&villager, 3).await;
    assert_eq!(told.len(), 3, "one item per step: {told:?}");
    let newest = &told[0];
    assert!(
        newest
            .title
            .starts_with(&format!("您的诉求 {}", filed.reference)),
        "{}",
        newest.title
    );
    assert!(newest.body.contains("已经换了新水泵"), "{}", newest.body);
    assert!(told[1].body.contains("明天上午去修"), "{}", told[1].body);
}

#[tokio::test]
async fn an_overdue_request_escalates_on_the_clock_and_the_villager_is_told() {
    let w = World::new().await;
    let villager = w
        .person("+8613800000051", "钱秀兰", &[(Role::Resident, VILLAGE)])
        .await;
    let well = well_type(&w, 2).await;
    let filed = file(&w, &villager, &well.id).await;

    // Three hours later the request is overdue: the job moves it to the township.
    let db = w.app.ctx.database("governance").await;
    let before = runs(&db, ESCALATION_JOB.job).await;
    settled(&db, ESCALATION_JOB.job, before).await;
    w.app.clock.advance(Duration::from_secs(3 * 3600));
    settled(&db, ESCALATION_JOB.job, before + 1).await;

    // Her token of three hours ago has expired by the clock: she signs in again.
    let villager = Person {
        token: w
            .app
            .token(&villager.id.to_string(), &[(Role::Resident, VILLAGE)]),
        ..villager
    };
    let told = w.inbox_when(&villager, 1).await;
    assert_eq!(told.len(), 1);
    assert_eq!(
        told[0].title,
        format!("您的诉求 {} 已转上一级办理", filed.reference)
    );
    assert!(told[0].body.contains("第 1 级"), "{}", told[0].body);
}
