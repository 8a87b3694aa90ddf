//! Versioned message templates per locale and channel: `CreateTemplate`, `GetTemplate`,
//! `ListTemplates`, `UpdateTemplate`, `ListTemplateVersions`, `ActivateTemplateVersion`,
//! `PreviewTemplate`; and the rendering the rules use.
//!
//! Each save writes a new immutable version; one version of a key is active and is what
//! notifications are rendered from. The platform's own texts ([`defaults`]) are seeded as their
//! keys' first versions when the service starts ([`seed`]), so operators see and edit them like
//! any other. A rule reads the active version once per event ([`active`]) and renders it for
//! every recipient and channel; should that fail (it was
//! checked when saved, so only a bug could make it), the rule falls back to the built-in text
//! rather than lose the notification.
//!
//! Who: platform admins (and the operator) save and activate; any official reads and previews.
//! Saves and activations are audited (`notify.audit.recorded`, appended by governance).
//!
//! - [`parse`]: the requests as commands; a definition judged whole when saved.
//! - [`render`]: the MiniJinja environment, the pick of a text by channel and locale, typed
//!   values.
//! - [`defaults`]: the platform's texts and what each rule supplies.
//! - [`store`]: the table.

pub mod defaults;
pub mod parse;
pub mod render;
pub mod store;

use chrono::{DateTime, Utc};
use prost::Message as _;
use sea_orm::{ConnectionTrait, DatabaseConnection, TransactionTrait as _};
use serde::Serialize;
use terrace_platform::Clock;
use terrace_platform::auth::{AdminScope, Caller, Role};
use terrace_platform::bus::outbox;
use terrace_platform::error::{Error, Result, Violations};
use terrace_platform::idempotency::{self, Keep};
use terrace_platform::validate::{page_response, to_timestamp};
use terrace_proto::common::v1 as common;
use terrace_proto::notify::v1 as pb;

use self::parse::{
    ActivateTemplateVersion, CreateTemplate, Definition, GetTemplate, KeyCursor,
    ListTemplateVersions, ListTemplates, PreviewSource, PreviewTemplate, UpdateTemplate,
    VersionCursor,
};
use self::store::Model as VersionRow;

/// The templates: the *apply* step of their RPCs.
#[derive(Debug, Clone)]
pub struct Templates {
    db: DatabaseConnection,
    clock: Clock,
    source: String,
    /// The deployment's SMS signature, for previews of texts that name none.
    signature: String,
}

/// `PERMISSION_DENIED` unless the caller edits templates: a platform admin or the operator.
fn require_editor(caller: &Caller) -> Result<()> {
    if caller.covers(&AdminScope::country(), Role::PlatformAdmin.rank(), None) {
        Ok(())
    } else {
        Err(Error::permission_denied(
            "NOT_A_PLATFORM_ADMIN",
            "templates are saved and activated by platform admins",
        ))
    }
}

/// `PERMISSION_DENIED` unless the caller reads templates: any official.
fn require_reader(caller: &Caller) -> Result<()> {
    if caller
        .governed_areas(Role::VillageOfficial.rank(), None)
        .is_empty()
    {
        Err(Error::permission_denied(
            "NOT_AN_OFFICIAL",
            "templates are read by officials",
        ))
    } else {
        Ok(())
    }
}

impl Templates {
    pub fn new(db: DatabaseConnection, clock: Clock, source: String, signature: String) -> Self {
        Self {
            db,
            clock,
            source,
            signature,
        }
    }

    /// `CreateTemplate`: version 1 of a new key, active.
    pub async fn create(
        &self,
        caller: &Caller,
        command: CreateTemplate,
    ) -> Result<pb::CreateTemplateResponse> {
        require_editor(caller)?;
        let now = self.clock.now();
        idempotency::once(
            &self.db,
            caller,
            &command.mutation,
            now,
            Keep::Answer,
            async |txn| {
                let row = version_row(&command.key, 1, &command.definition, caller, false, now);
                if !store::insert(txn, row.clone()).await? {
                    return Err(Error::AlreadyExists {
                        resource: "template",
                        id: command.key.clone(),
                    });
                }
                audit(txn, &self.source, caller, "template.created", &row, now).await?;
                Ok(pb::CreateTemplateResponse {
                    template: Some(to_proto(&row, 1)),
                })
            },
        )
        .await
    }

