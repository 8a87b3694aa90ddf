//! Deliveries on the channels that leave the platform (SMS now; e-mail and webhooks as they
//! land): queued by the rules in the transaction of the event that caused them (once per
//! channel and deduplication key), sent by every replica's [`dispatch::Dispatcher`] with
//! retries, confirmed by receipts, and readable as records with their status history
//! (`ListDeliveries`, `GetDelivery`).
//!
//! Who reads which record: a person their own (a helper the villager's); an official those
//! about places they govern (the area of the order or request that caused it; a one-time code is
//! about no place, so only its recipient and the operator read it); the operator everything.
//! Agencies read their webhooks' deliveries once webhooks land; until then they read none.
//!
//! - [`parse`]: the requests as commands.
//! - [`store`]: the tables and their SQL.
//! - [`dispatch`]: the sender loop of each replica.

pub mod dispatch;
pub mod parse;
pub mod store;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use terrace_platform::auth::Caller;
use terrace_platform::error::{Error, Result};
use terrace_platform::validate::{page_response, to_timestamp};
use terrace_proto::notify::v1 as pb;
use uuid::Uuid;

use self::parse::{DeliveryCursor, GetDelivery, ListDeliveries};
use self::store::{Change, Filter, Status};
use crate::preferences::policy::Plan;

pub use self::store::Model as DeliveryRow;

/// Officials of at least this rank (village officials up) read the records of their areas.
const OFFICIAL_RANK: u8 = 1;

/// A notification to send on an outside channel, as a rule makes it.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub recipient: Option<Uuid>,
    pub address: String,
    pub channel: pb::Channel,
    pub category: pb::NotificationCategory,
    /// Bypasses quiet hours and digests.
    pub critical: bool,
    pub template_key: String,
    pub template_version: i32,
    /// The provider's approved template id (SMS).
    pub template_code: String,
    /// The SMS signature the template names; empty: the deployment's.
    pub signature: String,
    pub locale: String,
    pub subject: String,
    pub body: String,
    pub params: serde_json::Value,
    /// The text holds a secret (a one-time code): emptied once the delivery is final.
    pub secret: bool,
    /// Not worth sending after this (a code's expiry).
    pub expire_at: Option<DateTime<Utc>>,
    /// SMS segments of the text as sent (signature included); 0 for other channels.
    pub sms_segments: i32,
    /// One notification, one delivery per channel: the event, the rule, the recipient.
    pub dedupe_key: String,
    pub source_event_id: String,
    pub source_event_type: String,
    /// The area the notification is about (a code prefix); `""` for none.
    pub area: String,
}

/// Queues `delivery` in `conn` (the handler's transaction) unless it was queued before; `true`
/// when queued now: due at once, held until the plan says (DEFERRED), or recorded as not sent
/// (SUPPRESSED, with the reason in its history).
pub async fn queue<C: ConnectionTrait>(
    conn: &C,
    delivery: NewDelivery,
    plan: Plan,
    now: DateTime<Utc>,
) -> Result<bool> {
    let (status, next_attempt_at, digest, detail) = match plan {
        Plan::Send => (Status::Queued, now, false, ""),
        Plan::Defer { until, digest } => (
            Status::Deferred,
            until,
            digest,
            if digest {
                "held for the daily digest"
            } else {
                "held for quiet hours"
            },
        ),
        Plan::Suppress(why) => (Status::Suppressed, now, false, why),
    };
    let row = DeliveryRow {
        id: Uuid::now_v7(),
        recipient_user_id: delivery.recipient,
        address: delivery.address,
        channel: delivery.channel as i16,
        category: delivery.category as i16,
        critical: delivery.critical,
        template_key: delivery.template_key,
        template_version: delivery.template_version,
        template_code: delivery.template_code,
        signature: delivery.signature,
        locale: delivery.locale,
        subject: delivery.subject,
        body: delivery.body,
        params: delivery.params,
        secret: delivery.secret,
        status,
        attempts: 0,
        next_attempt_at,
        digest,
        lease_until: None,
        expire_at: delivery.expire_at,
        last_error: String::new(),
        provider_message_id: String::new(),
        sms_segments: delivery.sms_segments,
        dedupe_key: delivery.dedupe_key,
        source_event_id: delivery.source_event_id,
        source_event_type: delivery.source_event_type,
        area: delivery.area,
        broadcast_id: None,
        webhook_endpoint_id: None,
        created_at: now,
        updated_at: now,
    };
    Ok(store::insert(conn, row, detail).await?)
}

/// The delivery records: the *apply* step of their RPCs.
#[derive(Debug, Clone)]
pub struct Deliveries {
    db: DatabaseConnection,
}

