//! The tables of the crop catalogue: rows and SQL, no rules; "now" comes in as a parameter from the
//! service clock.
