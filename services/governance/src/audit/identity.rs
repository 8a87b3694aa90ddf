//! Identity's audit records join the log: the consumer of `identity.audit.recorded`
//! (`terrace.identity.v1.AuditRecorded`), which identity publishes through its outbox in the
//! transaction of each record.
//!
//! Each record is appended to the chain of every county among its `areas` (the target user's
//! areas, or an agency client's), once per county, with the area itself when it is the only one
//! of that county and the county otherwise; a record with no area goes to the country's chain.
//! The entry keeps the record's time and actor and identity's details, with the record's id
//! added as `identity_record_id`. Exactly once: the platform's runner records the event id in the
//! inbox in the same transaction as the appends, so a redelivery appends nothing.

use chrono::DateTime;
use sea_orm::DatabaseTransaction;
use terrace_platform::auth::AdminScope;
use terrace_platform::bus::Envelope;
use terrace_platform::bus::consumer::{Consumer, ConsumerSpec, Handler, HandlerError};
use terrace_platform::service::ServiceContext;
use terrace_proto::identity::v1 as identity;

use super::{Record, append_to_counties};

/// The durable consumer's name.
pub const CONSUMER: &str = "governance-audit-identity";

/// The consumer of identity's audit records, to be run by the service.
pub fn consumer(ctx: &ServiceContext) -> Consumer<IdentityRecords> {
    Consumer::new(
        ConsumerSpec {
            name: CONSUMER.to_owned(),
            domain: "identity".to_owned(),
            subject: Some("identity.audit.recorded".to_owned()),
        },
        &ctx.db,
        &ctx.bus,
        &ctx.settings.consumer,
        IdentityRecords,
    )
}

/// Appends each of identity's audit records to its counties' chains.
#[derive(Debug)]
pub struct IdentityRecords;

impl Handler for IdentityRecords {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        event: &Envelope,
    ) -> Result<(), HandlerError> {
        let recorded: identity::AuditRecorded = event.decode().map_err(HandlerError::Reject)?;
        let reject = |what: &str| HandlerError::Reject(anyhow::anyhow!("{what} in {}", event.id));
        let record = recorded.record.ok_or_else(|| reject("no record"))?;
        let at = record
            .time
            .as_ref()
            .and_then(|t| DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).ok()?))
            .ok_or_else(|| reject("no valid time"))?;
        let actor = record.actor.unwrap_or_default();
        let areas = recorded
            .areas
            .iter()
            .map(AdminScope::from_proto)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| reject("an invalid area"))?;
        let details = with_record_id(&record.details_json, &record.id);
        let written = Record {
            actor: &actor,
            action: &record.action,
            target_type: &record.target_type,
            target_id: &record.target_id,
            details_json: &details,
        };
        append_to_counties(txn, &written, areas, at)
            .await
            .map_err(|error| HandlerError::Retry(error.into()))?;
        Ok(())
    }
}

/// Identity's details with the record's id added, so that an entry leads back to its record;
/// details that are not a JSON object are kept as they came.
fn with_record_id(details_json: &str, record_id: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(details_json) {
        Ok(serde_json::Value::Object(mut details)) => {
            details.insert("identity_record_id".to_owned(), record_id.into());
            serde_json::Value::Object(details).to_string()
        }
        _ => details_json.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_id_joins_the_details() {
        assert_eq!(
            with_record_id(r#"{"role":"farmer"}"#, "r1"),
            r#"{"identity_record_id":"r1","role":"farmer"}"#
        );
        assert_eq!(with_record_id("[1]", "r1"), "[1]");
        assert_eq!(with_record_id("", "r1"), "");
    }
}
