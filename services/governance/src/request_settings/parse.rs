//! *Parse*: the requests about areas' settings and the working calendar become commands.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use terrace_platform::auth::AdminScope;
use terrace_platform::error::{Result, Violations};
use terrace_platform::idempotency::Mutation;
use terrace_platform::validate::{self, Page, Text};
use terrace_proto::common::v1 as common;
use terrace_proto::governance::v1 as pb;

use super::calendar::ordinary_working;
use crate::register::parse::mask;

/// The bounds of each setting (the contract's).
pub const REOPEN_WINDOW_DAYS: std::ops::RangeInclusive<i32> = 1..=90;
pub const DUPLICATE_RADIUS_METRES: std::ops::RangeInclusive<i32> = 10..=5000;
pub const DUPLICATE_WINDOW_DAYS: std::ops::RangeInclusive<i32> = 1..=90;
/// The longest range a calendar list reads.
const MAX_LIST_DAYS: i64 = 3 * 366;
/// The longest range set at once: a year's holiday notice.
const MAX_SET_DAYS: i64 = 366;
/// The most days one notice sets.
const MAX_SET_ENTRIES: usize = 200;
const MAX_DAY_NAME_CHARS: usize = 40;

/// One setting's change: `Some(None)` goes back to inheriting.
pub type Change = Option<Option<i32>>;

/// `UpdateRequestAreaSettings`.
#[derive(Debug)]
pub struct UpdateAreaSettings {
    pub mutation: Mutation,
    pub area: AdminScope,
    pub reopen_window_days: Change,
    pub duplicate_radius_metres: Change,
    pub duplicate_window_days: Change,
    pub paths: Vec<String>,
}

impl UpdateAreaSettings {
    pub fn parse(request: pb::UpdateRequestAreaSettingsRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let mutation = Mutation::parse(
            &mut violations,
            "UpdateRequestAreaSettings",
            &request.request_id,
            &request,
        );
        let given = request.settings.unwrap_or_default();
        let area = validate::admin_code(&mut violations, "settings.area", given.area.as_ref());
        let paths = mask(&mut violations, request.update_mask);
        let (mut reopen, mut radius, mut window) = (None, None, None);
        for path in &paths {
            let (slot, value, bounds) = match path.as_str() {
                "reopen_window_days" => (&mut reopen, given.reopen_window_days, REOPEN_WINDOW_DAYS),
                "duplicate_radius_metres" => (
                    &mut radius,
                    given.duplicate_radius_metres,
                    DUPLICATE_RADIUS_METRES,
                ),
                "duplicate_window_days" => (
                    &mut window,
                    given.duplicate_window_days,
                    DUPLICATE_WINDOW_DAYS,
                ),
                other => {
                    violations.add(
                        "update_mask",
                        format!(
                            "{other:?} cannot be changed; reopen_window_days, \
                             duplicate_radius_metres or duplicate_window_days can"
                        ),
                    );
                    continue;
                }
            };
            if value == 0 {
                *slot = Some(None);
            } else if bounds.contains(&value) {
                *slot = Some(Some(value));
            } else {
                violations.add(
                    format!("settings.{path}"),
                    format!(
                        "must be {} to {} (or 0 to inherit)",
                        bounds.start(),
                        bounds.end()
                    ),
                );
            }
        }
        violations.finish_with(|| {
            Some(Self {
                mutation: mutation?,
                area: area?,
                reopen_window_days: reopen,
                duplicate_radius_metres: radius,
                duplicate_window_days: window,
                paths,
            })
        })
    }
}

/// `GetRequestAreaSettings`'s area.
pub fn area(value: Option<&common::AdminCode>) -> Result<AdminScope> {
    let mut violations = Violations::new();
    let area = validate::admin_code(&mut violations, "area", value);
    violations.finish_with(|| area)
}

/// Where a calendar list continues.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DayCursor {
    pub day: NaiveDate,
    pub area: String,
}

/// `ListWorkingCalendarDays`.
#[derive(Debug)]
pub struct ListCalendarDays {
    pub page: Page<DayCursor>,
    pub from: NaiveDate,
    pub until: NaiveDate,
    /// The area the days apply in; the country when absent.
    pub area: AdminScope,
}

impl ListCalendarDays {
    pub fn parse(request: pb::ListWorkingCalendarDaysRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let page = validate::page(&mut violations, "page", request.page.as_ref());
        let range = validate::date_range(
            &mut violations,
            "range",
            request.range.as_ref(),
            MAX_LIST_DAYS,
        );
        let area = validate::optional_admin_code(&mut violations, "area", request.area.as_ref());
        violations.finish_with(|| {
            let (from, until) = range?;
            Some(Self {
                page: page?,
                from,
                until,
                area: area?.unwrap_or_else(AdminScope::country),
            })
        })
    }
}

/// One day a notice sets.
#[derive(Debug, Clone)]
pub struct CalendarDay {
    pub day: NaiveDate,
    pub working: bool,
    pub name: common::LocalizedText,
}

/// `SetWorkingCalendarDays`.
#[derive(Debug)]
pub struct SetCalendarDays {
    pub mutation: Mutation,
    pub from: NaiveDate,
    pub until: NaiveDate,
    pub area: AdminScope,
    pub days: Vec<CalendarDay>,
}

