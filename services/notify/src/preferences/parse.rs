//! *Parse*: the requests about each person's delivery preferences become commands, every bad
//! field reported at once with the platform's `validate` policies.

use terrace_platform::error::{Result, Violations};
use terrace_platform::idempotency::Mutation;
use terrace_platform::validate;
use terrace_proto::notify::v1 as pb;

use super::store::Setting;

/// The fields `UpdatePreferences` may change.
pub const PATHS: [&str; 5] = [
    "channel_settings",
    "digest",
    "locale",
    "quiet_hours",
    "time_zone",
];

/// Minutes in a day: a minute of the day is below it.
const DAY: i32 = 24 * 60;

/// `UpdatePreferences`: what changes (`None`: kept).
#[derive(Debug)]
pub struct UpdatePreferences {
    pub mutation: Mutation,
    pub channel_settings: Option<Vec<Setting>>,
    /// Enabled, start, end.
    pub quiet_hours: Option<(bool, i16, i16)>,
    /// Enabled, minute, categories, channel.
    pub digest: Option<(bool, i16, Vec<i32>, i16)>,
    /// `""`: identity's.
    pub time_zone: Option<String>,
    /// `""`: identity's.
    pub locale: Option<String>,
}

fn minute(violations: &mut Violations, field: &str, value: i32) -> Option<i16> {
    if (0..DAY).contains(&value) {
        i16::try_from(value).ok()
    } else {
        violations.add(field, "must be minutes after midnight, 0 to 1439");
        None
    }
}

impl UpdatePreferences {
    pub fn parse(request: &pb::UpdatePreferencesRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let v = &mut violations;
        let mutation = Mutation::parse(v, "UpdatePreferences", &request.request_id, request);
        let paths = validate::update_mask(v, request.update_mask.clone());
        for path in &paths {
            if !PATHS.contains(&path.as_str()) {
                v.add(
                    "update_mask",
                    format!("{path} cannot be changed; one of {}", PATHS.join(", ")),
                );
            }
        }
        let changes = |path: &str| paths.iter().any(|p| p == path);
        let default = pb::Preferences::default();
        let given = request.preferences.as_ref().unwrap_or(&default);

        let channel_settings = if changes("channel_settings") {
            settings(v, &given.channel_settings).map(Some)
        } else {
            Some(None)
        };
        let quiet_hours = if changes("quiet_hours") {
            let quiet = given.quiet_hours.unwrap_or_default();
            let start = minute(
                v,
                "preferences.quiet_hours.start_minute",
                quiet.start_minute,
            );
            let end = minute(v, "preferences.quiet_hours.end_minute", quiet.end_minute);
            start
                .zip(end)
                .map(|(start, end)| Some((quiet.enabled, start, end)))
        } else {
            Some(None)
        };
        let digest = if changes("digest") {
            let digest = given.digest.clone().unwrap_or_default();
            let at = minute(v, "preferences.digest.send_minute", digest.send_minute);
            let categories = validate::enum_values::<pb::NotificationCategory>(
                v,
                "preferences.digest.categories",
                &digest.categories,
                "a category such as NOTIFICATION_CATEGORY_ORDERS",
            );
            if categories
                .as_ref()
                .is_some_and(|c| c.contains(&pb::NotificationCategory::Security))
            {
                v.add(
                    "preferences.digest.categories",
                    "security notices (codes) cannot wait for a digest",
                );
            }
            let channel = match pb::Channel::try_from(digest.channel) {
                Ok(channel @ (pb::Channel::Sms | pb::Channel::Email)) => Some(channel as i16),
                _ if !digest.enabled && digest.channel == 0 => Some(pb::Channel::Sms as i16),
                _ => {
                    v.add(
                        "preferences.digest.channel",
                        "must be CHANNEL_SMS or CHANNEL_EMAIL",
                    );
                    None
                }
            };
            match (at, categories, channel) {
                (Some(at), Some(categories), Some(channel)) => Some(Some((
                    digest.enabled,
                    at,
                    categories.into_iter().map(|c| c as i32).collect(),
                    channel,
                ))),
                _ => None,
            }
        } else {
            Some(None)
        };
        let time_zone = if changes("time_zone") && !given.time_zone.is_empty() {
            validate::time_zone(v, "preferences.time_zone", &given.time_zone).map(Some)
        } else {
            Some(changes("time_zone").then(String::new))
        };
        let locale = if changes("locale") && !given.locale.is_empty() {
            validate::locale(v, "preferences.locale", &given.locale).map(Some)
        } else {
            Some(changes("locale").then(String::new))
        };
        violations.finish_with(|| {
            Some(Self {
                mutation: mutation?,
                channel_settings: channel_settings?,
                quiet_hours: quiet_hours?,
                digest: digest?,
                time_zone: time_zone?,
                locale: locale?,
            })
        })
    }
}

