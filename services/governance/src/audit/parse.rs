//! *Parse*: the requests about the tamper-evident audit log become commands, every bad field reported at once with
//! the platform's `validate` policies.
