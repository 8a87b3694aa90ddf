//! What the requester does once a request is resolved: rate the handling, once
//! (`RateServiceRequest`), or reopen it within the area's reopen window
//! (`ReopenServiceRequest`), which gives it a new SLA period at the level now responsible.

use terrace_platform::auth::Caller;
use terrace_platform::bus::outbox;
use terrace_platform::error::{Error, Result};
use terrace_platform::idempotency::{self, Keep};
use terrace_proto::governance::v1 as pb;

use super::parse::{Rate, Reopen};
use super::{
    REQUESTS_WRITE, Requests, Sight, entry, is_requester, status_name, status_proto, store, unknown,
};
use crate::entity::service_request_timeline::Model as EntryRow;
use crate::entity::service_requests::{Model as RequestRow, RequestStatus as Status};

/// Only the requester (or their helper) rates and reopens; others who may see the request are
/// refused, others still are told it does not exist.
fn require_requester(caller: &Caller, row: &RequestRow) -> Result<()> {
    if is_requester(caller, row, REQUESTS_WRITE) {
        return Ok(());
    }
    super::sight(caller, row)?;
    Err(Error::permission_denied(
        "REQUESTER_ONLY",
        "only the requester rates or reopens a request",
    ))
}

impl Requests {
    pub async fn rate(
        &self,
        caller: &Caller,
        command: Rate,
    ) -> Result<pb::RateServiceRequestResponse> {
        let now = self.clock.now();
        idempotency::once(
            &self.db,
            caller,
            &command.mutation,
            now,
            Keep::Answer,
            async |txn| {
                let mut row = store::find_for_update(txn, command.id)
                    .await?
                    .ok_or_else(|| unknown(command.id))?;
                require_requester(caller, &row)?;
                if !matches!(row.status, Status::Resolved | Status::Closed) {
                    return Err(Error::failed_precondition_with(
                        "NOT_RESOLVED",
                        "a request is rated once it is resolved",
                        [("current_status", status_name(row.status))],
                    ));
                }
                if row.rating != 0 {
                    return Err(Error::failed_precondition(
                        "ALREADY_RATED",
                        "this request has been rated already",
                    ));
                }
                row.rating = command.rating;
                row.rating_comment = command.comment.clone();
                let mut entry: EntryRow = entry(&row, caller, now, pb::TimelineEntryKind::Rated)
                    .note(&command.comment, pb::NoteVisibility::Public)
                    .into();
                entry.rating = command.rating;
                let row = self.save(txn, caller, row, &entry, now).await?;
                let service_request = self.to_proto(txn, &row, Sight::Official).await?;
                outbox::publish(
                    txn,
                    &self.source,
                    &pb::ServiceRequestRated {
                        service_request: Some(super::on_bus(service_request.clone())),
                    },
                )
                .await?;
                Ok(pb::RateServiceRequestResponse {
                    service_request: Some(super::for_requester(service_request)),
                })
            },
        )
        .await
    }

    pub async fn reopen(
        &self,
        caller: &Caller,
        command: Reopen,
    ) -> Result<pb::ReopenServiceRequestResponse> {
        let now = self.clock.now();
        idempotency::once(
            &self.db,
            caller,
            &command.mutation,
            now,
            Keep::Answer,
            async |txn| {
                let mut row = store::find_for_update(txn, command.id)
                    .await?
                    .ok_or_else(|| unknown(command.id))?;
                require_requester(caller, &row)?;
                if row.status != Status::Resolved {
                    return Err(Error::failed_precondition_with(
                        "NOT_RESOLVED",
                        "only a resolved request is reopened",
                        [("current_status", status_name(row.status))],
                    ));
                }
                if row.reopen_deadline.is_none_or(|deadline| now > deadline) {
                    return Err(Error::failed_precondition(
                        "REOPEN_WINDOW_CLOSED",
                        "the time to reopen this request has passed; file a new one",
                    ));
                }
                row.status = Status::Reopened;
                row.reopen_count += 1;
                row.reopen_deadline = None;
                row.due_at = super::sla::new_period(txn, &row, now).await?;
                let entry: EntryRow =
                    entry(&row, caller, now, pb::TimelineEntryKind::StatusChanged)
                        .from(Status::Resolved)
                        .to(Status::Reopened)
                        .note(&command.reason, pb::NoteVisibility::Public)
                        .into();
                let row = self.save(txn, caller, row, &entry, now).await?;
                let service_request = self.to_proto(txn, &row, Sight::Official).await?;
                outbox::publish(
                    txn,
                    &self.source,
                    &pb::ServiceRequestStatusChanged {
                        service_request: Some(super::on_bus(service_request.clone())),
                        from_status: status_proto(Status::Resolved) as i32,
                        entry: Some(super::entry_proto(&entry)),
                        actor: Some(caller.actor()),
                    },
                )
                .await?;
                Ok(pb::ReopenServiceRequestResponse {
                    service_request: Some(super::for_requester(service_request)),
                })
            },
        )
        .await
    }
}
