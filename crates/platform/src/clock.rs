//! The time every domain rule and job reads.
//!
//! Expiries, lockouts, resend intervals, token lifetimes, SLA deadlines: a rule about time reads
//! it from the [`Clock`] its service was given (`ServiceContext::clock`), never from
//! `Utc::now()`, and SQL that compares with "now" is handed this time as a parameter instead of
//! calling the database's `now()`. Production runs on [`Clock::system`]; a test holds a
//! [`ManualClock`] and moves it by days in one call, so a rule about a week is tested without
//! waiting a week, and without a window on the wall clock that a busy machine can miss.
//!
//! The clock also drives the in-process throttles (`governor`), so a test that moves it refills
//! them exactly as that much time would.

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};

/// The platform's default time zone (`Asia/Shanghai`, [`crate::validate::DEFAULT_TIME_ZONE`]):
/// where a day of registers, working calendars and due times begins and ends.
pub const CHINA_TIME: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

/// A source of the current time; cheap to clone, shared by everything of one process.
#[derive(Clone, Default)]
pub struct Clock(Source);

#[derive(Clone, Default)]
enum Source {
    #[default]
    System,
    Manual(Arc<RwLock<DateTime<Utc>>>),
}

impl Clock {
    /// The wall clock.
    pub fn system() -> Self {
        Self(Source::System)
    }

    /// The wall clock's time: the one place it is read (`clippy.toml` forbids `Utc::now`
    /// elsewhere), for what is dated by the real world rather than by a rule: envelopes, the
    /// outbox's clean-up, rows written from the command line.
    #[allow(clippy::disallowed_methods)]
    pub fn system_now() -> DateTime<Utc> {
        Utc::now()
    }

    /// The current time.
    pub fn now(&self) -> DateTime<Utc> {
        match &self.0 {
            Source::System => Self::system_now(),
            Source::Manual(now) => *now.read().unwrap_or_else(PoisonError::into_inner),
        }
    }

    /// Today's date in `zone` (a village's date turns at its midnight, not UTC's).
    pub fn today_in(&self, zone: chrono_tz::Tz) -> chrono::NaiveDate {
        self.now().with_timezone(&zone).date_naive()
    }

    /// Today's date in the platform's default time zone (`Asia/Shanghai`, see
    /// [`crate::validate::DEFAULT_TIME_ZONE`]): where registers and certificates are dated.
    pub fn today(&self) -> chrono::NaiveDate {
        self.today_in(CHINA_TIME)
    }

    /// `now() + by`, saturating at the end of representable time.
    pub fn after(&self, by: Duration) -> DateTime<Utc> {
        add(self.now(), by)
    }

    /// How long from now until `at` (zero when `at` has passed).
    pub fn until(&self, at: DateTime<Utc>) -> Duration {
        (at - self.now()).to_std().unwrap_or_default()
    }

    /// Whether this clock is moved by hand (tests).
    pub fn is_manual(&self) -> bool {
        matches!(self.0, Source::Manual(_))
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Source::System => f.write_str("Clock::System"),
            Source::Manual(_) => write!(f, "Clock::Manual({})", self.now()),
        }
    }
}

/// `at + by`, saturating instead of overflowing.
pub fn add(at: DateTime<Utc>, by: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(by)
        .ok()
        .and_then(|by| at.checked_add_signed(by))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// A clock that stands still until it is moved: what tests give the services they start.
#[derive(Clone)]
pub struct ManualClock(Arc<RwLock<DateTime<Utc>>>);

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        Self(Arc::new(RwLock::new(start)))
    }

    /// A clock standing at the present moment, truncated to whole microseconds as PostgreSQL
    /// stores them, so that a time read back from the database equals the one written.
    pub fn starting_now() -> Self {
        let now = Clock::system_now();
        let micros = now.timestamp_micros();
        Self::new(DateTime::from_timestamp_micros(micros).unwrap_or(now))
    }

    /// The [`Clock`] to hand to the code under test.
    pub fn clock(&self) -> Clock {
        Clock(Source::Manual(self.0.clone()))
    }

    pub fn now(&self) -> DateTime<Utc> {
        *self.0.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let mut now = self.0.write().unwrap_or_else(PoisonError::into_inner);
        *now = add(*now, by);
    }

    /// Puts the clock at `at` (backwards too, to test a clock that jumped).
    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = at;
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ManualClock({})", self.now())
    }
}

/// The time since the Unix epoch as `governor` measures it, so that its rate limiters run on
/// this clock.
impl governor::clock::Clock for Clock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        let now = Clock::now(self);
        // Times before 1970 do not occur here; treat them as the epoch.
        Duration::from_micros(u64::try_from(now.timestamp_micros()).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn today_turns_at_midnight_in_china() {
        use chrono::TimeZone as _;
        let before = ManualClock::new(Utc.with_ymd_and_hms(2026, 12, 3, 15, 59, 59).unwrap());
        let after = ManualClock::new(Utc.with_ymd_and_hms(2026, 12, 3, 16, 0, 0).unwrap());
        assert_eq!(before.clock().today().to_string(), "2026-12-03");
        assert_eq!(after.clock().today().to_string(), "2026-12-04");
        assert_eq!(
            after.clock().today_in(chrono_tz::UTC).to_string(),
            "2026-12-03"
        );
    }

    #[test]
    fn a_manual_clock_stands_still_until_moved() {
        let manual = ManualClock::starting_now();
        let clock = manual.clock();
        let start = clock.now();
        assert_eq!(clock.now(), start);
        manual.advance(Duration::from_secs(3 * 86_400));
        assert_eq!(clock.now() - start, chrono::Duration::days(3));
        assert_eq!(clock.until(start), Duration::ZERO);
        assert_eq!(
            clock.until(clock.after(Duration::from_secs(5))),
            Duration::from_secs(5)
        );
        manual.set(start);
        assert_eq!(clock.now(), start);
        assert!(clock.is_manual());
        assert!(!Clock::system().is_manual());
    }

    #[test]
    fn adding_saturates() {
        assert_eq!(
            add(DateTime::<Utc>::MAX_UTC, Duration::from_secs(1)),
            DateTime::<Utc>::MAX_UTC
        );
    }

    #[test]
    fn throttles_refill_when_the_clock_moves() {
        use std::num::NonZeroU32;

        let manual = ManualClock::starting_now();
        let limiter = governor::RateLimiter::direct_with_clock(
            governor::Quota::per_minute(NonZeroU32::MIN),
            manual.clock(),
        );
        assert!(limiter.check().is_ok());
        assert!(limiter.check().is_err(), "one a minute");
        manual.advance(Duration::from_secs(59));
        assert!(limiter.check().is_err(), "not yet");
        manual.advance(Duration::from_secs(1));
        assert!(limiter.check().is_ok(), "a minute later");
    }
}
