//! The per-invocation host state and the kernel's implementation of the WIT imports, for
//! every WIT line the kernel links (0.1.x and 0.2.x side by side: the same code, each line's
//! generated types).
//!
//! Every import is scoped by the kernel: the company comes from the session, never from the
//! plugin; collections resolve against the calling plugin's manifest and the capabilities the
//! company's admin granted. Errors are WIT values; only kernel faults and failures of nested
//! plugin calls trap.

use std::sync::Arc;

use serde_json::Value;
use wasmtime::component::{HasData, ResourceTable};
use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::stdio::CappedPipe;
use crate::access::CompanyScope;
use crate::clock;
use crate::plugins::registry::Active;
use crate::plugins::{GuestError, Kernel, PluginError};
use crate::records::{self, Caller, Collection, PluginCaller, RecordError};
use crate::session::Session;

/// Largest JSON argument of one host call.
pub const MAX_ARG_BYTES: usize = 1024 * 1024;
/// Total bytes a plugin may pass to host calls in one invocation.
pub const MAX_TOTAL_BYTES: usize = 64 * 1024 * 1024;
/// Host calls allowed in one invocation.
pub const MAX_CALLS: u32 = 100_000;
/// Wasm tables and instances a plugin may create, and table elements per table.
const MAX_TABLES: usize = 64;
const MAX_INSTANCES: usize = 64;
const MAX_TABLE_ELEMENTS: usize = 100_000;
/// Host resource handles (WASI streams and the like) a plugin may hold at once.
pub const MAX_HANDLES: usize = 1024;

/// Everything one invocation of one plugin can reach.
pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(super) limits: StoreLimits,
    pub(super) session: Session,
    pub(super) active: Arc<Active>,
    pub(super) scope: Option<CompanyScope>,
    pub(super) platform: Arc<dyn Kernel>,
    pub(super) stdout: CappedPipe,
    pub(super) stderr: CappedPipe,
    caller: PluginCaller,
    calls: u32,
    bytes: usize,
    pub(super) clock: super::GuestClock,
    /// The configuration with the company's details, read once per call: plugins ask for it
    /// per line or per record.
    config: Option<String>,
    /// Files this invocation stored (0.2.0): readable by it before any record holds them.
    pub(super) stored_files: Vec<String>,
    /// The file being read, kept open so that reading on where the last read ended is cheap.
    pub(super) reading: Option<super::files::Reading>,
}

impl HostState {
    pub(super) fn new(
        platform: Arc<dyn Kernel>,
        session: Session,
        active: Arc<Active>,
        scope: Option<CompanyScope>,
    ) -> HostState {
        let stdout = CappedPipe::default();
        let stderr = CappedPipe::default();
        // No environment, no arguments, no preopened directories, no network: nothing with
        // authority is linked, and the context holds none either.
        let wasi = WasiCtx::builder().stdout(stdout.clone()).stderr(stderr.clone()).build();
        let limits = StoreLimitsBuilder::new()
            .memory_size(active.loaded.manifest.limits().memory_bytes)
            .memories(8)
            .tables(MAX_TABLES)
            .instances(MAX_INSTANCES)
            .table_elements(MAX_TABLE_ELEMENTS)
            .trap_on_grow_failure(true)
            .build();
        let caller = PluginCaller {
            name: active.loaded.manifest.plugin.name.clone(),
            declared: active.loaded.manifest.capabilities.clone(),
            granted: active.grants.clone(),
        };
        let mut table = ResourceTable::new();
        table.set_max_capacity(MAX_HANDLES);
        let clock = super::GuestClock::new(std::time::Instant::now(), None);
        HostState {
            wasi,
            table,
            limits,
            session,
            active,
            scope,
            platform,
            stdout,
            stderr,
            caller,
            calls: 0,
            bytes: 0,
            clock,
            config: None,
            stored_files: Vec::new(),
            reading: None,
        }
    }

    pub(super) fn plugin(&self) -> &str {
        &self.caller.name
    }

