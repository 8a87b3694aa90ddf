//! The in-memory name index that answers `SearchDivisions`.
//!
//! Why not SQL: a search ranks every match (the exact name first, then names that start with the
//! text, then the rest; by level and code within each), and the two characters people type for a
//! Chinese name can match much of the country. `LIKE '%..%'` on two characters is beyond pg_trgm
//! (it needs three), and every SQL plan sorts all matches before the first page: 577 ms p99 over
//! the national list (`docs/benchmarks.md`). Here each division has a number in rank order
//! (level, then code), and the numbers are kept in sorted lists per character and per pair of
//! adjacent characters, so matches come out already ranked and a page stops at its last row.
//! (A search engine such as tantivy ranks by relevance; this order is fixed, and three sorted
//! lists and a merge are all it takes.)
//!
//! Freshness: every transaction that writes `divisions` bumps `division_revision`. A search reads
//! the revision first and uses an index built at that revision or later, waiting otherwise for one
//! build that all waiting searches share ([`SearchIndex::fresh`]): a search sees every import
//! committed before it began. Imports are rare; a search during one waits for a rebuild (about
//! two seconds for the national list, see `docs/benchmarks.md`).

use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, RwLock};

use sea_orm::{AccessMode, DatabaseConnection, IsolationLevel, TransactionTrait as _};
use terrace_platform::error::{Error, Result};

use super::store;
use crate::entity::divisions::Level;

/// What a search looks for.
#[derive(Debug, Clone, Copy)]
pub enum Matching<'a> {
    /// Part of the name, as written (case and all).
    Name(&'a str),
    /// The start of the pinyin initials, lower case.
    Initials(&'a str),
}

/// A search: what it matches, where, and which page of the ranked matches.
#[derive(Debug, Clone, Copy)]
pub struct Query<'a> {
    pub matching: Matching<'a>,
    /// Only divisions whose code starts with it.
    pub within: Option<&'a str>,
    pub level: Option<Level>,
    pub offset: usize,
    pub limit: usize,
}

/// Strings stored end to end: one allocation for hundreds of thousands of short names.
#[derive(Default)]
struct Strings {
    text: String,
    ends: Vec<u32>,
}

impl Strings {
    fn with_capacity(count: usize) -> Self {
        Self {
            text: String::with_capacity(count * 12),
            ends: Vec::with_capacity(count),
        }
    }

    fn push(&mut self, value: &str) -> Result<()> {
        self.text.push_str(value);
        let end = u32::try_from(self.text.len())
            .map_err(|_| Error::internal(anyhow::anyhow!("division names exceed 4 GiB")))?;
        self.ends.push(end);
        Ok(())
    }

    fn get(&self, number: u32) -> &str {
        let number = number as usize;
        let start = match number {
            0 => 0,
            _ => self.ends[number - 1] as usize,
        };
        &self.text[start..self.ends[number] as usize]
    }
}

/// The key of a posting list: a character, or a pair of adjacent characters.
fn key_of_char(c: char) -> u64 {
    (1 << 63) | u64::from(c)
}

fn key_of_pair(first: char, second: char) -> u64 {
    (u64::from(first) << 32) | u64::from(second)
}

/// The keys of a name's posting lists, each once.
fn keys_of(name: &str, keys: &mut Vec<u64>) {
    keys.clear();
    let mut previous = None;
    for c in name.chars() {
        keys.push(key_of_char(c));
        if let Some(first) = previous {
            keys.push(key_of_pair(first, c));
        }
        previous = Some(c);
    }
    keys.sort_unstable();
    keys.dedup();
}

/// The active divisions of one revision, numbered in rank order, with their posting lists.
pub struct NameIndex {
    revision: i64,
    codes: Strings,
    names: Strings,
    initials: Strings,
    /// Each level's numbers: one run, as numbers follow level first.
    levels: Vec<(Level, Range<u32>)>,
    /// Posting lists end to end, each sorted; `lists` gives each key's run.
    postings: Vec<u32>,
    lists: HashMap<u64, Range<u32>>,
    /// Numbers ordered by name, then number: exact names and name prefixes are runs of it.
    by_name: Vec<u32>,
    /// Numbers ordered by initials, then number.
    by_initials: Vec<u32>,
}

