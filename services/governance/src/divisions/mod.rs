//! The national division tree: the import of the national list (`terrace import divisions`), and
//! `GetDivision`, `ListChildDivisions`, `GetDivisionAncestors`, `SearchDivisions` ([`Divisions`]).
//!
//! Divisions are public facts: any signed-in caller reads any of them (the console's area
//! pickers, a farmer's village, an agency's reports).
//!
//! The import reads the list level by level ([`source`]), top down, so that every row's parent and
//! its full name are known when the row is written; writes it in batches of [`BATCH`] rows, each
//! one statement ([`store::upsert`]) that adds new codes and rewrites only rows whose name or place
//! changed; and publishes what changed in the same transaction, one `DivisionsChanged` event per
//! batch. A re-import of the same list writes nothing and publishes nothing.
//!
//! Codes are kept as [`AdminScope`] prefixes (`"330523"`), the form grants and every area check
//! use; the contract's 12-digit `AdminCode` is made on the way out. A row whose code is not a
//! division of its file's level is skipped and reported: the published list carries a few such
//! rows, e.g. 东莞市 (`441900`) listed again as a county of its own city, and 金门县's township
//! and village placeholders (`350527000`, `350527000000`). Their children hang from the parent
//! the code names (a street `441900003` of 东莞市 lies in the city `4419`).

pub mod index;
pub mod parse;
pub mod source;
pub mod store;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use pinyin::ToPinyin as _;
use terrace_platform::auth::AdminScope;
use terrace_proto::governance::v1 as pb;

use terrace_platform::error::{Error, Result};

use self::index::{Matching, SearchIndex};
use self::parse::{ListChildren, Search, SearchCursor};
use crate::entity::divisions::{Level, Model as Division};

/// Rows per statement and per `DivisionsChanged` event (the contract's maximum).
pub const BATCH: usize = 1000;

/// The `divisions` table.
pub const MIGRATION: terrace_platform::db::SqlMigration = terrace_platform::db::SqlMigration {
    name: "m20261203_200001_governance_divisions",
    up: r"
-- Substring search of Chinese names (`SearchDivisions`): trigram indexes serve LIKE '%...%'.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE TABLE divisions (
    code        text PRIMARY KEY,
    parent_code text REFERENCES divisions (code),
    level       smallint NOT NULL,
    name        text NOT NULL,
    full_name   text NOT NULL,
    initials    text NOT NULL,
    active      boolean NOT NULL DEFAULT true,
    updated_at  timestamptz NOT NULL
);
CREATE INDEX divisions_parent ON divisions (parent_code, code);
CREATE INDEX divisions_name_trgm ON divisions USING gin (name gin_trgm_ops);
CREATE INDEX divisions_initials ON divisions (initials text_pattern_ops);
",
};

/// `division_revision`: the count of writes to `divisions` that the search index follows
/// ([`index`]).
pub const REVISION_MIGRATION: terrace_platform::db::SqlMigration =
    terrace_platform::db::SqlMigration {
        name: "m20261204_090001_governance_division_revision",
        up: r"
CREATE TABLE division_revision (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    revision  bigint NOT NULL
);
INSERT INTO division_revision (singleton, revision) VALUES (true, 0);
",
    };

/// What an import did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImportReport {
    /// Rows read from the files.
    pub read: u64,
    /// Codes new to the table.
    pub added: u64,
    /// Codes whose name, parent or full name changed.
    pub changed: u64,
    /// Rows left out, with why (see the module's comment).
    pub skipped: Vec<String>,
    /// `DivisionsChanged` events published.
    pub events: u64,
    /// Divisions marked inactive because a complete list did not name them.
    pub retired: u64,
}

/// A division as the import writes it.
#[derive(Debug, Clone)]
pub struct NewDivision {
    pub code: AdminScope,
    pub parent: Option<AdminScope>,
    pub level: Level,
    pub name: String,
    pub full_name: String,
    pub initials: String,
}

