//! *Parse*: the requests about versioned message templates become commands, every bad field
//! reported at once with the platform's `validate` policies. A template's definition is judged
//! whole when it is saved ([`Definition::check`]): every text parses, uses only declared
//! variables, renders with values of their types, every required variable is used, and a
//! built-in key keeps what its rule needs.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use terrace_platform::error::{Result, Violations};
use terrace_platform::idempotency::Mutation;
use terrace_platform::validate::{self, Page, Text};
use terrace_proto::notify::v1 as pb;

use super::defaults::{self, BuiltIn};
use super::render;
use super::store::{Content, Variable};

/// The most variables a template declares.
pub const MOST_VARIABLES: usize = 30;
/// The most texts (locale × channel) a template holds.
pub const MOST_CONTENTS: usize = 24;
/// The longest SMS body (before rendering): a few segments.
pub const MOST_SMS_CHARS: usize = 500;
/// The longest in-app, e-mail or webhook body.
pub const MOST_BODY_CHARS: usize = 4000;

/// Where a page of templates ends: the last key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyCursor {
    pub key: String,
}

/// Where a page of versions ends: the last (lowest) version.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VersionCursor {
    pub version: i32,
}

/// Whether `key` is a template key: lower-case dotted words, at least two
/// (`market.order.placed`).
fn template_key(violations: &mut Violations, field: &str, key: &str) -> Option<String> {
    let word = |w: &str| {
        w.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            && w.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    };
    if key.is_empty() {
        violations.add(
            field,
            "required: a template key such as market.order.placed",
        );
        None
    } else if key.len() <= 100 && key.contains('.') && key.split('.').all(word) {
        Some(key.to_owned())
    } else {
        violations.add(
            field,
            "must be lower-case dotted words, e.g. market.order.placed",
        );
        None
    }
}

/// Whether `name` is a variable name: lower_snake_case, up to 40 characters.
fn variable_name(name: &str) -> bool {
    name.len() <= 40
        && name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// A template's definition: everything a version holds but its key and stamps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Definition {
    pub description: String,
    pub category: pb::NotificationCategory,
    pub critical: bool,
    pub variables: Vec<Variable>,
    pub contents: Vec<Content>,
}

impl Definition {
    /// Reads `template`'s definition fields under `field` and [`check`](Self::check)s them whole
    /// (against `built_in`'s rule when the key is one).
    pub fn parse(
        violations: &mut Violations,
        field: &str,
        template: &pb::Template,
        built_in: Option<&BuiltIn>,
    ) -> Option<Self> {
        let before = violations.len();
        let description = validate::text(
            violations,
            &format!("{field}.description"),
            &template.description,
            Text::optional(500),
        );
        let category = validate::enum_value::<pb::NotificationCategory>(
            violations,
            &format!("{field}.category"),
            template.category,
            "a category such as NOTIFICATION_CATEGORY_ORDERS",
        );
        let variables = Self::parse_variables(violations, field, &template.variables);
        let contents = Self::parse_contents(violations, field, &template.contents);
        if violations.len() > before {
            return None;
        }
        let definition = Self {
            description: description?,
            category: category?,
            critical: template.critical,
            variables: variables?,
            contents: contents?,
        };
        definition.check(violations, field, built_in);
        (violations.len() == before).then_some(definition)
    }

    fn parse_variables(
        violations: &mut Violations,
        field: &str,
        given: &[pb::TemplateVariable],
    ) -> Option<Vec<Variable>> {
        let before = violations.len();
        if given.len() > MOST_VARIABLES {
            violations.add(
                format!("{field}.variables"),
                format!("at most {MOST_VARIABLES} variables"),
            );
            return None;
        }
        let mut names = BTreeSet::new();
        let mut variables = Vec::with_capacity(given.len());
        for (index, variable) in given.iter().enumerate() {
            let path = format!("{field}.variables[{index}]");
            if !variable_name(&variable.name) {
                violations.add(
                    format!("{path}.name"),
                    "must be lower_snake_case, e.g. order_total",
                );
            } else if !names.insert(variable.name.clone()) {
                violations.add(format!("{path}.name"), "declared twice");
            }
            let kind = validate::enum_value::<pb::VariableType>(
                violations,
                &format!("{path}.type"),
                variable.r#type,
                "a type such as VARIABLE_TYPE_STRING",
            );
            let description = validate::text(
                violations,
                &format!("{path}.description"),
                &variable.description,
                Text::optional(200),
            );
            if let (Some(kind), Some(description)) = (kind, description) {
                variables.push(Variable {
                    name: variable.name.clone(),
                    kind: kind as i32,
                    required: variable.required,
                    description,
                });
            }
        }
        (violations.len() == before).then_some(variables)
    }