impl std::fmt::Debug for NameIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NameIndex")
            .field("revision", &self.revision)
            .field("divisions", &self.by_name.len())
            .finish_non_exhaustive()
    }
}

impl NameIndex {
    /// Indexes `rows` (code, level, name, initials) as of `revision`.
    pub fn build(revision: i64, mut rows: Vec<(String, Level, String, String)>) -> Result<Self> {
        // Rank order. Codes of one level have one length, so byte order is numeric order.
        rows.sort_unstable_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
        let count = u32::try_from(rows.len())
            .map_err(|_| Error::internal(anyhow::anyhow!("too many divisions to index")))?;
        let mut codes = Strings::with_capacity(rows.len());
        let mut names = Strings::with_capacity(rows.len());
        let mut initials = Strings::with_capacity(rows.len());
        let mut levels: Vec<(Level, Range<u32>)> = Vec::new();
        for (number, (code, level, name, initial)) in (0..count).zip(&rows) {
            codes.push(code)?;
            names.push(name)?;
            initials.push(initial)?;
            match levels.last_mut() {
                Some((last, run)) if last == level => run.end = number + 1,
                _ => levels.push((*level, number..number + 1)),
            }
        }
        drop(rows);

        // Posting lists in two passes, counting then filling, so that they are laid out end to
        // end without a vector per key (the national list has hundreds of thousands of keys).
        let mut keys = Vec::new();
        let mut lengths: HashMap<u64, u32> = HashMap::new();
        for number in 0..count {
            keys_of(names.get(number), &mut keys);
            for key in &keys {
                *lengths.entry(*key).or_default() += 1;
            }
        }
        let mut lists: HashMap<u64, Range<u32>> = HashMap::with_capacity(lengths.len());
        let mut next: HashMap<u64, u32> = HashMap::with_capacity(lengths.len());
        let mut total: u32 = 0;
        for (key, length) in lengths {
            let end = total
                .checked_add(length)
                .ok_or_else(|| Error::internal(anyhow::anyhow!("too many postings to index")))?;
            lists.insert(key, total..end);
            next.insert(key, total);
            total = end;
        }
        let mut postings = vec![0; total as usize];
        for number in 0..count {
            keys_of(names.get(number), &mut keys);
            for key in &keys {
                // Every key was counted in the first pass.
                if let Some(slot) = next.get_mut(key) {
                    postings[*slot as usize] = number;
                    *slot += 1;
                }
            }
        }

        let mut by_name: Vec<u32> = (0..count).collect();
        by_name.sort_unstable_by(|a, b| (names.get(*a), a).cmp(&(names.get(*b), b)));
        let mut by_initials: Vec<u32> = (0..count).collect();
        by_initials.sort_unstable_by(|a, b| (initials.get(*a), a).cmp(&(initials.get(*b), b)));
        Ok(Self {
            revision,
            codes,
            names,
            initials,
            levels,
            postings,
            lists,
            by_name,
            by_initials,
        })
    }

    /// Reads the active divisions and the revision they are at (one snapshot) and indexes them.
    pub async fn load(db: &DatabaseConnection) -> Result<Self> {
        let txn = db
            .begin_with_config(
                Some(IsolationLevel::RepeatableRead),
                Some(AccessMode::ReadOnly),
            )
            .await?;
        let revision = store::revision(&txn).await?;
        let rows = store::searchable(&txn).await?;
        txn.commit().await?;
        // Sorting and laying out the lists takes a second or two for the national list: off the
        // async workers.
        tokio::task::spawn_blocking(move || Self::build(revision, rows))
            .await
            .map_err(Error::internal)?
    }

    /// The revision of `divisions` this index was built at.
    pub fn revision(&self) -> i64 {
        self.revision
    }

