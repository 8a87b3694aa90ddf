//! Possible duplicates and merging: `ListDuplicateCandidates`, `MergeServiceRequests`, and the
//! candidates an official sees when filing.
//!
//! A candidate is another open request of the same type in the same village, filed within the
//! area's duplicate window of days, and within its duplicate radius when both have a point
//! (distance on the sphere; PostGIS is not needed for a village's few requests). Those with a
//! point come first, nearest first; those without one follow, closest in time first.
//!
//! Merging makes the duplicate MERGED into the primary; its requester (and whoever followed it)
//! follows the primary from then on, so they hear of its progress. Both timelines say so.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;
use terrace_platform::auth::Caller;
use terrace_platform::bus::outbox;
use terrace_platform::error::{Error, Result};
use terrace_platform::idempotency::{self, Keep};
use terrace_platform::validate::page_response;
use terrace_proto::governance::v1 as pb;
use uuid::Uuid;

use super::parse::{ListDuplicates, Merge, OffsetCursor};
use super::{Requests, Sight, area, entry, require_handler, status_name, store, unknown, workflow};
use crate::entity::service_request_followers::Model as FollowerRow;
use crate::entity::service_request_timeline::Model as EntryRow;
use crate::entity::service_requests::{Model as RequestRow, RequestStatus as Status};

/// The mean radius of the earth, in metres.
const EARTH_RADIUS_METRES: f64 = 6_371_008.8;
/// The most candidates looked at for one request.
const MAX_CANDIDATES: u64 = 500;
/// Candidates shown to an official filing a request.
const AT_FILING: usize = 5;

/// Great-circle distance between two WGS84 points, in metres (haversine).
pub fn distance_metres(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (lat1, lat2) = (a.0.to_radians(), b.0.to_radians());
    let half_dlat = (b.0 - a.0).to_radians() / 2.0;
    let half_dlng = (b.1 - a.1).to_radians() / 2.0;
    let h = half_dlat.sin().powi(2) + lat1.cos() * lat2.cos() * half_dlng.sin().powi(2);
    2.0 * EARTH_RADIUS_METRES * h.sqrt().min(1.0).asin()
}

fn point(row: &RequestRow) -> Option<(f64, f64)> {
    row.latitude.zip(row.longitude)
}