    /// `UpdateTemplate`: a new version from the latest with the masked fields changed, active
    /// unless the editor stages it.
    pub async fn update(
        &self,
        caller: &Caller,
        command: UpdateTemplate,
    ) -> Result<pb::UpdateTemplateResponse> {
        require_editor(caller)?;
        let now = self.clock.now();
        idempotency::once(
            &self.db,
            caller,
            &command.mutation,
            now,
            Keep::Answer,
            async |txn| {
                let active = store::active_for_update(txn, &command.key)
                    .await?
                    .ok_or_else(|| Error::not_found("template", command.key.clone()))?;
                let latest = store::latest(txn, &command.key)
                    .await?
                    .ok_or_else(|| Error::not_found("template", command.key.clone()))?;
                if let Some(expected) = command.expected_version
                    && expected != latest.version
                {
                    return Err(Error::aborted(
                        "STALE_VERSION",
                        format!(
                            "{} is at version {} now, not {expected}; read it again",
                            command.key, latest.version
                        ),
                        [("current_version", latest.version.to_string())],
                    ));
                }
                let merged = command.merged(definition_of(&latest).to_proto(&command.key));
                let mut violations = Violations::new();
                let definition = Definition::parse(
                    &mut violations,
                    "template",
                    &merged,
                    defaults::built_in_of(&command.key),
                );
                violations.finish()?;
                let definition = definition.ok_or_else(|| {
                    Error::internal(anyhow::anyhow!("a definition refused without a violation"))
                })?;
                let version = latest.version + 1;
                let row = version_row(&command.key, version, &definition, caller, false, now);
                store::insert(txn, row.clone()).await?;
                let active_version = if command.activate {
                    store::activate(txn, &command.key, version).await?;
                    version
                } else {
                    active.version
                };
                audit(txn, &self.source, caller, "template.saved", &row, now).await?;
                Ok(pb::UpdateTemplateResponse {
                    template: Some(to_proto(&row, active_version)),
                })
            },
        )
        .await
    }

    /// `ActivateTemplateVersion`: rendering uses `version` from now on (an older one: a
    /// rollback).
    pub async fn activate(
        &self,
        caller: &Caller,
        command: ActivateTemplateVersion,
    ) -> Result<pb::ActivateTemplateVersionResponse> {
        require_editor(caller)?;
        let now = self.clock.now();
        idempotency::once(
            &self.db,
            caller,
            &command.mutation,
            now,
            Keep::Answer,
            async |txn| {
                store::active_for_update(txn, &command.key)
                    .await?
                    .ok_or_else(|| Error::not_found("template", command.key.clone()))?;
                let row = store::version(txn, &command.key, command.version)
                    .await?
                    .ok_or_else(|| {
                        Error::not_found(
                            "template version",
                            format!("{} v{}", command.key, command.version),
                        )
                    })?;
                store::activate(txn, &command.key, command.version).await?;
                audit(txn, &self.source, caller, "template.activated", &row, now).await?;
                Ok(pb::ActivateTemplateVersionResponse {
                    template: Some(to_proto(&row, command.version)),
                })
            },
        )
        .await
    }

    /// `GetTemplate`: the active version, or the one asked for.
    pub async fn get(
        &self,
        caller: &Caller,
        query: GetTemplate,
    ) -> Result<pb::GetTemplateResponse> {
        require_reader(caller)?;
        let active = store::active(&self.db, &query.key)
            .await?
            .ok_or_else(|| Error::not_found("template", query.key.clone()))?;
        let row = match query.version {
            None => active.clone(),
            Some(version) => store::version(&self.db, &query.key, version)
                .await?
                .ok_or_else(|| {
                    Error::not_found("template version", format!("{} v{version}", query.key))
                })?,
        };
        Ok(pb::GetTemplateResponse {
            template: Some(to_proto(&row, active.version)),
        })
    }

