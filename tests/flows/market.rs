//! A farmer lists, a buyer orders, both are told once: the seller of the order (in-app and by
//! text), the buyer of the acceptance (in-app and by text) — each exactly once, whatever else
//! flows.

use terrace_platform::auth::Role;
use terrace_proto::market::v1 as market;
use terrace_proto::notify::v1 as notify;
use terrace_testkit::rpc::request_id;

use crate::world::{VILLAGE, World};

#[tokio::test]
async fn a_farmer_lists_a_buyer_orders_and_each_is_told_once_in_the_app_and_by_text() {
    let w = World::new().await;
    let farmer = w
        .person("+8613800000031", "王秀英", &[(Role::Farmer, VILLAGE)])
        .await;
    let buyer = w
        .person("+8613800000032", "张伟", &[(Role::Buyer, "")])
        .await;
    let listing = w.apples_on_sale(&farmer).await;
    let order = w.order(&buyer, &listing, 10).await;

    // The farmer: one item, one text, naming the buyer as identity knows him.
    let told = w.inbox_when(&farmer, 1).await;
    assert_eq!(told[0].title, "新订单：红富士苹果");
    assert!(
        told[0].body.starts_with("张伟 要买 10 斤"),
        "{}",
        told[0].body
    );
    let texts = w.gateway.when(1).await;
    assert_eq!(texts[0].to(), farmer.phone);
    assert!(
        texts[0].text().contains(&order.reference),
        "{}",
        texts[0].text()
    );

    w.market
        .clone()
        .accept_order(w.app.request(
            market::AcceptOrderRequest {
                request_id: request_id(),
                order_id: order.id.clone(),
                note: String::new(),
            },
            &farmer.token,
        ))
        .await
        .unwrap();
    let answered = w.inbox_when(&buyer, 1).await;
    assert_eq!(answered[0].title, "王秀英 接单了");
    let texts = w.gateway.when(2).await;
    assert_eq!(texts[1].to(), buyer.phone);

    // Once each: by now both events went all the way through, and nothing came twice.
    assert_eq!(w.inbox_when(&farmer, 1).await.len(), 1);
    assert_eq!(w.inbox_when(&buyer, 1).await.len(), 1);
    assert_eq!(w.gateway.received().len(), 2);
    let records = w.deliveries(&farmer).await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].channel, notify::Channel::Sms as i32);
    assert_eq!(
        records[0].source_event_id, told[0].source_id,
        "one event, one text, one item"
    );
}
