//! *Parse*: the requests about the catalogue of request types become commands, every bad field
//! reported at once with the platform's `validate` policies.

use serde::{Deserialize, Serialize};
use terrace_platform::auth::{AdminScope, Role};
use terrace_platform::error::{Result, Violations};
use terrace_platform::idempotency::Mutation;
use terrace_platform::validate::{self, Page, Text};
use terrace_proto::common::v1 as common;
use terrace_proto::governance::v1 as pb;
use uuid::Uuid;

use super::fields;
use crate::register::parse::{mask, village_code};

const MAX_CODE_CHARS: usize = 40;
const MAX_NAME_CHARS: usize = 60;
const MAX_DESCRIPTION_CHARS: usize = 1000;
const MAX_GROUP_CHARS: usize = 40;
/// A year: an SLA longer than that is not a service level.
pub const MAX_SLA_HOURS: i32 = 8760;
/// Twelve working weeks.
pub const MAX_SLA_WORKING_DAYS: i32 = 60;

/// How long a request of a type may stay unresolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sla {
    None,
    /// Calendar hours from submission.
    Hours(i32),
    /// Working days after the day of submission, against the working calendar.
    WorkingDays(i32),
}

/// Everything a type says, as checked.
#[derive(Debug, Clone)]
pub struct Definition {
    pub name: common::LocalizedText,
    pub description: common::LocalizedText,
    pub group: String,
    pub fields: Vec<pb::RequestFieldDefinition>,
    pub responsible_role: Role,
    pub sla: Sla,
    /// Its requests listed publicly (Open311's anonymous reading).
    pub public_listing: bool,
}

/// `CreateRequestType`.
#[derive(Debug)]
pub struct CreateRequestType {
    pub mutation: Mutation,
    pub area: AdminScope,
    pub code: String,
    pub definition: Definition,
}

impl CreateRequestType {
    pub fn parse(request: pb::CreateRequestTypeRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let mutation = Mutation::parse(
            &mut violations,
            "CreateRequestType",
            &request.request_id,
            &request,
        );
        let given = request.request_type.unwrap_or_default();
        let area = validate::admin_code(&mut violations, "request_type.area", given.area.as_ref());
        let code = code(&mut violations, &given.code);
        let name = name(&mut violations, given.name.as_ref());
        let description = description(&mut violations, given.description.as_ref());
        let group = group(&mut violations, &given.group);
        let fields = fields::definitions(&mut violations, "request_type.fields", &given.fields);
        let responsible_role = responsible_role(&mut violations, given.responsible_role);
        let sla = sla(&mut violations, given.sla_hours, given.sla_working_days);
        violations.finish_with(|| {
            Some(Self {
                mutation: mutation?,
                area: area?,
                code: code?,
                definition: Definition {
                    name: name?,
                    description: description?,
                    group: group?,
                    fields: fields?,
                    responsible_role: responsible_role?,
                    sla: sla?,
                    public_listing: given.public_listing,
                },
            })
        })
    }
}

fn code(violations: &mut Violations, code: &str) -> Option<String> {
    let code = code.trim();
    let well_formed = !code.is_empty()
        && code.chars().count() <= MAX_CODE_CHARS
        && code.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && code
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if !well_formed {
        violations.add(
            "request_type.code",
            "must be 1 to 40 lower-case letters, digits, _ or -, starting with a letter or digit",
        );
        return None;
    }
    Some(code.to_owned())
}

fn name(
    violations: &mut Violations,
    name: Option<&common::LocalizedText>,
) -> Option<common::LocalizedText> {
    validate::localized_text(
        violations,
        "request_type.name",
        name,
        Text::required(MAX_NAME_CHARS),
    )
}

fn description(
    violations: &mut Violations,
    description: Option<&common::LocalizedText>,
) -> Option<common::LocalizedText> {
    validate::localized_text(
        violations,
        "request_type.description",
        description,
        Text::optional(MAX_DESCRIPTION_CHARS).multiline(),
    )
}

fn group(violations: &mut Violations, group: &str) -> Option<String> {
    validate::text(
        violations,
        "request_type.group",
        group,
        Text::optional(MAX_GROUP_CHARS),
    )
}

fn responsible_role(violations: &mut Violations, role: i32) -> Option<Role> {
    use terrace_proto::identity::v1::Role as Proto;
    const WHO: &str = "ROLE_VILLAGE_OFFICIAL or ROLE_TOWNSHIP_OFFICIAL";
    match Proto::try_from(role) {
        Ok(Proto::VillageOfficial) => Some(Role::VillageOfficial),
        Ok(Proto::TownshipOfficial) => Some(Role::TownshipOfficial),
        _ if role == 0 => {
            violations.add("request_type.responsible_role", format!("required: {WHO}"));
            None
        }
        _ => {
            violations.add("request_type.responsible_role", format!("must be {WHO}"));
            None
        }
    }
}