    /// `ListTemplates`: active versions by key.
    pub async fn list(
        &self,
        caller: &Caller,
        query: ListTemplates,
    ) -> Result<pb::ListTemplatesResponse> {
        require_reader(caller)?;
        let rows = store::page_active(
            &self.db,
            query.category,
            &query.key_prefix,
            query.page.after.as_ref().map(|c| c.key.as_str()),
            query.page.fetch_limit(),
        )
        .await?;
        let (rows, next) = query.page.finish(rows, |rows| {
            rows.last().map(|r| KeyCursor { key: r.key.clone() })
        });
        Ok(pb::ListTemplatesResponse {
            templates: rows.iter().map(|r| to_proto(r, r.version)).collect(),
            page: Some(page_response(next.as_ref())),
        })
    }

    /// `ListTemplateVersions`: newest first.
    pub async fn versions(
        &self,
        caller: &Caller,
        query: ListTemplateVersions,
    ) -> Result<pb::ListTemplateVersionsResponse> {
        require_reader(caller)?;
        let active = store::active(&self.db, &query.key)
            .await?
            .ok_or_else(|| Error::not_found("template", query.key.clone()))?;
        let rows = store::page_versions(
            &self.db,
            &query.key,
            query.page.after.as_ref().map(|c| c.version),
            query.page.fetch_limit(),
        )
        .await?;
        let (rows, next) = query.page.finish(rows, |rows| {
            rows.last().map(|r| VersionCursor { version: r.version })
        });
        Ok(pb::ListTemplateVersionsResponse {
            versions: rows.iter().map(|r| to_proto(r, active.version)).collect(),
            page: Some(page_response(next.as_ref())),
        })
    }

    /// `PreviewTemplate`: a saved version or a draft rendered with typed values, in the locale
    /// a delivery would fall back to.
    pub async fn preview(
        &self,
        caller: &Caller,
        query: PreviewTemplate,
    ) -> Result<pb::PreviewTemplateResponse> {
        require_reader(caller)?;
        let definition = match query.source {
            PreviewSource::Draft { definition, .. } => definition,
            PreviewSource::Saved { key, version } => {
                let row = match version {
                    None => store::active(&self.db, &key).await?,
                    Some(version) => store::version(&self.db, &key, version).await?,
                };
                definition_of(&row.ok_or_else(|| Error::not_found("template", key.clone()))?)
            }
        };
        let content =
            render::pick(&definition.contents, query.channel, &query.locale).ok_or_else(|| {
                Error::failed_precondition(
                    "NO_TEXT_FOR_CHANNEL",
                    format!("the template has no {} text", query.channel.as_str_name()),
                )
            })?;
        let vars = values(&definition, &query.values, &content.locale)?;
        let rendered = render::content(content, &vars).map_err(|error| {
            Error::invalid("values", format!("the template does not render: {error}"))
        })?;
        let (sms_segments, sms_ucs2) = if query.channel == pb::Channel::Sms {
            let signature = if rendered.signature.is_empty() {
                &self.signature
            } else {
                &rendered.signature
            };
            let counted =
                crate::sms::segments::count(&crate::sms::signed(signature, &rendered.body));
            (
                i32::try_from(counted.count).unwrap_or(i32::MAX),
                counted.ucs2,
            )
        } else {
            (0, false)
        };
        Ok(pb::PreviewTemplateResponse {
            subject: rendered.subject,
            body: rendered.body,
            locale: rendered.locale,
            sms_segments,
            sms_ucs2,
        })
    }
}

