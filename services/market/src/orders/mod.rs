//! Orders that never oversell: `PlaceOrder`, `GetOrder`, `ListOrders`, `AcceptOrder`,
//! `DeclineOrder`, `CancelOrder`, `MarkOrderShipped`, `MarkOrderPickedUp`, `RecordNoShow`,
//! `CompleteOrder`, and the jobs that expire unanswered orders and complete handed-over ones.
//!
//! **Never oversold.** Placing an order reserves its quantity in one conditional `UPDATE` of the
//! listing ([`store::reserve`]): the listing's row lock orders concurrent buyers, and each
//! reserves only if what is available then covers it. Every later step moves the same quantity
//! in one statement too: back to available (declined, cancelled, expired, no-show) or into sold
//! (shipped, picked up). `stocked = available + reserved + sold` holds throughout, and the table's
//! CHECK refuses anything that would break it.
//!
//! **Who.** Buyers (and farmers) order others' listings; the seller accepts, declines, ships,
//! hands over or records a no-show; the buyer cancels while pending, either side while
//! confirmed; the buyer confirms receipt (or the job does, seven days after hand-over). Officials
//! of the listing's village read the orders of their area. After the seller accepts, each side
//! sees how to reach the other.
//!
//! **Events.** One for every step, carrying both parties, the village and the listing's title
//! (what notify needs), and the listing's new snapshot whenever its stock moved (search keeps
//! available quantities from it).
//!
//! Layout (the service's rhythm, `docs/architecture.md`): [`parse`] turns each request into a
//! command, this module applies it over a [`Caller`], [`store`] holds the SQL, `grpc.rs` answers.

pub mod parse;
pub mod store;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use prost::Message as _;
use sea_orm::{ConnectionTrait, DatabaseConnection, TransactionTrait as _};
use terrace_platform::Clock;
use terrace_platform::auth::{AdminScope, Caller, Role};
use terrace_platform::bus::outbox;
use terrace_platform::error::{Error, Result};
use terrace_platform::idempotency::{self, Keep};
use terrace_platform::validate::{page_response, to_timestamp};
use terrace_proto::common::v1 as common;
use terrace_proto::market::v1 as pb;
use uuid::Uuid;

use self::parse::{ListOrders, OrderCursor, OrderStep, PlaceOrder, Side, Step};
use self::store::{Reservation, Settle};
use crate::audit::{self, Audited};
use crate::entity::listings::{ListingStatus, Model as ListingRow};
use crate::entity::orders::{Column, Model as OrderRow, OrderStatus};
use crate::listings::{self, Listings};
use crate::units;
use terrace_platform::people;

/// The orders' migration.
pub const MIGRATION: terrace_platform::db::SqlMigration = terrace_platform::db::SqlMigration {
    name: "m20261204_200002_market_orders",
    up: store::MIGRATION_SQL,
};

/// How long a seller has to answer an order before its reservation lapses: two days, for a
/// farmer who looks at the phone once a day.
pub const RESERVATION: chrono::Duration = chrono::Duration::hours(48);

/// How long after hand-over an order completes by itself.
pub const AUTO_COMPLETE_AFTER: chrono::Duration = chrono::Duration::days(7);

/// The job that expires unanswered orders, giving their quantity back.
pub const EXPIRY_JOB: terrace_platform::jobs::Schedule = terrace_platform::jobs::Schedule {
    job: "market.order-expiry",
    every: std::time::Duration::from_secs(60),
};

/// The job that completes orders handed over a week ago.
pub const COMPLETION_JOB: terrace_platform::jobs::Schedule = terrace_platform::jobs::Schedule {
    job: "market.order-completion",
    every: std::time::Duration::from_secs(3600),
};

const JOB_BATCH: u64 = 500;

/// Orders: the *apply* step of their RPCs.
#[derive(Debug, Clone)]
pub struct Orders {
    db: DatabaseConnection,
    source: String,
    clock: Clock,
    listings: Listings,
}

fn may_buy(caller: &Caller) -> bool {
    caller.holds(Role::Buyer) || caller.holds(Role::Farmer)
}

fn oversees(caller: &Caller, village: &str) -> bool {
    AdminScope::parse(village)
        .is_ok_and(|village| caller.covers(&village, Role::VillageOfficial.rank(), None))
}

