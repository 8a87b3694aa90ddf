//! *Parse*: the requests about signed webhooks to agencies become commands, every bad field reported at once with
//! the platform's `validate` policies.
