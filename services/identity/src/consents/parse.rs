//! *Parse*: the consent requests become commands, every bad field reported at once.
//!
//! What depends on who calls (whose consent it is) or on the time (an end in the future, at most
//! a year from the start) is judged by *apply*: a retry of a consent made yesterday is the same
//! request today, and must find its first answer rather than a "must be in the future".

use chrono::{DateTime, Utc};
use terrace_platform::error::{Result, Violations};
use terrace_platform::idempotency::Mutation;
use terrace_platform::validate::{self, Page, Text};
use terrace_proto::identity::v1 as pb;
use uuid::Uuid;

/// Notes, reasons and client descriptions are short free text.
pub const MAX_TEXT_CHARS: usize = 500;

/// `GrantConsent`: a villager consents that `helper` acts for them, or an official records a
/// villager's (`grantor`'s) consent given in person.
#[derive(Debug)]
pub struct GrantConsent {
    pub mutation: Mutation,
    /// `None`: the caller is the villager.
    pub grantor: Option<Uuid>,
    pub helper: Uuid,
    pub scopes: Vec<String>,
    /// `None`: from the moment it is recorded.
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: DateTime<Utc>,
    pub note: String,
    pub witnessed: bool,
}

impl GrantConsent {
    pub fn parse(request: pb::GrantConsentRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let mutation = Mutation::parse(
            &mut violations,
            "GrantConsent",
            &request.request_id,
            &request,
        );
        let Some(consent) = request.consent else {
            violations.add("consent", "required");
            return violations.finish_with(|| None);
        };
        let grantor = validate::optional_id(
            &mut violations,
            "consent.grantor_user_id",
            &consent.grantor_user_id,
            "user",
        );
        let helper = validate::id(
            &mut violations,
            "consent.helper_user_id",
            &consent.helper_user_id,
            "user",
        );
        let scopes = scopes(&mut violations, "consent.scopes", consent.scopes);
        let starts_at = validate::timestamp(
            &mut violations,
            "consent.start_time",
            consent.start_time.as_ref(),
        );
        let ends_at = validate::required_timestamp(
            &mut violations,
            "consent.end_time",
            consent.end_time.as_ref(),
        );
        let note = validate::text(
            &mut violations,
            "consent.note",
            &consent.note,
            Text::optional(MAX_TEXT_CHARS).multiline(),
        );
        if consent.witnessed && consent.grantor_user_id.is_empty() {
            violations.add(
                "consent.witnessed",
                "only an official recording a villager's consent in person sets it",
            );
        }
        violations.finish_with(|| {
            Some(Self {
                mutation: mutation?,
                grantor: grantor?,
                helper: helper?,
                scopes: scopes?,
                starts_at: starts_at?,
                ends_at: ends_at?,
                note: note?,
                witnessed: consent.witnessed,
            })
        })
    }
}

/// What a consent lets the helper do: at least one API scope (no blanket consent), each well
/// formed, no repeats.
fn scopes(violations: &mut Violations, field: &str, scopes: Vec<String>) -> Option<Vec<String>> {
    if scopes.is_empty() {
        violations.add(field, "required: at least one scope (no blanket consent)");
        return None;
    }
    validate::api_scopes(violations, field, scopes)
}

/// `ListConsents`: the consents the caller may see, optionally of one villager or one helper.
#[derive(Debug)]
pub struct ListConsents {
    pub grantor: Option<Uuid>,
    pub helper: Option<Uuid>,
    /// Withdrawn and ended consents too.
    pub include_inactive: bool,
    /// Pages go by consent id, newest first.
    pub page: Page<Uuid>,
}

impl ListConsents {
    pub fn parse(request: pb::ListConsentsRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let grantor = validate::optional_id(
            &mut violations,
            "grantor_user_id",
            &request.grantor_user_id,
            "user",
        );
        let helper = validate::optional_id(
            &mut violations,
            "helper_user_id",
            &request.helper_user_id,
            "user",
        );
        let page = validate::page(&mut violations, "page", request.page.as_ref());
        violations.finish_with(|| {
            Some(Self {
                grantor: grantor?,
                helper: helper?,
                include_inactive: request.include_inactive,
                page: page?,
            })
        })
    }
}

/// `WithdrawConsent`: end consent `consent_id` now.
#[derive(Debug)]
pub struct WithdrawConsent {
    pub mutation: Mutation,
    pub consent_id: Uuid,
    pub reason: String,
}

impl WithdrawConsent {
    pub fn parse(request: pb::WithdrawConsentRequest) -> Result<Self> {
        let (mutation, consent_id, reason) = about_consent(
            "WithdrawConsent",
            &request,
            (&request.request_id, &request.consent_id),
            ("reason", &request.reason),
        )?;
        Ok(Self {
            mutation,
            consent_id,
            reason,
        })
    }
}

