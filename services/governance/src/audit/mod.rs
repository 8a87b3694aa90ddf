//! The tamper-evident audit log: [`append`] (every mutating action of an official, an agency or
//! an operator, in the transaction that does it), identity's audit records joining it
//! ([`identity`]), `ListAuditEntries` ([`Audit::list`]) and the verification of a chain
//! ([`chain::verify`], [`verify_stored`], `terrace governance verify-audit`); market's and notify's
//! audited actions join it too ([`services`]).
//!
//! **Chains.** One hash chain per county, so that appends in different counties never wait for
//! each other: an entry's chain is the county of its area (the first six digits, [`chain_of`]);
//! an area above county level (a province, a city, the country) is a chain of its own code, and
//! what belongs to no area is in the country's chain. An append locks its chain's head row
//! (`audit_chain_heads`), writes the entry with the next sequence and the head's hash as its
//! previous hash, and moves the head, all in the caller's transaction: appends to one chain take
//! turns (a rolled-back action leaves no entry and no gap), and the head left by the last commit
//! is the anchor that shows a deleted tail. The exact bytes hashed are in [`chain`] and in
//! `proto/terrace/governance/v1/audit.proto`.
//!
//! **Who reads.** A chain is read by whoever governs its area as a county admin or above
//! (`Caller::covers` with [`AUDITOR`]'s rank): county admins their county's chain (a county admin
//! of a narrower area that area, filtered within its county's chain), platform admins every
//! chain; village and township officials, helpers and agencies none.
//!
//! Layout (the service's rhythm, `docs/architecture.md`): [`parse`] turns the request into a
//! query, this module applies it over a [`Caller`], [`store`] holds the SQL, and `grpc.rs`
//! answers; [`chain`] is the hashing and verification, [`identity`] the consumer of identity's
//! records, [`services`] the consumers of the other services' audited actions.

pub mod chain;
pub mod identity;
pub mod parse;
pub mod services;
pub mod store;

use chrono::{DateTime, Utc};
use sea_orm::{
    AccessMode, ConnectionTrait, DatabaseConnection, IsolationLevel, TransactionTrait as _,
};
use terrace_platform::Clock;
use terrace_platform::auth::{AdminScope, Caller, Role};
use terrace_platform::db::SqlMigration;
use terrace_platform::error::{Error, Result};
use terrace_platform::service::ServiceContext;
use terrace_platform::validate::to_timestamp;
use terrace_proto::common::v1 as common;
use terrace_proto::governance::v1 as pb;

pub use self::parse::ListAuditEntries;
/// An entry as stored: the entity's model ([`AuditEntry::to_proto`] for the contract's form).
pub use self::store::EntryRow as AuditEntry;

use self::chain::{Fields, GENESIS};

/// The audit log's tables.
pub const MIGRATION: SqlMigration = SqlMigration {
    name: "m20261215_100001_governance_audit",
    up: r"
CREATE TABLE audit_entries (
    chain                  text        NOT NULL,
    sequence               bigint      NOT NULL CHECK (sequence > 0),
    at                     timestamptz NOT NULL,
    actor_kind             text        NOT NULL,
    actor_user_id          text        NOT NULL,
    actor_on_behalf_of     text        NOT NULL,
    actor_agency_client_id text        NOT NULL,
    actor_system_component text        NOT NULL,
    action                 text        NOT NULL,
    target_type            text        NOT NULL,
    target_id              text        NOT NULL,
    area                   text        NOT NULL,
    -- Text, not jsonb: jsonb reorders keys, and the hash is over the exact text.
    details_json           text        NOT NULL,
    previous_hash          text        NOT NULL,
    hash                   text        NOT NULL,
    PRIMARY KEY (chain, sequence)
);
-- ListAuditEntries about one target.
CREATE INDEX audit_entries_target ON audit_entries (chain, target_id, sequence);
CREATE TABLE audit_chain_heads (
    chain    text   PRIMARY KEY,
    sequence bigint NOT NULL CHECK (sequence >= 0),
    hash     text   NOT NULL
);
",
};

/// The role from which an official reads the audit log of the areas they govern.
pub const AUDITOR: Role = Role::CountyAdmin;

