//! Who is calling, and what they may do where.
//!
//! The identity service signs short-lived access tokens; every service verifies them here, against
//! the keys identity publishes, without calling identity on the request path. A verified token
//! becomes a [`Principal`]: the subject, its role grants (each scoped to an administrative-code
//! prefix), an agency's API scopes, and the consented helper acting for the subject, if any.
//! Handlers authorize with [`Principal::require_role_in`] and [`Principal::require_api_scope`].
//!
//! # Layout
//!
//! - this module: [`Role`], [`AdminScope`], [`RoleGrant`], [`Principal`] and the [`Claims`] format.
//! - `verifier`: [`Verifier`], which checks tokens against a cached JWKS ([`KeySource`]).
//! - `caller`: [`Caller`], who is calling in one vocabulary (users, helpers, agencies, operators,
//!   jobs, devices, anonymous callers), and [`Caller::reach`], the one rule of who governs where.
//! - `layer`: [`AuthLayer`], the tower layer that turns away unauthenticated gRPC calls.
//!
//! # Access token format
//!
//! A compact JWS signed with Ed25519. Identity mints exactly this; anything else is refused.
//!
//! Header (RFC 9068 access-token profile):
//!
//! ```json
//! { "alg": "EdDSA", "typ": "at+jwt", "kid": "2026-11-01-a" }
//! ```
//!
//! `alg` must be `EdDSA` (no `none`, no HMAC, no RSA/ECDSA, whatever the JWKS holds); `kid` is
//! required and names a key in identity's JWKS (`kty: OKP`, `crv: Ed25519`); `typ` must be `at+jwt`
//! so that no other kind of JWT signed with the same key passes as an access token; `crit` is refused.
//!
//! Claims ([`Claims`]):
//!
//! ```json
//! {
//!   "iss": "terrace",                        // AuthSettings::issuer
//!   "aud": "terrace",                        // AuthSettings::audience (one string)
//!   "sub": "0193a5c4-7f1e-7b2a-9c3d-1e2f3a4b5c6d",  // user id, or the agency's client id
//!   "kind": "user",                          // "user" | "agency"
//!   "iat": 1793000000,
//!   "nbf": 1793000000,                       // optional
//!   "exp": 1793000900,                       // access tokens live 15 minutes
//!   "jti": "0193a5c4-8000-7000-8000-000000000001",
//!   "roles": [                               // optional, default []
//!     { "role": "village_official", "scope": "110101001001" },
//!     { "role": "farmer", "scope": "110101001001" }
//!   ],
//!   "scope": "governance.requests:read governance.requests:write",  // optional, agencies (RFC 8693)
//!   "act": { "sub": "0193a5c4-…" }           // optional: the consented helper acting for `sub`
//! }
//! ```
//!
//! - Roles are the snake_case names of [`Role`]; each `scope` is an [`AdminScope`]: a prefix of a
//!   12-digit division code cut at a level boundary (2 province, 4 city, 6 county, 9 township,
//!   12 village), `""` meaning the whole country (platform admins only). Each grant must also be
//!   narrow enough for its role ([`Role::broadest_scope_len`]): a village official's scope is a
//!   village. A token carrying an invalid grant is refused as a whole.
//! - For a consented helper, `sub` is the villager and `act.sub` the helper: the token carries the
//!   villager's grants, and an audit record stores both ([`Principal::actor`]).
//! - For an agency, `kind` is `agency`, `sub` its client id, `scope` the RPC families it may call
//!   and `roles` the areas (and standing) it acts in. A handler an agency can reach checks both:
//!   [`Principal::require_api_scope`] for what, [`Principal::require_role_in`] for where.
//!
//! # Cost
//!
//! Ed25519 verification dominates a cold verification. The keys are held decoded by `kid`, so a
//! verification makes no network call; and a token seen before is answered from a small cache of
//! verified tokens (keyed by the whole token, expiry re-checked on every hit, emptied when a key is
//! withdrawn), because a client sends the same token for its whole fifteen-minute life.

mod caller;
mod layer;
mod verifier;

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

pub use caller::{Caller, UNLIMITED_RANK};
pub use jsonwebtoken::jwk::JwkSet;
pub use layer::{AuthLayer, AuthService};
pub use verifier::{KeySource, SharedJwks, Verifier};

/// The `alg` every access token is signed with.
pub const ALGORITHM: &str = "EdDSA";
/// The `typ` header of an access token (RFC 9068).
pub const TOKEN_TYPE: &str = "at+jwt";

