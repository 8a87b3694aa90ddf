//! What every market test starts from: the service over real gRPC, its database, a clock set to
//! a known morning, and tokens for the people of 余村 and around.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait as _, DatabaseConnection, Statement};
use terrace_market::Market;
use terrace_platform::auth::Role;
use terrace_platform::service::ServiceDef;
use terrace_proto::common::v1 as common;
use terrace_proto::market::v1 as pb;
use terrace_proto::market::v1::market_service_client::MarketServiceClient;
use terrace_testkit::TestApp;
use terrace_testkit::rpc::request_id;
use tonic::transport::Channel;
use uuid::Uuid;

/// 余村, of 天荒坪镇, of 安吉县.
pub const VILLAGE: &str = "330523108204";
/// Another village of 天荒坪镇.
pub const NEIGHBOUR_VILLAGE: &str = "330523108201";
pub const TOWNSHIP: &str = "330523108";
/// Another township of 安吉县.
pub const OTHER_TOWNSHIP: &str = "330523101";

/// Monday 1 March 2027, 09:00 in China.
pub fn monday_morning() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2027-03-01T09:00:00+08:00")
        .unwrap()
        .with_timezone(&Utc)
}

#[allow(missing_debug_implementations)] // Holds the app, which is not Debug.
pub struct World {
    pub app: TestApp,
    pub db: DatabaseConnection,
    pub client: MarketServiceClient<Channel>,
}

/// Someone with a token.
#[derive(Debug, Clone)]
pub struct Person {
    pub id: Uuid,
    pub token: String,
}

impl World {
    pub async fn new() -> Self {
        Self::of(&[ServiceDef::of::<Market>()]).await
    }

    /// With identity running too: people made through it reach market's projection.
    pub async fn with_identity() -> Self {
        Self::of(&[
            ServiceDef::of::<terrace_identity::Identity>(),
            ServiceDef::of::<Market>(),
        ])
        .await
    }

    /// With governance running too, its demonstration county imported: its divisions reach
    /// market's projection of places.
    pub async fn with_governance() -> Self {
        let app = TestApp::spawn_with(
            &[
                ServiceDef::of::<terrace_governance::Governance>(),
                ServiceDef::of::<Market>(),
            ],
            |settings| {
                settings.services.insert(
                    "governance".into(),
                    serde_json::json!({ "demo_divisions": true }),
                );
            },
        )
        .await;
        Self::around(app).await
    }

    async fn of(services: &[ServiceDef]) -> Self {
        Self::around(TestApp::spawn(services).await).await
    }

    async fn around(app: TestApp) -> Self {
        app.clock.set(monday_morning());
        let db = app.ctx.database("market").await;
        let client = MarketServiceClient::new(app.channel().await);
        Self { app, db, client }
    }

    /// A person holding `grants`, with a token minted on the services' clock now.
    pub fn person(&self, grants: &[(Role, &str)]) -> Person {
        let id = Uuid::now_v7();
        Person {
            id,
            token: self.app.token(&id.to_string(), grants),
        }
    }

    /// A fresh token for `person` with `grants` (after the clock moved).
    pub fn again(&self, person: &Person, grants: &[(Role, &str)]) -> Person {
        Person {
            id: person.id,
            token: self.app.token(&person.id.to_string(), grants),
        }
    }

    pub fn farmer(&self) -> Person {
        self.person(&[(Role::Farmer, VILLAGE)])
    }

    pub fn buyer(&self) -> Person {
        self.person(&[(Role::Buyer, "")])
    }

