//! *Parse*: the agency-client requests become commands, every bad field reported at once; and the
//! rules of a client's fields, which `terrace agency create` follows too ([`NewClient::secret`]),
//! so that a client made at the command line is one the RPCs could have made.

use std::fmt;
use std::time::Duration;

use secrecy::SecretString;
use terrace_platform::auth::{AdminLevel, AdminScope, Role, RoleGrant};
use terrace_platform::error::{Result, Violations};
use terrace_platform::idempotency::Mutation;
use terrace_platform::validate::{self, Page, Text};
use terrace_proto::common::v1 as common;
use terrace_proto::identity::v1 as pb;
use uuid::Uuid;

/// The longest overlap a rotated-out secret may be given (the contract's bound).
pub const MAX_OVERLAP: Duration = Duration::from_secs(7 * 24 * 3600);
pub const MAX_AREAS: usize = 32;
pub const MAX_NAME_CHARS: usize = 100;
pub const MAX_DESCRIPTION_CHARS: usize = 1000;
pub const MAX_REASON_CHARS: usize = 500;
/// Longer than any secret this service makes (43 characters): anything longer is not one, and is
/// refused before it costs an argon2 verification.
pub const MAX_SECRET_BYTES: usize = 256;

/// What an agency client is: a client id in the table, as requests name it.
const CLIENT: &str = "client";

/// A client's API scopes: the platform's policy ([`validate::api_scopes`]).
fn api_scopes(
    violations: &mut Violations,
    field: &str,
    scopes: Vec<String>,
) -> Option<Vec<String>> {
    validate::api_scopes(violations, field, scopes)
}

/// A client's areas: at least one (a client with none could be managed by any admin, and act
/// nowhere), at most [`MAX_AREAS`], each a valid grant, no repeats.
pub fn areas(
    violations: &mut Violations,
    field: &str,
    areas: Vec<RoleGrant>,
) -> Option<Vec<RoleGrant>> {
    if areas.is_empty() {
        violations.add(field, "required: at least one area");
        return None;
    }
    let before = violations.len();
    if areas.len() > MAX_AREAS {
        violations.add(field, format!("at most {MAX_AREAS} areas"));
    }
    for (i, area) in areas.iter().enumerate() {
        if let Err(error) = area.validate() {
            violations.add(format!("{field}[{i}]"), error.to_string());
        } else if areas[..i].contains(area) {
            violations.add(format!("{field}[{i}]"), "duplicate area");
        }
    }
    (violations.len() == before).then_some(areas)
}

/// The standing an area given as a bare code (over gRPC) confers: the official role of the area's
/// level, so that the agency is served where an official of the area would be — within its API
/// scopes. Above a county there is no official role but the platform admin's, held for that
/// province or city only.
pub fn standing_for(scope: &AdminScope) -> Role {
    match scope.level() {
        AdminLevel::Village => Role::VillageOfficial,
        AdminLevel::Township => Role::TownshipOfficial,
        AdminLevel::County => Role::CountyAdmin,
        AdminLevel::City | AdminLevel::Province | AdminLevel::Country => Role::PlatformAdmin,
    }
}

/// Areas as the contract gives them, codes only: each gets the official standing of its level
/// ([`standing_for`]), then the rules of [`areas`].
fn area_codes(
    violations: &mut Violations,
    field: &str,
    codes: &[common::AdminCode],
) -> Option<Vec<RoleGrant>> {
    // Every code is read (each bad one reported) before the list is judged as a whole.
    let grants: Vec<Option<RoleGrant>> = codes
        .iter()
        .enumerate()
        .map(|(i, code)| {
            let path = format!("{field}[{i}]");
            let scope = validate::admin_code(violations, &path, Some(code))?;
            // The standing of a level always fits that level; refused as a field all the same.
            RoleGrant::new(standing_for(&scope), scope)
                .map_err(|error| violations.add(path, error.to_string()))
                .ok()
        })
        .collect();
    areas(
        violations,
        field,
        grants.into_iter().collect::<Option<_>>()?,
    )
}

fn name(violations: &mut Violations, field: &str, value: &str) -> Option<String> {
    validate::text(violations, field, value, Text::required(MAX_NAME_CHARS))
}

