//! *Parse*: the listing requests become commands, every bad field reported at once with the
//! platform's `validate` policies. What needs the taxonomy (a unit the category sells in) is
//! checked here too: the taxonomy is code, not a row to read.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use terrace_platform::auth::AdminScope;
use terrace_platform::error::{Error, Result, Violations};
use terrace_platform::idempotency::Mutation;
use terrace_platform::validate::{self, Page, Sign, Text};
use terrace_proto::common::v1 as common;
use terrace_proto::market::v1 as pb;
use uuid::Uuid;

use crate::categories::taxonomy::{self, Entry};
use crate::entity::listings::ListingStatus;
use crate::units;

const MAX_TITLE_CHARS: usize = 60;
const MAX_DESCRIPTION_CHARS: usize = 2000;
const MAX_VARIETY_CHARS: usize = 40;
const MAX_LOT_CHARS: usize = 40;
const MAX_REASON_CHARS: usize = 500;
const MIN_REASON_CHARS: usize = 4;
/// A listing stays up at most this long after publishing (the contract's rule).
pub const MAX_EXPIRY_DAYS: i64 = 90;
/// And this long when the seller names no expiry.
pub const DEFAULT_EXPIRY_DAYS: i64 = 30;

/// What a listing says about its produce, as checked: what `CreateListing` writes and what
/// `UpdateListing` may change.
#[derive(Debug, Clone)]
pub struct Offer {
    pub category: &'static Entry,
    pub title: common::LocalizedText,
    pub description: common::LocalizedText,
    pub variety: String,
    pub grade: pb::ProduceGrade,
    pub certifications: Vec<pb::Certification>,
    pub unit: common::Unit,
    pub stocked_milli: i64,
    pub unit_price_minor: i64,
    pub minimum_order_milli: i64,
    pub net_weight: Option<(i64, common::Unit)>,
    pub harvest_date: Option<NaiveDate>,
    pub harvest_lot_code: String,
    pub fulfilment_methods: Vec<pb::FulfilmentMethod>,
    pub expire_at: Option<DateTime<Utc>>,
}

/// `CreateListing`.
#[derive(Debug)]
pub struct CreateListing {
    pub mutation: Mutation,
    pub offer: Offer,
    pub photos: Vec<terrace_photos::Attachment>,
    /// The village named; `None` takes the seller's own (their one farmer grant).
    pub village: Option<AdminScope>,
    pub publish: bool,
}

impl CreateListing {
    pub fn parse(request: &pb::CreateListingRequest, now: DateTime<Utc>) -> Result<Self> {
        let mut violations = Violations::new();
        let mutation = Mutation::parse(
            &mut violations,
            "CreateListing",
            &request.request_id,
            request,
        );
        let default = pb::Listing::default();
        let listing = request.listing.as_ref().unwrap_or(&default);
        let category = leaf_category(&listing.category_id)?;
        let offer = offer(&mut violations, "listing", listing, category, now);
        let photos =
            terrace_photos::attachments(&mut violations, "listing.photos", &listing.photos);
        let village = (!listing.village_code.is_empty()).then(|| {
            validate::village_code(
                &mut violations,
                "listing.village_code",
                &listing.village_code,
            )
        });
        violations.finish_with(|| {
            Some(Self {
                mutation: mutation?,
                offer: offer?,
                photos: photos?,
                village: match village {
                    Some(parsed) => Some(parsed?),
                    None => None,
                },
                publish: request.publish,
            })
        })
    }
}

/// A category a listing names: a leaf of the taxonomy (`NOT_FOUND` for an unknown id, as the
/// contract says; a group is a bad argument).
fn leaf_category(id: &str) -> Result<&'static Entry> {
    let entry = crate::categories::parse::category(id).map_err(|error| match error {
        Error::InvalidArgument(_) => Error::invalid("listing.category_id", "required"),
        other => other,
    })?;
    if !taxonomy::is_leaf(entry) {
        return Err(Error::invalid(
            "listing.category_id",
            "must be a category of produce, not a group such as 水果",
        ));
    }
    Ok(entry)
}

