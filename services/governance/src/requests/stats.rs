//! Figures for an area's dashboard (`GetServiceRequestStats`): open requests by status and by
//! age, SLA compliance per village, new requests per day.
//!
//! Aggregates are written in SQL (`GROUP BY`, `FILTER`, dates in China time), which the query
//! builder would only spell less clearly; each reads one index range of the area's requests.

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate};
use sea_orm::{ConnectionTrait, DbErr, Statement, Value};
use terrace_platform::auth::{AdminLevel, AdminScope, Caller, Role};
use terrace_platform::error::{Error, Result};
use terrace_platform::validate::to_date;
use terrace_proto::governance::v1 as pb;

use super::{REQUESTS_READ, REQUESTS_WRITE, Requests, status_proto};
use crate::entity::service_requests::RequestStatus as Status;
use crate::request_settings::calendar::end_of_day;

/// The age bands of open requests, in hours: a day, three days, a week, a month, older.
const AGE_BANDS: [(i32, i32); 5] = [(0, 24), (24, 72), (72, 168), (168, 720), (720, 0)];

/// `GetServiceRequestStats`, parsed.
#[derive(Debug)]
pub struct StatsQuery {
    pub area: AdminScope,
    /// China-time days, both included; `None`: the last 7 days up to today.
    pub range: Option<(NaiveDate, NaiveDate)>,
}

/// The condition choosing the area's requests, with its one parameter (`$1`).
fn area_condition(area: &AdminScope) -> (&'static str, Value) {
    let code = area.as_str().to_owned();
    match area.level() {
        AdminLevel::Village => ("village_code = $1", code.into()),
        AdminLevel::Township => ("township_code = $1", code.into()),
        AdminLevel::County => ("county_code = $1", code.into()),
        _ => ("county_code LIKE $1 || '%'", code.into()),
    }
}

async fn rows<C: ConnectionTrait>(
    conn: &C,
    sql: String,
    values: Vec<Value>,
) -> std::result::Result<Vec<sea_orm::QueryResult>, DbErr> {
    conn.query_all_raw(Statement::from_sql_and_values(
        conn.get_database_backend(),
        sql,
        values,
    ))
    .await
}

