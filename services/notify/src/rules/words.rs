//! The words of a notification in the recipient's language: quantities, money, a localized
//! title. Exact: no floating point between the integers of the contract and the text.

use terrace_proto::common::v1 as common;

/// Whether `locale` reads Chinese.
fn chinese(locale: &str) -> bool {
    locale.starts_with("zh")
}

/// "10 斤", "12.5 kg".
pub fn quantity(quantity: Option<&common::Quantity>, locale: &str) -> String {
    let Some(quantity) = quantity else {
        return String::new();
    };
    let unit = common::Unit::try_from(quantity.unit).unwrap_or(common::Unit::Unspecified);
    format!(
        "{} {}",
        thousandths(quantity.value_milli),
        unit_name(unit, locale)
    )
}

/// A number kept in thousandths, with as many decimals as it needs: 12500 → "12.5".
fn thousandths(value: i64) -> String {
    let sign = if value < 0 { "-" } else { "" };
    let value = value.unsigned_abs();
    let (whole, fraction) = (value / 1000, value % 1000);
    if fraction == 0 {
        return format!("{sign}{whole}");
    }
    let digits = format!("{fraction:03}");
    format!("{sign}{whole}.{}", digits.trim_end_matches('0'))
}

fn unit_name(unit: common::Unit, locale: &str) -> String {
    use common::Unit as U;
    let (zh, en) = match unit {
        U::Gram => ("克", "g"),
        U::Kilogram => ("公斤", "kg"),
        U::Tonne => ("吨", "t"),
        U::Jin => ("斤", "jin"),
        U::Liang => ("两", "liang"),
        U::Piece => ("个", "pieces"),
        U::Dozen => ("打", "dozen"),
        U::Head => ("头", "head"),
        U::Bunch => ("把", "bunches"),
        U::Crate => ("筐", "crates"),
        U::Box => ("箱", "boxes"),
        U::Bag => ("袋", "bags"),
        U::Basket => ("篮", "baskets"),
        U::Litre => ("升", "L"),
        other => {
            let name = other
                .as_str_name()
                .trim_start_matches("UNIT_")
                .to_ascii_lowercase();
            return name;
        }
    };
    if chinese(locale) { zh } else { en }.to_owned()
}

/// "¥38.00" (yuan), or the amount with its currency code.
pub fn money(money: Option<&common::Money>) -> String {
    let Some(money) = money else {
        return String::new();
    };
    let sign = if money.amount_minor < 0 { "-" } else { "" };
    let minor = money.amount_minor.unsigned_abs();
    let amount = format!("{sign}{}.{:02}", minor / 100, minor % 100);
    if money.currency_code == "CNY" || money.currency_code.is_empty() {
        format!("¥{amount}")
    } else {
        format!("{amount} {}", money.currency_code)
    }
}

/// A localized text in `locale`, else its language, else Chinese, else any.
pub fn localized(text: Option<&common::LocalizedText>, locale: &str) -> String {
    let Some(text) = text else {
        return String::new();
    };
    let language = locale.split('-').next().unwrap_or(locale);
    text.translations
        .get(locale)
        .or_else(|| {
            text.translations
                .iter()
                .find(|(tag, _)| tag.split('-').next() == Some(language))
                .map(|(_, value)| value)
        })
        .or_else(|| text.translations.get("zh-CN"))
        .or_else(|| text.translations.values().next())
        .cloned()
        .unwrap_or_default()
}

/// "自提" / "pickup", "送货" / "delivery".
pub fn method(delivery: bool, locale: &str) -> &'static str {
    match (delivery, chinese(locale)) {
        (true, true) => "送货",
        (true, false) => "delivery",
        (false, true) => "自提",
        (false, false) => "pickup",
    }
}

/// "买家" / "the buyer", "卖家" / "the seller".
pub fn party(buyer: bool, locale: &str) -> &'static str {
    match (buyer, chinese(locale)) {
        (true, true) => "买家",
        (true, false) => "the buyer",
        (false, true) => "卖家",
        (false, false) => "the seller",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_and_money_are_written_exactly() {
        let q = common::Quantity {
            value_milli: 12_500,
            unit: common::Unit::Jin as i32,
        };
        assert_eq!(quantity(Some(&q), "zh-CN"), "12.5 斤");
        assert_eq!(quantity(Some(&q), "en"), "12.5 jin");
        assert_eq!(thousandths(10_000), "10");
        assert_eq!(thousandths(1_005), "1.005");
        let m = common::Money {
            amount_minor: 3_805,
            currency_code: "CNY".to_owned(),
        };
        assert_eq!(money(Some(&m)), "¥38.05");
    }

    #[test]
    fn a_title_is_taken_in_the_readers_language_or_chinese() {
        let title = common::LocalizedText {
            translations: [
                ("zh-CN".to_owned(), "苹果".to_owned()),
                ("en".to_owned(), "Apples".to_owned()),
            ]
            .into_iter()
            .collect(),
        };
        assert_eq!(localized(Some(&title), "en-US"), "Apples");
        assert_eq!(localized(Some(&title), "ug"), "苹果");
    }
}
