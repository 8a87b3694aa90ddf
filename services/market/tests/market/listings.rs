//! Listings over gRPC: made from a phone that was offline (once, however often it is sent), their
//! lifecycle and expiry on the services' clock, versions that only rise, hiding by officials, who
//! may see and change what, and every refusal specific and changing nothing.

use std::time::Duration;

use terrace_market::listings::EXPIRY_JOB;
use terrace_platform::auth::Role;
use terrace_proto::common::v1 as common;
use terrace_proto::market::v1 as pb;
use terrace_testkit::events;
use terrace_testkit::rpc::{assert_refused, request_id, violated_fields};
use tonic::Code;

use crate::world::{
    NEIGHBOUR_VILLAGE, OTHER_TOWNSHIP, TOWNSHIP, VILLAGE, World, apples, area, cny, quantity,
};

#[tokio::test]
async fn a_listing_made_offline_is_created_once_however_often_and_late_it_is_sent() {
    let mut w = World::new().await;
    let farmer = w.farmer();
    let made_on_the_phone = request_id();
    let first = w
        .create_as(&farmer, apples(), true, &made_on_the_phone)
        .await
        .unwrap();
    assert_eq!(first.status, pb::ListingStatus::Active as i32);
    assert_eq!(
        first.village_code, VILLAGE,
        "the farmer's own village by default"
    );
    assert_eq!(first.seller_user_id, farmer.id.to_string());
    assert_eq!(first.version, 1);
    // 200 斤 at ¥3.50 a 斤 is ¥7.00 a kilogram; all of it available.
    assert_eq!(first.price_per_kg, Some(cny(700)));
    assert_eq!(first.available, Some(quantity(200_000, common::Unit::Jin)));
    // Thirty days to run by default.
    let expire = first.expire_time.unwrap();
    let published = first.publish_time.unwrap();
    assert_eq!(expire.seconds - published.seconds, 30 * 86_400);

    // The phone sends it again, and again days later after the idempotency log forgot it.
    let again = w
        .create_as(&farmer, apples(), true, &made_on_the_phone)
        .await
        .unwrap();
    assert_eq!(again.id, first.id);
    w.count("WITH gone AS (DELETE FROM idempotency RETURNING 1) SELECT count(*) AS n FROM gone")
        .await;
    w.app.clock.advance(Duration::from_secs(3 * 86_400));
    let farmer = w.again(&farmer, &[(Role::Farmer, VILLAGE)]);
    let late = w
        .create_as(&farmer, apples(), true, &made_on_the_phone)
        .await
        .unwrap();
    assert_eq!(late.id, first.id);
    assert_eq!(w.count("SELECT count(*) AS n FROM listings").await, 1);

    // One event and one snapshot, carrying the version.
    let created: Vec<pb::ListingCreated> =
        events::decoded(&w.app, "market", "market.listing.created").await;
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].listing.as_ref().unwrap().id, first.id);
    let state: Vec<pb::Listing> = events::decoded(
        &w.app,
        "market",
        &format!("state.market.listing.{}", first.id),
    )
    .await;
    assert_eq!(state.last().unwrap().version, 1);
    assert_eq!(state.last().unwrap().id, first.id);
}

#[tokio::test]
async fn bad_listings_are_refused_field_by_field_and_nothing_is_written() {
    let mut w = World::new().await;
    let farmer = w.farmer();
    let bad = pb::Listing {
        stocked: Some(quantity(0, common::Unit::Jin)),
        unit_price: Some(cny(-1)),
        title: None,
        ..apples()
    };
    let refused = w.create(&farmer, bad, true).await.unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    let mut fields = violated_fields(&refused);
    fields.sort();
    assert_eq!(
        fields,
        [
            "listing.stocked.value_milli",
            "listing.title.translations",
            "listing.unit_price.amount_minor",
        ]
    );
    // An unknown unit; a unit apples are not sold in; a foreign currency; a minimum order above
    // the stock; a mass unit with a net weight.
    let cases: Vec<(pb::Listing, &str)> = vec![
        (
            pb::Listing {
                stocked: Some(quantity(1_000, common::Unit::Unspecified)),
                minimum_order: None,
                ..apples()
            },
            "listing.stocked.unit",
        ),
        (
            pb::Listing {
                stocked: Some(quantity(1_000, common::Unit::Mu)),
                minimum_order: None,
                ..apples()
            },
            "listing.stocked.unit",
        ),
        (
            pb::Listing {
                unit_price: Some(common::Money {
                    amount_minor: 100,
                    currency_code: "USD".to_owned(),
                }),
                ..apples()
            },
            "listing.unit_price.currency_code",
        ),
        (
            pb::Listing {
                minimum_order: Some(quantity(300_000, common::Unit::Jin)),
                ..apples()
            },
            "listing.minimum_order",
        ),
        (
            pb::Listing {
                net_weight_per_unit: Some(quantity(15_000, common::Unit::Kilogram)),
                ..apples()
            },
            "listing.net_weight_per_unit",
        ),
        (
            pb::Listing {
                certifications: vec![0],
                ..apples()
            },
            "listing.certifications[0]",
        ),
    ];
    for (listing, field) in cases {
        let refused = w.create(&farmer, listing, true).await.unwrap_err();
        assert_eq!(
            refused.code(),
            Code::InvalidArgument,
            "{field}: {refused:?}"
        );
        assert_eq!(violated_fields(&refused), [field], "{refused:?}");
    }
    // An unknown category is not found; a group is not produce.
    let unknown = pb::Listing {
        category_id: "fruit.durian".to_owned(),
        ..apples()
    };
    assert_eq!(
        w.create(&farmer, unknown, true).await.unwrap_err().code(),
        Code::NotFound
    );
    let group = pb::Listing {
        category_id: "fruit".to_owned(),
        ..apples()
    };
    let refused = w.create(&farmer, group, true).await.unwrap_err();
    assert_eq!(violated_fields(&refused), ["listing.category_id"]);
    assert_eq!(w.count("SELECT count(*) AS n FROM listings").await, 0);
    assert_eq!(w.count("SELECT count(*) AS n FROM outbox").await, 0);
}