    fn parse_contents(
        violations: &mut Violations,
        field: &str,
        given: &[pb::TemplateContent],
    ) -> Option<Vec<Content>> {
        let before = violations.len();
        if given.is_empty() {
            violations.add(
                format!("{field}.contents"),
                "required: a zh-CN text at least",
            );
            return None;
        }
        if given.len() > MOST_CONTENTS {
            violations.add(
                format!("{field}.contents"),
                format!("at most {MOST_CONTENTS} texts"),
            );
            return None;
        }
        let mut seen = BTreeSet::new();
        let mut contents = Vec::with_capacity(given.len());
        for (index, content) in given.iter().enumerate() {
            let path = format!("{field}.contents[{index}]");
            let locale =
                validate::language_tag(violations, &format!("{path}.locale"), &content.locale);
            let channel = validate::enum_value::<pb::Channel>(
                violations,
                &format!("{path}.channel"),
                content.channel,
                "a channel such as CHANNEL_IN_APP",
            );
            let (Some(locale), Some(channel)) = (locale, channel) else {
                continue;
            };
            if !seen.insert((locale.clone(), channel as i32)) {
                violations.add(
                    &path,
                    format!("a second {locale} text for {}", channel.as_str_name()),
                );
                continue;
            }
            let titled = matches!(channel, pb::Channel::InApp | pb::Channel::Email);
            let subject = validate::text(
                violations,
                &format!("{path}.subject"),
                &content.subject,
                if titled {
                    Text::required(200)
                } else {
                    Text::optional(200)
                },
            );
            if !titled && subject.as_ref().is_some_and(|s| !s.is_empty()) {
                violations.add(
                    format!("{path}.subject"),
                    "only in-app and e-mail texts have a title",
                );
            }
            let most = if channel == pb::Channel::Sms {
                MOST_SMS_CHARS
            } else {
                MOST_BODY_CHARS
            };
            let body = validate::text(
                violations,
                &format!("{path}.body"),
                &content.body,
                Text::required(most).multiline(),
            );
            let sms = channel == pb::Channel::Sms;
            let provider_template_id = validate::text(
                violations,
                &format!("{path}.provider_template_id"),
                &content.provider_template_id,
                if sms {
                    Text::required(64)
                } else {
                    Text::optional(64)
                },
            );
            let signature = validate::text(
                violations,
                &format!("{path}.signature"),
                &content.signature,
                Text::optional(16),
            );
            if signature
                .as_ref()
                .is_some_and(|s| s.contains(['【', '】', '[', ']']))
            {
                violations.add(
                    format!("{path}.signature"),
                    "the signature's name alone, without brackets: 【】 are added",
                );
            }
            if !sms && (!content.provider_template_id.is_empty() || !content.signature.is_empty()) {
                violations.add(
                    &path,
                    "only SMS texts carry a provider template id and a signature",
                );
            }
            if let (Some(subject), Some(body), Some(provider_template_id), Some(signature)) =
                (subject, body, provider_template_id, signature)
            {
                contents.push(Content {
                    locale,
                    channel: channel as i32,
                    subject,
                    body,
                    provider_template_id,
                    signature,
                });
            }
        }
        (violations.len() == before).then_some(contents)
    }

