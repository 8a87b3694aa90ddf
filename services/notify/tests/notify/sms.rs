//! Texts through a small local SMS gateway speaking the gateway protocol over real HTTP: a new
//! order texted to the farmer with its receipt; a gateway that fails retried on the clock with
//! the same idempotency key until it takes the text; one that refuses, failed for good; a
//! one-time code texted once however often its event comes, and forgotten once sent; who may
//! read which delivery record.

use std::time::Duration;

use sea_orm::{ConnectionTrait as _, Statement};
use terrace_platform::auth::Role;
use terrace_proto::identity::v1 as identity;
use terrace_proto::notify::v1 as pb;
use terrace_testkit::eventually;
use terrace_testkit::sms::{RECEIPT_TOKEN, SmsGateway as Gateway, notify_settings};
use tonic::Code;

use crate::world::{Person, VILLAGE, World};

/// A world whose notify texts through `gateway`: retries after 30 s, then 60 s..., three
/// attempts at most.
async fn world_texting_through(gateway: &Gateway) -> World {
    let url = gateway.start().await;
    World::with_notify(notify_settings(&url)).await
}

async fn deliveries(
    w: &World,
    who: &Person,
    request: pb::ListDeliveriesRequest,
) -> Result<Vec<pb::Delivery>, tonic::Status> {
    let mut notify = w.notify.clone();
    notify
        .list_deliveries(w.app.request(request, &who.token))
        .await
        .map(|answer| answer.into_inner().deliveries)
}

async fn delivery(w: &World, who: &Person, id: &str) -> Result<pb::Delivery, tonic::Status> {
    let mut notify = w.notify.clone();
    let request = pb::GetDeliveryRequest {
        delivery_id: id.to_owned(),
    };
    notify
        .get_delivery(w.app.request(request, &who.token))
        .await
        .map(|answer| answer.into_inner().delivery.unwrap())
}

/// Waits until `who`'s delivery `id` has `status`.
async fn delivery_when(
    w: &World,
    who: &Person,
    id: &str,
    status: pb::DeliveryStatus,
) -> pb::Delivery {
    eventually(
        &format!("delivery {id} {status:?}"),
        Duration::from_secs(30),
        || async {
            delivery(w, who, id)
                .await
                .ok()
                .filter(|d| d.status == status as i32)
        },
    )
    .await
}

fn statuses(delivery: &pb::Delivery) -> Vec<pb::DeliveryStatus> {
    delivery
        .history
        .iter()
        .map(|change| pb::DeliveryStatus::try_from(change.status).unwrap())
        .collect()
}