#[tokio::test]
async fn only_farmers_sell_and_only_from_their_own_village() {
    let mut w = World::new().await;
    let buyer = w.buyer();
    assert_refused(
        w.create(&buyer, apples(), true).await,
        Code::PermissionDenied,
        "NOT_A_FARMER",
    );
    let farmer = w.farmer();
    let elsewhere = pb::Listing {
        village_code: NEIGHBOUR_VILLAGE.to_owned(),
        ..apples()
    };
    assert_refused(
        w.create(&farmer, elsewhere, true).await,
        Code::PermissionDenied,
        "NOT_A_FARMER_HERE",
    );
    // A farmer of two villages names the one the produce comes from.
    let two = w.person(&[(Role::Farmer, VILLAGE), (Role::Farmer, NEIGHBOUR_VILLAGE)]);
    let refused = w.create(&two, apples(), true).await.unwrap_err();
    assert_eq!(violated_fields(&refused), ["listing.village_code"]);
    let named = pb::Listing {
        village_code: NEIGHBOUR_VILLAGE.to_owned(),
        ..apples()
    };
    let listing = w.create(&two, named, false).await.unwrap();
    assert_eq!(listing.village_code, NEIGHBOUR_VILLAGE);
    assert_eq!(w.count("SELECT count(*) AS n FROM listings").await, 1);
}