/// The chain of `area`: its county (the first six digits), or the area itself above county level.
pub fn chain_of(area: &AdminScope) -> AdminScope {
    match area.as_str().get(..6) {
        Some(county) if area.as_str().len() > 6 => {
            AdminScope::parse(county).unwrap_or_else(|_| area.clone())
        }
        _ => area.clone(),
    }
}

/// An action to append, as governance's own code describes it.
#[derive(Debug)]
pub struct NewEntry<'a> {
    /// What, as `<entity>.<verb>`: `resident.national_id_revealed`.
    pub action: &'a str,
    /// The kind of the thing acted on: `resident`.
    pub target_type: &'a str,
    /// Its id.
    pub target_id: String,
    /// Its area, which chooses the chain ([`chain_of`]).
    pub area: &'a AdminScope,
    /// A JSON object of what changed (never secrets nor unmasked ID numbers); an operator's
    /// stated reason is added as `operator_reason`.
    pub details: serde_json::Value,
}

/// Appends `entry`, done by `caller` at `at` (the service clock's now), to its county's chain,
/// in `conn`: the transaction of the action, so that the entry exists exactly when the action
/// does. Waits for a concurrent append to the same chain to commit; never for other chains. The
/// chain's head stays locked until the transaction ends, so call it after the action's checks
/// and writes, as the transaction's last step where possible.
pub async fn append<C: ConnectionTrait>(
    conn: &C,
    caller: &Caller,
    entry: NewEntry<'_>,
    at: DateTime<Utc>,
) -> Result<AuditEntry> {
    let mut details = entry.details;
    if let (Caller::Operator { reason }, Some(details)) = (caller, details.as_object_mut()) {
        details.insert("operator_reason".to_owned(), reason.clone().into());
    }
    write(
        conn,
        Written {
            actor: &caller.actor(),
            action: entry.action,
            target_type: entry.target_type,
            target_id: &entry.target_id,
            area: entry.area,
            details_json: &details.to_string(),
        },
        at,
    )
    .await
}

/// One entry's contents, however it came (governance's own action, identity's record).
#[derive(Debug)]
struct Written<'a> {
    actor: &'a common::Actor,
    action: &'a str,
    target_type: &'a str,
    target_id: &'a str,
    area: &'a AdminScope,
    details_json: &'a str,
}

/// A record another service made of an action (identity's audit records, market's audited
/// actions), to be appended as it came.
pub(crate) struct Record<'a> {
    pub actor: &'a common::Actor,
    pub action: &'a str,
    pub target_type: &'a str,
    pub target_id: &'a str,
    pub details_json: &'a str,
}

/// Appends another service's `record` to the chain of each county among `areas`, once per
/// county (with the area itself when it is that county's only one, else the county), or to the
/// country's chain when there is none, keeping the record's time `at` and actor. Chains are
/// locked in code order, so that two transactions appending to the same chains take their heads
/// in the same order.
pub(crate) async fn append_to_counties<C: ConnectionTrait>(
    conn: &C,
    record: &Record<'_>,
    areas: Vec<AdminScope>,
    at: DateTime<Utc>,
) -> Result<()> {
    let mut chains: std::collections::BTreeMap<String, (AdminScope, Vec<AdminScope>)> =
        std::collections::BTreeMap::new();
    for area in areas {
        let chain = chain_of(&area);
        chains
            .entry(chain.as_str().to_owned())
            .or_insert_with(|| (chain, Vec::new()))
            .1
            .push(area);
    }
    if chains.is_empty() {
        chains.insert(String::new(), (AdminScope::country(), Vec::new()));
    }
    for (chain, areas) in chains.values() {
        let area = match areas.as_slice() {
            [only] => only,
            _ => chain,
        };
        write(
            conn,
            Written {
                actor: record.actor,
                action: record.action,
                target_type: record.target_type,
                target_id: record.target_id,
                area,
                details_json: record.details_json,
            },
            at,
        )
        .await?;
    }
    Ok(())
}

