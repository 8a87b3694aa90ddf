//! Rendering a template's texts: the MiniJinja environment every text is rendered in, the pick
//! of a text by channel and locale (with the fallback a delivery uses), and typed values turned
//! into what a reader sees.
//!
//! Rendering is strict: a variable a text uses but nobody gave is an error, never an empty gap.
//! The environment has the built-in filters and tests and nothing else (no macros, no includes,
//! no loaders), and a fuel budget so that a loop an editor wrote cannot run away.

use std::collections::{BTreeMap, BTreeSet};

use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;
use terrace_proto::notify::v1 as pb;

use super::store::{Content, Variable};
use crate::rules::words;

/// The locale every template has a text in, used when the recipient's has none.
pub const FALLBACK_LOCALE: &str = "zh-CN";

/// Instructions one rendering may execute: far above any message (a long SMS is a few hundred),
/// far below a runaway loop.
const FUEL: u64 = 50_000;

/// Strict rendering of plain text and Markdown: nothing is escaped (the inbox sanitizes; SMS is
/// plain text).
pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env.set_fuel(Some(FUEL));
    env
}

/// The text of `channel` in `locale`, else in the locale's language, else in
/// [`FALLBACK_LOCALE`].
pub fn pick<'a>(
    contents: &'a [Content],
    channel: pb::Channel,
    locale: &str,
) -> Option<&'a Content> {
    let language = locale.split('-').next().unwrap_or(locale);
    let of_channel = || contents.iter().filter(move |c| c.channel == channel as i32);
    of_channel()
        .find(|c| c.locale.eq_ignore_ascii_case(locale))
        .or_else(|| of_channel().find(|c| c.locale.split('-').next() == Some(language)))
        .or_else(|| of_channel().find(|c| c.locale == FALLBACK_LOCALE))
}

/// A text rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub locale: String,
    pub subject: String,
    pub body: String,
    pub provider_template_id: String,
    pub signature: String,
}

/// Renders `content` with `vars`.
pub fn content(content: &Content, vars: &impl Serialize) -> Result<Rendered, minijinja::Error> {
    let env = environment();
    Ok(Rendered {
        locale: content.locale.clone(),
        subject: env.render_str(&content.subject, vars)?,
        body: env.render_str(&content.body, vars)?,
        provider_template_id: content.provider_template_id.clone(),
        signature: content.signature.clone(),
    })
}

/// The variables `source` uses (top-level names), or why it does not parse.
pub fn used_variables(source: &str) -> Result<BTreeSet<String>, minijinja::Error> {
    let env = environment();
    let template = env.template_from_str(source)?;
    Ok(template.undeclared_variables(false).into_iter().collect())
}

/// Values of every declared variable that stand for the type: what a template is rendered with
/// when it is saved, so that one which parses but cannot render (an unknown filter, a number
/// added to a text) is refused then, not when a notification needs it.
pub fn samples(variables: &[Variable]) -> BTreeMap<String, serde_json::Value> {
    variables
        .iter()
        .map(|v| {
            use pb::VariableType as T;
            let value = match T::try_from(v.kind).unwrap_or(T::String) {
                T::Integer => serde_json::json!(12),
                T::Decimal => serde_json::json!("12.5"),
                T::Money => serde_json::json!("¥12.50"),
                T::Quantity => serde_json::json!("12 斤"),
                T::Date => serde_json::json!("2026-12-05"),
                T::Timestamp => serde_json::json!("2026-12-05 08:30"),
                T::Boolean => serde_json::json!(true),
                T::Url => serde_json::json!("https://example.org/"),
                T::String | T::LocalizedText | T::Unspecified => serde_json::json!("示例"),
            };
            (v.name.clone(), value)
        })
        .collect()
}

/// Why a typed value does not fit its variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Misfit(pub String);

/// What `value` reads as in `locale` (`time_zone` for instants), or why it does not fit a
/// variable of type `kind`.
pub fn typed_value(
    kind: pb::VariableType,
    value: &pb::TemplateValue,
    locale: &str,
    time_zone: chrono_tz::Tz,
) -> Result<serde_json::Value, Misfit> {
    use pb::VariableType as T;
    use pb::template_value::Value as V;
    let english = locale.starts_with("en");
    let misfit = || {
        Misfit(format!(
            "does not fit a variable of type {}",
            kind.as_str_name()
        ))
    };
    let Some(given) = value.value.as_ref() else {
        return Err(Misfit("required: a value".to_owned()));
    };
    Ok(match (kind, given) {
        (T::String, V::StringValue(text)) => text.clone().into(),
        (T::Url, V::StringValue(url)) => {
            let parsed = reqwest::Url::parse(url).map_err(|_| Misfit("not a URL".to_owned()))?;
            if !matches!(parsed.scheme(), "https" | "terrace") {
                return Err(Misfit("must be an https:// or terrace:// link".to_owned()));
            }
            url.clone().into()
        }
        (T::Integer, V::IntegerValue(number)) => (*number).into(),
        (T::Decimal, V::DecimalValue(number)) => {
            if !decimal(number) {
                return Err(Misfit("not a decimal number such as 12.5".to_owned()));
            }
            number.clone().into()
        }
        (T::Money, V::MoneyValue(money)) => words::money(Some(money)).into(),
        (T::Quantity, V::QuantityValue(quantity)) => words::quantity(Some(quantity), locale).into(),
        (T::Date, V::DateValue(date)) => {
            let day = u32::try_from(date.month)
                .ok()
                .zip(u32::try_from(date.day).ok())
                .and_then(|(month, day)| chrono::NaiveDate::from_ymd_opt(date.year, month, day))
                .ok_or_else(|| Misfit("not a calendar date".to_owned()))?;
            if english {
                day.format("%-d %B %Y").to_string().into()
            } else {
                day.format("%Y年%-m月%-d日").to_string().into()
            }
        }
        (T::Timestamp, V::TimestampValue(at)) => {
            let instant = chrono::DateTime::from_timestamp(at.seconds, 0)
                .ok_or_else(|| Misfit("not an instant".to_owned()))?
                .with_timezone(&time_zone);
            if english {
                instant.format("%-d %B %Y %H:%M").to_string().into()
            } else {
                instant.format("%Y年%-m月%-d日 %H:%M").to_string().into()
            }
        }
        (T::Boolean, V::BooleanValue(flag)) => match (english, flag) {
            (true, true) => "yes".into(),
            (true, false) => "no".into(),
            (false, true) => "是".into(),
            (false, false) => "否".into(),
        },
        (T::LocalizedText, V::LocalizedTextValue(text)) => {
            words::localized(Some(text), locale).into()
        }
        _ => return Err(misfit()),
    })
}

