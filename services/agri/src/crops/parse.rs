//! *Parse*: the requests about the crop catalogue become commands, every bad field reported at once with
//! the platform's `validate` policies.
