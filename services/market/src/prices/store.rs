//! The tables of the price reference: rows and SQL, no rules; "now" comes in as a parameter from the
//! service clock.
