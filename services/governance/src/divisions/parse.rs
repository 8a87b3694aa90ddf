//! *Parse*: the requests about the national division tree become commands, every bad field reported at once with
//! the platform's `validate` policies.
