//! Exchange rates for buyers from afar: operators keep a table of how many yuan one unit of a
//! currency costs (`terrace market rates set USD 7.1234`), and search and listing reads show a
//! listing's price also in the buyer's currency, marked indicative (orders settle in CNY).
//!
//! A rate is kept as an integer of millionths of a yuan per unit (7.1234 → 7,123,400), so
//! conversions are exact integer arithmetic rounded half-even to the currency's minor unit.

use chrono::{DateTime, Utc};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbErr, FromQueryResult, Statement, TransactionTrait as _,
};
use terrace_platform::auth::Caller;
use terrace_platform::validate::to_timestamp;
use terrace_proto::common::v1 as common;
use terrace_proto::market::v1 as pb;

use crate::audit::{self, Audited};
use crate::units;

/// The rates' table.
pub const MIGRATION: terrace_platform::db::SqlMigration = terrace_platform::db::SqlMigration {
    name: "m20261204_200003_market_exchange_rates",
    up: "
CREATE TABLE exchange_rates (
    currency           text        PRIMARY KEY,
    cny_micro_per_unit bigint      NOT NULL CHECK (cny_micro_per_unit > 0),
    set_at             timestamptz NOT NULL,
    set_by             text        NOT NULL
);
",
};

/// One currency's rate.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct Rate {
    pub currency: String,
    /// Millionths of a yuan one unit of the currency costs.
    pub cny_micro_per_unit: i64,
    pub set_at: DateTime<Utc>,
    pub set_by: String,
}

impl Rate {
    /// The rate as the contract writes it: yuan per unit, a decimal string ("7.1234").
    pub fn decimal(&self) -> String {
        let whole = self.cny_micro_per_unit / 1_000_000;
        let fraction = format!("{:06}", self.cny_micro_per_unit % 1_000_000);
        let fraction = fraction.trim_end_matches('0');
        if fraction.is_empty() {
            whole.to_string()
        } else {
            format!("{whole}.{fraction}")
        }
    }
}

/// Reads `7.1234` (yuan per unit, at most six decimals, positive) as millionths.
pub fn parse_decimal(text: &str) -> Result<i64, String> {
    let (whole, fraction) = text.trim().split_once('.').unwrap_or((text.trim(), ""));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || (!fraction.is_empty() && !digits(fraction)) || fraction.len() > 6 {
        return Err(format!(
            "{text:?} is not a rate such as 7.1234 (at most six decimals)"
        ));
    }
    let whole: i64 = whole
        .parse()
        .map_err(|_| format!("{text:?} is too large"))?;
    let fraction: i64 = format!("{fraction:0<6}").parse().unwrap_or_default();
    let micro = whole
        .checked_mul(1_000_000)
        .and_then(|w| w.checked_add(fraction))
        .ok_or_else(|| format!("{text:?} is too large"))?;
    if micro <= 0 {
        return Err("a rate must be above zero".to_owned());
    }
    Ok(micro)
}

/// Sets `currency`'s rate (replacing the one before).
pub async fn set<C: ConnectionTrait>(conn: &C, rate: &Rate) -> Result<(), DbErr> {
    conn.execute_raw(Statement::from_sql_and_values(
        conn.get_database_backend(),
        "INSERT INTO exchange_rates (currency, cny_micro_per_unit, set_at, set_by)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (currency) DO UPDATE SET cny_micro_per_unit = EXCLUDED.cny_micro_per_unit,
             set_at = EXCLUDED.set_at, set_by = EXCLUDED.set_by",
        [
            rate.currency.clone().into(),
            rate.cny_micro_per_unit.into(),
            rate.set_at.into(),
            rate.set_by.clone().into(),
        ],
    ))
    .await?;
    Ok(())
}