impl Deliveries {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// `ListDeliveries`, limited to what the caller may read.
    pub async fn list(
        &self,
        caller: &Caller,
        query: ListDeliveries,
    ) -> Result<pb::ListDeliveriesResponse> {
        let mut filter = Filter {
            recipient: query.recipient,
            areas: None,
            source_event_id: query.source_event_id,
            broadcast_id: query.broadcast_id,
            webhook_endpoint_id: query.webhook_endpoint_id,
            channels: query.channels,
            statuses: query.statuses,
            created_from: query.created_from,
            created_until: query.created_until,
        };
        let own = caller.subject_user();
        let governed = caller.governed_areas(OFFICIAL_RANK, None);
        match (&query.area, query.recipient) {
            // One's own records, anywhere.
            (None, Some(recipient)) if Some(recipient) == own => {}
            (Some(area), _) => {
                if !caller.covers(area, OFFICIAL_RANK, None) {
                    return Err(Error::permission_denied(
                        "AREA_OUTSIDE_SCOPE",
                        "you do not govern that area",
                    ));
                }
                filter.areas = Some(vec![area.as_str().to_owned()]);
            }
            (None, _) if !governed.is_empty() => {
                filter.areas = Some(governed.iter().map(|a| a.as_str().to_owned()).collect());
            }
            (None, None) if own.is_some() => filter.recipient = own,
            _ => {
                return Err(Error::permission_denied(
                    "NOT_YOUR_DELIVERIES",
                    "you may read your own deliveries, or those of areas you govern",
                ));
            }
        }
        let rows = store::page(
            &self.db,
            &filter,
            query.page.after.as_ref().map(|cursor| cursor.id),
            query.page.fetch_limit(),
        )
        .await?;
        let (rows, next) = query.page.finish(rows, |rows| {
            rows.last().map(|row| DeliveryCursor { id: row.id })
        });
        let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
        let mut histories = by_delivery(store::histories(&self.db, &ids).await?);
        Ok(pb::ListDeliveriesResponse {
            deliveries: rows
                .iter()
                .map(|row| to_proto(row, histories.remove(&row.id).unwrap_or_default()))
                .collect(),
            page: Some(page_response(next.as_ref())),
        })
    }

    /// `GetDelivery`: NOT_FOUND also for a record the caller may not read (its existence is
    /// not told).
    pub async fn get(
        &self,
        caller: &Caller,
        query: GetDelivery,
    ) -> Result<pb::GetDeliveryResponse> {
        let not_found = || Error::not_found("delivery", query.id.to_string());
        let row = store::find(&self.db, query.id)
            .await?
            .ok_or_else(not_found)?;
        if !may_read(caller, &row) {
            return Err(not_found());
        }
        let history = store::histories(&self.db, &[row.id]).await?;
        Ok(pb::GetDeliveryResponse {
            delivery: Some(to_proto(&row, history)),
        })
    }
}

/// Whether `caller` may read `row`: its recipient, or an official of the place it is about.
fn may_read(caller: &Caller, row: &DeliveryRow) -> bool {
    if row.recipient_user_id.is_some() && row.recipient_user_id == caller.subject_user() {
        return true;
    }
    caller
        .governed_areas(OFFICIAL_RANK, None)
        .iter()
        .any(|area| area.as_str().is_empty() || (!row.area.is_empty() && area.covers(&row.area)))
}

fn by_delivery(changes: Vec<Change>) -> HashMap<Uuid, Vec<Change>> {
    let mut by: HashMap<Uuid, Vec<Change>> = HashMap::new();
    for change in changes {
        by.entry(change.delivery_id).or_default().push(change);
    }
    by
}

/// An address as records show it: a phone's middle digits, a mailbox's name, a URL's path
/// hidden.
pub fn masked(address: &str, channel: i16) -> String {
    match i32::from(channel) {
        c if c == pb::Channel::Sms as i32 => {
            let chars: Vec<char> = address.chars().collect();
            if chars.len() <= 8 {
                return "*".repeat(chars.len());
            }
            let head: String = chars[..6].iter().collect();
            let tail: String = chars[chars.len() - 4..].iter().collect();
            format!("{head}****{tail}")
        }
        c if c == pb::Channel::Email as i32 => match address.split_once('@') {
            Some((name, domain)) => {
                let first: String = name.chars().take(1).collect();
                format!("{first}***@{domain}")
            }
            None => "***".to_owned(),
        },
        _ => reqwest::Url::parse(address)
            .ok()
            .and_then(|url| url.host_str().map(str::to_owned))
            .unwrap_or_else(|| "***".to_owned()),
    }
}

/// A record as the contract shows it.
pub fn to_proto(row: &DeliveryRow, history: Vec<Change>) -> pb::Delivery {
    pb::Delivery {
        id: row.id.to_string(),
        recipient_user_id: row
            .recipient_user_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        webhook_endpoint_id: row
            .webhook_endpoint_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        address_masked: masked(&row.address, row.channel),
        channel: i32::from(row.channel),
        category: i32::from(row.category),
        template_key: row.template_key.clone(),
        template_version: row.template_version,
        locale: row.locale.clone(),
        status: i32::from(row.status.code()),
        attempt_count: row.attempts,
        next_attempt_time: matches!(row.status, Status::Queued | Status::Deferred)
            .then(|| to_timestamp(row.next_attempt_at)),
        last_error: row.last_error.clone(),
        provider_message_id: row.provider_message_id.clone(),
        sms_segments: row.sms_segments,
        dedupe_key: row.dedupe_key.clone(),
        source_event_id: row.source_event_id.clone(),
        source_event_type: row.source_event_type.clone(),
        broadcast_id: row
            .broadcast_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        history: history
            .into_iter()
            .map(|change| pb::DeliveryStatusChange {
                status: i32::from(change.status.code()),
                time: Some(to_timestamp(change.at)),
                detail: change.detail,
            })
            .collect(),
        create_time: Some(to_timestamp(row.created_at)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_shown_masked() {
        assert_eq!(
            masked("+8613800138000", pb::Channel::Sms as i16),
            "+86138****8000"
        );
        assert_eq!(
            masked("zhang.wei@example.com", pb::Channel::Email as i16),
            "z***@example.com"
        );
        assert_eq!(
            masked(
                "https://agency.example.gov.cn/hooks/terrace?k=1",
                pb::Channel::Webhook as i16
            ),
            "agency.example.gov.cn"
        );
    }
}
