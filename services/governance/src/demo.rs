//! The demonstration county for `terrace dev --demo`: 安吉县 (Anji, Huzhou, Zhejiang), the slice of
//! the national list committed in `fixtures/admin-divisions/anji/`, built into the binary so that
//! the demo needs no files beside it.
//!
//! Imported at start when `services.governance.demo_divisions` is set and the county is not there
//! yet; a restart finds it and does nothing.

use crate::divisions::{self, source};
use crate::entity::divisions::Level;

/// The county's code.
pub const COUNTY: &str = "330523";

/// The slice's files, as [`source::FILES`] names them.
const ANJI: [(&str, Level); 5] = [
    (
        include_str!("../../../fixtures/admin-divisions/anji/provinces.csv"),
        Level::Province,
    ),
    (
        include_str!("../../../fixtures/admin-divisions/anji/cities.csv"),
        Level::City,
    ),
    (
        include_str!("../../../fixtures/admin-divisions/anji/areas.csv"),
        Level::County,
    ),
    (
        include_str!("../../../fixtures/admin-divisions/anji/streets.csv"),
        Level::Township,
    ),
    (
        include_str!("../../../fixtures/admin-divisions/anji/villages.csv"),
        Level::Village,
    ),
];

/// Imports the county unless it is there; how many divisions were added.
pub async fn create_demo_divisions(
    db: &sea_orm::DatabaseConnection,
    event_source: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<u64> {
    if divisions::store::find(db, COUNTY).await?.is_some() {
        return Ok(0);
    }
    let levels = ANJI
        .into_iter()
        .map(|(text, level)| source::parse(text.as_bytes(), level))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let report = divisions::import_levels(db, event_source, levels, now, |_, _| {}).await?;
    Ok(report.added)
}
