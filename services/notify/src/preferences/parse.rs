//! *Parse*: the requests about each person's channels, quiet hours and subscriptions become commands, every bad field reported at once with
//! the platform's `validate` policies.
