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
    let bus = w.app.ctx.bus(&["governance"]).await;
    let envelope = Envelope::new("terrace/governance", event);
    bus.jetstream
        .publish_with_headers(
            bus.naming.subject(&envelope.subject),
            envelope.headers(),
            envelope.payload.clone(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    envelope
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
