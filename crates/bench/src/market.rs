//! The market against its baselines (issue 11's targets): farmers creating listings over gRPC
//! against the raw single-row insert at the same concurrency (with the same create in process and
//! the listing's row alone, to say where the time goes); and 100,000 order attempts from many
//! concurrent buyers on one hot listing — nothing oversold, the throughput against a raw hot-row
//! `UPDATE` of the same kind.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use terrace_market::Market;
use terrace_market::listings::Listings;
use terrace_market::listings::parse::CreateListing;
use terrace_platform::auth::{AdminScope, Caller, Principal, PrincipalKind, Role, RoleGrant};
use terrace_platform::service::ServiceDef;
use terrace_proto::common::v1 as common;
use terrace_proto::market::v1 as pb;
use terrace_proto::market::v1::market_service_client::MarketServiceClient;
use terrace_testkit::TestApp;
use tonic::metadata::{Ascii, MetadataValue};

use crate::measure::{self, Measurement};
use crate::requests::{Creates, authorized, header};

/// 余村, where the farmers sell.
const VILLAGE: &str = "330523108204";
/// Farmers the creates are spread over, each with a token of their own.
const FARMERS: usize = 50;

/// The hot listing.
#[derive(Debug)]
pub(crate) struct HotListing {
    pub(crate) concurrency: usize,
    pub(crate) attempts: usize,
    pub(crate) stock_milli: i64,
    pub(crate) placed: usize,
    pub(crate) refused: usize,
    /// Quantity reserved in the end, read from the database; never above the stock.
    pub(crate) reserved_milli: i64,
    pub(crate) orders: Measurement,
    /// The same number of conditional hot-row updates sent raw at the same concurrency.
    pub(crate) raw: Measurement,
}

/// 200 斤 of apples at ¥3.50, as the farmer app sends them.
fn apples(stocked_milli: i64) -> pb::CreateListingRequest {
    pb::CreateListingRequest {
        request_id: uuid::Uuid::now_v7().to_string(),
        listing: Some(pb::Listing {
            category_id: "fruit.apple".to_owned(),
            title: Some(common::LocalizedText {
                translations: [("zh-CN".to_owned(), "红富士苹果".to_owned())].into(),
            }),
            variety: "红富士".to_owned(),
            stocked: Some(common::Quantity {
                value_milli: stocked_milli,
                unit: common::Unit::Jin as i32,
            }),
            unit_price: Some(common::Money {
                amount_minor: 350,
                currency_code: "CNY".to_owned(),
            }),
            minimum_order: Some(common::Quantity {
                value_milli: 1_000,
                unit: common::Unit::Jin as i32,
            }),
            ..Default::default()
        }),
        publish: true,
    }
}

fn farmer(id: uuid::Uuid) -> anyhow::Result<Caller> {
    Ok(Caller::User(Principal {
        subject: id.to_string(),
        kind: PrincipalKind::User,
        grants: vec![RoleGrant::new(Role::Farmer, AdminScope::parse(VILLAGE)?)?],
        api_scopes: Vec::new(),
        actor: None,
        token_id: String::new(),
        expires_at: terrace_platform::Clock::system_now() + chrono::Duration::hours(1),
    }))
}

/// Farmers of 余村 creating listings closed-loop at `concurrency`: over gRPC, in process
/// (`Listings::create`), and the listing's row alone.
pub(crate) async fn creates(calls: usize, concurrency: usize) -> anyhow::Result<Creates> {
    let app = TestApp::spawn(&[ServiceDef::of::<Market>()]).await;
    let channel = app.channel().await;
    let headers: Arc<Vec<MetadataValue<Ascii>>> = Arc::new(
        (0..FARMERS)
            .map(|_| {
                header(&app.token(
                    &uuid::Uuid::now_v7().to_string(),
                    &[(Role::Farmer, VILLAGE)],
                ))
            })
            .collect::<anyhow::Result<_>>()?,
    );
    let grpc = {
        let channel = channel.clone();
        measure::run(calls, concurrency, move |i| {
            let mut client = MarketServiceClient::new(channel.clone());
            let request = authorized(apples(200_000), &headers[i % FARMERS]);
            async move {
                client.create_listing(request).await?;
                Ok(())
            }
        })
        .await?
    };
    let db = app.ctx.database("market").await;
    let clock = app.clock.clock();
    let photos = terrace_photos::Photos::new("market", &app.settings.photos, clock.clone())?;
    let listings = Listings::new(
        db.clone(),
        "terrace/market".to_owned(),
        clock.clone(),
        photos,
    );
    let callers: Arc<Vec<Caller>> = Arc::new(
        (0..FARMERS)
            .map(|_| farmer(uuid::Uuid::now_v7()))
            .collect::<anyhow::Result<_>>()?,
    );
    let in_process = measure::run(calls, concurrency, move |i| {
        let (listings, callers, clock) = (listings.clone(), callers.clone(), clock.clone());
        async move {
            let command = CreateListing::parse(&apples(200_000), clock.now())?;
            listings.create(&callers[i % FARMERS], command).await?;
            Ok(())
        }
    })
    .await?;
    // The row as the create writes it, alone: what the table and its indexes cost.
    let pool = db.get_postgres_connection_pool().clone();
    let row_alone = measure::run(calls, concurrency, move |i| {
        let pool = pool.clone();
        async move {
            sqlx::query(
                "INSERT INTO listings (id, seller_user_id, category_id, title, description, \
                 variety, grade, certifications, unit, stocked_milli, reserved_milli, sold_milli, \
                 minimum_order_milli, unit_price_minor, price_per_kg_minor, village_code, \
                 harvest_lot_code, fulfilment_methods, status, expire_at, published_at, hidden, \
                 hidden_reason, version, created_key, created_request_id, created_at, created_by, \
                 updated_at, updated_by) \
                 VALUES ($1, $2, 'fruit.apple', '{\"zh-CN\": \"红富士苹果\"}', '{}', '红富士', 0, \
                 '{}', 4, 200000, 0, 0, 1000, 350, 700, $3, '', '{1}', 2, \
                 now() + interval '30 days', now(), false, '', 1, $4, $5, now(), \
                 '\\x0a00'::bytea, now(), '\\x0a00'::bytea)",
            )
            .bind(uuid::Uuid::now_v7())
            .bind(uuid::Uuid::now_v7())
            .bind(VILLAGE)
            .bind(format!("bench-{}", i % FARMERS))
            .bind(uuid::Uuid::now_v7())
            .execute(&pool)
            .await?;
            Ok(())
        }
    })
    .await?;
    Ok(Creates {
        grpc,
        in_process,
        row_alone,
    })
}

