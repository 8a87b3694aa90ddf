//! *Parse*: `GetPriceReference` becomes a query, every bad field reported at once.

use terrace_platform::auth::AdminScope;
use terrace_platform::error::{Error, Result, Violations};
use terrace_platform::validate;
use terrace_proto::common::v1 as common;
use terrace_proto::market::v1 as pb;

use crate::categories::taxonomy::{self, Entry};

/// The longest window of the reference, in days (the contract's).
pub const MAX_WINDOW_DAYS: i32 = 365;
const DEFAULT_WINDOW_DAYS: i32 = 30;

/// `GetPriceReference`.
#[derive(Debug)]
pub struct PriceReference {
    pub category: &'static Entry,
    /// `None`: the caller's own county (or the whole country for someone of no village).
    pub area: Option<AdminScope>,
    pub unit: common::Unit,
    pub window_days: i32,
}

impl PriceReference {
    pub fn parse(request: &pb::GetPriceReferenceRequest) -> Result<Self> {
        let category = crate::categories::parse::category(&request.category_id)?;
        if !taxonomy::is_leaf(category) {
            return Err(Error::invalid(
                "category_id",
                "must be a category of produce, not a group",
            ));
        }
        let mut violations = Violations::new();
        let area = validate::optional_admin_code(&mut violations, "area", request.area.as_ref());
        let unit = match common::Unit::try_from(request.unit) {
            Ok(common::Unit::Unspecified) => Some(category.default_unit),
            Ok(unit) if category.units.contains(&unit) => Some(unit),
            _ => {
                violations.add("unit", format!("{} is not sold in this unit", category.zh));
                None
            }
        };
        let window_days = match request.window_days {
            0 => Some(DEFAULT_WINDOW_DAYS),
            days if (1..=MAX_WINDOW_DAYS).contains(&days) => Some(days),
            _ => {
                violations.add("window_days", format!("must be 1 to {MAX_WINDOW_DAYS}"));
                None
            }
        };
        violations.finish_with(|| {
            Some(Self {
                category,
                area: area?,
                unit: unit?,
                window_days: window_days?,
            })
        })
    }
}
