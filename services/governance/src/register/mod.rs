//! Households and residents of each village, with protected national ids and their access log:
//! `CreateHousehold`, `GetHousehold`, `ListHouseholds`, `UpdateHousehold`, `CreateResident`,
//! `GetResident`, `ListResidents`, `UpdateResident`, `RevealResidentNationalId`,
//! `ListResidentAccessLog`, `GetMyResident`, `EraseResident`, `DownloadMyData`, `GetRegisterCounts`,
//! and the retention job.
//!
//! **Personal data rights (PIPL).** A villager downloads everything the register holds about
//! them (`DownloadMyData`: their record with the whole number, their household, the access log),
//! the export itself logged. An official of the village erases a record (`EraseResident`): the
//! row is deleted, its state snapshot replaced by a tombstone, `governance.resident.erased`
//! published; its access log stays. The daily retention job ([`RETENTION_JOB`], periods in
//! [`Retention`]) erases records moved out or deceased past their period and deletes access-log
//! entries past theirs.
//!
//! **Who may do what.** An official governs a village when one of their official roles covers it
//! (`Caller::covers` at a village official's rank): the village's officials, the township's above
//! it, the county's admins. They register, read and change its households and residents; an
//! agency does the same with `governance.register:read` / `:write` over its areas. A resident
//! reads their own record, their household and who looked at their number; nobody else does.
//! Revealing a number is for officials who govern the village, never agencies, and is always
//! written to the resident's access log with the reason given. A record out of the caller's reach
//! is answered as unknown (`NOT_FOUND`); registering in a village out of reach is
//! `PERMISSION_DENIED`.
//!
//! **National ids** are checked against GB 11643 ([`national_id`]) and sealed ([`sealing`]): the
//! table holds ciphertext, a keyed hash (one current record per number in a county, found without
//! decrypting) and the masked form reads show. Events and state snapshots carry neither.
//!
//! **Events.** `governance.household.registered|updated`, `governance.resident.registered|updated`
//! and the state streams `state.governance.household.<id>` and `state.governance.resident.<id>`,
//! written through the outbox in the transaction that makes the change.
//!
//! Layout (the service's rhythm, `docs/architecture.md`): [`parse`] turns each request into a
//! command, this module applies it over a [`Caller`], [`store`] holds the SQL, `grpc.rs` answers.

pub mod claims;
pub mod national_id;
pub mod parse;
pub mod sealing;
pub mod store;

use chrono::{DateTime, Utc};
use prost::Message as _;
use sea_orm::{ConnectionTrait, DatabaseConnection, TransactionTrait as _};
use terrace_platform::Clock;
use terrace_platform::auth::{AdminScope, Caller, Role};
use terrace_platform::bus::outbox;
use terrace_platform::error::{Error, Result};
use terrace_platform::idempotency::{self, Keep};
use terrace_platform::validate::to_timestamp;
use terrace_proto::common::v1 as common;
use terrace_proto::governance::v1 as pb;
use uuid::Uuid;

use self::parse::{
    CreateHousehold, CreateResident, ListAccessLog, ListHouseholds, ListResidents, ResidentCursor,
    Reveal, UpdateHousehold, UpdateResident,
};
use self::sealing::Sealer;
use crate::entity::households::{HouseholdStatus, Model as HouseholdRow};
use crate::entity::resident_access_log::Model as AccessRow;
use crate::entity::residents::{Gender, Model as ResidentRow, Relationship, ResidentStatus};

/// The register's migration: households, residents, the access log.
pub const MIGRATION: terrace_platform::db::SqlMigration = terrace_platform::db::SqlMigration {
    name: "m20261203_230001_governance_register",
    up: store::MIGRATION_SQL,
};

/// The API scope under which an agency reads the register of its areas.
pub const REGISTER_READ: &str = "governance.register:read";
/// The API scope under which an agency writes it.
pub const REGISTER_WRITE: &str = "governance.register:write";

/// The field the access log names for a national id.
pub const NATIONAL_ID_FIELD: &str = "national_id";

/// The field the access log names for a resident's export of their own data.
pub const EXPORT_FIELD: &str = "export";
/// The reason an export is logged with.
pub const EXPORT_REASON: &str = "personal data export by the resident";
/// Most access-log entries an export carries (a record read more often than this is exported
/// with its newest entries).
const EXPORT_LOG_LIMIT: u64 = 10_000;

/// How long the register keeps what it no longer needs (`[services.governance.retention]`).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(default)]
pub struct Retention {
    /// A record moved out or deceased is erased this long after its last change.
    #[serde(with = "terrace_platform::config::humantime_secs")]
    pub records: std::time::Duration,
    /// An access-log entry is deleted this long after the read it records.
    #[serde(with = "terrace_platform::config::humantime_secs")]
    pub access_log: std::time::Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            // Fifteen years after moving out or death: the period operators most often keep a
            // village's paper register for; set it to what the local archive rules say.
            records: std::time::Duration::from_secs(15 * 365 * 86_400),
            // Three years: beyond the six months the Cybersecurity Law asks of access logs, long
            // enough for a villager to look back over a dispute.
            access_log: std::time::Duration::from_secs(3 * 365 * 86_400),
        }
    }
}

/// The daily job that applies [`Retention`].
pub const RETENTION_JOB: terrace_platform::jobs::Schedule = terrace_platform::jobs::Schedule {
    job: "governance.register-retention",
    every: std::time::Duration::from_secs(86_400),
};

/// Why the retention job erases a record, as the audit log says.
const RETENTION_REASON: &str = "retention period ended";

