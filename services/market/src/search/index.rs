//! The search index of listings: one tantivy index per replica, written by the listing and order
//! events, read by `SearchListings`.
//!
//! This module knows nothing of gRPC, the database or NATS: it is given [`ListingDoc`]s and
//! [`SearchQuery`]s and answers [`SearchPage`]s. Its calls block (tantivy does I/O and CPU work in
//! place), so async callers run them on `spawn_blocking`.
//!
//! # Design
//!
//! - **Chinese by jieba in search mode.** Chinese has no spaces; a listing titled 红富士苹果 must be
//!   found by 苹果. Search mode emits the long words and the words inside them, at index time and at
//!   query time, so short queries meet long titles (see `search::tokenizer`). English text gets a
//!   Snowball stemmer, so "apples" finds "apple".
//! - **The category's names are indexed with the listing**, in both languages (with its ancestors'
//!   names and its synonyms, as the caller gives them): "apple" finds 红富士苹果 through its category
//!   even when the farmer wrote only Chinese.
//! - **Areas as hierarchical facets.** A village code becomes the path
//!   `/11/1101/110101/110101001/110101001001` (the normalized prefix of each level). tantivy
//!   indexes every ancestor of a facet, so a filter on any administrative prefix (county,
//!   township...) is one term lookup, whatever its level. The area counts need any level below any
//!   area (counties under a province), which tantivy's facet collector does not give (it counts
//!   children only), so the 12-digit code is also a `u64` fast field that a collector cuts at the
//!   level asked (`search::counts`). Categories are a facet path too (counted by children), and
//!   their ids with their ancestors' a plain string field (so a filter on a parent category takes
//!   its descendants).
//! - **Versions decide, not arrival order.** Replicas and retries reorder events, so every write
//!   carries the listing's version, and a write is applied only if its version is newer than what
//!   the index holds (an equal version is a redelivery, dropped too). There is one writer, behind a
//!   mutex; under it the held version is looked up first among the writes not yet committed (a map
//!   of id to version, cleared at commit), then in the committed index (the id's posting list, its
//!   live document, the `version` fast field). A listing that leaves search (paused, expired,
//!   closed, hidden) or is removed stays in the index as a *tombstone*: its id, its version and a
//!   visibility of `none`, no text and no facets, so a late event of an older version still finds
//!   the newer one and is dropped.
//! - **Only visible listings are found.** Every search requires the `visibility` term `active` (or
//!   also `sold_out` when asked), so tombstones and hidden listings never match.
//! - **Fresh after commit.** Writes are buffered until [`SearchIndex::commit`], which commits the
//!   writer and reloads the reader before returning (`ReloadPolicy::Manual`: no polling thread, and
//!   no window in which a committed write is invisible). The event consumer (a later step) is to
//!   commit after each batch, or at least every few hundred milliseconds, which keeps listings
//!   searchable within a second.
//! - **Facets count the hits of the whole search**, every filter applied, in the same pass as the
//!   top hits (one `MultiCollector`).
//! - **Filters do not score.** They are wrapped in `ConstScoreQuery` with score 0, so relevance is
//!   the text match alone.

use std::collections::HashMap;
use std::fmt;
use std::ops::Bound;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use tantivy::collector::{Count, FacetCollector, FacetCounts, MultiCollector, TopDocs};
use tantivy::directory::MmapDirectory;
use tantivy::query::{
    BooleanQuery, BoostQuery, ConstScoreQuery, Occur, Query, RangeQuery, TermQuery,
};
use tantivy::schema::{
    FAST, FacetOptions, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema,
    TextFieldIndexing, TextOptions, Value,
};
use tantivy::tokenizer::{TextAnalyzer, TokenStream};
use tantivy::{
    DocAddress, DocSet, Index, IndexReader, IndexWriter, Order, ReloadPolicy, Searcher, TERMINATED,
    TantivyDocument, Term,
};
use terrace_platform::auth::{AdminLevel, AdminScope};
use terrace_proto::market::v1::{Certification, ListingStatus, ProduceGrade};

use super::counts::{AreaCounts, RangeCounts};
use super::tokenizer;

/// Hits a page holds when the query asks for none.
pub const DEFAULT_LIMIT: usize = 20;
/// Most hits a page holds (the contract's paging maximum); larger limits are cut to it.
pub const MAX_LIMIT: usize = 100;
/// Deepest offset served: top-k collection keeps `offset + limit` hits per segment, so paging
/// deeper than a buyer ever reads only costs memory. Deeper offsets are refused.
pub const MAX_OFFSET: usize = 10_000;
/// Words of free text used; the rest are ignored (each word is a clause over six fields).
pub const MAX_WORDS: usize = 16;
/// Memory the writer buffers before it flushes a segment, shared by its threads.
const WRITER_MEMORY: usize = 64_000_000;

/// Field names, also used by fast-field collectors.
mod name {
    pub(super) const ID: &str = "id";
    pub(super) const VERSION: &str = "version";
    pub(super) const VISIBILITY: &str = "visibility";
    pub(super) const PAYLOAD: &str = "payload";
    pub(super) const TITLE_ZH: &str = "title_zh";
    pub(super) const TITLE_EN: &str = "title_en";
    pub(super) const DESCRIPTION_ZH: &str = "description_zh";
    pub(super) const DESCRIPTION_EN: &str = "description_en";
    pub(super) const CATEGORY_ZH: &str = "category_zh";
    pub(super) const CATEGORY_EN: &str = "category_en";
    pub(super) const CATEGORY_IDS: &str = "category_ids";
    pub(super) const CATEGORY: &str = "category";
    pub(super) const AREA: &str = "area";
    pub(super) const VILLAGE: &str = "village";
    pub(super) const GRADE: &str = "grade";
    pub(super) const CERTIFICATION: &str = "certification";
    pub(super) const TRACEABLE: &str = "traceable";
    pub(super) const PRICE: &str = "price";
    pub(super) const AVAILABLE: &str = "available";
    pub(super) const CREATED: &str = "created";
}

/// Values of the `visibility` field.
const VISIBLE_ACTIVE: &str = "active";
const VISIBLE_SOLD_OUT: &str = "sold_out";
const VISIBLE_NONE: &str = "none";

/// Text fields and their weight in relevance: a word in the title counts most, then the
/// category's names, then the description.
const TITLE_BOOST: f32 = 3.0;
const CATEGORY_BOOST: f32 = 2.0;
const DESCRIPTION_BOOST: f32 = 1.0;

/// What can go wrong in the index. Input never causes these except [`IndexError::PageTooDeep`].
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("search index: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    #[error("search index i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("search index writer unusable: a thread panicked while holding it")]
    Poisoned,
    #[error("page offset {offset} is deeper than the deepest page served ({max})")]
    PageTooDeep { offset: usize, max: usize },
}

pub type Result<T, E = IndexError> = std::result::Result<T, E>;

/// Text in the two analyzed languages. Other locales are not analyzed yet; callers put them in
/// `en` when written in Latin script, in `zh` otherwise.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Texts {
    pub zh: String,
    pub en: String,
}

