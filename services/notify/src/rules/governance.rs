//! Governance's service-request events become notifications for the villager who filed the
//! request and for those following it (the requesters of duplicates merged into it). The
//! consumer `notify-governance-requests` follows `governance.request.>`.
//!
//! | event | text |
//! | --- | --- |
//! | status changed (by someone else than the villager) | `governance.request.status_changed` |
//! | escalated | `governance.request.escalated` |
//! | public note added | `governance.request.note_added` |
//!
//! The officials who must act are told too ([`super::officials`]). A villager's own step
//! (reopening, say) tells nobody. A walk-in or phone caller an official
//! filed for, who has no account, is told by text at the phone they left (`contact_phone`).

use sea_orm::DatabaseTransaction;
use serde::Serialize;
use terrace_platform::Clock;
use terrace_platform::bus::Envelope;
use terrace_platform::bus::consumer::{Consumer, Handler, HandlerError};
use terrace_platform::service::ServiceContext;
use terrace_proto::governance::v1 as governance;
use terrace_proto::notify::v1 as pb;
use uuid::Uuid;

use crate::inbox::NewItem;
use crate::templates::defaults;

/// The durable consumer's name.
pub const CONSUMER: &str = "notify-governance-requests";

/// The consumer of governance's service-request events, to be run by the service.
pub fn consumer(ctx: &ServiceContext, texting: &super::Texting) -> Consumer<RequestRules> {
    super::consumer(
        ctx,
        CONSUMER,
        "governance",
        "governance.request.>",
        RequestRules::new(ctx.clock.clone(), texting.clone()),
    )
}

/// Turns each request event into its notifications.
#[derive(Debug)]
pub struct RequestRules {
    clock: Clock,
    texting: super::Texting,
}

impl RequestRules {
    pub fn new(clock: Clock, texting: super::Texting) -> Self {
        Self { clock, texting }
    }
}

/// What a request event says, for the texts.
#[derive(Debug)]
pub struct RequestEvent {
    pub key: &'static str,
    pub request: governance::ServiceRequest,
    /// The public note of the step, if any.
    pub note: String,
    /// Who acted (to leave out a villager's own step).
    pub actor_user_id: String,
}

/// The event of `envelope`, if it is one these rules tell anyone of.
pub fn read(envelope: &Envelope) -> anyhow::Result<Option<RequestEvent>> {
    let kind = envelope.subject.rsplit('.').next().unwrap_or_default();
    let event = match kind {
        "status_changed" => {
            let changed = envelope.decode::<governance::ServiceRequestStatusChanged>()?;
            changed.service_request.map(|request| RequestEvent {
                key: "governance.request.status_changed",
                request,
                note: changed.entry.map(|entry| entry.note).unwrap_or_default(),
                actor_user_id: changed.actor.map(|actor| actor.user_id).unwrap_or_default(),
            })
        }
        "escalated" => {
            let escalated = envelope.decode::<governance::ServiceRequestEscalated>()?;
            escalated.service_request.map(|request| RequestEvent {
                key: "governance.request.escalated",
                request,
                note: String::new(),
                actor_user_id: escalated
                    .actor
                    .map(|actor| actor.user_id)
                    .unwrap_or_default(),
            })
        }
        "note_added" => {
            let added = envelope.decode::<governance::ServiceRequestNoteAdded>()?;
            added.service_request.map(|request| RequestEvent {
                key: "governance.request.note_added",
                note: added
                    .entry
                    .as_ref()
                    .map(|entry| entry.note.clone())
                    .unwrap_or_default(),
                actor_user_id: added
                    .entry
                    .and_then(|entry| entry.actor)
                    .map(|actor| actor.user_id)
                    .unwrap_or_default(),
                request,
            })
        }
        _ => None,
    };
    Ok(event)
}

/// Who is told: the requester and the followers with an account, but not whoever acted.
pub fn recipients(event: &RequestEvent) -> Vec<Uuid> {
    let mut people: Vec<Uuid> = std::iter::once(event.request.requester_user_id.as_str())
        .chain(event.request.followers.iter().map(|f| f.user_id.as_str()))
        .filter(|id| !id.is_empty() && *id != event.actor_user_id)
        .filter_map(|id| Uuid::parse_str(id).ok())
        .collect();
    people.sort();
    people.dedup();
    people
}

/// The variables of every request text.
#[derive(Debug, Serialize)]
struct Vars {
    reference: String,
    status: &'static str,
    note: String,
    level: i32,
}

/// A status in the reader's words.
fn status_word(status: i32, locale: &str) -> &'static str {
    use governance::ServiceRequestStatus as S;
    let (zh, en) = match S::try_from(status).unwrap_or(S::Unspecified) {
        S::Submitted => ("已提交", "submitted"),
        S::Acknowledged => ("已受理", "acknowledged"),
        S::InProgress => ("正在办理", "in progress"),
        S::Resolved => ("已办结", "resolved"),
        S::Closed => ("已关闭", "closed"),
        S::Rejected => ("不予受理", "rejected"),
        S::Reopened => ("已重新打开", "reopened"),
        S::Merged => ("已合并", "merged"),
        S::Unspecified => ("有变化", "changed"),
    };
    if locale.starts_with("zh") { zh } else { en }
}