/// Records erased per transaction by the retention job.
const RETENTION_BATCH: u64 = 200;

/// The register: the *apply* step of its RPCs.
#[derive(Debug, Clone)]
pub struct Register {
    db: DatabaseConnection,
    source: String,
    clock: Clock,
    sealer: Sealer,
}

/// Whether `caller` governs `village` under `api_scope` (an agency's scope for the request).
fn governs(caller: &Caller, village: &AdminScope, api_scope: &str) -> bool {
    caller.covers(village, Role::VillageOfficial.rank(), Some(api_scope))
}

/// `Ok` for an official whose role covers `village` (no API scope lets an agency reveal or
/// erase); `OFFICIALS_ONLY` for an agency that reaches the record under `api_scope`; for anyone
/// else the record is `unknown`.
fn officials_only(
    caller: &Caller,
    village: &AdminScope,
    api_scope: &str,
    unknown: impl FnOnce() -> Error,
    refusal: &'static str,
) -> Result<()> {
    if caller.covers(village, Role::VillageOfficial.rank(), None) {
        Ok(())
    } else if governs(caller, village, api_scope) {
        Err(Error::permission_denied("OFFICIALS_ONLY", refusal))
    } else {
        Err(unknown())
    }
}

fn village_of(code: &str) -> Result<AdminScope> {
    AdminScope::parse(code)
        .map_err(|error| Error::internal(anyhow::anyhow!("a stored village code: {error}")))
}

pub(crate) fn encoded_actor(caller: &Caller) -> Vec<u8> {
    caller.actor().encode_to_vec()
}

/// The caller as an access-log entry shows them to the resident: with the acting user's name as
/// governance knows it at the time of the read.
async fn named_actor<C: ConnectionTrait>(conn: &C, caller: &Caller) -> Result<Vec<u8>> {
    let mut actor = caller.actor();
    if let Ok(user) = Uuid::parse_str(&actor.user_id)
        && let Some(known) = crate::people::find(conn, user).await?
    {
        actor.display_name = known.display_name;
    }
    Ok(actor.encode_to_vec())
}

/// `NOT_FOUND` unless `user` is an account governance knows (from identity's users).
async fn known_account<C: ConnectionTrait>(conn: &C, user: Option<Uuid>) -> Result<()> {
    match user {
        Some(user) if crate::people::find(conn, user).await?.is_none() => {
            Err(Error::not_found("user", user.to_string()))
        }
        _ => Ok(()),
    }
}

pub(crate) fn decoded_actor(bytes: &[u8]) -> common::Actor {
    // Written by `encoded_actor`; an unreadable one shows as unknown rather than failing a read.
    common::Actor::decode(bytes).unwrap_or_default()
}

pub(crate) fn audit_info(
    created_at: DateTime<Utc>,
    created_by: &[u8],
    updated_at: DateTime<Utc>,
    updated_by: &[u8],
) -> common::AuditInfo {
    common::AuditInfo {
        create_time: Some(to_timestamp(created_at)),
        creator: Some(decoded_actor(created_by)),
        update_time: Some(to_timestamp(updated_at)),
        updater: Some(decoded_actor(updated_by)),
    }
}

impl HouseholdRow {
    /// The household as reads and events show it; `head_name` is its head's name, if it has one.
    pub fn to_proto(&self, member_count: i32, head_name: Option<&str>) -> pb::Household {
        pb::Household {
            head_name: head_name.unwrap_or_default().to_owned(),
            id: self.id.to_string(),
            village_code: self.village_code.clone(),
            household_number: self.household_number.clone(),
            address: self.address.clone(),
            head_resident_id: self
                .head_resident_id
                .map(|id| id.to_string())
                .unwrap_or_default(),
            member_count,
            status: match self.status {
                HouseholdStatus::Active => pb::HouseholdStatus::Active,
                HouseholdStatus::Archived => pb::HouseholdStatus::Archived,
            } as i32,
            audit: Some(audit_info(
                self.created_at,
                &self.created_by,
                self.updated_at,
                &self.updated_by,
            )),
        }
    }
}

impl ResidentRow {
    /// The record as reads return it: the number masked, never whole.
    pub fn to_proto(&self) -> pb::Resident {
        pb::Resident {
            id: self.id.to_string(),
            household_id: self.household_id.to_string(),
            village_code: self.village_code.clone(),
            name: self.name.clone(),
            gender: match self.gender {
                Gender::Unrecorded => pb::Gender::Unspecified,
                Gender::Male => pb::Gender::Male,
                Gender::Female => pb::Gender::Female,
            } as i32,
            birth_date: self.birth_date.map(|date| {
                use chrono::Datelike as _;
                common::Date {
                    year: date.year(),
                    month: date.month() as i32,
                    day: date.day() as i32,
                }
            }),
            relationship: relationship_to_proto(self.relationship) as i32,
            phone_number: self.phone_number.clone(),
            user_id: self.user_id.map(|id| id.to_string()).unwrap_or_default(),
            national_id: String::new(),
            national_id_masked: self.national_id_masked.clone(),
            status: match self.status {
                ResidentStatus::Active => pb::ResidentStatus::Active,
                ResidentStatus::Away => pb::ResidentStatus::Away,
                ResidentStatus::MovedOut => pb::ResidentStatus::MovedOut,
                ResidentStatus::Deceased => pb::ResidentStatus::Deceased,
            } as i32,
            remarks: self.remarks.clone(),
            audit: Some(audit_info(
                self.created_at,
                &self.created_by,
                self.updated_at,
                &self.updated_by,
            )),
        }
    }

