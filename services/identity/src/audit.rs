//! The audit trail: who did what to whom, written in the transaction that does it, and read back
//! by `ListAuditRecords`.
//!
//! The actor is stored as one text column (`actor_id`): a user's id, or `agency:<client id>`, or
//! `system:<component>` for the command line and the platform's jobs; `on_behalf_of` names the
//! villager a helper acted for. [`record`] writes it from a [`Caller`]; [`stored_actor`] reads it
//! back as the contract's `Actor`.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr, Statement};
use terrace_platform::auth::Caller;
use terrace_proto::common::v1 as common;
use uuid::Uuid;

/// How the command line was written before actors were stored with their kind.
const LEGACY_OPERATOR: &str = "system:cli";

/// Writes an audit record of `action` by `caller` at `at` (the service clock's now) in the
/// caller's transaction. An operator's
/// stated reason is kept with the details.
pub async fn record<C: ConnectionTrait>(
    conn: &C,
    caller: &Caller,
    action: &str,
    target_user: Option<Uuid>,
    mut details: serde_json::Value,
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    if let (Caller::Operator { reason }, Some(details)) = (caller, details.as_object_mut()) {
        details.insert("operator_reason".to_owned(), reason.clone().into());
    }
    let actor = caller.actor();
    let actor_id = match common::ActorKind::try_from(actor.kind) {
        Ok(common::ActorKind::User) => actor.user_id,
        Ok(common::ActorKind::Agency) => format!("agency:{}", actor.agency_client_id),
        _ => format!("system:{}", actor.system_component),
    };
    let on_behalf_of =
        (!actor.on_behalf_of_user_id.is_empty()).then_some(actor.on_behalf_of_user_id);
    // Raw SQL until the audit table has its entity (sea-orm entities are the next step).
    conn.execute_raw(Statement::from_sql_and_values(
        conn.get_database_backend(),
        "INSERT INTO audit_records (id, actor_id, on_behalf_of, action, target_user, details, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        [
            Uuid::now_v7().into(),
            actor_id.into(),
            on_behalf_of.into(),
            action.into(),
            target_user.into(),
            details.into(),
            at.into(),
        ],
    ))
    .await?;
    Ok(())
}

/// The caller behind a principal, `None` being the operator at the command line. Transitional:
/// for modules that still pass `Option<&Principal>` until they take a [`Caller`].
pub(crate) fn caller_of(principal: Option<&terrace_platform::auth::Principal>) -> Caller {
    principal.map_or_else(|| Caller::operator(""), |p| Caller::from(p.clone()))
}

/// The contract's actor of a stored record.
pub fn stored_actor(actor_id: String, on_behalf_of: Option<String>) -> common::Actor {
    if actor_id == LEGACY_OPERATOR {
        return Caller::operator("").actor();
    }
    if let Some(component) = actor_id.strip_prefix("system:") {
        return common::Actor {
            kind: common::ActorKind::System as i32,
            system_component: component.to_owned(),
            ..Default::default()
        };
    }
    if let Some(client) = actor_id.strip_prefix("agency:") {
        return common::Actor {
            kind: common::ActorKind::Agency as i32,
            agency_client_id: client.to_owned(),
            ..Default::default()
        };
    }
    common::Actor {
        kind: common::ActorKind::User as i32,
        user_id: actor_id,
        on_behalf_of_user_id: on_behalf_of.unwrap_or_default(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_actor_reads_back_as_written() {
        let user = Uuid::now_v7().to_string();
        let cases = [
            (
                "system:terrace command line",
                None,
                common::ActorKind::System,
            ),
            (LEGACY_OPERATOR, None, common::ActorKind::System),
            (
                "system:identity.grant-expiry",
                None,
                common::ActorKind::System,
            ),
            ("agency:0192", None, common::ActorKind::Agency),
            (user.as_str(), Some(user.clone()), common::ActorKind::User),
        ];
        for (stored, behalf, kind) in cases {
            let actor = stored_actor(stored.to_owned(), behalf.clone());
            assert_eq!(actor.kind, kind as i32, "{stored}");
            assert_eq!(actor.on_behalf_of_user_id, behalf.unwrap_or_default());
        }
        assert_eq!(
            stored_actor(LEGACY_OPERATOR.to_owned(), None).system_component,
            "terrace command line"
        );
        assert_eq!(
            stored_actor("agency:0192".to_owned(), None).agency_client_id,
            "0192"
        );
    }
}