impl Orders {
    pub fn new(db: DatabaseConnection, source: String, clock: Clock, listings: Listings) -> Self {
        Self {
            db,
            source,
            clock,
            listings,
        }
    }

    pub async fn place(
        &self,
        caller: &Caller,
        command: PlaceOrder,
    ) -> Result<pb::PlaceOrderResponse> {
        let buyer = caller
            .subject_user()
            .filter(|_| may_buy(caller))
            .ok_or_else(|| {
                Error::permission_denied("NOT_A_BUYER", "orders are placed by buyers and farmers")
            })?;
        let now = self.clock.now();
        let key = command.mutation.key(caller);
        idempotency::once(&self.db, caller, &command.mutation, now, Keep::Answer, async |txn| {
            if let Some(row) = store::find_created(txn, key.caller_key(), command.mutation.request_id()).await? {
                return Ok(pb::PlaceOrderResponse { order: Some(self.to_proto(txn, &row, Some(buyer)).await?) });
            }
            let wanted = Reservation {
                listing_id: command.listing_id,
                quantity_milli: command.quantity.value_milli,
                unit: command.quantity.unit as i16,
                buyer,
                fulfilment: command.fulfilment as i16,
            };
            let actor = caller.actor().encode_to_vec();
            let Some(listing) = store::reserve(txn, &wanted, now, actor.clone()).await? else {
                return Err(self.why_not_reserved(txn, caller, &wanted).await);
            };
            if let Some(expected) = command.expected_unit_price
                && expected != listing.unit_price_minor
            {
                return Err(Error::failed_precondition_with(
                    "PRICE_CHANGED",
                    "the price changed since you saw it",
                    [("unit_price_minor", listing.unit_price_minor.to_string())],
                ));
            }
            let total = units::total_minor(listing.unit_price_minor, wanted.quantity_milli)
                .ok_or_else(|| Error::invalid("order.quantity", "too large"))?;
            let contact_phone = match &command.contact_phone {
                Some(phone) => phone.as_str().to_owned(),
                None => people::find(txn, buyer).await?.map(|known| known.phone_number).unwrap_or_default(),
            };
            let id = Uuid::now_v7();
            let number = store::next_number(txn).await?;
            let china = now.with_timezone(&terrace_platform::clock::CHINA_TIME);
            let mut row = OrderRow {
                id,
                reference: format!("M-{}-{number:04}", china.format("%Y%m%d")),
                listing_id: listing.id,
                buyer_user_id: buyer,
                seller_user_id: listing.seller_user_id,
                village_code: listing.village_code.clone(),
                unit: listing.unit,
                quantity_milli: wanted.quantity_milli,
                unit_price_minor: listing.unit_price_minor,
                total_minor: total,
                fulfilment_method: wanted.fulfilment,
                delivery_address: command.delivery_address.clone(),
                contact_phone,
                buyer_note: command.buyer_note.clone(),
                seller_note: String::new(),
                status: OrderStatus::Pending,
                reservation_expire_at: now + RESERVATION,
                handed_over_at: None,
                cancel_reason: String::new(),
                cancelled_by: None,
                listing_title: listing.title.clone(),
                history: serde_json::json!([]),
                version: 1,
                created_key: key.caller_key().to_owned(),
                created_request_id: command.mutation.request_id(),
                created_at: now,
                created_by: actor.clone(),
                updated_at: now,
                updated_by: actor,
            };
            history::push(&mut row, OrderStatus::Pending, now, &caller.actor(), "");
            let row = store::insert(txn, row).await?;
            let order = self.to_proto(txn, &row, Some(buyer)).await?;
            let available = self.announce_stock(txn, caller, &listing, ListingStatus::Active).await?;
            outbox::publish(
                txn,
                &self.source,
                &pb::OrderPlaced { order: Some(order.clone()), listing_available: Some(available), actor: Some(caller.actor()) },
            )
            .await?;
            let village = AdminScope::parse(&row.village_code).map_err(Error::internal)?;
            audit::record_if_for_others(txn, &self.source, caller, || audited("order.placed", &order, &village), now).await?;
            tracing::info!(order_id = %row.id, listing_id = %row.listing_id, quantity_milli = row.quantity_milli, "order placed");
            Ok(pb::PlaceOrderResponse { order: Some(order) })
        })
        .await
    }

