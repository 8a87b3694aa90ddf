//! Waits between retries of work that failed (a database or NATS not reachable yet, a relay
//! round or a consumer that broke off): exponential, capped, with jitter so that replicas that
//! failed together do not retry together. The delays come from `backon`; the loops that wait
//! keep their own cancellation and their own idea of when a success resets the backoff.

use std::time::Duration;

use backon::{BackoffBuilder as _, ExponentialBuilder};

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

#[cfg(test)]
mod tests {
    use super::*;

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
