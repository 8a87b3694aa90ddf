//! One policy per kind of request field, so that every RPC of every service judges a page size,
//! a timestamp or a piece of text the same way and says so in the same words.
//!
//! Each function reads one field of a protobuf request, records what is wrong with it in the
//! request's [`Violations`] under the field's path, and returns the typed value, or `None` when it
//! recorded a violation. A request's *parse* step calls one per field, so the caller hears about
//! every bad field at once, then builds its command with [`Violations::finish_with`]:
//!
//! ```ignore
//! let mut v = Violations::new();
//! let request_id = validate::request_id(&mut v, "request_id", &m.request_id);
//! let reason = validate::text(&mut v, "reason", &m.reason, Text::required(500));
//! v.finish_with(|| Some(Revoke { request_id: request_id?, reason: reason? }))
//! ```
//!
//! Optional fields return `Option<Option<T>>`: the outer `None` is "recorded a violation", the inner
//! one "not given".

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use terrace_proto::common::v1 as common;
use uuid::Uuid;

use crate::auth::AdminScope;
pub use crate::error::Violations;

/// The locales the product speaks; the first is the default.
pub const LOCALES: [&str; 2] = ["zh-CN", "en"];
/// The time zone of a user or place that did not choose one.
pub const DEFAULT_TIME_ZONE: &str = "Asia/Shanghai";

/// A client-generated idempotency key: a UUID, required.
pub fn request_id(violations: &mut Violations, field: &str, value: &str) -> Option<Uuid> {
    if value.is_empty() {
        violations.add(
            field,
            "required: a client-generated UUID that makes the call idempotent",
        );
        return None;
    }
    parse_uuid(violations, field, value, "a UUID")
}

/// The id of an existing resource (`what`: "user", "agency client"), required.
pub fn id(violations: &mut Violations, field: &str, value: &str, what: &str) -> Option<Uuid> {
    if value.is_empty() {
        violations.add(field, format!("required: the id of the {what}"));
        return None;
    }
    parse_uuid(violations, field, value, &format!("the UUID of the {what}"))
}

/// As [`id`], where empty means "not given".
pub fn optional_id(
    violations: &mut Violations,
    field: &str,
    value: &str,
    what: &str,
) -> Option<Option<Uuid>> {
    if value.is_empty() {
        return Some(None);
    }
    parse_uuid(violations, field, value, &format!("the UUID of the {what}")).map(Some)
}

fn parse_uuid(violations: &mut Violations, field: &str, value: &str, what: &str) -> Option<Uuid> {
    Uuid::parse_str(value)
        .map_err(|_| violations.add(field, format!("must be {what}")))
        .ok()
}

/// How a piece of text is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Text {
    /// Empty (after trimming) is refused.
    pub required: bool,
    /// The most characters (Unicode scalar values, after trimming): a Chinese character counts one.
    pub max_chars: usize,
    /// Line breaks and tabs are allowed (descriptions, notes); other control characters never are.
    pub multiline: bool,
}

impl Text {
    pub const fn required(max_chars: usize) -> Self {
        Self {
            required: true,
            max_chars,
            multiline: false,
        }
    }

    pub const fn optional(max_chars: usize) -> Self {
        Self {
            required: false,
            max_chars,
            multiline: false,
        }
    }

    pub const fn multiline(self) -> Self {
        Self {
            multiline: true,
            ..self
        }
    }
}

/// Text as people type it: surrounding white space trimmed, within a length, no control
/// characters. Returns the trimmed text (empty when optional and not given).
pub fn text(violations: &mut Violations, field: &str, value: &str, rule: Text) -> Option<String> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        if rule.required {
            violations.add(field, "required");
            return None;
        }
        return Some(String::new());
    }
    if trimmed.chars().count() > rule.max_chars {
        violations.add(field, format!("at most {} characters", rule.max_chars));
        return None;
    }
    let allowed = |c: char| rule.multiline && matches!(c, '\n' | '\r' | '\t');
    if trimmed.chars().any(|c| c.is_control() && !allowed(c)) {
        violations.add(field, "must not contain control characters");
        return None;
    }
    // Unicode's noncharacters (U+FFFE, U+FFFF and their like) are no text, and XML may not
    // carry them: one in a description would make every XML answer it appears in ill-formed.
    if trimmed.chars().any(noncharacter) {
        violations.add(field, "must not contain Unicode noncharacters");
        return None;
    }
    Some(trimmed.to_owned())
}

/// U+FDD0..=U+FDEF, and the last two code points of every plane (U+FFFE, U+FFFF, U+1FFFE, ...).
fn noncharacter(c: char) -> bool {
    let code = u32::from(c);
    (0xFDD0..=0xFDEF).contains(&code) || code & 0xFFFE == 0xFFFE
}

/// A page of a list, as every List RPC takes it: the size and where to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<C> {
    pub size: u64,
    /// The cursor of the last item of the previous page; `None` for the first page.
    pub after: Option<C>,
}

impl<C> Page<C> {
    /// How many rows to fetch: one more than a page, to learn whether another follows.
    pub fn fetch_limit(&self) -> u64 {
        self.size + 1
    }

