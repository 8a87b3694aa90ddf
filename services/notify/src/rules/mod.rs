//! Rules: which events become notifications, for whom, saying what. Each domain's rules are a
//! consumer of the platform's runner (exactly once per event id, in one transaction with what
//! they write) over the events notify cares about; recipients come from notify's own
//! projections (people: names, phones, locales), never another service's database.
//!
//! - [`market`]: orders — the farmer whose listing was ordered, the buyer told of each answer
//!   (in-app, and by SMS for the answers that have a text message).
//! - [`governance`]: service requests — the villager (and followers) told of each step, an
//!   escalation and a public reply.
//! - [`officials`]: service requests for officials — a new one to the level responsible, an
//!   escalated one to the level above, an assigned one to its assignee.
//! - [`codes`]: one-time codes, texted to the phone that asked.
//! - [`listings`]: a listing going on sale, told to the buyers following its category there.
//!
//! The texts come from [`crate::templates::defaults`]; the words a text needs in the
//! recipient's language (a quantity, a price) are made here by [`words`].

pub mod codes;
pub mod governance;
pub mod listings;
pub mod market;
pub mod officials;
pub mod words;

use chrono::{DateTime, Utc};
use sea_orm::DatabaseTransaction;
use serde::Serialize;
use terrace_platform::bus::Envelope;
use terrace_platform::bus::consumer::{Consumer, ConsumerSpec, Handler, HandlerError};
use terrace_platform::service::ServiceContext;
use terrace_proto::notify::v1 as pb;
use uuid::Uuid;

use crate::deliveries::{self, NewDelivery};
use crate::preferences::policy::Plan;
use crate::templates;

/// A durable consumer `name` of `domain`'s events on `subject` (a NATS filter), handled by
/// `rules`: the frame every rule set shares.
pub fn consumer<H: Handler>(
    ctx: &ServiceContext,
    name: &str,
    domain: &str,
    subject: &str,
    rules: H,
) -> Consumer<H> {
    Consumer::new(
        ConsumerSpec {
            name: name.to_owned(),
            domain: domain.to_owned(),
            subject: Some(subject.to_owned()),
        },
        &ctx.db,
        &ctx.bus,
        &ctx.settings.consumer,
        rules,
    )
}

/// What the rules need to know of the SMS channel: the signature texts are sent under (counted
/// in their segments) and how many ordinary texts one person may get an hour.
#[derive(Debug, Clone)]
pub struct Texting {
    pub signature: String,
    pub per_hour: u32,
}

impl Texting {
    pub fn of(state: &crate::NotifyState) -> Self {
        Self {
            signature: state.sms.signature().to_owned(),
            per_hour: state.settings.delivery.texts_per_hour,
        }
    }
}

/// The text to render on an outside channel: its template, the recipient's locale, the values.
#[derive(Debug)]
pub struct Text<'a, V> {
    pub template: &'a templates::Active,
    pub locale: &'a str,
    pub vars: &'a V,
}

/// Who a text goes to: a person (whose preferences hold) or just a phone.
#[derive(Debug, Clone, Copy)]
pub struct Recipient<'a> {
    pub user: Option<Uuid>,
    /// E.164.
    pub phone: &'a str,
    /// The person's preferences; `None` for a phone of nobody notify knows (codes).
    pub preferences: Option<&'a crate::preferences::Recipient>,
}

/// What a notification is, for its delivery record.
#[derive(Debug, Clone)]
pub struct About {
    pub category: pb::NotificationCategory,
    pub critical: bool,
    /// The text holds a secret (emptied once final).
    pub secret: bool,
    pub expire_at: Option<DateTime<Utc>>,
    /// One notification, one delivery per channel: the event, the rule, the recipient.
    pub dedupe_key: String,
    /// The area it is about (a code prefix), for officials reading records; `""` for none.
    pub area: String,
}

