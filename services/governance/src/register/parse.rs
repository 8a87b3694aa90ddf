//! The register's requests as commands: every bad field collected at once, national ids checked
//! against GB 11643 (and against the birth date and gender given with them).

use chrono::{Datelike as _, NaiveDate};
use serde::{Deserialize, Serialize};
use terrace_platform::auth::AdminScope;
use terrace_platform::error::{Result, Violations};
use terrace_platform::idempotency::Mutation;
use terrace_platform::phone::PhoneNumber;
use terrace_platform::validate::{self, Page, Text};
use terrace_proto::common::v1 as common;
use terrace_proto::governance::v1 as pb;
use uuid::Uuid;

use super::national_id::{NationalId, Sex};
use crate::entity::households::HouseholdStatus;
use crate::entity::residents::{Gender, Relationship, ResidentStatus};

/// The longest household number (户号), in characters.
pub const MAX_HOUSEHOLD_NUMBER: usize = 32;
/// The longest address within a village, in characters.
pub const MAX_ADDRESS: usize = 200;
/// The longest name, in characters (long minority names included).
pub const MAX_NAME: usize = 50;
/// The longest remarks, in characters.
pub const MAX_REMARKS: usize = 500;
/// The shortest reason for a reveal, in characters (the contract's rule).
pub const MIN_REASON: usize = 4;
/// The longest reason for a reveal, in characters.
pub const MAX_REASON: usize = 200;
/// The longest list query, in characters.
pub const MAX_QUERY: usize = 50;

pub(crate) use terrace_platform::validate::village_code;

/// A reason someone will read (`why` says who): [`MIN_REASON`] to [`MAX_REASON`] characters.
pub(super) fn reason(
    violations: &mut Violations,
    field: &str,
    value: &str,
    why: &str,
) -> Option<String> {
    validate::text(violations, field, value, Text::required(MAX_REASON)).filter(|reason| {
        let long_enough = reason.chars().count() >= MIN_REASON;
        if !long_enough {
            violations.add(field, format!("at least {MIN_REASON} characters: {why}"));
        }
        long_enough
    })
}

/// A household's or a resident's status; `0` is `default` when given.
fn household_status(
    violations: &mut Violations,
    field: &str,
    value: i32,
) -> Option<HouseholdStatus> {
    match pb::HouseholdStatus::try_from(value) {
        Ok(pb::HouseholdStatus::Active) => Some(HouseholdStatus::Active),
        Ok(pb::HouseholdStatus::Archived) => Some(HouseholdStatus::Archived),
        Ok(pb::HouseholdStatus::Unspecified) => {
            violations.add(field, "required: active or archived");
            None
        }
        Err(_) => {
            violations.add(field, format!("unknown value {value}"));
            None
        }
    }
}

fn resident_status(violations: &mut Violations, field: &str, value: i32) -> Option<ResidentStatus> {
    match pb::ResidentStatus::try_from(value) {
        Ok(pb::ResidentStatus::Active) => Some(ResidentStatus::Active),
        Ok(pb::ResidentStatus::Away) => Some(ResidentStatus::Away),
        Ok(pb::ResidentStatus::MovedOut) => Some(ResidentStatus::MovedOut),
        Ok(pb::ResidentStatus::Deceased) => Some(ResidentStatus::Deceased),
        Ok(pb::ResidentStatus::Unspecified) => {
            violations.add(field, "required: active, away, moved out or deceased");
            None
        }
        Err(_) => {
            violations.add(field, format!("unknown value {value}"));
            None
        }
    }
}

fn gender(violations: &mut Violations, field: &str, value: i32) -> Option<Gender> {
    match pb::Gender::try_from(value) {
        Ok(pb::Gender::Unspecified) => Some(Gender::Unrecorded),
        Ok(pb::Gender::Male) => Some(Gender::Male),
        Ok(pb::Gender::Female) => Some(Gender::Female),
        Err(_) => {
            violations.add(field, format!("unknown value {value}"));
            None
        }
    }
}

fn relationship(violations: &mut Violations, field: &str, value: i32) -> Option<Relationship> {
    use pb::HouseholdRelationship as R;
    let known = match R::try_from(value) {
        Ok(R::Unspecified) => Relationship::Unrecorded,
        Ok(R::Head) => Relationship::Head,
        Ok(R::Spouse) => Relationship::Spouse,
        Ok(R::Child) => Relationship::Child,
        Ok(R::Parent) => Relationship::Parent,
        Ok(R::Grandchild) => Relationship::Grandchild,
        Ok(R::Grandparent) => Relationship::Grandparent,
        Ok(R::Sibling) => Relationship::Sibling,
        Ok(R::ChildInLaw) => Relationship::ChildInLaw,
        Ok(R::Other) => Relationship::Other,
        Err(_) => {
            violations.add(field, format!("unknown value {value}"));
            return None;
        }
    };
    Some(known)
}