/// The candidates of `of`, best first.
pub(super) async fn candidates<C: ConnectionTrait>(
    conn: &C,
    of: &RequestRow,
    max_metres: i32,
    max_days: i32,
) -> Result<Vec<(RequestRow, Option<f64>, i32)>> {
    let window = chrono::Duration::days(i64::from(max_days));
    let rows = store::same_kind_open(
        conn,
        of,
        of.created_at - window,
        of.created_at + window,
        MAX_CANDIDATES,
    )
    .await?;
    let mut found: Vec<(RequestRow, Option<f64>, i32)> = rows
        .into_iter()
        .filter_map(|row| {
            let distance = point(of)
                .zip(point(&row))
                .map(|(a, b)| distance_metres(a, b));
            if distance.is_some_and(|d| d > f64::from(max_metres)) {
                return None;
            }
            let days = (row.created_at - of.created_at).num_days().abs() as i32;
            Some((row, distance, days))
        })
        .collect();
    found.sort_by(|a, b| match (a.1, b.1) {
        (Some(x), Some(y)) => x
            .partial_cmp(&y)
            .unwrap_or(Ordering::Equal)
            .then(a.2.cmp(&b.2)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.2.cmp(&b.2),
    });
    Ok(found)
}

impl Requests {
    /// The candidates an official filing `row` is shown: the area's settings, the first few.
    pub(super) async fn candidates_at_filing<C: ConnectionTrait>(
        &self,
        conn: &C,
        row: &RequestRow,
    ) -> Result<Vec<pb::DuplicateCandidate>> {
        let (settings, _) =
            crate::request_settings::in_effect(conn, &area(&row.village_code)?).await?;
        let found = candidates(
            conn,
            row,
            settings.duplicate_radius_metres,
            settings.duplicate_window_days,
        )
        .await?;
        let mut answer = Vec::new();
        for (candidate, distance, days) in found.into_iter().take(AT_FILING) {
            answer.push(pb::DuplicateCandidate {
                request: Some(self.to_proto(conn, &candidate, Sight::Official).await?),
                distance_metres: distance,
                days_apart: days,
            });
        }
        Ok(answer)
    }

    pub async fn duplicates(
        &self,
        caller: &Caller,
        query: ListDuplicates,
    ) -> Result<pb::ListDuplicateCandidatesResponse> {
        let row = store::find(&self.db, query.id)
            .await?
            .ok_or_else(|| unknown(query.id))?;
        require_handler(caller, &row)?;
        let (settings, _) =
            crate::request_settings::in_effect(&self.db, &area(&row.village_code)?).await?;
        let found = candidates(
            &self.db,
            &row,
            query.max_metres.unwrap_or(settings.duplicate_radius_metres),
            query.max_days.unwrap_or(settings.duplicate_window_days),
        )
        .await?;
        let offset = query.page.after.as_ref().map_or(0, |cursor| cursor.offset);
        let size = query.page.size as usize;
        let mut candidates = Vec::new();
        for (candidate, distance, days) in found.iter().skip(offset).take(size) {
            candidates.push(pb::DuplicateCandidate {
                request: Some(self.to_proto(&self.db, candidate, Sight::Official).await?),
                distance_metres: *distance,
                days_apart: *days,
            });
        }
        // The token is the client's to send back, and may come back as any number.
        let next = (offset.saturating_add(size) < found.len()).then_some(OffsetCursor {
            offset: offset + size,
        });
        Ok(pb::ListDuplicateCandidatesResponse {
            candidates,
            page: Some(page_response(next.as_ref())),
        })
    }

    pub async fn merge(
        &self,
        caller: &Caller,
        command: Merge,
    ) -> Result<pb::MergeServiceRequestsResponse> {
        let now = self.clock.now();
        idempotency::once(
            &self.db,
            caller,
            &command.mutation,
            now,
            Keep::Answer,
            async |txn| {
                // Locked in id order, so two merges of the same pair cannot deadlock.
                let (first, second) = if command.primary < command.duplicate {
                    (command.primary, command.duplicate)
                } else {
                    (command.duplicate, command.primary)
                };
                let first = store::find_for_update(txn, first)
                    .await?
                    .ok_or_else(|| unknown(first))?;
                let second = store::find_for_update(txn, second)
                    .await?
                    .ok_or_else(|| unknown(second))?;
                let (primary, duplicate) = if first.id == command.primary {
                    (first, second)
                } else {
                    (second, first)
                };
                require_handler(caller, &primary)?;
                require_handler(caller, &duplicate)?;
                for row in [&primary, &duplicate] {
                    if workflow::is_final(row.status) {
                        return Err(Error::failed_precondition_with(
                            "REQUEST_FINAL",
                            "a request that is closed, rejected or merged is not merged",
                            [("current_status", status_name(row.status))],
                        ));
                    }
                }
                if primary.type_id != duplicate.type_id
                    || primary.village_code != duplicate.village_code
                {
                    return Err(Error::failed_precondition(
                        "NOT_ALIKE",
                        "only requests of the same type in the same village are merged",
                    ));
                }
                let mut followers = store::followers(txn, &[duplicate.id]).await?;
                // An agency's own request names nobody to keep informed.
                let someone = duplicate.requester_user_id.is_some()
                    || !duplicate.contact_phone.is_empty()
                    || !duplicate.contact_name.is_empty();
                if someone {
                    followers.push(FollowerRow {
                        service_request_id: primary.id,
                        merged_request_id: duplicate.id,
                        user_id: duplicate.requester_user_id,
                        contact_name: duplicate.contact_name.clone(),
                        contact_phone: duplicate.contact_phone.clone(),
                    });
                }
                let followers: Vec<FollowerRow> = followers
                    .into_iter()
                    .map(|follower| FollowerRow {
                        service_request_id: primary.id,
                        ..follower
                    })
                    .collect();
                store::add_followers(txn, followers).await?;
                let primary = self
                    .merged_entry(txn, caller, primary, duplicate.id, &command.note, now, None)
                    .await?;
                let duplicate = self
                    .merged_entry(
                        txn,
                        caller,
                        duplicate,
                        primary.id,
                        &command.note,
                        now,
                        Some(Status::Merged),
                    )
                    .await?;
                let (primary, duplicate) = (
                    self.to_proto(txn, &primary, Sight::Official).await?,
                    self.to_proto(txn, &duplicate, Sight::Official).await?,
                );
                outbox::publish(
                    txn,
                    &self.source,
                    &pb::ServiceRequestsMerged {
                        primary: Some(super::on_bus(primary.clone())),
                        duplicate: Some(super::on_bus(duplicate.clone())),
                        actor: Some(caller.actor()),
                    },
                )
                .await?;
                let duplicate_row = store::find(txn, command.duplicate)
                    .await?
                    .ok_or_else(|| unknown(command.duplicate))?;
                self.audited(
                    txn,
                    caller,
                    &duplicate_row,
                    "service_request.merged",
                    serde_json::json!({ "into": command.primary }),
                    now,
                )
                .await?;
                Ok(pb::MergeServiceRequestsResponse {
                    primary: Some(primary),
                    duplicate: Some(duplicate),
                })
            },
        )
        .await
    }

    /// Writes a MERGED entry on `row` naming `other`, moving it to `to` if given.
    #[allow(clippy::too_many_arguments)]
    async fn merged_entry<C: ConnectionTrait>(
        &self,
        txn: &C,
        caller: &Caller,
        mut row: RequestRow,
        other: Uuid,
        note: &str,
        now: DateTime<Utc>,
        to: Option<Status>,
    ) -> Result<RequestRow> {
        let from = row.status;
        if let Some(to) = to {
            row.status = to;
            row.merged_into = Some(other);
            row.closed_at = Some(now);
        }
        let mut entry: EntryRow = entry(&row, caller, now, pb::TimelineEntryKind::Merged)
            .note(note, pb::NoteVisibility::Public)
            .into();
        entry.related_request_id = Some(other);
        if let Some(to) = to {
            entry.from_status = super::status_proto(from) as i16;
            entry.to_status = super::status_proto(to) as i16;
        }
        let row = self.save(txn, caller, row, &entry, now).await?;
        Ok(row)
    }
}

#[cfg(test)]
mod tests {
    use super::distance_metres;

    #[test]
    fn distances_on_the_sphere() {
        // One thousandth of a degree of latitude is about 111 metres anywhere.
        let d = distance_metres((30.0, 119.0), (30.001, 119.0));
        assert!((d - 111.2).abs() < 0.5, "{d}");
        // Beijing to Shanghai, about 1,067 km.
        let d = distance_metres((39.9042, 116.4074), (31.2304, 121.4737));
        assert!((d / 1000.0 - 1067.0).abs() < 5.0, "{d}");
        assert_eq!(distance_metres((30.0, 119.0), (30.0, 119.0)), 0.0);
    }
}
