//! The baseline: the same listings in a bare tantivy index, written the way a tantivy user would
//! write it. One text field (everything a word can match: titles, variety, descriptions, category
//! names) through the same jieba analyzer; category, area, grade and certification as facets
//! (filtered by a facet term, counted by the facet collector); price, quantity and publish time as
//! fast fields (filtered by range, sorted on, counted by a few-line collector). No versions, no
//! tombstones, no visibility, no payload: what the market's layer adds is what the comparison
//! shows.
//!
//! Areas are counted two ways ([`AreaCounting`]): by tantivy's facet collector, which is what a
//! tantivy user reaches for, and from the village code as a `u64` fast field cut at the level, as
//! the market index does; the second isolates the cost of the market's layer from its choice of
//! collector.

use std::collections::HashMap;
use std::ops::Bound;
use std::path::Path;

use tantivy::collector::{
    Collector, Count, FacetCollector, MultiCollector, SegmentCollector, TopDocs,
};
use tantivy::columnar::{Column, HasAssociatedColumnType};
use tantivy::query::{BooleanQuery, ConstScoreQuery, Occur, Query, RangeQuery, TermQuery};
use tantivy::schema::{
    FAST, Facet, FacetOptions, Field, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing,
    TextOptions, Value,
};
use tantivy::tokenizer::{LowerCaser, TextAnalyzer};
use tantivy::{
    DocId, Index, IndexReader, IndexWriter, Order, ReloadPolicy, Score, SegmentOrdinal,
    SegmentReader, TantivyDocument, Term,
};
use tantivy_jieba::JiebaTokenizer;
use terrace_market::search::index::{ListingDoc, Sort};
use terrace_proto::market::v1::ProduceGrade;

use super::queries::Spec;

/// The analyzer's name: jieba in search mode, lowercased, as the market's Chinese analyzer.
const JIEBA: &str = "jieba";

#[derive(Debug, Clone, Copy)]
struct Fields {
    id: Field,
    text: Field,
    category: Field,
    area: Field,
    grade: Field,
    certification: Field,
    price: Field,
    available: Field,
    created: Field,
    village: Field,
}

/// How a bare search counts areas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AreaCounting {
    /// `FacetCollector` on the area facet, children of the area asked.
    Facet,
    /// The 12-digit village code as a fast field, divided down to the level asked.
    Column,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(JIEBA)
            .set_index_option(IndexRecordOption::WithFreqs),
    );
    let fields = Fields {
        id: b.add_text_field("id", STRING | STORED),
        text: b.add_text_field("text", text),
        category: b.add_facet_field("category", FacetOptions::default()),
        area: b.add_facet_field("area", FacetOptions::default()),
        grade: b.add_facet_field("grade", FacetOptions::default()),
        certification: b.add_facet_field("certification", FacetOptions::default()),
        price: b.add_i64_field("price", FAST),
        available: b.add_u64_field("available", FAST),
        created: b.add_i64_field("created", FAST),
        village: b.add_u64_field("village", FAST),
    };
    (b.build(), fields)
}

fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(JiebaTokenizer::with_search_mode(true))
        .filter(LowerCaser)
        .build()
}

/// `/33/3305/330523/330523101/330523101201`: every level a facet of its own, as the market does.
fn area_facet(code: &str) -> Facet {
    Facet::from_path(
        [2, 4, 6, 9, 12]
            .into_iter()
            .filter(|len| *len <= code.len())
            .map(|len| &code[..len]),
    )
}

/// The writer of a new bare index in `dir`.
pub(crate) struct BareWriter {
    fields: Fields,
    writer: IndexWriter<TantivyDocument>,
}

impl std::fmt::Debug for BareWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BareWriter").finish_non_exhaustive()
    }
}

impl BareWriter {
    /// `memory` is the writer's heap, shared by its threads as in `Index::writer`.
    pub(crate) fn create(dir: &Path, memory: usize) -> tantivy::Result<Self> {
        let (schema, fields) = schema();
        let index = Index::create_in_dir(dir, schema)?;
        index.tokenizers().register(JIEBA, analyzer());
        Ok(Self {
            fields,
            writer: index.writer(memory)?,
        })
    }