/// Every field of an offer, under `prefix` (`listing`).
fn offer(
    violations: &mut Violations,
    prefix: &str,
    listing: &pb::Listing,
    category: &'static Entry,
    now: DateTime<Utc>,
) -> Option<Offer> {
    let field = |name: &str| format!("{prefix}.{name}");
    let title = validate::localized_text(
        violations,
        &field("title"),
        listing.title.as_ref(),
        Text::required(MAX_TITLE_CHARS),
    );
    let description = validate::localized_text(
        violations,
        &field("description"),
        listing.description.as_ref(),
        Text::optional(MAX_DESCRIPTION_CHARS).multiline(),
    );
    let variety = validate::text(
        violations,
        &field("variety"),
        &listing.variety,
        Text::optional(MAX_VARIETY_CHARS),
    );
    let grade = match listing.grade {
        0 => Some(pb::ProduceGrade::Unspecified),
        value => validate::enum_value::<pb::ProduceGrade>(
            violations,
            &field("grade"),
            value,
            "a grade such as PRODUCE_GRADE_FIRST",
        ),
    };
    let certifications = enum_set::<pb::Certification>(
        violations,
        &field("certifications"),
        &listing.certifications,
        "a certification such as CERTIFICATION_ORGANIC",
    );
    let stocked = validate::quantity(
        violations,
        &field("stocked"),
        listing.stocked.as_ref(),
        Sign::Positive,
    );
    let unit = stocked.and_then(|stocked| {
        let allowed = category.units.contains(&stocked.unit);
        if !allowed {
            violations.add(
                field("stocked.unit"),
                format!(
                    "{} is not sold in this unit; use one of {}",
                    category.zh,
                    category
                        .units
                        .iter()
                        .map(|unit| unit.as_str_name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
        allowed.then_some(stocked.unit)
    });
    let price = validate::money(
        violations,
        &field("unit_price"),
        listing.unit_price.as_ref(),
        Sign::Positive,
    )
    .filter(|price| {
        let cny = price.currency == iso_currency::Currency::CNY;
        if !cny {
            violations.add(
                field("unit_price.currency_code"),
                "must be CNY: orders settle in CNY",
            );
        }
        cny
    });
    let minimum_order = match listing.minimum_order.as_ref() {
        None => Some(1_000),
        Some(given) => validate::quantity(
            violations,
            &field("minimum_order"),
            Some(given),
            Sign::Positive,
        )
        .and_then(|minimum| {
            if stocked.is_some_and(|stocked| stocked.unit != minimum.unit) {
                violations.add(field("minimum_order.unit"), "must be the unit of stocked");
                return None;
            }
            Some(minimum.value_milli)
        }),
    };
    if let (Some(stocked), Some(minimum)) = (stocked, minimum_order)
        && minimum > stocked.value_milli
    {
        violations.add(field("minimum_order"), "must not be more than is stocked");
    }
    let net_weight = match listing.net_weight_per_unit.as_ref() {
        None => Some(None),
        Some(given) => validate::quantity(
            violations,
            &field("net_weight_per_unit"),
            Some(given),
            Sign::Positive,
        )
        .and_then(|weight| {
            if !units::is_mass(weight.unit) {
                violations.add(
                    field("net_weight_per_unit.unit"),
                    "must be a mass such as UNIT_KILOGRAM",
                );
                return None;
            }
            if unit.is_some_and(units::is_mass) {
                violations.add(
                    field("net_weight_per_unit"),
                    "only for units without a fixed weight (a crate, a piece...)",
                );
                return None;
            }
            Some(Some((weight.value_milli, weight.unit)))
        }),
    };
    let harvest_date = match listing.harvest_date.as_ref() {
        None => Some(None),
        Some(date) if *date == common::Date::default() => Some(None),
        Some(date) => validate::date(violations, &field("harvest_date"), Some(date)).map(Some),
    };
    let harvest_lot_code = validate::text(
        violations,
        &field("harvest_lot_code"),
        &listing.harvest_lot_code,
        Text::optional(MAX_LOT_CHARS),
    )
    .filter(|code| {
        let fine = code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !fine {
            violations.add(field("harvest_lot_code"), "letters, digits, - and _ only");
        }
        fine
    });
    let fulfilment_methods = enum_set::<pb::FulfilmentMethod>(
        violations,
        &field("fulfilment_methods"),
        &listing.fulfilment_methods,
        "FULFILMENT_METHOD_PICKUP or FULFILMENT_METHOD_DELIVERY",
    )
    .map(|methods| {
        if methods.is_empty() {
            vec![pb::FulfilmentMethod::Pickup]
        } else {
            methods
        }
    });
    let expire_at = expiry(
        violations,
        &field("expire_time"),
        listing.expire_time.as_ref(),
        now,
    );
    Some(Offer {
        category,
        title: title?,
        description: description?,
        variety: variety?,
        grade: grade?,
        certifications: certifications?,
        unit: unit?,
        stocked_milli: stocked?.value_milli,
        unit_price_minor: price?.amount_minor,
        minimum_order_milli: minimum_order?,
        net_weight: net_weight?,
        harvest_date: harvest_date?,
        harvest_lot_code: harvest_lot_code?,
        fulfilment_methods: fulfilment_methods?,
        expire_at: expire_at?,
    })
}

/// An expiry the seller names: in the future and at most [`MAX_EXPIRY_DAYS`] away.
fn expiry(
    violations: &mut Violations,
    field: &str,
    value: Option<&prost_types::Timestamp>,
    now: DateTime<Utc>,
) -> Option<Option<DateTime<Utc>>> {
    let at = validate::future_timestamp(violations, field, value, now)?;
    if let Some(at) = at
        && at > now + chrono::Duration::days(MAX_EXPIRY_DAYS)
    {
        violations.add(field, format!("at most {MAX_EXPIRY_DAYS} days from now"));
        return None;
    }
    Some(at)
}

/// A repeated enum field: every value known and not `UNSPECIFIED`; repeats folded, ascending.
fn enum_set<E>(
    violations: &mut Violations,
    field: &str,
    values: &[i32],
    expected: &str,
) -> Option<Vec<E>>
where
    E: TryFrom<i32> + Copy + Ord + Into<i32>,
{
    let before = violations.len();
    let mut set: Vec<E> = values
        .iter()
        .enumerate()
        .filter_map(|(index, value)| {
            let parsed = validate::enum_value::<E>(
                violations,
                &format!("{field}[{index}]"),
                *value,
                expected,
            )?;
            if (*value) == 0 {
                violations.add(format!("{field}[{index}]"), format!("must be {expected}"));
                return None;
            }
            Some(parsed)
        })
        .collect();
    set.sort();
    set.dedup();
    (violations.len() == before).then_some(set)
}

/// The fields `UpdateListing` may change, by the mask's names.
pub const UPDATABLE: &[&str] = &[
    "title",
    "description",
    "variety",
    "grade",
    "certifications",
    "stocked",
    "unit_price",
    "minimum_order",
    "net_weight_per_unit",
    "harvest_date",
    "photos",
    "harvest_lot_code",
    "fulfilment_methods",
    "expire_time",
];

/// `UpdateListing`: the listing as given (checked whole against its category once the stored
/// one is read) and the fields to take from it.
#[derive(Debug)]
pub struct UpdateListing {
    pub mutation: Mutation,
    pub id: Uuid,
    pub given: pb::Listing,
    pub paths: Vec<String>,
}

impl UpdateListing {
    pub fn parse(request: pb::UpdateListingRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let mutation = Mutation::parse(
            &mut violations,
            "UpdateListing",
            &request.request_id,
            &request,
        );
        let given = request.listing.unwrap_or_default();
        let id = validate::id(&mut violations, "listing.id", &given.id, "listing");
        let paths = validate::update_mask(&mut violations, request.update_mask);
        for path in &paths {
            if !UPDATABLE.contains(&path.as_str()) {
                violations.add(
                    "update_mask",
                    format!("{path} cannot be changed; one of {}", UPDATABLE.join(", ")),
                );
            }
        }
        violations.finish_with(|| {
            Some(Self {
                mutation: mutation?,
                id: id?,
                given,
                paths,
            })
        })
    }

    /// The offer after the change: the stored one with the masked fields taken from the request,
    /// all of it checked again (a new minimum order against the old stock, too).
    pub fn merged(
        &self,
        stored: &pb::Listing,
        now: DateTime<Utc>,
    ) -> Result<(Offer, Option<Vec<terrace_photos::Attachment>>)> {
        let mut merged = stored.clone();
        for path in &self.paths {
            let given = &self.given;
            match path.as_str() {
                "title" => merged.title.clone_from(&given.title),
                "description" => merged.description.clone_from(&given.description),
                "variety" => merged.variety.clone_from(&given.variety),
                "grade" => merged.grade = given.grade,
                "certifications" => merged.certifications.clone_from(&given.certifications),
                "stocked" => merged.stocked.clone_from(&given.stocked),
                "unit_price" => merged.unit_price.clone_from(&given.unit_price),
                "minimum_order" => merged.minimum_order.clone_from(&given.minimum_order),
                "net_weight_per_unit" => merged
                    .net_weight_per_unit
                    .clone_from(&given.net_weight_per_unit),
                "harvest_date" => merged.harvest_date.clone_from(&given.harvest_date),
                "harvest_lot_code" => merged.harvest_lot_code.clone_from(&given.harvest_lot_code),
                "fulfilment_methods" => merged
                    .fulfilment_methods
                    .clone_from(&given.fulfilment_methods),
                "expire_time" => merged.expire_time.clone_from(&given.expire_time),
                _ => {}
            }
        }
        // An unchanged expiry is not judged against today (it may have been set long ago).
        if !self.paths.iter().any(|path| path == "expire_time") {
            merged.expire_time = None;
        }
        let mut violations = Violations::new();
        let category = leaf_category(&stored.category_id)?;
        let offer = offer(&mut violations, "listing", &merged, category, now);
        let photos = self.paths.iter().any(|path| path == "photos").then(|| {
            terrace_photos::attachments(&mut violations, "listing.photos", &self.given.photos)
        });
        violations.finish_with(|| {
            Some((
                offer?,
                match photos {
                    Some(photos) => Some(photos?),
                    None => None,
                },
            ))
        })
    }
}

/// The lifecycle moves a seller makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Move {
    Publish,
    Pause,
    Close,
}

impl Move {
    pub fn rpc(self) -> &'static str {
        match self {
            Move::Publish => "PublishListing",
            Move::Pause => "PauseListing",
            Move::Close => "CloseListing",
        }
    }
}

/// `PublishListing`, `PauseListing`, `CloseListing`.
#[derive(Debug)]
pub struct Transition {
    pub mutation: Mutation,
    pub id: Uuid,
    pub action: Move,
    /// A new expiry (publishing).
    pub expire_at: Option<DateTime<Utc>>,
}

impl Transition {
    fn parse_with<M: prost::Message>(
        action: Move,
        request: &M,
        request_id: &str,
        listing_id: &str,
        expire_time: Option<&prost_types::Timestamp>,
        now: DateTime<Utc>,
    ) -> Result<Self> {
        let mut violations = Violations::new();
        let mutation = Mutation::parse(&mut violations, action.rpc(), request_id, request);
        let id = validate::id(&mut violations, "listing_id", listing_id, "listing");
        let expire_at = expiry(&mut violations, "expire_time", expire_time, now);
        violations.finish_with(|| {
            Some(Self {
                mutation: mutation?,
                id: id?,
                action,
                expire_at: expire_at?,
            })
        })
    }

    pub fn publish(request: &pb::PublishListingRequest, now: DateTime<Utc>) -> Result<Self> {
        Self::parse_with(
            Move::Publish,
            request,
            &request.request_id,
            &request.listing_id,
            request.expire_time.as_ref(),
            now,
        )
    }

    pub fn pause(request: &pb::PauseListingRequest, now: DateTime<Utc>) -> Result<Self> {
        Self::parse_with(
            Move::Pause,
            request,
            &request.request_id,
            &request.listing_id,
            None,
            now,
        )
    }

    pub fn close(request: &pb::CloseListingRequest, now: DateTime<Utc>) -> Result<Self> {
        Self::parse_with(
            Move::Close,
            request,
            &request.request_id,
            &request.listing_id,
            None,
            now,
        )
    }
}

/// `HideListing` (with a reason) and `UnhideListing` (with an optional note).
#[derive(Debug)]
pub struct HideChange {
    pub mutation: Mutation,
    pub id: Uuid,
    /// `Some(reason)` hides; `None` lifts the hide.
    pub reason: Option<String>,
}

impl HideChange {
    pub fn hide(request: &pb::HideListingRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let mutation =
            Mutation::parse(&mut violations, "HideListing", &request.request_id, request);
        let id = validate::id(
            &mut violations,
            "listing_id",
            &request.listing_id,
            "listing",
        );
        let reason = validate::text(
            &mut violations,
            "reason",
            &request.reason,
            Text::required(MAX_REASON_CHARS),
        )
        .filter(|reason| {
            let long_enough = reason.chars().count() >= MIN_REASON_CHARS;
            if !long_enough {
                violations.add(
                    "reason",
                    format!("at least {MIN_REASON_CHARS} characters: the seller reads it"),
                );
            }
            long_enough
        });
        violations.finish_with(|| {
            Some(Self {
                mutation: mutation?,
                id: id?,
                reason: Some(reason?),
            })
        })
    }

    pub fn unhide(request: &pb::UnhideListingRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let mutation = Mutation::parse(
            &mut violations,
            "UnhideListing",
            &request.request_id,
            request,
        );
        let id = validate::id(
            &mut violations,
            "listing_id",
            &request.listing_id,
            "listing",
        );
        let note = validate::text(
            &mut violations,
            "note",
            &request.note,
            Text::optional(MAX_REASON_CHARS),
        );
        violations.finish_with(|| {
            note?;
            Some(Self {
                mutation: mutation?,
                id: id?,
                reason: None,
            })
        })
    }
}

/// Where a listing list continues: newest first, by id (UUIDv7 ids are in creation order).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ListingCursor {
    pub id: Uuid,
}

/// Whose listings a list shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Whose {
    /// The caller's own (or a named seller's, for officials of their area).
    Seller(Option<Uuid>),
    /// Every listing in an area (officials).
    Area(AdminScope),
}

