//! The tables of the tamper-evident audit log, through their entities
//! ([`crate::entity::audit_entries`], [`crate::entity::audit_chain_heads`]): rows and SQL, no
//! rules; times come in as parameters from the service clock.

use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait as _, ActiveValue::Set, ColumnTrait as _, ConnectionTrait, EntityTrait as _,
    QueryFilter as _, QueryOrder as _, QuerySelect as _, QueryTrait as _,
};
use terrace_platform::auth::AdminScope;
use terrace_platform::error::Result;

use super::chain::GENESIS;
use crate::entity::audit_chain_heads as heads;
use crate::entity::audit_entries::{self, Column, Entity};

pub use crate::entity::audit_chain_heads::Model as Head;
pub use crate::entity::audit_entries::Model as EntryRow;

/// The head of `chain`, locked for the rest of the transaction: one statement that makes the
/// head of a new chain (sequence 0) or, for an existing one, rewrites nothing but takes the row
/// lock (`ON CONFLICT DO UPDATE` locks the conflicting row and returns its latest committed
/// version), so the next append to this chain waits for this transaction and then reads the
/// head it left.
pub async fn lock_head<C: ConnectionTrait>(conn: &C, chain: &AdminScope) -> Result<Head> {
    let new = heads::ActiveModel {
        chain: Set(chain.as_str().to_owned()),
        sequence: Set(0),
        hash: Set(GENESIS.to_owned()),
    };
    let head = heads::Entity::insert(new)
        .on_conflict(
            OnConflict::column(heads::Column::Chain)
                .update_column(heads::Column::Chain)
                .to_owned(),
        )
        .exec_with_returning(conn)
        .await?;
    Ok(head)
}

/// Writes `entry` and makes it its chain's head (locked by [`lock_head`]).
pub async fn append<C: ConnectionTrait>(conn: &C, entry: EntryRow) -> Result<EntryRow> {
    let head = heads::ActiveModel {
        chain: Set(entry.chain.clone()),
        sequence: Set(entry.sequence),
        hash: Set(entry.hash.clone()),
    };
    // Every column written (`reset_all`: a model converts to unchanged values).
    Entity::insert(audit_entries::ActiveModel::from(entry.clone()).reset_all())
        .exec_without_returning(conn)
        .await?;
    heads::Entity::update(head).exec(conn).await?;
    Ok(entry)
}

/// The head of `chain`, without a lock; `None` before its first entry.
pub async fn head<C: ConnectionTrait>(conn: &C, chain: &AdminScope) -> Result<Option<Head>> {
    Ok(heads::Entity::find_by_id(chain.as_str().to_owned())
        .one(conn)
        .await?)
}

/// Every chain's head, by chain.
pub async fn heads<C: ConnectionTrait>(conn: &C) -> Result<Vec<Head>> {
    Ok(heads::Entity::find()
        .order_by_asc(heads::Column::Chain)
        .all(conn)
        .await?)
}

/// Which entries of one chain a page shows.
#[derive(Debug)]
pub struct Filter<'a> {
    pub chain: &'a AdminScope,
    /// Only entries whose area lies inside this one.
    pub within: Option<&'a AdminScope>,
    /// Only entries about this target.
    pub target_id: Option<&'a str>,
    /// From this sequence on (inclusive).
    pub from: i64,
}

/// Up to `limit` entries matching `filter` after sequence `after`, in sequence order.
pub async fn page<C: ConnectionTrait>(
    conn: &C,
    filter: &Filter<'_>,
    after: Option<i64>,
    limit: u64,
) -> Result<Vec<EntryRow>> {
    Ok(Entity::find()
        .filter(Column::Chain.eq(filter.chain.as_str()))
        .filter(Column::Sequence.gte(filter.from))
        .apply_if(after, |query, after| {
            query.filter(Column::Sequence.gt(after))
        })
        // Area codes are digits: no LIKE wildcard to escape.
        .apply_if(filter.within, |query, within| {
            query.filter(Column::Area.starts_with(within.as_str()))
        })
        .apply_if(filter.target_id, |query, target| {
            query.filter(Column::TargetId.eq(target))
        })
        .order_by_asc(Column::Sequence)
        .limit(limit)
        .all(conn)
        .await?)
}