    /// Why nothing was reserved, read after the fact: the listing's state as it is now.
    async fn why_not_reserved<C: ConnectionTrait>(
        &self,
        conn: &C,
        caller: &Caller,
        wanted: &Reservation,
    ) -> Error {
        let unknown = || Error::not_found("listing", wanted.listing_id.to_string());
        let listing = match listings::store::find(conn, wanted.listing_id).await {
            Ok(Some(listing)) => listing,
            Ok(None) => return unknown(),
            Err(error) => return error.into(),
        };
        if listing.seller_user_id == wanted.buyer {
            return Error::failed_precondition("OWN_LISTING", "you cannot order your own listing");
        }
        let visible = !listing.hidden
            && matches!(
                listing.status,
                ListingStatus::Active | ListingStatus::SoldOut
            );
        if !visible && !oversees(caller, &listing.village_code) {
            return unknown();
        }
        if listing.hidden {
            return Error::failed_precondition(
                "LISTING_HIDDEN",
                "this listing was hidden by the village",
            );
        }
        if listing.unit != wanted.unit {
            return Error::invalid(
                "order.quantity.unit",
                format!(
                    "must be the listing's unit, {}",
                    common::Unit::try_from(i32::from(listing.unit))
                        .unwrap_or_default()
                        .as_str_name()
                ),
            );
        }
        if wanted.quantity_milli < listing.minimum_order_milli {
            return Error::invalid("order.quantity", "below the listing's minimum order");
        }
        if !listing.fulfilment_methods.contains(&wanted.fulfilment) {
            return Error::failed_precondition(
                "FULFILMENT_NOT_OFFERED",
                "the seller does not offer this way of handing over",
            );
        }
        if listing.status != ListingStatus::Active && listing.status != ListingStatus::SoldOut {
            return Error::failed_precondition(
                "LISTING_NOT_ACTIVE",
                "this listing is not for sale now",
            );
        }
        Error::failed_precondition_with(
            "INSUFFICIENT_QUANTITY",
            "not that much is available",
            [(
                "available_milli",
                listings::available_milli(&listing).max(0).to_string(),
            )],
        )
    }

    /// Publishes the listing's new snapshot after its stock moved, and its status change when it
    /// went sold out or back; returns what is available now.
    async fn announce_stock<C: ConnectionTrait>(
        &self,
        conn: &C,
        caller: &Caller,
        listing: &ListingRow,
        before: ListingStatus,
    ) -> Result<common::Quantity> {
        let listing = self.listings.to_proto(conn, listing).await?;
        let unsigned = listings::on_bus(&listing);
        outbox::publish_state(conn, &self.source, &unsigned, &unsigned.id).await?;
        if unsigned.status != listings::status_proto(before) as i32 {
            outbox::publish(
                conn,
                &self.source,
                &pb::ListingStatusChanged {
                    listing: Some(unsigned.clone()),
                    from_status: listings::status_proto(before) as i32,
                    actor: Some(caller.actor()),
                },
            )
            .await?;
        }
        Ok(unsigned.available.unwrap_or_default())
    }

    /// An order as `caller` may see it: its buyer and seller, and officials of its village.
    pub async fn get(&self, caller: &Caller, id: Uuid) -> Result<pb::Order> {
        let unknown = || Error::not_found("order", id.to_string());
        let row = store::find(&self.db, id).await?.ok_or_else(unknown)?;
        let user = caller.subject_user();
        let party = user == Some(row.buyer_user_id) || user == Some(row.seller_user_id);
        if !party && !oversees(caller, &row.village_code) {
            return Err(unknown());
        }
        self.to_proto(&self.db, &row, user).await
    }

    pub async fn list(&self, caller: &Caller, query: ListOrders) -> Result<pb::ListOrdersResponse> {
        let user = match &query.side {
            Side::Buyer | Side::Seller => Some(caller.subject_user().ok_or_else(|| {
                Error::permission_denied(
                    "NOT_A_USER",
                    "name an area to list its orders (officials)",
                )
            })?),
            Side::Area(area) => {
                if !caller.covers(area, Role::VillageOfficial.rank(), None) {
                    return Err(Error::permission_denied(
                        "OUTSIDE_YOUR_AREA",
                        "officials list the orders of their own area",
                    ));
                }
                None
            }
        };
        let rows = store::list(&self.db, &query, user, query.page.fetch_limit()).await?;
        let (rows, next) = query.page.finish(rows, |rows| {
            rows.last().map(|row| OrderCursor { id: row.id })
        });
        Ok(pb::ListOrdersResponse {
            orders: self
                .to_protos(&self.db, &rows, caller.subject_user())
                .await?,
            page: Some(page_response(next.as_ref())),
        })
    }