    /// How many divisions it holds.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// About how many bytes it holds on the heap (capacities; the maps' own overhead estimated).
    pub fn heap_bytes(&self) -> usize {
        let strings = |s: &Strings| s.text.capacity() + s.ends.capacity() * 4;
        let map_entry = size_of::<u64>() + size_of::<Range<u32>>() + 1;
        strings(&self.codes)
            + strings(&self.names)
            + strings(&self.initials)
            + self.postings.capacity() * 4
            + self.lists.capacity() * map_entry
            + (self.by_name.capacity() + self.by_initials.capacity()) * 4
    }

    /// The codes of one page of matches, best first: by name, the exact name, then names that
    /// start with the text, then the rest; by initials, the initials' start. Level, then code,
    /// within each.
    pub fn search(&self, query: &Query<'_>) -> Vec<String> {
        let ranges = self.ranges(query.within, query.level);
        let numbers: Vec<u32> = match query.matching {
            Matching::Name(text) => {
                let (exact, starting) = self.starting_with(&self.by_name, &self.names, text);
                let (exact, starting) = (
                    Self::ranked_in(exact, &ranges),
                    Self::ranked_in(starting, &ranges),
                );
                // Pairs of adjacent characters narrow down; three characters or more are checked
                // whole (the pairs of "委员会" are in "员会委员" too).
                let check = text.chars().nth(2).is_some();
                let rest = self.containing(text, &ranges).filter(|number| {
                    let name = self.names.get(*number);
                    !name.starts_with(text) && (!check || name.contains(text))
                });
                exact
                    .into_iter()
                    .chain(starting)
                    .chain(rest)
                    .skip(query.offset)
                    .take(query.limit)
                    .collect()
            }
            Matching::Initials(text) => {
                let (exact, starting) = self.starting_with(&self.by_initials, &self.initials, text);
                let mut all = Self::ranked_in(exact, &ranges);
                all.extend(starting.iter().copied().filter(|n| in_ranges(&ranges, *n)));
                all.sort_unstable();
                all.into_iter()
                    .skip(query.offset)
                    .take(query.limit)
                    .collect()
            }
        };
        numbers
            .into_iter()
            .map(|number| self.codes.get(number).to_owned())
            .collect()
    }

    /// The numbers a search may return, as runs: those of `level` (any if `None`) whose code
    /// starts with `within`.
    fn ranges(&self, within: Option<&str>, level: Option<Level>) -> Vec<Range<u32>> {
        self.levels
            .iter()
            .filter(|(of, _)| level.is_none_or(|level| level == *of))
            .map(|(_, run)| match within {
                None => run.clone(),
                Some(within) => {
                    // One level's codes are sorted and of one length: those starting with
                    // `within` are one run.
                    let start = first_where(run.clone(), |n| self.codes.get(n) < within);
                    let end =
                        first_where(start..run.end, |n| self.codes.get(n).starts_with(within));
                    start..end
                }
            })
            .filter(|run| !run.is_empty())
            .collect()
    }

