//! A million listings that look like a county market's: Chinese titles built from real varieties
//! (红富士苹果, 砀山酥梨, 五常大米...), one in ten in English, a two-level category taxonomy with
//! names in both languages, villages under twenty real producing counties, prices per kilogram in
//! each produce's range, grades, certifications, quantities and publish times over a year.
//!
//! Generation is seeded: the same count gives the same listings, so the index under test and the
//! bare baseline are built from two passes of the generator instead of a million documents kept in
//! memory.

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use terrace_market::search::index::{CategoryDoc, ListingDoc, Texts};
use terrace_platform::auth::AdminScope;
use terrace_proto::market::v1::{Certification, ListingStatus, ProduceGrade};

/// Seed of the generator; fixed so that runs compare.
const SEED: u64 = 0x7e44ace;

/// 2026-12-01T00:00:00Z: listings are published over the year before it.
const NEWEST_MS: i64 = 1_796_083_200_000;
const YEAR_MS: i64 = 365 * 24 * 3_600_000;

/// A top-level category: id, Chinese and English name.
pub(crate) struct Top {
    pub(crate) id: &'static str,
    zh: &'static str,
    en: &'static str,
}

pub(crate) const TOPS: [Top; 6] = [
    Top {
        id: "fruit",
        zh: "水果",
        en: "fruit",
    },
    Top {
        id: "vegetable",
        zh: "蔬菜",
        en: "vegetable",
    },
    Top {
        id: "grain",
        zh: "粮油",
        en: "grain",
    },
    Top {
        id: "tea",
        zh: "茶叶",
        en: "tea",
    },
    Top {
        id: "livestock",
        zh: "禽畜蛋",
        en: "meat and eggs",
    },
    Top {
        id: "specialty",
        zh: "山货特产",
        en: "local specialty",
    },
];

/// A leaf category and what its listings look like.
struct Leaf {
    /// Index into [`TOPS`].
    top: usize,
    id: &'static str,
    zh: &'static str,
    en: &'static str,
    /// Other Chinese names buyers type (土豆 for 马铃薯), indexed with the category.
    synonyms_zh: &'static [&'static str],
    synonyms_en: &'static [&'static str],
    /// Varieties: Chinese, English.
    varieties: &'static [(&'static str, &'static str)],
    /// Price range in fen per kilogram (per piece when `pieces`).
    price: (i64, i64),
    /// Sold by the piece (eggs), not by mass.
    pieces: bool,
    /// County codes where most of it comes from.
    home: &'static [&'static str],
    /// Relative share of the listings.
    weight: u32,
}

/// Twenty real producing counties (GB/T 2260), checked against the national division list.
const COUNTIES: [&str; 20] = [
    "330523", // 安吉县: white tea
    "341321", // 砀山县: pears
    "230184", // 五常市: rice
    "360734", // 寻乌县: navel oranges
    "370686", // 栖霞市: apples, cherries
    "610629", // 洛川县: apples
    "652801", // 库尔勒市: fragrant pears
    "370783", // 寿光市: vegetables
    "621102", // 安定区 (定西): potatoes
    "330106", // 西湖区: Longjing tea
    "350524", // 安溪县: Tieguanyin
    "530802", // 思茅区 (普洱): pu'er
    "650402", // 高昌区 (吐鲁番): grapes
    "220183", // 德惠市: corn
    "610528", // 富平县: persimmons
    "410329", // 伊川县: millet
    "371326", // 平邑县: honey, nuts
    "511529", // 屏山县: mushrooms
    "330782", // 义乌市: eggs, poultry
    "632223", // 海晏县: yak, highland produce
];

