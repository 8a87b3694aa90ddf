//! *Parse*: the requests about sensors and gateways and their credentials become commands, every bad field reported at once with
//! the platform's `validate` policies.