/// An optional date of birth: a real date, not after `today`.
fn birth_date(
    violations: &mut Violations,
    field: &str,
    value: Option<&common::Date>,
    today: NaiveDate,
) -> Option<Option<NaiveDate>> {
    let Some(date) = value.filter(|date| **date != common::Date::default()) else {
        return Some(None);
    };
    let parsed = u32::try_from(date.month)
        .ok()
        .zip(u32::try_from(date.day).ok())
        .and_then(|(month, day)| NaiveDate::from_ymd_opt(date.year, month, day));
    match parsed {
        Some(day) if day <= today && day.year() >= 1900 => Some(Some(day)),
        Some(_) => {
            violations.add(field, "must be a date between 1900 and today");
            None
        }
        None => {
            violations.add(field, "not a real date");
            None
        }
    }
}

/// What a resident record says; on an update, the fields of the mask and only those.
#[derive(Debug, Default)]
pub struct ResidentFields {
    pub name: Option<String>,
    pub gender: Option<Gender>,
    /// `Some(None)` clears it.
    pub birth_date: Option<Option<NaiveDate>>,
    pub relationship: Option<Relationship>,
    /// `Some(None)` clears it.
    pub phone_number: Option<Option<PhoneNumber>>,
    /// `Some(None)` unlinks the account.
    pub user_id: Option<Option<Uuid>>,
    /// `Some(None)` removes the number.
    pub national_id: Option<Option<NationalId>>,
    pub status: Option<ResidentStatus>,
    pub remarks: Option<String>,
    /// `household_id` on an update: a move within the village.
    pub household_id: Option<Uuid>,
}

/// The resident fields a create reads, and those an update may name.
const CREATE_FIELDS: [&str; 9] = [
    "name",
    "gender",
    "birth_date",
    "relationship",
    "phone_number",
    "user_id",
    "national_id",
    "status",
    "remarks",
];

impl ResidentFields {
    /// Reads `paths` of `resident`; `creating` makes the name required and an unset status
    /// active.
    fn parse(
        violations: &mut Violations,
        resident: &pb::Resident,
        paths: &[String],
        creating: bool,
        today: NaiveDate,
    ) -> Option<Self> {
        let mut fields = Self::default();
        let before = violations.len();
        let at = |name: &str| format!("resident.{name}");
        for path in paths {
            match path.as_str() {
                "name" => {
                    fields.name = validate::text(
                        violations,
                        &at("name"),
                        &resident.name,
                        Text::required(MAX_NAME),
                    );
                }
                "gender" => fields.gender = gender(violations, &at("gender"), resident.gender),
                "birth_date" => {
                    fields.birth_date = birth_date(
                        violations,
                        &at("birth_date"),
                        resident.birth_date.as_ref(),
                        today,
                    );
                }
                "relationship" => {
                    fields.relationship =
                        relationship(violations, &at("relationship"), resident.relationship);
                }
                "phone_number" => {
                    fields.phone_number = if resident.phone_number.trim().is_empty() {
                        Some(None)
                    } else {
                        PhoneNumber::field(violations, &at("phone_number"), &resident.phone_number)
                            .map(Some)
                    };
                }
                "user_id" => {
                    fields.user_id = validate::optional_id(
                        violations,
                        &at("user_id"),
                        &resident.user_id,
                        "user",
                    );
                }
                "national_id" => {
                    fields.national_id = if resident.national_id.trim().is_empty() {
                        Some(None)
                    } else {
                        NationalId::parse(&resident.national_id, today)
                            .map_err(|error| violations.add(at("national_id"), error.to_string()))
                            .ok()
                            .map(Some)
                    };
                }
                "status" => {
                    fields.status = if creating && resident.status == 0 {
                        Some(ResidentStatus::Active)
                    } else {
                        resident_status(violations, &at("status"), resident.status)
                    };
                }
                "remarks" => {
                    fields.remarks = validate::text(
                        violations,
                        &at("remarks"),
                        &resident.remarks,
                        Text::optional(MAX_REMARKS).multiline(),
                    );
                }
                "household_id" if !creating => {
                    fields.household_id = validate::id(
                        violations,
                        &at("household_id"),
                        &resident.household_id,
                        "household",
                    );
                }
                "national_id_masked" | "village_code" | "id" | "audit" => violations.add(
                    "update_mask",
                    format!("{path:?} is output only and cannot be changed"),
                ),
                other => violations.add(
                    "update_mask",
                    format!(
                        "{other:?} cannot be changed; name, gender, birth_date, relationship, \
                         phone_number, user_id, national_id, status, remarks or household_id can"
                    ),
                ),
            }
        }
        fields.check_national_id(violations);
        (violations.len() == before).then_some(fields)
    }