    /// `rows` fetched with [`Page::fetch_limit`] cut to the page, with the cursor of the next
    /// page (`cursor` of the page's last row, given that page) when more rows follow.
    pub fn finish<T, N>(
        &self,
        mut rows: Vec<T>,
        cursor: impl FnOnce(&[T]) -> Option<N>,
    ) -> (Vec<T>, Option<N>) {
        let more = rows.len() as u64 > self.size;
        rows.truncate(usize::try_from(self.size).unwrap_or(usize::MAX));
        let next = if more { cursor(&rows) } else { None };
        (rows, next)
    }
}

/// Page sizes: 0 is the default, above the maximum is lowered to it, negative is refused
/// (`proto/terrace/common/v1/paging.proto`).
pub const DEFAULT_PAGE_SIZE: u64 = 50;
pub const MAX_PAGE_SIZE: u64 = 500;

/// The page sizes of one list: what 0 means and what larger sizes are lowered to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSizes {
    pub default: u64,
    pub max: u64,
}

/// Most lists' sizes ([`DEFAULT_PAGE_SIZE`], [`MAX_PAGE_SIZE`]).
pub const PAGE_SIZES: PageSizes = PageSizes {
    default: DEFAULT_PAGE_SIZE,
    max: MAX_PAGE_SIZE,
};

/// The `page` field of a List request. Tokens are opaque to clients: base64url of the JSON of the
/// list's own cursor type `C`, so a token of another list, or one edited by hand, does not parse.
pub fn page<C: DeserializeOwned>(
    violations: &mut Violations,
    field: &str,
    page: Option<&common::PageRequest>,
) -> Option<Page<C>> {
    sized_page(violations, field, page, PAGE_SIZES)
}

/// As [`page`], for a list whose contract gives other sizes (the audit log's 500 and 5000).
pub fn sized_page<C: DeserializeOwned>(
    violations: &mut Violations,
    field: &str,
    page: Option<&common::PageRequest>,
    sizes: PageSizes,
) -> Option<Page<C>> {
    let default = common::PageRequest::default();
    let page = page.unwrap_or(&default);
    // Both parts are judged, so that a request with a bad size and a bad token hears of both.
    let size = match u64::try_from(page.page_size) {
        Ok(0) => Some(sizes.default),
        Ok(size) => Some(size.min(sizes.max)),
        Err(_) => {
            violations.add(format!("{field}.page_size"), "must not be negative");
            None
        }
    };
    let after = if page.page_token.is_empty() {
        Some(None)
    } else {
        let cursor = URL_SAFE_NO_PAD
            .decode(&page.page_token)
            .ok()
            .and_then(|json| serde_json::from_slice::<C>(&json).ok());
        if cursor.is_none() {
            violations.add(
                format!("{field}.page_token"),
                "not a token from this list; start again with an empty token",
            );
        }
        cursor.map(Some)
    };
    Some(Page {
        size: size?,
        after: after?,
    })
}

/// The `page` of a List response: `next` is the cursor of the last item when more may follow.
pub fn page_response<C: Serialize>(next: Option<&C>) -> common::PageResponse {
    common::PageResponse {
        next_page_token: next
            .and_then(|cursor| serde_json::to_vec(cursor).ok())
            .map(|json| URL_SAFE_NO_PAD.encode(json))
            .unwrap_or_default(),
        total_size: None,
    }
}

/// A protobuf timestamp as a time; `None` inside when not given.
pub fn timestamp(
    violations: &mut Violations,
    field: &str,
    value: Option<&prost_types::Timestamp>,
) -> Option<Option<DateTime<Utc>>> {
    let Some(value) = value else {
        return Some(None);
    };
    let time = u32::try_from(value.nanos)
        .ok()
        .filter(|nanos| *nanos < 1_000_000_000)
        .and_then(|nanos| DateTime::from_timestamp(value.seconds, nanos));
    match time {
        Some(time) => Some(Some(time)),
        None => {
            violations.add(field, "not a valid timestamp");
            None
        }
    }
}

/// As [`timestamp`], optional, and when given it must lie after `now`.
pub fn future_timestamp(
    violations: &mut Violations,
    field: &str,
    value: Option<&prost_types::Timestamp>,
    now: DateTime<Utc>,
) -> Option<Option<DateTime<Utc>>> {
    match timestamp(violations, field, value)? {
        Some(time) if time <= now => {
            violations.add(field, "must be in the future");
            None
        }
        time => Some(time),
    }
}

