//! The areas' settings and the working calendar: rows and SQL, no rules.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait as _, Condition, ConnectionTrait, DbErr, EntityTrait as _, IntoActiveModel as _,
    QueryFilter as _, QueryOrder as _, QuerySelect as _,
};
use terrace_platform::auth::AdminScope;

use crate::entity::request_area_settings::{
    Column as SettingsColumn, Entity as AreaSettings, Model as SettingsRow,
};
use crate::entity::working_calendar_days::{
    Column as DayColumn, Entity as CalendarDays, Model as DayRow,
};
use crate::request_types::store::areas_above;

/// The settings rows of `area` and every area above it, the nearest last.
pub async fn settings_above<C: ConnectionTrait>(
    conn: &C,
    area: &AdminScope,
) -> Result<Vec<SettingsRow>, DbErr> {
    let mut rows = AreaSettings::find()
        .filter(SettingsColumn::Area.is_in(areas_above(area)))
        .all(conn)
        .await?;
    rows.sort_by_key(|row| row.area.len());
    Ok(rows)
}

/// Writes an area's own settings (inserted or replaced).
/// Writes an area's own settings; over a row already there, only the `changed` columns (and who
/// changed them, when): two officials changing different settings of an area at once both keep
/// their change.
pub async fn save_settings<C: ConnectionTrait>(
    conn: &C,
    row: SettingsRow,
    changed: &[SettingsColumn],
) -> Result<(), DbErr> {
    AreaSettings::insert(row.into_active_model())
        .on_conflict(
            OnConflict::column(SettingsColumn::Area)
                .update_columns(
                    changed
                        .iter()
                        .copied()
                        .chain([SettingsColumn::UpdatedAt, SettingsColumn::UpdatedBy]),
                )
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// The days from `from` to `until` (both included) that differ from the ordinary week in
/// `village`: of every area covering it, the smallest area's entry for a day wins.
pub async fn calendar_in_effect<C: ConnectionTrait>(
    conn: &C,
    village: &AdminScope,
    from: NaiveDate,
    until: NaiveDate,
) -> Result<BTreeMap<NaiveDate, bool>, DbErr> {
    let mut rows = days(conn, &areas_above(village), from, until, None, u64::MAX).await?;
    rows.sort_by_key(|row| (row.day, row.area.len()));
    // Sorted by area length within a day, so the smallest area is inserted last and wins.
    Ok(rows.into_iter().map(|row| (row.day, row.working)).collect())
}

/// Calendar rows of `areas` between two days included, by day and area, after `after`.
pub async fn days<C: ConnectionTrait>(
    conn: &C,
    areas: &[String],
    from: NaiveDate,
    until: NaiveDate,
    after: Option<(NaiveDate, String)>,
    limit: u64,
) -> Result<Vec<DayRow>, DbErr> {
    let mut query = CalendarDays::find()
        .filter(DayColumn::Area.is_in(areas.iter().cloned()))
        .filter(DayColumn::Day.between(from, until));
    if let Some((day, area)) = after {
        query = query.filter(
            Condition::any().add(DayColumn::Day.gt(day)).add(
                Condition::all()
                    .add(DayColumn::Day.eq(day))
                    .add(DayColumn::Area.gt(area)),
            ),
        );
    }
    query = query
        .order_by_asc(DayColumn::Day)
        .order_by_asc(DayColumn::Area);
    if limit != u64::MAX {
        query = query.limit(limit);
    }
    query.all(conn).await
}

/// Replaces the days of `area` from `from` to `until` with `rows`.
pub async fn replace_days<C: ConnectionTrait>(
    conn: &C,
    area: &str,
    from: NaiveDate,
    until: NaiveDate,
    rows: Vec<DayRow>,
) -> Result<(), DbErr> {
    CalendarDays::delete_many()
        .filter(DayColumn::Area.eq(area))
        .filter(DayColumn::Day.between(from, until))
        .exec(conn)
        .await?;
    if !rows.is_empty() {
        CalendarDays::insert_many(rows.into_iter().map(|row| row.into_active_model()))
            .exec_without_returning(conn)
            .await?;
    }
    Ok(())
}