impl About {
    /// An ordinary notification (not critical, no secret, no expiry) of `category`, about
    /// `area`, once per `dedupe_key`.
    pub fn ordinary(category: pb::NotificationCategory, dedupe_key: String, area: String) -> Self {
        Self {
            category,
            critical: false,
            secret: false,
            expire_at: None,
            dedupe_key,
            area,
        }
    }
}

/// Queues the text message of `text` to `to`, if the template has one (in the handler's
/// transaction, once per deduplication key), as the person's preferences and the hourly limit
/// plan it: now, held (quiet hours, digest) or recorded as not sent. A text that does not
/// render is a rejected event: it never will.
pub async fn queue_sms<V: Serialize>(
    txn: &DatabaseTransaction,
    texting: &Texting,
    text: Text<'_, V>,
    to: Recipient<'_>,
    about: About,
    envelope: &Envelope,
    now: DateTime<Utc>,
) -> Result<(), HandlerError> {
    if to.phone.is_empty() {
        return Ok(());
    }
    let Some(rendered) = text
        .template
        .render(pb::Channel::Sms, text.locale, text.vars)?
    else {
        return Ok(());
    };
    let signature = if rendered.text.signature.is_empty() {
        texting.signature.clone()
    } else {
        rendered.text.signature.clone()
    };
    let segments =
        crate::sms::segments::count(&crate::sms::signed(&signature, &rendered.text.body));
    let mut plan = to.preferences.map_or(Plan::Send, |person| {
        person
            .policy
            .plan(about.category, pb::Channel::Sms, about.critical, now)
    });
    if let (Some(user), false, Plan::Send | Plan::Defer { .. }) = (to.user, about.critical, plan) {
        let hour_ago = now - chrono::Duration::hours(1);
        let sent =
            crate::preferences::store::recent_sends(txn, user, pb::Channel::Sms as i16, hour_ago)
                .await?;
        if sent >= i64::from(texting.per_hour) {
            plan = Plan::Suppress("rate limit: too many texts to this person in the last hour");
        }
    }
    let outside = Outside {
        channel: pb::Channel::Sms,
        user: to.user,
        address: to.phone,
        signature,
        sms_segments: i32::try_from(segments.count).unwrap_or(i32::MAX),
    };
    queue(txn, &text, rendered, outside, about, plan, envelope, now).await
}

/// Queues the e-mail of `text` to `user` at `address`, if the template has an e-mail text, as
/// the person's preferences plan it (e-mail is off until they turn it on).
pub async fn queue_email<V: Serialize>(
    txn: &DatabaseTransaction,
    text: Text<'_, V>,
    user: Uuid,
    address: &str,
    preferences: &crate::preferences::Recipient,
    about: About,
    envelope: &Envelope,
    now: DateTime<Utc>,
) -> Result<(), HandlerError> {
    let Some(rendered) = text
        .template
        .render(pb::Channel::Email, text.locale, text.vars)?
    else {
        return Ok(());
    };
    let plan = preferences
        .policy
        .plan(about.category, pb::Channel::Email, about.critical, now);
    let outside = Outside {
        channel: pb::Channel::Email,
        user: Some(user),
        address,
        signature: String::new(),
        sms_segments: 0,
    };
    queue(txn, &text, rendered, outside, about, plan, envelope, now).await
}

/// Tells `user` of `text` on the outside channels they can be reached on: by SMS at the phone
/// in notify's people projection, by e-mail at the address notify keeps — each as their
/// preferences plan it.
#[allow(clippy::too_many_arguments)] // One notification's parts; a struct would only rename them.
pub async fn tell_outside<V: Serialize>(
    txn: &DatabaseTransaction,
    texting: &Texting,
    text: Text<'_, V>,
    user: Uuid,
    person: Option<&terrace_platform::people::KnownUser>,
    preferences: &crate::preferences::Recipient,
    about: About,
    envelope: &Envelope,
    now: DateTime<Utc>,
) -> Result<(), HandlerError> {
    if let Some(person) = person {
        let again = Text {
            template: text.template,
            locale: text.locale,
            vars: text.vars,
        };
        let to = Recipient {
            user: Some(user),
            phone: &person.phone_number,
            preferences: Some(preferences),
        };
        queue_sms(txn, texting, again, to, about.clone(), envelope, now).await?;
    }
    let address = crate::contacts::email_of(txn, user)
        .await
        .map_err(|error| HandlerError::Retry(anyhow::anyhow!(error)))?;
    if let Some(address) = address {
        queue_email(txn, text, user, &address, preferences, about, envelope, now).await?;
    }
    Ok(())
}

