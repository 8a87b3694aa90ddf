//! Orders over gRPC: many buyers at once never reserve more than the stock; every step moves the
//! same quantity back to available or into sold; the seller and buyer reach each other once the
//! seller accepts; unanswered orders lapse and handed-over ones complete on the services' clock.

use terrace_market::orders::{COMPLETION_JOB, EXPIRY_JOB};
use terrace_platform::auth::Role;
use terrace_proto::common::v1 as common;
use terrace_proto::market::v1 as pb;
use terrace_testkit::events;
use terrace_testkit::rpc::{assert_refused, reason, request_id, violated_fields};
use tonic::Code;
use tonic_types::StatusExt as _;

use crate::world::{OTHER_TOWNSHIP, TOWNSHIP, VILLAGE, World, apples, cny, order_of, quantity};

/// 100 斤 sold at least 1 斤 at a time.
fn small_stock() -> pb::Listing {
    pb::Listing {
        stocked: Some(quantity(100_000, common::Unit::Jin)),
        minimum_order: Some(quantity(1_000, common::Unit::Jin)),
        ..apples()
    }
}

#[tokio::test]
async fn many_buyers_at_once_never_reserve_more_than_the_stock() {
    let mut w = World::new().await;
    let farmer = w.farmer();
    let listing = w.create(&farmer, small_stock(), true).await.unwrap();
    // 25 buyers each want 10 斤 of the 100 at the same moment.
    let attempts = (0..25).map(|_| {
        let buyer = w.buyer();
        let mut client = w.client.clone();
        let request = w.app.request(
            pb::PlaceOrderRequest {
                request_id: request_id(),
                order: Some(order_of(&listing, 10_000)),
                expected_unit_price: None,
            },
            &buyer.token,
        );
        tokio::spawn(async move { client.place_order(request).await })
    });
    let results = futures::future::join_all(attempts).await;
    let (placed, refused): (Vec<_>, Vec<_>) = results
        .into_iter()
        .map(|joined| joined.unwrap())
        .partition(Result::is_ok);
    assert_eq!(placed.len(), 10, "exactly the stock is reserved");
    for refusal in refused {
        let status = refusal.unwrap_err();
        assert_eq!(
            (status.code(), reason(&status).as_str()),
            (Code::FailedPrecondition, "INSUFFICIENT_QUANTITY"),
            "{status:?}"
        );
    }
    let now = w.get(&farmer, &listing.id).await.unwrap();
    assert_eq!(now.reserved, Some(quantity(100_000, common::Unit::Jin)));
    assert_eq!(now.available, Some(quantity(0, common::Unit::Jin)));
    assert_eq!(now.status, pb::ListingStatus::SoldOut as i32);
    assert_eq!(
        w.count("SELECT COALESCE(sum(quantity_milli), 0)::bigint AS n FROM orders")
            .await,
        100_000
    );
    // The listing's version rose once per reservation, and its snapshot says so.
    assert_eq!(now.version, listing.version + 10);
}

