//! Produce listings and their lifecycle: `CreateListing`, `GetListing`, `ListListings`,
//! `UpdateListing`, `PublishListing`, `PauseListing`, `CloseListing`, `HideListing`,
//! `UnhideListing`, and the expiry job.
//!
//! **Who.** A farmer sells in a village where they hold the farmer role (a helper acting for
//! them, with their standing); the listing's village defaults to the seller's one farming
//! village. Officials of the village (and above) read every listing of their area and hide one
//! with a reason the seller reads. Anyone signed in reads a listing buyers can see: active or
//! sold out, not hidden. To anyone else a listing they may not see does not exist.
//!
//! **Creating from a phone that was offline.** The phone makes the `request_id` when the farmer
//! presses *sell*, perhaps days before it syncs, and may send it many times. The platform's
//! idempotency log answers a resend with the first answer; the listing also keeps the key it was
//! created with (`created_key`, `created_request_id`), so a resend after the log forgot it still
//! finds the listing rather than making a second.
//!
//! **Versions and events.** Every change raises `version` (stock changes by orders too), writes
//! the listing's snapshot on `state.market.listing.<id>` and publishes its event, all through the
//! outbox in the change's transaction. Search applies a snapshot only when its version is newer.
//!
//! Layout (the service's rhythm, `docs/architecture.md`): [`parse`] turns each request into a
//! command, this module applies it over a [`Caller`], [`store`] holds the SQL, `grpc.rs` answers.

pub mod parse;
pub mod store;

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use prost::Message as _;
use sea_orm::{ConnectionTrait, DatabaseConnection, TransactionTrait as _};
use terrace_platform::Clock;
use terrace_platform::auth::{AdminLevel, AdminScope, Caller, Role};
use terrace_platform::bus::{Envelope, outbox};
use terrace_platform::error::{Error, Result};
use terrace_platform::idempotency::{self, Condition, Keep, NewRow};
use terrace_platform::validate::{page_response, to_date, to_timestamp};
use terrace_proto::common::v1 as common;
use terrace_proto::market::v1 as pb;
use uuid::Uuid;

use self::parse::{
    CreateListing, HideChange, ListListings, ListingCursor, Move, Offer, Transition, UpdateListing,
    Whose,
};
use crate::audit::{self, Audited};
use crate::entity::listings::{ListingStatus, Model as ListingRow};
use crate::units;

/// The listings' migration.
pub const MIGRATION: terrace_platform::db::SqlMigration = terrace_platform::db::SqlMigration {
    name: "m20261204_200001_market_listings",
    up: store::MIGRATION_SQL,
};

/// What the photos of a listing are attached as.
pub const PHOTOS_OF_LISTING: &str = "listing";

/// How many listings one run of the expiry job takes.
const EXPIRY_BATCH: u64 = 500;

/// The job that expires listings at their expiry.
pub const EXPIRY_JOB: terrace_platform::jobs::Schedule = terrace_platform::jobs::Schedule {
    job: "market.listing-expiry",
    every: std::time::Duration::from_secs(60),
};

/// Listings: the *apply* step of their RPCs.
#[derive(Debug, Clone)]
pub struct Listings {
    db: DatabaseConnection,
    source: String,
    clock: Clock,
    photos: terrace_photos::Photos,
}

/// The village officials' rank: they read and hide the listings of their area.
fn oversees(caller: &Caller, village: &AdminScope) -> bool {
    caller.covers(village, Role::VillageOfficial.rank(), None)
}

/// The villages where the caller (or the villager a helper acts for) is a farmer.
fn farming_grants(caller: &Caller) -> Vec<AdminScope> {
    caller
        .principal()
        .map(|p| {
            p.grants
                .iter()
                .filter(|grant| grant.role == Role::Farmer)
                .map(|grant| grant.scope.clone())
                .collect()
        })
        .unwrap_or_default()
}

fn not_yours() -> Error {
    Error::permission_denied("NOT_YOUR_LISTING", "only the listing's seller can do this")
}

impl Listings {
    pub fn new(
        db: DatabaseConnection,
        source: String,
        clock: Clock,
        photos: terrace_photos::Photos,
    ) -> Self {
        Self {
            db,
            source,
            clock,
            photos,
        }
    }

