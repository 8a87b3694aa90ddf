//! What governs service requests beyond their types: each area's settings
//! (`GetRequestAreaSettings`, `UpdateRequestAreaSettings`) and the working calendar
//! (`ListWorkingCalendarDays`, `SetWorkingCalendarDays`) that SLAs in working days count against
//! ([`calendar`]).
//!
//! **Settings inherit.** An area's own settings apply to every village under it unless a smaller
//! area sets its own; each field is taken from the nearest area up the tree that sets it, else
//! the defaults ([`DEFAULTS`]). Township officials set their township's and its villages'; county
//! admins their county's.
//!
//! **The calendar** is the operators' (platform admins): each year's official holiday notice
//! lists the public holidays that fall on weekdays and the make-up working days on weekends; an
//! area may have days of its own. Setting a range replaces that area's days in it. Due times
//! already given stay: a change applies to requests filed afterwards.
//!
//! Every change is appended to the audit chain of its area.

pub mod calendar;
pub mod parse;
pub mod store;

use sea_orm::{ConnectionTrait, DatabaseConnection};
use terrace_platform::Clock;
use terrace_platform::auth::{AdminScope, Caller, Role};
use terrace_platform::error::{Error, Result};
use terrace_platform::idempotency::{self, Keep};
use terrace_platform::validate::{page_response, to_date};
use terrace_proto::common::v1 as common;
use terrace_proto::governance::v1 as pb;

use self::parse::{DayCursor, ListCalendarDays, SetCalendarDays, UpdateAreaSettings};
use crate::entity::request_area_settings::{Column as SettingsColumn, Model as SettingsRow};
use crate::entity::working_calendar_days::Model as DayRow;
use crate::register::{decoded_actor, encoded_actor};
use crate::request_types::{localized, translations};

/// The settings where no area sets them.
pub const DEFAULTS: Settings = Settings {
    reopen_window_days: 7,
    duplicate_radius_metres: 200,
    duplicate_window_days: 7,
};

/// The settings in effect in an area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    pub reopen_window_days: i32,
    pub duplicate_radius_metres: i32,
    pub duplicate_window_days: i32,
}

/// The settings in effect in `area`, and the row of its own if it has one.
pub async fn in_effect<C: ConnectionTrait>(
    conn: &C,
    area: &AdminScope,
) -> Result<(Settings, Option<SettingsRow>)> {
    let rows = store::settings_above(conn, area).await?;
    let mut settings = DEFAULTS;
    for row in &rows {
        settings.reopen_window_days = row
            .reopen_window_days
            .unwrap_or(settings.reopen_window_days);
        settings.duplicate_radius_metres = row
            .duplicate_radius_metres
            .unwrap_or(settings.duplicate_radius_metres);
        settings.duplicate_window_days = row
            .duplicate_window_days
            .unwrap_or(settings.duplicate_window_days);
    }
    let own = rows.into_iter().find(|row| row.area == area.as_str());
    Ok((settings, own))
}

/// The settings and the calendar: the *apply* step of their RPCs.
#[derive(Debug, Clone)]
pub struct RequestSettings {
    db: DatabaseConnection,
    clock: Clock,
}

impl RequestSettings {
    pub fn new(db: DatabaseConnection, clock: Clock) -> Self {
        Self { db, clock }
    }

    /// Any signed-in caller: the settings say how long a villager may reopen.
    pub async fn get(&self, area: &AdminScope) -> Result<pb::GetRequestAreaSettingsResponse> {
        let (settings, own) = in_effect(&self.db, area).await?;
        Ok(pb::GetRequestAreaSettingsResponse {
            settings: Some(settings_proto(area, settings, None)),
            own: own.map(|row| own_proto(area, &row)),
        })
    }

    pub async fn update(
        &self,
        caller: &Caller,
        command: UpdateAreaSettings,
    ) -> Result<pb::UpdateRequestAreaSettingsResponse> {
        if !caller.covers(&command.area, Role::TownshipOfficial.rank(), None) {
            return Err(Error::permission_denied(
                "OUTSIDE_YOUR_AREA",
                "an area's settings are set by its township officials or county admins",
            ));
        }
        let now = self.clock.now();
        idempotency::once(
            &self.db,
            caller,
            &command.mutation,
            now,
            Keep::Answer,
            async |txn| {
                let area = &command.area;
                if !area.as_str().is_empty()
                    && crate::divisions::store::find(txn, area.as_str())
                        .await?
                        .is_none()
                {
                    return Err(Error::not_found("division", area.as_str()));
                }
                let (_, own) = in_effect(txn, area).await?;
                let own = own.unwrap_or_else(|| SettingsRow {
                    area: area.as_str().to_owned(),
                    reopen_window_days: None,
                    duplicate_radius_metres: None,
                    duplicate_window_days: None,
                    updated_at: now,
                    updated_by: Vec::new(),
                });
                let row = SettingsRow {
                    reopen_window_days: command
                        .reopen_window_days
                        .unwrap_or(own.reopen_window_days),
                    duplicate_radius_metres: command
                        .duplicate_radius_metres
                        .unwrap_or(own.duplicate_radius_metres),
                    duplicate_window_days: command
                        .duplicate_window_days
                        .unwrap_or(own.duplicate_window_days),
                    updated_at: now,
                    updated_by: encoded_actor(caller),
                    ..own
                };
                let changed: Vec<_> = [
                    (
                        command.reopen_window_days.is_some(),
                        SettingsColumn::ReopenWindowDays,
                    ),
                    (
                        command.duplicate_radius_metres.is_some(),
                        SettingsColumn::DuplicateRadiusMetres,
                    ),
                    (
                        command.duplicate_window_days.is_some(),
                        SettingsColumn::DuplicateWindowDays,
                    ),
                ]
                .into_iter()
                .filter_map(|(given, column)| given.then_some(column))
                .collect();
                store::save_settings(txn, row.clone(), &changed).await?;
                crate::audit::append(
                    txn,
                    caller,
                    crate::audit::NewEntry {
                        action: "request_settings.updated",
                        target_type: "area",
                        target_id: area.as_str().to_owned(),
                        area,
                        details: serde_json::json!({
                            "reopen_window_days": row.reopen_window_days,
                            "duplicate_radius_metres": row.duplicate_radius_metres,
                            "duplicate_window_days": row.duplicate_window_days,
                        }),
                    },
                    now,
                )
                .await?;
                let (settings, own) = in_effect(txn, area).await?;
                Ok(pb::UpdateRequestAreaSettingsResponse {
                    settings: Some(settings_proto(area, settings, own.as_ref())),
                })
            },
        )
        .await
    }

