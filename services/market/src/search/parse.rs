//! *Parse*: the requests about the search index of listings become commands, every bad field reported at once with
//! the platform's `validate` policies.