/// Who is responsible and how to reach them: line breaks are fine.
fn description(violations: &mut Violations, field: &str, value: &str) -> Option<String> {
    validate::text(
        violations,
        field,
        value,
        Text::optional(MAX_DESCRIPTION_CHARS).multiline(),
    )
}

/// A certificate's SHA-256 fingerprint: 64 lower-case hex digits.
fn fingerprint(violations: &mut Violations, field: &str, value: &str) -> Option<String> {
    let well_formed = value.len() == 64
        && value
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !well_formed {
        violations.add(
            field,
            "must be the certificate's SHA-256 fingerprint as 64 lower-case hex digits",
        );
        return None;
    }
    Some(value.to_owned())
}

/// How a client proves who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authentication {
    /// Its client id and a secret this service made.
    Secret,
    /// A TLS client certificate with this SHA-256 fingerprint (lower-case hex of the DER).
    Mtls { certificate_sha256: String },
}

/// The contract's method with its fingerprint: a fingerprint exactly for mTLS clients.
fn authentication(
    violations: &mut Violations,
    field: &str,
    method: Option<pb::AgencyAuthMethod>,
    certificate_sha256: &str,
) -> Option<Authentication> {
    match (method?, certificate_sha256.is_empty()) {
        (pb::AgencyAuthMethod::Secret, true) => Some(Authentication::Secret),
        (pb::AgencyAuthMethod::Secret, false) => {
            violations.add(field, "only mTLS clients have a certificate");
            None
        }
        (pb::AgencyAuthMethod::Mtls, true) => {
            violations.add(field, "required for mTLS clients");
            None
        }
        (pb::AgencyAuthMethod::Mtls, false) => fingerprint(violations, field, certificate_sha256)
            .map(|certificate_sha256| Authentication::Mtls { certificate_sha256 }),
        // `enum_value` has refused it already.
        (pb::AgencyAuthMethod::Unspecified, _) => None,
    }
}

/// A client to create, its fields checked.
#[derive(Debug, Clone)]
pub struct NewClient {
    pub name: String,
    pub description: String,
    pub authentication: Authentication,
    pub api_scopes: Vec<String>,
    pub areas: Vec<RoleGrant>,
}

impl NewClient {
    /// A secret client as the command line describes it: the rules of `CreateAgencyClient`, with
    /// each area's role named (`ROLE@PREFIX`) instead of given by its level. Fields are named as
    /// the command's options are (`name`, `scopes[0]`, ...).
    pub fn secret(
        name: &str,
        description: &str,
        api_scopes: Vec<String>,
        areas: Vec<RoleGrant>,
    ) -> Result<Self> {
        let mut violations = Violations::new();
        let name = self::name(&mut violations, "name", name);
        let description = self::description(&mut violations, "description", description);
        let api_scopes = self::api_scopes(&mut violations, "scopes", api_scopes);
        let areas = self::areas(&mut violations, "areas", areas);
        violations.finish_with(|| {
            Some(Self {
                name: name?,
                description: description?,
                authentication: Authentication::Secret,
                api_scopes: api_scopes?,
                areas: areas?,
            })
        })
    }
}

/// `CreateAgencyClient`.
#[derive(Debug)]
pub struct CreateAgencyClient {
    pub mutation: Mutation,
    pub client: NewClient,
}

impl CreateAgencyClient {
    pub fn parse(request: pb::CreateAgencyClientRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let mutation = Mutation::parse(
            &mut violations,
            "CreateAgencyClient",
            &request.request_id,
            &request,
        );
        let client = request.client.unwrap_or_default();
        let method = validate::enum_value::<pb::AgencyAuthMethod>(
            &mut violations,
            "client.auth_method",
            client.auth_method,
            "AGENCY_AUTH_METHOD_SECRET or AGENCY_AUTH_METHOD_MTLS",
        );
        let areas = area_codes(&mut violations, "client.areas", &client.areas);
        let name = name(&mut violations, "client.name", &client.name);
        let description = description(&mut violations, "client.description", &client.description);
        let authentication = authentication(
            &mut violations,
            "client.certificate_sha256",
            method,
            &client.certificate_sha256,
        );
        let api_scopes = api_scopes(&mut violations, "client.scopes", client.scopes);
        violations.finish_with(|| {
            Some(Self {
                mutation: mutation?,
                client: NewClient {
                    name: name?,
                    description: description?,
                    authentication: authentication?,
                    api_scopes: api_scopes?,
                    areas: areas?,
                },
            })
        })
    }
}

