//! The audit trail: who did what to whom, written in the transaction that does it, and read back
//! by `ListAuditRecords`.
//!
//! The actor is stored as one text column (`actor_id`): a user's id, or `agency:<client id>`, or
//! `system:<component>` for the command line and the platform's jobs; `on_behalf_of` names the
//! villager a helper acted for. [`record`] writes it from a [`Caller`]; [`stored_actor`] reads it
//! back as the contract's `Actor`.
//!
//! Who reads which records: everyone the records about themself (a helper those of the villager
//! they act for); county admins and above the records about users living in the areas they
//! govern with that rank, and those about the agency clients they manage (whose every area they
//! govern so: `crate::agencies::governs`, the agency screens' rule); who governs the whole
//! country so, everything. A record about a client names it in `details.client_id` and answers it
//! as the target (`agency_client`); an area filter keeps the clients with an area inside it.
//!
//! Layout (the service's rhythm, `docs/architecture.md`): [`parse`] turns the request into a
//! query, this module applies it over a [`Caller`], [`store`] holds the SQL, and `grpc.rs`
//! answers.

pub mod parse;
pub mod store;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use terrace_platform::Clock;
use terrace_platform::auth::{AdminScope, Caller, Role};
use terrace_platform::bus::outbox;
use terrace_platform::error::{Error, Result};
use terrace_platform::service::ServiceContext;
use terrace_platform::validate::to_timestamp;
use terrace_proto::common::v1 as common;
use terrace_proto::identity::v1 as pb;
use uuid::Uuid;

use crate::agencies::store as agency_store;

pub use self::parse::ListAuditRecords;
pub use self::store::AuditRow;

/// How the command line was written before actors were stored with their kind.
const LEGACY_OPERATOR: &str = "system:cli";

/// Writes an audit record of `action` by `caller` at `at` (the service clock's now) in the
/// caller's transaction, and publishes it (`identity.audit.recorded`) through the outbox in the
/// same transaction, for governance's hash-chained audit log. An operator's stated reason is
/// kept with the details.
///
/// The event names where the record belongs ([`areas`]): the target user's areas, or an agency
/// client's; governance appends it to the chain of each of their counties (the country's when
/// there is none).
pub async fn record<C: ConnectionTrait>(
    conn: &C,
    caller: &Caller,
    action: &str,
    target_user: Option<Uuid>,
    mut details: serde_json::Value,
    at: DateTime<Utc>,
) -> Result<()> {
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
    let row = store::insert(
        conn,
        store::NewRecord {
            actor_id,
            on_behalf_of,
            action,
            target_user,
            details,
            at,
        },
    )
    .await?;
    let event = pb::AuditRecorded {
        record: Some(row.to_proto()),
        areas: areas(conn, &row)
            .await?
            .iter()
            .map(AdminScope::to_proto)
            .collect(),
    };
    outbox::publish(conn, crate::admin::SOURCE, &event).await?;
    Ok(())
}

