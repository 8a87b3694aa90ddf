//! The platform's own texts for the notifications its rules make, per locale (zh-CN and en),
//! in MiniJinja as the contract's templates are. They are what a notification says until an
//! operator saves a template of the same key (the template store lands with the rest of the
//! notify issue); a locale without a text falls back to zh-CN.
//!
//! Rendering is strict: a variable a text uses but the rule did not give is an error, never an
//! empty gap in a message (a test renders every text with its rule's variables).

use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

/// The locale every text exists in, used when the recipient's has none.
pub const FALLBACK_LOCALE: &str = "zh-CN";

/// A text's title and body (Markdown), per locale.
#[derive(Debug, Clone, Copy)]
pub struct Text {
    pub key: &'static str,
    pub locale: &'static str,
    pub title: &'static str,
    pub body: &'static str,
}

const fn text(
    key: &'static str,
    locale: &'static str,
    title: &'static str,
    body: &'static str,
) -> Text {
    Text {
        key,
        locale,
        title,
        body,
    }
}

/// Every built-in text.
pub const TEXTS: &[Text] = &[
    text(
        "market.order.placed",
        "zh-CN",
        "新订单：{{ title }}",
        "{{ buyer }} 要买 {{ quantity }}，共 {{ total }}（{{ method }}）。订单号 {{ reference }}，请在 48 小时内接单或不接。",
    ),
    text(
        "market.order.placed",
        "en",
        "New order: {{ title }}",
        "{{ buyer }} wants {{ quantity }}, {{ total }} in all ({{ method }}). Order {{ reference }}: please accept or decline within 48 hours.",
    ),
    text(
        "market.order.accepted",
        "zh-CN",
        "{{ seller }} 接单了",
        "您的订单 {{ reference }}（{{ title }}，{{ quantity }}）卖家已接单，可以在订单里看到卖家的电话。",
    ),
    text(
        "market.order.accepted",
        "en",
        "{{ seller }} accepted your order",
        "Your order {{ reference }} ({{ title }}, {{ quantity }}) was accepted; the seller's phone is on the order.",
    ),
    text(
        "market.order.declined",
        "zh-CN",
        "订单没有被接：{{ title }}",
        "{{ seller }} 没接您的订单 {{ reference }}。原因：{{ reason }}",
    ),
    text(
        "market.order.declined",
        "en",
        "Order declined: {{ title }}",
        "{{ seller }} declined your order {{ reference }}. Reason: {{ reason }}",
    ),
    text(
        "market.order.cancelled",
        "zh-CN",
        "订单已取消：{{ title }}",
        "订单 {{ reference }}（{{ quantity }}）已被{{ by }}取消。原因：{{ reason }}",
    ),
    text(
        "market.order.cancelled",
        "en",
        "Order cancelled: {{ title }}",
        "Order {{ reference }} ({{ quantity }}) was cancelled by {{ by }}. Reason: {{ reason }}",
    ),
    text(
        "market.order.expired",
        "zh-CN",
        "订单已过期：{{ title }}",
        "订单 {{ reference }}（{{ quantity }}）48 小时内没有接单，已经过期，数量已退回。",
    ),
    text(
        "market.order.expired",
        "en",
        "Order expired: {{ title }}",
        "Order {{ reference }} ({{ quantity }}) was not answered within 48 hours and has expired; the quantity is back on sale.",
    ),
    text(
        "market.order.shipped",
        "zh-CN",
        "已发货：{{ title }}",
        "{{ seller }} 已经把订单 {{ reference }}（{{ quantity }}）发出。收到后请确认收货。",
    ),
    text(
        "market.order.shipped",
        "en",
        "Shipped: {{ title }}",
        "{{ seller }} shipped order {{ reference }} ({{ quantity }}). Please confirm receipt when it arrives.",
    ),
    text(
        "market.order.completed",
        "zh-CN",
        "订单完成：{{ title }}",
        "订单 {{ reference }}（{{ quantity }}，{{ total }}）已完成。",
    ),
    text(
        "market.order.completed",
        "en",
        "Order completed: {{ title }}",
        "Order {{ reference }} ({{ quantity }}, {{ total }}) is completed.",
    ),
    text(
        "market.order.no_show",
        "zh-CN",
        "卖家记录您没来取货",
        "订单 {{ reference }}（{{ title }}，{{ quantity }}）卖家记录您没有来取货，订单已结束。",
    ),
    text(
        "market.order.no_show",
        "en",
        "Marked as not collected",
        "The seller recorded that order {{ reference }} ({{ title }}, {{ quantity }}) was not collected; the order is closed.",
    ),
    text(
        "governance.request.status_changed",
        "zh-CN",
        "您的诉求 {{ reference }}：{{ status }}",
        "办理进度：{{ status }}。{% if note %}\n说明：{{ note }}{% endif %}",
    ),
    text(
        "governance.request.status_changed",
        "en",
        "Your request {{ reference }}: {{ status }}",
        "Progress: {{ status }}.{% if note %}\nNote: {{ note }}{% endif %}",
    ),
    text(
        "governance.request.escalated",
        "zh-CN",
        "您的诉求 {{ reference }} 已转上一级办理",
        "没有在时限内办完，已转交上一级（第 {{ level }} 级）督办。",
    ),
    text(
        "governance.request.escalated",
        "en",
        "Your request {{ reference }} went one level up",
        "It was not handled in time and is now with the level above (level {{ level }}).",
    ),
    text(
        "governance.request.note_added",
        "zh-CN",
        "您的诉求 {{ reference }} 有新回复",
        "{{ note }}",
    ),
    text(
        "governance.request.note_added",
        "en",
        "A reply on your request {{ reference }}",
        "{{ note }}",
    ),
];

