//! The seeded produce taxonomy: every category a listing can name, with its names, the units it
//! sells in, its HS code for export and the picture a farmer picks it by.
//!
//! It lives in code, not in a table: it changes with a release (a reviewed diff), every replica
//! holds the same one, and a listing checks its category without a query. Ids are stable
//! (`<group>.<leaf>`) because listings, search and the price reference keep them.

use terrace_proto::common::v1::Unit;

/// One category. Groups (top level) have no HS code and no units of their own: listings name
/// leaves.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    pub id: &'static str,
    pub parent: &'static str,
    pub zh: &'static str,
    pub en: &'static str,
    pub synonyms: &'static [&'static str],
    /// The Harmonized System heading (6 digits) customs use; empty for groups.
    pub hs_code: &'static str,
    /// The picture: an emoji, drawn into the category's SVG icon.
    pub picture: &'static str,
    pub default_unit: Unit,
    pub units: &'static [Unit],
}

use Unit::{
    Bag, Basket, Box as Carton, Bunch, Crate, Dozen, Head, Jin, Kilogram, Liang, Litre, Piece,
    Tonne,
};

const PRODUCE: &[Unit] = &[Jin, Kilogram, Tonne, Crate, Carton, Bag, Basket];
const GRAIN: &[Unit] = &[Jin, Kilogram, Tonne, Bag];
const TEA: &[Unit] = &[Liang, Jin, Kilogram, Carton];
const VEGETABLES: &[Unit] = &[Jin, Kilogram, Tonne, Crate, Carton, Bag, Basket, Bunch];
const LIVESTOCK: &[Unit] = &[Head, Jin, Kilogram];
const POULTRY: &[Unit] = &[Piece, Jin, Kilogram];
const EGGS: &[Unit] = &[Piece, Dozen, Jin, Kilogram, Carton, Basket];
const OIL: &[Unit] = &[Jin, Kilogram, Litre, Piece];

const fn group(
    id: &'static str,
    zh: &'static str,
    en: &'static str,
    picture: &'static str,
) -> Entry {
    Entry {
        id,
        parent: "",
        zh,
        en,
        synonyms: &[],
        hs_code: "",
        picture,
        default_unit: Unit::Unspecified,
        units: &[],
    }
}

#[allow(clippy::too_many_arguments)] // One row of the table; a struct literal per row is longer.
const fn leaf(
    id: &'static str,
    parent: &'static str,
    zh: &'static str,
    en: &'static str,
    synonyms: &'static [&'static str],
    hs_code: &'static str,
    picture: &'static str,
    units: &'static [Unit],
) -> Entry {
    Entry {
        id,
        parent,
        zh,
        en,
        synonyms,
        hs_code,
        picture,
        default_unit: units[0],
        units,
    }
}

