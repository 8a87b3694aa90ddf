//! The price reference over gRPC: what apples sell for and are offered at around a farmer, per
//! the unit she sells in, the area widened until there are enough prices to mean something.

use terrace_platform::auth::Role;
use terrace_proto::common::v1 as common;
use terrace_proto::market::v1 as pb;
use terrace_testkit::rpc::{request_id, violated_fields};
use tonic::Code;

use crate::world::{NEIGHBOUR_VILLAGE, VILLAGE, World, apples, area, cny, order_of};

#[tokio::test]
async fn the_reference_gives_quartiles_per_unit_and_widens_a_thin_area() {
    let mut w = World::new().await;
    let here = w.farmer();
    let there = w.person(&[(Role::Farmer, NEIGHBOUR_VILLAGE)]);
    // 余村 offers apples at ¥3.00, ¥3.50 and ¥4.00 a 斤; the neighbouring village at ¥5 and ¥6.
    let mut listings = Vec::new();
    for (who, fen) in [
        (&here, 300),
        (&here, 350),
        (&here, 400),
        (&there, 500),
        (&there, 600),
    ] {
        let listing = pb::Listing {
            unit_price: Some(cny(fen)),
            ..apples()
        };
        listings.push(w.create(who, listing, true).await.unwrap());
    }
    // One order of the ¥3.50 apples completed.
    let buyer = w.buyer();
    let order = w
        .place(&buyer, order_of(&listings[1], 20_000))
        .await
        .unwrap();
    for step in ["accept", "pick_up", "complete"] {
        let (id, seller, buyer) = (order.id.clone(), here.token.clone(), buyer.token.clone());
        match step {
            "accept" => {
                w.client
                    .accept_order(w.app.request(
                        pb::AcceptOrderRequest {
                            request_id: request_id(),
                            order_id: id,
                            note: String::new(),
                        },
                        &seller,
                    ))
                    .await
                    .unwrap();
            }
            "pick_up" => {
                w.client
                    .mark_order_picked_up(w.app.request(
                        pb::MarkOrderPickedUpRequest {
                            request_id: request_id(),
                            order_id: id,
                        },
                        &seller,
                    ))
                    .await
                    .unwrap();
            }
            _ => {
                w.client
                    .complete_order(w.app.request(
                        pb::CompleteOrderRequest {
                            request_id: request_id(),
                            order_id: id,
                        },
                        &buyer,
                    ))
                    .await
                    .unwrap();
            }
        }
    }
    let reference = |area_code: Option<&str>, unit: common::Unit| pb::GetPriceReferenceRequest {
        category_id: "fruit.apple".to_owned(),
        area: area_code.map(area),
        unit: unit as i32,
        window_days: 0,
    };
    // Around the farmer (her county), per 斤.
    let answer = w
        .client
        .get_price_reference(
            w.app
                .request(reference(None, common::Unit::Unspecified), &here.token),
        )
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer.area.as_ref().unwrap().code, "330523000000");
    assert_eq!(answer.unit, common::Unit::Jin as i32);
    let asking = answer.active_listings.unwrap();
    assert_eq!(asking.count, 5);
    assert_eq!(asking.median, Some(cny(400)));
    assert_eq!(asking.p25, Some(cny(350)));
    assert_eq!(asking.p75, Some(cny(500)));
    let sold = answer.completed_orders.unwrap();
    assert_eq!((sold.count, sold.median), (1, Some(cny(350))));
    // Per kilogram, twice as much.
    let per_kg = w
        .client
        .get_price_reference(
            w.app
                .request(reference(None, common::Unit::Kilogram), &here.token),
        )
        .await
        .unwrap()
        .into_inner();
    assert_eq!(per_kg.active_listings.unwrap().median, Some(cny(800)));
    // 余村 alone has four prices: the reference looks at its township instead.
    let village = w
        .client
        .get_price_reference(
            w.app
                .request(reference(Some(VILLAGE), common::Unit::Jin), &here.token),
        )
        .await
        .unwrap()
        .into_inner();
    assert_eq!(village.area.unwrap().code, "330523108000");
    // A unit apples are not sold in; an unknown category.
    let refused = w
        .client
        .get_price_reference(
            w.app
                .request(reference(None, common::Unit::Head), &here.token),
        )
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&refused), ["unit"]);
    let unknown = pb::GetPriceReferenceRequest {
        category_id: "fruit.durian".to_owned(),
        ..reference(None, common::Unit::Jin)
    };
    let refused = w
        .client
        .get_price_reference(w.app.request(unknown, &here.token))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::NotFound);
}