/// `GetAgencyClient`.
#[derive(Debug)]
pub struct GetAgencyClient {
    pub client_id: Uuid,
}

impl GetAgencyClient {
    pub fn parse(request: pb::GetAgencyClientRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let client_id = validate::id(&mut violations, "client_id", &request.client_id, CLIENT);
        violations.finish_with(|| {
            Some(Self {
                client_id: client_id?,
            })
        })
    }
}

/// Where a page of clients starts: after this client, by name then id.
pub type ListCursor = (String, Uuid);

/// `ListAgencyClients`.
#[derive(Debug)]
pub struct ListAgencyClients {
    /// Only clients with an area inside this one.
    pub area: Option<AdminScope>,
    pub include_revoked: bool,
    pub page: Page<ListCursor>,
}

impl ListAgencyClients {
    pub fn parse(request: pb::ListAgencyClientsRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let page = validate::page(&mut violations, "page", request.page.as_ref());
        let area = validate::optional_admin_code(&mut violations, "area", request.area.as_ref());
        violations.finish_with(|| {
            Some(Self {
                area: area?,
                include_revoked: request.include_revoked,
                page: page?,
            })
        })
    }
}

/// Changes to a client; `None` leaves a field as it is. At least one is given.
#[derive(Debug, Clone, Default)]
pub struct Changes {
    pub name: Option<String>,
    pub description: Option<String>,
    pub api_scopes: Option<Vec<String>>,
    pub areas: Option<Vec<RoleGrant>>,
    pub certificate_sha256: Option<String>,
}

impl Changes {
    /// The contract's names of the fields changed.
    pub fn paths(&self) -> Vec<String> {
        [
            ("name", self.name.is_some()),
            ("description", self.description.is_some()),
            ("scopes", self.api_scopes.is_some()),
            ("areas", self.areas.is_some()),
            ("certificate_sha256", self.certificate_sha256.is_some()),
        ]
        .into_iter()
        .filter(|(_, changed)| *changed)
        .map(|(path, _)| path.to_owned())
        .collect()
    }
}

/// `UpdateAgencyClient`.
#[derive(Debug)]
pub struct UpdateAgencyClient {
    pub mutation: Mutation,
    pub client_id: Uuid,
    pub changes: Changes,
}

impl UpdateAgencyClient {
    pub fn parse(request: pb::UpdateAgencyClientRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let mutation = Mutation::parse(
            &mut violations,
            "UpdateAgencyClient",
            &request.request_id,
            &request,
        );
        let client = request.client.unwrap_or_default();
        let client_id = validate::id(&mut violations, "client.id", &client.id, CLIENT);
        let paths = request.update_mask.unwrap_or_default().paths;
        if paths.is_empty() {
            violations.add("update_mask", "required: name the fields to change");
        }
        // Every named field is parsed (a `None` inside is a violation already recorded).
        let mut changes = Changes::default();
        let mut complete = true;
        for path in &paths {
            let parsed = match path.as_str() {
                "name" => name(&mut violations, "client.name", &client.name)
                    .map(|name| changes.name = Some(name)),
                "description" => {
                    description(&mut violations, "client.description", &client.description)
                        .map(|description| changes.description = Some(description))
                }
                "scopes" => api_scopes(&mut violations, "client.scopes", client.scopes.clone())
                    .map(|scopes| changes.api_scopes = Some(scopes)),
                "areas" => area_codes(&mut violations, "client.areas", &client.areas)
                    .map(|areas| changes.areas = Some(areas)),
                "certificate_sha256" => fingerprint(
                    &mut violations,
                    "client.certificate_sha256",
                    &client.certificate_sha256,
                )
                .map(|fingerprint| changes.certificate_sha256 = Some(fingerprint)),
                other => {
                    violations.add(
                        "update_mask",
                        format!(
                            "{other:?} cannot be changed; name, description, scopes, areas or \
                             certificate_sha256 can"
                        ),
                    );
                    None
                }
            };
            complete &= parsed.is_some();
        }
        violations.finish_with(|| {
            Some(Self {
                mutation: mutation?,
                client_id: client_id?,
                changes: complete.then_some(changes)?,
            })
        })
    }
}