/// `IssueDelegatedToken`: the calling helper asks for a token acting for the villager under
/// consent `consent_id`.
#[derive(Debug)]
pub struct IssueDelegatedToken {
    pub mutation: Mutation,
    pub consent_id: Uuid,
    pub client_description: String,
}

impl IssueDelegatedToken {
    pub fn parse(request: pb::IssueDelegatedTokenRequest) -> Result<Self> {
        let (mutation, consent_id, client_description) = about_consent(
            "IssueDelegatedToken",
            &request,
            (&request.request_id, &request.consent_id),
            ("client_description", &request.client_description),
        )?;
        Ok(Self {
            mutation,
            consent_id,
            client_description,
        })
    }
}

/// What a request about one consent carries: its `request_id` and `consent_id` (`ids`), and a
/// line of free text (`text`: the field's name and value).
fn about_consent<M: prost::Message>(
    rpc: &'static str,
    request: &M,
    ids: (&str, &str),
    text: (&str, &str),
) -> Result<(Mutation, Uuid, String)> {
    let mut violations = Violations::new();
    let mutation = Mutation::parse(&mut violations, rpc, ids.0, request);
    let consent_id = validate::id(&mut violations, "consent_id", ids.1, "consent");
    let (field, value) = text;
    let text = validate::text(
        &mut violations,
        field,
        value,
        Text::optional(MAX_TEXT_CHARS),
    );
    violations.finish_with(|| Some((mutation?, consent_id?, text?)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consents::tests::refused as fields;

    fn request(change: impl FnOnce(&mut pb::Consent)) -> pb::GrantConsentRequest {
        let mut consent = pb::Consent {
            helper_user_id: Uuid::now_v7().to_string(),
            scopes: vec!["market.listings:write".to_owned()],
            end_time: Some(prost_types::Timestamp {
                seconds: 2_000_000_000,
                nanos: 0,
            }),
            ..Default::default()
        };
        change(&mut consent);
        pb::GrantConsentRequest {
            request_id: Uuid::now_v7().to_string(),
            consent: Some(consent),
        }
    }

    /// (case, change to a good request, fields refused)
    type Case = (&'static str, fn(&mut pb::Consent), &'static [&'static str]);

    #[test]
    fn a_consent_request_reports_every_bad_field() {
        let parsed = GrantConsent::parse(request(|_| {})).unwrap();
        assert_eq!(parsed.grantor, None);
        assert_eq!(parsed.starts_at, None);
        let parsed = GrantConsent::parse(request(|c| c.note = "  line\nline  ".into())).unwrap();
        assert_eq!(parsed.note, "line\nline", "trimmed; notes may span lines");

        #[rustfmt::skip]
        let table: &[Case] = &[
            ("no helper", |c| c.helper_user_id.clear(), &["consent.helper_user_id"]),
            ("no scopes", |c| c.scopes.clear(), &["consent.scopes"]),
            ("a repeated scope", |c| c.scopes.push("market.listings:write".into()), &["consent.scopes[1]"]),
            ("no end", |c| c.end_time = None, &["consent.end_time"]),
            ("bad nanos", |c| c.start_time = Some(prost_types::Timestamp { seconds: 1, nanos: -1 }), &["consent.start_time"]),
            ("witnessed without a grantor", |c| c.witnessed = true, &["consent.witnessed"]),
            ("everything at once", |c| {
                c.grantor_user_id = "x".into();
                c.helper_user_id = "y".into();
                c.scopes = vec!["everything".into()];
                c.end_time = None;
                c.note = "\u{7}".into();
            }, &["consent.grantor_user_id", "consent.helper_user_id", "consent.scopes[0]", "consent.end_time", "consent.note"]),
        ];
        for (case, change, expected) in table {
            assert_eq!(
                fields(GrantConsent::parse(request(change))),
                *expected,
                "{case}"
            );
        }
        assert_eq!(
            fields(GrantConsent::parse(pb::GrantConsentRequest::default())),
            ["request_id", "consent"]
        );
    }

    #[test]
    fn the_other_requests_report_their_fields() {
        assert_eq!(
            fields(WithdrawConsent::parse(pb::WithdrawConsentRequest {
                consent_id: "nope".into(),
                reason: "\u{7}".into(),
                ..Default::default()
            })),
            ["request_id", "consent_id", "reason"]
        );
        assert_eq!(
            fields(IssueDelegatedToken::parse(
                pb::IssueDelegatedTokenRequest::default()
            )),
            ["request_id", "consent_id"]
        );
        assert_eq!(
            fields(ListConsents::parse(pb::ListConsentsRequest {
                grantor_user_id: "x".into(),
                helper_user_id: "y".into(),
                ..Default::default()
            })),
            ["grantor_user_id", "helper_user_id"]
        );
    }
}
