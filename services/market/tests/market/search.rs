//! Search over gRPC, fed through real NATS: a published listing is found by a word of its title
//! and by its category in English, leaves search when paused or hidden, carries its stock as it
//! changes; facets and filters; a rebuild by platform admins; refusals that name the field.

use std::time::Duration;

use terrace_platform::auth::Role;
use terrace_proto::common::v1 as common;
use terrace_proto::market::v1 as pb;
use terrace_testkit::eventually;
use terrace_testkit::rpc::{assert_refused, request_id, violated_fields};
use tonic::Code;

use crate::world::{Person, World, apples, cny, order_of, quantity, zh};

/// How long a change may take to reach search on a busy machine (the product promises a second).
const REACHES_SEARCH: Duration = Duration::from_secs(30);

async fn search(
    w: &World,
    who: &Person,
    request: pb::SearchListingsRequest,
) -> pb::SearchListingsResponse {
    w.client
        .clone()
        .search_listings(w.app.request(request, &who.token))
        .await
        .unwrap()
        .into_inner()
}

fn text(query: &str) -> pb::SearchListingsRequest {
    pb::SearchListingsRequest {
        query: query.to_owned(),
        ..Default::default()
    }
}

fn ids(response: &pb::SearchListingsResponse) -> Vec<String> {
    response
        .results
        .iter()
        .map(|result| result.listing.as_ref().unwrap().id.clone())
        .collect()
}

/// Waits until searching `request` finds exactly `expected` (in any order).
async fn finds(
    w: &World,
    who: &Person,
    request: pb::SearchListingsRequest,
    expected: &[&str],
) -> pb::SearchListingsResponse {
    let mut expected: Vec<String> = expected.iter().map(|id| (*id).to_owned()).collect();
    expected.sort();
    eventually(
        &format!("search {:?} to find {expected:?}", request.query),
        REACHES_SEARCH,
        || {
            let (request, expected) = (request.clone(), expected.clone());
            async move {
                let response = search(w, who, request).await;
                let mut found = ids(&response);
                found.sort();
                (found == expected).then_some(response)
            }
        },
    )
    .await
}

#[tokio::test]
async fn a_published_listing_is_found_by_its_words_and_category_and_follows_its_changes() {
    let mut w = World::new().await;
    let farmer = w.farmer();
    let buyer = w.buyer();
    let apples = w.create(&farmer, apples(), true).await.unwrap();
    let pears = pb::Listing {
        category_id: "fruit.pear".to_owned(),
        title: Some(zh("砀山酥梨")),
        variety: "酥梨".to_owned(),
        unit_price: Some(cny(200)),
        ..crate::world::apples()
    };
    let pears = w.create(&farmer, pears, true).await.unwrap();
    let draft = w
        .create(&farmer, crate::world::apples(), false)
        .await
        .unwrap();

    // 红富士苹果 is found by 苹果, and by "apple" through its category; drafts never.
    let found = finds(&w, &buyer, text("苹果"), &[&apples.id]).await;
    assert_eq!(found.results[0].highlighted_title, "红富士<em>苹果</em>");
    finds(&w, &buyer, text("apple"), &[&apples.id]).await;
    finds(&w, &buyer, text("水果"), &[&apples.id, &pears.id]).await;
    let _ = draft;

    // Facets: both under 水果; by price per kg (¥7 and ¥4).
    let faceted = search(
        &w,
        &buyer,
        pb::SearchListingsRequest {
            facets: vec!["category".to_owned(), "price".to_owned()],
            category_ids: vec!["fruit".to_owned()],
            ..text("")
        },
    )
    .await;
    let category = &faceted.facets[0];
    assert_eq!(category.field, "category");
    let counts: Vec<(String, i64)> = category
        .buckets
        .iter()
        .map(|b| (b.value.clone(), b.count))
        .collect();
    assert!(
        counts.contains(&("fruit.apple".to_owned(), 1)),
        "{counts:?}"
    );
    assert!(counts.contains(&("fruit.pear".to_owned(), 1)), "{counts:?}");
    let price = &faceted.facets[1];
    let in_range = |value: &str| {
        price
            .buckets
            .iter()
            .find(|b| b.value == value)
            .map(|b| b.count)
    };
    assert_eq!(in_range("200-500"), Some(1), "{price:?}");
    assert_eq!(in_range("500-1000"), Some(1), "{price:?}");
    // A price range per 斤: ¥1–¥2.5 a 斤 is ¥2–¥5 a kilogram: the pears.
    let cheap = pb::SearchListingsRequest {
        price_range: Some(pb::PriceRange {
            min: Some(cny(100)),
            max: Some(cny(250)),
            per_unit: common::Unit::Jin as i32,
        }),
        ..text("")
    };
    finds(&w, &buyer, cheap, &[&pears.id]).await;

    // An order takes 190 of the 200 斤: a search for 50 kg available no longer finds the apples.
    let big = pb::SearchListingsRequest {
        min_available: Some(quantity(50_000, common::Unit::Kilogram)),
        ..text("苹果")
    };
    finds(&w, &buyer, big.clone(), &[&apples.id]).await;
    w.place(&buyer, order_of(&apples, 190_000)).await.unwrap();
    finds(&w, &buyer, big, &[]).await;

    // Paused, it leaves search; hidden, too.
    w.pause(&farmer, &pears.id).await.unwrap();
    finds(&w, &buyer, text("水果"), &[&apples.id]).await;
    let official = w.person(&[(Role::VillageOfficial, crate::world::VILLAGE)]);
    w.hide(&official, &apples.id, "照片与实物不符")
        .await
        .unwrap();
    finds(&w, &buyer, text("水果"), &[]).await;
}

