//! The tables of orders that never oversell: rows and SQL, no rules; "now" comes in as a parameter from the
//! service clock.
