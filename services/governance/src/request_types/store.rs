//! The tables of the catalogue of service-request types per area: rows and SQL, no rules; "now" comes in as a parameter from the
//! service clock.