#[tokio::test]
async fn platform_admins_rebuild_the_index_from_the_database() {
    let mut w = World::new().await;
    let farmer = w.farmer();
    let first = w.create(&farmer, apples(), true).await.unwrap();
    let second = w.create(&farmer, apples(), true).await.unwrap();
    w.create(&farmer, apples(), false).await.unwrap();
    let rebuild = |token: &str| {
        w.app.request(
            pb::RebuildSearchIndexRequest {
                request_id: request_id(),
            },
            token,
        )
    };
    let buyer = w.buyer();
    assert_refused(
        w.client
            .clone()
            .rebuild_search_index(rebuild(&buyer.token))
            .await,
        Code::PermissionDenied,
        "NOT_A_PLATFORM_ADMIN",
    );
    let admin = w.person(&[(Role::PlatformAdmin, "")]);
    let rebuilt = w
        .client
        .clone()
        .rebuild_search_index(rebuild(&admin.token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        rebuilt.indexed_count, 3,
        "every listing, drafts as tombstones"
    );
    finds(&w, &buyer, text("苹果"), &[&first.id, &second.id]).await;
}

#[tokio::test]
async fn bad_searches_name_the_field() {
    let w = World::new().await;
    let buyer = w.buyer();
    let bad = pb::SearchListingsRequest {
        query: "苹".repeat(201),
        facets: vec!["colour".to_owned()],
        price_range: Some(pb::PriceRange {
            min: Some(cny(500)),
            max: Some(cny(100)),
            per_unit: 0,
        }),
        category_ids: vec!["fruit.durian".to_owned()],
        display_currency: "XYZ".to_owned(),
        ..Default::default()
    };
    let refused = w
        .client
        .clone()
        .search_listings(w.app.request(bad, &buyer.token))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    let mut fields = violated_fields(&refused);
    fields.sort();
    assert_eq!(
        fields,
        [
            "category_ids[0]",
            "display_currency",
            "facets[0]",
            "price_range",
            "query"
        ]
    );
    let relevance = pb::SearchListingsRequest {
        sort: pb::ListingSort::Relevance as i32,
        ..Default::default()
    };
    let refused = w
        .client
        .clone()
        .search_listings(w.app.request(relevance, &buyer.token))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&refused), ["sort"]);
}

