//! The dispatcher: claims due deliveries with a lease, delivers them to their subscribers in
//! one transaction per batch (each delivery inside its own savepoint, so a failing subscriber
//! rolls back only its own work), and records success, retry with backoff, or dead letter.
//!
//! Ordering: deliveries of one subscriber in one company go in event order; while the head of
//! such a queue waits for a retry, the rest of that queue waits too, and no other queue does.
//! Exactly-once effects inside the kernel: a handler's writes and the completion of its
//! delivery commit together. A worker whose lease expired cannot complete: completion is
//! conditional on still holding the lease, under a row lock.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use diesel::connection::TransactionManager;
use diesel::dsl::{exists, not};
use diesel::prelude::*;

use super::BusKernel;
use super::emit::{idempotency_key, visible_payload};
use crate::clock::{self, Micros};
use crate::plugins::PluginError;
use crate::plugins::host::{Call, DeliveredEvent};
use crate::plugins::manifest::Manifest;
use crate::plugins::registry::Active;
use crate::session::Session;
use crate::storage::dialect::{claim_rows, lock_rows};
use crate::storage::schema::{deliveries, events, plugin_health};
use crate::storage::{DbConn, StoreError};

/// Longest one batch keeps its transaction open before leaving the rest for the next batch.
const BATCH_TIME: std::time::Duration = std::time::Duration::from_millis(100);

/// A delivery this node claimed.
#[derive(Debug, Clone, Queryable)]
pub struct Claimed {
    /// Delivery id.
    pub id: String,
    /// The event.
    pub event_id: String,
    /// Company of the event.
    pub company_id: String,
    /// Subscriber.
    pub plugin: String,
    /// Handler name.
    pub handler: String,
    /// Attempts so far.
    pub attempts: i32,
}

#[derive(Queryable)]
struct EventRow {
    id: String,
    name: String,
    source: String,
    payload: String,
    actor_id: Option<String>,
    depth: i32,
    occurred_at: i64,
    collection: Option<String>,
}

type Cols = (
    deliveries::id,
    deliveries::event_id,
    deliveries::company_id,
    deliveries::plugin,
    deliveries::handler,
    deliveries::attempts,
);
const COLS: Cols = (
    deliveries::id,
    deliveries::event_id,
    deliveries::company_id,
    deliveries::plugin,
    deliveries::handler,
    deliveries::attempts,
);

/// Delay before retry `attempt` (1-based): exponential, capped, with jitter in its upper half.
pub fn backoff(base: Micros, max: Micros, attempt: u32) -> Micros {
    let exp = base.saturating_mul(1_i64 << attempt.saturating_sub(1).min(30)).min(max).max(1);
    let jitter = (getrandom::u64().unwrap_or(0) % (exp as u64 / 2 + 1)) as i64;
    exp / 2 + jitter
}

/// Quarantine rows of the delivery's plugin in its company: its queue waits for the admin.
macro_rules! quarantined {
    () => {
        plugin_health::table
            .filter(plugin_health::company_id.eq(deliveries::company_id))
            .filter(plugin_health::plugin.eq(deliveries::plugin))
            .filter(plugin_health::quarantined_at.is_not_null())
    };
}