    /// The seller a create names and the village it sells in: the caller (or the villager a
    /// helper acts for) farming there.
    fn seller_and_village(
        caller: &Caller,
        named: Option<&AdminScope>,
    ) -> Result<(Uuid, AdminScope)> {
        let seller = caller.subject_user().ok_or_else(|| {
            Error::permission_denied(
                "NOT_A_FARMER",
                "listings are made by farmers (or their helpers)",
            )
        })?;
        let grants = farming_grants(caller);
        let village = match named {
            Some(village) => village.clone(),
            None => {
                let villages: Vec<_> = grants
                    .iter()
                    .filter(|scope| scope.level() == AdminLevel::Village)
                    .collect();
                match villages.as_slice() {
                    [one] => (*one).clone(),
                    [] if grants.is_empty() => {
                        return Err(Error::permission_denied(
                            "NOT_A_FARMER",
                            "only a farmer of a village can sell; ask the village for the farmer role",
                        ));
                    }
                    _ => {
                        return Err(Error::invalid(
                            "listing.village_code",
                            "required: name the village the produce comes from",
                        ));
                    }
                }
            }
        };
        if !grants.iter().any(|scope| scope.covers_scope(&village)) {
            return Err(Error::permission_denied(
                "NOT_A_FARMER_HERE",
                "you can sell only from a village where you are a farmer",
            ));
        }
        Ok((seller, village))
    }

    /// `CreateListing`. A listing without photos (what a phone sends most) is written **at once**:
    /// one statement ([`idempotency::create_if`]) claims the request, inserts the row and enqueues
    /// its snapshot and event, unless the creator's `request_id` already made a listing (a resend
    /// after the idempotency log forgot it). Listings with photos to attach, and such resends, go
    /// **carefully**: one transaction that reads what it checks.
    pub async fn create(
        &self,
        caller: &Caller,
        command: CreateListing,
    ) -> Result<pb::CreateListingResponse> {
        let (seller, village) = Self::seller_and_village(caller, command.village.as_ref())?;
        let now = self.clock.now();
        let mut row = new_row(
            Uuid::now_v7(),
            seller,
            &village,
            &command.offer,
            caller.actor().encode_to_vec(),
            now,
        );
        row.created_key = command.mutation.key(caller).caller_key().to_owned();
        row.created_request_id = command.mutation.request_id();
        if command.publish {
            publish(&mut row, None, now)?;
        }
        if command.photos.is_empty()
            && let Some(answer) = self.create_at_once(caller, &command, &row, now).await?
        {
            return Ok(answer);
        }
        self.create_carefully(caller, &command, row, now).await
    }

    /// The create in one statement; `None` when it must go carefully after all.
    async fn create_at_once(
        &self,
        caller: &Caller,
        command: &CreateListing,
        row: &ListingRow,
        now: DateTime<Utc>,
    ) -> Result<Option<pb::CreateListingResponse>> {
        // No photos to look up: a new listing has none.
        let listing = one(named(&self.db, std::slice::from_ref(row), HashMap::new()).await?)?;
        let mut events = vec![
            Envelope::snapshot(&self.source, &listing, &listing.id),
            Envelope::new(
                &self.source,
                &pb::ListingCreated {
                    listing: Some(listing.clone()),
                    actor: Some(caller.actor()),
                },
            ),
        ];
        if audit::acts_for_others(caller) {
            let village = village_of(row)?;
            let details = serde_json::json!({ "status": status_proto(row.status).as_str_name() });
            events.push(audit::envelope(
                &self.source,
                caller,
                audited("listing.created", &listing, &village, details),
                now,
            ));
        }
        let conditions = [Condition::Absent {
            table: "listings",
            equal: vec![
                ("created_key", row.created_key.clone().into()),
                ("created_request_id", row.created_request_id.into()),
            ],
        }];
        let answer = pb::CreateListingResponse {
            listing: Some(listing),
        };
        let created = idempotency::create_if(
            &self.db,
            caller,
            &command.mutation,
            now,
            answer,
            &conditions,
            vec![NewRow::of(row)],
            &events,
        )
        .await?;
        if created.is_some() {
            tracing::info!(listing_id = %row.id, village = %row.village_code, status = ?row.status, "listing created");
        }
        Ok(created)
    }