/// A time as a protobuf timestamp.
pub fn to_timestamp(time: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: time.timestamp(),
        // Always below 1e9 (a leap second's 1e9.. is folded into the next second by chrono).
        nanos: i32::try_from(time.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

/// A timestamp that must be given.
pub fn required_timestamp(
    violations: &mut Violations,
    field: &str,
    value: Option<&prost_types::Timestamp>,
) -> Option<DateTime<Utc>> {
    if value.is_none() {
        violations.add(field, "required");
        return None;
    }
    timestamp(violations, field, value).flatten()
}

/// A protobuf duration, optional; when given, not negative and at most `max`.
pub fn duration(
    violations: &mut Violations,
    field: &str,
    value: Option<&prost_types::Duration>,
    max: Duration,
) -> Option<Option<Duration>> {
    let Some(value) = value else {
        return Some(None);
    };
    match Duration::try_from(*value) {
        Ok(duration) if duration <= max => Some(Some(duration)),
        Ok(_) => {
            violations.add(field, format!("at most {}", humanize(max)));
            None
        }
        Err(_) => {
            violations.add(field, "must not be negative");
            None
        }
    }
}

fn humanize(duration: Duration) -> String {
    let secs = duration.as_secs();
    match secs {
        s if s % 86_400 == 0 && s > 0 => format!("{} days", s / 86_400),
        s if s % 3600 == 0 && s > 0 => format!("{} hours", s / 3600),
        s if s % 60 == 0 && s > 0 => format!("{} minutes", s / 60),
        s => format!("{s} seconds"),
    }
}

/// An optional point on the earth (`terrace.common.v1.GeoPoint`, WGS84 degrees) as
/// `(latitude, longitude)`: both finite and in range.
pub fn geo_point(
    violations: &mut Violations,
    field: &str,
    value: Option<&common::GeoPoint>,
) -> Option<Option<(f64, f64)>> {
    let Some(point) = value else {
        return Some(None);
    };
    let before = violations.len();
    if !(point.latitude.is_finite() && (-90.0..=90.0).contains(&point.latitude)) {
        violations.add(format!("{field}.latitude"), "must be between -90 and 90");
    }
    if !(point.longitude.is_finite() && (-180.0..=180.0).contains(&point.longitude)) {
        violations.add(format!("{field}.longitude"), "must be between -180 and 180");
    }
    (violations.len() == before).then_some(Some((point.latitude, point.longitude)))
}

/// A required day (`terrace.common.v1.Date`): a real date of the years 1900..=9999.
pub fn date(
    violations: &mut Violations,
    field: &str,
    value: Option<&common::Date>,
) -> Option<chrono::NaiveDate> {
    let Some(date) = value.filter(|date| **date != common::Date::default()) else {
        violations.add(field, "required");
        return None;
    };
    let parsed = u32::try_from(date.month)
        .ok()
        .zip(u32::try_from(date.day).ok())
        .and_then(|(month, day)| chrono::NaiveDate::from_ymd_opt(date.year, month, day))
        .filter(|day| (1900..=9999).contains(&chrono::Datelike::year(day)));
    if parsed.is_none() {
        violations.add(field, "not a real date");
    }
    parsed
}

/// A required range of days (`terrace.common.v1.DateRange`), both ends included, the end not
/// before the start and the range at most `max_days` long.
pub fn date_range(
    violations: &mut Violations,
    field: &str,
    value: Option<&common::DateRange>,
    max_days: i64,
) -> Option<(chrono::NaiveDate, chrono::NaiveDate)> {
    let Some(range) = value else {
        violations.add(field, "required");
        return None;
    };
    let start = date(
        violations,
        &format!("{field}.start_date"),
        range.start_date.as_ref(),
    );
    let end = date(
        violations,
        &format!("{field}.end_date"),
        range.end_date.as_ref(),
    );
    let (start, end) = (start?, end?);
    if end < start {
        violations.add(format!("{field}.end_date"), "must not be before start_date");
        return None;
    }
    if (end - start).num_days() + 1 > max_days {
        violations.add(field, format!("at most {max_days} days"));
        return None;
    }
    Some((start, end))
}

/// The contract's form of a day.
pub fn to_date(day: chrono::NaiveDate) -> common::Date {
    use chrono::Datelike as _;
    common::Date {
        year: day.year(),
        month: day.month() as i32,
        day: day.day() as i32,
    }
}

/// An area given as the contract's 12-digit code with its level (the two must agree), required.
pub fn admin_code(
    violations: &mut Violations,
    field: &str,
    value: Option<&common::AdminCode>,
) -> Option<AdminScope> {
    let Some(value) = value else {
        violations.add(field, "required");
        return None;
    };
    match AdminScope::from_proto(value) {
        Ok(scope) => Some(scope),
        Err(AdminCodeError::Code(problem)) => {
            violations.add(format!("{field}.code"), problem);
            None
        }
        Err(AdminCodeError::Level) => {
            violations.add(
                format!("{field}.level"),
                "does not match the level the code names",
            );
            None
        }
    }
}

/// As [`admin_code`], optional.
pub fn optional_admin_code(
    violations: &mut Violations,
    field: &str,
    value: Option<&common::AdminCode>,
) -> Option<Option<AdminScope>> {
    match value {
        None => Some(None),
        Some(value) => admin_code(violations, field, Some(value)).map(Some),
    }
}

/// Why a contract `AdminCode` is not an area.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminCodeError {
    /// The code itself is malformed; says how.
    Code(String),
    /// The level disagrees with the code's padding.
    Level,
}

impl AdminScope {
    /// The area a contract `AdminCode` names.
    pub fn from_proto(value: &common::AdminCode) -> Result<Self, AdminCodeError> {
        if value.code.len() != 12 || !value.code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AdminCodeError::Code(
                "must be the 12-digit division code (000000000000 for the whole country)"
                    .to_owned(),
            ));
        }
        let scope =
            AdminScope::parse(&value.code).map_err(|e| AdminCodeError::Code(e.to_string()))?;
        if scope.to_proto().level != value.level {
            return Err(AdminCodeError::Level);
        }
        Ok(scope)
    }

    /// The contract's form: the prefix padded to 12 digits, with its level.
    pub fn to_proto(&self) -> common::AdminCode {
        use crate::auth::AdminLevel;
        let level = match self.level() {
            AdminLevel::Country => common::AdminLevel::Country,
            AdminLevel::Province => common::AdminLevel::Province,
            AdminLevel::City => common::AdminLevel::City,
            AdminLevel::County => common::AdminLevel::County,
            AdminLevel::Township => common::AdminLevel::Township,
            AdminLevel::Village => common::AdminLevel::Village,
        };
        common::AdminCode {
            code: format!("{:0<12}", self.as_str()),
            level: level as i32,
        }
    }
}

