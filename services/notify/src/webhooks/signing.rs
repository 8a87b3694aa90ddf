//! Standard Webhooks signatures (<https://www.standardwebhooks.com>): a secret is `whsec_`
//! followed by base64 of 32 random bytes; a message is signed as `v1,<base64 HMAC-SHA256(secret,
//! "<webhook-id>.<webhook-timestamp>.<body>")>`, and while a secret is being rotated, with each
//! live secret, the signatures space-separated in one `webhook-signature` header.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit as _, Mac as _};
use rand::RngCore as _;
use sha2::Sha256;

/// The prefix of every secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// The header names of the specification.
pub const WEBHOOK_ID: &str = "webhook-id";
pub const WEBHOOK_TIMESTAMP: &str = "webhook-timestamp";
pub const WEBHOOK_SIGNATURE: &str = "webhook-signature";

/// A new signing secret, `whsec_<base64 of 32 random bytes>`.
pub fn new_secret() -> String {
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    format!("{SECRET_PREFIX}{}", STANDARD.encode(key))
}

/// The key bytes of `secret` (with or without its prefix); `None` when it is not base64.
pub fn key_of(secret: &str) -> Option<Vec<u8>> {
    STANDARD
        .decode(secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret))
        .ok()
        .filter(|key| !key.is_empty())
}

/// The `webhook-signature` value of `body` sent as message `id` at `timestamp` (unix seconds),
/// one `v1,` signature per key.
pub fn signature(keys: &[Vec<u8>], id: &str, timestamp: i64, body: &[u8]) -> String {
    keys.iter()
        // HMAC takes a key of any length: no key is skipped.
        .filter_map(|key| Hmac::<Sha256>::new_from_slice(key).ok())
        .map(|mut mac| {
            mac.update(id.as_bytes());
            mac.update(b".");
            mac.update(timestamp.to_string().as_bytes());
            mac.update(b".");
            mac.update(body);
            format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(id: &str, timestamp: i64, signature: &str) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        headers.insert(WEBHOOK_ID, id.parse().unwrap());
        headers.insert(WEBHOOK_TIMESTAMP, timestamp.to_string().parse().unwrap());
        headers.insert(WEBHOOK_SIGNATURE, signature.parse().unwrap());
        headers
    }

    #[test]
    fn an_independent_implementation_verifies_what_is_signed_here() {
        let secret = new_secret();
        assert!(secret.starts_with("whsec_"), "{secret}");
        let key = key_of(&secret).unwrap();
        assert_eq!(key.len(), 32);
        // The independent verifier checks the timestamp against the wall clock.
        let now = terrace_platform::Clock::system().now().timestamp();
        let body = br#"{"type":"governance.request.created","data":{}}"#;
        let signed = signature(std::slice::from_ref(&key), "0190-delivery", now, body);
        let receiver = standardwebhooks::Webhook::new(&secret).unwrap();
        receiver
            .verify(body, &headers("0190-delivery", now, &signed))
            .unwrap();
        // Another body, another id, another secret: refused.
        assert!(
            receiver
                .verify(b"{}", &headers("0190-delivery", now, &signed))
                .is_err()
        );
        assert!(
            receiver
                .verify(body, &headers("0190-other", now, &signed))
                .is_err()
        );
        let stranger = standardwebhooks::Webhook::new(&new_secret()).unwrap();
        assert!(
            stranger
                .verify(body, &headers("0190-delivery", now, &signed))
                .is_err()
        );
    }

    #[test]
    fn during_a_rotation_either_secret_verifies() {
        let (old, new) = (new_secret(), new_secret());
        let keys = [key_of(&old).unwrap(), key_of(&new).unwrap()];
        // The independent verifier checks the timestamp against the wall clock.
        let now = terrace_platform::Clock::system().now().timestamp();
        let signed = signature(&keys, "0190-d", now, b"{}");
        assert_eq!(signed.split(' ').count(), 2);
        for secret in [&old, &new] {
            standardwebhooks::Webhook::new(secret)
                .unwrap()
                .verify(b"{}", &headers("0190-d", now, &signed))
                .unwrap();
        }
        assert!(key_of("whsec_not base64!").is_none());
    }
}