/// A role a user holds in an administrative area.
///
/// Roles are not totally ordered: residents, farmers and buyers are peers of rank 0; the officials
/// rank above them, each level above the one below ([`Role::rank`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Resident,
    Farmer,
    Buyer,
    /// A villager's "digital helper": a volunteer (often a young relative or a shopkeeper) who may
    /// act for villagers who consent to it. The role itself grants nothing; only a consent does.
    DigitalHelper,
    VillageOfficial,
    TownshipOfficial,
    CountyAdmin,
    PlatformAdmin,
}

impl Role {
    /// The role as the identity contract names it.
    pub fn to_proto(self) -> terrace_proto::identity::v1::Role {
        use terrace_proto::identity::v1::Role as Proto;
        match self {
            Role::Resident => Proto::Resident,
            Role::Farmer => Proto::Farmer,
            Role::Buyer => Proto::Buyer,
            Role::DigitalHelper => Proto::DigitalHelper,
            Role::VillageOfficial => Proto::VillageOfficial,
            Role::TownshipOfficial => Proto::TownshipOfficial,
            Role::CountyAdmin => Proto::CountyAdmin,
            Role::PlatformAdmin => Proto::PlatformAdmin,
        }
    }

    /// A role of the identity contract; `None` for `ROLE_UNSPECIFIED`.
    pub fn from_proto(role: terrace_proto::identity::v1::Role) -> Option<Self> {
        Role::ALL.into_iter().find(|known| known.to_proto() == role)
    }

    /// Every role, lowest rank first.
    pub const ALL: [Role; 8] = [
        Role::Resident,
        Role::Farmer,
        Role::Buyer,
        Role::DigitalHelper,
        Role::VillageOfficial,
        Role::TownshipOfficial,
        Role::CountyAdmin,
        Role::PlatformAdmin,
    ];

    /// The officials, lowest rank first: the roles that may grant roles.
    pub const OFFICIALS: [Role; 4] = [
        Role::VillageOfficial,
        Role::TownshipOfficial,
        Role::CountyAdmin,
        Role::PlatformAdmin,
    ];

    /// Standing for "covers" rules: 0 for residents, farmers and buyers, then 1 (village official)
    /// up to 4 (platform admin). A grant can be given only by a role of at least its rank.
    pub fn rank(self) -> u8 {
        match self {
            Role::Resident | Role::Farmer | Role::Buyer | Role::DigitalHelper => 0,
            Role::VillageOfficial => 1,
            Role::TownshipOfficial => 2,
            Role::CountyAdmin => 3,
            Role::PlatformAdmin => 4,
        }
    }

    /// Whether this role administers an area (and so may grant roles in it).
    pub fn is_official(self) -> bool {
        self.rank() > 0
    }

    /// Whether a villager may consent to this role's holder acting for them: officials and
    /// digital helpers.
    pub fn may_help(self) -> bool {
        self.is_official() || self == Role::DigitalHelper
    }

    /// The fewest digits a scope of this role may have: an official governs its own level and
    /// below, never above (a village official's scope is one village, a county admin's one county
    /// or narrower); a platform admin may hold the whole country (`""`), and so may a buyer, whose
    /// standing is country-wide (a family in a city buys from any village); the others need at
    /// least a province.
    pub fn broadest_scope_len(self) -> usize {
        match self {
            Role::Buyer => 0,
            Role::Resident | Role::Farmer => 2,
            // A helper serves the villagers of a township or a village, where people know them.
            Role::DigitalHelper => 9,
            Role::VillageOfficial => 12,
            Role::TownshipOfficial => 9,
            Role::CountyAdmin => 6,
            Role::PlatformAdmin => 0,
        }
    }

    /// The snake_case name used in tokens, events and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Resident => "resident",
            Role::Farmer => "farmer",
            Role::Buyer => "buyer",
            Role::DigitalHelper => "digital_helper",
            Role::VillageOfficial => "village_official",
            Role::TownshipOfficial => "township_official",
            Role::CountyAdmin => "county_admin",
            Role::PlatformAdmin => "platform_admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = GrantError;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == s)
            .ok_or_else(|| GrantError::UnknownRole(s.to_owned()))
    }
}

