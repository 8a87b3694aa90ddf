//! Waits between retries of work that failed (a database or NATS not reachable yet, a relay
//! round or a consumer that broke off): exponential, capped, with jitter so that replicas that
//! failed together do not retry together. The delays come from `backon`; the loops that wait
//! keep their own cancellation and their own idea of when a success resets the backoff;
//! [`Restarts`] paces a long-running task that starts over after an error.

use std::time::Duration;

use backon::{BackoffBuilder as _, ExponentialBuilder};
use tokio_util::sync::CancellationToken;

/// Delays from `first`, doubling, never above `most`, without end.
pub fn delays(first: Duration, most: Duration) -> impl Iterator<Item = Duration> + Send {
    ExponentialBuilder::new()
        .with_min_delay(first)
        .with_max_delay(most)
        .with_factor(2.0)
        .with_jitter()
        .without_max_times()
        .build()
}

/// The delays of the [`delays`] iterator, resettable: after a success the next failure waits
/// the first delay again.
pub struct Backoff {
    first: Duration,
    most: Duration,
    delays: Box<dyn Iterator<Item = Duration> + Send>,
}

impl std::fmt::Debug for Backoff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backoff")
            .field("first", &self.first)
            .field("most", &self.most)
            .finish_non_exhaustive()
    }
}

impl Backoff {
    pub fn new(first: Duration, most: Duration) -> Self {
        Self {
            first,
            most,
            delays: Box::new(delays(first, most)),
        }
    }

    /// How long to wait after another failure.
    pub fn next_delay(&mut self) -> Duration {
        self.delays.next().unwrap_or(self.most)
    }

    /// Starts again from the first delay.
    pub fn reset(&mut self) {
        self.delays = Box::new(delays(self.first, self.most));
    }
}

/// The restarts of a long-running task that must not stay down after a passing failure (a
/// database or NATS away for a moment): consumers, each replica's search follower. The task's
/// loop runs an attempt and asks [`Restarts::again`] whether to run another:
///
/// ```ignore
/// let mut restarts = Restarts::new("consumer x", first, most);
/// loop {
///     let started = tokio::time::Instant::now();
///     let ended = attempt().await;
///     if !restarts.again(started, ended, &shutdown).await {
///         return Ok(());
///     }
/// }
/// ```
///
/// (A loop rather than a function taking the attempt as an async closure: the future of an
/// async closure that borrows the task cannot be proven `Send` for a spawned task.)
#[derive(Debug)]
pub struct Restarts {
    task: String,
    backoff: Backoff,
}

impl Restarts {
    pub fn new(task: impl Into<String>, first: Duration, most: Duration) -> Self {
        Self {
            task: task.into(),
            backoff: Backoff::new(first, most),
        }
    }

    /// After an attempt started at `started` ended with `ended`: `false` when the task is done
    /// (it ended without error, or `shutdown` was cancelled); else logs the error, waits out the
    /// backoff and answers `true`. An attempt that failed after running [`SETTLED`] or longer
    /// starts the backoff afresh: it had been working.
    pub async fn again(
        &mut self,
        started: tokio::time::Instant,
        ended: anyhow::Result<()>,
        shutdown: &CancellationToken,
    ) -> bool {
        let Err(error) = ended else { return false };
        if started.elapsed() >= SETTLED {
            self.backoff.reset();
        }
        tracing::warn!(task = %self.task, error = format!("{error:#}"), "interrupted, restarting");
        if shutdown.is_cancelled() {
            return false;
        }
        let wait = self.backoff.next_delay();
        tokio::select! {
            () = shutdown.cancelled() => false,
            () = tokio::time::sleep(wait) => true,
        }
    }
}

/// How long a task restarted through [`Restarts`] must have run before its failure counts as a
/// new one (its backoff starts afresh).
pub const SETTLED: Duration = Duration::from_secs(60);

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `attempt` the way a task's loop does, counting attempts.
    async fn run(
        shutdown: &CancellationToken,
        mut attempt: impl FnMut(u32) -> anyhow::Result<()>,
    ) -> u32 {
        let mut restarts = Restarts::new("test", Duration::from_secs(1), Duration::from_secs(8));
        let mut attempts = 0;
        loop {
            attempts += 1;
            let started = tokio::time::Instant::now();
            if !restarts.again(started, attempt(attempts), shutdown).await {
                return attempts;
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_restarting_task_runs_again_after_each_error_until_it_ends() {
        let shutdown = CancellationToken::new();
        let started = tokio::time::Instant::now();
        let attempts = run(&shutdown, |n| {
            if n < 4 {
                anyhow::bail!("failure {n}");
            }
            Ok(())
        })
        .await;
        assert_eq!(attempts, 4, "three failures, then the run that ended");
        // Waited 1 + 2 + 4 seconds at least (jitter may add up to as much again).
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_secs(7) && waited <= Duration::from_secs(14),
            "{waited:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_restarting_task_stops_when_shut_down() {
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        let attempts = run(&shutdown, |n| {
            if n == 2 {
                stop.cancel();
            }
            anyhow::bail!("always failing")
        })
        .await;
        assert_eq!(attempts, 2, "no attempt after the shutdown");
    }

    #[test]
    fn delays_grow_to_the_cap_and_start_again_after_a_reset() {
        let (first, most) = (Duration::from_millis(100), Duration::from_secs(5));
        let mut backoff = Backoff::new(first, most);
        let waits: Vec<Duration> = (0..12).map(|_| backoff.next_delay()).collect();
        // Jitter adds up to one delay on top: each wait lies between the delay and twice it.
        assert!(waits[0] >= first && waits[0] <= first * 2, "{waits:?}");
        assert!(waits[3] >= first * 8, "doubling: {waits:?}");
        assert!(
            waits.iter().all(|wait| *wait <= most * 2),
            "capped: {waits:?}"
        );
        assert!(waits[11] >= most, "at the cap: {waits:?}");
        backoff.reset();
        assert!(backoff.next_delay() <= first * 2, "afresh");
    }
}
