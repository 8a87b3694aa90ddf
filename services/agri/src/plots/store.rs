//! The tables of farmers' plots: rows and SQL, no rules; "now" comes in as a parameter from the
//! service clock.
