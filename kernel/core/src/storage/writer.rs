//! SQLite's one writer's turn, handed out fairly between companies: when the turn is
//! released it goes to the waiting company served least recently, so a company with many
//! writers waiting (a plugin writing in parallel calls) does not push another company's write
//! behind all of them. Within a company, turns go first come, first served.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::{Condvar, Mutex};

/// The writer's turn of one database.
#[derive(Debug, Default)]
pub(super) struct WriterLock {
    state: Mutex<State>,
    turn: Condvar,
}

#[derive(Debug, Default)]
struct State {
    held: bool,
    next_ticket: u64,
    /// Waiting writers: (ticket, lane).
    waiting: Vec<(u64, String)>,
    /// The ticket the turn was just handed to.
    granted: Option<u64>,
    /// When each lane was last served (a counter, not a time).
    served: HashMap<String, u64>,
    serial: u64,
}

/// The turn; released when dropped.
#[derive(Debug)]
pub(super) struct WriterGuard {
    lock: Arc<WriterLock>,
}

impl WriterLock {
    /// Waits for the turn on behalf of `lane` (a company, or "" for kernel work).
    pub(super) fn acquire(self: &Arc<Self>, lane: &str) -> WriterGuard {
        let mut s = self.state.lock();
        if !s.held && s.waiting.is_empty() {
            s.held = true;
            s.mark(lane);
            return WriterGuard { lock: self.clone() };
        }
        let ticket = s.next_ticket;
        s.next_ticket += 1;
        s.waiting.push((ticket, lane.to_string()));
        while s.granted != Some(ticket) {
            self.turn.wait(&mut s);
        }
        s.granted = None;
        WriterGuard { lock: self.clone() }
    }

    fn release(&self) {
        let mut s = self.state.lock();
        // The waiter whose lane was served least recently; the oldest ticket among equals.
        let next = s
            .waiting
            .iter()
            .enumerate()
            .min_by_key(|(_, (ticket, lane))| (s.served.get(lane).copied().unwrap_or(0), *ticket))
            .map(|(i, _)| i);
        match next {
            Some(i) => {
                let (ticket, lane) = s.waiting.remove(i);
                s.mark(&lane);
                s.granted = Some(ticket);
                self.turn.notify_all();
            }
            None => s.held = false,
        }
    }
}

impl State {
    fn mark(&mut self, lane: &str) {
        self.serial += 1;
        let serial = self.serial;
        self.served.insert(lane.to_string(), serial);
    }
}

impl Drop for WriterGuard {
    fn drop(&mut self) {
        self.lock.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_turn_goes_to_the_company_served_least_recently() {
        let lock = Arc::new(WriterLock::default());
        let first = lock.acquire("a");
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut threads = Vec::new();
        // Three more writers of company a queue up before one of company b.
        for (i, lane) in ["a", "a", "a", "b"].into_iter().enumerate() {
            let (mine, order) = (lock.clone(), order.clone());
            threads.push(std::thread::spawn(move || {
                let _turn = mine.acquire(lane);
                order.lock().push(format!("{lane}{i}"));
            }));
            // Let each one queue before the next.
            while lock.state.lock().waiting.len() < i + 1 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        drop(first);
        for t in threads {
            t.join().expect("writer thread");
        }
        let order = order.lock().clone();
        assert_eq!(order[0], "b3", "b did not wait behind a's queue: {order:?}");
        assert_eq!(&order[1..], ["a0", "a1", "a2"], "a's writers keep their order: {order:?}");
    }
}
