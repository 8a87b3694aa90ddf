//! The tables of deliveries on every channel and their receipts: rows and SQL, no rules; "now" comes in as a parameter from the
//! service clock.
