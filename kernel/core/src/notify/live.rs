//! Live delivery: every node runs one relay that finds newly committed notifications and
//! hands each to the open connections of its recipient on that node.
//!
//! The relay scans the notifications of the last [`WINDOW`] and delivers those it has not
//! seen, so a notification reaches its reader once its transaction commits, whichever node
//! wrote it, and however long that transaction took. It scans every second when idle; a send
//! on this node, or PostgreSQL's `NOTIFY` from any node (sent by the committing transaction),
//! wakes it to scan every few milliseconds for a moment.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

use tokio::sync::broadcast;

use super::inbox::{self, Notification, PG_CHANNEL};
use crate::clock;
use crate::storage::Db;

/// How far back the relay looks: longer than any transaction may stay open.
pub const WINDOW: Duration = Duration::from_secs(180);
/// Scan interval while nothing happens.
const IDLE: Duration = Duration::from_secs(1);
/// Scan interval just after a wake.
const BUSY: Duration = Duration::from_millis(5);
/// How long a wake keeps the relay scanning fast.
const BUSY_FOR: Duration = Duration::from_secs(2);
/// Read notifications are kept this long, then removed.
pub const KEEP_READ: Duration = Duration::from_secs(90 * 24 * 3600);
/// Notifications one connection may fall behind by before it misses some (and is told to
/// reload).
const BACKLOG: usize = 256;

/// This node's live notifications. Cheap to clone.
#[derive(Clone)]
pub struct Live {
    hub: Arc<Hub>,
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live").finish_non_exhaustive()
    }
}

type Key = (String, String);

struct Hub {
    db: Db,
    listeners: Mutex<HashMap<Key, broadcast::Sender<Arc<Notification>>>>,
    wake: Mutex<Option<Instant>>,
    woken: Condvar,
    started: std::sync::Once,
}

/// One open connection's feed: the notifications of one person in one company.
pub struct Feed {
    /// The notifications as they come.
    pub receiver: broadcast::Receiver<Arc<Notification>>,
}

impl Live {
    /// A hub for `db`; its relay starts with the first listener.
    pub fn new(db: Db) -> Live {
        Live {
            hub: Arc::new(Hub {
                db,
                listeners: Mutex::new(HashMap::new()),
                wake: Mutex::new(None),
                woken: Condvar::new(),
                started: std::sync::Once::new(),
            }),
        }
    }

    /// Opens a feed for `user_id` in `company_id`.
    pub fn listen(&self, company_id: &str, user_id: &str) -> Feed {
        self.start();
        let mut listeners = self.hub.listeners.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let sender = listeners
            .entry((company_id.to_string(), user_id.to_string()))
            .or_insert_with(|| broadcast::channel(BACKLOG).0);
        Feed { receiver: sender.subscribe() }
    }

    /// Tells the relay that a notification was just written here: it scans fast for a moment.
    pub fn wake(&self) {
        *self.hub.wake.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Instant::now());
        self.hub.woken.notify_all();
    }

    fn start(&self) {
        self.hub.started.call_once(|| {
            let weak = Arc::downgrade(&self.hub);
            // Taken here, not in the thread: a busy machine may start the thread only after
            // the first listener's notification is written, and that one must not be skipped.
            let started = clock::now();
            let spawned =
                std::thread::Builder::new().name("erp-notify-relay".into()).spawn(move || relay(&weak, started));
            if let Err(e) = spawned {
                tracing::error!(error = %e, "could not start the notification relay");
            }
            if let Ok(Some(conn)) = self.hub.db.dedicated_postgres() {
                let weak = Arc::downgrade(&self.hub);
                let spawned = std::thread::Builder::new()
                    .name("erp-notify-listen".into())
                    .spawn(move || listen_postgres(conn, &weak));
                if let Err(e) = spawned {
                    tracing::error!(error = %e, "could not start the notification listener");
                }
            }
        });
    }
}

impl Hub {
    fn deliver(&self, n: Notification) {
        let mut listeners = self.listeners.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let key = (n.company_id.clone(), n.user_id.clone());
        if let Some(sender) = listeners.get(&key) {
            // An error means every receiver is gone: forget the sender.
            if sender.send(Arc::new(n)).is_err() {
                listeners.remove(&key);
            }
        }
    }