/// Appends `entry` to the chain of its area: locks the head, hashes, writes, moves the head.
async fn write<C: ConnectionTrait>(
    conn: &C,
    entry: Written<'_>,
    at: DateTime<Utc>,
) -> Result<AuditEntry> {
    let chain = chain_of(entry.area);
    let head = store::lock_head(conn, &chain).await?;
    let actor_kind = common::ActorKind::try_from(entry.actor.kind)
        .unwrap_or(common::ActorKind::Unspecified)
        .as_str_name();
    let mut row = AuditEntry {
        chain: chain.as_str().to_owned(),
        sequence: head.sequence + 1,
        at: chain::to_micros(at),
        actor_kind: actor_kind.to_owned(),
        actor_user_id: entry.actor.user_id.clone(),
        actor_on_behalf_of: entry.actor.on_behalf_of_user_id.clone(),
        actor_agency_client_id: entry.actor.agency_client_id.clone(),
        actor_system_component: entry.actor.system_component.clone(),
        action: entry.action.to_owned(),
        target_type: entry.target_type.to_owned(),
        target_id: entry.target_id.to_owned(),
        area: entry.area.as_str().to_owned(),
        details_json: entry.details_json.to_owned(),
        previous_hash: head.hash,
        hash: String::new(),
    };
    row.hash = row.fields(&code(&chain), &code(entry.area)).hash();
    store::append(conn, row).await
}

/// An area's 12 digits, as the contract writes it and the hash covers it.
fn code(area: &AdminScope) -> String {
    area.to_proto().code
}

impl AuditEntry {
    /// The fields hashed, given the chain's and the area's 12 digits.
    fn fields<'a>(&'a self, chain: &'a str, area: &'a str) -> Fields<'a> {
        Fields {
            chain,
            sequence: self.sequence,
            previous_hash: &self.previous_hash,
            time: self.at,
            actor_kind: &self.actor_kind,
            actor_user_id: &self.actor_user_id,
            actor_on_behalf_of: &self.actor_on_behalf_of,
            actor_agency_client_id: &self.actor_agency_client_id,
            actor_system_component: &self.actor_system_component,
            action: &self.action,
            target_type: &self.target_type,
            target_id: &self.target_id,
            area,
            details_json: &self.details_json,
        }
    }

    /// The entry as the contract describes it. A stored code that is not one (only a hand-edited
    /// row) is answered as written, so that verification names the entry rather than the read
    /// failing.
    pub fn to_proto(&self) -> pb::AuditEntry {
        let area = |stored: &str| {
            AdminScope::parse(stored)
                .map(|scope| scope.to_proto())
                .unwrap_or_else(|_| common::AdminCode {
                    code: stored.to_owned(),
                    level: common::AdminLevel::Unspecified as i32,
                })
        };
        pb::AuditEntry {
            sequence: self.sequence,
            time: Some(to_timestamp(self.at)),
            actor: Some(common::Actor {
                kind: common::ActorKind::from_str_name(&self.actor_kind)
                    .unwrap_or(common::ActorKind::Unspecified) as i32,
                user_id: self.actor_user_id.clone(),
                on_behalf_of_user_id: self.actor_on_behalf_of.clone(),
                agency_client_id: self.actor_agency_client_id.clone(),
                system_component: self.actor_system_component.clone(),
                ..Default::default()
            }),
            action: self.action.clone(),
            target_type: self.target_type.clone(),
            target_id: self.target_id.clone(),
            area: Some(area(&self.area)),
            details_json: self.details_json.clone(),
            previous_hash: self.previous_hash.clone(),
            hash: self.hash.clone(),
            chain: Some(area(&self.chain)),
        }
    }
}

/// A page of one chain with its head.
#[derive(Debug)]
pub struct Listing {
    pub entries: Vec<AuditEntry>,
    /// The cursor of the next page, when more entries follow.
    pub next: Option<i64>,
    /// The chain's head when the page was read: `(sequence, hash)`, `(0, GENESIS)` when empty.
    pub head: (i64, String),
    /// When the head was read (the service clock).
    pub read_at: DateTime<Utc>,
}

/// Reads the audit log: the *apply* step of `ListAuditEntries`.
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

    /// `ListAuditEntries`: a page of the chain of `query.area`, if `caller` governs that area as
    /// an auditor; the page and the head are read in one snapshot.
    pub async fn list(&self, caller: &Caller, query: ListAuditEntries) -> Result<Listing> {
        if !caller.covers(&query.area, AUDITOR.rank(), None) {
            return Err(Error::permission_denied(
                "OUT_OF_SCOPE",
                format!("area {} is outside your scope", code(&query.area)),
            ));
        }
        let chain = chain_of(&query.area);
        let filter = store::Filter {
            chain: &chain,
            within: (query.area != chain).then_some(&query.area),
            target_id: query.target_id.as_deref(),
            from: query.from_sequence,
        };
        let txn = self
            .db
            .begin_with_config(
                Some(IsolationLevel::RepeatableRead),
                Some(AccessMode::ReadOnly),
            )
            .await?;
        let head = store::head(&txn, &chain).await?;
        let rows = store::page(&txn, &filter, query.page.after, query.page.fetch_limit()).await?;
        txn.commit().await?;
        let (entries, next) = query
            .page
            .finish(rows, |page| page.last().map(|row| row.sequence));
        Ok(Listing {
            entries,
            next,
            head: head.map_or((0, GENESIS.to_owned()), |head| (head.sequence, head.hash)),
            read_at: self.clock.now(),
        })
    }
}

