//! Buyers following produce: a subscription to a category (and its descendants) in an area
//! brings each listing that goes on sale there into the buyer's inbox, once; other categories,
//! other counties and the seller's own listing tell nobody; bad topics are named.

use std::time::Duration;

use terrace_platform::auth::Role;
use terrace_proto::common::v1 as common;
use terrace_proto::notify::v1 as pb;
use terrace_testkit::rpc::{request_id, violated_fields};
use tonic::Code;

use crate::world::{Person, VILLAGE, World};

async fn follow(
    w: &World,
    who: &Person,
    category: &str,
    area: &str,
) -> Result<pb::Subscription, tonic::Status> {
    let level = match area.len() {
        6 => common::AdminLevel::County,
        _ => common::AdminLevel::Township,
    };
    let request = pb::CreateSubscriptionRequest {
        request_id: request_id(),
        subscription: Some(pb::Subscription {
            topic: Some(pb::subscription::Topic::MarketCategory(
                pb::MarketCategoryTopic {
                    category_id: category.to_owned(),
                    area: Some(common::AdminCode {
                        code: format!("{area:0<12}"),
                        level: level as i32,
                    }),
                },
            )),
            ..Default::default()
        }),
    };
    w.notify
        .clone()
        .create_subscription(w.app.request(request, &who.token))
        .await
        .map(|r| r.into_inner().subscription.unwrap())
}

async fn subscriptions(w: &World, who: &Person) -> Vec<pb::Subscription> {
    w.notify
        .clone()
        .list_subscriptions(
            w.app
                .request(pb::ListSubscriptionsRequest::default(), &who.token),
        )
        .await
        .unwrap()
        .into_inner()
        .subscriptions
}

#[tokio::test]
async fn a_buyer_following_fruit_in_the_county_hears_of_apples_going_on_sale_and_nobody_else_does()
{
    let mut w = World::new().await;
    let fruit_here = w.person(&[(Role::Buyer, "")]);
    let tea_here = w.person(&[(Role::Buyer, "")]);
    let fruit_elsewhere = w.person(&[(Role::Buyer, "")]);
    follow(&w, &fruit_here, "fruit", "330523").await.unwrap();
    follow(&w, &tea_here, "tea", "330523").await.unwrap();
    follow(&w, &fruit_elsewhere, "fruit", "330522")
        .await
        .unwrap();
    // The same topic twice: refused, and still one.
    let again = follow(&w, &fruit_here, "fruit", "330523")
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::AlreadyExists, "{again:?}");
    assert_eq!(subscriptions(&w, &fruit_here).await.len(), 1);

    let (farmer, listing) = w.farmer_selling().await;
    follow(&w, &farmer, "fruit.apple", "330523").await.unwrap();
    let told = w.inbox_when(&fruit_here, 1).await;
    assert_eq!(told.items.len(), 1);
    assert_eq!(told.items[0].title, "新上架：红富士苹果");
    assert_eq!(
        told.items[0].link,
        format!("terrace://market/listings/{}", listing.id)
    );
    assert_eq!(
        told.items[0].category,
        pb::NotificationCategory::Listings as i32
    );
    // A second apple listing: now the farmer follows apples too, but hears nothing of her own.
    let (_, second) = {
        let request = terrace_proto::market::v1::CreateListingRequest {
            request_id: request_id(),
            listing: Some(listing.clone()),
            publish: true,
        };
        let created = w
            .market
            .create_listing(w.app.request(request, &farmer.token))
            .await
            .unwrap()
            .into_inner()
            .listing
            .unwrap();
        ((), created)
    };
    let told = w.inbox_when(&fruit_here, 2).await;
    assert!(told.items[0].link.ends_with(&second.id));
    tokio::time::sleep(Duration::from_millis(300)).await;
    for nobody in [&tea_here, &fruit_elsewhere, &farmer] {
        let inbox = w.list(nobody).await;
        assert!(
            inbox
                .items
                .iter()
                .all(|i| i.category != pb::NotificationCategory::Listings as i32),
            "{inbox:?}"
        );
    }

    // Unfollowing: gone from the list; another's subscription is not found.
    let mine = subscriptions(&w, &fruit_here).await.remove(0);
    let delete = |who: &Person, id: &str| {
        let request = pb::DeleteSubscriptionRequest {
            request_id: request_id(),
            subscription_id: id.to_owned(),
        };
        let mut notify = w.notify.clone();
        let request = w.app.request(request, &who.token);
        async move { notify.delete_subscription(request).await }
    };
    assert_eq!(
        delete(&tea_here, &mine.id).await.unwrap_err().code(),
        Code::NotFound
    );
    delete(&fruit_here, &mine.id).await.unwrap();
    assert!(subscriptions(&w, &fruit_here).await.is_empty());
}

#[tokio::test]
async fn a_bad_topic_is_named_and_changes_nothing() {
    let w = World::new().await;
    let buyer = w.person(&[(Role::Buyer, VILLAGE)]);
    let error = follow(&w, &buyer, "Fruit..Apple", "330523")
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);
    assert!(
        violated_fields(&error).contains(&"subscription.market_category.category_id".to_owned()),
        "{error:?}"
    );
    let missing = w
        .notify
        .clone()
        .create_subscription(w.app.request(
            pb::CreateSubscriptionRequest {
                request_id: request_id(),
                subscription: None,
            },
            &buyer.token,
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&missing), ["subscription.topic"]);
    assert!(subscriptions(&w, &buyer).await.is_empty());
}
