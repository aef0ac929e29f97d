//! The sandboxed plugin runtime: one wasmtime `Engine` with the pooling allocator and epoch
//! interruption, one `Linker` with the kernel's imports and the harmless part of WASI, an
//! `InstancePre` per plugin version, and a fresh `Store` per invocation with memory, time and
//! payload limits.
//!
//! Architecture invariant: nothing with authority is linked. There is no file system, no
//! network and no environment; a component importing any of them is refused at install, and
//! could not be instantiated anyway.

mod bindings;
mod documents;
mod files;
mod http;
mod mail;
mod notices;
mod state;
mod stdio;
mod wit_frozen;

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use semver::Version;
use wasmtime::component::{Component, HasData, Linker, ResourceTable};
use wasmtime::{CallHook, Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, UpdateDeadline};

use super::registry::{Active, Loaded};
use super::{GuestError, Kernel, Limit, PluginError};
use crate::access::CompanyScope;
use crate::records::{WriteCheck, WriteKind};
use crate::session::{MAX_DEPTH, Session};

pub use mail::{MAX_KEY_CHARS, MAX_MAIL_BYTES, MailFile, PluginMail, QueuedMail, check_key};
pub use state::HostState;

/// WIT versions of `erp:plugin` this kernel implements; plugins built against any of them load.
pub fn supported_wit() -> Vec<Version> {
    vec![Version::new(0, 1, 1), Version::new(0, 2, 4)]
}

/// The time one step of a plugin's demo data may take, in milliseconds.
pub const DEMO_STEP_MS: u32 = 60_000;
/// How often the epoch advances; time limits are counted in these ticks.
const TICK: Duration = Duration::from_millis(2);
/// Concurrent plugin instances (each a slot in the pooling allocator).
const SLOTS: u32 = 128;
/// Linear memory kept resident per pooled slot between calls.
const RESIDENT_BYTES: usize = 4 * 1024 * 1024;
pub use crate::fair_use::DEFAULT_WRITE_HOLD_MS;
/// Largest command answer, in bytes of JSON.
pub const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;

/// The plugin runtime and the cache of compiled plugin versions. Cheap to clone.
#[derive(Clone)]
pub struct PluginHost {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    linker: Linker<HostState>,
    engine_key: String,
    cache: Mutex<HashMap<String, Arc<Loaded>>>,
    manifests: Mutex<HashMap<String, Arc<super::manifest::Manifest>>>,
    stop: Arc<AtomicBool>,
    write_hold_ms: AtomicU32,
    metrics: Arc<crate::metrics::Metrics>,
    /// Artifacts compiled ahead of an install, by the package's SHA-256; taken by the install.
    ahead: Mutex<HashMap<[u8; 32], Vec<u8>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl std::fmt::Debug for PluginHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginHost").field("engine", &self.inner.engine_key).finish()
    }
}

/// One call into a plugin.
#[derive(Debug, Clone)]
pub enum Call<'a> {
    /// `run-command`.
    Command {
        /// Command name.
        name: &'a str,
        /// JSON input.
        input: &'a str,
    },
    /// `validate-write` for one of the plugin's collections.
    Validate {
        /// The collection.
        collection: &'a str,
        /// The write.
        check: &'a WriteCheck,
    },
    /// `handle-event` for a subscription.
    Event {
        /// Handler name from the subscription.
        handler: &'a str,
        /// The event, as this subscriber may see it.
        event: &'a DeliveredEvent,
        /// Inside the transaction (hook budget) or after commit (command budget).
        sync: bool,
    },
    /// `run-schedule`.
    Schedule {
        /// Schedule name.
        name: &'a str,
    },
    /// `migrate` after an upgrade.
    Migrate {
        /// The version upgraded from.
        from: &'a str,
    },
    /// `handle-webhook`.
    Webhook {
        /// Webhook name.
        name: &'a str,
        /// HTTP method.
        method: &'a str,
        /// Headers.
        headers: Vec<(String, String)>,
        /// Body.
        body: Vec<u8>,
    },
}