const LEAVES: [Leaf; 25] = [
    Leaf {
        top: 0,
        id: "fruit.apple",
        zh: "苹果",
        en: "apple",
        synonyms_zh: &["平果"],
        synonyms_en: &[],
        varieties: &[
            ("红富士", "Fuji"),
            ("烟台红富士", "Yantai Fuji"),
            ("洛川红富士", "Luochuan Fuji"),
            ("嘎啦", "Gala"),
            ("黄元帅", "Golden Delicious"),
            ("秦冠", "Qinguan"),
            ("花牛", "Red Delicious"),
        ],
        price: (500, 1_600),
        pieces: false,
        home: &["370686", "610629"],
        weight: 8,
    },
    Leaf {
        top: 0,
        id: "fruit.pear",
        zh: "梨",
        en: "pear",
        synonyms_zh: &["梨子"],
        synonyms_en: &[],
        varieties: &[
            ("砀山酥梨", "Dangshan crisp pear"),
            ("库尔勒香梨", "Korla fragrant pear"),
            ("雪花梨", "snow pear"),
            ("皇冠梨", "crown pear"),
            ("秋月梨", "Akizuki pear"),
        ],
        price: (400, 1_400),
        pieces: false,
        home: &["341321", "652801"],
        weight: 5,
    },
    Leaf {
        top: 0,
        id: "fruit.citrus",
        zh: "柑橘",
        en: "citrus",
        synonyms_zh: &["橙子", "橘子"],
        synonyms_en: &["orange"],
        varieties: &[
            ("赣南脐橙", "Gannan navel orange"),
            ("寻乌脐橙", "Xunwu navel orange"),
            ("沃柑", "Orah mandarin"),
            ("砂糖橘", "sugar tangerine"),
            ("冰糖橙", "rock sugar orange"),
        ],
        price: (400, 1_200),
        pieces: false,
        home: &["360734"],
        weight: 7,
    },
    Leaf {
        top: 0,
        id: "fruit.grape",
        zh: "葡萄",
        en: "grape",
        synonyms_zh: &["提子"],
        synonyms_en: &[],
        varieties: &[
            ("吐鲁番无核白", "Turpan seedless white"),
            ("巨峰葡萄", "Kyoho grape"),
            ("阳光玫瑰", "Shine Muscat"),
            ("马奶子", "Manaizi grape"),
        ],
        price: (800, 3_000),
        pieces: false,
        home: &["650402"],
        weight: 4,
    },
    Leaf {
        top: 0,
        id: "fruit.kiwi",
        zh: "猕猴桃",
        en: "kiwifruit",
        synonyms_zh: &["奇异果"],
        synonyms_en: &["kiwi"],
        varieties: &[
            ("徐香猕猴桃", "Xuxiang kiwi"),
            ("红心猕猴桃", "red-heart kiwi"),
            ("翠香猕猴桃", "Cuixiang kiwi"),
        ],
        price: (800, 2_400),
        pieces: false,
        home: &["610528"],
        weight: 3,
    },
    Leaf {
        top: 0,
        id: "fruit.persimmon",
        zh: "柿子",
        en: "persimmon",
        synonyms_zh: &["柿饼"],
        synonyms_en: &[],
        varieties: &[
            ("富平柿饼", "Fuping dried persimmon"),
            ("火晶柿子", "Huojing persimmon"),
        ],
        price: (1_000, 6_000),
        pieces: false,
        home: &["610528"],
        weight: 2,
    },
    Leaf {
        top: 0,
        id: "fruit.cherry",
        zh: "樱桃",
        en: "cherry",
        synonyms_zh: &["车厘子"],
        synonyms_en: &[],
        varieties: &[
            ("大樱桃", "sweet cherry"),
            ("美早樱桃", "Tieton cherry"),
            ("红灯樱桃", "Hongdeng cherry"),
        ],
        price: (2_000, 8_000),
        pieces: false,
        home: &["370686"],
        weight: 2,
    },
    Leaf {
        top: 0,
        id: "fruit.strawberry",
        zh: "草莓",
        en: "strawberry",
        synonyms_zh: &[],
        synonyms_en: &[],
        varieties: &[
            ("红颜草莓", "Benihoppe strawberry"),
            ("章姬草莓", "Akihime strawberry"),
            ("奶油草莓", "cream strawberry"),
        ],
        price: (1_600, 6_000),
        pieces: false,
        home: &[],
        weight: 3,
    },
    Leaf {
        top: 1,
        id: "vegetable.potato",
        zh: "马铃薯",
        en: "potato",
        synonyms_zh: &["土豆", "洋芋"],
        synonyms_en: &[],
        varieties: &[
            ("定西马铃薯", "Dingxi potato"),
            ("荷兰十五", "Favorita potato"),
            ("黄心土豆", "yellow potato"),
        ],
        price: (120, 500),
        pieces: false,
        home: &["621102"],
        weight: 5,
    },
    Leaf {
        top: 1,
        id: "vegetable.cabbage",
        zh: "白菜",
        en: "cabbage",
        synonyms_zh: &["大白菜"],
        synonyms_en: &[],
        varieties: &[
            ("寿光大白菜", "Shouguang napa cabbage"),
            ("娃娃菜", "baby cabbage"),
        ],
        price: (80, 400),
        pieces: false,
        home: &["370783"],
        weight: 3,
    },
    Leaf {
        top: 1,
        id: "vegetable.tomato",
        zh: "番茄",
        en: "tomato",
        synonyms_zh: &["西红柿"],
        synonyms_en: &[],
        varieties: &[
            ("寿光西红柿", "Shouguang tomato"),
            ("普罗旺斯番茄", "Provence tomato"),
            ("圣女果", "cherry tomato"),
        ],
        price: (300, 1_200),
        pieces: false,
        home: &["370783"],
        weight: 3,
    },
    Leaf {
        top: 1,
        id: "vegetable.cucumber",
        zh: "黄瓜",
        en: "cucumber",
        synonyms_zh: &[],
        synonyms_en: &[],
        varieties: &[
            ("寿光黄瓜", "Shouguang cucumber"),
            ("水果黄瓜", "mini cucumber"),
        ],
        price: (200, 800),
        pieces: false,
        home: &["370783"],
        weight: 2,
    },
    Leaf {
        top: 1,
        id: "vegetable.sweet_potato",
        zh: "红薯",
        en: "sweet potato",
        synonyms_zh: &["地瓜", "番薯"],
        synonyms_en: &[],
        varieties: &[
            ("烟薯25号", "Yanshu 25 sweet potato"),
            ("西瓜红红薯", "red sweet potato"),
            ("紫薯", "purple sweet potato"),
        ],
        price: (200, 900),
        pieces: false,
        home: &[],
        weight: 3,
    },
    Leaf {
        top: 2,
        id: "grain.rice",
        zh: "大米",
        en: "rice",
        synonyms_zh: &["稻米"],
        synonyms_en: &[],
        varieties: &[
            ("五常大米", "Wuchang rice"),
            ("稻花香2号", "Daohuaxiang rice"),
            ("长粒香大米", "long-grain fragrant rice"),
            ("东北大米", "northeast rice"),
        ],
        price: (600, 3_000),
        pieces: false,
        home: &["230184"],
        weight: 7,
    },
    Leaf {
        top: 2,
        id: "grain.millet",
        zh: "小米",
        en: "millet",
        synonyms_zh: &["黄小米"],
        synonyms_en: &[],
        varieties: &[
            ("伊川小米", "Yichuan millet"),
            ("沁州黄小米", "Qinzhou yellow millet"),
        ],
        price: (800, 2_400),
        pieces: false,
        home: &["410329"],
        weight: 2,
    },
    Leaf {
        top: 2,
        id: "grain.corn",
        zh: "玉米",
        en: "corn",
        synonyms_zh: &["苞米"],
        synonyms_en: &["maize"],
        varieties: &[
            ("德惠玉米", "Dehui corn"),
            ("甜糯玉米", "sweet waxy corn"),
            ("黄玉米", "yellow corn"),
        ],
        price: (200, 800),
        pieces: false,
        home: &["220183"],
        weight: 3,
    },
    Leaf {
        top: 3,
        id: "tea.green",
        zh: "绿茶",
        en: "green tea",
        synonyms_zh: &[],
        synonyms_en: &[],
        varieties: &[
            ("安吉白茶", "Anji white tea"),
            ("西湖龙井", "West Lake Longjing"),
            ("明前龙井", "pre-Qingming Longjing"),
            ("黄金芽", "golden bud tea"),
        ],
        price: (20_000, 200_000),
        pieces: false,
        home: &["330523", "330106"],
        weight: 5,
    },
    Leaf {
        top: 3,
        id: "tea.oolong",
        zh: "乌龙茶",
        en: "oolong tea",
        synonyms_zh: &[],
        synonyms_en: &[],
        varieties: &[
            ("安溪铁观音", "Anxi Tieguanyin"),
            ("清香型铁观音", "light Tieguanyin"),
            ("浓香型铁观音", "roasted Tieguanyin"),
        ],
        price: (16_000, 120_000),
        pieces: false,
        home: &["350524"],
        weight: 2,
    },
    Leaf {
        top: 3,
        id: "tea.puer",
        zh: "普洱茶",
        en: "pu'er tea",
        synonyms_zh: &["普洱"],
        synonyms_en: &["puer"],
        varieties: &[
            ("普洱生茶", "raw pu'er"),
            ("普洱熟茶", "ripe pu'er"),
            ("古树普洱", "old-tree pu'er"),
        ],
        price: (10_000, 150_000),
        pieces: false,
        home: &["530802"],
        weight: 2,
    },
    Leaf {
        top: 4,
        id: "livestock.egg",
        zh: "禽蛋",
        en: "eggs",
        synonyms_zh: &["鸡蛋"],
        synonyms_en: &["egg"],
        varieties: &[
            ("土鸡蛋", "free-range eggs"),
            ("散养鸡蛋", "pasture eggs"),
            ("草鸡蛋", "farm eggs"),
            ("鸭蛋", "duck eggs"),
            ("乌鸡蛋", "silkie eggs"),
        ],
        price: (60, 250),
        pieces: true,
        home: &["330782"],
        weight: 6,
    },
    Leaf {
        top: 4,
        id: "livestock.poultry",
        zh: "禽肉",
        en: "poultry",
        synonyms_zh: &["鸡肉"],
        synonyms_en: &["chicken"],
        varieties: &[
            ("散养土鸡", "free-range chicken"),
            ("老母鸡", "old hen"),
            ("农家走地鸡", "farmyard chicken"),
        ],
        price: (3_000, 8_000),
        pieces: false,
        home: &["330782"],
        weight: 4,
    },
    Leaf {
        top: 4,
        id: "livestock.pork",
        zh: "猪肉",
        en: "pork",
        synonyms_zh: &[],
        synonyms_en: &[],
        varieties: &[
            ("黑猪肉", "black pig pork"),
            ("土猪肉", "farm pork"),
            ("五花肉", "pork belly"),
        ],
        price: (3_000, 9_000),
        pieces: false,
        home: &[],
        weight: 3,
    },
    Leaf {
        top: 5,
        id: "specialty.honey",
        zh: "蜂蜜",
        en: "honey",
        synonyms_zh: &["土蜂蜜"],
        synonyms_en: &[],
        varieties: &[
            ("槐花蜜", "acacia honey"),
            ("百花蜜", "wildflower honey"),
            ("椴树蜜", "linden honey"),
            ("枣花蜜", "jujube honey"),
        ],
        price: (4_000, 16_000),
        pieces: false,
        home: &["371326"],
        weight: 4,
    },
    Leaf {
        top: 5,
        id: "specialty.nut",
        zh: "坚果",
        en: "nuts",
        synonyms_zh: &["干果"],
        synonyms_en: &["walnut"],
        varieties: &[
            ("薄皮核桃", "thin-shell walnut"),
            ("核桃", "walnut"),
            ("板栗", "chestnut"),
            ("花生", "peanut"),
        ],
        price: (1_600, 8_000),
        pieces: false,
        home: &["371326"],
        weight: 4,
    },
    Leaf {
        top: 5,
        id: "specialty.mushroom",
        zh: "菌菇",
        en: "mushroom",
        synonyms_zh: &["蘑菇"],
        synonyms_en: &[],
        varieties: &[
            ("干香菇", "dried shiitake"),
            ("花菇", "flower shiitake"),
            ("黑木耳", "black fungus"),
            ("野生菌", "wild mushrooms"),
        ],
        price: (4_000, 20_000),
        pieces: false,
        home: &["511529"],
        weight: 4,
    },
];

