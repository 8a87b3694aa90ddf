//! *Parse*: the order requests become commands, every bad field reported at once.

use serde::{Deserialize, Serialize};
use terrace_platform::auth::AdminScope;
use terrace_platform::error::{Result, Violations};
use terrace_platform::idempotency::Mutation;
use terrace_platform::phone::PhoneNumber;
use terrace_platform::validate::{self, Page, Sign, Text};
use terrace_proto::market::v1 as pb;
use uuid::Uuid;

use crate::entity::orders::OrderStatus;

const MAX_ADDRESS_CHARS: usize = 200;
const MAX_NOTE_CHARS: usize = 500;
const MIN_REASON_CHARS: usize = 2;

/// `PlaceOrder`.
#[derive(Debug)]
pub struct PlaceOrder {
    pub mutation: Mutation,
    pub listing_id: Uuid,
    pub quantity: validate::Quantity,
    pub fulfilment: pb::FulfilmentMethod,
    pub delivery_address: String,
    pub contact_phone: Option<PhoneNumber>,
    pub buyer_note: String,
    /// The price the buyer saw, if they ask the order to hold only at that price.
    pub expected_unit_price: Option<i64>,
}

impl PlaceOrder {
    pub fn parse(request: &pb::PlaceOrderRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let mutation = Mutation::parse(&mut violations, "PlaceOrder", &request.request_id, request);
        let default = pb::Order::default();
        let order = request.order.as_ref().unwrap_or(&default);
        let listing_id = validate::id(
            &mut violations,
            "order.listing_id",
            &order.listing_id,
            "listing",
        );
        let quantity = validate::quantity(
            &mut violations,
            "order.quantity",
            order.quantity.as_ref(),
            Sign::Positive,
        );
        let fulfilment = match pb::FulfilmentMethod::try_from(order.fulfilment_method) {
            Ok(pb::FulfilmentMethod::Unspecified) | Err(_) => {
                violations.add(
                    "order.fulfilment_method",
                    "required: FULFILMENT_METHOD_PICKUP or FULFILMENT_METHOD_DELIVERY",
                );
                None
            }
            Ok(method) => Some(method),
        };
        let delivery_address = validate::text(
            &mut violations,
            "order.delivery_address",
            &order.delivery_address,
            Text::optional(MAX_ADDRESS_CHARS),
        )
        .filter(|address| {
            let needed = fulfilment == Some(pb::FulfilmentMethod::Delivery) && address.is_empty();
            if needed {
                violations.add("order.delivery_address", "required for delivery");
            }
            !needed
        });
        let contact_phone = if order.contact_phone.is_empty() {
            Some(None)
        } else {
            match PhoneNumber::parse(&order.contact_phone) {
                Ok(phone) => Some(Some(phone)),
                Err(_) => {
                    violations.add(
                        "order.contact_phone",
                        "must be a phone number in E.164 form, such as +8613800138000",
                    );
                    None
                }
            }
        };
        let buyer_note = validate::text(
            &mut violations,
            "order.buyer_note",
            &order.buyer_note,
            Text::optional(MAX_NOTE_CHARS).multiline(),
        );
        let expected_unit_price = match request.expected_unit_price.as_ref() {
            None => Some(None),
            Some(price) => validate::money(
                &mut violations,
                "expected_unit_price",
                Some(price),
                Sign::Positive,
            )
            .map(|price| Some(price.amount_minor)),
        };
        violations.finish_with(|| {
            Some(Self {
                mutation: mutation?,
                listing_id: listing_id?,
                quantity: quantity?,
                fulfilment: fulfilment?,
                delivery_address: delivery_address?,
                contact_phone: contact_phone?,
                buyer_note: buyer_note?,
                expected_unit_price: expected_unit_price?,
            })
        })
    }
}

/// A step of an order's lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Accept,
    Decline,
    Cancel,
    Ship,
    PickUp,
    NoShow,
    Complete,
    /// An unanswered order lapsing (the expiry job; no RPC).
    Expire,
}

impl Step {
    pub fn rpc(self) -> &'static str {
        match self {
            Step::Accept => "AcceptOrder",
            Step::Decline => "DeclineOrder",
            Step::Cancel => "CancelOrder",
            Step::Ship => "MarkOrderShipped",
            Step::PickUp => "MarkOrderPickedUp",
            Step::NoShow => "RecordNoShow",
            Step::Complete => "CompleteOrder",
            Step::Expire => "",
        }
    }

    /// The step as an audit log's action (`<entity>.<verb>`).
    pub fn audit_action(self) -> &'static str {
        match self {
            Step::Accept => "order.accepted",
            Step::Decline => "order.declined",
            Step::Cancel => "order.cancelled",
            Step::Ship => "order.shipped",
            Step::PickUp => "order.picked_up",
            Step::NoShow => "order.no_show",
            Step::Complete => "order.completed",
            Step::Expire => "order.expired",
        }
    }

    /// The status the step enters.
    pub fn target(self) -> OrderStatus {
        match self {
            Step::Accept => OrderStatus::Confirmed,
            Step::Decline => OrderStatus::Declined,
            Step::Cancel => OrderStatus::Cancelled,
            Step::Ship => OrderStatus::Shipped,
            Step::PickUp => OrderStatus::PickedUp,
            Step::NoShow => OrderStatus::NoShow,
            Step::Complete => OrderStatus::Completed,
            Step::Expire => OrderStatus::Expired,
        }
    }
}

/// One step on one order, with its note or reason.
#[derive(Debug)]
pub struct OrderStep {
    pub mutation: Mutation,
    pub id: Uuid,
    pub step: Step,
    pub note: String,
}