/// `12`, `-0.5`, `12.50`: digits with an optional sign and fraction.
fn decimal(number: &str) -> bool {
    let digits = number.strip_prefix('-').unwrap_or(number);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, "0"));
    !whole.is_empty()
        && !fraction.is_empty()
        && whole.len() + fraction.len() <= 30
        && whole
            .chars()
            .chain(fraction.chars())
            .all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use terrace_proto::common::v1 as common;

    fn text(locale: &str, channel: pb::Channel, body: &str) -> Content {
        Content {
            locale: locale.to_owned(),
            channel: channel as i32,
            subject: String::new(),
            body: body.to_owned(),
            provider_template_id: String::new(),
            signature: String::new(),
        }
    }

    #[test]
    fn a_locale_falls_back_by_language_then_to_chinese_within_the_channel() {
        let contents = [
            text("zh-CN", pb::Channel::InApp, "中"),
            text("en", pb::Channel::InApp, "en"),
            text("zh-CN", pb::Channel::Sms, "短信"),
        ];
        let body = |channel, locale| pick(&contents, channel, locale).map(|c| c.body.as_str());
        assert_eq!(body(pb::Channel::InApp, "en-GB"), Some("en"));
        assert_eq!(body(pb::Channel::InApp, "ug"), Some("中"));
        assert_eq!(body(pb::Channel::Sms, "en"), Some("短信"));
        assert_eq!(body(pb::Channel::Email, "zh-CN"), None);
    }

    #[test]
    fn used_variables_are_the_top_level_names_and_bad_syntax_is_an_error() {
        let used = used_variables("{{ a }} {% if b %}{{ c.d | upper }}{% endif %}").unwrap();
        assert_eq!(used.into_iter().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert!(used_variables("{{ a ").is_err());
    }

    #[test]
    fn a_runaway_loop_runs_out_of_fuel() {
        let vars = serde_json::json!({});
        let looping = text(
            "zh-CN",
            pb::Channel::InApp,
            "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
        );
        let error = content(&looping, &vars).unwrap_err();
        assert_eq!(error.kind(), minijinja::ErrorKind::OutOfFuel, "{error}");
    }

    #[test]
    fn typed_values_read_in_the_locale_and_misfits_are_named() {
        let tz = chrono_tz::Asia::Shanghai;
        let money = pb::TemplateValue {
            value: Some(pb::template_value::Value::MoneyValue(common::Money {
                currency_code: "CNY".to_owned(),
                amount_minor: 350,
            })),
        };
        let read = |kind, value: &pb::TemplateValue, locale| typed_value(kind, value, locale, tz);
        assert_eq!(
            read(pb::VariableType::Money, &money, "zh-CN").unwrap(),
            "¥3.50"
        );
        assert!(read(pb::VariableType::Integer, &money, "zh-CN").is_err());
        let day = pb::TemplateValue {
            value: Some(pb::template_value::Value::DateValue(common::Date {
                year: 2026,
                month: 12,
                day: 5,
            })),
        };
        assert_eq!(
            read(pb::VariableType::Date, &day, "zh-CN").unwrap(),
            "2026年12月5日"
        );
        assert_eq!(
            read(pb::VariableType::Date, &day, "en").unwrap(),
            "5 December 2026"
        );
        let at = pb::TemplateValue {
            value: Some(pb::template_value::Value::TimestampValue(
                prost_types::Timestamp {
                    seconds: 1_764_894_600, // 2025-12-05T00:30:00Z
                    nanos: 0,
                },
            )),
        };
        assert_eq!(
            read(pb::VariableType::Timestamp, &at, "zh-CN").unwrap(),
            "2025年12月5日 08:30",
            "in the recipient's time zone"
        );
        let link = |url: &str| pb::TemplateValue {
            value: Some(pb::template_value::Value::StringValue(url.to_owned())),
        };
        assert!(
            read(
                pb::VariableType::Url,
                &link("https://terrace.example/x"),
                "en"
            )
            .is_ok()
        );
        assert!(read(pb::VariableType::Url, &link("javascript:alert(1)"), "en").is_err());
        let decimal = pb::TemplateValue {
            value: Some(pb::template_value::Value::DecimalValue("1,5".to_owned())),
        };
        assert!(read(pb::VariableType::Decimal, &decimal, "en").is_err());
    }
}
