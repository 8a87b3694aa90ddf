//! The extra fields of a request type: their definitions, checked when a type is saved, and the
//! values a service request gives them, checked against the definitions when it is filed.
//!
//! Values travel as strings (`ServiceRequest.field_values`, and Open311's attributes); each type
//! has one written form, stored as given once checked, except a multi-choice's JSON array, which
//! is stored in its canonical form (compact, in the order given).

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr as _;

use rust_decimal::Decimal;
use terrace_platform::error::Violations;
use terrace_platform::phone::PhoneNumber;
use terrace_platform::validate::{self, Text};
use terrace_proto::governance::v1 as pb;
use terrace_proto::governance::v1::RequestFieldType as Kind;

/// The most extra fields a type may have: a form a villager fills in on a phone.
pub const MAX_FIELDS: usize = 30;
/// The most options of a choice.
pub const MAX_OPTIONS: usize = 50;
/// A text field's longest value when its definition names none.
pub const DEFAULT_TEXT_CHARS: usize = 2000;
/// The longest a definition may allow.
pub const MAX_TEXT_CHARS: i32 = 4000;
const MAX_LABEL_CHARS: usize = 100;
const MAX_HELP_CHARS: usize = 500;
const MAX_OPTION_CHARS: usize = 64;
const MAX_PATTERN_CHARS: usize = 500;
/// Compiled patterns are bounded so that a type's pattern cannot make filing expensive.
const PATTERN_SIZE_LIMIT: usize = 256 * 1024;
/// The longest a number's written form may be.
const MAX_NUMBER_CHARS: usize = 32;

const KINDS: &str = "TEXT, NUMBER, BOOLEAN, DATE, CHOICE, PHONE, MULTI_CHOICE or DATETIME";

/// Checks a type's field definitions under `field` (`request_type.fields`): every violation at
/// its own path. Returns them trimmed as they are stored.
pub fn definitions(
    violations: &mut Violations,
    field: &str,
    definitions: &[pb::RequestFieldDefinition],
) -> Option<Vec<pb::RequestFieldDefinition>> {
    let before = violations.len();
    if definitions.len() > MAX_FIELDS {
        violations.add(field, format!("at most {MAX_FIELDS} fields"));
        return None;
    }
    let mut keys = BTreeSet::new();
    let mut checked = Vec::with_capacity(definitions.len());
    for (index, definition) in definitions.iter().enumerate() {
        let path = format!("{field}[{index}]");
        let key = definition.key.trim();
        if !is_key(key) {
            violations.add(
                format!("{path}.key"),
                "must be lower_snake_case: a lower-case letter, then letters, digits or _, at most 40 characters",
            );
        } else if !keys.insert(key.to_owned()) {
            violations.add(format!("{path}.key"), "used by another field of this type");
        }
        let label = validate::localized_text(
            violations,
            &format!("{path}.label"),
            definition.label.as_ref(),
            Text::required(MAX_LABEL_CHARS),
        );
        let help = validate::localized_text(
            violations,
            &format!("{path}.help"),
            definition.help.as_ref(),
            Text::optional(MAX_HELP_CHARS),
        );
        let kind = validate::enum_value::<Kind>(
            violations,
            &format!("{path}.type"),
            definition.r#type,
            KINDS,
        );
        let options = kind.and_then(|kind| options(violations, &path, kind, &definition.options));
        if let Some(kind) = kind {
            limits(violations, &path, kind, definition, options.as_deref());
        }
        checked.push(pb::RequestFieldDefinition {
            key: key.to_owned(),
            label,
            help: help.filter(|help| !help.translations.is_empty()),
            options: options.unwrap_or_default(),
            pattern: definition.pattern.trim().to_owned(),
            min_value: definition.min_value.trim().to_owned(),
            max_value: definition.max_value.trim().to_owned(),
            ..definition.clone()
        });
    }
    (violations.len() == before).then_some(checked)
}