impl Call<'_> {
    fn is_hook(&self) -> bool {
        matches!(self, Call::Validate { .. } | Call::Event { sync: true, .. })
    }

    fn describe(&self) -> String {
        match self {
            Call::Command { name, .. } => format!("command {name}"),
            Call::Validate { collection, .. } => format!("validation of {collection}"),
            Call::Event { handler, event, .. } => format!("handler {handler} for {}", event.name),
            Call::Schedule { name } => format!("schedule {name}"),
            Call::Migrate { from } => format!("migration from {from}"),
            Call::Webhook { name, .. } => format!("webhook {name}"),
        }
    }
}

/// An event as delivered to one subscriber.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveredEvent {
    /// Event id.
    pub id: String,
    /// Event name.
    pub name: String,
    /// Payload as the subscriber may see it (JSON text).
    pub payload: String,
    /// Who caused it.
    pub actor: Option<String>,
    /// When (RFC 3339).
    pub occurred_at: String,
    /// Stable across redeliveries to this subscriber.
    pub idempotency_key: String,
}

/// What a plugin answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// JSON text from a command.
    Json(String),
    /// Nothing (hooks, schedules, migrations).
    Done,
    /// A webhook response.
    Webhook {
        /// HTTP status.
        status: u16,
        /// Content type.
        content_type: String,
        /// Body.
        body: Vec<u8>,
    },
}

struct IoData;

impl HasData for IoData {
    type Data<'a> = &'a mut ResourceTable;
}

/// Links the WASI interfaces without authority: streams, clocks, randomness, exit and the
/// standard streams (captured), an empty environment. No file system, no sockets.
fn link_wasi(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    use wasmtime_wasi::cli::{WasiCli, WasiCliView};
    use wasmtime_wasi::clocks::{WasiClocks, WasiClocksView};
    use wasmtime_wasi::p2::bindings::{cli, clocks, random, sync};
    use wasmtime_wasi::random::WasiRandom;
    use wasmtime_wasi::{WasiView, p2};

    fn table(s: &mut HostState) -> &mut ResourceTable {
        s.ctx().table
    }
    p2::bindings::io::error::add_to_linker::<HostState, IoData>(linker, table)?;
    sync::io::poll::add_to_linker::<HostState, IoData>(linker, table)?;
    sync::io::streams::add_to_linker::<HostState, IoData>(linker, table)?;
    clocks::wall_clock::add_to_linker::<HostState, WasiClocks>(linker, HostState::clocks)?;
    clocks::monotonic_clock::add_to_linker::<HostState, WasiClocks>(linker, HostState::clocks)?;
    random::random::add_to_linker::<HostState, WasiRandom>(linker, |s| s.ctx().ctx.random())?;
    random::insecure::add_to_linker::<HostState, WasiRandom>(linker, |s| s.ctx().ctx.random())?;
    random::insecure_seed::add_to_linker::<HostState, WasiRandom>(linker, |s| s.ctx().ctx.random())?;
    cli::exit::add_to_linker::<HostState, WasiCli>(linker, HostState::cli)?;
    cli::environment::add_to_linker::<HostState, WasiCli>(linker, HostState::cli)?;
    cli::stdin::add_to_linker::<HostState, WasiCli>(linker, HostState::cli)?;
    cli::stdout::add_to_linker::<HostState, WasiCli>(linker, HostState::cli)?;
    cli::stderr::add_to_linker::<HostState, WasiCli>(linker, HostState::cli)?;
    cli::terminal_input::add_to_linker::<HostState, WasiCli>(linker, HostState::cli)?;
    cli::terminal_output::add_to_linker::<HostState, WasiCli>(linker, HostState::cli)?;
    cli::terminal_stdin::add_to_linker::<HostState, WasiCli>(linker, HostState::cli)?;
    cli::terminal_stdout::add_to_linker::<HostState, WasiCli>(linker, HostState::cli)?;
    cli::terminal_stderr::add_to_linker::<HostState, WasiCli>(linker, HostState::cli)?;
    Ok(())
}

