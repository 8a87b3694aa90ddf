//! The tables of harvest lots and their traceability: rows and SQL, no rules; "now" comes in as a parameter from the
//! service clock.
