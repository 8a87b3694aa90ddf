//! *Parse*: the requests about the catalogue of service-request types per area become commands, every bad field reported at once with
//! the platform's `validate` policies.
