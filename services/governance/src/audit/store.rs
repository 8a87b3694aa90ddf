//! The tables of the tamper-evident audit log: rows and SQL, no rules; "now" comes in as a parameter from the
//! service clock.
