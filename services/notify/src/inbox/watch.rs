//! `WatchInbox`: the live streams of this replica.
//!
//! One task per replica listens on PostgreSQL's [`CHANNEL`](super::store::CHANNEL) and passes
//! each woken person's id to the replica's streams ([`Watchers::listen`]); after the listener
//! reconnects it wakes every stream, since a wake may have been missed meanwhile. Each stream
//! keeps its cursor (the last item it sent) and the last read sequence it reported, and on a
//! wake for its person reads what is new after both: an item written, or items read on another
//! device. A heartbeat every [`HEARTBEAT`]; the stream ends with `UNAUTHENTICATED` when the
//! token expires (the client reconnects with a fresh one and its last item id, missing nothing).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context as _;
use sqlx::postgres::{PgListener, PgPool};
use terrace_platform::auth::Caller;
use terrace_platform::backoff::Restarts;
use terrace_platform::error::{Error, Result};
use terrace_platform::validate::to_timestamp;
use terrace_proto::notify::v1 as pb;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::parse::WatchInbox;
use super::{Inbox, own_user, store, to_proto};

/// How often a quiet stream says it is alive.
pub const HEARTBEAT: Duration = Duration::from_secs(30);

/// Open streams one person may hold (on this replica).
pub const STREAMS_PER_USER: usize = 5;

/// A cursor older than this is refused: the client should list its inbox instead.
pub const OLDEST_CURSOR: chrono::Duration = chrono::Duration::days(30);

/// Items sent per read of the backlog.
const BACKLOG_BATCH: u64 = 200;

/// Everyone's streams wake (after the listener reconnected).
const EVERYONE: Uuid = Uuid::nil();

/// This replica's streams and the wakes they wait for.
#[derive(Debug, Clone)]
pub struct Watchers {
    wakes: broadcast::Sender<Uuid>,
    open: Arc<Mutex<HashMap<Uuid, usize>>>,
}

impl Default for Watchers {
    fn default() -> Self {
        Self::new()
    }
}

impl Watchers {
    pub fn new() -> Self {
        let (wakes, _) = broadcast::channel(1024);
        Self {
            wakes,
            open: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Listens for wakes until `shutdown`, reconnecting after errors.
    pub async fn listen(self, pool: PgPool, shutdown: CancellationToken) {
        let mut restarts = Restarts::new(
            "notify inbox listener",
            Duration::from_millis(200),
            Duration::from_secs(5),
        );
        loop {
            let started = tokio::time::Instant::now();
            let ended = self.listen_once(&pool, &shutdown).await;
            if !restarts.again(started, ended, &shutdown).await {
                return;
            }
        }
    }

    async fn listen_once(&self, pool: &PgPool, shutdown: &CancellationToken) -> anyhow::Result<()> {
        let mut listener = PgListener::connect_with(pool)
            .await
            .context("connecting the inbox listener")?;
        listener
            .listen(store::CHANNEL)
            .await
            .context("listening for inbox changes")?;
        // Wakes sent while no listener was connected are lost: every stream looks again.
        let _ = self.wakes.send(EVERYONE);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                notification = listener.recv() => {
                    let notification = notification.context("receiving inbox changes")?;
                    if let Ok(user) = Uuid::parse_str(notification.payload()) {
                        // No stream open: nobody to tell.
                        let _ = self.wakes.send(user);
                    }
                }
            }
        }
    }

