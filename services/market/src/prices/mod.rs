//! The price reference: `GetPriceReference`, shown when a farmer drafts a listing.
//!
//! Median and quartiles of what the category sold for (orders completed in the window) and of
//! what it is offered at now (active listings), in the area, per the unit the farmer sells in.
//! Prices in other units are converted exactly when both are masses, or through a package's
//! stated net weight; prices that do not convert (a crate of unknown weight against 斤) are left
//! out. An area with fewer than [`MIN_PRICES`] prices is widened a level at a time (village,
//! township, county, city, province, country) so that the figures mean something.
//!
//! Layout (the service's rhythm, `docs/architecture.md`): [`parse`] turns the request into a
//! query, this module applies it over a [`Caller`], [`store`] holds the SQL, `grpc.rs` answers.

pub mod parse;
pub mod store;

use sea_orm::DatabaseConnection;
use terrace_platform::Clock;
use terrace_platform::auth::{AdminLevel, AdminScope, Caller, Role};
use terrace_platform::error::Result;
use terrace_platform::validate::to_timestamp;
use terrace_proto::common::v1 as common;
use terrace_proto::market::v1 as pb;

use self::parse::PriceReference;
use self::store::StoredPrice;
use crate::units;

/// Fewer prices than this in an area and the reference looks one level up.
pub const MIN_PRICES: usize = 5;

/// The price reference: the *apply* step of its RPC.
#[derive(Debug, Clone)]
pub struct Prices {
    db: DatabaseConnection,
    clock: Clock,
}

impl Prices {
    pub fn new(db: DatabaseConnection, clock: Clock) -> Self {
        Self { db, clock }
    }

    pub async fn reference(
        &self,
        caller: &Caller,
        query: PriceReference,
    ) -> Result<pb::GetPriceReferenceResponse> {
        let now = self.clock.now();
        let since = now - chrono::Duration::days(i64::from(query.window_days));
        let mut area = query.area.clone().unwrap_or_else(|| own_county(caller));
        let (orders, listings) = loop {
            let orders = converted(
                store::completed_orders(&self.db, query.category.id, area.as_str(), since).await?,
                query.unit,
            );
            let listings = converted(
                store::active_listings(&self.db, query.category.id, area.as_str()).await?,
                query.unit,
            );
            let enough = orders.len() + listings.len() >= MIN_PRICES;
            match parent(&area) {
                Some(up) if !enough => area = up,
                _ => break (orders, listings),
            }
        };
        Ok(pb::GetPriceReferenceResponse {
            category_id: query.category.id.to_owned(),
            area: Some(area.to_proto()),
            unit: query.unit as i32,
            completed_orders: Some(stats(orders)),
            active_listings: Some(stats(listings)),
            compute_time: Some(to_timestamp(now)),
        })
    }
}

/// The county of the caller's farming (or any) village, or the whole country.
fn own_county(caller: &Caller) -> AdminScope {
    let grants = caller
        .principal()
        .map(|p| p.grants.as_slice())
        .unwrap_or_default();
    let village = grants
        .iter()
        .find(|grant| grant.role == Role::Farmer)
        .or_else(|| grants.first())
        .map(|grant| grant.scope.clone());
    village
        .and_then(|scope| AdminScope::parse(scope.as_str().get(..6)?).ok())
        .unwrap_or_else(AdminScope::country)
}

/// The area one level up: a village's township, a township's county, and so to the country.
fn parent(area: &AdminScope) -> Option<AdminScope> {
    let code = area.as_str();
    let shorter = match area.level() {
        AdminLevel::Country => return None,
        AdminLevel::Province => "",
        AdminLevel::City => &code[..2],
        AdminLevel::County => &code[..4],
        AdminLevel::Township => &code[..6],
        AdminLevel::Village => &code[..9],
    };
    AdminScope::parse(shorter).ok()
}

/// The prices that convert to `unit`, in fen per one `unit`, ascending.
fn converted(stored: Vec<StoredPrice>, unit: common::Unit) -> Vec<i64> {
    let mut prices: Vec<i64> = stored
        .into_iter()
        .filter_map(|price| per_unit(&price, unit))
        .collect();
    prices.sort_unstable();
    prices
}