    /// The record as events and the state stream carry it: not even the masked number.
    pub fn to_published(&self) -> pb::Resident {
        pb::Resident {
            national_id_masked: String::new(),
            ..self.to_proto()
        }
    }
}

/// `NOT_FOUND` for a caller without a current record.
fn no_record_of(user: Option<Uuid>) -> Error {
    Error::not_found(
        "resident record of user",
        user.map(|u| u.to_string()).unwrap_or_default(),
    )
}

/// `user`'s current record, their household as reads show it, and its current members.
async fn own_record<C: ConnectionTrait>(
    conn: &C,
    user: Uuid,
) -> Result<(ResidentRow, pb::Household, Vec<ResidentRow>)> {
    let row = store::current_of_user(conn, user)
        .await?
        .ok_or_else(|| no_record_of(Some(user)))?;
    let household = store::household(conn, row.household_id, false)
        .await?
        .ok_or_else(|| no_record_of(Some(user)))?;
    let members = store::members(conn, household.id).await?;
    let shown = household.to_proto(
        i32::try_from(members.len()).unwrap_or(i32::MAX),
        head_among(&household, &members),
    );
    Ok((row, shown, members))
}

/// The name of `household`'s head, when the head is among `members`.
fn head_among<'a>(household: &HouseholdRow, members: &'a [ResidentRow]) -> Option<&'a str> {
    let head = household.head_resident_id?;
    members
        .iter()
        .find(|member| member.id == head)
        .map(|member| member.name.as_str())
}

fn relationship_to_proto(relationship: Relationship) -> pb::HouseholdRelationship {
    use pb::HouseholdRelationship as R;
    match relationship {
        Relationship::Unrecorded => R::Unspecified,
        Relationship::Head => R::Head,
        Relationship::Spouse => R::Spouse,
        Relationship::Child => R::Child,
        Relationship::Parent => R::Parent,
        Relationship::Grandchild => R::Grandchild,
        Relationship::Grandparent => R::Grandparent,
        Relationship::Sibling => R::Sibling,
        Relationship::ChildInLaw => R::ChildInLaw,
        Relationship::Other => R::Other,
    }
}

impl AccessRow {
    pub fn to_proto(&self) -> pb::ResidentAccessLogEntry {
        pb::ResidentAccessLogEntry {
            id: self.id.to_string(),
            resident_id: self.resident_id.to_string(),
            actor: Some(decoded_actor(&self.actor)),
            access_time: Some(to_timestamp(self.accessed_at)),
            field: self.field.clone(),
            reason: self.reason.clone(),
        }
    }
}

impl Register {
    pub fn new(db: DatabaseConnection, source: String, clock: Clock, sealer: Sealer) -> Self {
        Self {
            db,
            source,
            clock,
            sealer,
        }
    }

    /// The service clock's today, in China (where the register's dates are).
    pub fn today(&self) -> chrono::NaiveDate {
        self.clock.today()
    }

    /// A household the caller may read: one of a village they govern, or their own.
    async fn readable_household<C: ConnectionTrait>(
        &self,
        conn: &C,
        caller: &Caller,
        id: Uuid,
        lock: bool,
        api_scope: &str,
    ) -> Result<HouseholdRow> {
        let unknown = || Error::not_found("household", id.to_string());
        let row = store::household(conn, id, lock)
            .await?
            .ok_or_else(unknown)?;
        if governs(caller, &village_of(&row.village_code)?, api_scope) {
            return Ok(row);
        }
        if api_scope == REGISTER_READ
            && let Some(user) = caller.subject_user()
            && store::current_of_user(conn, user)
                .await?
                .is_some_and(|own| own.household_id == row.id)
        {
            return Ok(row);
        }
        Err(unknown())
    }

    /// A resident the caller may read (`REGISTER_READ`: their own too) or change.
    async fn reachable_resident<C: ConnectionTrait>(
        &self,
        conn: &C,
        caller: &Caller,
        id: Uuid,
        lock: bool,
        api_scope: &str,
    ) -> Result<ResidentRow> {
        let unknown = || Error::not_found("resident", id.to_string());
        let row = store::resident(conn, id, lock).await?.ok_or_else(unknown)?;
        let own = api_scope == REGISTER_READ
            && row.user_id.is_some()
            && row.user_id == caller.subject_user();
        if own || governs(caller, &village_of(&row.village_code)?, api_scope) {
            Ok(row)
        } else {
            Err(unknown())
        }
    }

    async fn household_proto<C: ConnectionTrait>(
        &self,
        conn: &C,
        row: &HouseholdRow,
    ) -> Result<pb::Household> {
        let counts = store::member_counts(conn, &[row.id]).await?;
        let heads = store::names(conn, row.head_resident_id.as_slice()).await?;
        let head = row.head_resident_id.and_then(|id| heads.get(&id));
        Ok(row.to_proto(
            counts.get(&row.id).copied().unwrap_or(0),
            head.map(String::as_str),
        ))
    }

    async fn publish_household<C: ConnectionTrait>(
        &self,
        txn: &C,
        household: &pb::Household,
    ) -> Result<()> {
        outbox::publish_state(txn, &self.source, household, &household.id).await?;
        Ok(())
    }

    /// Writes a household changed as a side effect of a resident's change (its head), stamped by
    /// `caller`, and republishes its state.
    async fn save_household<C: ConnectionTrait>(
        &self,
        txn: &C,
        caller: &Caller,
        mut household: HouseholdRow,
        now: DateTime<Utc>,
    ) -> Result<()> {
        household.updated_at = now;
        household.updated_by = encoded_actor(caller);
        store::update_household(txn, household.clone()).await?;
        let household = self.household_proto(txn, &household).await?;
        self.publish_household(txn, &household).await
    }

