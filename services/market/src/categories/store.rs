//! The tables of the produce taxonomy: rows and SQL, no rules; "now" comes in as a parameter from the
//! service clock.