/// One stored price per one `target` unit, when it converts.
fn per_unit(price: &StoredPrice, target: common::Unit) -> Option<i64> {
    let unit = common::Unit::try_from(i32::from(price.unit)).ok()?;
    if unit == target {
        return Some(price.unit_price_minor);
    }
    // Through the price per kilogram: the unit's own mass or the package's net weight.
    let weight = price
        .net_weight_milli
        .zip(price.net_weight_unit)
        .and_then(|(value, unit)| Some((value, common::Unit::try_from(i32::from(unit)).ok()?)));
    let per_kg = units::price_per_kg(price.unit_price_minor, unit, weight)?;
    // Fen per kg times kg per target unit: exact for masses (mg per milli of the target × 1000).
    let target_mg = units::milligrams_per_milli(target)?;
    i64::try_from(units::div_half_even(
        i128::from(per_kg) * i128::from(target_mg) * 1_000,
        1_000_000,
    ))
    .ok()
}

fn cny(amount_minor: i64) -> common::Money {
    common::Money {
        amount_minor,
        currency_code: "CNY".to_owned(),
    }
}

/// Median, quartiles and range of ascending `prices` (linear between ranks, rounded half-even to
/// the fen); all unset but the count when there are none.
fn stats(prices: Vec<i64>) -> pb::PriceStats {
    let count = i64::try_from(prices.len()).unwrap_or(i64::MAX);
    if prices.is_empty() {
        return pb::PriceStats {
            count,
            ..Default::default()
        };
    }
    let quantile = |q_num: i128, q_den: i128| {
        // Rank q·(n−1) in hundredths-exact integer arithmetic: lo + (hi − lo)·frac.
        let n = i128::try_from(prices.len()).unwrap_or(i128::MAX);
        let position = q_num * (n - 1);
        let (lo, rem) = (position / q_den, position % q_den);
        let lo_index = usize::try_from(lo).unwrap_or_default();
        let low = i128::from(prices[lo_index]);
        let high = i128::from(*prices.get(lo_index + 1).unwrap_or(&prices[lo_index]));
        let value = units::div_half_even(low * q_den + (high - low) * rem, q_den);
        cny(i64::try_from(value).unwrap_or(i64::MAX))
    };
    pb::PriceStats {
        median: Some(quantile(1, 2)),
        p25: Some(quantile(1, 4)),
        p75: Some(quantile(3, 4)),
        min: prices.first().copied().map(cny),
        max: prices.last().copied().map(cny),
        count,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quartiles_interpolate_between_ranks_and_round_to_the_fen() {
        let s = stats(vec![100, 200, 300, 400]);
        assert_eq!(s.median, Some(cny(250)));
        assert_eq!(s.p25, Some(cny(175)));
        assert_eq!(s.p75, Some(cny(325)));
        assert_eq!((s.min, s.max, s.count), (Some(cny(100)), Some(cny(400)), 4));
        let one = stats(vec![350]);
        assert_eq!(
            (one.median, one.p25, one.p75),
            (Some(cny(350)), Some(cny(350)), Some(cny(350)))
        );
        let none = stats(vec![]);
        assert_eq!((none.median, none.count), (None, 0));
    }

    #[test]
    fn prices_convert_between_masses_and_through_a_packages_weight() {
        let jin = StoredPrice {
            unit: common::Unit::Jin as i16,
            unit_price_minor: 350,
            net_weight_milli: None,
            net_weight_unit: None,
        };
        assert_eq!(per_unit(&jin, common::Unit::Kilogram), Some(700));
        assert_eq!(per_unit(&jin, common::Unit::Jin), Some(350));
        let crate_of_15kg = StoredPrice {
            unit: common::Unit::Crate as i16,
            unit_price_minor: 6_000,
            net_weight_milli: Some(15_000),
            net_weight_unit: Some(common::Unit::Kilogram as i16),
        };
        assert_eq!(per_unit(&crate_of_15kg, common::Unit::Jin), Some(200));
        let crate_unknown = StoredPrice {
            net_weight_milli: None,
            net_weight_unit: None,
            ..crate_of_15kg
        };
        assert_eq!(per_unit(&crate_unknown, common::Unit::Jin), None);
    }

    #[test]
    fn areas_widen_one_level_at_a_time_to_the_country() {
        let mut area = AdminScope::parse("330523108204").unwrap();
        let mut seen = vec![area.as_str().to_owned()];
        while let Some(up) = parent(&area) {
            area = up;
            seen.push(area.as_str().to_owned());
        }
        assert_eq!(
            seen,
            ["330523108204", "330523108", "330523", "3305", "33", ""]
        );
    }
}