    /// A number given with a birth date or a gender must agree with them; given alone, it fills
    /// them in on a create.
    fn check_national_id(&mut self, violations: &mut Violations) {
        let Some(Some(id)) = &self.national_id else {
            return;
        };
        match self.birth_date {
            Some(Some(date)) if date != id.birth_date() => violations.add(
                "resident.national_id",
                format!(
                    "its birth date ({}) differs from birth_date ({date})",
                    id.birth_date()
                ),
            ),
            _ => {}
        }
        let sex = match id.sex() {
            Sex::Male => Gender::Male,
            Sex::Female => Gender::Female,
        };
        match self.gender {
            Some(gender) if gender != Gender::Unrecorded && gender != sex => violations.add(
                "resident.national_id",
                "the sex it records differs from gender",
            ),
            _ => {}
        }
    }

    /// On a create, what the number says where the request said nothing.
    fn fill_from_national_id(&mut self) {
        let Some(Some(id)) = &self.national_id else {
            return;
        };
        if matches!(self.birth_date, None | Some(None)) {
            self.birth_date = Some(Some(id.birth_date()));
        }
        if matches!(self.gender, None | Some(Gender::Unrecorded)) {
            self.gender = Some(match id.sex() {
                Sex::Male => Gender::Male,
                Sex::Female => Gender::Female,
            });
        }
    }
}

/// `CreateHousehold`.
#[derive(Debug)]
pub struct CreateHousehold {
    pub mutation: Mutation,
    pub village: AdminScope,
    pub number: String,
    pub address: String,
}

impl CreateHousehold {
    pub fn parse(request: pb::CreateHouseholdRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let mutation = Mutation::parse(
            &mut violations,
            "CreateHousehold",
            &request.request_id,
            &request,
        );
        let household = request.household.unwrap_or_default();
        let village = village_code(
            &mut violations,
            "household.village_code",
            &household.village_code,
        );
        let number = validate::text(
            &mut violations,
            "household.household_number",
            &household.household_number,
            Text::required(MAX_HOUSEHOLD_NUMBER),
        );
        let address = validate::text(
            &mut violations,
            "household.address",
            &household.address,
            Text::optional(MAX_ADDRESS),
        );
        violations.finish_with(|| {
            Some(Self {
                mutation: mutation?,
                village: village?,
                number: number?,
                address: address?,
            })
        })
    }
}

/// What an update changes of a household.
#[derive(Debug, Default)]
pub struct HouseholdChanges {
    pub number: Option<String>,
    pub address: Option<String>,
    /// `Some(None)` leaves the household without a head.
    pub head: Option<Option<Uuid>>,
    pub status: Option<HouseholdStatus>,
}

/// `UpdateHousehold`.
#[derive(Debug)]
pub struct UpdateHousehold {
    pub mutation: Mutation,
    pub id: Uuid,
    pub changes: HouseholdChanges,
    /// The mask's paths, as the event names them.
    pub fields: Vec<String>,
}

impl UpdateHousehold {
    pub fn parse(request: pb::UpdateHouseholdRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let mutation = Mutation::parse(
            &mut violations,
            "UpdateHousehold",
            &request.request_id,
            &request,
        );
        let household = request.household.unwrap_or_default();
        let id = validate::id(&mut violations, "household.id", &household.id, "household");
        let paths = mask(&mut violations, request.update_mask);
        let before = violations.len();
        let mut changes = HouseholdChanges::default();
        for path in &paths {
            match path.as_str() {
                "household_number" => {
                    changes.number = validate::text(
                        &mut violations,
                        "household.household_number",
                        &household.household_number,
                        Text::required(MAX_HOUSEHOLD_NUMBER),
                    );
                }
                "address" => {
                    changes.address = validate::text(
                        &mut violations,
                        "household.address",
                        &household.address,
                        Text::optional(MAX_ADDRESS),
                    );
                }
                "head_resident_id" => {
                    changes.head = validate::optional_id(
                        &mut violations,
                        "household.head_resident_id",
                        &household.head_resident_id,
                        "resident",
                    );
                }
                "status" => {
                    changes.status =
                        household_status(&mut violations, "household.status", household.status);
                }
                other => violations.add(
                    "update_mask",
                    format!(
                        "{other:?} cannot be changed; household_number, address, \
                         head_resident_id or status can"
                    ),
                ),
            }
        }
        let changes = (violations.len() == before).then_some(changes);
        violations.finish_with(|| {
            Some(Self {
                mutation: mutation?,
                id: id?,
                changes: changes?,
                fields: paths,
            })
        })
    }
}