    /// Judges the definition whole: every text parses and uses only declared variables, renders
    /// with values of their types, every channel has a zh-CN text, every required variable is
    /// used somewhere; for a built-in key, the variables are the rule's (same types), and the
    /// category, criticality and channels stay the rule's.
    pub fn check(&self, violations: &mut Violations, field: &str, built_in: Option<&BuiltIn>) {
        let declared: BTreeMap<&str, &Variable> = self
            .variables
            .iter()
            .map(|v| (v.name.as_str(), v))
            .collect();
        let samples = render::samples(&self.variables);
        let mut used_anywhere = BTreeSet::new();
        for (index, content) in self.contents.iter().enumerate() {
            let path = format!("{field}.contents[{index}]");
            let before = violations.len();
            for (part, source) in [("subject", &content.subject), ("body", &content.body)] {
                match render::used_variables(source) {
                    Ok(used) => {
                        for name in used {
                            if !declared.contains_key(name.as_str()) {
                                violations.add(
                                    format!("{path}.{part}"),
                                    format!("uses {name}, which is not a declared variable"),
                                );
                            }
                            used_anywhere.insert(name);
                        }
                    }
                    Err(error) => violations.add(
                        format!("{path}.{part}"),
                        format!("does not parse: {}", error_line(&error)),
                    ),
                }
            }
            // A text that parsed and uses declared variables must also render with values of
            // their types (an unknown filter, a number added to a text are found only so).
            if violations.len() == before
                && let Err(error) = render::content(content, &samples)
            {
                violations.add(
                    format!("{path}.body"),
                    format!("does not render: {}", error_line(&error)),
                );
            }
        }
        let channels: BTreeSet<i32> = self.contents.iter().map(|c| c.channel).collect();
        for channel in &channels {
            if !self
                .contents
                .iter()
                .any(|c| c.channel == *channel && c.locale == render::FALLBACK_LOCALE)
            {
                let name = pb::Channel::try_from(*channel)
                    .map(|c| c.as_str_name())
                    .unwrap_or("?");
                violations.add(
                    format!("{field}.contents"),
                    format!("{name} needs a {} text", render::FALLBACK_LOCALE),
                );
            }
        }
        for (index, variable) in self.variables.iter().enumerate() {
            if variable.required && !used_anywhere.contains(&variable.name) {
                violations.add(
                    format!("{field}.variables[{index}]"),
                    format!("{} is required but no text uses it", variable.name),
                );
            }
        }
        if let Some(built_in) = built_in {
            self.check_rule(violations, field, built_in, &channels);
        }
    }