/// The channel settings, whole: each pair once, security never off.
fn settings(violations: &mut Violations, given: &[pb::ChannelSetting]) -> Option<Vec<Setting>> {
    let before = violations.len();
    let mut seen: Vec<(i32, i32)> = Vec::new();
    for (index, setting) in given.iter().enumerate() {
        let field = format!("preferences.channel_settings[{index}]");
        let category: Option<pb::NotificationCategory> = validate::enum_value(
            violations,
            &format!("{field}.category"),
            setting.category,
            "a category such as NOTIFICATION_CATEGORY_ORDERS",
        );
        let channel: Option<pb::Channel> = validate::enum_value(
            violations,
            &format!("{field}.channel"),
            setting.channel,
            "a channel such as CHANNEL_SMS",
        );
        if channel == Some(pb::Channel::Webhook) {
            violations.add(
                format!("{field}.channel"),
                "webhooks are an agency's, not a person's; one of CHANNEL_IN_APP, CHANNEL_SMS, \
                 CHANNEL_EMAIL",
            );
        }
        if category == Some(pb::NotificationCategory::Security) && !setting.enabled {
            violations.add(
                format!("{field}.enabled"),
                "security notices (one-time codes) cannot be turned off",
            );
        }
        if seen.contains(&(setting.category, setting.channel)) {
            violations.add(field, "this category and channel are set twice");
        }
        seen.push((setting.category, setting.channel));
    }
    (violations.len() == before).then(|| {
        given
            .iter()
            .map(|s| Setting(s.category, s.channel, s.enabled))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use terrace_platform::i18n::{Locale, translate};

    #[test]
    fn every_refusal_of_notify_reads_in_chinese_too() {
        for text in [
            "security notices (one-time codes) cannot be turned off",
            "security notices (codes) cannot wait for a digest",
            "must be minutes after midnight, 0 to 1439",
            "must be CHANNEL_SMS or CHANNEL_EMAIL",
            "this category and channel are set twice",
            "webhooks are an agency's, not a person's; one of CHANNEL_IN_APP, CHANNEL_SMS, \
             CHANNEL_EMAIL",
            "user_id cannot be changed; one of channel_settings, digest",
            "must be a market category id such as fruit.apple",
            "required: what to follow",
            "must be after start_time",
            "at most 50 subscriptions; delete one first",
            "preferences belong to a person; sign in as one",
            "subscriptions belong to a person; sign in as one",
            "an inbox's items belong to a person; sign in as one",
            "you do not govern that area",
            "you may read your own deliveries, or those of areas you govern",
            "templates are saved and activated by platform admins",
            "the rule that sends market.order.placed supplies no phone; it supplies title, quantity",
            "the rule supplies level as VARIABLE_TYPE_INTEGER",
            "uses phone, which is not a declared variable",
            "CHANNEL_EMAIL needs a zh-CN text",
            "unused is required but no text uses it",
            "market.order.placed is at version 2 now, not 1; read it again",
            "does not fit a variable of type VARIABLE_TYPE_DATE",
            "template notices.water_cut not found",
        ] {
            assert!(
                translate(text, Locale::ZhCn).is_some(),
                "no Chinese for {text:?}"
            );
        }
    }
}
