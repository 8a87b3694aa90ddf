//! Governance's request events reach the villager through real NATS: an official resolving her
//! request, with a public note, lands in her inbox once, in her words; her own reopening tells
//! nobody.

use terrace_platform::auth::Role;
use terrace_platform::bus::Envelope;
use terrace_proto::common::v1 as common;
use terrace_proto::governance::v1 as governance;
use terrace_proto::notify::v1 as pb;
use uuid::Uuid;

use crate::world::World;

/// Publishes `event` as governance would (its outbox relay), on the test's NATS.
async fn publish_as_governance<E: terrace_platform::bus::Event>(w: &World, event: &E) -> Envelope {
    w.publish_as("terrace/governance", event).await
}

fn resolved(
    requester: Uuid,
    actor: &str,
    status: governance::ServiceRequestStatus,
    note: &str,
) -> governance::ServiceRequestStatusChanged {
    governance::ServiceRequestStatusChanged {
        service_request: Some(governance::ServiceRequest {
            id: Uuid::now_v7().to_string(),
            reference: "R-20270301-0007".to_owned(),
            requester_user_id: requester.to_string(),
            status: status as i32,
            ..Default::default()
        }),
        from_status: governance::ServiceRequestStatus::InProgress as i32,
        entry: Some(governance::ServiceRequestTimelineEntry {
            note: note.to_owned(),
            ..Default::default()
        }),
        actor: Some(common::Actor {
            kind: common::ActorKind::User as i32,
            user_id: actor.to_owned(),
            ..Default::default()
        }),
    }
}

