//! Fair use between companies on one node: how many plugin calls one company may run at
//! once and how long its requests may take ([`Gate`], [`Settings`]), quarantine of plugins
//! that keep hitting their limits in a company ([`quarantine`]), quotas on what a company and
//! each of its plugins store ([`quota`]), and idempotent retries ([`idempotency`]).

mod gate;
pub mod idempotency;
pub mod quarantine;
pub mod quota;

use std::time::Duration;

pub use gate::{Busy, Gate, Permit};
pub use quota::Quotas;

/// Default for how long plugin code may compute while its transaction holds the write lock
/// (SQLite's one writer, PostgreSQL's row locks), in ms of CPU time; host calls do not count.
pub const DEFAULT_WRITE_HOLD_MS: u32 = 100;

/// Fair-use settings of a node. The defaults are documented in the README.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Requests of one company that may run at once (each may call plugins).
    pub per_company: usize,
    /// Requests of one company that may wait for a turn; more are refused at once.
    pub queue: usize,
    /// Longest wait for a turn before the request is refused (503 with `Retry-After`).
    pub queue_wait: Duration,
    /// Every request's deadline: work still running then is interrupted and rolled back.
    pub deadline: Duration,
    /// How long plugin code may compute while its transaction holds the write lock, in ms.
    pub write_hold_ms: u32,
    /// Limit hits of one plugin in one company, within [`Settings::strike_window`], that
    /// quarantine it there.
    pub strikes: u32,
    /// The window in which strikes add up.
    pub strike_window: Duration,
    /// How long an idempotency key is remembered.
    pub idempotency_ttl: Duration,
    /// Storage quotas.
    pub quotas: Quotas,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            per_company: 4,
            queue: 32,
            queue_wait: Duration::from_secs(5),
            deadline: Duration::from_secs(30),
            write_hold_ms: DEFAULT_WRITE_HOLD_MS,
            strikes: 5,
            strike_window: Duration::from_secs(600),
            idempotency_ttl: Duration::from_secs(24 * 3600),
            quotas: Quotas::default(),
        }
    }
}

/// The fair-use state of a node: its settings and the per-company gate.
#[derive(Debug)]
pub struct FairUse {
    /// The settings.
    pub settings: Settings,
    /// The per-company gate.
    pub gate: Gate,
}

impl FairUse {
    /// State for these settings.
    pub fn new(settings: Settings) -> FairUse {
        let gate = Gate::new(settings.per_company, settings.queue, settings.queue_wait);
        FairUse { settings, gate }
    }
}