impl OrderStep {
    fn parse_with<M: prost::Message>(
        step: Step,
        request: &M,
        request_id: &str,
        order_id: &str,
        note: &str,
        reason_required: bool,
    ) -> Result<Self> {
        let mut violations = Violations::new();
        let mutation = Mutation::parse(&mut violations, step.rpc(), request_id, request);
        let id = validate::id(&mut violations, "order_id", order_id, "order");
        let field = if reason_required { "reason" } else { "note" };
        let rule = if reason_required {
            Text::required(MAX_NOTE_CHARS).multiline()
        } else {
            Text::optional(MAX_NOTE_CHARS).multiline()
        };
        let note = validate::text(&mut violations, field, note, rule).filter(|note| {
            let short = reason_required && note.chars().count() < MIN_REASON_CHARS;
            if short {
                violations.add(
                    field,
                    format!("at least {MIN_REASON_CHARS} characters: the other side reads it"),
                );
            }
            !short
        });
        violations.finish_with(|| {
            Some(Self {
                mutation: mutation?,
                id: id?,
                step,
                note: note?,
            })
        })
    }

    pub fn accept(r: &pb::AcceptOrderRequest) -> Result<Self> {
        Self::parse_with(Step::Accept, r, &r.request_id, &r.order_id, &r.note, false)
    }
    pub fn decline(r: &pb::DeclineOrderRequest) -> Result<Self> {
        Self::parse_with(
            Step::Decline,
            r,
            &r.request_id,
            &r.order_id,
            &r.reason,
            true,
        )
    }
    pub fn cancel(r: &pb::CancelOrderRequest) -> Result<Self> {
        Self::parse_with(Step::Cancel, r, &r.request_id, &r.order_id, &r.reason, true)
    }
    pub fn ship(r: &pb::MarkOrderShippedRequest) -> Result<Self> {
        Self::parse_with(Step::Ship, r, &r.request_id, &r.order_id, &r.note, false)
    }
    pub fn pick_up(r: &pb::MarkOrderPickedUpRequest) -> Result<Self> {
        Self::parse_with(Step::PickUp, r, &r.request_id, &r.order_id, "", false)
    }
    pub fn no_show(r: &pb::RecordNoShowRequest) -> Result<Self> {
        Self::parse_with(Step::NoShow, r, &r.request_id, &r.order_id, &r.note, false)
    }
    pub fn complete(r: &pb::CompleteOrderRequest) -> Result<Self> {
        Self::parse_with(Step::Complete, r, &r.request_id, &r.order_id, "", false)
    }
}

/// Where an order list continues: newest first, by id.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrderCursor {
    pub id: Uuid,
}

/// Which orders a list shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Side {
    Buyer,
    Seller,
    /// An area's, for its officials.
    Area(AdminScope),
}

/// `ListOrders`.
#[derive(Debug)]
pub struct ListOrders {
    pub side: Side,
    pub listing_id: Option<Uuid>,
    pub statuses: Vec<OrderStatus>,
    pub page: Page<OrderCursor>,
}

impl ListOrders {
    pub fn parse(request: &pb::ListOrdersRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let area = validate::optional_admin_code(&mut violations, "area", request.area.as_ref());
        let side = match (
            pb::OrderRole::try_from(request.as_role),
            area.clone().flatten(),
        ) {
            (Ok(pb::OrderRole::Buyer), _) => Some(Side::Buyer),
            (Ok(pb::OrderRole::Seller), _) => Some(Side::Seller),
            (_, Some(area)) => Some(Side::Area(area)),
            _ => {
                violations.add(
                    "as_role",
                    "required: ORDER_ROLE_BUYER or ORDER_ROLE_SELLER (or an area, for officials)",
                );
                None
            }
        };
        let listing_id = validate::optional_id(
            &mut violations,
            "listing_id",
            &request.listing_id,
            "listing",
        );
        let before = violations.len();
        let statuses: Vec<OrderStatus> = request
            .statuses
            .iter()
            .enumerate()
            .filter_map(|(index, value)| {
                let status = validate::enum_value::<pb::OrderStatus>(
                    &mut violations,
                    &format!("statuses[{index}]"),
                    *value,
                    "an order status such as ORDER_STATUS_PENDING",
                )?;
                let status = status_of(status);
                if status.is_none() {
                    violations.add(
                        format!("statuses[{index}]"),
                        "must be an order status such as ORDER_STATUS_PENDING",
                    );
                }
                status
            })
            .collect();
        let statuses_fine = violations.len() == before;
        let page = validate::page(&mut violations, "page", request.page.as_ref());
        violations.finish_with(|| {
            area?;
            Some(Self {
                side: side?,
                listing_id: listing_id?,
                statuses: statuses_fine.then_some(statuses)?,
                page: page?,
            })
        })
    }
}

pub fn status_of(status: pb::OrderStatus) -> Option<OrderStatus> {
    Some(match status {
        pb::OrderStatus::Unspecified => return None,
        pb::OrderStatus::Pending => OrderStatus::Pending,
        pb::OrderStatus::Confirmed => OrderStatus::Confirmed,
        pb::OrderStatus::Declined => OrderStatus::Declined,
        pb::OrderStatus::Expired => OrderStatus::Expired,
        pb::OrderStatus::Cancelled => OrderStatus::Cancelled,
        pb::OrderStatus::Shipped => OrderStatus::Shipped,
        pb::OrderStatus::PickedUp => OrderStatus::PickedUp,
        pb::OrderStatus::Completed => OrderStatus::Completed,
        pb::OrderStatus::NoShow => OrderStatus::NoShow,
    })
}

/// `GetOrder`.
pub fn order_id(value: &str) -> Result<Uuid> {
    let mut violations = Violations::new();
    let id = validate::id(&mut violations, "order_id", value, "order");
    violations.finish_with(|| id)
}
