//! The prices behind the reference: completed orders and active listings of a category in an
//! area, as `(unit, price, net weight)` to convert; rows and SQL, no rules.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr, FromQueryResult, Statement};

/// The most prices of one source a reference is computed from (the most recent).
const MAX_PRICES: i64 = 10_000;

/// One price as stored: per one `unit`, with a package's net weight.
#[derive(Debug, Clone, FromQueryResult)]
pub struct StoredPrice {
    pub unit: i16,
    pub unit_price_minor: i64,
    pub net_weight_milli: Option<i64>,
    pub net_weight_unit: Option<i16>,
}

/// Prices of orders of `category` completed since `since` in villages under `area` (a code
/// prefix), most recent first. Raw SQL: a join of orders to their listings for the category and
/// weight, which the builder would say no more clearly.
pub async fn completed_orders<C: ConnectionTrait>(
    conn: &C,
    category: &str,
    area: &str,
    since: DateTime<Utc>,
) -> Result<Vec<StoredPrice>, DbErr> {
    StoredPrice::find_by_statement(Statement::from_sql_and_values(
        conn.get_database_backend(),
        "SELECT o.unit, o.unit_price_minor, l.net_weight_milli, l.net_weight_unit
         FROM orders o JOIN listings l ON l.id = o.listing_id
         WHERE o.status = 8 AND o.updated_at >= $3 AND l.category_id = $1
           AND o.village_code LIKE $2 || '%'
         ORDER BY o.updated_at DESC LIMIT $4",
        [
            category.into(),
            area.into(),
            since.into(),
            MAX_PRICES.into(),
        ],
    ))
    .all(conn)
    .await
}

/// Asking prices of active, visible listings of `category` in villages under `area`.
pub async fn active_listings<C: ConnectionTrait>(
    conn: &C,
    category: &str,
    area: &str,
) -> Result<Vec<StoredPrice>, DbErr> {
    StoredPrice::find_by_statement(Statement::from_sql_and_values(
        conn.get_database_backend(),
        "SELECT unit, unit_price_minor, net_weight_milli, net_weight_unit
         FROM listings
         WHERE status = 2 AND NOT hidden AND category_id = $1 AND village_code LIKE $2 || '%'
         ORDER BY id DESC LIMIT $3",
        [category.into(), area.into(), MAX_PRICES.into()],
    ))
    .all(conn)
    .await
}