fn sla(violations: &mut Violations, hours: i32, working_days: i32) -> Option<Sla> {
    let before = violations.len();
    if !(0..=MAX_SLA_HOURS).contains(&hours) {
        violations.add(
            "request_type.sla_hours",
            format!("must be 0 (none) to {MAX_SLA_HOURS}"),
        );
    }
    if !(0..=MAX_SLA_WORKING_DAYS).contains(&working_days) {
        violations.add(
            "request_type.sla_working_days",
            format!("must be 0 (none) to {MAX_SLA_WORKING_DAYS}"),
        );
    }
    if hours != 0 && working_days != 0 {
        violations.add(
            "request_type.sla_working_days",
            "an SLA is in hours or in working days, not both",
        );
    }
    (violations.len() == before).then_some(match (hours, working_days) {
        (0, 0) => Sla::None,
        (hours, 0) => Sla::Hours(hours),
        (_, days) => Sla::WorkingDays(days),
    })
}

/// What an update changes of a type: the fields its mask names, each checked as at creation.
#[derive(Debug, Default)]
pub struct Changes {
    pub name: Option<common::LocalizedText>,
    pub description: Option<common::LocalizedText>,
    pub group: Option<String>,
    pub fields: Option<Vec<pb::RequestFieldDefinition>>,
    pub responsible_role: Option<Role>,
    /// `sla_hours` and `sla_working_days` are set together: naming either replaces the SLA.
    pub sla: Option<Sla>,
    pub active: Option<bool>,
    pub public_listing: Option<bool>,
}

/// `UpdateRequestType`.
#[derive(Debug)]
pub struct UpdateRequestType {
    pub mutation: Mutation,
    pub id: Uuid,
    pub changes: Changes,
    /// The mask's paths, as the event names them.
    pub paths: Vec<String>,
}

impl UpdateRequestType {
    pub fn parse(request: pb::UpdateRequestTypeRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let mutation = Mutation::parse(
            &mut violations,
            "UpdateRequestType",
            &request.request_id,
            &request,
        );
        let given = request.request_type.unwrap_or_default();
        let id = validate::id(
            &mut violations,
            "request_type.id",
            &given.id,
            "request type",
        );
        let paths = mask(&mut violations, request.update_mask);
        let before = violations.len();
        let mut changes = Changes::default();
        for path in &paths {
            match path.as_str() {
                "name" => changes.name = name(&mut violations, given.name.as_ref()),
                "description" => {
                    changes.description = description(&mut violations, given.description.as_ref());
                }
                "group" => changes.group = group(&mut violations, &given.group),
                "fields" => {
                    changes.fields =
                        fields::definitions(&mut violations, "request_type.fields", &given.fields);
                }
                "responsible_role" => {
                    changes.responsible_role =
                        responsible_role(&mut violations, given.responsible_role);
                }
                "sla_hours" | "sla_working_days" => {
                    changes.sla = sla(&mut violations, given.sla_hours, given.sla_working_days);
                }
                "active" => changes.active = Some(given.active),
                "public_listing" => changes.public_listing = Some(given.public_listing),
                other => violations.add(
                    "update_mask",
                    format!(
                        "{other:?} cannot be changed; name, description, group, fields, \
                         responsible_role, sla_hours, sla_working_days, active or \
                         public_listing can"
                    ),
                ),
            }
        }
        let changed = violations.len() == before;
        violations.finish_with(|| {
            changed.then_some(())?;
            Some(Self {
                mutation: mutation?,
                id: id?,
                changes,
                paths,
            })
        })
    }
}

/// Where a list of types continues: by group, then code, then id.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TypeCursor {
    pub group: String,
    pub code: String,
    pub id: Uuid,
}

/// Which types a list reads.
#[derive(Debug, Clone)]
pub enum Offered {
    /// Every type whose area covers this village.
    In(AdminScope),
    /// Types defined at or inside this area.
    DefinedIn(AdminScope),
}

/// `ListRequestTypes`.
#[derive(Debug)]
pub struct ListRequestTypes {
    pub page: Page<TypeCursor>,
    pub offered: Offered,
    pub include_inactive: bool,
}

impl ListRequestTypes {
    pub fn parse(request: pb::ListRequestTypesRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let page = validate::page(&mut violations, "page", request.page.as_ref());
        let offered = match (request.village_code.is_empty(), &request.defined_in) {
            (false, None) => village_code(&mut violations, "village_code", &request.village_code)
                .map(Offered::In),
            (true, Some(area)) => validate::admin_code(&mut violations, "defined_in", Some(area))
                .map(Offered::DefinedIn),
            (false, Some(_)) => {
                violations.add("defined_in", "give village_code or defined_in, not both");
                None
            }
            (true, None) => {
                violations.add(
                    "village_code",
                    "required: the village whose types to list (or defined_in, an area)",
                );
                None
            }
        };
        violations.finish_with(|| {
            Some(Self {
                page: page?,
                offered: offered?,
                include_inactive: request.include_inactive,
            })
        })
    }
}