/// How many entries [`verify_stored`] reads at a time.
const VERIFY_BATCH: u64 = 5000;

/// Verifies the stored chain `chain` from its first entry to its head, with the database's
/// authority (`terrace governance verify-audit`): the entries as the contract answers them,
/// checked by [`chain::Verifier`], and the head, all read in one snapshot (appends going on
/// meanwhile are neither waited for nor seen).
pub async fn verify_stored(db: &DatabaseConnection, chain: &AdminScope) -> Result<chain::Verdict> {
    let txn = db
        .begin_with_config(
            Some(IsolationLevel::RepeatableRead),
            Some(AccessMode::ReadOnly),
        )
        .await?;
    let verdict = verify_in(&txn, chain).await?;
    txn.commit().await?;
    Ok(verdict)
}

async fn verify_in<C: ConnectionTrait>(conn: &C, chain: &AdminScope) -> Result<chain::Verdict> {
    let head = store::head(conn, chain).await?;
    let mut verifier = chain::Verifier::new(&code(chain));
    let filter = store::Filter {
        chain,
        within: None,
        target_id: None,
        from: 1,
    };
    let mut after = None;
    loop {
        let rows = store::page(conn, &filter, after, VERIFY_BATCH).await?;
        for row in &rows {
            verifier.push(&row.to_proto());
        }
        match rows.last() {
            Some(last) if rows.len() as u64 == VERIFY_BATCH => after = Some(last.sequence),
            _ => break,
        }
    }
    Ok(verifier.finish(
        head.as_ref()
            .map(|head| (head.sequence, head.hash.as_str())),
    ))
}

/// Every chain that has a head, for verifying them all.
pub async fn chains<C: ConnectionTrait>(conn: &C) -> Result<Vec<AdminScope>> {
    Ok(store::heads(conn)
        .await?
        .into_iter()
        .filter_map(|head| AdminScope::parse(&head.chain).ok())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_area_chains_to_its_county_or_above_county_level_to_itself() {
        for (area, chain) in [
            ("330523108204", "330523"),
            ("330523108", "330523"),
            ("330523", "330523"),
            ("3305", "3305"),
            ("33", "33"),
            ("", ""),
        ] {
            assert_eq!(
                chain_of(&AdminScope::parse(area).unwrap()).as_str(),
                chain,
                "{area}"
            );
        }
        assert_eq!(code(&AdminScope::country()), "000000000000");
    }

    #[test]
    fn a_stored_entry_hashes_as_its_contract_form_is_verified() {
        let mut row = AuditEntry {
            chain: "330523".to_owned(),
            sequence: 1,
            at: DateTime::from_timestamp(1_800_000_000, 5_000).unwrap(),
            actor_kind: "ACTOR_KIND_AGENCY".to_owned(),
            actor_user_id: String::new(),
            actor_on_behalf_of: String::new(),
            actor_agency_client_id: "client".to_owned(),
            actor_system_component: String::new(),
            action: "resident.created".to_owned(),
            target_type: "resident".to_owned(),
            target_id: "r1".to_owned(),
            area: "330523108204".to_owned(),
            details_json: r#"{"b":1,"a":2}"#.to_owned(),
            previous_hash: GENESIS.to_owned(),
            hash: String::new(),
        };
        row.hash = row.fields("330523000000", "330523108204").hash();
        let entry = row.to_proto();
        assert_eq!(entry.chain.as_ref().unwrap().code, "330523000000");
        assert_eq!(
            chain::verify("330523000000", &[entry], Some((1, row.hash.as_str()))),
            chain::Verdict::Intact {
                entries: 1,
                head_hash: row.hash.clone()
            }
        );
    }
}
