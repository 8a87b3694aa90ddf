//! The tables of statistics of an area: rows and SQL, no rules; "now" comes in as a parameter from the
//! service clock.