/// The text of `key` in `locale`, else in [`FALLBACK_LOCALE`].
pub fn find(key: &str, locale: &str) -> Option<&'static Text> {
    let language = locale.split('-').next().unwrap_or(locale);
    TEXTS
        .iter()
        .find(|t| t.key == key && t.locale == locale)
        .or_else(|| {
            TEXTS
                .iter()
                .find(|t| t.key == key && t.locale.split('-').next() == Some(language))
        })
        .or_else(|| {
            TEXTS
                .iter()
                .find(|t| t.key == key && t.locale == FALLBACK_LOCALE)
        })
}

/// A text rendered: title and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub locale: &'static str,
    pub title: String,
    pub body: String,
}

/// Renders `key` in `locale` (or the fallback) with `vars`; an unknown key or a variable
/// missing from `vars` is an error.
pub fn render(key: &str, locale: &str, vars: &impl Serialize) -> anyhow::Result<Rendered> {
    let text = find(key, locale).ok_or_else(|| anyhow::anyhow!("no text for {key}"))?;
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // Plain text and Markdown, not HTML: nothing is escaped here (the inbox sanitizes).
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    let title = env.render_str(text.title, vars)?;
    let body = env.render_str(text.body, vars)?;
    Ok(Rendered {
        locale: text.locale,
        title,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_has_both_locales() {
        for text in TEXTS {
            for locale in ["zh-CN", "en"] {
                assert!(
                    TEXTS
                        .iter()
                        .any(|t| t.key == text.key && t.locale == locale),
                    "{} has no {locale} text",
                    text.key
                );
            }
        }
    }

    #[test]
    fn a_locale_falls_back_by_language_then_to_chinese() {
        assert_eq!(find("market.order.placed", "en-GB").unwrap().locale, "en");
        assert_eq!(find("market.order.placed", "ug").unwrap().locale, "zh-CN");
        assert!(find("no.such.key", "zh-CN").is_none());
    }

    #[test]
    fn a_missing_variable_is_an_error_not_a_gap() {
        let vars = serde_json::json!({ "title": "苹果" });
        let error = render("market.order.placed", "zh-CN", &vars).unwrap_err();
        assert!(error.to_string().contains("undefined"), "{error}");
    }
}