/// The preview's values as the template reads them: each declared and of its type, every
/// required one given; an optional one not given reads as empty.
fn values(
    definition: &Definition,
    given: &std::collections::BTreeMap<String, pb::TemplateValue>,
    locale: &str,
) -> Result<serde_json::Map<String, serde_json::Value>> {
    let mut violations = Violations::new();
    for name in given.keys() {
        if !definition.variables.iter().any(|v| &v.name == name) {
            violations.add(format!("values[{name:?}]"), "not a declared variable");
        }
    }
    let mut vars = serde_json::Map::new();
    for variable in &definition.variables {
        let field = format!("values[{:?}]", variable.name);
        match given.get(&variable.name) {
            None if variable.required => violations.add(field, "required by the template"),
            None => {
                vars.insert(variable.name.clone(), "".into());
            }
            Some(value) => {
                let kind = pb::VariableType::try_from(variable.kind).unwrap_or_default();
                match render::typed_value(kind, value, locale, chrono_tz::Asia::Shanghai) {
                    Ok(value) => {
                        vars.insert(variable.name.clone(), value);
                    }
                    Err(misfit) => violations.add(field, misfit.0),
                }
            }
        }
    }
    violations.finish()?;
    Ok(vars)
}

/// A version as the contract shows it; `active_version` is its key's.
pub fn to_proto(row: &VersionRow, active_version: i32) -> pb::Template {
    let creator = common::Actor::decode(row.created_by.as_slice()).unwrap_or_default();
    pb::Template {
        version: row.version,
        active_version,
        audit: Some(common::AuditInfo {
            create_time: Some(to_timestamp(row.created_at)),
            creator: Some(creator.clone()),
            update_time: Some(to_timestamp(row.created_at)),
            updater: Some(creator),
        }),
        ..definition_of(row).to_proto(&row.key)
    }
}

/// The definition a version holds.
fn definition_of(row: &VersionRow) -> Definition {
    Definition {
        description: row.description.clone(),
        category: pb::NotificationCategory::try_from(i32::from(row.category)).unwrap_or_default(),
        critical: row.critical,
        variables: row.variables(),
        contents: row.contents(),
    }
}

fn version_row(
    key: &str,
    version: i32,
    definition: &Definition,
    caller: &Caller,
    platform: bool,
    now: DateTime<Utc>,
) -> VersionRow {
    VersionRow {
        key: key.to_owned(),
        version,
        description: definition.description.clone(),
        category: i16::try_from(definition.category as i32).unwrap_or_default(),
        critical: definition.critical,
        variables: serde_json::to_value(&definition.variables).unwrap_or_default(),
        contents: serde_json::to_value(&definition.contents).unwrap_or_default(),
        platform,
        // A first version is active; a later one becomes so through `store::activate`.
        active: version == 1,
        created_by: caller.actor().encode_to_vec(),
        created_at: now,
    }
}

/// Records a save or an activation for governance's audit log, in the action's transaction.
async fn audit<C: ConnectionTrait>(
    conn: &C,
    source: &str,
    caller: &Caller,
    action: &str,
    row: &VersionRow,
    now: DateTime<Utc>,
) -> Result<()> {
    let mut details = serde_json::json!({ "version": row.version });
    if let (Caller::Operator { reason }, Some(object)) = (caller, details.as_object_mut()) {
        object.insert("operator_reason".to_owned(), reason.clone().into());
    }
    let event = pb::AuditRecorded {
        action: Some(common::AuditedAction {
            action: action.to_owned(),
            target_type: "template".to_owned(),
            target_id: row.key.clone(),
            area: None,
            actor: Some(caller.actor()),
            time: Some(to_timestamp(now)),
            details_json: details.to_string(),
        }),
    };
    outbox::publish(conn, source, &event).await?;
    Ok(())
}

/// How many keys [`seed`] wrote or brought up to date.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Seeded {
    pub added: usize,
    pub updated: usize,
}