pub(crate) use terrace_platform::validate::update_mask as mask;

/// Where a household list continues: households are listed by village, then number.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HouseholdCursor {
    pub village_code: String,
    pub number: String,
}

/// `ListHouseholds`.
#[derive(Debug)]
pub struct ListHouseholds {
    pub area: AdminScope,
    pub status: HouseholdStatus,
    /// A prefix of the household number or the address.
    pub query: String,
    pub page: Page<HouseholdCursor>,
}

impl ListHouseholds {
    pub fn parse(request: pb::ListHouseholdsRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let area = validate::admin_code(&mut violations, "area", request.area.as_ref());
        let status = if request.status == 0 {
            Some(HouseholdStatus::Active)
        } else {
            household_status(&mut violations, "status", request.status)
        };
        let query = validate::text(
            &mut violations,
            "query",
            &request.query,
            Text::optional(MAX_QUERY),
        );
        let page = validate::page(&mut violations, "page", request.page.as_ref());
        violations.finish_with(|| {
            Some(Self {
                area: area?,
                status: status?,
                query: query?,
                page: page?,
            })
        })
    }
}

/// `CreateResident`.
#[derive(Debug)]
pub struct CreateResident {
    pub mutation: Mutation,
    pub household_id: Uuid,
    pub fields: ResidentFields,
}

impl CreateResident {
    pub fn parse(request: pb::CreateResidentRequest, today: NaiveDate) -> Result<Self> {
        let mut violations = Violations::new();
        let mutation = Mutation::parse(
            &mut violations,
            "CreateResident",
            &request.request_id,
            &request,
        );
        let resident = request.resident.unwrap_or_default();
        let household_id = validate::id(
            &mut violations,
            "resident.household_id",
            &resident.household_id,
            "household",
        );
        let paths: Vec<String> = CREATE_FIELDS.iter().map(|&f| f.to_owned()).collect();
        let fields = ResidentFields::parse(&mut violations, &resident, &paths, true, today).map(
            |mut fields| {
                fields.fill_from_national_id();
                fields
            },
        );
        violations.finish_with(|| {
            Some(Self {
                mutation: mutation?,
                household_id: household_id?,
                fields: fields?,
            })
        })
    }
}

/// `UpdateResident`.
#[derive(Debug)]
pub struct UpdateResident {
    pub mutation: Mutation,
    pub id: Uuid,
    pub fields: ResidentFields,
    /// The mask's paths, as the event names them.
    pub paths: Vec<String>,
}

impl UpdateResident {
    pub fn parse(request: pb::UpdateResidentRequest, today: NaiveDate) -> Result<Self> {
        let mut violations = Violations::new();
        let mutation = Mutation::parse(
            &mut violations,
            "UpdateResident",
            &request.request_id,
            &request,
        );
        let resident = request.resident.unwrap_or_default();
        let id = validate::id(&mut violations, "resident.id", &resident.id, "resident");
        let paths = mask(&mut violations, request.update_mask);
        let fields = ResidentFields::parse(&mut violations, &resident, &paths, false, today);
        violations.finish_with(|| {
            Some(Self {
                mutation: mutation?,
                id: id?,
                fields: fields?,
                paths,
            })
        })
    }
}

/// Where a resident list continues: residents are listed by name, then id.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResidentCursor {
    pub name: String,
    pub id: Uuid,
}

/// `ListResidents`: an area, or a household (whose village is then the area).
#[derive(Debug)]
pub struct ListResidents {
    pub area: Option<AdminScope>,
    pub household: Option<Uuid>,
    /// `None`: active and away.
    pub status: Option<ResidentStatus>,
    /// A prefix of the name, or a whole phone number.
    pub query: String,
    pub phone: Option<PhoneNumber>,
    pub user: Option<Uuid>,
    pub page: Page<ResidentCursor>,
}

