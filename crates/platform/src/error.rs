//! The one conversion from domain errors to `tonic::Status`.
//!
//! Handlers return [`Result<T>`]; `?` turns their errors into a status with google.rpc details
//! (`BadRequest` field violations, `ErrorInfo`, `RetryInfo`) that every client — tonic, gRPC-Web in the
//! browser, an agency's grpcurl — can read. The set of codes is deliberately small: a client needs
//! to know whether to fix its input, wait, re-authenticate, or give up, and nothing more.
//!
//! Each error also carries its text in the caller's language ([`crate::i18n`]): a
//! `LocalizedMessage` for the whole error and one beside each field violation.
//!
//! Internal errors are logged here, once, with their whole cause chain, and answered opaquely: the
//! caller learns that something broke, not how the database is laid out.

use std::time::Duration;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// The `ErrorInfo.domain` of every error Terrace produces.
pub const ERROR_DOMAIN: &str = "terrace";

/// A result whose error converts into a `tonic::Status`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One bad field of a request: its path (`listing.price.amount_minor`) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    pub field: String,
    pub description: String,
}

impl FieldViolation {
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            description: description.into(),
        }
    }
}

/// Every way a request can fail, as the caller needs to see it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request itself is wrong; each bad field is named. Retrying it unchanged cannot succeed.
    #[error("invalid argument: {}", describe_violations(.0))]
    InvalidArgument(Vec<FieldViolation>),
    /// The named resource does not exist (or the caller may not know that it does).
    #[error("{resource} {id} not found")]
    NotFound { resource: &'static str, id: String },
    /// A create collided with an existing resource that is not the same request replayed.
    #[error("{resource} {id} already exists")]
    AlreadyExists { resource: &'static str, id: String },
    /// The request is well-formed but the system is not in a state that allows it (an illegal status
    /// transition, a request id reused with different content). `reason` is a stable
    /// UPPER_SNAKE_CASE code for programs; `message` is for people.
    #[error("{message}")]
    FailedPrecondition {
        reason: &'static str,
        message: String,
    },
    /// As `FailedPrecondition`, or `ABORTED` when a concurrent change won (the caller's guard no
    /// longer holds; re-read and retry), with `ErrorInfo` metadata that tells a program how things
    /// stand (`current_status`).
    #[error("{message}")]
    Refused {
        aborted: bool,
        reason: &'static str,
        message: String,
        metadata: Vec<(String, String)>,
    },
    /// The caller is known but not allowed to do this here.
    #[error("{message}")]
    PermissionDenied {
        reason: &'static str,
        message: String,
    },
    /// The caller is not known: no token, or one that cannot be trusted.
    #[error("{0}")]
    Unauthenticated(String),
    /// A limit was hit (rate, attempts, capacity); retry after the given delay if one is known.
    #[error("{message}")]
    ResourceExhausted {
        reason: &'static str,
        message: String,
        retry_after: Option<Duration>,
    },
    /// A dependency is temporarily unavailable; the request may be retried.
    #[error("{message}")]
    Unavailable {
        message: String,
        retry_after: Option<Duration>,
    },
    /// A bug or an unexpected failure. Logged with its cause chain, answered opaquely.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

fn describe_violations(violations: &[FieldViolation]) -> String {
    violations
        .iter()
        .map(|v| format!("{}: {}", v.field, v.description))
        .collect::<Vec<_>>()
        .join("; ")
}

impl Error {
    /// One bad field.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self::InvalidArgument(vec![FieldViolation::new(field, description)])
    }

    pub fn failed_precondition(reason: &'static str, message: impl Into<String>) -> Self {
        Self::FailedPrecondition {
            reason,
            message: message.into(),
        }
    }

    /// `FAILED_PRECONDITION` with `ErrorInfo` metadata.
    pub fn failed_precondition_with(
        reason: &'static str,
        message: impl Into<String>,
        metadata: impl IntoIterator<Item = (&'static str, String)>,
    ) -> Self {
        Self::Refused {
            aborted: false,
            reason,
            message: message.into(),
            metadata: metadata
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
        }
    }

    /// `ABORTED`: a concurrent change won; with `ErrorInfo` metadata.
    pub fn aborted(
        reason: &'static str,
        message: impl Into<String>,
        metadata: impl IntoIterator<Item = (&'static str, String)>,
    ) -> Self {
        Self::Refused {
            aborted: true,
            reason,
            message: message.into(),
            metadata: metadata
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
        }
    }

    pub fn permission_denied(reason: &'static str, message: impl Into<String>) -> Self {
        Self::PermissionDenied {
            reason,
            message: message.into(),
        }
    }

    pub fn not_found(resource: &'static str, id: impl Into<String>) -> Self {
        Self::NotFound {
            resource,
            id: id.into(),
        }
    }

    pub fn internal(error: impl Into<anyhow::Error>) -> Self {
        Self::Internal(error.into())
    }

    /// The gRPC code this error is answered with.
    pub fn code(&self) -> Code {
        match self {
            Self::InvalidArgument(_) => Code::InvalidArgument,
            Self::NotFound { .. } => Code::NotFound,
            Self::AlreadyExists { .. } => Code::AlreadyExists,
            Self::FailedPrecondition { .. } => Code::FailedPrecondition,
            Self::Refused { aborted: true, .. } => Code::Aborted,
            Self::Refused { aborted: false, .. } => Code::FailedPrecondition,
            Self::PermissionDenied { .. } => Code::PermissionDenied,
            Self::Unauthenticated(_) => Code::Unauthenticated,
            Self::ResourceExhausted { .. } => Code::ResourceExhausted,
            Self::Unavailable { .. } => Code::Unavailable,
            Self::Internal(_) => Code::Internal,
        }
    }
}

impl From<sea_orm::DbErr> for Error {
    /// An unreachable database is the service being unavailable — the client may retry — not a
    /// bug; everything else the database says is unexpected here and internal.
    fn from(error: sea_orm::DbErr) -> Self {
        match error {
            sea_orm::DbErr::ConnectionAcquire(_) | sea_orm::DbErr::Conn(_) => {
                tracing::warn!(%error, "database unavailable");
                Self::Unavailable {
                    message: "the service's database is unavailable; retry shortly".to_owned(),
                    retry_after: Some(Duration::from_secs(1)),
                }
            }
            error => Self::Internal(error.into()),
        }
    }
}

impl From<Error> for Status {
    fn from(error: Error) -> Self {
        let code = error.code();
        let locale = crate::i18n::current();
        let mut details = ErrorDetails::new();
        let message = match error {
            Error::InvalidArgument(violations) => {
                let message = format!("invalid argument: {}", describe_violations(&violations));
                let violations: Vec<_> = violations
                    .into_iter()
                    .map(|violation| {
                        let localized = crate::i18n::translate(&violation.description, locale)
                            .map(|text| tonic_types::LocalizedMessage::new(locale.tag(), text));
                        tonic_types::FieldViolation {
                            localized_message: localized,
                            ..tonic_types::FieldViolation::new(
                                violation.field,
                                violation.description,
                            )
                        }
                    })
                    .collect();
                details.set_bad_request(violations);
                message
            }
            Error::NotFound { resource, id } => {
                details.set_resource_info(resource, id.clone(), "", "not found");
                format!("{resource} {id} not found")
            }
            Error::AlreadyExists { resource, id } => {
                details.set_resource_info(resource, id.clone(), "", "already exists");
                format!("{resource} {id} already exists")
            }
            Error::FailedPrecondition { reason, message }
            | Error::PermissionDenied { reason, message } => {
                details.set_error_info(reason, ERROR_DOMAIN, []);
                message
            }
            Error::Refused {
                reason,
                message,
                metadata,
                ..
            } => {
                details.set_error_info(
                    reason,
                    ERROR_DOMAIN,
                    metadata
                        .into_iter()
                        .collect::<std::collections::HashMap<_, _>>(),
                );
                message
            }
            Error::Unauthenticated(message) => {
                details.set_error_info("UNAUTHENTICATED", ERROR_DOMAIN, []);
                message
            }
            Error::ResourceExhausted {
                reason,
                message,
                retry_after,
            } => {
                details.set_error_info(reason, ERROR_DOMAIN, []);
                if let Some(delay) = retry_after {
                    details.set_retry_info(Some(delay));
                }
                message
            }
            Error::Unavailable {
                message,
                retry_after,
            } => {
                if let Some(delay) = retry_after {
                    details.set_retry_info(Some(delay));
                }
                message
            }
            Error::Internal(cause) => {
                // The one place internal errors are logged; `{:#}` prints the whole cause chain.
                tracing::error!(error = format!("{cause:#}"), "internal error");
                "internal error".to_owned()
            }
        };
        // The whole error in the caller's language; an invalid argument is told field by field.
        if code != Code::InvalidArgument
            && let Some(text) = crate::i18n::translate(&message, locale)
        {
            details.set_localized_message(locale.tag(), text);
        }
        Status::with_error_details(code, message, details)
    }
}

/// Collects the violations of one request so that a client hears about every bad field at once,
/// not one per round trip.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(FieldViolation::new(field, description));
    }

    /// Adds a violation when `condition` is false.
    pub fn check(&mut self, condition: bool, field: &str, description: &str) {
        if !condition {
            self.add(field, description);
        }
    }

    /// How many violations were recorded so far.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The end of a request's parse step: the `InvalidArgument` error with every violation, or,
    /// when there was none, the command `build` makes from the parsed fields. Field parsers
    /// return `None` only after recording a violation, so `build` can take each with `?`; a
    /// `None` without one is a bug in the parser, answered as internal.
    pub fn finish_with<T>(self, build: impl FnOnce() -> Option<T>) -> Result<T> {
        self.finish()?;
        build().ok_or_else(|| {
            Error::internal(anyhow::anyhow!(
                "a request field was refused without a violation"
            ))
        })
    }

    /// `Ok` when nothing was added, else the `InvalidArgument` error with every violation.
    pub fn finish(self) -> Result<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Error::InvalidArgument(self.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn violations_become_bad_request_details() {
        let mut violations = Violations::new();
        violations.add("price.amount_minor", "must be positive");
        violations.check(false, "quantity.unit", "unknown unit");
        let status: Status = violations.finish().unwrap_err().into();
        assert_eq!(status.code(), Code::InvalidArgument);
        let details = status.get_error_details();
        let bad_request = details.bad_request().expect("bad request details");
        let fields: Vec<_> = bad_request
            .field_violations
            .iter()
            .map(|v| v.field.as_str())
            .collect();
        assert_eq!(fields, ["price.amount_minor", "quantity.unit"]);
    }

    #[test]
    fn internal_errors_are_opaque() {
        let cause = anyhow::anyhow!("relation \"secret_table\" does not exist");
        let status: Status = Error::internal(cause.context("loading listing")).into();
        assert_eq!(status.code(), Code::Internal);
        assert_eq!(status.message(), "internal error");
    }

    #[test]
    fn exhausted_carries_retry_info() {
        let status: Status = Error::ResourceExhausted {
            reason: "TOO_MANY_ATTEMPTS",
            message: "too many attempts".into(),
            retry_after: Some(Duration::from_secs(30)),
        }
        .into();
        let details = status.get_error_details();
        assert_eq!(
            details.retry_info().and_then(|r| r.retry_delay),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            details.error_info().map(|i| i.reason.as_str()),
            Some("TOO_MANY_ATTEMPTS")
        );
    }
}
