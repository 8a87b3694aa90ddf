//! *Parse*: `ListAuditRecords` becomes a query, every bad field reported at once.

use chrono::{DateTime, Utc};
use terrace_platform::auth::AdminScope;
use terrace_platform::error::{Result, Violations};
use terrace_platform::validate::{self, Page};
use terrace_proto::identity::v1 as pb;
use uuid::Uuid;

/// The longest action name.
const MAX_ACTION: usize = 64;

/// `ListAuditRecords`: filters, each optional, and the page.
#[derive(Debug)]
pub struct ListAuditRecords {
    /// Only records about users living inside this area, or agency clients acting in it.
    pub area: Option<AdminScope>,
    /// Only records about this user or agency client.
    pub target: Option<Uuid>,
    /// Only records of what this user did.
    pub actor: Option<Uuid>,
    /// Only these actions (`role.granted`); empty: all.
    pub actions: Vec<String>,
    /// From this time on.
    pub start: Option<DateTime<Utc>>,
    /// Before this time.
    pub end: Option<DateTime<Utc>>,
    /// Pages go by record id, newest first.
    pub page: Page<Uuid>,
}

impl ListAuditRecords {
    pub fn parse(request: pb::ListAuditRecordsRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let page = validate::page(&mut violations, "page", request.page.as_ref());
        let area = validate::optional_admin_code(&mut violations, "area", request.area.as_ref());
        let target =
            validate::optional_id(&mut violations, "target_id", &request.target_id, "target");
        let actor = validate::optional_id(
            &mut violations,
            "actor_user_id",
            &request.actor_user_id,
            "user",
        );
        let actions: Option<Vec<String>> = request
            .actions
            .iter()
            .enumerate()
            .map(|(i, value)| action(&mut violations, &format!("actions[{i}]"), value))
            // Every action is looked at, so that each bad one is reported.
            .collect::<Vec<_>>()
            .into_iter()
            .collect();
        let range = request.time_range.unwrap_or_default();
        let start = validate::timestamp(
            &mut violations,
            "time_range.start_time",
            range.start_time.as_ref(),
        );
        let end = validate::timestamp(
            &mut violations,
            "time_range.end_time",
            range.end_time.as_ref(),
        );
        violations.finish_with(|| {
            Some(Self {
                area: area?,
                target: target?,
                actor: actor?,
                actions: actions?,
                start: start?,
                end: end?,
                page: page?,
            })
        })
    }
}

/// An action name as records store them: lowercase words joined by dots and underscores.
fn action(violations: &mut Violations, field: &str, value: &str) -> Option<String> {
    let well_formed = !value.is_empty()
        && value.len() <= MAX_ACTION
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c == '.' || c == '_');
    if well_formed {
        Some(value.to_owned())
    } else {
        violations.add(field, "must be an action such as role.granted");
        None
    }
}

#[cfg(test)]
mod tests {
    use terrace_platform::error::Error;

    use super::*;

    #[test]
    fn every_bad_filter_is_named() {
        let request = pb::ListAuditRecordsRequest {
            target_id: "someone".into(),
            actor_user_id: Uuid::now_v7().to_string(),
            actions: vec!["role.granted".into(), "Role Granted".into(), String::new()],
            time_range: Some(terrace_proto::common::v1::TimeRange {
                start_time: Some(prost_types::Timestamp {
                    seconds: 0,
                    nanos: -1,
                }),
                end_time: None,
            }),
            ..Default::default()
        };
        let Err(Error::InvalidArgument(list)) = ListAuditRecords::parse(request) else {
            panic!("expected field violations");
        };
        let fields: Vec<&str> = list.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "target_id",
                "actions[1]",
                "actions[2]",
                "time_range.start_time"
            ]
        );
        let parsed = ListAuditRecords::parse(pb::ListAuditRecordsRequest {
            actions: vec!["user.created".into()],
            ..Default::default()
        })
        .unwrap();
        assert_eq!(parsed.actions, ["user.created"]);
        assert_eq!(parsed.page.after, None);
    }
}
