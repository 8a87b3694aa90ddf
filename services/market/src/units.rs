//! Units of produce and exact arithmetic on them: what a listing's quantity is in grams (or
//! pieces) for search, what its price is per kilogram, and 斤 ⇄ kg.
//!
//! Quantities travel as thousandths of a unit (`common::Quantity`). Every mass unit is a whole
//! number of milligrams per thousandth (1 milli-jin = 500 mg, 1 milli-kg = 1,000 mg), so masses
//! convert through milligrams exactly and in `i64`; a conversion that would need a fraction of
//! the target's thousandth rounds half-even (0.001 斤 in kg), as the contract says.

use terrace_proto::common::v1::Unit;

/// Milligrams in one thousandth of `unit`, for mass units.
pub fn milligrams_per_milli(unit: Unit) -> Option<i64> {
    match unit {
        Unit::Gram => Some(1),
        Unit::Kilogram => Some(1_000),
        Unit::Tonne => Some(1_000_000),
        Unit::Jin => Some(500),
        Unit::Liang => Some(50),
        _ => None,
    }
}

/// Whether `unit` is a mass.
pub fn is_mass(unit: Unit) -> bool {
    milligrams_per_milli(unit).is_some()
}

/// Items in one `unit`, for count units (a dozen is twelve).
fn pieces_per_unit(unit: Unit) -> Option<i64> {
    match unit {
        Unit::Piece
        | Unit::Head
        | Unit::Bunch
        | Unit::Crate
        | Unit::Box
        | Unit::Bag
        | Unit::Basket => Some(1),
        Unit::Dozen => Some(12),
        _ => None,
    }
}

/// `value_milli` of `from` in thousandths of `to`, when both are masses: exact when it can be,
/// else rounded half-even. `None` across dimensions or on overflow.
pub fn convert_milli(value_milli: i64, from: Unit, to: Unit) -> Option<i64> {
    if from == to {
        return Some(value_milli);
    }
    let (from_mg, to_mg) = (milligrams_per_milli(from)?, milligrams_per_milli(to)?);
    let milligrams = i128::from(value_milli) * i128::from(from_mg);
    i64::try_from(div_half_even(milligrams, i128::from(to_mg))).ok()
}

/// A quantity as search compares it: grams for a mass, whole items otherwise (a package unit
/// counts as items); rounded down, never negative.
pub fn search_amount(value_milli: i64, unit: Unit) -> u64 {
    let value = i128::from(value_milli.max(0));
    let amount = match (milligrams_per_milli(unit), pieces_per_unit(unit)) {
        (Some(mg), _) => value * i128::from(mg) / 1_000,
        (None, Some(pieces)) => value * i128::from(pieces) / 1_000,
        (None, None) => value / 1_000,
    };
    u64::try_from(amount).unwrap_or(u64::MAX)
}

/// The price of one kilogram, in minor units, for a price of `price_minor` per `unit`: through
/// the unit's own mass, or a package's stated net weight (`net_weight`: thousandths of a mass
/// unit). `None` when the listing says no weight. Rounded half-even to the minor unit.
pub fn price_per_kg(price_minor: i64, unit: Unit, net_weight: Option<(i64, Unit)>) -> Option<i64> {
    let milligrams_per_unit = match milligrams_per_milli(unit) {
        Some(mg) => i128::from(mg) * 1_000,
        None => {
            let (value_milli, weight_unit) = net_weight?;
            i128::from(value_milli) * i128::from(milligrams_per_milli(weight_unit)?)
        }
    };
    if milligrams_per_unit <= 0 {
        return None;
    }
    i64::try_from(div_half_even(
        i128::from(price_minor) * 1_000_000,
        milligrams_per_unit,
    ))
    .ok()
}

/// `price_minor` per unit times `value_milli` thousandths of units, rounded half-even to the minor
/// unit: an order's total.
pub fn total_minor(price_minor: i64, value_milli: i64) -> Option<i64> {
    i64::try_from(div_half_even(
        i128::from(price_minor) * i128::from(value_milli),
        1_000,
    ))
    .ok()
}

