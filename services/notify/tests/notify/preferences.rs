//! Preferences, on the clock: the defaults and what a mask changes; quiet hours that hold a
//! text until morning in the person's time zone but neither the inbox item nor a code; a
//! channel turned off; the daily digest in one text; the hourly limit; and every bad field named.

use std::time::Duration;

use chrono::{DateTime, Utc};
use terrace_platform::auth::Role;
use terrace_proto::identity::v1 as identity;
use terrace_proto::notify::v1 as pb;
use terrace_testkit::eventually;
use terrace_testkit::rpc::{request_id, violated_fields};
use terrace_testkit::sms::{SmsGateway, notify_settings};
use tonic::Code;

use crate::world::{Person, VILLAGE, World};

fn china(at: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(at)
        .unwrap()
        .with_timezone(&Utc)
}

async fn texting_world(gateway: &SmsGateway, per_hour: u32) -> World {
    let mut settings = notify_settings(&gateway.start().await);
    settings["delivery"]["texts_per_hour"] = per_hour.into();
    World::with_notify(settings).await
}

async fn update(
    w: &World,
    who: &Person,
    preferences: pb::Preferences,
    paths: &[&str],
) -> Result<pb::Preferences, tonic::Status> {
    let request = pb::UpdatePreferencesRequest {
        request_id: request_id(),
        preferences: Some(preferences),
        update_mask: Some(prost_types::FieldMask {
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        }),
    };
    w.notify
        .clone()
        .update_preferences(w.app.request(request, &who.token))
        .await
        .map(|r| r.into_inner().preferences.unwrap())
}

async fn get(w: &World, who: &Person) -> pb::Preferences {
    w.notify
        .clone()
        .get_preferences(
            w.app
                .request(pb::GetPreferencesRequest::default(), &who.token),
        )
        .await
        .unwrap()
        .into_inner()
        .preferences
        .unwrap()
}

fn setting(p: &pb::Preferences, category: pb::NotificationCategory, channel: pb::Channel) -> bool {
    p.channel_settings
        .iter()
        .find(|s| s.category == category as i32 && s.channel == channel as i32)
        .unwrap()
        .enabled
}

async fn records(w: &World, who: &Person) -> Vec<pb::Delivery> {
    let request = pb::ListDeliveriesRequest {
        recipient_user_id: who.id.to_string(),
        ..Default::default()
    };
    w.notify
        .clone()
        .list_deliveries(w.app.request(request, &who.token))
        .await
        .unwrap()
        .into_inner()
        .deliveries
}

async fn records_when(w: &World, who: &Person, count: usize) -> Vec<pb::Delivery> {
    eventually(
        &format!("{count} delivery records"),
        Duration::from_secs(30),
        || async { Some(records(w, who).await).filter(|r| r.len() >= count) },
    )
    .await
}