/// The taxonomy, parents before children, siblings in display order.
pub const TAXONOMY: &[Entry] = &[
    group("fruit", "水果", "Fruit", "🍎"),
    leaf(
        "fruit.apple",
        "fruit",
        "苹果",
        "Apple",
        &["平果", "红富士"],
        "080810",
        "🍎",
        PRODUCE,
    ),
    leaf(
        "fruit.pear",
        "fruit",
        "梨",
        "Pear",
        &["香梨", "雪梨", "pears"],
        "080830",
        "🍐",
        PRODUCE,
    ),
    leaf(
        "fruit.orange",
        "fruit",
        "橙子",
        "Orange",
        &["脐橙", "甜橙"],
        "080510",
        "🍊",
        PRODUCE,
    ),
    leaf(
        "fruit.mandarin",
        "fruit",
        "柑橘",
        "Mandarin",
        &["橘子", "桔子", "砂糖橘", "tangerine"],
        "080521",
        "🍊",
        PRODUCE,
    ),
    leaf(
        "fruit.kiwi",
        "fruit",
        "猕猴桃",
        "Kiwifruit",
        &["奇异果", "kiwi"],
        "081050",
        "🥝",
        PRODUCE,
    ),
    leaf(
        "fruit.grape",
        "fruit",
        "葡萄",
        "Grape",
        &["提子", "巨峰"],
        "080610",
        "🍇",
        PRODUCE,
    ),
    leaf(
        "fruit.peach",
        "fruit",
        "桃",
        "Peach",
        &["水蜜桃", "蟠桃"],
        "080930",
        "🍑",
        PRODUCE,
    ),
    leaf(
        "fruit.cherry",
        "fruit",
        "樱桃",
        "Cherry",
        &["车厘子"],
        "080929",
        "🍒",
        PRODUCE,
    ),
    leaf(
        "fruit.strawberry",
        "fruit",
        "草莓",
        "Strawberry",
        &[],
        "081010",
        "🍓",
        PRODUCE,
    ),
    leaf(
        "fruit.watermelon",
        "fruit",
        "西瓜",
        "Watermelon",
        &[],
        "080711",
        "🍉",
        PRODUCE,
    ),
    leaf(
        "fruit.melon",
        "fruit",
        "甜瓜",
        "Melon",
        &["哈密瓜", "香瓜"],
        "080719",
        "🍈",
        PRODUCE,
    ),
    leaf(
        "fruit.lychee",
        "fruit",
        "荔枝",
        "Lychee",
        &["litchi"],
        "081090",
        "🍒",
        PRODUCE,
    ),
    leaf(
        "fruit.persimmon",
        "fruit",
        "柿子",
        "Persimmon",
        &[],
        "081070",
        "🍅",
        PRODUCE,
    ),
    leaf(
        "fruit.jujube",
        "fruit",
        "红枣",
        "Jujube",
        &["枣", "大枣", "red date"],
        "081340",
        "🌰",
        PRODUCE,
    ),
    group("vegetable", "蔬菜", "Vegetables", "🥬"),
    leaf(
        "vegetable.cabbage",
        "vegetable",
        "白菜",
        "Chinese cabbage",
        &["大白菜", "napa cabbage"],
        "070490",
        "🥬",
        VEGETABLES,
    ),
    leaf(
        "vegetable.potato",
        "vegetable",
        "土豆",
        "Potato",
        &["马铃薯", "洋芋"],
        "070190",
        "🥔",
        VEGETABLES,
    ),
    leaf(
        "vegetable.sweet_potato",
        "vegetable",
        "红薯",
        "Sweet potato",
        &["地瓜", "番薯"],
        "071420",
        "🍠",
        VEGETABLES,
    ),
    leaf(
        "vegetable.tomato",
        "vegetable",
        "番茄",
        "Tomato",
        &["西红柿"],
        "070200",
        "🍅",
        VEGETABLES,
    ),
    leaf(
        "vegetable.cucumber",
        "vegetable",
        "黄瓜",
        "Cucumber",
        &[],
        "070700",
        "🥒",
        VEGETABLES,
    ),
    leaf(
        "vegetable.chili",
        "vegetable",
        "辣椒",
        "Chili pepper",
        &["尖椒", "pepper"],
        "070960",
        "🌶️",
        VEGETABLES,
    ),
    leaf(
        "vegetable.garlic",
        "vegetable",
        "大蒜",
        "Garlic",
        &["蒜头"],
        "070320",
        "🧄",
        VEGETABLES,
    ),
    leaf(
        "vegetable.onion",
        "vegetable",
        "洋葱",
        "Onion",
        &[],
        "070310",
        "🧅",
        VEGETABLES,
    ),
    leaf(
        "vegetable.carrot",
        "vegetable",
        "胡萝卜",
        "Carrot",
        &[],
        "070610",
        "🥕",
        VEGETABLES,
    ),
    leaf(
        "vegetable.eggplant",
        "vegetable",
        "茄子",
        "Eggplant",
        &["aubergine"],
        "070930",
        "🍆",
        VEGETABLES,
    ),
    leaf(
        "vegetable.bamboo_shoot",
        "vegetable",
        "竹笋",
        "Bamboo shoot",
        &["春笋", "冬笋", "笋"],
        "070999",
        "🎋",
        VEGETABLES,
    ),
    group("grain", "粮油", "Grain and oil", "🌾"),
    leaf(
        "grain.rice",
        "grain",
        "大米",
        "Rice",
        &["稻米", "粳米"],
        "100630",
        "🍚",
        GRAIN,
    ),
    leaf(
        "grain.wheat",
        "grain",
        "小麦",
        "Wheat",
        &["麦子"],
        "100199",
        "🌾",
        GRAIN,
    ),
    leaf(
        "grain.corn",
        "grain",
        "玉米",
        "Maize",
        &["苞谷", "corn"],
        "100590",
        "🌽",
        GRAIN,
    ),
    leaf(
        "grain.millet",
        "grain",
        "小米",
        "Millet",
        &["谷子"],
        "100829",
        "🌾",
        GRAIN,
    ),
    leaf(
        "grain.soybean",
        "grain",
        "大豆",
        "Soybean",
        &["黄豆"],
        "120190",
        "🫘",
        GRAIN,
    ),
    leaf(
        "grain.peanut",
        "grain",
        "花生",
        "Peanut",
        &["落花生", "groundnut"],
        "120242",
        "🥜",
        GRAIN,
    ),
    leaf(
        "grain.rapeseed_oil",
        "grain",
        "菜籽油",
        "Rapeseed oil",
        &["菜油"],
        "151419",
        "🫗",
        OIL,
    ),
    group("tea", "茶叶", "Tea", "🍵"),
    leaf(
        "tea.green",
        "tea",
        "绿茶",
        "Green tea",
        &["白茶", "安吉白茶", "龙井"],
        "090210",
        "🍵",
        TEA,
    ),
    leaf(
        "tea.black",
        "tea",
        "红茶",
        "Black tea",
        &[],
        "090230",
        "🫖",
        TEA,
    ),
    group("fungi", "菌菇", "Mushrooms", "🍄"),
    leaf(
        "fungi.shiitake",
        "fungi",
        "香菇",
        "Shiitake",
        &["花菇", "冬菇"],
        "070959",
        "🍄",
        VEGETABLES,
    ),
    leaf(
        "fungi.wood_ear",
        "fungi",
        "木耳",
        "Wood ear",
        &["黑木耳"],
        "071232",
        "🍄",
        GRAIN,
    ),
    group("nut", "坚果干货", "Nuts and dried goods", "🌰"),
    leaf(
        "nut.walnut",
        "nut",
        "核桃",
        "Walnut",
        &["胡桃"],
        "080231",
        "🌰",
        GRAIN,
    ),
    leaf(
        "nut.chestnut",
        "nut",
        "板栗",
        "Chestnut",
        &["栗子"],
        "080241",
        "🌰",
        GRAIN,
    ),
    leaf(
        "nut.hickory",
        "nut",
        "山核桃",
        "Hickory nut",
        &["小核桃"],
        "080290",
        "🌰",
        GRAIN,
    ),
    group("livestock", "畜禽", "Livestock and poultry", "🐖"),
    leaf(
        "livestock.pig",
        "livestock",
        "生猪",
        "Live pig",
        &["猪", "土猪", "hog"],
        "010392",
        "🐖",
        LIVESTOCK,
    ),
    leaf(
        "livestock.cattle",
        "livestock",
        "肉牛",
        "Cattle",
        &["黄牛", "牛"],
        "010229",
        "🐄",
        LIVESTOCK,
    ),
    leaf(
        "livestock.sheep",
        "livestock",
        "羊",
        "Sheep and goats",
        &["山羊", "绵羊", "goat"],
        "010410",
        "🐑",
        LIVESTOCK,
    ),
    leaf(
        "livestock.chicken",
        "livestock",
        "鸡",
        "Chicken",
        &["土鸡", "散养鸡"],
        "010594",
        "🐓",
        POULTRY,
    ),
    leaf(
        "livestock.duck",
        "livestock",
        "鸭",
        "Duck",
        &["麻鸭"],
        "010599",
        "🦆",
        POULTRY,
    ),
    leaf(
        "livestock.egg",
        "livestock",
        "鸡蛋",
        "Eggs",
        &["土鸡蛋", "蛋", "egg"],
        "040721",
        "🥚",
        EGGS,
    ),
    leaf(
        "livestock.honey",
        "livestock",
        "蜂蜜",
        "Honey",
        &["土蜂蜜"],
        "040900",
        "🍯",
        OIL,
    ),
    group("aquatic", "水产", "Aquatic products", "🐟"),
    leaf(
        "aquatic.fish",
        "aquatic",
        "淡水鱼",
        "Freshwater fish",
        &["鱼", "鲤鱼", "草鱼", "fish"],
        "030193",
        "🐟",
        POULTRY,
    ),
    leaf(
        "aquatic.crayfish",
        "aquatic",
        "小龙虾",
        "Crayfish",
        &["龙虾"],
        "030639",
        "🦞",
        PRODUCE,
    ),
    leaf(
        "aquatic.crab",
        "aquatic",
        "大闸蟹",
        "Mitten crab",
        &["螃蟹", "河蟹", "crab"],
        "030633",
        "🦀",
        POULTRY,
    ),
];

