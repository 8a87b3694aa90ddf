//! Errors in the caller's language.
//!
//! Services write their error messages and field violations in English, where the code that finds
//! the fault can say precisely what is wrong. A person reading them in the console or on a phone
//! may read only Chinese, so every error also carries its text in the caller's language
//! (`google.rpc.LocalizedMessage`, and `FieldViolation.localized_message` beside each field, as
//! AIP-193 asks), while `message` and `description` stay English for developers and logs.
//!
//! - **Which language**: the request's `Accept-Language` (the web apps send the language the
//!   person chose; browsers send theirs), negotiated among [`Locale`]s; English when none matches.
//!   [`LocaleLayer`] keeps it for the request's task, where [`crate::error`] reads it.
//! - **The catalog**: gettext's way — the English text is the message id. Most texts are fixed;
//!   texts with values in them (`at most 64 characters`, `area 330523 is outside your scope`) are
//!   written as templates with `{}` where a value goes (`{t}` where the value is itself a text to
//!   translate). A value that is itself a catalog entry (a
//!   duration, `the UUID of the user`) is translated too. A text the catalog lacks is answered in
//!   English only (a test makes the shared field policies produce their texts and checks each is
//!   in the catalog).

use std::sync::LazyLock;
use std::task::{Context, Poll};

use regex::Regex;

/// The languages Terrace answers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Locale {
    #[default]
    En,
    ZhCn,
}

impl Locale {
    /// The BCP 47 tag `LocalizedMessage.locale` carries.
    pub fn tag(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::ZhCn => "zh-CN",
        }
    }

    /// The best of Terrace's languages for an `Accept-Language` value: the first listed (by
    /// quality) whose primary language Terrace speaks; English if none.
    pub fn negotiate(accept_language: &str) -> Self {
        accept_language::parse(accept_language)
            .iter()
            .find_map(|tag| {
                let primary = tag.split(['-', '_']).next().unwrap_or_default();
                if primary.eq_ignore_ascii_case("zh") {
                    Some(Self::ZhCn)
                } else if primary.eq_ignore_ascii_case("en") {
                    Some(Self::En)
                } else {
                    None
                }
            })
            .unwrap_or_default()
    }
}

tokio::task_local! {
    static REQUEST_LOCALE: Locale;
}

/// The language of the request being handled (English outside a request).
pub fn current() -> Locale {
    REQUEST_LOCALE
        .try_with(|locale| *locale)
        .unwrap_or_default()
}

/// Runs `future` as a request in `locale` (what [`LocaleLayer`] does for each call).
pub async fn scope<F: Future>(locale: Locale, future: F) -> F::Output {
    REQUEST_LOCALE.scope(locale, future).await
}

/// `text` in `locale`, if the catalog has it (English is returned as it is).
pub fn translate(text: &str, locale: Locale) -> Option<String> {
    match locale {
        Locale::En => Some(text.to_owned()),
        Locale::ZhCn => ZH_CN.translate(text, 0),
    }
}

/// Keeps each request's negotiated [`Locale`] for the task that handles it.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocaleLayer;

impl<S> tower::Layer<S> for LocaleLayer {
    type Service = LocaleService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        LocaleService { inner }
    }
}

/// See [`LocaleLayer`].
#[derive(Debug, Clone)]
pub struct LocaleService<S> {
    inner: S,
}

impl<S, B> tower::Service<http::Request<B>> for LocaleService<S>
where
    S: tower::Service<http::Request<B>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = futures::future::BoxFuture<'static, Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let locale = request
            .headers()
            .get(http::header::ACCEPT_LANGUAGE)
            .and_then(|value| value.to_str().ok())
            .map(Locale::negotiate)
            .unwrap_or_default();
        Box::pin(REQUEST_LOCALE.scope(locale, self.inner.call(request)))
    }
}

/// A catalog: fixed texts, and templates whose `{}` stand for values. A value is kept as it is
/// (a number, a code, a list of codes) but must not be prose; `{t}` stands for a value that must
/// itself be in the catalog (a duration, `the UUID of the user`) — otherwise the template does not
/// apply, rather than answering half in English.
struct Catalog {
    exact: std::collections::HashMap<&'static str, &'static str>,
    /// In the order listed: a more specific template comes before a general one.
    templates: Vec<Template>,
}

struct Template {
    pattern: Regex,
    /// Per value: whether it must be translated.
    translated_values: Vec<bool>,
    text: &'static str,
}

/// A template's text between its slots, and per slot whether its value is translated (`{t}`).
fn split_slots(text: &str) -> (Vec<&str>, Vec<bool>) {
    let (mut pieces, mut translated) = (Vec::new(), Vec::new());
    let mut rest = text;
    loop {
        let next = [("{}", false), ("{t}", true)]
            .into_iter()
            .filter_map(|(slot, t)| rest.find(slot).map(|at| (at, slot.len(), t)))
            .min_by_key(|(at, ..)| *at);
        let Some((at, len, t)) = next else {
            pieces.push(rest);
            return (pieces, translated);
        };
        pieces.push(&rest[..at]);
        translated.push(t);
        rest = &rest[at + len..];
    }
}

impl Catalog {
    fn new(entries: &[(&'static str, &'static str)]) -> Self {
        let mut exact = std::collections::HashMap::new();
        let mut templates = Vec::new();
        for (english, translated) in entries {
            let (pieces, translated_values) = split_slots(english);
            if translated_values.is_empty() {
                exact.insert(*english, *translated);
                continue;
            }
            let pattern = pieces
                .into_iter()
                .map(regex::escape)
                .collect::<Vec<_>>()
                .join("(.+?)");
            // Escaped text and lazy groups always compile (a test checks every template is kept).
            if let Ok(pattern) = Regex::new(&format!("^{pattern}$")) {
                templates.push(Template {
                    pattern,
                    translated_values,
                    text: translated,
                });
            }
        }
        Self { exact, templates }
    }

