//! The platform's photos, which every service that takes pictures uses the same way (governance's
//! service requests first, the market's listings later).
//!
//! A phone uploads a photo through its service's `UploadPhoto` RPC; the service calls
//! [`Photos::upload`], which refuses what is not a JPEG, PNG or WebP image, too large or a
//! decompression bomb, re-encodes the rest without metadata (a phone's GPS position goes), makes a
//! thumbnail, stores both in the object store and records the photo in the service's `photos`
//! table. A later request that carries the photo's id attaches it to what it creates
//! ([`Photos::attach`], in that request's transaction); reads fill the contract's `MediaRef`s
//! ([`Photos::refs`]) with URLs on the service's own origin, signed for a limited time unless the
//! photo is public; [`Photos::router`] serves those URLs on the gRPC port. Photos never attached
//! are deleted after a day by [`spawn_prune`].
//!
//! # Layout
//!
//! - [`ingest`]: bytes in, a stored JPEG and a thumbnail out — sniffed, bounded, decoded, turned
//!   upright, scaled down, re-encoded without metadata. Pure CPU work.
//! - [`store`]: the object store the settings name (a directory, or S3-compatible), and its keys.
//! - [`entity`]: the `photos` table's row type; [`MIGRATION`] creates the table.
//! - [`urls`]: photo URLs and their HMAC signatures.
//! - [`serve`]: the HTTP handler of those URLs.
//! - this file: [`Photos`], what a service holds: upload, attach, detach, read, prune.
//!
//! # Using it from a service
//!
//! - state: `Photos::new(NAME, &ctx.settings.photos, ctx.clock.clone())?`;
//! - migrator: push [`MIGRATION`] after the platform's migrations;
//! - register: `server.add_http_routes(&photos.prefix(), photos.router(ctx.db.clone()))`, and
//!   the generated server's `max_decoding_message_size` at least [`Photos::max_request_bytes`];
//! - start: [`spawn_prune`];
//! - erasure of what photos are attached to: [`Photos::detach_all`] (they are then pruned).

pub mod entity;
pub mod ingest;
pub mod serve;
pub mod store;
pub mod urls;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt as _};
use prost::Message as _;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait as _, ConnectionTrait, DatabaseConnection, EntityTrait as _,
    QueryFilter as _, QueryOrder as _, QuerySelect as _, TransactionTrait as _, TryInsertResult,
};
use terrace_platform::auth::Caller;
use terrace_platform::config::PhotosSettings;
use terrace_platform::db::SqlMigration;
use terrace_platform::error::{Error, Result, Violations};
use terrace_platform::jobs::{self, Schedule};
use terrace_platform::service::ServiceContext;
use terrace_platform::{Clock, clock};
use terrace_proto::common::v1::{LocalizedText, MediaRef};
use tokio::sync::Semaphore;
use uuid::Uuid;

pub use entity::Model as Photo;
use entity::{Column, Entity};
pub use ingest::Limits;
pub use urls::Variant;

/// The `photos` table, which each service that takes photos adds to its migrator (after the
/// platform's migrations). Migrations are never edited once applied: changes come as new ones.
pub const MIGRATION: SqlMigration = SqlMigration {
    name: "m20261204_200001_platform_photos",
    up: r"
CREATE TABLE photos (
    id            uuid        PRIMARY KEY,
    -- The uploader's idempotency key ('user:<id>', 'helper:<id>:for:<id>', ...) and the upload's
    -- request id: a retried upload finds its photo, however long after.
    uploaded_by   text        NOT NULL,
    request_id    uuid        NOT NULL,
    object_key    text        NOT NULL,
    content_type  text        NOT NULL,
    size_bytes    bigint      NOT NULL,
    sha256_hex    text        NOT NULL,
    width         integer     NOT NULL,
    height        integer     NOT NULL,
    public        boolean     NOT NULL,
    created_at    timestamptz NOT NULL,
    attached_kind text,
    attached_id   uuid,
    attached_at   timestamptz,
    -- A terrace.common.v1.LocalizedText, encoded.
    caption       bytea,
    UNIQUE (uploaded_by, request_id),
    CHECK ((attached_kind IS NULL) = (attached_id IS NULL)
       AND (attached_id IS NULL) = (attached_at IS NULL))
);
-- What is attached to a resource, read with the resource.
CREATE INDEX photos_attached ON photos (attached_kind, attached_id) WHERE attached_id IS NOT NULL;
-- What the prune job looks for.
CREATE INDEX photos_unattached ON photos (created_at) WHERE attached_id IS NULL;
",
};