/// Imports the list in `dir` (see [`source`]); `progress` is told the rows done so far and the
/// rows in all, after every batch.
pub async fn import(
    db: &sea_orm::DatabaseConnection,
    event_source: &str,
    dir: &Path,
    now: DateTime<Utc>,
    progress: impl FnMut(u64, u64),
) -> anyhow::Result<ImportReport> {
    let levels = read_levels(dir)?;
    import_levels(db, event_source, levels, now, progress).await
}

/// The list in `dir`, one `Vec` per level, top level first.
fn read_levels(dir: &Path) -> anyhow::Result<Vec<Vec<source::SourceRow>>> {
    source::FILES
        .iter()
        .map(|(name, level)| source::read(&source::file_of(dir, name)?, *level))
        .collect()
}

/// As [`import`], for a complete national list: afterwards, every active division the list does
/// not name is marked inactive (and published so); a later list naming it again reactivates it.
pub async fn import_complete(
    db: &sea_orm::DatabaseConnection,
    event_source: &str,
    dir: &Path,
    now: DateTime<Utc>,
    progress: impl FnMut(u64, u64),
) -> anyhow::Result<ImportReport> {
    let levels = read_levels(dir)?;
    let listed: Vec<String> = levels
        .iter()
        .flatten()
        .filter_map(|row| AdminScope::parse(&row.code).ok())
        .map(|code| code.as_str().to_owned())
        .collect();
    let mut report = import_levels(db, event_source, levels, now, progress).await?;
    let import_id = uuid::Uuid::now_v7().to_string();
    let (retired, events) =
        store::retire_unlisted(db, &listed, now, event_source, &import_id, BATCH).await?;
    report.retired = retired;
    report.events += events;
    Ok(report)
}

/// Imports a list already read, one `Vec` per level, top level first.
pub async fn import_levels(
    db: &sea_orm::DatabaseConnection,
    event_source: &str,
    levels: Vec<Vec<source::SourceRow>>,
    now: DateTime<Utc>,
    mut progress: impl FnMut(u64, u64),
) -> anyhow::Result<ImportReport> {
    let import_id = uuid::Uuid::now_v7().to_string();
    let total: u64 = levels.iter().map(|rows| rows.len() as u64).sum();
    let mut report = ImportReport::default();
    // The full names of the levels above villages (about 45,000), for their children's.
    let mut full_names: HashMap<String, String> = HashMap::new();
    for rows in levels {
        for chunk in rows.chunks(BATCH) {
            let mut batch = Vec::with_capacity(chunk.len());
            for row in chunk {
                report.read += 1;
                match prepare(row, &full_names) {
                    Ok(division) => batch.push(division),
                    Err(why) => report.skipped.push(why),
                }
            }
            for division in &batch {
                if division.level != Level::Village {
                    full_names.insert(
                        division.code.as_str().to_owned(),
                        division.full_name.clone(),
                    );
                }
            }
            let written = store::upsert(db, &batch, now, event_source, &import_id).await?;
            report.added += written.added;
            report.changed += written.changed;
            report.events += u64::from(written.added + written.changed > 0);
            progress(report.read, total);
        }
    }
    if report.added + report.changed > 0 {
        // Fresh statistics for the planner: right after a bulk load it has none, and guesses a
        // sequential scan of the whole table for the child counts every search and listing asks
        // for (54 ms instead of 0.5 ms on the national list) until autovacuum gets round to it.
        store::analyze(db).await?;
    }
    Ok(report)
}

/// The division RPCs, applied (the handlers parse and answer).
#[derive(Debug, Clone)]
pub struct Divisions {
    db: sea_orm::DatabaseConnection,
    index: Arc<SearchIndex>,
}

impl Divisions {
    /// `index` is the replica's search index, shared by every handler.
    pub fn new(db: sea_orm::DatabaseConnection, index: Arc<SearchIndex>) -> Self {
        Self { db, index }
    }

    /// `GetDivision`.
    pub async fn get(&self, code: &AdminScope) -> Result<pb::Division> {
        let division = store::find(&self.db, code.as_str())
            .await?
            .ok_or_else(|| not_found(code))?;
        let counts = store::child_counts(&self.db, std::slice::from_ref(&division.code)).await?;
        Ok(to_proto(
            &division,
            counts.get(&division.code).copied().unwrap_or(0),
        ))
    }

