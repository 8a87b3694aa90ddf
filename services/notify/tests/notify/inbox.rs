//! The inbox over real NATS and gRPC: an order reaches the farmer's inbox once and her open
//! stream at once; answers reach the buyer; read marks reach every stream; a reconnect resumes
//! after the last item; a redelivered event writes nothing more; bad requests name the field.

use std::time::Duration;

use sea_orm::{ConnectionTrait as _, Statement, TransactionTrait as _};
use terrace_notify::rules::market::OrderRules;
use terrace_platform::auth::Role;
use terrace_platform::bus::Envelope;
use terrace_platform::bus::consumer::Handler as _;
use terrace_proto::market::v1 as market;
use terrace_proto::notify::v1 as pb;
use terrace_proto::notify::v1::watch_inbox_response::Event;
use terrace_testkit::eventually;
use terrace_testkit::rpc::{assert_refused, request_id, violated_fields};
use tonic::Code;

use crate::world::World;

/// How long an event may take to reach an inbox on a busy machine.
const REACHES: Duration = Duration::from_secs(30);

/// The next message of `stream` that is not a heartbeat.
async fn next(stream: &mut tonic::Streaming<pb::WatchInboxResponse>) -> pb::WatchInboxResponse {
    loop {
        let message = tokio::time::timeout(REACHES, stream.message())
            .await
            .expect("a message on the stream in time")
            .expect("the stream stays open")
            .expect("the stream has not ended");
        if !matches!(message.event, Some(Event::Heartbeat(_))) {
            return message;
        }
    }
}

fn item(message: &pb::WatchInboxResponse) -> &pb::InboxItem {
    match &message.event {
        Some(Event::Item(item)) => item,
        other => panic!("expected an item, got {other:?}"),
    }
}

