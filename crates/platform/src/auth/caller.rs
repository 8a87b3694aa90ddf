//! Who is calling, in one vocabulary for every service: [`Caller`].
//!
//! A handler turns its request into a `Caller` first ([`Caller::of`] or [`Caller::required`])
//! and hands it to the domain with the parsed command; the domain asks the caller, never the
//! token, what it may do. The one question of place every rule asks — *does this caller govern
//! these areas, and with what rank* — is [`Caller::reach`]; [`Caller::covers`] and
//! [`Caller::can_grant`] are its special cases.
//!
//! Who governs: a user acting for themself, through their official roles; an agency through the
//! areas of its client, but only for the RPC families its API scopes name; an operator at the
//! command line and a system job everywhere. A helper acting for a villager governs nothing
//! (they act with the villager's standing, and a villager is not an official); anonymous callers
//! and devices govern nothing.

use std::fmt;

use terrace_proto::common::v1 as common;
use uuid::Uuid;

use super::{AdminScope, Principal, PrincipalKind, Role, RoleGrant};
use crate::{Error, Result};

/// The rank with which an operator or a system job governs: above every role.
pub const UNLIMITED_RANK: u8 = u8::MAX;

/// The caller of one request or the actor of one job.
#[derive(Clone, PartialEq, Eq)]
pub enum Caller {
    /// A person at the command line with the database's authority (`terrace user grant`). The
    /// reason they gave is recorded with what they do.
    Operator { reason: String },
    /// The platform itself: a scheduled job or an event consumer, named like
    /// `identity.grant-expiry`.
    System { job: &'static str },
    /// A user acting for themself.
    User(Principal),
    /// A consented helper acting for a villager: `principal.subject` is the villager,
    /// `principal.actor` the helper.
    Helper(Principal),
    /// An agency's client, with its API scopes and areas.
    Agency(Principal),
    /// A device (a sensor, a gateway) authenticated by its own credentials.
    Device { device_id: String },
    /// A caller of a public RPC without a token (logging in, asking for a code), known only by
    /// its network address.
    Anonymous { address: String },
}

impl fmt::Debug for Caller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Caller::Operator { reason } => write!(f, "Operator({reason:?})"),
            Caller::System { job } => write!(f, "System({job})"),
            Caller::User(p) => write!(f, "User({})", p.subject),
            Caller::Helper(p) => write!(
                f,
                "Helper({} for {})",
                p.actor.as_deref().unwrap_or(""),
                p.subject
            ),
            Caller::Agency(p) => write!(f, "Agency({})", p.subject),
            Caller::Device { device_id } => write!(f, "Device({device_id})"),
            Caller::Anonymous { address } => write!(f, "Anonymous({address})"),
        }
    }
}

impl From<Principal> for Caller {
    fn from(principal: Principal) -> Self {
        match (principal.kind, principal.actor.is_some()) {
            (PrincipalKind::Agency, _) => Caller::Agency(principal),
            (PrincipalKind::User, true) => Caller::Helper(principal),
            (PrincipalKind::User, false) => Caller::User(principal),
        }
    }
}

impl Caller {
    /// The caller of `request`: the principal of its verified token, or an anonymous caller at
    /// its address (a public RPC called without a token).
    pub fn of<T>(request: &tonic::Request<T>) -> Self {
        match request.extensions().get::<Principal>() {
            Some(principal) => principal.clone().into(),
            None => Caller::Anonymous {
                address: request
                    .remote_addr()
                    .map(|addr| addr.ip().to_string())
                    .unwrap_or_else(|| "unknown".to_owned()),
            },
        }
    }

    /// As [`Caller::of`], for RPCs that need a token: an anonymous caller is `UNAUTHENTICATED`.
    pub fn required<T>(request: &tonic::Request<T>) -> Result<Self> {
        match Self::of(request) {
            Caller::Anonymous { .. } => Err(Error::Unauthenticated("missing token".to_owned())),
            caller => Ok(caller),
        }
    }

    /// The operator at the command line, with the reason they gave.
    pub fn operator(reason: impl Into<String>) -> Self {
        Caller::Operator {
            reason: reason.into(),
        }
    }

    /// This user acting as a consented helper for `villager` (the consent checked by the caller):
    /// the villager as subject, the user as actor. Anyone else stays who they are.
    pub fn acting_for(&self, villager: Uuid) -> Caller {
        match self {
            Caller::User(own) => Caller::Helper(Principal {
                subject: villager.to_string(),
                actor: Some(own.subject.clone()),
                ..own.clone()
            }),
            other => other.clone(),
        }
    }