/// How long a photo may stay unattached before [`spawn_prune`] deletes it (the contract says a
/// day: long enough for a phone to file the request it was taken for, even offline for a while).
pub const UNATTACHED_LIFETIME: Duration = Duration::from_secs(86_400);

/// How often the prune job runs.
pub const PRUNE_EVERY: Duration = Duration::from_secs(3_600);

/// Photos deleted per prune transaction.
const PRUNE_BATCH: u64 = 200;

/// One photo of a request that attaches photos: its id, as UploadPhoto answered it, and the
/// caption the request gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct Attachment {
    pub id: Uuid,
    pub caption: Option<LocalizedText>,
}

/// The most photos one thing carries (a request, a note, a listing).
pub const MAX_PHOTOS: usize = 9;

/// The photos a request attaches, as its list `field` names them: at most [`MAX_PHOTOS`], each by
/// id with an optional caption. Only `id` and `caption` are read (the contract's rule).
pub fn attachments(
    violations: &mut Violations,
    field: &str,
    given: &[MediaRef],
) -> Option<Vec<Attachment>> {
    use terrace_platform::validate::{self, Text};
    if given.len() > MAX_PHOTOS {
        violations.add(field, format!("at most {MAX_PHOTOS} photos"));
        return None;
    }
    let before = violations.len();
    let photos: Vec<Attachment> = given
        .iter()
        .enumerate()
        .filter_map(|(index, photo)| {
            let id = validate::id(
                violations,
                &format!("{field}[{index}].id"),
                &photo.id,
                "photo",
            )?;
            let caption = validate::localized_text(
                violations,
                &format!("{field}[{index}].caption"),
                photo.caption.as_ref(),
                Text::optional(200),
            )?;
            Some(Attachment {
                id,
                caption: (!caption.translations.is_empty()).then_some(caption),
            })
        })
        .collect();
    (violations.len() == before).then_some(photos)
}

/// An `UploadPhoto` request of any service, parsed: its request id and the upload. Whether the
/// photo is public is the service's to say (a listing's always are; a service request's as
/// asked).
#[derive(Debug)]
pub struct UploadCommand {
    pub request_id: uuid::Uuid,
    pub upload: Upload,
}

impl UploadCommand {
    pub fn parse(
        request_id: &str,
        content: Vec<u8>,
        content_type: String,
        public: bool,
    ) -> Result<Self> {
        let mut violations = Violations::new();
        let request_id =
            terrace_platform::validate::request_id(&mut violations, "request_id", request_id);
        violations.finish_with(|| {
            Some(Self {
                request_id: request_id?,
                upload: Upload {
                    content: content.into(),
                    content_type,
                    public,
                },
            })
        })
    }
}

/// An upload as the RPC carried it.
#[derive(Debug, Clone)]
pub struct Upload {
    /// The file's bytes.
    pub content: Bytes,
    /// The media type the client declared. Never trusted: the bytes say what they are; it is
    /// only logged when they disagree.
    pub content_type: String,
    /// Whether anyone may see it (else only those who may see what it is attached to).
    pub public: bool,
}

/// One service's photos: what its handlers, routes and jobs share (cheap to clone).
#[derive(Clone)]
pub struct Photos {
    service: &'static str,
    store: Arc<dyn ObjectStore>,
    signer: urls::Signer,
    limits: Limits,
    signed_url_ttl: Duration,
    /// What photo URLs begin with (`photos.public_base_url`, no trailing slash; empty: paths).
    base_url: String,
    /// Decodes running at once in this process. Decoding is CPU-bound and a 40-megapixel photo
    /// takes a core for a while: a few at a time leave the other cores to every other call.
    decodes: Arc<Semaphore>,
    clock: Clock,
}