    /// One step of an order's lifecycle by one of its parties.
    pub async fn step(&self, caller: &Caller, command: OrderStep) -> Result<pb::Order> {
        let now = self.clock.now();
        idempotency::once(
            &self.db,
            caller,
            &command.mutation,
            now,
            Keep::Answer,
            async |txn| {
                let unknown = || Error::not_found("order", command.id.to_string());
                let mut row = store::find_for_update(txn, command.id)
                    .await?
                    .ok_or_else(unknown)?;
                let user = caller.subject_user();
                let (is_buyer, is_seller) = (
                    user == Some(row.buyer_user_id),
                    user == Some(row.seller_user_id),
                );
                if !is_buyer && !is_seller {
                    return Err(if oversees(caller, &row.village_code) {
                        Error::permission_denied(
                            "NOT_YOUR_ORDER",
                            "only the buyer and the seller move an order",
                        )
                    } else {
                        unknown()
                    });
                }
                check_step(&row, command.step, is_buyer, is_seller, now)?;
                self.apply(txn, caller, &mut row, command.step, &command.note, now)
                    .await?;
                let order = self.to_proto(txn, &row, user).await?;
                let village = AdminScope::parse(&row.village_code).map_err(Error::internal)?;
                audit::record_if_for_others(
                    txn,
                    &self.source,
                    caller,
                    || audited(command.step.audit_action(), &order, &village),
                    now,
                )
                .await?;
                Ok(order)
            },
        )
        .await
    }

    /// Moves `row` by `step` (already judged allowed): its status and history, the listing's
    /// stock, the events.
    async fn apply<C: ConnectionTrait>(
        &self,
        conn: &C,
        caller: &Caller,
        row: &mut OrderRow,
        step: Step,
        note: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let actor = caller.actor();
        let settle = match step {
            Step::Decline | Step::Cancel | Step::NoShow | Step::Expire => Some(Settle::Release),
            Step::Ship | Step::PickUp => Some(Settle::Sell),
            Step::Accept | Step::Complete => None,
        };
        if matches!(step, Step::Decline | Step::Cancel) {
            row.cancel_reason = note.to_owned();
            row.cancelled_by = Some(actor.encode_to_vec());
        } else if matches!(step, Step::Accept | Step::Ship) && !note.is_empty() {
            row.seller_note = note.to_owned();
        }
        if matches!(step, Step::Ship | Step::PickUp) {
            row.handed_over_at = Some(now);
        }
        row.status = step.target();
        row.version += 1;
        row.updated_at = now;
        row.updated_by = actor.encode_to_vec();
        history::push(row, row.status, now, &actor, note);
        *row = store::save(conn, row.clone()).await?;
        let available = match settle {
            Some(settle) => {
                let listing = store::settle(
                    conn,
                    row.listing_id,
                    row.quantity_milli,
                    settle,
                    now,
                    actor.encode_to_vec(),
                )
                .await?
                .ok_or_else(|| {
                    Error::internal(anyhow::anyhow!("order {} names no listing", row.id))
                })?;
                // A release turns a sold-out listing active, which it was if all that is
                // available now is what came back; nothing else changes the status.
                let before = if settle == Settle::Release
                    && listing.status == ListingStatus::Active
                    && listings::available_milli(&listing) == row.quantity_milli
                {
                    ListingStatus::SoldOut
                } else {
                    listing.status
                };
                Some(self.announce_stock(conn, caller, &listing, before).await?)
            }
            None => None,
        };
        let order = Some(self.to_proto(conn, row, None).await?);
        let actor = Some(actor);
        match step {
            Step::Accept => {
                outbox::publish(conn, &self.source, &pb::OrderAccepted { order, actor }).await?
            }
            Step::Decline => {
                outbox::publish(
                    conn,
                    &self.source,
                    &pb::OrderDeclined {
                        order,
                        listing_available: available,
                        actor,
                    },
                )
                .await?
            }
            Step::Expire => {
                outbox::publish(
                    conn,
                    &self.source,
                    &pb::OrderExpired {
                        order,
                        listing_available: available,
                    },
                )
                .await?
            }
            Step::Cancel => {
                outbox::publish(
                    conn,
                    &self.source,
                    &pb::OrderCancelled {
                        order,
                        listing_available: available,
                        actor,
                    },
                )
                .await?
            }
            Step::Ship => {
                outbox::publish(conn, &self.source, &pb::OrderShipped { order, actor }).await?
            }
            Step::PickUp => {
                outbox::publish(conn, &self.source, &pb::OrderPickedUp { order, actor }).await?
            }
            Step::NoShow => {
                outbox::publish(
                    conn,
                    &self.source,
                    &pb::OrderNoShow {
                        order,
                        listing_available: available,
                        actor,
                    },
                )
                .await?
            }
            Step::Complete => {
                outbox::publish(conn, &self.source, &pb::OrderCompleted { order, actor }).await?
            }
        };
        tracing::info!(order_id = %row.id, status = ?row.status, "order moved");
        Ok(())
    }

