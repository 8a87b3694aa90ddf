//! The tables of polls and votes: rows and SQL, no rules; "now" comes in as a parameter from the
//! service clock.
