//! The workflow of a service request, as the contract draws it:
//!
//! ```text
//! SUBMITTED -> ACKNOWLEDGED | REJECTED
//! ACKNOWLEDGED | REOPENED -> IN_PROGRESS | REJECTED
//! IN_PROGRESS -> RESOLVED
//! RESOLVED -> CLOSED (an official, or the system when the reopen window ends)
//!           | REOPENED (the requester, within the window)
//! any open status -> MERGED
//! ```

use crate::entity::service_requests::RequestStatus as Status;

/// Whether an official may move a request from `from` to `to` with
/// `ChangeServiceRequestStatus` (reopening and merging have their own RPCs).
pub fn official_may_move(from: Status, to: Status) -> bool {
    use Status::*;
    matches!(
        (from, to),
        (Submitted, Acknowledged | Rejected)
            | (Acknowledged | Reopened, InProgress | Rejected)
            | (InProgress, Resolved)
            | (Resolved, Closed)
    )
}

/// Still being handled: escalation, assignment and merging apply.
pub fn is_open(status: Status) -> bool {
    matches!(
        status,
        Status::Submitted | Status::Acknowledged | Status::InProgress | Status::Reopened
    )
}

/// Nothing more happens to it.
pub fn is_final(status: Status) -> bool {
    matches!(status, Status::Closed | Status::Rejected | Status::Merged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::Iterable as _;

    #[test]
    fn the_contracts_transitions_and_no_others() {
        let allowed: Vec<(Status, Status)> = Status::iter()
            .flat_map(|from| Status::iter().map(move |to| (from, to)))
            .filter(|(from, to)| official_may_move(*from, *to))
            .collect();
        use Status::*;
        assert_eq!(
            allowed,
            [
                (Submitted, Acknowledged),
                (Submitted, Rejected),
                (Acknowledged, InProgress),
                (Acknowledged, Rejected),
                (InProgress, Resolved),
                (Resolved, Closed),
                (Reopened, InProgress),
                (Reopened, Rejected),
            ]
        );
        assert!(Status::iter().all(|s| !(is_open(s) && is_final(s))));
        assert!(
            !is_open(Resolved) && !is_final(Resolved),
            "resolved waits for the requester"
        );
    }
}
