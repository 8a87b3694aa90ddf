//! What a person's preferences make of one notification on one channel: send it now, hold it
//! (quiet hours, the daily digest) or not send it at all. Pure rules over the clock's "now", so
//! that they are tested without a database.

use chrono::{DateTime, NaiveTime, TimeZone as _, Utc};
use chrono_tz::Tz;
use terrace_proto::notify::v1::{Channel, NotificationCategory};

/// A daily window, in minutes after local midnight; `start == end` is no window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: u16,
    pub end: u16,
}

/// The daily digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest {
    /// When it goes, minutes after local midnight.
    pub minute: u16,
    pub categories: Vec<NotificationCategory>,
    pub channel: Channel,
}

/// One person's preferences as the rules read them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Explicit settings; a pair not named here takes [`default_enabled`].
    pub settings: Vec<(NotificationCategory, Channel, bool)>,
    pub quiet: Option<Window>,
    pub digest: Option<Digest>,
    pub zone: Tz,
}

/// What becomes of one notification on one channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Now.
    Send,
    /// Not at all, for this reason (recorded as SUPPRESSED).
    Suppress(&'static str),
    /// Held until `until` (DEFERRED), then sent alone or, with `digest`, with the others of the
    /// person's digest.
    Defer { until: DateTime<Utc>, digest: bool },
}

/// The platform's default for a pair nobody set: in-app on for everything; SMS on for security,
/// orders, alerts and polls; e-mail off except for security, which is on everywhere (it cannot
/// be turned off, so what the preferences show and send back must say so).
pub fn default_enabled(category: NotificationCategory, channel: Channel) -> bool {
    use NotificationCategory as C;
    match channel {
        Channel::InApp => true,
        _ if category == C::Security => true,
        Channel::Sms => matches!(category, C::Security | C::Orders | C::Alerts | C::Polls),
        _ => false,
    }
}

impl Policy {
    /// Nobody's choices: the defaults, in `zone`.
    pub fn defaults(zone: Tz) -> Self {
        Self {
            settings: Vec::new(),
            quiet: None,
            digest: None,
            zone,
        }
    }

    /// Whether `category` goes to `channel` at all.
    pub fn enabled(&self, category: NotificationCategory, channel: Channel) -> bool {
        self.settings
            .iter()
            .find(|(c, ch, _)| *c == category && *ch == channel)
            .map_or_else(|| default_enabled(category, channel), |(_, _, on)| *on)
    }

    /// The plan for a notification of `category` on `channel` at `now`. Critical ones (codes,
    /// frost alerts) go now, whatever was chosen; in-app items are written now or never (a
    /// phone in quiet hours shows them silently).
    pub fn plan(
        &self,
        category: NotificationCategory,
        channel: Channel,
        critical: bool,
        now: DateTime<Utc>,
    ) -> Plan {
        if critical {
            return Plan::Send;
        }
        if !self.enabled(category, channel) {
            return Plan::Suppress("turned off in the recipient's preferences");
        }
        if channel == Channel::InApp {
            return Plan::Send;
        }
        if let Some(digest) = &self.digest
            && digest.categories.contains(&category)
        {
            return if digest.channel == channel {
                Plan::Defer {
                    until: next_at(self.zone, digest.minute, now),
                    digest: true,
                }
            } else {
                Plan::Suppress("goes in the recipient's daily digest")
            };
        }
        if let Some(quiet) = self.quiet
            && inside(quiet, minute_of_day(self.zone, now))
        {
            return Plan::Defer {
                until: next_at(self.zone, quiet.end, now),
                digest: false,
            };
        }
        Plan::Send
    }
}

/// Minutes after local midnight of `now` in `zone`.
pub fn minute_of_day(zone: Tz, now: DateTime<Utc>) -> u16 {
    let local = now.with_timezone(&zone).time();
    u16::try_from(local.signed_duration_since(NaiveTime::MIN).num_minutes()).unwrap_or(0)
}

/// Whether `minute` lies in `window` (which may cross midnight).
pub fn inside(window: Window, minute: u16) -> bool {
    match window.start.cmp(&window.end) {
        std::cmp::Ordering::Equal => false,
        std::cmp::Ordering::Less => window.start <= minute && minute < window.end,
        std::cmp::Ordering::Greater => minute >= window.start || minute < window.end,
    }
}