/// Writes the platform's texts into the store: a key it lacks gets them as version 1; a key
/// whose latest version is the platform's older texts gets a new version, activated while the
/// platform's is the active one (an operator's choice of another version stands). Safe on every
/// start of every replica: each key is handled under its lock, all in one transaction, and an
/// unchanged key is left alone.
pub async fn seed(db: &DatabaseConnection, now: DateTime<Utc>) -> anyhow::Result<Seeded> {
    let platform = Caller::System {
        job: "notify templates",
    };
    let mut seeded = Seeded::default();
    // One transaction: keys are locked in the same order on every replica, so two starting at
    // once wait for each other rather than deadlock.
    let txn = db.begin().await?;
    for built_in in defaults::BUILT_IN {
        let definition = built_in.definition();
        match store::active_for_update(&txn, built_in.key).await? {
            None => {
                let row = version_row(built_in.key, 1, &definition, &platform, true, now);
                if store::insert(&txn, row).await? {
                    seeded.added += 1;
                }
            }
            Some(active) => {
                let latest = store::latest(&txn, built_in.key)
                    .await?
                    .unwrap_or_else(|| active.clone());
                if latest.platform && definition_of(&latest) != definition {
                    let version = latest.version + 1;
                    let row = version_row(built_in.key, version, &definition, &platform, true, now);
                    store::insert(&txn, row).await?;
                    if active.platform && active.version == latest.version {
                        store::activate(&txn, built_in.key, version).await?;
                    }
                    seeded.updated += 1;
                }
            }
        }
    }
    txn.commit().await?;
    Ok(seeded)
}

/// A text rendered for a rule, and the version it came from (0: the built-in text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedText {
    pub version: i32,
    pub text: render::Rendered,
}

/// A template as a rule renders it: the active version of its key, read once per event and
/// rendered for every recipient and channel from memory.
#[derive(Debug, Clone)]
pub struct Active {
    pub key: &'static str,
    /// `None` when no version is stored (the built-in text is used).
    row: Option<VersionRow>,
}

/// Reads the active version of `key`.
pub async fn active<C: ConnectionTrait>(
    conn: &C,
    key: &'static str,
) -> std::result::Result<Active, RenderError> {
    let row = store::active(conn, key)
        .await
        .map_err(RenderError::Database)?;
    Ok(Active { key, row })
}

impl Active {
    /// Renders the `channel` text in `locale` (or its fallback) with `vars`; `None` when the
    /// template has no text for the channel. A stored version that cannot render falls back to
    /// the built-in text (logged), so that a notification is never lost to a template; only a
    /// built-in text that cannot render is an error (a bug the tests catch).
    pub fn render(
        &self,
        channel: pb::Channel,
        locale: &str,
        vars: &impl Serialize,
    ) -> std::result::Result<Option<RenderedText>, RenderError> {
        let key = self.key;
        if let Some(row) = &self.row {
            let contents = row.contents();
            match render::pick(&contents, channel, locale).map(|c| render::content(c, vars)) {
                Some(Ok(text)) => {
                    return Ok(Some(RenderedText {
                        version: row.version,
                        text,
                    }));
                }
                None => return Ok(None),
                Some(Err(error)) => tracing::warn!(
                    key,
                    version = row.version,
                    %error,
                    "a saved template does not render; the built-in text is used"
                ),
            }
        }
        let built_in = defaults::built_in_of(key)
            .ok_or_else(|| RenderError::Template(anyhow::anyhow!("no template {key}")))?;
        built_in
            .render(channel, locale, vars)
            .map(|rendered| {
                rendered
                    .map(|text| RenderedText { version: 0, text })
                    .map_err(|error| RenderError::Template(anyhow::anyhow!("{key}: {error}")))
            })
            .transpose()
    }
}

/// Why a rule's text did not render.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// Reading the template failed: retry.
    #[error("reading a template: {0}")]
    Database(sea_orm::DbErr),
    /// It never will render.
    #[error("{0}")]
    Template(anyhow::Error),
}

impl From<RenderError> for terrace_platform::bus::consumer::HandlerError {
    fn from(error: RenderError) -> Self {
        match error {
            RenderError::Database(error) => Self::Retry(anyhow::anyhow!(error)),
            RenderError::Template(error) => Self::Reject(error),
        }
    }
}