/// The category of a listing as search needs it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CategoryDoc {
    /// Category ids from the top of the taxonomy down to the listing's own (its leaf), e.g.
    /// `["fruit", "fruit.apple"]`.
    pub path: Vec<String>,
    /// Chinese names of the category, its ancestors and its synonyms (苹果, 水果, 平果).
    pub names_zh: Vec<String>,
    /// English names of the category and its ancestors (apple, fruit).
    pub names_en: Vec<String>,
}

/// One listing as the index takes it: what search matches, filters, counts and sorts on, plus an
/// opaque payload handed back with each hit.
#[derive(Debug, Clone, PartialEq)]
pub struct ListingDoc {
    /// The listing id (UUIDv7 text).
    pub id: String,
    /// The listing version; only increases. A write older than or equal to the held one is stale.
    pub version: u64,
    /// Only `ACTIVE` (and `SOLD_OUT`, when a search asks for it) listings are found.
    pub status: ListingStatus,
    /// Hidden by an official: never found, whatever the status.
    pub hidden: bool,
    pub title: Texts,
    pub description: Texts,
    /// Variety, e.g. 红富士; matched like the Chinese title.
    pub variety: String,
    pub category: CategoryDoc,
    /// The village the produce comes from.
    pub village: AdminScope,
    /// The price filters and sorts compare, in minor units (fen): per kg where the listing's unit
    /// converts, else per unit; the listing module decides.
    pub price_minor: i64,
    pub grade: ProduceGrade,
    pub certifications: Vec<Certification>,
    /// Linked to a harvest lot (a buyer can trace it).
    pub traceable: bool,
    /// Quantity available, in the smallest unit of the listing's dimension (grams for a mass,
    /// pieces otherwise), so filters compare across units.
    pub available: u64,
    /// When the listing was (last) published, Unix milliseconds; "newest" sorts on it.
    pub published_at_ms: i64,
    /// Returned with each hit untouched (the encoded listing, so search answers without the
    /// database). Not kept for listings out of search.
    pub payload: Vec<u8>,
}

impl ListingDoc {
    fn visibility(&self) -> &'static str {
        match self.status {
            _ if self.hidden => VISIBLE_NONE,
            ListingStatus::Active => VISIBLE_ACTIVE,
            ListingStatus::SoldOut => VISIBLE_SOLD_OUT,
            _ => VISIBLE_NONE,
        }
    }
}

/// Whether a write changed the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Written; searchable after the next [`SearchIndex::commit`].
    Written,
    /// Dropped: the index already holds this version or a newer one.
    Stale { held: u64 },
}

/// Order of hits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Sort {
    /// Relevance when there is free text, newest otherwise.
    #[default]
    Default,
    /// Best text match first; ties (and no text) by index order.
    Relevance,
    PriceAsc,
    PriceDesc,
    /// Most recently published first.
    Newest,
}

/// The facet counts a search asks for; each `None` or `false` is not counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FacetRequest {
    /// Count the children of this category path (empty: the top-level categories).
    pub category_under: Option<Vec<String>>,
    /// Count the hits under an area by their area at a level.
    pub area: Option<AreaFacet>,
    pub grade: bool,
    pub certification: bool,
    /// Price bucket bounds in minor units, see [`RangeBucket`].
    pub price_bounds: Option<Vec<i64>>,
    /// Available-quantity bucket bounds, see [`RangeBucket`].
    pub available_bounds: Option<Vec<u64>>,
}

/// The area facet: hits in villages under `under`, counted by their area at `level` (counties
/// under a province, villages under a township). A level not below `under`'s gives one bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AreaFacet {
    pub under: AdminScope,
    pub level: AdminLevel,
}

/// A search: free text, filters, facets, order and page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchQuery {
    /// Free text; blank (or punctuation only) matches every visible listing. Words are split on
    /// whitespace; each must match one of the title, category and description fields, in either
    /// language.
    pub text: String,
    /// Any of these categories or their descendants.
    pub category_ids: Vec<String>,
    /// Villages inside any of these areas.
    pub areas: Vec<AdminScope>,
    /// Inclusive price bounds, minor units.
    pub price_min: Option<i64>,
    pub price_max: Option<i64>,
    /// Any of these grades.
    pub grades: Vec<ProduceGrade>,
    /// All of these certifications.
    pub certifications: Vec<Certification>,
    /// At least this much available (the unit of [`ListingDoc::available`]).
    pub min_available: Option<u64>,
    /// Only listings linked to a harvest lot.
    pub traceable_only: bool,
    /// Sold-out listings too (default: active only).
    pub include_sold_out: bool,
    pub sort: Sort,
    pub facets: FacetRequest,
    /// Hits to skip; at most [`MAX_OFFSET`].
    pub offset: usize,
    /// Hits to return: 0 means [`DEFAULT_LIMIT`], more than [`MAX_LIMIT`] is cut to it.
    pub limit: usize,
}

/// One hit.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub id: String,
    pub version: u64,
    /// The text score when sorted by relevance.
    pub score: Option<f32>,
    pub payload: Vec<u8>,
}

/// A facet value and how many hits carry it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    /// A category id, an area's code prefix, a `ProduceGrade` or `Certification` name.
    pub value: String,
    pub count: u64,
}

/// Hits whose value lies in `[from, to)`; `None` is open. Bounds `[a, b]` give the buckets
/// `(.., a)`, `[a, b)`, `[b, ..)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeBucket<T> {
    pub from: Option<T>,
    pub to: Option<T>,
    pub count: u64,
}

/// Facet counts over all hits of the search (every filter applied). Term facets by count,
/// descending, then by value; range facets in range order. Values no hit carries are left out of
/// term facets and kept (with 0) in range facets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FacetResults {
    pub category: Vec<Bucket>,
    pub area: Vec<Bucket>,
    pub grade: Vec<Bucket>,
    pub certification: Vec<Bucket>,
    pub price: Vec<RangeBucket<i64>>,
    pub available: Vec<RangeBucket<u64>>,
}

/// A page of hits.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchPage {
    pub hits: Vec<Hit>,
    /// All hits of the search, not only this page.
    pub total: u64,
    pub facets: FacetResults,
}

/// The schema's fields, resolved once.
#[derive(Debug, Clone, Copy)]
struct Fields {
    id: Field,
    version: Field,
    visibility: Field,
    payload: Field,
    title_zh: Field,
    title_en: Field,
    description_zh: Field,
    description_en: Field,
    category_zh: Field,
    category_en: Field,
    category_ids: Field,
    category: Field,
    area: Field,
    village: Field,
    grade: Field,
    certification: Field,
    traceable: Field,
    price: Field,
    available: Field,
    created: Field,
}

