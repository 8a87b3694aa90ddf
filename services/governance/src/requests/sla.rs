//! Deadlines on the service clock: overdue requests escalated one level up
//! ([`ESCALATION_JOB`], and `EscalateServiceRequest` by hand), resolved requests closed when
//! their reopen window ends ([`CLOSING_JOB`]).
//!
//! An escalation moves the request from its village to its township, or from its township to
//! its county, and gives it a new SLA period at that level (counted from the escalation, as the
//! type says), so that each level has as long as the first did; a request at its county stays
//! there. The assignee is cleared: the new level's officials assign it. Each escalation is in the
//! request's public timeline, announced as `governance.request.escalated` for notify, and in the
//! county's audit chain (the job's actions as the job's).

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, TransactionTrait as _};
use terrace_platform::auth::Caller;
use terrace_platform::bus::outbox;
use terrace_platform::error::{Error, Result};
use terrace_platform::jobs::Schedule;
use terrace_proto::governance::v1 as pb;

use super::{Requests, Sight, area, entry, status_name, status_proto, store, workflow};
use crate::entity::service_request_timeline::Model as EntryRow;
use crate::entity::service_requests::{Model as RequestRow, RequestStatus as Status};
use crate::request_types::parse::Sla;

/// Escalates overdue requests; every five minutes of the service clock.
pub const ESCALATION_JOB: Schedule = Schedule {
    job: "governance.request-escalation",
    every: std::time::Duration::from_secs(300),
};

/// Closes resolved requests whose reopen window has ended.
pub const CLOSING_JOB: Schedule = Schedule {
    job: "governance.request-closing",
    every: std::time::Duration::from_secs(300),
};

/// Why the job escalates, as the event and the audit log say.
pub const SLA_OVERDUE: &str = "sla_overdue";

/// Requests a job handles per transaction.
const BATCH: u64 = 100;

/// The area one level up from a village or a township; none above a county.
pub fn level_up(area: &str) -> Option<&str> {
    match area.len() {
        12 => Some(&area[..9]),
        9 => Some(&area[..6]),
        _ => None,
    }
}