    /// `depth` bounds the translation of values inside values.
    fn translate(&self, text: &str, depth: usize) -> Option<String> {
        if let Some(translated) = self.exact.get(text) {
            return Some((*translated).to_owned());
        }
        if depth > 2 {
            return None;
        }
        self.templates.iter().find_map(|template| {
            let captures = template.pattern.captures(text)?;
            let values = captures
                .iter()
                .skip(1)
                .flatten()
                .zip(&template.translated_values)
                .map(|(value, must_translate)| {
                    let value = value.as_str();
                    match self.translate(value, depth + 1) {
                        Some(translated) => Some(translated),
                        None if *must_translate || is_prose(value) => None,
                        None => Some(value.to_owned()),
                    }
                })
                .collect::<Option<Vec<_>>>()?;
            let (pieces, _) = split_slots(template.text);
            let mut out = String::new();
            for (i, piece) in pieces.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(values.get(i - 1).map_or("", String::as_str));
                }
                out.push_str(piece);
            }
            Some(out)
        })
    }
}

/// Words, not a value: a value is a number, a code or a list of them (`zh-CN, en`).
fn is_prose(value: &str) -> bool {
    value
        .split(", ")
        .any(|item| item.contains(char::is_whitespace))
}

static ZH_CN: LazyLock<Catalog> = LazyLock::new(|| Catalog::new(ZH_CN_ENTRIES));

