//! Passwords: the policy, and argon2id hashing.
//!
//! The policy follows NIST SP 800-63B: length matters, composition rules do not; a password that
//! is on the list of the most common ones, or that is the user's own phone number, is refused.
//! Hashes are argon2id with the OWASP minimum parameters (19 MiB, 2 passes, 1 lane), stored as PHC
//! strings so that the parameters can be raised later and old hashes still verify.

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use hmac::{Hmac, KeyInit, Mac as _};
use secrecy::SecretString;
use sha2::Sha256;
use std::fmt;

/// Shortest password accepted.
pub const MIN_LENGTH: usize = 8;
/// Longest password accepted: argon2 would take anything, but a 10 MB "password" is an attack.
pub const MAX_LENGTH: usize = 128;

/// Passwords seen most in breaches (and their obvious local variants); refused outright.
const COMMON: &[&str] = &[
    "12345678",
    "123456789",
    "1234567890",
    "11111111",
    "00000000",
    "88888888",
    "66666666",
    "password",
    "password1",
    "qwertyui",
    "qwerty123",
    "iloveyou",
    "abc12345",
    "a1234567",
    "aa123456",
    "woaini520",
    "5201314520",
    "1qaz2wsx",
    "zxcvbnm123",
    "asdfghjk",
    "qq123456",
    "123123123",
    "987654321",
    "12341234",
    "11223344",
    "147258369",
    "admin123",
    "terrace123",
];

/// Why a password was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("must be at least {MIN_LENGTH} characters")]
    TooShort,
    #[error("must be at most {MAX_LENGTH} characters")]
    TooLong,
    #[error("is one of the most common passwords; choose another")]
    Common,
    #[error("must not be your phone number")]
    IsPhoneNumber,
    #[error("must not be one character repeated")]
    Repeated,
}

/// Checks `password` against the policy; `phone` is the user's phone number in any form
/// (`+86 138 0013 8000`, `13800138000`): only its digits are compared.
pub fn check(password: &str, phone: &str) -> Result<(), PasswordError> {
    let phone_digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return Err(PasswordError::TooShort);
    }
    if length > MAX_LENGTH {
        return Err(PasswordError::TooLong);
    }
    let lowered = password.to_lowercase();
    if COMMON.contains(&lowered.as_str()) {
        return Err(PasswordError::Common);
    }
    let digits: String = password.chars().filter(char::is_ascii_digit).collect();
    if digits.len() == password.len() && !phone_digits.is_empty() && phone_digits.ends_with(&digits)
    {
        return Err(PasswordError::IsPhoneNumber);
    }
    let mut chars = password.chars();
    if let Some(first) = chars.next()
        && chars.all(|c| c == first)
    {
        return Err(PasswordError::Repeated);
    }
    Ok(())
}

fn hasher() -> Argon2<'static> {
    // 19 MiB, 2 iterations, 1 lane: OWASP's minimum for argon2id. Params::new only fails on
    // out-of-range values, which these are not; fall back to the crate's defaults regardless.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password (CPU-bound for tens of milliseconds: call it from `spawn_blocking`).
/// A new password field of a request: required, and within the policy for `phone` (the
/// number the account logs in with, whatever form it was typed in).
pub fn new_password_field(
    violations: &mut terrace_platform::error::Violations,
    field: &str,
    password: &str,
    phone: &str,
) -> Option<String> {
    if password.is_empty() {
        violations.add(field, "required");
        return None;
    }
    check(password, phone)
        .map_err(|error| violations.add(field, error.to_string()))
        .ok()?;
    Some(password.to_owned())
}

/// A current password field (logging in, confirming a change): given, and not absurdly long.
/// Its policy is not checked: a password set under an older policy still works.
pub fn current_password_field(
    violations: &mut terrace_platform::error::Violations,
    field: &str,
    password: &str,
) -> Option<String> {
    if password.is_empty() {
        violations.add(field, "required");
        None
    } else if password.chars().count() > MAX_LENGTH {
        violations.add(field, "too long");
        None
    } else {
        Some(password.to_owned())
    }
}

pub fn hash(password: &str) -> anyhow::Result<String> {
    // A random 16-byte salt is drawn from the operating system for each hash.
    hasher()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|error| anyhow::anyhow!("hashing a password: {error}"))
}

/// Whether `password` matches `hash`. An unreadable hash does not match.
pub fn verify(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        hasher()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A hash of nothing, verified against when the phone has no account or no password, so that the
/// answer takes as long as for a real account and does not reveal which phones are registered.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash("terrace-dummy-password-for-timing").unwrap_or_default())
}

/// How passwords enter a request's fingerprint. The idempotency log keeps a plain SHA-256 of
/// the request for days, which would let anyone who reads the table try passwords against it at
/// hash speed; so a password is fingerprinted as its HMAC under a key derived from the service
/// secret, which tells nothing without the secret.
#[derive(Clone)]
pub struct PasswordKey([u8; 32]);

impl fmt::Debug for PasswordKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordKey(..)")
    }
}

impl PasswordKey {
    pub fn new(secret: &SecretString) -> Self {
        Self(crate::keys::derive_key(
            secret,
            "request fingerprint of passwords",
        ))
    }

    /// What stands in for `password` in a fingerprint (empty for none).
    pub fn stand_in(&self, password: &str) -> String {
        if password.is_empty() {
            return String::new();
        }
        // HMAC takes a key of any length: this cannot fail.
        <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0)
            .map(|mac| {
                mac.chain_update(password.as_bytes())
                    .finalize()
                    .into_bytes()
                    .iter()
                    .map(|byte| format!("{byte:02x}"))
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_refuses_weak_passwords_with_a_reason() {
        assert_eq!(check("short1", ""), Err(PasswordError::TooShort));
        assert_eq!(check(&"x".repeat(129), ""), Err(PasswordError::TooLong));
        assert_eq!(check("Password1", ""), Err(PasswordError::Common));
        assert_eq!(
            check("13800138000", "8613800138000"),
            Err(PasswordError::IsPhoneNumber)
        );
        // The phone may come in any form a person typed it.
        assert_eq!(
            check("13800138000", "+86 138 0013 8000"),
            Err(PasswordError::IsPhoneNumber)
        );
        assert_eq!(check("zzzzzzzzzz", ""), Err(PasswordError::Repeated));
        assert_eq!(
            check("村口老槐树下的井", ""),
            Ok(()),
            "eight Chinese characters are fine"
        );
        assert_eq!(check("correct horse battery", "8613800138000"), Ok(()));
    }

    #[test]
    fn hashes_verify_only_the_right_password() {
        let hash = hash("correct horse battery").unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(verify("correct horse battery", &hash));
        assert!(!verify("correct horse batterY", &hash));
        assert!(!verify("correct horse battery", "not a hash"));
        assert!(!verify("anything", dummy_hash()));
    }
}
