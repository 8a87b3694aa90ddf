//! *Parse*: the requests about alert rules and the alerts they raise become commands, every bad field reported at once with
//! the platform's `validate` policies.
