//! Errors that cross the boundary between a plugin and the kernel.

use std::fmt;

use crate::bindings::erp::plugin::types as wit;

/// One problem with one field.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FieldError {
    /// Field name.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// An error returned by the kernel to the plugin, or by the plugin to the kernel (and from
/// there to the caller, with the plugin's name attached).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// A permission or capability is missing.
    AccessDenied(String),
    /// No such record, collection, command or handler.
    NotFound(String),
    /// Input failed validation, one entry per field.
    Invalid(Vec<FieldError>),
    /// A stale version or a uniqueness clash.
    Conflict(String),
    /// A kernel limit was reached.
    LimitExceeded(String),
    /// Anything else.
    Failed(String),
}

/// Result with the SDK's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An `Invalid` error for a single field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Error {
        Error::Invalid(vec![FieldError { field: field.into(), message: message.into() }])
    }

    /// A `NotFound` error.
    pub fn not_found(what: impl Into<String>) -> Error {
        Error::NotFound(what.into())
    }

    /// A `Failed` error.
    pub fn failed(message: impl Into<String>) -> Error {
        Error::Failed(message.into())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::AccessDenied(m) => write!(f, "access denied: {m}"),
            Error::NotFound(m) => write!(f, "not found: {m}"),
            Error::Invalid(fields) => {
                let parts: Vec<String> = fields.iter().map(|e| format!("{}: {}", e.field, e.message)).collect();
                write!(f, "invalid: {}", parts.join("; "))
            }
            Error::Conflict(m) => write!(f, "conflict: {m}"),
            Error::LimitExceeded(m) => write!(f, "limit exceeded: {m}"),
            Error::Failed(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Error {
        Error::Failed(format!("JSON: {e}"))
    }
}

impl From<wit::Error> for Error {
    fn from(e: wit::Error) -> Error {
        match e {
            wit::Error::AccessDenied(m) => Error::AccessDenied(m),
            wit::Error::NotFound(m) => Error::NotFound(m),
            wit::Error::Invalid(v) => {
                Error::Invalid(v.into_iter().map(|f| FieldError { field: f.field, message: f.message }).collect())
            }
            wit::Error::Conflict(m) => Error::Conflict(m),
            wit::Error::LimitExceeded(m) => Error::LimitExceeded(m),
            wit::Error::Failed(m) => Error::Failed(m),
        }
    }
}

impl From<Error> for wit::Error {
    fn from(e: Error) -> wit::Error {
        match e {
            Error::AccessDenied(m) => wit::Error::AccessDenied(m),
            Error::NotFound(m) => wit::Error::NotFound(m),
            Error::Invalid(v) => wit::Error::Invalid(
                v.into_iter().map(|f| wit::FieldError { field: f.field, message: f.message }).collect(),
            ),
            Error::Conflict(m) => wit::Error::Conflict(m),
            Error::LimitExceeded(m) => wit::Error::LimitExceeded(m),
            Error::Failed(m) => wit::Error::Failed(m),
        }
    }
}
