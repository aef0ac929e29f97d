//! Access control: who may do what in which company. Deny by default.
//!
//! Every company-scoped operation starts with [`company_scope`], which answers `NotFound` to
//! anyone who is not a member (so that other companies' objects cannot even be detected),
//! and then [`CompanyScope::require`] for the permission the operation needs.

pub use erp_manifest::permissions;
pub mod roles;

use crate::identity::{self, IdentityError};
use crate::storage::{DbConn, StoreError};
use crate::validation::Invalid;

/// Errors of the access layer.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// The object does not exist or the caller may not know it exists.
    #[error("not found")]
    NotFound,
    /// The caller is a member but lacks a permission.
    #[error("missing permission {0}")]
    Forbidden(String),
    /// The change clashes with existing data.
    #[error("{0}")]
    Conflict(String),
    /// Input failed validation.
    #[error("{0}")]
    Invalid(#[from] Invalid),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Something that should not happen.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<diesel::result::Error> for AccessError {
    fn from(e: diesel::result::Error) -> Self {
        AccessError::Store(StoreError::Query(e))
    }
}

impl From<IdentityError> for AccessError {
    fn from(e: IdentityError) -> Self {
        match e {
            IdentityError::NotFound => AccessError::NotFound,
            IdentityError::Conflict(m) => AccessError::Conflict(m),
            IdentityError::Invalid(i) => AccessError::Invalid(i),
            IdentityError::Store(s) => AccessError::Store(s),
            other => AccessError::Internal(other.to_string()),
        }
    }
}

/// What one user may do in one company, resolved once per request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompanyScope {
    /// The company.
    pub company_id: String,
    /// The caller.
    pub user_id: String,
    /// The caller's role name.
    pub role: String,
    /// The role's permissions.
    pub permissions: Vec<String>,
}

impl CompanyScope {
    /// True when the caller holds `permission`.
    pub fn can(&self, permission: &str) -> bool {
        self.permissions.iter().any(|g| permissions::grants(g, permission))
    }

    /// `Forbidden` unless the caller holds `permission`.
    pub fn require(&self, permission: &str) -> Result<(), AccessError> {
        if self.can(permission) { Ok(()) } else { Err(AccessError::Forbidden(permission.to_string())) }
    }

    /// The kernel itself acting in a company (command line, start-up): every permission.
    pub fn system(company_id: &str) -> CompanyScope {
        CompanyScope {
            company_id: company_id.to_string(),
            user_id: String::new(),
            role: roles::OWNER.to_string(),
            permissions: vec!["*".into()],
        }
    }

    /// The acting user, or `None` for the kernel itself.
    pub fn user(&self) -> Option<&str> {
        (!self.user_id.is_empty()).then_some(self.user_id.as_str())
    }

    /// True for company owners.
    pub fn is_owner(&self) -> bool {
        self.role == roles::OWNER
    }

    /// `Forbidden` unless every permission in `perms` is within the caller's own grants.
    pub fn require_covers(&self, perms: &[String]) -> Result<(), AccessError> {
        match perms.iter().find(|p| !permissions::covers(&self.permissions, p)) {
            Some(p) => Err(AccessError::Forbidden(p.clone())),
            None => Ok(()),
        }
    }
}

/// Resolves the caller's scope in a company; `NotFound` unless they are a member.
pub fn company_scope(conn: &mut DbConn, user_id: &str, company_id: &str) -> Result<CompanyScope, AccessError> {
    let role = identity::members::role_of(conn, company_id, user_id)?.ok_or(AccessError::NotFound)?;
    let permissions = roles::get(conn, company_id, &role)?.map(|r| r.permissions).unwrap_or_default();
    Ok(CompanyScope { company_id: company_id.to_string(), user_id: user_id.to_string(), role, permissions })
}