/// Claims up to a batch of due deliveries for this node; returns them in delivery order.
pub fn claim(platform: &dyn BusKernel) -> Result<Vec<Claimed>, PluginError> {
    let cfg = &platform.bus().config;
    let me = platform.bus().node.clone();
    let now = clock::now();
    let lease_until = now + cfg.lease.as_micros() as i64;
    let batch = cfg.batch as i64;
    // Idle polling stays read-only: only take the write lock when there is work.
    let any: Option<String> = platform.db().read_blocking(|conn| {
        deliveries::table
            .filter(deliveries::state.eq("pending"))
            .filter(deliveries::next_attempt_at.le(now))
            .filter(deliveries::lease_until.is_null().or(deliveries::lease_until.lt(now)))
            .filter(not(exists(quarantined!())))
            .select(deliveries::id)
            .first(conn)
            .optional()
            .map_err(StoreError::from)
    })?;
    if any.is_none() {
        return Ok(Vec::new());
    }
    platform.db().write_blocking(|conn| {
        let q = deliveries::table
            .filter(deliveries::state.eq("pending"))
            .filter(deliveries::next_attempt_at.le(now))
            .filter(deliveries::lease_until.is_null().or(deliveries::lease_until.lt(now)))
            .filter(not(exists(quarantined!())))
            .order(deliveries::id.asc())
            .limit(batch)
            .select(COLS);
        let rows: Vec<Claimed> = claim_rows!(conn, q)?;
        if rows.is_empty() {
            return Ok(rows);
        }
        // Keep, per queue (subscriber and company), only the unbroken run from the queue's head.
        // A webhook subscription is a queue of its own: one failing receiver holds up no other.
        // (company, plugin, the webhook for webhooks)
        type Queue = (String, String, Option<String>);
        let mut queues: Vec<(Queue, Vec<Claimed>)> = Vec::new();
        for r in rows {
            let own = (r.plugin == super::webhooks::SOURCE).then(|| r.handler.clone());
            let key = (r.company_id.clone(), r.plugin.clone(), own);
            match queues.iter_mut().find(|(k, _)| *k == key) {
                Some((_, v)) => v.push(r),
                None => queues.push((key, vec![r])),
            }
        }
        let mut kept = Vec::new();
        for ((company, plugin, own), claims) in queues {
            let mut q = deliveries::table
                .filter(deliveries::company_id.eq(&company))
                .filter(deliveries::plugin.eq(&plugin))
                .filter(deliveries::state.eq("pending"))
                .into_boxed();
            if let Some(handler) = own {
                q = q.filter(deliveries::handler.eq(handler));
            }
            let heads: Vec<String> =
                q.order(deliveries::id.asc()).limit(claims.len() as i64).select(deliveries::id).load(conn)?;
            let run = claims.iter().zip(&heads).take_while(|(c, h)| &c.id == *h).count();
            kept.extend(claims.into_iter().take(run));
        }
        let ids: Vec<&String> = kept.iter().map(|c| &c.id).collect();
        diesel::update(deliveries::table.filter(deliveries::id.eq_any(&ids)))
            .set((deliveries::lease_owner.eq(&me), deliveries::lease_until.eq(lease_until)))
            .execute(conn)?;
        kept.sort_by(|a, b| a.id.cmp(&b.id));
        Ok::<_, PluginError>(kept)
    })
}

/// Claims and delivers one batch; returns how many deliveries it settled.
pub fn run_once(platform: &dyn BusKernel) -> Result<usize, PluginError> {
    let claimed = claim(platform)?;
    if claimed.is_empty() {
        return Ok(0);
    }
    deliver(platform, claimed)
}

fn savepoint(conn: &mut DbConn) -> Result<(), StoreError> {
    Ok(<DbConn as Connection>::TransactionManager::begin_transaction(conn)?)
}

fn release(conn: &mut DbConn) -> Result<(), StoreError> {
    Ok(<DbConn as Connection>::TransactionManager::commit_transaction(conn)?)
}

fn undo(conn: &mut DbConn) -> Result<(), StoreError> {
    Ok(<DbConn as Connection>::TransactionManager::rollback_transaction(conn)?)
}

/// Marks deliveries done, if this node still holds all their leases; false otherwise (the
/// caller then rolls everything back).
pub(crate) fn complete(conn: &mut DbConn, ids: &[String], me: &str) -> Result<bool, StoreError> {
    if ids.is_empty() {
        return Ok(true);
    }
    let n = diesel::update(deliveries::table.filter(deliveries::id.eq_any(ids)).filter(deliveries::lease_owner.eq(me)))
        .set((
            deliveries::state.eq("done"),
            deliveries::attempts.eq(deliveries::attempts + 1),
            deliveries::delivered_at.eq(clock::now()),
            deliveries::delivered_by.eq(me),
            deliveries::lease_owner.eq(None::<String>),
            deliveries::lease_until.eq(None::<i64>),
            deliveries::last_error.eq(None::<String>),
        ))
        .execute(conn)?;
    Ok(n == ids.len())
}

