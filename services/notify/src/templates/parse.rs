//! *Parse*: the requests about versioned message templates per locale become commands, every bad field reported at once with
//! the platform's `validate` policies.
