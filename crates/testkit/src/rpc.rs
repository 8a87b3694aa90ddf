//! What every gRPC test asks of a request and an answer: a fresh request id, the field
//! violations or the `ErrorInfo` reason of a refusal, a bearer token on a request, and a user
//! seeded with roles through identity's own `CreateUser` (so the user is real in every service
//! that projects identity's events).

use terrace_platform::auth::{AdminScope, Role};
use terrace_proto::identity::v1 as identity;
use terrace_proto::identity::v1::identity_service_client::IdentityServiceClient;
use tonic_types::StatusExt as _;
use uuid::Uuid;

use crate::TestApp;

/// A new client-made request id, as a phone makes one.
pub fn request_id() -> String {
    Uuid::now_v7().to_string()
}

/// `(field, description)` of every field violation of an `INVALID_ARGUMENT`.
pub fn violations(status: &tonic::Status) -> Vec<(String, String)> {
    status
        .get_error_details()
        .bad_request()
        .map(|bad| {
            bad.field_violations
                .iter()
                .map(|v| (v.field.clone(), v.description.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// The fields named by the violations of an `INVALID_ARGUMENT`.
pub fn violated_fields(status: &tonic::Status) -> Vec<String> {
    violations(status)
        .into_iter()
        .map(|(field, _)| field)
        .collect()
}

/// The `ErrorInfo` reason of a refusal (`OUT_OF_SCOPE`, `REQUEST_ID_REUSED`, ...), or `""`.
pub fn reason(status: &tonic::Status) -> String {
    status
        .get_error_details()
        .error_info()
        .map(|info| info.reason.clone())
        .unwrap_or_default()
}

/// Asserts that `result` was refused with `code` and `reason`.
#[track_caller]
pub fn assert_refused<T: std::fmt::Debug>(
    result: Result<T, tonic::Status>,
    code: tonic::Code,
    expected_reason: &str,
) {
    let status = result.expect_err("a refusal");
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (code, expected_reason),
        "{status:?}"
    );
}

/// A user made through identity's `CreateUser`, with a token carrying its roles.
#[derive(Debug, Clone)]
pub struct SeededUser {
    pub id: Uuid,
    pub phone: String,
    /// An access token for the user, issued by the test issuer with the user's roles.
    pub token: String,
}

impl TestApp {
    /// Creates a user with `roles` (role, administrative-code prefix) through identity's
    /// `CreateUser`, called by a platform admin of the whole country; identity must run in this
    /// app. `phone` must be a mobile number no other user of the test has.
    pub async fn seed_user(&self, phone: &str, name: &str, roles: &[(Role, &str)]) -> SeededUser {
        let admin = self.token(&Uuid::now_v7().to_string(), &[(Role::PlatformAdmin, "")]);
        let initial_grants = roles
            .iter()
            .map(|(role, area)| identity::RoleGrant {
                role: role.to_proto() as i32,
                scope: Some(AdminScope::parse(area).expect("an area").to_proto()),
                reason: "seeded by the test".to_owned(),
                ..Default::default()
            })
            .collect();
        let created = IdentityServiceClient::new(self.channel().await)
            .create_user(self.request(
                identity::CreateUserRequest {
                    request_id: request_id(),
                    user: Some(identity::User {
                        phone_number: phone.to_owned(),
                        display_name: name.to_owned(),
                        ..Default::default()
                    }),
                    initial_grants,
                    ..Default::default()
                },
                &admin,
            ))
            .await
            .expect("identity creates the seeded user")
            .into_inner()
            .user
            .expect("the created user");
        let id = Uuid::parse_str(&created.id).expect("a user id");
        SeededUser {
            id,
            phone: created.phone_number,
            token: self.token(&created.id, roles),
        }
    }
}
