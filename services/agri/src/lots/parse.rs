//! *Parse*: the requests about harvest lots and their traceability become commands, every bad field reported at once with
//! the platform's `validate` policies.