impl SetCalendarDays {
    pub fn parse(request: pb::SetWorkingCalendarDaysRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let mutation = Mutation::parse(
            &mut violations,
            "SetWorkingCalendarDays",
            &request.request_id,
            &request,
        );
        let range = validate::date_range(
            &mut violations,
            "range",
            request.range.as_ref(),
            MAX_SET_DAYS,
        );
        let area = validate::optional_admin_code(&mut violations, "area", request.area.as_ref());
        if request.days.len() > MAX_SET_ENTRIES {
            violations.add("days", format!("at most {MAX_SET_ENTRIES} days"));
        }
        let mut days = Vec::with_capacity(request.days.len());
        let mut seen = std::collections::BTreeSet::new();
        for (index, given) in request.days.iter().enumerate() {
            let path = format!("days[{index}]");
            let day = validate::date(
                &mut violations,
                &format!("{path}.date"),
                given.date.as_ref(),
            );
            let name = validate::localized_text(
                &mut violations,
                &format!("{path}.name"),
                given.name.as_ref(),
                Text::required(MAX_DAY_NAME_CHARS),
            );
            let Some(day) = day else { continue };
            if let Some((from, until)) = range
                && !(from..=until).contains(&day)
            {
                violations.add(format!("{path}.date"), "outside the range");
            } else if !seen.insert(day) {
                violations.add(format!("{path}.date"), "given twice");
            } else if given.working == ordinary_working(day) {
                violations.add(
                    format!("{path}.working"),
                    if given.working {
                        "a working day on a weekday changes nothing: list only days that differ from the ordinary week"
                    } else {
                        "a day off on a weekend changes nothing: list only days that differ from the ordinary week"
                    },
                );
            }
            if let Some(name) = name {
                days.push(CalendarDay {
                    day,
                    working: given.working,
                    name,
                });
            }
        }
        days.sort_by_key(|day| day.day);
        violations.finish_with(|| {
            let (from, until) = range?;
            Some(Self {
                mutation: mutation?,
                from,
                until,
                area: area?.unwrap_or_else(AdminScope::country),
                days,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use terrace_platform::error::{Error, FieldViolation};
    use terrace_platform::i18n::{Locale, translate};
    use terrace_platform::validate::to_date;

    /// The violations of a refused parse, each checked to be in the zh-CN catalog.
    fn refused<T: std::fmt::Debug>(result: Result<T>) -> Vec<String> {
        let Err(Error::InvalidArgument(list)) = result else {
            panic!("not refused: {result:?}");
        };
        list.into_iter()
            .map(|FieldViolation { field, description }| {
                assert!(
                    translate(&description, Locale::ZhCn).is_some(),
                    "{description:?} is not in the zh-CN catalog"
                );
                field
            })
            .collect()
    }

    #[test]
    fn settings_out_of_bounds_are_named_and_zero_means_inherit() {
        let request = |values: [i32; 3], paths: &[&str]| pb::UpdateRequestAreaSettingsRequest {
            request_id: uuid::Uuid::now_v7().to_string(),
            settings: Some(pb::RequestAreaSettings {
                area: Some(AdminScope::parse("330523").unwrap().to_proto()),
                reopen_window_days: values[0],
                duplicate_radius_metres: values[1],
                duplicate_window_days: values[2],
                audit: None,
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: paths.iter().map(|p| (*p).to_owned()).collect(),
            }),
        };
        let mut fields = refused(UpdateAreaSettings::parse(request(
            [0, 9, 91],
            &["duplicate_radius_metres", "duplicate_window_days", "colour"],
        )));
        fields.sort();
        assert_eq!(
            fields,
            [
                "settings.duplicate_radius_metres",
                "settings.duplicate_window_days",
                "update_mask"
            ]
        );
        let inherit = UpdateAreaSettings::parse(request(
            [0, 5000, 0],
            &["reopen_window_days", "duplicate_radius_metres"],
        ))
        .unwrap();
        assert_eq!(inherit.reopen_window_days, Some(None));
        assert_eq!(inherit.duplicate_radius_metres, Some(Some(5000)));
        assert_eq!(
            inherit.duplicate_window_days, None,
            "not in the mask: unchanged"
        );
    }

    #[test]
    fn a_calendar_range_too_long_or_reversed_is_refused() {
        let range = |from: &str, until: &str| common::DateRange {
            start_date: Some(to_date(
                NaiveDate::parse_from_str(from, "%Y-%m-%d").unwrap(),
            )),
            end_date: Some(to_date(
                NaiveDate::parse_from_str(until, "%Y-%m-%d").unwrap(),
            )),
        };
        let set = |range: common::DateRange| pb::SetWorkingCalendarDaysRequest {
            request_id: uuid::Uuid::now_v7().to_string(),
            range: Some(range),
            ..Default::default()
        };
        assert_eq!(
            refused(SetCalendarDays::parse(set(range(
                "2026-01-01",
                "2027-06-30"
            )))),
            ["range"]
        );
        assert_eq!(
            refused(SetCalendarDays::parse(set(range(
                "2026-02-01",
                "2026-01-01"
            )))),
            ["range.end_date"]
        );
        assert_eq!(
            refused(SetCalendarDays::parse(set(common::DateRange {
                start_date: Some(common::Date {
                    year: 2026,
                    month: 2,
                    day: 30
                }),
                end_date: None,
            }))),
            ["range.start_date", "range.end_date"]
        );
    }
}