#[tokio::test]
async fn an_order_goes_from_placed_to_completed_and_each_side_reaches_the_other() {
    let mut w = World::with_identity().await;
    let seller = w
        .app
        .seed_user("+8613900000001", "章大姐", &[(Role::Farmer, VILLAGE)])
        .await;
    let buyer = w
        .app
        .seed_user("+8613900000002", "杭州李先生", &[(Role::Buyer, "")])
        .await;
    let seller = crate::world::Person {
        id: seller.id,
        token: seller.token,
    };
    let buyer = crate::world::Person {
        id: buyer.id,
        token: buyer.token,
    };
    // The people consumer has the seller once identity published her; listings name her.
    terrace_testkit::eventually(
        "market to know the seller",
        std::time::Duration::from_secs(30),
        || async {
            terrace_platform::people::find(&w.db, seller.id)
                .await
                .unwrap()
                .map(|_| ())
        },
    )
    .await;
    let listing = w.create(&seller, apples(), true).await.unwrap();
    assert_eq!(listing.seller_display_name, "章大姐");

    // What is refused, and changes nothing.
    assert_refused(
        w.place(&seller, order_of(&listing, 20_000)).await,
        Code::FailedPrecondition,
        "OWN_LISTING",
    );
    let refused = w
        .place(&buyer, order_of(&listing, 5_000))
        .await
        .unwrap_err();
    assert_eq!(
        violated_fields(&refused),
        ["order.quantity"],
        "below the minimum order"
    );
    let in_kg = pb::Order {
        quantity: Some(quantity(20_000, common::Unit::Kilogram)),
        ..order_of(&listing, 0)
    };
    let refused = w.place(&buyer, in_kg).await.unwrap_err();
    assert_eq!(violated_fields(&refused), ["order.quantity.unit"]);
    let delivered = pb::Order {
        fulfilment_method: pb::FulfilmentMethod::Delivery as i32,
        delivery_address: "杭州市西湖区".to_owned(),
        ..order_of(&listing, 20_000)
    };
    assert_refused(
        w.place(&buyer, delivered).await,
        Code::FailedPrecondition,
        "FULFILMENT_NOT_OFFERED",
    );
    let stale_price = w
        .client
        .place_order(w.app.request(
            pb::PlaceOrderRequest {
                request_id: request_id(),
                order: Some(order_of(&listing, 20_000)),
                expected_unit_price: Some(cny(300)),
            },
            &buyer.token,
        ))
        .await;
    assert_refused(stale_price, Code::FailedPrecondition, "PRICE_CHANGED");
    let too_much = w
        .place(&buyer, order_of(&listing, 300_000))
        .await
        .unwrap_err();
    assert_eq!(reason(&too_much), "INSUFFICIENT_QUANTITY");
    let info = too_much
        .get_error_details()
        .error_info()
        .unwrap()
        .metadata
        .clone();
    assert_eq!(info["available_milli"], "200000");
    assert_eq!(w.count("SELECT count(*) AS n FROM orders").await, 0);
    assert_eq!(
        w.get(&seller, &listing.id).await.unwrap().reserved,
        Some(quantity(0, common::Unit::Jin))
    );

    // 20 斤 at ¥3.50: ¥70, reserved, waiting for the seller, nobody's phone shown yet.
    let order = w.place(&buyer, order_of(&listing, 20_000)).await.unwrap();
    assert_eq!(order.status, pb::OrderStatus::Pending as i32);
    assert_eq!(order.total_price, Some(cny(7_000)));
    assert_eq!(order.village_code, VILLAGE);
    assert!(
        order.reference.starts_with("M-20270301-"),
        "{}",
        order.reference
    );
    assert_eq!(order.counterpart, None);
    assert_eq!(
        order.contact_phone, "+8613900000002",
        "the buyer's own phone from market's projection of identity"
    );
    let step = |id: &str| pb::AcceptOrderRequest {
        request_id: request_id(),
        order_id: id.to_owned(),
        note: "明早九点村口".to_owned(),
    };
    assert_refused(
        w.client
            .accept_order(w.app.request(step(&order.id), &buyer.token))
            .await,
        Code::PermissionDenied,
        "ONLY_THE_SELLER",
    );
    let accepted = w
        .client
        .accept_order(w.app.request(step(&order.id), &seller.token))
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    assert_eq!(accepted.status, pb::OrderStatus::Confirmed as i32);
    assert_eq!(accepted.seller_note, "明早九点村口");
    let buyer_view = w.order(&buyer, &order.id).await.unwrap();
    assert_eq!(
        buyer_view.counterpart,
        Some(pb::OrderContact {
            display_name: "章大姐".to_owned(),
            phone_number: "+8613900000001".to_owned(),
        })
    );
    let seller_view = w.order(&seller, &order.id).await.unwrap();
    assert_eq!(
        seller_view
            .counterpart
            .as_ref()
            .map(|c| c.phone_number.as_str()),
        Some("+8613900000002")
    );
    // A pickup order is picked up, not shipped; then the reservation is sold.
    let shipped = w
        .client
        .mark_order_shipped(w.app.request(
            pb::MarkOrderShippedRequest {
                request_id: request_id(),
                order_id: order.id.clone(),
                note: String::new(),
            },
            &seller.token,
        ))
        .await;
    assert_refused(shipped, Code::FailedPrecondition, "WRONG_FULFILMENT");
    let picked = w
        .client
        .mark_order_picked_up(w.app.request(
            pb::MarkOrderPickedUpRequest {
                request_id: request_id(),
                order_id: order.id.clone(),
            },
            &buyer.token,
        ))
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    assert_eq!(picked.status, pb::OrderStatus::PickedUp as i32);
    let after = w.get(&seller, &listing.id).await.unwrap();
    assert_eq!(after.reserved, Some(quantity(0, common::Unit::Jin)));
    assert_eq!(after.sold, Some(quantity(20_000, common::Unit::Jin)));
    assert_eq!(after.available, Some(quantity(180_000, common::Unit::Jin)));
    let done = w
        .client
        .complete_order(w.app.request(
            pb::CompleteOrderRequest {
                request_id: request_id(),
                order_id: order.id.clone(),
            },
            &buyer.token,
        ))
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    assert_eq!(done.status, pb::OrderStatus::Completed as i32);
    let statuses: Vec<i32> = done.history.iter().map(|change| change.status).collect();
    assert_eq!(
        statuses,
        [
            pb::OrderStatus::Pending as i32,
            pb::OrderStatus::Confirmed as i32,
            pb::OrderStatus::PickedUp as i32,
            pb::OrderStatus::Completed as i32,
        ]
    );
    // Every step's event names both parties, the village and the listing's title.
    let placed: Vec<pb::OrderPlaced> =
        events::decoded(&w.app, "market", "market.order.placed").await;
    assert_eq!(placed.len(), 1);
    let placed_order = placed[0].order.as_ref().unwrap();
    assert_eq!(
        (
            placed_order.buyer_user_id.as_str(),
            placed_order.seller_user_id.as_str()
        ),
        (
            buyer.id.to_string().as_str(),
            seller.id.to_string().as_str()
        )
    );
    assert_eq!(placed_order.village_code, VILLAGE);
    assert_eq!(
        placed_order.listing_title.as_ref().unwrap().translations["zh-CN"],
        "红富士苹果"
    );
    assert_eq!(
        placed[0].listing_available,
        Some(quantity(180_000, common::Unit::Jin))
    );
    let completed: Vec<pb::OrderCompleted> =
        events::decoded(&w.app, "market", "market.order.completed").await;
    assert_eq!(completed.len(), 1);
}