/// An enum field: known and not `UNSPECIFIED` (0). `what` lists the accepted values for the
/// message.
pub fn enum_value<E: TryFrom<i32>>(
    violations: &mut Violations,
    field: &str,
    value: i32,
    what: &str,
) -> Option<E> {
    if value == 0 {
        violations.add(field, format!("required: {what}"));
        return None;
    }
    E::try_from(value)
        .map_err(|_| violations.add(field, format!("unknown value {value}; {what}")))
        .ok()
}

/// A repeated enum field: each value as [`enum_value`] judges it, named by its index
/// (`statuses[2]`); `None` when any is refused.
pub fn enum_values<E: TryFrom<i32>>(
    violations: &mut Violations,
    field: &str,
    values: &[i32],
    what: &str,
) -> Option<Vec<E>> {
    let before = violations.len();
    let parsed: Vec<E> = values
        .iter()
        .enumerate()
        .filter_map(|(index, value)| {
            enum_value(violations, &format!("{field}[{index}]"), *value, what)
        })
        .collect();
    (violations.len() == before).then_some(parsed)
}

/// The domains an API scope may name: the services.
pub const API_DOMAINS: [&str; 5] = ["identity", "governance", "agri", "market", "notify"];
/// The longest API scope, in bytes (they are ASCII).
pub const MAX_API_SCOPE_BYTES: usize = 64;
/// The most API scopes one client or consent may hold: a token stays small.
pub const MAX_API_SCOPES: usize = 32;

const API_SCOPE_FORMAT: &str = "must be <domain>.<resource>:<read|write> with domain one of \
                                identity, governance, agri, market, notify and lower-case \
                                resources, e.g. governance.requests:write";

/// Whether `scope` is a well-formed API scope, `<domain>.<resource>[.<sub>]:<read|write>` (the
/// scopes of agency clients and consents, matched exactly by `Principal::require_api_scope`);
/// why not otherwise.
pub fn api_scope(scope: &str) -> Result<(), &'static str> {
    if scope.len() > MAX_API_SCOPE_BYTES {
        return Err("at most 64 characters");
    }
    let Some((path, access)) = scope.rsplit_once(':') else {
        return Err(API_SCOPE_FORMAT);
    };
    if access != "read" && access != "write" {
        return Err(API_SCOPE_FORMAT);
    }
    let mut segments = path.split('.');
    if !segments
        .next()
        .is_some_and(|domain| API_DOMAINS.contains(&domain))
    {
        return Err(API_SCOPE_FORMAT);
    }
    let mut resources = 0;
    for segment in segments {
        let mut chars = segment.chars();
        let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_lowercase());
        if !starts_with_letter || !chars.all(|c| c.is_ascii_lowercase() || c == '_') {
            return Err(API_SCOPE_FORMAT);
        }
        resources += 1;
    }
    if resources == 0 {
        return Err(API_SCOPE_FORMAT);
    }
    Ok(())
}

/// A list of API scopes: at least one, at most [`MAX_API_SCOPES`], each well formed
/// ([`api_scope`]), no repeats; bad ones are named `field[i]`.
pub fn api_scopes(
    violations: &mut Violations,
    field: &str,
    scopes: Vec<String>,
) -> Option<Vec<String>> {
    let before = violations.len();
    if scopes.is_empty() {
        violations.add(field, "required: at least one API scope");
        return None;
    }
    if scopes.len() > MAX_API_SCOPES {
        violations.add(field, format!("at most {MAX_API_SCOPES} scopes"));
    }
    for (i, scope) in scopes.iter().enumerate() {
        if let Err(problem) = api_scope(scope) {
            violations.add(format!("{field}[{i}]"), problem);
        } else if scopes[..i].contains(scope) {
            violations.add(format!("{field}[{i}]"), "duplicate scope");
        }
    }
    (violations.len() == before).then_some(scopes)
}

/// A village's 12-digit code, required.
pub fn village_code(
    violations: &mut Violations,
    field: &str,
    code: &str,
) -> Option<crate::auth::AdminScope> {
    use crate::auth::{AdminLevel, AdminScope};
    if code.is_empty() {
        violations.add(field, "required: the village's 12-digit code");
        return None;
    }
    match AdminScope::parse(code) {
        Ok(scope) if code.len() == 12 && scope.level() == AdminLevel::Village => Some(scope),
        Ok(_) => {
            violations.add(field, "must be a village's 12-digit code");
            None
        }
        Err(problem) => {
            violations.add(field, problem.to_string());
            None
        }
    }
}

