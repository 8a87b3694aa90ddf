//! *Parse*: the requests about the produce taxonomy become commands, every bad field reported at once with
//! the platform's `validate` policies.
