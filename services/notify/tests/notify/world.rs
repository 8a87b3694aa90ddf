//! What every notify test starts from: market and notify over real gRPC, NATS and PostgreSQL,
//! a clock set to a known morning, a farmer of 余村 selling apples and a buyer.

use chrono::{DateTime, Utc};
use terrace_market::Market;
use terrace_notify::Notify;
use terrace_platform::auth::Role;
use terrace_platform::service::ServiceDef;
use terrace_proto::market::v1 as market;
use terrace_proto::market::v1::market_service_client::MarketServiceClient;
use terrace_proto::notify::v1 as pb;
use terrace_proto::notify::v1::notify_service_client::NotifyServiceClient;
use terrace_testkit::TestApp;
use terrace_testkit::rpc::request_id;
use tonic::transport::Channel;
use uuid::Uuid;

/// 余村.
pub const VILLAGE: &str = "330523108204";

/// Monday 1 March 2027, 09:00 in China.
pub fn monday_morning() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2027-03-01T09:00:00+08:00")
        .unwrap()
        .with_timezone(&Utc)
}

#[allow(missing_debug_implementations)] // Holds the app, which is not Debug.
pub struct World {
    pub app: TestApp,
    pub market: MarketServiceClient<Channel>,
    pub notify: NotifyServiceClient<Channel>,
}

/// Someone with a token.
#[derive(Debug, Clone)]
pub struct Person {
    pub id: Uuid,
    pub token: String,
}

impl World {
    pub async fn new() -> Self {
        Self::with_notify(serde_json::json!({})).await
    }

    /// As [`World::new`], with notify's settings (`[services.notify]`) as given.
    pub async fn with_notify(notify: serde_json::Value) -> Self {
        let app = TestApp::spawn_with(
            &[ServiceDef::of::<Market>(), ServiceDef::of::<Notify>()],
            |settings| {
                settings.services.insert("notify".to_owned(), notify);
            },
        )
        .await;
        app.clock.set(monday_morning());
        let channel = app.channel().await;
        Self {
            market: MarketServiceClient::new(channel.clone()),
            notify: NotifyServiceClient::new(channel),
            app,
        }
    }

    /// Publishes `event` as `source` (`terrace/identity`) would through its outbox relay, on
    /// the test's NATS.
    pub async fn publish_as<E: terrace_platform::bus::Event>(
        &self,
        source: &str,
        event: &E,
    ) -> terrace_platform::bus::Envelope {
        let envelope = terrace_platform::bus::Envelope::new(source, event);
        self.republish(&envelope).await;
        envelope
    }

    /// Publishes `envelope` again, as a relay does after a lost acknowledgement (same id).
    pub async fn republish(&self, envelope: &terrace_platform::bus::Envelope) {
        // Every domain's stream, the secret one too, is made for any bus.
        let bus = self.app.ctx.bus(&[]).await;
        bus.jetstream
            .publish_with_headers(
                bus.naming.subject(&envelope.subject),
                envelope.headers(),
                envelope.payload.clone(),
            )
            .await
            .unwrap()
            .await
            .unwrap();
    }

    /// Notify's projection knows `who` by `name`, `phone` and `locale`, as it would from identity.
    pub async fn known(&self, who: &Person, name: &str, phone: &str, locale: &str) {
        use sea_orm::ConnectionTrait as _;
        let db = self.app.ctx.database("notify").await;
        db.execute_raw(sea_orm::Statement::from_sql_and_values(
            db.get_database_backend(),
            "INSERT INTO known_users (id, display_name, phone_number, version, locale, time_zone)
             VALUES ($1, $2, $3, now(), $4, 'Asia/Shanghai')",
            [who.id.into(), name.into(), phone.into(), locale.into()],
        ))
        .await
        .unwrap();
    }

    pub fn person(&self, grants: &[(Role, &str)]) -> Person {
        let id = Uuid::now_v7();
        Person {
            id,
            token: self.app.token(&id.to_string(), grants),
        }
    }

    /// A farmer of 余村 with 200 斤 of apples on sale.
    pub async fn farmer_selling(&mut self) -> (Person, market::Listing) {
        let farmer = self.person(&[(Role::Farmer, VILLAGE)]);
        let request = market::CreateListingRequest {
            request_id: request_id(),
            listing: Some(terrace_testkit::market::apples()),
            publish: true,
        };
        let listing = self
            .market
            .create_listing(self.app.request(request, &farmer.token))
            .await
            .unwrap()
            .into_inner()
            .listing
            .unwrap();
        (farmer, listing)
    }

    /// `buyer` orders `jin` 斤 of `listing`, for pickup.
    pub async fn order(
        &mut self,
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
            .place_order(self.app.request(request, &buyer.token))
            .await
            .unwrap()
            .into_inner()
            .order
            .unwrap()
    }

    /// The seller accepts `order`.
    pub async fn accept(&mut self, seller: &Person, order: &market::Order) {
        let accept = market::AcceptOrderRequest {
            request_id: request_id(),
            order_id: order.id.clone(),
            note: String::new(),
        };
        self.market
            .accept_order(self.app.request(accept, &seller.token))
            .await
            .unwrap();
    }

    pub async fn list(&mut self, who: &Person) -> pb::ListInboxResponse {
        self.notify
            .list_inbox(
                self.app
                    .request(pb::ListInboxRequest::default(), &who.token),
            )
            .await
            .unwrap()
            .into_inner()
    }

    /// Waits until `who`'s inbox holds at least `count` items.
    pub async fn inbox_when(&self, who: &Person, count: usize) -> pb::ListInboxResponse {
        let (notify, app) = (self.notify.clone(), &self.app);
        terrace_testkit::eventually(
            &format!("{count} items in the inbox"),
            std::time::Duration::from_secs(30),
            || {
                let mut notify = notify.clone();
                async move {
                    let inbox = notify
                        .list_inbox(app.request(pb::ListInboxRequest::default(), &who.token))
                        .await
                        .unwrap()
                        .into_inner();
                    (inbox.items.len() >= count).then_some(inbox)
                }
            },
        )
        .await
    }

    pub async fn watch(
        &mut self,
        who: &Person,
        after: &str,
    ) -> Result<tonic::Streaming<pb::WatchInboxResponse>, tonic::Status> {
        let request = pb::WatchInboxRequest {
            after_item_id: after.to_owned(),
        };
        Ok(self
            .notify
            .watch_inbox(self.app.request(request, &who.token))
            .await?
            .into_inner())
    }
}