#[tokio::test]
async fn an_order_reaches_the_farmers_inbox_once_and_her_open_stream_at_once() {
    let mut w = World::new().await;
    let (farmer, listing) = w.farmer_selling().await;
    let buyer = w.person(&[(Role::Buyer, "")]);
    let mut watching = w.watch(&farmer, "").await.unwrap();

    let order = w.order(&buyer, &listing, 10).await;
    let placed = next(&mut watching).await;
    let first = item(&placed).clone();
    assert_eq!(first.title, "新订单：红富士苹果");
    assert!(
        first.body.contains("要买 10 斤，共 ¥35.00（自提）")
            && first.body.contains(&order.reference),
        "{}",
        first.body
    );
    assert_eq!(
        first.link,
        format!("terrace://market/incoming/{}", order.id)
    );
    assert_eq!(first.category, pb::NotificationCategory::Orders as i32);
    assert_eq!(placed.unread_count, 1);

    let inbox = w.list(&farmer).await;
    assert_eq!(inbox.items.len(), 1, "one notification for one order");
    assert_eq!(inbox.unread_count, 1);
    assert!(
        w.list(&buyer).await.items.is_empty(),
        "the buyer placed it: nothing to tell"
    );

    // The farmer accepts: the buyer is told.
    w.accept(&farmer, &order).await;
    let told = w.inbox_when(&buyer, 1).await;
    assert!(
        told.items[0].title.ends_with("接单了"),
        "{:?}",
        told.items[0]
    );

    // Read on another device: the stream hears which item, and the count.
    let mark = pb::MarkReadRequest {
        request_id: request_id(),
        item_ids: vec![first.id.clone()],
        up_to_item_id: String::new(),
    };
    let marked = w
        .notify
        .mark_read(w.app.request(mark.clone(), &farmer.token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((marked.marked_count, marked.unread_count), (1, 0));
    let read = next(&mut watching).await;
    assert_eq!(
        read.event,
        Some(Event::ItemsRead(pb::ItemsRead {
            item_ids: vec![first.id.clone()]
        }))
    );
    assert_eq!(read.unread_count, 0);
    // The same request again is answered as before; another marks nothing more.
    let again = w
        .notify
        .mark_read(w.app.request(mark, &farmer.token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.marked_count, 1, "a repeat gets the first answer");
    let other = pb::MarkReadRequest {
        request_id: request_id(),
        item_ids: vec![first.id.clone()],
        up_to_item_id: String::new(),
    };
    let none = w
        .notify
        .mark_read(w.app.request(other, &farmer.token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(none.marked_count, 0);

    // Offline: a second order arrives while no stream is open; reconnecting after the last
    // item it had, the phone gets it first.
    drop(watching);
    let second = w.order(&buyer, &listing, 20).await;
    w.inbox_when(&farmer, 2).await;
    let mut resumed = w.watch(&farmer, &first.id).await.unwrap();
    let missed = next(&mut resumed).await;
    assert!(
        item(&missed).body.contains(&second.reference),
        "{:?}",
        missed
    );
    assert_eq!(missed.unread_count, 1);
}

#[tokio::test]
async fn a_redelivered_order_event_writes_no_second_notification() {
    let w = World::new().await;
    let db = w.app.ctx.database("notify").await;
    let event = market::OrderPlaced {
        order: Some(market::Order {
            id: uuid::Uuid::now_v7().to_string(),
            reference: "M-20270301-0001".to_owned(),
            buyer_user_id: uuid::Uuid::now_v7().to_string(),
            seller_user_id: uuid::Uuid::now_v7().to_string(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let envelope = Envelope::new("terrace/market", &event);
    let rules = OrderRules::new(
        w.app.clock.clock(),
        terrace_notify::rules::Texting {
            signature: "Terrace".to_owned(),
            per_hour: 10,
        },
    );
    for _ in 0..2 {
        let txn = db.begin().await.unwrap();
        rules.handle(&txn, &envelope).await.unwrap();
        txn.commit().await.unwrap();
    }
    let rows = db
        .query_one_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            "SELECT count(*) AS n FROM inbox_items WHERE source_id = $1",
            [envelope.id.to_string().into()],
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap();
    assert_eq!(rows, 1);
}

#[tokio::test]
async fn bad_inbox_requests_name_the_field_and_streams_are_limited() {
    let mut w = World::new().await;
    let someone = w.person(&[(Role::Buyer, "")]);
    let mark = |request: pb::MarkReadRequest| w.app.request(request, &someone.token);
    let refused = w
        .notify
        .clone()
        .mark_read(mark(pb::MarkReadRequest {
            request_id: request_id(),
            ..Default::default()
        }))
        .await;
    assert_eq!(violated_fields(&refused.unwrap_err()), ["item_ids"]);
    let refused = w
        .notify
        .clone()
        .mark_read(mark(pb::MarkReadRequest {
            request_id: request_id(),
            item_ids: vec!["not-an-id".to_owned()],
            up_to_item_id: uuid::Uuid::now_v7().to_string(),
        }))
        .await;
    assert_eq!(violated_fields(&refused.unwrap_err()), ["up_to_item_id"]);
    let too_many: Vec<String> = (0..501).map(|_| uuid::Uuid::now_v7().to_string()).collect();
    let refused = w
        .notify
        .clone()
        .mark_read(mark(pb::MarkReadRequest {
            request_id: request_id(),
            item_ids: too_many,
            up_to_item_id: String::new(),
        }))
        .await;
    assert_eq!(violated_fields(&refused.unwrap_err()), ["item_ids"]);
    let refused = w
        .notify
        .clone()
        .list_inbox(w.app.request(
            pb::ListInboxRequest {
                categories: vec![99],
                ..Default::default()
            },
            &someone.token,
        ))
        .await;
    assert_eq!(violated_fields(&refused.unwrap_err()), ["categories[0]"]);
    // A cursor that is none of the person's items: list instead.
    let refused = w
        .watch(&someone, &uuid::Uuid::now_v7().to_string())
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&refused), ["after_item_id"]);
    let refused = w.watch(&someone, "nonsense").await.unwrap_err();
    assert_eq!(violated_fields(&refused), ["after_item_id"]);
    // Without a token.
    let anonymous = w
        .notify
        .clone()
        .list_inbox(tonic::Request::new(pb::ListInboxRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated);

    // Five streams per person; a sixth is refused until one closes.
    let mut open = Vec::new();
    for _ in 0..5 {
        open.push(w.watch(&someone, "").await.unwrap());
    }
    assert_refused(
        w.watch(&someone, "").await,
        Code::ResourceExhausted,
        "TOO_MANY_STREAMS",
    );
    drop(open.pop());
    eventually("a closed stream to give its place back", REACHES, || {
        let mut w2 = (
            w.notify.clone(),
            w.app
                .request(pb::WatchInboxRequest::default(), &someone.token),
        );
        async move { w2.0.watch_inbox(w2.1).await.ok().map(|_| ()) }
    })
    .await;
}

#[tokio::test]
async fn each_person_is_told_in_their_own_language() {
    let mut w = World::new().await;
    let (farmer, listing) = w.farmer_selling().await;
    let buyer = w.person(&[(Role::Buyer, "")]);
    // As notify's projection keeps them from identity: the farmer reads English, the buyer
    // Chinese.
    let db = w.app.ctx.database("notify").await;
    db.execute_raw(Statement::from_sql_and_values(
        db.get_database_backend(),
        "INSERT INTO known_users (id, display_name, phone_number, version, locale, time_zone)
         VALUES ($1, 'Wang Xiuying', '+8613800000001', now(), 'en', 'Asia/Shanghai'),
                ($2, '张伟', '+8613800000003', now(), 'zh-CN', 'Asia/Shanghai')",
        [farmer.id.into(), buyer.id.into()],
    ))
    .await
    .unwrap();
    let order = w.order(&buyer, &listing, 10).await;
    let told = w.inbox_when(&farmer, 1).await;
    // The title of a listing written in Chinese only stays Chinese.
    assert_eq!(told.items[0].title, "New order: 红富士苹果");
    assert_eq!(
        told.items[0].body,
        format!(
            "张伟 wants 10 jin, ¥35.00 in all (pickup). Order {}: please accept or decline within 48 hours.",
            order.reference
        )
    );
    w.accept(&farmer, &order).await;
    let answered = w.inbox_when(&buyer, 1).await;
    assert_eq!(answered.items[0].title, "Wang Xiuying 接单了");
}