/// Interfaces a plugin may import (any 0.2.x version for WASI).
pub(crate) const ALLOWED_WASI: &[&str] = &[
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:clocks/wall-clock",
    "wasi:clocks/monotonic-clock",
    "wasi:random/random",
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
    "wasi:cli/exit",
    "wasi:cli/environment",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
];

/// The kernel's own interfaces.
pub(crate) const KERNEL_INTERFACES: &[&str] =
    &["types", "context", "store", "events", "log", "time", "ids", "files", "notify", "http", "mail", "documents"];

/// A plugin version ready to instantiate, for the WIT line it was built against.
#[derive(Clone)]
pub enum PluginPre {
    /// Built against 0.1.x.
    V01(bindings::v01::PluginPre<HostState>),
    /// Built against 0.2.x.
    V02(bindings::v02::PluginPre<HostState>),
}

/// Calls one export of `handlers` through a WIT line's bindings (the same code for each line,
/// over its own generated types).
macro_rules! call_handlers {
    ($line:ident, $h:expr, $store:ident, $call:ident) => {{
        use bindings::$line::exports::erp::plugin::handlers as wit;
        let h = $h;
        let answer = match $call {
            Call::Command { name, input } => {
                h.call_run_command(&mut *$store, name, &input.to_string())?.map(Answer::Json)
            }
            Call::Validate { collection, check } => {
                let kind = match check.kind {
                    WriteKind::Create => wit::WriteKind::Create,
                    WriteKind::Update => wit::WriteKind::Update,
                    WriteKind::Delete => wit::WriteKind::Delete,
                };
                let arg = wit::WriteCheck {
                    collection: collection.to_string(),
                    kind,
                    record_id: check.record_id.clone(),
                    before: check.before.as_ref().map(|v| v.to_string()),
                    after: check.after.as_ref().map(|v| v.to_string()),
                };
                h.call_validate_write(&mut *$store, &arg)?.map(|()| Answer::Done)
            }
            Call::Event { handler, event, .. } => {
                let arg = wit::Event {
                    id: event.id.clone(),
                    name: event.name.clone(),
                    payload: event.payload.clone(),
                    actor: event.actor.clone(),
                    occurred_at: event.occurred_at.clone(),
                    idempotency_key: event.idempotency_key.clone(),
                };
                h.call_handle_event(&mut *$store, handler, &arg)?.map(|()| Answer::Done)
            }
            Call::Schedule { name } => h.call_run_schedule(&mut *$store, name)?.map(|()| Answer::Done),
            Call::Migrate { from } => h.call_migrate(&mut *$store, from)?.map(|()| Answer::Done),
            Call::Webhook { name, method, headers, body } => {
                let req = wit::WebhookRequest { method: method.to_string(), headers, body };
                h.call_handle_webhook(&mut *$store, name, &req)?.map(|r| Answer::Webhook {
                    status: r.status,
                    content_type: r.content_type,
                    body: r.body,
                })
            }
        };
        Ok(answer.map_err(GuestError::from))
    }};
}