    /// The create in one transaction that reads what it checks.
    async fn create_carefully(
        &self,
        caller: &Caller,
        command: &CreateListing,
        row: ListingRow,
        now: DateTime<Utc>,
    ) -> Result<pb::CreateListingResponse> {
        idempotency::once(&self.db, caller, &command.mutation, now, Keep::Answer, async |txn| {
            // A resend after the idempotency log was pruned: the listing this request made.
            if let Some(made) = store::find_created(txn, &row.created_key, row.created_request_id).await? {
                return Ok(pb::CreateListingResponse {
                    listing: Some(self.to_proto(txn, &made).await?),
                });
            }
            use sea_orm::ActiveModelTrait as _;
            let row = sea_orm::IntoActiveModel::into_active_model(row.clone()).insert(txn).await?;
            self.photos
                .attach(txn, caller, "listing.photos", &command.photos, PHOTOS_OF_LISTING, row.id, now)
                .await?;
            let listing = self.to_proto(txn, &row).await?;
            let unsigned = on_bus(&listing);
            outbox::publish_state(txn, &self.source, &unsigned, &unsigned.id).await?;
            outbox::publish(
                txn,
                &self.source,
                &pb::ListingCreated {
                    listing: Some(unsigned.clone()),
                    actor: Some(caller.actor()),
                },
            )
            .await?;
            let village = village_of(&row)?;
            audit::record_if_for_others(
                txn,
                &self.source,
                caller,
                || audited("listing.created", &listing, &village, serde_json::json!({ "status": status_proto(row.status).as_str_name() })),
                now,
            )
            .await?;
            tracing::info!(listing_id = %row.id, village = %row.village_code, status = ?row.status, "listing created");
            Ok(pb::CreateListingResponse { listing: Some(listing) })
        })
        .await
    }

    /// A listing as `caller` may see it: buyers see what is for sale; the seller and the area's
    /// officials see everything.
    pub async fn get(&self, caller: &Caller, id: Uuid) -> Result<pb::Listing> {
        let unknown = || Error::not_found("listing", id.to_string());
        let row = store::find(&self.db, id).await?.ok_or_else(unknown)?;
        if !may_read(caller, &row) {
            return Err(unknown());
        }
        self.to_proto(&self.db, &row).await
    }

    pub async fn list(
        &self,
        caller: &Caller,
        query: ListListings,
    ) -> Result<pb::ListListingsResponse> {
        let seller = match &query.whose {
            Whose::Seller(None) => Some(caller.subject_user().ok_or_else(|| {
                Error::permission_denied("NOT_A_USER", "name an area to list (officials)")
            })?),
            Whose::Seller(Some(seller)) => Some(*seller),
            Whose::Area(_) => None,
        };
        let own = seller.is_some() && seller == caller.subject_user();
        if !own {
            // Someone else's listings, or an area's: officials of that area only.
            let area = query.area.clone().ok_or_else(|| {
                Error::invalid("area", "required: officials list the listings of an area")
            })?;
            if !oversees(caller, &area) {
                return Err(Error::permission_denied(
                    "OUTSIDE_YOUR_AREA",
                    "officials list the listings of their own area",
                ));
            }
        }
        let rows = store::list(&self.db, &query, seller, query.page.fetch_limit()).await?;
        let (rows, next) = query.page.finish(rows, |rows| {
            rows.last().map(|row| ListingCursor { id: row.id })
        });
        Ok(pb::ListListingsResponse {
            listings: self.to_protos(&self.db, &rows).await?,
            page: Some(page_response(next.as_ref())),
        })
    }

    pub async fn update(
        &self,
        caller: &Caller,
        command: UpdateListing,
    ) -> Result<pb::UpdateListingResponse> {
        let now = self.clock.now();
        idempotency::once(
            &self.db,
            caller,
            &command.mutation,
            now,
            Keep::Answer,
            async |txn| {
                let mut row = self.owned_for_update(txn, caller, command.id).await?;
                if row.status == ListingStatus::Closed {
                    return Err(Error::failed_precondition(
                        "LISTING_CLOSED",
                        "a closed listing cannot change",
                    ));
                }
                let stored = to_proto(&row, Vec::new());
                let (offer, photos) = command.merged(&stored, now)?;
                let committed = row.reserved_milli + row.sold_milli;
                if offer.unit != unit_of(&row) && committed > 0 {
                    return Err(Error::failed_precondition(
                        "UNIT_FIXED",
                        "the unit cannot change once orders were placed",
                    ));
                }
                if offer.stocked_milli < committed {
                    return Err(Error::failed_precondition_with(
                        "STOCK_BELOW_RESERVED",
                        "the stock cannot go below what orders have reserved or bought",
                        [("committed_milli", committed.to_string())],
                    ));
                }
                let from = row.status;
                apply_offer(&mut row, &offer);
                if command.paths.iter().any(|path| path == "expire_time")
                    && let Some(at) = offer.expire_at
                {
                    row.expire_at = Some(at);
                }
                settle_availability(&mut row);
                if let Some(photos) = photos {
                    let current = self.photos.refs(txn, PHOTOS_OF_LISTING, &[row.id]).await?;
                    let current: Vec<Uuid> = current
                        .get(&row.id)
                        .into_iter()
                        .flatten()
                        .filter_map(|photo| Uuid::parse_str(&photo.id).ok())
                        .collect();
                    let dropped: Vec<Uuid> = current
                        .iter()
                        .copied()
                        .filter(|id| !photos.iter().any(|photo| photo.id == *id))
                        .collect();
                    let added: Vec<_> = photos
                        .into_iter()
                        .filter(|photo| !current.contains(&photo.id))
                        .collect();
                    self.photos
                        .detach_some(txn, PHOTOS_OF_LISTING, row.id, &dropped)
                        .await?;
                    self.photos
                        .attach(
                            txn,
                            caller,
                            "listing.photos",
                            &added,
                            PHOTOS_OF_LISTING,
                            row.id,
                            now,
                        )
                        .await?;
                }
                touch(&mut row, caller, now);
                let row = store::save(txn, row).await?;
                let listing = self.to_proto(txn, &row).await?;
                self.announce_update(txn, caller, &listing, &command.paths, from)
                    .await?;
                let village = village_of(&row)?;
                audit::record_if_for_others(
                    txn,
                    &self.source,
                    caller,
                    || {
                        audited(
                            "listing.updated",
                            &listing,
                            &village,
                            serde_json::json!({ "changed_fields": command.paths }),
                        )
                    },
                    now,
                )
                .await?;
                Ok(pb::UpdateListingResponse {
                    listing: Some(listing),
                })
            },
        )
        .await
    }