#[tokio::test]
async fn a_resolved_request_reaches_the_villagers_inbox_once_and_her_own_step_tells_nobody() {
    let w = World::new().await;
    let villager = w.person(&[(Role::Resident, crate::world::VILLAGE)]);
    let official = Uuid::now_v7().to_string();
    // Her own reopening first: nothing for her.
    publish_as_governance(
        &w,
        &resolved(
            villager.id,
            &villager.id.to_string(),
            governance::ServiceRequestStatus::Reopened,
            "",
        ),
    )
    .await;
    let event = resolved(
        villager.id,
        &official,
        governance::ServiceRequestStatus::Resolved,
        "井已经修好",
    );
    let sent = publish_as_governance(&w, &event).await;
    let inbox = w.inbox_when(&villager, 1).await;
    let item = &inbox.items[0];
    assert_eq!(item.title, "您的诉求 R-20270301-0007：已办结");
    assert_eq!(item.body, "办理进度：已办结。\n说明：井已经修好");
    assert_eq!(
        item.category,
        pb::NotificationCategory::ServiceRequests as i32
    );
    assert_eq!(item.source_id, sent.id.to_string());
    // Published again (a retry with a new message id but the same event): still one.
    let bus = w.app.ctx.bus(&["governance"]).await;
    let mut headers = sent.headers();
    headers.insert("Nats-Msg-Id", Uuid::now_v7().to_string().as_str());
    bus.jetstream
        .publish_with_headers(
            bus.naming.subject(&sent.subject),
            headers,
            sent.payload.clone(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    // A reply after it: once the reply is in, the copy before it was handled (in order).
    let reply = governance::ServiceRequestNoteAdded {
        service_request: event.service_request.clone(),
        entry: Some(governance::ServiceRequestTimelineEntry {
            note: "下周再来看一次水质".to_owned(),
            actor: Some(common::Actor {
                user_id: official.clone(),
                ..Default::default()
            }),
            ..Default::default()
        }),
    };
    publish_as_governance(&w, &reply).await;
    let both = w.inbox_when(&villager, 2).await;
    let titles: Vec<&str> = both.items.iter().map(|item| item.title.as_str()).collect();
    assert_eq!(
        titles,
        [
            "您的诉求 R-20270301-0007 有新回复",
            "您的诉求 R-20270301-0007：已办结"
        ],
        "the copy added nothing"
    );
    assert_eq!(both.unread_count, 2);
}

#[tokio::test]
async fn a_walk_in_caller_without_an_account_is_texted_at_the_phone_they_left() {
    let gateway = terrace_testkit::sms::SmsGateway::default();
    let url = gateway.start().await;
    let w = World::with_notify(terrace_testkit::sms::notify_settings(&url)).await;
    let mut event = resolved(
        Uuid::nil(),
        &Uuid::now_v7().to_string(),
        governance::ServiceRequestStatus::Resolved,
        "水泵已经换好了",
    );
    let request = event.service_request.as_mut().unwrap();
    request.requester_user_id = String::new();
    request.contact_name = "孙大爷".to_owned();
    request.contact_phone = "+8613800000088".to_owned();
    request.village_code = "330523108204".to_owned();
    let sent = publish_as_governance(&w, &event).await;
    w.republish(&sent).await;
    let texts = gateway.when(1).await;
    assert_eq!(texts[0].to(), "+8613800000088");
    assert_eq!(
        texts[0].text(),
        "【Terrace】您的诉求 R-20270301-0007：已办结。水泵已经换好了"
    );
    assert_eq!(texts[0].body["template_code"], "SMS_TERRACE_REQUEST_STATUS");
    // The same event again: no second text.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(gateway.received().len(), 1);
}

/// Identity grants `who` `role` over `code`, as its relay would publish it.
async fn granted(w: &World, who: &crate::world::Person, role: Role, code: &str) {
    use terrace_proto::identity::v1 as identity;
    let scope = terrace_platform::auth::AdminScope::parse(code).unwrap();
    w.publish_as(
        "terrace/identity",
        &identity::RoleGranted {
            grant: Some(identity::RoleGrant {
                id: Uuid::now_v7().to_string(),
                user_id: who.id.to_string(),
                role: role.to_proto() as i32,
                scope: Some(scope.to_proto()),
                ..Default::default()
            }),
            actor: None,
        },
    )
    .await;
}

/// Waits until notify's projection holds `count` grants.
async fn grants_when(w: &World, count: i64) {
    use sea_orm::{ConnectionTrait as _, Statement};
    let db = w.app.ctx.database("notify").await;
    terrace_testkit::eventually(
        "notify to know the grants",
        std::time::Duration::from_secs(30),
        || {
            let db = db.clone();
            async move {
                let row = db
                    .query_one_raw(Statement::from_string(
                        db.get_database_backend(),
                        "SELECT count(*) AS n FROM known_grants",
                    ))
                    .await
                    .ok()??;
                (row.try_get::<i64>("", "n").ok()? >= count).then_some(())
            }
        },
    )
    .await;
}

#[tokio::test]
async fn officials_hear_of_a_new_request_at_their_level_an_escalation_to_theirs_and_their_assignment()
 {
    let w = World::new().await;
    let village = w.person(&[(Role::VillageOfficial, crate::world::VILLAGE)]);
    let township = w.person(&[(Role::TownshipOfficial, "330523108")]);
    let county = w.person(&[(Role::CountyAdmin, "330523")]);
    let elsewhere = w.person(&[(Role::VillageOfficial, "330523108201")]);
    granted(&w, &village, Role::VillageOfficial, crate::world::VILLAGE).await;
    granted(&w, &township, Role::TownshipOfficial, "330523108").await;
    granted(&w, &county, Role::CountyAdmin, "330523").await;
    granted(&w, &elsewhere, Role::VillageOfficial, "330523108201").await;
    grants_when(&w, 4).await;

    let area = |code: &str| {
        Some(
            terrace_platform::auth::AdminScope::parse(code)
                .unwrap()
                .to_proto(),
        )
    };
    let mut request = governance::ServiceRequest {
        id: Uuid::now_v7().to_string(),
        reference: "R-20270301-0009".to_owned(),
        village_code: crate::world::VILLAGE.to_owned(),
        description: "村口的水井坏了，\n水是浑的".to_owned(),
        responsible_area: area(crate::world::VILLAGE),
        ..Default::default()
    };
    let filed = publish_as_governance(
        &w,
        &governance::ServiceRequestCreated {
            service_request: Some(request.clone()),
            actor: None,
        },
    )
    .await;
    let told = w.inbox_when(&village, 1).await;
    assert_eq!(told.items[0].title, "新诉求 R-20270301-0009");
    assert_eq!(
        told.items[0].body,
        "辖区内有一件新诉求：村口的水井坏了， 水是浑的。请在时限内受理。"
    );
    w.republish(&filed).await;

    // Overdue: it goes up to the township, whose official is told.
    request.escalation_level = 1;
    request.responsible_area = area("330523108");
    publish_as_governance(
        &w,
        &governance::ServiceRequestEscalated {
            service_request: Some(request.clone()),
            reason: "sla_overdue".to_owned(),
            actor: None,
        },
    )
    .await;
    let escalated = w.inbox_when(&township, 1).await;
    assert_eq!(escalated.items[0].title, "督办：诉求 R-20270301-0009");

    // The county admin assigns it to the township official: only the assignee hears of it.
    request.assignee_user_id = township.id.to_string();
    publish_as_governance(
        &w,
        &governance::ServiceRequestAssigned {
            service_request: Some(request.clone()),
            previous_assignee_user_id: String::new(),
            actor: Some(common::Actor {
                user_id: county.id.to_string(),
                ..Default::default()
            }),
        },
    )
    .await;
    let assigned = w.inbox_when(&township, 2).await;
    assert_eq!(assigned.items[0].title, "诉求 R-20270301-0009 分派给您了");

    // Once each, and nobody else: by now every event went through (in order).
    assert_eq!(
        w.inbox_when(&village, 1).await.items.len(),
        1,
        "the copy added nothing"
    );
    assert_eq!(w.inbox_when(&township, 2).await.items.len(), 2);
    let mut w = w;
    assert!(
        w.list(&county).await.items.is_empty(),
        "not the county's level, and it acted"
    );
    assert!(w.list(&elsewhere).await.items.is_empty(), "another village");
}
