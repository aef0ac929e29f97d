//! Plugins: manifests, packages, the sandboxed runtime, the registry of installed versions and
//! the per-company lifecycle.

pub mod host;
pub mod lifecycle;
pub mod manifest;
pub mod package;
pub mod registry;

use std::sync::Arc;

use crate::access::{self, AccessError, CompanyScope};
use crate::bus::{Bus, BusConfig};
use crate::events::NewEvent;
use crate::records::{Collection, Hooks, RecordError, WriteCheck};
use crate::session::Session;
use crate::storage::{Db, StoreError};
use crate::validation::FieldError;

pub use host::PluginHost;

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

impl GuestError {
    pub(crate) fn into_wit(self) -> host::WitError {
        use host::WitError as W;
        match self {
            GuestError::AccessDenied(m) => W::AccessDenied(m),
            GuestError::NotFound(m) => W::NotFound(m),
            GuestError::Invalid(v) => {
                W::Invalid(v.into_iter().map(|f| host::WitFieldError { field: f.field, message: f.message }).collect())
            }
            GuestError::Conflict(m) => W::Conflict(m),
            GuestError::LimitExceeded(m) => W::LimitExceeded(m),
            GuestError::Failed(m) => W::Failed(m),
        }
    }
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
    InvalidInput(#[from] crate::validation::Invalid),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Something that should not happen.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<RecordError> for PluginError {
    fn from(e: RecordError) -> Self {
        match e {
            RecordError::Plugin(p) => p,
            RecordError::NotFound(m) => PluginError::NotFound(m),
            RecordError::Forbidden(m) => PluginError::Forbidden(m),
            e @ RecordError::ReadOnly(..) => PluginError::Forbidden(e.to_string()),
            RecordError::Invalid(i) => PluginError::InvalidInput(i),
            RecordError::Conflict(m) => PluginError::Conflict(m),
            RecordError::Store(s) => PluginError::Store(s),
            RecordError::Internal(m) => PluginError::Internal(m),
        }
    }
}

impl From<diesel::result::Error> for PluginError {
    fn from(e: diesel::result::Error) -> Self {
        PluginError::Store(StoreError::Query(e))
    }
}

/// The kernel's shared services: the database, the plugin runtime and the event bus. Cheap
/// to clone.
#[derive(Clone, Debug)]
pub struct Platform {
    /// The database.
    pub db: Db,
    /// The plugin runtime and registry.
    pub plugins: PluginHost,
    /// The event bus of this node.
    pub bus: Bus,
}

impl Platform {
    /// Opens the database at `url` and starts the plugin runtime.
    pub fn open(url: &str) -> anyhow::Result<Platform> {
        Platform::with_db(Db::open(url)?)
    }

    /// Wraps an open database.
    pub fn with_db(db: Db) -> anyhow::Result<Platform> {
        Platform::with_config(db, BusConfig::default())
    }

    /// Wraps an open database, with explicit event-bus settings.
    pub fn with_config(db: Db, bus: BusConfig) -> anyhow::Result<Platform> {
        Ok(Platform { db, plugins: PluginHost::new()?, bus: Bus::new(bus) })
    }
}

impl Platform {
    /// The caller's scope in a company: membership, role permissions, and for the built-in
    /// `member` role the permissions that enabled plugins give members by default.
    pub fn company_scope(
        &self,
        conn: &mut crate::storage::DbConn,
        user_id: &str,
        company_id: &str,
    ) -> Result<CompanyScope, AccessError> {
        let mut scope = access::company_scope(conn, user_id, company_id)?;
        if scope.role == access::roles::MEMBER {
            let manifests =
                self.plugins.enabled_manifests(conn, company_id).map_err(|e| AccessError::Internal(e.to_string()))?;
            for m in manifests {
                scope.permissions.extend(m.default_permissions(access::roles::MEMBER));
            }
        }
        Ok(scope)
    }
}

impl Hooks for Platform {
    fn validate_write(&self, session: &mut Session, coll: &Collection, check: &WriteCheck) -> Result<(), RecordError> {
        let company = session.company_id.clone();
        let active =
            Arc::new(self.plugins.active(session.conn()?, &company, &coll.plugin).map_err(RecordError::Plugin)?);
        self.plugins.invoke(self, session, &active, None, host::Call::Validate { collection: &coll.name, check })?;
        Ok(())
    }

    fn publish(&self, session: &mut Session, event: NewEvent<'_>) -> Result<(), RecordError> {
        crate::bus::emit(self, session, event)?;
        Ok(())
    }
}
