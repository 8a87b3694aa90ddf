//! *Parse*: the requests of signing up, logging in and sessions become commands, every bad field
//! reported at once.

use terrace_platform::error::{Result, Violations};
use terrace_platform::idempotency::Mutation;
use terrace_platform::validate::{self, Text};
use terrace_proto::identity::v1 as pb;
use uuid::Uuid;

use crate::domain::otp;
use crate::domain::password::{self, PasswordKey};
use crate::domain::phone::PhoneNumber;

/// The longest name of a person.
pub const MAX_DISPLAY_NAME_CHARS: usize = 64;
/// The longest description of the device a session runs on ("Redmi 12, farmer app 1.4").
pub const MAX_CLIENT_DESCRIPTION_CHARS: usize = 200;
/// The longest reason for signing every device out.
pub const MAX_REASON_CHARS: usize = 200;
/// Refresh tokens are 43 characters; anything far longer is not one.
const MAX_REFRESH_TOKEN_CHARS: usize = 256;

/// `RequestOtp`: text a code for `purpose` to `phone`.
#[derive(Debug)]
pub struct RequestOtp {
    pub mutation: Mutation,
    pub phone: PhoneNumber,
    pub purpose: pb::OtpPurpose,
    pub locale: String,
}

impl RequestOtp {
    pub fn parse(request: pb::RequestOtpRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let mutation =
            Mutation::parse(&mut violations, "RequestOtp", &request.request_id, &request);
        let phone = PhoneNumber::field(&mut violations, "phone_number", &request.phone_number);
        let purpose = validate::enum_value(
            &mut violations,
            "purpose",
            request.purpose,
            "one of the OTP_PURPOSE values",
        );
        let locale = validate::locale(&mut violations, "locale", &request.locale);
        violations.finish_with(|| {
            Some(Self {
                mutation: mutation?,
                phone: phone?,
                purpose: purpose?,
                locale: locale?,
            })
        })
    }
}

/// `SignUp`: an account for a phone proven with a sign-up code.
#[derive(Debug)]
pub struct SignUp {
    pub mutation: Mutation,
    pub phone: PhoneNumber,
    pub code: String,
    pub display_name: String,
    /// Optional: a villager may log in with codes only.
    pub password: Option<String>,
    pub locale: String,
    pub time_zone: String,
    pub client_description: String,
    /// The person chose to buy: a buyer's standing over the whole country.
    pub as_buyer: bool,
}

impl SignUp {
    /// `key` stands in for the password in the request's fingerprint ([`PasswordKey`]).
    pub fn parse(request: pb::SignUpRequest, key: &PasswordKey) -> Result<Self> {
        let mut violations = Violations::new();
        let fingerprinted = pb::SignUpRequest {
            password: key.stand_in(&request.password),
            ..request.clone()
        };
        let mutation = Mutation::parse(
            &mut violations,
            "SignUp",
            &request.request_id,
            &fingerprinted,
        );
        let phone = PhoneNumber::field(&mut violations, "phone_number", &request.phone_number);
        let code = otp::field(&mut violations, "otp_code", &request.otp_code);
        let display_name = validate::text(
            &mut violations,
            "display_name",
            &request.display_name,
            Text::required(MAX_DISPLAY_NAME_CHARS),
        );
        let password = if request.password.is_empty() {
            Some(None)
        } else {
            password::new_password_field(
                &mut violations,
                "password",
                &request.password,
                &request.phone_number,
            )
            .map(Some)
        };
        let locale = validate::locale(&mut violations, "locale", &request.locale);
        let time_zone = validate::time_zone(&mut violations, "time_zone", &request.time_zone);
        let client_description = client_description(&mut violations, &request.client_description);
        violations.finish_with(|| {
            Some(Self {
                mutation: mutation?,
                phone: phone?,
                code: code?,
                display_name: display_name?,
                password: password?,
                locale: locale?,
                time_zone: time_zone?,
                client_description: client_description?,
                as_buyer: request.as_buyer,
            })
        })
    }
}

/// `LoginWithPassword`.
#[derive(Debug)]
pub struct LoginWithPassword {
    pub mutation: Mutation,
    pub phone: PhoneNumber,
    pub password: String,
    pub client_description: String,
}