impl PluginHost {
    /// Builds the engine and linker and starts the epoch ticker.
    pub fn new() -> anyhow::Result<PluginHost> {
        let mut pool = PoolingAllocationConfig::new();
        pool.total_component_instances(SLOTS)
            .total_core_instances(SLOTS * 8)
            .total_memories(SLOTS * 2)
            .total_tables(SLOTS * 4)
            .total_stacks(SLOTS)
            .max_memory_size(super::manifest::MAX_MEMORY_MIB as usize * 1024 * 1024)
            // Reset reused slots by rewriting only the pages a call dirtied (PAGEMAP_SCAN on
            // Linux 6.7+) instead of unmapping them: no page faults and no TLB shootdowns on
            // the next call.
            .linear_memory_keep_resident(RESIDENT_BYTES)
            .table_keep_resident(64 * 1024)
            .pagemap_scan(wasmtime::Enabled::Auto);
        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .epoch_interruption(true)
            .max_wasm_stack(1024 * 1024)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&config)?;
        let mut linker = Linker::new(&engine);
        link_wasi(&mut linker)?;
        bindings::v01::Plugin::add_to_linker::<HostState, state::HostData>(&mut linker, |s| s)?;
        bindings::v02::Plugin::add_to_linker::<HostState, state::HostData>(&mut linker, |s| s)?;
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let engine_key = format!("{:016x}", hasher.finish());
        let stop = Arc::new(AtomicBool::new(false));
        let weak = engine.weak();
        let ticker_stop = stop.clone();
        std::thread::Builder::new().name("plugin-epoch".into()).spawn(move || {
            while !ticker_stop.load(Ordering::Relaxed) {
                std::thread::sleep(TICK);
                match weak.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => break,
                }
            }
        })?;
        Ok(PluginHost {
            inner: Arc::new(Inner {
                engine,
                linker,
                engine_key,
                cache: Mutex::new(HashMap::new()),
                manifests: Mutex::new(HashMap::new()),
                stop,
                write_hold_ms: AtomicU32::new(DEFAULT_WRITE_HOLD_MS),
                metrics: Arc::new(crate::metrics::Metrics::new()),
                ahead: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// How long plugin code may compute while holding the write lock, in ms.
    pub fn write_hold_ms(&self) -> u32 {
        self.inner.write_hold_ms.load(Ordering::Relaxed)
    }

    /// Sets [`PluginHost::write_hold_ms`].
    pub fn set_write_hold_ms(&self, ms: u32) {
        self.inner.write_hold_ms.store(ms.max(1), Ordering::Relaxed);
    }

    /// This node's metrics (plugin calls are counted here; the API and the bus add theirs).
    pub fn metrics(&self) -> &Arc<crate::metrics::Metrics> {
        &self.inner.metrics
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// Identifies compiled artifacts this engine can load.
    pub fn engine_key(&self) -> &str {
        &self.inner.engine_key
    }

    /// Compiles a component into an artifact for this engine (or takes the one
    /// [`PluginHost::compile_ahead`] made of these bytes).
    pub fn precompile(&self, bytes: &[u8]) -> wasmtime::Result<Vec<u8>> {
        use sha2::Digest;
        if !self.inner.ahead.lock().is_empty()
            && let Some(artifact) = self.inner.ahead.lock().remove(&<[u8; 32]>::from(sha2::Sha256::digest(bytes)))
        {
            return Ok(artifact);
        }
        self.inner.engine.precompile_component(bytes)
    }

    /// Compiles packages that are about to be installed one after another, all at once on
    /// their own threads: compiling one alone leaves cores idle in its serial phases, and a
    /// first start compiles several. Failures are left for the install to report.
    pub fn compile_ahead(&self, packages: &[&[u8]]) {
        use sha2::Digest;
        // As many at once as there are cores: each compile holds its own memory.
        let threads = std::thread::available_parallelism().map_or(2, usize::from).max(1);
        let next = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for _ in 0..threads.min(packages.len()) {
                scope.spawn(|| {
                    while let Some(bytes) = packages.get(next.fetch_add(1, Ordering::Relaxed)) {
                        if let Ok(artifact) = self.inner.engine.precompile_component(bytes) {
                            let key = <[u8; 32]>::from(sha2::Sha256::digest(bytes));
                            self.inner.ahead.lock().insert(key, artifact);
                        }
                    }
                });
            }
        });
    }

    /// Drops artifacts compiled ahead that no install took.
    pub fn forget_ahead(&self) {
        self.inner.ahead.lock().clear();
    }

    /// Loads an artifact made by [`PluginHost::precompile`] on an engine with the same key.
    pub fn component_from_artifact(&self, artifact: &[u8]) -> wasmtime::Result<Component> {
        // SAFETY: artifacts are produced by `precompile` of this same engine configuration
        // (the engine key is part of their storage key) and are stored only by the kernel.
        #[allow(unsafe_code)]
        unsafe {
            Component::deserialize(&self.inner.engine, artifact)
        }
    }

    /// Prepares a component for fast instantiation; fails when its imports do not match.
    pub fn prepare(&self, component: &Component) -> wasmtime::Result<PluginPre> {
        let pre = self.inner.linker.instantiate_pre(component)?;
        // The export tells the line: `handlers@0.2.x`, else `handlers@0.1.x`.
        match bindings::v02::PluginPre::new(pre.clone()) {
            Ok(v02) => Ok(PluginPre::V02(v02)),
            Err(newer) => bindings::v01::PluginPre::new(pre).map(PluginPre::V01).map_err(|_| newer),
        }
    }

    pub(super) fn cached(&self, sha256: &str) -> Option<Arc<Loaded>> {
        self.inner.cache.lock().get(sha256).cloned()
    }

    pub(super) fn remember(&self, loaded: Arc<Loaded>) {
        self.inner.cache.lock().insert(loaded.sha256.clone(), loaded);
    }

    pub(super) fn cached_manifest(&self, sha256: &str) -> Option<Arc<super::manifest::Manifest>> {
        self.inner.manifests.lock().get(sha256).cloned()
    }

    pub(super) fn remember_manifest(&self, sha256: &str, manifest: Arc<super::manifest::Manifest>) {
        self.inner.manifests.lock().insert(sha256.to_string(), manifest);
    }

    /// Runs one call into a plugin inside the session's transaction. The transaction is lent
    /// to the plugin's store and taken back afterwards, whatever happened.
    pub fn invoke(
        &self,
        platform: &dyn Kernel,
        session: &mut Session,
        active: &Arc<Active>,
        scope: Option<CompanyScope>,
        call: Call<'_>,
    ) -> Result<Answer, PluginError> {
        let manifest = &active.loaded.manifest;
        let plugin = manifest.plugin.name.clone();
        // Calls refused before they start are counted too, by the limit that refused them.
        let refused = |error: PluginError| -> Result<Answer, PluginError> {
            self.inner.metrics.plugin_call(&plugin, error_outcome(&error), 0.0);
            Err(error)
        };
        if session.depth >= MAX_DEPTH {
            return refused(PluginError::Failed {
                plugin: plugin.clone(),
                reason: format!("plugin calls nested deeper than {MAX_DEPTH}; stopped to prevent a loop"),
                limit: Some(Limit::Depth),
            });
        }
        let limits = manifest.limits();
        let ms = match call {
            Call::Event { sync: false, .. } => limits.handler_ms,
            _ if call.is_hook() => limits.hook_ms,
            // A demo step is the operator's one-off set-up, not a tenant's request: it gets
            // the time a large batch of sample data needs on a slower database.
            Call::Command { name, .. } if name == super::demo::DEMO_COMMAND => limits.command_ms.max(DEMO_STEP_MS),
            _ => limits.command_ms,
        };
        if session.past_deadline() {
            return refused(deadline_passed(&plugin));
        }
        if active.quarantined && session.bounded_writes {
            return refused(PluginError::Failed {
                plugin: plugin.clone(),
                reason: "it is quarantined in this company after repeatedly hitting its limits; an administrator can release it".to_string(),
                limit: Some(Limit::Quarantined),
            });
        }
        let child = session.child();
        let hold = child.bounded_writes.then(|| Duration::from_millis(u64::from(self.write_hold_ms())));
        let mut state = HostState::new(platform.handle(), child, active.clone(), scope);
        state.clock = GuestClock::new(Instant::now() + Duration::from_millis(u64::from(ms)), hold);
        let mut store = Store::new(&self.inner.engine, state);
        store.limiter(|s| &mut s.limits);
        store.call_hook(|mut ctx, hook| {
            let s = ctx.data_mut();
            let writing = s.session.is_writing();
            s.clock.transition(hook, writing);
            Ok(())
        });
        // Checked on every tick while guest code runs: the call's own limit, the request's
        // deadline, and how long it has computed while holding the write lock.
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|ctx| {
            let s = ctx.data();
            let now = Instant::now();
            if now >= s.clock.until {
                return Err(wasmtime::Trap::Interrupt.into());
            }
            if s.session.past_deadline() {
                return Err(wasmtime::Error::new(deadline_passed(&s.active.loaded.manifest.plugin.name)));
            }
            if let Some(hold) = s.clock.hold
                && s.session.is_writing()
                && s.clock.held() > hold
            {
                return Err(wasmtime::Error::new(PluginError::Failed {
                    plugin: s.active.loaded.manifest.plugin.name.clone(),
                    reason: format!(
                        "computed for more than {} ms while holding the write lock; other work was waiting (write first, compute before writing)",
                        hold.as_millis()
                    ),
                    limit: Some(Limit::WriteHold),
                }));
            }
            // A guest that computes for long gives its core up at every tick, so that request
            // threads of other companies waiting for a core get it at once.
            std::thread::yield_now();
            Ok(UpdateDeadline::Continue(1))
        });

        let what = call.describe();
        let started = Instant::now();
        let outcome = self.call_guest(&mut store, call);
        let state = store.into_data();
        flush_output(&plugin, &state);
        let (stderr, _) = state.stderr.contents();
        session.rejoin(state.session);
        let result = match outcome {
            Ok(Ok(answer)) => match &answer {
                Answer::Json(text) if text.len() > MAX_ANSWER_BYTES => Err(PluginError::Failed {
                    plugin: plugin.clone(),
                    reason: format!("{what} answered {} bytes, more than the {MAX_ANSWER_BYTES} allowed", text.len()),
                    limit: Some(Limit::Payload),
                }),
                _ => Ok(answer),
            },
            Ok(Err(guest)) => Err(PluginError::Refused { plugin: plugin.clone(), error: guest }),
            Err(err) => Err(classify(&plugin, &what, ms, limits.memory_bytes, err, &stderr)),
        };
        self.inner.metrics.plugin_call(&plugin, call_outcome(&result), started.elapsed().as_secs_f64());
        result
    }

    fn call_guest(&self, store: &mut Store<HostState>, call: Call<'_>) -> wasmtime::Result<Result<Answer, GuestError>> {
        match store.data().active.loaded.pre.clone() {
            PluginPre::V01(pre) => {
                let instance = pre.instantiate(&mut *store)?;
                call_handlers!(v01, instance.erp_plugin_handlers(), store, call)
            }
            PluginPre::V02(pre) => {
                let instance = pre.instantiate(&mut *store)?;
                call_handlers!(v02, instance.erp_plugin_handlers(), store, call)
            }
        }
    }
}

/// How much CPU a call's guest code used while its transaction was writing, measured at
/// every switch between guest and host. CPU time of the thread, not wall time: a guest that
/// waits for a core on a busy machine is not computing, and is not blamed for it.
#[derive(Debug)]
pub struct GuestClock {
    /// The call's own time limit (wall time).
    until: Instant,
    /// How long guest code may compute while the transaction writes; `None`: unbounded.
    hold: Option<Duration>,
    /// The thread's CPU time when guest code was entered (`None` while the host runs).
    guest_since: Option<Duration>,
    /// Guest CPU time so far while the transaction was writing.
    held: Duration,
}

impl GuestClock {
    pub(super) fn new(until: Instant, hold: Option<Duration>) -> GuestClock {
        GuestClock { until, hold, guest_since: None, held: Duration::ZERO }
    }

    /// The write lock is only taken inside host calls, so a stretch of guest code runs either
    /// wholly before the transaction writes or wholly after.
    fn transition(&mut self, hook: CallHook, writing: bool) {
        if self.hold.is_none() {
            return;
        }
        match hook {
            CallHook::CallingWasm | CallHook::ReturningFromHost => self.guest_since = Some(thread_cpu()),
            CallHook::CallingHost | CallHook::ReturningFromWasm => {
                if let Some(start) = self.guest_since.take()
                    && writing
                {
                    self.held += thread_cpu().saturating_sub(start);
                }
            }
        }
    }

    /// Guest CPU time while writing, up to now.
    fn held(&self) -> Duration {
        self.held + self.guest_since.map_or(Duration::ZERO, |start| thread_cpu().saturating_sub(start))
    }
}

/// CPU time used by the current thread.
#[cfg(unix)]
fn thread_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(t.tv_sec.max(0) as u64, t.tv_nsec.clamp(0, 999_999_999) as u32)
}