/// `RotateAgencyClientSecret`.
#[derive(Debug)]
pub struct RotateAgencyClientSecret {
    pub mutation: Mutation,
    pub client_id: Uuid,
    /// How long the secret rotated out keeps working; `None`: the configured overlap.
    pub overlap: Option<Duration>,
}

impl RotateAgencyClientSecret {
    pub fn parse(request: pb::RotateAgencyClientSecretRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let mutation = Mutation::parse(
            &mut violations,
            "RotateAgencyClientSecret",
            &request.request_id,
            &request,
        );
        let client_id = validate::id(&mut violations, "client_id", &request.client_id, CLIENT);
        let overlap = validate::duration(
            &mut violations,
            "overlap",
            request.overlap.as_ref(),
            MAX_OVERLAP,
        );
        violations.finish_with(|| {
            Some(Self {
                mutation: mutation?,
                client_id: client_id?,
                overlap: overlap?,
            })
        })
    }
}

/// `RevokeAgencyClient`.
#[derive(Debug)]
pub struct RevokeAgencyClient {
    pub mutation: Mutation,
    pub client_id: Uuid,
    pub reason: String,
}

impl RevokeAgencyClient {
    pub fn parse(request: pb::RevokeAgencyClientRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let mutation = Mutation::parse(
            &mut violations,
            "RevokeAgencyClient",
            &request.request_id,
            &request,
        );
        let client_id = validate::id(&mut violations, "client_id", &request.client_id, CLIENT);
        let reason = validate::text(
            &mut violations,
            "reason",
            &request.reason,
            Text::required(MAX_REASON_CHARS),
        );
        violations.finish_with(|| {
            Some(Self {
                mutation: mutation?,
                client_id: client_id?,
                reason: reason?,
            })
        })
    }
}

/// `ExchangeClientCredentials`: what a client presents in the request (its certificate, if any,
/// comes from the connection, never from the request).
pub struct ExchangeClientCredentials {
    pub mutation: Mutation,
    pub client_id: Uuid,
    /// Empty for mTLS clients.
    pub secret: SecretString,
    /// Scopes wanted; empty: all the client's.
    pub scopes: Vec<String>,
    /// Areas wanted; empty: all the client's.
    pub areas: Vec<AdminScope>,
}

impl fmt::Debug for ExchangeClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExchangeClientCredentials")
            .field("mutation", &self.mutation)
            .field("client_id", &self.client_id)
            .field("secret", &"[redacted]")
            .field("scopes", &self.scopes)
            .field("areas", &self.areas)
            .finish()
    }
}

