//! The tables of public notices of the village's affairs, their revisions and read receipts: rows and SQL, no rules; "now" comes in as a parameter from the
//! service clock.