#[tokio::test]
async fn a_listing_goes_from_draft_to_closed_and_expires_on_the_clock() {
    let mut w = World::new().await;
    let farmer = w.farmer();
    let buyer = w.buyer();
    let draft = w.create(&farmer, apples(), false).await.unwrap();
    assert_eq!(draft.status, pb::ListingStatus::Draft as i32);
    // Buyers do not see drafts at all.
    assert_eq!(
        w.get(&buyer, &draft.id).await.unwrap_err().code(),
        Code::NotFound
    );
    // Nobody but the seller publishes it.
    let other_farmer = w.farmer();
    assert_refused(
        w.publish(&other_farmer, &draft.id, None).await,
        Code::NotFound,
        "",
    );
    let active = w.publish(&farmer, &draft.id, None).await.unwrap();
    assert_eq!(active.status, pb::ListingStatus::Active as i32);
    assert_eq!(active.version, 2);
    assert_eq!(w.get(&buyer, &draft.id).await.unwrap().id, draft.id);
    assert_refused(
        w.publish(&other_farmer, &draft.id, None).await,
        Code::PermissionDenied,
        "NOT_YOUR_LISTING",
    );
    // Publishing twice is a wrong move; pausing and resuming are not.
    assert_refused(
        w.publish(&farmer, &draft.id, None).await,
        Code::FailedPrecondition,
        "WRONG_LISTING_STATUS",
    );
    let paused = w.pause(&farmer, &draft.id).await.unwrap();
    assert_eq!(paused.status, pb::ListingStatus::Paused as i32);
    assert_eq!(
        w.get(&buyer, &draft.id).await.unwrap_err().code(),
        Code::NotFound
    );
    let resumed = w.publish(&farmer, &draft.id, None).await.unwrap();
    assert_eq!(resumed.expire_time, active.expire_time, "the expiry stays");

    // Thirty days on, the job expires it.
    let expiry = active.expire_time.unwrap();
    let after = chrono::DateTime::from_timestamp(expiry.seconds + 60, 0).unwrap();
    w.move_clock_and_run(after, EXPIRY_JOB.job).await;
    let farmer = w.again(&farmer, &[(Role::Farmer, VILLAGE)]);
    let expired = w.get(&farmer, &draft.id).await.unwrap();
    assert_eq!(expired.status, pb::ListingStatus::Expired as i32);
    assert!(expired.version > resumed.version);
    let changes: Vec<pb::ListingStatusChanged> =
        events::decoded(&w.app, "market", "market.listing.status_changed").await;
    let last = changes.last().unwrap();
    assert_eq!(last.from_status, pb::ListingStatus::Active as i32);
    assert_eq!(
        last.actor.as_ref().unwrap().kind,
        common::ActorKind::System as i32
    );
    // Republishing needs a new expiry, at most 90 days away.
    assert_refused(
        w.publish(&farmer, &draft.id, None).await,
        Code::FailedPrecondition,
        "EXPIRY_PASSED",
    );
    let too_far = after + chrono::Duration::days(91);
    let refused = w
        .publish(&farmer, &draft.id, Some(too_far))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&refused), ["expire_time"]);
    let next_week = after + chrono::Duration::days(7);
    let again = w
        .publish(&farmer, &draft.id, Some(next_week))
        .await
        .unwrap();
    assert_eq!(again.status, pb::ListingStatus::Active as i32);
    let closed = w.close(&farmer, &draft.id).await.unwrap();
    assert_eq!(closed.status, pb::ListingStatus::Closed as i32);
    assert_refused(
        w.close(&farmer, &draft.id).await,
        Code::FailedPrecondition,
        "WRONG_LISTING_STATUS",
    );
    let change = pb::Listing {
        id: draft.id.clone(),
        unit_price: Some(cny(300)),
        ..Default::default()
    };
    assert_refused(
        w.update(&farmer, change, &["unit_price"]).await,
        Code::FailedPrecondition,
        "LISTING_CLOSED",
    );
    // Every change raised the version, never lowered it; the state stream holds the last.
    let versions: Vec<i64> = [
        &draft, &active, &paused, &resumed, &expired, &again, &closed,
    ]
    .iter()
    .map(|listing| listing.version)
    .collect();
    assert!(
        versions.windows(2).all(|pair| pair[0] < pair[1]),
        "{versions:?}"
    );
    let state: Vec<pb::Listing> = events::decoded(
        &w.app,
        "market",
        &format!("state.market.listing.{}", draft.id),
    )
    .await;
    assert_eq!(
        state.last().map(|listing| listing.version),
        Some(closed.version)
    );
}

#[tokio::test]
async fn an_update_restocks_reprices_and_keeps_the_rest() {
    let mut w = World::new().await;
    let farmer = w.farmer();
    let listing = w.create(&farmer, apples(), true).await.unwrap();
    let change = pb::Listing {
        id: listing.id.clone(),
        stocked: Some(quantity(100_000, common::Unit::Kilogram)),
        unit_price: Some(cny(600)),
        minimum_order: Some(quantity(5_000, common::Unit::Kilogram)),
        variety: "不该改".to_owned(),
        ..Default::default()
    };
    let updated = w
        .update(&farmer, change, &["stocked", "unit_price", "minimum_order"])
        .await
        .unwrap();
    assert_eq!(
        updated.stocked,
        Some(quantity(100_000, common::Unit::Kilogram))
    );
    assert_eq!(updated.price_per_kg, Some(cny(600)));
    assert_eq!(updated.variety, "红富士", "not in the mask: kept");
    assert_eq!(updated.version, listing.version + 1);
    // A minimum order in another unit than the stock; an unknown path; nothing changes.
    let change = pb::Listing {
        id: listing.id.clone(),
        minimum_order: Some(quantity(5_000, common::Unit::Jin)),
        ..Default::default()
    };
    let refused = w
        .update(&farmer, change, &["minimum_order"])
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&refused), ["listing.minimum_order.unit"]);
    let change = pb::Listing {
        id: listing.id.clone(),
        ..Default::default()
    };
    let refused = w
        .update(&farmer, change, &["seller_user_id"])
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&refused), ["update_mask"]);
    let buyer = w.buyer();
    assert_eq!(
        w.get(&buyer, &listing.id).await.unwrap().version,
        updated.version
    );
    let updates: Vec<pb::ListingUpdated> =
        events::decoded(&w.app, "market", "market.listing.updated").await;
    assert_eq!(updates.len(), 1);
    assert_eq!(
        updates[0].changed_fields.as_ref().unwrap().paths,
        ["minimum_order", "stocked", "unit_price"]
    );
}