    pub(crate) fn add(&self, doc: &ListingDoc) -> tantivy::Result<()> {
        let f = &self.fields;
        let mut document = TantivyDocument::default();
        document.add_text(f.id, &doc.id);
        for text in [
            &doc.title.zh,
            &doc.variety,
            &doc.title.en,
            &doc.description.zh,
            &doc.description.en,
        ]
        .into_iter()
        .chain(&doc.category.names_zh)
        .chain(&doc.category.names_en)
        {
            if !text.is_empty() {
                document.add_text(f.text, text);
            }
        }
        document.add_facet(f.category, Facet::from_path(&doc.category.path));
        document.add_facet(f.area, area_facet(doc.village.as_str()));
        if doc.grade != ProduceGrade::Unspecified {
            document.add_facet(f.grade, Facet::from_path([doc.grade.as_str_name()]));
        }
        for certification in &doc.certifications {
            document.add_facet(
                f.certification,
                Facet::from_path([certification.as_str_name()]),
            );
        }
        document.add_i64(f.price, doc.price_minor);
        document.add_u64(f.available, doc.available);
        document.add_i64(f.created, doc.published_at_ms);
        if let Ok(code) = format!("{:0<12}", doc.village.as_str()).parse() {
            document.add_u64(f.village, code);
        }
        self.writer.add_document(document)?;
        Ok(())
    }

    pub(crate) fn commit(&mut self) -> tantivy::Result<()> {
        self.writer.commit()?;
        Ok(())
    }
}

/// A bare index opened for searching.
pub(crate) struct BareIndex {
    fields: Fields,
    reader: IndexReader,
    analyzer: TextAnalyzer,
}

impl std::fmt::Debug for BareIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BareIndex").finish_non_exhaustive()
    }
}

/// What a bare search answers: the total, the page's ids, and the facet counts.
#[derive(Debug, Default)]
pub(crate) struct BarePage {
    pub(crate) total: u64,
    pub(crate) ids: Vec<String>,
    pub(crate) facets: Vec<Vec<(String, u64)>>,
    pub(crate) ranges: Vec<Vec<u64>>,
}

impl BareIndex {
    pub(crate) fn open(dir: &Path) -> tantivy::Result<Self> {
        let index = Index::open_in_dir(dir)?;
        index.tokenizers().register(JIEBA, analyzer());
        let (_, fields) = schema();
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(Self {
            fields,
            reader,
            analyzer: analyzer(),
        })
    }

