//! *Parse*: the requests about messages to a whole village, township or county become commands, every bad field reported at once with
//! the platform's `validate` policies.