    /// Counts a host call and its argument bytes against the invocation's budget; the error
    /// says which limit it passed.
    fn charge(&mut self, args: &[&str]) -> Result<(), String> {
        self.charge_bytes(args.iter().map(|a| a.len()).sum())?;
        if args.iter().any(|a| a.len() > MAX_ARG_BYTES) {
            return Err(format!("an argument is larger than {MAX_ARG_BYTES} bytes"));
        }
        Ok(())
    }

    /// Counts a host call moving `size` bytes (arguments, or file content either way).
    pub(super) fn charge_bytes(&mut self, size: usize) -> Result<(), String> {
        self.calls += 1;
        self.bytes += size;
        if self.calls > MAX_CALLS {
            return Err(format!("more than {MAX_CALLS} host calls in one invocation"));
        }
        if self.bytes > MAX_TOTAL_BYTES {
            return Err(format!("more than {MAX_TOTAL_BYTES} bytes passed between the plugin and the kernel"));
        }
        Ok(())
    }

    /// The caller as the record store knows it.
    pub(super) fn caller(&self) -> PluginCaller {
        self.caller.clone()
    }

    /// Resolves `name` (own) or `plugin.name` (another plugin's, enabled in this company).
    pub(super) fn collection(&mut self, name: &str) -> Result<Collection, RecordError> {
        let (plugin, coll) = match name.split_once('.') {
            Some((p, c)) => (p.to_string(), c.to_string()),
            None => (self.plugin().to_string(), name.to_string()),
        };
        let manifest = if plugin == self.plugin() {
            self.active.loaded.manifest.clone()
        } else {
            let company = self.session.company_id.clone();
            let other = self.platform.plugins().active(self.session.reader()?, &company, &plugin).map_err(|_| {
                RecordError::NotFound(format!("collection {name} (plugin {plugin} is not enabled here)"))
            })?;
            other.loaded.manifest.clone()
        };
        Collection::new(manifest, &coll).ok_or_else(|| RecordError::NotFound(format!("collection {name}")))
    }
}

fn parse_json(field: &str, text: &str) -> Result<Value, RecordError> {
    serde_json::from_str(text)
        .map_err(|e| RecordError::Invalid(crate::validation::Invalid::one(field, format!("is not JSON: {e}"))))
}

