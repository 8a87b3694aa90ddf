//! The demonstration market of `terrace dev --demo`: 王秀英 of 余村 selling what 余村 grows, so
//! that the buy tab has something to find and the console something to oversee.
//!
//! Made through the same create as a phone's, as the farmer herself, once she is known to market
//! (identity's demonstration accounts reach market's projection of people a moment after start),
//! and only when she has no listing yet.

use std::time::Duration;

use terrace_platform::auth::{Caller, Principal, PrincipalKind, Role, RoleGrant};
use terrace_proto::common::v1 as common;
use terrace_proto::market::v1 as pb;
use uuid::Uuid;

use crate::listings::Listings;
use crate::listings::parse::CreateListing;

/// The demonstration farmer (identity's demonstration account).
const FARMER_PHONE: &str = "+8613800000001";
/// 余村.
const VILLAGE: &str = "330523108204";
/// How long to wait for identity's accounts to reach market.
const WAIT_FOR_PEOPLE: Duration = Duration::from_secs(120);

/// Lists the demonstration produce; returns how many listings were made.
pub async fn create_demo_listings(
    db: &sea_orm::DatabaseConnection,
    listings: &Listings,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<usize> {
    let Some(farmer) = wait_for_farmer(db).await? else {
        tracing::warn!("the demonstration farmer never reached market: no demonstration listings");
        return Ok(0);
    };
    let caller = Caller::User(Principal {
        subject: farmer.to_string(),
        kind: PrincipalKind::User,
        grants: vec![RoleGrant::parse(Role::Farmer, VILLAGE)?],
        api_scopes: Vec::new(),
        actor: None,
        token_id: "terrace-dev-demo".to_owned(),
        expires_at: now + chrono::Duration::minutes(5),
    });
    let own = listings
        .list(
            &caller,
            crate::listings::parse::ListListings::parse(&pb::ListListingsRequest::default())?,
        )
        .await?;
    if !own.listings.is_empty() {
        return Ok(0);
    }
    let produce = [
        (
            "tea.green",
            "安吉白茶 明前特级",
            "Anji white tea, pre-Qingming, premium",
            common::Unit::Liang,
            30_000,
            12_000,
            pb::ProduceGrade::Premium,
        ),
        (
            "vegetable.bamboo_shoot",
            "余村春笋 现挖",
            "Spring bamboo shoots, dug this morning",
            common::Unit::Jin,
            200_000,
            450,
            pb::ProduceGrade::First,
        ),
        (
            "nut.hickory",
            "手剥山核桃",
            "Hand-shelled hickory nuts",
            common::Unit::Jin,
            50_000,
            6_800,
            pb::ProduceGrade::First,
        ),
        (
            "livestock.egg",
            "散养土鸡蛋",
            "Free-range eggs",
            common::Unit::Piece,
            600_000,
            150,
            pb::ProduceGrade::Unspecified,
        ),
        (
            "fungi.shiitake",
            "椴木香菇 干",
            "Log-grown dried shiitake",
            common::Unit::Jin,
            40_000,
            5_500,
            pb::ProduceGrade::Second,
        ),
    ];
    let mut made = 0;
    for (category, zh, en, unit, stocked, price, grade) in produce {
        let text = |zh: &str, en: &str| common::LocalizedText {
            translations: [
                ("zh-CN".to_owned(), zh.to_owned()),
                ("en".to_owned(), en.to_owned()),
            ]
            .into(),
        };
        let request = pb::CreateListingRequest {
            request_id: Uuid::now_v7().to_string(),
            listing: Some(pb::Listing {
                category_id: category.to_owned(),
                title: Some(text(zh, en)),
                grade: grade as i32,
                stocked: Some(common::Quantity {
                    value_milli: stocked,
                    unit: unit as i32,
                }),
                unit_price: Some(common::Money {
                    amount_minor: price,
                    currency_code: "CNY".to_owned(),
                }),
                fulfilment_methods: vec![
                    pb::FulfilmentMethod::Pickup as i32,
                    pb::FulfilmentMethod::Delivery as i32,
                ],
                ..Default::default()
            }),
            publish: true,
        };
        listings
            .create(&caller, CreateListing::parse(&request, now)?)
            .await?;
        made += 1;
    }
    Ok(made)
}

/// The demonstration farmer's id, once market's projection of people has her.
async fn wait_for_farmer(db: &sea_orm::DatabaseConnection) -> anyhow::Result<Option<Uuid>> {
    use sea_orm::{ColumnTrait as _, EntityTrait as _, QueryFilter as _};
    use terrace_platform::people::known_users::{Column, Entity};
    let deadline = tokio::time::Instant::now() + WAIT_FOR_PEOPLE;
    while tokio::time::Instant::now() < deadline {
        if let Some(farmer) = Entity::find()
            .filter(Column::PhoneNumber.eq(FARMER_PHONE))
            .one(db)
            .await?
        {
            return Ok(Some(farmer.id));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Ok(None)
}
