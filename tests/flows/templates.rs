//! A platform admin rewrites the text a seller gets when someone orders: the next order's text
//! goes to the gateway with the new words, under the provider template id and the signature
//! the new version names, its delivery record names the version, and the edit itself is in the
//! country's audit chain, which governance keeps.

use std::time::Duration;

use sea_orm::{ConnectionTrait as _, Statement};
use terrace_platform::auth::Role;
use terrace_proto::notify::v1 as notify;
use terrace_testkit::rpc::request_id;

use crate::world::{VILLAGE, World};

#[tokio::test]
async fn an_admins_new_order_text_goes_out_under_its_own_template_id_and_signature_and_is_audited()
{
    let w = World::new().await;
    let admin = w.official(Role::PlatformAdmin, "");
    let mut template = w
        .notify
        .clone()
        .get_template(w.app.request(
            notify::GetTemplateRequest {
                template_key: "market.order.placed".to_owned(),
                version: 0,
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .template
        .unwrap();
    let sms = template
        .contents
        .iter_mut()
        .find(|c| c.channel == notify::Channel::Sms as i32 && c.locale == "zh-CN")
        .unwrap();
    sms.body =
        "新订单 {{ reference }}：{{ buyer }}要{{ quantity }}{{ title }}，请尽快接单。".to_owned();
    sms.provider_template_id = "SMS_ANJI_ORDER_2".to_owned();
    sms.signature = "安吉农事".to_owned();
    let saved = w
        .notify
        .clone()
        .update_template(w.app.request(
            notify::UpdateTemplateRequest {
                request_id: request_id(),
                template: Some(template),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["contents".to_owned()],
                }),
                activate: None,
                expected_version: 1,
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .template
        .unwrap();
    assert_eq!(saved.active_version, 2);

    let farmer = w
        .person("+8613800000041", "王秀英", &[(Role::Farmer, VILLAGE)])
        .await;
    let buyer = w
        .person("+8613800000042", "张伟", &[(Role::Buyer, "")])
        .await;
    let listing = w.apples_on_sale(&farmer).await;
    let order = w.order(&buyer, &listing, 10).await;

    let texts = w.gateway.when(1).await;
    assert_eq!(texts[0].to(), farmer.phone);
    assert_eq!(texts[0].body["template_code"], "SMS_ANJI_ORDER_2");
    assert_eq!(texts[0].body["sign_name"], "安吉农事");
    assert_eq!(
        texts[0].text(),
        format!(
            "【安吉农事】新订单 {}：张伟要10 斤红富士苹果，请尽快接单。",
            order.reference
        )
    );
    let records = w.deliveries(&farmer).await;
    assert_eq!(records[0].template_key, "market.order.placed");
    assert_eq!(records[0].template_version, 2);

    let governance = w.app.ctx.database("governance").await;
    let audited = terrace_testkit::eventually(
        "the template edit in the country's audit chain",
        Duration::from_secs(30),
        || {
            let db = governance.clone();
            async move {
                let row = db
                    .query_one_raw(Statement::from_sql_and_values(
                        db.get_database_backend(),
                        "SELECT details_json FROM audit_entries
                          WHERE chain = '' AND action = 'template.saved'
                            AND target_id = 'market.order.placed'",
                        [],
                    ))
                    .await
                    .ok()??;
                row.try_get::<String>("", "details_json").ok()
            }
        },
    )
    .await;
    let details: serde_json::Value = serde_json::from_str(&audited).unwrap();
    assert_eq!(details["version"], 2);
}