const PREFIXES_ZH: [&str; 12] = [
    "新鲜",
    "农家",
    "产地直发",
    "现摘",
    "当季",
    "正宗",
    "自家种的",
    "山区",
    "头茬",
    "精选",
    "2026新货",
    "",
];
const SUFFIXES_ZH: [&str; 10] = [
    " 5斤装",
    " 10斤整箱",
    " 一级果",
    " 包邮",
    " 500g",
    " 礼盒装",
    " 散装",
    " 批发",
    " 2.5kg",
    "",
];
const PHRASES_ZH: [&str; 20] = [
    "产地直发",
    "当天采摘",
    "个大饱满",
    "口感香甜",
    "皮薄多汁",
    "不打农药",
    "绿色种植",
    "坏果包赔",
    "支持溯源",
    "合作社统一分拣",
    "冷链运输",
    "村集体统一收购",
    "欢迎批发",
    "量大从优",
    "农户自产自销",
    "山泉水灌溉",
    "生态散养",
    "传统工艺",
    "无添加",
    "顺丰发货",
];
const PREFIXES_EN: [&str; 6] = [
    "Fresh",
    "Organic",
    "Farm-direct",
    "Premium",
    "Seasonal",
    "Village",
];
const PHRASES_EN: [&str; 8] = [
    "picked to order",
    "shipped from the farm",
    "graded by the cooperative",
    "no pesticides",
    "cold chain delivery",
    "wholesale welcome",
    "traceable to the plot",
    "hand packed",
];