impl LoginWithPassword {
    /// `key` stands in for the password in the request's fingerprint ([`PasswordKey`]).
    pub fn parse(request: pb::LoginWithPasswordRequest, key: &PasswordKey) -> Result<Self> {
        let mut violations = Violations::new();
        let fingerprinted = pb::LoginWithPasswordRequest {
            password: key.stand_in(&request.password),
            ..request.clone()
        };
        let mutation = Mutation::parse(
            &mut violations,
            "LoginWithPassword",
            &request.request_id,
            &fingerprinted,
        );
        let phone = PhoneNumber::field(&mut violations, "phone_number", &request.phone_number);
        let password =
            password::current_password_field(&mut violations, "password", &request.password);
        let client_description = client_description(&mut violations, &request.client_description);
        violations.finish_with(|| {
            Some(Self {
                mutation: mutation?,
                phone: phone?,
                password: password?,
                client_description: client_description?,
            })
        })
    }
}

/// `LoginWithOtp`.
#[derive(Debug)]
pub struct LoginWithOtp {
    pub mutation: Mutation,
    pub phone: PhoneNumber,
    pub code: String,
    pub client_description: String,
}

impl LoginWithOtp {
    pub fn parse(request: pb::LoginWithOtpRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let mutation = Mutation::parse(
            &mut violations,
            "LoginWithOtp",
            &request.request_id,
            &request,
        );
        let phone = PhoneNumber::field(&mut violations, "phone_number", &request.phone_number);
        let code = otp::field(&mut violations, "otp_code", &request.otp_code);
        let client_description = client_description(&mut violations, &request.client_description);
        violations.finish_with(|| {
            Some(Self {
                mutation: mutation?,
                phone: phone?,
                code: code?,
                client_description: client_description?,
            })
        })
    }
}

/// `RefreshToken` and `Logout`: a request about one refresh token.
#[derive(Debug)]
pub struct WithRefreshToken {
    pub mutation: Mutation,
    pub refresh_token: String,
}

impl WithRefreshToken {
    pub fn parse_refresh(request: pb::RefreshTokenRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let mutation = Mutation::parse(
            &mut violations,
            "RefreshToken",
            &request.request_id,
            &request,
        );
        let token = refresh_token(&mut violations, &request.refresh_token);
        violations.finish_with(|| {
            Some(Self {
                mutation: mutation?,
                refresh_token: token?,
            })
        })
    }

    pub fn parse_logout(request: pb::LogoutRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let mutation = Mutation::parse(&mut violations, "Logout", &request.request_id, &request);
        let token = refresh_token(&mut violations, &request.refresh_token);
        violations.finish_with(|| {
            Some(Self {
                mutation: mutation?,
                refresh_token: token?,
            })
        })
    }
}

/// `RevokeAllSessions`: sign every device of a user out.
#[derive(Debug)]
pub struct RevokeAllSessions {
    pub mutation: Mutation,
    /// `None`: the caller's own account.
    pub user_id: Option<Uuid>,
    pub reason: String,
}

impl RevokeAllSessions {
    pub fn parse(request: pb::RevokeAllSessionsRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let mutation = Mutation::parse(
            &mut violations,
            "RevokeAllSessions",
            &request.request_id,
            &request,
        );
        let user_id = validate::optional_id(&mut violations, "user_id", &request.user_id, "user");
        let reason = validate::text(
            &mut violations,
            "reason",
            &request.reason,
            Text::optional(MAX_REASON_CHARS),
        );
        violations.finish_with(|| {
            Some(Self {
                mutation: mutation?,
                user_id: user_id?,
                reason: reason?,
            })
        })
    }
}

fn client_description(violations: &mut Violations, value: &str) -> Option<String> {
    validate::text(
        violations,
        "client_description",
        value,
        Text::optional(MAX_CLIENT_DESCRIPTION_CHARS),
    )
}

fn refresh_token(violations: &mut Violations, value: &str) -> Option<String> {
    if value.is_empty() {
        violations.add("refresh_token", "required");
        None
    } else if value.len() > MAX_REFRESH_TOKEN_CHARS {
        violations.add("refresh_token", "not a refresh token");
        None
    } else {
        Some(value.to_owned())
    }
}