    async fn publish_resident<C: ConnectionTrait>(&self, txn: &C, row: &ResidentRow) -> Result<()> {
        outbox::publish_state(txn, &self.source, &row.to_published(), &row.id.to_string()).await?;
        Ok(())
    }

    /// Publishes a changed record in `txn`: its state snapshot and `ResidentUpdated` naming the
    /// fields in `paths` (`UpdateResident`, a confirmed claim).
    async fn publish_resident_updated<C: ConnectionTrait>(
        &self,
        txn: &C,
        caller: &Caller,
        row: &ResidentRow,
        paths: Vec<String>,
    ) -> Result<()> {
        self.publish_resident(txn, row).await?;
        outbox::publish(
            txn,
            &self.source,
            &pb::ResidentUpdated {
                resident: Some(row.to_published()),
                changed_fields: Some(prost_types::FieldMask { paths }),
                actor: Some(caller.actor()),
            },
        )
        .await?;
        Ok(())
    }

    pub async fn create_household(
        &self,
        caller: &Caller,
        command: CreateHousehold,
    ) -> Result<pb::Household> {
        if !governs(caller, &command.village, REGISTER_WRITE) {
            return Err(Error::permission_denied(
                "OUTSIDE_YOUR_AREA",
                "you do not govern this village",
            ));
        }
        let now = self.clock.now();
        let answer = idempotency::once(
            &self.db,
            caller,
            &command.mutation,
            now,
            Keep::Answer,
            async |txn| {
                if crate::divisions::store::find(txn, command.village.as_str())
                    .await?
                    .is_none()
                {
                    return Err(Error::not_found("village", command.village.as_str()));
                }
                let actor = encoded_actor(caller);
                let row = HouseholdRow {
                    id: Uuid::now_v7(),
                    village_code: command.village.as_str().to_owned(),
                    household_number: command.number.clone(),
                    address: command.address.clone(),
                    head_resident_id: None,
                    status: HouseholdStatus::Active,
                    created_at: now,
                    created_by: actor.clone(),
                    updated_at: now,
                    updated_by: actor,
                };
                store::insert_household(txn, row.clone()).await?;
                let household = row.to_proto(0, None);
                self.publish_household(txn, &household).await?;
                outbox::publish(
                    txn,
                    &self.source,
                    &pb::HouseholdRegistered {
                        household: Some(household.clone()),
                        actor: Some(caller.actor()),
                    },
                )
                .await?;
                audited(
                    txn,
                    caller,
                    "household.registered",
                    ("household", row.id),
                    &row.village_code,
                    serde_json::json!({ "household_number": row.household_number }),
                    now,
                )
                .await?;
                tracing::info!(household_id = %row.id, village = %row.village_code, "household registered");
                Ok(pb::CreateHouseholdResponse {
                    household: Some(household),
                })
            },
        )
        .await?;
        answer
            .household
            .ok_or_else(|| Error::internal(anyhow::anyhow!("a household answer without one")))
    }

    pub async fn get_household(
        &self,
        caller: &Caller,
        id: Uuid,
    ) -> Result<pb::GetHouseholdResponse> {
        let row = self
            .readable_household(&self.db, caller, id, false, REGISTER_READ)
            .await?;
        let members = store::members(&self.db, row.id).await?;
        let household = row.to_proto(
            i32::try_from(members.len()).unwrap_or(i32::MAX),
            head_among(&row, &members),
        );
        Ok(pb::GetHouseholdResponse {
            household: Some(household),
            members: members.iter().map(ResidentRow::to_proto).collect(),
        })
    }

    pub async fn list_households(
        &self,
        caller: &Caller,
        query: ListHouseholds,
    ) -> Result<(Vec<pb::Household>, Option<parse::HouseholdCursor>)> {
        if !governs(caller, &query.area, REGISTER_READ) {
            return Err(Error::permission_denied(
                "OUTSIDE_YOUR_AREA",
                "you do not govern this area",
            ));
        }
        let rows = store::list_households(&self.db, &query).await?;
        let (rows, next) = query.page.finish(rows, |rows| {
            rows.last().map(|last| parse::HouseholdCursor {
                village_code: last.village_code.clone(),
                number: last.household_number.clone(),
            })
        });
        let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
        let counts = store::member_counts(&self.db, &ids).await?;
        let head_ids: Vec<Uuid> = rows.iter().filter_map(|row| row.head_resident_id).collect();
        let heads = store::names(&self.db, &head_ids).await?;
        let households = rows
            .iter()
            .map(|row| {
                let head = row.head_resident_id.and_then(|id| heads.get(&id));
                row.to_proto(
                    counts.get(&row.id).copied().unwrap_or(0),
                    head.map(String::as_str),
                )
            })
            .collect();
        Ok((households, next))
    }

