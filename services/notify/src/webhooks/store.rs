//! The tables of signed webhooks to agencies: rows and SQL, no rules; "now" comes in as a parameter from the
//! service clock.
