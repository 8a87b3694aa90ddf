//! Browser sessions: the refresh token in an `HttpOnly` cookie instead of the response body.
//!
//! A web app served from the same origin as the gRPC-Web endpoint asks for it with the request
//! header `x-terrace-session: cookie`. Logins and sign-ups then answer with the refresh token in
//! a cookie named after the account (`terrace_refresh_<user id>`, so that a family sharing a phone
//! keeps one session per person) and an empty `refresh_token` field; `RefreshToken` with an empty
//! field and `x-terrace-account: <user id>` reads that account's cookie and rotates it; `Logout`
//! clears it. The cookie is `HttpOnly` (no script reads it, injected or not), `Secure`,
//! `SameSite=Strict` (never sent by another site's page) and limited to identity's paths, so no
//! other call carries it. The access token stays in the app's memory.
//!
//! This is the answer layer's business (HTTP headers in, headers out); the accounts module sees
//! a refresh token as it always did.

use cookie::{Cookie, SameSite};
use tonic::metadata::{MetadataMap, MetadataValue};
use uuid::Uuid;

use terrace_platform::error::{Error, Violations};
use terrace_proto::identity::v1 as pb;

/// The request header by which a web app asks for a cookie session.
pub const SESSION_HEADER: &str = "x-terrace-session";
/// The request header naming the account whose cookie a refresh uses.
pub const ACCOUNT_HEADER: &str = "x-terrace-account";
/// Cookies are sent with identity's calls only.
const COOKIE_PATH: &str = "/terrace.identity.v1.IdentityService/";
const COOKIE_PREFIX: &str = "terrace_refresh_";

/// Whether the caller asked for its refresh token in a cookie.
pub fn wanted(metadata: &MetadataMap) -> bool {
    metadata
        .get(SESSION_HEADER)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.eq_ignore_ascii_case("cookie"))
}

/// The account a cookie request is about (`x-terrace-account`); `None` when the header is absent.
pub fn account(metadata: &MetadataMap) -> Result<Option<Uuid>, Error> {
    let Some(value) = metadata.get(ACCOUNT_HEADER) else {
        return Ok(None);
    };
    let mut violations = Violations::new();
    let parsed = value.to_str().ok().and_then(|text| text.parse().ok());
    violations.check(
        parsed.is_some(),
        ACCOUNT_HEADER,
        "must be the UUID of the account whose session this is",
    );
    violations.finish()?;
    Ok(parsed)
}

/// The refresh token in the cookie of `account`, if the browser sent one.
pub fn refresh_token(metadata: &MetadataMap, account: Uuid) -> Option<String> {
    let name = cookie_name(account);
    metadata
        .get_all("cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|cookie| cookie.name() == name)
        .map(|cookie| cookie.value().to_owned())
        .filter(|token| !token.is_empty())
}

/// Moves the refresh token of `tokens` into a cookie of `account` set by `response` (headers).
pub fn keep(response: &mut MetadataMap, account: &str, tokens: &mut pb::TokenPair) {
    let Ok(account) = account.parse::<Uuid>() else {
        return;
    };
    let token = std::mem::take(&mut tokens.refresh_token);
    // The cookie ends when the refresh token does.
    let expires = tokens
        .refresh_token_expire_time
        .as_ref()
        .and_then(|end| cookie::time::OffsetDateTime::from_unix_timestamp(end.seconds).ok());
    set(
        response,
        account,
        token,
        expires.map_or(Lifetime::Session, Lifetime::Until),
    );
}

/// Clears the cookie of `account` by `response` (headers).
pub fn clear(response: &mut MetadataMap, account: Uuid) {
    set(response, account, String::new(), Lifetime::Gone);
}

/// How long a cookie lives.
enum Lifetime {
    Until(cookie::time::OffsetDateTime),
    /// Until the browser closes (a token without a stated end).
    Session,
    /// Deleted now.
    Gone,
}

fn set(response: &mut MetadataMap, account: Uuid, value: String, lifetime: Lifetime) {
    let cookie = Cookie::build((cookie_name(account), value))
        .http_only(true)
        .secure(true)
        .same_site(SameSite::Strict)
        .path(COOKIE_PATH);
    let cookie = match lifetime {
        Lifetime::Until(end) => cookie.expires(end),
        Lifetime::Session => cookie,
        Lifetime::Gone => cookie.max_age(cookie::time::Duration::ZERO),
    };
    if let Ok(value) = MetadataValue::try_from(cookie.build().to_string()) {
        response.append("set-cookie", value);
    }
}

fn cookie_name(account: Uuid) -> String {
    format!("{COOKIE_PREFIX}{}", account.simple())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_token_is_an_http_only_strict_cookie_and_reads_back() {
        let account = Uuid::now_v7();
        let mut response = MetadataMap::new();
        let mut tokens = pb::TokenPair {
            refresh_token: "secret-token".into(),
            refresh_token_expire_time: Some(prost_types::Timestamp {
                seconds: 1_900_000_000,
                nanos: 0,
            }),
            ..Default::default()
        };
        keep(&mut response, &account.to_string(), &mut tokens);
        assert!(tokens.refresh_token.is_empty(), "not in the body any more");
        let set_cookie = response.get("set-cookie").unwrap().to_str().unwrap();
        for attribute in [
            "HttpOnly",
            "Secure",
            "SameSite=Strict",
            "Path=/terrace.identity.v1.IdentityService/",
        ] {
            assert!(
                set_cookie.contains(attribute),
                "{set_cookie} lacks {attribute}"
            );
        }
        let mut request = MetadataMap::new();
        let pair = set_cookie.split(';').next().unwrap();
        request.insert("cookie", format!("other=1; {pair}").parse().unwrap());
        assert_eq!(
            refresh_token(&request, account).as_deref(),
            Some("secret-token")
        );
        assert_eq!(
            refresh_token(&request, Uuid::now_v7()),
            None,
            "another account's cookie"
        );
    }

    #[test]
    fn a_malformed_account_header_is_a_field_violation() {
        let mut request = MetadataMap::new();
        request.insert(ACCOUNT_HEADER, "not-a-uuid".parse().unwrap());
        assert!(matches!(account(&request), Err(Error::InvalidArgument(_))));
        assert_eq!(account(&MetadataMap::new()).unwrap(), None);
    }
}
