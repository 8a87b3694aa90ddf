//! The tables of the national division tree: rows and SQL, no rules; "now" comes in as a parameter from the
//! service clock.
