//! Market's order events become notifications: the farmer whose listing was ordered, the buyer
//! told of each answer. The consumer `notify-market-orders` follows `market.order.>`.
//!
//! | event | who is told | text |
//! | --- | --- | --- |
//! | placed | the seller | `market.order.placed` |
//! | accepted, declined, shipped, no-show | the buyer | `market.order.<event>` |
//! | cancelled | the other party than the one who cancelled | `market.order.cancelled` |
//! | expired | both | `market.order.expired` |
//! | completed | the seller | `market.order.completed` |
//! | picked up | nobody (both were there) | |
//!
//! Names come from notify's projection of people (`notify-people`); a person it does not know
//! yet is named by role ("买家"). Each recipient reads their text in their own language (the
//! projection's `locale`; zh-CN for someone notify does not know yet).

use sea_orm::DatabaseTransaction;
use serde::Serialize;
use terrace_platform::Clock;
use terrace_platform::bus::Envelope;
use terrace_platform::bus::consumer::{Consumer, Handler, HandlerError};
use terrace_platform::service::ServiceContext;
use terrace_proto::market::v1 as market;
use terrace_proto::notify::v1 as pb;
use uuid::Uuid;

use super::words;
use crate::inbox::NewItem;
use crate::templates::defaults;

/// The durable consumer's name.
pub const CONSUMER: &str = "notify-market-orders";

/// The consumer of market's order events, to be run by the service.
pub fn consumer(ctx: &ServiceContext, texting: &super::Texting) -> Consumer<OrderRules> {
    super::consumer(
        ctx,
        CONSUMER,
        "market",
        "market.order.>",
        OrderRules::new(ctx.clock.clone(), texting.clone()),
    )
}

/// Turns each order event into its notifications.
#[derive(Debug)]
pub struct OrderRules {
    clock: Clock,
    texting: super::Texting,
}

impl OrderRules {
    pub fn new(clock: Clock, texting: super::Texting) -> Self {
        Self { clock, texting }
    }
}

/// Who of an order's two parties.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    Buyer,
    Seller,
}

/// One notification an event makes: to whom, which text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Told {
    pub party: Party,
    pub key: &'static str,
}

/// What an order event says: the order, and for a cancellation who cancelled.
#[derive(Debug)]
pub struct OrderEvent {
    pub kind: &'static str,
    pub order: market::Order,
}

/// The event of `envelope`, if it is one these rules read (others, such as picked up, pass).
pub fn read(envelope: &Envelope) -> anyhow::Result<Option<OrderEvent>> {
    let subject = envelope.subject.as_str();
    let kind = subject.rsplit('.').next().unwrap_or_default();
    let order = match kind {
        "placed" => envelope.decode::<market::OrderPlaced>()?.order,
        "accepted" => envelope.decode::<market::OrderAccepted>()?.order,
        "declined" => envelope.decode::<market::OrderDeclined>()?.order,
        "cancelled" => envelope.decode::<market::OrderCancelled>()?.order,
        "expired" => envelope.decode::<market::OrderExpired>()?.order,
        "shipped" => envelope.decode::<market::OrderShipped>()?.order,
        "completed" => envelope.decode::<market::OrderCompleted>()?.order,
        "no_show" => envelope.decode::<market::OrderNoShow>()?.order,
        _ => return Ok(None),
    };
    let kind = match kind {
        "placed" => "placed",
        "accepted" => "accepted",
        "declined" => "declined",
        "cancelled" => "cancelled",
        "expired" => "expired",
        "shipped" => "shipped",
        "completed" => "completed",
        _ => "no_show",
    };
    Ok(order.map(|order| OrderEvent { kind, order }))
}

/// Who is told of `event`, with which text.
pub fn told(event: &OrderEvent) -> Vec<Told> {
    let to = |party, key| Told { party, key };
    match event.kind {
        "placed" => vec![to(Party::Seller, "market.order.placed")],
        "accepted" => vec![to(Party::Buyer, "market.order.accepted")],
        "declined" => vec![to(Party::Buyer, "market.order.declined")],
        "shipped" => vec![to(Party::Buyer, "market.order.shipped")],
        "no_show" => vec![to(Party::Buyer, "market.order.no_show")],
        "completed" => vec![to(Party::Seller, "market.order.completed")],
        "expired" => vec![
            to(Party::Buyer, "market.order.expired"),
            to(Party::Seller, "market.order.expired"),
        ],
        "cancelled" => {
            let by_buyer = cancelled_by_buyer(&event.order);
            let other = if by_buyer {
                Party::Seller
            } else {
                Party::Buyer
            };
            vec![to(other, "market.order.cancelled")]
        }
        _ => Vec::new(),
    }
}

/// Whether the buyer (or a helper for them) cancelled.
fn cancelled_by_buyer(order: &market::Order) -> bool {
    order.cancelled_by.as_ref().is_some_and(|actor| {
        actor.user_id == order.buyer_user_id || actor.on_behalf_of_user_id == order.buyer_user_id
    })
}

/// The variables every order text may use.
#[derive(Debug, Serialize)]
struct Vars {
    title: String,
    quantity: String,
    total: String,
    reference: String,
    buyer: String,
    seller: String,
    method: &'static str,
    reason: String,
    by: &'static str,
}

