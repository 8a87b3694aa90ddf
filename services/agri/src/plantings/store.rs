//! The tables of what is planted where: rows and SQL, no rules; "now" comes in as a parameter from the
//! service clock.