/// `ListListings`.
#[derive(Debug)]
pub struct ListListings {
    pub whose: Whose,
    pub area: Option<AdminScope>,
    pub statuses: Vec<ListingStatus>,
    pub hidden_only: bool,
    pub page: Page<ListingCursor>,
}

impl ListListings {
    pub fn parse(request: &pb::ListListingsRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let seller = validate::optional_id(
            &mut violations,
            "seller_user_id",
            &request.seller_user_id,
            "user",
        );
        let area = validate::optional_admin_code(&mut violations, "area", request.area.as_ref());
        let statuses: Option<Vec<ListingStatus>> = enum_set::<pb::ListingStatus>(
            &mut violations,
            "statuses",
            &request.statuses,
            "a listing status such as LISTING_STATUS_ACTIVE",
        )
        .map(|statuses| statuses.into_iter().filter_map(status_of).collect());
        let page = validate::page(&mut violations, "page", request.page.as_ref());
        violations.finish_with(|| {
            let (seller, area) = (seller?, area?);
            let whose = match (&seller, &area) {
                (None, Some(area)) => Whose::Area(area.clone()),
                _ => Whose::Seller(seller),
            };
            Some(Self {
                whose,
                area,
                statuses: statuses?,
                hidden_only: request.hidden_only,
                page: page?,
            })
        })
    }
}

/// The entity's status of the contract's.
pub fn status_of(status: pb::ListingStatus) -> Option<ListingStatus> {
    Some(match status {
        pb::ListingStatus::Unspecified => return None,
        pb::ListingStatus::Draft => ListingStatus::Draft,
        pb::ListingStatus::Active => ListingStatus::Active,
        pb::ListingStatus::Paused => ListingStatus::Paused,
        pb::ListingStatus::SoldOut => ListingStatus::SoldOut,
        pb::ListingStatus::Expired => ListingStatus::Expired,
        pb::ListingStatus::Closed => ListingStatus::Closed,
    })
}

/// `GetListing`.
pub fn listing_id(value: &str) -> Result<Uuid> {
    let mut violations = Violations::new();
    let id = validate::id(&mut violations, "listing_id", value, "listing");
    violations.finish_with(|| id)
}

/// `UploadPhoto`: listing photos are public (buyers anywhere see them).
#[derive(Debug)]
pub struct UploadPhoto;

impl UploadPhoto {
    pub fn parse(request: pb::UploadPhotoRequest) -> Result<terrace_photos::UploadCommand> {
        terrace_photos::UploadCommand::parse(
            &request.request_id,
            request.content,
            request.content_type,
            true,
        )
    }
}