    async fn announce_update(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        caller: &Caller,
        listing: &pb::Listing,
        paths: &[String],
        from: ListingStatus,
    ) -> Result<()> {
        let unsigned = on_bus(listing);
        outbox::publish_state(txn, &self.source, &unsigned, &unsigned.id).await?;
        outbox::publish(
            txn,
            &self.source,
            &pb::ListingUpdated {
                listing: Some(unsigned.clone()),
                changed_fields: Some(prost_types::FieldMask {
                    paths: paths.to_vec(),
                }),
                actor: Some(caller.actor()),
            },
        )
        .await?;
        if status_proto(from) as i32 != unsigned.status {
            outbox::publish(
                txn,
                &self.source,
                &pb::ListingStatusChanged {
                    listing: Some(unsigned),
                    from_status: status_proto(from) as i32,
                    actor: Some(caller.actor()),
                },
            )
            .await?;
        }
        Ok(())
    }

    /// Publish, pause or close: the seller's moves.
    pub async fn transition(&self, caller: &Caller, command: Transition) -> Result<pb::Listing> {
        let now = self.clock.now();
        idempotency::once(&self.db, caller, &command.mutation, now, Keep::Answer, async |txn| {
            let mut row = self.owned_for_update(txn, caller, command.id).await?;
            let from = row.status;
            match command.action {
                Move::Publish => publish(&mut row, command.expire_at, now)?,
                Move::Pause => {
                    if !matches!(from, ListingStatus::Active | ListingStatus::SoldOut) {
                        return Err(wrong_state(from, "only an active or sold-out listing can be paused"));
                    }
                    row.status = ListingStatus::Paused;
                }
                Move::Close => {
                    if from == ListingStatus::Closed {
                        return Err(wrong_state(from, "the listing is closed already"));
                    }
                    row.status = ListingStatus::Closed;
                }
            }
            touch(&mut row, caller, now);
            let row = store::save(txn, row).await?;
            let listing = self.to_proto(txn, &row).await?;
            self.announce_status(txn, Some(caller), &listing, from).await?;
            let village = village_of(&row)?;
            let details = serde_json::json!({ "from": status_proto(from).as_str_name(), "to": status_proto(row.status).as_str_name() });
            audit::record_if_for_others(
                txn,
                &self.source,
                caller,
                || audited("listing.status_changed", &listing, &village, details),
                now,
            )
            .await?;
            tracing::info!(listing_id = %row.id, ?from, to = ?row.status, "listing status changed");
            Ok(listing)
        })
        .await
    }

    async fn announce_status<C: ConnectionTrait>(
        &self,
        conn: &C,
        caller: Option<&Caller>,
        listing: &pb::Listing,
        from: ListingStatus,
    ) -> Result<()> {
        let unsigned = on_bus(listing);
        outbox::publish_state(conn, &self.source, &unsigned, &unsigned.id).await?;
        outbox::publish(
            conn,
            &self.source,
            &pb::ListingStatusChanged {
                listing: Some(unsigned),
                from_status: status_proto(from) as i32,
                actor: Some(caller.map_or_else(|| system_actor(EXPIRY_JOB.job), Caller::actor)),
            },
        )
        .await?;
        Ok(())
    }

