//! The tables of the farm diary and its revisions: rows and SQL, no rules; "now" comes in as a parameter from the
//! service clock.