/// The category `id`.
pub fn find(id: &str) -> Option<&'static Entry> {
    TAXONOMY.iter().find(|entry| entry.id == id)
}

/// `id` and its ancestors, root first (`["fruit", "fruit.apple"]`).
pub fn path(id: &str) -> Vec<&'static Entry> {
    let mut path = Vec::new();
    let mut at = find(id);
    while let Some(entry) = at {
        path.push(entry);
        at = (!entry.parent.is_empty())
            .then(|| find(entry.parent))
            .flatten();
    }
    path.reverse();
    path
}

/// `id` and every category under it.
pub fn with_descendants(id: &str) -> Vec<&'static str> {
    let mut found: Vec<&'static str> = find(id).map(|entry| entry.id).into_iter().collect();
    let mut next = 0;
    while let Some(at) = found.get(next).copied() {
        found.extend(TAXONOMY.iter().filter(|e| e.parent == at).map(|e| e.id));
        next += 1;
    }
    found
}

/// Whether listings may name the category: a leaf.
pub fn is_leaf(entry: &Entry) -> bool {
    !entry.units.is_empty()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn the_taxonomy_is_a_tree_of_unique_ids_with_parents_first() {
        let mut seen = HashSet::new();
        for entry in TAXONOMY {
            assert!(seen.insert(entry.id), "{} twice", entry.id);
            if entry.parent.is_empty() {
                assert!(!is_leaf(entry), "{} is a group", entry.id);
            } else {
                assert!(
                    seen.contains(entry.parent),
                    "{}'s parent comes first",
                    entry.id
                );
                assert!(entry.id.starts_with(&format!("{}.", entry.parent)));
                assert!(is_leaf(entry), "{} sells in some unit", entry.id);
                assert_eq!(entry.hs_code.len(), 6, "{}'s HS code", entry.id);
                assert!(entry.hs_code.bytes().all(|b| b.is_ascii_digit()));
                assert_eq!(entry.default_unit, entry.units[0]);
            }
            assert!(!entry.zh.is_empty() && !entry.en.is_empty() && !entry.picture.is_empty());
        }
    }

    #[test]
    fn paths_run_from_the_group_and_descendants_include_the_group() {
        let path: Vec<_> = path("fruit.apple").iter().map(|e| e.id).collect();
        assert_eq!(path, ["fruit", "fruit.apple"]);
        let fruit = with_descendants("fruit");
        assert!(fruit.contains(&"fruit") && fruit.contains(&"fruit.kiwi"));
        assert!(!fruit.contains(&"vegetable.potato"));
        assert!(with_descendants("nothing").is_empty());
    }
}
