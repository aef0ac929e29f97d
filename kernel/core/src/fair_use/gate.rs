//! The per-company gate: at most `per_company` requests of a company run at once, at most
//! `queue` wait for a turn, none waits longer than `queue_wait`. One company's slow plugin
//! fills only its own lane.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A company's lane.
#[derive(Debug)]
struct Lane {
    running: Arc<Semaphore>,
    waiting: AtomicUsize,
}

/// The gate of one node.
#[derive(Debug)]
pub struct Gate {
    per_company: usize,
    queue: usize,
    wait: Duration,
    lanes: Mutex<HashMap<String, Arc<Lane>>>,
}

/// A turn: the company's slot is held until this is dropped.
#[derive(Debug)]
pub struct Permit {
    _permit: OwnedSemaphorePermit,
}

/// No turn within the wait, or the queue is full.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "too many requests of this company are running ({running} at once, {waiting} waiting); retry in {retry_after_secs} s"
)]
pub struct Busy {
    /// Requests that may run at once.
    pub running: usize,
    /// Requests waiting.
    pub waiting: usize,
    /// When to retry, in seconds.
    pub retry_after_secs: u64,
}

impl Gate {
    /// A gate with these bounds.
    pub fn new(per_company: usize, queue: usize, wait: Duration) -> Gate {
        Gate { per_company: per_company.max(1), queue, wait, lanes: Mutex::new(HashMap::new()) }
    }

    /// Waits for the company's turn, at most `limit` (and the gate's own wait).
    pub async fn enter(&self, company: &str, limit: Duration) -> Result<Permit, Busy> {
        let lane = self
            .lanes
            .lock()
            .entry(company.to_string())
            .or_insert_with(|| {
                Arc::new(Lane { running: Arc::new(Semaphore::new(self.per_company)), waiting: AtomicUsize::new(0) })
            })
            .clone();
        if let Ok(permit) = lane.running.clone().try_acquire_owned() {
            return Ok(Permit { _permit: permit });
        }
        let busy =
            |waiting| Busy { running: self.per_company, waiting, retry_after_secs: self.wait.as_secs().clamp(1, 60) };
        let waiting = lane.waiting.fetch_add(1, Ordering::AcqRel);
        let _leave = Leave(&lane.waiting);
        if waiting >= self.queue {
            return Err(busy(waiting));
        }
        match tokio::time::timeout(self.wait.min(limit), lane.running.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(Permit { _permit: permit }),
            _ => Err(busy(waiting + 1)),
        }
    }
}

struct Leave<'a>(&'a AtomicUsize);

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_lane_refuses_its_company_only() {
        let gate = Gate::new(2, 1, Duration::from_millis(50));
        let a1 = gate.enter("a", Duration::from_secs(1)).await.expect("first");
        let _a2 = gate.enter("a", Duration::from_secs(1)).await.expect("second");
        // The third waits and gives up; another company is not affected.
        let busy = gate.enter("a", Duration::from_secs(1)).await.expect_err("lane full");
        assert_eq!(busy.running, 2);
        assert!(busy.retry_after_secs >= 1);
        gate.enter("b", Duration::from_secs(1)).await.expect("other company");
        // A freed slot is taken by the next request.
        drop(a1);
        gate.enter("a", Duration::from_secs(1)).await.expect("after release");
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once() {
        let gate = Arc::new(Gate::new(1, 1, Duration::from_secs(5)));
        let _held = gate.enter("a", Duration::from_secs(5)).await.expect("first");
        let waiter = {
            let gate = gate.clone();
            tokio::spawn(async move { gate.enter("a", Duration::from_secs(5)).await.is_ok() })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        let started = std::time::Instant::now();
        assert!(gate.enter("a", Duration::from_secs(5)).await.is_err());
        assert!(started.elapsed() < Duration::from_secs(4), "refused without waiting");
        waiter.abort();
    }
}
