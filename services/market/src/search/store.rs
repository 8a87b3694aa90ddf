//! The tables of the search index of listings: rows and SQL, no rules; "now" comes in as a parameter from the
//! service clock.
