//! Each person's delivery preferences: `GetPreferences`, `UpdatePreferences`, and the
//! [`policy::Policy`] the rules read for every notification (channels on or off per category,
//! quiet hours and the daily digest in the person's time zone, a language of their own). The
//! subscriptions of the same contract land with the rules that need them.
//!
//! - [`parse`]: the requests as commands.
//! - [`store`]: the table.
//! - [`policy`]: what the preferences make of one notification, on the clock.

pub mod parse;
pub mod policy;
pub mod store;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use sea_orm::{ConnectionTrait, DatabaseConnection};
use terrace_platform::Clock;
use terrace_platform::auth::Caller;
use terrace_platform::error::{Error, Result};
use terrace_platform::idempotency::{self, Keep};
use terrace_platform::people::KnownUser;
use terrace_platform::validate::to_timestamp;
use terrace_proto::notify::v1 as pb;
use uuid::Uuid;

use self::parse::UpdatePreferences;
use self::policy::{Digest, Policy, Window};
use self::store::{Model as PreferencesRow, Setting};

/// The zone of someone who set none and whom notify does not know yet.
const DEFAULT_ZONE: Tz = chrono_tz::Asia::Shanghai;

/// A person's preferences as the rules use them: the policy and the language to write in.
#[derive(Debug, Clone)]
pub struct Recipient {
    pub policy: Policy,
    /// Their chosen notification language, else identity's, else `None`.
    pub locale: Option<String>,
}

/// The preferences of `user` (known to notify as `person`, if at all).
pub async fn recipient<C: ConnectionTrait>(
    conn: &C,
    user: Uuid,
    person: Option<&KnownUser>,
) -> Result<Recipient> {
    let row = store::find(conn, user).await?;
    Ok(recipient_of(row.as_ref(), person))
}

fn zone_of(row: Option<&PreferencesRow>, person: Option<&KnownUser>) -> Tz {
    row.map(|row| row.time_zone.as_str())
        .filter(|zone| !zone.is_empty())
        .or_else(|| person.map(|p| p.time_zone.as_str()))
        .and_then(|zone| zone.parse::<Tz>().ok())
        .unwrap_or(DEFAULT_ZONE)
}

fn recipient_of(row: Option<&PreferencesRow>, person: Option<&KnownUser>) -> Recipient {
    let zone = zone_of(row, person);
    let locale = row
        .map(|row| row.locale.clone())
        .filter(|locale| !locale.is_empty())
        .or_else(|| person.map(|p| p.locale.clone()).filter(|l| !l.is_empty()));
    let Some(row) = row else {
        return Recipient {
            policy: Policy::defaults(zone),
            locale,
        };
    };
    let category = |c: i32| pb::NotificationCategory::try_from(c).ok();
    let channel = |c: i32| pb::Channel::try_from(c).ok();
    Recipient {
        policy: Policy {
            settings: row
                .settings()
                .into_iter()
                .filter_map(|Setting(c, ch, on)| Some((category(c)?, channel(ch)?, on)))
                .collect(),
            quiet: row.quiet_enabled.then(|| Window {
                start: u16::try_from(row.quiet_start).unwrap_or(0),
                end: u16::try_from(row.quiet_end).unwrap_or(0),
            }),
            digest: row.digest_enabled.then(|| Digest {
                minute: u16::try_from(row.digest_minute).unwrap_or(0),
                categories: row
                    .digest_categories()
                    .into_iter()
                    .filter_map(category)
                    .collect(),
                channel: channel(i32::from(row.digest_channel)).unwrap_or(pb::Channel::Sms),
            }),
            zone,
        },
        locale,
    }
}

/// The preferences: the *apply* step of their RPCs.
#[derive(Debug, Clone)]
pub struct Preferences {
    db: DatabaseConnection,
    clock: Clock,
}

/// What nobody changed yet: quiet hours 22:00-07:00 and a digest at 20:00, both off.
fn unchanged(user: Uuid, now: DateTime<Utc>) -> PreferencesRow {
    PreferencesRow {
        user_id: user,
        channel_settings: serde_json::json!([]),
        quiet_enabled: false,
        quiet_start: 22 * 60,
        quiet_end: 7 * 60,
        digest_enabled: false,
        digest_minute: 20 * 60,
        digest_categories: serde_json::json!([]),
        digest_channel: pb::Channel::Sms as i16,
        time_zone: String::new(),
        locale: String::new(),
        updated_at: now,
    }
}

