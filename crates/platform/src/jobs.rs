//! Periodic work — expiries, SLA escalation, digests, silence checks — run once per deployment
//! however many replicas run, on the service clock.
//!
//! A service spawns each job with [`spawn`] in its `start`. Every replica looks every
//! `jobs.poll_interval` (tokio time) whether the job is *due by the service clock* — its last
//! run finished at least `every` ago — and, if so, tries to take its lease in the `job_runs`
//! table with one conditional `UPDATE`. Only the replica whose update matched runs it; the
//! others see the lease (or the fresh finish time) and wait for the next period. A replica that
//! dies mid-run leaves a lease that lapses after [`LEASE`] on the clock, so the job is not lost.
//!
//! Because due-ness is read from the clock, a test that moves the clock a day makes a daily job
//! run at the next poll, without waiting a day. A job's work should itself be safe to repeat
//! (claim rows `FOR UPDATE SKIP LOCKED`, publish through the outbox), since a run that fails
//! after committing part of its work is run again.
//!
//! Metrics: `job.runs` (by `job` and `outcome`: `ok` or `failed`) and `job.duration` (seconds).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use opentelemetry::KeyValue;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

use crate::clock::Clock;
use crate::db::SqlMigration;
use crate::service::ServiceContext;

/// How long a run may hold its lease (on the service clock) before another replica may take
/// the job over, presuming the first one dead.
pub const LEASE: Duration = Duration::from_secs(10 * 60);

/// After a failed run, how soon (at most) it is tried again.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(60);

/// The table of job leases and their last runs.
pub const MIGRATION: SqlMigration = SqlMigration {
    name: "m20261201_000002_platform_job_runs",
    up: r"
CREATE TABLE job_runs (
    job               text        PRIMARY KEY,
    -- The replica running it now, and until when its lease holds (service clock).
    holder            text,
    lease_until       timestamptz,
    last_started_at   timestamptz,
    -- When the last run ended; the next is due `every` later.
    last_finished_at  timestamptz,
    last_error        text,
    runs              bigint      NOT NULL DEFAULT 0,
    failures          bigint      NOT NULL DEFAULT 0
);
",
};

/// A periodic job: its name (`identity.grant-expiry`) and how often it runs.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    pub job: &'static str,
    pub every: Duration,
}

/// Starts `work` on `schedule` in the background of `ctx` until shutdown. `work` gets the time of
/// the run (the service clock's) and says how many things it did, for the log.
pub fn spawn<F, Fut>(ctx: &ServiceContext, schedule: Schedule, work: F)
where
    F: Fn(DateTime<Utc>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<u64>> + Send,
{
    let mut runner = Runner {
        db: ctx.db.clone(),
        clock: ctx.clock.clone(),
        schedule,
        holder: format!("{}:{}", ctx.name, uuid::Uuid::now_v7()),
        metrics: Metrics::new(),
        registered: false,
    };
    let poll = ctx
        .settings
        .jobs
        .poll_interval
        .max(Duration::from_millis(10));
    let shutdown = ctx.shutdown.clone();
    let work = Arc::new(work);
    ctx.tasks.spawn(async move {
        let mut ticks = tokio::time::interval(poll);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = ticks.tick() => {}
            }
            if let Err(error) = runner.run_if_due(work.as_ref()).await {
                tracing::warn!(
                    job = schedule.job,
                    error = format!("{error:#}"),
                    "job bookkeeping failed"
                );
            }
        }
    });
}

struct Runner {
    db: DatabaseConnection,
    clock: Clock,
    schedule: Schedule,
    /// This replica's name in `job_runs.holder`.
    holder: String,
    metrics: Metrics,
    /// Whether the job's row is known to exist (written once, not at every poll).
    registered: bool,
}

struct Metrics {
    runs: opentelemetry::metrics::Counter<u64>,
    duration: opentelemetry::metrics::Histogram<f64>,
}

impl Metrics {
    fn new() -> Self {
        let meter = crate::telemetry::meter();
        Self {
            runs: meter
                .u64_counter("job.runs")
                .with_description("runs of periodic jobs, by job and outcome")
                .build(),
            duration: meter
                .f64_histogram("job.duration")
                .with_unit("s")
                .with_description("how long a periodic job's run took")
                .build(),
        }
    }
}

impl Runner {
    /// Takes the job's lease when the job is due and nobody holds it, runs it, records the end.
    async fn run_if_due<F, Fut>(&mut self, work: &F) -> anyhow::Result<()>
    where
        F: Fn(DateTime<Utc>) -> Fut,
        Fut: Future<Output = anyhow::Result<u64>>,
    {
        let Schedule { job, every } = self.schedule;
        let now = self.clock.now();
        let due_if_finished_before = now - chrono::Duration::from_std(every)?;
        let lease_until = crate::clock::add(now, LEASE);
        let backend = self.db.get_database_backend();
        // Raw SQL: the lease is one conditional UPDATE whose match decides who runs.
        if !self.registered {
            self.db
                .execute_raw(Statement::from_sql_and_values(
                    backend,
                    "INSERT INTO job_runs (job) VALUES ($1) ON CONFLICT DO NOTHING",
                    [job.into()],
                ))
                .await?;
            self.registered = true;
        }
        let claimed = self
            .db
            .execute_raw(Statement::from_sql_and_values(
                backend,
                "UPDATE job_runs SET holder = $2, lease_until = $3, last_started_at = $4 \
                 WHERE job = $1 AND (lease_until IS NULL OR lease_until < $4) \
                 AND (last_finished_at IS NULL OR last_finished_at <= $5)",
                [
                    job.into(),
                    self.holder.clone().into(),
                    lease_until.into(),
                    now.into(),
                    due_if_finished_before.into(),
                ],
            ))
            .await?
            .rows_affected()
            == 1;
        if !claimed {
            return Ok(());
        }
        let started = std::time::Instant::now();
        let outcome = work(now).await;
        let elapsed = started.elapsed();
        let finished = self.clock.now();
        let (outcome_name, error, finished_at) = match &outcome {
            Ok(done) => {
                if *done > 0 {
                    tracing::info!(job, done, "job ran");
                }
                ("ok", None, finished)
            }
            Err(error) => {
                tracing::warn!(job, error = format!("{error:#}"), "job failed");
                // Due again after the retry delay, not a whole period later.
                let retry = every.saturating_sub(RETRY_AFTER_FAILURE.min(every));
                let finished_at = finished - chrono::Duration::from_std(retry)?;
                ("failed", Some(format!("{error:#}")), finished_at)
            }
        };
        self.metrics.runs.add(
            1,
            &[
                KeyValue::new("job", job),
                KeyValue::new("outcome", outcome_name),
            ],
        );
        self.metrics
            .duration
            .record(elapsed.as_secs_f64(), &[KeyValue::new("job", job)]);
        self.db
            .execute_raw(Statement::from_sql_and_values(
                backend,
                "UPDATE job_runs SET holder = NULL, lease_until = NULL, last_finished_at = $3, \
                 last_error = $4, runs = runs + 1, \
                 failures = failures + CASE WHEN $4::text IS NULL THEN 0 ELSE 1 END \
                 WHERE job = $1 AND holder = $2",
                [
                    job.into(),
                    self.holder.clone().into(),
                    finished_at.into(),
                    error.into(),
                ],
            ))
            .await?;
        Ok(())
    }
}
