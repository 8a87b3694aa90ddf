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
        "market.listing.followed",
        "zh-CN",
        "新上架：{{ title }}",
        "{{ village }}的{{ seller }}上架了{{ title }}，{{ quantity }}，每单位 {{ price }}。",
    ),
    text(
        "market.listing.followed",
        "en",
        "Just listed: {{ title }}",
        "{{ seller }} of {{ village }} listed {{ title }}: {{ quantity }} at {{ price }} a unit.",
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

/// A text's key and locale: what [`find_in`] looks texts up by.
pub trait Localized {
    fn key(&self) -> &str;
    fn locale(&self) -> &'static str;
}

impl Localized for Text {
    fn key(&self) -> &str {
        self.key
    }
    fn locale(&self) -> &'static str {
        self.locale
    }
}

impl Localized for SmsText {
    fn key(&self) -> &str {
        self.key
    }
    fn locale(&self) -> &'static str {
        self.locale
    }
}

/// The text of `key` in `locale`, else in the locale's language, else in [`FALLBACK_LOCALE`].
pub fn find_in<'a, T: Localized>(texts: &'a [T], key: &str, locale: &str) -> Option<&'a T> {
    let language = locale.split('-').next().unwrap_or(locale);
    let of_key = || texts.iter().filter(move |t| t.key() == key);
    of_key()
        .find(|t| t.locale() == locale)
        .or_else(|| of_key().find(|t| t.locale().split('-').next() == Some(language)))
        .or_else(|| of_key().find(|t| t.locale() == FALLBACK_LOCALE))
}

/// The in-app text of `key` in `locale`, else its fallback.
pub fn find(key: &str, locale: &str) -> Option<&'static Text> {
    find_in(TEXTS, key, locale)
}

/// A text message: its body, and the template id the SMS provider approved for it (carriers in
/// China carry only registered templates). The signature is the deployment's
/// (`services.notify.sms.signature`).
#[derive(Debug, Clone, Copy)]
pub struct SmsText {
    pub key: &'static str,
    pub locale: &'static str,
    pub template_code: &'static str,
    pub body: &'static str,
}

const fn sms(
    key: &'static str,
    locale: &'static str,
    template_code: &'static str,
    body: &'static str,
) -> SmsText {
    SmsText {
        key,
        locale,
        template_code,
        body,
    }
}