    pub async fn count(&self, sql: &str) -> i64 {
        self.db
            .query_one_raw(Statement::from_string(
                self.db.get_database_backend(),
                sql.to_owned(),
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get("", "n")
            .unwrap()
    }

    pub async fn create(
        &mut self,
        who: &Person,
        listing: pb::Listing,
        publish: bool,
    ) -> Result<pb::Listing, tonic::Status> {
        self.create_as(who, listing, publish, &request_id()).await
    }

    pub async fn create_as(
        &mut self,
        who: &Person,
        listing: pb::Listing,
        publish: bool,
        request_id: &str,
    ) -> Result<pb::Listing, tonic::Status> {
        let request = pb::CreateListingRequest {
            request_id: request_id.to_owned(),
            listing: Some(listing),
            publish,
        };
        Ok(self
            .client
            .create_listing(self.app.request(request, &who.token))
            .await?
            .into_inner()
            .listing
            .unwrap())
    }

    pub async fn get(&mut self, who: &Person, id: &str) -> Result<pb::Listing, tonic::Status> {
        let request = pb::GetListingRequest {
            listing_id: id.to_owned(),
            display_currency: String::new(),
        };
        Ok(self
            .client
            .get_listing(self.app.request(request, &who.token))
            .await?
            .into_inner()
            .listing
            .unwrap())
    }

    pub async fn publish(
        &mut self,
        who: &Person,
        id: &str,
        expire_time: Option<DateTime<Utc>>,
    ) -> Result<pb::Listing, tonic::Status> {
        let request = pb::PublishListingRequest {
            request_id: request_id(),
            listing_id: id.to_owned(),
            expire_time: expire_time.map(terrace_platform::validate::to_timestamp),
        };
        Ok(self
            .client
            .publish_listing(self.app.request(request, &who.token))
            .await?
            .into_inner()
            .listing
            .unwrap())
    }

    pub async fn pause(&mut self, who: &Person, id: &str) -> Result<pb::Listing, tonic::Status> {
        let request = pb::PauseListingRequest {
            request_id: request_id(),
            listing_id: id.to_owned(),
        };
        Ok(self
            .client
            .pause_listing(self.app.request(request, &who.token))
            .await?
            .into_inner()
            .listing
            .unwrap())
    }

    pub async fn close(&mut self, who: &Person, id: &str) -> Result<pb::Listing, tonic::Status> {
        let request = pb::CloseListingRequest {
            request_id: request_id(),
            listing_id: id.to_owned(),
        };
        Ok(self
            .client
            .close_listing(self.app.request(request, &who.token))
            .await?
            .into_inner()
            .listing
            .unwrap())
    }

    pub async fn hide(
        &mut self,
        who: &Person,
        id: &str,
        reason: &str,
    ) -> Result<pb::Listing, tonic::Status> {
        let request = pb::HideListingRequest {
            request_id: request_id(),
            listing_id: id.to_owned(),
            reason: reason.to_owned(),
        };
        Ok(self
            .client
            .hide_listing(self.app.request(request, &who.token))
            .await?
            .into_inner()
            .listing
            .unwrap())
    }

    pub async fn unhide(&mut self, who: &Person, id: &str) -> Result<pb::Listing, tonic::Status> {
        let request = pb::UnhideListingRequest {
            request_id: request_id(),
            listing_id: id.to_owned(),
            note: String::new(),
        };
        Ok(self
            .client
            .unhide_listing(self.app.request(request, &who.token))
            .await?
            .into_inner()
            .listing
            .unwrap())
    }

    pub async fn update(
        &mut self,
        who: &Person,
        listing: pb::Listing,
        paths: &[&str],
    ) -> Result<pb::Listing, tonic::Status> {
        let request = pb::UpdateListingRequest {
            request_id: request_id(),
            listing: Some(listing),
            update_mask: Some(prost_types::FieldMask {
                paths: paths.iter().map(|p| (*p).to_owned()).collect(),
            }),
        };
        Ok(self
            .client
            .update_listing(self.app.request(request, &who.token))
            .await?
            .into_inner()
            .listing
            .unwrap())
    }

    /// Moves the services' clock to `at` and waits for a run of `job` that starts after the move.
    pub async fn place(
        &mut self,
        who: &Person,
        order: pb::Order,
    ) -> Result<pb::Order, tonic::Status> {
        let request = pb::PlaceOrderRequest {
            request_id: request_id(),
            order: Some(order),
            expected_unit_price: None,
        };
        Ok(self
            .client
            .place_order(self.app.request(request, &who.token))
            .await?
            .into_inner()
            .order
            .unwrap())
    }

    pub async fn order(&mut self, who: &Person, id: &str) -> Result<pb::Order, tonic::Status> {
        let request = pb::GetOrderRequest {
            order_id: id.to_owned(),
        };
        Ok(self
            .client
            .get_order(self.app.request(request, &who.token))
            .await?
            .into_inner()
            .order
            .unwrap())
    }

    pub async fn move_clock_and_run(&mut self, at: DateTime<Utc>, job: &str) {
        use terrace_testkit::jobs::{runs, settled};
        let before = runs(&self.db, job).await;
        settled(&self.db, job, before).await;
        self.app.clock.set(at);
        settled(&self.db, job, before + 1).await;
    }
}

pub fn zh(text: &str) -> common::LocalizedText {
    common::LocalizedText {
        translations: [("zh-CN".to_owned(), text.to_owned())].into(),
    }
}

pub fn cny(amount_minor: i64) -> common::Money {
    common::Money {
        amount_minor,
        currency_code: "CNY".to_owned(),
    }
}

pub fn quantity(value_milli: i64, unit: common::Unit) -> common::Quantity {
    common::Quantity {
        value_milli,
        unit: unit as i32,
    }
}

/// 200 斤 of 红富士 apples at ¥3.50 a 斤.
pub fn apples() -> pb::Listing {
    pb::Listing {
        category_id: "fruit.apple".to_owned(),
        title: Some(zh("红富士苹果")),
        description: Some(zh("山上种的，脆甜")),
        variety: "红富士".to_owned(),
        grade: pb::ProduceGrade::First as i32,
        stocked: Some(quantity(200_000, common::Unit::Jin)),
        unit_price: Some(cny(350)),
        minimum_order: Some(quantity(10_000, common::Unit::Jin)),
        fulfilment_methods: vec![pb::FulfilmentMethod::Pickup as i32],
        ..Default::default()
    }
}

/// The contract's code of an area given by its significant digits (`330523108`).
pub fn area(code: &str) -> common::AdminCode {
    terrace_platform::auth::AdminScope::parse(code)
        .unwrap()
        .to_proto()
}

/// An order of `value_milli` thousandths of the listing's unit, picked up.
pub fn order_of(listing: &pb::Listing, value_milli: i64) -> pb::Order {
    pb::Order {
        listing_id: listing.id.clone(),
        quantity: Some(common::Quantity {
            value_milli,
            unit: listing.stocked.as_ref().unwrap().unit,
        }),
        fulfilment_method: pb::FulfilmentMethod::Pickup as i32,
        ..Default::default()
    }
}