/// Sets a rate as the operator at the command line (`terrace market rates set`): the rate and its
/// record for governance's audit log (`exchange_rate.set`, the stated source as the operator's
/// reason, the rate before) in one transaction. `source` is the market's event source.
pub async fn set_by_operator(
    db: &DatabaseConnection,
    source: &str,
    rate: &Rate,
) -> Result<(), DbErr> {
    let txn = db.begin().await?;
    let before = all(&txn)
        .await?
        .into_iter()
        .find(|kept| kept.currency == rate.currency);
    set(&txn, rate).await?;
    let operator = Caller::operator(rate.set_by.clone());
    let details = serde_json::json!({
        "cny_per_unit": rate.decimal(),
        "before": before.as_ref().map(Rate::decimal),
    });
    let what = Audited {
        action: "exchange_rate.set",
        target_type: "exchange_rate",
        target_id: rate.currency.clone(),
        area: None,
        details,
    };
    audit::record(&txn, source, &operator, what, rate.set_at).await?;
    txn.commit().await
}

/// Every rate, by currency.
pub async fn all<C: ConnectionTrait>(conn: &C) -> Result<Vec<Rate>, DbErr> {
    Rate::find_by_statement(Statement::from_string(
        conn.get_database_backend(),
        "SELECT currency, cny_micro_per_unit, set_at, set_by FROM exchange_rates ORDER BY currency",
    ))
    .all(conn)
    .await
}

/// `currency`'s rate, if operators set one.
pub async fn find<C: ConnectionTrait>(conn: &C, currency: &str) -> Result<Option<Rate>, DbErr> {
    Rate::find_by_statement(Statement::from_sql_and_values(
        conn.get_database_backend(),
        "SELECT currency, cny_micro_per_unit, set_at, set_by FROM exchange_rates WHERE currency = $1",
        [currency.into()],
    ))
    .one(conn)
    .await
}

/// A listing's unit price in `rate`'s currency, indicative.
pub fn indicative(listing: &pb::Listing, rate: &Rate) -> Option<pb::IndicativePrice> {
    let fen = listing.unit_price.as_ref()?.amount_minor;
    let currency = iso_currency::Currency::from_code(&rate.currency)?;
    let exponent = u32::from(currency.exponent().unwrap_or(0));
    // fen / 100 yuan ÷ (micro / 1e6 yuan per unit) × 10^exponent minor units per unit.
    let numerator = i128::from(fen) * 10_000 * 10_i128.pow(exponent);
    let minor = units::div_half_even(numerator, i128::from(rate.cny_micro_per_unit));
    Some(pb::IndicativePrice {
        unit_price: Some(common::Money {
            amount_minor: i64::try_from(minor).ok()?,
            currency_code: rate.currency.clone(),
        }),
        rate: rate.decimal(),
        rate_time: Some(to_timestamp(rate.set_at)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd() -> Rate {
        Rate {
            currency: "USD".to_owned(),
            cny_micro_per_unit: parse_decimal("7.1234").unwrap(),
            set_at: DateTime::UNIX_EPOCH,
            set_by: "test".to_owned(),
        }
    }

    #[test]
    fn rates_read_and_print_as_decimals_without_floats() {
        assert_eq!(parse_decimal("7.1234"), Ok(7_123_400));
        assert_eq!(parse_decimal("0.0521"), Ok(52_100));
        assert_eq!(parse_decimal("12"), Ok(12_000_000));
        assert!(parse_decimal("0").is_err());
        assert!(parse_decimal("7.1234567").is_err());
        assert!(parse_decimal("-1").is_err());
        assert!(parse_decimal("7,12").is_err());
        assert_eq!(usd().decimal(), "7.1234");
    }

    #[test]
    fn a_price_in_yuan_converts_to_the_buyers_currency_rounded_half_even() {
        let listing = pb::Listing {
            unit_price: Some(common::Money {
                amount_minor: 350,
                currency_code: "CNY".to_owned(),
            }),
            ..Default::default()
        };
        // ¥3.50 at 7.1234 is $0.4913… → 49 cents.
        let price = indicative(&listing, &usd()).unwrap();
        assert_eq!(price.unit_price.unwrap().amount_minor, 49);
        assert_eq!(price.rate, "7.1234");
        // Tenge has two decimals too; yen none: ¥3.50 at 0.0476 CNY per JPY is 73.5 → 74 yen.
        let jpy = Rate {
            currency: "JPY".to_owned(),
            cny_micro_per_unit: 47_600,
            ..usd()
        };
        assert_eq!(
            indicative(&listing, &jpy)
                .unwrap()
                .unit_price
                .unwrap()
                .amount_minor,
            74
        );
    }
}