    pub async fn update_household(
        &self,
        caller: &Caller,
        command: UpdateHousehold,
    ) -> Result<pb::Household> {
        let now = self.clock.now();
        let answer = idempotency::once(
            &self.db,
            caller,
            &command.mutation,
            now,
            Keep::Answer,
            async |txn| {
                let mut row = self
                    .readable_household(txn, caller, command.id, true, REGISTER_WRITE)
                    .await?;
                let changes = &command.changes;
                if let Some(number) = &changes.number {
                    row.household_number.clone_from(number);
                }
                if let Some(address) = &changes.address {
                    row.address.clone_from(address);
                }
                if let Some(head) = changes.head {
                    if let Some(head) = head {
                        let member = store::resident(txn, head, false).await?;
                        let is_member = member.is_some_and(|member| {
                            member.household_id == row.id && member.status.is_current()
                        });
                        if !is_member {
                            return Err(Error::invalid(
                                "household.head_resident_id",
                                "must be a current member of the household",
                            ));
                        }
                    }
                    row.head_resident_id = head;
                }
                if let Some(status) = changes.status {
                    row.status = status;
                }
                row.updated_at = now;
                row.updated_by = encoded_actor(caller);
                store::update_household(txn, row.clone()).await?;
                let household = self.household_proto(txn, &row).await?;
                self.publish_household(txn, &household).await?;
                outbox::publish(
                    txn,
                    &self.source,
                    &pb::HouseholdUpdated {
                        household: Some(household.clone()),
                        changed_fields: Some(prost_types::FieldMask {
                            paths: command.fields.clone(),
                        }),
                        actor: Some(caller.actor()),
                    },
                )
                .await?;
                audited(
                    txn,
                    caller,
                    "household.updated",
                    ("household", row.id),
                    &row.village_code,
                    serde_json::json!({ "fields": command.fields }),
                    now,
                )
                .await?;
                Ok(pb::UpdateHouseholdResponse {
                    household: Some(household),
                })
            },
        )
        .await?;
        answer
            .household
            .ok_or_else(|| Error::internal(anyhow::anyhow!("a household answer without one")))
    }

    /// Seals `id` for `resident` and refuses it when it is already current in the county.
    async fn seal_unique<C: ConnectionTrait>(
        &self,
        conn: &C,
        resident: Uuid,
        village: &str,
        id: &national_id::NationalId,
    ) -> Result<sealing::Sealed> {
        let sealed = self.sealer.seal(resident, id).map_err(Error::internal)?;
        let county = &village[..6];
        if store::current_with_national_id(conn, county, &sealed.hash, Some(resident))
            .await?
            .is_some()
        {
            return Err(store::national_id_taken(&sealed.masked));
        }
        Ok(sealed)
    }

    pub async fn create_resident(
        &self,
        caller: &Caller,
        command: CreateResident,
    ) -> Result<pb::Resident> {
        let now = self.clock.now();
        let answer = idempotency::once(
            &self.db,
            caller,
            &command.mutation,
            now,
            Keep::Answer,
            async |txn| {
                let household = self
                    .readable_household(txn, caller, command.household_id, true, REGISTER_WRITE)
                    .await?;
                if household.status != HouseholdStatus::Active {
                    return Err(Error::failed_precondition(
                        "HOUSEHOLD_ARCHIVED",
                        "this household is archived; register the resident in an active one",
                    ));
                }
                let fields = &command.fields;
                let id = Uuid::now_v7();
                let actor = encoded_actor(caller);
                let mut row = ResidentRow {
                    id,
                    household_id: household.id,
                    village_code: household.village_code.clone(),
                    name: fields.name.clone().unwrap_or_default(),
                    gender: fields.gender.unwrap_or(Gender::Unrecorded),
                    birth_date: fields.birth_date.flatten(),
                    relationship: fields.relationship.unwrap_or(Relationship::Unrecorded),
                    phone_number: phone_text(fields.phone_number.as_ref()),
                    user_id: fields.user_id.flatten(),
                    national_id_sealed: None,
                    national_id_nonce: None,
                    national_id_key: None,
                    national_id_hash: None,
                    national_id_masked: String::new(),
                    status: fields.status.unwrap_or(ResidentStatus::Active),
                    remarks: fields.remarks.clone().unwrap_or_default(),
                    created_at: now,
                    created_by: actor.clone(),
                    updated_at: now,
                    updated_by: actor,
                };
                if let Some(Some(number)) = &fields.national_id {
                    let sealed = self
                        .seal_unique(txn, id, &household.village_code, number)
                        .await?;
                    apply_sealed(&mut row, Some(sealed));
                }
                known_account(txn, row.user_id).await?;
                if let Some(user) = row.user_id
                    && row.status.is_current()
                    && store::current_of_user(txn, user).await?.is_some()
                {
                    return Err(store::account_taken(user));
                }
                store::insert_resident(txn, row.clone()).await?;
                if row.relationship == Relationship::Head && household.head_resident_id.is_none() {
                    let mut household = household.clone();
                    household.head_resident_id = Some(row.id);
                    self.save_household(txn, caller, household, now).await?;
                }
                self.publish_resident(txn, &row).await?;
                outbox::publish(
                    txn,
                    &self.source,
                    &pb::ResidentRegistered {
                        resident: Some(row.to_published()),
                        actor: Some(caller.actor()),
                    },
                )
                .await?;
                audited(
                    txn,
                    caller,
                    "resident.registered",
                    ("resident", row.id),
                    &row.village_code,
                    serde_json::json!({
                        "household_id": row.household_id,
                        "national_id_recorded": row.national_id_hash.is_some(),
                        "linked_user": row.user_id,
                    }),
                    now,
                )
                .await?;
                tracing::info!(resident_id = %row.id, household_id = %row.household_id, "resident registered");
                Ok(pb::CreateResidentResponse {
                    resident: Some(row.to_proto()),
                })
            },
        )
        .await?;
        answer
            .resident
            .ok_or_else(|| Error::internal(anyhow::anyhow!("a resident answer without one")))
    }

    pub async fn get_resident(&self, caller: &Caller, id: Uuid) -> Result<pb::Resident> {
        let row = self
            .reachable_resident(&self.db, caller, id, false, REGISTER_READ)
            .await?;
        Ok(row.to_proto())
    }

