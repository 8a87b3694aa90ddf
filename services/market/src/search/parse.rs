//! *Parse*: `SearchListings` becomes an index query, every bad field reported at once.

use serde::{Deserialize, Serialize};
use terrace_platform::auth::{AdminLevel, AdminScope};
use terrace_platform::error::{Result, Violations};
use terrace_platform::validate::{self, PageSizes, Text};
use terrace_proto::common::v1 as common;
use terrace_proto::market::v1 as pb;

use super::index::{AreaFacet, FacetRequest, SearchQuery, Sort};
use crate::categories::taxonomy;
use crate::units;

const MAX_QUERY_CHARS: usize = 200;
/// The contract's page sizes for search.
const SEARCH_PAGES: PageSizes = PageSizes {
    default: 20,
    max: 100,
};
/// Price buckets, fen per kilogram: under ¥2, ¥2–5, ¥5–10, ¥10–20, ¥20–50, ¥50 and more.
const PRICE_BOUNDS: [i64; 5] = [200, 500, 1_000, 2_000, 5_000];
/// Available-quantity buckets, grams (or items): under 50 kg, to 500 kg, to 5 t, more.
const AVAILABLE_BOUNDS: [u64; 3] = [50_000, 500_000, 5_000_000];
/// The facets a search may count.
pub const FACETS: [&str; 6] = [
    "category",
    "area",
    "grade",
    "certification",
    "price",
    "available",
];

/// Where a search's next page starts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SearchCursor {
    pub offset: usize,
}

/// `SearchListings`.
#[derive(Debug)]
pub struct SearchListings {
    pub query: SearchQuery,
    pub locale: String,
    pub facets: Vec<String>,
    /// Prices also in this currency (an ISO 4217 code other than CNY), if asked.
    pub display_currency: Option<String>,
}

impl SearchListings {
    pub fn parse(request: &pb::SearchListingsRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let text = validate::text(
            &mut violations,
            "query",
            &request.query,
            Text::optional(MAX_QUERY_CHARS),
        );
        let locale = validate::locale(&mut violations, "locale", &request.locale);
        let page = validate::sized_page::<SearchCursor>(
            &mut violations,
            "page",
            request.page.as_ref(),
            SEARCH_PAGES,
        );
        for (index, id) in request.category_ids.iter().enumerate() {
            if taxonomy::find(id).is_none() {
                violations.add(format!("category_ids[{index}]"), "no such category");
            }
        }
        let areas: Vec<AdminScope> = request
            .areas
            .iter()
            .enumerate()
            .filter_map(|(index, area)| {
                validate::admin_code(&mut violations, &format!("areas[{index}]"), Some(area))
            })
            .collect();
        let (price_min, price_max) = price_range(&mut violations, request.price_range.as_ref());
        let grades = validate::enum_values::<pb::ProduceGrade>(
            &mut violations,
            "grades",
            &request.grades,
            "a grade such as PRODUCE_GRADE_FIRST",
        )
        .unwrap_or_default();
        let certifications = validate::enum_values::<pb::Certification>(
            &mut violations,
            "certifications",
            &request.certifications,
            "a certification such as CERTIFICATION_ORGANIC",
        )
        .unwrap_or_default();
        let min_available = request.min_available.as_ref().and_then(|quantity| {
            validate::quantity(
                &mut violations,
                "min_available",
                Some(quantity),
                validate::Sign::NotNegative,
            )
            .map(|quantity| units::search_amount(quantity.value_milli, quantity.unit))
        });
        let sort = match pb::ListingSort::try_from(request.sort) {
            Ok(pb::ListingSort::Unspecified) => Sort::Default,
            Ok(pb::ListingSort::Relevance) => Sort::Relevance,
            Ok(pb::ListingSort::PriceAsc) => Sort::PriceAsc,
            Ok(pb::ListingSort::PriceDesc) => Sort::PriceDesc,
            Ok(pb::ListingSort::Newest) => Sort::Newest,
            Err(_) => {
                violations.add("sort", "must be a ListingSort");
                Sort::Default
            }
        };
        if sort == Sort::Relevance && request.query.trim().is_empty() {
            violations.add("sort", "relevance needs a query");
        }
        let mut facets: Vec<String> = Vec::new();
        for (index, facet) in request.facets.iter().enumerate() {
            if !FACETS.contains(&facet.as_str()) {
                violations.add(
                    format!("facets[{index}]"),
                    format!("must be one of {}", FACETS.join(", ")),
                );
            } else if !facets.contains(facet) {
                facets.push(facet.clone());
            }
        }
        let area_level = match common::AdminLevel::try_from(request.area_facet_level) {
            Ok(common::AdminLevel::Unspecified) => AdminLevel::County,
            Ok(common::AdminLevel::Province) => AdminLevel::Province,
            Ok(common::AdminLevel::City) => AdminLevel::City,
            Ok(common::AdminLevel::County) => AdminLevel::County,
            Ok(common::AdminLevel::Township) => AdminLevel::Township,
            Ok(common::AdminLevel::Village) => AdminLevel::Village,
            _ => {
                violations.add(
                    "area_facet_level",
                    "must be a level from province to village",
                );
                AdminLevel::County
            }
        };
        if !request.display_currency.is_empty()
            && iso_currency::Currency::from_code(&request.display_currency.to_ascii_uppercase())
                .is_none()
        {
            violations.add(
                "display_currency",
                "must be an ISO 4217 currency code such as USD",
            );
        }
        violations.finish_with(|| {
            let page = page?;
            let wants = |name: &str| facets.iter().any(|facet| facet == name);
            let category_under = wants("category").then(|| match request.category_ids.as_slice() {
                [one] => taxonomy::path(one)
                    .iter()
                    .map(|entry| entry.id.to_owned())
                    .collect(),
                _ => Vec::new(),
            });
            let facet_request = FacetRequest {
                category_under,
                area: wants("area").then(|| AreaFacet {
                    under: match areas.as_slice() {
                        [one] => one.clone(),
                        _ => AdminScope::country(),
                    },
                    level: area_level,
                }),
                grade: wants("grade"),
                certification: wants("certification"),
                price_bounds: wants("price").then(|| PRICE_BOUNDS.to_vec()),
                available_bounds: wants("available").then(|| AVAILABLE_BOUNDS.to_vec()),
            };
            Some(Self {
                query: SearchQuery {
                    text: text?,
                    category_ids: request.category_ids.clone(),
                    areas,
                    price_min,
                    price_max,
                    grades,
                    certifications,
                    min_available,
                    traceable_only: request.traceable_only,
                    include_sold_out: request.include_sold_out,
                    sort,
                    facets: facet_request,
                    offset: page.after.map(|cursor| cursor.offset).unwrap_or_default(),
                    limit: usize::try_from(page.size).unwrap_or(20),
                },
                locale: locale?,
                facets,
                display_currency: Some(request.display_currency.to_ascii_uppercase())
                    .filter(|code| !code.is_empty() && code != "CNY"),
            })
        })
    }
}