/// Where a record belongs: the areas of the target user's grants live at the record's time (a
/// grant this very action revoked or retired included), or the areas of the agency client it is
/// about; none for a record about neither.
async fn areas<C: ConnectionTrait>(conn: &C, row: &AuditRow) -> Result<Vec<AdminScope>> {
    let mut areas: Vec<AdminScope> = if let Some(user) = row.target_user {
        store::areas_at(conn, user, row.at).await?
    } else if let Some(client) = row.agency_client().and_then(|id| Uuid::parse_str(id).ok()) {
        agency_store::get(conn, client)
            .await?
            .map(|client| client.areas.into_iter().map(|grant| grant.scope).collect())
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    areas.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    areas.dedup();
    Ok(areas)
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

impl AuditRow {
    /// The record as the contract describes it.
    pub fn to_proto(&self) -> pb::AuditRecord {
        pb::AuditRecord {
            id: self.id.to_string(),
            time: Some(to_timestamp(self.at)),
            actor: Some(stored_actor(
                self.actor_id.clone(),
                self.on_behalf_of.clone(),
            )),
            action: self.action.clone(),
            target_type: match (self.target_user, self.agency_client()) {
                (Some(_), _) => "user",
                (None, Some(_)) => "agency_client",
                (None, None) => "",
            }
            .to_owned(),
            target_id: self
                .target_user
                .map(|id| id.to_string())
                .or_else(|| self.agency_client().map(str::to_owned))
                .unwrap_or_default(),
            area: None,
            details_json: self.details.to_string(),
        }
    }
}

impl AuditRow {
    /// The agency client a record is about (`agency.*` records name it in their details).
    fn agency_client(&self) -> Option<&str> {
        self.action
            .starts_with(store::AGENCY_ACTIONS)
            .then(|| self.details.get("client_id")?.as_str())
            .flatten()
    }
}

/// The role from which an official reads the records about the users of their areas.
const AUDITOR: Role = Role::CountyAdmin;

/// Whose records `caller` reads besides their own: everyone's (who governs the whole country as
/// an auditor), or the users' of these areas.
fn audited(caller: &Caller) -> (bool, Vec<AdminScope>) {
    let rank = AUDITOR.rank();
    let everything = caller.covers(&AdminScope::country(), rank, None);
    let areas = caller
        .principal()
        .map(|principal| {
            principal
                .grants
                .iter()
                .map(|grant| &grant.scope)
                .filter(|scope| caller.covers(scope, rank, None))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    (everything, areas)
}

/// The audit trail: the *apply* step of `ListAuditRecords`.
#[derive(Debug, Clone)]
pub struct Audit {
    db: DatabaseConnection,
    clock: Clock,
}

impl Audit {
    pub fn new(ctx: &ServiceContext) -> Self {
        Self {
            db: ctx.db.clone(),
            clock: ctx.clock.clone(),
        }
    }

    /// `ListAuditRecords`: the records `caller` may read that match `query`, newest first, and
    /// the cursor of the next page.
    pub async fn list(
        &self,
        caller: &Caller,
        query: ListAuditRecords,
    ) -> Result<(Vec<AuditRow>, Option<Uuid>)> {
        let (everything, areas) = audited(caller);
        if let Some(area) = &query.area
            && !caller.covers(area, AUDITOR.rank(), None)
        {
            return Err(Error::permission_denied(
                "OUT_OF_SCOPE",
                format!("area {:?} is outside your scope", area.as_str()),
            ));
        }
        // The clients the caller manages: few (a county's bureaus and cooperatives), read with
        // their areas and judged by the agency screens' own rule rather than a copy of it in SQL.
        let agencies: Vec<Uuid> = if everything {
            Vec::new()
        } else {
            let areas: Vec<&AdminScope> = areas.iter().collect();
            agency_store::with_area_inside(&self.db, &areas)
                .await?
                .into_iter()
                .filter(|client| crate::agencies::governs(caller, &client.areas))
                .map(|client| client.id)
                .collect()
        };
        let in_area: Option<Vec<Uuid>> = match &query.area {
            Some(area) => Some(
                agency_store::with_area_inside(&self.db, &[area])
                    .await?
                    .into_iter()
                    .map(|client| client.id)
                    .collect(),
            ),
            None => None,
        };
        let filter = store::Filter {
            everything,
            own: caller.subject_user(),
            areas: &areas,
            agencies: &agencies,
            area: query.area.as_ref().zip(in_area.as_deref()),
            actions: &query.actions,
            target: query.target,
            actor: query.actor,
            start: query.start,
            end: query.end,
            now: self.clock.now(),
        };
        let limit = query.page.fetch_limit();
        let rows = store::page(&self.db, &filter, query.page.after, limit).await?;
        Ok(query
            .page
            .finish(rows, |page| page.last().map(|row| row.id)))
    }
}

#[cfg(test)]
mod tests {
    use terrace_platform::auth::{Principal, PrincipalKind, RoleGrant};

    use super::*;

    /// Any fixed instant: these rules do not read the clock.
    fn instant() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

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

    #[test]
    fn auditors_are_county_admins_and_above_in_their_areas() {
        let user = |grants: &[(Role, &str)]| {
            Caller::User(Principal {
                subject: Uuid::now_v7().to_string(),
                kind: PrincipalKind::User,
                grants: grants
                    .iter()
                    .map(|(role, scope)| RoleGrant::parse(*role, scope).unwrap())
                    .collect(),
                api_scopes: vec!["identity.users:read".to_owned()],
                actor: None,
                token_id: "t".to_owned(),
                expires_at: instant(),
            })
        };
        let scopes = |codes: &[&str]| -> Vec<AdminScope> {
            codes
                .iter()
                .map(|c| AdminScope::parse(c).unwrap())
                .collect()
        };
        let agency = Caller::Agency(Principal {
            kind: PrincipalKind::Agency,
            ..user(&[(Role::CountyAdmin, "110101")])
                .principal()
                .unwrap()
                .clone()
        });
        #[rustfmt::skip]
        let table: Vec<(&str, Caller, bool, Vec<AdminScope>)> = vec![
            ("village official", user(&[(Role::VillageOfficial, "110101001001")]), false, vec![]),
            ("township official", user(&[(Role::TownshipOfficial, "110101001")]), false, vec![]),
            (
                "county admin, and village official elsewhere",
                user(&[(Role::CountyAdmin, "110101"), (Role::VillageOfficial, "110102001001")]),
                false,
                scopes(&["110101"]),
            ),
            ("province admin", user(&[(Role::PlatformAdmin, "11")]), false, scopes(&["11"])),
            ("platform admin", user(&[(Role::PlatformAdmin, "")]), true, scopes(&[""])),
            ("agency", agency, false, vec![]),
            ("operator", Caller::operator("test"), true, vec![]),
        ];
        for (name, caller, everything, areas) in table {
            assert_eq!(audited(&caller), (everything, areas), "{name}");
        }
    }
}
