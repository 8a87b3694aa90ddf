//! A service's photos over a fresh database, a temporary directory and a hand-moved clock.

use std::time::Duration;

use bytes::Bytes;
use sea_orm::DatabaseConnection;
use sea_orm_migration::{MigrationTrait, MigratorTrait};
use terrace_photos::{Photo, Photos, Upload};
use terrace_platform::auth::{Caller, Principal, PrincipalKind};
use terrace_platform::clock::ManualClock;
use terrace_platform::config::PhotosSettings;
use terrace_platform::error::Error;
use terrace_testkit::TestContext;
use uuid::Uuid;

/// A service's migrator as a service writes it: the platform's tables, then the photos'.
pub(crate) struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut migrations = terrace_platform::db::migrations();
        migrations.push(terrace_photos::MIGRATION.boxed());
        migrations
    }
}

pub(crate) struct Harness {
    pub(crate) ctx: TestContext,
    pub(crate) db: DatabaseConnection,
    pub(crate) photos: Photos,
    pub(crate) clock: ManualClock,
    pub(crate) settings: PhotosSettings,
    /// Held so that the directory lives as long as the test, and goes with it.
    _dir: tempfile::TempDir,
}

impl Harness {
    pub(crate) async fn new() -> Self {
        let ctx = TestContext::new();
        let db = ctx.database("governance").await;
        terrace_platform::db::migrate::<Migrator>(&db)
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let settings = PhotosSettings {
            dir: dir.path().join("photos"),
            url_secret: "a test secret".to_owned().into(),
            ..PhotosSettings::default()
        };
        let clock = ManualClock::starting_now();
        let photos = Photos::new("governance", &settings, clock.clock()).unwrap();
        Self {
            ctx,
            db,
            photos,
            clock,
            settings,
            _dir: dir,
        }
    }

    /// Uploads `content` as `caller` with a new request id.
    pub(crate) async fn upload(&self, caller: &Caller, content: Vec<u8>) -> Result<Photo, Error> {
        self.upload_as(caller, Uuid::now_v7(), content, false).await
    }

    pub(crate) async fn upload_as(
        &self,
        caller: &Caller,
        request_id: Uuid,
        content: Vec<u8>,
        public: bool,
    ) -> Result<Photo, Error> {
        self.photos
            .upload(
                &self.db,
                caller,
                request_id,
                Upload {
                    content: Bytes::from(content),
                    // What a phone says of anything it sends; the bytes decide.
                    content_type: "image/jpeg".to_owned(),
                    public,
                },
            )
            .await
    }

    /// The stored bytes of `key` (relative to the store).
    pub(crate) fn object(&self, key: &str) -> Option<Vec<u8>> {
        std::fs::read(self.settings.dir.join(key)).ok()
    }

    /// Every file under the store's directory.
    pub(crate) fn files(&self) -> Vec<String> {
        fn walk(dir: &std::path::Path, out: &mut Vec<String>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, out);
                } else {
                    out.push(path.display().to_string());
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.settings.dir, &mut out);
        out.sort();
        out
    }

    pub(crate) fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }
}

/// A villager signed in with an account of their own.
pub(crate) fn villager() -> Caller {
    Caller::User(Principal {
        subject: Uuid::now_v7().to_string(),
        kind: PrincipalKind::User,
        grants: Vec::new(),
        api_scopes: Vec::new(),
        actor: None,
        token_id: Uuid::now_v7().to_string(),
        expires_at: chrono::DateTime::<chrono::Utc>::MAX_UTC,
    })
}

/// The `(field, description)` pairs of an `INVALID_ARGUMENT`, or a panic naming what came.
pub(crate) fn violations<T: std::fmt::Debug>(result: Result<T, Error>) -> Vec<(String, String)> {
    match result {
        Err(Error::InvalidArgument(violations)) => violations
            .into_iter()
            .map(|v| (v.field, v.description))
            .collect(),
        other => panic!("expected INVALID_ARGUMENT, got {other:?}"),
    }
}
