//! Market search against bare tantivy (issue 11): a million listings in the market's
//! `SearchIndex` on disk, and the same listings in a bare tantivy index (`bare`), searched with the
//! same rotated mix of terms, filters, facet counts and orders (`queries`), closed-loop from a few
//! threads. The target: p99 under 20 ms and at most 1.5 times the bare index's.
//!
//! Both indexes are built the same way (one writer of the same heap and threads, one commit at the
//! end), then left until their background merges settle and reopened, so both are searched in the
//! state a long-lived index is in, with no merge running beside the searches.

mod bare;
mod listings;
mod queries;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use terrace_market::search::index::SearchIndex;

use crate::measure::{self, Measurement};
use bare::{AreaCounting, BareIndex, BareWriter};

/// The market index's writer heap (`index.rs`, `WRITER_MEMORY`), given to the bare writer too so
/// that both flush segments of the same size.
const WRITER_MEMORY: usize = 64_000_000;

/// Listings between progress lines.
const PROGRESS_EVERY: usize = 100_000;

/// What was measured.
#[derive(Debug)]
pub(crate) struct MarketSearch {
    pub(crate) listings: usize,
    pub(crate) terms: usize,
    /// Distinct searches in the mix (term x filter pattern x order).
    pub(crate) mix: usize,
    pub(crate) workers: usize,
    pub(crate) ours: Built,
    pub(crate) bare: Built,
    pub(crate) ours_search: Measurement,
    /// The bare index counting areas with tantivy's facet collector.
    pub(crate) bare_facet_search: Measurement,
    /// The bare index counting areas from the village code fast field, as the market does.
    pub(crate) bare_column_search: Measurement,
    /// Mean hits (the total, not the page) per search of the mix.
    pub(crate) ours_hits: f64,
    pub(crate) bare_hits: f64,
    /// Searches of the mix whose totals are the same in both indexes.
    pub(crate) same_totals: usize,
    /// The terms of the searches whose totals differ, with how many of them differ.
    pub(crate) differing: Vec<(&'static str, usize)>,
    /// The slowest searches of the mix on the market index, one at a time.
    pub(crate) slowest: Vec<Slow>,
    /// p50 and p99 of the mix run once, one search at a time, on each side (market, bare with
    /// the facet collector, bare with the code column).
    pub(crate) alone: [(Duration, Duration); 3],
}

/// One index as built.
#[derive(Debug)]
pub(crate) struct Built {
    /// Writing every listing and the commit.
    pub(crate) build: Duration,
    /// Waiting for the background merges after the commit.
    pub(crate) settle: Duration,
    pub(crate) docs: u64,
    pub(crate) segments: usize,
    pub(crate) bytes: u64,
}

/// Builds both indexes over `listings` listings, then times `searches` searches on each, in
/// `rounds` alternating rounds, from `workers` threads.
pub(crate) async fn market_search(
    listings: usize,
    searches: usize,
    workers: usize,
    rounds: usize,
) -> anyhow::Result<MarketSearch> {
    let dir = tempfile::tempdir()?;
    let ours_dir = dir.path().join("ours");
    let bare_dir = dir.path().join("bare");

    let path = ours_dir.clone();
    let (index, build) = tokio::task::spawn_blocking(move || build_ours(&path, listings)).await??;
    let settled = settle(&ours_dir).await?;
    drop(index);
    let path = ours_dir.clone();
    let ours =
        Arc::new(tokio::task::spawn_blocking(move || SearchIndex::open_in_dir(&path)).await??);
    let ours_built = built(&ours_dir, build, settled)?;

    let path = bare_dir.clone();
    let (writer, build) =
        tokio::task::spawn_blocking(move || build_bare(&path, listings)).await??;
    let settled = settle(&bare_dir).await?;
    drop(writer);
    let bare = Arc::new(BareIndex::open(&bare_dir)?);
    let bare_built = built(&bare_dir, build, settled)?;

    // Every combination of term, filter pattern and order once.
    let mix = Arc::new(queries::mix(queries::TERMS.len() * 8 * 3));
    let ours_queries: Arc<Vec<_>> = Arc::new(mix.iter().map(queries::Spec::ours).collect());
    let search = {
        let (ours, bare, mix, ours_queries) = (ours, bare, mix.clone(), ours_queries);
        Arc::new(move |side: Side, i: usize| -> anyhow::Result<u64> {
            let i = i % mix.len();
            Ok(match side {
                Side::Ours => ours.search(&ours_queries[i])?.total,
                Side::BareFacet => bare.search(&mix[i], AreaCounting::Facet)?.total,
                Side::BareColumn => bare.search(&mix[i], AreaCounting::Column)?.total,
            })
        })
    };

    // Warm-up: the whole mix once on each side (page cache, jieba's dictionary, allocator); then
    // once more, one search at a time, timing each search and keeping its hit count, so that the
    // report can say which searches make the tail and whether both indexes find the same.
    let passes = {
        let search = search.clone();
        let len = mix.len();
        tokio::task::spawn_blocking(move || {
            SIDES.map(|side| {
                (0..2 * len)
                    .map(|i| {
                        let started = Instant::now();
                        let total = search(side, i)?;
                        Ok((total, started.elapsed()))
                    })
                    .collect::<anyhow::Result<Vec<_>>>()
                    .map(|mut timed| timed.split_off(len))
            })
        })
        .await?
    };
    let [ours_pass, facet_pass, column_pass] = passes;
    let (ours_pass, facet_pass, column_pass) = (ours_pass?, facet_pass?, column_pass?);
    let totals =
        |pass: &[(u64, Duration)]| pass.iter().map(|(total, _)| *total).collect::<Vec<_>>();
    let (ours_totals, bare_totals) = (totals(&ours_pass), totals(&facet_pass));
    let mean = |totals: &[u64]| totals.iter().sum::<u64>() as f64 / totals.len().max(1) as f64;
    let same_totals = ours_totals
        .iter()
        .zip(&bare_totals)
        .filter(|(a, b)| a == b)
        .count();
    let mut differing: Vec<(&'static str, usize)> = Vec::new();
    for (spec, _) in mix
        .iter()
        .zip(ours_totals.iter().zip(&bare_totals))
        .filter(|(_, (a, b))| a != b)
    {
        match differing.iter_mut().find(|(text, _)| *text == spec.text) {
            Some((_, count)) => *count += 1,
            None => differing.push((spec.text, 1)),
        }
    }
    let mut by_time: Vec<usize> = (0..mix.len()).collect();
    by_time.sort_by_key(|i| std::cmp::Reverse(ours_pass[*i].1));
    let slowest = by_time
        .into_iter()
        .take(SLOWEST)
        .map(|i| Slow {
            search: mix[i].describe(),
            hits: ours_pass[i].0,
            ours: ours_pass[i].1,
            bare_facet: facet_pass[i].1,
            bare_column: column_pass[i].1,
        })
        .collect();
    let one_at_a_time = |pass: &[(u64, Duration)]| {
        let mut times: Vec<Duration> = pass.iter().map(|(_, time)| *time).collect();
        times.sort_unstable();
        let at = |p: f64| {
            times
                .get(((times.len() as f64 - 1.0) * p).round() as usize)
                .copied()
                .unwrap_or_default()
        };
        (at(0.5), at(0.99))
    };
    let alone = [
        one_at_a_time(&ours_pass),
        one_at_a_time(&facet_pass),
        one_at_a_time(&column_pass),
    ];

    // Alternating rounds, so that a neighbour's load on a shared machine falls on every side.
    let rounds = rounds.max(1);
    let per_round = searches.div_ceil(rounds);
    let mut runs: [Vec<Measurement>; 3] = Default::default();
    for round in 0..rounds {
        let offset = round * per_round;
        for (side, runs) in SIDES.into_iter().zip(runs.iter_mut()) {
            let search = search.clone();
            runs.push(
                tokio::task::spawn_blocking(move || {
                    measure::run_threads(per_round, workers, |i| search(side, offset + i).map(drop))
                })
                .await??,
            );
        }
    }
    let [ours_runs, facet_runs, column_runs] = runs;

    Ok(MarketSearch {
        listings,
        terms: queries::TERMS.len(),
        mix: mix.len(),
        workers,
        ours: ours_built,
        bare: bare_built,
        ours_search: measure::merged(ours_runs),
        bare_facet_search: measure::merged(facet_runs),
        bare_column_search: measure::merged(column_runs),
        ours_hits: mean(&ours_totals),
        bare_hits: mean(&bare_totals),
        same_totals,
        differing,
        slowest,
        alone,
    })
}

/// Searches of the mix reported as the slowest.
const SLOWEST: usize = 8;

/// One of the slowest searches of the mix, timed one at a time.
#[derive(Debug)]
pub(crate) struct Slow {
    pub(crate) search: String,
    pub(crate) hits: u64,
    pub(crate) ours: Duration,
    pub(crate) bare_facet: Duration,
    pub(crate) bare_column: Duration,
}

/// Who is searched.
#[derive(Debug, Clone, Copy)]
enum Side {
    Ours,
    BareFacet,
    BareColumn,
}

const SIDES: [Side; 3] = [Side::Ours, Side::BareFacet, Side::BareColumn];

fn build_ours(dir: &Path, listings: usize) -> anyhow::Result<(SearchIndex, Duration)> {
    let started = Instant::now();
    let index = SearchIndex::open_in_dir(dir)?;
    for (i, doc) in listings::listings(listings).enumerate() {
        index.upsert(&doc)?;
        progress("market index", i + 1, started);
    }
    index.commit()?;
    let build = started.elapsed();
    eprintln!("market index: committed in {:.1} s", build.as_secs_f64());
    Ok((index, build))
}

fn build_bare(dir: &Path, listings: usize) -> anyhow::Result<(BareWriter, Duration)> {
    let started = Instant::now();
    std::fs::create_dir_all(dir)?;
    let mut writer = BareWriter::create(dir, WRITER_MEMORY)?;
    for (i, doc) in listings::listings(listings).enumerate() {
        writer.add(&doc)?;
        progress("bare index", i + 1, started);
    }
    writer.commit()?;
    let build = started.elapsed();
    eprintln!("bare index: committed in {:.1} s", build.as_secs_f64());
    Ok((writer, build))
}

fn progress(what: &str, done: usize, started: Instant) {
    if done.is_multiple_of(PROGRESS_EVERY) {
        eprintln!(
            "{what}: {done} listings written, {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
}

/// Waits until the background merges that the commit started are done: the commit point and the
/// directory's size unchanged for three polls in a row (a merge in progress writes its segment
/// files as it goes). The writer must stay open meanwhile: dropping it abandons its merges.
async fn settle(dir: &Path) -> anyhow::Result<Duration> {
    const POLL: Duration = Duration::from_secs(2);
    const QUIET_POLLS: usize = 3;
    const LONGEST: Duration = Duration::from_secs(900);
    let started = Instant::now();
    let mut last = state(dir)?;
    let mut quiet = 0;
    while quiet < QUIET_POLLS && started.elapsed() < LONGEST {
        tokio::time::sleep(POLL).await;
        let now = state(dir)?;
        quiet = if now == last { quiet + 1 } else { 0 };
        last = now;
    }
    // The quiet polls themselves are not merging time.
    let settled = started.elapsed().saturating_sub(POLL * QUIET_POLLS as u32);
    eprintln!(
        "{}: merges settled after {:.1} s",
        dir.display(),
        settled.as_secs_f64()
    );
    Ok(settled)
}

/// The commit point and the directory's size in bytes.
fn state(dir: &Path) -> anyhow::Result<(Vec<u8>, u64)> {
    Ok((std::fs::read(dir.join("meta.json"))?, dir_bytes(dir)?))
}

fn dir_bytes(dir: &Path) -> anyhow::Result<u64> {
    let mut bytes = 0;
    for entry in std::fs::read_dir(dir)? {
        let metadata = entry?.metadata()?;
        if metadata.is_file() {
            bytes += metadata.len();
        }
    }
    Ok(bytes)
}

/// Documents, segments and size of the index in `dir` as committed.
fn built(dir: &Path, build: Duration, settle: Duration) -> anyhow::Result<Built> {
    let index = tantivy::Index::open_in_dir(dir)?;
    let segments = index.searchable_segment_metas()?;
    Ok(Built {
        build,
        settle,
        docs: segments.iter().map(|meta| u64::from(meta.num_docs())).sum(),
        segments: segments.len(),
        bytes: dir_bytes(dir)?,
    })
}
