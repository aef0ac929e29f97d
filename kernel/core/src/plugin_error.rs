//! Errors of plugin calls: what a plugin answered, which limit stopped it, and how installing
//! or calling one failed. Shared by the record store (whose write hooks call plugins) and the
//! plugin host, so that neither needs the other to name them.

use crate::storage::StoreError;
use crate::validation::{FieldError, Invalid};

/// An error value a plugin returned (mirrors the WIT `error` variant).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuestError {
    /// A permission or capability is missing.
    AccessDenied(String),
    /// Something the plugin looked for does not exist.
    NotFound(String),
    /// Input failed the plugin's validation.
    Invalid(Vec<FieldError>),
    /// A conflict.
    Conflict(String),
    /// A kernel limit was reached.
    LimitExceeded(String),
    /// Anything else.
    Failed(String),
}

impl std::fmt::Display for GuestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GuestError::AccessDenied(m) => write!(f, "access denied: {m}"),
            GuestError::NotFound(m) => write!(f, "not found: {m}"),
            GuestError::Invalid(v) => {
                let parts: Vec<String> = v.iter().map(|e| format!("{}: {}", e.field, e.message)).collect();
                write!(f, "invalid: {}", parts.join("; "))
            }
            GuestError::Conflict(m) => write!(f, "conflict: {m}"),
            GuestError::LimitExceeded(m) => write!(f, "limit exceeded: {m}"),
            GuestError::Failed(m) => write!(f, "{m}"),
        }
    }
}

/// Which limit stopped a plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Ran out of time.
    Time,
    /// Tried to use more linear memory than allowed.
    Memory,
    /// Returned or passed more data than allowed.
    Payload,
    /// Called too deeply (plugin calls kernel calls plugin ...).
    Depth,
    /// No free instance slot.
    Capacity,
    /// Computed for longer than allowed while holding the write lock (see the plugin host).
    WriteHold,
    /// The request's deadline passed.
    Deadline,
    /// The plugin is quarantined in this company.
    Quarantined,
}

impl Limit {
    /// A stable name, for clients and stored health records.
    pub fn code(self) -> &'static str {
        match self {
            Limit::Time => "time",
            Limit::Memory => "memory",
            Limit::Payload => "payload",
            Limit::Depth => "depth",
            Limit::Capacity => "capacity",
            Limit::WriteHold => "write_hold",
            Limit::Deadline => "deadline",
            Limit::Quarantined => "quarantined",
        }
    }
}

/// Errors of plugin installation and invocation.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// The plugin answered with an error value (a veto, a validation error...).
    #[error("plugin {plugin} refused: {error}")]
    Refused {
        /// The plugin.
        plugin: String,
        /// What it said.
        error: GuestError,
    },
    /// The plugin trapped, panicked or hit a limit; its work was rolled back.
    #[error("plugin {plugin} failed: {reason}")]
    Failed {
        /// The plugin.
        plugin: String,
        /// What happened, for a human.
        reason: String,
        /// The limit that stopped it, if any.
        limit: Option<Limit>,
    },
    /// A storage quota would be exceeded; nothing was saved.
    #[error("{0}")]
    Quota(String),
    /// No such plugin, command, webhook, or not enabled for the company.
    #[error("not found: {0}")]
    NotFound(String),
    /// The package or the request is invalid; every problem is listed.
    #[error("invalid plugin package: {}", .0.join("; "))]
    Invalid(Vec<String>),
    /// The change clashes with the current state.
    #[error("{0}")]
    Conflict(String),
    /// The caller lacks a permission.
    #[error("missing permission {0}")]
    Forbidden(String),
    /// The caller's input (command input, configuration) failed validation.
    #[error("{0}")]
    InvalidInput(#[from] Invalid),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Something that should not happen.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<diesel::result::Error> for PluginError {
    fn from(e: diesel::result::Error) -> Self {
        PluginError::Store(StoreError::Query(e))
    }
}