    /// Opens a stream of `caller`'s inbox.
    pub async fn watch(
        &self,
        inbox: &Inbox,
        caller: &Caller,
        command: WatchInbox,
        shutdown: CancellationToken,
    ) -> Result<ReceiverStream<std::result::Result<pb::WatchInboxResponse, tonic::Status>>> {
        let user = own_user(caller)?;
        if let Some(after) = command.after {
            // The cursor must be one of the person's items, at most 30 days old: else the
            // client lists its inbox instead of replaying an unknown stretch.
            let known = store::find(inbox.db(), user, after).await?;
            let now = inbox.clock().now();
            if known.is_none_or(|row| now - row.created_at > OLDEST_CURSOR) {
                return Err(Error::invalid(
                    "after_item_id",
                    "not an item of yours from the last 30 days: list the inbox (ListInbox) and watch from its newest item",
                ));
            }
        }
        let expires_at = caller.principal().map(|p| p.expires_at);
        let slot = self.take_slot(user)?;
        let mut wakes = self.wakes.subscribe();
        // From here on no wake is missed: the first look happens after subscribing.
        let cursor = match command.after {
            Some(after) => Some(after),
            None => store::newest(inbox.db(), user).await?,
        };
        let read = store::newest_read(inbox.db(), user).await?;
        let (sender, receiver) = mpsc::channel(16);
        let mut stream = Stream {
            inbox: inbox.clone(),
            user,
            cursor,
            read,
            sender,
            _slot: slot,
        };
        let backlog = command.after.is_some();
        tokio::spawn(async move {
            let mut heartbeat =
                tokio::time::interval_at(tokio::time::Instant::now() + HEARTBEAT, HEARTBEAT);
            let remaining = expires_at
                .map(|at| {
                    (at - stream.inbox.clock().now())
                        .to_std()
                        .unwrap_or_default()
                })
                .unwrap_or(Duration::MAX);
            let expiry = tokio::time::sleep(remaining.min(Duration::from_secs(86_400 * 365)));
            tokio::pin!(expiry);
            if backlog && stream.look().await.is_err() {
                return;
            }
            loop {
                let outcome = tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = stream.sender.closed() => return,
                    () = &mut expiry => {
                        let _ = stream.sender.send(Err(tonic::Status::unauthenticated(
                            "the token expired: reconnect with a fresh token and the last item id",
                        ))).await;
                        return;
                    }
                    _ = heartbeat.tick() => stream.heartbeat().await,
                    wake = wakes.recv() => match wake {
                        Ok(woken) if woken == stream.user || woken == EVERYONE => stream.look().await,
                        Ok(_) => Ok(()),
                        // Too many wakes at once: some may have been ours.
                        Err(broadcast::error::RecvError::Lagged(_)) => stream.look().await,
                        Err(broadcast::error::RecvError::Closed) => return,
                    },
                };
                if outcome.is_err() {
                    return;
                }
            }
        });
        Ok(ReceiverStream::new(receiver))
    }

    fn take_slot(&self, user: Uuid) -> Result<Slot> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(user).or_default();
        if *count >= STREAMS_PER_USER {
            return Err(Error::ResourceExhausted {
                reason: "TOO_MANY_STREAMS",
                message: format!("at most {STREAMS_PER_USER} open inbox streams per person"),
                retry_after: None,
            });
        }
        *count += 1;
        Ok(Slot {
            open: self.open.clone(),
            user,
        })
    }

    /// How many streams `user` holds open on this replica.
    pub fn open_streams(&self, user: Uuid) -> usize {
        self.open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&user)
            .copied()
            .unwrap_or(0)
    }
}

/// One of a person's open streams, given back when the stream ends.
#[derive(Debug)]
struct Slot {
    open: Arc<Mutex<HashMap<Uuid, usize>>>,
    user: Uuid,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.user) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.user);
            }
        }
    }
}

/// One open stream.
struct Stream {
    inbox: Inbox,
    user: Uuid,
    cursor: Option<Uuid>,
    read: i64,
    sender: mpsc::Sender<std::result::Result<pb::WatchInboxResponse, tonic::Status>>,
    _slot: Slot,
}

/// The stream ended (the client went away).
struct Gone;

impl Stream {
    /// Sends what is new after the cursor, then what was read since the last look.
    async fn look(&mut self) -> std::result::Result<(), Gone> {
        loop {
            let items =
                match store::after(self.inbox.db(), self.user, self.cursor, BACKLOG_BATCH).await {
                    Ok(items) => items,
                    Err(error) => return self.failed(error.into()).await,
                };
            let full = items.len() as u64 == BACKLOG_BATCH;
            if items.is_empty() {
                break;
            }
            // One count for the batch (not a query per item): the unread count after it.
            let unread = self.unread().await?;
            for item in items {
                self.cursor = Some(item.id);
                self.send(
                    pb::watch_inbox_response::Event::Item(to_proto(&item)),
                    unread,
                )
                .await?;
            }
            if !full {
                break;
            }
        }
        let (read, newest) = match store::read_since(self.inbox.db(), self.user, self.read).await {
            Ok(read) => read,
            Err(error) => return self.failed(error.into()).await,
        };
        if !read.is_empty() {
            self.read = newest;
            let unread = self.unread().await?;
            let items_read = pb::ItemsRead {
                item_ids: read.iter().map(Uuid::to_string).collect(),
            };
            self.send(
                pb::watch_inbox_response::Event::ItemsRead(items_read),
                unread,
            )
            .await?;
        }
        Ok(())
    }

    async fn heartbeat(&mut self) -> std::result::Result<(), Gone> {
        let unread = self.unread().await?;
        let beat = pb::Heartbeat {
            time: Some(to_timestamp(self.inbox.clock().now())),
        };
        self.send(pb::watch_inbox_response::Event::Heartbeat(beat), unread)
            .await
    }

    async fn unread(&mut self) -> std::result::Result<i64, Gone> {
        match store::unread_count(self.inbox.db(), self.user).await {
            Ok(count) => Ok(count),
            Err(error) => self.failed(error.into()).await.map(|()| 0),
        }
    }

    async fn send(
        &self,
        event: pb::watch_inbox_response::Event,
        unread_count: i64,
    ) -> std::result::Result<(), Gone> {
        let message = pb::WatchInboxResponse {
            event: Some(event),
            unread_count,
        };
        self.sender.send(Ok(message)).await.map_err(|_| Gone)
    }

    /// Ends the stream with the error (the client reconnects with its last item id).
    async fn failed(&self, error: Error) -> std::result::Result<(), Gone> {
        tracing::warn!(%error, "inbox stream ended by an error");
        let _ = self.sender.send(Err(error.into())).await;
        Err(Gone)
    }
}
