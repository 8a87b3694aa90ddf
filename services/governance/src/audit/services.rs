//! Other services' audited actions join the log: the consumers of `market.audit.recorded`
//! (`terrace.market.v1.AuditRecorded`: an official's hide or its lift, a helper's action for a
//! villager, an operator's exchange rate) and `notify.audit.recorded`
//! (`terrace.notify.v1.AuditRecorded`: a template saved or activated), which those services
//! publish through their outboxes in the transaction of each action. Both wrap the shared
//! `terrace.common.v1.AuditedAction`; a later service adds its wrapper here and one consumer.
//!
//! Each action is appended to the chain of its area's county (a listing's or an order's
//! village), or to the country's chain when it belongs to no area (an exchange rate, a
//! template), keeping the action's time, actor and details. Exactly once: the platform's runner
//! records the event id in the inbox in the same transaction as the append.

use chrono::DateTime;
use sea_orm::DatabaseTransaction;
use terrace_platform::auth::AdminScope;
use terrace_platform::bus::consumer::{Consumer, ConsumerSpec, Handler, HandlerError};
use terrace_platform::bus::{Envelope, Event};
use terrace_platform::service::ServiceContext;
use terrace_proto::common::v1 as common;
use terrace_proto::{market, notify};

use super::{Record, append_to_counties};

/// A service's event wrapping an audited action.
pub trait Recorded: Event + 'static {
    /// The durable consumer's name.
    const CONSUMER: &'static str;
    /// The publishing service's domain.
    const DOMAIN: &'static str;
    fn into_action(self) -> Option<common::AuditedAction>;
}

impl Recorded for market::v1::AuditRecorded {
    const CONSUMER: &'static str = "governance-audit-market";
    const DOMAIN: &'static str = "market";
    fn into_action(self) -> Option<common::AuditedAction> {
        self.action
    }
}

impl Recorded for notify::v1::AuditRecorded {
    const CONSUMER: &'static str = "governance-audit-notify";
    const DOMAIN: &'static str = "notify";
    fn into_action(self) -> Option<common::AuditedAction> {
        self.action
    }
}

/// The consumer of `R`'s audited actions, to be run by the service.
pub fn consumer<R: Recorded>(ctx: &ServiceContext) -> Consumer<Records<R>> {
    Consumer::new(
        ConsumerSpec {
            name: R::CONSUMER.to_owned(),
            domain: R::DOMAIN.to_owned(),
            subject: Some(R::SUBJECT.to_owned()),
        },
        &ctx.db,
        &ctx.bus,
        &ctx.settings.consumer,
        Records(std::marker::PhantomData),
    )
}

/// Appends each of a service's audited actions to its county's chain.
#[derive(Debug)]
pub struct Records<R>(std::marker::PhantomData<fn() -> R>);

impl<R: Recorded> Handler for Records<R> {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        event: &Envelope,
    ) -> Result<(), HandlerError> {
        let recorded: R = event.decode().map_err(HandlerError::Reject)?;
        let reject = |what: &str| HandlerError::Reject(anyhow::anyhow!("{what} in {}", event.id));
        let action = recorded.into_action().ok_or_else(|| reject("no action"))?;
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