/// Why a scope or a grant is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrantError {
    #[error("administrative code must contain digits only")]
    NotDigits,
    #[error("administrative code must have 0, 2, 4, 6, 9 or 12 digits, not {0}")]
    Misaligned(usize),
    #[error("unknown role {0:?}")]
    UnknownRole(String),
    #[error("a {role} cannot be granted an area as broad as {scope:?}")]
    ScopeTooBroad { role: Role, scope: String },
}

/// Lengths at which a division code may be cut: country, province, city, county, township, village.
const LEVEL_BOUNDARIES: [usize; 6] = [0, 2, 4, 6, 9, 12];

/// The administrative level a scope or code names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AdminLevel {
    Country,
    Province,
    City,
    County,
    Township,
    Village,
}

/// An administrative area as a prefix of the 12-digit division code (GB/T 2260 plus the statistics
/// bureau's township and village digits): `"11"` Beijing, `"110101"` Dongcheng district,
/// `"110101001001"` one village, `""` the whole country.
///
/// Always valid: digits only, cut at a level boundary. Trailing all-zero levels are dropped on
/// parse, because a zero level means "the level above" in these codes (`"110101000000"` is the
/// county `"110101"`); so a prefix check cannot be fooled by padding.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AdminScope(String);

impl AdminScope {
    /// Parses and normalizes a scope or a code.
    pub fn parse(code: &str) -> std::result::Result<Self, GrantError> {
        Ok(Self(normalize(code)?.to_owned()))
    }

    /// The whole country: only a platform admin holds it.
    pub fn country() -> Self {
        Self(String::new())
    }

    /// The normalized prefix.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn level(&self) -> AdminLevel {
        match self.0.len() {
            0 => AdminLevel::Country,
            2 => AdminLevel::Province,
            4 => AdminLevel::City,
            6 => AdminLevel::County,
            9 => AdminLevel::Township,
            _ => AdminLevel::Village,
        }
    }

    /// Whether the area named by `code` lies inside this scope. A code that is not a valid division
    /// code (or prefix of one) is covered by nothing: authorization fails closed.
    pub fn covers(&self, code: &str) -> bool {
        normalize(code).is_ok_and(|code| code.starts_with(self.0.as_str()))
    }

    /// Whether every area of `other` lies inside this scope.
    pub fn covers_scope(&self, other: &AdminScope) -> bool {
        other.0.starts_with(self.0.as_str())
    }

    /// Every scope that covers this one, the whole country first and this scope last: the areas
    /// whose grants reach it. A store asks "which grants cover X" as `scope IN (..)` over these,
    /// which an index on the scope answers.
    pub fn covering(&self) -> Vec<AdminScope> {
        LEVEL_BOUNDARIES
            .into_iter()
            .filter(|len| *len <= self.0.len())
            .map(|len| Self(self.0[..len].to_owned()))
            .collect()
    }
}

/// Validates `code` and strips its trailing all-zero levels.
fn normalize(code: &str) -> std::result::Result<&str, GrantError> {
    if !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(GrantError::NotDigits);
    }
    if !LEVEL_BOUNDARIES.contains(&code.len()) {
        return Err(GrantError::Misaligned(code.len()));
    }
    let mut end = code.len();
    for window in LEVEL_BOUNDARIES.windows(2).rev() {
        let (start, stop) = (window[0], window[1]);
        if stop == end && code[start..stop].bytes().all(|b| b == b'0') {
            end = start;
        }
    }
    Ok(&code[..end])
}

impl FromStr for AdminScope {
    type Err = GrantError;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for AdminScope {
    type Error = GrantError;

    fn try_from(value: String) -> std::result::Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<AdminScope> for String {
    fn from(scope: AdminScope) -> Self {
        scope.0
    }
}

impl fmt::Display for AdminScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("the whole country")
        } else {
            f.write_str(&self.0)
        }
    }
}

/// One role in one area, as carried in a token's `roles` claim.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RoleGrant {
    pub role: Role,
    pub scope: AdminScope,
}

impl RoleGrant {
    /// A grant whose scope is narrow enough for its role ([`Role::broadest_scope_len`]).
    pub fn new(role: Role, scope: AdminScope) -> std::result::Result<Self, GrantError> {
        let grant = Self { role, scope };
        grant.validate()?;
        Ok(grant)
    }

    /// Parses the scope and checks the grant, as identity does before storing one.
    pub fn parse(role: Role, scope: &str) -> std::result::Result<Self, GrantError> {
        Self::new(role, AdminScope::parse(scope)?)
    }

