//! *Parse*: the requests about orders that never oversell become commands, every bad field reported at once with
//! the platform's `validate` policies.