    pub async fn list_residents(
        &self,
        caller: &Caller,
        query: ListResidents,
    ) -> Result<(Vec<pb::Resident>, Option<ResidentCursor>)> {
        let area = match (&query.area, query.household) {
            (Some(area), _) => area.clone(),
            (None, Some(household)) => {
                let row = self
                    .readable_household(&self.db, caller, household, false, REGISTER_READ)
                    .await?;
                village_of(&row.village_code)?
            }
            (None, None) => {
                return Err(Error::invalid(
                    "area",
                    "required unless household_id is given",
                ));
            }
        };
        if !governs(caller, &area, REGISTER_READ) {
            return Err(Error::permission_denied(
                "OUTSIDE_YOUR_AREA",
                "you do not govern this area",
            ));
        }
        let rows = store::list_residents(&self.db, &area, &query).await?;
        let (rows, next) = query.page.finish(rows, |rows| {
            rows.last().map(|last| ResidentCursor {
                name: last.name.clone(),
                id: last.id,
            })
        });
        Ok((rows.iter().map(ResidentRow::to_proto).collect(), next))
    }

    pub async fn update_resident(
        &self,
        caller: &Caller,
        command: UpdateResident,
    ) -> Result<pb::Resident> {
        let now = self.clock.now();
        let answer = idempotency::once(
            &self.db,
            caller,
            &command.mutation,
            now,
            Keep::Answer,
            async |txn| {
                let mut row = self
                    .reachable_resident(txn, caller, command.id, true, REGISTER_WRITE)
                    .await?;
                let fields = &command.fields;
                let moved_from = row.household_id;
                if let Some(household) = fields.household_id
                    && household != row.household_id
                {
                    let target = store::household(txn, household, true)
                        .await?
                        .filter(|target| target.village_code == row.village_code)
                        .ok_or_else(|| {
                            Error::invalid(
                                "resident.household_id",
                                "must be a household of the same village (a move to another \
                                 village is a new registration there)",
                            )
                        })?;
                    if target.status != HouseholdStatus::Active {
                        return Err(Error::failed_precondition(
                            "HOUSEHOLD_ARCHIVED",
                            "the household moved to is archived",
                        ));
                    }
                    row.household_id = target.id;
                }
                if let Some(name) = &fields.name {
                    row.name.clone_from(name);
                }
                if let Some(gender) = fields.gender {
                    row.gender = gender;
                }
                if let Some(birth_date) = fields.birth_date {
                    row.birth_date = birth_date;
                }
                if let Some(relationship) = fields.relationship {
                    row.relationship = relationship;
                }
                if let Some(phone) = &fields.phone_number {
                    row.phone_number = phone_text(Some(phone));
                }
                if let Some(user) = fields.user_id {
                    known_account(txn, user).await?;
                    row.user_id = user;
                }
                if let Some(status) = fields.status {
                    row.status = status;
                }
                if let Some(remarks) = &fields.remarks {
                    row.remarks.clone_from(remarks);
                }
                match &fields.national_id {
                    Some(Some(number)) => {
                        let sealed = self
                            .seal_unique(txn, row.id, &row.village_code, number)
                            .await?;
                        apply_sealed(&mut row, Some(sealed));
                    }
                    Some(None) => apply_sealed(&mut row, None),
                    None => {}
                }
                if let Some(user) = row.user_id
                    && row.status.is_current()
                    && store::current_of_user(txn, user)
                        .await?
                        .is_some_and(|other| other.id != row.id)
                {
                    return Err(store::account_taken(user));
                }
                // A number returning to current (a move back) must still be unique.
                if let Some(hash) = &row.national_id_hash
                    && row.status.is_current()
                    && store::current_with_national_id(
                        txn,
                        &row.village_code[..6],
                        hash,
                        Some(row.id),
                    )
                    .await?
                    .is_some()
                {
                    return Err(store::national_id_taken(&row.national_id_masked));
                }
                row.updated_at = now;
                row.updated_by = encoded_actor(caller);
                store::update_resident(txn, row.clone()).await?;
                // A head who leaves the household, or stops being current, is its head no more.
                let household = store::household(txn, moved_from, true).await?;
                if let Some(mut household) = household
                    && household.head_resident_id == Some(row.id)
                    && (row.household_id != moved_from || !row.status.is_current())
                {
                    household.head_resident_id = None;
                    self.save_household(txn, caller, household, now).await?;
                }
                self.publish_resident_updated(txn, caller, &row, command.paths.clone())
                    .await?;
                audited(
                    txn,
                    caller,
                    "resident.updated",
                    ("resident", row.id),
                    &row.village_code,
                    serde_json::json!({ "fields": command.paths, "household_id": row.household_id }),
                    now,
                )
                .await?;
                Ok(pb::UpdateResidentResponse {
                    resident: Some(row.to_proto()),
                })
            },
        )
        .await?;
        answer
            .resident
            .ok_or_else(|| Error::internal(anyhow::anyhow!("a resident answer without one")))
    }

