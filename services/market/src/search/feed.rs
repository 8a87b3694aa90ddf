//! Keeping this replica's index: built from the database at start, then fed by the listings'
//! state stream, and rebuilt on demand.
//!
//! **Each replica its own.** A shared durable consumer would hand each replica only part of the
//! messages, so each replica reads `state.market.listing.>` through an ephemeral consumer of its
//! own, which NATS deletes when the replica is gone (no clean-up left to anyone). The state
//! stream carries every change of a listing (its stock included) as the listing's latest
//! snapshot with its version.
//!
//! **No gap.** At start the follower notes the stream's last sequence *before* it reads the
//! database, builds the index from the database, then follows the stream from the next sequence:
//! a change the read missed was committed later, so its snapshot was published later, past the
//! noted sequence. Snapshots the read already saw come again and are dropped by their version.
//! A rebuild ([`Feed::rebuild`]) runs inside the follower, which does not read messages
//! meanwhile (they wait in the consumer), and swaps the new index in when it is complete:
//! searches answer from the old one until then.
//!
//! **Back after a failure.** An error (the database or NATS away) starts the follower over,
//! with a backoff: built again, followed from a new noted point.
//!
//! **Within a second.** The follower commits what it applied every [`COMMIT_EVERY`] when there
//! is something to commit.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream::consumer::{DeliverPolicy, pull};
use futures::StreamExt as _;
use prost::Message as _;
use terrace_platform::auth::AdminScope;
use terrace_platform::bus::{Bus, Envelope};
use terrace_proto::market::v1 as pb;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::index::{CategoryDoc, ListingDoc, SearchIndex, Texts};
use crate::categories::taxonomy;
use crate::listings::Listings;
use crate::units;

/// How often applied snapshots are made searchable.
pub const COMMIT_EVERY: Duration = Duration::from_millis(200);

/// Listings read from the database per page while building.
const BUILD_PAGE: u64 = 1_000;

/// The index this replica searches, swapped whole by a rebuild.
#[derive(Debug, Clone)]
pub struct Feed {
    current: Arc<RwLock<Arc<SearchIndex>>>,
    rebuilds: mpsc::Sender<Rebuild>,
    requests: Arc<tokio::sync::Mutex<Option<mpsc::Receiver<Rebuild>>>>,
    rebuilding: Arc<AtomicBool>,
}

/// A rebuild asked of the follower, and where its answer goes.
type Rebuild = oneshot::Sender<anyhow::Result<u64>>;

/// Why a rebuild was not started.
#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    #[error("a rebuild of the search index is running")]
    Running,
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

impl Feed {
    /// An empty index until the follower builds the first.
    pub fn new() -> anyhow::Result<Self> {
        let (rebuilds, requests) = mpsc::channel(1);
        Ok(Self {
            current: Arc::new(RwLock::new(Arc::new(SearchIndex::open_in_ram()?))),
            rebuilds,
            requests: Arc::new(tokio::sync::Mutex::new(Some(requests))),
            rebuilding: Arc::new(AtomicBool::new(false)),
        })
    }

    /// The index searches read now.
    pub fn index(&self) -> Arc<SearchIndex> {
        match self.current.read() {
            Ok(current) => current.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn swap(&self, index: SearchIndex) {
        let mut current = match self.current.write() {
            Ok(current) => current,
            Err(poisoned) => poisoned.into_inner(),
        };
        *current = Arc::new(index);
    }

    /// Rebuilds the index from the database (by the follower); answers how many listings the
    /// new index holds. One at a time.
    pub async fn rebuild(&self) -> Result<u64, RebuildError> {
        if self.rebuilding.swap(true, Ordering::SeqCst) {
            return Err(RebuildError::Running);
        }
        let answer = async {
            let (reply, answer) = oneshot::channel();
            self.rebuilds
                .send(reply)
                .await
                .map_err(|_| anyhow::anyhow!("the search follower is not running"))?;
            answer.await.context("the search follower stopped")?
        }
        .await;
        self.rebuilding.store(false, Ordering::SeqCst);
        Ok(answer?)
    }

    /// Follows the listings' state stream into the index until `shutdown`, building it first.
    /// After an error (the database or NATS away for a moment) it starts over: the index is
    /// built again and followed from a new point, and searches answer from the old index
    /// meanwhile.
    pub async fn follow(
        self,
        listings: Listings,
        bus: Bus,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let mut requests = self
            .requests
            .lock()
            .await
            .take()
            .context("the search follower runs once per replica")?;
        let mut restarts = terrace_platform::backoff::Restarts::new(
            "market search follower",
            Duration::from_millis(500),
            Duration::from_secs(15),
        );
        loop {
            let started = tokio::time::Instant::now();
            let ended = self
                .follow_once(&listings, &bus, &shutdown, &mut requests)
                .await;
            if !restarts.again(started, ended, &shutdown).await {
                return Ok(());
            }
        }
    }

    /// Builds the index and follows the stream until `shutdown` or an error.
    async fn follow_once(
        &self,
        listings: &Listings,
        bus: &Bus,
        shutdown: &CancellationToken,
        requests: &mut mpsc::Receiver<Rebuild>,
    ) -> anyhow::Result<()> {
        let stream_name = bus.naming.state_stream("market");
        let mut stream = bus
            .jetstream
            .get_stream(&stream_name)
            .await
            .context("the market state stream")?;
        let start = stream
            .info()
            .await
            .context("reading the state stream")?
            .state
            .last_sequence
            + 1;
        let built = build(listings).await?;
        tracing::info!(listings = built.1, "search index built from the database");
        self.swap(built.0);
        let consumer: async_nats::jetstream::consumer::Consumer<pull::OrderedConfig> = stream
            .create_consumer(pull::OrderedConfig {
                filter_subject: bus.naming.subject("state.market.listing.>"),
                deliver_policy: DeliverPolicy::ByStartSequence {
                    start_sequence: start,
                },
                ..Default::default()
            })
            .await
            .context("following the listings' state")?;
        let mut messages = consumer
            .messages()
            .await
            .context("reading the listings' state")?;
        let mut tick = tokio::time::interval(COMMIT_EVERY);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                Some(reply) = requests.recv() => {
                    let answer = build(listings).await.map(|(index, count)| {
                        self.swap(index);
                        count
                    });
                    let _ = reply.send(answer);
                }
                message = messages.next() => {
                    let Some(message) = message else {
                        anyhow::bail!("the listings' state stream ended");
                    };
                    let message = message.context("receiving listing state")?;
                    let subject = bus.naming.strip(message.subject.as_str()).to_owned();
                    match Envelope::from_message(&subject, message.headers.as_ref(), message.payload.clone()) {
                        Ok(envelope) => {
                            if let Err(error) = apply(&self.index(), &envelope) {
                                tracing::warn!(%error, subject, "listing state not applied to search");
                            }
                        }
                        Err(error) => tracing::warn!(%error, subject, "unreadable listing state"),
                    }
                }
                _ = tick.tick() => {
                    if let Err(error) = self.index().commit() {
                        tracing::warn!(%error, "search index commit failed");
                    }
                }
            }
        }
    }
}