#[tokio::test]
async fn declines_cancellations_and_no_shows_give_the_quantity_back() {
    let mut w = World::new().await;
    let farmer = w.farmer();
    let listing = w.create(&farmer, small_stock(), true).await.unwrap();
    let (first, second, third) = (w.buyer(), w.buyer(), w.buyer());
    let a = w.place(&first, order_of(&listing, 50_000)).await.unwrap();
    let b = w.place(&second, order_of(&listing, 30_000)).await.unwrap();
    let c = w.place(&third, order_of(&listing, 20_000)).await.unwrap();
    assert_eq!(
        w.get(&farmer, &listing.id).await.unwrap().status,
        pb::ListingStatus::SoldOut as i32
    );
    // The seller declines one: sold out no more.
    let refused = w
        .client
        .decline_order(w.app.request(
            pb::DeclineOrderRequest {
                request_id: request_id(),
                order_id: a.id.clone(),
                reason: String::new(),
            },
            &farmer.token,
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&refused), ["reason"]);
    w.client
        .decline_order(w.app.request(
            pb::DeclineOrderRequest {
                request_id: request_id(),
                order_id: a.id.clone(),
                reason: "这批已经订出去了".to_owned(),
            },
            &farmer.token,
        ))
        .await
        .unwrap();
    let now = w.get(&farmer, &listing.id).await.unwrap();
    assert_eq!(now.status, pb::ListingStatus::Active as i32);
    assert_eq!(now.available, Some(quantity(50_000, common::Unit::Jin)));
    // Both moves were announced: sold out by the last order, active again by the decline.
    let moves: Vec<(i32, i32)> = events::decoded::<pb::ListingStatusChanged>(
        &w.app,
        "market",
        "market.listing.status_changed",
    )
    .await
    .iter()
    .map(|change| (change.from_status, change.listing.as_ref().unwrap().status))
    .collect();
    assert_eq!(
        moves,
        [
            (
                pb::ListingStatus::Active as i32,
                pb::ListingStatus::SoldOut as i32
            ),
            (
                pb::ListingStatus::SoldOut as i32,
                pb::ListingStatus::Active as i32
            ),
        ]
    );
    // The buyer cancels while pending; the seller may not cancel a pending order.
    let cancel = |id: &str| pb::CancelOrderRequest {
        request_id: request_id(),
        order_id: id.to_owned(),
        reason: "不要了".to_owned(),
    };
    assert_refused(
        w.client
            .cancel_order(w.app.request(cancel(&b.id), &farmer.token))
            .await,
        Code::PermissionDenied,
        "ONLY_THE_BUYER",
    );
    w.client
        .cancel_order(w.app.request(cancel(&b.id), &second.token))
        .await
        .unwrap();
    // Accepted, then the buyer does not come.
    w.client
        .accept_order(w.app.request(
            pb::AcceptOrderRequest {
                request_id: request_id(),
                order_id: c.id.clone(),
                note: String::new(),
            },
            &farmer.token,
        ))
        .await
        .unwrap();
    let no_show = w
        .client
        .record_no_show(w.app.request(
            pb::RecordNoShowRequest {
                request_id: request_id(),
                order_id: c.id.clone(),
                note: "等到中午没来".to_owned(),
            },
            &farmer.token,
        ))
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    assert_eq!(no_show.status, pb::OrderStatus::NoShow as i32);
    let now = w.get(&farmer, &listing.id).await.unwrap();
    assert_eq!(now.available, Some(quantity(100_000, common::Unit::Jin)));
    assert_eq!(now.reserved, Some(quantity(0, common::Unit::Jin)));
    // A final order moves no more.
    assert_refused(
        w.client
            .cancel_order(w.app.request(cancel(&b.id), &second.token))
            .await,
        Code::FailedPrecondition,
        "WRONG_ORDER_STATUS",
    );
    let released: Vec<pb::OrderNoShow> =
        events::decoded(&w.app, "market", "market.order.no_show").await;
    assert_eq!(
        released[0].listing_available,
        Some(quantity(100_000, common::Unit::Jin))
    );
}