impl Handler for RequestRules {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        envelope: &Envelope,
    ) -> Result<(), HandlerError> {
        let now = self.clock.now();
        super::officials::tell(txn, &self.texting, envelope, now).await?;
        let Some(event) = read(envelope).map_err(HandlerError::Reject)? else {
            return Ok(());
        };
        let told = recipients(&event);
        let people = terrace_platform::people::find_many(txn, &told)
            .await
            .map_err(|error| HandlerError::Retry(error.into()))?;
        let template = crate::templates::active(txn, event.key).await?;
        for recipient in told {
            // In the recipient's language (their choice, else identity's; zh-CN for someone
            // notify does not know yet), unless they turned these items off.
            let preferences = super::preferences_of(txn, recipient, people.get(&recipient)).await?;
            let locale = preferences
                .locale
                .as_deref()
                .unwrap_or(defaults::FALLBACK_LOCALE);
            let vars = Vars {
                reference: event.request.reference.clone(),
                status: status_word(event.request.status, locale),
                note: event.note.clone(),
                level: event.request.escalation_level,
            };
            let text = super::in_app_text(&template, locale, &vars)?.text;
            let item = NewItem {
                user_id: recipient,
                category: pb::NotificationCategory::ServiceRequests,
                title: text.subject,
                body: text.body,
                link: format!("terrace://requests/{}", event.request.id),
                critical: false,
                source_id: envelope.id.to_string(),
                dedup_key: format!("{}:{}:{recipient}", envelope.id, event.key),
            };
            super::write_item(txn, &preferences, item, now).await?;
            // By text and e-mail too, where the person turned them on for requests (texts are
            // off for requests by default) and the template has such a text.
            super::tell_outside(
                txn,
                &self.texting,
                super::Text {
                    template: &template,
                    locale,
                    vars: &vars,
                },
                recipient,
                people.get(&recipient),
                &preferences,
                super::About::ordinary(
                    pb::NotificationCategory::ServiceRequests,
                    format!("{}:{}:{recipient}", envelope.id, event.key),
                    event.request.village_code.clone(),
                ),
                envelope,
                now,
            )
            .await?;
        }
        // A caller without an account hears by text, at the phone they left, in Chinese.
        let request = &event.request;
        if request.requester_user_id.is_empty() && !request.contact_phone.is_empty() {
            let locale = defaults::FALLBACK_LOCALE;
            let vars = Vars {
                reference: request.reference.clone(),
                status: status_word(request.status, locale),
                note: event.note.clone(),
                level: request.escalation_level,
            };
            super::queue_sms(
                txn,
                &self.texting,
                super::Text {
                    template: &template,
                    locale,
                    vars: &vars,
                },
                super::Recipient {
                    user: None,
                    phone: &request.contact_phone,
                    preferences: None,
                },
                super::About::ordinary(
                    pb::NotificationCategory::ServiceRequests,
                    format!("{}:{}:{}", envelope.id, event.key, request.contact_phone),
                    request.village_code.clone(),
                ),
                envelope,
                now,
            )
            .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(actor: &str) -> RequestEvent {
        RequestEvent {
            key: "governance.request.status_changed",
            request: governance::ServiceRequest {
                requester_user_id: "01900000-0000-7000-8000-000000000001".to_owned(),
                followers: vec![
                    governance::RequestFollower {
                        user_id: "01900000-0000-7000-8000-000000000002".to_owned(),
                        ..Default::default()
                    },
                    // No account: SMS, later.
                    governance::RequestFollower::default(),
                ],
                ..Default::default()
            },
            note: String::new(),
            actor_user_id: actor.to_owned(),
        }
    }

    #[test]
    fn the_requester_and_followers_are_told_but_not_whoever_acted() {
        assert_eq!(recipients(&event("official")).len(), 2);
        let own = recipients(&event("01900000-0000-7000-8000-000000000001"));
        assert_eq!(
            own.len(),
            1,
            "the requester's own step tells only the follower"
        );
    }

    #[test]
    fn every_request_text_renders_in_both_languages() {
        for text in defaults::TEXTS
            .iter()
            .filter(|t| t.key.starts_with("governance.request.") && !t.key.ends_with(".officials"))
        {
            let vars = Vars {
                reference: "R-20270301-0001".to_owned(),
                status: status_word(4, text.locale),
                note: "井已经修好".to_owned(),
                level: 1,
            };
            let rendered = defaults::built_in_of(text.key)
                .and_then(|b| b.render(pb::Channel::InApp, text.locale, &vars))
                .unwrap_or_else(|| panic!("{} has no in-app text", text.key))
                .unwrap_or_else(|error| panic!("{} {}: {error}", text.key, text.locale));
            assert!(!rendered.body.contains("{{"));
        }
    }
}