    /// Hide (with a reason) or lift a hide: officials of the listing's area.
    pub async fn hide(&self, caller: &Caller, command: HideChange) -> Result<pb::Listing> {
        let now = self.clock.now();
        idempotency::once(
            &self.db,
            caller,
            &command.mutation,
            now,
            Keep::Answer,
            async |txn| {
                let unknown = || Error::not_found("listing", command.id.to_string());
                let mut row = store::find_for_update(txn, command.id)
                    .await?
                    .ok_or_else(unknown)?;
                let village = village_of(&row)?;
                if !oversees(caller, &village) {
                    return Err(if may_read(caller, &row) {
                        Error::permission_denied(
                            "OUTSIDE_YOUR_AREA",
                            "listings are hidden by officials of their village, township or county",
                        )
                    } else {
                        unknown()
                    });
                }
                let lifted_reason = row.hidden_reason.clone();
                match (&command.reason, row.hidden) {
                    (Some(_), true) => {
                        return Err(Error::failed_precondition(
                            "ALREADY_HIDDEN",
                            "the listing is hidden already",
                        ));
                    }
                    (None, false) => {
                        return Err(Error::failed_precondition(
                            "NOT_HIDDEN",
                            "the listing is not hidden",
                        ));
                    }
                    (Some(reason), false) => {
                        row.hidden = true;
                        row.hidden_reason.clone_from(reason);
                        row.hidden_by = Some(caller.actor().encode_to_vec());
                    }
                    (None, true) => {
                        row.hidden = false;
                        row.hidden_reason.clear();
                        row.hidden_by = None;
                    }
                }
                touch(&mut row, caller, now);
                let row = store::save(txn, row).await?;
                let listing = self.to_proto(txn, &row).await?;
                let unsigned = on_bus(&listing);
                outbox::publish_state(txn, &self.source, &unsigned, &unsigned.id).await?;
                if row.hidden {
                    outbox::publish(
                        txn,
                        &self.source,
                        &pb::ListingHidden {
                            listing: Some(unsigned),
                            actor: Some(caller.actor()),
                        },
                    )
                    .await?;
                } else {
                    outbox::publish(
                        txn,
                        &self.source,
                        &pb::ListingUnhidden {
                            listing: Some(unsigned),
                            actor: Some(caller.actor()),
                        },
                    )
                    .await?;
                }
                // An official's judgement on a farmer's listing: always audited.
                let (action, details) = if row.hidden {
                    (
                        "listing.hidden",
                        serde_json::json!({ "reason": row.hidden_reason }),
                    )
                } else {
                    (
                        "listing.unhidden",
                        serde_json::json!({ "lifted_reason": lifted_reason }),
                    )
                };
                audit::record(
                    txn,
                    &self.source,
                    caller,
                    audited(action, &listing, &village, details),
                    now,
                )
                .await?;
                tracing::info!(listing_id = %row.id, hidden = row.hidden, "listing hide changed");
                Ok(listing)
            },
        )
        .await
    }

    /// The expiry job: every listing whose expiry has come expires. Returns how many.
    pub async fn expire_due(&self, now: DateTime<Utc>) -> Result<u64> {
        let mut expired = 0;
        loop {
            let txn = self.db.begin().await?;
            let rows = store::due_to_expire(&txn, now, EXPIRY_BATCH).await?;
            let count = rows.len() as u64;
            for mut row in rows {
                let from = row.status;
                row.status = ListingStatus::Expired;
                row.version += 1;
                row.updated_at = now;
                row.updated_by = system_actor(EXPIRY_JOB.job).encode_to_vec();
                let row = store::save(&txn, row).await?;
                let listing = self.to_proto(&txn, &row).await?;
                self.announce_status(&txn, None, &listing, from).await?;
            }
            txn.commit().await?;
            expired += count;
            if count < EXPIRY_BATCH {
                return Ok(expired);
            }
        }
    }

    /// Stores a photo a farmer took, to attach to a listing. Listing photos are public: buyers
    /// anywhere see them.
    pub async fn upload_photo(
        &self,
        caller: &Caller,
        request_id: Uuid,
        upload: terrace_photos::Upload,
    ) -> Result<common::MediaRef> {
        let photo = self
            .photos
            .upload(&self.db, caller, request_id, upload)
            .await?;
        Ok(self.photos.media_ref(&photo))
    }

