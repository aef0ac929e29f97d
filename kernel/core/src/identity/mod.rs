//! Identity: users, companies (tenants), memberships, passwords, login throttling and tokens.

pub mod companies;
pub mod login;
pub mod members;
pub mod passwords;
pub mod profile;
pub mod tokens;
pub mod users;

use diesel::prelude::*;

use crate::storage::StoreError;
use crate::storage::schema::users as users_table;
use crate::validation::Invalid;

pub use companies::Company;
pub use members::Member;

/// A platform user.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = users_table)]
pub struct User {
    /// User id.
    pub id: String,
    /// Login e-mail, lower-cased.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Platform operator.
    pub is_superadmin: bool,
    /// Creation time.
    pub created_at: i64,
    /// The person's own time zone; none follows the company's.
    pub time_zone: Option<String>,
}

/// Errors of the identity layer.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// E-mail or password is wrong.
    #[error("wrong e-mail or password")]
    InvalidCredentials,
    /// Too many failed logins for this account.
    #[error("too many failed logins; try again in {retry_after_secs} s")]
    Throttled {
        /// Seconds until the next attempt is allowed.
        retry_after_secs: u64,
    },
    /// The object does not exist (or is not visible to the caller).
    #[error("not found")]
    NotFound,
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

impl From<diesel::result::Error> for IdentityError {
    fn from(e: diesel::result::Error) -> Self {
        IdentityError::Store(StoreError::Query(e))
    }
}

/// Normalises an e-mail for storage and lookup.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}
