//! The inbox's requests as commands: every field judged, every problem named.

use serde::{Deserialize, Serialize};
use terrace_platform::error::{Result, Violations};
use terrace_platform::idempotency::Mutation;
use terrace_platform::validate::{self, Page};
use terrace_proto::notify::v1 as pb;
use uuid::Uuid;

use super::store::{Filter, Marked};

/// At most this many ids in one `MarkRead`.
pub const MARK_AT_MOST: usize = 500;

/// Where a page of the inbox ends: the last item's id (ids are UUIDv7, newest first).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InboxCursor {
    pub id: Uuid,
}

/// `ListInbox`.
#[derive(Debug)]
pub struct ListInbox {
    pub filter: Filter,
    pub page: Page<InboxCursor>,
}

impl ListInbox {
    pub fn parse(request: &pb::ListInboxRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let categories = categories(&mut violations, &request.categories);
        let page = validate::page(&mut violations, "page", request.page.as_ref());
        violations.finish_with(|| {
            Some(Self {
                filter: Filter {
                    unread_only: request.unread_only,
                    categories: categories?,
                },
                page: page?,
            })
        })
    }
}

/// Categories as stored; `None` when one is not a category.
fn categories(violations: &mut Violations, values: &[i32]) -> Option<Vec<i16>> {
    let categories: Vec<pb::NotificationCategory> = validate::enum_values(
        violations,
        "categories",
        values,
        "a category such as NOTIFICATION_CATEGORY_ORDERS",
    )?;
    Some(
        categories
            .into_iter()
            .filter_map(|category| i16::try_from(category as i32).ok())
            .collect(),
    )
}

/// `MarkRead`.
#[derive(Debug)]
pub struct MarkRead {
    pub mutation: Mutation,
    pub which: Marked,
}

impl MarkRead {
    pub fn parse(request: &pb::MarkReadRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let mutation = Mutation::parse(&mut violations, "MarkRead", &request.request_id, request);
        let which = match (
            request.item_ids.is_empty(),
            request.up_to_item_id.is_empty(),
        ) {
            (false, true) if request.item_ids.len() > MARK_AT_MOST => {
                violations.add(
                    "item_ids",
                    format!("at most {MARK_AT_MOST} items at once (or use up_to_item_id)"),
                );
                None
            }
            (false, true) => {
                let ids: Vec<Option<Uuid>> = request
                    .item_ids
                    .iter()
                    .enumerate()
                    .map(|(index, id)| {
                        validate::id(&mut violations, &format!("item_ids[{index}]"), id, "item")
                    })
                    .collect();
                ids.into_iter()
                    .collect::<Option<Vec<_>>>()
                    .map(Marked::Items)
            }
            (true, false) => validate::id(
                &mut violations,
                "up_to_item_id",
                &request.up_to_item_id,
                "item",
            )
            .map(Marked::UpTo),
            (true, true) => {
                violations.add("item_ids", "required: the items, or up_to_item_id");
                None
            }
            (false, false) => {
                violations.add(
                    "up_to_item_id",
                    "either item_ids or up_to_item_id, not both",
                );
                None
            }
        };
        violations.finish_with(|| {
            Some(Self {
                mutation: mutation?,
                which: which?,
            })
        })
    }
}

/// `WatchInbox`: where the client's inbox ends (its last item), if anywhere.
#[derive(Debug)]
pub struct WatchInbox {
    pub after: Option<Uuid>,
}

impl WatchInbox {
    pub fn parse(request: &pb::WatchInboxRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let after = validate::optional_id(
            &mut violations,
            "after_item_id",
            &request.after_item_id,
            "last item the client has",
        );
        violations.finish_with(|| Some(Self { after: after? }))
    }
}