/// Every built-in text message. Codes read `验证码 123456` / `code 123456` so that a person (and
/// a test) finds them at a glance; everything fits one UCS-2 segment with the signature where it
/// can.
pub const SMS_TEXTS: &[SmsText] = &[
    sms(
        "identity.otp",
        "zh-CN",
        "SMS_TERRACE_OTP",
        "验证码 {{ code }}，用于{{ purpose }}，{{ minutes }} 分钟内有效。请勿告诉他人。",
    ),
    sms(
        "identity.otp",
        "en",
        "SMS_TERRACE_OTP_EN",
        "Terrace code {{ code }} to {{ purpose }}, valid for {{ minutes }} minutes. Never share it.",
    ),
    sms(
        "governance.resident_claim.code",
        "zh-CN",
        "SMS_TERRACE_CLAIM",
        "验证码 {{ code }}，用于把本号码的村民档案关联到 Terrace 账户，{{ minutes }} 分钟内有效。不是您本人操作请忽略。",
    ),
    sms(
        "governance.resident_claim.code",
        "en",
        "SMS_TERRACE_CLAIM_EN",
        "Terrace code {{ code }} to link the village record of this phone to an account, valid for {{ minutes }} minutes. Not you? Ignore it.",
    ),
    sms(
        "market.order.placed",
        "zh-CN",
        "SMS_TERRACE_ORDER_PLACED",
        "{{ buyer }}下单 {{ quantity }}{{ title }}，共 {{ total }}（{{ reference }}），请 48 小时内接单。",
    ),
    sms(
        "market.order.placed",
        "en",
        "SMS_TERRACE_ORDER_PLACED_EN",
        "New order {{ reference }}: {{ buyer }} wants {{ quantity }} of {{ title }}, {{ total }}. Open Terrace to accept within 48 hours.",
    ),
    sms(
        "market.order.accepted",
        "zh-CN",
        "SMS_TERRACE_ORDER_ACCEPTED",
        "您的订单 {{ reference }}（{{ title }}）{{ seller }} 已接单，卖家电话在订单里。",
    ),
    sms(
        "market.order.accepted",
        "en",
        "SMS_TERRACE_ORDER_ACCEPTED_EN",
        "{{ seller }} accepted your order {{ reference }} ({{ title }}); their phone is on the order.",
    ),
    sms(
        "market.order.declined",
        "zh-CN",
        "SMS_TERRACE_ORDER_DECLINED",
        "您的订单 {{ reference }}（{{ title }}）{{ seller }} 没有接。原因：{{ reason }}",
    ),
    sms(
        "market.order.declined",
        "en",
        "SMS_TERRACE_ORDER_DECLINED_EN",
        "{{ seller }} declined your order {{ reference }} ({{ title }}). Reason: {{ reason }}",
    ),
    sms(
        "governance.request.status_changed",
        "zh-CN",
        "SMS_TERRACE_REQUEST_STATUS",
        "您的诉求 {{ reference }}：{{ status }}。{% if note %}{{ note }}{% endif %}",
    ),
    sms(
        "governance.request.status_changed",
        "en",
        "SMS_TERRACE_REQUEST_STATUS_EN",
        "Your request {{ reference }}: {{ status }}.{% if note %} {{ note }}{% endif %}",
    ),
    sms(
        "governance.request.escalated",
        "zh-CN",
        "SMS_TERRACE_REQUEST_ESCALATED",
        "您的诉求 {{ reference }} 没有在时限内办完，已转上一级督办。",
    ),
    sms(
        "governance.request.escalated",
        "en",
        "SMS_TERRACE_REQUEST_ESCALATED_EN",
        "Your request {{ reference }} was not handled in time and went one level up.",
    ),
    sms(
        "governance.request.note_added",
        "zh-CN",
        "SMS_TERRACE_REQUEST_REPLY",
        "您的诉求 {{ reference }} 有新回复：{{ note }}",
    ),
    sms(
        "governance.request.note_added",
        "en",
        "SMS_TERRACE_REQUEST_REPLY_EN",
        "A reply on your request {{ reference }}: {{ note }}",
    ),
];

/// A text message rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedSms {
    pub locale: &'static str,
    pub template_code: &'static str,
    pub body: String,
}

/// Renders the text message of `key` in `locale` (or its fallback) with `vars`; `None` when the
/// key has no text message (the notification goes in-app only).
pub fn render_sms(
    key: &str,
    locale: &str,
    vars: &impl Serialize,
) -> anyhow::Result<Option<RenderedSms>> {
    let Some(text) = find_in(SMS_TEXTS, key, locale) else {
        return Ok(None);
    };
    Ok(Some(RenderedSms {
        locale: text.locale,
        template_code: text.template_code,
        body: environment().render_str(text.body, vars)?,
    }))
}

/// Strict rendering of plain text and Markdown: a missing variable is an error, nothing is
/// escaped (the inbox sanitizes; SMS is plain text).
fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env
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
    let env = environment();
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
    fn every_text_message_has_both_locales_and_a_template_id() {
        for text in SMS_TEXTS {
            assert!(!text.template_code.is_empty(), "{}", text.key);
            for locale in ["zh-CN", "en"] {
                assert!(
                    SMS_TEXTS
                        .iter()
                        .any(|t| t.key == text.key && t.locale == locale),
                    "{} has no {locale} text message",
                    text.key
                );
            }
        }
    }

    #[test]
    fn a_code_fits_one_text_message_with_the_signature() {
        let vars = serde_json::json!({ "code": "123456", "purpose": "登录", "minutes": 5 });
        let text = render_sms("identity.otp", "zh-CN", &vars).unwrap().unwrap();
        let signed = crate::sms::signed("Terrace", &text.body);
        assert!(signed.starts_with("【Terrace】验证码 123456"), "{signed}");
        assert_eq!(crate::sms::segments::count(&signed).count, 1, "{signed}");
        assert!(
            render_sms("market.order.shipped", "zh-CN", &vars)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn a_missing_variable_is_an_error_not_a_gap() {
        let vars = serde_json::json!({ "title": "苹果" });
        let error = render("market.order.placed", "zh-CN", &vars).unwrap_err();
        assert!(error.to_string().contains("undefined"), "{error}");
    }
}