#[tokio::test]
async fn officials_of_the_area_hide_a_listing_with_a_reason_the_seller_reads() {
    let mut w = World::new().await;
    let farmer = w.farmer();
    let buyer = w.buyer();
    let listing = w.create(&farmer, apples(), true).await.unwrap();
    let elsewhere = w.person(&[(Role::TownshipOfficial, OTHER_TOWNSHIP)]);
    assert_refused(
        w.hide(&elsewhere, &listing.id, "虚假有机认证").await,
        Code::PermissionDenied,
        "OUTSIDE_YOUR_AREA",
    );
    let official = w.person(&[(Role::TownshipOfficial, TOWNSHIP)]);
    let refused = w.hide(&official, &listing.id, "假").await.unwrap_err();
    assert_eq!(violated_fields(&refused), ["reason"]);
    let hidden = w
        .hide(&official, &listing.id, "虚假有机认证")
        .await
        .unwrap();
    assert!(hidden.hidden);
    assert_refused(
        w.hide(&official, &listing.id, "虚假有机认证").await,
        Code::FailedPrecondition,
        "ALREADY_HIDDEN",
    );
    // Buyers no longer find it; the seller reads why.
    assert_eq!(
        w.get(&buyer, &listing.id).await.unwrap_err().code(),
        Code::NotFound
    );
    let seen = w.get(&farmer, &listing.id).await.unwrap();
    assert_eq!(seen.hidden_reason, "虚假有机认证");
    assert_eq!(
        seen.status,
        pb::ListingStatus::Active as i32,
        "status unchanged"
    );
    // Officials list their area's hidden listings; a farmer cannot list someone else's.
    let hidden_list = w
        .client
        .list_listings(w.app.request(
            pb::ListListingsRequest {
                area: Some(area(TOWNSHIP)),
                hidden_only: true,
                ..Default::default()
            },
            &official.token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(hidden_list.listings.len(), 1);
    let other = w.farmer();
    let refused = w
        .client
        .list_listings(w.app.request(
            pb::ListListingsRequest {
                seller_user_id: farmer.id.to_string(),
                area: Some(area(VILLAGE)),
                ..Default::default()
            },
            &other.token,
        ))
        .await;
    assert_refused(refused, Code::PermissionDenied, "OUTSIDE_YOUR_AREA");
    let lifted = w.unhide(&official, &listing.id).await.unwrap();
    assert!(!lifted.hidden && lifted.hidden_reason.is_empty());
    assert_refused(
        w.unhide(&official, &listing.id).await,
        Code::FailedPrecondition,
        "NOT_HIDDEN",
    );
    assert_eq!(w.get(&buyer, &listing.id).await.unwrap().id, listing.id);
    let hides: Vec<pb::ListingHidden> =
        events::decoded(&w.app, "market", "market.listing.hidden").await;
    assert_eq!(hides.len(), 1);
}

#[tokio::test]
async fn the_taxonomy_lists_groups_before_produce_with_units_and_pictures() {
    let mut w = World::new().await;
    let buyer = w.buyer();
    let all = w
        .client
        .list_categories(
            w.app
                .request(pb::ListCategoriesRequest::default(), &buyer.token),
        )
        .await
        .unwrap()
        .into_inner()
        .categories;
    let position = |id: &str| all.iter().position(|c| c.id == id).unwrap();
    assert!(position("fruit") < position("fruit.apple"));
    let apple = &all[position("fruit.apple")];
    assert_eq!(apple.hs_code, "080810");
    assert_eq!(apple.default_unit, common::Unit::Jin as i32);
    assert_eq!(apple.name.as_ref().unwrap().translations["en"], "Apple");
    let fruit = w
        .client
        .list_categories(w.app.request(
            pb::ListCategoriesRequest {
                parent_id: "fruit".to_owned(),
                ..Default::default()
            },
            &buyer.token,
        ))
        .await
        .unwrap()
        .into_inner()
        .categories;
    assert!(fruit.iter().all(|c| c.parent_id == "fruit"));
    assert!(fruit.len() > 5);
    // The picture is served on the gRPC port without a token.
    let icon = &apple.icon.as_ref().unwrap().uri;
    let response = terrace_testkit::http_client()
        .get(format!("http://{}{icon}", w.app.grpc_addr))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/svg+xml");
    assert!(response.text().await.unwrap().contains("苹果"));
    let missing = terrace_testkit::http_client()
        .get(format!(
            "http://{}/media/market/categories/fruit.durian.svg",
            w.app.grpc_addr
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let unknown = w
        .client
        .get_category(w.app.request(
            pb::GetCategoryRequest {
                category_id: "fruit.durian".to_owned(),
            },
            &buyer.token,
        ))
        .await;
    assert_eq!(unknown.unwrap_err().code(), Code::NotFound);
}
