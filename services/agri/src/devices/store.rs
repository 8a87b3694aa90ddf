//! The tables of sensors and gateways and their credentials: rows and SQL, no rules; "now" comes in as a parameter from the
//! service clock.