    /// The expiry job: pending orders the seller did not answer in time lapse, their quantity
    /// released. Returns how many.
    pub async fn expire_unanswered(&self, now: DateTime<Utc>) -> Result<u64> {
        self.sweep(
            now,
            EXPIRY_JOB.job,
            &[OrderStatus::Pending],
            Column::ReservationExpireAt,
            now,
            Step::Expire,
        )
        .await
    }

    /// The completion job: orders handed over a week ago complete. Returns how many.
    pub async fn complete_handed_over(&self, now: DateTime<Utc>) -> Result<u64> {
        self.sweep(
            now,
            COMPLETION_JOB.job,
            &[OrderStatus::Shipped, OrderStatus::PickedUp],
            Column::HandedOverAt,
            now - AUTO_COMPLETE_AFTER,
            Step::Complete,
        )
        .await
    }

    async fn sweep(
        &self,
        now: DateTime<Utc>,
        job: &'static str,
        statuses: &[OrderStatus],
        column: Column,
        before: DateTime<Utc>,
        step: Step,
    ) -> Result<u64> {
        let system = Caller::System { job };
        let mut done = 0;
        loop {
            let txn = self.db.begin().await?;
            let rows = store::due(&txn, statuses, column, before, JOB_BATCH).await?;
            let count = rows.len() as u64;
            for mut row in rows {
                self.apply(&txn, &system, &mut row, step, "", now).await?;
            }
            txn.commit().await?;
            done += count;
            if count < JOB_BATCH {
                return Ok(done);
            }
        }
    }

    /// The order as the contract shows it to `viewer`: with how to reach the other side once the
    /// seller accepted.
    pub async fn to_proto<C: ConnectionTrait>(
        &self,
        conn: &C,
        row: &OrderRow,
        viewer: Option<Uuid>,
    ) -> Result<pb::Order> {
        self.to_protos(conn, std::slice::from_ref(row), viewer)
            .await?
            .pop()
            .ok_or_else(|| {
                Error::internal(anyhow::anyhow!("an order made from a row went missing"))
            })
    }