impl ExchangeClientCredentials {
    pub fn parse(request: pb::ExchangeClientCredentialsRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let mutation = Mutation::parse(
            &mut violations,
            "ExchangeClientCredentials",
            &request.request_id,
            &request,
        );
        let client_id = validate::id(&mut violations, "client_id", &request.client_id, CLIENT);
        // Empty is an mTLS client's secret: its certificate authenticates it.
        violations.check(
            request.client_secret.len() <= MAX_SECRET_BYTES,
            "client_secret",
            "not a client secret",
        );
        for (i, scope) in request.scopes.iter().enumerate() {
            if let Err(problem) = validate::api_scope(scope) {
                violations.add(format!("scopes[{i}]"), problem);
            }
        }
        let areas: Vec<Option<AdminScope>> = request
            .areas
            .iter()
            .enumerate()
            .map(|(i, code)| {
                validate::admin_code(&mut violations, &format!("areas[{i}]"), Some(code))
            })
            .collect();
        violations.finish_with(|| {
            Some(Self {
                mutation: mutation?,
                client_id: client_id?,
                secret: SecretString::from(request.client_secret),
                scopes: request.scopes,
                areas: areas.into_iter().collect::<Option<_>>()?,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_codes_get_the_official_standing_of_their_level() {
        for (code, role) in [
            ("110101001001", Role::VillageOfficial),
            ("110101001", Role::TownshipOfficial),
            ("110101", Role::CountyAdmin),
            ("1101", Role::PlatformAdmin),
            ("11", Role::PlatformAdmin),
            ("", Role::PlatformAdmin),
        ] {
            let scope = AdminScope::parse(code).unwrap();
            assert_eq!(standing_for(&scope), role, "{code:?}");
            assert!(RoleGrant::new(role, scope).is_ok(), "always a valid grant");
        }
    }

    /// The fields refused, in order (none for a success).
    fn refused<T: fmt::Debug>(result: Result<T>) -> Vec<String> {
        match result {
            Ok(_) => Vec::new(),
            Err(terrace_platform::Error::InvalidArgument(list)) => {
                list.into_iter().map(|violation| violation.field).collect()
            }
            other => panic!("expected field violations, got {other:?}"),
        }
    }

    /// The authentication table: a fingerprint exactly for mTLS clients, well formed.
    #[test]
    fn a_fingerprint_is_given_exactly_for_mtls_clients() {
        let good = "ab".repeat(32);
        #[rustfmt::skip]
        let table: &[(pb::AgencyAuthMethod, &str, Option<Authentication>)] = &[
            (pb::AgencyAuthMethod::Secret, "", Some(Authentication::Secret)),
            (pb::AgencyAuthMethod::Secret, &good, None),
            (pb::AgencyAuthMethod::Mtls, "", None),
            (pb::AgencyAuthMethod::Mtls, &"AB".repeat(32), None),
            (pb::AgencyAuthMethod::Mtls, &"ab".repeat(31), None),
            (pb::AgencyAuthMethod::Mtls, &good, Some(Authentication::Mtls { certificate_sha256: good.clone() })),
        ];
        for (method, fingerprint, expected) in table {
            let mut violations = Violations::new();
            let parsed = authentication(&mut violations, "f", Some(*method), fingerprint);
            assert_eq!(&parsed, expected, "{method:?} {fingerprint:?}");
            assert_eq!(violations.len(), usize::from(expected.is_none()));
        }
    }

    #[test]
    fn areas_are_valid_grants_without_repeats() {
        let grant = |role, code: &str| RoleGrant {
            role,
            scope: AdminScope::parse(code).unwrap(),
        };
        let county = grant(Role::CountyAdmin, "110101");
        #[rustfmt::skip]
        let table: &[(&str, Vec<RoleGrant>, &[&str])] = &[
            ("one area", vec![county.clone()], &[]),
            ("none", vec![], &["areas"]),
            ("a repeat", vec![county.clone(), county.clone()], &["areas[1]"]),
            ("too broad for its role", vec![grant(Role::VillageOfficial, "110101")], &["areas[0]"]),
            ("too many", (1..=33).map(|i| grant(Role::VillageOfficial, &format!("110101001{i:03}"))).collect(), &["areas"]),
        ];
        for (case, given, expected) in table {
            let mut violations = Violations::new();
            let parsed = areas(&mut violations, "areas", given.clone());
            assert_eq!(parsed.is_some(), expected.is_empty(), "{case}");
            assert_eq!(refused(violations.finish()), *expected, "{case}");
        }
    }

    #[test]
    fn the_command_line_gets_the_rules_of_the_rpc() {
        let area = RoleGrant::parse(Role::CountyAdmin, "110101").unwrap();
        assert!(
            NewClient::secret(
                "县农业农村局",
                "",
                vec!["agri.statistics:read".into()],
                vec![area.clone()]
            )
            .is_ok()
        );
        assert_eq!(
            refused(NewClient::secret(
                " ",
                "bell\u{7}",
                vec!["weather:read".into()],
                vec![]
            )),
            ["name", "description", "scopes[0]", "areas"]
        );
    }

    #[test]
    fn an_update_names_what_it_changes() {
        let request = |paths: &[&str]| pb::UpdateAgencyClientRequest {
            request_id: Uuid::now_v7().to_string(),
            client: Some(pb::AgencyClient {
                id: Uuid::now_v7().to_string(),
                name: "新名字".into(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: paths.iter().map(|p| (*p).to_owned()).collect(),
            }),
        };
        let parsed = UpdateAgencyClient::parse(request(&["name", "description"])).unwrap();
        assert_eq!(parsed.changes.paths(), ["name", "description"]);
        assert_eq!(parsed.changes.name.as_deref(), Some("新名字"));
        assert_eq!(parsed.changes.description.as_deref(), Some(""));
        assert_eq!(
            refused(UpdateAgencyClient::parse(request(&[]))),
            ["update_mask"]
        );
        assert_eq!(
            refused(UpdateAgencyClient::parse(request(&["status", "scopes"]))),
            ["update_mask", "client.scopes"]
        );
    }
}