    /// The listing `id` locked for a change by its seller.
    async fn owned_for_update<C: ConnectionTrait>(
        &self,
        conn: &C,
        caller: &Caller,
        id: Uuid,
    ) -> Result<ListingRow> {
        let unknown = || Error::not_found("listing", id.to_string());
        let row = store::find_for_update(conn, id)
            .await?
            .ok_or_else(unknown)?;
        if caller.subject_user() != Some(row.seller_user_id) {
            return Err(if may_read(caller, &row) {
                not_yours()
            } else {
                unknown()
            });
        }
        Ok(row)
    }

    /// The listing as the contract shows it: with its photos, its seller's name and its village's.
    pub async fn to_proto<C: ConnectionTrait>(
        &self,
        conn: &C,
        row: &ListingRow,
    ) -> Result<pb::Listing> {
        one(self.to_protos(conn, std::slice::from_ref(row)).await?)
    }

    /// Listings as the contract shows them, their photos and names read in three queries for the
    /// lot.
    pub async fn to_protos<C: ConnectionTrait>(
        &self,
        conn: &C,
        rows: &[ListingRow],
    ) -> Result<Vec<pb::Listing>> {
        let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
        let photos = self.photos.refs(conn, PHOTOS_OF_LISTING, &ids).await?;
        named(conn, rows, photos).await
    }

    /// A page of every listing by id, as the state stream carries them: what a search index is
    /// built from (`crate::search::feed`) and what a resnapshot republishes. The last id read
    /// says where the next page starts; `None` when there are no more.
    pub async fn page_for_bus(
        &self,
        after: Option<Uuid>,
        limit: u64,
    ) -> Result<(Vec<pb::Listing>, Option<Uuid>)> {
        let rows = store::page_by_id(&self.db, after, limit).await?;
        let last = rows.last().map(|row| row.id);
        let listings = self.to_protos(&self.db, &rows).await?;
        Ok((listings.iter().map(on_bus).collect(), last))
    }

    /// The database these listings live in.
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }
}

/// `rows` as the contract shows them, with `photos` and their sellers' and villages' names (from
/// market's projections of people and places).
async fn named<C: ConnectionTrait>(
    conn: &C,
    rows: &[ListingRow],
    mut photos: HashMap<Uuid, Vec<common::MediaRef>>,
) -> Result<Vec<pb::Listing>> {
    let sellers: Vec<Uuid> = rows.iter().map(|row| row.seller_user_id).collect();
    let names = terrace_platform::people::display_names(conn, &sellers).await?;
    let villages: Vec<String> = rows.iter().map(|row| row.village_code.clone()).collect();
    let places = crate::places::names(conn, &villages).await?;
    Ok(rows
        .iter()
        .map(|row| pb::Listing {
            seller_display_name: names.get(&row.seller_user_id).cloned().unwrap_or_default(),
            village_name: places.get(&row.village_code).cloned().unwrap_or_default(),
            ..to_proto(row, photos.remove(&row.id).unwrap_or_default())
        })
        .collect())
}

/// `action` on `listing` as governance's audit log records it (when it records it).
fn audited<'a>(
    action: &'a str,
    listing: &pb::Listing,
    area: &'a AdminScope,
    details: serde_json::Value,
) -> Audited<'a> {
    Audited {
        action,
        target_type: "listing",
        target_id: listing.id.clone(),
        area: Some(area),
        details,
    }
}

/// The one listing of a list made from one row.
fn one(mut listings: Vec<pb::Listing>) -> Result<pb::Listing> {
    listings
        .pop()
        .ok_or_else(|| Error::internal(anyhow::anyhow!("a listing made from a row went missing")))
}

/// Whether `caller` may read `row`: buyers what is for sale, the seller and the area's officials
/// everything.
fn may_read(caller: &Caller, row: &ListingRow) -> bool {
    let for_sale =
        !row.hidden && matches!(row.status, ListingStatus::Active | ListingStatus::SoldOut);
    for_sale
        || caller.subject_user() == Some(row.seller_user_id)
        || village_of(row).is_ok_and(|village| oversees(caller, &village))
}

fn wrong_state(from: ListingStatus, message: &str) -> Error {
    Error::failed_precondition_with(
        "WRONG_LISTING_STATUS",
        message.to_owned(),
        [("status", status_proto(from).as_str_name().to_owned())],
    )
}

