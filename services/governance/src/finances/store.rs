//! The tables of finance disclosures and their approval: rows and SQL, no rules; "now" comes in as a parameter from the
//! service clock.