impl Fields {
    fn schema() -> (Schema, Fields) {
        let mut b = Schema::builder();
        let text = |analyzer: &str| {
            TextOptions::default().set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer(analyzer)
                    .set_index_option(IndexRecordOption::WithFreqs),
            )
        };
        let fields = Fields {
            id: b.add_text_field(name::ID, STRING | STORED),
            version: b.add_u64_field(name::VERSION, FAST | STORED),
            visibility: b.add_text_field(name::VISIBILITY, STRING),
            payload: b.add_bytes_field(name::PAYLOAD, STORED),
            title_zh: b.add_text_field(name::TITLE_ZH, text(tokenizer::ZH)),
            title_en: b.add_text_field(name::TITLE_EN, text(tokenizer::EN)),
            description_zh: b.add_text_field(name::DESCRIPTION_ZH, text(tokenizer::ZH)),
            description_en: b.add_text_field(name::DESCRIPTION_EN, text(tokenizer::EN)),
            category_zh: b.add_text_field(name::CATEGORY_ZH, text(tokenizer::ZH)),
            category_en: b.add_text_field(name::CATEGORY_EN, text(tokenizer::EN)),
            category_ids: b.add_text_field(name::CATEGORY_IDS, STRING),
            category: b.add_facet_field(name::CATEGORY, FacetOptions::default()),
            area: b.add_facet_field(name::AREA, FacetOptions::default()),
            village: b.add_u64_field(name::VILLAGE, FAST),
            grade: b.add_facet_field(name::GRADE, FacetOptions::default()),
            certification: b.add_facet_field(name::CERTIFICATION, FacetOptions::default()),
            traceable: b.add_bool_field(name::TRACEABLE, INDEXED),
            price: b.add_i64_field(name::PRICE, FAST),
            available: b.add_u64_field(name::AVAILABLE, FAST),
            created: b.add_i64_field(name::CREATED, FAST),
        };
        (b.build(), fields)
    }
}

/// The single writer and the versions it wrote since the last commit (which the reader cannot
/// see yet).
struct Writer {
    writer: IndexWriter<TantivyDocument>,
    pending: HashMap<String, u64>,
}

/// A listing search index, in RAM or in a directory. Cheap to share behind an `Arc`: searches
/// run concurrently, writes take turns on the one writer.
pub struct SearchIndex {
    fields: Fields,
    reader: IndexReader,
    writer: Mutex<Writer>,
    zh: TextAnalyzer,
    en: TextAnalyzer,
}

impl fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SearchIndex")
            .field("docs", &self.reader.searcher().num_docs())
            .finish_non_exhaustive()
    }
}

impl SearchIndex {
    /// A fresh index in memory (tests, benchmarks).
    pub fn open_in_ram() -> Result<Self> {
        let (schema, fields) = Fields::schema();
        Self::with_index(Index::create_in_ram(schema), fields)
    }

