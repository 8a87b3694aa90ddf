//! Photo URLs, and the signatures that let a browser load a photo that is not public.
//!
//! An `<img>` sends no token, so the URL itself is the permission: a service hands it out only
//! to a caller who may see what the photo belongs to, and it works for [`crate::Photos`]'s
//! `signed_url_ttl` on the service clock. The signature is HMAC-SHA256 under a key derived (HKDF)
//! from `photos.url_secret` and the service's name, over the service, the photo's id, the variant
//! (`main` or `thumb`) and the expiry, each length-prefixed so that no two inputs run together.
//! It is checked in constant time (`hmac`'s `verify_slice`). A public photo's URLs carry none.
//!
//! Paths: `/media/<service>/<id>.jpg` and `/media/<service>/<id>.thumb.jpg`, relative to the
//! service's own origin (the gRPC port's, where the browser already is).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac as _};
use secrecy::{ExposeSecret as _, SecretString};
use sha2::Sha256;
use uuid::Uuid;

/// Which file of a photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// The stored photo (`<id>.jpg`).
    Main,
    /// Its thumbnail (`<id>.thumb.jpg`).
    Thumbnail,
}

impl Variant {
    /// The name signed.
    fn as_str(self) -> &'static str {
        match self {
            Self::Main => "main",
            Self::Thumbnail => "thumb",
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            Self::Main => ".jpg",
            Self::Thumbnail => ".thumb.jpg",
        }
    }

    /// The photo and variant a file name (`<id>.jpg`, `<id>.thumb.jpg`) names.
    pub fn parse_file(file: &str) -> Option<(Uuid, Self)> {
        let (id, variant) = match file.strip_suffix(Self::Thumbnail.suffix()) {
            Some(id) => (id, Self::Thumbnail),
            None => (file.strip_suffix(Self::Main.suffix())?, Self::Main),
        };
        Some((Uuid::parse_str(id).ok()?, variant))
    }
}

/// The prefix of a service's photo URLs, `/media/<service>/`.
pub fn prefix(service: &str) -> String {
    format!("/media/{service}/")
}

/// Signs and checks one service's photo URLs.
#[derive(Clone)]
pub struct Signer {
    service: &'static str,
    key: [u8; 32],
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// The signer of `service`'s URLs, keyed from `secret`.
    pub fn new(service: &'static str, secret: &SecretString) -> Self {
        let hkdf = Hkdf::<Sha256>::new(Some(b"terrace-photos"), secret.expose_secret().as_bytes());
        let mut key = [0u8; 32];
        let info = format!("terrace photo urls v1 {service}");
        if hkdf.expand(info.as_bytes(), &mut key).is_err() {
            // HKDF-SHA256 expands to at most 8160 bytes; 32 always fit.
            unreachable!("hkdf cannot fail to expand 32 bytes");
        }
        Self { service, key }
    }

    pub fn service(&self) -> &'static str {
        self.service
    }

    fn mac(&self, id: Uuid, variant: Variant, expires: i64) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        let id = id.to_string();
        let expires = expires.to_string();
        for part in [
            self.service.as_bytes(),
            id.as_bytes(),
            variant.as_str().as_bytes(),
            expires.as_bytes(),
        ] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac
    }

    /// The URL of `variant` of photo `id`: unsigned when it is public, else valid until
    /// `expires` (Unix seconds).
    pub fn url(&self, id: Uuid, variant: Variant, public: bool, expires: i64) -> String {
        let path = format!("{}{id}{}", prefix(self.service), variant.suffix());
        if public {
            return path;
        }
        let signature =
            URL_SAFE_NO_PAD.encode(self.mac(id, variant, expires).finalize().into_bytes());
        format!("{path}?exp={expires}&sig={signature}")
    }

    /// Whether `signature` (base64url, unpadded) is this service's for `variant` of `id` until
    /// `expires`. Constant time in the signature; whether it has expired is the caller's check.
    pub fn verify(&self, id: Uuid, variant: Variant, expires: i64, signature: &str) -> bool {
        let Ok(signature) = URL_SAFE_NO_PAD.decode(signature) else {
            return false;
        };
        self.mac(id, variant, expires)
            .verify_slice(&signature)
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer(service: &'static str, secret: &str) -> Signer {
        Signer::new(service, &SecretString::from(secret))
    }

    fn signature_of(url: &str) -> &str {
        url.split("&sig=").nth(1).unwrap()
    }

    #[test]
    fn a_signature_holds_for_exactly_what_it_signed() {
        let id = Uuid::now_v7();
        let governance = signer("governance", "secret");
        let url = governance.url(id, Variant::Main, false, 1_000);
        assert_eq!(
            url.split('?').next().unwrap(),
            format!("/media/governance/{id}.jpg")
        );
        assert!(url.contains("?exp=1000&sig="));
        let signature = signature_of(&url);
        assert!(governance.verify(id, Variant::Main, 1_000, signature));
        // Another expiry, variant, photo, service or secret: no.
        assert!(!governance.verify(id, Variant::Main, 1_001, signature));
        assert!(!governance.verify(id, Variant::Thumbnail, 1_000, signature));
        assert!(!governance.verify(Uuid::now_v7(), Variant::Main, 1_000, signature));
        assert!(!signer("market", "secret").verify(id, Variant::Main, 1_000, signature));
        assert!(!signer("governance", "other").verify(id, Variant::Main, 1_000, signature));
        // Garbage is refused, not a panic.
        assert!(!governance.verify(id, Variant::Main, 1_000, "%%%"));
        assert!(!governance.verify(id, Variant::Main, 1_000, ""));
    }

    #[test]
    fn public_photos_have_plain_urls() {
        let id = Uuid::now_v7();
        assert_eq!(
            signer("market", "s").url(id, Variant::Thumbnail, true, 5),
            format!("/media/market/{id}.thumb.jpg")
        );
    }

    #[test]
    fn file_names_name_a_photo_and_a_variant() {
        let id = Uuid::now_v7();
        assert_eq!(
            Variant::parse_file(&format!("{id}.jpg")),
            Some((id, Variant::Main))
        );
        assert_eq!(
            Variant::parse_file(&format!("{id}.thumb.jpg")),
            Some((id, Variant::Thumbnail))
        );
        assert_eq!(Variant::parse_file(&format!("{id}.png")), None);
        assert_eq!(Variant::parse_file("x.jpg"), None);
        assert_eq!(Variant::parse_file(".thumb.jpg"), None);
    }
}