/// Listings in a seeded, repeatable order.
pub(crate) fn listings(count: usize) -> impl Iterator<Item = ListingDoc> {
    let mut rng = StdRng::seed_from_u64(SEED);
    let total_weight: u32 = LEAVES.iter().map(|leaf| leaf.weight).sum();
    (0..count).map(move |_| listing(&mut rng, total_weight))
}

/// A village under one of `counties` (or any county): township codes 101..112 and village codes
/// 201..220, the shape real codes have (`330523101201`).
fn village(rng: &mut StdRng, home: &[&str]) -> AdminScope {
    let county = match home.choose(rng) {
        Some(county) if rng.random_bool(0.7) => county,
        _ => COUNTIES.choose(rng).unwrap_or(&COUNTIES[0]),
    };
    let code = format!(
        "{county}{:03}{:03}",
        100 + rng.random_range(1..=12),
        200 + rng.random_range(1..=20)
    );
    AdminScope::parse(&code).unwrap_or_default()
}

fn pick<'a>(rng: &mut StdRng, items: &'a [&'a str]) -> &'a str {
    items.choose(rng).copied().unwrap_or_default()
}

fn listing(rng: &mut StdRng, total_weight: u32) -> ListingDoc {
    let mut roll = rng.random_range(0..total_weight);
    let leaf = LEAVES
        .iter()
        .find(|leaf| {
            if roll < leaf.weight {
                return true;
            }
            roll -= leaf.weight;
            false
        })
        .unwrap_or(&LEAVES[0]);
    let top = &TOPS[leaf.top];
    let (variety_zh, variety_en) = leaf.varieties.choose(rng).copied().unwrap_or_default();

    // One listing in ten is written in English only, one in twenty in both languages.
    let language = rng.random_range(0..20);
    let mut title = Texts::default();
    let mut description = Texts::default();
    if language >= 2 {
        let name = if variety_zh.contains(leaf.zh) || rng.random_bool(0.5) {
            ""
        } else {
            leaf.zh
        };
        title.zh = format!(
            "{}{variety_zh}{name}{}",
            pick(rng, &PREFIXES_ZH),
            pick(rng, &SUFFIXES_ZH)
        );
        let phrases = rng.random_range(2..=4);
        description.zh = (0..phrases)
            .map(|_| pick(rng, &PHRASES_ZH))
            .collect::<Vec<_>>()
            .join("，");
    }
    if language < 3 {
        title.en = format!("{} {variety_en} {}", pick(rng, &PREFIXES_EN), leaf.en);
        description.en = format!("{}, {}.", pick(rng, &PHRASES_EN), pick(rng, &PHRASES_EN));
    }

    let mut names_zh = vec![leaf.zh.to_owned()];
    names_zh.extend(leaf.synonyms_zh.iter().map(|name| (*name).to_owned()));
    names_zh.push(top.zh.to_owned());
    let mut names_en = vec![leaf.en.to_owned()];
    names_en.extend(leaf.synonyms_en.iter().map(|name| (*name).to_owned()));
    names_en.push(top.en.to_owned());

    let grade = match rng.random_range(0..100) {
        0..15 => ProduceGrade::Premium,
        15..55 => ProduceGrade::First,
        55..80 => ProduceGrade::Second,
        80..85 => ProduceGrade::Third,
        _ => ProduceGrade::Unspecified,
    };
    let village = village(rng, leaf.home);
    let from_home = leaf
        .home
        .iter()
        .any(|county| village.as_str().starts_with(county));
    let mut certifications = Vec::new();
    for (certification, share) in [
        (Certification::Organic, 0.05),
        (Certification::GreenFood, 0.12),
        (
            Certification::GeographicalIndication,
            if from_home { 0.35 } else { 0.02 },
        ),
        (Certification::ComplianceCertificate, 0.30),
    ] {
        if rng.random_bool(share) {
            certifications.push(certification);
        }
    }
    // Grams for produce sold by mass (5 kg to 20 t, most of it small), pieces for eggs.
    let available = if leaf.pieces {
        rng.random_range(30..30_000)
    } else {
        10f64.powf(rng.random_range(3.7..7.3)) as u64
    };
    let price_minor = rng.random_range(leaf.price.0..=leaf.price.1);
    let published_at_ms = NEWEST_MS - rng.random_range(0..YEAR_MS);
    let mut random = [0u8; 10];
    rng.fill(&mut random);
    let id = uuid::Builder::from_unix_timestamp_millis(published_at_ms as u64, &random)
        .into_uuid()
        .to_string();
    // What the service would store to answer without the database: roughly an encoded listing.
    let payload = serde_json::json!({
        "id": id,
        "title": if title.zh.is_empty() { &title.en } else { &title.zh },
        "category": leaf.id,
        "village": village.as_str(),
        "unit_price": { "minor": price_minor, "currency": "CNY" },
        "unit": if leaf.pieces { "piece" } else { "kg" },
        "available": available,
        "grade": grade.as_str_name(),
        "published_at_ms": published_at_ms,
    })
    .to_string()
    .into_bytes();

    ListingDoc {
        id,
        version: 1,
        status: ListingStatus::Active,
        hidden: false,
        title,
        description,
        variety: variety_zh.to_owned(),
        category: CategoryDoc {
            path: vec![top.id.to_owned(), leaf.id.to_owned()],
            names_zh,
            names_en,
        },
        village,
        price_minor,
        grade,
        certifications,
        traceable: rng.random_bool(0.3),
        available,
        published_at_ms,
        payload,
    }
}
