//! The in-app inbox: `ListInbox`, `MarkRead`, `WatchInbox`, and [`Inbox::deliver`], the in-app
//! channel the rules write through.
//!
//! **Exactly once.** A notification's row carries its rule's key (the event, the rule, the
//! recipient) as `dedup_key`, unique: a redelivered event, a retried handler or a second replica
//! writes nothing more. The write happens in the consumer's transaction, with the event id
//! recorded in the inbox of handled events.
//!
//! **Live.** Every write and every read mark wakes the person's watchers through PostgreSQL's
//! `pg_notify` on commit, which every replica hears ([`watch::Watchers`]), so a phone watching
//! through one replica sees what another wrote. A watcher then reads what is new after its
//! cursor (the last item it sent) and which items were read since its last look (the read
//! sequence), so nothing is missed across wakes, reconnects or token refreshes.
//!
//! Layout (the service's rhythm, `docs/architecture.md`): [`parse`] turns each request into a
//! command, this module applies it over a [`Caller`], [`store`] holds the SQL, [`watch`] the live
//! streams, and `grpc.rs` answers.

pub mod parse;
pub mod store;
pub mod watch;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use terrace_platform::Clock;
use terrace_platform::auth::Caller;
use terrace_platform::error::Result;
use terrace_platform::idempotency::{self, Keep};
use terrace_platform::validate::{page_response, to_timestamp};
use terrace_proto::notify::v1 as pb;
use uuid::Uuid;

use self::parse::{InboxCursor, ListInbox, MarkRead};
pub use self::store::Model as InboxRow;

/// A notification for one person's inbox, as a rule makes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewItem {
    pub user_id: Uuid,
    pub category: pb::NotificationCategory,
    pub title: String,
    pub body: String,
    pub link: String,
    pub critical: bool,
    /// The event that caused it.
    pub source_id: String,
    /// One notification, one row: the event, the rule, the recipient.
    pub dedup_key: String,
}

/// The inbox: the *apply* step of its RPCs, and the in-app channel.
#[derive(Debug, Clone)]
pub struct Inbox {
    db: DatabaseConnection,
    clock: Clock,
}

impl Inbox {
    pub fn new(db: DatabaseConnection, clock: Clock) -> Self {
        Self { db, clock }
    }

    /// Writes `item` in `conn` (the handler's transaction) unless it was written before;
    /// `true` when written now.
    pub async fn deliver<C: ConnectionTrait>(
        conn: &C,
        item: NewItem,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let row = InboxRow {
            id: Uuid::now_v7(),
            user_id: item.user_id,
            category: item.category as i16,
            title: sanitized(&item.title),
            body: sanitized(&item.body),
            link: item.link,
            critical: item.critical,
            created_at: now,
            read_at: None,
            read_seq: None,
            source_id: item.source_id,
            dedup_key: item.dedup_key,
        };
        Ok(store::insert(conn, row).await?)
    }

    /// `ListInbox`: the caller's own items.
    pub async fn list(&self, caller: &Caller, query: ListInbox) -> Result<pb::ListInboxResponse> {
        let user = own_user(caller)?;
        let rows = store::page(
            &self.db,
            user,
            &query.filter,
            query.page.after.as_ref().map(|cursor| cursor.id),
            query.page.fetch_limit(),
        )
        .await?;
        let (rows, next) = query.page.finish(rows, |rows| {
            rows.last().map(|row| InboxCursor { id: row.id })
        });
        Ok(pb::ListInboxResponse {
            items: rows.iter().map(to_proto).collect(),
            page: Some(page_response(next.as_ref())),
            unread_count: store::unread_count(&self.db, user).await?,
        })
    }

    /// `MarkRead`: the caller's own items (others' are passed over as unknown).
    pub async fn mark_read(
        &self,
        caller: &Caller,
        command: MarkRead,
    ) -> Result<pb::MarkReadResponse> {
        let user = own_user(caller)?;
        let now = self.clock.now();
        idempotency::once(
            &self.db,
            caller,
            &command.mutation,
            now,
            Keep::Answer,
            async |txn| {
                let marked = store::mark_read(txn, user, &command.which, now).await?;
                Ok(pb::MarkReadResponse {
                    marked_count: i64::try_from(marked.len()).unwrap_or(i64::MAX),
                    unread_count: store::unread_count(txn, user).await?,
                })
            },
        )
        .await
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }
}

/// The person whose inbox the caller reads: their own (a helper reads the villager's).
pub fn own_user(caller: &Caller) -> Result<Uuid> {
    crate::own_person(caller, "an inbox's items")
}

/// A row as the contract shows it.
pub fn to_proto(row: &InboxRow) -> pb::InboxItem {
    pb::InboxItem {
        id: row.id.to_string(),
        user_id: row.user_id.to_string(),
        category: i32::from(row.category),
        title: row.title.clone(),
        body: row.body.clone(),
        link: row.link.clone(),
        critical: row.critical,
        create_time: Some(to_timestamp(row.created_at)),
        read_time: row.read_at.map(to_timestamp),
        source_id: row.source_id.clone(),
    }
}

/// Text as the inbox keeps it: no control characters but line breaks, and no markup a client
/// could take for HTML (the body is Markdown, shown as text by both clients).
pub fn sanitized(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control() || *c == '\n')
        .map(|c| match c {
            '<' => '‹',
            '>' => '›',
            other => other,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitized_text_keeps_words_and_line_breaks_and_drops_markup_and_controls() {
        assert_eq!(
            sanitized("新订单\n<script>alert(1)</script>\u{7}"),
            "新订单\n‹script›alert(1)‹/script›"
        );
    }
}
