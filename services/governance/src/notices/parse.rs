//! *Parse*: the requests about public notices of the village's affairs, their revisions and read receipts become commands, every bad field reported at once with
//! the platform's `validate` policies.
