//! In-process rate limits: how often one key (a phone, a client address, an agency client) may do
//! one thing.
//!
//! A [`Throttle`] is a keyed GCRA limiter (`governor`) on the service's [`Clock`], so a test that
//! moves the clock refills it exactly. Each throttle says what it limits, in the words a person
//! refused by it reads ("too many login attempts; try again in 40 s"), and answers
//! `RESOURCE_EXHAUSTED` with its own reason and a `RetryInfo`.
//!
//! Limits are per process (per replica); lasting defences (an account's lock, a code's attempt
//! count) belong in the database.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::RateLimiter;
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;

use crate::clock::Clock;
use crate::error::{Error, Result};

/// Keys a throttle may hold before it forgets the idle ones, so that someone trying endless keys
/// (made-up phones, spoofed client ids) cannot grow it without bound.
const KEYS_BEFORE_CLEANUP: usize = 10_000;

type Limiter<K> = RateLimiter<K, DashMapStateStore<K>, Clock, NoOpMiddleware<Duration>>;

/// How much a throttle allows: a sustained rate and a burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Sustained: one more every `period / count`.
    pub count: u32,
    pub period: Duration,
    /// How many at once before the sustained rate applies (at least 1).
    pub burst: u32,
}

impl Rate {
    /// `count` a minute, all of them at once if wanted.
    pub const fn per_minute(count: u32) -> Self {
        Self {
            count,
            period: Duration::from_secs(60),
            burst: count,
        }
    }

    /// The same sustained rate with a different burst.
    pub const fn with_burst(self, burst: u32) -> Self {
        Self { burst, ..self }
    }

    fn quota(self) -> governor::Quota {
        let count = NonZeroU32::new(self.count).unwrap_or(NonZeroU32::MIN);
        let replenish = (self.period / count.get()).max(Duration::from_nanos(1));
        governor::Quota::with_period(replenish)
            .unwrap_or_else(|| governor::Quota::per_second(count))
            .allow_burst(NonZeroU32::new(self.burst).unwrap_or(NonZeroU32::MIN))
    }
}

/// A rate limit per key, with its own refusal.
pub struct Throttle<K: std::hash::Hash + Eq + Clone> {
    limiter: Limiter<K>,
    clock: Clock,
    /// The `ErrorInfo.reason` of a refusal, e.g. `TOO_MANY_LOGIN_ATTEMPTS`.
    reason: &'static str,
    /// What was done too often, for the message: "login attempts".
    what: &'static str,
}

impl<K: std::hash::Hash + Eq + Clone> std::fmt::Debug for Throttle<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttle")
            .field("reason", &self.reason)
            .field("keys", &self.limiter.len())
            .finish_non_exhaustive()
    }
}

impl<K: std::hash::Hash + Eq + Clone> Throttle<K> {
    /// A throttle allowing `rate` per key, refusing with `reason` and "too many `what`".
    pub fn new(clock: &Clock, rate: Rate, reason: &'static str, what: &'static str) -> Self {
        Self {
            limiter: RateLimiter::dashmap_with_clock(rate.quota(), clock.clone()),
            clock: clock.clone(),
            reason,
            what,
        }
    }

    /// Counts one use by `key`; refuses it when the key has used up its rate.
    pub fn check(&self, key: &K) -> Result<()> {
        if self.limiter.len() > KEYS_BEFORE_CLEANUP {
            self.limiter.retain_recent();
        }
        self.limiter.check_key(key).map_err(|not_until| {
            let wait = not_until
                .wait_time_from(governor::clock::Clock::now(&self.clock))
                .max(Duration::from_secs(1));
            Error::ResourceExhausted {
                reason: self.reason,
                message: format!("too many {}; try again in {} s", self.what, wait.as_secs()),
                retry_after: Some(wait),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    #[test]
    fn refuses_past_the_burst_and_says_when_to_retry() {
        let manual = ManualClock::starting_now();
        let throttle = Throttle::new(
            &manual.clock(),
            Rate::per_minute(1).with_burst(3),
            "TOO_MANY_TEXTS",
            "text messages to this phone",
        );
        let phone = "+8613800000001".to_owned();
        for _ in 0..3 {
            throttle.check(&phone).unwrap();
        }
        let Err(Error::ResourceExhausted {
            reason,
            message,
            retry_after,
        }) = throttle.check(&phone)
        else {
            panic!("the fourth text at once is refused")
        };
        assert_eq!(reason, "TOO_MANY_TEXTS");
        assert_eq!(
            message,
            "too many text messages to this phone; try again in 60 s"
        );
        assert_eq!(retry_after, Some(Duration::from_secs(60)));
        throttle.check(&"+8613800000002".to_owned()).unwrap();
        manual.advance(Duration::from_secs(60));
        throttle.check(&phone).unwrap();
        assert!(throttle.check(&phone).is_err());
    }

    #[test]
    fn a_sustained_rate_refills_evenly() {
        let manual = ManualClock::starting_now();
        let throttle = Throttle::new(&manual.clock(), Rate::per_minute(600), "R", "requests");
        for _ in 0..600 {
            throttle.check(&1).unwrap();
        }
        assert!(throttle.check(&1).is_err());
        manual.advance(Duration::from_millis(100));
        throttle.check(&1).unwrap();
        assert!(throttle.check(&1).is_err(), "one every 100 ms");
    }
}