    fn check_rule(
        &self,
        violations: &mut Violations,
        field: &str,
        built_in: &BuiltIn,
        channels: &BTreeSet<i32>,
    ) {
        for (index, variable) in self.variables.iter().enumerate() {
            match built_in.supplies.iter().find(|s| s.name == variable.name) {
                None => violations.add(
                    format!("{field}.variables[{index}].name"),
                    format!(
                        "the rule that sends {} supplies no {}; it supplies {}",
                        built_in.key,
                        variable.name,
                        built_in
                            .supplies
                            .iter()
                            .map(|s| s.name)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ),
                Some(supplied) if supplied.kind as i32 != variable.kind => violations.add(
                    format!("{field}.variables[{index}].type"),
                    format!(
                        "the rule supplies {} as {}",
                        variable.name,
                        supplied.kind.as_str_name()
                    ),
                ),
                Some(_) => {}
            }
        }
        if self.category != built_in.category {
            violations.add(
                format!("{field}.category"),
                format!(
                    "{} is sent as {}; its category is the rule's",
                    built_in.key,
                    built_in.category.as_str_name()
                ),
            );
        }
        if self.critical != built_in.critical {
            violations.add(
                format!("{field}.critical"),
                format!("whether {} is critical is the rule's", built_in.key),
            );
        }
        for channel in built_in.channels() {
            if !channels.contains(&channel) {
                let name = pb::Channel::try_from(channel)
                    .map(|c| c.as_str_name())
                    .unwrap_or("?");
                violations.add(
                    format!("{field}.contents"),
                    format!(
                        "the rule sends {} on {name}: keep a text for it",
                        built_in.key
                    ),
                );
            }
        }
    }

    /// The definition as the contract shows it, with `key`.
    pub fn to_proto(&self, key: &str) -> pb::Template {
        pb::Template {
            key: key.to_owned(),
            description: self.description.clone(),
            category: self.category as i32,
            critical: self.critical,
            variables: self
                .variables
                .iter()
                .map(|v| pb::TemplateVariable {
                    name: v.name.clone(),
                    r#type: v.kind,
                    required: v.required,
                    description: v.description.clone(),
                })
                .collect(),
            contents: self
                .contents
                .iter()
                .map(|c| pb::TemplateContent {
                    locale: c.locale.clone(),
                    channel: c.channel,
                    subject: c.subject.clone(),
                    body: c.body.clone(),
                    provider_template_id: c.provider_template_id.clone(),
                    signature: c.signature.clone(),
                })
                .collect(),
            built_in: defaults::built_in_of(key).is_some(),
            ..Default::default()
        }
    }
}

/// A MiniJinja error in one line, without the source excerpt its `Display` may add.
fn error_line(error: &minijinja::Error) -> String {
    let mut line = error.kind().to_string();
    if let Some(detail) = error.detail() {
        line.push_str(": ");
        line.push_str(detail);
    }
    if let Some(at) = error.line() {
        line.push_str(&format!(" (line {at})"));
    }
    line
}

/// `CreateTemplate`.
#[derive(Debug)]
pub struct CreateTemplate {
    pub mutation: Mutation,
    pub key: String,
    pub definition: Definition,
}

impl CreateTemplate {
    pub fn parse(request: &pb::CreateTemplateRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let mutation = Mutation::parse(
            &mut violations,
            "CreateTemplate",
            &request.request_id,
            request,
        );
        let template = request.template.clone().unwrap_or_default();
        let key = template_key(&mut violations, "template.key", &template.key);
        let built_in = key.as_deref().and_then(defaults::built_in_of);
        let definition = Definition::parse(&mut violations, "template", &template, built_in);
        violations.finish_with(|| {
            Some(Self {
                mutation: mutation?,
                key: key?,
                definition: definition?,
            })
        })
    }
}

/// The fields `UpdateTemplate` may change.
pub const UPDATABLE: [&str; 5] = [
    "category",
    "contents",
    "critical",
    "description",
    "variables",
];

/// `UpdateTemplate`: the definition is judged once merged into the latest version.
#[derive(Debug)]
pub struct UpdateTemplate {
    pub mutation: Mutation,
    pub key: String,
    pub template: pb::Template,
    pub paths: Vec<String>,
    pub activate: bool,
    pub expected_version: Option<i32>,
}

impl UpdateTemplate {
    pub fn parse(request: &pb::UpdateTemplateRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let mutation = Mutation::parse(
            &mut violations,
            "UpdateTemplate",
            &request.request_id,
            request,
        );
        let template = request.template.clone().unwrap_or_default();
        let key = template_key(&mut violations, "template.key", &template.key);
        let paths = validate::update_mask(&mut violations, request.update_mask.clone());
        for path in &paths {
            if !UPDATABLE.contains(&path.as_str()) {
                violations.add(
                    "update_mask",
                    format!("{path} cannot change; one of {}", UPDATABLE.join(", ")),
                );
            }
        }
        if request.expected_version < 0 {
            violations.add("expected_version", "must be a version number or 0 for none");
        }
        violations.finish_with(|| {
            Some(Self {
                mutation: mutation?,
                key: key?,
                template,
                paths,
                activate: request.activate.unwrap_or(true),
                expected_version: (request.expected_version > 0)
                    .then_some(request.expected_version),
            })
        })
    }

