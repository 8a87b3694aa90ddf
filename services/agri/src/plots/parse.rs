//! *Parse*: the requests about farmers' plots become commands, every bad field reported at once with
//! the platform's `validate` policies.
