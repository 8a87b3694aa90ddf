//! *Parse*: the requests about subscriptions become commands, every bad field reported at once
//! with the platform's `validate` policies.

use serde::{Deserialize, Serialize};
use terrace_platform::auth::AdminScope;
use terrace_platform::error::{Result, Violations};
use terrace_platform::idempotency::Mutation;
use terrace_platform::validate::{self, Page};
use terrace_proto::notify::v1 as pb;
use uuid::Uuid;

/// Where a page of subscriptions ends.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SubscriptionCursor {
    pub id: Uuid,
}

/// `CreateSubscription`: follow new listings of a category in an area.
#[derive(Debug)]
pub struct CreateSubscription {
    pub mutation: Mutation,
    pub category_id: String,
    pub area: AdminScope,
}

/// Whether `id` is a market category id: lower-case dotted words (`fruit.apple`).
fn category_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id.split('.').all(|word| {
            !word.is_empty()
                && word
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
}

impl CreateSubscription {
    pub fn parse(request: &pb::CreateSubscriptionRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let mutation = Mutation::parse(
            &mut violations,
            "CreateSubscription",
            &request.request_id,
            request,
        );
        let topic = request.subscription.as_ref().and_then(|s| s.topic.as_ref());
        let (category, area) = match topic {
            Some(pb::subscription::Topic::MarketCategory(topic)) => {
                let category = if category_id(&topic.category_id) {
                    Some(topic.category_id.clone())
                } else {
                    violations.add(
                        "subscription.market_category.category_id",
                        "must be a market category id such as fruit.apple",
                    );
                    None
                };
                let area = validate::admin_code(
                    &mut violations,
                    "subscription.market_category.area",
                    topic.area.as_ref(),
                );
                (category, area)
            }
            None => {
                violations.add("subscription.topic", "required: what to follow");
                (None, None)
            }
        };
        violations.finish_with(|| {
            Some(Self {
                mutation: mutation?,
                category_id: category?,
                area: area?,
            })
        })
    }
}

/// `ListSubscriptions`.
#[derive(Debug)]
pub struct ListSubscriptions {
    pub page: Page<SubscriptionCursor>,
}

impl ListSubscriptions {
    pub fn parse(request: &pb::ListSubscriptionsRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let page = validate::page(&mut violations, "page", request.page.as_ref());
        violations.finish_with(|| Some(Self { page: page? }))
    }
}

/// `DeleteSubscription`.
#[derive(Debug)]
pub struct DeleteSubscription {
    pub mutation: Mutation,
    pub id: Uuid,
}

impl DeleteSubscription {
    pub fn parse(request: &pb::DeleteSubscriptionRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let mutation = Mutation::parse(
            &mut violations,
            "DeleteSubscription",
            &request.request_id,
            request,
        );
        let id = validate::id(
            &mut violations,
            "subscription_id",
            &request.subscription_id,
            "subscription",
        );
        violations.finish_with(|| {
            Some(Self {
                mutation: mutation?,
                id: id?,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn category_ids_are_lower_case_dotted_words() {
        assert!(category_id("fruit") && category_id("fruit.apple") && category_id("tea.white_tea"));
        assert!(!category_id("") && !category_id("Fruit") && !category_id("fruit..apple"));
        assert!(!category_id("fruit.") && !category_id(&"a".repeat(65)));
    }
}