    /// Checks that the scope is narrow enough for the role (the fields are public, so a grant
    /// built by hand may not be).
    pub fn validate(&self) -> std::result::Result<(), GrantError> {
        if self.scope.as_str().len() < self.role.broadest_scope_len() {
            return Err(GrantError::ScopeTooBroad {
                role: self.role,
                scope: self.scope.as_str().to_owned(),
            });
        }
        Ok(())
    }
}

/// Whether a principal is a person or another agency's client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKind {
    User,
    Agency,
}

/// The caller of one request, as its verified token says. [`AuthLayer`] puts it in the request's
/// extensions; handlers get it with [`Principal::from_request`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The user id, or the agency's client id. For a helper's token, the villager helped.
    pub subject: String,
    pub kind: PrincipalKind,
    pub grants: Vec<RoleGrant>,
    /// An agency's API scopes (`governance.requests:read`); empty for users.
    pub api_scopes: Vec<String>,
    /// The consented helper acting for `subject` (RFC 8693 `act.sub`). Audit records store both.
    pub actor: Option<String>,
    /// The token's `jti`.
    pub token_id: String,
    pub expires_at: DateTime<Utc>,
}

impl Principal {
    /// The principal [`AuthLayer`] attached to this request. Fails with `UNAUTHENTICATED` when
    /// there is none (a public method called without a valid token, or a service built without the
    /// layer).
    pub fn from_request<T>(request: &tonic::Request<T>) -> Result<&Principal> {
        request
            .extensions()
            .get::<Principal>()
            .ok_or_else(|| Error::Unauthenticated("missing token".to_owned()))
    }

    pub fn is_agency(&self) -> bool {
        self.kind == PrincipalKind::Agency
    }

    /// Whether the principal holds exactly `role` in an area that covers `code`.
    pub fn has_role_in(&self, role: Role, code: &str) -> bool {
        self.grants
            .iter()
            .any(|grant| grant.role == role && grant.scope.covers(code))
    }

    /// Whether any grant, of any role, covers `code`.
    pub fn is_in_area(&self, code: &str) -> bool {
        self.grants.iter().any(|grant| grant.scope.covers(code))
    }

    /// Succeeds when the principal holds one of `roles` in an area covering `code`; otherwise
    /// `PERMISSION_DENIED` with reason `OUT_OF_SCOPE` (it holds such a role, elsewhere) or
    /// `MISSING_ROLE` (it holds none of them).
    pub fn require_role_in(&self, roles: &[Role], code: &str) -> Result<()> {
        let mut held_elsewhere = false;
        for grant in self
            .grants
            .iter()
            .filter(|grant| roles.contains(&grant.role))
        {
            if grant.scope.covers(code) {
                return Ok(());
            }
            held_elsewhere = true;
        }
        let wanted = roles
            .iter()
            .map(|role| role.as_str())
            .collect::<Vec<_>>()
            .join(" or ");
        if held_elsewhere {
            Err(Error::permission_denied(
                "OUT_OF_SCOPE",
                format!("{wanted} is not granted for area {code:?}"),
            ))
        } else {
            Err(Error::permission_denied(
                "MISSING_ROLE",
                format!("requires role {wanted}"),
            ))
        }
    }

    /// Succeeds when the token carries the API scope `scope`; otherwise `PERMISSION_DENIED` with
    /// reason `MISSING_API_SCOPE`. Users carry no API scopes, so a handler reachable by both checks
    /// this for agencies and roles for users.
    pub fn require_api_scope(&self, scope: &str) -> Result<()> {
        if self.api_scopes.iter().any(|held| held == scope) {
            Ok(())
        } else {
            Err(Error::permission_denied(
                "MISSING_API_SCOPE",
                format!("requires api scope {scope}"),
            ))
        }
    }
}

/// The claims of an access token; see the module documentation for the format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// The user id or the agency's client id.
    pub sub: String,
    pub kind: PrincipalKind,
    /// Expiry, seconds since the Unix epoch.
    pub exp: i64,
    /// Issue time, seconds since the Unix epoch.
    pub iat: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    pub jti: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<RoleGrant>,
    /// Space-separated API scopes (RFC 8693 `scope`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Actor>,
}

/// The party acting for the subject (RFC 8693 `act`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub sub: String,
}