    /// `ListChildDivisions`: a page of children and the cursor of the next.
    pub async fn children(
        &self,
        query: ListChildren,
    ) -> Result<(Vec<pb::Division>, Option<String>)> {
        let parent = (query.parent != AdminScope::country()).then(|| query.parent.as_str());
        if let Some(parent) = parent
            && store::find(&self.db, parent).await?.is_none()
        {
            return Err(not_found(&query.parent));
        }
        let rows = store::children(
            &self.db,
            parent,
            query.include_inactive,
            query.page.after.as_deref(),
            query.page.fetch_limit(),
        )
        .await?;
        let (rows, next) = query
            .page
            .finish(rows, |page| page.last().map(|row| row.code.clone()));
        Ok((self.with_counts(&rows).await?, next))
    }

    /// `GetDivisionAncestors`: province first, the division itself left out.
    pub async fn ancestors(&self, code: &AdminScope) -> Result<Vec<pb::Division>> {
        if store::find(&self.db, code.as_str()).await?.is_none() {
            return Err(not_found(code));
        }
        let prefixes: Vec<String> = [2, 4, 6, 9]
            .into_iter()
            .filter(|len| *len < code.as_str().len())
            .map(|len| code.as_str()[..len].to_owned())
            .collect();
        let rows = store::by_codes(&self.db, &prefixes).await?;
        self.with_counts(&rows).await
    }

    /// `SearchDivisions`: Chinese text matches part of a name; Latin letters match the start of
    /// the pinyin initials ("thp" finds 天荒坪镇). Answered from the search index ([`index`]).
    pub async fn search(&self, query: Search) -> Result<(Vec<pb::Division>, Option<SearchCursor>)> {
        let initials = query.query.to_ascii_lowercase();
        let matching = if initials.chars().all(|c| c.is_ascii_alphanumeric()) {
            Matching::Initials(&initials)
        } else {
            Matching::Name(&query.query)
        };
        let offset = query.page.after.unwrap_or_default().offset;
        let codes = self.index.fresh(&self.db).await?.search(&index::Query {
            matching,
            within: query.within.as_ref().map(AdminScope::as_str),
            level: query.level,
            offset: usize::try_from(offset).unwrap_or(usize::MAX),
            limit: usize::try_from(query.page.fetch_limit()).unwrap_or(usize::MAX),
        });
        let mut rows = store::by_codes(&self.db, &codes).await?;
        let rank: HashMap<&str, usize> = codes
            .iter()
            .enumerate()
            .map(|(rank, code)| (code.as_str(), rank))
            .collect();
        rows.sort_by_key(|row| rank.get(row.code.as_str()).copied());
        let (rows, next) = query.page.finish(rows, |page| {
            Some(SearchCursor {
                offset: offset + page.len() as u64,
            })
        });
        Ok((self.with_counts(&rows).await?, next))
    }

    async fn with_counts(&self, rows: &[Division]) -> Result<Vec<pb::Division>> {
        let codes: Vec<String> = rows.iter().map(|row| row.code.clone()).collect();
        let counts = store::child_counts(&self.db, &codes).await?;
        Ok(rows
            .iter()
            .map(|row| to_proto(row, counts.get(&row.code).copied().unwrap_or(0)))
            .collect())
    }
}

fn not_found(code: &AdminScope) -> Error {
    Error::not_found("division", code.to_proto().code)
}

