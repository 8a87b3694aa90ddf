//! The officials' side of service requests: who must act is told. Run by the request consumer
//! (`notify-governance-requests`) beside the villager's notifications, in the same transaction.
//!
//! | event | who | text |
//! | --- | --- | --- |
//! | filed | the officials of the level responsible (the village's for a village) | `governance.request.created.officials` |
//! | escalated | the officials of the level it went up to | `governance.request.escalated.officials` |
//! | assigned | the official it was assigned to | `governance.request.assigned.officials` |
//!
//! The officials of a level are those holding that level's role (village official, township
//! official, county admin) over the responsible area, from notify's projection of identity's
//! grants (`terrace_platform::officials`, consumer `notify-officials`); never whoever acted.

use chrono::{DateTime, Utc};
use sea_orm::DatabaseTransaction;
use serde::Serialize;
use terrace_platform::auth::{AdminLevel, AdminScope, Role};
use terrace_platform::bus::Envelope;
use terrace_platform::bus::consumer::HandlerError;
use terrace_proto::governance::v1 as governance;
use terrace_proto::notify::v1 as pb;
use uuid::Uuid;

use crate::inbox::NewItem;
use crate::templates::defaults;

/// The durable consumer keeping notify's projection of identity's grants.
pub const GRANTS_CONSUMER: &str = "notify-officials";

/// The characters of a request's description a text quotes.
const SUMMARY_CHARS: usize = 60;

/// What an event asks of officials: the text, the request, and who is told.
#[derive(Debug)]
struct ForOfficials {
    key: &'static str,
    request: governance::ServiceRequest,
    told: Told,
    actor_user_id: String,
}

#[derive(Debug)]
enum Told {
    /// The officials of the responsible level.
    Responsible,
    /// One official.
    Assignee(Uuid),
}

/// The event of `envelope`, if officials are told of it.
fn read(envelope: &Envelope) -> anyhow::Result<Option<ForOfficials>> {
    let kind = envelope.subject.rsplit('.').next().unwrap_or_default();
    Ok(match kind {
        "created" => {
            let created = envelope.decode::<governance::ServiceRequestCreated>()?;
            created.service_request.map(|request| ForOfficials {
                key: "governance.request.created.officials",
                request,
                told: Told::Responsible,
                actor_user_id: created.actor.map(|a| a.user_id).unwrap_or_default(),
            })
        }
        "escalated" => {
            let escalated = envelope.decode::<governance::ServiceRequestEscalated>()?;
            escalated.service_request.map(|request| ForOfficials {
                key: "governance.request.escalated.officials",
                request,
                told: Told::Responsible,
                actor_user_id: escalated.actor.map(|a| a.user_id).unwrap_or_default(),
            })
        }
        "assigned" => {
            let assigned = envelope.decode::<governance::ServiceRequestAssigned>()?;
            let assignee = assigned
                .service_request
                .as_ref()
                .and_then(|r| Uuid::parse_str(&r.assignee_user_id).ok());
            match (assigned.service_request, assignee) {
                (Some(request), Some(assignee)) => Some(ForOfficials {
                    key: "governance.request.assigned.officials",
                    request,
                    told: Told::Assignee(assignee),
                    actor_user_id: assigned.actor.map(|a| a.user_id).unwrap_or_default(),
                }),
                _ => None,
            }
        }
        _ => None,
    })
}

/// The role that handles requests at `area`'s level: a village's officials, a township's, a
/// county's admins; `None` above a county (nobody is told).
pub fn role_at(area: &AdminScope) -> Option<Role> {
    match area.level() {
        AdminLevel::Village => Some(Role::VillageOfficial),
        AdminLevel::Township => Some(Role::TownshipOfficial),
        AdminLevel::County => Some(Role::CountyAdmin),
        _ => None,
    }
}

/// The variables of the officials' texts.
#[derive(Debug, Serialize)]
struct Vars {
    reference: String,
    summary: String,
    level: i32,
}

/// The first [`SUMMARY_CHARS`] characters of `description`, on one line.
fn summary(description: &str) -> String {
    let line: String = description.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() > SUMMARY_CHARS {
        line.chars().take(SUMMARY_CHARS).chain(['…']).collect()
    } else {
        line
    }
}