    /// The verified token behind this caller, for users, helpers and agencies.
    pub fn principal(&self) -> Option<&Principal> {
        match self {
            Caller::User(p) | Caller::Helper(p) | Caller::Agency(p) => Some(p),
            _ => None,
        }
    }

    /// The user whose account this request is about: the user, or the villager a helper acts for.
    pub fn subject_user(&self) -> Option<Uuid> {
        match self {
            Caller::User(p) | Caller::Helper(p) => Uuid::parse_str(&p.subject).ok(),
            _ => None,
        }
    }

    /// The person who pressed the button: the user, or the helper acting for a villager.
    pub fn acting_user(&self) -> Option<Uuid> {
        match self {
            Caller::User(p) => Uuid::parse_str(&p.subject).ok(),
            Caller::Helper(p) => p.actor.as_deref().and_then(|a| Uuid::parse_str(a).ok()),
            _ => None,
        }
    }

    /// Whether this is `user` acting for themself (a helper's token names the villager as its
    /// subject, but the helper is not the villager).
    pub fn is_user(&self, user: Uuid) -> bool {
        matches!(self, Caller::User(p) if p.subject == user.to_string())
    }

    /// Whose request ids these are: a request id is unique per caller, so two callers never
    /// collide and one caller's retry finds its own first answer. A helper's key is the helper
    /// acting for that villager; an anonymous caller has none of its own (its key is the request
    /// id with the request's fingerprint, see `idempotency`).
    pub fn idempotency_key(&self) -> String {
        match self {
            Caller::Operator { .. } => "operator".to_owned(),
            Caller::System { job } => format!("system:{job}"),
            Caller::User(p) => format!("user:{}", p.subject),
            Caller::Helper(p) => format!(
                "helper:{}:for:{}",
                p.actor.as_deref().unwrap_or_default(),
                p.subject
            ),
            Caller::Agency(p) => format!("agency:{}", p.subject),
            Caller::Device { device_id } => format!("device:{device_id}"),
            Caller::Anonymous { .. } => "anonymous".to_owned(),
        }
    }

    /// The actor recorded in events, histories and audit records.
    pub fn actor(&self) -> common::Actor {
        match self {
            Caller::Operator { .. } => common::Actor {
                kind: common::ActorKind::System as i32,
                system_component: "terrace command line".to_owned(),
                ..Default::default()
            },
            Caller::System { job } => common::Actor {
                kind: common::ActorKind::System as i32,
                system_component: (*job).to_owned(),
                ..Default::default()
            },
            Caller::User(p) => common::Actor {
                kind: common::ActorKind::User as i32,
                user_id: p.subject.clone(),
                ..Default::default()
            },
            Caller::Helper(p) => common::Actor {
                kind: common::ActorKind::User as i32,
                user_id: p.actor.clone().unwrap_or_default(),
                on_behalf_of_user_id: p.subject.clone(),
                ..Default::default()
            },
            Caller::Agency(p) => common::Actor {
                kind: common::ActorKind::Agency as i32,
                agency_client_id: p.subject.clone(),
                ..Default::default()
            },
            Caller::Device { device_id } => common::Actor {
                kind: common::ActorKind::System as i32,
                system_component: format!("device {device_id}"),
                ..Default::default()
            },
            Caller::Anonymous { .. } => common::Actor {
                kind: common::ActorKind::Unspecified as i32,
                ..Default::default()
            },
        }
    }

    /// The official standing this caller governs with: `(rank, area)` pairs. `api_scope` is the
    /// API scope an agency needs for this kind of request; without it an agency governs nothing.
    fn standing(&self, api_scope: Option<&str>) -> Vec<(u8, &AdminScope)> {
        static COUNTRY: std::sync::LazyLock<AdminScope> =
            std::sync::LazyLock::new(AdminScope::country);
        fn officials(p: &Principal) -> Vec<(u8, &AdminScope)> {
            p.grants
                .iter()
                .filter(|g| g.role.is_official())
                .map(|g| (g.role.rank(), &g.scope))
                .collect()
        }
        match self {
            Caller::Operator { .. } | Caller::System { .. } => vec![(UNLIMITED_RANK, &*COUNTRY)],
            Caller::User(p) => officials(p),
            Caller::Agency(p)
                if api_scope.is_some_and(|s| p.api_scopes.iter().any(|held| held == s)) =>
            {
                officials(p)
            }
            _ => Vec::new(),
        }
    }

