//! What every flow starts from: the five services with the demonstration county, notify texting
//! through a local SMS gateway, the clock on a known Monday morning, and people made through
//! identity (so every service learns of them from its events, as in production).

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait as _, Statement};
use terrace_platform::auth::Role;
use terrace_platform::service::ServiceDef;
use terrace_proto::governance::v1::governance_service_client::GovernanceServiceClient;
use terrace_proto::identity::v1 as identity;
use terrace_proto::identity::v1::identity_service_client::IdentityServiceClient;
use terrace_proto::market::v1 as market;
use terrace_proto::market::v1::market_service_client::MarketServiceClient;
use terrace_proto::notify::v1 as notify;
use terrace_proto::notify::v1::notify_service_client::NotifyServiceClient;
use terrace_testkit::TestApp;
use terrace_testkit::rpc::request_id;
use terrace_testkit::sms::{SmsGateway, notify_settings};
use tonic::transport::Channel;
use uuid::Uuid;

/// 余村, and its township.
pub const VILLAGE: &str = "330523108204";
pub const TOWNSHIP: &str = "330523108000";

/// Monday 1 March 2027, 09:00 in China.
pub fn monday_morning() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2027-03-01T09:00:00+08:00")
        .unwrap()
        .with_timezone(&Utc)
}

#[allow(missing_debug_implementations)] // Holds the app, which is not Debug.
pub struct World {
    pub app: TestApp,
    pub gateway: SmsGateway,
    pub identity: IdentityServiceClient<Channel>,
    pub governance: GovernanceServiceClient<Channel>,
    pub market: MarketServiceClient<Channel>,
    pub notify: NotifyServiceClient<Channel>,
}

/// Someone with an account and a token.
#[derive(Debug, Clone)]
pub struct Person {
    pub id: Uuid,
    pub phone: String,
    pub token: String,
}

impl World {
    pub async fn new() -> Self {
        let gateway = SmsGateway::default();
        let url = gateway.start().await;
        let app = TestApp::spawn_with(
            &[
                ServiceDef::of::<terrace_identity::Identity>(),
                ServiceDef::of::<terrace_governance::Governance>(),
                ServiceDef::of::<terrace_agri::Agri>(),
                ServiceDef::of::<terrace_market::Market>(),
                ServiceDef::of::<terrace_notify::Notify>(),
            ],
            |settings| {
                // Five services share the machine's PostgreSQL (100 connections) with the other
                // tests running at the same time: a small pool each.
                settings.database.max_connections = 4;
                settings.services.insert(
                    "governance".to_owned(),
                    serde_json::json!({ "demo_divisions": true }),
                );
                settings
                    .services
                    .insert("notify".to_owned(), notify_settings(&url));
            },
        )
        .await;
        app.clock.set(monday_morning());
        let channel = app.channel().await;
        Self {
            identity: IdentityServiceClient::new(channel.clone()),
            governance: GovernanceServiceClient::new(channel.clone()),
            market: MarketServiceClient::new(channel.clone()),
            notify: NotifyServiceClient::new(channel),
            gateway,
            app,
        }
    }

    /// A person registered through identity with `roles`, once notify knows them (their name,
    /// phone and language reach it as identity's events, like every other service).
    pub async fn person(&self, phone: &str, name: &str, roles: &[(Role, &str)]) -> Person {
        let seeded = self.app.seed_user(phone, name, roles).await;
        self.known_to_notify(seeded.id).await;
        Person {
            id: seeded.id,
            phone: seeded.phone,
            token: seeded.token,
        }
    }

    /// 200 斤 of 红富士苹果 that `farmer` put on sale, 3.50 a 斤, for pickup.
    pub async fn apples_on_sale(&self, farmer: &Person) -> market::Listing {
        let request = market::CreateListingRequest {
            request_id: request_id(),
            listing: Some(terrace_testkit::market::apples()),
            publish: true,
        };
        self.market
            .clone()
            .create_listing(self.app.request(request, &farmer.token))
            .await
            .unwrap()
            .into_inner()
            .listing
            .unwrap()
    }

    /// `buyer` orders `jin` 斤 of `listing`, for pickup.
    pub async fn order(
        &self,
        buyer: &Person,
        listing: &market::Listing,
        jin: i64,
    ) -> market::Order {
        let request = market::PlaceOrderRequest {
            request_id: request_id(),
            order: Some(terrace_testkit::market::pickup_order(&listing.id, jin)),
            expected_unit_price: None,
        };
        self.market
            .clone()
            .place_order(self.app.request(request, &buyer.token))
            .await
            .unwrap()
            .into_inner()
            .order
            .unwrap()
    }

    /// An official, by token only (officials act; they are not told anything in these flows).
    pub fn official(&self, role: Role, area: &str) -> String {
        self.app.token(&Uuid::now_v7().to_string(), &[(role, area)])
    }

    /// Waits until notify's projection of people holds `user`.
    pub async fn known_to_notify(&self, user: Uuid) {
        let db = self.app.ctx.database("notify").await;
        terrace_testkit::eventually("notify to know the person", Duration::from_secs(30), || {
            let db = db.clone();
            async move {
                let row = db
                    .query_one_raw(Statement::from_sql_and_values(
                        db.get_database_backend(),
                        "SELECT count(*) AS n FROM known_users WHERE id = $1",
                        [user.into()],
                    ))
                    .await
                    .ok()??;
                (row.try_get::<i64>("", "n").ok()? > 0).then_some(())
            }
        })
        .await;
    }

    /// `who`'s inbox once it holds at least `count` items, newest first.
    pub async fn inbox_when(&self, who: &Person, count: usize) -> Vec<notify::InboxItem> {
        terrace_testkit::eventually(
            &format!("{count} items in the inbox"),
            Duration::from_secs(30),
            || {
                let mut notify = self.notify.clone();
                async move {
                    let items = notify
                        .list_inbox(
                            self.app
                                .request(notify::ListInboxRequest::default(), &who.token),
                        )
                        .await
                        .ok()?
                        .into_inner()
                        .items;
                    (items.len() >= count).then_some(items)
                }
            },
        )
        .await
    }

    /// `who`'s delivery records.
    pub async fn deliveries(&self, who: &Person) -> Vec<notify::Delivery> {
        let request = notify::ListDeliveriesRequest {
            recipient_user_id: who.id.to_string(),
            ..Default::default()
        };
        self.notify
            .clone()
            .list_deliveries(self.app.request(request, &who.token))
            .await
            .unwrap()
            .into_inner()
            .deliveries
    }

    /// Asks identity for a code for `phone`, as the phone app does.
    pub async fn request_code(&self, phone: &str, purpose: identity::OtpPurpose) {
        self.identity
            .clone()
            .request_otp(identity::RequestOtpRequest {
                request_id: request_id(),
                phone_number: phone.to_owned(),
                purpose: purpose as i32,
                locale: "zh-CN".to_owned(),
            })
            .await
            .unwrap();
    }
}
