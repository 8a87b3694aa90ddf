//! The tables of the in-app inbox: rows and SQL, no rules; "now" comes in as a parameter from the
//! service clock.