    /// Orders as the contract shows them to `viewer`, the people and places they name read in two
    /// queries for the lot.
    pub async fn to_protos<C: ConnectionTrait>(
        &self,
        conn: &C,
        rows: &[OrderRow],
        viewer: Option<Uuid>,
    ) -> Result<Vec<pb::Order>> {
        // The other side of each accepted order the viewer is a party to.
        let other = |row: &OrderRow| {
            let accepted = matches!(
                row.status,
                OrderStatus::Confirmed
                    | OrderStatus::Shipped
                    | OrderStatus::PickedUp
                    | OrderStatus::Completed
                    | OrderStatus::NoShow
            );
            match viewer {
                Some(viewer) if accepted && viewer == row.buyer_user_id => Some(row.seller_user_id),
                Some(viewer) if accepted && viewer == row.seller_user_id => Some(row.buyer_user_id),
                _ => None,
            }
        };
        let others: Vec<Uuid> = rows.iter().filter_map(other).collect();
        let people = people::find_many(conn, &others).await?;
        let villages: Vec<String> = rows.iter().map(|row| row.village_code.clone()).collect();
        let places = crate::places::names(conn, &villages).await?;
        Ok(rows
            .iter()
            .map(|row| {
                let counterpart = other(row).map(|id| {
                    let known = people.get(&id);
                    // The buyer's phone for this order is the one they gave with it, if any.
                    let phone = if id == row.buyer_user_id && !row.contact_phone.is_empty() {
                        row.contact_phone.clone()
                    } else {
                        known.map(|k| k.phone_number.clone()).unwrap_or_default()
                    };
                    pb::OrderContact {
                        display_name: known.map(|k| k.display_name.clone()).unwrap_or_default(),
                        phone_number: phone,
                    }
                });
                pb::Order {
                    village_name: places.get(&row.village_code).cloned().unwrap_or_default(),
                    ..to_proto(row, counterpart)
                }
            })
            .collect())
    }
}

/// Whether `step` may be taken on `row` by this party now.
fn check_step(
    row: &OrderRow,
    step: Step,
    is_buyer: bool,
    is_seller: bool,
    now: DateTime<Utc>,
) -> Result<()> {
    let only = |seller: bool, buyer: bool| -> Result<()> {
        if (seller && is_seller) || (buyer && is_buyer) {
            Ok(())
        } else if seller {
            Err(Error::permission_denied(
                "ONLY_THE_SELLER",
                "only the seller does this",
            ))
        } else {
            Err(Error::permission_denied(
                "ONLY_THE_BUYER",
                "only the buyer does this",
            ))
        }
    };
    let wrong = || {
        Error::failed_precondition_with(
            "WRONG_ORDER_STATUS",
            format!(
                "an order {} cannot be moved this way",
                status_proto(row.status).as_str_name()
            ),
            [("status", status_proto(row.status).as_str_name().to_owned())],
        )
    };
    let pickup = row.fulfilment_method == pb::FulfilmentMethod::Pickup as i16;
    match step {
        Step::Accept | Step::Decline => only(true, false)?,
        Step::Cancel => match row.status {
            OrderStatus::Pending => only(false, true)?,
            _ => only(true, true)?,
        },
        Step::Ship | Step::NoShow => only(true, false)?,
        Step::PickUp => only(true, true)?,
        Step::Complete => only(false, true)?,
        Step::Expire => return Err(wrong()),
    }
    let from_ok = match step {
        Step::Accept | Step::Decline => row.status == OrderStatus::Pending,
        Step::Cancel => matches!(row.status, OrderStatus::Pending | OrderStatus::Confirmed),
        Step::Ship | Step::PickUp | Step::NoShow => row.status == OrderStatus::Confirmed,
        Step::Complete => matches!(row.status, OrderStatus::Shipped | OrderStatus::PickedUp),
        Step::Expire => false,
    };
    if !from_ok {
        return Err(wrong());
    }
    if row.status == OrderStatus::Pending
        && now >= row.reservation_expire_at
        && step == Step::Accept
    {
        return Err(Error::failed_precondition(
            "RESERVATION_EXPIRED",
            "the order was not accepted in time",
        ));
    }
    let method_ok = match step {
        Step::Ship => !pickup,
        Step::PickUp | Step::NoShow => pickup,
        _ => true,
    };
    if !method_ok {
        return Err(Error::failed_precondition(
            "WRONG_FULFILMENT",
            if pickup {
                "a pickup order is picked up, not shipped"
            } else {
                "a delivery order is shipped, not picked up"
            },
        ));
    }
    Ok(())
}

pub(crate) fn status_proto(status: OrderStatus) -> pb::OrderStatus {
    match status {
        OrderStatus::Pending => pb::OrderStatus::Pending,
        OrderStatus::Confirmed => pb::OrderStatus::Confirmed,
        OrderStatus::Declined => pb::OrderStatus::Declined,
        OrderStatus::Expired => pb::OrderStatus::Expired,
        OrderStatus::Cancelled => pb::OrderStatus::Cancelled,
        OrderStatus::Shipped => pb::OrderStatus::Shipped,
        OrderStatus::PickedUp => pb::OrderStatus::PickedUp,
        OrderStatus::Completed => pb::OrderStatus::Completed,
        OrderStatus::NoShow => pb::OrderStatus::NoShow,
    }
}