    /// The index in `dir`, created if empty. An index of another schema is an error: the caller
    /// rebuilds it from the database.
    pub fn open_in_dir(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir)?;
        let (schema, fields) = Fields::schema();
        let directory = MmapDirectory::open(dir).map_err(tantivy::TantivyError::from)?;
        Self::with_index(Index::open_or_create(directory, schema)?, fields)
    }

    fn with_index(index: Index, fields: Fields) -> Result<Self> {
        tokenizer::register(&index);
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let writer = index.writer(WRITER_MEMORY)?;
        let mut zh = index.tokenizer_for_field(fields.title_zh)?;
        let en = index.tokenizer_for_field(fields.title_en)?;
        // jieba loads its dictionary on first use (most of a second): here, not in a first search.
        tokens(&mut zh, "苹果");
        Ok(Self {
            fields,
            reader,
            writer: Mutex::new(Writer {
                writer,
                pending: HashMap::new(),
            }),
            zh,
            en,
        })
    }

    /// Writes `doc` unless the index holds its version or a newer one. A listing out of search
    /// (not active or sold out, or hidden) is written as a tombstone.
    pub fn upsert(&self, doc: &ListingDoc) -> Result<Applied> {
        let mut writer = self.lock()?;
        if let Some(held) = self.held_version(&writer, &doc.id)?
            && doc.version <= held
        {
            return Ok(Applied::Stale { held });
        }
        let document = self.document(doc);
        self.replace(&mut writer, &doc.id, doc.version, document)?;
        Ok(Applied::Written)
    }

    /// Takes listing `id` out of search at `version`, leaving a tombstone so that older writes
    /// arriving later stay out.
    pub fn remove(&self, id: &str, version: u64) -> Result<Applied> {
        let mut writer = self.lock()?;
        if let Some(held) = self.held_version(&writer, id)?
            && version <= held
        {
            return Ok(Applied::Stale { held });
        }
        let document = self.tombstone(id, version);
        self.replace(&mut writer, id, version, document)?;
        Ok(Applied::Written)
    }

    /// Makes every write so far searchable: commits the writer, then reloads the reader before
    /// returning.
    pub fn commit(&self) -> Result<()> {
        let mut writer = self.lock()?;
        // Every write goes through `pending`: nothing there, nothing to commit (a consumer that
        // commits on a timer does not write a new commit point, fsyncs included, every tick).
        if writer.pending.is_empty() {
            return Ok(());
        }
        writer.writer.commit()?;
        self.reader.reload()?;
        // Only now does the reader see what `pending` remembered.
        writer.pending.clear();
        Ok(())
    }

    /// The version the index holds for `id`, committed or not; `None` if it never saw it.
    pub fn version_of(&self, id: &str) -> Result<Option<u64>> {
        let writer = self.lock()?;
        self.held_version(&writer, id)
    }

    /// Runs a search over the last commit.
    pub fn search(&self, query: &SearchQuery) -> Result<SearchPage> {
        if query.offset > MAX_OFFSET {
            return Err(IndexError::PageTooDeep {
                offset: query.offset,
                max: MAX_OFFSET,
            });
        }
        let limit = match query.limit {
            0 => DEFAULT_LIMIT,
            n => n.min(MAX_LIMIT),
        };
        let searcher = self.reader.searcher();
        let text = self.text_clauses(&query.text);
        let has_text = !text.is_empty();
        let tantivy_query = self.query(text, query);
        let top = TopDocs::with_limit(limit).and_offset(query.offset);
        let sort = match query.sort {
            Sort::Default if has_text => Sort::Relevance,
            Sort::Default => Sort::Newest,
            sort => sort,
        };

        let mut collectors = MultiCollector::new();
        let total = collectors.add_collector(Count);
        let top = match sort {
            Sort::Relevance | Sort::Default => {
                TopHandle::Score(collectors.add_collector(top.order_by_score()))
            }
            Sort::PriceAsc => TopHandle::Value(
                collectors.add_collector(top.order_by_fast_field::<i64>(name::PRICE, Order::Asc)),
            ),
            Sort::PriceDesc => TopHandle::Value(
                collectors.add_collector(top.order_by_fast_field::<i64>(name::PRICE, Order::Desc)),
            ),
            Sort::Newest => TopHandle::Value(
                collectors
                    .add_collector(top.order_by_fast_field::<i64>(name::CREATED, Order::Desc)),
            ),
        };
        let facets = &query.facets;
        let category = facets.category_under.as_ref().map(|path| {
            let under = tantivy::schema::Facet::from_path(path);
            let mut collector = FacetCollector::for_field(name::CATEGORY);
            collector.add_facet(under.clone());
            (collectors.add_collector(collector), under)
        });
        let area = facets.area.as_ref().map(|facet| {
            let counts = AreaCounts::new(
                name::VILLAGE,
                facet.under.as_str(),
                level_digits(facet.level),
            );
            (collectors.add_collector(counts.clone()), counts)
        });
        let grade = facets.grade.then(|| {
            let mut collector = FacetCollector::for_field(name::GRADE);
            collector.add_facet(tantivy::schema::Facet::root());
            collectors.add_collector(collector)
        });
        let certification = facets.certification.then(|| {
            let mut collector = FacetCollector::for_field(name::CERTIFICATION);
            collector.add_facet(tantivy::schema::Facet::root());
            collectors.add_collector(collector)
        });
        let price = facets.price_bounds.as_ref().map(|bounds| {
            let counts = RangeCounts::new(name::PRICE, bounds.clone());
            (collectors.add_collector(counts.clone()), counts)
        });
        let available = facets.available_bounds.as_ref().map(|bounds| {
            let counts = RangeCounts::new(name::AVAILABLE, bounds.clone());
            (collectors.add_collector(counts.clone()), counts)
        });

        let mut fruits = searcher.search(&tantivy_query, &collectors)?;

        let total = total.extract(&mut fruits) as u64;
        let scored: Vec<(Option<f32>, DocAddress)> = match top {
            TopHandle::Score(handle) => handle
                .extract(&mut fruits)
                .into_iter()
                .map(|(score, address)| (Some(score), address))
                .collect(),
            TopHandle::Value(handle) => handle
                .extract(&mut fruits)
                .into_iter()
                .map(|(_, address)| (None, address))
                .collect(),
        };
        let mut results = FacetResults::default();
        if let Some((handle, under)) = category {
            results.category = term_buckets(&handle.extract(&mut fruits), &under);
        }
        if let Some((handle, counts)) = area {
            let mut buckets: Vec<Bucket> = handle
                .extract(&mut fruits)
                .into_iter()
                .map(|(key, count)| Bucket {
                    value: counts.code_of(key),
                    count,
                })
                .collect();
            sort_buckets(&mut buckets);
            results.area = buckets;
        }
        if let Some(handle) = grade {
            results.grade = term_buckets(
                &handle.extract(&mut fruits),
                &tantivy::schema::Facet::root(),
            );
        }
        if let Some(handle) = certification {
            results.certification = term_buckets(
                &handle.extract(&mut fruits),
                &tantivy::schema::Facet::root(),
            );
        }
        if let Some((handle, counts)) = price {
            results.price = range_buckets(counts.bounds(), handle.extract(&mut fruits));
        }
        if let Some((handle, counts)) = available {
            results.available = range_buckets(counts.bounds(), handle.extract(&mut fruits));
        }

        let hits = scored
            .into_iter()
            .map(|(score, address)| self.hit(&searcher, score, address))
            .collect::<Result<Vec<_>>>()?;
        Ok(SearchPage {
            hits,
            total,
            facets: results,
        })
    }

    fn lock(&self) -> Result<MutexGuard<'_, Writer>> {
        self.writer.lock().map_err(|_| IndexError::Poisoned)
    }

    /// Deletes whatever the index holds for `id` and adds `document` in its place. tantivy
    /// applies a delete to the documents added before it only, so the new one survives.
    fn replace(
        &self,
        writer: &mut Writer,
        id: &str,
        version: u64,
        document: TantivyDocument,
    ) -> Result<()> {
        writer
            .writer
            .delete_term(Term::from_field_text(self.fields.id, id));
        writer.writer.add_document(document)?;
        writer.pending.insert(id.to_owned(), version);
        Ok(())
    }

    /// The version held for `id`: written since the last commit, else committed. Called under the
    /// writer lock, so that nothing is written between the look-up and the write.
    fn held_version(&self, writer: &Writer, id: &str) -> Result<Option<u64>> {
        if let Some(version) = writer.pending.get(id) {
            return Ok(Some(*version));
        }
        let term = Term::from_field_text(self.fields.id, id);
        let searcher = self.reader.searcher();
        let mut held = None;
        for segment in searcher.segment_readers() {
            let inverted = segment.inverted_index(self.fields.id)?;
            let Some(mut postings) = inverted.read_postings(&term, IndexRecordOption::Basic)?
            else {
                continue;
            };
            let versions = segment.fast_fields().u64(name::VERSION)?;
            let mut doc = postings.doc();
            while doc != TERMINATED {
                if segment
                    .alive_bitset()
                    .is_none_or(|alive| alive.is_alive(doc))
                {
                    held = held.max(versions.first(doc));
                }
                doc = postings.advance();
            }
        }
        Ok(held)
    }

    /// The document of a tombstone: enough to answer the version check, nothing to match.
    fn tombstone(&self, id: &str, version: u64) -> TantivyDocument {
        let f = &self.fields;
        let mut document = TantivyDocument::default();
        document.add_text(f.id, id);
        document.add_u64(f.version, version);
        document.add_text(f.visibility, VISIBLE_NONE);
        document
    }

    fn document(&self, doc: &ListingDoc) -> TantivyDocument {
        let visibility = doc.visibility();
        if visibility == VISIBLE_NONE {
            return self.tombstone(&doc.id, doc.version);
        }
        let f = &self.fields;
        let mut document = TantivyDocument::default();
        document.add_text(f.id, &doc.id);
        document.add_u64(f.version, doc.version);
        document.add_text(f.visibility, visibility);
        document.add_bytes(f.payload, &doc.payload);
        for (field, text) in [
            (f.title_zh, &doc.title.zh),
            (f.title_zh, &doc.variety),
            (f.title_en, &doc.title.en),
            (f.description_zh, &doc.description.zh),
            (f.description_en, &doc.description.en),
        ] {
            if !text.is_empty() {
                document.add_text(field, text);
            }
        }
        for name in &doc.category.names_zh {
            document.add_text(f.category_zh, name);
        }
        for name in &doc.category.names_en {
            document.add_text(f.category_en, name);
        }
        for id in &doc.category.path {
            document.add_text(f.category_ids, id);
        }
        if !doc.category.path.is_empty() {
            document.add_facet(
                f.category,
                tantivy::schema::Facet::from_path(&doc.category.path),
            );
        }
        if !doc.village.as_str().is_empty() {
            document.add_facet(f.area, area_facet(&doc.village));
            if let Some(code) = full_code(&doc.village) {
                document.add_u64(f.village, code);
            }
        }
        if doc.grade != ProduceGrade::Unspecified {
            document.add_facet(f.grade, enum_facet(doc.grade.as_str_name()));
        }
        for certification in &doc.certifications {
            if *certification != Certification::Unspecified {
                document.add_facet(f.certification, enum_facet(certification.as_str_name()));
            }
        }
        document.add_bool(f.traceable, doc.traceable);
        document.add_i64(f.price, doc.price_minor);
        document.add_u64(f.available, doc.available);
        document.add_i64(f.created, doc.published_at_ms);
        document
    }

    /// The tantivy query for `query`, given the clauses of its text: the text (if any) scores;
    /// every filter only restricts.
    fn query(&self, text: Vec<Box<dyn Query>>, query: &SearchQuery) -> BooleanQuery {
        let f = &self.fields;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = text
            .into_iter()
            .map(|clause| (Occur::Must, clause))
            .collect();

        let mut visible = vec![VISIBLE_ACTIVE];
        if query.include_sold_out {
            visible.push(VISIBLE_SOLD_OUT);
        }
        let mut filters: Vec<Box<dyn Query>> = vec![any_of(
            visible
                .into_iter()
                .map(|value| Term::from_field_text(f.visibility, value)),
        )];
        if !query.category_ids.is_empty() {
            filters.push(any_of(
                query
                    .category_ids
                    .iter()
                    .map(|id| Term::from_field_text(f.category_ids, id)),
            ));
        }
        // The whole country among the areas filters nothing.
        if !query.areas.is_empty() && query.areas.iter().all(|area| !area.as_str().is_empty()) {
            filters.push(any_of(
                query
                    .areas
                    .iter()
                    .map(|area| Term::from_facet(f.area, &area_facet(area))),
            ));
        }
        if query.price_min.is_some() || query.price_max.is_some() {
            let bound = |value: Option<i64>| {
                value.map_or(Bound::Unbounded, |value| {
                    Bound::Included(Term::from_field_i64(f.price, value))
                })
            };
            filters.push(Box::new(RangeQuery::new(
                bound(query.price_min),
                bound(query.price_max),
            )));
        }
        if !query.grades.is_empty() {
            filters.push(any_of(query.grades.iter().map(|grade| {
                Term::from_facet(f.grade, &enum_facet(grade.as_str_name()))
            })));
        }
        if query.traceable_only {
            filters.push(any_of(std::iter::once(Term::from_field_bool(
                f.traceable,
                true,
            ))));
        }
        for certification in &query.certifications {
            filters.push(any_of(std::iter::once(Term::from_facet(
                f.certification,
                &enum_facet(certification.as_str_name()),
            ))));
        }
        if let Some(min) = query.min_available {
            filters.push(Box::new(RangeQuery::new(
                Bound::Included(Term::from_field_u64(f.available, min)),
                Bound::Unbounded,
            )));
        }
        clauses.extend(filters.into_iter().map(|filter| {
            (
                Occur::Must,
                Box::new(ConstScoreQuery::new(filter, 0.0)) as _,
            )
        }));
        BooleanQuery::new(clauses)
    }

    /// One clause per word of `text`: the word, analyzed by each language, in any text field.
    /// Words that analyze to nothing (punctuation) are dropped.
    fn text_clauses(&self, text: &str) -> Vec<Box<dyn Query>> {
        let f = &self.fields;
        let mut zh = self.zh.clone();
        let mut en = self.en.clone();
        let mut clauses = Vec::new();
        for word in text.split_whitespace().take(MAX_WORDS) {
            let mut should: Vec<(Occur, Box<dyn Query>)> = Vec::new();
            for (analyzer, fields) in [
                (
                    &mut zh,
                    [
                        (f.title_zh, TITLE_BOOST),
                        (f.category_zh, CATEGORY_BOOST),
                        (f.description_zh, DESCRIPTION_BOOST),
                    ],
                ),
                (
                    &mut en,
                    [
                        (f.title_en, TITLE_BOOST),
                        (f.category_en, CATEGORY_BOOST),
                        (f.description_en, DESCRIPTION_BOOST),
                    ],
                ),
            ] {
                for token in tokens(analyzer, word) {
                    for (field, boost) in fields {
                        let term = TermQuery::new(
                            Term::from_field_text(field, &token),
                            IndexRecordOption::WithFreqs,
                        );
                        should.push((
                            Occur::Should,
                            Box::new(BoostQuery::new(Box::new(term), boost)),
                        ));
                    }
                }
            }
            if !should.is_empty() {
                clauses.push(Box::new(BooleanQuery::new(should)) as Box<dyn Query>);
            }
        }
        clauses
    }

    fn hit(&self, searcher: &Searcher, score: Option<f32>, address: DocAddress) -> Result<Hit> {
        let document: TantivyDocument = searcher.doc(address)?;
        let f = &self.fields;
        Ok(Hit {
            id: document
                .get_first(f.id)
                .and_then(|value| value.as_str())
                .unwrap_or_default()
                .to_owned(),
            version: document
                .get_first(f.version)
                .and_then(|value| value.as_u64())
                .unwrap_or_default(),
            score,
            payload: document
                .get_first(f.payload)
                .and_then(|value| value.as_bytes())
                .unwrap_or_default()
                .to_vec(),
        })
    }
}

