//! E-mail against a small local SMTP server: the order text given an e-mail version by a
//! platform admin reaches a seller who turned e-mail on for orders, at the address notify
//! learnt from identity's events — once, under a Message-ID made of the delivery id, which a
//! retry after "try again later" keeps; a mailbox the server refuses fails the delivery; an
//! address cleared in identity is forgotten and nothing more is mailed.

use std::time::Duration;

use sea_orm::{ConnectionTrait as _, Statement};
use terrace_platform::auth::Role;
use terrace_proto::identity::v1 as identity;
use terrace_proto::notify::v1 as pb;
use terrace_testkit::eventually;
use terrace_testkit::rpc::request_id;
use terrace_testkit::smtp::SmtpServer;

use crate::world::{Person, World};

/// Identity tells of `who`'s profile with `email` (as its relay would, through NATS).
async fn identity_says(w: &World, who: &Person, email: &str) {
    w.publish_as(
        "terrace/identity",
        &identity::UserUpdated {
            user: Some(identity::User {
                id: who.id.to_string(),
                display_name: "王秀英".to_owned(),
                phone_number: "+8613800000001".to_owned(),
                email: email.to_owned(),
                locale: "zh-CN".to_owned(),
                time_zone: "Asia/Shanghai".to_owned(),
                ..Default::default()
            }),
            ..Default::default()
        },
    )
    .await;
}

/// Waits until notify holds `address` for `who` (`None`: holds none).
async fn address_when(w: &World, who: &Person, address: Option<&str>) {
    let db = w.app.ctx.database("notify").await;
    eventually(
        "notify to hold the address",
        Duration::from_secs(30),
        || {
            let db = db.clone();
            async move {
                let row = db
                    .query_one_raw(Statement::from_sql_and_values(
                        db.get_database_backend(),
                        "SELECT address FROM contact_emails WHERE user_id = $1",
                        [who.id.into()],
                    ))
                    .await
                    .ok()?;
                let held = row.and_then(|r| r.try_get::<String>("", "address").ok());
                (held.as_deref() == address).then_some(())
            }
        },
    )
    .await;
}

async fn mails_of(w: &World, who: &Person) -> Vec<pb::Delivery> {
    let request = pb::ListDeliveriesRequest {
        recipient_user_id: who.id.to_string(),
        channels: vec![pb::Channel::Email as i32],
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

async fn mail_record_when(
    w: &World,
    who: &Person,
    count: usize,
    done: impl Fn(&pb::Delivery) -> bool,
) -> Vec<pb::Delivery> {
    eventually(
        &format!("{count} e-mail records, the newest as wanted"),
        Duration::from_secs(30),
        || async {
            let records = mails_of(w, who).await;
            (records.len() >= count && records.first().is_some_and(&done)).then_some(records)
        },
    )
    .await
}

#[tokio::test]
async fn an_order_is_mailed_once_under_its_delivery_id_retried_refused_and_forgotten_with_the_address()
 {
    let smtp = SmtpServer::default();
    let url = smtp.start().await;
    let mut w = World::with_notify(serde_json::json!({
        "email": { "url": url, "from": "Terrace <noreply@terrace.example>", "timeout": "5s" },
        "delivery": { "first_retry": "30s", "max_retry": "10m", "max_attempts": 3, "poll_interval": "20ms" },
    }))
    .await;
    let admin = w.person(&[(Role::PlatformAdmin, "")]);

    // The order text gets an e-mail version.
    let mut placed = w
        .notify
        .clone()
        .get_template(w.app.request(
            pb::GetTemplateRequest {
                template_key: "market.order.placed".to_owned(),
                version: 0,
            },
            &admin.token,
        ))
        .await
        .unwrap()
        .into_inner()
        .template
        .unwrap();
    placed.contents.push(pb::TemplateContent {
        locale: "zh-CN".to_owned(),
        channel: pb::Channel::Email as i32,
        subject: "新订单：{{ title }}".to_owned(),
        body: "**{{ buyer }}** 要买 {{ quantity }}，共 {{ total }}。\n\n订单号 {{ reference }}。"
            .to_owned(),
        ..Default::default()
    });
    w.notify
        .clone()
        .update_template(w.app.request(
            pb::UpdateTemplateRequest {
                request_id: request_id(),
                template: Some(placed),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["contents".to_owned()],
                }),
                activate: None,
                expected_version: 0,
            },
            &admin.token,
        ))
        .await
        .unwrap();

    // The seller: an address from identity, e-mail turned on for orders.
    let (seller, listing) = w.farmer_selling().await;
    identity_says(&w, &seller, "xiuying@example.org").await;
    address_when(&w, &seller, Some("xiuying@example.org")).await;
    w.notify
        .clone()
        .update_preferences(w.app.request(
            pb::UpdatePreferencesRequest {
                request_id: request_id(),
                preferences: Some(pb::Preferences {
                    channel_settings: vec![pb::ChannelSetting {
                        category: pb::NotificationCategory::Orders as i32,
                        channel: pb::Channel::Email as i32,
                        enabled: true,
                    }],
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["channel_settings".to_owned()],
                }),
            },
            &seller.token,
        ))
        .await
        .unwrap();

    // The server says "try again later" once: the mail waits 30 s on the clock, then goes.
    smtp.refuse_next(&["451 4.3.0 try again later"]);
    let buyer = w.person(&[(Role::Buyer, "")]);
    let order = w.order(&buyer, &listing, 10).await;
    let waiting = mail_record_when(&w, &seller, 1, |d| {
        d.attempt_count == 1 && d.status == pb::DeliveryStatus::Queued as i32
    })
    .await;
    assert!(
        waiting[0].last_error.contains("451"),
        "{}",
        waiting[0].last_error
    );
    assert!(smtp.mails().is_empty());
    w.app.clock.advance(Duration::from_secs(31));
    let mails = smtp.when(1).await;
    let mail = &mails[0];
    let record = mail_record_when(&w, &seller, 1, |d| {
        d.status == pb::DeliveryStatus::Sent as i32
    })
    .await
    .remove(0);
    assert_eq!(mail.to, ["xiuying@example.org"]);
    assert_eq!(mail.from, "noreply@terrace.example");
    assert_eq!(mail.message_id(), format!("{}@notify.terrace", record.id));
    assert_eq!(mail.subject(), "新订单：红富士苹果");
    assert!(
        mail.text().contains(&format!("订单号 {}", order.reference)),
        "{}",
        mail.text()
    );
    assert!(mail.html().contains("<strong>"), "{}", mail.html());
    assert_eq!(record.template_version, 2);

    // A mailbox the server refuses for good: the delivery fails, nothing is retried.
    smtp.refuse_next(&["550 5.1.1 no such mailbox"]);
    w.order(&buyer, &listing, 5).await;
    let refused = mail_record_when(&w, &seller, 2, |d| {
        d.status == pb::DeliveryStatus::Failed as i32
    })
    .await
    .remove(0);
    assert!(refused.last_error.contains("550"), "{}", refused.last_error);
    assert_eq!(smtp.mails().len(), 1);

    // Identity clears the address: notify forgets it, and the next order is mailed to nobody.
    identity_says(&w, &seller, "").await;
    address_when(&w, &seller, None).await;
    w.order(&buyer, &listing, 1).await;
    w.inbox_when(&seller, 3).await;
    assert_eq!(
        mails_of(&w, &seller).await.len(),
        2,
        "no third e-mail record"
    );
    assert_eq!(smtp.mails().len(), 1);
}
