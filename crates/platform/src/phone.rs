//! Phone numbers: the login name of every Terrace user, and the phone on a register record.
//!
//! Numbers are accepted in international form (`+86 138 0013 8000`) or, for the platform's home
//! country, in national form (`13800138000`), and always stored in E.164 (`+8613800138000`) so that
//! one phone is one account however it was typed. Validity is decided by libphonenumber's metadata
//! (the `phonenumber` crate), not by a hand-written pattern.

use std::fmt;

/// The region a number without a `+` prefix is read in.
const DEFAULT_REGION: phonenumber::country::Id = phonenumber::country::Id::CN;

/// A valid phone number in E.164 form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber(String);

/// Why a phone number was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("required")]
    Missing,
    #[error("not a phone number: use international form, e.g. +8613800138000")]
    Unparsable,
    #[error("not a valid phone number for its country")]
    Invalid,
    #[error("must be a mobile number that can receive text messages")]
    NotMobile,
}

impl PhoneNumber {
    /// Parses, validates and normalises `input`. Only numbers that can receive SMS are accepted,
    /// because the one-time code is how a phone is proven.
    pub fn parse(input: &str) -> Result<Self, PhoneError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(PhoneError::Missing);
        }
        // libphonenumber accepts letters as keypad digits; a login name should not.
        if trimmed.chars().any(|c| c.is_alphabetic()) || trimmed.len() > 32 {
            return Err(PhoneError::Unparsable);
        }
        let number = phonenumber::parse(Some(DEFAULT_REGION), trimmed)
            .map_err(|_| PhoneError::Unparsable)?;
        if !phonenumber::is_valid(&number) {
            return Err(PhoneError::Invalid);
        }
        use phonenumber::Type;
        match number.number_type(&phonenumber::metadata::DATABASE) {
            Type::Mobile | Type::FixedLineOrMobile => {}
            _ => return Err(PhoneError::NotMobile),
        }
        Ok(Self(
            number.format().mode(phonenumber::Mode::E164).to_string(),
        ))
    }

    /// The E.164 form.
    /// A phone number field of a request: the number, or a violation saying why not.
    pub fn field(
        violations: &mut crate::error::Violations,
        field: &str,
        input: &str,
    ) -> Option<Self> {
        Self::parse(input)
            .map_err(|error| violations.add(field, error.to_string()))
            .ok()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last four digits, for messages and logs that must not carry the whole number.
    pub fn masked(&self) -> String {
        let tail: String = self
            .0
            .chars()
            .rev()
            .take(4)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        format!("…{tail}")
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn national_and_international_forms_normalise_to_e164() {
        for input in [
            "13800138000",
            "+86 138 0013 8000",
            "+86-138-0013-8000",
            " 138 0013 8000 ",
        ] {
            assert_eq!(
                PhoneNumber::parse(input).map(|p| p.0),
                Ok("+8613800138000".to_owned()),
                "{input}"
            );
        }
        assert_eq!(
            PhoneNumber::parse("+44 7911 123456").unwrap().as_str(),
            "+447911123456"
        );
    }

    #[test]
    fn bad_numbers_are_refused_with_a_reason() {
        assert_eq!(PhoneNumber::parse(""), Err(PhoneError::Missing));
        assert_eq!(PhoneNumber::parse("call me"), Err(PhoneError::Unparsable));
        assert_eq!(
            PhoneNumber::parse("1-800-FLOWERS"),
            Err(PhoneError::Unparsable)
        );
        assert_eq!(
            PhoneNumber::parse("12345"),
            Err(PhoneError::Unparsable),
            "too short to be a number"
        );
        assert_eq!(
            PhoneNumber::parse("+86 1380013800"),
            Err(PhoneError::Invalid)
        );
        // A Beijing landline cannot receive the code.
        assert_eq!(
            PhoneNumber::parse("+86 10 6552 9988"),
            Err(PhoneError::NotMobile)
        );
    }

    #[test]
    fn masked_shows_only_the_last_four_digits() {
        assert_eq!(PhoneNumber::parse("13800138000").unwrap().masked(), "…8000");
    }
}