/// The status history kept on the order row.
mod history {
    use super::*;

    pub(super) fn push(
        row: &mut OrderRow,
        status: OrderStatus,
        at: DateTime<Utc>,
        actor: &common::Actor,
        note: &str,
    ) {
        let entry = serde_json::json!({
            "status": status_proto(status) as i32,
            "at": at.to_rfc3339(),
            "actor": base64::engine::general_purpose::STANDARD.encode(actor.encode_to_vec()),
            "note": note,
        });
        match &mut row.history {
            serde_json::Value::Array(entries) => entries.push(entry),
            other => *other = serde_json::Value::Array(vec![entry]),
        }
    }

    pub(super) fn read(row: &OrderRow) -> Vec<pb::OrderStatusChange> {
        row.history
            .as_array()
            .map(|entries| {
                entries
                    .iter()
                    .map(|entry| pb::OrderStatusChange {
                        status: entry["status"]
                            .as_i64()
                            .and_then(|s| i32::try_from(s).ok())
                            .unwrap_or_default(),
                        time: entry["at"]
                            .as_str()
                            .and_then(|at| DateTime::parse_from_rfc3339(at).ok())
                            .map(|at| to_timestamp(at.with_timezone(&Utc))),
                        actor: entry["actor"]
                            .as_str()
                            .and_then(|actor| {
                                base64::engine::general_purpose::STANDARD.decode(actor).ok()
                            })
                            .and_then(|bytes| common::Actor::decode(bytes.as_slice()).ok()),
                        note: entry["note"].as_str().unwrap_or_default().to_owned(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The order as reads and events show it.
pub fn to_proto(row: &OrderRow, counterpart: Option<pb::OrderContact>) -> pb::Order {
    let unit = i32::from(row.unit);
    let cny = |amount_minor| common::Money {
        amount_minor,
        currency_code: "CNY".to_owned(),
    };
    let decoded_actor = |bytes: &[u8]| common::Actor::decode(bytes).unwrap_or_default();
    let title = row
        .listing_title
        .as_object()
        .map(|object| common::LocalizedText {
            translations: object
                .iter()
                .filter_map(|(tag, text)| Some((tag.clone(), text.as_str()?.to_owned())))
                .collect(),
        });
    pb::Order {
        id: row.id.to_string(),
        reference: row.reference.clone(),
        listing_id: row.listing_id.to_string(),
        buyer_user_id: row.buyer_user_id.to_string(),
        seller_user_id: row.seller_user_id.to_string(),
        quantity: Some(common::Quantity {
            value_milli: row.quantity_milli,
            unit,
        }),
        unit_price: Some(cny(row.unit_price_minor)),
        total_price: Some(cny(row.total_minor)),
        fulfilment_method: i32::from(row.fulfilment_method),
        delivery_address: row.delivery_address.clone(),
        contact_phone: row.contact_phone.clone(),
        buyer_note: row.buyer_note.clone(),
        seller_note: row.seller_note.clone(),
        status: status_proto(row.status) as i32,
        reservation_expire_time: Some(to_timestamp(row.reservation_expire_at)),
        cancel_reason: row.cancel_reason.clone(),
        cancelled_by: row.cancelled_by.as_deref().map(decoded_actor),
        listing_title: title,
        history: history::read(row),
        audit: Some(common::AuditInfo {
            create_time: Some(to_timestamp(row.created_at)),
            creator: Some(decoded_actor(&row.created_by)),
            update_time: Some(to_timestamp(row.updated_at)),
            updater: Some(decoded_actor(&row.updated_by)),
        }),
        village_code: row.village_code.clone(),
        village_name: String::new(),
        counterpart,
    }
}

/// `action` on `order` as governance's audit log records it (when it records it).
fn audited<'a>(action: &'a str, order: &pb::Order, village: &'a AdminScope) -> Audited<'a> {
    Audited {
        action,
        target_type: "order",
        target_id: order.id.clone(),
        area: Some(village),
        details: serde_json::json!({
            "status": pb::OrderStatus::try_from(order.status).unwrap_or_default().as_str_name(),
            "reference": order.reference,
        }),
    }
}
