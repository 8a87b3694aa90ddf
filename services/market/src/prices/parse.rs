//! *Parse*: the requests about the price reference become commands, every bad field reported at once with
//! the platform's `validate` policies.