/// Publishes `row` (a draft, a paused or an expired listing): active, or sold out when nothing
/// is available, until its expiry.
fn publish(
    row: &mut ListingRow,
    expire_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<()> {
    let from = row.status;
    if !matches!(
        from,
        ListingStatus::Draft | ListingStatus::Paused | ListingStatus::Expired
    ) {
        return Err(wrong_state(
            from,
            "only a draft, paused or expired listing can be published",
        ));
    }
    if available_milli(row) <= 0 {
        return Err(Error::failed_precondition(
            "NOTHING_AVAILABLE",
            "nothing is available to sell: restock first",
        ));
    }
    let kept = row.expire_at.filter(|at| *at > now);
    let expire_at = match (expire_at, kept, from) {
        (Some(at), _, _) => at,
        (None, _, ListingStatus::Expired) => {
            return Err(Error::failed_precondition(
                "EXPIRY_PASSED",
                "the listing expired: give a new expiry to publish it again",
            ));
        }
        (None, Some(at), _) => at,
        (None, None, _) => now + chrono::Duration::days(parse::DEFAULT_EXPIRY_DAYS),
    };
    row.status = ListingStatus::Active;
    row.expire_at = Some(expire_at);
    row.published_at = Some(now);
    Ok(())
}

/// Active with nothing available is sold out; sold out with some available is active again.
pub(crate) fn settle_availability(row: &mut ListingRow) {
    let available = available_milli(row);
    row.status = match row.status {
        ListingStatus::Active if available <= 0 => ListingStatus::SoldOut,
        ListingStatus::SoldOut if available > 0 => ListingStatus::Active,
        status => status,
    };
}

pub(crate) fn available_milli(row: &ListingRow) -> i64 {
    row.stocked_milli - row.reserved_milli - row.sold_milli
}

fn touch(row: &mut ListingRow, caller: &Caller, now: DateTime<Utc>) {
    row.version += 1;
    row.updated_at = now;
    row.updated_by = caller.actor().encode_to_vec();
}

fn system_actor(job: &str) -> common::Actor {
    common::Actor {
        kind: common::ActorKind::System as i32,
        system_component: job.to_owned(),
        ..Default::default()
    }
}

fn village_of(row: &ListingRow) -> Result<AdminScope> {
    AdminScope::parse(&row.village_code)
        .map_err(|problem| Error::internal(anyhow::anyhow!("listing {}: {problem}", row.id)))
}

fn unit_of(row: &ListingRow) -> common::Unit {
    common::Unit::try_from(i32::from(row.unit)).unwrap_or_default()
}

fn texts_json(text: &common::LocalizedText) -> serde_json::Value {
    serde_json::Value::Object(
        text.translations
            .iter()
            .map(|(tag, text)| (tag.clone(), serde_json::Value::String(text.clone())))
            .collect(),
    )
}

fn texts_of(value: &serde_json::Value) -> common::LocalizedText {
    let translations: BTreeMap<String, String> = value
        .as_object()
        .map(|object| {
            object
                .iter()
                .filter_map(|(tag, text)| Some((tag.clone(), text.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    common::LocalizedText { translations }
}

fn new_row(
    id: Uuid,
    seller: Uuid,
    village: &AdminScope,
    offer: &Offer,
    actor: Vec<u8>,
    now: DateTime<Utc>,
) -> ListingRow {
    let mut row = ListingRow {
        id,
        seller_user_id: seller,
        category_id: offer.category.id.to_owned(),
        title: serde_json::Value::Null,
        description: serde_json::Value::Null,
        variety: String::new(),
        grade: 0,
        certifications: Vec::new(),
        unit: 0,
        stocked_milli: 0,
        reserved_milli: 0,
        sold_milli: 0,
        minimum_order_milli: 0,
        unit_price_minor: 0,
        net_weight_milli: None,
        net_weight_unit: None,
        price_per_kg_minor: None,
        harvest_date: None,
        village_code: village.as_str().to_owned(),
        harvest_lot_code: String::new(),
        fulfilment_methods: Vec::new(),
        status: ListingStatus::Draft,
        expire_at: offer.expire_at,
        published_at: None,
        hidden: false,
        hidden_reason: String::new(),
        hidden_by: None,
        version: 1,
        created_key: String::new(),
        created_request_id: Uuid::nil(),
        created_at: now,
        created_by: actor.clone(),
        updated_at: now,
        updated_by: actor,
    };
    apply_offer(&mut row, offer);
    row
}

/// Writes what `offer` says into `row` (the expiry aside: publishing decides it).
fn apply_offer(row: &mut ListingRow, offer: &Offer) {
    row.title = texts_json(&offer.title);
    row.description = texts_json(&offer.description);
    row.variety.clone_from(&offer.variety);
    row.grade = offer.grade as i16;
    row.certifications = offer.certifications.iter().map(|c| *c as i16).collect();
    row.unit = offer.unit as i16;
    row.stocked_milli = offer.stocked_milli;
    row.minimum_order_milli = offer.minimum_order_milli;
    row.unit_price_minor = offer.unit_price_minor;
    row.net_weight_milli = offer.net_weight.map(|(value, _)| value);
    row.net_weight_unit = offer.net_weight.map(|(_, unit)| unit as i16);
    row.price_per_kg_minor =
        units::price_per_kg(offer.unit_price_minor, offer.unit, offer.net_weight);
    row.harvest_date = offer.harvest_date;
    row.harvest_lot_code.clone_from(&offer.harvest_lot_code);
    row.fulfilment_methods = offer.fulfilment_methods.iter().map(|m| *m as i16).collect();
}

pub(crate) fn status_proto(status: ListingStatus) -> pb::ListingStatus {
    match status {
        ListingStatus::Draft => pb::ListingStatus::Draft,
        ListingStatus::Active => pb::ListingStatus::Active,
        ListingStatus::Paused => pb::ListingStatus::Paused,
        ListingStatus::SoldOut => pb::ListingStatus::SoldOut,
        ListingStatus::Expired => pb::ListingStatus::Expired,
        ListingStatus::Closed => pb::ListingStatus::Closed,
    }
}

fn cny(amount_minor: i64) -> common::Money {
    common::Money {
        amount_minor,
        currency_code: "CNY".to_owned(),
    }
}

/// The listing as reads and events show it.
pub fn to_proto(row: &ListingRow, photos: Vec<common::MediaRef>) -> pb::Listing {
    let unit = unit_of(row);
    let quantity = |value_milli: i64| common::Quantity {
        value_milli,
        unit: unit as i32,
    };
    let decoded_actor = |bytes: &[u8]| common::Actor::decode(bytes).unwrap_or_default();
    pb::Listing {
        id: row.id.to_string(),
        seller_user_id: row.seller_user_id.to_string(),
        category_id: row.category_id.clone(),
        title: Some(texts_of(&row.title)),
        description: Some(texts_of(&row.description)),
        variety: row.variety.clone(),
        grade: i32::from(row.grade),
        certifications: row.certifications.iter().map(|c| i32::from(*c)).collect(),
        stocked: Some(quantity(row.stocked_milli)),
        reserved: Some(quantity(row.reserved_milli)),
        available: Some(quantity(available_milli(row).max(0))),
        sold: Some(quantity(row.sold_milli)),
        unit_price: Some(cny(row.unit_price_minor)),
        minimum_order: Some(quantity(row.minimum_order_milli)),
        net_weight_per_unit: row.net_weight_milli.zip(row.net_weight_unit).map(
            |(value_milli, unit)| common::Quantity {
                value_milli,
                unit: i32::from(unit),
            },
        ),
        harvest_date: row.harvest_date.map(to_date),
        photos,
        village_code: row.village_code.clone(),
        harvest_lot_code: row.harvest_lot_code.clone(),
        fulfilment_methods: row
            .fulfilment_methods
            .iter()
            .map(|m| i32::from(*m))
            .collect(),
        status: status_proto(row.status) as i32,
        expire_time: row.expire_at.map(to_timestamp),
        publish_time: row.published_at.map(to_timestamp),
        hidden: row.hidden,
        hidden_reason: row.hidden_reason.clone(),
        hidden_by: row.hidden_by.as_deref().map(decoded_actor),
        price_per_kg: row.price_per_kg_minor.map(cny),
        seller_display_name: String::new(),
        village_name: String::new(),
        audit: Some(common::AuditInfo {
            create_time: Some(to_timestamp(row.created_at)),
            creator: Some(decoded_actor(&row.created_by)),
            update_time: Some(to_timestamp(row.updated_at)),
            updater: Some(decoded_actor(&row.updated_by)),
        }),
        version: row.version,
        provenance: None,
    }
}

/// The listing as events and the state stream carry it: photos without signed URLs (listing
/// photos are public, so theirs are plain; any other would be stale by the time it is read).
pub fn on_bus(listing: &pb::Listing) -> pb::Listing {
    pb::Listing {
        photos: listing
            .photos
            .iter()
            .map(|photo| {
                if photo.public {
                    photo.clone()
                } else {
                    common::MediaRef {
                        uri: String::new(),
                        thumbnail_uri: String::new(),
                        ..photo.clone()
                    }
                }
            })
            .collect(),
        ..listing.clone()
    }
}
