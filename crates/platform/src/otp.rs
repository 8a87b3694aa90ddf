//! One-time codes sent by SMS (identity's sign-in and phone changes, governance's claims of a
//! resident record).
//!
//! A code is six random digits, valid for a few minutes, usable once, and never stored: only its
//! HMAC-SHA256 under a key derived from the service secret is. (A plain hash of six digits would be
//! reversed by trying all million; the keyed hash cannot be without the secret.)

use hmac::{Hmac, KeyInit, Mac};
use rand::Rng as _;
use sha2::Sha256;

/// Digits in a code.
pub const LENGTH: usize = 6;

/// A freshly made code.
pub fn generate() -> String {
    let mut rng = rand::rng();
    (0..LENGTH)
        .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
        .collect()
}

/// Whether `code` looks like a code at all (six ASCII digits).
pub fn well_formed(code: &str) -> bool {
    code.len() == LENGTH && code.bytes().all(|b| b.is_ascii_digit())
}

/// A code field of a request: the code as typed, when it is well formed.
pub fn field(violations: &mut crate::error::Violations, field: &str, code: &str) -> Option<String> {
    if well_formed(code) {
        Some(code.to_owned())
    } else {
        violations.add(
            field,
            format!("must be the {LENGTH}-digit code from the text message"),
        );
        None
    }
}

/// The keyed MAC of `code`, bound to the phone and purpose so that a code for one cannot be
/// replayed for another.
fn mac(secret: &[u8], phone: &str, purpose: &str, code: &str) -> Hmac<Sha256> {
    // HMAC takes keys of any length: `new_from_slice` cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    for part in [
        b"terrace-otp".as_slice(),
        phone.as_bytes(),
        purpose.as_bytes(),
        code.as_bytes(),
    ] {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
    mac
}

/// The keyed hash stored for `code`.
pub fn hash(secret: &[u8], phone: &str, purpose: &str, code: &str) -> Vec<u8> {
    mac(secret, phone, purpose, code)
        .finalize()
        .into_bytes()
        .to_vec()
}

/// Compares a stored hash with the hash of a presented code in constant time.
pub fn matches(secret: &[u8], phone: &str, purpose: &str, code: &str, stored: &[u8]) -> bool {
    mac(secret, phone, purpose, code)
        .verify_slice(stored)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits_and_vary() {
        let codes: std::collections::BTreeSet<String> = (0..50).map(|_| generate()).collect();
        assert!(codes.iter().all(|code| well_formed(code)));
        assert!(
            codes.len() > 40,
            "50 codes should rarely collide: {}",
            codes.len()
        );
        assert!(!well_formed("12345"));
        assert!(!well_formed("12345a"));
        assert!(
            !well_formed("１２３４５６"),
            "full-width digits are not ASCII digits"
        );
    }

    #[test]
    fn a_code_matches_only_its_phone_purpose_and_secret() {
        let stored = hash(b"secret", "+8613800138000", "login", "123456");
        assert!(matches(
            b"secret",
            "+8613800138000",
            "login",
            "123456",
            &stored
        ));
        assert!(!matches(
            b"secret",
            "+8613800138000",
            "login",
            "123457",
            &stored
        ));
        assert!(!matches(
            b"secret",
            "+8613900139000",
            "login",
            "123456",
            &stored
        ));
        assert!(!matches(
            b"secret",
            "+8613800138000",
            "sign_up",
            "123456",
            &stored
        ));
        assert!(!matches(
            b"other",
            "+8613800138000",
            "login",
            "123456",
            &stored
        ));
    }
}