    pub async fn list_days(
        &self,
        query: ListCalendarDays,
    ) -> Result<pb::ListWorkingCalendarDaysResponse> {
        let areas = crate::request_types::store::areas_above(&query.area);
        let rows = store::days(
            &self.db,
            &areas,
            query.from,
            query.until,
            query
                .page
                .after
                .as_ref()
                .map(|cursor| (cursor.day, cursor.area.clone())),
            query.page.fetch_limit(),
        )
        .await?;
        let (rows, next) = query.page.finish(rows, |rows| {
            rows.last().map(|row| DayCursor {
                day: row.day,
                area: row.area.clone(),
            })
        });
        Ok(pb::ListWorkingCalendarDaysResponse {
            days: rows.iter().map(day_proto).collect::<Result<_>>()?,
            page: Some(page_response(next.as_ref())),
        })
    }

    pub async fn set_days(
        &self,
        caller: &Caller,
        command: SetCalendarDays,
    ) -> Result<pb::SetWorkingCalendarDaysResponse> {
        if !caller.covers(&AdminScope::country(), Role::PlatformAdmin.rank(), None) {
            return Err(Error::permission_denied(
                "OPERATORS_ONLY",
                "the working calendar is kept by platform admins",
            ));
        }
        let now = self.clock.now();
        idempotency::once(
            &self.db,
            caller,
            &command.mutation,
            now,
            Keep::Answer,
            async |txn| {
                let area = command.area.as_str().to_owned();
                let actor = encoded_actor(caller);
                let rows: Vec<DayRow> = command
                    .days
                    .iter()
                    .map(|day| DayRow {
                        area: area.clone(),
                        day: day.day,
                        working: day.working,
                        name: translations(&day.name),
                        updated_at: now,
                        updated_by: actor.clone(),
                    })
                    .collect();
                store::replace_days(txn, &area, command.from, command.until, rows.clone()).await?;
                crate::audit::append(
                    txn,
                    caller,
                    crate::audit::NewEntry {
                        action: "working_calendar.set",
                        target_type: "area",
                        target_id: area.clone(),
                        area: &command.area,
                        details: serde_json::json!({
                            "from": command.from,
                            "until": command.until,
                            "days_off": rows.iter().filter(|row| !row.working).count(),
                            "working_days": rows.iter().filter(|row| row.working).count(),
                        }),
                    },
                    now,
                )
                .await?;
                Ok(pb::SetWorkingCalendarDaysResponse {
                    days: rows.iter().map(day_proto).collect::<Result<_>>()?,
                })
            },
        )
        .await
    }
}

fn settings_proto(
    area: &AdminScope,
    settings: Settings,
    stamped_by: Option<&SettingsRow>,
) -> pb::RequestAreaSettings {
    pb::RequestAreaSettings {
        area: Some(area.to_proto()),
        reopen_window_days: settings.reopen_window_days,
        duplicate_radius_metres: settings.duplicate_radius_metres,
        duplicate_window_days: settings.duplicate_window_days,
        audit: stamped_by.map(stamp),
    }
}

fn own_proto(area: &AdminScope, row: &SettingsRow) -> pb::RequestAreaSettings {
    pb::RequestAreaSettings {
        area: Some(area.to_proto()),
        reopen_window_days: row.reopen_window_days.unwrap_or(0),
        duplicate_radius_metres: row.duplicate_radius_metres.unwrap_or(0),
        duplicate_window_days: row.duplicate_window_days.unwrap_or(0),
        audit: Some(stamp(row)),
    }
}

fn stamp(row: &SettingsRow) -> common::AuditInfo {
    common::AuditInfo {
        update_time: Some(terrace_platform::validate::to_timestamp(row.updated_at)),
        updater: Some(decoded_actor(&row.updated_by)),
        ..Default::default()
    }
}

fn day_proto(row: &DayRow) -> Result<pb::WorkingCalendarDay> {
    let area = AdminScope::parse(&row.area)
        .map_err(|error| Error::internal(anyhow::anyhow!("a stored calendar area: {error}")))?;
    Ok(pb::WorkingCalendarDay {
        date: Some(to_date(row.day)),
        working: row.working,
        name: Some(localized(&row.name)),
        area: (!row.area.is_empty()).then(|| area.to_proto()),
    })
}