/// Records a failed attempt: retry later with backoff, or dead letter after the last attempt.
pub(crate) fn fail(
    platform: &dyn BusKernel,
    conn: &mut DbConn,
    c: &Claimed,
    error: &str,
    dead_now: bool,
) -> Result<(), StoreError> {
    let cfg = &platform.bus().config;
    let attempts = c.attempts + 1;
    let dead = dead_now || attempts as u32 >= cfg.max_attempts;
    let next = clock::now()
        + backoff(cfg.backoff_base.as_micros() as i64, cfg.backoff_max.as_micros() as i64, attempts as u32);
    let message: String = error.chars().take(2000).collect();
    diesel::update(
        deliveries::table.filter(deliveries::id.eq(&c.id)).filter(deliveries::lease_owner.eq(&platform.bus().node)),
    )
    .set((
        deliveries::state.eq(if dead { "dead" } else { "pending" }),
        deliveries::attempts.eq(attempts),
        deliveries::next_attempt_at.eq(next),
        deliveries::last_error.eq(message),
        deliveries::lease_owner.eq(None::<String>),
        deliveries::lease_until.eq(None::<i64>),
    ))
    .execute(conn)?;
    platform.plugins().metrics().delivery(if dead { "dead" } else { "retry" }, None);
    if dead {
        tracing::warn!(plugin = %c.plugin, delivery = %c.id, attempts, error, "delivery moved to dead letters");
    }
    Ok(())
}

