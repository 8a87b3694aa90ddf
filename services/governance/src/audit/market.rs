//! Market's audited actions join the log: the consumer of `market.audit.recorded`
//! (`terrace.market.v1.AuditRecorded`: an official's hide or its lift, a helper's action for a
//! villager, an operator's exchange rate), which market publishes through its outbox in the
//! transaction of each action.
//!
//! Each action is appended to the chain of its area's county (a listing's or an order's
//! village), or to the country's chain when it belongs to no area (an exchange rate), keeping
//! the action's time, actor and details. Exactly once: the platform's runner records the event
//! id in the inbox in the same transaction as the append.

use chrono::DateTime;
use sea_orm::DatabaseTransaction;
use terrace_platform::auth::AdminScope;
use terrace_platform::bus::Envelope;
use terrace_platform::bus::consumer::{Consumer, ConsumerSpec, Handler, HandlerError};
use terrace_platform::service::ServiceContext;
use terrace_proto::market::v1 as market;

use super::{Record, append_to_counties};

/// The durable consumer's name.
pub const CONSUMER: &str = "governance-audit-market";

/// The consumer of market's audited actions, to be run by the service.
pub fn consumer(ctx: &ServiceContext) -> Consumer<MarketRecords> {
    Consumer::new(
        ConsumerSpec {
            name: CONSUMER.to_owned(),
            domain: "market".to_owned(),
            subject: Some("market.audit.recorded".to_owned()),
        },
        &ctx.db,
        &ctx.bus,
        &ctx.settings.consumer,
        MarketRecords,
    )
}

/// Appends each of market's audited actions to its county's chain.
#[derive(Debug)]
pub struct MarketRecords;

impl Handler for MarketRecords {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        event: &Envelope,
    ) -> Result<(), HandlerError> {
        let recorded: market::AuditRecorded = event.decode().map_err(HandlerError::Reject)?;
        let reject = |what: &str| HandlerError::Reject(anyhow::anyhow!("{what} in {}", event.id));
        let action = recorded.action.ok_or_else(|| reject("no action"))?;
        let at = action
            .time
            .as_ref()
            .and_then(|t| DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).ok()?))
            .ok_or_else(|| reject("no valid time"))?;
        let areas = action
            .area
            .as_ref()
            .map(AdminScope::from_proto)
            .transpose()
            .map_err(|_| reject("an invalid area"))?
            .into_iter()
            .collect();
        let actor = action.actor.clone().unwrap_or_default();
        let record = Record {
            actor: &actor,
            action: &action.action,
            target_type: &action.target_type,
            target_id: &action.target_id,
            details_json: &action.details_json,
        };
        append_to_counties(txn, &record, areas, at)
            .await
            .map_err(|error| HandlerError::Retry(error.into()))
    }
}
