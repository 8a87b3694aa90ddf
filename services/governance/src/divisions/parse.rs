//! The division RPCs' requests as commands: every bad field collected at once.

use serde::{Deserialize, Serialize};
use terrace_platform::auth::AdminScope;
use terrace_platform::error::{Result, Violations};
use terrace_platform::validate::{self, Page, Text};
use terrace_proto::common::v1 as common;
use terrace_proto::governance::v1 as pb;

use crate::entity::divisions::Level;

/// The longest search text, in characters: the longest division name is shorter.
pub const MAX_QUERY_CHARS: usize = 50;

/// `GetDivision`, `GetDivisionAncestors`: one division by its code.
#[derive(Debug)]
pub struct DivisionCode(pub AdminScope);

impl DivisionCode {
    pub fn parse(code: Option<&common::AdminCode>) -> Result<Self> {
        let mut violations = Violations::new();
        let code = validate::admin_code(&mut violations, "code", code);
        violations.finish_with(|| code.map(Self))
    }
}

/// `ListChildDivisions`: a division's children by code (the country's are the provinces).
#[derive(Debug)]
pub struct ListChildren {
    pub parent: AdminScope,
    pub include_inactive: bool,
    /// The cursor is the last code of the previous page.
    pub page: Page<String>,
}

impl ListChildren {
    pub fn parse(request: pb::ListChildDivisionsRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let parent =
            validate::admin_code(&mut violations, "parent_code", request.parent_code.as_ref());
        let page = validate::page(&mut violations, "page", request.page.as_ref());
        violations.finish_with(|| {
            Some(Self {
                parent: parent?,
                include_inactive: request.include_inactive,
                page: page?,
            })
        })
    }
}

/// Where a search page starts: results are ranked, so a page is an offset into them.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct SearchCursor {
    pub offset: u64,
}

/// `SearchDivisions`: by part of the name, or by pinyin initials when typed in Latin letters.
#[derive(Debug)]
pub struct Search {
    pub query: String,
    pub within: Option<AdminScope>,
    pub level: Option<Level>,
    pub page: Page<SearchCursor>,
}

impl Search {
    pub fn parse(request: pb::SearchDivisionsRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let query = validate::text(
            &mut violations,
            "query",
            request.query.trim(),
            Text::required(MAX_QUERY_CHARS),
        );
        let within =
            validate::optional_admin_code(&mut violations, "within", request.within.as_ref());
        let level = match common::AdminLevel::try_from(request.level) {
            Ok(common::AdminLevel::Unspecified) => Some(None),
            Ok(common::AdminLevel::Province) => Some(Some(Level::Province)),
            Ok(common::AdminLevel::City) => Some(Some(Level::City)),
            Ok(common::AdminLevel::County) => Some(Some(Level::County)),
            Ok(common::AdminLevel::Township) => Some(Some(Level::Township)),
            Ok(common::AdminLevel::Village) => Some(Some(Level::Village)),
            Ok(common::AdminLevel::Country) | Err(_) => {
                violations.add(
                    "level",
                    "must be a division's level (province to village), or unspecified for any",
                );
                None
            }
        };
        let page = validate::page(&mut violations, "page", request.page.as_ref());
        violations.finish_with(|| {
            Some(Self {
                query: query?,
                within: within?,
                level: level?,
                page: page?,
            })
        })
    }
}
