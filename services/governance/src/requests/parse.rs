//! *Parse*: the requests about villagers' service requests, their workflow, escalation, duplicates and ratings become commands, every bad field reported at once with
//! the platform's `validate` policies.
