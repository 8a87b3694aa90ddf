//! What people follow beyond their own records: `CreateSubscription`, `ListSubscriptions`,
//! `DeleteSubscription` — for now new listings of a market category (and its descendants) in an
//! area, which a buyer follows to hear of fresh produce near them (the rule is
//! [`crate::rules::listings`]). The caller's own only; at most [`MOST`] each.
//!
//! - [`parse`]: the requests as commands.
//! - [`store`]: the table.

pub mod parse;
pub mod store;

use sea_orm::DatabaseConnection;
use terrace_platform::Clock;
use terrace_platform::auth::{AdminScope, Caller};
use terrace_platform::error::{Error, Result};
use terrace_platform::idempotency::{self, Keep};
use terrace_platform::validate::{page_response, to_timestamp};
use terrace_proto::notify::v1 as pb;
use uuid::Uuid;

use self::parse::{CreateSubscription, DeleteSubscription, ListSubscriptions, SubscriptionCursor};
use self::store::Model as SubscriptionRow;

/// Subscriptions one person may hold.
pub const MOST: u64 = 50;

/// The subscriptions: the *apply* step of their RPCs.
#[derive(Debug, Clone)]
pub struct Subscriptions {
    db: DatabaseConnection,
    clock: Clock,
}

impl Subscriptions {
    pub fn new(db: DatabaseConnection, clock: Clock) -> Self {
        Self { db, clock }
    }

    /// `CreateSubscription`.
    pub async fn create(
        &self,
        caller: &Caller,
        command: CreateSubscription,
    ) -> Result<pb::CreateSubscriptionResponse> {
        let user = crate::own_person(caller, "subscriptions")?;
        let now = self.clock.now();
        idempotency::once(
            &self.db,
            caller,
            &command.mutation,
            now,
            Keep::Answer,
            async |txn| {
                if store::count(txn, user).await? >= MOST {
                    return Err(Error::ResourceExhausted {
                        reason: "TOO_MANY_SUBSCRIPTIONS",
                        message: format!("at most {MOST} subscriptions; delete one first"),
                        retry_after: None,
                    });
                }
                let row = SubscriptionRow {
                    id: Uuid::now_v7(),
                    user_id: user,
                    category_id: command.category_id.clone(),
                    area: command.area.as_str().to_owned(),
                    created_at: now,
                };
                if !store::insert(txn, row.clone()).await? {
                    return Err(Error::AlreadyExists {
                        resource: "subscription",
                        id: format!("{} in {}", row.category_id, row.area),
                    });
                }
                Ok(pb::CreateSubscriptionResponse {
                    subscription: Some(to_proto(&row)),
                })
            },
        )
        .await
    }

    /// `ListSubscriptions`: the caller's, newest first.
    pub async fn list(
        &self,
        caller: &Caller,
        query: ListSubscriptions,
    ) -> Result<pb::ListSubscriptionsResponse> {
        let user = crate::own_person(caller, "subscriptions")?;
        let rows = store::page(
            &self.db,
            user,
            query.page.after.as_ref().map(|c| c.id),
            query.page.fetch_limit(),
        )
        .await?;
        let (rows, next) = query.page.finish(rows, |rows| {
            rows.last().map(|r| SubscriptionCursor { id: r.id })
        });
        Ok(pb::ListSubscriptionsResponse {
            subscriptions: rows.iter().map(to_proto).collect(),
            page: Some(page_response(next.as_ref())),
        })
    }

    /// `DeleteSubscription`: the caller's own (another's is not found).
    pub async fn delete(
        &self,
        caller: &Caller,
        command: DeleteSubscription,
    ) -> Result<pb::DeleteSubscriptionResponse> {
        let user = crate::own_person(caller, "subscriptions")?;
        let now = self.clock.now();
        idempotency::once(
            &self.db,
            caller,
            &command.mutation,
            now,
            Keep::Answer,
            async |txn| {
                if store::delete(txn, user, command.id).await? {
                    Ok(pb::DeleteSubscriptionResponse {})
                } else {
                    Err(Error::not_found("subscription", command.id.to_string()))
                }
            },
        )
        .await
    }
}

/// A subscription as the contract shows it.
pub fn to_proto(row: &SubscriptionRow) -> pb::Subscription {
    pb::Subscription {
        id: row.id.to_string(),
        user_id: row.user_id.to_string(),
        topic: Some(pb::subscription::Topic::MarketCategory(
            pb::MarketCategoryTopic {
                category_id: row.category_id.clone(),
                area: AdminScope::parse(&row.area).ok().map(|a| a.to_proto()),
            },
        )),
        create_time: Some(to_timestamp(row.created_at)),
    }
}
