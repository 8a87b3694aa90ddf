//! The tables of each person's channels, quiet hours and subscriptions: rows and SQL, no rules; "now" comes in as a parameter from the
//! service clock.