#[tokio::test]
async fn unanswered_orders_lapse_and_handed_over_ones_complete_on_the_clock() {
    let mut w = World::new().await;
    let farmer = w.farmer();
    let listing = w.create(&farmer, small_stock(), true).await.unwrap();
    let buyer = w.buyer();
    let unanswered = w.place(&buyer, order_of(&listing, 40_000)).await.unwrap();
    let answered = w.place(&buyer, order_of(&listing, 10_000)).await.unwrap();
    w.client
        .accept_order(w.app.request(
            pb::AcceptOrderRequest {
                request_id: request_id(),
                order_id: answered.id.clone(),
                note: String::new(),
            },
            &farmer.token,
        ))
        .await
        .unwrap();
    w.client
        .mark_order_picked_up(w.app.request(
            pb::MarkOrderPickedUpRequest {
                request_id: request_id(),
                order_id: answered.id.clone(),
            },
            &farmer.token,
        ))
        .await
        .unwrap();
    // Two days and a minute later the unanswered order lapses.
    let start = w.app.clock.now();
    w.move_clock_and_run(
        start + chrono::Duration::hours(48) + chrono::Duration::minutes(1),
        EXPIRY_JOB.job,
    )
    .await;
    let (farmer, buyer) = (
        w.again(&farmer, &[(Role::Farmer, VILLAGE)]),
        w.again(&buyer, &[(Role::Buyer, "")]),
    );
    let lapsed = w.order(&buyer, &unanswered.id).await.unwrap();
    assert_eq!(lapsed.status, pb::OrderStatus::Expired as i32);
    let now = w.get(&farmer, &listing.id).await.unwrap();
    assert_eq!(now.available, Some(quantity(90_000, common::Unit::Jin)));
    let expired: Vec<pb::OrderExpired> =
        events::decoded(&w.app, "market", "market.order.expired").await;
    assert_eq!(expired.len(), 1);
    // A week after the pickup, the other completes by itself.
    w.move_clock_and_run(start + chrono::Duration::days(8), COMPLETION_JOB.job)
        .await;
    let buyer = w.again(&buyer, &[(Role::Buyer, "")]);
    let completed = w.order(&buyer, &answered.id).await.unwrap();
    assert_eq!(completed.status, pb::OrderStatus::Completed as i32);
    assert_eq!(
        completed
            .history
            .last()
            .unwrap()
            .actor
            .as_ref()
            .unwrap()
            .kind,
        common::ActorKind::System as i32
    );
}

