//! The tables of alert rules and the alerts they raise: rows and SQL, no rules; "now" comes in as a parameter from the
//! service clock.
