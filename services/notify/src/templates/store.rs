//! The tables of versioned message templates per locale: rows and SQL, no rules; "now" comes in as a parameter from the
//! service clock.