fn version(v: Option<u64>) -> Result<Option<i64>, RecordError> {
    v.map(|v| {
        i64::try_from(v)
            .map_err(|_| RecordError::Invalid(crate::validation::Invalid::one("expected-version", "too large")))
    })
    .transpose()
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// Marker for `bindgen!`'s `add_to_linker`: the host data is the store's `HostState`.
pub struct HostData;

impl HasData for HostData {
    type Data<'a> = &'a mut HostState;
}

/// The kernel's side of the interfaces every WIT line shares, written once and expanded for
/// each line's generated bindings (`context`, `events`, `ids`, `log`, `store`, `time` and
/// `types` in scope where it is expanded).
macro_rules! shared_imports {
    () => {
        /// Maps a record-store error to a WIT error value; faults become traps.
        fn to_wit(e: RecordError) -> Result<types::Error, wasmtime::Error> {
            Ok(match e {
                RecordError::NotFound(m) => types::Error::NotFound(m),
                RecordError::Forbidden(m) => types::Error::AccessDenied(format!("missing {m}")),
                e @ RecordError::ReadOnly(..) => types::Error::AccessDenied(e.to_string()),
                RecordError::Invalid(i) => types::Error::Invalid(
                    i.0.into_iter().map(|f| types::FieldError { field: f.field, message: f.message }).collect(),
                ),
                RecordError::Conflict(m) => types::Error::Conflict(m),
                RecordError::Quota(m) => types::Error::LimitExceeded(m),
                RecordError::Plugin(PluginError::Quota(m)) => types::Error::LimitExceeded(m),
                // A hook's refusal keeps its kind where the caller can act on it: fix the input
                // (invalid), retry (conflict, such as a concurrent change), or stop (access denied).
                RecordError::Plugin(PluginError::Refused { plugin, error }) => match guest_to_wit(error) {
                    types::Error::Invalid(fields) => types::Error::Invalid(fields),
                    types::Error::Conflict(m) => types::Error::Conflict(format!("plugin {plugin} refused: {m}")),
                    types::Error::AccessDenied(m) => {
                        types::Error::AccessDenied(format!("plugin {plugin} refused: {m}"))
                    }
                    other => types::Error::Failed(format!(
                        "plugin {plugin} refused: {}",
                        GuestError::from(other).to_string()
                    )),
                },
                RecordError::Plugin(p) => return Err(wasmtime::Error::new(p)),
                RecordError::Store(s) => return Err(wasmtime::Error::new(PluginError::Store(s))),
                RecordError::Internal(m) => return Err(wasmtime::Error::msg(m)),
            })
        }

        fn entry(r: records::StoredRecord) -> store::Entry {
            store::Entry {
                id: r.id,
                version: r.version as u64,
                data: Value::Object(r.data).to_string(),
                created_at: clock::to_rfc3339(r.created_at),
                updated_at: clock::to_rfc3339(r.updated_at),
            }
        }

        /// Maps a plugin's error value (passed on from a nested call) to this line's WIT value.
        fn guest_to_wit(e: GuestError) -> types::Error {
            match e {
                GuestError::AccessDenied(m) => types::Error::AccessDenied(m),
                GuestError::NotFound(m) => types::Error::NotFound(m),
                GuestError::Invalid(v) => types::Error::Invalid(
                    v.into_iter().map(|f| types::FieldError { field: f.field, message: f.message }).collect(),
                ),
                GuestError::Conflict(m) => types::Error::Conflict(m),
                GuestError::LimitExceeded(m) => types::Error::LimitExceeded(m),
                GuestError::Failed(m) => types::Error::Failed(m),
            }
        }

        impl From<types::Error> for GuestError {
            fn from(e: types::Error) -> GuestError {
                match e {
                    types::Error::AccessDenied(m) => GuestError::AccessDenied(m),
                    types::Error::NotFound(m) => GuestError::NotFound(m),
                    types::Error::Invalid(v) => GuestError::Invalid(
                        v.into_iter().map(|f| crate::validation::FieldError::new(f.field, f.message)).collect(),
                    ),
                    types::Error::Conflict(m) => GuestError::Conflict(m),
                    types::Error::LimitExceeded(m) => GuestError::LimitExceeded(m),
                    types::Error::Failed(m) => GuestError::Failed(m),
                }
            }
        }

        /// Turns a record-store error into a WIT error value, or a trap for kernel faults and
        /// failures of nested plugin calls (which must abort the whole invocation).
        fn answer<T>(r: Result<T, RecordError>) -> wasmtime::Result<Result<T, types::Error>> {
            match r {
                Ok(v) => Ok(Ok(v)),
                Err(e) => to_wit(e).map(Err),
            }
        }

        impl types::Host for HostState {}

        impl context::Host for HostState {
            fn current(&mut self) -> wasmtime::Result<context::CallContext> {
                Ok(context::CallContext {
                    company_id: self.session.company_id.clone(),
                    user_id: self.session.user_id.clone(),
                    locale: self.session.locale.clone(),
                    plugin: self.plugin().to_string(),
                    plugin_version: self.active.loaded.manifest.plugin.version.to_string(),
                })
            }

            /// The plugin's own settings, with the company's details and shared settings under
            /// `company` (a key no plugin may declare).
            fn config(&mut self) -> wasmtime::Result<String> {
                if let Some(text) = &self.config {
                    return Ok(text.clone());
                }
                let mut config = self.active.config.clone();
                let company = self.session.company_id.clone();
                let details = self
                    .session
                    .reader()
                    .ok()
                    .and_then(|conn| crate::identity::profile::get(conn, &company).ok())
                    .map(|(name, profile)| crate::identity::profile::as_json(&name, &profile));
                if let (Some(object), Some(details)) = (config.as_object_mut(), details) {
                    object.insert(crate::plugins::manifest::COMPANY_CONFIG_KEY.into(), details);
                }
                Ok(self.config.insert(config.to_string()).clone())
            }

            fn has_permission(&mut self, permission: String) -> wasmtime::Result<bool> {
                Ok(self.scope.as_ref().is_some_and(|s| s.can(&permission)))
            }
        }

        impl store::Host for HostState {
            fn get(&mut self, collection: String, id: String) -> wasmtime::Result<Result<store::Entry, types::Error>> {
                if let Err(e) = self.charge(&[&collection, &id]) {
                    return Ok(Err(types::Error::LimitExceeded(e)));
                }
                let result = (|| {
                    let coll = self.collection(&collection)?;
                    let company = self.session.company_id.clone();
                    let caller = self.caller.clone();
                    records::get(self.session.reader()?, &company, Caller::Plugin(&caller), &coll, &id).map(entry)
                })();
                answer(result)
            }

            fn create(
                &mut self,
                collection: String,
                data: String,
            ) -> wasmtime::Result<Result<store::Entry, types::Error>> {
                if let Err(e) = self.charge(&[&collection, &data]) {
                    return Ok(Err(types::Error::LimitExceeded(e)));
                }
                let result = (|| {
                    let coll = self.collection(&collection)?;
                    let data = parse_json("data", &data)?;
                    let caller = self.caller.clone();
                    let platform = self.platform.clone();
                    records::create(&mut self.session, &*platform, Caller::Plugin(&caller), &coll, data).map(entry)
                })();
                answer(result)
            }

            fn update(
                &mut self,
                collection: String,
                id: String,
                patch: String,
                expected_version: Option<u64>,
            ) -> wasmtime::Result<Result<store::Entry, types::Error>> {
                if let Err(e) = self.charge(&[&collection, &id, &patch]) {
                    return Ok(Err(types::Error::LimitExceeded(e)));
                }
                let result = (|| {
                    let coll = self.collection(&collection)?;
                    let patch = parse_json("patch", &patch)?;
                    let expected = version(expected_version)?;
                    let caller = self.caller.clone();
                    let platform = self.platform.clone();
                    records::update(&mut self.session, &*platform, Caller::Plugin(&caller), &coll, &id, patch, expected)
                        .map(entry)
                })();
                answer(result)
            }

            fn delete(
                &mut self,
                collection: String,
                id: String,
                expected_version: Option<u64>,
            ) -> wasmtime::Result<Result<(), types::Error>> {
                if let Err(e) = self.charge(&[&collection, &id]) {
                    return Ok(Err(types::Error::LimitExceeded(e)));
                }
                let result = (|| {
                    let coll = self.collection(&collection)?;
                    let expected = version(expected_version)?;
                    let caller = self.caller.clone();
                    let platform = self.platform.clone();
                    records::delete(&mut self.session, &*platform, Caller::Plugin(&caller), &coll, &id, expected)
                })();
                answer(result)
            }

            fn query(
                &mut self,
                collection: String,
                query: String,
            ) -> wasmtime::Result<Result<store::Page, types::Error>> {
                if let Err(e) = self.charge(&[&collection, &query]) {
                    return Ok(Err(types::Error::LimitExceeded(e)));
                }
                let result = (|| {
                    let coll = self.collection(&collection)?;
                    let req: records::query::QueryRequest = serde_json::from_str(&query)
                        .map_err(|e| RecordError::Invalid(crate::validation::Invalid::one("query", e.to_string())))?;
                    let company = self.session.company_id.clone();
                    let caller = self.caller.clone();
                    let page = records::find(self.session.reader()?, &company, Caller::Plugin(&caller), &coll, &req)?;
                    Ok(store::Page {
                        entries: page.records.into_iter().map(entry).collect(),
                        next_cursor: page.next_cursor,
                    })
                })();
                answer(result)
            }

            fn aggregate(
                &mut self,
                collection: String,
                request: String,
            ) -> wasmtime::Result<Result<String, types::Error>> {
                if let Err(e) = self.charge(&[&collection, &request]) {
                    return Ok(Err(types::Error::LimitExceeded(e)));
                }
                let result = (|| {
                    let coll = self.collection(&collection)?;
                    let req: records::aggregate::AggregateRequest = serde_json::from_str(&request)
                        .map_err(|e| RecordError::Invalid(crate::validation::Invalid::one("request", e.to_string())))?;
                    let company = self.session.company_id.clone();
                    let caller = self.caller.clone();
                    records::aggregate(self.session.reader()?, &company, Caller::Plugin(&caller), &coll, &req)
                        .map(|v| v.to_string())
                })();
                answer(result)
            }
        }

        impl events::Host for HostState {
            fn publish(&mut self, name: String, payload: String) -> wasmtime::Result<Result<String, types::Error>> {
                if let Err(e) = self.charge(&[&name, &payload]) {
                    return Ok(Err(types::Error::LimitExceeded(e)));
                }
                if let Err(msg) = crate::events::check_publish_name(self.plugin(), &name) {
                    return Ok(Err(types::Error::AccessDenied(msg)));
                }
                // Record events come from the kernel only, so subscribers can trust them.
                let record_event = name.rsplit_once('.').is_some_and(|(head, what)| {
                    matches!(what, "created" | "updated" | "deleted")
                        && head
                            .strip_prefix(self.plugin())
                            .and_then(|c| c.strip_prefix('.'))
                            .is_some_and(|c| self.active.loaded.manifest.collections.contains_key(c))
                });
                if record_event {
                    return Ok(Err(types::Error::AccessDenied(format!(
                        "{name} is a record event of a collection; the kernel emits those itself"
                    ))));
                }
                // Mail outcomes too, so a subscriber can trust that a message went out.
                let mail_outcome = name
                    .strip_prefix(self.plugin())
                    .and_then(|rest| rest.strip_prefix(".mail."))
                    .is_some_and(|what| ["sent", "failed", "bounced", "unsubscribed"].contains(&what));
                if mail_outcome {
                    return Ok(Err(types::Error::AccessDenied(format!(
                        "{name} tells what became of an e-mail; the kernel emits it itself"
                    ))));
                }
                if payload.len() > crate::events::MAX_PAYLOAD {
                    return Ok(Err(types::Error::LimitExceeded(format!(
                        "event payload over {} bytes",
                        crate::events::MAX_PAYLOAD
                    ))));
                }
                let result = (|| {
                    let payload = parse_json("payload", &payload)?;
                    let source = self.plugin().to_string();
                    let platform = self.platform.clone();
                    let event = crate::events::NewEvent { name: &name, source: &source, payload, collection: None };
                    Ok(platform.emit(&mut self.session, event)?)
                })();
                answer(result)
            }
        }

        impl log::Host for HostState {
            fn write(&mut self, level: log::Level, message: String) -> wasmtime::Result<()> {
                if self.charge(&[&message]).is_err() {
                    return Ok(());
                }
                let message: String = message.chars().take(4096).collect();
                let plugin = self.plugin().to_string();
                let company = self.session.company_id.as_str();
                match level {
                    log::Level::Trace => tracing::trace!(plugin, company, "{message}"),
                    log::Level::Debug => tracing::debug!(plugin, company, "{message}"),
                    log::Level::Info => tracing::info!(plugin, company, "{message}"),
                    log::Level::Warn => tracing::warn!(plugin, company, "{message}"),
                    log::Level::Error => tracing::error!(plugin, company, "{message}"),
                }
                Ok(())
            }
        }

        impl time::Host for HostState {
            fn now(&mut self) -> wasmtime::Result<String> {
                Ok(clock::to_rfc3339(clock::now()))
            }
        }

        impl ids::Host for HostState {
            fn new_id(&mut self) -> wasmtime::Result<String> {
                Ok(crate::ids::new_id())
            }
        }
    };
}

/// The 0.1.x line (plugins built against 0.1.0 and 0.1.1).
pub(super) mod v01 {
    use super::*;
    use crate::plugins::host::bindings::v01::erp::plugin::{context, events, ids, log, store, time, types};

    shared_imports!();
}

/// The 0.2.x line: the shared interfaces, files, notifications, outbound requests, mail and
/// documents.
pub(super) mod v02 {
    use super::*;
    use crate::plugins::host::bindings::v02::erp::plugin::{
        context, documents, events, files, http, ids, log, mail, notify, store, time, types,
    };
    use crate::plugins::host::files as kernel_files;
    use crate::plugins::host::notices;

    shared_imports!();

    fn file_info(row: crate::files::FileRow) -> files::FileInfo {
        files::FileInfo {
            id: row.id,
            name: row.name,
            content_type: row.content_type,
            size: row.size.max(0) as u64,
            sha256: row.sha256,
            created_at: clock::to_rfc3339(row.created_at),
        }
    }

    impl files::Host for HostState {
        fn create(
            &mut self,
            name: String,
            content_type: Option<String>,
            content: Vec<u8>,
        ) -> wasmtime::Result<Result<files::FileInfo, types::Error>> {
            let args = name.len() + content_type.as_ref().map_or(0, String::len);
            if let Err(e) = self.charge_bytes(args + content.len()) {
                return Ok(Err(types::Error::LimitExceeded(e)));
            }
            answer(kernel_files::create(self, &name, content_type.as_deref(), content).map(file_info))
        }

        fn info(&mut self, id: String) -> wasmtime::Result<Result<files::FileInfo, types::Error>> {
            if let Err(e) = self.charge(&[&id]) {
                return Ok(Err(types::Error::LimitExceeded(e)));
            }
            answer(kernel_files::readable(self, &id).map(file_info))
        }

        fn read(&mut self, id: String, offset: u64, length: u32) -> wasmtime::Result<Result<Vec<u8>, types::Error>> {
            let length = (length as usize).min(kernel_files::MAX_READ_BYTES);
            if let Err(e) = self.charge_bytes(id.len() + length) {
                return Ok(Err(types::Error::LimitExceeded(e)));
            }
            answer(kernel_files::read(self, &id, offset, length))
        }

        fn attached(
            &mut self,
            collection: String,
            record_id: String,
        ) -> wasmtime::Result<Result<Vec<files::FileInfo>, types::Error>> {
            if let Err(e) = self.charge(&[&collection, &record_id]) {
                return Ok(Err(types::Error::LimitExceeded(e)));
            }
            answer(
                kernel_files::attached(self, &collection, &record_id)
                    .map(|rows| rows.into_iter().map(file_info).collect()),
            )
        }
    }

    impl notify::Host for HostState {
        fn send(&mut self, n: notify::Notification) -> wasmtime::Result<Result<u32, types::Error>> {
            let words = n.title.iter().chain(&n.body).map(|(l, t)| l.len() + t.len()).sum::<usize>();
            let link = n.link.as_ref().map_or(0, |(c, r)| c.len() + r.len());
            let size = words + link + n.kind.len() + n.recipients.iter().map(String::len).sum::<usize>();
            if let Err(e) = self.charge_bytes(size) {
                return Ok(Err(types::Error::LimitExceeded(e)));
            }
            let importance = match n.importance {
                notify::Importance::Low => crate::notify::Importance::Low,
                notify::Importance::Normal => crate::notify::Importance::Normal,
                notify::Importance::High => crate::notify::Importance::High,
            };
            let message = notices::Message {
                recipients: n.recipients,
                kind: n.kind,
                title: n.title,
                body: n.body,
                link: n.link,
                importance,
            };
            answer(notices::send(self, message))
        }
    }
    impl http::Host for HostState {
        fn send(&mut self, r: http::Request) -> wasmtime::Result<Result<http::Response, types::Error>> {
            let size = r.method.len()
                + r.url.len()
                + r.headers.iter().map(|(n, v)| n.len() + v.len()).sum::<usize>()
                + r.body.as_ref().map_or(0, Vec::len)
                + r.idempotency_key.as_ref().map_or(0, String::len);
            if let Err(e) = self.charge_bytes(size) {
                return Ok(Err(types::Error::LimitExceeded(e)));
            }
            let request = crate::outbound::Request {
                method: r.method,
                url: r.url,
                headers: r.headers,
                body: r.body,
                idempotency_key: r.idempotency_key,
            };
            Ok(match crate::plugins::host::http::send(self, request) {
                Ok(a) => {
                    if let Err(e) = self.charge_bytes(a.body.len()) {
                        return Ok(Err(types::Error::LimitExceeded(e)));
                    }
                    Ok(http::Response { status: a.status, headers: a.headers, body: a.body })
                }
                Err(crate::outbound::OutboundError::Denied(m)) => Err(types::Error::AccessDenied(m)),
                Err(crate::outbound::OutboundError::Invalid(m)) => {
                    Err(types::Error::Invalid(vec![types::FieldError { field: "request".into(), message: m }]))
                }
                Err(crate::outbound::OutboundError::Limit(m)) => Err(types::Error::LimitExceeded(m)),
                Err(crate::outbound::OutboundError::Failed(m)) => Err(types::Error::Failed(m)),
            })
        }
    }

    impl mail::Host for HostState {
        fn send(&mut self, m: mail::Message) -> wasmtime::Result<Result<mail::Queued, types::Error>> {
            let texts = [&m.subject, &m.text, &m.key];
            let size = texts.iter().map(|t| t.len()).sum::<usize>()
                + m.html.as_ref().map_or(0, String::len)
                + m.to.iter().chain(&m.cc).chain(&m.references).chain(&m.attachments).map(String::len).sum::<usize>()
                + m.reply_to.as_ref().map_or(0, String::len)
                + m.in_reply_to.as_ref().map_or(0, String::len)
                + m.unsubscribe_url.as_ref().map_or(0, String::len);
            if let Err(e) = self.charge_bytes(size) {
                return Ok(Err(types::Error::LimitExceeded(e)));
            }
            let message = crate::plugins::host::PluginMail {
                to: m.to,
                cc: m.cc,
                reply_to: m.reply_to,
                subject: m.subject,
                text: m.text,
                html: m.html,
                in_reply_to: m.in_reply_to,
                references: m.references,
                unsubscribe_url: m.unsubscribe_url,
                key: m.key,
                attachments: Vec::new(),
            };
            match crate::plugins::host::mail::send(self, message, m.attachments) {
                Ok(q) => Ok(Ok(mail::Queued { id: q.id, message_id: q.message_id, created: q.created })),
                Err(crate::plugins::host::mail::Refusal::Denied(m)) => Ok(Err(types::Error::AccessDenied(m))),
                Err(crate::plugins::host::mail::Refusal::Record(e)) => answer(Err(e)),
            }
        }

        fn unsubscribe_link(&mut self, key: String) -> wasmtime::Result<Result<String, types::Error>> {
            match crate::plugins::host::mail::unsubscribe_link(self, &key) {
                Ok(url) => Ok(Ok(url)),
                Err(crate::plugins::host::mail::Refusal::Denied(m)) => Ok(Err(types::Error::AccessDenied(m))),
                Err(crate::plugins::host::mail::Refusal::Record(e)) => answer(Err(e)),
            }
        }
    }

    impl documents::Host for HostState {
        fn render(&mut self, r: documents::Request) -> wasmtime::Result<Result<documents::Rendered, types::Error>> {
            if let Err(e) = self.charge(&[&r.document, &r.language, &r.data, &r.name]) {
                return Ok(Err(types::Error::LimitExceeded(e)));
            }
            let rendered = crate::plugins::host::documents::render(self, &r.document, &r.language, &r.data, &r.name);
            answer(rendered.map(|d| documents::Rendered {
                file: file_info(d.file),
                pages: u32::try_from(d.pages).unwrap_or(u32::MAX),
                template_version: u32::try_from(d.template_version).unwrap_or(0),
            }))
        }
    }
}
