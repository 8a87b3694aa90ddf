//! *Parse*: the requests about deliveries on every channel and their receipts become commands, every bad field reported at once with
//! the platform's `validate` policies.
