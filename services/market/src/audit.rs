//! Market's audited actions, for governance's tamper-evident audit log: an official's hide and
//! its lift, whatever a helper does for a villager (or an agency) to a listing or an order, and
//! an operator's exchange rate. Each is published as `market.audit.recorded`
//! (`terrace.market.v1.AuditRecorded`) through the outbox in the action's own transaction, so
//! the record exists exactly when the action does; governance's consumer `governance-audit-market`
//! appends it to the chain of the listing's county (`docs/architecture.md`, the audit log).
//!
//! A farmer's or a buyer's own actions are not audited here: they are the people's own business
//! and are kept in the listing's and the order's events and history.

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;
use terrace_platform::auth::{AdminScope, Caller};
use terrace_platform::bus::{Envelope, outbox};
use terrace_platform::validate::to_timestamp;
use terrace_proto::common::v1 as common;
use terrace_proto::market::v1 as pb;

/// One action to record.
#[derive(Debug, Clone)]
pub struct Audited<'a> {
    /// What, as `<entity>.<verb>`: `listing.hidden`.
    pub action: &'a str,
    /// `listing`, `order` or `exchange_rate`.
    pub target_type: &'a str,
    /// Its id (a currency code for a rate).
    pub target_id: String,
    /// Where it belongs (the listing's village); `None` for what belongs to no area.
    pub area: Option<&'a AdminScope>,
    /// What changed and why, as a JSON object (never secrets).
    pub details: serde_json::Value,
}

/// Whether `caller` acts for somebody else, so that even an ordinary step (a listing published,
/// an order accepted) is audited: a helper for a villager, an agency, an operator.
pub fn acts_for_others(caller: &Caller) -> bool {
    matches!(
        caller,
        Caller::Helper(_) | Caller::Agency(_) | Caller::Operator { .. }
    )
}

/// The event recording `what`, done by `caller` at `now`.
pub fn event(caller: &Caller, what: Audited<'_>, now: DateTime<Utc>) -> pb::AuditRecorded {
    let mut details = what.details;
    if let (Caller::Operator { reason }, Some(object)) = (caller, details.as_object_mut()) {
        object.insert("operator_reason".to_owned(), reason.clone().into());
    }
    pb::AuditRecorded {
        action: Some(common::AuditedAction {
            action: what.action.to_owned(),
            target_type: what.target_type.to_owned(),
            target_id: what.target_id,
            area: what.area.map(|area| area.to_proto()),
            actor: Some(caller.actor()),
            time: Some(to_timestamp(now)),
            details_json: details.to_string(),
        }),
    }
}

/// The event as an envelope, for writes that enqueue their events together
/// (`idempotency::create_if`).
pub fn envelope(source: &str, caller: &Caller, what: Audited<'_>, now: DateTime<Utc>) -> Envelope {
    Envelope::new(source, &event(caller, what, now))
}

/// Records `what` in `conn` (the action's transaction).
pub async fn record<C: ConnectionTrait>(
    conn: &C,
    source: &str,
    caller: &Caller,
    what: Audited<'_>,
    now: DateTime<Utc>,
) -> Result<(), sea_orm::DbErr> {
    outbox::publish(conn, source, &event(caller, what, now)).await?;
    Ok(())
}

/// Records `what` when `caller` [`acts_for_others`]; a person's own action records nothing.
pub async fn record_if_for_others<'a, C: ConnectionTrait>(
    conn: &C,
    source: &str,
    caller: &Caller,
    what: impl FnOnce() -> Audited<'a>,
    now: DateTime<Utc>,
) -> Result<(), sea_orm::DbErr> {
    if acts_for_others(caller) {
        record(conn, source, caller, what(), now).await?;
    }
    Ok(())
}