impl ListResidents {
    pub fn parse(request: pb::ListResidentsRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let area = validate::optional_admin_code(&mut violations, "area", request.area.as_ref());
        let household = validate::optional_id(
            &mut violations,
            "household_id",
            &request.household_id,
            "household",
        );
        if matches!((&area, &household), (Some(None), Some(None))) {
            violations.add("area", "required unless household_id is given");
        }
        let status = if request.status == 0 {
            Some(None)
        } else {
            resident_status(&mut violations, "status", request.status).map(Some)
        };
        let query = validate::text(
            &mut violations,
            "query",
            &request.query,
            Text::optional(MAX_QUERY),
        );
        // A query of digits and `+` is a phone number, whole; anything else a name prefix.
        let phone = match &query {
            Some(text)
                if !text.is_empty()
                    && text
                        .chars()
                        .all(|c| c.is_ascii_digit() || c == '+' || c == ' ') =>
            {
                PhoneNumber::field(&mut violations, "query", text).map(Some)
            }
            _ => Some(None),
        };
        let user = validate::optional_id(&mut violations, "user_id", &request.user_id, "user");
        let page = validate::page(&mut violations, "page", request.page.as_ref());
        violations.finish_with(|| {
            Some(Self {
                area: area?,
                household: household?,
                status: status?,
                query: query?,
                phone: phone?,
                user: user?,
                page: page?,
            })
        })
    }
}

/// `RevealResidentNationalId`.
#[derive(Debug)]
pub struct Reveal {
    pub mutation: Mutation,
    pub resident_id: Uuid,
    pub reason: String,
}

impl Reveal {
    pub fn parse(request: pb::RevealResidentNationalIdRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let mutation = Mutation::parse(
            &mut violations,
            "RevealResidentNationalId",
            &request.request_id,
            &request,
        );
        let resident_id = validate::id(
            &mut violations,
            "resident_id",
            &request.resident_id,
            "resident",
        );
        let reason = reason(
            &mut violations,
            "reason",
            &request.reason,
            "the resident reads why their number was looked at",
        );
        violations.finish_with(|| {
            Some(Self {
                mutation: mutation?,
                resident_id: resident_id?,
                reason: reason?,
            })
        })
    }
}

/// `ListResidentAccessLog`: newest first; the cursor is the last entry's id (UUIDv7, time-ordered).
#[derive(Debug)]
pub struct ListAccessLog {
    pub resident_id: Uuid,
    pub page: Page<Uuid>,
}

impl ListAccessLog {
    pub fn parse(request: pb::ListResidentAccessLogRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let resident_id = validate::id(
            &mut violations,
            "resident_id",
            &request.resident_id,
            "resident",
        );
        let page = validate::page(&mut violations, "page", request.page.as_ref());
        violations.finish_with(|| {
            Some(Self {
                resident_id: resident_id?,
                page: page?,
            })
        })
    }
}

/// The reason an erasure gives: required, kept in the audit log.
pub const MAX_ERASE_REASON: usize = 200;

/// `EraseResident`.
#[derive(Debug)]
pub struct Erase {
    pub mutation: Mutation,
    pub resident_id: Uuid,
    pub reason: String,
}

impl Erase {
    pub fn parse(request: pb::EraseResidentRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let mutation = Mutation::parse(
            &mut violations,
            "EraseResident",
            &request.request_id,
            &request,
        );
        let resident_id = validate::id(
            &mut violations,
            "resident_id",
            &request.resident_id,
            "resident",
        );
        let reason = validate::text(
            &mut violations,
            "reason",
            &request.reason,
            Text::required(MAX_ERASE_REASON),
        );
        violations.finish_with(|| {
            Some(Self {
                mutation: mutation?,
                resident_id: resident_id?,
                reason: reason?,
            })
        })
    }
}

/// `DownloadMyData`: only its request id.
pub fn export(request: &pb::DownloadMyDataRequest) -> Result<Mutation> {
    let mut violations = Violations::new();
    let mutation = Mutation::parse(
        &mut violations,
        "DownloadMyData",
        &request.request_id,
        request,
    );
    violations.finish_with(|| mutation)
}

/// `GetRegisterCounts`: an area.
pub fn counts(request: &pb::GetRegisterCountsRequest) -> Result<AdminScope> {
    let mut violations = Violations::new();
    let area = validate::admin_code(&mut violations, "area", request.area.as_ref());
    violations.finish_with(|| area)
}

/// `GetHousehold`, `GetResident`: one id.
pub fn one_id(field: &str, value: &str, what: &str) -> Result<Uuid> {
    let mut violations = Violations::new();
    let id = validate::id(&mut violations, field, value, what);
    violations.finish_with(|| id)
}
