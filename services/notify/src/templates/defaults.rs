//! The platform's own texts for the notifications its rules make, per locale (zh-CN and en),
//! in MiniJinja as the contract's templates are, and what each rule supplies to them
//! ([`BUILT_IN`]). They are seeded into the template store as each key's first version (a
//! release that changes them adds a version, active while nobody chose another), so that an
//! operator sees and edits them like any template; rules render the store's active version and
//! fall back to these when it cannot render.

use std::collections::BTreeSet;

use terrace_proto::notify::v1 as pb;

use super::parse::Definition;
pub use super::render::FALLBACK_LOCALE;
use super::store::{Content, Variable};

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
    text(
        "governance.request.created.officials",
        "zh-CN",
        "新诉求 {{ reference }}",
        "辖区内有一件新诉求：{{ summary }}。请在时限内受理。",
    ),
    text(
        "governance.request.created.officials",
        "en",
        "New request {{ reference }}",
        "A new request in your area: {{ summary }}. Please acknowledge it in time.",
    ),
    text(
        "governance.request.escalated.officials",
        "zh-CN",
        "督办：诉求 {{ reference }}",
        "这件诉求下一级没有在时限内办完，已转到您这一级督办：{{ summary }}",
    ),
    text(
        "governance.request.escalated.officials",
        "en",
        "Escalated to you: request {{ reference }}",
        "This request was not handled in time below and came up to your level: {{ summary }}",
    ),
    text(
        "governance.request.assigned.officials",
        "zh-CN",
        "诉求 {{ reference }} 分派给您了",
        "请您办理：{{ summary }}",
    ),
    text(
        "governance.request.assigned.officials",
        "en",
        "Request {{ reference }} is assigned to you",
        "Please handle it: {{ summary }}",
    ),
];

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

/// A variable a rule supplies to its texts.
#[derive(Debug, Clone, Copy)]
pub struct Supplied {
    pub name: &'static str,
    pub kind: pb::VariableType,
    pub description: &'static str,
}

const fn supplied(
    name: &'static str,
    kind: pb::VariableType,
    description: &'static str,
) -> Supplied {
    Supplied {
        name,
        kind,
        description,
    }
}

/// A template the platform's rules send: its key, what it is, and what the rule supplies. A
/// saved version of it may use fewer of the variables, never others, and keeps its category,
/// its criticality and a text for every channel the rule sends on.
#[derive(Debug, Clone, Copy)]
pub struct BuiltIn {
    pub key: &'static str,
    pub description: &'static str,
    pub category: pb::NotificationCategory,
    pub critical: bool,
    pub supplies: &'static [Supplied],
}

use pb::NotificationCategory as Category;
use pb::VariableType as Type;

/// What the order rules supply (`rules::market`): words already in the reader's language.
const ORDER: &[Supplied] = &[
    supplied("title", Type::String, "the listing's title"),
    supplied(
        "quantity",
        Type::String,
        "the quantity ordered, with its unit (10 斤)",
    ),
    supplied(
        "total",
        Type::String,
        "the order's total, formatted (¥35.00)",
    ),
    supplied(
        "reference",
        Type::String,
        "the order's reference (M-20270301-0001)",
    ),
    supplied("buyer", Type::String, "the buyer's name"),
    supplied("seller", Type::String, "the seller's name"),
    supplied("method", Type::String, "pickup or delivery, in words"),
    supplied("reason", Type::String, "why it was declined or cancelled"),
    supplied(
        "by",
        Type::String,
        "who cancelled: the buyer or the seller, in words",
    ),
];

/// What the listing rule supplies (`rules::listings`).
const LISTING: &[Supplied] = &[
    supplied("title", Type::String, "the listing's title"),
    supplied(
        "price",
        Type::String,
        "the price per unit, formatted (¥3.50)",
    ),
    supplied(
        "quantity",
        Type::String,
        "the quantity on sale, with its unit",
    ),
    supplied("village", Type::String, "the village's name"),
    supplied("seller", Type::String, "the seller's name"),
];

