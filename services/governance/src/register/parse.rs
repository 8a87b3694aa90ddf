//! *Parse*: the requests about households and residents, with protected national ids and their access log become commands, every bad field reported at once with
//! the platform's `validate` policies.