    pub(crate) fn search(&self, spec: &Spec, areas: AreaCounting) -> tantivy::Result<BarePage> {
        let f = &self.fields;
        let mut analyzer = self.analyzer.clone();
        // Each word must match; any of its tokens will do (jieba's search mode gives 红富士苹果
        // its inner words, as the market's query does).
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for word in spec.text.split_whitespace() {
            let mut tokens: Vec<String> = Vec::new();
            analyzer.token_stream(word).process(&mut |token| {
                if token.text.chars().any(char::is_alphanumeric) && !tokens.contains(&token.text) {
                    tokens.push(token.text.clone());
                }
            });
            let should: Vec<(Occur, Box<dyn Query>)> = tokens
                .iter()
                .map(|token| {
                    let term = Term::from_field_text(f.text, token);
                    (
                        Occur::Should,
                        Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs)) as _,
                    )
                })
                .collect();
            if !should.is_empty() {
                clauses.push((Occur::Must, Box::new(BooleanQuery::new(should))));
            }
        }
        let mut filters: Vec<Box<dyn Query>> = Vec::new();
        let facet_term = |field: Field, facet: &Facet| -> Box<dyn Query> {
            Box::new(TermQuery::new(
                Term::from_facet(field, facet),
                IndexRecordOption::Basic,
            ))
        };
        if let Some(path) = spec.category {
            filters.push(facet_term(f.category, &Facet::from_path(path)));
        }
        if let Some(area) = spec.area {
            filters.push(facet_term(f.area, &area_facet(area)));
        }
        if let Some((min, max)) = spec.price {
            filters.push(Box::new(RangeQuery::new(
                Bound::Included(Term::from_field_i64(f.price, min)),
                Bound::Included(Term::from_field_i64(f.price, max)),
            )));
        }
        if !spec.grades.is_empty() {
            let any: Vec<(Occur, Box<dyn Query>)> = spec
                .grades
                .iter()
                .map(|grade| {
                    (
                        Occur::Should,
                        facet_term(f.grade, &Facet::from_path([grade.as_str_name()])),
                    )
                })
                .collect();
            filters.push(Box::new(BooleanQuery::new(any)));
        }
        if let Some(certification) = spec.certification {
            filters.push(facet_term(
                f.certification,
                &Facet::from_path([certification.as_str_name()]),
            ));
        }
        if let Some(min) = spec.min_available {
            filters.push(Box::new(RangeQuery::new(
                Bound::Included(Term::from_field_u64(f.available, min)),
                Bound::Unbounded,
            )));
        }
        clauses.extend(filters.into_iter().map(|filter| {
            (
                Occur::Must,
                Box::new(ConstScoreQuery::new(filter, 0.0)) as Box<dyn Query>,
            )
        }));
        let query = BooleanQuery::new(clauses);

        let searcher = self.reader.searcher();
        let mut collectors = MultiCollector::new();
        let count = collectors.add_collector(Count);
        let top = TopDocs::with_limit(20);
        let (by_score, by_value) = match spec.sort {
            Sort::PriceAsc => (
                None,
                Some(collectors.add_collector(top.order_by_fast_field::<i64>("price", Order::Asc))),
            ),
            Sort::PriceDesc => (
                None,
                Some(
                    collectors.add_collector(top.order_by_fast_field::<i64>("price", Order::Desc)),
                ),
            ),
            Sort::Newest => (
                None,
                Some(
                    collectors
                        .add_collector(top.order_by_fast_field::<i64>("created", Order::Desc)),
                ),
            ),
            Sort::Relevance | Sort::Default => {
                (Some(collectors.add_collector(top.order_by_score())), None)
            }
        };
        let facet = |field: &str, under: Facet| {
            let mut collector = FacetCollector::for_field(field);
            collector.add_facet(under.clone());
            (collector, under)
        };
        let (under_area, level) = spec.area_under();
        let mut facet_requests = vec![
            facet("category", Facet::from_path(spec.category_under())),
            facet("grade", Facet::root()),
            facet("certification", Facet::root()),
        ];
        let area_column = match areas {
            AreaCounting::Facet => {
                facet_requests.push(facet("area", area_facet(under_area)));
                None
            }
            AreaCounting::Column => {
                Some(collectors.add_collector(AreaCounts::new(under_area, level)))
            }
        };
        let facet_handles: Vec<_> = facet_requests
            .into_iter()
            .map(|(collector, under)| (collectors.add_collector(collector), under))
            .collect();
        let price = collectors.add_collector(RangeCounts::new("price", Spec::price_bounds()));
        let available =
            collectors.add_collector(RangeCounts::new("available", Spec::available_bounds()));

        let mut fruits = searcher.search(&query, &collectors)?;

        let addresses: Vec<_> = match (by_score, by_value) {
            (Some(handle), _) => handle
                .extract(&mut fruits)
                .into_iter()
                .map(|(_, address)| address)
                .collect(),
            (None, Some(handle)) => handle
                .extract(&mut fruits)
                .into_iter()
                .map(|(_, address)| address)
                .collect(),
            (None, None) => Vec::new(),
        };
        let mut page = BarePage {
            total: count.extract(&mut fruits) as u64,
            ..BarePage::default()
        };
        for (handle, under) in facet_handles {
            let counts = handle.extract(&mut fruits);
            let mut buckets: Vec<(String, u64)> = counts
                .get(under)
                .map(|(facet, count)| (facet.to_string(), count))
                .collect();
            buckets.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            page.facets.push(buckets);
        }
        if let Some(handle) = area_column {
            let mut buckets: Vec<(String, u64)> = handle
                .extract(&mut fruits)
                .into_iter()
                .map(|(code, count)| (code.to_string(), count))
                .collect();
            buckets.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            page.facets.push(buckets);
        }
        page.ranges.push(price.extract(&mut fruits));
        page.ranges.push(available.extract(&mut fruits));
        for address in addresses {
            let document: TantivyDocument = searcher.doc(address)?;
            page.ids.push(
                document
                    .get_first(f.id)
                    .and_then(|value| value.as_str())
                    .unwrap_or_default()
                    .to_owned(),
            );
        }
        Ok(page)
    }
}

