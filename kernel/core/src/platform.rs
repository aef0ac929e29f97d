//! The composition root: the kernel's shared services (database, plugin runtime, event bus)
//! and the glue that lets the record store reach plugins without depending on them.

use std::sync::Arc;

use crate::access::{self, AccessError, CompanyScope};
use crate::bus::{Bus, BusConfig, BusKernel};
use crate::events::NewEvent;
use crate::fair_use::{FairUse, Settings};
use crate::files::{FileSettings, Files};
use crate::links::PublicUrl;
use crate::notify::{Live, NewNotification, Notification, NotifyError};
use crate::outbound::{Outbound, OutboundSettings};
use crate::plugins::host::{PluginMail, QueuedMail};
use crate::plugins::{Kernel, PluginError, PluginHost, host};
use crate::records::{Collection, Hooks, RecordError, WriteCheck};
use crate::secrets::SecretKey;
use crate::session::Session;
use crate::storage::{Db, DbConn, StoreError};

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
    /// Fair use between companies: the per-company gate, deadlines, quotas, quarantine.
    pub fair: Arc<FairUse>,
    /// Uploaded files and their blobs.
    pub files: Files,
    /// This node's live notifications.
    pub live: Live,
    /// Requests to hosts outside the platform.
    pub outbound: Outbound,
    /// The key companies' stored secrets (mailbox passwords) are sealed with.
    pub secrets: SecretKey,
    /// The address people reach this server at, for links in e-mails.
    pub public_url: Option<PublicUrl>,
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
        Platform::with_settings(db, bus, Settings::default())
    }

    /// Wraps an open database, with explicit event-bus and fair-use settings.
    pub fn with_settings(db: Db, bus: BusConfig, fair: Settings) -> anyhow::Result<Platform> {
        let plugins = PluginHost::new()?;
        plugins.set_write_hold_ms(fair.write_hold_ms);
        // Until the operator names a place, files go to a directory of this process's own.
        let files = Files::open(FileSettings::in_dir(std::env::temp_dir().join(format!(
            "erp-files-{}-{}",
            std::process::id(),
            crate::ids::new_id()
        ))));
        let live = Live::new(db.clone());
        let outbound = Outbound::new(OutboundSettings::default());
        // Until the operator gives a key, secrets are sealed with one that lives as long as the
        // process (the command line always gives one).
        let secrets = SecretKey::random().map_err(|e| anyhow::anyhow!(e))?;
        Ok(Platform {
            db,
            plugins,
            bus: Bus::new(bus),
            fair: Arc::new(FairUse::new(fair)),
            files,
            live,
            outbound,
            secrets,
            public_url: None,
        })
    }

    /// The same platform with secrets sealed under `key`.
    pub fn with_secrets(mut self, key: SecretKey) -> Platform {
        self.secrets = key;
        self
    }

    /// The same platform with links in e-mails starting at `url`.
    pub fn with_public_url(mut self, url: PublicUrl) -> Platform {
        self.public_url = Some(url);
        self
    }

    /// The same platform with outbound requests as `settings` say.
    pub fn with_outbound(mut self, settings: OutboundSettings) -> Platform {
        self.outbound = Outbound::new(settings);
        self
    }

    /// The same platform with files kept as `files` says.
    pub fn with_files(mut self, files: Files) -> Platform {
        self.files = files;
        self
    }
}

impl Platform {
    /// This node's metrics in the Prometheus text format, with the bus's queue and the
    /// database pool read now.
    pub fn metrics_text(&self) -> Result<String, StoreError> {
        let queue = self.db.read_blocking(crate::bus::log::queue)?;
        let (in_use, idle) = self.db.pool_use();
        Ok(self.plugins.metrics().render(crate::metrics::Gauges {
            pending: queue.pending,
            dead: queue.dead,
            oldest_pending_seconds: queue.oldest_pending_age.map_or(0.0, |a| a.max(0) as f64 / 1e6),
            pool_in_use: i64::from(in_use),
            pool_idle: i64::from(idle),
        }))
    }

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
            scope.permissions =
                self.effective_permissions(conn, company_id, access::roles::MEMBER)?.unwrap_or_default();
        }
        Ok(scope)
    }

    /// Everything a role grants in a company: its own permissions, and for the built-in
    /// `member` also the default permissions every enabled plugin gives members. `None` when
    /// there is no such role. Whoever hands out or changes a role must hold all of these.
    pub fn effective_permissions(
        &self,
        conn: &mut crate::storage::DbConn,
        company_id: &str,
        role: &str,
    ) -> Result<Option<Vec<String>>, AccessError> {
        let Some(found) = access::roles::get(conn, company_id, role)? else {
            return Ok(None);
        };
        let mut permissions = found.permissions;
        if role == access::roles::MEMBER {
            let manifests =
                self.plugins.enabled_manifests(conn, company_id).map_err(|e| AccessError::Internal(e.to_string()))?;
            for m in manifests {
                permissions.extend(m.default_permissions(access::roles::MEMBER));
            }
        }
        Ok(Some(permissions))
    }
}

impl Kernel for Platform {
    fn db(&self) -> &Db {
        &self.db
    }

    fn plugins(&self) -> &PluginHost {
        &self.plugins
    }

    fn emit(&self, session: &mut Session, event: NewEvent<'_>) -> Result<String, PluginError> {
        crate::bus::emit(self, session, event)
    }

    fn handle(&self) -> Arc<dyn Kernel> {
        Arc::new(self.clone())
    }

    fn fair(&self) -> &FairUse {
        &self.fair
    }

    fn files(&self) -> &Files {
        &self.files
    }

    fn outbound(&self) -> &Outbound {
        &self.outbound
    }

    fn secrets(&self) -> &SecretKey {
        &self.secrets
    }

    fn public_url(&self) -> Option<&PublicUrl> {
        self.public_url.as_ref()
    }

    fn notify(
        &self,
        session: &mut Session,
        notification: &NewNotification<'_>,
    ) -> Result<Vec<Notification>, NotifyError> {
        let sent = crate::notify::inbox::send(session.conn()?, notification)?;
        if !sent.is_empty() {
            self.live.wake();
        }
        Ok(sent)
    }

    fn queue_mail(
        &self,
        conn: &mut DbConn,
        company_id: &str,
        plugin: &str,
        mail: PluginMail,
    ) -> Result<QueuedMail, RecordError> {
        crate::mail::outbox::queue_plugin_mail(conn, company_id, plugin, mail)
    }
}

impl BusKernel for Platform {
    fn bus(&self) -> &Bus {
        &self.bus
    }
}

impl Hooks for Platform {
    fn validate_write(&self, session: &mut Session, coll: &Collection, check: &WriteCheck) -> Result<(), RecordError> {
        let company = session.company_id.clone();
        let active =
            Arc::new(self.plugins.active(session.reader()?, &company, &coll.plugin).map_err(RecordError::Plugin)?);
        self.plugins.invoke(self, session, &active, None, host::Call::Validate { collection: &coll.name, check })?;
        Ok(())
    }

    fn publish(&self, session: &mut Session, event: NewEvent<'_>) -> Result<(), RecordError> {
        crate::bus::emit(self, session, event)?;
        Ok(())
    }

    fn quotas(&self) -> Option<crate::fair_use::Quotas> {
        Some(self.fair.settings.quotas)
    }
}
