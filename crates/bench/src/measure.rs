//! Timing a fixed number of operations: closed-loop at a fixed concurrency (capacity), or
//! open-loop at a fixed rate (latency at a given load).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The outcome of one measurement: operations, elapsed time, and per-operation latencies.
#[derive(Debug, Clone)]
pub(crate) struct Measurement {
    pub(crate) ops: usize,
    pub(crate) elapsed: Duration,
    /// Sorted latencies of individual operations, when they were timed one by one.
    pub(crate) latencies: Vec<Duration>,
}

impl Measurement {
    /// `ops` timed operations that took `elapsed` in all.
    fn of(ops: usize, elapsed: Duration, mut latencies: Vec<Duration>) -> Self {
        latencies.sort_unstable();
        Self {
            ops,
            elapsed,
            latencies,
        }
    }

    pub(crate) fn rate(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64()
    }

    pub(crate) fn percentile(&self, p: f64) -> Option<Duration> {
        if self.latencies.is_empty() {
            return None;
        }
        let index = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies.get(index).copied()
    }
}

/// The measurement with the median rate.
pub(crate) fn median(mut runs: Vec<Measurement>) -> Option<Measurement> {
    runs.sort_by(|a, b| a.rate().total_cmp(&b.rate()));
    let middle = runs.len() / 2;
    runs.into_iter().nth(middle)
}

/// Runs `op(i)` for i in 0..ops over `concurrency` tasks and times each call.
pub(crate) async fn run<F, Fut>(
    ops: usize,
    concurrency: usize,
    op: F,
) -> anyhow::Result<Measurement>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(concurrency);
    for _ in 0..concurrency.max(1) {
        let op = op.clone();
        let next = next.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= ops {
                    return anyhow::Ok(latencies);
                }
                let start = Instant::now();
                op(i).await?;
                latencies.push(start.elapsed());
            }
        }));
    }
    let mut latencies = Vec::with_capacity(ops);
    for task in tasks {
        latencies.extend(task.await??);
    }
    Ok(Measurement::of(ops, started.elapsed(), latencies))
}

/// Runs `op(i)` for i in 0..ops open-loop: started at `rate` per second on a fixed schedule,
/// whatever the previous calls are doing, and each latency counted from the moment the call was
/// due (so a stall delays every call behind it in the numbers too, not only in the schedule).
pub(crate) async fn open_loop<F, Fut>(ops: usize, rate: f64, op: F) -> anyhow::Result<Measurement>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    anyhow::ensure!(rate > 0.0, "an open-loop rate must be positive");
    let interval = Duration::from_secs_f64(1.0 / rate);
    let started = tokio::time::Instant::now();
    let mut calls = Vec::with_capacity(ops);
    for i in 0..ops {
        let due = started + interval.mul_f64(i as f64);
        tokio::time::sleep_until(due).await;
        let call = op(i);
        calls.push(tokio::spawn(async move {
            call.await?;
            anyhow::Ok(due.elapsed())
        }));
    }
    let mut latencies = Vec::with_capacity(ops);
    for call in calls {
        latencies.push(call.await??);
    }
    Ok(Measurement::of(ops, started.elapsed(), latencies))
}

/// The printed result of a run.
#[derive(Debug, Default)]
pub(crate) struct Report {
    rows: Vec<String>,
    notes: Vec<String>,
}

impl Report {
    pub(crate) fn add(&mut self, what: &str, m: &Measurement) {
        let micros = |d: Option<Duration>| {
            d.map_or_else(
                || "-".to_owned(),
                |d| format!("{:.0}", d.as_secs_f64() * 1e6),
            )
        };
        self.rows.push(format!(
            "| {what} | {} | {:.0} | {} | {} |",
            m.ops,
            m.rate(),
            micros(m.percentile(0.5)),
            micros(m.percentile(0.99)),
        ));
    }

    pub(crate) fn ratio(&mut self, what: &str, ratio: f64) {
        self.notes.push(format!("{what}: {:.1} %", ratio * 100.0));
    }

    pub(crate) fn note(&mut self, note: String) {
        self.notes.push(note);
    }

    #[allow(clippy::print_stdout)] // The report is the program's output.
    pub(crate) fn print(&self) {
        println!("| measurement | ops | per second | p50 µs | p99 µs |");
        println!("| --- | ---: | ---: | ---: | ---: |");
        for row in &self.rows {
            println!("{row}");
        }
        println!();
        for note in &self.notes {
            println!("- {note}");
        }
    }
}

/// Runs `op(i)` for i in 0..ops over `threads` OS threads, closed-loop, and times each call: for
/// blocking work (a search index), which would stall an async runtime's workers.
pub(crate) fn run_threads<F>(ops: usize, threads: usize, op: F) -> anyhow::Result<Measurement>
where
    F: Fn(usize) -> anyhow::Result<()> + Sync,
{
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    let per_thread = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.max(1))
            .map(|_| {
                scope.spawn(|| {
                    let mut latencies = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= ops {
                            return anyhow::Ok(latencies);
                        }
                        let start = Instant::now();
                        op(i)?;
                        latencies.push(start.elapsed());
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| {
                worker
                    .join()
                    .map_err(|_| anyhow::anyhow!("a measuring thread panicked"))?
            })
            .collect::<anyhow::Result<Vec<_>>>()
    })?;
    let elapsed = started.elapsed();
    Ok(Measurement::of(ops, elapsed, per_thread.concat()))
}

/// Runs of the same operations as one: their operations, time and latencies added up.
pub(crate) fn merged(runs: Vec<Measurement>) -> Measurement {
    let ops = runs.iter().map(|run| run.ops).sum();
    let elapsed = runs.iter().map(|run| run.elapsed).sum();
    let latencies = runs.into_iter().flat_map(|run| run.latencies).collect();
    Measurement::of(ops, elapsed, latencies)
}