/// When `row` is due if its SLA period starts again at `now` (an escalation, a reopening), as
/// its type says today.
pub(super) async fn new_period<C: ConnectionTrait>(
    txn: &C,
    row: &RequestRow,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>> {
    let sla = crate::request_types::store::find(txn, row.type_id)
        .await?
        .map_or(Sla::None, |request_type| {
            crate::request_types::sla_of(&request_type)
        });
    crate::request_settings::calendar::due_time(txn, sla, &area(&row.village_code)?, now).await
}

impl Requests {
    /// `EscalateServiceRequest`: an official of the responsible area moves an open request one
    /// level up at once.
    pub async fn escalate(
        &self,
        caller: &Caller,
        command: super::parse::Escalate,
    ) -> Result<pb::EscalateServiceRequestResponse> {
        let now = self.clock.now();
        terrace_platform::idempotency::once(
            &self.db,
            caller,
            &command.mutation,
            now,
            terrace_platform::idempotency::Keep::Answer,
            async |txn| {
                let row = store::find_for_update(txn, command.id)
                    .await?
                    .ok_or_else(|| super::unknown(command.id))?;
                super::require_handler(caller, &row)?;
                if !workflow::is_open(row.status) {
                    return Err(Error::failed_precondition_with(
                        "REQUEST_NOT_OPEN",
                        "only an open request is escalated",
                        [("current_status", status_name(row.status))],
                    ));
                }
                if level_up(&row.responsible_area).is_none() {
                    return Err(Error::failed_precondition(
                        "ALREADY_AT_COUNTY",
                        "the request is with its county already",
                    ));
                }
                let row = self
                    .escalate_row(txn, caller, row, &command.reason, now)
                    .await?;
                Ok(pb::EscalateServiceRequestResponse {
                    service_request: Some(self.to_proto(txn, &row, Sight::Official).await?),
                })
            },
        )
        .await
    }

    /// The job: escalates every open request past its due time, below county level, one level.
    pub async fn escalate_overdue(&self, now: DateTime<Utc>) -> Result<u64> {
        let job = Caller::System {
            job: ESCALATION_JOB.job,
        };
        let mut done = 0;
        // Requests this run could not move (their calendar, say, has no working day left):
        // logged and passed by, so one of them does not hold up every other.
        let mut failed = Vec::new();
        loop {
            let txn = self.db.begin().await?;
            let rows = store::overdue(&txn, now, &failed, BATCH).await?;
            let found = rows.len() as u64;
            for row in rows {
                let id = row.id;
                let savepoint = txn.begin().await?;
                match self
                    .escalate_row(&savepoint, &job, row, SLA_OVERDUE, now)
                    .await
                {
                    Ok(_) => savepoint.commit().await?,
                    Err(error) => {
                        savepoint.rollback().await?;
                        tracing::error!(service_request_id = %id, error = %error, "an overdue request could not be escalated");
                        failed.push(id);
                    }
                }
            }
            txn.commit().await?;
            done += found;
            if found < BATCH {
                return Ok(done - failed.len() as u64);
            }
        }
    }

    /// The job: closes resolved requests whose reopen window ended by `now`.
    pub async fn close_resolved(&self, now: DateTime<Utc>) -> Result<u64> {
        let job = Caller::System {
            job: CLOSING_JOB.job,
        };
        let mut done = 0;
        loop {
            let txn = self.db.begin().await?;
            let rows = store::past_reopen_window(&txn, now, BATCH).await?;
            let found = rows.len() as u64;
            for mut row in rows {
                row.status = Status::Closed;
                row.closed_at = Some(now);
                let entry: EntryRow = entry(&row, &job, now, pb::TimelineEntryKind::StatusChanged)
                    .from(Status::Resolved)
                    .to(Status::Closed)
                    .public()
                    .into();
                let row = self.save(&txn, &job, row, &entry, now).await?;
                outbox::publish(
                    &txn,
                    &self.source,
                    &pb::ServiceRequestStatusChanged {
                        service_request: Some(super::on_bus(
                            self.to_proto(&txn, &row, Sight::Official).await?,
                        )),
                        from_status: status_proto(Status::Resolved) as i32,
                        entry: Some(super::entry_proto(&entry)),
                        actor: Some(job.actor()),
                    },
                )
                .await?;
                self.audited(
                    &txn,
                    &job,
                    &row,
                    "service_request.closed",
                    serde_json::json!({ "reason": "reopen window ended" }),
                    now,
                )
                .await?;
            }
            txn.commit().await?;
            done += found;
            if found < BATCH {
                return Ok(done);
            }
        }
    }

    /// Moves `row` one level up for `reason`, with a new SLA period from `now`.
    async fn escalate_row<C: ConnectionTrait>(
        &self,
        txn: &C,
        caller: &Caller,
        mut row: RequestRow,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<RequestRow> {
        let Some(up) = level_up(&row.responsible_area).map(str::to_owned) else {
            return Ok(row);
        };
        let from = std::mem::replace(&mut row.responsible_area, up);
        row.escalation_level += 1;
        row.assignee_user_id = None;
        row.due_at = new_period(txn, &row, now).await?;
        // An official's reason for moving it up is between officials; the requester sees the move.
        let note = if reason == SLA_OVERDUE { "" } else { reason };
        let entry: EntryRow = entry(&row, caller, now, pb::TimelineEntryKind::Escalated)
            .note(note, pb::NoteVisibility::Internal)
            .into();
        let row = self.save(txn, caller, row, &entry, now).await?;
        outbox::publish(
            txn,
            &self.source,
            &pb::ServiceRequestEscalated {
                service_request: Some(super::on_bus(
                    self.to_proto(txn, &row, Sight::Official).await?,
                )),
                reason: reason.to_owned(),
                actor: Some(caller.actor()),
            },
        )
        .await?;
        self.audited(
            txn,
            caller,
            &row,
            "service_request.escalated",
            serde_json::json!({ "from": from, "to": row.responsible_area, "reason": reason }),
            now,
        )
        .await?;
        tracing::info!(service_request_id = %row.id, from = %from, to = %row.responsible_area, reason, "service request escalated");
        Ok(row)
    }
}

#[cfg(test)]
mod tests {
    use super::level_up;

    #[test]
    fn one_level_up_from_village_to_township_to_county_and_no_further() {
        assert_eq!(level_up("330523108204"), Some("330523108"));
        assert_eq!(level_up("330523108"), Some("330523"));
        assert_eq!(level_up("330523"), None);
    }
}
