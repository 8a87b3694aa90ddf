//! Notify's event-to-inbox path (issue 12's target: p99 under 25 ms at half of capacity): market's
//! `OrderPlaced` events published to JetStream as market's relay publishes them, each for a seller
//! of its own, timed from the publish until the seller's inbox row is committed — seen through the
//! `pg_notify` wake notify sends on commit, on the channel every replica's watchers listen to. The
//! seller has a phone, so the default preferences also queue a text in the same transaction, as
//! in production. Closed-loop capacity first, then open-loop at half of it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sea_orm::{ConnectionTrait as _, Statement};
use sqlx::postgres::PgListener;
use terrace_notify::Notify;
use terrace_platform::bus::Envelope;
use terrace_platform::service::ServiceDef;
use terrace_proto::common::v1 as common;
use terrace_proto::market::v1 as market;
use terrace_testkit::TestApp;
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::measure::{self, Measurement};

/// The measurements of the event-to-inbox path.
#[derive(Debug)]
pub(crate) struct EventToInbox {
    pub(crate) capacity: Measurement,
    pub(crate) at_half: Measurement,
}

/// Who waits for whose inbox row.
type Waiters = Arc<Mutex<HashMap<Uuid, oneshot::Sender<()>>>>;

/// `ops` events closed-loop at `concurrency`, then `ops` at half the rate reached. Without
/// `phones` the sellers have none, so no text is queued beside the inbox row.
pub(crate) async fn event_to_inbox(
    ops: usize,
    concurrency: usize,
    phones: bool,
) -> anyhow::Result<EventToInbox> {
    let app = TestApp::spawn(&[ServiceDef::of::<Notify>()]).await;
    let db = app.ctx.database("notify").await;
    // Every seller is known to notify (a name and a phone), as its people projection keeps them.
    let sellers: Arc<Vec<Uuid>> = Arc::new((0..ops * 2).map(|_| Uuid::now_v7()).collect());
    db.execute_raw(Statement::from_sql_and_values(
        db.get_database_backend(),
        "INSERT INTO known_users (id, display_name, phone_number, version, locale, time_zone)
         SELECT id, '王秀英',
                CASE WHEN $2 THEN '+86138' || lpad((row_number() OVER ())::text, 8, '0') ELSE '' END,
                now(), 'zh-CN', 'Asia/Shanghai'
           FROM unnest($1::uuid[]) AS id",
        [sellers.as_ref().clone().into(), phones.into()],
    ))
    .await?;

    let waiters: Waiters = Arc::default();
    let mut listener = PgListener::connect_with(db.get_postgres_connection_pool()).await?;
    listener
        .listen(terrace_notify::inbox::store::CHANNEL)
        .await?;
    let woken = waiters.clone();
    let listening = tokio::spawn(async move {
        while let Ok(notification) = listener.recv().await {
            if let Ok(user) = Uuid::parse_str(notification.payload())
                && let Some(waiter) = woken.lock().ok().and_then(|mut w| w.remove(&user))
            {
                let _ = waiter.send(());
            }
        }
    });

    let bus = app.ctx.bus(&["market"]).await;
    let jetstream = bus.jetstream.clone();
    let naming = bus.naming.clone();
    let buyer = Uuid::now_v7().to_string();
    let deliver = move |seller: Uuid| {
        let (jetstream, naming, waiters, buyer) = (
            jetstream.clone(),
            naming.clone(),
            waiters.clone(),
            buyer.clone(),
        );
        async move {
            let (tx, rx) = oneshot::channel();
            waiters
                .lock()
                .map_err(|_| anyhow::anyhow!("waiters poisoned"))?
                .insert(seller, tx);
            let envelope = Envelope::new("terrace/market", &placed(&buyer, seller));
            jetstream
                .publish_with_headers(
                    naming.subject(&envelope.subject),
                    envelope.headers(),
                    envelope.payload.clone(),
                )
                .await?
                .await?;
            rx.await?;
            anyhow::Ok(())
        }
    };

    let closed = sellers.clone();
    let deliver_closed = deliver.clone();
    let capacity = measure::run(ops, concurrency, move |i| deliver_closed(closed[i])).await?;
    let half = sellers.clone();
    let at_half =
        measure::open_loop(ops, capacity.rate() / 2.0, move |i| deliver(half[ops + i])).await?;
    listening.abort();
    Ok(EventToInbox { capacity, at_half })
}

/// An order of 10 斤 of apples from `buyer` to `seller`, as market publishes it.
fn placed(buyer: &str, seller: Uuid) -> market::OrderPlaced {
    market::OrderPlaced {
        order: Some(market::Order {
            id: Uuid::now_v7().to_string(),
            reference: "M-20270301-0001".to_owned(),
            buyer_user_id: buyer.to_owned(),
            seller_user_id: seller.to_string(),
            listing_title: Some(common::LocalizedText {
                translations: [("zh-CN".to_owned(), "红富士苹果".to_owned())].into(),
            }),
            quantity: Some(common::Quantity {
                value_milli: 10_000,
                unit: common::Unit::Jin as i32,
            }),
            total_price: Some(common::Money {
                amount_minor: 3500,
                currency_code: "CNY".to_owned(),
            }),
            village_code: "330523108204".to_owned(),
            ..Default::default()
        }),
        ..Default::default()
    }
}
