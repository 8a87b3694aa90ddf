//! *Parse*: the role-grant requests become commands, every bad field reported at once.

use chrono::{DateTime, Utc};
use terrace_platform::auth::{AdminScope, Role, RoleGrant};
use terrace_platform::error::{Result, Violations};
use terrace_platform::idempotency::Mutation;
use terrace_platform::validate::{self, Page, Text};
use terrace_proto::identity::v1 as pb;
use uuid::Uuid;

/// The longest reason for giving or taking a role.
pub const MAX_REASON_CHARS: usize = 500;

/// `GrantRole`: give `grant` to `user_id`.
#[derive(Debug)]
pub struct GrantRole {
    pub mutation: Mutation,
    pub user_id: Uuid,
    pub grant: RoleGrant,
    pub expires_at: Option<DateTime<Utc>>,
    pub reason: String,
}

impl GrantRole {
    /// That an expiry lies in the future is judged when the grant is given, after a retry was
    /// answered: a retry sent after the expiry passed still gets its first answer.
    pub fn parse(request: pb::GrantRoleRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let mutation = Mutation::parse(&mut violations, "GrantRole", &request.request_id, &request);
        let proposed = request.grant.unwrap_or_default();
        let user_id = validate::id(&mut violations, "grant.user_id", &proposed.user_id, "user");
        let grant = role_grant(
            &mut violations,
            "grant",
            proposed.role,
            proposed.scope.as_ref(),
        );
        let expires_at = validate::timestamp(
            &mut violations,
            "grant.expire_time",
            proposed.expire_time.as_ref(),
        );
        let reason = validate::text(
            &mut violations,
            "grant.reason",
            &proposed.reason,
            Text::optional(MAX_REASON_CHARS),
        );
        violations.finish_with(|| {
            Some(Self {
                mutation: mutation?,
                user_id: user_id?,
                grant: grant?,
                expires_at: expires_at?,
                reason: reason?,
            })
        })
    }
}

/// A role in an area as a request states it (`<prefix>.role`, `<prefix>.scope`): a role that can
/// be granted, a well-formed area, and the two fitting together (a village official in a village).
pub fn role_grant(
    violations: &mut Violations,
    prefix: &str,
    role: i32,
    scope: Option<&terrace_proto::common::v1::AdminCode>,
) -> Option<RoleGrant> {
    let role = validate::enum_value::<pb::Role>(
        violations,
        &format!("{prefix}.role"),
        role,
        "a role that can be granted",
    )
    .and_then(Role::from_proto);
    let scope: Option<AdminScope> =
        validate::admin_code(violations, &format!("{prefix}.scope"), scope);
    RoleGrant::new(role?, scope?)
        .map_err(|error| violations.add(format!("{prefix}.scope"), error.to_string()))
        .ok()
}

/// `RevokeRole`: take grant `grant_id` back.
#[derive(Debug)]
pub struct RevokeRole {
    pub mutation: Mutation,
    pub grant_id: Uuid,
    pub reason: String,
}

impl RevokeRole {
    pub fn parse(request: pb::RevokeRoleRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let mutation =
            Mutation::parse(&mut violations, "RevokeRole", &request.request_id, &request);
        let grant_id = validate::id(&mut violations, "grant_id", &request.grant_id, "role grant");
        let reason = validate::text(
            &mut violations,
            "reason",
            &request.reason,
            Text::required(MAX_REASON_CHARS),
        );
        violations.finish_with(|| {
            Some(Self {
                mutation: mutation?,
                grant_id: grant_id?,
                reason: reason?,
            })
        })
    }
}

/// `ListRoleGrants`: one user's grants, or every grant the caller may see.
#[derive(Debug)]
pub struct ListRoleGrants {
    pub user_id: Option<Uuid>,
    /// Only grants whose area lies inside this one.
    pub area: Option<AdminScope>,
    pub role: Option<Role>,
    pub include_inactive: bool,
    /// Pages go by grant id, newest first.
    pub page: Page<Uuid>,
}

impl ListRoleGrants {
    pub fn parse(request: pb::ListRoleGrantsRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let user_id = validate::optional_id(&mut violations, "user_id", &request.user_id, "user");
        let page = validate::page(&mut violations, "page", request.page.as_ref());
        let area = validate::optional_admin_code(&mut violations, "area", request.area.as_ref());
        let role = match request.role {
            0 => Some(None),
            role => validate::enum_value::<pb::Role>(&mut violations, "role", role, "a role")
                .and_then(Role::from_proto)
                .map(Some),
        };
        violations.finish_with(|| {
            Some(Self {
                user_id: user_id?,
                area: area?,
                role: role?,
                include_inactive: request.include_inactive,
                page: page?,
            })
        })
    }
}