    fn forget_closed(&self) {
        let mut listeners = self.listeners.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        listeners.retain(|_, s| s.receiver_count() > 0);
    }

    /// Waits until woken or the interval passes; the interval is short just after a wake.
    fn pause(&self) {
        let guard = self.wake.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let busy = guard.is_some_and(|at| at.elapsed() < BUSY_FOR);
        let wait = if busy { BUSY } else { IDLE };
        let before = *guard;
        let _ = self.woken.wait_timeout_while(guard, wait, |now| *now == before);
    }
}

/// The relay: scans and delivers until the hub is dropped. Notifications written before
/// `started` (when the first page listened) were on the page when it loaded.
fn relay(hub: &Weak<Hub>, started: i64) {
    let mut seen: HashMap<String, i64> = HashMap::new();
    let mut last_sweep = Instant::now();
    let mut last_prune: Option<Instant> = None;
    loop {
        let Some(hub) = hub.upgrade() else { return };
        let window = i64::try_from(WINDOW.as_micros()).unwrap_or(i64::MAX);
        let since = clock::now().saturating_sub(window);
        match hub.db.read_blocking(|conn| inbox::recent(conn, since)) {
            Ok(rows) => {
                for n in rows {
                    if n.created_at < started || seen.contains_key(&n.id) {
                        continue;
                    }
                    seen.insert(n.id.clone(), n.created_at);
                    hub.deliver(n);
                }
            }
            Err(e) => tracing::warn!(error = %e, "notification relay could not scan"),
        }
        seen.retain(|_, at| *at >= since);
        if last_sweep.elapsed() > Duration::from_secs(30) {
            hub.forget_closed();
            last_sweep = Instant::now();
        }
        if last_prune.is_none_or(|at| at.elapsed() > Duration::from_secs(3600)) {
            last_prune = Some(Instant::now());
            let keep = i64::try_from(KEEP_READ.as_micros()).unwrap_or(i64::MAX);
            let before = clock::now().saturating_sub(keep);
            if let Err(e) = hub.db.write_blocking(|conn| inbox::prune_read(conn, before)) {
                tracing::warn!(error = %e, "could not remove old read notifications");
            }
        }
        hub.pause();
    }
}

/// PostgreSQL: wakes the relay whenever any node's transaction that sent a notification
/// commits. Reconnects after losing the connection.
fn listen_postgres(conn: diesel::pg::PgConnection, hub: &Weak<Hub>) {
    use diesel::connection::SimpleConnection;
    let mut conn = Some(conn);
    loop {
        let Some(strong) = hub.upgrade() else { return };
        let db = strong.db.clone();
        let live = Live { hub: strong };
        let mut c = match conn.take() {
            Some(c) => c,
            None => match db.dedicated_postgres() {
                Ok(Some(c)) => c,
                _ => {
                    drop(live);
                    std::thread::sleep(Duration::from_secs(1));
                    continue;
                }
            },
        };
        if let Err(e) = c.batch_execute(&format!("LISTEN {PG_CHANNEL}")) {
            tracing::warn!(error = %e, "could not listen for notifications");
            drop(live);
            std::thread::sleep(Duration::from_secs(1));
            continue;
        }
        drop(live);
        let mut checked = Instant::now();
        // `notifications_iter` does not block: poll the socket often enough for a live feel.
        loop {
            let Some(strong) = hub.upgrade() else { return };
            let mut woke = false;
            let mut lost = false;
            for note in c.notifications_iter() {
                match note {
                    Ok(_) => woke = true,
                    Err(e) => {
                        tracing::warn!(error = %e, "notification listener lost its connection");
                        lost = true;
                        break;
                    }
                }
            }
            if woke {
                Live { hub: strong }.wake();
            }
            // A dead connection may just stay silent: ask it something now and then.
            if checked.elapsed() > Duration::from_secs(15) {
                checked = Instant::now();
                if let Err(e) = c.batch_execute("SELECT 1") {
                    tracing::warn!(error = %e, "notification listener lost its connection");
                    lost = true;
                }
            }
            if lost {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