/// The top-k collector's handle, by the type of its sort key.
enum TopHandle {
    Score(tantivy::collector::FruitHandle<Vec<(f32, DocAddress)>>),
    Value(tantivy::collector::FruitHandle<Vec<(Option<i64>, DocAddress)>>),
}

/// The distinct tokens `analyzer` makes of `text`, without those that hold no letter or digit
/// (jieba emits punctuation and spaces as tokens).
fn tokens(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    analyzer.token_stream(text).process(&mut |token| {
        if token.text.chars().any(char::is_alphanumeric) && !out.contains(&token.text) {
            out.push(token.text.clone());
        }
    });
    out
}

/// A filter matching documents with any of `terms`.
fn any_of(terms: impl Iterator<Item = Term>) -> Box<dyn Query> {
    let mut queries: Vec<(Occur, Box<dyn Query>)> = terms
        .map(|term| {
            (
                Occur::Should,
                Box::new(TermQuery::new(term, IndexRecordOption::Basic)) as Box<dyn Query>,
            )
        })
        .collect();
    match queries.len() {
        1 => queries.remove(0).1,
        _ => Box::new(BooleanQuery::new(queries)),
    }
}

/// The facet of an area: the normalized prefix of each level from the province down, so that
/// every ancestor is a facet of its own (`/11/1101/110101`). The whole country is the root.
fn area_facet(scope: &AdminScope) -> tantivy::schema::Facet {
    tantivy::schema::Facet::from_path(scope.covering().into_iter().skip(1).map(String::from))
}

/// The one-level facet of a protobuf enum value, by its name (`/PRODUCE_GRADE_PREMIUM`).
fn enum_facet(name: &str) -> tantivy::schema::Facet {
    tantivy::schema::Facet::from_path([name])
}

/// The children of `under` with their counts: by count descending, then by value.
fn term_buckets(counts: &FacetCounts, under: &tantivy::schema::Facet) -> Vec<Bucket> {
    let mut buckets: Vec<Bucket> = counts
        .get(under.clone())
        .filter_map(|(facet, count)| {
            facet.to_path().last().map(|value| Bucket {
                value: (*value).to_owned(),
                count,
            })
        })
        .collect();
    sort_buckets(&mut buckets);
    buckets
}

/// By count descending, then by value.
fn sort_buckets(buckets: &mut [Bucket]) {
    buckets.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
}