impl std::fmt::Debug for Photos {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Photos")
            .field("service", &self.service)
            .field("store", &self.store.to_string())
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Photos {
    /// `service`'s photos in the store `settings` name, on the service clock.
    pub fn new(
        service: &'static str,
        settings: &PhotosSettings,
        clock: Clock,
    ) -> anyhow::Result<Self> {
        Ok(Self::with_store(
            service,
            settings,
            clock,
            store::from_settings(settings)?,
        ))
    }

    /// As [`Photos::new`], over a store of the caller's.
    pub fn with_store(
        service: &'static str,
        settings: &PhotosSettings,
        clock: Clock,
        store: Arc<dyn ObjectStore>,
    ) -> Self {
        use secrecy::ExposeSecret as _;
        if settings.url_secret.expose_secret()
            == terrace_platform::config::DEVELOPMENT_PHOTO_URL_SECRET
            && !clock.is_manual()
        {
            tracing::warn!(
                service,
                "photos.url_secret is the development default: set a secret of your own before real use"
            );
        }
        Self {
            service,
            store,
            signer: urls::Signer::new(service, &settings.url_secret),
            limits: Limits {
                max_bytes: settings.max_upload_bytes,
                max_megapixels: settings.max_megapixels,
            },
            signed_url_ttl: settings.signed_url_ttl,
            base_url: settings.public_base_url.trim_end_matches('/').to_owned(),
            decodes: Arc::new(Semaphore::new(settings.max_concurrent_decodes.max(1))),
            clock,
        }
    }

    pub fn service(&self) -> &'static str {
        self.service
    }

    /// The object store (tests look into it).
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The largest gRPC message an upload needs: the largest photo accepted and room for the
    /// request's other fields. The service's generated server decodes up to this much
    /// (`max_decoding_message_size`), above `grpc.max_message_bytes` when that is smaller;
    /// the body is refused past `max_upload_bytes` anyway.
    pub fn max_request_bytes(&self) -> usize {
        self.limits.max_bytes.saturating_add(64 * 1024)
    }

    /// Where this service's photo URLs are served: `/media/<service>/`.
    pub fn prefix(&self) -> String {
        urls::prefix(self.service)
    }

    /// The handler of this service's photo URLs, to mount on the gRPC port under
    /// [`Photos::prefix`] (`GrpcServer::add_http_routes`).
    pub fn router(&self, db: DatabaseConnection) -> axum::Router {
        serve::router(self.clone(), db)
    }

    /// Stores `upload` for `caller`, once per `request_id`: a retry (same caller, same id) gets
    /// the photo the first upload made, without decoding it again (its `public` and bytes are the
    /// first upload's). Refusals are `INVALID_ARGUMENT` on `content`.
    ///
    /// `db` is the service's pool, not a transaction: decoding takes a while and must not hold
    /// one open, and the row is the upload's own idempotency record (no `idempotency::once`
    /// around it, whose remembered answer would replay URLs signed long ago; answer a retry
    /// with a fresh [`Photos::media_ref`]).
    pub async fn upload<C: ConnectionTrait>(
        &self,
        db: &C,
        caller: &Caller,
        request_id: Uuid,
        upload: Upload,
    ) -> Result<Photo> {
        let uploaded_by = uploader(caller)?;
        // The size first: nothing of a body too large is looked at, not even by a retry check.
        if upload.content.len() > self.limits.max_bytes {
            return Err(refused(&ingest::Refusal::TooLarge {
                max_bytes: self.limits.max_bytes,
            }));
        }
        if let Some(photo) = find_upload(db, &uploaded_by, request_id).await? {
            return Ok(photo);
        }
        let processed = self.process(upload.content.clone()).await?;
        if !upload.content_type.is_empty()
            && image::guess_format(&upload.content)
                .ok()
                .map(|f| f.to_mime_type())
                != Some(upload.content_type.as_str())
        {
            tracing::debug!(
                declared = upload.content_type,
                "a photo's declared type was wrong"
            );
        }
        let now = self.clock.now();
        let id = Uuid::now_v7();
        let key = store::object_key(self.service, id, now);
        let thumbnail_key = entity::thumbnail_key(&key);
        let size_bytes = i64::try_from(processed.main.len()).unwrap_or(i64::MAX);
        self.put(&key, processed.main).await?;
        if let Err(error) = self.put(&thumbnail_key, processed.thumbnail).await {
            self.delete_objects(&key).await;
            return Err(error);
        }
        let row = entity::ActiveModel {
            id: Set(id),
            uploaded_by: Set(uploaded_by.clone()),
            request_id: Set(request_id),
            object_key: Set(key.clone()),
            content_type: Set(ingest::CONTENT_TYPE.to_owned()),
            size_bytes: Set(size_bytes),
            sha256_hex: Set(processed.sha256_hex),
            width: Set(i32::try_from(processed.width).unwrap_or(i32::MAX)),
            height: Set(i32::try_from(processed.height).unwrap_or(i32::MAX)),
            public: Set(upload.public),
            created_at: Set(now),
            attached_kind: Set(None),
            attached_id: Set(None),
            attached_at: Set(None),
            caption: Set(None),
        };
        // `exec_with_returning_many`: the one-row form reports a conflict's empty RETURNING as
        // `RecordNotFound` rather than `Conflicted`.
        let inserted = Entity::insert(row)
            .on_conflict(
                OnConflict::columns([Column::UploadedBy, Column::RequestId])
                    .do_nothing()
                    .to_owned(),
            )
            .try_insert()
            .exec_with_returning_many(db)
            .await;
        let photo = match inserted {
            Ok(TryInsertResult::Inserted(rows)) => rows.into_iter().next(),
            Ok(TryInsertResult::Conflicted | TryInsertResult::Empty) => None,
            Err(error) => {
                self.delete_objects(&key).await;
                return Err(error.into());
            }
        };
        match photo {
            Some(photo) => Ok(photo),
            // A concurrent retry of the same upload won the race: its photo is the one, ours goes.
            None => {
                self.delete_objects(&key).await;
                find_upload(db, &uploaded_by, request_id)
                    .await?
                    .ok_or_else(|| Error::Unavailable {
                        message: "a request with this request_id was being processed; retry"
                            .to_owned(),
                        retry_after: Some(Duration::from_millis(200)),
                    })
            }
        }
    }

