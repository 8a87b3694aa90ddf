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
