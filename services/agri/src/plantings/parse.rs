//! *Parse*: the requests about what is planted where become commands, every bad field reported at once with
//! the platform's `validate` policies.
