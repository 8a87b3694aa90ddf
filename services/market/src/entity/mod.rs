//! One sea-orm entity per table of the market's database.

pub mod listings;
pub mod orders;