/// An update's field mask, required: its paths sorted and without repeats.
pub fn update_mask(
    violations: &mut Violations,
    mask: Option<prost_types::FieldMask>,
) -> Vec<String> {
    let mut paths = mask.unwrap_or_default().paths;
    if paths.is_empty() {
        violations.add("update_mask", "required: name the fields to change");
    }
    paths.sort();
    paths.dedup();
    paths
}

/// A locale the product speaks (`zh-CN` or `en`); empty is the default, `zh-CN`.
pub fn locale(violations: &mut Violations, field: &str, value: &str) -> Option<String> {
    if value.is_empty() {
        return Some(LOCALES[0].to_owned());
    }
    if LOCALES.contains(&value) {
        Some(value.to_owned())
    } else {
        violations.add(field, format!("must be one of {}", LOCALES.join(", ")));
        None
    }
}

/// A BCP 47 language tag (`zh-CN`, `en`, `ug`), required, in its canonical spelling
/// (`EN-gb` reads as `en-GB`).
pub fn language_tag(violations: &mut Violations, field: &str, value: &str) -> Option<String> {
    if value.is_empty() {
        violations.add(field, "required: a BCP 47 language tag such as zh-CN");
        return None;
    }
    match icu_locale_core::LanguageIdentifier::try_from_str(value) {
        Ok(tag) => Some(tag.to_string()),
        Err(_) => {
            violations.add(field, "not a BCP 47 language tag");
            None
        }
    }
}

/// An IANA time zone (`Asia/Shanghai`); empty is the default.
pub fn time_zone(violations: &mut Violations, field: &str, value: &str) -> Option<String> {
    if value.is_empty() {
        return Some(DEFAULT_TIME_ZONE.to_owned());
    }
    match value.parse::<chrono_tz::Tz>() {
        Ok(zone) => Some(zone.name().to_owned()),
        Err(_) => {
            violations.add(field, "must be an IANA time zone such as Asia/Shanghai");
            None
        }
    }
}

/// An exact amount of money: minor units of an ISO 4217 currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Money {
    pub amount_minor: i64,
    pub currency: iso_currency::Currency,
}

impl Money {
    pub fn to_proto(self) -> common::Money {
        common::Money {
            amount_minor: self.amount_minor,
            currency_code: self.currency.code().to_owned(),
        }
    }
}

/// Which amounts a money field takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sign {
    /// Above zero: a price.
    Positive,
    /// Zero or above: a fee that may be waived.
    NotNegative,
    /// Any: a balance, a refund.
    Any,
}

impl Sign {
    fn admits(self, value: i64) -> bool {
        match self {
            Sign::Positive => value > 0,
            Sign::NotNegative => value >= 0,
            Sign::Any => true,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Sign::Positive => "must be positive",
            Sign::NotNegative => "must not be negative",
            Sign::Any => "",
        }
    }
}

/// A money field, required: a known currency and an amount of the allowed sign.
pub fn money(
    violations: &mut Violations,
    field: &str,
    value: Option<&common::Money>,
    sign: Sign,
) -> Option<Money> {
    let Some(value) = value else {
        violations.add(field, "required");
        return None;
    };
    let currency = iso_currency::Currency::from_code(&value.currency_code);
    if currency.is_none() {
        violations.add(
            format!("{field}.currency_code"),
            "must be an ISO 4217 currency code such as CNY",
        );
    }
    if !sign.admits(value.amount_minor) {
        violations.add(format!("{field}.amount_minor"), sign.describe());
        return None;
    }
    Some(Money {
        amount_minor: value.amount_minor,
        currency: currency?,
    })
}

/// An exact amount of something, in thousandths of a known unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantity {
    pub value_milli: i64,
    pub unit: common::Unit,
}

impl Quantity {
    pub fn to_proto(self) -> common::Quantity {
        common::Quantity {
            value_milli: self.value_milli,
            unit: self.unit as i32,
        }
    }
}

/// A quantity field, required: a known unit and an amount of the allowed sign.
pub fn quantity(
    violations: &mut Violations,
    field: &str,
    value: Option<&common::Quantity>,
    sign: Sign,
) -> Option<Quantity> {
    let Some(value) = value else {
        violations.add(field, "required");
        return None;
    };
    let unit = enum_value::<common::Unit>(
        violations,
        &format!("{field}.unit"),
        value.unit,
        "a unit such as UNIT_KILOGRAM or UNIT_JIN",
    );
    if !sign.admits(value.value_milli) {
        violations.add(format!("{field}.value_milli"), sign.describe());
        return None;
    }
    Some(Quantity {
        value_milli: value.value_milli,
        unit: unit?,
    })
}

