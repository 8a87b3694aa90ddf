//! The query mix: 56 query terms, Chinese and English, rotated against eight filter patterns
//! (none; category; area; price range; grade; certification with category; minimum quantity with
//! area; all four of category, area, price and grade) and three orders (relevance, price, newest),
//! every search asking for all six facet counts. The filters follow the term, as a buyer's would:
//! 苹果 is filtered to fruit or apples, not to tea.

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use terrace_market::search::index::{AreaFacet, FacetRequest, SearchQuery, Sort};
use terrace_platform::auth::{AdminLevel, AdminScope};
use terrace_proto::market::v1::{Certification, ProduceGrade};

/// Seed of the filter values; fixed so that runs compare.
const SEED: u64 = 0x5ea4c4;

/// Query terms and the category path a buyer would narrow them to.
pub(crate) const TERMS: [(&str, &[&str]); 56] = [
    ("苹果", &["fruit", "fruit.apple"]),
    ("红富士", &["fruit", "fruit.apple"]),
    ("富士苹果", &["fruit", "fruit.apple"]),
    ("梨", &["fruit", "fruit.pear"]),
    ("酥梨", &["fruit", "fruit.pear"]),
    ("砀山酥梨", &["fruit", "fruit.pear"]),
    ("香梨", &["fruit", "fruit.pear"]),
    ("脐橙", &["fruit", "fruit.citrus"]),
    ("橙子", &["fruit", "fruit.citrus"]),
    ("赣南脐橙", &["fruit", "fruit.citrus"]),
    ("沃柑", &["fruit", "fruit.citrus"]),
    ("葡萄", &["fruit", "fruit.grape"]),
    ("猕猴桃", &["fruit", "fruit.kiwi"]),
    ("柿饼", &["fruit", "fruit.persimmon"]),
    ("樱桃", &["fruit", "fruit.cherry"]),
    ("草莓", &["fruit", "fruit.strawberry"]),
    ("土豆", &["vegetable", "vegetable.potato"]),
    ("马铃薯", &["vegetable", "vegetable.potato"]),
    ("白菜", &["vegetable", "vegetable.cabbage"]),
    ("西红柿", &["vegetable", "vegetable.tomato"]),
    ("黄瓜", &["vegetable", "vegetable.cucumber"]),
    ("红薯", &["vegetable", "vegetable.sweet_potato"]),
    ("大米", &["grain", "grain.rice"]),
    ("五常大米", &["grain", "grain.rice"]),
    ("稻花香", &["grain", "grain.rice"]),
    ("小米", &["grain", "grain.millet"]),
    ("玉米", &["grain", "grain.corn"]),
    ("白茶", &["tea", "tea.green"]),
    ("安吉白茶", &["tea", "tea.green"]),
    ("龙井", &["tea", "tea.green"]),
    ("铁观音", &["tea", "tea.oolong"]),
    ("普洱", &["tea", "tea.puer"]),
    ("茶叶", &["tea"]),
    ("土鸡蛋", &["livestock", "livestock.egg"]),
    ("鸡蛋", &["livestock", "livestock.egg"]),
    ("土鸡", &["livestock", "livestock.poultry"]),
    ("黑猪肉", &["livestock", "livestock.pork"]),
    ("蜂蜜", &["specialty", "specialty.honey"]),
    ("核桃", &["specialty", "specialty.nut"]),
    ("香菇", &["specialty", "specialty.mushroom"]),
    ("木耳", &["specialty", "specialty.mushroom"]),
    ("水果", &["fruit"]),
    ("有机", &[]),
    ("新鲜 苹果", &["fruit", "fruit.apple"]),
    ("农家 土鸡蛋", &["livestock", "livestock.egg"]),
    ("apple", &["fruit", "fruit.apple"]),
    ("apples", &["fruit", "fruit.apple"]),
    ("fuji", &["fruit", "fruit.apple"]),
    ("pear", &["fruit", "fruit.pear"]),
    ("orange", &["fruit", "fruit.citrus"]),
    ("tea", &["tea"]),
    ("green tea", &["tea", "tea.green"]),
    ("rice", &["grain", "grain.rice"]),
    ("eggs", &["livestock", "livestock.egg"]),
    ("honey", &["specialty", "specialty.honey"]),
    ("walnut", &["specialty", "specialty.nut"]),
];

/// Filter patterns rotated over the terms.
const PATTERNS: usize = 8;

/// Price bucket bounds asked for, fen: 5, 10, 20, 50, 100 yuan.
const PRICE_BOUNDS: [i64; 5] = [500, 1_000, 2_000, 5_000, 10_000];
/// Quantity bucket bounds asked for, grams: 10 kg, 100 kg, 1 t.
const AVAILABLE_BOUNDS: [u64; 3] = [10_000, 100_000, 1_000_000];

/// Areas filtered on: provinces, counties and townships of the generated listings.
const AREAS: [&str; 10] = [
    "33",
    "37",
    "330523",
    "341321",
    "230184",
    "360734",
    "370686",
    "610629",
    "330523105",
    "370686103",
];

/// One search of the mix, in the terms both indexes are queried with.
#[derive(Debug, Clone)]
pub(crate) struct Spec {
    pub(crate) text: &'static str,
    /// A category path; filtered on by its last id (with its descendants).
    pub(crate) category: Option<&'static [&'static str]>,
    /// A division code prefix.
    pub(crate) area: Option<&'static str>,
    pub(crate) price: Option<(i64, i64)>,
    pub(crate) grades: Vec<ProduceGrade>,
    pub(crate) certification: Option<Certification>,
    pub(crate) min_available: Option<u64>,
    pub(crate) sort: Sort,
}