    /// In `sorted` (numbers ordered by `strings`), the numbers whose string is `text`, and those
    /// whose string starts with it and is longer.
    fn starting_with<'s>(
        &self,
        sorted: &'s [u32],
        strings: &Strings,
        text: &str,
    ) -> (&'s [u32], &'s [u32]) {
        let start = sorted.partition_point(|n| strings.get(*n) < text);
        let run = &sorted[start..];
        let run = &run[..run.partition_point(|n| strings.get(*n).starts_with(text))];
        run.split_at(run.partition_point(|n| strings.get(*n) == text))
    }

    /// `numbers` inside `ranges`, in rank order.
    fn ranked_in(numbers: &[u32], ranges: &[Range<u32>]) -> Vec<u32> {
        let mut inside: Vec<u32> = numbers
            .iter()
            .copied()
            .filter(|n| in_ranges(ranges, *n))
            .collect();
        inside.sort_unstable();
        inside
    }

    /// The numbers inside `ranges` whose name holds every character of `text` (one character)
    /// or every pair of adjacent characters of it (more), in rank order, lazily.
    fn containing<'i>(
        &'i self,
        text: &str,
        ranges: &'i [Range<u32>],
    ) -> impl Iterator<Item = u32> + 'i {
        let chars: Vec<char> = text.chars().collect();
        let keys: Vec<u64> = match chars.as_slice() {
            [one] => vec![key_of_char(*one)],
            _ => chars.windows(2).map(|w| key_of_pair(w[0], w[1])).collect(),
        };
        let mut lists: Vec<&[u32]> = Vec::with_capacity(keys.len());
        for key in keys {
            match self.lists.get(&key) {
                Some(run) => lists.push(&self.postings[run.start as usize..run.end as usize]),
                // A character or pair no name has: nothing matches.
                None => lists = vec![&[]],
            }
            if lists.first().is_some_and(|list| list.is_empty()) {
                break;
            }
        }
        lists.sort_by_key(|list| list.len());
        let (shortest, mut others) = match lists.split_first() {
            Some((shortest, others)) => (*shortest, others.to_vec()),
            None => (&[][..], Vec::new()),
        };
        ranges
            .iter()
            .flat_map(move |run| {
                let start = shortest.partition_point(|n| *n < run.start);
                let end = shortest.partition_point(|n| *n < run.end);
                shortest[start..end].iter().copied()
            })
            .filter(move |number| others.iter_mut().all(|list| advance_to(list, *number)))
    }
}

