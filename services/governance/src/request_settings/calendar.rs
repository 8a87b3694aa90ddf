//! Working days and due times: when a request of a type is due, by the type's SLA and the working
//! calendar of its village.
//!
//! The ordinary week works Monday to Friday. The calendar lists the days that differ: public
//! holidays on weekdays and make-up working days (调休) on weekends, for the whole country or an
//! area (an autonomous region's own holidays); the entry of the smallest area covering the
//! village wins. An SLA of N working days counts from the first working day after the day of
//! submission, and the request is due at the end (24:00, China time) of the Nth.

use std::collections::BTreeMap;
use terrace_platform::clock::CHINA_TIME;

use chrono::{DateTime, Datelike as _, Days, NaiveDate, Utc, Weekday};
use sea_orm::ConnectionTrait;
use terrace_platform::auth::AdminScope;
use terrace_platform::error::{Error, Result};

use super::store;
use crate::request_types::parse::Sla;

/// The longest stretch of the calendar read at once when counting working days; a count that
/// needs more reads on.
const WINDOW_DAYS: u64 = 180;
/// How far ahead a count may look before the calendar is judged to have no working days.
const HORIZON_DAYS: u64 = 2 * 366;

/// When a request of a type with `sla`, filed in `village` at `submitted`, is due; `None`
/// without an SLA.
pub async fn due_time<C: ConnectionTrait>(
    conn: &C,
    sla: Sla,
    village: &AdminScope,
    submitted: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>> {
    match sla {
        Sla::None => Ok(None),
        Sla::Hours(hours) => Ok(Some(submitted + chrono::Duration::hours(i64::from(hours)))),
        Sla::WorkingDays(days) => {
            let filed_on = submitted.with_timezone(&CHINA_TIME).date_naive();
            let last = nth_working_day(conn, village, filed_on, days).await?;
            Ok(Some(end_of_day(last)))
        }
    }
}

/// The `n`th working day after `day` in `village`.
pub async fn nth_working_day<C: ConnectionTrait>(
    conn: &C,
    village: &AdminScope,
    day: NaiveDate,
    n: i32,
) -> Result<NaiveDate> {
    let mut remaining = n;
    let mut from = day;
    let mut looked = 0;
    while looked < HORIZON_DAYS {
        let until = from + Days::new(WINDOW_DAYS);
        let differing =
            store::calendar_in_effect(conn, village, from + Days::new(1), until).await?;
        match count_working_days(from, remaining, until, &differing) {
            Ok(found) => return Ok(found),
            Err(counted) => remaining -= counted,
        }
        from = until;
        looked += WINDOW_DAYS;
    }
    Err(Error::internal(anyhow::anyhow!(
        "the working calendar of {} has fewer than {n} working days in two years",
        village.as_str()
    )))
}

/// Counts `n` working days after `after`, up to `until` included, with `differing` the days that
/// differ from the ordinary week: the `n`th, or how many were counted when `until` came first.
pub fn count_working_days(
    after: NaiveDate,
    n: i32,
    until: NaiveDate,
    differing: &BTreeMap<NaiveDate, bool>,
) -> std::result::Result<NaiveDate, i32> {
    let mut counted = 0;
    let mut day = after;
    while day < until {
        day = day + Days::new(1);
        if is_working(day, differing) {
            counted += 1;
            if counted == n {
                return Ok(day);
            }
        }
    }
    Err(counted)
}

/// Whether `day` is worked: as the calendar says, else Monday to Friday.
pub fn is_working(day: NaiveDate, differing: &BTreeMap<NaiveDate, bool>) -> bool {
    differing
        .get(&day)
        .copied()
        .unwrap_or_else(|| ordinary_working(day))
}

/// Monday to Friday.
pub fn ordinary_working(day: NaiveDate) -> bool {
    !matches!(day.weekday(), Weekday::Sat | Weekday::Sun)
}

/// 24:00 China time at the end of `day`.
pub fn end_of_day(day: NaiveDate) -> DateTime<Utc> {
    // Validated days end in 9999; the last day chrono knows has no next one to end on.
    let next = day.checked_add_days(Days::new(1)).unwrap_or(day);
    next.and_hms_opt(0, 0, 0)
        .and_then(|midnight| midnight.and_local_timezone(CHINA_TIME).single())
        .map_or_else(
            || next.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc(),
            |local| local.with_timezone(&Utc),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("a date")
    }

    #[test]
    fn working_days_skip_weekends_and_holidays_and_count_make_up_days() {
        let none = BTreeMap::new();
        // Friday 2026-12-04 + 2 working days: Monday the 7th, Tuesday the 8th.
        assert_eq!(
            count_working_days(date("2026-12-04"), 2, date("2027-01-01"), &none),
            Ok(date("2026-12-08"))
        );
        // Monday the 7th a holiday, Saturday the 5th a make-up working day.
        let differing = BTreeMap::from([(date("2026-12-07"), false), (date("2026-12-05"), true)]);
        assert_eq!(
            count_working_days(date("2026-12-04"), 2, date("2027-01-01"), &differing),
            Ok(date("2026-12-08"))
        );
        assert_eq!(
            count_working_days(date("2026-12-04"), 3, date("2027-01-01"), &differing),
            Ok(date("2026-12-09"))
        );
        // A window too short says how many it counted.
        assert_eq!(
            count_working_days(date("2026-12-04"), 5, date("2026-12-08"), &none),
            Err(2)
        );
    }

    #[test]
    fn the_end_of_a_day_is_midnight_in_china() {
        assert_eq!(
            end_of_day(date("2026-12-08")).to_rfc3339(),
            "2026-12-08T16:00:00+00:00"
        );
        // The last day there is has an end too (no day after it to overflow into).
        assert!(end_of_day(NaiveDate::MAX) > end_of_day(date("9999-12-31")));
    }
}
