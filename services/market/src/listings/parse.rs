//! *Parse*: the requests about produce listings and their lifecycle become commands, every bad field reported at once with
//! the platform's `validate` policies.