fn is_key(key: &str) -> bool {
    let mut chars = key.chars();
    key.len() <= 40
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// A choice's options (1..=50, values unique, labels with a zh-CN text); none for other kinds.
fn options(
    violations: &mut Violations,
    path: &str,
    kind: Kind,
    options: &[pb::RequestFieldOption],
) -> Option<Vec<pb::RequestFieldOption>> {
    let choice = matches!(kind, Kind::Choice | Kind::MultiChoice);
    if !choice {
        if !options.is_empty() {
            violations.add(
                format!("{path}.options"),
                "only CHOICE and MULTI_CHOICE fields have options",
            );
            return None;
        }
        return Some(Vec::new());
    }
    if options.is_empty() || options.len() > MAX_OPTIONS {
        violations.add(
            format!("{path}.options"),
            format!("a choice needs 1 to {MAX_OPTIONS} options"),
        );
        return None;
    }
    let before = violations.len();
    let mut values = BTreeSet::new();
    let mut checked = Vec::with_capacity(options.len());
    for (index, option) in options.iter().enumerate() {
        let value = validate::text(
            violations,
            &format!("{path}.options[{index}].value"),
            &option.value,
            Text::required(MAX_OPTION_CHARS),
        );
        if let Some(value) = &value
            && !values.insert(value.clone())
        {
            violations.add(
                format!("{path}.options[{index}].value"),
                "used by another option of this field",
            );
        }
        let label = validate::localized_text(
            violations,
            &format!("{path}.options[{index}].label"),
            option.label.as_ref(),
            Text::required(MAX_LABEL_CHARS),
        );
        checked.push(pb::RequestFieldOption {
            value: value.unwrap_or_default(),
            label,
        });
    }
    (violations.len() == before).then_some(checked)
}

/// The settings that belong to one kind only (max_length and pattern to TEXT, bounds to NUMBER,
/// max_choices to MULTI_CHOICE), each checked for its kind and refused on the others.
fn limits(
    violations: &mut Violations,
    path: &str,
    kind: Kind,
    definition: &pb::RequestFieldDefinition,
    options: Option<&[pb::RequestFieldOption]>,
) {
    let text = kind == Kind::Text;
    if definition.max_length != 0 && !text {
        violations.add(
            format!("{path}.max_length"),
            "only TEXT fields have a maximum length",
        );
    } else if !(0..=MAX_TEXT_CHARS).contains(&definition.max_length) {
        violations.add(
            format!("{path}.max_length"),
            format!("must be 0 (2000) to {MAX_TEXT_CHARS}"),
        );
    }
    let pattern = definition.pattern.trim();
    if !pattern.is_empty() {
        if !text {
            violations.add(format!("{path}.pattern"), "only TEXT fields have a pattern");
        } else if pattern.chars().count() > MAX_PATTERN_CHARS {
            violations.add(
                format!("{path}.pattern"),
                format!("at most {MAX_PATTERN_CHARS} characters"),
            );
        } else if compiled(pattern).is_err() {
            violations.add(
                format!("{path}.pattern"),
                "not a valid regular expression (RE2 syntax)",
            );
        }
    }
    let number = kind == Kind::Number;
    let mut bounds = [None, None];
    for (slot, (name, value)) in [
        ("min_value", &definition.min_value),
        ("max_value", &definition.max_value),
    ]
    .into_iter()
    .enumerate()
    {
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        if !number {
            violations.add(format!("{path}.{name}"), "only NUMBER fields have bounds");
        } else {
            match decimal(value) {
                Some(parsed) => bounds[slot] = Some(parsed),
                None => violations.add(
                    format!("{path}.{name}"),
                    "must be a decimal number, e.g. 0 or 99.5",
                ),
            }
        }
    }
    if let [Some(min), Some(max)] = bounds
        && min > max
    {
        violations.add(format!("{path}.max_value"), "must not be below min_value");
    }
    if definition.max_choices != 0 {
        if kind != Kind::MultiChoice {
            violations.add(
                format!("{path}.max_choices"),
                "only MULTI_CHOICE fields have max_choices",
            );
        } else if definition.max_choices < 0
            || options.is_some_and(|options| definition.max_choices as usize > options.len())
        {
            violations.add(
                format!("{path}.max_choices"),
                "must be 0 (any number) up to the number of options",
            );
        }
    }
}

/// A TEXT field's pattern, which the whole value must match.
fn compiled(pattern: &str) -> Result<regex::Regex, regex::Error> {
    regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
        .size_limit(PATTERN_SIZE_LIMIT)
        .build()
}

/// A decimal number as written: an optional minus, digits, an optional fraction; no exponent,
/// no spaces, at most 32 characters.
fn decimal(value: &str) -> Option<Decimal> {
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    let unsigned = value.strip_prefix('-').unwrap_or(value);
    let plain = match unsigned.split_once('.') {
        Some((whole, fraction)) => digits(whole) && digits(fraction),
        None => digits(unsigned),
    };
    if value.len() > MAX_NUMBER_CHARS || !plain {
        return None;
    }
    Decimal::from_str(value).ok()
}

/// Checks the values a request gives its type's fields, under `field`
/// (`service_request.field_values`): a key the type lacks, a required field left empty, a value
/// not of its field's kind. Returns them as stored (empty ones dropped, a multi-choice
/// canonical), keyed in order.
pub fn values(
    violations: &mut Violations,
    field: &str,
    definitions: &[pb::RequestFieldDefinition],
    values: &BTreeMap<String, String>,
) -> Option<BTreeMap<String, String>> {
    let before = violations.len();
    let mut unknown: Vec<&String> = values
        .keys()
        .filter(|key| !definitions.iter().any(|definition| &definition.key == *key))
        .collect();
    unknown.sort();
    for key in unknown {
        violations.add(
            format!("{field}[{key:?}]"),
            "not a field of this request type",
        );
    }
    let mut stored = BTreeMap::new();
    for definition in definitions {
        let path = format!("{field}[{:?}]", definition.key);
        let value = values.get(&definition.key).map_or("", |value| value.trim());
        if value.is_empty() || (value == "[]" && definition.r#type == Kind::MultiChoice as i32) {
            if definition.required {
                violations.add(&path, "required");
            }
            continue;
        }
        if let Some(value) = one_value(violations, &path, definition, value) {
            stored.insert(definition.key.clone(), value);
        }
    }
    (violations.len() == before).then_some(stored)
}

/// One value checked against its field's kind; its stored form.
fn one_value(
    violations: &mut Violations,
    path: &str,
    definition: &pb::RequestFieldDefinition,
    value: &str,
) -> Option<String> {
    let refuse = |violations: &mut Violations, why: String| {
        violations.add(path, why);
        None
    };
    match Kind::try_from(definition.r#type).unwrap_or(Kind::Unspecified) {
        Kind::Text => {
            let max = match definition.max_length {
                0 => DEFAULT_TEXT_CHARS,
                max => max as usize,
            };
            let text = validate::text(violations, path, value, Text::required(max).multiline())?;
            if !definition.pattern.is_empty()
                && !compiled(&definition.pattern).is_ok_and(|pattern| pattern.is_match(&text))
            {
                return refuse(
                    violations,
                    "does not have the form this field asks for".into(),
                );
            }
            Some(text)
        }
        Kind::Number => {
            let Some(number) = decimal(value) else {
                return refuse(violations, "must be a decimal number, e.g. 3 or 2.5".into());
            };
            if let Some(min) = decimal(&definition.min_value)
                && number < min
            {
                return refuse(
                    violations,
                    format!("must be at least {}", definition.min_value),
                );
            }
            if let Some(max) = decimal(&definition.max_value)
                && number > max
            {
                return refuse(
                    violations,
                    format!("must be at most {}", definition.max_value),
                );
            }
            Some(value.to_owned())
        }
        Kind::Boolean => match value {
            "true" | "false" => Some(value.to_owned()),
            _ => refuse(violations, "must be true or false".into()),
        },
        Kind::Date => match chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d") {
            Ok(date) => Some(date.format("%Y-%m-%d").to_string()),
            Err(_) => refuse(violations, "must be a date, YYYY-MM-DD".into()),
        },
        Kind::Datetime => match chrono::DateTime::parse_from_rfc3339(value) {
            Ok(_) => Some(value.to_owned()),
            Err(_) => refuse(
                violations,
                "must be a date and time with its offset, e.g. 2026-12-04T09:30:00+08:00".into(),
            ),
        },
        Kind::Choice => {
            if definition
                .options
                .iter()
                .any(|option| option.value == value)
            {
                Some(value.to_owned())
            } else {
                refuse(violations, "not one of this field's options".into())
            }
        }
        Kind::MultiChoice => {
            let Ok(picked) = serde_json::from_str::<Vec<String>>(value) else {
                return refuse(
                    violations,
                    "must be a JSON array of option values, e.g. [\"a\",\"b\"]".into(),
                );
            };
            let mut seen = BTreeSet::new();
            for one in &picked {
                if !definition.options.iter().any(|option| &option.value == one) {
                    return refuse(
                        violations,
                        format!("{one:?} is not one of this field's options"),
                    );
                }
                if !seen.insert(one) {
                    return refuse(violations, format!("{one:?} is picked twice"));
                }
            }
            if definition.max_choices > 0 && picked.len() > definition.max_choices as usize {
                return refuse(
                    violations,
                    format!("at most {} may be picked", definition.max_choices),
                );
            }
            serde_json::to_string(&picked).ok()
        }
        Kind::Phone => {
            PhoneNumber::field(violations, path, value).map(|phone| phone.as_str().to_owned())
        }
        Kind::Unspecified => refuse(violations, "this field has no type".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use terrace_platform::error::{Error, FieldViolation};
    use terrace_proto::common::v1::LocalizedText;

    fn zh(text: &str) -> Option<LocalizedText> {
        Some(LocalizedText {
            translations: [("zh-CN".to_owned(), text.to_owned())].into(),
        })
    }

    fn field(key: &str, kind: Kind) -> pb::RequestFieldDefinition {
        pb::RequestFieldDefinition {
            key: key.to_owned(),
            label: zh("标签"),
            r#type: kind as i32,
            ..Default::default()
        }
    }

    fn option(value: &str) -> pb::RequestFieldOption {
        pb::RequestFieldOption {
            value: value.to_owned(),
            label: zh(value),
        }
    }

    fn violated(check: impl FnOnce(&mut Violations)) -> Vec<(String, String)> {
        let mut violations = Violations::new();
        check(&mut violations);
        match violations.finish() {
            Ok(()) => Vec::new(),
            Err(Error::InvalidArgument(list)) => list
                .into_iter()
                .map(|FieldViolation { field, description }| (field, description))
                .collect(),
            Err(other) => panic!("unexpected {other:?}"),
        }
    }

    fn paths(list: &[(String, String)]) -> Vec<&str> {
        for (path, text) in list {
            assert!(
                terrace_platform::i18n::translate(text, terrace_platform::i18n::Locale::ZhCn)
                    .is_some(),
                "{path}: {text:?} is not in the zh-CN catalog"
            );
        }
        list.iter().map(|(path, _)| path.as_str()).collect()
    }

    #[test]
    fn every_fault_of_a_definition_is_named_at_its_own_path() {
        let mut choice_without_options = field("kind", Kind::Choice);
        choice_without_options.options.clear();
        let mut text_with_bounds = field("note", Kind::Text);
        text_with_bounds.min_value = "1".into();
        let mut bad_pattern = field("code", Kind::Text);
        bad_pattern.pattern = "([a-z".into();
        let mut reversed = field("count", Kind::Number);
        (reversed.min_value, reversed.max_value) = ("10".into(), "2".into());
        let mut too_many = field("tags", Kind::MultiChoice);
        too_many.options = vec![option("a"), option("a")];
        too_many.max_choices = 3;
        let list = violated(|v| {
            definitions(
                v,
                "request_type.fields",
                &[
                    field("Bad Key", Kind::Text),
                    field("dup", Kind::Boolean),
                    field("dup", Kind::Date),
                    field("untyped", Kind::Unspecified),
                    choice_without_options,
                    text_with_bounds,
                    bad_pattern,
                    reversed,
                    too_many,
                ],
            );
        });
        assert_eq!(
            paths(&list),
            [
                "request_type.fields[0].key",
                "request_type.fields[2].key",
                "request_type.fields[3].type",
                "request_type.fields[4].options",
                "request_type.fields[5].min_value",
                "request_type.fields[6].pattern",
                "request_type.fields[7].max_value",
                "request_type.fields[8].options[1].value",
            ],
            "{list:?}"
        );
    }

    #[test]
    fn sound_definitions_come_back_trimmed() {
        let mut tags = field(" tags ", Kind::MultiChoice);
        tags.options = vec![option("water"), option("road")];
        tags.max_choices = 2;
        let mut checked = None;
        assert!(violated(|v| checked = definitions(v, "f", &[tags])).is_empty());
        assert_eq!(checked.expect("checked")[0].key, "tags");
    }

    fn form() -> Vec<pb::RequestFieldDefinition> {
        let mut text = field("plate", Kind::Text);
        text.pattern = "[A-Z]{2}[0-9]{3}".into();
        text.required = true;
        let mut number = field("depth", Kind::Number);
        (number.min_value, number.max_value) = ("0".into(), "99.5".into());
        let mut choice = field("size", Kind::Choice);
        choice.options = vec![option("small"), option("large")];
        let mut many = field("tags", Kind::MultiChoice);
        many.options = vec![option("water"), option("road"), option("power")];
        many.max_choices = 2;
        vec![
            text,
            number,
            choice,
            many,
            field("seen_on", Kind::Date),
            field("seen_at", Kind::Datetime),
            field("urgent", Kind::Boolean),
            field("phone", Kind::Phone),
        ]
    }

    fn given(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn values_of_every_kind_are_accepted_in_their_written_form() {
        let mut stored = None;
        let list = violated(|v| {
            stored = values(
                v,
                "service_request.field_values",
                &form(),
                &given(&[
                    ("plate", "ZJ123"),
                    ("depth", "12.5"),
                    ("size", "large"),
                    ("tags", "[ \"road\", \"water\" ]"),
                    ("seen_on", "2026-12-04"),
                    ("seen_at", "2026-12-04T09:30:00+08:00"),
                    ("urgent", "true"),
                    ("phone", "+8613800000001"),
                ]),
            );
        });
        assert!(list.is_empty(), "{list:?}");
        let stored = stored.expect("stored");
        assert_eq!(stored["tags"], "[\"road\",\"water\"]", "canonical JSON");
        assert_eq!(stored.len(), 8);
    }

    #[test]
    fn each_bad_value_is_refused_at_its_key() {
        let list = violated(|v| {
            values(
                v,
                "field_values",
                &form(),
                &given(&[
                    ("plate", "zj123"),
                    ("depth", "1e3"),
                    ("size", "medium"),
                    ("tags", "[\"road\",\"water\",\"power\"]"),
                    ("seen_on", "2026-02-30"),
                    ("seen_at", "2026-12-04 09:30"),
                    ("urgent", "yes"),
                    ("phone", "12345"),
                    ("colour", "red"),
                ]),
            );
        });
        assert_eq!(
            paths(&list),
            [
                "field_values[\"colour\"]",
                "field_values[\"plate\"]",
                "field_values[\"depth\"]",
                "field_values[\"size\"]",
                "field_values[\"tags\"]",
                "field_values[\"seen_on\"]",
                "field_values[\"seen_at\"]",
                "field_values[\"urgent\"]",
                "field_values[\"phone\"]",
            ],
            "{list:?}"
        );
    }

    #[test]
    fn bounds_duplicates_and_required_fields_are_enforced() {
        let list = violated(|v| {
            values(
                v,
                "f",
                &form(),
                &given(&[("depth", "100"), ("tags", "[\"road\",\"road\"]")]),
            );
        });
        assert_eq!(
            list,
            [
                ("f[\"plate\"]".to_owned(), "required".to_owned()),
                ("f[\"depth\"]".to_owned(), "must be at most 99.5".to_owned()),
                (
                    "f[\"tags\"]".to_owned(),
                    "\"road\" is picked twice".to_owned()
                ),
            ]
        );
    }
}
