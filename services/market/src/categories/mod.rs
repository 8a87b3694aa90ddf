//! The produce taxonomy: `ListCategories`, `GetCategory`, and each category's picture.
//!
//! The categories are seeded in code ([`taxonomy`]): zh/en names, synonyms search also matches,
//! the units listings of it sell in, the HS code customs use for export, and a picture a farmer
//! who reads little picks it by. The picture is an SVG served on the HTTP port
//! (`/media/market/categories/<id>.svg`), public like the taxonomy itself.
//!
//! Layout (the service's rhythm, `docs/architecture.md`): [`parse`] turns each request into a
//! query, this module answers it; there is no store, the taxonomy being code.

pub mod parse;
pub mod taxonomy;

use std::collections::BTreeMap;

use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use terrace_platform::error::Result;
use terrace_proto::common::v1 as common;
use terrace_proto::market::v1 as pb;

use self::parse::ListCategories;
use self::taxonomy::{Entry, TAXONOMY};

/// Where category pictures are served.
pub const ICON_PREFIX: &str = "/media/market/categories";

/// Both names of `entry`.
pub fn names(entry: &Entry) -> common::LocalizedText {
    common::LocalizedText {
        translations: BTreeMap::from([
            ("zh-CN".to_owned(), entry.zh.to_owned()),
            ("en".to_owned(), entry.en.to_owned()),
        ]),
    }
}

/// The category as the contract shows it.
pub fn to_proto(entry: &Entry, sort_order: i32) -> pb::Category {
    pb::Category {
        id: entry.id.to_owned(),
        parent_id: entry.parent.to_owned(),
        name: Some(names(entry)),
        synonyms: entry.synonyms.iter().map(|s| (*s).to_owned()).collect(),
        default_unit: entry.default_unit as i32,
        allowed_units: entry.units.iter().map(|unit| *unit as i32).collect(),
        crop_id: String::new(),
        sort_order,
        icon: Some(common::MediaRef {
            uri: format!("{ICON_PREFIX}/{}.svg", entry.id),
            content_type: "image/svg+xml".to_owned(),
            public: true,
            width: ICON_SIZE,
            height: ICON_SIZE,
            ..Default::default()
        }),
        hs_code: entry.hs_code.to_owned(),
    }
}

/// Display order among siblings: the taxonomy's order.
fn sort_order(entry: &Entry) -> i32 {
    let position = TAXONOMY
        .iter()
        .filter(|other| other.parent == entry.parent)
        .position(|other| other.id == entry.id)
        .unwrap_or_default();
    i32::try_from(position).unwrap_or(i32::MAX)
}

/// `ListCategories`: parents before children (the taxonomy's own order).
pub fn list(query: &ListCategories) -> pb::ListCategoriesResponse {
    let categories = TAXONOMY
        .iter()
        .filter(|entry| query.parent.is_none_or(|parent| entry.parent == parent.id))
        .map(|entry| to_proto(entry, sort_order(entry)))
        .collect();
    pb::ListCategoriesResponse {
        categories,
        page: Some(common::PageResponse::default()),
    }
}

/// `GetCategory`.
pub fn get(id: &str) -> Result<pb::Category> {
    let entry = parse::category(id)?;
    Ok(to_proto(entry, sort_order(entry)))
}

const ICON_SIZE: i32 = 96;

/// The picture of a category: its emoji on a tile of its group's colour.
fn icon_svg(entry: &Entry) -> String {
    let group = if entry.parent.is_empty() {
        entry.id
    } else {
        entry.parent
    };
    let colour = match group {
        "fruit" => "#fde2e4",
        "vegetable" => "#e2f5d8",
        "grain" => "#fbf0c9",
        "tea" => "#d8efe3",
        "fungi" => "#efe6dc",
        "nut" => "#f3e3cf",
        "livestock" => "#f9e0d2",
        "aquatic" => "#d9ecf8",
        _ => "#eeeeee",
    };
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{ICON_SIZE}" height="{ICON_SIZE}" viewBox="0 0 96 96" role="img" aria-label="{name}"><rect width="96" height="96" rx="20" fill="{colour}"/><text x="48" y="64" font-size="52" text-anchor="middle">{picture}</text></svg>"#,
        name = entry.zh,
        picture = entry.picture,
    )
}

/// The HTTP routes of category pictures.
pub fn router() -> axum::Router {
    axum::Router::new().route(
        &format!("{ICON_PREFIX}/{{file}}"),
        axum::routing::get(
            async |axum::extract::Path(file): axum::extract::Path<String>| {
                let entry = file.strip_suffix(".svg").and_then(taxonomy::find);
                match entry {
                    Some(entry) => (
                        [
                            (header::CONTENT_TYPE, "image/svg+xml"),
                            (header::CACHE_CONTROL, "public, max-age=86400"),
                        ],
                        icon_svg(entry),
                    )
                        .into_response(),
                    None => StatusCode::NOT_FOUND.into_response(),
                }
            },
        ),
    )
}