#[tokio::test]
async fn buyers_from_afar_see_prices_in_their_currency_at_the_operators_rate() {
    use terrace_market::rates;
    let mut w = World::new().await;
    let farmer = w.farmer();
    let listing = w.create(&farmer, apples(), true).await.unwrap();
    let usd = rates::Rate {
        currency: "USD".to_owned(),
        cny_micro_per_unit: rates::parse_decimal("7.1234").unwrap(),
        set_at: w.app.clock.now(),
        set_by: "test".to_owned(),
    };
    rates::set(&w.db, &usd).await.unwrap();
    let buyer = w.buyer();
    let read = |currency: &str| pb::GetListingRequest {
        listing_id: listing.id.clone(),
        display_currency: currency.to_owned(),
    };
    let in_dollars = w
        .client
        .get_listing(w.app.request(read("usd"), &buyer.token))
        .await
        .unwrap()
        .into_inner();
    let price = in_dollars.indicative_price.unwrap();
    // ¥3.50 a 斤 at 7.1234 is 49 cents; the listing itself stays in yuan.
    assert_eq!(price.unit_price.unwrap().amount_minor, 49);
    assert_eq!(price.rate, "7.1234");
    assert_eq!(in_dollars.listing.unwrap().unit_price, Some(cny(350)));
    // No rate kept for yen: shown without; an unknown code is refused.
    let yen = w
        .client
        .get_listing(w.app.request(read("JPY"), &buyer.token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(yen.indicative_price, None);
    let refused = w
        .client
        .get_listing(w.app.request(read("XYZ"), &buyer.token))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&refused), ["display_currency"]);
    // Search shows it on each hit.
    let found = finds(
        &w,
        &buyer,
        pb::SearchListingsRequest {
            display_currency: "USD".to_owned(),
            ..text("苹果")
        },
        &[&listing.id],
    )
    .await;
    assert_eq!(
        found.results[0]
            .indicative_price
            .as_ref()
            .and_then(|p| p.unit_price.as_ref())
            .map(|m| m.amount_minor),
        Some(49)
    );
}

#[tokio::test]
async fn a_reindex_republishes_every_listing_for_every_replica() {
    let mut w = World::new().await;
    let farmer = w.farmer();
    w.create(&farmer, apples(), true).await.unwrap();
    w.create(&farmer, apples(), false).await.unwrap();
    let listings = terrace_market::admin::listings(w.db.clone(), &w.app.settings).unwrap();
    let queued = terrace_market::admin::resnapshot(&listings).await.unwrap();
    assert_eq!(queued, 2);
    // The admin's search builds its own index from the database: the active listing only.
    let page = terrace_market::admin::search(
        &listings,
        &terrace_market::search::index::SearchQuery {
            text: "苹果".to_owned(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(page.total, 1);
}

#[tokio::test]
async fn listings_and_area_counts_name_their_places_from_governances_divisions() {
    let mut w = World::with_governance().await;
    eventually("market to know 余村", REACHES_SEARCH, || async {
        terrace_market::places::name(&w.db, crate::world::VILLAGE)
            .await
            .unwrap()
            .map(|_| ())
    })
    .await;
    let farmer = w.farmer();
    let buyer = w.buyer();
    let listing = w.create(&farmer, apples(), true).await.unwrap();
    assert_eq!(listing.village_name, "余村村委会", "the official name");
    let found = finds(
        &w,
        &buyer,
        pb::SearchListingsRequest {
            facets: vec!["area".to_owned()],
            area_facet_level: common::AdminLevel::Township as i32,
            ..text("苹果")
        },
        &[&listing.id],
    )
    .await;
    assert_eq!(
        found.results[0].listing.as_ref().unwrap().village_name,
        "余村村委会"
    );
    let township = &found.facets[0].buckets[0];
    assert_eq!(township.value, "330523108000");
    assert_eq!(township.label, "天荒坪镇");
    // An index rebuilt from the database holds the listings as the state stream does: named.
    let admin = w.person(&[(Role::PlatformAdmin, "")]);
    w.client
        .rebuild_search_index(w.app.request(
            pb::RebuildSearchIndexRequest {
                request_id: request_id(),
            },
            &admin.token,
        ))
        .await
        .unwrap();
    let rebuilt = search(&w, &buyer, text("苹果")).await;
    assert_eq!(
        rebuilt.results[0].listing.as_ref().unwrap().village_name,
        "余村村委会"
    );
}