    /// Decodes and re-encodes on the blocking pool, a bounded number at a time.
    async fn process(&self, content: Bytes) -> Result<ingest::Processed> {
        let permit = self
            .decodes
            .clone()
            .acquire_owned()
            .await
            .map_err(Error::internal)?;
        let limits = self.limits;
        let processed = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            ingest::process(&content, limits)
        })
        .await;
        match processed {
            Ok(Ok(processed)) => Ok(processed),
            Ok(Err(ingest::Refusal::Internal(error))) => Err(Error::internal(error)),
            Ok(Err(refusal)) => Err(refused(&refusal)),
            // A decoder that panicked on crafted input has not taken the process with it; the
            // input was not an image we can read.
            Err(error) => {
                tracing::warn!(%error, "decoding a photo panicked");
                Err(refused(&ingest::Refusal::NotAnImage))
            }
        }
    }

    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<()> {
        self.store
            .put(&ObjectPath::from(key), bytes.into())
            .await
            .map(|_| ())
            .map_err(|error| Error::internal(anyhow::Error::new(error).context("storing a photo")))
    }

    /// Deletes a photo's objects, logging what fails (an object left behind costs space, not
    /// correctness: no row points at it).
    async fn delete_objects(&self, key: &str) {
        for key in [key.to_owned(), entity::thumbnail_key(key)] {
            match self.store.delete(&ObjectPath::from(key.as_str())).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(error) => tracing::warn!(key, %error, "deleting a photo object failed"),
            }
        }
    }

    /// The contract's reference to `photo`, with URLs valid for `signed_url_ttl` from now on the
    /// service clock (unsigned for a public photo).
    pub fn media_ref(&self, photo: &Photo) -> MediaRef {
        let expires = clock::add(self.clock.now(), self.signed_url_ttl).timestamp();
        let url = |variant| {
            let path = self.signer.url(photo.id, variant, photo.public, expires);
            format!("{}{path}", self.base_url)
        };
        MediaRef {
            uri: url(Variant::Main),
            thumbnail_uri: url(Variant::Thumbnail),
            content_type: photo.content_type.clone(),
            size_bytes: photo.size_bytes,
            sha256_hex: photo.sha256_hex.clone(),
            caption: photo
                .caption
                .as_deref()
                .and_then(|bytes| LocalizedText::decode(bytes).ok()),
            id: photo.id.to_string(),
            public: photo.public,
            width: photo.width,
            height: photo.height,
        }
    }

    /// Attaches `photos` to `owner_id` of `kind` (`service_request`, `request_note`) in the
    /// caller's transaction, all or none: each must exist, have been uploaded by `caller` and not
    /// be attached yet. Otherwise `INVALID_ARGUMENT` with a violation per bad photo,
    /// `<field>[i].id` (`field` being the request's list, `service_request.photos`), and nothing
    /// attached. The rows are locked until the transaction ends, so two requests cannot both
    /// attach one photo.
    pub async fn attach<C: ConnectionTrait>(
        &self,
        conn: &C,
        caller: &Caller,
        field: &str,
        photos: &[Attachment],
        kind: &str,
        owner_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<()> {
        if photos.is_empty() {
            return Ok(());
        }
        let uploaded_by = uploader(caller)?;
        let ids: Vec<Uuid> = photos.iter().map(|photo| photo.id).collect();
        let found: HashMap<Uuid, Photo> = Entity::find()
            .filter(Column::Id.is_in(ids))
            .lock_exclusive()
            .all(conn)
            .await?
            .into_iter()
            .map(|photo| (photo.id, photo))
            .collect();
        let mut violations = Violations::new();
        let mut seen = HashSet::new();
        for (i, attachment) in photos.iter().enumerate() {
            let path = format!("{field}[{i}].id");
            match found.get(&attachment.id) {
                // Someone else's photo is as unknown to this caller as one that does not exist.
                None => violations.add(path, "no such photo: upload it first"),
                Some(photo) if photo.uploaded_by != uploaded_by => {
                    violations.add(path, "no such photo: upload it first");
                }
                Some(photo) if photo.attached_id.is_some() => {
                    violations.add(path, "this photo is attached to something else already");
                }
                Some(_) if !seen.insert(attachment.id) => {
                    violations.add(path, "this photo is listed twice");
                }
                Some(_) => {}
            }
        }
        violations.finish()?;
        for attachment in photos {
            let caption = attachment.caption.as_ref().map(|c| c.encode_to_vec());
            Entity::update_many()
                .col_expr(Column::AttachedKind, Expr::value(kind))
                .col_expr(Column::AttachedId, Expr::value(owner_id))
                .col_expr(Column::AttachedAt, Expr::value(now))
                .col_expr(Column::Caption, Expr::value(caption))
                .filter(Column::Id.eq(attachment.id))
                .exec(conn)
                .await?;
        }
        Ok(())
    }

    /// Detaches every photo of `owner_id` of `kind` (its erasure); the prune job then deletes
    /// them and their bytes as it does photos never attached. Returns how many were detached.
    pub async fn detach_all<C: ConnectionTrait>(
        &self,
        conn: &C,
        kind: &str,
        owner_id: Uuid,
    ) -> Result<u64> {
        self.detach(conn, kind, owner_id, None).await
    }

    /// Detaches the photos `ids` of `owner_id` of `kind` (an edit that drops them), as
    /// [`Photos::detach_all`] does all of them.
    pub async fn detach_some<C: ConnectionTrait>(
        &self,
        conn: &C,
        kind: &str,
        owner_id: Uuid,
        ids: &[Uuid],
    ) -> Result<u64> {
        if ids.is_empty() {
            return Ok(0);
        }
        self.detach(conn, kind, owner_id, Some(ids)).await
    }

    async fn detach<C: ConnectionTrait>(
        &self,
        conn: &C,
        kind: &str,
        owner_id: Uuid,
        only: Option<&[Uuid]>,
    ) -> Result<u64> {
        // Dated long ago, so that the next prune takes them; and no longer anyone's, so that
        // the uploader cannot attach them again before it does. The id keeps the key unique.
        let long_ago = DateTime::<Utc>::UNIX_EPOCH;
        let detached = Entity::update_many()
            .col_expr(Column::AttachedKind, Expr::value(Option::<String>::None))
            .col_expr(Column::AttachedId, Expr::value(Option::<Uuid>::None))
            .col_expr(
                Column::AttachedAt,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(Column::Caption, Expr::value(Option::<Vec<u8>>::None))
            .col_expr(Column::CreatedAt, Expr::value(long_ago))
            .col_expr(Column::UploadedBy, Expr::cust("'detached:' || id::text"))
            .filter(Column::AttachedKind.eq(kind))
            .filter(Column::AttachedId.eq(owner_id))
            .filter(match only {
                Some(ids) => Column::Id.is_in(ids.iter().copied()),
                None => Expr::value(true),
            })
            .exec(conn)
            .await?;
        Ok(detached.rows_affected)
    }

    /// The photos attached to each of `owner_ids` of `kind`, in the order they were attached,
    /// as the contract's references with fresh URLs. Owners without photos are absent.
    pub async fn refs<C: ConnectionTrait>(
        &self,
        conn: &C,
        kind: &str,
        owner_ids: &[Uuid],
    ) -> Result<HashMap<Uuid, Vec<MediaRef>>> {
        let mut refs: HashMap<Uuid, Vec<MediaRef>> = HashMap::new();
        if owner_ids.is_empty() {
            return Ok(refs);
        }
        let photos = Entity::find()
            .filter(Column::AttachedKind.eq(kind))
            .filter(Column::AttachedId.is_in(owner_ids.iter().copied()))
            .order_by_asc(Column::AttachedAt)
            .order_by_asc(Column::Id)
            .all(conn)
            .await?;
        for photo in photos {
            if let Some(owner) = photo.attached_id {
                refs.entry(owner).or_default().push(self.media_ref(&photo));
            }
        }
        Ok(refs)
    }

    /// Deletes photos never attached (or detached) and uploaded more than
    /// [`UNATTACHED_LIFETIME`] before `now`, their rows and their bytes. Each batch holds its
    /// rows locked while their objects are deleted, so an attach in between waits and then finds
    /// the photo gone (`SKIP LOCKED`: replicas and an attaching request are not waited for).
    /// Returns how many were deleted.
    pub async fn prune_unattached(
        &self,
        db: &DatabaseConnection,
        now: DateTime<Utc>,
    ) -> anyhow::Result<u64> {
        let cutoff = now - chrono::Duration::from_std(UNATTACHED_LIFETIME)?;
        let mut deleted = 0;
        loop {
            let txn = db.begin().await?;
            let batch = Entity::find()
                .filter(Column::AttachedId.is_null())
                .filter(Column::CreatedAt.lt(cutoff))
                .order_by_asc(Column::CreatedAt)
                .limit(PRUNE_BATCH)
                .lock_with_behavior(
                    sea_orm::sea_query::LockType::Update,
                    sea_orm::sea_query::LockBehavior::SkipLocked,
                )
                .all(&txn)
                .await?;
            if batch.is_empty() {
                txn.commit().await?;
                return Ok(deleted);
            }
            for photo in &batch {
                for key in [
                    photo.object_key.clone(),
                    entity::thumbnail_key(&photo.object_key),
                ] {
                    match self.store.delete(&ObjectPath::from(key.as_str())).await {
                        Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                        Err(error) => {
                            return Err(anyhow::Error::new(error)
                                .context(format!("deleting photo object {key}")));
                        }
                    }
                }
            }
            let ids: Vec<Uuid> = batch.iter().map(|photo| photo.id).collect();
            let result = Entity::delete_many()
                .filter(Column::Id.is_in(ids))
                .exec(&txn)
                .await?;
            txn.commit().await?;
            deleted += result.rows_affected;
            if (batch.len() as u64) < PRUNE_BATCH {
                return Ok(deleted);
            }
        }
    }
}

/// Starts the job that deletes photos left unattached (`photos.prune-unattached`, hourly on the
/// service clock). Each service runs its own, over its own table and its own keys.
pub fn spawn_prune(ctx: &ServiceContext, photos: Photos) {
    let db = ctx.db.clone();
    jobs::spawn(
        ctx,
        Schedule {
            job: "photos.prune-unattached",
            every: PRUNE_EVERY,
        },
        move |now| {
            let db = db.clone();
            let photos = photos.clone();
            async move { photos.prune_unattached(&db, now).await }
        },
    );
}

/// Whose photos these are. Uploading needs an identity of one's own: anonymous callers have
/// none that a later request could be matched with.
fn uploader(caller: &Caller) -> Result<String> {
    match caller {
        Caller::Anonymous { .. } => Err(Error::Unauthenticated(
            "log in to upload or attach photos".to_owned(),
        )),
        caller => Ok(caller.idempotency_key()),
    }
}

fn refused(refusal: &ingest::Refusal) -> Error {
    Error::invalid("content", refusal.description())
}

async fn find_upload<C: ConnectionTrait>(
    db: &C,
    uploaded_by: &str,
    request_id: Uuid,
) -> Result<Option<Photo>> {
    Ok(Entity::find()
        .filter(Column::UploadedBy.eq(uploaded_by))
        .filter(Column::RequestId.eq(request_id))
        .one(db)
        .await?)
}
