//! The tables of produce listings and their lifecycle: rows and SQL, no rules; "now" comes in as a parameter from the
//! service clock.
