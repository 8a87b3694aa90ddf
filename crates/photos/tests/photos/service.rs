//! The photos in a service as a service wires them (state, migrator, routes, prune job), run by
//! the platform's runner on real sockets.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use sea_orm::EntityTrait as _;
use sea_orm_migration::{MigrationTrait, MigratorTrait};
use terrace_photos::{Photos, Upload, entity};
use terrace_platform::grpc::GrpcServer;
use terrace_platform::service::{Service, ServiceContext, ServiceDef};
use terrace_testkit::TestApp;

use crate::helpers::villager;
use crate::images;

const JOB: &str = "photos.prune-unattached";

/// A service that only keeps photos.
struct Album;

struct AlbumMigrator;

impl MigratorTrait for AlbumMigrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut migrations = terrace_platform::db::migrations();
        migrations.push(terrace_photos::MIGRATION.boxed());
        migrations
    }
}

impl Service for Album {
    const NAME: &'static str = "album";
    type Migrator = AlbumMigrator;
    type State = Photos;

    fn state(ctx: &ServiceContext) -> anyhow::Result<Photos> {
        Photos::new(Self::NAME, &ctx.settings.photos, ctx.clock.clone())
    }

    fn register(ctx: &ServiceContext, photos: &Arc<Photos>, server: &mut GrpcServer) {
        server.add_http_routes(&photos.prefix(), photos.router(ctx.db.clone()));
    }

    async fn start(ctx: &ServiceContext, photos: &Arc<Photos>) -> anyhow::Result<()> {
        terrace_photos::spawn_prune(ctx, Photos::clone(photos));
        Ok(())
    }
}

#[tokio::test]
async fn a_service_serves_its_photos_and_its_job_prunes_the_unattached() {
    let dir = tempfile::tempdir().unwrap();
    let photo_dir = dir.path().join("photos");
    let app = TestApp::spawn_with(&[ServiceDef::of::<Album>()], |settings| {
        settings.photos.dir = photo_dir.clone();
    })
    .await;
    let db = terrace_platform::db::connect(&app.settings.database, "album")
        .await
        .unwrap();
    terrace_testkit::jobs::settled(&db, JOB, 1).await;

    // What the service's UploadPhoto would do, on its database and store.
    let photos = Photos::new("album", &app.settings.photos, app.clock.clock()).unwrap();
    let photo = photos
        .upload(
            &db,
            &villager(),
            uuid::Uuid::now_v7(),
            Upload {
                content: Bytes::from(images::jpeg(&images::halves(80, 60), None)),
                content_type: "image/jpeg".to_owned(),
                public: false,
            },
        )
        .await
        .unwrap();
    let http = terrace_testkit::http_client();
    let base = format!("http://{}", app.grpc_addr);
    let url = format!("{base}{}", photos.media_ref(&photo).uri);
    let response = http.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/jpeg");
    assert!(photo_dir.join(&photo.object_key).is_file());

    // A day and an hour later the job has run again and the photo, never attached, is gone.
    app.clock.advance(Duration::from_secs(25 * 3600));
    terrace_testkit::jobs::settled(&db, JOB, 2).await;
    assert!(
        entity::Entity::find_by_id(photo.id)
            .one(&db)
            .await
            .unwrap()
            .is_none()
    );
    assert!(!photo_dir.join(&photo.object_key).exists());
    let fresh = format!("{base}{}", photos.media_ref(&photo).uri);
    assert_eq!(http.get(&fresh).send().await.unwrap().status(), 404);
    db.close().await.unwrap();
}