    /// The rank with which this caller governs every one of `areas`, or `None` when it does not
    /// govern them all. Each area is covered by the caller's highest official role there; the
    /// answer is the lowest of those, so a county admin who is only a village official in one of
    /// the areas reaches them all as a village official.
    ///
    /// `areas` are where someone or something lives (a user's live grants, a client's areas).
    /// Nobody governs a place by governing a part of it, and someone who lives nowhere (no
    /// areas) is governed only from the whole country.
    pub fn reach(&self, areas: &[&AdminScope], api_scope: Option<&str>) -> Option<u8> {
        let standing = self.standing(api_scope);
        let best_over = |area: &AdminScope| {
            standing
                .iter()
                .filter(|(_, own)| own.covers_scope(area))
                .map(|(rank, _)| *rank)
                .max()
        };
        if areas.is_empty() {
            return best_over(&AdminScope::country());
        }
        areas.iter().map(|area| best_over(area)).min().flatten()
    }

    /// The areas this caller governs with at least `min_rank` (the whole country, `""`, for the
    /// operator and platform admins): what a list limited to one's scope filters by.
    pub fn governed_areas(&self, min_rank: u8, api_scope: Option<&str>) -> Vec<AdminScope> {
        self.standing(api_scope)
            .into_iter()
            .filter(|(rank, _)| *rank >= min_rank)
            .map(|(_, area)| area.clone())
            .collect()
    }

    /// Whether this caller governs `area` with at least `min_rank`.
    pub fn covers(&self, area: &AdminScope, min_rank: u8, api_scope: Option<&str>) -> bool {
        self.reach(&[area], api_scope)
            .is_some_and(|rank| rank >= min_rank)
    }

    /// Whether this caller may give or take `grant`: a user acting for themself (or the
    /// operator) governing the grant's area with at least the grant's rank, and the grant well
    /// formed. So a village official makes farmers and officials of its own village, never a
    /// county admin nor anything in another village. System jobs grant anything well formed.
    /// Helpers grant nothing; agencies only where
    /// a request allows it under `api_scope` (registering users under `identity.users:write`),
    /// with their areas' standing.
    pub fn can_grant(&self, grant: &RoleGrant, api_scope: Option<&str>) -> bool {
        let may = match self {
            // A system job grants what the platform's own rules give (a buyer's standing to a
            // person who chose it when signing up).
            Caller::User(_) | Caller::Operator { .. } | Caller::System { .. } => true,
            Caller::Agency(_) => api_scope.is_some(),
            _ => false,
        };
        may && grant.validate().is_ok() && self.covers(&grant.scope, grant.role.rank(), api_scope)
    }

    /// `PERMISSION_DENIED` unless this is a user acting for themself.
    pub fn require_self(&self) -> Result<Uuid> {
        match self {
            Caller::User(p) => Uuid::parse_str(&p.subject)
                .map_err(|_| Error::Unauthenticated("the token names no user".to_owned())),
            Caller::Helper(_) => Err(Error::permission_denied(
                "DELEGATED_TOKEN",
                "a helper cannot do this for a villager; the villager must do it themself",
            )),
            _ => Err(Error::permission_denied(
                "NOT_A_USER",
                "only a signed-in user can do this",
            )),
        }
    }

