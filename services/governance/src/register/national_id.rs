//! The resident ID number (居民身份证号码) as GB 11643-1999 defines it: 18 characters, a 6-digit
//! address code, the birth date as `YYYYMMDD`, a 3-digit sequence whose parity is the holder's
//! sex (odd for men), and an ISO 7064 MOD 11-2 check character (`0`-`9` or `X`).
//!
//! A number is checked here before it is sealed ([`super::sealing`]); what fails says which rule,
//! so an official who mistyped one digit learns that the check digit does not match.

use std::fmt;

use chrono::{Datelike, NaiveDate};

/// The weights of the first 17 digits in the MOD 11-2 check.
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// The check character for each remainder of the weighted sum modulo 11.
const CHECK_CHARACTERS: [u8; 11] = *b"10X98765432";
/// The earliest birth year a living resident's number carries.
const EARLIEST_BIRTH_YEAR: i32 = 1900;

/// A well-formed resident ID number, upper case.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct NationalId(String);

/// Why a number was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NationalIdError {
    #[error("must be 18 characters: 17 digits and a check digit (0-9 or X)")]
    Format,
    #[error("the address code (first 6 digits) names no province")]
    Region,
    #[error("the birth date (digits 7-14) is not a real date")]
    BirthDate,
    #[error("the check digit does not match (GB 11643): a digit was probably mistyped")]
    CheckDigit,
}

/// The sex the sequence code (digit 17) records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sex {
    Male,
    Female,
}

impl NationalId {
    /// Checks `input` (surrounding spaces ignored, a lower-case `x` accepted) against today's
    /// date: a birth date after `today` is refused.
    pub fn parse(input: &str, today: NaiveDate) -> Result<Self, NationalIdError> {
        let id = input.trim().to_ascii_uppercase();
        let bytes = id.as_bytes();
        let well_formed = bytes.len() == 18
            && bytes[..17].iter().all(u8::is_ascii_digit)
            && (bytes[17].is_ascii_digit() || bytes[17] == b'X');
        if !well_formed {
            return Err(NationalIdError::Format);
        }
        // Provinces are 11 (Beijing) to 82 (Macao); the first digit 1-8 and no 0 in the second.
        let province = &id[..2];
        if !matches!(province.as_bytes(), [b'1'..=b'8', b'1'..=b'9']) {
            return Err(NationalIdError::Region);
        }
        let birth = NaiveDate::parse_from_str(&id[6..14], "%Y%m%d")
            .map_err(|_| NationalIdError::BirthDate)?;
        if birth.year() < EARLIEST_BIRTH_YEAR || birth > today {
            return Err(NationalIdError::BirthDate);
        }
        if check_character(&bytes[..17]) != bytes[17] {
            return Err(NationalIdError::CheckDigit);
        }
        Ok(Self(id))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The birth date the number carries.
    pub fn birth_date(&self) -> NaiveDate {
        // Checked by `parse`.
        NaiveDate::parse_from_str(&self.0[6..14], "%Y%m%d").unwrap_or_default()
    }

    /// The sex the number records.
    pub fn sex(&self) -> Sex {
        if (self.0.as_bytes()[16] - b'0') % 2 == 1 {
            Sex::Male
        } else {
            Sex::Female
        }
    }

    /// The number as reads show it: the first 6 and the last 4 characters, the rest starred
    /// (`330523********1234`).
    pub fn masked(&self) -> String {
        format!("{}********{}", &self.0[..6], &self.0[14..])
    }
}

/// `first17` (17 digits) completed with its check character: how demonstration data and tests
/// make valid numbers. `None` unless given 17 ASCII digits.
pub fn with_check_digit(first17: &str) -> Option<String> {
    let bytes = first17.as_bytes();
    (bytes.len() == 17 && bytes.iter().all(u8::is_ascii_digit))
        .then(|| format!("{first17}{}", check_character(bytes) as char))
}

/// The MOD 11-2 check character of 17 digits.
fn check_character(digits: &[u8]) -> u8 {
    let sum: u32 = digits
        .iter()
        .zip(WEIGHTS)
        .map(|(digit, weight)| u32::from(digit - b'0') * weight)
        .sum();
    CHECK_CHARACTERS[(sum % 11) as usize]
}

/// Never the whole number in logs or panics.
impl fmt::Debug for NationalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("NationalId").field(&self.masked()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()
    }

    fn with_check(prefix: &str) -> String {
        with_check_digit(prefix).unwrap()
    }

    #[test]
    fn the_standards_example_passes() {
        // The worked example of GB 11643-1999, appendix A.
        let id = NationalId::parse("11010519491231002X", today()).unwrap();
        assert_eq!(
            id.birth_date(),
            NaiveDate::from_ymd_opt(1949, 12, 31).unwrap()
        );
        assert_eq!(id.sex(), Sex::Female);
        assert_eq!(id.masked(), "110105********002X");
        assert_eq!(format!("{id:?}"), "NationalId(\"110105********002X\")");
    }

    #[test]
    fn a_lower_case_x_and_spaces_are_accepted() {
        let id = NationalId::parse(" 11010519491231002x ", today()).unwrap();
        assert_eq!(id.as_str(), "11010519491231002X");
    }

    #[test]
    fn every_single_digit_mistake_is_caught() {
        let good = with_check("33052319800101123");
        assert!(NationalId::parse(&good, today()).is_ok());
        // Changing any one of the sequence digits (which keep the date real) breaks the check.
        for position in 14..17 {
            for digit in b'0'..=b'9' {
                let mut bytes = good.clone().into_bytes();
                if bytes[position] == digit {
                    continue;
                }
                bytes[position] = digit;
                let typo = String::from_utf8(bytes).unwrap();
                assert_eq!(
                    NationalId::parse(&typo, today()),
                    Err(NationalIdError::CheckDigit),
                    "{typo}"
                );
            }
        }
    }

    #[test]
    fn each_rule_names_itself() {
        let cases = [
            ("1234", NationalIdError::Format),
            ("33052319800101123A", NationalIdError::Format),
            ("3305231980010112345", NationalIdError::Format),
            (&with_check("00052319800101123"), NationalIdError::Region),
            (&with_check("90052319800101123"), NationalIdError::Region),
            (&with_check("33052319800230123"), NationalIdError::BirthDate),
            (&with_check("33052318800101123"), NationalIdError::BirthDate),
            (&with_check("33052320270101123"), NationalIdError::BirthDate),
            ("110105194912310021", NationalIdError::CheckDigit),
        ];
        for (input, expected) in cases {
            assert_eq!(NationalId::parse(input, today()), Err(expected), "{input}");
        }
    }

    #[test]
    fn the_sequence_parity_is_the_sex() {
        let man = NationalId::parse(&with_check("33052319800101123"), today()).unwrap();
        assert_eq!(man.sex(), Sex::Male);
        let woman = NationalId::parse(&with_check("33052319800101124"), today()).unwrap();
        assert_eq!(woman.sex(), Sex::Female);
    }
}
