//! The tables of messages to a whole village, township or county: rows and SQL, no rules; "now" comes in as a parameter from the
//! service clock.