/// The price range as the index compares it: fen per kilogram (a range per 斤 is doubled).
fn price_range(
    violations: &mut Violations,
    range: Option<&pb::PriceRange>,
) -> (Option<i64>, Option<i64>) {
    let Some(range) = range else {
        return (None, None);
    };
    let per_unit = match common::Unit::try_from(range.per_unit) {
        Ok(common::Unit::Unspecified) => common::Unit::Kilogram,
        Ok(unit) if units::is_mass(unit) => unit,
        _ => {
            violations.add(
                "price_range.per_unit",
                "must be a mass unit such as UNIT_KILOGRAM or UNIT_JIN",
            );
            return (None, None);
        }
    };
    let bound = |field: &str, money: Option<&common::Money>, violations: &mut Violations| {
        let money = money?;
        let parsed = validate::money(violations, field, Some(money), validate::Sign::NotNegative)?;
        units::price_per_kg(parsed.amount_minor, per_unit, None)
    };
    let min = bound("price_range.min", range.min.as_ref(), violations);
    let max = bound("price_range.max", range.max.as_ref(), violations);
    if let (Some(min), Some(max)) = (min, max)
        && min > max
    {
        violations.add("price_range", "min must not be above max");
    }
    (min, max)
}

/// A display currency a request names: an ISO 4217 code; `None` for none or CNY.
pub fn display_currency(code: &str) -> Result<Option<String>> {
    let code = code.trim().to_ascii_uppercase();
    if code.is_empty() || code == "CNY" {
        return Ok(None);
    }
    if iso_currency::Currency::from_code(&code).is_none() {
        return Err(terrace_platform::error::Error::invalid(
            "display_currency",
            "must be an ISO 4217 currency code such as USD",
        ));
    }
    Ok(Some(code))
}

/// `RebuildSearchIndex`: only its request id to check.
pub fn rebuild(request: &pb::RebuildSearchIndexRequest) -> Result<()> {
    let mut violations = Violations::new();
    validate::request_id(&mut violations, "request_id", &request.request_id);
    violations.finish()
}
