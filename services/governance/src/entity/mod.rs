//! One sea-orm entity per governance table: the one row type each store reads and writes.

pub mod divisions;
