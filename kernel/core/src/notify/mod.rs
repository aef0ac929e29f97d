//! Notifications: what the kernel and plugins tell a person in a company (a title and text in
//! one language or several, a link to a record, an importance), kept in the person's inbox
//! until read, and pushed live to their open pages (see [`live`]). Each person chooses per
//! kind where notifications go.

pub mod inbox;
pub mod live;
pub mod text;

pub use inbox::{Channel, Importance, Link, NewNotification, Notification};
pub use live::Live;
pub use text::Text;

use crate::storage::StoreError;
use crate::validation::Invalid;

/// Most people one call may notify.
pub const MAX_RECIPIENTS: usize = 1000;

/// Why a notification could not be sent or read.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// Something in it is malformed.
    #[error("{0}")]
    Invalid(#[from] Invalid),
    /// The recipient is not a member of the company.
    #[error("{0} is not a member of this company")]
    NotMember(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<diesel::result::Error> for NotifyError {
    fn from(e: diesel::result::Error) -> Self {
        NotifyError::Store(e.into())
    }
}

/// True for a kind name: dotted lowercase words such as `collaboration.mention`, at most 100
/// characters, starting with its source (a plugin's name or `kernel`).
pub fn is_kind_of(kind: &str, source: &str) -> bool {
    kind.len() <= 100
        && kind.strip_prefix(source).and_then(|rest| rest.strip_prefix('.')).is_some_and(|rest| {
            !rest.is_empty()
                && rest.split('.').all(|w| {
                    !w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_start_with_their_source() {
        assert!(is_kind_of("collaboration.mention", "collaboration"));
        assert!(is_kind_of("kernel.plugin.quarantined", "kernel"));
        assert!(!is_kind_of("crm.activity_due", "collaboration"));
        assert!(!is_kind_of("collaboration.", "collaboration"));
        assert!(!is_kind_of("collaboration.Mention", "collaboration"));
        assert!(!is_kind_of("collaborationx.mention", "collaboration"));
        assert!(!is_kind_of(&format!("kernel.{}", "a".repeat(100)), "kernel"));
    }
}