/// Wall time where the thread's CPU time is not available.
#[cfg(not(unix))]
fn thread_cpu() -> Duration {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now).elapsed()
}

fn deadline_passed(plugin: &str) -> PluginError {
    PluginError::Failed {
        plugin: plugin.to_string(),
        reason: "the request ran past its deadline; its work was rolled back".to_string(),
        limit: Some(Limit::Deadline),
    }
}

/// How a call ended, as `erp_plugin_calls_total` labels it.
fn call_outcome<T>(result: &Result<T, PluginError>) -> &'static str {
    result.as_ref().map_or_else(error_outcome, |_| "ok")
}

/// How a failed call ended: the plugin refused, a limit stopped it, or another error.
fn error_outcome(error: &PluginError) -> &'static str {
    match error {
        PluginError::Refused { .. } => "refused",
        PluginError::Failed { limit: Some(limit), .. } => limit.code(),
        _ => "error",
    }
}

/// Writes what the plugin printed to the log, under its name.
fn flush_output(plugin: &str, state: &HostState) {
    for (stream, pipe) in [("stdout", &state.stdout), ("stderr", &state.stderr)] {
        let (text, dropped) = pipe.contents();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            tracing::info!(plugin, stream, "{line}");
        }
        if dropped > 0 {
            tracing::warn!(plugin, stream, dropped, "plugin output beyond the cap was dropped");
        }
    }
}