/// `attempts` orders of 1 斤 from `concurrency` buyers at once on one listing of half as many 斤:
/// half are placed, half refused, none oversold. Then the same number of conditional updates of
/// one hot row sent raw at the same concurrency (the reservation's statement without the rest).
pub(crate) async fn hot_listing(attempts: usize, concurrency: usize) -> anyhow::Result<HotListing> {
    let app = TestApp::spawn(&[ServiceDef::of::<Market>()]).await;
    let channel = app.channel().await;
    let seller = header(&app.token(
        &uuid::Uuid::now_v7().to_string(),
        &[(Role::Farmer, VILLAGE)],
    ))?;
    let stock_milli = i64::try_from(attempts / 2)? * 1_000;
    let listing = MarketServiceClient::new(channel.clone())
        .create_listing(authorized(apples(stock_milli), &seller))
        .await?
        .into_inner()
        .listing
        .ok_or_else(|| anyhow::anyhow!("no listing answered"))?;
    let buyers: Arc<Vec<MetadataValue<Ascii>>> = Arc::new(
        (0..concurrency)
            .map(|_| header(&app.token(&uuid::Uuid::now_v7().to_string(), &[(Role::Buyer, "")])))
            .collect::<anyhow::Result<_>>()?,
    );
    let (placed, refused) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let orders = {
        let (placed, refused, listing_id) = (placed.clone(), refused.clone(), listing.id.clone());
        measure::run(attempts, concurrency, move |i| {
            let mut client = MarketServiceClient::new(channel.clone());
            let request = authorized(
                pb::PlaceOrderRequest {
                    request_id: uuid::Uuid::now_v7().to_string(),
                    order: Some(pb::Order {
                        listing_id: listing_id.clone(),
                        quantity: Some(common::Quantity {
                            value_milli: 1_000,
                            unit: common::Unit::Jin as i32,
                        }),
                        fulfilment_method: pb::FulfilmentMethod::Pickup as i32,
                        ..Default::default()
                    }),
                    expected_unit_price: None,
                },
                &buyers[i % buyers.len()],
            );
            let (placed, refused) = (placed.clone(), refused.clone());
            async move {
                match client.place_order(request).await {
                    Ok(_) => placed.fetch_add(1, Ordering::Relaxed),
                    Err(status) if status.code() == tonic::Code::FailedPrecondition => {
                        refused.fetch_add(1, Ordering::Relaxed)
                    }
                    Err(status) => return Err(status.into()),
                };
                Ok(())
            }
        })
        .await?
    };
    let db = app.ctx.database("market").await;
    let pool = db.get_postgres_connection_pool().clone();
    let (reserved_milli,): (i64,) =
        sqlx::query_as("SELECT reserved_milli FROM listings WHERE id = $1")
            .bind(uuid::Uuid::parse_str(&listing.id)?)
            .fetch_one(&pool)
            .await?;
    // The baseline: one hot row, the same conditional arithmetic, nothing else.
    sqlx::query("CREATE TABLE bench_hot_row (id int PRIMARY KEY, stocked bigint NOT NULL, reserved bigint NOT NULL)")
        .execute(&pool)
        .await?;
    sqlx::query("INSERT INTO bench_hot_row VALUES (1, $1, 0)")
        .bind(stock_milli)
        .execute(&pool)
        .await?;
    let raw = measure::run(attempts, concurrency, move |_| {
        let pool = pool.clone();
        async move {
            sqlx::query(
                "UPDATE bench_hot_row SET reserved = reserved + 1000 \
                 WHERE id = 1 AND stocked - reserved >= 1000",
            )
            .execute(&pool)
            .await?;
            Ok(())
        }
    })
    .await?;
    Ok(HotListing {
        concurrency,
        attempts,
        stock_milli,
        placed: placed.load(Ordering::Relaxed),
        refused: refused.load(Ordering::Relaxed),
        reserved_milli,
        orders,
        raw,
    })
}