impl Claims {
    /// The principal these (already verified) claims describe, or why they cannot describe one.
    pub fn into_principal(self) -> std::result::Result<Principal, &'static str> {
        if self.sub.is_empty() {
            return Err("empty sub");
        }
        if self.jti.is_empty() {
            return Err("empty jti");
        }
        if self
            .act
            .as_ref()
            .is_some_and(|act| act.sub.is_empty() || act.sub == self.sub)
        {
            return Err("invalid act");
        }
        if self.roles.iter().any(|grant| grant.validate().is_err()) {
            return Err("invalid role grant");
        }
        let expires_at = DateTime::from_timestamp(self.exp, 0).ok_or("invalid exp")?;
        Ok(Principal {
            subject: self.sub,
            kind: self.kind,
            grants: self.roles,
            api_scopes: self
                .scope
                .split_ascii_whitespace()
                .map(str::to_owned)
                .collect(),
            actor: self.act.map(|act| act.sub),
            token_id: self.jti,
            expires_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(code: &str) -> AdminScope {
        AdminScope::parse(code).unwrap()
    }

    fn user(grants: &[(Role, &str)]) -> Principal {
        Principal {
            subject: "u1".into(),
            kind: PrincipalKind::User,
            grants: grants
                .iter()
                .map(|(role, code)| RoleGrant::parse(*role, code).unwrap())
                .collect(),
            api_scopes: Vec::new(),
            actor: None,
            token_id: "t1".into(),
            expires_at: crate::Clock::system_now(),
        }
    }

    #[test]
    fn every_role_survives_the_contract() {
        for role in Role::ALL {
            assert_eq!(Role::from_proto(role.to_proto()), Some(role));
        }
        assert_eq!(
            Role::from_proto(terrace_proto::identity::v1::Role::Unspecified),
            None
        );
    }

    #[test]
    fn scopes_must_align_to_levels() {
        for ok in ["", "11", "1101", "110101", "110101001", "110101001001"] {
            assert_eq!(scope(ok).as_str(), ok);
        }
        for (bad, err) in [
            ("1", GrantError::Misaligned(1)),
            ("11010", GrantError::Misaligned(5)),
            ("1101010", GrantError::Misaligned(7)),
            ("11010100100", GrantError::Misaligned(11)),
            ("1101010010011", GrantError::Misaligned(13)),
            ("11a1", GrantError::NotDigits),
            ("１１", GrantError::NotDigits),
            (" 11", GrantError::NotDigits),
            ("-1", GrantError::NotDigits),
        ] {
            assert_eq!(AdminScope::parse(bad), Err(err), "{bad:?}");
        }
    }

    #[test]
    fn covering_scopes_run_from_the_country_down() {
        let village = scope("110101001001");
        let covering = village.covering();
        let codes: Vec<&str> = covering.iter().map(AdminScope::as_str).collect();
        assert_eq!(
            codes,
            ["", "11", "1101", "110101", "110101001", "110101001001"]
        );
        assert!(covering.iter().all(|outer| outer.covers_scope(&village)));
        assert_eq!(AdminScope::country().covering(), [AdminScope::country()]);
    }

    #[test]
    fn zero_padding_names_the_level_above() {
        assert_eq!(scope("110101000000").as_str(), "110101");
        assert_eq!(scope("110000000000").as_str(), "11");
        assert_eq!(scope("000000000000").as_str(), "");
        // A zero level in the middle is kept (a city without counties).
        assert_eq!(scope("441900003000").as_str(), "441900003");
        assert_eq!(scope("441900003").level(), AdminLevel::Township);
    }

    #[test]
    fn covers_is_a_prefix_match_that_cannot_be_fooled() {
        let city = scope("1101");
        assert!(city.covers("110101001001"));
        assert!(city.covers("110101"));
        assert!(city.covers("1101"));
        assert!(city.covers("110100000000"));
        assert!(!city.covers("11"), "a city does not cover its province");
        assert!(!city.covers("110201001001"));
        assert!(!city.covers("1101010"), "misaligned code");
        assert!(!city.covers("1101xx"), "not digits");
        assert!(!city.covers("110101001001 "), "trailing space");
        assert!(!city.covers(""));

        let village = scope("110101001001");
        assert!(village.covers("110101001001"));
        assert!(!village.covers("110101001002"));
        assert!(
            !village.covers("110101001"),
            "a village does not cover its township"
        );
        assert!(!village.covers("110101001000"), "padded township code");

        let country = AdminScope::country();
        assert!(country.covers("440300"));
        assert!(country.covers(""));
        assert!(!country.covers("4403x"));
    }

    #[test]
    fn roles_serialize_snake_case() {
        let grant = RoleGrant::parse(Role::VillageOfficial, "110101001001").unwrap();
        let json = serde_json::to_string(&grant).unwrap();
        assert_eq!(
            json,
            r#"{"role":"village_official","scope":"110101001001"}"#
        );
        assert_eq!(serde_json::from_str::<RoleGrant>(&json).unwrap(), grant);
        assert!(serde_json::from_str::<RoleGrant>(r#"{"role":"farmer","scope":"11010"}"#).is_err());
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
            assert_eq!(serde_json::to_string(&role).unwrap(), format!("\"{role}\""));
        }
    }

    #[test]
    fn grants_must_be_narrow_enough_for_their_role() {
        assert!(RoleGrant::parse(Role::VillageOfficial, "110101001").is_err());
        assert!(RoleGrant::parse(Role::TownshipOfficial, "110101").is_err());
        assert!(RoleGrant::parse(Role::CountyAdmin, "1101").is_err());
        assert!(RoleGrant::parse(Role::Farmer, "").is_err());
        assert!(RoleGrant::parse(Role::CountyAdmin, "").is_err());
        assert!(RoleGrant::parse(Role::PlatformAdmin, "").is_ok());
        assert!(
            RoleGrant::parse(Role::CountyAdmin, "110101001").is_ok(),
            "narrower is fine"
        );
        // Padding cannot smuggle a broad scope past the check.
        assert!(RoleGrant::parse(Role::VillageOfficial, "110101001000").is_err());
    }

    #[test]
    fn require_role_in_says_why() {
        let official = user(&[
            (Role::VillageOfficial, "110101001001"),
            (Role::Farmer, "110101001001"),
        ]);
        let officials = [Role::VillageOfficial, Role::TownshipOfficial];
        assert!(official.require_role_in(&officials, "110101001001").is_ok());
        assert!(official.has_role_in(Role::Farmer, "110101001001"));
        assert!(!official.has_role_in(Role::TownshipOfficial, "110101001001"));
        assert!(official.is_in_area("110101001001"));

        let Err(Error::PermissionDenied { reason, message }) =
            official.require_role_in(&officials, "110101001002")
        else {
            panic!("expected permission denied")
        };
        assert_eq!(reason, "OUT_OF_SCOPE");
        assert!(message.contains("110101001002"), "{message}");

        let Err(Error::PermissionDenied { reason, message }) =
            official.require_role_in(&[Role::CountyAdmin], "110101001001")
        else {
            panic!("expected permission denied")
        };
        assert_eq!(reason, "MISSING_ROLE");
        assert_eq!(message, "requires role county_admin");
    }

    #[test]
    fn api_scopes_are_exact() {
        let mut agency = user(&[]);
        agency.kind = PrincipalKind::Agency;
        agency.api_scopes = vec!["governance.requests:read".into()];
        assert!(agency.require_api_scope("governance.requests:read").is_ok());
        let Err(Error::PermissionDenied { reason, .. }) =
            agency.require_api_scope("governance.requests:write")
        else {
            panic!("expected permission denied")
        };
        assert_eq!(reason, "MISSING_API_SCOPE");
        assert!(agency.require_api_scope("governance.requests").is_err());
    }

    #[test]
    fn claims_become_a_principal() {
        let json = serde_json::json!({
            "iss": "terrace", "aud": "terrace", "sub": "villager", "kind": "user",
            "exp": 1_900_000_000, "iat": 1_899_999_100, "jti": "t1",
            "roles": [{"role": "resident", "scope": "110101001001"}],
            "scope": "a:read  b:write",
            "act": {"sub": "helper"}
        });
        let claims: Claims = serde_json::from_value(json).unwrap();
        let principal = claims.clone().into_principal().unwrap();
        assert_eq!(principal.subject, "villager");
        assert_eq!(principal.actor.as_deref(), Some("helper"));
        assert_eq!(principal.api_scopes, ["a:read", "b:write"]);
        assert_eq!(principal.expires_at.timestamp(), 1_900_000_000);
        assert!(principal.has_role_in(Role::Resident, "110101001001"));

        let mut same_actor = claims.clone();
        same_actor.act = Some(Actor {
            sub: "villager".into(),
        });
        assert!(same_actor.into_principal().is_err());
        let mut broad = claims;
        broad.roles = vec![RoleGrant {
            role: Role::VillageOfficial,
            scope: scope("1101"),
        }];
        assert!(broad.into_principal().is_err());
    }
}