/// What the service request rules supply (`rules::governance`).
const REQUEST: &[Supplied] = &[
    supplied("reference", Type::String, "the request's reference"),
    supplied("status", Type::String, "its new status, in words"),
    supplied(
        "note",
        Type::String,
        "the official's public note (may be empty)",
    ),
    supplied(
        "level",
        Type::Integer,
        "the level it went up to (1 township, 2 county)",
    ),
];

/// What the officials' request rules supply (`rules::officials`).
const OFFICIALS_REQUEST: &[Supplied] = &[
    supplied("reference", Type::String, "the request's reference"),
    supplied(
        "summary",
        Type::String,
        "the start of its description, on one line",
    ),
    supplied("level", Type::Integer, "how many times it was escalated"),
];

/// What the code rules supply (`rules::codes`).
const CODE: &[Supplied] = &[
    supplied("code", Type::String, "the one-time code"),
    supplied("purpose", Type::String, "what the code is for, in words"),
    supplied("minutes", Type::Integer, "minutes the code is valid"),
];

const fn built_in(
    key: &'static str,
    description: &'static str,
    category: Category,
    supplies: &'static [Supplied],
) -> BuiltIn {
    BuiltIn {
        key,
        description,
        category,
        critical: matches!(category, Category::Security),
        supplies,
    }
}

/// Every template the platform's rules send.
pub const BUILT_IN: &[BuiltIn] = &[
    built_in(
        "market.order.placed",
        "To the seller: a buyer ordered.",
        Category::Orders,
        ORDER,
    ),
    built_in(
        "market.order.accepted",
        "To the buyer: the seller accepted.",
        Category::Orders,
        ORDER,
    ),
    built_in(
        "market.order.declined",
        "To the buyer: the seller declined.",
        Category::Orders,
        ORDER,
    ),
    built_in(
        "market.order.cancelled",
        "To the other party: an order was cancelled.",
        Category::Orders,
        ORDER,
    ),
    built_in(
        "market.order.expired",
        "To both: nobody answered an order in time.",
        Category::Orders,
        ORDER,
    ),
    built_in(
        "market.order.shipped",
        "To the buyer: the seller shipped.",
        Category::Orders,
        ORDER,
    ),
    built_in(
        "market.order.completed",
        "To both: an order is completed.",
        Category::Orders,
        ORDER,
    ),
    built_in(
        "market.order.no_show",
        "To the buyer: marked as not collected.",
        Category::Orders,
        ORDER,
    ),
    built_in(
        "market.listing.followed",
        "To buyers following a category in an area: a new listing.",
        Category::Listings,
        LISTING,
    ),
    built_in(
        "governance.request.status_changed",
        "To the requester: their request changed status.",
        Category::ServiceRequests,
        REQUEST,
    ),
    built_in(
        "governance.request.escalated",
        "To the requester: their overdue request went one level up.",
        Category::ServiceRequests,
        REQUEST,
    ),
    built_in(
        "governance.request.note_added",
        "To the requester: an official replied.",
        Category::ServiceRequests,
        REQUEST,
    ),
    built_in(
        "governance.request.created.officials",
        "To the officials of the level responsible: a new request.",
        Category::ServiceRequests,
        OFFICIALS_REQUEST,
    ),
    built_in(
        "governance.request.escalated.officials",
        "To the officials a request went up to.",
        Category::ServiceRequests,
        OFFICIALS_REQUEST,
    ),
    built_in(
        "governance.request.assigned.officials",
        "To the official a request was assigned to.",
        Category::ServiceRequests,
        OFFICIALS_REQUEST,
    ),
    built_in(
        "identity.otp",
        "A one-time code to sign in or confirm a phone.",
        Category::Security,
        CODE,
    ),
    built_in(
        "governance.resident_claim.code",
        "A one-time code to link a village record to an account.",
        Category::Security,
        CODE,
    ),
];

/// The built-in template of `key`, if the platform's rules send one.
pub fn built_in_of(key: &str) -> Option<&'static BuiltIn> {
    BUILT_IN.iter().find(|b| b.key == key)
}