/// The first local time `minute` after midnight in `zone` that is later than `now`.
pub fn next_at(zone: Tz, minute: u16, now: DateTime<Utc>) -> DateTime<Utc> {
    let time = NaiveTime::from_hms_opt(u32::from(minute / 60), u32::from(minute % 60), 0)
        .unwrap_or(NaiveTime::MIN);
    let today = now.with_timezone(&zone).date_naive();
    for day in [today, today.succ_opt().unwrap_or(today)] {
        let local = zone.from_local_datetime(&day.and_time(time));
        // A local time a clock change skips is taken an hour later; a repeated one, the first.
        let at = local
            .earliest()
            .or_else(|| {
                zone.from_local_datetime(&(day.and_time(time) + chrono::Duration::hours(1)))
                    .earliest()
            })
            .map(|at| at.with_timezone(&Utc));
        if let Some(at) = at
            && at > now
        {
            return at;
        }
    }
    now + chrono::Duration::days(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use NotificationCategory as C;

    fn china(at: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(at)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn quiet_nights() -> Policy {
        Policy {
            quiet: Some(Window {
                start: 22 * 60,
                end: 7 * 60,
            }),
            ..Policy::defaults(chrono_tz::Asia::Shanghai)
        }
    }

    #[test]
    fn the_defaults_text_orders_and_codes_but_not_requests() {
        let policy = Policy::defaults(chrono_tz::Asia::Shanghai);
        assert!(policy.enabled(C::Orders, Channel::Sms));
        assert!(policy.enabled(C::Security, Channel::Sms));
        assert!(!policy.enabled(C::ServiceRequests, Channel::Sms));
        assert!(policy.enabled(C::ServiceRequests, Channel::InApp));
        assert!(!policy.enabled(C::Orders, Channel::Email));
        assert!(
            policy.enabled(C::Security, Channel::Email),
            "security is never off"
        );
    }

    #[test]
    fn quiet_hours_hold_a_text_until_they_end_in_the_persons_time_zone() {
        let policy = quiet_nights();
        let night = china("2027-03-01T23:30:00+08:00");
        assert_eq!(
            policy.plan(C::Orders, Channel::Sms, false, night),
            Plan::Defer {
                until: china("2027-03-02T07:00:00+08:00"),
                digest: false
            }
        );
        let early = china("2027-03-02T06:59:00+08:00");
        assert_eq!(
            policy.plan(C::Orders, Channel::Sms, false, early),
            Plan::Defer {
                until: china("2027-03-02T07:00:00+08:00"),
                digest: false
            }
        );
        assert_eq!(
            policy.plan(
                C::Orders,
                Channel::Sms,
                false,
                china("2027-03-02T07:00:00+08:00")
            ),
            Plan::Send
        );
        // The in-app item is written at once; a critical text goes at once.
        assert_eq!(
            policy.plan(C::Orders, Channel::InApp, false, night),
            Plan::Send
        );
        assert_eq!(
            policy.plan(C::Security, Channel::Sms, true, night),
            Plan::Send
        );
        // The same instant is day-time for someone in Berlin.
        let berlin = Policy {
            zone: chrono_tz::Europe::Berlin,
            ..quiet_nights()
        };
        assert_eq!(
            berlin.plan(C::Orders, Channel::Sms, false, night),
            Plan::Send
        );
    }

    #[test]
    fn a_turned_off_channel_is_suppressed_unless_critical() {
        let policy = Policy {
            settings: vec![(C::Orders, Channel::Sms, false)],
            ..Policy::defaults(chrono_tz::Asia::Shanghai)
        };
        let now = china("2027-03-01T10:00:00+08:00");
        assert!(matches!(
            policy.plan(C::Orders, Channel::Sms, false, now),
            Plan::Suppress(_)
        ));
        assert_eq!(policy.plan(C::Orders, Channel::Sms, true, now), Plan::Send);
    }

    #[test]
    fn digest_categories_wait_for_the_digest_time_on_its_channel_only() {
        let policy = Policy {
            digest: Some(Digest {
                minute: 20 * 60,
                categories: vec![C::Orders],
                channel: Channel::Sms,
            }),
            ..Policy::defaults(chrono_tz::Asia::Shanghai)
        };
        let morning = china("2027-03-01T10:00:00+08:00");
        assert_eq!(
            policy.plan(C::Orders, Channel::Sms, false, morning),
            Plan::Defer {
                until: china("2027-03-01T20:00:00+08:00"),
                digest: true
            }
        );
        let late = china("2027-03-01T20:30:00+08:00");
        assert_eq!(
            policy.plan(C::Orders, Channel::Sms, false, late),
            Plan::Defer {
                until: china("2027-03-02T20:00:00+08:00"),
                digest: true
            }
        );
        assert_eq!(
            policy.plan(C::Security, Channel::Sms, false, morning),
            Plan::Send
        );
    }

    #[test]
    fn windows_may_cross_midnight_and_an_empty_one_holds_nothing() {
        let night = Window {
            start: 1320,
            end: 420,
        };
        assert!(inside(night, 1380) && inside(night, 0) && !inside(night, 420));
        let day = Window {
            start: 720,
            end: 780,
        };
        assert!(inside(day, 720) && !inside(day, 780));
        assert!(!inside(Window { start: 5, end: 5 }, 5));
    }
}