impl Handler for OrderRules {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        envelope: &Envelope,
    ) -> Result<(), HandlerError> {
        let Some(event) = read(envelope).map_err(HandlerError::Reject)? else {
            return Ok(());
        };
        let order = &event.order;
        let parse = |id: &str| {
            Uuid::parse_str(id).map_err(|_| {
                HandlerError::Reject(anyhow::anyhow!(
                    "an order without its parties in {}",
                    envelope.id
                ))
            })
        };
        let (buyer, seller) = (parse(&order.buyer_user_id)?, parse(&order.seller_user_id)?);
        let people = terrace_platform::people::find_many(txn, &[buyer, seller])
            .await
            .map_err(|error| HandlerError::Retry(error.into()))?;
        let now = self.clock.now();
        for told in told(&event) {
            let template = crate::templates::active(txn, told.key).await?;
            let recipient = match told.party {
                Party::Buyer => buyer,
                Party::Seller => seller,
            };
            // In the recipient's language (their choice, else identity's; zh-CN for someone
            // notify does not know yet), as their preferences plan it.
            let person = people.get(&recipient);
            let preferences = super::preferences_of(txn, recipient, person).await?;
            let locale = preferences
                .locale
                .as_deref()
                .unwrap_or(defaults::FALLBACK_LOCALE);
            let name = |id: Uuid, buyer: bool| {
                people
                    .get(&id)
                    .map(|person| person.display_name.clone())
                    .filter(|name| !name.is_empty())
                    .unwrap_or_else(|| words::party(buyer, locale).to_owned())
            };
            let vars = Vars {
                title: words::localized(order.listing_title.as_ref(), locale),
                quantity: words::quantity(order.quantity.as_ref(), locale),
                total: words::money(order.total_price.as_ref()),
                reference: order.reference.clone(),
                buyer: name(buyer, true),
                seller: name(seller, false),
                method: words::method(
                    order.fulfilment_method == market::FulfilmentMethod::Delivery as i32,
                    locale,
                ),
                reason: order.cancel_reason.clone(),
                by: words::party(cancelled_by_buyer(order), locale),
            };
            // By SMS as well, for the answers that have a text message (the platform's default
            // for orders), to the phone notify knows; by e-mail where the template has an
            // e-mail text and the person an address.
            super::tell_outside(
                txn,
                &self.texting,
                super::Text {
                    template: &template,
                    locale,
                    vars: &vars,
                },
                recipient,
                person,
                &preferences,
                super::About::ordinary(
                    pb::NotificationCategory::Orders,
                    format!("{}:{}:{recipient}", envelope.id, told.key),
                    order.village_code.clone(),
                ),
                envelope,
                now,
            )
            .await?;
            let text = super::in_app_text(&template, locale, &vars)?.text;
            let item = NewItem {
                user_id: recipient,
                category: pb::NotificationCategory::Orders,
                title: text.subject,
                body: text.body,
                // The app's page of the order for this side: the buyer's orders, or those the
                // seller received.
                link: match told.party {
                    Party::Buyer => format!("terrace://market/orders/{}", order.id),
                    Party::Seller => format!("terrace://market/incoming/{}", order.id),
                },
                critical: false,
                source_id: envelope.id.to_string(),
                dedup_key: format!("{}:{}:{recipient}", envelope.id, told.key),
            };
            super::write_item(txn, &preferences, item, now).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use terrace_proto::common::v1 as common;

    fn order(cancelled_by: Option<&str>) -> market::Order {
        market::Order {
            buyer_user_id: "buyer".to_owned(),
            seller_user_id: "seller".to_owned(),
            cancelled_by: cancelled_by.map(|user| common::Actor {
                user_id: user.to_owned(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn told_of(kind: &'static str, order: market::Order) -> Vec<(Party, &'static str)> {
        told(&OrderEvent { kind, order })
            .into_iter()
            .map(|t| (t.party, t.key))
            .collect()
    }

    #[test]
    fn each_event_tells_the_right_party() {
        assert_eq!(
            told_of("placed", order(None)),
            [(Party::Seller, "market.order.placed")]
        );
        assert_eq!(
            told_of("declined", order(None)),
            [(Party::Buyer, "market.order.declined")]
        );
        assert_eq!(
            told_of("cancelled", order(Some("buyer"))),
            [(Party::Seller, "market.order.cancelled")],
            "the buyer cancelled: the seller is told"
        );
        assert_eq!(
            told_of("cancelled", order(Some("seller"))),
            [(Party::Buyer, "market.order.cancelled")]
        );
        assert_eq!(told_of("expired", order(None)).len(), 2, "both are told");
        assert!(told_of("picked_up", order(None)).is_empty());
    }

    #[test]
    fn every_order_text_renders_with_the_rules_variables_in_both_languages() {
        let vars = Vars {
            title: "红富士苹果".to_owned(),
            quantity: "10 斤".to_owned(),
            total: "¥35.00".to_owned(),
            reference: "M-20270301-0001".to_owned(),
            buyer: "张伟".to_owned(),
            seller: "王秀英".to_owned(),
            method: "自提",
            reason: "卖完了".to_owned(),
            by: "买家",
        };
        for text in defaults::TEXTS
            .iter()
            .filter(|t| t.key.starts_with("market.order."))
        {
            let rendered = defaults::built_in_of(text.key)
                .and_then(|b| b.render(pb::Channel::InApp, text.locale, &vars))
                .unwrap_or_else(|| panic!("{} has no in-app text", text.key))
                .unwrap_or_else(|error| panic!("{} {}: {error}", text.key, text.locale));
            assert!(!rendered.subject.is_empty() && !rendered.body.contains("{{"));
        }
    }
}
