//! The search index of listings: `SearchListings`, `RebuildSearchIndex`.
//!
//! Each replica keeps its own tantivy index ([`index`]) in memory, built from the database at
//! start and fed by the listings' state stream ([`feed`]); [`parse`] turns a search request into
//! an index query, this module answers it from the hits' stored listings, without the database.
//!
//! # Layout
//!
//! - [`index`]: the tantivy index itself (schema, versioned writes, queries, facets); no gRPC,
//!   database or NATS in it.
//! - [`feed`]: this replica's index kept current: built at start, followed, rebuilt on demand.
//! - `tokenizer`: the Chinese (jieba) and English (stemmed) analyzers the index registers.
//! - `counts`: the collectors counting price and available-quantity ranges, and areas at a level.
//! - [`parse`]: `SearchListings` into an index query.

mod counts;
pub mod feed;
pub mod index;
pub mod parse;
mod tokenizer;

use prost::Message as _;
use terrace_platform::error::{Error, Result};
use terrace_platform::validate::page_response;
use terrace_proto::market::v1 as pb;

use self::feed::Feed;
use self::index::{Bucket, IndexError, RangeBucket};
use self::parse::{SearchCursor, SearchListings};
use crate::categories::taxonomy;

/// `SearchListings` over this replica's index.
/// `rate`: the buyer's currency's exchange rate, when they asked for one and operators keep it.
pub fn search(
    feed: &Feed,
    command: &SearchListings,
    rate: Option<&crate::rates::Rate>,
) -> Result<pb::SearchListingsResponse> {
    let page = feed
        .index()
        .search(&command.query)
        .map_err(|error| match error {
            IndexError::PageTooDeep { max, .. } => Error::invalid(
                "page.page_token",
                format!("at most {max} results are paged through"),
            ),
            other => Error::internal(other),
        })?;
    let results = page
        .hits
        .iter()
        .filter_map(|hit| pb::Listing::decode(hit.payload.as_slice()).ok())
        .zip(page.hits.iter())
        .map(|(listing, hit)| {
            let highlighted_title = highlight(&listing, &command.locale, &command.query.text);
            pb::ListingSearchResult {
                indicative_price: rate.and_then(|rate| crate::rates::indicative(&listing, rate)),
                listing: Some(listing),
                score: hit.score.unwrap_or_default(),
                highlighted_title,
            }
        })
        .collect::<Vec<_>>();
    let shown = command.query.offset + results.len();
    let next = (u64::try_from(shown).unwrap_or(u64::MAX) < page.total && !results.is_empty())
        .then_some(SearchCursor { offset: shown });
    let mut response_page = page_response(next.as_ref());
    response_page.total_size = Some(i64::try_from(page.total).unwrap_or(i64::MAX));
    Ok(pb::SearchListingsResponse {
        results,
        facets: facets(command, &page.facets),
        page: Some(response_page),
    })
}

/// The title in `locale` (or Chinese) with each query word wrapped in `<em>`, HTML-escaped.
fn highlight(listing: &pb::Listing, locale: &str, text: &str) -> String {
    let translations = listing.title.as_ref().map(|t| &t.translations);
    let title = translations
        .and_then(|t| {
            t.get(locale)
                .or_else(|| t.get("zh-CN"))
                .or_else(|| t.values().next())
        })
        .map(String::as_str)
        .unwrap_or_default();
    let mut out = escape(title);
    for word in text.split_whitespace() {
        let word = escape(word);
        if !word.is_empty() && out.contains(&word) {
            out = out.replace(&word, &format!("<em>{word}</em>"));
        }
    }
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn facets(command: &SearchListings, counted: &index::FacetResults) -> Vec<pb::Facet> {
    let label_of_category = |id: &str| {
        taxonomy::find(id)
            .map(|entry| {
                if command.locale == "en" {
                    entry.en
                } else {
                    entry.zh
                }
                .to_owned()
            })
            .unwrap_or_else(|| id.to_owned())
    };
    let terms = |field: &str, buckets: &[Bucket], label: &dyn Fn(&str) -> String| pb::Facet {
        field: field.to_owned(),
        buckets: buckets
            .iter()
            .map(|bucket| pb::FacetBucket {
                value: bucket.value.clone(),
                label: label(&bucket.value),
                count: i64::try_from(bucket.count).unwrap_or(i64::MAX),
            })
            .collect(),
    };
    fn ranges<T: ToString + Copy>(field: &str, buckets: &[RangeBucket<T>]) -> pb::Facet {
        pb::Facet {
            field: field.to_owned(),
            buckets: buckets
                .iter()
                .map(|bucket| {
                    let end = |v: Option<T>| v.map(|v| v.to_string()).unwrap_or_default();
                    let value = format!("{}-{}", end(bucket.from), end(bucket.to));
                    pb::FacetBucket {
                        label: value.clone(),
                        value,
                        count: i64::try_from(bucket.count).unwrap_or(i64::MAX),
                    }
                })
                .collect(),
        }
    }
    let mut out = Vec::new();
    for field in &command.facets {
        out.push(match field.as_str() {
            "category" => terms("category", &counted.category, &label_of_category),
            "area" => terms("area", &counted.area, &|code: &str| code.to_owned()),
            "grade" => terms("grade", &counted.grade, &|name: &str| name.to_owned()),
            "certification" => terms("certification", &counted.certification, &|name: &str| {
                name.to_owned()
            }),
            "price" => ranges("price", &counted.price),
            "available" => ranges("available", &counted.available),
            _ => continue,
        });
    }
    out
}

/// Names the area facet's buckets (`330523` → 安吉县) from market's projection of places, and
/// writes their values as the contract's 12-digit codes.
pub async fn name_areas(
    db: &sea_orm::DatabaseConnection,
    response: &mut pb::SearchListingsResponse,
) -> Result<()> {
    let Some(areas) = response
        .facets
        .iter_mut()
        .find(|facet| facet.field == "area")
    else {
        return Ok(());
    };
    let codes: Vec<String> = areas
        .buckets
        .iter()
        .map(|bucket| bucket.value.clone())
        .collect();
    let names = crate::places::names(db, &codes).await?;
    for bucket in &mut areas.buckets {
        if let Some(name) = names.get(&bucket.value) {
            bucket.label.clone_from(name);
        }
        if let Ok(scope) = terrace_platform::auth::AdminScope::parse(&bucket.value) {
            bucket.value = scope.to_proto().code;
        }
    }
    Ok(())
}

/// `RebuildSearchIndex`: platform admins rebuild this replica's index from the database.
pub async fn rebuild(
    feed: &Feed,
    caller: &terrace_platform::auth::Caller,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<pb::RebuildSearchIndexResponse> {
    use terrace_platform::auth::{AdminScope, Role};
    if !caller.covers(&AdminScope::country(), Role::PlatformAdmin.rank(), None) {
        return Err(Error::permission_denied(
            "NOT_A_PLATFORM_ADMIN",
            "the search index is rebuilt by platform admins",
        ));
    }
    let indexed = feed.rebuild().await.map_err(|error| match error {
        feed::RebuildError::Running => Error::failed_precondition(
            "REBUILD_RUNNING",
            "a rebuild of the search index is running",
        ),
        feed::RebuildError::Failed(error) => Error::internal(error),
    })?;
    Ok(pb::RebuildSearchIndexResponse {
        indexed_count: i64::try_from(indexed).unwrap_or(i64::MAX),
        complete_time: Some(terrace_platform::validate::to_timestamp(now)),
    })
}
