//! Plugins: manifests, packages, the sandboxed runtime, the registry of installed versions and
//! the per-company lifecycle.

pub mod demo;
pub mod health;
pub mod host;
pub mod lifecycle;
pub mod package;
pub mod registry;

use std::sync::Arc;

use crate::events::NewEvent;
use crate::records::Hooks;
use crate::session::Session;
use crate::storage::Db;

pub use crate::plugin_error::{GuestError, Limit, PluginError};
pub use erp_manifest::manifest;
pub use host::PluginHost;

/// What plugin calls need from the kernel around them. The platform implements it; through
/// it a plugin's record writes reach validation hooks and its events reach the bus (whose
/// synchronous subscribers are plugin calls again) without this module naming either.
pub trait Kernel: Hooks + Send + Sync {
    /// The database.
    fn db(&self) -> &Db;
    /// The plugin runtime and registry.
    fn plugins(&self) -> &PluginHost;
    /// Publishes an event in the session's transaction (synchronous subscribers run at once)
    /// and returns its id.
    fn emit(&self, session: &mut Session, event: NewEvent<'_>) -> Result<String, PluginError>;
    /// An owned handle, for a plugin call's store to keep.
    fn handle(&self) -> Arc<dyn Kernel>;
    /// Fair use between companies: settings, quotas.
    fn fair(&self) -> &crate::fair_use::FairUse;
    /// Files people and plugins keep.
    fn files(&self) -> &crate::files::Files;
    /// Requests to hosts outside the platform.
    fn outbound(&self) -> &crate::outbound::Outbound;
    /// The key stored secrets are sealed with.
    fn secrets(&self) -> &crate::secrets::SecretKey;
    /// The address people reach this server at, when the operator gave one: links in e-mails.
    fn public_url(&self) -> Option<&crate::links::PublicUrl>;
    /// Sends a notification in the session's transaction and wakes this node's relay.
    fn notify(
        &self,
        session: &mut Session,
        notification: &crate::notify::NewNotification<'_>,
    ) -> Result<Vec<crate::notify::Notification>, crate::notify::NotifyError>;
    /// Queues a plugin's e-mail in the transaction of `conn` (WIT 0.2.2 `mail`), once per the
    /// plugin's key.
    fn queue_mail(
        &self,
        conn: &mut crate::storage::DbConn,
        company_id: &str,
        plugin: &str,
        mail: host::PluginMail,
    ) -> Result<host::QueuedMail, crate::records::RecordError>;
}