/// Delivers claimed deliveries in one transaction.
pub fn deliver(platform: &dyn BusKernel, claimed: Vec<Claimed>) -> Result<usize, PluginError> {
    // Webhooks are posted outside any transaction; plugins' handlers run in one.
    let (hooks, claimed): (Vec<Claimed>, Vec<Claimed>) =
        claimed.into_iter().partition(|c| c.plugin == super::webhooks::SOURCE);
    let posted = if hooks.is_empty() { 0 } else { super::webhooks::deliver::deliver(platform, hooks)? };
    if claimed.is_empty() {
        return Ok(posted);
    }
    let me = platform.bus().node.clone();
    let mut tx = platform.db().begin()?;
    // Lock the rows and drop any whose lease this node no longer holds.
    let ids: Vec<&String> = claimed.iter().map(|c| &c.id).collect();
    let held_q = deliveries::table
        .filter(deliveries::id.eq_any(&ids))
        .filter(deliveries::lease_owner.eq(&me))
        .filter(deliveries::state.eq("pending"))
        .select(deliveries::id);
    let held: Vec<String> = lock_rows!(tx.reader(), held_q)?;
    let held: HashSet<String> = held.into_iter().collect();
    let event_ids: Vec<&String> = claimed.iter().map(|c| &c.event_id).collect();
    let rows: Vec<EventRow> =
        events::table.filter(events::id.eq_any(&event_ids)).select(super::log::EVENT_COLS).load(tx.reader())?;
    let events: HashMap<String, EventRow> = rows.into_iter().map(|e| (e.id.clone(), e)).collect();
    let mut actives: HashMap<(String, String), Option<Arc<Active>>> = HashMap::new();
    let mut owners: HashMap<String, Option<Arc<Manifest>>> = HashMap::new();
    let mut failed_queues: HashSet<(String, String)> = HashSet::new();
    let mut skipped: Vec<String> = Vec::new();
    let mut done: Vec<String> = Vec::new();
    let mut latencies: Vec<i64> = Vec::new();
    let mut settled = 0;
    // Bound the time one batch holds its transaction (on SQLite, the only writer's turn);
    // what is left is released and claimed again.
    let started = std::time::Instant::now();
    for c in claimed.iter().filter(|c| held.contains(&c.id)) {
        let queue = (c.company_id.clone(), c.plugin.clone());
        if failed_queues.contains(&queue) || started.elapsed() > BATCH_TIME {
            skipped.push(c.id.clone());
            continue;
        }
        let Some(ev) = events.get(&c.event_id) else {
            fail(platform, tx.conn()?, c, "the event no longer exists", true)?;
            continue;
        };
        let active = match actives.get(&queue) {
            Some(a) => a.clone(),
            None => {
                // Not enabled (any more) is a dead letter; any other failure aborts the batch.
                let a = match platform.plugins().active(tx.reader(), &c.company_id, &c.plugin) {
                    Ok(a) => Some(Arc::new(a)),
                    Err(PluginError::NotFound(_)) => None,
                    Err(e) => return Err(e),
                };
                actives.insert(queue.clone(), a.clone());
                a
            }
        };
        let Some(active) = active else {
            fail(platform, tx.conn()?, c, &format!("plugin {} is not enabled in this company", c.plugin), true)?;
            failed_queues.insert(queue);
            continue;
        };
        // A handler may call hosts outside only while its transaction has written nothing: one
        // that may is left, with the rest of its queue, for the next batch, which it starts.
        if tx.is_writing() && active.grants.iter().any(|g| erp_manifest::hosts::is_host_grant(g)) {
            skipped.push(c.id.clone());
            failed_queues.insert(queue);
            continue;
        }
        let owner = match (&ev.collection, owners.get(&ev.source)) {
            (None, _) => None,
            (Some(_), Some(m)) => m.clone(),
            (Some(_), None) => {
                let m = platform.plugins().current_manifest(tx.reader(), &ev.source)?;
                owners.insert(ev.source.clone(), m.clone());
                m
            }
        };
        let payload_value: serde_json::Value = serde_json::from_str(&ev.payload).unwrap_or(serde_json::Value::Null);
        let payload = visible_payload(
            &payload_value,
            &ev.source,
            ev.collection.as_deref(),
            owner.as_deref(),
            &active.loaded.manifest,
            &active.grants,
        );
        let event = DeliveredEvent {
            id: ev.id.clone(),
            name: ev.name.clone(),
            payload: payload.to_string(),
            actor: ev.actor_id.clone(),
            occurred_at: clock::to_rfc3339(ev.occurred_at),
            idempotency_key: idempotency_key(&ev.id, &c.plugin, &c.handler),
        };
        savepoint(tx.reader())?;
        let mut session = Session::from_tx(tx, &c.company_id, None);
        session.chain = ev.depth as u32 + 1;
        let outcome = platform.plugins().invoke(
            platform,
            &mut session,
            &active,
            None,
            Call::Event { handler: &c.handler, event: &event, sync: false },
        );
        tx = session.into_tx()?;
        match outcome {
            Ok(_) => {
                release(tx.reader())?;
                done.push(c.id.clone());
                latencies.push(ev.occurred_at);
                settled += 1;
            }
            Err(e) => {
                undo(tx.reader())?;
                fail(platform, tx.conn()?, c, &e.to_string(), false)?;
                tx = crate::plugins::health::strike_in(platform, tx, &c.company_id, &e)?;
                failed_queues.insert(queue);
                settled += 1;
            }
        }
    }
    if !complete(tx.conn()?, &done, &me)? {
        // A lease was lost under us: give everything back; the new holder delivers.
        return Ok(posted);
    }
    if !skipped.is_empty() {
        diesel::update(
            deliveries::table.filter(deliveries::id.eq_any(&skipped)).filter(deliveries::lease_owner.eq(&me)),
        )
        .set((deliveries::lease_owner.eq(None::<String>), deliveries::lease_until.eq(None::<i64>)))
        .execute(tx.conn()?)?;
    }
    tx.commit()?;
    let now = clock::now();
    let metrics = platform.plugins().metrics();
    for occurred in latencies {
        platform.bus().stats.delivered(now - occurred);
        metrics.delivery("delivered", Some((now - occurred).max(0) as f64 / 1e6));
    }
    Ok(settled + posted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_caps_and_jitters() {
        let s = 1_000_000;
        for attempt in 1..=12 {
            let d = backoff(s, 60 * s, attempt);
            let full = (s << (attempt - 1)).min(60 * s);
            assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d}");
        }
    }
}