    /// The whole number, for an official who governs the village, with the reason written to
    /// the resident's access log in the same transaction. The answer is not kept for replay (it
    /// would keep the number in the clear): a retry is told so and asks again with a new
    /// `request_id`, which is logged again.
    pub async fn reveal(
        &self,
        caller: &Caller,
        command: Reveal,
    ) -> Result<pb::RevealResidentNationalIdResponse> {
        let now = self.clock.now();
        idempotency::once(
            &self.db,
            caller,
            &command.mutation,
            now,
            Keep::Nothing {
                instead: "reveal again with a new request_id (each reveal is logged)",
            },
            async |txn| {
                let unknown = || Error::not_found("resident", command.resident_id.to_string());
                let row = store::resident(txn, command.resident_id, false)
                    .await?
                    .ok_or_else(unknown)?;
                let village = village_of(&row.village_code)?;
                officials_only(
                    caller,
                    &village,
                    REGISTER_READ,
                    unknown,
                    "only an official of the village may reveal a national id",
                )?;
                let (Some(sealed), Some(nonce), Some(key)) = (
                    &row.national_id_sealed,
                    &row.national_id_nonce,
                    &row.national_id_key,
                ) else {
                    return Err(Error::failed_precondition(
                        "NO_NATIONAL_ID",
                        "no national id is recorded for this resident",
                    ));
                };
                let national_id = self
                    .sealer
                    .open(row.id, key, nonce, sealed)
                    .map_err(Error::internal)?;
                let entry = AccessRow {
                    id: Uuid::now_v7(),
                    resident_id: row.id,
                    actor: named_actor(txn, caller).await?,
                    field: NATIONAL_ID_FIELD.to_owned(),
                    reason: command.reason.clone(),
                    accessed_at: now,
                };
                store::insert_access(txn, entry.clone()).await?;
                audited(
                    txn,
                    caller,
                    "resident.national_id_revealed",
                    ("resident", row.id),
                    &row.village_code,
                    serde_json::json!({ "reason": command.reason, "access_log_id": entry.id }),
                    now,
                )
                .await?;
                tracing::info!(resident_id = %row.id, access_id = %entry.id, "national id revealed");
                Ok(pb::RevealResidentNationalIdResponse {
                    national_id,
                    access_log_entry: Some(entry.to_proto()),
                })
            },
        )
        .await
    }

    pub async fn access_log(
        &self,
        caller: &Caller,
        query: ListAccessLog,
    ) -> Result<(Vec<pb::ResidentAccessLogEntry>, Option<Uuid>)> {
        self.reachable_resident(&self.db, caller, query.resident_id, false, REGISTER_READ)
            .await?;
        let rows = store::access_log(
            &self.db,
            query.resident_id,
            query.page.after,
            query.page.fetch_limit(),
        )
        .await?;
        let (rows, next) = query
            .page
            .finish(rows, |rows| rows.last().map(|row| row.id));
        Ok((rows.iter().map(AccessRow::to_proto).collect(), next))
    }

    /// The caller's own record, household and housemates.
    pub async fn mine(&self, caller: &Caller) -> Result<pb::GetMyResidentResponse> {
        let user = caller.subject_user().ok_or_else(|| no_record_of(None))?;
        let (row, household, members) = own_record(&self.db, user).await?;
        Ok(pb::GetMyResidentResponse {
            resident: Some(row.to_proto()),
            household: Some(household),
            members: members.iter().map(ResidentRow::to_proto).collect(),
        })
    }

    /// Deletes `row` (erasure) in `txn`: clears it as its household's head, republishes the
    /// household and replaces the record's state snapshot with a tombstone.
    async fn erase_row<C: ConnectionTrait>(
        &self,
        txn: &C,
        caller: &Caller,
        row: &ResidentRow,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        store::delete_resident(txn, row.id).await?;
        if let Some(mut household) = store::household(txn, row.household_id, true).await? {
            if household.head_resident_id == Some(row.id) {
                household.head_resident_id = None;
                self.save_household(txn, caller, household, now).await?;
            } else {
                // Its member count changed.
                let household = self.household_proto(txn, &household).await?;
                self.publish_household(txn, &household).await?;
            }
        }
        outbox::publish_tombstone::<C, pb::Resident>(txn, &self.source, &row.id.to_string())
            .await?;
        audited(
            txn,
            caller,
            "resident.erased",
            ("resident", row.id),
            &row.village_code,
            serde_json::json!({ "reason": reason, "household_id": row.household_id }),
            now,
        )
        .await
    }

    /// `EraseResident`: an official who governs the village deletes a record's personal data.
    pub async fn erase(&self, caller: &Caller, command: parse::Erase) -> Result<()> {
        let now = self.clock.now();
        idempotency::once(
            &self.db,
            caller,
            &command.mutation,
            now,
            Keep::Answer,
            async |txn| {
                let unknown = || Error::not_found("resident", command.resident_id.to_string());
                let row = store::resident(txn, command.resident_id, true)
                    .await?
                    .ok_or_else(unknown)?;
                let village = village_of(&row.village_code)?;
                officials_only(
                    caller,
                    &village,
                    REGISTER_WRITE,
                    unknown,
                    "only an official of the village may erase a resident",
                )?;
                self.erase_row(txn, caller, &row, &command.reason, now)
                    .await?;
                tracing::info!(resident_id = %row.id, "resident erased");
                Ok(pb::EraseResidentResponse {})
            },
        )
        .await?;
        Ok(())
    }