/// The digits of a code at `level`.
fn level_digits(level: AdminLevel) -> u32 {
    match level {
        AdminLevel::Country => 0,
        AdminLevel::Province => 2,
        AdminLevel::City => 4,
        AdminLevel::County => 6,
        AdminLevel::Township => 9,
        AdminLevel::Village => 12,
    }
}

/// The 12-digit code of an area as a number (`110101` is `110101000000`), for the area counts.
fn full_code(scope: &AdminScope) -> Option<u64> {
    format!("{:0<12}", scope.as_str()).parse().ok()
}

/// The range buckets of sorted `bounds` with their counts (one more bucket than bounds).
fn range_buckets<T: Copy>(bounds: &[T], counts: Vec<u64>) -> Vec<RangeBucket<T>> {
    counts
        .into_iter()
        .enumerate()
        .map(|(i, count)| RangeBucket {
            from: i.checked_sub(1).and_then(|j| bounds.get(j).copied()),
            to: bounds.get(i).copied(),
            count,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(code: &str) -> AdminScope {
        AdminScope::parse(code).expect("a valid code")
    }

    /// An active listing of first-grade apples in one village of Dongcheng, Beijing.
    fn listing(id: &str, title_zh: &str) -> ListingDoc {
        ListingDoc {
            id: id.to_owned(),
            version: 1,
            status: ListingStatus::Active,
            hidden: false,
            title: Texts {
                zh: title_zh.to_owned(),
                en: String::new(),
            },
            description: Texts::default(),
            variety: String::new(),
            category: CategoryDoc {
                path: vec!["fruit".to_owned(), "fruit.apple".to_owned()],
                names_zh: vec!["苹果".to_owned(), "水果".to_owned()],
                names_en: vec!["apple".to_owned(), "fruit".to_owned()],
            },
            village: scope("110101001001"),
            price_minor: 500,
            grade: ProduceGrade::First,
            certifications: Vec::new(),
            traceable: false,
            available: 1_000,
            published_at_ms: 1_000,
            payload: id.as_bytes().to_vec(),
        }
    }

    fn index_with(docs: &[ListingDoc]) -> SearchIndex {
        let index = SearchIndex::open_in_ram().expect("index");
        for doc in docs {
            assert_eq!(index.upsert(doc).expect("upsert"), Applied::Written);
        }
        index.commit().expect("commit");
        index
    }

    fn ids(index: &SearchIndex, query: &SearchQuery) -> Vec<String> {
        let page = index.search(query).expect("search");
        page.hits.into_iter().map(|hit| hit.id).collect()
    }

    fn text(text: &str) -> SearchQuery {
        SearchQuery {
            text: text.to_owned(),
            ..SearchQuery::default()
        }
    }

    fn sorted(mut ids: Vec<String>) -> Vec<String> {
        ids.sort();
        ids
    }

    #[test]
    fn the_index_can_be_shared_between_threads() {
        fn shared<T: Send + Sync>() {}
        shared::<SearchIndex>();
    }

    #[test]
    fn punctuation_alone_is_a_blank_text() {
        let index = priced_and_dated();
        // Blank text sorts newest first by default; so does text that analyzes to nothing.
        assert_eq!(ids(&index, &text("，。!")), ["a", "c", "b"]);
    }

    #[test]
    fn a_chinese_title_is_found_by_a_word_inside_it() {
        let mut pears = listing("b", "砀山酥梨");
        pears.category = CategoryDoc::default();
        let index = index_with(&[listing("a", "红富士苹果"), pears]);
        assert_eq!(ids(&index, &text("苹果")), ["a"]);
        assert_eq!(ids(&index, &text("红富士")), ["a"]);
    }

    #[test]
    fn a_chinese_listing_is_found_by_its_categorys_english_name() {
        let mut other = listing("b", "砀山酥梨");
        other.category = CategoryDoc {
            path: vec!["fruit".to_owned(), "fruit.pear".to_owned()],
            names_zh: vec!["梨".to_owned()],
            names_en: vec!["pear".to_owned()],
        };
        let index = index_with(&[listing("a", "红富士苹果"), other]);
        assert_eq!(ids(&index, &text("apple")), ["a"]);
        assert_eq!(ids(&index, &text("Apples")), ["a"]);
    }

    #[test]
    fn english_words_match_through_their_stem() {
        let mut doc = listing("a", "");
        doc.category = CategoryDoc::default();
        doc.title.en = "Crisp apple from the hills".to_owned();
        let index = index_with(&[doc]);
        assert_eq!(ids(&index, &text("apples")), ["a"]);
        assert_eq!(ids(&index, &text("hill")), ["a"]);
        assert!(ids(&index, &text("pears")).is_empty());
    }

    #[test]
    fn every_word_of_the_text_must_match() {
        let mut doc = listing("a", "红富士苹果");
        doc.title.en = "Fuji apple".to_owned();
        let index = index_with(&[doc, listing("b", "苹果")]);
        assert_eq!(ids(&index, &text("fuji 苹果")), ["a"]);
        assert_eq!(sorted(ids(&index, &text("苹果 ，"))), ["a", "b"]);
    }

    #[test]
    fn any_administrative_prefix_filters() {
        let mut b = listing("b", "苹果");
        b.village = scope("110101002003");
        let mut c = listing("c", "苹果");
        c.village = scope("110102001001");
        let index = index_with(&[listing("a", "苹果"), b, c]);
        let within = |code: &str| SearchQuery {
            areas: vec![scope(code)],
            ..SearchQuery::default()
        };
        assert_eq!(sorted(ids(&index, &within("110101"))), ["a", "b"]);
        assert_eq!(ids(&index, &within("110101002")), ["b"]);
        assert_eq!(ids(&index, &within("110102000000")), ["c"]);
        assert_eq!(ids(&index, &within("11")).len(), 3);
        assert!(ids(&index, &within("12")).is_empty());
    }

    #[test]
    fn a_category_filter_takes_its_descendants() {
        let mut pear = listing("b", "酥梨");
        pear.category.path = vec!["fruit".to_owned(), "fruit.pear".to_owned()];
        let mut cabbage = listing("c", "大白菜");
        cabbage.category.path = vec!["vegetable".to_owned()];
        let index = index_with(&[listing("a", "苹果"), pear, cabbage]);
        let within = |ids: &[&str]| SearchQuery {
            category_ids: ids.iter().map(|id| (*id).to_owned()).collect(),
            ..SearchQuery::default()
        };
        assert_eq!(sorted(ids(&index, &within(&["fruit"]))), ["a", "b"]);
        assert_eq!(ids(&index, &within(&["fruit.pear"])), ["b"]);
        assert_eq!(
            sorted(ids(&index, &within(&["fruit.apple", "vegetable"]))),
            ["a", "c"]
        );
    }

    #[test]
    fn price_bounds_are_inclusive() {
        let docs: Vec<ListingDoc> = [("a", 300), ("b", 500), ("c", 800)]
            .into_iter()
            .map(|(id, price)| ListingDoc {
                price_minor: price,
                ..listing(id, "苹果")
            })
            .collect();
        let index = index_with(&docs);
        let range = |min, max| SearchQuery {
            price_min: min,
            price_max: max,
            ..SearchQuery::default()
        };
        assert_eq!(
            sorted(ids(&index, &range(Some(500), Some(800)))),
            ["b", "c"]
        );
        assert_eq!(ids(&index, &range(None, Some(499))), ["a"]);
        assert_eq!(ids(&index, &range(Some(801), None)), Vec::<String>::new());
        // Bounds the wrong way round, or at the ends of the type, are no error: nothing or all.
        assert!(ids(&index, &range(Some(800), Some(300))).is_empty());
        assert_eq!(ids(&index, &range(Some(i64::MIN), Some(i64::MAX))).len(), 3);
    }

    #[test]
    fn grade_is_any_of_and_certifications_all_of() {
        let mut b = listing("b", "苹果");
        b.grade = ProduceGrade::Premium;
        b.certifications = vec![Certification::Organic, Certification::GreenFood];
        let mut c = listing("c", "苹果");
        c.certifications = vec![Certification::Organic];
        let index = index_with(&[listing("a", "苹果"), b, c]);
        let grades = SearchQuery {
            grades: vec![ProduceGrade::Premium, ProduceGrade::Second],
            ..SearchQuery::default()
        };
        assert_eq!(ids(&index, &grades), ["b"]);
        let organic = SearchQuery {
            certifications: vec![Certification::Organic],
            ..SearchQuery::default()
        };
        assert_eq!(sorted(ids(&index, &organic)), ["b", "c"]);
        let both = SearchQuery {
            certifications: vec![Certification::Organic, Certification::GreenFood],
            ..SearchQuery::default()
        };
        assert_eq!(ids(&index, &both), ["b"]);
    }

    #[test]
    fn traceable_only_keeps_listings_linked_to_a_harvest_lot() {
        let traced = ListingDoc {
            traceable: true,
            ..listing("b", "苹果")
        };
        let index = index_with(&[listing("a", "苹果"), traced]);
        let query = SearchQuery {
            traceable_only: true,
            ..SearchQuery::default()
        };
        assert_eq!(ids(&index, &query), ["b"]);
        assert_eq!(ids(&index, &SearchQuery::default()).len(), 2);
    }

    #[test]
    fn minimum_available_quantity_filters() {
        let mut small = listing("b", "苹果");
        small.available = 10;
        let index = index_with(&[listing("a", "苹果"), small]);
        let at_least = |min| SearchQuery {
            min_available: Some(min),
            ..SearchQuery::default()
        };
        assert_eq!(ids(&index, &at_least(11)), ["a"]);
        assert_eq!(sorted(ids(&index, &at_least(10))), ["a", "b"]);
    }

    #[test]
    fn facets_count_the_hits_of_the_search() {
        let mut b = listing("b", "苹果");
        b.village = scope("110101002003");
        b.grade = ProduceGrade::Premium;
        b.certifications = vec![Certification::Organic];
        b.price_minor = 900;
        let mut c = listing("c", "苹果");
        c.village = scope("110102001001");
        c.certifications = vec![Certification::Organic];
        c.category.path = vec!["fruit".to_owned(), "fruit.pear".to_owned()];
        let mut d = listing("d", "大白菜");
        d.category = CategoryDoc {
            path: vec!["vegetable".to_owned()],
            ..CategoryDoc::default()
        };
        let index = index_with(&[listing("a", "苹果"), b, c, d]);
        let query = SearchQuery {
            text: "苹果".to_owned(),
            facets: FacetRequest {
                category_under: Some(vec!["fruit".to_owned()]),
                area: Some(AreaFacet {
                    under: scope("1101"),
                    level: AdminLevel::County,
                }),
                grade: true,
                certification: true,
                price_bounds: Some(vec![600, 100]),
                available_bounds: Some(vec![1_000]),
            },
            ..SearchQuery::default()
        };
        let page = index.search(&query).expect("search");
        assert_eq!(page.total, 3);
        let bucket = |value: &str, count| Bucket {
            value: value.to_owned(),
            count,
        };
        let facets = page.facets;
        assert_eq!(
            facets.category,
            [bucket("fruit.apple", 2), bucket("fruit.pear", 1)]
        );
        assert_eq!(facets.area, [bucket("110101", 2), bucket("110102", 1)]);
        assert_eq!(
            facets.grade,
            [
                bucket("PRODUCE_GRADE_FIRST", 2),
                bucket("PRODUCE_GRADE_PREMIUM", 1)
            ]
        );
        assert_eq!(facets.certification, [bucket("CERTIFICATION_ORGANIC", 2)]);
        let range = |from, to, count| RangeBucket { from, to, count };
        assert_eq!(
            facets.price,
            [
                range(None, Some(100), 0),
                range(Some(100), Some(600), 2),
                range(Some(600), None, 1)
            ]
        );
        let available = |from, to, count| RangeBucket::<u64> { from, to, count };
        assert_eq!(
            facets.available,
            [
                available(None, Some(1_000), 0),
                available(Some(1_000), None, 3)
            ]
        );
    }

    #[test]
    fn the_area_facet_counts_at_any_level_under_the_area_asked() {
        let mut b = listing("b", "苹果");
        b.village = scope("110101002003");
        let mut c = listing("c", "苹果");
        c.village = scope("110101002004");
        let mut elsewhere = listing("d", "苹果");
        elsewhere.village = scope("120101001001");
        let index = index_with(&[listing("a", "苹果"), b, c, elsewhere]);
        let counts = |under: &str, level| {
            let query = SearchQuery {
                facets: FacetRequest {
                    area: Some(AreaFacet {
                        under: scope(under),
                        level,
                    }),
                    ..FacetRequest::default()
                },
                ..SearchQuery::default()
            };
            let area = index.search(&query).expect("search").facets.area;
            area.into_iter()
                .map(|bucket| (bucket.value, bucket.count))
                .collect::<Vec<_>>()
        };
        let pair = |value: &str, count: u64| (value.to_owned(), count);
        assert_eq!(
            counts("110101", AdminLevel::Township),
            [pair("110101002", 2), pair("110101001", 1)]
        );
        // Two levels down, and from the whole country.
        assert_eq!(counts("11", AdminLevel::County), [pair("110101", 3)]);
        assert_eq!(
            counts("", AdminLevel::Province),
            [pair("11", 3), pair("12", 1)]
        );
        assert_eq!(
            counts("110101002", AdminLevel::Village),
            [pair("110101002003", 1), pair("110101002004", 1)]
        );
    }

    fn priced_and_dated() -> SearchIndex {
        let docs: Vec<ListingDoc> = [("a", 500, 3), ("b", 300, 1), ("c", 800, 2)]
            .into_iter()
            .map(|(id, price, published)| ListingDoc {
                price_minor: price,
                published_at_ms: published,
                ..listing(id, "苹果")
            })
            .collect();
        index_with(&docs)
    }

    #[test]
    fn sorts_by_price_both_ways_and_by_newest() {
        let index = priced_and_dated();
        let by = |sort| SearchQuery {
            sort,
            ..SearchQuery::default()
        };
        assert_eq!(ids(&index, &by(Sort::PriceAsc)), ["b", "a", "c"]);
        assert_eq!(ids(&index, &by(Sort::PriceDesc)), ["c", "a", "b"]);
        assert_eq!(ids(&index, &by(Sort::Newest)), ["a", "c", "b"]);
        // Without text the default is newest.
        assert_eq!(ids(&index, &by(Sort::Default)), ["a", "c", "b"]);
    }

    #[test]
    fn relevance_puts_a_title_match_before_a_description_match() {
        let mut in_description = listing("a", "新鲜水果");
        in_description.category = CategoryDoc::default();
        in_description.description.zh = "自家种的红富士".to_owned();
        let mut in_title = listing("b", "红富士");
        in_title.category = CategoryDoc::default();
        let index = index_with(&[in_description, in_title]);
        let page = index.search(&text("红富士")).expect("search");
        let found: Vec<&str> = page.hits.iter().map(|hit| hit.id.as_str()).collect();
        assert_eq!(found, ["b", "a"]);
        assert!(
            page.hits
                .iter()
                .all(|hit| hit.score.is_some_and(|s| s > 0.0))
        );
    }

    #[test]
    fn pages_follow_the_sort_and_report_the_total() {
        let index = priced_and_dated();
        let page = |offset, limit| SearchQuery {
            sort: Sort::PriceAsc,
            offset,
            limit,
            ..SearchQuery::default()
        };
        let second = index.search(&page(1, 1)).expect("search");
        assert_eq!(second.total, 3);
        assert_eq!(second.hits.len(), 1);
        assert_eq!(second.hits[0].id, "a");
        assert_eq!(second.hits[0].payload, b"a");
        assert_eq!(ids(&index, &page(2, 5)), ["c"]);
        assert!(ids(&index, &page(3, 5)).is_empty());
        assert!(matches!(
            index.search(&page(MAX_OFFSET + 1, 5)),
            Err(IndexError::PageTooDeep { .. })
        ));
    }

    #[test]
    fn an_older_version_after_a_newer_one_is_dropped() {
        let index = SearchIndex::open_in_ram().expect("index");
        let newer = ListingDoc {
            version: 2,
            ..listing("a", "红富士苹果")
        };
        let older = ListingDoc {
            version: 1,
            ..listing("a", "砀山酥梨")
        };
        // In one batch, before any commit.
        assert_eq!(index.upsert(&newer).expect("upsert"), Applied::Written);
        assert_eq!(
            index.upsert(&older).expect("upsert"),
            Applied::Stale { held: 2 }
        );
        index.commit().expect("commit");
        // And across a commit, where the version comes from the index itself.
        assert_eq!(
            index.upsert(&older).expect("upsert"),
            Applied::Stale { held: 2 }
        );
        assert_eq!(
            index.upsert(&newer).expect("upsert"),
            Applied::Stale { held: 2 }
        );
        index.commit().expect("commit");
        assert_eq!(ids(&index, &text("苹果")), ["a"]);
        assert!(ids(&index, &text("酥梨")).is_empty());
        assert_eq!(
            index.search(&SearchQuery::default()).expect("search").total,
            1
        );
    }

    #[test]
    fn a_newer_version_replaces_the_older() {
        let index = index_with(&[listing("a", "红富士苹果")]);
        let newer = ListingDoc {
            version: 2,
            ..listing("a", "砀山酥梨")
        };
        assert_eq!(index.upsert(&newer).expect("upsert"), Applied::Written);
        index.commit().expect("commit");
        assert!(ids(&index, &text("红富士")).is_empty());
        assert_eq!(ids(&index, &text("酥梨")), ["a"]);
        assert_eq!(index.version_of("a").expect("version"), Some(2));
    }

    #[test]
    fn a_removed_listing_is_gone_and_stays_gone() {
        let index = index_with(&[listing("a", "苹果"), listing("b", "苹果")]);
        assert_eq!(index.remove("a", 2).expect("remove"), Applied::Written);
        index.commit().expect("commit");
        assert_eq!(ids(&index, &text("苹果")), ["b"]);
        assert_eq!(ids(&index, &SearchQuery::default()), ["b"]);
        // The event that created it, redelivered late.
        assert_eq!(
            index.upsert(&listing("a", "苹果")).expect("upsert"),
            Applied::Stale { held: 2 }
        );
        assert_eq!(
            index.remove("a", 1).expect("remove"),
            Applied::Stale { held: 2 }
        );
    }

    #[test]
    fn only_active_listings_are_found_and_sold_out_ones_on_request() {
        let paused = ListingDoc {
            status: ListingStatus::Paused,
            ..listing("paused", "苹果")
        };
        let hidden = ListingDoc {
            hidden: true,
            ..listing("hidden", "苹果")
        };
        let sold_out = ListingDoc {
            status: ListingStatus::SoldOut,
            ..listing("sold_out", "苹果")
        };
        let draft = ListingDoc {
            status: ListingStatus::Draft,
            ..listing("draft", "苹果")
        };
        let index = index_with(&[listing("active", "苹果"), paused, hidden, sold_out, draft]);
        assert_eq!(ids(&index, &text("苹果")), ["active"]);
        // Nor when the text is blank (out-of-search listings are tombstones without text).
        assert_eq!(ids(&index, &SearchQuery::default()), ["active"]);
        let with_sold_out = SearchQuery {
            include_sold_out: true,
            ..text("苹果")
        };
        assert_eq!(sorted(ids(&index, &with_sold_out)), ["active", "sold_out"]);
        // Out of search, the version is still held.
        assert_eq!(index.version_of("paused").expect("version"), Some(1));
    }

    #[test]
    fn a_listing_back_in_search_at_a_newer_version_is_found_again() {
        let paused = ListingDoc {
            status: ListingStatus::Paused,
            ..listing("a", "苹果")
        };
        let index = index_with(&[paused]);
        assert!(ids(&index, &text("苹果")).is_empty());
        let active = ListingDoc {
            version: 2,
            ..listing("a", "苹果")
        };
        assert_eq!(index.upsert(&active).expect("upsert"), Applied::Written);
        index.commit().expect("commit");
        assert_eq!(ids(&index, &text("苹果")), ["a"]);
    }

    #[test]
    fn a_directory_index_keeps_its_listings_and_versions_across_opens() {
        let dir = tempfile::tempdir().expect("temp dir");
        {
            let index = SearchIndex::open_in_dir(dir.path()).expect("open");
            let doc = ListingDoc {
                version: 3,
                ..listing("a", "苹果")
            };
            index.upsert(&doc).expect("upsert");
            index.commit().expect("commit");
        }
        let index = SearchIndex::open_in_dir(dir.path()).expect("reopen");
        assert_eq!(ids(&index, &text("苹果")), ["a"]);
        assert_eq!(
            index.upsert(&listing("a", "苹果")).expect("upsert"),
            Applied::Stale { held: 3 }
        );
    }
}
