//! The tables of telemetry coming in and read back: rows and SQL, no rules; "now" comes in as a parameter from the
//! service clock.
