//! *Parse*: `ListAuditEntries` becomes a query, every bad field reported at once with the
//! platform's `validate` policies.

use terrace_platform::auth::AdminScope;
use terrace_platform::error::{Result, Violations};
use terrace_platform::validate::{self, Page, PageSizes};
use terrace_proto::governance::v1 as pb;

/// The contract's page sizes of the audit log: large, so that a chain is verified quickly.
pub const PAGE_SIZES: PageSizes = PageSizes {
    default: 500,
    max: 5000,
};

/// The longest target id (ids are UUIDs or codes; anything longer is not one of ours).
const MAX_TARGET_ID: usize = 128;

/// `ListAuditEntries`: one chain, optionally narrowed, and the page.
#[derive(Debug)]
pub struct ListAuditEntries {
    /// The area asked for: its county's chain (or its own, above county level), and when below
    /// the county only the entries inside it.
    pub area: AdminScope,
    /// From this sequence on; 1 when not given.
    pub from_sequence: i64,
    /// Only entries about this target.
    pub target_id: Option<String>,
    /// Pages go by sequence.
    pub page: Page<i64>,
}

impl ListAuditEntries {
    pub fn parse(request: pb::ListAuditEntriesRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let page = validate::sized_page(&mut violations, "page", request.page.as_ref(), PAGE_SIZES);
        let area = validate::admin_code(&mut violations, "area", request.area.as_ref());
        let from_sequence = if request.from_sequence < 0 {
            violations.add("from_sequence", "must not be negative");
            None
        } else {
            Some(request.from_sequence.max(1))
        };
        let target_id = validate::text(
            &mut violations,
            "target_id",
            &request.target_id,
            validate::Text::optional(MAX_TARGET_ID),
        )
        .map(|id| (!id.is_empty()).then_some(id));
        violations.finish_with(|| {
            Some(Self {
                area: area?,
                from_sequence: from_sequence?,
                target_id: target_id?,
                page: page?,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use terrace_platform::error::Error;
    use terrace_proto::common::v1 as common;

    use super::*;

    #[test]
    fn every_bad_field_is_named_and_a_good_request_is_a_query() {
        let request = pb::ListAuditEntriesRequest {
            page: Some(common::PageRequest {
                page_size: -1,
                page_token: "nonsense".into(),
            }),
            area: Some(common::AdminCode {
                code: "33052".into(),
                level: common::AdminLevel::County as i32,
            }),
            from_sequence: -3,
            target_id: "bell\u{7}".into(),
        };
        let Err(Error::InvalidArgument(list)) = ListAuditEntries::parse(request) else {
            panic!("expected field violations");
        };
        let fields: Vec<&str> = list.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "page.page_size",
                "page.page_token",
                "area.code",
                "from_sequence",
                "target_id"
            ]
        );
        let Err(Error::InvalidArgument(list)) =
            ListAuditEntries::parse(pb::ListAuditEntriesRequest::default())
        else {
            panic!("the area is required");
        };
        assert_eq!(list[0].field, "area");

        let query = ListAuditEntries::parse(pb::ListAuditEntriesRequest {
            area: Some(AdminScope::parse("330523108").unwrap().to_proto()),
            page: Some(common::PageRequest {
                page_size: 100_000,
                page_token: String::new(),
            }),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(query.area.as_str(), "330523108");
        assert_eq!((query.from_sequence, query.target_id), (1, None));
        assert_eq!(query.page.size, 5000);
    }
}
