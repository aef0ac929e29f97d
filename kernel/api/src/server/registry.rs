//! Open connections: what each one is doing (waiting for a request or serving one) and the
//! cap on how many are open, kept by closing the longest-waiting one when a new one arrives.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Waker;
use std::time::Duration;

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// How long a new connection waits for an evicted one to go before evicting another.
const EVICTION_RETRY: Duration = Duration::from_millis(200);

/// The two clocks of a connection between requests.
#[derive(Debug, Clone, Copy)]
pub(super) struct Timeouts {
    /// For a request head, from its first byte (or from accepting the connection).
    pub header: Duration,
    /// For the next request on a kept-alive connection.
    pub idle: Duration,
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Waiting for a request head: since when, whether it is the connection's first request,
    /// and when the head's first byte came.
    Waiting { since: Instant, first: bool, head_from: Option<Instant> },
    /// From a request's head until the last of its answer is handed to the socket.
    Serving,
}

#[derive(Debug)]
struct State {
    phase: Phase,
    /// The task last left waiting on a read, woken when an answer is finished so that hyper
    /// reads again and the idle clock starts (hyper reads only when woken).
    reader: Option<Waker>,
}

/// One open connection, shared by its socket, its requests and the registry.
#[derive(Debug)]
pub(super) struct Conn {
    state: Mutex<State>,
    evicting: AtomicBool,
    evict: Notify,
}