impl Preferences {
    pub fn new(db: DatabaseConnection, clock: Clock) -> Self {
        Self { db, clock }
    }

    /// `GetPreferences`: the caller's own, defaults filled in.
    pub async fn get(&self, caller: &Caller) -> Result<pb::GetPreferencesResponse> {
        let user = crate::own_person(caller, "preferences")?;
        let row = store::find(&self.db, user).await?;
        let person = terrace_platform::people::find(&self.db, user).await?;
        Ok(pb::GetPreferencesResponse {
            preferences: Some(to_proto(
                row.as_ref(),
                user,
                person.as_ref(),
                self.clock.now(),
            )),
        })
    }

    /// `UpdatePreferences`: the caller's own; what the mask names is replaced.
    pub async fn update(
        &self,
        caller: &Caller,
        command: UpdatePreferences,
    ) -> Result<pb::UpdatePreferencesResponse> {
        let user = crate::own_person(caller, "preferences")?;
        let now = self.clock.now();
        idempotency::once(
            &self.db,
            caller,
            &command.mutation,
            now,
            Keep::Answer,
            async |txn| {
                let mut row = store::find(txn, user)
                    .await?
                    .unwrap_or_else(|| unchanged(user, now));
                if let Some(settings) = &command.channel_settings {
                    row.channel_settings =
                        serde_json::to_value(settings).map_err(Error::internal)?;
                }
                if let Some((enabled, start, end)) = command.quiet_hours {
                    (row.quiet_enabled, row.quiet_start, row.quiet_end) = (enabled, start, end);
                }
                if let Some((enabled, minute, categories, channel)) = &command.digest {
                    row.digest_enabled = *enabled;
                    row.digest_minute = *minute;
                    row.digest_categories =
                        serde_json::to_value(categories).map_err(Error::internal)?;
                    row.digest_channel = *channel;
                }
                if let Some(zone) = &command.time_zone {
                    row.time_zone.clone_from(zone);
                }
                if let Some(locale) = &command.locale {
                    row.locale.clone_from(locale);
                }
                row.updated_at = now;
                store::save(txn, row.clone()).await?;
                let person = terrace_platform::people::find(txn, user).await?;
                Ok(pb::UpdatePreferencesResponse {
                    preferences: Some(to_proto(Some(&row), user, person.as_ref(), now)),
                })
            },
        )
        .await
    }
}

/// Preferences as the contract shows them: every pair of category and outside-or-in-app
/// channel with its value (set or default), the zone and language in force.
pub fn to_proto(
    row: Option<&PreferencesRow>,
    user: Uuid,
    person: Option<&KnownUser>,
    now: DateTime<Utc>,
) -> pb::Preferences {
    let Recipient { policy, locale } = recipient_of(row, person);
    let unchanged = unchanged(user, now);
    let row = row.unwrap_or(&unchanged);
    let categories = (1..=10).filter_map(|c| pb::NotificationCategory::try_from(c).ok());
    let channel_settings = categories
        .flat_map(|category| {
            [pb::Channel::InApp, pb::Channel::Sms, pb::Channel::Email].map(|channel| {
                pb::ChannelSetting {
                    category: category as i32,
                    channel: channel as i32,
                    enabled: policy.enabled(category, channel),
                }
            })
        })
        .collect();
    pb::Preferences {
        user_id: user.to_string(),
        channel_settings,
        quiet_hours: Some(pb::QuietHours {
            enabled: row.quiet_enabled,
            start_minute: i32::from(row.quiet_start),
            end_minute: i32::from(row.quiet_end),
        }),
        digest: Some(pb::DigestSettings {
            enabled: row.digest_enabled,
            send_minute: i32::from(row.digest_minute),
            categories: row.digest_categories(),
            channel: i32::from(row.digest_channel),
        }),
        time_zone: policy.zone.name().to_owned(),
        locale: locale.unwrap_or_else(|| crate::templates::defaults::FALLBACK_LOCALE.to_owned()),
        update_time: Some(to_timestamp(row.updated_at)),
    }
}