    /// `DownloadMyData`: the caller's record with the whole number, their household and the access
    /// log of the record, the export itself logged first.
    pub async fn export(
        &self,
        caller: &Caller,
        mutation: idempotency::Mutation,
    ) -> Result<pb::DownloadMyDataResponse> {
        let user = caller.require_self()?;
        let now = self.clock.now();
        idempotency::once(
            &self.db,
            caller,
            &mutation,
            now,
            Keep::Nothing {
                instead: "export again with a new request_id (each export is logged)",
            },
            async |txn| {
                let (row, household, _) = own_record(txn, user).await?;
                let mut resident = row.to_proto();
                if let (Some(sealed), Some(nonce), Some(key)) = (
                    &row.national_id_sealed,
                    &row.national_id_nonce,
                    &row.national_id_key,
                ) {
                    resident.national_id = self
                        .sealer
                        .open(row.id, key, nonce, sealed)
                        .map_err(Error::internal)?;
                }
                store::insert_access(
                    txn,
                    AccessRow {
                        id: Uuid::now_v7(),
                        resident_id: row.id,
                        actor: named_actor(txn, caller).await?,
                        field: EXPORT_FIELD.to_owned(),
                        reason: EXPORT_REASON.to_owned(),
                        accessed_at: now,
                    },
                )
                .await?;
                let log = store::access_log(txn, row.id, None, EXPORT_LOG_LIMIT).await?;
                Ok(pb::DownloadMyDataResponse {
                    resident: Some(resident),
                    household: Some(household),
                    access_log: log.iter().map(AccessRow::to_proto).collect(),
                    export_time: Some(to_timestamp(now)),
                })
            },
        )
        .await
    }

    /// `GetRegisterCounts`.
    pub async fn counts(
        &self,
        caller: &Caller,
        area: &AdminScope,
    ) -> Result<pb::GetRegisterCountsResponse> {
        if !governs(caller, area, REGISTER_READ) {
            return Err(Error::permission_denied(
                "OUTSIDE_YOUR_AREA",
                "you do not govern this area",
            ));
        }
        let counts = store::counts(&self.db, area).await?;
        Ok(pb::GetRegisterCountsResponse {
            households: counts.households,
            active_residents: counts.active,
            away_residents: counts.away,
            moved_out_residents: counts.moved_out,
            deceased_residents: counts.deceased,
            linked_residents: counts.linked,
            residents_with_national_id: counts.with_national_id,
        })
    }

    /// The retention job's run at `now`: erases records moved out or deceased longer than
    /// `retention.records` ago (in batches, each its own transaction), and forgets access-log
    /// entries older than `retention.access_log`. Returns how many records and entries went.
    pub async fn apply_retention(&self, now: DateTime<Utc>, retention: &Retention) -> Result<u64> {
        let job = Caller::System {
            job: RETENTION_JOB.job,
        };
        let records_before =
            now - chrono::Duration::from_std(retention.records).map_err(Error::internal)?;
        let mut done = 0;
        loop {
            let txn = self.db.begin().await?;
            let rows = store::past_retention(&txn, records_before, RETENTION_BATCH).await?;
            for row in &rows {
                self.erase_row(&txn, &job, row, RETENTION_REASON, now)
                    .await?;
            }
            txn.commit().await?;
            done += rows.len() as u64;
            if (rows.len() as u64) < RETENTION_BATCH {
                break;
            }
        }
        let log_before =
            now - chrono::Duration::from_std(retention.access_log).map_err(Error::internal)?;
        done += store::forget_access_before(&self.db, log_before).await?;
        Ok(done)
    }

    /// Re-seals up to `batch` numbers sealed under keys other than the active one; returns how
    /// many. `terrace governance rotate-id-key` calls it until it returns 0.
    pub async fn reseal_batch(&self, batch: u64) -> Result<u64> {
        let txn = self.db.begin().await?;
        let rows = store::sealed_under_other_keys(&txn, self.sealer.active_key(), batch).await?;
        let count = rows.len() as u64;
        for mut row in rows {
            let (Some(sealed), Some(nonce), Some(key)) = (
                &row.national_id_sealed,
                &row.national_id_nonce,
                &row.national_id_key,
            ) else {
                continue;
            };
            let plain = self
                .sealer
                .open(row.id, key, nonce, sealed)
                .map_err(Error::internal)?;
            let number = national_id::NationalId::parse(&plain, self.today()).map_err(|error| {
                Error::internal(anyhow::anyhow!("a stored national id: {error}"))
            })?;
            let resealed = self.sealer.seal(row.id, &number).map_err(Error::internal)?;
            apply_sealed(&mut row, Some(resealed));
            store::update_resident(&txn, row).await?;
        }
        txn.commit().await?;
        Ok(count)
    }
}

/// Appends `action` on `target` (of `village`) by `caller` to the audit log, in the action's
/// transaction and as its last write (the county's chain head stays locked until the commit).
async fn audited<C: ConnectionTrait>(
    txn: &C,
    caller: &Caller,
    action: &str,
    target: (&str, Uuid),
    village: &str,
    details: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<()> {
    let area = village_of(village)?;
    crate::audit::append(
        txn,
        caller,
        crate::audit::NewEntry {
            action,
            target_type: target.0,
            target_id: target.1.to_string(),
            area: &area,
            details,
        },
        now,
    )
    .await?;
    Ok(())
}

fn phone_text(phone: Option<&Option<terrace_platform::phone::PhoneNumber>>) -> String {
    phone
        .and_then(Option::as_ref)
        .map(|phone| phone.as_str().to_owned())
        .unwrap_or_default()
}

fn apply_sealed(row: &mut ResidentRow, sealed: Option<sealing::Sealed>) {
    match sealed {
        Some(sealed) => {
            row.national_id_sealed = Some(sealed.ciphertext);
            row.national_id_nonce = Some(sealed.nonce);
            row.national_id_key = Some(sealed.key);
            row.national_id_hash = Some(sealed.hash);
            row.national_id_masked = sealed.masked;
        }
        None => {
            row.national_id_sealed = None;
            row.national_id_nonce = None;
            row.national_id_key = None;
            row.national_id_hash = None;
            row.national_id_masked = String::new();
        }
    }
}