/// `numerator / denominator` rounded half to even (banker's rounding), `denominator > 0`.
pub fn div_half_even(numerator: i128, denominator: i128) -> i128 {
    let quotient = numerator.div_euclid(denominator);
    let remainder = numerator.rem_euclid(denominator);
    match (remainder * 2).cmp(&denominator) {
        std::cmp::Ordering::Less => quotient,
        std::cmp::Ordering::Greater => quotient + 1,
        std::cmp::Ordering::Equal => quotient + (quotient & 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jin_and_kilogram_convert_exactly_both_ways() {
        // 200 斤 is 100 kg, and back.
        assert_eq!(
            convert_milli(200_000, Unit::Jin, Unit::Kilogram),
            Some(100_000)
        );
        assert_eq!(
            convert_milli(100_000, Unit::Kilogram, Unit::Jin),
            Some(200_000)
        );
        // 1.5 kg is 3 斤; 3 两 is 0.3 斤 is 150 g.
        assert_eq!(convert_milli(1_500, Unit::Kilogram, Unit::Jin), Some(3_000));
        assert_eq!(convert_milli(3_000, Unit::Liang, Unit::Jin), Some(300));
        assert_eq!(convert_milli(3_000, Unit::Liang, Unit::Gram), Some(150_000));
        // A tonne is 2000 斤.
        assert_eq!(
            convert_milli(1_000, Unit::Tonne, Unit::Jin),
            Some(2_000_000)
        );
        // Half a thousandth rounds to even: 0.001 斤 = 0.0005 kg -> 0; 0.003 斤 -> 0.002 kg.
        assert_eq!(convert_milli(1, Unit::Jin, Unit::Kilogram), Some(0));
        assert_eq!(convert_milli(3, Unit::Jin, Unit::Kilogram), Some(2));
    }

    #[test]
    fn units_of_other_dimensions_do_not_convert() {
        assert_eq!(convert_milli(1_000, Unit::Crate, Unit::Kilogram), None);
        assert_eq!(convert_milli(1_000, Unit::Jin, Unit::Piece), None);
        assert_eq!(convert_milli(i64::MAX, Unit::Tonne, Unit::Gram), None);
    }

    #[test]
    fn search_compares_masses_in_grams_and_the_rest_in_items() {
        assert_eq!(search_amount(200_000, Unit::Jin), 100_000);
        assert_eq!(search_amount(1_500, Unit::Kilogram), 1_500);
        assert_eq!(search_amount(2_000, Unit::Dozen), 24);
        assert_eq!(search_amount(3_500, Unit::Crate), 3);
        assert_eq!(search_amount(-5, Unit::Kilogram), 0);
    }

    #[test]
    fn a_price_per_jin_is_twice_that_per_kilogram_and_a_crate_uses_its_net_weight() {
        assert_eq!(price_per_kg(350, Unit::Jin, None), Some(700));
        assert_eq!(price_per_kg(350, Unit::Kilogram, None), Some(350));
        assert_eq!(price_per_kg(3_000_000, Unit::Tonne, None), Some(3_000));
        // A 15 kg crate at ¥60 is ¥4 a kilogram; a crate without a weight has no price per kg.
        assert_eq!(
            price_per_kg(6_000, Unit::Crate, Some((15_000, Unit::Kilogram))),
            Some(400)
        );
        assert_eq!(price_per_kg(6_000, Unit::Crate, None), None);
        assert_eq!(
            price_per_kg(6_000, Unit::Crate, Some((0, Unit::Kilogram))),
            None
        );
        // ¥1 for 3 kg is 33.33… fen -> 33.
        assert_eq!(
            price_per_kg(100, Unit::Piece, Some((3_000, Unit::Kilogram))),
            Some(33)
        );
    }

    #[test]
    fn totals_round_half_to_even() {
        // 2.5 units at 1 fen = 2.5 fen -> 2; 3.5 -> 4; 200 斤 at ¥3.50 = ¥700.
        assert_eq!(total_minor(1, 2_500), Some(2));
        assert_eq!(total_minor(1, 3_500), Some(4));
        assert_eq!(total_minor(350, 200_000), Some(70_000));
        assert_eq!(div_half_even(-5, 2), -2);
    }
}