    /// `latest` with the masked fields taken from the request.
    pub fn merged(&self, mut latest: pb::Template) -> pb::Template {
        for path in &self.paths {
            match path.as_str() {
                "description" => latest.description = self.template.description.clone(),
                "category" => latest.category = self.template.category,
                "critical" => latest.critical = self.template.critical,
                "variables" => latest.variables = self.template.variables.clone(),
                "contents" => latest.contents = self.template.contents.clone(),
                _ => {}
            }
        }
        latest
    }
}

/// `GetTemplate`.
#[derive(Debug)]
pub struct GetTemplate {
    pub key: String,
    /// `None`: the active one.
    pub version: Option<i32>,
}

fn version(violations: &mut Violations, field: &str, version: i32) -> Option<Option<i32>> {
    if version < 0 {
        violations.add(field, "must be a version number, or 0 for the active one");
        None
    } else {
        Some((version > 0).then_some(version))
    }
}

impl GetTemplate {
    pub fn parse(request: &pb::GetTemplateRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let key = template_key(&mut violations, "template_key", &request.template_key);
        let version = version(&mut violations, "version", request.version);
        violations.finish_with(|| {
            Some(Self {
                key: key?,
                version: version?,
            })
        })
    }
}

/// `ListTemplates`.
#[derive(Debug)]
pub struct ListTemplates {
    pub category: Option<i16>,
    pub key_prefix: String,
    pub page: Page<KeyCursor>,
}

impl ListTemplates {
    pub fn parse(request: &pb::ListTemplatesRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let page = validate::page(&mut violations, "page", request.page.as_ref());
        let category = if request.category == 0 {
            Some(None)
        } else {
            validate::enum_value::<pb::NotificationCategory>(
                &mut violations,
                "category",
                request.category,
                "a category such as NOTIFICATION_CATEGORY_ORDERS",
            )
            .map(|c| i16::try_from(c as i32).ok())
        };
        let prefix_ok = request.key_prefix.len() <= 100
            && request
                .key_prefix
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.');
        if !prefix_ok {
            violations.add(
                "key_prefix",
                "must be the start of a template key, e.g. market.",
            );
        }
        violations.finish_with(|| {
            Some(Self {
                category: category?,
                key_prefix: request.key_prefix.clone(),
                page: page?,
            })
        })
    }
}

/// `ListTemplateVersions`.
#[derive(Debug)]
pub struct ListTemplateVersions {
    pub key: String,
    pub page: Page<VersionCursor>,
}

impl ListTemplateVersions {
    pub fn parse(request: &pb::ListTemplateVersionsRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let key = template_key(&mut violations, "template_key", &request.template_key);
        let page = validate::page(&mut violations, "page", request.page.as_ref());
        violations.finish_with(|| {
            Some(Self {
                key: key?,
                page: page?,
            })
        })
    }
}

/// `ActivateTemplateVersion`.
#[derive(Debug)]
pub struct ActivateTemplateVersion {
    pub mutation: Mutation,
    pub key: String,
    pub version: i32,
}

impl ActivateTemplateVersion {
    pub fn parse(request: &pb::ActivateTemplateVersionRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let mutation = Mutation::parse(
            &mut violations,
            "ActivateTemplateVersion",
            &request.request_id,
            request,
        );
        let key = template_key(&mut violations, "template_key", &request.template_key);
        if request.version < 1 {
            violations.add("version", "required: the version to activate, from 1");
        }
        violations.finish_with(|| {
            Some(Self {
                mutation: mutation?,
                key: key?,
                version: request.version,
            })
        })
    }
}

/// What a preview renders: a saved version, or a draft judged as a save would judge it.
#[derive(Debug)]
pub enum PreviewSource {
    Saved { key: String, version: Option<i32> },
    Draft { key: String, definition: Definition },
}

/// `PreviewTemplate`. The values are checked against the declared types once the template is
/// known.
#[derive(Debug)]
pub struct PreviewTemplate {
    pub source: PreviewSource,
    pub values: BTreeMap<String, pb::TemplateValue>,
    pub locale: String,
    pub channel: pb::Channel,
}

impl PreviewTemplate {
    pub fn parse(request: &pb::PreviewTemplateRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let source = match request.draft.as_ref() {
            Some(draft) => {
                // A draft's key is optional (a new template has none yet); when it names a
                // built-in, the draft is judged against the rule.
                let key = if draft.key.is_empty() {
                    Some(String::new())
                } else {
                    template_key(&mut violations, "draft.key", &draft.key)
                };
                let built_in = key.as_deref().and_then(defaults::built_in_of);
                let definition = Definition::parse(&mut violations, "draft", draft, built_in);
                key.zip(definition)
                    .map(|(key, definition)| PreviewSource::Draft { key, definition })
            }
            None => {
                let key = template_key(&mut violations, "template_key", &request.template_key);
                let version = version(&mut violations, "version", request.version);
                key.zip(version)
                    .map(|(key, version)| PreviewSource::Saved { key, version })
            }
        };
        let locale = if request.locale.is_empty() {
            Some(render::FALLBACK_LOCALE.to_owned())
        } else {
            validate::language_tag(&mut violations, "locale", &request.locale)
        };
        let channel = validate::enum_value::<pb::Channel>(
            &mut violations,
            "channel",
            request.channel,
            "a channel such as CHANNEL_SMS",
        );
        if request.values.len() > MOST_VARIABLES {
            violations.add("values", format!("at most {MOST_VARIABLES} values"));
        }
        violations.finish_with(|| {
            Some(Self {
                source: source?,
                values: request
                    .values
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                locale: locale?,
                channel: channel?,
            })
        })
    }
}