async fn post_receipt(w: &World, token: &str, body: serde_json::Value) -> u16 {
    terrace_testkit::http_client()
        .post(format!("http://{}/notify/sms/receipts", w.app.http_addr))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_new_order_is_texted_to_the_farmer_and_the_gateways_receipt_marks_it_delivered() {
    let gateway = Gateway::default();
    let mut w = world_texting_through(&gateway).await;
    let (farmer, listing) = w.farmer_selling().await;
    let buyer = w.person(&[(Role::Buyer, "")]);
    w.known(&farmer, "王秀英", "+8613800000001", "zh-CN").await;
    w.known(&buyer, "张伟", "+8613800000003", "zh-CN").await;
    let order = w.order(&buyer, &listing, 10).await;

    let sent = gateway.when(1).await;
    let text = sent[0].body["text"].as_str().unwrap();
    assert_eq!(sent[0].body["to"], "+8613800000001");
    assert_eq!(sent[0].authorization, "Bearer gateway-token");
    assert_eq!(sent[0].body["sign_name"], "Terrace");
    assert_eq!(sent[0].body["template_code"], "SMS_TERRACE_ORDER_PLACED");
    assert_eq!(
        sent[0].body["template_params"]["reference"],
        order.reference
    );
    assert_eq!(
        text,
        format!(
            "【Terrace】张伟下单 10 斤红富士苹果，共 ¥35.00（{}），请 48 小时内接单。",
            order.reference
        )
    );

    // The farmer reads her own record (once the gateway's answer is recorded): masked, with its
    // history and the gateway's id.
    delivery_when(
        &w,
        &farmer,
        &sent[0].idempotency_key,
        pb::DeliveryStatus::Sent,
    )
    .await;
    let mine = deliveries(
        &w,
        &farmer,
        pb::ListDeliveriesRequest {
            recipient_user_id: farmer.id.to_string(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(mine.len(), 1);
    let record = &mine[0];
    assert_eq!(
        sent[0].idempotency_key, record.id,
        "the delivery id is the send's key"
    );
    assert_eq!(record.address_masked, "+86138****0001");
    assert_eq!(record.channel, pb::Channel::Sms as i32);
    assert_eq!(record.category, pb::NotificationCategory::Orders as i32);
    assert_eq!(record.sms_segments, 1, "61 characters: one UCS-2 text");
    assert_eq!(record.provider_message_id, "gw-1");
    assert_eq!(record.source_event_type, "terrace.market.v1.OrderPlaced");
    assert_eq!(
        statuses(record),
        [
            pb::DeliveryStatus::Queued,
            pb::DeliveryStatus::Sending,
            pb::DeliveryStatus::Sent
        ]
    );

    // Receipts: only with the token; unknown ids are named; a repeat changes nothing.
    let receipt = serde_json::json!({ "message_id": "gw-1", "status": "delivered" });
    assert_eq!(
        post_receipt(&w, "not-the-token", receipt.clone()).await,
        401
    );
    assert_eq!(
        delivery(&w, &farmer, &record.id).await.unwrap().status,
        pb::DeliveryStatus::Sent as i32
    );
    assert_eq!(post_receipt(&w, RECEIPT_TOKEN, receipt.clone()).await, 204);
    assert_eq!(post_receipt(&w, RECEIPT_TOKEN, receipt).await, 204);
    assert_eq!(
        post_receipt(
            &w,
            RECEIPT_TOKEN,
            serde_json::json!({ "message_id": "gw-999", "status": "delivered" })
        )
        .await,
        404
    );
    assert_eq!(
        post_receipt(
            &w,
            RECEIPT_TOKEN,
            serde_json::json!({ "status": "delivered" })
        )
        .await,
        400
    );
    let delivered = delivery(&w, &farmer, &record.id).await.unwrap();
    assert_eq!(delivered.status, pb::DeliveryStatus::Delivered as i32);
    assert_eq!(
        statuses(&delivered).last(),
        Some(&pb::DeliveryStatus::Delivered)
    );
    assert_eq!(
        delivered.history.len(),
        4,
        "the repeated receipt added nothing"
    );

    // The village's official reads the records of the village; another village's does not,
    // and a stranger is not even told the record exists.
    let official = w.person(&[(Role::VillageOfficial, VILLAGE)]);
    let of_village = deliveries(&w, &official, pb::ListDeliveriesRequest::default())
        .await
        .unwrap();
    assert_eq!(
        of_village.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
        [record.id.as_str()]
    );
    let elsewhere = w.person(&[(Role::VillageOfficial, "330523108205")]);
    assert!(
        deliveries(&w, &elsewhere, pb::ListDeliveriesRequest::default())
            .await
            .unwrap()
            .is_empty()
    );
    let stranger = w.person(&[(Role::Resident, "330523108205")]);
    assert_eq!(
        delivery(&w, &stranger, &record.id)
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    // The buyer cannot read the farmer's records by naming her.
    let named = deliveries(
        &w,
        &buyer,
        pb::ListDeliveriesRequest {
            recipient_user_id: farmer.id.to_string(),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(named.code(), Code::PermissionDenied, "{named:?}");
    // An official asking about an area outside their own is refused.
    let outside = deliveries(
        &w,
        &elsewhere,
        pb::ListDeliveriesRequest {
            area: Some(terrace_proto::common::v1::AdminCode {
                code: VILLAGE.to_owned(),
                level: terrace_proto::common::v1::AdminLevel::Village as i32,
            }),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(outside.code(), Code::PermissionDenied, "{outside:?}");
}

#[tokio::test]
async fn a_failing_gateway_is_retried_on_the_clock_with_the_same_key_until_it_takes_the_text() {
    let gateway = Gateway::default();
    gateway.answer_next(&[500, 503]);
    let mut w = world_texting_through(&gateway).await;
    let (farmer, listing) = w.farmer_selling().await;
    let buyer = w.person(&[(Role::Buyer, "")]);
    w.known(&farmer, "王秀英", "+8613800000001", "zh-CN").await;
    w.order(&buyer, &listing, 10).await;

    gateway.when(1).await;
    let id = gateway.received()[0].idempotency_key.clone();
    let waiting = delivery_when(&w, &farmer, &id, pb::DeliveryStatus::Queued).await;
    assert_eq!(waiting.attempt_count, 1);
    assert!(waiting.last_error.contains("500"), "{}", waiting.last_error);
    let due = waiting.next_attempt_time.unwrap();
    let now = w.app.clock.now();
    assert_eq!(
        due.seconds - now.timestamp(),
        30,
        "the first retry waits 30 s"
    );
    // Nothing is sent again before the clock says so.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(gateway.received().len(), 1);

    w.app.clock.advance(Duration::from_secs(30));
    gateway.when(2).await;
    let again = delivery_when(&w, &farmer, &id, pb::DeliveryStatus::Queued).await;
    assert_eq!(again.attempt_count, 2);
    assert_eq!(
        again.next_attempt_time.unwrap().seconds - w.app.clock.now().timestamp(),
        60,
        "the second waits twice as long"
    );
    w.app.clock.advance(Duration::from_secs(60));
    gateway.when(3).await;
    let sent = delivery_when(&w, &farmer, &id, pb::DeliveryStatus::Sent).await;
    assert_eq!(sent.attempt_count, 3);
    assert_eq!(sent.provider_message_id, "gw-3");
    let keys: Vec<String> = gateway
        .received()
        .into_iter()
        .map(|r| r.idempotency_key)
        .collect();
    assert_eq!(
        keys,
        [id.clone(), id.clone(), id.clone()],
        "one key for every attempt"
    );
    // One notification: one inbox item, one delivery.
    assert_eq!(w.inbox_when(&farmer, 1).await.items.len(), 1);
    let all = deliveries(&w, &farmer, pb::ListDeliveriesRequest::default())
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
}

#[tokio::test]
async fn a_gateway_that_refuses_fails_the_text_at_once_and_one_that_stays_down_fails_it_after_the_last_attempt()
 {
    let gateway = Gateway::default();
    // The seller's text is refused (400); the buyer's meets a gateway down three times.
    gateway.answer_next(&[400]);
    let mut w = world_texting_through(&gateway).await;
    let (farmer, listing) = w.farmer_selling().await;
    let buyer = w.person(&[(Role::Buyer, "")]);
    w.known(&farmer, "王秀英", "+8613800000001", "zh-CN").await;
    w.known(&buyer, "张伟", "+8613800000003", "zh-CN").await;
    let order = w.order(&buyer, &listing, 10).await;
    gateway.when(1).await;
    let refused_id = gateway.received()[0].idempotency_key.clone();
    let refused = delivery_when(&w, &farmer, &refused_id, pb::DeliveryStatus::Failed).await;
    assert_eq!(refused.attempt_count, 1);
    assert!(refused.last_error.contains("400"), "{}", refused.last_error);

    gateway.answer_next(&[500, 500, 500]);
    w.accept(&farmer, &order).await;
    gateway.when(2).await;
    let id = gateway.received()[1].idempotency_key.clone();
    delivery_when(&w, &buyer, &id, pb::DeliveryStatus::Queued).await;
    w.app.clock.advance(Duration::from_secs(30));
    gateway.when(3).await;
    delivery_when(&w, &buyer, &id, pb::DeliveryStatus::Queued).await;
    w.app.clock.advance(Duration::from_secs(60));
    gateway.when(4).await;
    let failed = delivery_when(&w, &buyer, &id, pb::DeliveryStatus::Failed).await;
    assert_eq!(failed.attempt_count, 3);
    assert!(
        failed.last_error.contains("gave up after 3 attempts"),
        "{}",
        failed.last_error
    );
    // Final: no more attempts however far the clock goes.
    w.app.clock.advance(Duration::from_secs(3600));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(gateway.received().len(), 4);
}

fn code_for(
    phone: &str,
    user: &Person,
    code: &str,
    expire: chrono::DateTime<chrono::Utc>,
) -> identity::OtpRequested {
    identity::OtpRequested {
        otp_id: uuid::Uuid::now_v7().to_string(),
        phone_number: phone.to_owned(),
        user_id: user.id.to_string(),
        code: code.to_owned(),
        purpose: identity::OtpPurpose::Login as i32,
        locale: "zh-CN".to_owned(),
        expire_time: Some(prost_types::Timestamp {
            seconds: expire.timestamp(),
            nanos: 0,
        }),
    }
}

#[tokio::test]
async fn a_one_time_code_is_texted_once_however_often_its_event_comes_and_is_forgotten_once_sent() {
    let gateway = Gateway::default();
    let w = world_texting_through(&gateway).await;
    let villager = w.person(&[(Role::Resident, VILLAGE)]);
    let now = w.app.clock.now();
    let event = code_for(
        "+8613800000007",
        &villager,
        "480213",
        now + chrono::Duration::minutes(5),
    );
    let envelope = w.publish_as("terrace/identity", &event).await;
    let sent = gateway.when(1).await;
    assert_eq!(sent[0].body["to"], "+8613800000007");
    assert_eq!(
        sent[0].body["text"],
        "【Terrace】验证码 480213，用于登录，5 分钟内有效。请勿告诉他人。"
    );
    // The same event again (a relay retrying a lost acknowledgement): no second text.
    w.republish(&envelope).await;
    let record = delivery_when(
        &w,
        &villager,
        &sent[0].idempotency_key,
        pb::DeliveryStatus::Sent,
    )
    .await;
    assert_eq!(record.category, pb::NotificationCategory::Security as i32);
    assert_eq!(record.template_key, "identity.otp");
    // A code that expired before it could be sent is never sent.
    let stale = code_for(
        "+8613800000008",
        &villager,
        "111111",
        now - chrono::Duration::seconds(1),
    );
    w.publish_as("terrace/identity", &stale).await;
    // A later code goes out after both: the consumer handled them in order.
    let later = code_for(
        "+8613800000009",
        &villager,
        "222222",
        now + chrono::Duration::minutes(5),
    );
    w.publish_as("terrace/identity", &later).await;
    let sent = gateway.when(2).await;
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(sent[1].body["to"], "+8613800000009");
    // Once sent, the text and its values are gone from the record.
    let db = w.app.ctx.database("notify").await;
    let kept = db
        .query_one_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            "SELECT body, params::text AS params FROM deliveries WHERE id = $1::uuid",
            [record.id.clone().into()],
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.try_get::<String>("", "body").unwrap(), "");
    assert_eq!(kept.try_get::<String>("", "params").unwrap(), "{}");
}

#[tokio::test]
async fn bad_requests_for_delivery_records_name_each_bad_field() {
    let gateway = Gateway::default();
    let w = world_texting_through(&gateway).await;
    let villager = w.person(&[(Role::Resident, VILLAGE)]);
    let error = deliveries(
        &w,
        &villager,
        pb::ListDeliveriesRequest {
            recipient_user_id: "not-a-uuid".to_owned(),
            channels: vec![99],
            statuses: vec![0],
            page: Some(terrace_proto::common::v1::PageRequest {
                page_size: -1,
                page_token: String::new(),
            }),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);
    let fields = terrace_testkit::rpc::violated_fields(&error);
    for field in [
        "recipient_user_id",
        "channels[0]",
        "statuses[0]",
        "page.page_size",
    ] {
        assert!(
            fields.iter().any(|f| f == field),
            "{field} not in {fields:?}"
        );
    }
    let error = delivery(&w, &villager, "nope").await.unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);
}
