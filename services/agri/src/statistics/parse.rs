//! *Parse*: the requests about statistics of an area become commands, every bad field reported at once with
//! the platform's `validate` policies.