impl Conn {
    fn new() -> Conn {
        Conn {
            state: Mutex::new(State {
                phase: Phase::Waiting { since: Instant::now(), first: true, head_from: None },
                reader: None,
            }),
            evicting: AtomicBool::new(false),
            evict: Notify::new(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // The state is plain data: a panic elsewhere leaves it usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn phase(&self) -> Phase {
        self.state().phase
    }

    /// A request head was read; the request is being served.
    pub(super) fn request_started(&self) {
        self.state().phase = Phase::Serving;
    }

    /// The answer was handed over; the connection waits for its next request.
    pub(super) fn answer_finished(&self) {
        let reader = {
            let mut state = self.state();
            state.phase = Phase::Waiting { since: Instant::now(), first: false, head_from: None };
            state.reader.take()
        };
        if let Some(reader) = reader {
            reader.wake();
        }
    }

    /// A read is left waiting for bytes; `waker` is woken when an answer is finished.
    pub(super) fn reading(&self, waker: &Waker) {
        let mut state = self.state();
        if !state.reader.as_ref().is_some_and(|w| w.will_wake(waker)) {
            state.reader = Some(waker.clone());
        }
    }

    /// Bytes arrived: between requests, the first one starts the header clock.
    pub(super) fn bytes_read(&self) {
        if let Phase::Waiting { head_from: head_from @ None, .. } = &mut self.state().phase {
            *head_from = Some(Instant::now());
        }
    }

    /// When reading must have produced a complete request head (`None` while serving).
    pub(super) fn read_deadline(&self, timeouts: Timeouts) -> Option<Instant> {
        match self.phase() {
            Phase::Serving => None,
            Phase::Waiting { since, first: true, .. } => Some(since + timeouts.header),
            Phase::Waiting { head_from: Some(from), .. } => Some(from + timeouts.header),
            Phase::Waiting { since, .. } => Some(since + timeouts.idle),
        }
    }

    /// True while a request is being served.
    pub(super) fn is_serving(&self) -> bool {
        matches!(self.phase(), Phase::Serving)
    }

    /// Resolves when the registry wants this connection closed to make room.
    pub(super) async fn evicted(&self) {
        self.evict.notified().await;
    }

    fn waiting_since(&self) -> Option<Instant> {
        match self.phase() {
            Phase::Waiting { since, .. } => Some(since),
            Phase::Serving => None,
        }
    }
}

/// The open connections and the cap on their number.
#[derive(Debug)]
pub(super) struct Registry {
    cap: usize,
    permits: Arc<Semaphore>,
    open: Mutex<BTreeMap<u64, Arc<Conn>>>,
    next: AtomicU64,
}

/// A connection's place under the cap, given back when dropped.
#[derive(Debug)]
pub(super) struct Slot {
    id: u64,
    conn: Arc<Conn>,
    registry: Arc<Registry>,
    _permit: OwnedSemaphorePermit,
}

impl Slot {
    /// The connection's shared state.
    pub(super) fn conn(&self) -> &Arc<Conn> {
        &self.conn
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.registry.open().remove(&self.id);
    }
}

impl Registry {
    /// A registry admitting at most `cap` connections at once.
    pub(super) fn new(cap: usize) -> Arc<Registry> {
        let cap = cap.clamp(1, Semaphore::MAX_PERMITS);
        Arc::new(Registry {
            cap,
            permits: Arc::new(Semaphore::new(cap)),
            open: Mutex::new(BTreeMap::new()),
            next: AtomicU64::new(0),
        })
    }

    fn open(&self) -> MutexGuard<'_, BTreeMap<u64, Arc<Conn>>> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A place for a new connection: at once while there is room; otherwise once the
    /// connection that has waited longest for a request is closed, or once any connection
    /// ends when all of them are serving requests.
    pub(super) async fn admit(self: &Arc<Self>) -> Option<Slot> {
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => loop {
                self.evict_longest_waiting();
                // An evicted connection may have started serving before it heard; try again.
                match tokio::time::timeout(EVICTION_RETRY, self.permits.clone().acquire_owned()).await {
                    Ok(Ok(permit)) => break permit,
                    Ok(Err(_)) => return None,
                    Err(_) => continue,
                }
            },
        };
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let conn = Arc::new(Conn::new());
        self.open().insert(id, conn.clone());
        Some(Slot { id, conn, registry: self.clone(), _permit: permit })
    }

    /// Asks the connection that has waited longest for a request (and is not already going)
    /// to close. Connections serving a request are never chosen.
    fn evict_longest_waiting(&self) {
        let open = self.open();
        let victim = open
            .values()
            .filter(|c| !c.evicting.load(Ordering::Relaxed))
            .filter_map(|c| c.waiting_since().map(|since| (since, c)))
            .min_by_key(|(since, _)| *since);
        if let Some((_, conn)) = victim {
            conn.evicting.store(true, Ordering::Relaxed);
            conn.evict.notify_one();
        }
    }

    /// Resolves once every connection has ended.
    pub(super) async fn drained(&self) {
        let all = u32::try_from(self.cap).unwrap_or(u32::MAX);
        let _ = self.permits.acquire_many(all).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Timeouts = Timeouts { header: Duration::from_secs(10), idle: Duration::from_secs(60) };

    #[tokio::test]
    async fn deadlines_follow_the_phase() {
        let conn = Conn::new();
        let accepted = Instant::now();
        assert!(conn.read_deadline(T).is_some_and(|d| d <= accepted + T.header));
        conn.request_started();
        assert!(conn.read_deadline(T).is_none());
        conn.answer_finished();
        let idle = conn.read_deadline(T).expect("waiting");
        assert!(idle >= accepted + T.idle);
        conn.bytes_read();
        assert!(conn.read_deadline(T).expect("head") < idle);
    }

    #[tokio::test]
    async fn a_full_registry_evicts_the_longest_waiting_connection() {
        let registry = Registry::new(2);
        let first = registry.admit().await.expect("slot");
        let second = registry.admit().await.expect("slot");
        second.conn().request_started();
        let evicted = first.conn().clone();
        let waiter = tokio::spawn({
            let registry = registry.clone();
            async move { registry.admit().await.is_some() }
        });
        evicted.evicted().await;
        drop(first);
        assert!(waiter.await.expect("join"));
        assert!(!second.conn().evicting.load(Ordering::Relaxed));
    }
}
