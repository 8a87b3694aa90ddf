//! The tables of households and residents, with protected national ids and their access log: rows and SQL, no rules; "now" comes in as a parameter from the
//! service clock.
