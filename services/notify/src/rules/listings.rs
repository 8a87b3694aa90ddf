//! New listings reach the buyers who follow their category in their area (`CreateSubscription`
//! with a market category topic). The consumer `notify-market-listings` follows
//! `market.listing.>` and tells of a listing the moment it first goes on sale: created active,
//! or published from a draft — not when it comes back from a pause or a restock, which would
//! tell the same people of the same produce again. The seller is never told of their own.

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
use crate::subscriptions::store as subscriptions;
use crate::templates::defaults;

/// The durable consumer's name.
pub const CONSUMER: &str = "notify-market-listings";

/// The consumer of market's listing events, to be run by the service.
pub fn consumer(ctx: &ServiceContext) -> Consumer<ListingRules> {
    super::consumer(
        ctx,
        CONSUMER,
        "market",
        "market.listing.>",
        ListingRules {
            clock: ctx.clock.clone(),
        },
    )
}

/// Tells followers of each listing that goes on sale.
#[derive(Debug)]
pub struct ListingRules {
    clock: Clock,
}

/// The listing of `envelope` if it just went on sale for the first time.
pub fn on_sale(envelope: &Envelope) -> anyhow::Result<Option<market::Listing>> {
    let active = market::ListingStatus::Active as i32;
    Ok(
        match envelope.subject.rsplit('.').next().unwrap_or_default() {
            "created" => envelope
                .decode::<market::ListingCreated>()?
                .listing
                .filter(|listing| listing.status == active),
            "status_changed" => {
                let changed = envelope.decode::<market::ListingStatusChanged>()?;
                changed.listing.filter(|listing| {
                    listing.status == active
                        && changed.from_status == market::ListingStatus::Draft as i32
                })
            }
            _ => None,
        },
    )
}

#[derive(Debug, Serialize)]
struct Vars {
    title: String,
    price: String,
    quantity: String,
    village: String,
    seller: String,
}

impl Handler for ListingRules {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        envelope: &Envelope,
    ) -> Result<(), HandlerError> {
        let Some(listing) = on_sale(envelope).map_err(HandlerError::Reject)? else {
            return Ok(());
        };
        let followers = subscriptions::followers(txn, &listing.category_id, &listing.village_code)
            .await?
            .into_iter()
            .filter(|user| user.to_string() != listing.seller_user_id)
            .collect::<Vec<Uuid>>();
        if followers.is_empty() {
            return Ok(());
        }
        let people = terrace_platform::people::find_many(txn, &followers)
            .await
            .map_err(|error| HandlerError::Retry(error.into()))?;
        let now = self.clock.now();
        let template = crate::templates::active(txn, "market.listing.followed").await?;
        for follower in followers {
            let preferences = super::preferences_of(txn, follower, people.get(&follower)).await?;
            let locale = preferences
                .locale
                .as_deref()
                .unwrap_or(defaults::FALLBACK_LOCALE);
            let vars = Vars {
                title: words::localized(listing.title.as_ref(), locale),
                price: words::money(listing.unit_price.as_ref()),
                quantity: words::quantity(
                    listing.available.as_ref().or(listing.stocked.as_ref()),
                    locale,
                ),
                village: listing.village_name.clone(),
                seller: listing.seller_display_name.clone(),
            };
            let text = super::in_app_text(&template, locale, &vars)?.text;
            let item = NewItem {
                user_id: follower,
                category: pb::NotificationCategory::Listings,
                title: text.subject,
                body: text.body,
                link: format!("terrace://market/listings/{}", listing.id),
                critical: false,
                source_id: envelope.id.to_string(),
                dedup_key: format!("{}:market.listing.followed:{follower}", envelope.id),
            };
            super::write_item(txn, &preferences, item, now).await?;
        }
        Ok(())
    }
}
