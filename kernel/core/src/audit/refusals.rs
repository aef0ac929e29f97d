//! Refusals folded per minute: the first refusal of a kind (company, action, actor, subject)
//! in a minute is recorded at once, its repeats in that minute are counted and recorded as
//! one summary when the minute is over. A flood of refused requests thus writes at most two
//! audit records per kind and minute instead of one per request.

use std::collections::HashMap;

use parking_lot::Mutex;

use super::{Actor, Entry, Outcome, record};
use crate::clock;
use crate::storage::{DbConn, StoreError};

/// Kinds tracked at once; beyond this, new kinds share one catch-all kind per action.
const MAX_KINDS: usize = 10_000;
const MINUTE: i64 = 60_000_000;

/// What makes two refusals "the same".
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Kind {
    /// The company, if any.
    pub company_id: Option<String>,
    /// The refused action, such as `auth.login`.
    pub action: String,
    /// Who was refused, when known.
    pub actor_id: Option<String>,
    /// What they tried it on (an e-mail, an object id); empty when nothing more specific.
    pub subject: String,
}

/// One refusal to note.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// Its kind.
    pub kind: Kind,
    /// `denied` or `failure`.
    pub outcome: Outcome,
    /// The kind of object, for the record.
    pub object_type: String,
    /// The object's id, for the record.
    pub object_id: Option<String>,
    /// The request id.
    pub request_id: Option<String>,
    /// Facts of the record (a reason; never secrets).
    pub detail: serde_json::Value,
}

struct Window {
    start: i64,
    repeats: u64,
    first: Refusal,
}

/// The per-minute tallies of one server.
#[derive(Default)]
pub struct Refusals {
    windows: Mutex<HashMap<Kind, Window>>,
}

impl std::fmt::Debug for Refusals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Refusals").field("kinds", &self.windows.lock().len()).finish()
    }
}

/// An audit record still to write.
#[derive(Debug, Clone)]
pub struct Pending {
    refusal: Refusal,
}

impl Refusals {
    /// Notes a refusal at `now`; answers the records to write: the refusal itself when it
    /// is the first of its kind this minute, and summaries of minutes that are over.
    pub fn note(&self, mut refusal: Refusal, now: i64) -> Vec<Pending> {
        let mut out = self.due(now);
        let mut windows = self.windows.lock();
        if windows.len() >= MAX_KINDS && !windows.contains_key(&refusal.kind) {
            refusal.kind.subject = "*".into();
            refusal.kind.actor_id = None;
        }
        match windows.get_mut(&refusal.kind) {
            Some(w) if now - w.start < MINUTE => w.repeats += 1,
            _ => {
                out.push(Pending { refusal: refusal.clone() });
                windows.insert(refusal.kind.clone(), Window { start: now, repeats: 0, first: refusal });
            }
        }
        out
    }

    /// Summaries of minutes that are over, removing their windows.
    pub fn due(&self, now: i64) -> Vec<Pending> {
        let mut windows = self.windows.lock();
        let mut out = Vec::new();
        windows.retain(|_, w| {
            if now - w.start < MINUTE {
                return true;
            }
            if w.repeats > 0 {
                let mut summary = w.first.clone();
                summary.detail = serde_json::json!({
                    "repeated": w.repeats,
                    "since": clock::to_rfc3339(w.start),
                    "until": clock::to_rfc3339(w.start + MINUTE),
                    "first": w.first.detail,
                });
                summary.request_id = None;
                out.push(Pending { refusal: summary });
            }
            false
        });
        out
    }
}

/// Writes pending records (in the caller's transaction).
pub fn write(conn: &mut DbConn, pending: &[Pending]) -> Result<(), StoreError> {
    for p in pending {
        let r = &p.refusal;
        let actor = Actor { user_id: r.kind.actor_id.clone(), request_id: r.request_id.clone() };
        record(
            conn,
            Entry {
                company_id: r.kind.company_id.as_deref(),
                actor: &actor,
                action: &r.kind.action,
                object_type: &r.object_type,
                object_id: r.object_id.as_deref(),
                outcome: r.outcome,
                detail: r.detail.clone(),
            },
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(subject: &str) -> Refusal {
        Refusal {
            kind: Kind { company_id: None, action: "auth.login".into(), actor_id: None, subject: subject.into() },
            outcome: Outcome::Failure,
            object_type: "user".into(),
            object_id: None,
            request_id: Some("r".into()),
            detail: serde_json::json!({ "reason": "wrong" }),
        }
    }

    #[test]
    fn repeats_in_a_minute_become_one_summary() {
        let r = Refusals::default();
        let t0 = 1_000 * MINUTE;
        assert_eq!(r.note(refusal("a"), t0).len(), 1, "the first is written at once");
        for i in 1..100 {
            assert!(r.note(refusal("a"), t0 + i).is_empty(), "repeats are counted");
        }
        assert_eq!(r.note(refusal("b"), t0 + 5).len(), 1, "another kind is its own");
        assert!(r.due(t0 + MINUTE - 1).is_empty());
        let due = r.due(t0 + MINUTE);
        assert_eq!(due.len(), 1, "b had no repeats");
        assert_eq!(due[0].refusal.detail["repeated"], 99);
        assert!(r.due(t0 + 2 * MINUTE).is_empty());
        assert_eq!(r.note(refusal("a"), t0 + 3 * MINUTE).len(), 1, "a new minute starts afresh");
    }
}