/// Text in several languages keyed by BCP 47 tag (`zh-CN`, `en`, `ug`...): every tag well formed,
/// every text judged by `rule`, and `zh-CN` present when `rule.required`. Empty texts count as
/// absent and are dropped.
pub fn localized_text(
    violations: &mut Violations,
    field: &str,
    value: Option<&common::LocalizedText>,
    rule: Text,
) -> Option<common::LocalizedText> {
    let default = common::LocalizedText::default();
    let value = value.unwrap_or(&default);
    let before = violations.len();
    let mut translations = std::collections::BTreeMap::new();
    for (tag, text_value) in &value.translations {
        let path = format!("{field}.translations[{tag:?}]");
        if icu_locale_core::LanguageIdentifier::try_from_str(tag).is_err() {
            violations.add(&path, "not a BCP 47 language tag");
            continue;
        }
        if let Some(text) = text(
            violations,
            &path,
            text_value,
            Text::optional(rule.max_chars),
        ) && !text.is_empty()
        {
            if !rule.multiline && text.contains(['\n', '\r', '\t']) {
                violations.add(&path, "must not contain control characters");
                continue;
            }
            translations.insert(tag.clone(), text);
        }
    }
    if rule.required && !translations.contains_key(LOCALES[0]) {
        violations.add(
            format!("{field}.translations"),
            "required: a zh-CN text at least",
        );
    }
    (violations.len() == before).then_some(common::LocalizedText { translations })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_fetched_one_over_is_cut_and_says_where_the_next_starts() {
        let page: Page<u32> = Page {
            size: 3,
            after: None,
        };
        assert_eq!(page.fetch_limit(), 4);
        let (rows, next) = page.finish(vec![1, 2, 3, 4], |rows| rows.last().copied());
        assert_eq!((rows, next), (vec![1, 2, 3], Some(3)));
        let (rows, next) = page.finish(vec![1, 2, 3], |rows| rows.last().copied());
        assert_eq!((rows, next), (vec![1, 2, 3], None));
    }
    use crate::error::{Error, FieldViolation};

    /// The violations recorded, as (field, description).
    fn recorded(violations: Violations) -> Vec<(String, String)> {
        match violations.finish() {
            Ok(()) => Vec::new(),
            Err(Error::InvalidArgument(list)) => list
                .into_iter()
                .map(|FieldViolation { field, description }| (field, description))
                .collect(),
            Err(other) => panic!("unexpected {other:?}"),
        }
    }

    fn one<T>(check: impl FnOnce(&mut Violations) -> Option<T>) -> (Option<T>, Vec<String>) {
        let mut v = Violations::new();
        let value = check(&mut v);
        let fields = recorded(v).into_iter().map(|(field, _)| field).collect();
        (value, fields)
    }

    #[test]
    fn ids() {
        let given = Uuid::now_v7();
        assert_eq!(
            one(|v| request_id(v, "request_id", &given.to_string())).0,
            Some(given)
        );
        for bad in ["", "not-a-uuid", "123"] {
            assert_eq!(
                one(|v| request_id(v, "request_id", bad)),
                (None, vec!["request_id".to_owned()])
            );
        }
        let mut v = Violations::new();
        assert!(id(&mut v, "user_id", "", "user").is_none());
        assert!(id(&mut v, "grant_id", "x", "grant").is_none());
        assert_eq!(optional_id(&mut v, "a", "", "user"), Some(None));
        assert_eq!(
            recorded(v),
            [
                (
                    "user_id".to_owned(),
                    "required: the id of the user".to_owned()
                ),
                (
                    "grant_id".to_owned(),
                    "must be the UUID of the grant".to_owned()
                )
            ]
        );
    }

    #[test]
    fn text_policy() {
        let cases: &[(&str, Text, Option<&str>)] = &[
            ("  王秀英 ", Text::required(3), Some("王秀英")),
            ("王秀英王", Text::required(3), None),
            ("   ", Text::required(10), None),
            ("", Text::optional(10), Some("")),
            ("a\u{0}b", Text::optional(10), None),
            ("a\nb", Text::optional(10), None),
            ("a\nb", Text::optional(10).multiline(), Some("a\nb")),
            ("a\u{7}b", Text::optional(10).multiline(), None),
            ("水井\u{FFFF}", Text::optional(10), None),
            ("水井\u{FFFE}", Text::optional(10), None),
            ("\u{FDD0}", Text::optional(10), None),
            ("\u{10FFFF}", Text::optional(10), None),
            // Private use and the replacement character are text.
            (
                "\u{E000}\u{FFFD}",
                Text::optional(10),
                Some("\u{E000}\u{FFFD}"),
            ),
        ];
        for (input, rule, expected) in cases {
            let (value, fields) = one(|v| text(v, "f", input, *rule));
            assert_eq!(value.as_deref(), *expected, "{input:?} {rule:?}");
            assert_eq!(fields.is_empty(), expected.is_some());
        }
    }

    #[test]
    fn days_are_real_and_of_the_years_1900_to_9999() {
        let day = |year, month, day| common::Date { year, month, day };
        let cases = [
            (day(2027, 2, 28), true),
            (day(2027, 2, 29), false),
            (day(1899, 12, 31), false),
            (day(9999, 12, 31), true),
            (day(10000, 1, 1), false),
            (day(262_142, 12, 31), false),
        ];
        for (given, real) in cases {
            let (value, fields) = one(|v| date(v, "f", Some(&given)));
            assert_eq!(value.is_some(), real, "{given:?}");
            assert_eq!(fields.is_empty(), real);
        }
    }

    #[test]
    fn api_scopes_follow_the_documented_format() {
        for good in [
            "governance.requests:write",
            "agri.statistics:read",
            "market.price_reports:read",
            "identity.users.grants:read",
        ] {
            assert_eq!(api_scope(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "governance:read",
            "governance.requests",
            "governance.requests:admin",
            "Governance.requests:read",
            "weather.forecasts:read",
            "governance.Requests:read",
            "governance.requests :read",
            "governance..requests:read",
            "governance.1requests:read",
            "governance.requests:read:write",
            "governance.requests-x:read",
            "governance.requests:read governance.requests:write",
        ] {
            assert!(api_scope(bad).is_err(), "{bad:?}");
        }
        let long = format!("agri.{}:read", "a".repeat(60));
        assert_eq!(api_scope(&long), Err("at most 64 characters"));
        let scopes = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            one(|v| api_scopes(v, "s", scopes(&["agri.plots:read", "agri.plots:read", "x"]))).1,
            ["s[1]", "s[2]"]
        );
        assert_eq!(one(|v| api_scopes(v, "s", Vec::new())).1, ["s"]);
    }

    #[test]
    fn page_policy() {
        let request = |size, token: &str| common::PageRequest {
            page_size: size,
            page_token: token.to_owned(),
        };
        let (first, _) = one(|v| page::<Uuid>(v, "page", None));
        assert_eq!(
            first,
            Some(Page {
                size: 50,
                after: None
            })
        );
        assert_eq!(
            one(|v| page::<Uuid>(v, "page", Some(&request(10_000, ""))))
                .0
                .map(|p| p.size),
            Some(500)
        );
        assert_eq!(
            one(|v| page::<Uuid>(v, "page", Some(&request(-1, "")))).1,
            ["page.page_size"]
        );
        // A list with its own sizes: 0 is its default, larger sizes are lowered to its maximum.
        let audit = PageSizes {
            default: 500,
            max: 5000,
        };
        for (asked, got) in [(0, 500), (20, 20), (4_999, 4_999), (100_000, 5000)] {
            assert_eq!(
                one(|v| sized_page::<u64>(v, "page", Some(&request(asked, "")), audit))
                    .0
                    .map(|p| p.size),
                Some(got),
                "{asked}"
            );
        }
        // A token round-trips; someone else's does not parse.
        let last = Uuid::now_v7();
        let token = page_response(Some(&last)).next_page_token;
        assert_eq!(
            one(|v| page::<Uuid>(v, "page", Some(&request(5, &token))))
                .0
                .and_then(|p| p.after),
            Some(last)
        );
        let other = page_response(Some(&("2026-12-01", 7))).next_page_token;
        for bad in [other.as_str(), "%%%", &last.to_string()] {
            assert_eq!(
                one(|v| page::<Uuid>(v, "page", Some(&request(5, bad)))).1,
                ["page.page_token"],
                "{bad:?}"
            );
        }
        assert_eq!(page_response::<Uuid>(None).next_page_token, "");
        // Both parts bad: both said at once.
        assert_eq!(
            one(|v| page::<Uuid>(v, "page", Some(&request(-1, "%%%")))).1,
            ["page.page_size", "page.page_token"]
        );
    }

    #[test]
    fn timestamps_and_durations() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let ts = |seconds, nanos| prost_types::Timestamp { seconds, nanos };
        assert_eq!(
            one(|v| timestamp(v, "t", Some(&ts(1_800_000_000, 5)))).0,
            Some(Some(DateTime::from_timestamp(1_800_000_000, 5).unwrap()))
        );
        assert_eq!(one(|v| timestamp(v, "t", None)).0, Some(None));
        for (seconds, nanos) in [(0, -1), (0, 1_000_000_000), (i64::MAX, 0)] {
            assert_eq!(
                one(|v| timestamp(v, "t", Some(&ts(seconds, nanos)))).1,
                ["t"]
            );
        }
        assert_eq!(
            one(|v| future_timestamp(v, "t", Some(&ts(1_800_000_000, 0)), now)).1,
            ["t"]
        );
        assert!(
            one(|v| future_timestamp(v, "t", Some(&ts(1_800_000_001, 0)), now))
                .0
                .is_some()
        );
        assert_eq!(to_timestamp(now), ts(1_800_000_000, 0));

        let d = |seconds, nanos| prost_types::Duration { seconds, nanos };
        let week = Duration::from_secs(7 * 86_400);
        assert_eq!(
            one(|v| duration(v, "d", Some(&d(60, 0)), week)).0,
            Some(Some(Duration::from_secs(60)))
        );
        let mut v = Violations::new();
        assert!(duration(&mut v, "d", Some(&d(-1, 0)), week).is_none());
        assert!(duration(&mut v, "e", Some(&d(8 * 86_400, 0)), week).is_none());
        assert_eq!(
            recorded(v),
            [
                ("d".to_owned(), "must not be negative".to_owned()),
                ("e".to_owned(), "at most 7 days".to_owned())
            ]
        );
    }

    #[test]
    fn admin_codes() {
        let code = |code: &str, level: common::AdminLevel| common::AdminCode {
            code: code.to_owned(),
            level: level as i32,
        };
        let village = one(|v| {
            admin_code(
                v,
                "area",
                Some(&code("110101001001", common::AdminLevel::Village)),
            )
        })
        .0
        .unwrap();
        assert_eq!(village.as_str(), "110101001001");
        assert_eq!(
            village.to_proto(),
            code("110101001001", common::AdminLevel::Village)
        );
        let country = one(|v| {
            admin_code(
                v,
                "area",
                Some(&code("000000000000", common::AdminLevel::Country)),
            )
        })
        .0
        .unwrap();
        assert_eq!(country, AdminScope::country());
        assert_eq!(
            one(|v| admin_code(v, "area", Some(&code("110101", common::AdminLevel::County)))).1,
            ["area.code"]
        );
        assert_eq!(
            one(|v| admin_code(
                v,
                "area",
                Some(&code("110101000000", common::AdminLevel::Village))
            ))
            .1,
            ["area.level"]
        );
        assert_eq!(one(|v| admin_code(v, "area", None)).1, ["area"]);
        assert_eq!(one(|v| optional_admin_code(v, "area", None)).0, Some(None));
    }

    #[test]
    fn money_and_quantities() {
        let cny = |amount_minor| common::Money {
            amount_minor,
            currency_code: "CNY".to_owned(),
        };
        assert_eq!(
            one(|v| money(v, "price", Some(&cny(350)), Sign::Positive))
                .0
                .map(|m| (m.amount_minor, m.currency.code())),
            Some((350, "CNY"))
        );
        assert_eq!(
            one(|v| money(v, "price", Some(&cny(0)), Sign::Positive)).1,
            ["price.amount_minor"]
        );
        assert!(
            one(|v| money(v, "fee", Some(&cny(0)), Sign::NotNegative))
                .0
                .is_some()
        );
        assert!(
            one(|v| money(v, "refund", Some(&cny(-5)), Sign::Any))
                .0
                .is_some()
        );
        let bad = common::Money {
            amount_minor: -1,
            currency_code: "cny".to_owned(),
        };
        assert_eq!(
            one(|v| money(v, "price", Some(&bad), Sign::Positive)).1,
            ["price.currency_code", "price.amount_minor"]
        );

        let jin = common::Quantity {
            value_milli: 200_000,
            unit: common::Unit::Jin as i32,
        };
        assert_eq!(
            one(|v| quantity(v, "q", Some(&jin), Sign::Positive))
                .0
                .map(|q| q.unit),
            Some(common::Unit::Jin)
        );
        let unknown = common::Quantity {
            value_milli: 0,
            unit: 999,
        };
        assert_eq!(
            one(|v| quantity(v, "q", Some(&unknown), Sign::Positive)).1,
            ["q.unit", "q.value_milli"]
        );
    }

    #[test]
    fn enums_locales_and_zones() {
        assert_eq!(
            one(|v| enum_value::<common::Unit>(v, "unit", 4, "a unit")).0,
            Some(common::Unit::Jin)
        );
        assert_eq!(
            one(|v| enum_value::<common::Unit>(v, "unit", 0, "a unit")).1,
            ["unit"]
        );
        assert_eq!(one(|v| locale(v, "locale", "")).0.as_deref(), Some("zh-CN"));
        assert_eq!(one(|v| locale(v, "locale", "fr")).1, ["locale"]);
        assert_eq!(
            one(|v| time_zone(v, "tz", "Asia/Urumqi")).0.as_deref(),
            Some("Asia/Urumqi")
        );
        assert_eq!(one(|v| time_zone(v, "tz", "Mars/Base")).1, ["tz"]);
    }

    #[test]
    fn localized_texts() {
        let texts = |pairs: &[(&str, &str)]| common::LocalizedText {
            translations: pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        };
        let ok = one(|v| {
            localized_text(
                v,
                "title",
                Some(&texts(&[("zh-CN", " 苹果 "), ("en", "Apples"), ("ug", "")])),
                Text::required(10),
            )
        })
        .0
        .unwrap();
        assert_eq!(ok.translations.len(), 2, "empty texts are dropped");
        assert_eq!(ok.translations["zh-CN"], "苹果");
        assert_eq!(
            one(|v| localized_text(
                v,
                "title",
                Some(&texts(&[("en", "Apples")])),
                Text::required(10)
            ))
            .1,
            ["title.translations"]
        );
        assert_eq!(
            one(|v| localized_text(
                v,
                "title",
                Some(&texts(&[("zh-CN", "苹果"), ("not a tag!", "x")])),
                Text::required(10)
            ))
            .1,
            ["title.translations[\"not a tag!\"]"]
        );
    }

    #[test]
    fn finish_with_builds_the_command_or_names_every_field() {
        let parse = |id: &str, reason: &str| {
            let mut v = Violations::new();
            let id = request_id(&mut v, "request_id", id);
            let reason = text(&mut v, "reason", reason, Text::required(5));
            v.finish_with(|| Some((id?, reason?)))
        };
        let given = Uuid::now_v7();
        assert_eq!(
            parse(&given.to_string(), "why").unwrap(),
            (given, "why".to_owned())
        );
        let Err(Error::InvalidArgument(list)) = parse("", "") else {
            panic!("expected violations")
        };
        assert_eq!(list.len(), 2);
    }
}