fn quiet_nights() -> pb::Preferences {
    pb::Preferences {
        quiet_hours: Some(pb::QuietHours {
            enabled: true,
            start_minute: 22 * 60,
            end_minute: 7 * 60,
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn the_defaults_are_filled_in_and_an_update_changes_only_what_its_mask_names() {
    let w = World::new().await;
    let farmer = w.person(&[(Role::Farmer, VILLAGE)]);
    w.known(&farmer, "Wang Xiuying", "+8613800000001", "en")
        .await;
    let before = get(&w, &farmer).await;
    assert!(setting(
        &before,
        pb::NotificationCategory::Orders,
        pb::Channel::Sms
    ));
    assert!(!setting(
        &before,
        pb::NotificationCategory::ServiceRequests,
        pb::Channel::Sms
    ));
    assert!(setting(
        &before,
        pb::NotificationCategory::ServiceRequests,
        pb::Channel::InApp
    ));
    assert_eq!(before.time_zone, "Asia/Shanghai");
    assert_eq!(before.locale, "en", "identity's language until she chooses");
    assert!(!before.quiet_hours.unwrap().enabled);
    // What GetPreferences answers goes back through UpdatePreferences as it is (a phone sends
    // the settings back whole): security shows on everywhere.
    let round_trip = update(&w, &farmer, before.clone(), &["channel_settings"])
        .await
        .unwrap();
    assert_eq!(round_trip.channel_settings, before.channel_settings);

    let after = update(
        &w,
        &farmer,
        pb::Preferences {
            locale: "zh-CN".to_owned(),
            channel_settings: vec![pb::ChannelSetting {
                category: pb::NotificationCategory::Orders as i32,
                channel: pb::Channel::Sms as i32,
                enabled: false,
            }],
            ..quiet_nights()
        },
        &["quiet_hours", "locale"],
    )
    .await
    .unwrap();
    assert!(after.quiet_hours.as_ref().unwrap().enabled);
    assert_eq!(after.locale, "zh-CN");
    assert!(
        setting(&after, pb::NotificationCategory::Orders, pb::Channel::Sms),
        "channel_settings was not in the mask"
    );
    assert_eq!(get(&w, &farmer).await, after);

    // Every bad field at once; nothing changes.
    let error = update(
        &w,
        &farmer,
        pb::Preferences {
            channel_settings: vec![
                pb::ChannelSetting {
                    category: pb::NotificationCategory::Security as i32,
                    channel: pb::Channel::Sms as i32,
                    enabled: false,
                },
                pb::ChannelSetting {
                    category: pb::NotificationCategory::Orders as i32,
                    channel: pb::Channel::Webhook as i32,
                    enabled: true,
                },
            ],
            quiet_hours: Some(pb::QuietHours {
                enabled: true,
                start_minute: 1440,
                end_minute: -1,
            }),
            digest: Some(pb::DigestSettings {
                enabled: true,
                send_minute: 1200,
                categories: vec![pb::NotificationCategory::Security as i32],
                channel: pb::Channel::InApp as i32,
            }),
            time_zone: "Mars/Olympus".to_owned(),
            ..Default::default()
        },
        &[
            "channel_settings",
            "quiet_hours",
            "digest",
            "time_zone",
            "user_id",
        ],
    )
    .await
    .unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);
    let fields = violated_fields(&error);
    for field in [
        "preferences.channel_settings[0].enabled",
        "preferences.channel_settings[1].channel",
        "preferences.quiet_hours.start_minute",
        "preferences.quiet_hours.end_minute",
        "preferences.digest.categories",
        "preferences.digest.channel",
        "preferences.time_zone",
        "update_mask",
    ] {
        assert!(
            fields.iter().any(|f| f == field),
            "{field} not in {fields:?}"
        );
    }
    assert_eq!(get(&w, &farmer).await, after);
}

#[tokio::test]
async fn quiet_hours_hold_an_order_text_until_morning_but_neither_the_inbox_item_nor_a_code() {
    let gateway = SmsGateway::default();
    let mut w = texting_world(&gateway, 10).await;
    // Monday 23:00 in China.
    w.app.clock.set(china("2027-03-01T23:00:00+08:00"));
    let (farmer, listing) = w.farmer_selling().await;
    let buyer = w.person(&[(Role::Buyer, "")]);
    w.known(&farmer, "王秀英", "+8613800000001", "zh-CN").await;
    update(&w, &farmer, quiet_nights(), &["quiet_hours"])
        .await
        .unwrap();
    w.order(&buyer, &listing, 10).await;

    // The item is in her inbox at once; the text waits for 07:00.
    w.inbox_when(&farmer, 1).await;
    let held = records_when(&w, &farmer, 1).await;
    assert_eq!(held[0].status, pb::DeliveryStatus::Deferred as i32);
    assert_eq!(
        held[0].next_attempt_time.as_ref().unwrap().seconds,
        china("2027-03-02T07:00:00+08:00").timestamp()
    );
    // A code is critical: it goes now.
    w.publish_as(
        "terrace/identity",
        &identity::OtpRequested {
            otp_id: uuid::Uuid::now_v7().to_string(),
            phone_number: "+8613800000001".to_owned(),
            user_id: farmer.id.to_string(),
            code: "135790".to_owned(),
            purpose: identity::OtpPurpose::Login as i32,
            locale: "zh-CN".to_owned(),
            expire_time: Some(prost_types::Timestamp {
                seconds: china("2027-03-01T23:05:00+08:00").timestamp(),
                nanos: 0,
            }),
        },
    )
    .await;
    let sent = gateway.when(1).await;
    assert_eq!(sent[0].code().as_deref(), Some("135790"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(gateway.received().len(), 1, "the order's text still waits");

    w.app.clock.set(china("2027-03-02T07:00:00+08:00"));
    let sent = gateway.when(2).await;
    assert!(sent[1].text().contains("下单"), "{}", sent[1].text());
}

#[tokio::test]
async fn a_channel_turned_off_records_the_text_as_not_sent_and_still_writes_the_item() {
    let gateway = SmsGateway::default();
    let mut w = texting_world(&gateway, 10).await;
    let (farmer, listing) = w.farmer_selling().await;
    let buyer = w.person(&[(Role::Buyer, "")]);
    w.known(&farmer, "王秀英", "+8613800000001", "zh-CN").await;
    update(
        &w,
        &farmer,
        pb::Preferences {
            channel_settings: vec![pb::ChannelSetting {
                category: pb::NotificationCategory::Orders as i32,
                channel: pb::Channel::Sms as i32,
                enabled: false,
            }],
            ..Default::default()
        },
        &["channel_settings"],
    )
    .await
    .unwrap();
    w.order(&buyer, &listing, 10).await;
    w.inbox_when(&farmer, 1).await;
    let record = records_when(&w, &farmer, 1).await.remove(0);
    assert_eq!(record.status, pb::DeliveryStatus::Suppressed as i32);
    assert_eq!(
        record.history[0].detail,
        "turned off in the recipient's preferences"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(gateway.received().is_empty());
}

#[tokio::test]
async fn the_daily_digest_sends_the_days_orders_in_one_text_at_the_chosen_minute() {
    let gateway = SmsGateway::default();
    let mut w = texting_world(&gateway, 10).await;
    let (farmer, listing) = w.farmer_selling().await;
    let (first, second) = (
        w.person(&[(Role::Buyer, "")]),
        w.person(&[(Role::Buyer, "")]),
    );
    w.known(&farmer, "王秀英", "+8613800000001", "zh-CN").await;
    update(
        &w,
        &farmer,
        pb::Preferences {
            digest: Some(pb::DigestSettings {
                enabled: true,
                send_minute: 20 * 60,
                categories: vec![pb::NotificationCategory::Orders as i32],
                channel: pb::Channel::Sms as i32,
            }),
            ..Default::default()
        },
        &["digest"],
    )
    .await
    .unwrap();
    let a = w.order(&first, &listing, 10).await;
    let b = w.order(&second, &listing, 20).await;
    let held = records_when(&w, &farmer, 2).await;
    for record in &held {
        assert_eq!(record.status, pb::DeliveryStatus::Deferred as i32);
        assert_eq!(
            record.next_attempt_time.as_ref().unwrap().seconds,
            china("2027-03-01T20:00:00+08:00").timestamp()
        );
    }
    w.app.clock.set(china("2027-03-01T20:00:00+08:00"));
    let sent = gateway.when(1).await;
    let text = sent[0].text();
    assert!(text.starts_with("【Terrace】今日消息 2 条："), "{text}");
    assert!(
        text.contains(&a.reference) && text.contains(&b.reference),
        "{text}"
    );
    // Both records sent, as one message.
    let farmer = Person {
        token: w
            .app
            .token(&farmer.id.to_string(), &[(Role::Farmer, VILLAGE)]),
        ..farmer
    };
    let sent_records = eventually("both records sent", Duration::from_secs(30), || async {
        let records = records(&w, &farmer).await;
        records
            .iter()
            .all(|r| r.status == pb::DeliveryStatus::Sent as i32)
            .then_some(records)
    })
    .await;
    assert_eq!(
        sent_records[0].provider_message_id,
        sent_records[1].provider_message_id
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(gateway.received().len(), 1);
}

#[tokio::test]
async fn texts_beyond_the_hourly_limit_are_recorded_as_not_sent() {
    let gateway = SmsGateway::default();
    let mut w = texting_world(&gateway, 2).await;
    let (farmer, listing) = w.farmer_selling().await;
    w.known(&farmer, "王秀英", "+8613800000001", "zh-CN").await;
    for _ in 0..3 {
        let buyer = w.person(&[(Role::Buyer, "")]);
        w.order(&buyer, &listing, 10).await;
    }
    let all = records_when(&w, &farmer, 3).await;
    let limited: Vec<_> = all
        .iter()
        .filter(|r| r.status == pb::DeliveryStatus::Suppressed as i32)
        .collect();
    assert_eq!(limited.len(), 1, "{all:?}");
    assert!(limited[0].history[0].detail.starts_with("rate limit"));
    assert_eq!(gateway.when(2).await.len(), 2);
}

#[tokio::test]
async fn an_erased_person_leaves_no_preferences_inbox_or_address_behind() {
    use sea_orm::{ConnectionTrait as _, Statement};
    use terrace_platform::bus::Envelope;
    let gateway = SmsGateway::default();
    let mut w = texting_world(&gateway, 10).await;
    let (farmer, listing) = w.farmer_selling().await;
    let buyer = w.person(&[(Role::Buyer, "")]);
    w.known(&farmer, "王秀英", "+8613800000001", "zh-CN").await;
    update(&w, &farmer, quiet_nights(), &["quiet_hours"])
        .await
        .unwrap();
    w.order(&buyer, &listing, 10).await;
    w.inbox_when(&farmer, 1).await;
    gateway.when(1).await;

    // Identity erases her: `identity.user.erased` carrying her id, as its outbox publishes it.
    let mut erased =
        Envelope::tombstone::<identity::User>("terrace/identity", &farmer.id.to_string());
    erased.subject = terrace_platform::bus::envelope::erased_subject::<identity::User>();
    erased.payload = farmer.id.to_string().into_bytes().into();
    w.republish(&erased).await;

    let db = w.app.ctx.database("notify").await;
    let count = |sql: &'static str| {
        let db = db.clone();
        async move {
            db.query_one_raw(Statement::from_sql_and_values(
                db.get_database_backend(),
                sql,
                [farmer.id.into()],
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get::<i64>("", "n")
            .unwrap()
        }
    };
    eventually(
        "her erasure to reach notify",
        Duration::from_secs(30),
        || async {
            (count("SELECT count(*) AS n FROM known_users WHERE id = $1").await == 0).then_some(())
        },
    )
    .await;
    assert_eq!(
        count("SELECT count(*) AS n FROM preferences WHERE user_id = $1").await,
        0
    );
    assert_eq!(
        count("SELECT count(*) AS n FROM inbox_items WHERE user_id = $1").await,
        0
    );
    assert_eq!(
        count("SELECT count(*) AS n FROM deliveries WHERE recipient_user_id = $1").await,
        0
    );
    let kept = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT count(*) AS n FROM deliveries WHERE address = '' AND body = ''".to_owned(),
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap();
    assert_eq!(kept, 1, "the record stays, naming nobody");
}
