//! *Parse*: the requests about finance disclosures and their approval become commands, every bad field reported at once with
//! the platform's `validate` policies.
