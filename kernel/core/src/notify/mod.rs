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

pub use erp_manifest::manifest::is_kind_of;

/// The kernel's own kinds, with what people read when they choose where each goes.
pub const KERNEL_KINDS: &[(&str, &str, &str)] =
    &[("kernel.plugin_quarantined", "A plugin was stopped in this company", "Плагин остановлен в этой компании")];

/// What people read for a kind: the kernel's label, or the label the sending plugin's manifest
/// gives it (in `lang`), or the kind itself.
pub fn kind_label(kind: &str, lang: &str, manifests: &[std::sync::Arc<erp_manifest::Manifest>]) -> String {
    if let Some((_, en, ru)) = KERNEL_KINDS.iter().find(|(k, _, _)| *k == kind) {
        return if lang == "ru" { ru } else { en }.to_string();
    }
    manifests
        .iter()
        .flat_map(|m| &m.notifications)
        .find(|n| n.kind == kind)
        .and_then(|n| n.label.as_ref())
        .map_or_else(|| kind.to_string(), |l| l.text(lang).to_string())
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
