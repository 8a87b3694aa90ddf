//! Where photo bytes live: an `object_store` chosen by `[photos]` settings.
//!
//! - `local` (the default): a directory (`photos.dir`, created when missing) — one machine, a
//!   laptop, a small site;
//! - `s3`: an S3-compatible bucket (`photos.s3`) — MinIO or a cloud's, what Kubernetes replicas
//!   share.
//!
//! Keys are `<service>/<yyyy>/<mm>/<id>.jpg` and `<id>.thumb.jpg` beside it: one bucket or
//! directory can hold every service's photos, and a month's photos can be listed, backed up or
//! moved together.

use std::sync::Arc;

use anyhow::Context as _;
use chrono::{DateTime, Datelike as _, Utc};
use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use secrecy::ExposeSecret as _;
use terrace_platform::config::{PhotoStore, PhotosSettings};
use uuid::Uuid;

/// The store `settings` name.
pub fn from_settings(settings: &PhotosSettings) -> anyhow::Result<Arc<dyn ObjectStore>> {
    match settings.store {
        PhotoStore::Local => {
            std::fs::create_dir_all(&settings.dir).with_context(|| {
                format!("creating the photo directory {}", settings.dir.display())
            })?;
            let store = LocalFileSystem::new_with_prefix(&settings.dir).with_context(|| {
                format!("opening the photo directory {}", settings.dir.display())
            })?;
            Ok(Arc::new(store))
        }
        PhotoStore::S3 => {
            // reqwest is built without a TLS provider of its own (`rustls-no-provider`) and
            // panics building the client when none is installed: install the tree's one, ring,
            // unless the process already did.
            let _already_installed = rustls::crypto::ring::default_provider().install_default();
            let s3 = &settings.s3;
            anyhow::ensure!(!s3.bucket.is_empty(), "photos.s3.bucket is required");
            let mut builder = AmazonS3Builder::new()
                .with_bucket_name(&s3.bucket)
                .with_allow_http(s3.allow_http);
            if !s3.region.is_empty() {
                builder = builder.with_region(&s3.region);
            }
            if !s3.endpoint.is_empty() {
                builder = builder.with_endpoint(&s3.endpoint);
            }
            let key_id = s3.access_key_id.expose_secret();
            if !key_id.is_empty() {
                builder = builder
                    .with_access_key_id(key_id)
                    .with_secret_access_key(s3.secret_access_key.expose_secret());
            }
            Ok(Arc::new(
                builder.build().context("configuring the S3 photo store")?,
            ))
        }
    }
}

/// The key of photo `id` of `service`, uploaded at `at`.
pub fn object_key(service: &str, id: Uuid, at: DateTime<Utc>) -> String {
    format!("{service}/{:04}/{:02}/{id}.jpg", at.year(), at.month())
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    #[test]
    fn keys_are_grouped_by_service_and_month() {
        let id = Uuid::now_v7();
        let at = Utc.with_ymd_and_hms(2026, 3, 9, 12, 0, 0).unwrap();
        let key = object_key("governance", id, at);
        assert_eq!(key, format!("governance/2026/03/{id}.jpg"));
        assert_eq!(
            crate::entity::thumbnail_key(&key),
            format!("governance/2026/03/{id}.thumb.jpg")
        );
    }

    #[test]
    fn an_s3_store_needs_a_bucket() {
        let settings = PhotosSettings {
            store: PhotoStore::S3,
            ..PhotosSettings::default()
        };
        assert!(from_settings(&settings).is_err());
        let mut settings = settings;
        settings.s3.bucket = "photos".to_owned();
        settings.s3.endpoint = "http://127.0.0.1:9000".to_owned();
        settings.s3.region = "us-east-1".to_owned();
        settings.s3.allow_http = true;
        // Configured without reaching it: the store connects on first use.
        assert!(from_settings(&settings).is_ok());
    }
}