impl BuiltIn {
    /// The platform's version of this template: its in-app and SMS texts, declaring the
    /// supplied variables they use.
    pub fn definition(&self) -> Definition {
        let mut contents: Vec<Content> = TEXTS
            .iter()
            .filter(|t| t.key == self.key)
            .map(|t| Content {
                locale: t.locale.to_owned(),
                channel: pb::Channel::InApp as i32,
                subject: t.title.to_owned(),
                body: t.body.to_owned(),
                provider_template_id: String::new(),
                signature: String::new(),
            })
            .collect();
        contents.extend(
            SMS_TEXTS
                .iter()
                .filter(|t| t.key == self.key)
                .map(|t| Content {
                    locale: t.locale.to_owned(),
                    channel: pb::Channel::Sms as i32,
                    subject: String::new(),
                    body: t.body.to_owned(),
                    provider_template_id: t.template_code.to_owned(),
                    signature: String::new(),
                }),
        );
        let used: BTreeSet<String> = contents
            .iter()
            .flat_map(|c| [c.subject.as_str(), c.body.as_str()])
            .filter_map(|source| super::render::used_variables(source).ok())
            .flatten()
            .collect();
        Definition {
            description: self.description.to_owned(),
            category: self.category,
            critical: self.critical,
            variables: self
                .supplies
                .iter()
                .filter(|s| used.contains(s.name))
                .map(|s| Variable {
                    name: s.name.to_owned(),
                    kind: s.kind as i32,
                    required: true,
                    description: s.description.to_owned(),
                })
                .collect(),
            contents,
        }
    }

    /// Renders this template's `channel` text in `locale` (or its fallback) with `vars`;
    /// `None` when the rule sends it on another channel only.
    pub fn render(
        &self,
        channel: pb::Channel,
        locale: &str,
        vars: &impl serde::Serialize,
    ) -> Option<Result<super::render::Rendered, minijinja::Error>> {
        let definition = self.definition();
        super::render::pick(&definition.contents, channel, locale)
            .map(|content| super::render::content(content, vars))
    }

    /// The channels the rule sends this template on.
    pub fn channels(&self) -> BTreeSet<i32> {
        self.definition()
            .contents
            .iter()
            .map(|c| c.channel)
            .collect()
    }
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
    fn every_text_belongs_to_a_built_in_and_passes_the_checks_of_a_saved_template() {
        for key in TEXTS
            .iter()
            .map(|t| t.key)
            .chain(SMS_TEXTS.iter().map(|t| t.key))
        {
            assert!(
                built_in_of(key).is_some(),
                "{key} is in no rule's catalogue"
            );
        }
        for built_in in BUILT_IN {
            let definition = built_in.definition();
            assert!(
                !definition.contents.is_empty(),
                "{} has no text",
                built_in.key
            );
            let mut violations = terrace_platform::error::Violations::new();
            definition.check(&mut violations, "template", Some(built_in));
            assert!(
                violations.finish().is_ok(),
                "{}: {:?}",
                built_in.key,
                definition
            );
        }
    }

    #[test]
    fn a_code_fits_one_text_message_with_the_signature() {
        let vars = serde_json::json!({ "code": "123456", "purpose": "登录", "minutes": 5 });
        let otp = built_in_of("identity.otp").unwrap();
        let rendered = otp
            .render(pb::Channel::Sms, "zh-CN", &vars)
            .unwrap()
            .unwrap();
        let signed = crate::sms::signed("Terrace", &rendered.body);
        assert!(signed.starts_with("【Terrace】验证码 123456"), "{signed}");
        assert_eq!(crate::sms::segments::count(&signed).count, 1, "{signed}");
        assert!(
            otp.render(pb::Channel::InApp, "zh-CN", &vars).is_none(),
            "codes go by text only"
        );
    }

    #[test]
    fn a_missing_variable_is_an_error_not_a_gap() {
        let vars = serde_json::json!({ "title": "苹果" });
        let placed = built_in_of("market.order.placed").unwrap();
        let error = placed
            .render(pb::Channel::InApp, "zh-CN", &vars)
            .unwrap()
            .unwrap_err();
        assert!(error.to_string().contains("undefined"), "{error}");
    }
}