/// Applies one snapshot (or tombstone) of a listing.
fn apply(index: &SearchIndex, envelope: &Envelope) -> anyhow::Result<()> {
    if envelope.is_tombstone() {
        // An erased listing: out of search at any version.
        index.remove(envelope.entity_id(), u64::MAX)?;
        return Ok(());
    }
    let listing = envelope.decode_snapshot::<pb::Listing>()?;
    index.upsert(&doc_of(&listing))?;
    Ok(())
}

/// A new index of every listing in the database (each as the state stream carries it: photos
/// and names included), and how many.
pub async fn build(listings: &Listings) -> anyhow::Result<(SearchIndex, u64)> {
    let index = SearchIndex::open_in_ram()?;
    let mut after = None;
    let mut count = 0u64;
    loop {
        let (page, last) = listings.page_for_bus(after, BUILD_PAGE).await?;
        let Some(last) = last else { break };
        after = Some(last);
        for listing in &page {
            index.upsert(&doc_of(listing))?;
        }
        count += page.len() as u64;
    }
    index.commit()?;
    Ok((index, count))
}

/// The text of `text` in the two analyzed languages: Chinese (zh*) and the rest (Latin script).
fn texts(text: Option<&terrace_proto::common::v1::LocalizedText>) -> Texts {
    let mut texts = Texts::default();
    for (tag, value) in text.map(|text| &text.translations).into_iter().flatten() {
        let into = if tag.starts_with("zh") {
            &mut texts.zh
        } else {
            &mut texts.en
        };
        if !into.is_empty() {
            into.push(' ');
        }
        into.push_str(value);
    }
    texts
}

/// The listing as the index takes it.
pub fn doc_of(listing: &pb::Listing) -> ListingDoc {
    let path = taxonomy::path(&listing.category_id);
    let unit = listing.stocked.as_ref().map(|q| q.unit).unwrap_or_default();
    let unit = terrace_proto::common::v1::Unit::try_from(unit).unwrap_or_default();
    let available = listing
        .available
        .as_ref()
        .map(|q| q.value_milli)
        .unwrap_or_default();
    ListingDoc {
        id: listing.id.clone(),
        version: u64::try_from(listing.version).unwrap_or_default(),
        status: pb::ListingStatus::try_from(listing.status).unwrap_or_default(),
        hidden: listing.hidden,
        title: texts(listing.title.as_ref()),
        description: texts(listing.description.as_ref()),
        variety: listing.variety.clone(),
        category: CategoryDoc {
            path: path.iter().map(|entry| entry.id.to_owned()).collect(),
            names_zh: path
                .iter()
                .flat_map(|entry| std::iter::once(entry.zh).chain(entry.synonyms.iter().copied()))
                .map(str::to_owned)
                .collect(),
            names_en: path.iter().map(|entry| entry.en.to_owned()).collect(),
        },
        village: AdminScope::parse(&listing.village_code).unwrap_or_else(|_| AdminScope::country()),
        price_minor: listing
            .price_per_kg
            .as_ref()
            .or(listing.unit_price.as_ref())
            .map(|price| price.amount_minor)
            .unwrap_or_default(),
        grade: pb::ProduceGrade::try_from(listing.grade).unwrap_or_default(),
        certifications: listing
            .certifications
            .iter()
            .filter_map(|c| pb::Certification::try_from(*c).ok())
            .collect(),
        traceable: !listing.harvest_lot_code.is_empty(),
        available: units::search_amount(available, unit),
        published_at_ms: listing
            .publish_time
            .as_ref()
            .map(|time| time.seconds * 1_000 + i64::from(time.nanos / 1_000_000))
            .unwrap_or_default(),
        payload: listing.encode_to_vec(),
    }
}
