//! *Parse*: the requests about the in-app inbox become commands, every bad field reported at once with
//! the platform's `validate` policies.