    /// Whether the caller holds `role` anywhere (its own roles, or a villager's for a helper).
    pub fn holds(&self, role: Role) -> bool {
        self.principal()
            .is_some_and(|p| p.grants.iter().any(|g| g.role == role))
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    fn scope(code: &str) -> AdminScope {
        AdminScope::parse(code).unwrap()
    }

    fn principal(kind: PrincipalKind, grants: &[(Role, &str)]) -> Principal {
        Principal {
            subject: Uuid::nil().to_string(),
            kind,
            grants: grants
                .iter()
                .map(|(role, code)| RoleGrant::parse(*role, code).unwrap())
                .collect(),
            api_scopes: vec!["identity.users:read".to_owned()],
            actor: None,
            token_id: "t".to_owned(),
            expires_at: crate::Clock::system_now(),
        }
    }

    fn user(grants: &[(Role, &str)]) -> Caller {
        Caller::User(principal(PrincipalKind::User, grants))
    }

    const V1: &str = "110101001001";
    const V2: &str = "110101001002";
    const T1: &str = "110101001";
    const C1: &str = "110101";
    const C2: &str = "110102";

    /// (case, caller, areas, api scope, expected reach)
    type Case<'a> = (
        &'a str,
        &'a Caller,
        &'a [&'a str],
        Option<&'a str>,
        Option<u8>,
    );

    /// One table for the question every rule asks: who governs which places, with what rank.
    #[test]
    fn reach_table() {
        let village = user(&[(Role::VillageOfficial, V1), (Role::Farmer, V1)]);
        let township = user(&[(Role::TownshipOfficial, T1)]);
        let county = user(&[
            (Role::CountyAdmin, C1),
            (Role::VillageOfficial, "110102001001"),
        ]);
        let platform = user(&[(Role::PlatformAdmin, "")]);
        let province = user(&[(Role::PlatformAdmin, "11")]);
        let farmer = user(&[(Role::Farmer, V1)]);
        let mut helper_principal = principal(PrincipalKind::User, &[(Role::VillageOfficial, V1)]);
        helper_principal.actor = Some(Uuid::now_v7().to_string());
        let helper = Caller::Helper(helper_principal);
        let agency = Caller::Agency(principal(PrincipalKind::Agency, &[(Role::CountyAdmin, C1)]));
        let operator = Caller::operator("first admin");
        let job = Caller::System { job: "test" };
        let anonymous = Caller::Anonymous {
            address: "10.0.0.1".to_owned(),
        };
        let device = Caller::Device {
            device_id: "d1".to_owned(),
        };

        let users_read = Some("identity.users:read");
        #[rustfmt::skip]
        let table: &[Case<'_>] = &[
            ("village official, own village", &village, &[V1], None, Some(1)),
            ("village official, other village", &village, &[V2], None, None),
            ("village official, one of two villages", &village, &[V1, V2], None, None),
            ("village official, its township", &village, &[T1], None, None),
            ("township official, a village in it", &township, &[V1], None, Some(2)),
            ("township official, two villages in it", &township, &[V1, V2], None, Some(2)),
            ("township official, the county", &township, &[C1], None, None),
            ("county admin, village in county", &county, &[V1], None, Some(3)),
            ("county admin, another county's village it officiates", &county, &["110102001001"], None, Some(1)),
            ("county admin, both: the lower rank", &county, &[V1, "110102001001"], None, Some(1)),
            ("county admin, the other county", &county, &[C2], None, None),
            ("platform admin, anywhere", &platform, &[V1, C2, "44"], None, Some(4)),
            ("platform admin, someone who lives nowhere", &platform, &[], None, Some(4)),
            ("county admin, someone who lives nowhere", &county, &[], None, None),
            ("province admin, the province", &province, &["11"], None, Some(4)),
            ("province admin, another province", &province, &["44"], None, None),
            ("province admin, someone who lives nowhere", &province, &[], None, None),
            ("farmer governs nothing", &farmer, &[V1], None, None),
            ("helper governs nothing", &helper, &[V1], None, None),
            ("agency without the api scope", &agency, &[V1], None, None),
            ("agency with the api scope", &agency, &[V1], users_read, Some(3)),
            ("agency with the api scope, outside", &agency, &[C2], users_read, None),
            ("agency with another api scope", &agency, &[V1], Some("identity.users:write"), None),
            ("operator, anywhere", &operator, &[V1, C2], None, Some(UNLIMITED_RANK)),
            ("system job, anywhere", &job, &[], None, Some(UNLIMITED_RANK)),
            ("anonymous governs nothing", &anonymous, &[V1], None, None),
            ("device governs nothing", &device, &[V1], None, None),
        ];
        for (case, caller, areas, api_scope, expected) in table {
            let areas: Vec<AdminScope> = areas.iter().map(|code| scope(code)).collect();
            let areas: Vec<&AdminScope> = areas.iter().collect();
            assert_eq!(caller.reach(&areas, *api_scope), *expected, "{case}");
        }
    }

    #[test]
    fn can_grant_table() {
        let grant = |role, code: &str| RoleGrant {
            role,
            scope: scope(code),
        };
        let village = user(&[(Role::VillageOfficial, V1)]);
        let county = user(&[(Role::CountyAdmin, C1)]);
        let platform = user(&[(Role::PlatformAdmin, "")]);
        let mut helper_principal = principal(PrincipalKind::User, &[(Role::CountyAdmin, C1)]);
        helper_principal.actor = Some("h".to_owned());
        let helper = Caller::Helper(helper_principal);
        let agency = Caller::Agency(principal(PrincipalKind::Agency, &[(Role::CountyAdmin, C1)]));
        let operator = Caller::operator("bootstrap");
        #[rustfmt::skip]
        let table: &[(&str, &Caller, RoleGrant, bool)] = &[
            ("village official: farmer in own village", &village, grant(Role::Farmer, V1), true),
            ("village official: its own rank", &village, grant(Role::VillageOfficial, V1), true),
            ("village official: another village", &village, grant(Role::Farmer, V2), false),
            ("village official: above its rank", &village, grant(Role::TownshipOfficial, T1), false),
            ("village official: broader than its village", &village, grant(Role::Farmer, T1), false),
            ("county: township official in county", &county, grant(Role::TownshipOfficial, T1), true),
            ("county: county admin of its county", &county, grant(Role::CountyAdmin, C1), true),
            ("county: another county", &county, grant(Role::VillageOfficial, "110102001001"), false),
            ("county: platform admin", &county, grant(Role::PlatformAdmin, C1), false),
            ("county: malformed grant", &county, grant(Role::VillageOfficial, T1), false),
            ("platform: platform admin", &platform, grant(Role::PlatformAdmin, ""), true),
            ("helper grants nothing", &helper, grant(Role::Farmer, V1), false),
            ("agency grants nothing", &agency, grant(Role::Farmer, V1), false),
            ("operator grants anything", &operator, grant(Role::PlatformAdmin, ""), true),
            ("operator: still well formed", &operator, grant(Role::CountyAdmin, ""), false),
        ];
        for (case, caller, grant, expected) in table {
            assert_eq!(caller.can_grant(grant, None), *expected, "{case}");
        }
        // Registering users: an agency grants under the API scope that allows it, within its
        // areas and rank; without the scope, nothing.
        let registrar = Caller::Agency(Principal {
            api_scopes: vec!["identity.users:write".to_owned()],
            ..principal(PrincipalKind::Agency, &[(Role::VillageOfficial, V1)])
        });
        #[rustfmt::skip]
        let table: &[(&str, &Caller, RoleGrant, Option<&str>, bool)] = &[
            ("agency with the scope: farmer in its village", &registrar, grant(Role::Farmer, V1), Some("identity.users:write"), true),
            ("agency with the scope: above its rank", &registrar, grant(Role::TownshipOfficial, T1), Some("identity.users:write"), false),
            ("agency with the scope: another village", &registrar, grant(Role::Farmer, V2), Some("identity.users:write"), false),
            ("agency without the scope it needs", &agency, grant(Role::Farmer, C1), Some("identity.users:write"), false),
            ("helper even with a scope", &helper, grant(Role::Farmer, V1), Some("identity.users:write"), false),
        ];
        for (case, caller, grant, api_scope, expected) in table {
            assert_eq!(caller.can_grant(grant, *api_scope), *expected, "{case}");
        }
    }

    #[test]
    fn a_user_acting_for_a_villager_is_their_helper() {
        let villager = Uuid::now_v7();
        let helper = user(&[(Role::DigitalHelper, V1)]);
        let acting = helper.acting_for(villager);
        assert!(matches!(acting, Caller::Helper(_)));
        assert_eq!(acting.subject_user(), Some(villager));
        assert_eq!(acting.acting_user(), helper.acting_user());
        let agency = Caller::Agency(principal(PrincipalKind::Agency, &[]));
        assert_eq!(agency.acting_for(villager), agency);
    }

    #[test]
    fn idempotency_keys_and_actors_name_both_people() {
        let villager = Uuid::now_v7();
        let helper_id = Uuid::now_v7();
        let mut p = principal(PrincipalKind::User, &[]);
        p.subject = villager.to_string();
        let user_caller = Caller::from(p.clone());
        p.actor = Some(helper_id.to_string());
        let helper = Caller::from(p);
        assert!(matches!(helper, Caller::Helper(_)));
        assert_ne!(user_caller.idempotency_key(), helper.idempotency_key());
        assert_eq!(helper.subject_user(), Some(villager));
        assert_eq!(helper.acting_user(), Some(helper_id));
        assert!(user_caller.is_user(villager));
        assert!(!helper.is_user(villager));
        let actor = helper.actor();
        assert_eq!(actor.user_id, helper_id.to_string());
        assert_eq!(actor.on_behalf_of_user_id, villager.to_string());
        assert!(matches!(
            helper.require_self(),
            Err(Error::PermissionDenied {
                reason: "DELEGATED_TOKEN",
                ..
            })
        ));
        assert_eq!(user_caller.require_self().unwrap(), villager);
    }
}