impl Requests {
    pub async fn stats(
        &self,
        caller: &Caller,
        query: StatsQuery,
    ) -> Result<pb::GetServiceRequestStatsResponse> {
        let official =
            |scope| caller.covers(&query.area, Role::VillageOfficial.rank(), Some(scope));
        if !official(REQUESTS_READ) && !official(REQUESTS_WRITE) {
            return Err(Error::permission_denied(
                "OUTSIDE_YOUR_AREA",
                "an area's figures are for its officials",
            ));
        }
        let now = self.clock.now();
        let today = self.clock.today();
        let (first, last) = query.range.unwrap_or((today - Days::new(6), today));
        let (from, until) = (end_of_day(first - Days::new(1)), end_of_day(last));
        let (condition, area) = area_condition(&query.area);
        let open = "status IN (1, 2, 3, 7)";
        let db = &self.db;

        let by_status = rows(
            db,
            format!("SELECT status, count(*) AS n FROM service_requests WHERE {condition} AND {open} GROUP BY status ORDER BY status"),
            vec![area.clone()],
        )
        .await?;
        let open_by_status = by_status
            .iter()
            .map(|row| {
                let status: i16 = row.try_get("", "status")?;
                let count: i64 = row.try_get("", "n")?;
                Ok(pb::StatusCount {
                    status: status_number(status),
                    count: count as i32,
                })
            })
            .collect::<std::result::Result<Vec<_>, DbErr>>()?;

        let bands: Vec<String> = AGE_BANDS
            .iter()
            .enumerate()
            .map(|(i, (min, max))| {
                let upper = if *max == 0 {
                    String::new()
                } else {
                    format!(" AND created_at > $2 - interval '{max} hours'")
                };
                format!("count(*) FILTER (WHERE created_at <= $2 - interval '{min} hours'{upper}) AS band{i}")
            })
            .collect();
        let ages = rows(
            db,
            format!(
                "SELECT {}, count(*) FILTER (WHERE due_at < $2) AS overdue FROM service_requests WHERE {condition} AND {open}",
                bands.join(", ")
            ),
            vec![area.clone(), now.into()],
        )
        .await?;
        let ages = ages.first();
        let band = |i: usize| -> std::result::Result<i32, DbErr> {
            Ok(ages
                .map(|row| row.try_get::<i64>("", &format!("band{i}")))
                .transpose()?
                .unwrap_or(0) as i32)
        };
        let open_by_age = AGE_BANDS
            .iter()
            .enumerate()
            .map(|(i, (min, max))| {
                Ok(pb::AgeCount {
                    min_age_hours: *min,
                    max_age_hours: *max,
                    count: band(i)?,
                })
            })
            .collect::<std::result::Result<Vec<_>, DbErr>>()?;
        let overdue = ages
            .map(|row| row.try_get::<i64>("", "overdue"))
            .transpose()?
            .unwrap_or(0) as i32;

        // Judged against the due time a request was filed with. Counted, as the contract says:
        // those due in the range (up to now: one due later today is not missed yet) and those
        // resolved in it; a merged or rejected request was no matter of the SLA. Met: resolved
        // (or closed) by the due time and still so — one reopened since is not settled.
        let settled = "status IN (4, 5) AND resolved_at <= first_due_at";
        let compliance = rows(
            db,
            format!(
                "SELECT village_code, count(*) AS due, count(*) FILTER (WHERE {settled}) AS met \
                 FROM service_requests WHERE {condition} AND first_due_at IS NOT NULL \
                 AND status NOT IN (6, 8) \
                 AND ((first_due_at >= $2 AND first_due_at < least($3, $4)) \
                      OR (resolved_at >= $2 AND resolved_at < $3)) \
                 GROUP BY village_code ORDER BY village_code"
            ),
            vec![area.clone(), from.into(), until.into(), now.into()],
        )
        .await?;
        let sla_by_village = compliance
            .iter()
            .map(|row| {
                let village: String = row.try_get("", "village_code")?;
                Ok(pb::VillageSlaCompliance {
                    village: AdminScope::parse(&village).ok().map(|v| v.to_proto()),
                    due: row.try_get::<i64>("", "due")? as i32,
                    met: row.try_get::<i64>("", "met")? as i32,
                })
            })
            .collect::<std::result::Result<Vec<_>, DbErr>>()?;

        let days = rows(
            db,
            format!(
                "SELECT (created_at AT TIME ZONE 'Asia/Shanghai')::date AS day, count(*) AS n \
                 FROM service_requests WHERE {condition} AND created_at >= $2 AND created_at < $3 \
                 GROUP BY 1"
            ),
            vec![area, from.into(), until.into()],
        )
        .await?;
        let mut counted: BTreeMap<NaiveDate, i32> = BTreeMap::new();
        for row in &days {
            let day: NaiveDate = row.try_get("", "day")?;
            counted.insert(day, row.try_get::<i64>("", "n")? as i32);
        }
        let new_by_day = first
            .iter_days()
            .take_while(|day| *day <= last)
            .map(|day| pb::DayCount {
                date: Some(to_date(day)),
                count: counted.get(&day).copied().unwrap_or(0),
            })
            .collect();
        Ok(pb::GetServiceRequestStatsResponse {
            open_by_status,
            open_by_age,
            sla_by_village,
            new_by_day,
            overdue,
        })
    }
}

fn status_number(stored: i16) -> i32 {
    use sea_orm::ActiveEnum as _;
    Status::try_from_value(&stored)
        .map(|status| status_proto(status) as i32)
        .unwrap_or(i32::from(stored))
}