/// Hits per bucket of a fast field, `n` bounds giving `n + 1` buckets: what a bare user writes
/// instead of a JSON range aggregation.
struct RangeCounts<T: 'static> {
    field: &'static str,
    bounds: &'static [T],
}

impl<T> RangeCounts<T> {
    fn new(field: &'static str, bounds: &'static [T]) -> Self {
        Self { field, bounds }
    }
}

impl<T> Collector for RangeCounts<T>
where
    T: HasAssociatedColumnType + Copy + PartialOrd + Send + Sync + 'static,
    tantivy::columnar::DynamicColumn: Into<Option<Column<T>>>,
{
    type Fruit = Vec<u64>;
    type Child = SegmentRangeCounts<T>;

    fn for_segment(
        &self,
        _segment_local_id: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<Self::Child> {
        Ok(SegmentRangeCounts {
            column: segment.fast_fields().column_opt::<T>(self.field)?,
            bounds: self.bounds,
            counts: vec![0; self.bounds.len() + 1],
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Vec<u64>>) -> tantivy::Result<Vec<u64>> {
        let mut total = vec![0; self.bounds.len() + 1];
        for fruit in fruits {
            for (sum, count) in total.iter_mut().zip(fruit) {
                *sum += count;
            }
        }
        Ok(total)
    }
}

struct SegmentRangeCounts<T: 'static> {
    column: Option<Column<T>>,
    bounds: &'static [T],
    counts: Vec<u64>,
}

impl<T> SegmentCollector for SegmentRangeCounts<T>
where
    T: HasAssociatedColumnType + Copy + PartialOrd + Send + Sync + 'static,
{
    type Fruit = Vec<u64>;

    fn collect(&mut self, doc: DocId, _score: Score) {
        if let Some(value) = self.column.as_ref().and_then(|column| column.first(doc)) {
            let bucket = self.bounds.partition_point(|bound| *bound <= value);
            if let Some(count) = self.counts.get_mut(bucket) {
                *count += 1;
            }
        }
    }

    fn harvest(self) -> Vec<u64> {
        self.counts
    }
}

/// Hits by village code cut to `level` digits, among the villages under `under`.
struct AreaCounts {
    under: u64,
    under_divisor: u64,
    level_divisor: u64,
}

impl AreaCounts {
    fn new(under: &str, level: usize) -> Self {
        let digits = |len: usize| 10u64.pow(12u32.saturating_sub(len as u32));
        Self {
            under: under.parse().unwrap_or(0),
            under_divisor: digits(under.len()),
            level_divisor: digits(level),
        }
    }
}

impl Collector for AreaCounts {
    type Fruit = HashMap<u64, u64>;
    type Child = SegmentAreaCounts;

    fn for_segment(
        &self,
        _segment_local_id: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<Self::Child> {
        Ok(SegmentAreaCounts {
            column: segment.fast_fields().column_opt::<u64>("village")?,
            under: self.under,
            under_divisor: self.under_divisor,
            level_divisor: self.level_divisor,
            counts: HashMap::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<HashMap<u64, u64>>) -> tantivy::Result<HashMap<u64, u64>> {
        let mut total = HashMap::new();
        for fruit in fruits {
            for (key, count) in fruit {
                *total.entry(key).or_insert(0) += count;
            }
        }
        Ok(total)
    }
}

struct SegmentAreaCounts {
    column: Option<Column<u64>>,
    under: u64,
    under_divisor: u64,
    level_divisor: u64,
    counts: HashMap<u64, u64>,
}

impl SegmentCollector for SegmentAreaCounts {
    type Fruit = HashMap<u64, u64>;

    fn collect(&mut self, doc: DocId, _score: Score) {
        if let Some(code) = self.column.as_ref().and_then(|column| column.first(doc))
            && code / self.under_divisor == self.under
        {
            *self.counts.entry(code / self.level_divisor).or_insert(0) += 1;
        }
    }

    fn harvest(self) -> HashMap<u64, u64> {
        self.counts
    }
}
