//! National ID numbers at rest: sealed with AES-256-GCM, found by a keyed hash.
//!
//! - **Sealing.** Each number is encrypted under the *active* key of
//!   `[services.governance.national_id]` with a fresh 96-bit nonce; the resident's id and the
//!   key's name are the associated data, so a sealed number copied onto another row, or relabelled
//!   with another key's name, does not open. The row keeps the ciphertext, the nonce and the key's
//!   name; the number itself is never stored.
//! - **Finding duplicates.** Beside it, HMAC-SHA256 of the number under a key of its own: equal
//!   numbers have equal hashes, so "is this number already registered in the county" is an index
//!   lookup, never a decryption. The hash key is not rotated (every hash would change); a leaked
//!   hash key lets an attacker with the table confirm a guessed number, not read one.
//! - **Rotation.** Add a key under a new name, make it `active_key`, restart, and run
//!   `terrace governance rotate-id-key`: it re-seals, in batches, every number sealed under another
//!   key ([`Sealer::needs_resealing`]). The old key may then be removed.
//!
//! Keys are derived with HKDF-SHA256 from the configured secrets (at least 32 bytes of entropy).

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Nonce, Payload};
use anyhow::{Context as _, anyhow, bail};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;
use sha2::Sha256;
use uuid::Uuid;

use super::national_id::NationalId;

/// The development key, used when none is configured (with a warning at start).
pub const DEVELOPMENT_SECRET: &str = "terrace-development-register-key-do-not-use-in-production";
/// The name the development key is configured under.
pub const DEVELOPMENT_KEY: &str = "development";

/// `[services.governance.national_id]`: the keys that seal ID numbers and the one that hashes them.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct NationalIdKeys {
    /// The name in `keys` of the key new numbers are sealed with.
    pub active_key: String,
    /// Sealing keys by name. A key stays listed while numbers sealed under it remain.
    pub keys: BTreeMap<String, SecretString>,
    /// Keys the hash that finds duplicates; never changed once numbers are stored.
    pub hash_secret: SecretString,
}

impl Default for NationalIdKeys {
    fn default() -> Self {
        Self {
            active_key: DEVELOPMENT_KEY.to_owned(),
            keys: BTreeMap::from([(
                DEVELOPMENT_KEY.to_owned(),
                SecretString::from(DEVELOPMENT_SECRET),
            )]),
            hash_secret: SecretString::from(DEVELOPMENT_SECRET),
        }
    }
}

impl NationalIdKeys {
    /// Whether these are the development keys, which protect nothing.
    pub fn is_development(&self) -> bool {
        self.keys
            .values()
            .chain([&self.hash_secret])
            .any(|secret| secret.expose_secret() == DEVELOPMENT_SECRET)
    }
}

/// A number as a row stores it.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed {
    pub ciphertext: Vec<u8>,
    pub nonce: Vec<u8>,
    /// The name of the key it was sealed with.
    pub key: String,
    /// The keyed hash that finds duplicates.
    pub hash: Vec<u8>,
    /// What reads show: [`NationalId::masked`].
    pub masked: String,
}

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealed")
            .field("key", &self.key)
            .field("masked", &self.masked)
            .finish_non_exhaustive()
    }
}

/// Seals and opens ID numbers with the configured keys.
#[derive(Clone)]
pub struct Sealer {
    active: String,
    ciphers: HashMap<String, Aes256Gcm>,
    hash_key: [u8; 32],
    code_key: [u8; 32],
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut keys: Vec<_> = self.ciphers.keys().collect();
        keys.sort();
        f.debug_struct("Sealer")
            .field("active", &self.active)
            .field("keys", &keys)
            .finish_non_exhaustive()
    }
}

impl Sealer {
    /// The sealer of `keys`; refuses an active key that is not listed, and short secrets.
    pub fn new(keys: &NationalIdKeys) -> anyhow::Result<Self> {
        if !keys.keys.contains_key(&keys.active_key) {
            bail!(
                "services.governance.national_id.active_key is {:?}, which is not one of its keys",
                keys.active_key
            );
        }
        let mut ciphers = HashMap::new();
        for (name, secret) in &keys.keys {
            check_strength(
                &format!("services.governance.national_id.keys.{name}"),
                secret,
            )?;
            let key = derive(secret, "national-id-seal");
            ciphers.insert(name.clone(), Aes256Gcm::new(&key.into()));
        }
        check_strength(
            "services.governance.national_id.hash_secret",
            &keys.hash_secret,
        )?;
        Ok(Self {
            active: keys.active_key.clone(),
            ciphers,
            hash_key: derive(&keys.hash_secret, "national-id-hash"),
            code_key: derive(&keys.hash_secret, "resident-claim-code"),
        })
    }

    /// Seals `id` for the resident `resident` under the active key.
    pub fn seal(&self, resident: Uuid, id: &NationalId) -> anyhow::Result<Sealed> {
        let cipher = self
            .ciphers
            .get(&self.active)
            .ok_or_else(|| anyhow!("the active key is missing"))?;
        let nonce: [u8; 12] = rand::random();
        let ciphertext = cipher
            .encrypt(
                &nonce.into(),
                Payload {
                    msg: id.as_str().as_bytes(),
                    aad: &associated_data(resident, &self.active),
                },
            )
            .map_err(|_| anyhow!("sealing a national id failed"))?;
        Ok(Sealed {
            ciphertext,
            nonce: nonce.to_vec(),
            key: self.active.clone(),
            hash: self.hash(id),
            masked: id.masked(),
        })
    }