/// Explains why a call failed: a limit, a panic, a trap, or a failure of a nested call.
fn classify(plugin: &str, what: &str, ms: u32, memory: usize, err: wasmtime::Error, stderr: &str) -> PluginError {
    if let Some(inner) = err.downcast_ref::<PluginError>() {
        return match inner {
            PluginError::Failed { plugin, reason, limit } => {
                PluginError::Failed { plugin: plugin.clone(), reason: reason.clone(), limit: *limit }
            }
            PluginError::Refused { plugin, error } => {
                PluginError::Refused { plugin: plugin.clone(), error: error.clone() }
            }
            other => PluginError::Internal(other.to_string()),
        };
    }
    let text = format!("{err:?}");
    let (reason, limit) = match err.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::Interrupt) => (format!("{what} ran out of time (limit {ms} ms)"), Some(Limit::Time)),
        Some(wasmtime::Trap::StackOverflow) => (format!("{what} overflowed its stack"), None),
        Some(wasmtime::Trap::UnreachableCodeReached) => {
            let panic = stderr.lines().rev().find(|l| l.contains("panicked")).map(str::to_string);
            match panic {
                Some(p) => (format!("{what} panicked: {p}"), None),
                None => (format!("{what} trapped (unreachable)"), None),
            }
        }
        Some(trap) => (format!("{what} trapped: {trap}"), None),
        None if text.contains("forcing trap when growing memory")
            || text.contains("memory") && text.contains("limit") =>
        {
            (format!("{what} needed more than its memory limit of {} MiB", memory / (1024 * 1024)), Some(Limit::Memory))
        }
        None if text.contains("maximum concurrent") || text.contains("pooling") => {
            ("no free plugin instance slot; too many concurrent plugin calls".to_string(), Some(Limit::Capacity))
        }
        None => (format!("{what} failed: {err}"), None),
    };
    PluginError::Failed { plugin: plugin.to_string(), reason, limit }
}
