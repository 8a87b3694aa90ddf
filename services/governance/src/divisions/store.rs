//! The SQL of divisions.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{ArrayType, Expr, ExprTrait as _};
use sea_orm::{
    ActiveEnum as _, ColumnTrait as _, ConnectionTrait, DatabaseConnection, DbErr,
    EntityTrait as _, QueryFilter as _, QueryOrder as _, QuerySelect as _, Statement,
    TransactionTrait, Value,
};
use terrace_platform::bus::outbox;
use terrace_proto::governance::v1 as pb;

use super::NewDivision;
use crate::entity::division_revision::{self as revision, Entity as DivisionRevision};
use crate::entity::divisions::{Column, Entity as Divisions, Level, Model as Division};

/// What one batch wrote.
#[derive(Debug, Default, Clone, Copy)]
pub struct Written {
    pub added: u64,
    pub changed: u64,
}

/// A `text[]` parameter. Elements are never NULL: sea-query 1.0 binds an array by unwrapping
/// each element, and panics on `Value::String(None)`; a missing parent is sent as `''` and
/// turned back into NULL by the statement (`NULLIF`).
fn text_array(values: impl Iterator<Item = String>) -> Value {
    Value::Array(
        ArrayType::String,
        Some(Box::new(
            values.map(|value| Value::String(Some(value))).collect(),
        )),
    )
}

/// Adds new codes and rewrites changed ones, in one statement, and publishes the rows it wrote as
/// one `DivisionsChanged` event and as their snapshots on the state stream
/// (`state.governance.division.<code>`), in the same transaction. Unchanged rows are not touched (no new
/// row version, no WAL, no event).
pub async fn upsert(
    db: &DatabaseConnection,
    batch: &[NewDivision],
    now: DateTime<Utc>,
    event_source: &str,
    import_id: &str,
) -> anyhow::Result<Written> {
    if batch.is_empty() {
        return Ok(Written::default());
    }
    let txn = db.begin().await?;
    // Raw SQL: an `UNNEST` bulk upsert whose `WHERE` skips unchanged rows and whose `RETURNING`
    // tells added from changed (`xmax = 0` on a fresh insert) — a thousand rows a round trip.
    let rows = txn
        .query_all_raw(Statement::from_sql_and_values(
            txn.get_database_backend(),
            "INSERT INTO divisions (code, parent_code, level, name, full_name, initials, active, updated_at) \
             SELECT t.code, NULLIF(t.parent_code, ''), t.level, t.name, t.full_name, t.initials, true, $7 \
             FROM UNNEST($1::text[], $2::text[], $3::int2[], $4::text[], $5::text[], $6::text[]) \
                  AS t(code, parent_code, level, name, full_name, initials) \
             ON CONFLICT (code) DO UPDATE SET parent_code = EXCLUDED.parent_code, \
                 level = EXCLUDED.level, name = EXCLUDED.name, full_name = EXCLUDED.full_name, \
                 initials = EXCLUDED.initials, active = true, updated_at = EXCLUDED.updated_at \
             WHERE (divisions.parent_code, divisions.level, divisions.name, divisions.full_name, \
                    divisions.initials, divisions.active) \
                   IS DISTINCT FROM (EXCLUDED.parent_code, EXCLUDED.level, EXCLUDED.name, \
                    EXCLUDED.full_name, EXCLUDED.initials, true) \
             RETURNING code, parent_code, level, name, full_name, initials, active, updated_at, \
                       (xmax = 0) AS added",
            [
                text_array(batch.iter().map(|d| d.code.as_str().to_owned())),
                text_array(batch.iter().map(|d| d.parent.as_ref().map(|p| p.as_str().to_owned()).unwrap_or_default())),
                Value::Array(
                    ArrayType::SmallInt,
                    Some(Box::new(
                        batch
                            .iter()
                            .map(|d| Value::SmallInt(Some(d.level.to_value())))
                            .collect(),
                    )),
                ),
                text_array(batch.iter().map(|d| d.name.clone())),
                text_array(batch.iter().map(|d| d.full_name.clone())),
                text_array(batch.iter().map(|d| d.initials.clone())),
                now.into(),
            ],
        ))
        .await?;
    let mut written = Written::default();
    let mut rows_written = Vec::with_capacity(rows.len());
    for row in &rows {
        let added: bool = row.try_get("", "added")?;
        if added {
            written.added += 1;
        } else {
            written.changed += 1;
        }
        let division = Division {
            code: row.try_get("", "code")?,
            parent_code: row.try_get("", "parent_code")?,
            level: row.try_get("", "level")?,
            name: row.try_get("", "name")?,
            full_name: row.try_get("", "full_name")?,
            initials: row.try_get("", "initials")?,
            active: row.try_get("", "active")?,
            updated_at: row.try_get("", "updated_at")?,
        };
        rows_written.push(division);
    }
    publish_written(&txn, event_source, import_id, &rows_written).await?;
    bump_revision(&txn, rows_written.len()).await?;
    txn.commit().await?;
    Ok(written)
}