/// Where an outside delivery goes.
struct Outside<'a> {
    channel: pb::Channel,
    user: Option<Uuid>,
    address: &'a str,
    signature: String,
    sms_segments: i32,
}

/// Writes the delivery of `rendered` on `outside`'s channel as `plan` says.
#[allow(clippy::too_many_arguments)] // Private: the one place both channels queue through.
async fn queue<V: Serialize>(
    txn: &DatabaseTransaction,
    text: &Text<'_, V>,
    rendered: templates::RenderedText,
    outside: Outside<'_>,
    about: About,
    plan: Plan,
    envelope: &Envelope,
    now: DateTime<Utc>,
) -> Result<(), HandlerError> {
    let params = serde_json::to_value(text.vars)
        .map_err(|error| HandlerError::Reject(anyhow::anyhow!("{}: {error}", text.template.key)))?;
    deliveries::queue(
        txn,
        NewDelivery {
            recipient: outside.user,
            address: outside.address.to_owned(),
            channel: outside.channel,
            category: about.category,
            critical: about.critical,
            template_key: text.template.key.to_owned(),
            template_version: rendered.version,
            template_code: rendered.text.provider_template_id,
            signature: outside.signature,
            locale: rendered.text.locale,
            subject: rendered.text.subject,
            body: rendered.text.body,
            params,
            secret: about.secret,
            expire_at: about.expire_at,
            sms_segments: outside.sms_segments,
            dedupe_key: about.dedupe_key,
            source_event_id: envelope.id.to_string(),
            source_event_type: envelope.event_type.clone(),
            area: about.area,
        },
        plan,
        now,
    )
    .await
    .map(|_| ())
    .map_err(|error| HandlerError::Retry(anyhow::anyhow!(error)))
}

/// The in-app text of `template` in `locale` (or its fallback) with `vars`.
pub fn in_app_text<V: Serialize>(
    template: &templates::Active,
    locale: &str,
    vars: &V,
) -> Result<templates::RenderedText, HandlerError> {
    template
        .render(pb::Channel::InApp, locale, vars)?
        .ok_or_else(|| HandlerError::Reject(anyhow::anyhow!("{} has no in-app text", template.key)))
}

/// The preferences of `user` (known to notify as `person`, if at all), for a rule: a database
/// error is retried.
pub async fn preferences_of(
    txn: &DatabaseTransaction,
    user: Uuid,
    person: Option<&terrace_platform::people::KnownUser>,
) -> Result<crate::preferences::Recipient, HandlerError> {
    crate::preferences::recipient(txn, user, person)
        .await
        .map_err(|error| HandlerError::Retry(anyhow::anyhow!(error)))
}

/// Writes `item` into its recipient's inbox (in the handler's transaction, once per
/// deduplication key) unless their preferences turned its category off in the app.
pub async fn write_item(
    txn: &DatabaseTransaction,
    preferences: &crate::preferences::Recipient,
    item: crate::inbox::NewItem,
    now: DateTime<Utc>,
) -> Result<(), HandlerError> {
    if preferences
        .policy
        .plan(item.category, pb::Channel::InApp, item.critical, now)
        != Plan::Send
    {
        return Ok(());
    }
    crate::inbox::Inbox::deliver(txn, item, now)
        .await
        .map(|_| ())
        .map_err(|error| HandlerError::Retry(anyhow::anyhow!(error)))
}
