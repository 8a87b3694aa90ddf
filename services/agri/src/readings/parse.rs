//! *Parse*: the requests about telemetry coming in and read back become commands, every bad field reported at once with
//! the platform's `validate` policies.
