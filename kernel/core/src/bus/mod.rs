//! The event hook bus: events written with the change that caused them, synchronous hooks
//! inside the transaction (which may veto), after-commit deliveries through a transactional
//! outbox (at least once, ordered per subscriber and company, retried with backoff, dead
//! letters that admins replay), and plugin schedules.
//!
//! Workers claim rows with leases (`FOR UPDATE SKIP LOCKED` on PostgreSQL), so several
//! kernel nodes can share one database.

pub mod dispatch;
pub mod emit;
pub mod log;
pub mod scheduler;
pub mod webhooks;

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use parking_lot::Mutex;

pub use emit::{MAX_EVENT_DEPTH, emit, pattern_matches};

use crate::plugins::Kernel;

/// What the dispatcher, the scheduler and the event log need: the kernel's services plus
/// this node's bus. The platform implements it.
pub trait BusKernel: Kernel {
    /// This node's event bus.
    fn bus(&self) -> &Bus;
}

/// Delivery and scheduling settings.
#[derive(Debug, Clone)]
pub struct BusConfig {
    /// First retry delay; doubles with each failure.
    pub backoff_base: Duration,
    /// Longest retry delay.
    pub backoff_max: Duration,
    /// Attempts before a delivery becomes a dead letter.
    pub max_attempts: u32,
    /// How long a claimed delivery or schedule run stays with its worker.
    pub lease: Duration,
    /// Deliveries handled in one transaction.
    pub batch: usize,
    /// How often an idle dispatcher looks for work.
    pub idle_poll: Duration,
    /// How often the scheduler looks for due schedules.
    pub schedule_tick: Duration,
}

impl Default for BusConfig {
    fn default() -> Self {
        BusConfig {
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(600),
            max_attempts: 8,
            lease: Duration::from_secs(30),
            batch: 512,
            idle_poll: Duration::from_millis(10),
            schedule_tick: Duration::from_millis(500),
        }
    }
}

/// Per-node delivery statistics (deliveries, latency from commit to delivery).
#[derive(Debug, Default)]
pub struct Stats {
    latencies: Mutex<VecDeque<i64>>,
    delivered: std::sync::atomic::AtomicU64,
}

/// Latencies kept for percentiles.
const LATENCY_WINDOW: usize = 10_000;

impl Stats {
    pub(crate) fn delivered(&self, latency_micros: i64) {
        self.delivered.fetch_add(1, Ordering::Relaxed);
        let mut l = self.latencies.lock();
        if l.len() == LATENCY_WINDOW {
            l.pop_front();
        }
        l.push_back(latency_micros.max(0));
    }

    /// Deliveries completed by this node since start.
    pub fn delivered_total(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    /// (p50, p99) of recent commit-to-delivery latencies, in microseconds.
    pub fn latency_percentiles(&self) -> Option<(i64, i64)> {
        let mut v: Vec<i64> = self.latencies.lock().iter().copied().collect();
        if v.is_empty() {
            return None;
        }
        v.sort_unstable();
        let at = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
        Some((at(0.5), at(0.99)))
    }

    /// Forgets the recent latencies (benchmarks measure one phase at a time).
    pub fn reset_latencies(&self) {
        self.latencies.lock().clear();
    }
}

/// The bus of one kernel node.
#[derive(Debug, Clone)]
pub struct Bus {
    /// Settings.
    pub config: Arc<BusConfig>,
    /// This node's name in leases.
    pub node: String,
    /// Statistics of this node.
    pub stats: Arc<Stats>,
}

impl Bus {
    /// A bus with the given settings.
    pub fn new(config: BusConfig) -> Bus {
        Bus {
            config: Arc::new(config),
            node: format!("node-{}", crate::ids::new_id()),
            stats: Arc::new(Stats::default()),
        }
    }
}

/// Running background workers; dropping this stops them (after their current batch).
#[derive(Debug)]
pub struct Workers {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Workers {
    /// Stops the workers and waits for them.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.halt();
    }
}

/// On SQLite one kernel process owns the database file, so leases left by a previous process
/// (killed before it finished) can be released at once instead of waiting for them to expire.
fn release_stale_leases(platform: &dyn BusKernel) -> Result<(), crate::storage::StoreError> {
    use crate::storage::schema::{deliveries, schedule_runs};
    use diesel::prelude::*;
    if platform.db().backend() != crate::storage::Backend::Sqlite {
        return Ok(());
    }
    platform.db().write_blocking(|conn| {
        diesel::update(deliveries::table.filter(deliveries::lease_owner.is_not_null()))
            .set((deliveries::lease_owner.eq(None::<String>), deliveries::lease_until.eq(None::<i64>)))
            .execute(conn)?;
        diesel::update(schedule_runs::table.filter(schedule_runs::lease_owner.is_not_null()))
            .set((schedule_runs::lease_owner.eq(None::<String>), schedule_runs::lease_until.eq(None::<i64>)))
            .execute(conn)?;
        Ok(())
    })
}

/// Starts the dispatcher and the scheduler of this node.
pub fn start<K: BusKernel + Clone + 'static>(platform: &K) -> std::io::Result<Workers> {
    release_stale_leases(platform).map_err(std::io::Error::other)?;
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    {
        let (p, stop) = (platform.clone(), stop.clone());
        threads.push(std::thread::Builder::new().name("event-dispatch".into()).spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                // A panic (a bug) must not end delivery for good: log it and go on.
                match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| dispatch::run_once(&p))) {
                    Ok(Ok(0)) => std::thread::sleep(p.bus().config.idle_poll),
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => {
                        tracing::error!(error = %e, "event dispatch failed");
                        std::thread::sleep(Duration::from_millis(500));
                    }
                    Err(_) => {
                        tracing::error!("event dispatch panicked; continuing");
                        std::thread::sleep(Duration::from_millis(500));
                    }
                }
            }
        })?);
    }
    {
        let (p, stop) = (platform.clone(), stop.clone());
        threads.push(std::thread::Builder::new().name("scheduler".into()).spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| scheduler::tick(&p))) {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => tracing::error!(error = %e, "scheduler failed"),
                    Err(_) => tracing::error!("scheduler panicked; continuing"),
                }
                std::thread::sleep(p.bus().config.schedule_tick);
            }
        })?);
    }
    Ok(Workers { stop, threads })
}