/// The first number of `run` for which `before` is false (`before` holds for a prefix of it).
fn first_where(run: Range<u32>, before: impl Fn(u32) -> bool) -> u32 {
    let (mut low, mut high) = (run.start, run.end);
    while low < high {
        let middle = low + (high - low) / 2;
        if before(middle) {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    low
}

fn in_ranges(ranges: &[Range<u32>], number: u32) -> bool {
    ranges.iter().any(|run| run.contains(&number))
}

/// Moves `list` (sorted) past every number below `number` and says whether it holds `number`.
/// Galloping: the step doubles until it passes `number`, then a binary search inside the last
/// step, so walking a long list for a few numbers costs a few probes each.
fn advance_to(list: &mut &[u32], number: u32) -> bool {
    let mut step = 1;
    while step < list.len() && list[step] < number {
        step *= 2;
    }
    let low = step / 2;
    let high = (step + 1).min(list.len());
    let skip = low + list[low..high].partition_point(|n| *n < number);
    *list = &list[skip..];
    list.first() == Some(&number)
}

/// The search index a replica keeps: the latest it built, rebuilt when `divisions` has moved on.
#[derive(Debug, Default)]
pub struct SearchIndex {
    current: Arc<RwLock<Option<Arc<NameIndex>>>>,
    /// Held while building, so that searches waiting for a fresher index share one build.
    building: Arc<tokio::sync::Mutex<()>>,
}

impl SearchIndex {
    /// An index at least as new as every write committed before the call.
    pub async fn fresh(&self, db: &DatabaseConnection) -> Result<Arc<NameIndex>> {
        let revision = store::revision(db).await?;
        if let Some(index) = self.at_least(revision) {
            return Ok(index);
        }
        let building = self.building.clone().lock_owned().await;
        // A build that ran while this search waited may already be new enough.
        if let Some(index) = self.at_least(revision) {
            return Ok(index);
        }
        // Built by a task of its own, which holds the lock until the index is in place: a search
        // cancelled while it waits (a client's deadline, a type-ahead query replaced by the next
        // keystroke) does not abandon the build for the next search to start over.
        let (current, db) = (self.current.clone(), db.clone());
        tokio::spawn(async move {
            let _building = building;
            let index = Arc::new(NameIndex::load(&db).await?);
            tracing::info!(
                revision = index.revision(),
                divisions = index.len(),
                heap_bytes = index.heap_bytes(),
                "division search index built"
            );
            *current.write().unwrap_or_else(|e| e.into_inner()) = Some(index.clone());
            Ok(index)
        })
        .await
        .map_err(Error::internal)?
    }

    fn at_least(&self, revision: i64) -> Option<Arc<NameIndex>> {
        let current = self.current.read().unwrap_or_else(|e| e.into_inner());
        current
            .as_ref()
            .filter(|index| index.revision() >= revision)
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(rows: &[(&str, Level, &str)]) -> NameIndex {
        NameIndex::build(
            1,
            rows.iter()
                .map(|(code, level, name)| {
                    (
                        (*code).to_owned(),
                        *level,
                        (*name).to_owned(),
                        super::super::initials(name),
                    )
                })
                .collect(),
        )
        .unwrap()
    }

    fn search(index: &NameIndex, matching: Matching<'_>) -> Vec<String> {
        index.search(&Query {
            matching,
            within: None,
            level: None,
            offset: 0,
            limit: 100,
        })
    }

    fn county() -> NameIndex {
        use Level::*;
        index(&[
            ("330523108204", Village, "天荒坪村"),
            ("330523108201", Village, "余村村"),
            ("330523108", Township, "天荒坪镇"),
            ("330523", County, "安吉县"),
            ("330523101", Township, "递铺街道"),
            ("330523101201", Village, "天荒坪"),
            ("330523101202", Village, "大天荒坪村"),
            ("330523101203", Village, "天坪荒村"),
        ])
    }

    #[test]
    fn the_exact_name_then_names_starting_with_it_then_the_rest_by_level_and_code() {
        let index = county();
        assert_eq!(
            search(&index, Matching::Name("天荒坪")),
            [
                "330523101201", // exact
                "330523108",    // starts with it: the township before the village
                "330523108204",
                "330523101202", // holds it
            ]
        );
        // "天坪荒村" holds every character of "荒坪" but not the pair.
        assert_eq!(
            search(&index, Matching::Name("荒坪")),
            ["330523108", "330523101201", "330523101202", "330523108204"]
        );
        assert_eq!(
            search(&index, Matching::Name("村")),
            [
                "330523101202",
                "330523101203",
                "330523108201",
                "330523108204"
            ]
        );
        assert!(search(&index, Matching::Name("坪天")).is_empty());
        assert!(search(&index, Matching::Name("天荒坪镇村")).is_empty());
        assert!(search(&index, Matching::Name("%")).is_empty());
    }

    #[test]
    fn three_characters_or_more_match_only_as_written() {
        let index = index(&[
            ("330523108201", Level::Village, "员会委员村"),
            ("330523108202", Level::Village, "村民委员会"),
        ]);
        assert_eq!(search(&index, Matching::Name("委员会")), ["330523108202"]);
    }

    #[test]
    fn initials_match_from_the_start() {
        let index = county();
        assert_eq!(
            search(&index, Matching::Initials("thp")),
            ["330523108", "330523101201", "330523108204"]
        );
        assert_eq!(search(&index, Matching::Initials("ajx")), ["330523"]);
        assert!(search(&index, Matching::Initials("x")).is_empty());
    }

    #[test]
    fn within_a_division_at_a_level_and_paged() {
        let index = county();
        let query = |within, level, offset, limit| {
            index.search(&Query {
                matching: Matching::Name("天"),
                within,
                level,
                offset,
                limit,
            })
        };
        assert_eq!(
            query(Some("330523101"), None, 0, 10),
            ["330523101201", "330523101203", "330523101202"]
        );
        assert_eq!(query(None, Some(Level::Township), 0, 10), ["330523108"]);
        assert!(query(Some("330523108204"), Some(Level::Township), 0, 10).is_empty());
        let all = query(None, None, 0, 10);
        assert_eq!(all.len(), 5);
        let pages: Vec<String> = (0..3)
            .flat_map(|page| query(None, None, page * 2, 2))
            .collect();
        assert_eq!(pages, all);
    }

    #[test]
    fn galloping_finds_every_member_and_no_other() {
        let list: Vec<u32> = (0..1000).map(|n| n * 3).collect();
        let mut rest = list.as_slice();
        for number in 0..3000 {
            assert_eq!(advance_to(&mut rest, number), number % 3 == 0, "{number}");
        }
        assert!(rest.is_empty() || rest[0] >= 2997);
        let mut empty: &[u32] = &[];
        assert!(!advance_to(&mut empty, 5));
    }
}
