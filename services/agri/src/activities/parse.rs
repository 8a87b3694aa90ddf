//! *Parse*: the requests about the farm diary and its revisions become commands, every bad field reported at once with
//! the platform's `validate` policies.