/// English → 简体中文. Values keep their order: a template's `{}` are filled left to right.
const ZH_CN_ENTRIES: &[(&str, &str)] = &[
    // Field violations: what is wrong with one field.
    ("required", "必填"),
    (
        "required: a client-generated UUID that makes the call idempotent",
        "必填：由客户端生成的 UUID，保证同一请求只执行一次",
    ),
    (
        "required: a zh-CN text at least",
        "必填：至少要有中文（zh-CN）文本",
    ),
    (
        "required: at least one API scope",
        "必填：至少一个 API 权限范围",
    ),
    ("required: at least one area", "必填：至少一个地区"),
    (
        "required: at least one scope (no blanket consent)",
        "必填：至少一个授权范围（不能笼统授权）",
    ),
    (
        "required: name the fields to change",
        "必填：请指明要修改的字段",
    ),
    (
        "required: the area whose users to list",
        "必填：要查看哪个地区的人员",
    ),
    ("required: the id of the {t}", "必填：{t}的编号"),
    ("required, at most 64 characters", "必填，最多 64 个字符"),
    ("required for mTLS clients", "mTLS 客户端必填"),
    ("required: {t}", "必填：{t}"),
    ("at most one year after start_time", "最多比开始时间晚一年"),
    ("at most {} characters", "最多 {} 个字符"),
    ("at most {} scopes", "最多 {} 个权限范围"),
    ("at most {} areas", "最多 {} 个地区"),
    ("at most {t}", "最多 {t}"),
    ("{} days", "{} 天"),
    ("{} hours", "{} 小时"),
    ("{} minutes", "{} 分钟"),
    ("{} seconds", "{} 秒"),
    ("must be at least {} characters", "至少 {} 个字符"),
    ("must be at most {} characters", "最多 {} 个字符"),
    ("must not be one character repeated", "不能全是同一个字符"),
    (
        "must be a mobile number that can receive text messages",
        "必须是能接收短信的手机号码",
    ),
    (
        "not a phone number: use international form, e.g. +8613800138000",
        "不是电话号码：请用国际格式，例如 +8613800138000",
    ),
    (
        "not a valid phone number for its country",
        "不是该国家或地区的有效电话号码",
    ),
    ("too short to be a number", "太短，不是一个号码"),
    ("must not be your phone number", "不能是你自己的手机号码"),
    (
        "must be the {}-digit code from the text message",
        "必须是短信里的 {} 位验证码",
    ),
    ("wrong code; {} attempts left", "验证码不对，还可以试 {} 次"),
    ("must be after start_time", "必须晚于开始时间"),
    ("must be in the future", "必须是将来的时间"),
    ("must be positive", "必须大于零"),
    ("must not be negative", "不能是负数"),
    ("must not contain control characters", "不能包含控制字符"),
    (
        "must not contain Unicode noncharacters",
        "不能包含 Unicode 非字符",
    ),
    (
        "must be an IANA time zone such as Asia/Shanghai",
        "必须是 IANA 时区，例如 Asia/Shanghai",
    ),
    (
        "must be an ISO 4217 currency code such as CNY",
        "必须是 ISO 4217 货币代码，例如 CNY",
    ),
    (
        "must be an action such as role.granted",
        "必须是操作名称，例如 role.granted",
    ),
    (
        "must be an e-mail address such as name@example.com",
        "必须是电子邮件地址，例如 name@example.com",
    ),
    (
        "must be the 12-digit division code (000000000000 for the whole country)",
        "必须是 12 位行政区划代码（全国为 000000000000）",
    ),
    (
        "must be the UUID of the account whose session this is",
        "必须是此会话所属账号的 UUID",
    ),
    (
        "must be the certificate's SHA-256 fingerprint as 64 lower-case hex digits",
        "必须是证书的 SHA-256 指纹（64 位小写十六进制数字）",
    ),
    (
        "must be true when recording another villager's consent (in person)",
        "当面为村民登记授权时必须确认",
    ),
    (
        "must not be the villager who consents",
        "不能是授权的村民本人",
    ),
    ("must be one of {}", "必须是以下之一：{}"),
    ("must be {t}", "必须是{t}"),
    ("the UUID of the {t}", "{t}的 UUID"),
    (
        "does not match the level the code names",
        "与代码表示的行政级别不符",
    ),
    ("duplicate area", "地区重复"),
    ("duplicate scope", "权限范围重复"),
    ("duplicate", "重复"),
    ("not a BCP 47 language tag", "不是 BCP 47 语言标记"),
    ("not a client secret", "不是客户端密钥"),
    ("not a refresh token", "不是刷新令牌"),
    (
        "not a token from this list; start again with an empty token",
        "不是这个列表的翻页令牌，请从第一页重新开始",
    ),
    ("not a valid timestamp", "不是有效的时间"),
    (
        "only an official recording a villager's consent in person sets it",
        "只有当面为村民登记授权的干部才能设置",
    ),
    ("only for USER_STATUS_LOCKED", "只用于锁定状态"),
    (
        "only mTLS clients have a certificate",
        "只有 mTLS 客户端才有证书",
    ),
    (
        "an official recording a consent may not name themself as the helper",
        "登记授权的干部不能把自己设为协助人",
    ),
    ("too long", "太长"),
    ("too broad for its role", "超出该角色的范围"),
    ("unknown unit", "未知的单位"),
    ("unknown role {}", "未知的角色 {}"),
    ("unknown value {}; {t}", "未知的值 {}；{t}"),
    // What a value names, inside the texts above and below.
    ("user", "用户"),
    ("grant", "角色授予"),
    ("role grant", "角色授予"),
    ("agency client", "机构客户端"),
    ("consent", "授权"),
    ("division", "行政区划"),
    ("household", "户"),
    ("household number", "户号"),
    ("resident", "村民"),
    ("resident with national id", "持该身份证号的村民"),
    ("resident record of user", "用户的村民记录"),
    ("resident claim", "户籍认领"),
    ("claim", "认领"),
    (
        "current resident of that village with that name and ID number",
        "该村姓名和身份证号都相符的在册村民",
    ),
    ("village", "村"),
    ("target", "对象"),
    ("session", "会话"),
    ("your", "你的"),
    ("the helper's", "协助人的"),
    ("login attempts", "登录尝试"),
    ("text messages to this phone", "发往此手机的短信"),
    // Whole errors: why a call was refused.
    (
        "a helper cannot do this for a villager; the villager must do it themself",
        "协助人不能代办此事，需要村民本人操作",
    ),
    (
        "a higher-ranking official set this user's status; ask them",
        "此用户的状态是更高级别的干部设置的，请联系对方",
    ),
    (
        "agency clients are managed by county or platform admins acting for themselves",
        "机构客户端只能由县级或平台管理员本人管理",
    ),
    (
        "an area of this client lies outside the areas you administer",
        "此客户端有地区不在你管辖的范围内",
    ),
    (
        "an mTLS client has no secret to rotate",
        "mTLS 客户端没有可轮换的密钥",
    ),
    (
        "area {} is outside your scope",
        "地区 {} 不在你的管辖范围内",
    ),
    (
        "consents are for people; an agency or a job cannot give, see or withdraw them",
        "授权只属于个人，机构或后台任务不能授予、查看或撤回",
    ),
    (
        "listing users needs an official role (or identity.users:read for an agency)",
        "查看人员需要干部角色（机构需要 identity.users:read 权限范围）",
    ),
    (
        "log in again (within 10 minutes) to set your first password",
        "请重新登录（10 分钟内）后再设置第一个密码",
    ),
    (
        "managing agency clients requires role county_admin or platform_admin",
        "管理机构客户端需要县级管理员或平台管理员角色",
    ),
    (
        "no account for this phone; sign up first",
        "这个手机号还没有账号，请先注册",
    ),
    (
        "no code was requested for this phone; request one first",
        "这个手机号还没有获取验证码，请先获取",
    ),
    (
        "officials update the profiles of the users they registered; ask the user",
        "干部只能修改自己登记的用户资料，请联系用户本人",
    ),
    ("only a signed-in user can do this", "请先登录再操作"),
    (
        "only a signed-in user has a current account",
        "登录后才有当前账号",
    ),
    (
        "only an official of the villager's area may record their consent",
        "只有村民所在地区的干部才能登记其授权",
    ),
    (
        "registering users needs an official role (or identity.users:write for an agency)",
        "登记人员需要干部角色（机构需要 identity.users:write 权限范围）",
    ),
    ("requires api scope {}", "需要 API 权限范围 {}"),
    ("requires role {}", "需要角色 {}"),
    (
        "the code has expired; request a new one",
        "验证码已过期，请重新获取",
    ),
    (
        "the villager's account is locked or disabled",
        "该村民的账号已锁定或停用",
    ),
    (
        "this account is disabled; ask your village office",
        "此账号已停用，请联系村委会",
    ),
    (
        "this account is locked; ask your village office",
        "此账号已锁定，请联系村委会",
    ),
    ("this agency client is revoked", "此机构客户端已吊销"),
    (
        "this client may not act in area {}",
        "此客户端不能在地区 {} 操作",
    ),
    (
        "this client may not request scope {}",
        "此客户端不能申请权限范围 {}",
    ),
    (
        "this code was already used; request a new one",
        "此验证码已用过，请重新获取",
    ),
    ("this consent has already ended", "此授权已经结束"),
    ("this consent was already withdrawn", "此授权已经撤回"),
    ("this grant was already revoked", "此角色授予已经撤销"),
    ("this is already your phone number", "这已经是你的手机号码"),
    (
        "this request_id was already used for a different request; make a new one",
        "此 request_id 已用于另一个请求，请重新生成",
    ),
    (
        "this user holds a role of your rank or higher",
        "此用户拥有与你同级或更高的角色",
    ),
    (
        "too many wrong codes; request a new one",
        "验证码错误次数太多，请重新获取",
    ),
    (
        "you cannot change the status of your own account",
        "不能修改自己账号的状态",
    ),
    ("{t} account is locked or disabled", "{t}账号已锁定或停用"),
    (
        "{t} roles allow no helping: an official or digital-helper role is needed",
        "{t}角色不能协助他人：需要干部或数字协助员角色",
    ),
    (
        "too many wrong passwords; the account is locked for {} more minutes (a one-time code still works)",
        "密码错误次数太多，账号还要锁定 {} 分钟（仍可用短信验证码登录）",
    ),
    ("too many {t}; try again in {} s", "{t}太多，请 {} 秒后再试"),
    (
        "unknown client or wrong credentials",
        "客户端不存在或凭据错误",
    ),
    ("unknown refresh token", "无效的刷新令牌"),
    ("wrong current password", "当前密码不对"),
    ("wrong phone number or password", "手机号或密码不对"),
    (
        "a request with this request_id was being processed; retry",
        "相同 request_id 的请求正在处理，请重试",
    ),
    (
        "the service's database is unavailable; retry shortly",
        "服务的数据库暂时不可用，请稍后重试",
    ),
    ("internal error", "内部错误"),
    ("missing token", "没有登录令牌，请先登录"),
    ("refresh token has expired", "登录已过期，请重新登录"),
    ("the session has been revoked", "此次登录已结束，请重新登录"),
    (
        "refresh token was already used; the session has been revoked",
        "刷新令牌已被用过，此次登录已结束，请重新登录",
    ),
    (
        "the token's user no longer exists",
        "令牌对应的用户已不存在",
    ),
    ("agency client {} not found", "找不到机构客户端 {}"),
    ("role grant {} not found", "找不到角色授予 {}"),
    ("{t} {} not found", "找不到{t} {}"),
    ("{t} {} already exists", "{t} {} 已存在"),
    (
        "this {} request was already done and its answer carried a secret that is shown only once: {t}",
        "此 {} 请求已经办过，其结果含有只显示一次的机密信息：{t}",
    ),
    (
        "reveal again with a new request_id (each reveal is logged)",
        "请用新的 request_id 重新查看（每次查看都会记录）",
    ),
    // The village register.
    (
        "required: the village's 12-digit code",
        "必填：村的 12 位区划代码",
    ),
    (
        "must be a village's 12-digit code",
        "必须是村的 12 位区划代码",
    ),
    ("required: active or archived", "必填：正常或已归档"),
    (
        "required: active, away, moved out or deceased",
        "必填：在村、外出、迁出或已故",
    ),
    ("unknown value {}", "未知的值 {}"),
    (
        "must be a date between 1900 and today",
        "必须是 1900 年至今天之间的日期",
    ),
    ("not a real date", "不是有效的日期"),
    (
        "{} is output only and cannot be changed",
        "{} 由系统生成，不能修改",
    ),
    (
        "{} cannot be changed; name, gender, birth_date, relationship, phone_number, user_id, national_id, status, remarks or household_id can",
        "{} 不能修改；可以修改 name、gender、birth_date、relationship、phone_number、user_id、national_id、status、remarks 或 household_id",
    ),
    (
        "{} cannot be changed; household_number, address, head_resident_id or status can",
        "{} 不能修改；可以修改 household_number、address、head_resident_id 或 status",
    ),
    (
        "its birth date ({}) differs from birth_date ({})",
        "号码中的出生日期（{}）与出生日期（{}）不一致",
    ),
    (
        "the sex it records differs from gender",
        "号码中的性别与所填性别不一致",
    ),
    (
        "required unless household_id is given",
        "未指定 household_id 时必填",
    ),
    (
        "at least {} characters: the resident reads why their number was looked at",
        "至少 {} 个字：村民能看到查看其号码的原因",
    ),
    (
        "must be a current member of the household",
        "必须是本户的现有成员",
    ),
    (
        "must be a household of the same village (a move to another village is a new registration there)",
        "必须是同一村的户（迁往别村须在该村重新登记）",
    ),
    (
        "must be 18 characters: 17 digits and a check digit (0-9 or X)",
        "必须是 18 位：17 位数字加一位校验码（0-9 或 X）",
    ),
    (
        "the address code (first 6 digits) names no province",
        "地址码（前 6 位）不对应任何省份",
    ),
    (
        "the birth date (digits 7-14) is not a real date",
        "出生日期（第 7-14 位）不是有效日期",
    ),
    (
        "the check digit does not match (GB 11643): a digit was probably mistyped",
        "校验码不符（GB 11643）：可能有一位输错了",
    ),
    ("you do not govern this village", "你不管辖这个村"),
    ("you do not govern this area", "你不管辖这个地区"),
    (
        "this household is archived; register the resident in an active one",
        "该户已归档，请登记到正常的户中",
    ),
    ("the household moved to is archived", "要迁入的户已归档"),
    (
        "only an official of the village may reveal a national id",
        "只有本村干部可以查看完整身份证号",
    ),
    (
        "only an official of the village may erase a resident",
        "只有本村干部可以删除村民信息",
    ),
    (
        "only an official of the village may decide a claim",
        "只有本村干部可以审核认领",
    ),
    (
        "at most {} claims a day; try again tomorrow or ask your village official",
        "每天最多认领 {} 次，请明天再试或联系村干部",
    ),
    (
        "this record is linked to an account already; ask your village official",
        "这条记录已关联账号，请联系村干部",
    ),
    (
        "this record has no phone number to send a code to; ask your village official to link your account",
        "这条记录没有登记手机号，无法发送验证码，请联系村干部关联你的账号",
    ),
    ("this claim was proven already", "这次认领已验证过"),
    (
        "the record's phone changed after the code was sent; the villager must claim again",
        "验证码发出后记录上的手机号已更改，村民须重新认领",
    ),
    (
        "this claim is closed; make a new one",
        "这次认领已关闭，请重新认领",
    ),
    (
        "the code has expired; make a new claim",
        "验证码已过期，请重新认领",
    ),
    (
        "too many wrong codes; make a new claim",
        "验证码错误次数太多，请重新认领",
    ),
    (
        "the record is no longer of a current resident",
        "这条记录已不是在册村民",
    ),
    (
        "this claim is not waiting for an official's decision",
        "这次认领不在待审核状态",
    ),
    ("must be empty when confirming", "确认时须为空"),
    (
        "at least {} characters: the villager reads why their claim was refused",
        "至少 {} 个字：村民会看到认领被驳回的原因",
    ),
    (
        "must be a claim status (awaiting code, awaiting official, confirmed, refused, lapsed)",
        "须为认领状态（待验证、待审核、已确认、已驳回、已失效）",
    ),
    (
        "export again with a new request_id (each export is logged)",
        "请用新的 request_id 重新导出（每次导出都会记录）",
    ),
    (
        "no national id is recorded for this resident",
        "该村民没有登记身份证号",
    ),
    (
        "user {} is already linked to another current resident record",
        "用户 {} 已关联到另一条现有的村民记录",
    ),
    // Service requests: the catalogue of request types, areas' settings, the working calendar.
    ("at most {} fields", "最多 {} 个字段"),
    (
        "must be lower_snake_case: a lower-case letter, then letters, digits or _, at most 40 characters",
        "必须是小写下划线形式：以小写字母开头，后跟字母、数字或 _，最多 40 个字符",
    ),
    (
        "used by another field of this type",
        "已被本类型的另一个字段使用",
    ),
    (
        "only CHOICE and MULTI_CHOICE fields have options",
        "只有单选和多选字段有选项",
    ),
    (
        "a choice needs 1 to {} options",
        "选择字段需要 1 到 {} 个选项",
    ),
    (
        "used by another option of this field",
        "已被本字段的另一个选项使用",
    ),
    (
        "only TEXT fields have a maximum length",
        "只有文本字段有最大长度",
    ),
    ("must be 0 (2000) to {}", "必须是 0（即 2000）到 {}"),
    ("only TEXT fields have a pattern", "只有文本字段有格式"),
    (
        "not a valid regular expression (RE2 syntax)",
        "不是有效的正则表达式（RE2 语法）",
    ),
    ("only NUMBER fields have bounds", "只有数字字段有上下限"),
    (
        "must be a decimal number, e.g. 0 or 99.5",
        "必须是十进制数，例如 0 或 99.5",
    ),
    ("must not be below min_value", "不能小于 min_value"),
    (
        "only MULTI_CHOICE fields have max_choices",
        "只有多选字段有 max_choices",
    ),
    (
        "must be 0 (any number) up to the number of options",
        "必须是 0（不限）到选项个数之间",
    ),
    ("not a field of this request type", "不是此类诉求的字段"),
    (
        "does not have the form this field asks for",
        "格式不符合此字段的要求",
    ),
    (
        "must be a decimal number, e.g. 3 or 2.5",
        "必须是十进制数，例如 3 或 2.5",
    ),
    ("must be at least {}", "不能小于 {}"),
    ("must be at most {}", "不能大于 {}"),
    ("must be true or false", "必须是 true 或 false"),
    ("must be a date, YYYY-MM-DD", "必须是日期，格式 YYYY-MM-DD"),
    (
        "must be a date and time with its offset, e.g. 2026-12-04T09:30:00+08:00",
        "必须是带时区偏移的日期时间，例如 2026-12-04T09:30:00+08:00",
    ),
    ("not one of this field's options", "不是此字段的选项之一"),
    (
        "must be a JSON array of option values, e.g. [\"a\",\"b\"]",
        "必须是选项值的 JSON 数组，例如 [\"a\",\"b\"]",
    ),
    (
        "{} is not one of this field's options",
        "{} 不是此字段的选项之一",
    ),
    ("{} is picked twice", "{} 选了两次"),
    ("at most {} may be picked", "最多可选 {} 项"),
    ("this field has no type", "此字段没有类型"),
    (
        "TEXT, NUMBER, BOOLEAN, DATE, CHOICE, PHONE, MULTI_CHOICE or DATETIME",
        "文本、数字、是否、日期、单选、电话、多选或日期时间",
    ),
    (
        "must be 1 to 40 lower-case letters, digits, _ or -, starting with a letter or digit",
        "必须是 1 到 40 个小写字母、数字、_ 或 -，以字母或数字开头",
    ),
    (
        "ROLE_VILLAGE_OFFICIAL or ROLE_TOWNSHIP_OFFICIAL",
        "村干部（ROLE_VILLAGE_OFFICIAL）或乡镇干部（ROLE_TOWNSHIP_OFFICIAL）",
    ),
    ("must be 0 (none) to {}", "必须是 0（无）到 {}"),
    (
        "an SLA is in hours or in working days, not both",
        "办理时限按小时或按工作日计，不能两者都填",
    ),
    (
        "{} cannot be changed; name, description, group, fields, responsible_role, sla_hours, sla_working_days, active or public_listing can",
        "{} 不能修改；可以修改 name、description、group、fields、responsible_role、sla_hours、sla_working_days、active 或 public_listing",
    ),
    (
        "give village_code or defined_in, not both",
        "village_code 和 defined_in 只能给一个",
    ),
    (
        "required: the village whose types to list (or defined_in, an area)",
        "必填：要列出诉求类型的村（或 defined_in，一个地区）",
    ),
    (
        "request types are defined by township officials for their township and county admins for their county",
        "诉求类型由乡镇干部为本乡镇、县级管理员为本县设定",
    ),
    ("request type", "诉求类型"),
    (
        "{} cannot be changed; reopen_window_days, duplicate_radius_metres or duplicate_window_days can",
        "{} 不能修改；可以修改 reopen_window_days、duplicate_radius_metres 或 duplicate_window_days",
    ),
    (
        "must be {} to {} (or 0 to inherit)",
        "必须是 {} 到 {}（或 0 表示沿用上级）",
    ),
    (
        "an area's settings are set by its township officials or county admins",
        "地区的设置由乡镇干部或县级管理员设定",
    ),
    (
        "the working calendar is kept by platform admins",
        "工作日历由平台管理员维护",
    ),
    ("at most {} days", "最多 {} 天"),
    ("outside the range", "不在范围内"),
    ("given twice", "重复给出"),
    (
        "a working day on a weekday changes nothing: list only days that differ from the ordinary week",
        "工作日本来就上班：只列出与平常一周不同的日子",
    ),
    (
        "a day off on a weekend changes nothing: list only days that differ from the ordinary week",
        "周末本来就休息：只列出与平常一周不同的日子",
    ),
    ("must not be before start_date", "不能早于 start_date"),
    ("must be between -90 and 90", "必须在 -90 到 90 之间"),
    ("must be between -180 and 180", "必须在 -180 到 180 之间"),
    // Service requests.
    ("service request", "诉求"),
    ("photo", "照片"),
    ("at most {} photos", "最多 {} 张照片"),
    (
        "only a request filed on behalf of someone carries their consent",
        "只有代人提交的诉求才需要填写本人同意情况",
    ),
    (
        "required for someone without an account: the phone to answer them on",
        "没有账号的人必填：用于回复的电话",
    ),
    (
        "required for someone without an account",
        "没有账号的人必填",
    ),
    ("at most {} values a filter", "每个筛选条件最多 {} 个值"),
    (
        "required: a status of the workflow",
        "必填：办理流程中的一个状态",
    ),
    ("required: PUBLIC or INTERNAL", "必填：公开或内部"),
    (
        "must be ACKNOWLEDGED, IN_PROGRESS, RESOLVED, CLOSED or REJECTED (reopening and merging have their own RPCs)",
        "必须是已受理、办理中、已办结、已关闭或不予受理（重新打开与合并另有接口）",
    ),
    (
        "a rejection is explained to the requester: its note is public",
        "不予受理要向诉求人说明：说明必须公开",
    ),
    ("must be {} for this caller", "此调用方只能用 {}"),
    (
        "this request type no longer takes new requests",
        "此类诉求已停止受理",
    ),
    (
        "this request type is not offered in the village",
        "本村不受理此类诉求",
    ),
    (
        "the request's status changed meanwhile; read it again",
        "诉求状态已被他人更改，请重新读取",
    ),
    (
        "the request cannot move to that status from where it is",
        "诉求当前状态不能转到该状态",
    ),
    (
        "the request is handled by the officials of the area now responsible for it",
        "此诉求由当前负责地区的干部办理",
    ),
    ("a requester's notes are public", "诉求人的留言都是公开的"),
    (
        "the request was merged into another; write on that one",
        "此诉求已并入另一诉求，请在那一条上留言",
    ),
    (
        "officials list the requests of an area they govern; a villager lists their own",
        "干部可查看所辖地区的诉求；村民只能查看自己的诉求",
    ),
    (
        "a request is filed by a villager for themself, or on behalf of someone by an official of the village",
        "诉求由村民本人提交，或由本村干部代为提交",
    ),
    (
        "a villager files requests in a village where they hold a role",
        "村民只能在自己所在的村提交诉求",
    ),
    (
        "requests are filed on behalf of someone by the officials of their village",
        "代人提交诉求须由其所在村的干部办理",
    ),
    // Photos (`terrace-photos`).
    (
        "not a JPEG, PNG or WebP image",
        "不是 JPEG、PNG 或 WebP 图片",
    ),
    ("larger than {} MiB", "超过 {} MiB"),
    ("more than {} megapixels", "超过 {} 百万像素"),
    ("no such photo: upload it first", "没有这张照片：请先上传"),
    (
        "this photo is attached to something else already",
        "这张照片已用在别处",
    ),
    ("this photo is listed twice", "这张照片重复了"),
    (
        "log in to upload or attach photos",
        "请先登录，再上传或添加照片",
    ),
    (
        "only an open request is escalated",
        "只有办理中的诉求才能上报",
    ),
    (
        "the request is with its county already",
        "此诉求已在县级办理",
    ),
    (
        "only the requester rates or reopens a request",
        "只有诉求人才能评价或重新打开诉求",
    ),
    (
        "a request is rated once it is resolved",
        "诉求办结后才能评价",
    ),
    ("this request has been rated already", "此诉求已经评价过了"),
    (
        "only a resolved request is reopened",
        "只有已办结的诉求才能重新打开",
    ),
    (
        "the time to reopen this request has passed; file a new one",
        "已过重新打开的期限，请重新提交诉求",
    ),
    (
        "must be 1 (poor) to 5 (excellent)",
        "必须是 1（很差）到 5（很好）",
    ),
    (
        "must be {} to {} (or 0 for the area's setting)",
        "必须是 {} 到 {}（或 0 表示按地区设置）",
    ),
    ("a request is not merged into itself", "诉求不能并入自己"),
    (
        "a request that is closed, rejected or merged is not merged",
        "已关闭、不予受理或已合并的诉求不能合并",
    ),
    (
        "only requests of the same type in the same village are merged",
        "只有同村同类的诉求才能合并",
    ),
    (
        "{} cannot be changed; description, location, photos, field_values or priority can",
        "{} 不能修改；可以修改 description、location、photos、field_values 或 priority",
    ),
    ("LOW, NORMAL, HIGH or URGENT", "低、普通、高或紧急"),
    (
        "what a request says is edited by its requester; officials add notes",
        "诉求内容只能由诉求人修改；干部可以留言",
    ),
    (
        "a request is edited only until an official has taken it up",
        "诉求被受理后就不能再修改",
    ),
    (
        "the request's priority is set by the officials of its village",
        "诉求的优先级由所在村的干部设定",
    ),
    (
        "a request's priority is set by officials",
        "诉求的优先级由干部设定",
    ),
    (
        "the priority of a request no longer open stays as it was",
        "已办结的诉求不能再改优先级",
    ),
    (
        "a request that is closed, rejected or merged is not assigned",
        "已关闭、不予受理或已合并的诉求不能指派",
    ),
    (
        "a request is assigned to an official of the area responsible for it",
        "诉求只能指派给负责地区的干部",
    ),
    (
        "an area's figures are for its officials",
        "地区的统计只供本地区干部查看",
    ),
    (
        "officials of the area handle a request; its requester follows it and adds notes",
        "诉求由本地区干部办理；诉求人可以查看进度和留言",
    ),
    ("listing", "商品"),
    ("order", "订单"),
    ("category", "品类"),
    (
        "only the listing's seller can do this",
        "只有卖家本人可以这样做",
    ),
    (
        "listings are made by farmers (or their helpers)",
        "只有农户（或其帮办人）可以发布商品",
    ),
    (
        "only a farmer of a village can sell; ask the village for the farmer role",
        "只有村里的农户可以卖货；请向村里申请农户身份",
    ),
    (
        "you can sell only from a village where you are a farmer",
        "只能在您登记为农户的村发布商品",
    ),
    (
        "required: name the village the produce comes from",
        "必填：请选择农产品所在的村",
    ),
    ("a closed listing cannot change", "已下架的商品不能修改"),
    (
        "the unit cannot change once orders were placed",
        "已有订单后不能更换单位",
    ),
    (
        "the stock cannot go below what orders have reserved or bought",
        "库存不能少于订单已预留或已售出的数量",
    ),
    (
        "only an active or sold-out listing can be paused",
        "只有在售或已售罄的商品可以暂停",
    ),
    ("the listing is closed already", "商品已经下架"),
    (
        "only a draft, paused or expired listing can be published",
        "只有草稿、暂停或已过期的商品可以发布",
    ),
    (
        "nothing is available to sell: restock first",
        "没有可售数量：请先补货",
    ),
    (
        "the listing expired: give a new expiry to publish it again",
        "商品已过期：请设定新的到期时间再发布",
    ),
    (
        "listings are hidden by officials of their village, township or county",
        "商品只能由所在村、镇或县的干部隐藏",
    ),
    ("the listing is hidden already", "商品已被隐藏"),
    ("the listing is not hidden", "商品没有被隐藏"),
    (
        "officials list the listings of their own area",
        "干部只能查看本地区的商品",
    ),
    (
        "orders are placed by buyers and farmers",
        "只有采购商和农户可以下单",
    ),
    (
        "the price changed since you saw it",
        "价格已变动，请确认新价格",
    ),
    ("you cannot order your own listing", "不能购买自己的商品"),
    (
        "this listing was hidden by the village",
        "该商品已被村里隐藏",
    ),
    ("below the listing's minimum order", "低于起订量"),
    (
        "the seller does not offer this way of handing over",
        "卖家不提供这种交货方式",
    ),
    ("this listing is not for sale now", "该商品现在不在售"),
    ("not that much is available", "可售数量不足"),
    (
        "officials list the orders of their own area",
        "干部只能查看本地区的订单",
    ),
    (
        "only the buyer and the seller move an order",
        "只有买卖双方可以处理订单",
    ),
    ("only the seller does this", "只有卖家可以这样做"),
    ("only the buyer does this", "只有买家可以这样做"),
    (
        "the order was not accepted in time",
        "订单未在规定时间内被接受",
    ),
    (
        "a pickup order is picked up, not shipped",
        "自提订单应标记为已提货，而非已发货",
    ),
    (
        "a delivery order is shipped, not picked up",
        "配送订单应标记为已发货，而非已提货",
    ),
    (
        "the search index is rebuilt by platform admins",
        "搜索索引只能由平台管理员重建",
    ),
    (
        "a rebuild of the search index is running",
        "搜索索引正在重建",
    ),
    (
        "must be a category of produce, not a group such as 水果",
        "请选择具体农产品，而不是“水果”这样的大类",
    ),
    ("must be the unit of stocked", "必须与库存的单位相同"),
    ("must not be more than is stocked", "不能超过库存"),
    (
        "must be a mass such as UNIT_KILOGRAM",
        "必须是重量单位，如公斤",
    ),
    (
        "only for units without a fixed weight (a crate, a piece...)",
        "只适用于没有固定重量的单位（筐、个等）",
    ),
    (
        "letters, digits, - and _ only",
        "只能包含字母、数字、- 和 _",
    ),
    (
        "must be CNY: orders settle in CNY",
        "必须是人民币：订单以人民币结算",
    ),
    ("required for delivery", "配送时必填"),
    ("relevance needs a query", "按相关度排序需要搜索词"),
    ("min must not be above max", "最低价不能高于最高价"),
    (
        "must be an ISO 4217 currency code such as USD",
        "必须是 ISO 4217 货币代码，如 USD",
    ),
    (
        "must be a mass unit such as UNIT_KILOGRAM or UNIT_JIN",
        "必须是重量单位，如公斤或斤",
    ),
    ("name an area to list (officials)", "干部请选择要查看的地区"),
    // Notifications (notify): preferences, subscriptions, delivery records.
    (
        "security notices (one-time codes) cannot be turned off",
        "验证码等安全通知不能关闭",
    ),
    (
        "security notices (codes) cannot wait for a digest",
        "验证码等安全通知不能放进每日汇总",
    ),
    (
        "must be minutes after midnight, 0 to 1439",
        "必须是零点起的分钟数，0 到 1439",
    ),
    (
        "must be CHANNEL_SMS or CHANNEL_EMAIL",
        "必须是短信或电子邮件",
    ),
    (
        "this category and channel are set twice",
        "这个类别和渠道设置了两次",
    ),
    (
        "webhooks are an agency's, not a person's; one of CHANNEL_IN_APP, CHANNEL_SMS, CHANNEL_EMAIL",
        "Webhook 属于对接机构，不属于个人；请选应用内、短信或电子邮件",
    ),
    (
        "{} cannot be changed; one of {}",
        "{} 不能修改；可修改的是 {}",
    ),
    (
        "must be a market category id such as fruit.apple",
        "必须是集市品类编号，如 fruit.apple",
    ),
    ("required: what to follow", "必填：要关注什么"),
    (
        "at most {} subscriptions; delete one first",
        "最多关注 {} 项；请先取消一项",
    ),
    (
        "preferences belong to a person; sign in as one",
        "提醒设置属于个人，请以个人身份登录",
    ),
    (
        "subscriptions belong to a person; sign in as one",
        "关注属于个人，请以个人身份登录",
    ),
    (
        "an inbox's items belong to a person; sign in as one",
        "消息属于个人，请以个人身份登录",
    ),
    ("you do not govern that area", "您不管辖这个地区"),
    (
        "you may read your own deliveries, or those of areas you govern",
        "只能查看发给您本人的通知，或您管辖地区的通知记录",
    ),
    (
        "templates are saved and activated by platform admins",
        "模板只能由平台管理员保存和启用",
    ),
    ("templates are read by officials", "模板只有干部可以查看"),
    (
        "required: a template key such as market.order.placed",
        "必填：模板键，如 market.order.placed",
    ),
    (
        "must be lower-case dotted words, e.g. market.order.placed",
        "必须是用点分隔的小写单词，如 market.order.placed",
    ),
    (
        "must be lower_snake_case, e.g. order_total",
        "必须是小写字母和下划线，如 order_total",
    ),
    ("declared twice", "重复声明"),
    ("at most {} variables", "最多 {} 个变量"),
    ("at most {} texts", "最多 {} 条文本"),
    ("a second {} text for {}", "又一条 {} 文本（{}）重复了"),
    (
        "only in-app and e-mail texts have a title",
        "只有应用内消息和邮件有标题",
    ),
    (
        "the signature's name alone, without brackets: 【】 are added",
        "只填签名名称，不要括号：【】会自动加上",
    ),
    (
        "only SMS texts carry a provider template id and a signature",
        "只有短信文本才带服务商模板编号和签名",
    ),
    (
        "uses {}, which is not a declared variable",
        "用到了 {}，它不是已声明的变量",
    ),
    ("{} needs a {} text", "{} 需要一条 {} 文本"),
    (
        "{} is required but no text uses it",
        "{} 是必填变量，但没有文本用到它",
    ),
    (
        "the rule that sends {} supplies no {}; it supplies {}",
        "发送 {} 的规则不提供 {}；它提供 {}",
    ),
    ("the rule supplies {} as {}", "规则提供的 {} 是 {} 类型"),
    (
        "{} is sent as {}; its category is the rule's",
        "{} 按 {} 类别发送；类别由规则决定",
    ),
    (
        "whether {} is critical is the rule's",
        "{} 是否紧急由规则决定",
    ),
    (
        "the rule sends {} on {}: keep a text for it",
        "规则发送 {} 用的是 {}：请保留这条文本",
    ),
    ("{} cannot change; one of {}", "{} 不能修改；可修改的是 {}"),
    (
        "must be a version number or 0 for none",
        "必须是版本号，或填 0 表示不核对",
    ),
    (
        "must be a version number, or 0 for the active one",
        "必须是版本号，或填 0 表示当前启用的版本",
    ),
    (
        "required: the version to activate, from 1",
        "必填：要启用的版本号，从 1 开始",
    ),
    (
        "must be the start of a template key, e.g. market.",
        "必须是模板键的开头，如 market.",
    ),
    ("at most {} values", "最多 {} 个值"),
    ("not a declared variable", "不是已声明的变量"),
    ("required by the template", "模板要求必填"),
    ("required: a value", "必填：需要一个值"),
    ("does not fit a variable of type {}", "不符合 {} 类型的变量"),
    ("not a URL", "不是网址"),
    (
        "must be an https:// or terrace:// link",
        "必须是 https:// 或 terrace:// 链接",
    ),
    ("not a decimal number such as 12.5", "不是小数，如 12.5"),
    ("not a calendar date", "不是有效日期"),
    ("not an instant", "不是有效时刻"),
    ("the template has no {} text", "模板没有 {} 文本"),
    (
        "{} is at version {} now, not {}; read it again",
        "{} 现在是第 {} 版，不是第 {} 版；请重新读取",
    ),
    (
        "required: a BCP 47 language tag such as zh-CN",
        "必填：BCP 47 语言标记，如 zh-CN",
    ),
    ("template version", "模板版本"),
    ("template", "模板"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_language_terrace_speaks_wins() {
        assert_eq!(Locale::negotiate("zh-CN,zh;q=0.9,en;q=0.8"), Locale::ZhCn);
        assert_eq!(Locale::negotiate("en-US,zh-CN;q=0.5"), Locale::En);
        assert_eq!(Locale::negotiate("fr-FR, zh-Hans;q=0.7"), Locale::ZhCn);
        assert_eq!(Locale::negotiate("de, fr"), Locale::En);
        assert_eq!(Locale::negotiate(""), Locale::En);
    }

    #[test]
    fn fixed_texts_and_templates_translate_with_their_values() {
        let zh = |text: &str| translate(text, Locale::ZhCn);
        assert_eq!(zh("required").as_deref(), Some("必填"));
        assert_eq!(
            zh("at most 64 characters").as_deref(),
            Some("最多 64 个字符")
        );
        assert_eq!(
            zh("area 330523 is outside your scope").as_deref(),
            Some("地区 330523 不在你的管辖范围内")
        );
        // A value that is itself in the catalog is translated too.
        assert_eq!(zh("at most 7 days").as_deref(), Some("最多 7 天"));
        assert_eq!(
            zh("must be the UUID of the user").as_deref(),
            Some("必须是用户的 UUID")
        );
        assert_eq!(
            zh("too many login attempts; try again in 40 s").as_deref(),
            Some("登录尝试太多，请 40 秒后再试")
        );
        // The more specific template wins over the general one listed after it.
        assert_eq!(
            zh("required: the id of the grant").as_deref(),
            Some("必填：角色授予的编号")
        );
        assert_eq!(zh("something nobody wrote down"), None);
        // Prose where a value goes, or a value that must be translated but is not: English.
        assert_eq!(zh("must be between 0 and 10"), None);
        assert_eq!(zh("at most forever"), None);
        assert_eq!(
            zh("must be one of zh-CN, en").as_deref(),
            Some("必须是以下之一：zh-CN, en")
        );
        assert_eq!(
            translate("required", Locale::En).as_deref(),
            Some("required")
        );
    }

    #[test]
    fn every_template_fills_as_many_values_as_it_takes() {
        for (english, translated) in ZH_CN_ENTRIES {
            assert_eq!(
                split_slots(english).1,
                split_slots(translated).1,
                "{english:?} and {translated:?} take different values"
            );
        }
        let with_values = ZH_CN_ENTRIES
            .iter()
            .filter(|(english, _)| !split_slots(english).1.is_empty())
            .count();
        assert_eq!(
            ZH_CN.templates.len(),
            with_values,
            "a template was not kept"
        );
        let mut seen = std::collections::HashSet::new();
        for (english, _) in ZH_CN_ENTRIES {
            assert!(seen.insert(english), "{english:?} is listed twice");
        }
    }

    /// The shared field policies' texts, produced by bad input, are all in the catalog.
    #[test]
    fn every_text_of_the_field_policies_is_translated() {
        use crate::error::{Error, Violations};
        use crate::validate;
        let mut v = Violations::new();
        validate::request_id(&mut v, "request_id", "");
        validate::id(&mut v, "user_id", "", "user");
        validate::id(&mut v, "grant_id", "not-a-uuid", "grant");
        validate::text(&mut v, "name", "", validate::Text::required(8));
        validate::text(
            &mut v,
            "name",
            "a much longer name",
            validate::Text::required(8),
        );
        validate::text(&mut v, "name", "bell\u{7}", validate::Text::required(8));
        validate::page::<String>(
            &mut v,
            "page",
            Some(&terrace_proto::common::v1::PageRequest {
                page_size: -1,
                page_token: "garbage".into(),
            }),
        );
        validate::timestamp(
            &mut v,
            "at",
            Some(&prost_types::Timestamp {
                seconds: i64::MAX,
                nanos: 0,
            }),
        );
        validate::duration(
            &mut v,
            "ttl",
            Some(&prost_types::Duration {
                seconds: 30 * 86_400,
                nanos: 0,
            }),
            std::time::Duration::from_secs(7 * 86_400),
        );
        validate::admin_code(&mut v, "area", None);
        validate::admin_code(
            &mut v,
            "area",
            Some(&terrace_proto::common::v1::AdminCode {
                code: "33052".into(),
                level: 0,
            }),
        );
        validate::api_scopes(&mut v, "scopes", Vec::new());
        validate::locale(&mut v, "locale", "not a tag!");
        validate::time_zone(&mut v, "time_zone", "Mars/Olympus");
        let Err(Error::InvalidArgument(violations)) = v.finish() else {
            panic!("bad input must be refused");
        };
        assert!(violations.len() >= 14, "{violations:?}");
        let untranslated: Vec<_> = violations
            .iter()
            .filter(|violation| translate(&violation.description, Locale::ZhCn).is_none())
            .map(|violation| violation.description.as_str())
            .collect();
        assert!(
            untranslated.is_empty(),
            "not in the catalog: {untranslated:?}"
        );
    }

    #[tokio::test]
    async fn the_locale_of_a_request_is_kept_for_its_task() {
        assert_eq!(current(), Locale::En);
        assert_eq!(scope(Locale::ZhCn, async { current() }).await, Locale::ZhCn);
    }
}