#[tokio::test]
async fn orders_are_read_by_their_parties_and_the_areas_officials_only() {
    let mut w = World::new().await;
    let farmer = w.farmer();
    let listing = w.create(&farmer, apples(), true).await.unwrap();
    let buyer = w.buyer();
    let order = w.place(&buyer, order_of(&listing, 20_000)).await.unwrap();
    let stranger = w.buyer();
    assert_eq!(
        w.order(&stranger, &order.id).await.unwrap_err().code(),
        Code::NotFound
    );
    let official = w.person(&[(Role::TownshipOfficial, TOWNSHIP)]);
    assert_eq!(w.order(&official, &order.id).await.unwrap().id, order.id);
    let elsewhere = w.person(&[(Role::TownshipOfficial, OTHER_TOWNSHIP)]);
    assert_eq!(
        w.order(&elsewhere, &order.id).await.unwrap_err().code(),
        Code::NotFound
    );
    // An official reads but does not move an order.
    assert_refused(
        w.client
            .accept_order(w.app.request(
                pb::AcceptOrderRequest {
                    request_id: request_id(),
                    order_id: order.id.clone(),
                    note: String::new(),
                },
                &official.token,
            ))
            .await,
        Code::PermissionDenied,
        "NOT_YOUR_ORDER",
    );
    let list = |role: pb::OrderRole, token: &str| {
        w.app.request(
            pb::ListOrdersRequest {
                as_role: role as i32,
                ..Default::default()
            },
            token,
        )
    };
    let mine = w
        .client
        .clone()
        .list_orders(list(pb::OrderRole::Buyer, &buyer.token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(mine.orders.len(), 1);
    let theirs = w
        .client
        .clone()
        .list_orders(list(pb::OrderRole::Seller, &farmer.token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(theirs.orders.len(), 1);
    let none = w
        .client
        .clone()
        .list_orders(list(pb::OrderRole::Buyer, &stranger.token))
        .await
        .unwrap()
        .into_inner();
    assert!(none.orders.is_empty());
    let area = w
        .client
        .list_orders(w.app.request(
            pb::ListOrdersRequest {
                area: Some(crate::world::area(OTHER_TOWNSHIP)),
                ..Default::default()
            },
            &official.token,
        ))
        .await;
    assert_refused(area, Code::PermissionDenied, "OUTSIDE_YOUR_AREA");
    // A person with no buyer's or farmer's role orders nothing.
    let resident = w.person(&[(Role::Resident, VILLAGE)]);
    assert_refused(
        w.place(&resident, order_of(&listing, 20_000)).await,
        Code::PermissionDenied,
        "NOT_A_BUYER",
    );
}
