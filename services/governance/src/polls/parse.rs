//! *Parse*: the requests about polls and votes become commands, every bad field reported at once with
//! the platform's `validate` policies.
