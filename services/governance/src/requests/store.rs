//! The tables of villagers' service requests, their workflow, escalation, duplicates and ratings: rows and SQL, no rules; "now" comes in as a parameter from the
//! service clock.