    /// Opens the number sealed for `resident`.
    pub fn open(
        &self,
        resident: Uuid,
        key: &str,
        nonce: &[u8],
        ciphertext: &[u8],
    ) -> anyhow::Result<String> {
        let cipher = self.ciphers.get(key).with_context(|| {
            format!(
                "the national id of resident {resident} is sealed under key {key:?}, which is not \
                 configured in services.governance.national_id.keys"
            )
        })?;
        let nonce = Nonce::<Aes256Gcm>::try_from(nonce)
            .map_err(|_| anyhow!("the sealed national id of {resident} has a corrupt nonce"))?;
        let plain = cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: ciphertext,
                    aad: &associated_data(resident, key),
                },
            )
            .map_err(|_| {
                anyhow!(
                    "the national id of resident {resident} does not open under key {key:?}: the \
                     key's secret changed, or the row was altered"
                )
            })?;
        String::from_utf8(plain).context("a sealed national id is not text")
    }

    /// The keyed hash of `id`, equal for equal numbers.
    pub fn hash(&self, id: &NationalId) -> Vec<u8> {
        let mut mac = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(&self.hash_key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(id.as_str().as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// The key of the keyed hashes of resident-claim codes (`terrace_platform::otp::hash`).
    pub fn code_key(&self) -> &[u8] {
        &self.code_key
    }

    /// The name of the key new numbers are sealed with.
    pub fn active_key(&self) -> &str {
        &self.active
    }

    /// Whether a number sealed under `key` should be re-sealed under the active key.
    pub fn needs_resealing(&self, key: &str) -> bool {
        key != self.active
    }
}

fn associated_data(resident: Uuid, key: &str) -> Vec<u8> {
    let mut aad = resident.as_bytes().to_vec();
    aad.extend_from_slice(key.as_bytes());
    aad
}

fn derive(secret: &SecretString, purpose: &str) -> [u8; 32] {
    let hkdf = Hkdf::<Sha256>::new(
        Some(b"terrace-governance"),
        secret.expose_secret().as_bytes(),
    );
    let mut key = [0u8; 32];
    if hkdf.expand(purpose.as_bytes(), &mut key).is_err() {
        unreachable!("hkdf cannot fail to expand 32 bytes");
    }
    key
}

/// A secret shorter than 32 bytes cannot carry 32 bytes of entropy.
fn check_strength(setting: &str, secret: &SecretString) -> anyhow::Result<()> {
    if secret.expose_secret().len() < 32 {
        bail!("{setting} is shorter than 32 bytes; use a random secret of at least 32 bytes");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    fn id() -> NationalId {
        NationalId::parse(
            "11010519491231002X",
            NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        )
        .unwrap()
    }

    fn keys(active: &str, names: &[&str]) -> NationalIdKeys {
        NationalIdKeys {
            active_key: active.to_owned(),
            keys: names
                .iter()
                .map(|name| {
                    let secret = format!("{name}-a-secret-of-thirty-two-bytes-or-more");
                    ((*name).to_owned(), SecretString::from(secret))
                })
                .collect(),
            hash_secret: SecretString::from("the-hash-secret-of-thirty-two-bytes-or-more"),
        }
    }

    #[test]
    fn a_sealed_number_opens_only_for_its_resident_and_key() {
        let sealer = Sealer::new(&keys("k1", &["k1"])).unwrap();
        let resident = Uuid::now_v7();
        let sealed = sealer.seal(resident, &id()).unwrap();
        assert!(
            !sealed
                .ciphertext
                .windows(18)
                .any(|w| w == id().as_str().as_bytes())
        );
        assert_eq!(sealed.masked, "110105********002X");
        let opened = sealer
            .open(resident, &sealed.key, &sealed.nonce, &sealed.ciphertext)
            .unwrap();
        assert_eq!(opened, id().as_str());
        // Copied onto another resident's row, it does not open.
        assert!(
            sealer
                .open(
                    Uuid::now_v7(),
                    &sealed.key,
                    &sealed.nonce,
                    &sealed.ciphertext
                )
                .is_err()
        );
        // Two seals of one number differ (fresh nonces); their hashes are equal.
        let again = sealer.seal(resident, &id()).unwrap();
        assert_ne!(again.ciphertext, sealed.ciphertext);
        assert_eq!(again.hash, sealed.hash);
    }

    #[test]
    fn after_rotation_old_numbers_still_open_and_are_marked_for_resealing() {
        let before = Sealer::new(&keys("k1", &["k1"])).unwrap();
        let resident = Uuid::now_v7();
        let sealed = before.seal(resident, &id()).unwrap();
        let after = Sealer::new(&keys("k2", &["k1", "k2"])).unwrap();
        assert!(after.needs_resealing(&sealed.key));
        let opened = after
            .open(resident, &sealed.key, &sealed.nonce, &sealed.ciphertext)
            .unwrap();
        assert_eq!(opened, id().as_str());
        let resealed = after.seal(resident, &id()).unwrap();
        assert_eq!(resealed.key, "k2");
        assert_eq!(resealed.hash, sealed.hash, "the hash key is not rotated");
        // Without the old key, an old number cannot be read, and says why.
        let without = Sealer::new(&keys("k2", &["k2"])).unwrap();
        let error = without
            .open(resident, &sealed.key, &sealed.nonce, &sealed.ciphertext)
            .unwrap_err();
        assert!(error.to_string().contains("not configured"), "{error}");
    }

    #[test]
    fn bad_key_settings_are_refused_at_start() {
        assert!(Sealer::new(&keys("k9", &["k1"])).is_err());
        let mut short = keys("k1", &["k1"]);
        short
            .keys
            .insert("k1".to_owned(), SecretString::from("short"));
        assert!(Sealer::new(&short).is_err());
        assert!(NationalIdKeys::default().is_development());
        assert!(!keys("k1", &["k1"]).is_development());
    }
}