impl Spec {
    /// The search in a line: `"苹果" category fruit, area 33, price 100..2000, newest`.
    pub(crate) fn describe(&self) -> String {
        let mut parts = vec![format!("{:?}", self.text)];
        if let Some(path) = self.category {
            parts.push(format!("category {}", path.last().unwrap_or(&"")));
        }
        if let Some(area) = self.area {
            parts.push(format!("area {area}"));
        }
        if let Some((min, max)) = self.price {
            parts.push(format!("price {min}..={max}"));
        }
        if !self.grades.is_empty() {
            parts.push("premium or first grade".to_owned());
        }
        if let Some(certification) = self.certification {
            parts.push(certification.as_str_name().to_owned());
        }
        if let Some(min) = self.min_available {
            parts.push(format!("available >= {min} g"));
        }
        parts.push(format!("{:?}", self.sort).to_lowercase());
        parts.join(", ")
    }

    /// The category path whose children are counted: the filtered one, else the top level.
    pub(crate) fn category_under(&self) -> &'static [&'static str] {
        self.category.unwrap_or(&[])
    }

    /// The area under which areas are counted (the filtered one, else the country), and the
    /// length of the codes counted: one level down.
    pub(crate) fn area_under(&self) -> (&'static str, usize) {
        let under = self.area.unwrap_or("");
        let level = match under.len() {
            0 => 2,
            2 => 4,
            4 => 6,
            6 => 9,
            _ => 12,
        };
        (under, level)
    }

    pub(crate) fn price_bounds() -> &'static [i64] {
        &PRICE_BOUNDS
    }

    pub(crate) fn available_bounds() -> &'static [u64] {
        &AVAILABLE_BOUNDS
    }

    /// The query for the index under test.
    pub(crate) fn ours(&self) -> SearchQuery {
        let (under, level) = self.area_under();
        let level = match level {
            2 => AdminLevel::Province,
            4 => AdminLevel::City,
            6 => AdminLevel::County,
            9 => AdminLevel::Township,
            _ => AdminLevel::Village,
        };
        SearchQuery {
            text: self.text.to_owned(),
            category_ids: self
                .category
                .and_then(|path| path.last())
                .map(|id| vec![(*id).to_owned()])
                .unwrap_or_default(),
            areas: self
                .area
                .and_then(|area| AdminScope::parse(area).ok())
                .into_iter()
                .collect(),
            price_min: self.price.map(|(min, _)| min),
            price_max: self.price.map(|(_, max)| max),
            grades: self.grades.clone(),
            certifications: self.certification.into_iter().collect(),
            min_available: self.min_available,
            sort: self.sort,
            facets: FacetRequest {
                category_under: Some(
                    self.category_under()
                        .iter()
                        .map(|id| (*id).to_owned())
                        .collect(),
                ),
                area: Some(AreaFacet {
                    under: AdminScope::parse(under).unwrap_or_default(),
                    level,
                }),
                grade: true,
                certification: true,
                price_bounds: Some(PRICE_BOUNDS.to_vec()),
                available_bounds: Some(AVAILABLE_BOUNDS.to_vec()),
            },
            limit: 20,
            ..SearchQuery::default()
        }
    }
}

/// `count` searches: term `i % 56`, filter pattern `(i / 56) % 8`, order `i % 3`, filter values
/// drawn from a seeded generator.
pub(crate) fn mix(count: usize) -> Vec<Spec> {
    let mut rng = StdRng::seed_from_u64(SEED);
    (0..count)
        .map(|i| {
            let (text, path) = TERMS[i % TERMS.len()];
            let category = (!path.is_empty()).then_some(path);
            // The top category or the leaf, at random.
            let category = category.map(|path| {
                if path.len() > 1 && rng.random_bool(0.5) {
                    &path[..1]
                } else {
                    path
                }
            });
            let area = |rng: &mut StdRng| AREAS.choose(rng).copied();
            let price = |rng: &mut StdRng| {
                let min = rng.random_range(0..20) * 100;
                (min, min + rng.random_range(5..80) * 100)
            };
            let mut spec = Spec {
                text,
                category: None,
                area: None,
                price: None,
                grades: Vec::new(),
                certification: None,
                min_available: None,
                sort: [Sort::Relevance, Sort::PriceAsc, Sort::Newest][i % 3],
            };
            match (i / TERMS.len()) % PATTERNS {
                0 => {}
                1 => spec.category = category,
                2 => spec.area = area(&mut rng),
                3 => spec.price = Some(price(&mut rng)),
                4 => spec.grades = vec![ProduceGrade::Premium, ProduceGrade::First],
                5 => {
                    spec.category = category;
                    spec.certification = [
                        Certification::GreenFood,
                        Certification::GeographicalIndication,
                    ]
                    .choose(&mut rng)
                    .copied();
                }
                6 => {
                    spec.area = area(&mut rng);
                    spec.min_available = Some(10u64.pow(rng.random_range(4..=6)));
                }
                _ => {
                    spec.category = category;
                    spec.area = area(&mut rng);
                    spec.price = Some(price(&mut rng));
                    spec.grades = vec![ProduceGrade::Premium, ProduceGrade::First];
                }
            }
            spec
        })
        .collect()
}
