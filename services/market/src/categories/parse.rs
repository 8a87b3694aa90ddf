//! *Parse*: `ListCategories` and `GetCategory` become queries.

use terrace_platform::error::{Error, Result, Violations};
use terrace_platform::validate::{self, Text};
use terrace_proto::market::v1 as pb;

use super::taxonomy::{self, Entry};

/// `ListCategories`: the whole tree, or one category's children.
#[derive(Debug)]
pub struct ListCategories {
    pub parent: Option<&'static Entry>,
}

impl ListCategories {
    pub fn parse(request: &pb::ListCategoriesRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let parent = validate::text(
            &mut violations,
            "parent_id",
            &request.parent_id,
            Text::optional(80),
        );
        violations.finish()?;
        let parent = match parent.as_deref() {
            None | Some("") => None,
            Some(id) => Some(taxonomy::find(id).ok_or_else(|| Error::not_found("category", id))?),
        };
        Ok(Self { parent })
    }
}

/// A category id a request names: `NOT_FOUND` for one the taxonomy does not have.
pub fn category(id: &str) -> Result<&'static Entry> {
    if id.is_empty() {
        return Err(Error::invalid("category_id", "required"));
    }
    taxonomy::find(id).ok_or_else(|| Error::not_found("category", id))
}