/// Tells the officials `envelope` concerns, in the handler's transaction.
pub async fn tell(
    txn: &DatabaseTransaction,
    texting: &super::Texting,
    envelope: &Envelope,
    now: DateTime<Utc>,
) -> Result<(), HandlerError> {
    let Some(event) = read(envelope).map_err(HandlerError::Reject)? else {
        return Ok(());
    };
    let request = &event.request;
    let mut told: Vec<Uuid> = match event.told {
        Told::Assignee(assignee) => vec![assignee],
        Told::Responsible => {
            let Some(area) = request
                .responsible_area
                .as_ref()
                .and_then(|a| AdminScope::from_proto(a).ok())
            else {
                return Ok(());
            };
            let Some(role) = role_at(&area) else {
                return Ok(());
            };
            terrace_platform::officials::officials_of(txn, &area, now)
                .await
                .map_err(|error| HandlerError::Retry(error.into()))?
                .into_iter()
                .filter(|official| official.role == role)
                .map(|official| official.user_id)
                .collect()
        }
    };
    told.retain(|id| id.to_string() != event.actor_user_id);
    told.sort();
    told.dedup();
    let people = terrace_platform::people::find_many(txn, &told)
        .await
        .map_err(|error| HandlerError::Retry(error.into()))?;
    let template = crate::templates::active(txn, event.key).await?;
    for official in told {
        let preferences = super::preferences_of(txn, official, people.get(&official)).await?;
        let locale = preferences
            .locale
            .as_deref()
            .unwrap_or(defaults::FALLBACK_LOCALE);
        let vars = Vars {
            reference: request.reference.clone(),
            summary: summary(&request.description),
            level: request.escalation_level,
        };
        let text = super::in_app_text(&template, locale, &vars)?.text;
        let dedup_key = format!("{}:{}:{official}", envelope.id, event.key);
        let item = NewItem {
            user_id: official,
            category: pb::NotificationCategory::ServiceRequests,
            title: text.subject,
            body: text.body,
            link: format!("terrace://console/governance/requests/{}", request.id),
            critical: false,
            source_id: envelope.id.to_string(),
            dedup_key: dedup_key.clone(),
        };
        super::write_item(txn, &preferences, item, now).await?;
        super::tell_outside(
            txn,
            texting,
            super::Text {
                template: &template,
                locale,
                vars: &vars,
            },
            official,
            people.get(&official),
            &preferences,
            super::About::ordinary(
                pb::NotificationCategory::ServiceRequests,
                dedup_key,
                request.village_code.clone(),
            ),
            envelope,
            now,
        )
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_level_has_its_role_and_nothing_above_a_county() {
        let at = |code: &str| role_at(&AdminScope::parse(code).unwrap());
        assert_eq!(at("330523108204"), Some(Role::VillageOfficial));
        assert_eq!(at("330523108"), Some(Role::TownshipOfficial));
        assert_eq!(at("330523"), Some(Role::CountyAdmin));
        assert_eq!(at("3305"), None);
    }

    #[test]
    fn every_officials_text_renders_in_both_languages() {
        let vars = Vars {
            reference: "R-20270301-0001".to_owned(),
            summary: "村口水井坏了".to_owned(),
            level: 1,
        };
        let keys = defaults::TEXTS
            .iter()
            .filter(|t| t.key.ends_with(".officials"));
        assert_eq!(keys.clone().count(), 6);
        for text in keys {
            let rendered = defaults::built_in_of(text.key)
                .and_then(|b| b.render(pb::Channel::InApp, text.locale, &vars))
                .unwrap_or_else(|| panic!("{} has no in-app text", text.key))
                .unwrap_or_else(|error| panic!("{} {}: {error}", text.key, text.locale));
            assert!(rendered.body.contains("村口水井坏了"), "{}", rendered.body);
        }
    }

    #[test]
    fn a_summary_is_one_short_line() {
        assert_eq!(summary("村口  水井\n坏了"), "村口 水井 坏了");
        let long = "井".repeat(80);
        assert_eq!(summary(&long).chars().count(), SUMMARY_CHARS + 1);
    }
}
