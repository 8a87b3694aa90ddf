//! The SQL of divisions.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::ArrayType;
use sea_orm::{
    ActiveEnum as _, ConnectionTrait, DatabaseConnection, Statement, TransactionTrait, Value,
};
use terrace_platform::bus::outbox;
use terrace_proto::governance::v1 as pb;

use super::NewDivision;
use crate::entity::divisions::Model as Division;

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
/// one `DivisionsChanged` event in the same transaction. Unchanged rows are not touched (no new
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
    let mut divisions = Vec::with_capacity(rows.len());
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
        // A batch does not know the rows after it: events carry no child count.
        divisions.push(super::to_proto(&division, 0));
    }
    if !divisions.is_empty() {
        outbox::publish(
            &txn,
            event_source,
            &pb::DivisionsChanged {
                divisions,
                import_id: import_id.to_owned(),
            },
        )
        .await?;
    }
    txn.commit().await?;
    Ok(written)
}