/// Publishes `written` divisions in `txn`: their snapshots on the state stream
/// (`state.governance.division.<code>`) and one `DivisionsChanged` event.
async fn publish_written<C: ConnectionTrait>(
    txn: &C,
    event_source: &str,
    import_id: &str,
    written: &[Division],
) -> Result<(), DbErr> {
    if written.is_empty() {
        return Ok(());
    }
    // A batch does not know the rows after it: events carry no child count.
    let divisions: Vec<pb::Division> = written.iter().map(|d| super::to_proto(d, 0)).collect();
    let snapshots: Vec<_> = written
        .iter()
        .zip(&divisions)
        .map(|(row, division)| {
            terrace_platform::bus::Envelope::snapshot(event_source, division, &row.code)
        })
        .collect();
    outbox::enqueue_all(txn, &snapshots).await?;
    outbox::publish(
        txn,
        event_source,
        &pb::DivisionsChanged {
            divisions,
            import_id: import_id.to_owned(),
        },
    )
    .await?;
    Ok(())
}

/// Marks inactive every active division whose code is not in `listed` (a complete list was
/// imported), publishing them in batches of `batch` like an import's. Returns how many and the
/// events published.
pub async fn retire_unlisted(
    db: &DatabaseConnection,
    listed: &[String],
    now: DateTime<Utc>,
    event_source: &str,
    import_id: &str,
    batch: usize,
) -> anyhow::Result<(u64, u64)> {
    let txn = db.begin().await?;
    // Raw SQL: one anti-join against the whole list, passed as one array.
    let retired = Divisions::find()
        .from_raw_sql(Statement::from_sql_and_values(
            txn.get_database_backend(),
            "UPDATE divisions SET active = false, updated_at = $2 \
             WHERE active AND NOT (code = ANY($1::text[])) RETURNING *",
            [text_array(listed.iter().cloned()), now.into()],
        ))
        .all(&txn)
        .await?;
    let mut events = 0;
    for chunk in retired.chunks(batch.max(1)) {
        publish_written(&txn, event_source, import_id, chunk).await?;
        events += 1;
    }
    bump_revision(&txn, retired.len()).await?;
    txn.commit().await?;
    Ok((retired.len() as u64, events))
}

/// Counts a write of `rows` divisions in `txn` (none: nothing to count), so that search indexes
/// built before it are rebuilt.
async fn bump_revision<C: ConnectionTrait>(txn: &C, rows: usize) -> Result<(), DbErr> {
    if rows == 0 {
        return Ok(());
    }
    DivisionRevision::update_many()
        .col_expr(
            revision::Column::Revision,
            Expr::col(revision::Column::Revision).add(1),
        )
        .exec(txn)
        .await?;
    Ok(())
}

/// Refreshes the planner's statistics of `divisions` (after an import).
pub async fn analyze(db: &DatabaseConnection) -> Result<(), DbErr> {
    // Raw SQL: the query builder has no ANALYZE.
    db.execute_unprepared("ANALYZE divisions").await?;
    Ok(())
}

/// The revision of `divisions`: how many writing transactions it has seen.
pub async fn revision<C: ConnectionTrait>(db: &C) -> Result<i64, DbErr> {
    let row = DivisionRevision::find_by_id(true).one(db).await?;
    Ok(row.map_or(0, |row| row.revision))
}

/// The active divisions as the search index holds them: code, level, name, pinyin initials.
pub async fn searchable<C: ConnectionTrait>(
    db: &C,
) -> Result<Vec<(String, Level, String, String)>, DbErr> {
    Divisions::find()
        .select_only()
        .columns([Column::Code, Column::Level, Column::Name, Column::Initials])
        .filter(Column::Active.eq(true))
        .into_tuple()
        .all(db)
        .await
}

/// One division by its normalized code.
pub async fn find<C: ConnectionTrait>(db: &C, code: &str) -> Result<Option<Division>, DbErr> {
    Divisions::find_by_id(code).one(db).await
}

/// Divisions by their codes, in any order, through any connection.
pub async fn by_codes_in<C: ConnectionTrait>(
    db: &C,
    codes: &[String],
) -> Result<Vec<Division>, DbErr> {
    Divisions::find()
        .filter(Column::Code.is_in(codes.iter().cloned()))
        .all(db)
        .await
}

/// Divisions by their codes, top down.
pub async fn by_codes(db: &DatabaseConnection, codes: &[String]) -> Result<Vec<Division>, DbErr> {
    Divisions::find()
        .filter(Column::Code.is_in(codes.iter().cloned()))
        .order_by_asc(Column::Level)
        .all(db)
        .await
}

/// The children of `parent` (`None`: the provinces), by code, after the code `after`.
pub async fn children(
    db: &DatabaseConnection,
    parent: Option<&str>,
    include_inactive: bool,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<Division>, DbErr> {
    let mut query = Divisions::find().filter(match parent {
        Some(parent) => Column::ParentCode.eq(parent),
        None => Column::ParentCode.is_null(),
    });
    if !include_inactive {
        query = query.filter(Column::Active.eq(true));
    }
    if let Some(after) = after {
        query = query.filter(Column::Code.gt(after));
    }
    query.order_by_asc(Column::Code).limit(limit).all(db).await
}

/// How many children each of `codes` has.
pub async fn child_counts(
    db: &DatabaseConnection,
    codes: &[String],
) -> Result<HashMap<String, i32>, DbErr> {
    let counts: Vec<(Option<String>, i64)> = Divisions::find()
        .select_only()
        .column(Column::ParentCode)
        .column_as(Column::Code.count(), "children")
        .filter(Column::ParentCode.is_in(codes.iter().cloned()))
        .group_by(Column::ParentCode)
        .into_tuple()
        .all(db)
        .await?;
    Ok(counts
        .into_iter()
        .filter_map(|(code, n)| Some((code?, i32::try_from(n).unwrap_or(i32::MAX))))
        .collect())
}