/// A file's row as a division, or why it is skipped.
fn prepare(
    row: &source::SourceRow,
    full_names: &HashMap<String, String>,
) -> Result<NewDivision, String> {
    let what = || format!("{} {:?} ({:?})", row.code, row.name, row.level);
    let code = AdminScope::parse(&row.code).map_err(|e| format!("{}: {e}", what()))?;
    if level_of(&code) != Some(row.level) {
        return Err(format!(
            "{}: the code names a division of another level",
            what()
        ));
    }
    if row.name.is_empty() {
        return Err(format!("{}: no name", what()));
    }
    let parent = match &row.parent {
        None => None,
        Some(raw) => {
            let parent =
                AdminScope::parse(raw).map_err(|e| format!("{}: parent {raw}: {e}", what()))?;
            if !parent.covers_scope(&code) || parent == code {
                return Err(format!("{}: parent {raw} does not contain it", what()));
            }
            Some(parent)
        }
    };
    let full_name = match &parent {
        None => row.name.clone(),
        Some(parent) => {
            let above = full_names.get(parent.as_str()).ok_or_else(|| {
                format!("{}: parent {} is not in the list", what(), parent.as_str())
            })?;
            format!("{above} {}", row.name)
        }
    };
    Ok(NewDivision {
        code,
        parent,
        level: row.level,
        name: row.name.clone(),
        full_name,
        initials: initials(&row.name),
    })
}

/// The level a normalized code names, if it is a division's (not the country).
fn level_of(code: &AdminScope) -> Option<Level> {
    use terrace_platform::auth::AdminLevel;
    match code.level() {
        AdminLevel::Country => None,
        AdminLevel::Province => Some(Level::Province),
        AdminLevel::City => Some(Level::City),
        AdminLevel::County => Some(Level::County),
        AdminLevel::Township => Some(Level::Township),
        AdminLevel::Village => Some(Level::Village),
    }
}

/// The pinyin initials of a name, lower case ("余村" → "yc"); characters without pinyin (Latin
/// letters, digits) are kept as they are, lower-cased.
pub fn initials(name: &str) -> String {
    name.chars()
        .zip(name.to_pinyin())
        .filter_map(|(c, pinyin)| match pinyin {
            Some(pinyin) => pinyin.first_letter().chars().next(),
            None => c.is_ascii_alphanumeric().then(|| c.to_ascii_lowercase()),
        })
        .collect()
}

/// A stored division in the contract's form; `child_count` is given by the caller.
pub fn to_proto(division: &Division, child_count: i32) -> pb::Division {
    let scope = |code: &str| AdminScope::parse(code).ok().map(|scope| scope.to_proto());
    pb::Division {
        code: scope(&division.code),
        name: division.name.clone(),
        parent_code: division.parent_code.as_deref().and_then(scope),
        full_name: division.full_name.clone(),
        child_count,
        active: division.active,
        update_time: Some(terrace_platform::validate::to_timestamp(
            division.updated_at,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initials_are_the_first_letters_of_the_pinyin() {
        assert_eq!(initials("余村"), "yc");
        assert_eq!(initials("天荒坪镇"), "thpz");
        assert_eq!(initials("A区3号"), "aq3h");
    }

    #[test]
    fn rows_that_are_not_divisions_of_their_level_are_skipped_with_why() {
        let mut full_names = HashMap::new();
        full_names.insert("4419".to_owned(), "广东省 东莞市".to_owned());
        let row = |level, code: &str, parent: &str| source::SourceRow {
            level,
            code: code.to_owned(),
            name: "某地".to_owned(),
            parent: Some(parent.to_owned()),
        };
        // 东莞市 listed again as a county of itself.
        let why = prepare(&row(Level::County, "441900", "4419"), &full_names).unwrap_err();
        assert!(why.contains("another level"), "{why}");
        // Its street hangs from the city the parent code names.
        let street = prepare(&row(Level::Township, "441900003", "441900"), &full_names).unwrap();
        assert_eq!(street.parent.as_ref().map(AdminScope::as_str), Some("4419"));
        assert_eq!(street.full_name, "广东省 东莞市 某地");
        // A parent that is not in the list, or does not contain the code.
        assert!(prepare(&row(Level::Township, "441800003", "4418"), &full_names).is_err());
        assert!(prepare(&row(Level::Township, "441900003", "4418"), &full_names).is_err());
        assert!(prepare(&row(Level::Township, "44190x003", "4419"), &full_names).is_err());
    }
}
