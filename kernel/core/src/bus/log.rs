//! The event log as admins see it: events with the state of each delivery, replay of dead
//! letters, and queue metrics.

use diesel::prelude::*;
use serde_json::Value;

use super::BusKernel;
use crate::clock::{self, Micros};
use crate::paging::{Page, PageRequest};
use crate::storage::schema::{deliveries, events};
use crate::storage::{DbConn, StoreError};

/// One delivery of an event to one subscriber.
#[derive(Debug, Clone, PartialEq, Queryable)]
pub struct DeliveryState {
    /// Delivery id.
    pub id: String,
    /// The event.
    pub event_id: String,
    /// Subscriber.
    pub plugin: String,
    /// Handler.
    pub handler: String,
    /// pending, done or dead.
    pub state: String,
    /// Attempts so far.
    pub attempts: i32,
    /// Next attempt (pending).
    pub next_attempt_at: i64,
    /// Last error.
    pub last_error: Option<String>,
    /// When it was delivered.
    pub delivered_at: Option<i64>,
}

/// An event with its deliveries.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedEvent {
    /// Event id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Source plugin or `kernel`.
    pub source: String,
    /// Payload.
    pub payload: Value,
    /// Actor.
    pub actor_id: Option<String>,
    /// Depth in its chain.
    pub depth: i32,
    /// When.
    pub occurred_at: i64,
    /// For record events, the source plugin's collection.
    pub collection: Option<String>,
    /// Deliveries to after-commit subscribers.
    pub deliveries: Vec<DeliveryState>,
}

/// Cuts record events' payloads to what the reader may see: without the collection's read
/// permission, no fields; without its sensitive permission, no sensitive fields; under the
/// collection's record rule, no fields of records that are not the reader's.
pub fn visible_to(
    platform: &dyn BusKernel,
    conn: &mut DbConn,
    scope: &crate::access::CompanyScope,
    events: &mut [LoggedEvent],
) -> Result<(), StoreError> {
    for e in events.iter_mut() {
        let Some(collection) = &e.collection else {
            declared_visible_to(platform, conn, scope, e)?;
            continue;
        };
        let owner =
            platform.plugins().current_manifest(conn, &e.source).map_err(|err| StoreError::Task(err.to_string()))?;
        let mut read = owner.as_ref().and_then(|m| {
            scope.can(&m.read_permission(collection)).then(|| scope.can(&m.sensitive_permission(collection)))
        });
        // Under a record rule, events of records that were never the reader's show no fields.
        if let Some(rule) = owner.as_ref().and_then(|m| m.record_rule(collection))
            && crate::records::binds(&rule, scope)
        {
            let user = scope.user().unwrap_or_default();
            let theirs = ["before", "after"].iter().any(|side| {
                e.payload.get(side).and_then(Value::as_object).is_some_and(|r| crate::records::names(&rule, r, user))
            });
            if !theirs {
                read = None;
            }
        }
        let spec = owner.as_ref().and_then(|m| m.collections.get(collection));
        e.payload = crate::bus::emit::record_fields_for(&e.payload, spec, read);
    }
    Ok(())
}

/// A plugin's own event that its manifest declares to be about one of its collections: the
/// payload only for readers of that collection, without keys named like its sensitive fields
/// unless they may see those, and under its record rule only when the payload's owner key is
/// the reader.
fn declared_visible_to(
    platform: &dyn BusKernel,
    conn: &mut DbConn,
    scope: &crate::access::CompanyScope,
    e: &mut LoggedEvent,
) -> Result<(), StoreError> {
    if e.source == "kernel" {
        return file_event_visible_to(platform, conn, scope, e);
    }
    let Some(m) =
        platform.plugins().current_manifest(conn, &e.source).map_err(|err| StoreError::Task(err.to_string()))?
    else {
        return Ok(());
    };
    let Some(collection) = m.events.iter().find(|d| d.name == e.name).and_then(|d| d.collection.clone()) else {
        return Ok(());
    };
    let readable = scope.can(&m.read_permission(&collection));
    let owned = match m.record_rule(&collection) {
        Some(rule) if crate::records::binds(&rule, scope) => {
            e.payload.as_object().is_some_and(|p| crate::records::names(&rule, p, scope.user().unwrap_or_default()))
        }
        _ => true,
    };
    if !readable || !owned {
        e.payload = Value::Object(serde_json::Map::new());
        return Ok(());
    }
    if !scope.can(&m.sensitive_permission(&collection))
        && let (Some(spec), Some(obj)) = (m.collections.get(&collection), e.payload.as_object_mut())
    {
        obj.retain(|k, _| !spec.fields.get(k).is_some_and(|f| f.sensitive));
    }
    Ok(())
}

/// `kernel.file.downloaded` names a record: its payload only for who may read that record.
fn file_event_visible_to(
    platform: &dyn BusKernel,
    conn: &mut DbConn,
    scope: &crate::access::CompanyScope,
    e: &mut LoggedEvent,
) -> Result<(), StoreError> {
    if e.name != "kernel.file.downloaded" {
        return Ok(());
    }
    let text = |k: &str| e.payload.get(k).and_then(Value::as_str).map(str::to_string);
    let readable = match (text("plugin"), text("collection"), text("record_id")) {
        (Some(plugin), Some(collection), Some(record)) => {
            let manifest =
                platform.plugins().current_manifest(conn, &plugin).map_err(|err| StoreError::Task(err.to_string()))?;
            match manifest.and_then(|m| crate::records::Collection::new(m, &collection)) {
                Some(coll) => {
                    crate::records::get(conn, &scope.company_id, crate::records::Caller::User(scope), &coll, &record)
                        .is_ok()
                }
                None => false,
            }
        }
        _ => false,
    };
    if !readable {
        e.payload = Value::Object(serde_json::Map::new());
    }
    Ok(())
}

/// Filters for the event log.
#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    /// Exact name, or a prefix ending in `.*`.
    pub name: Option<String>,
    /// Not before.
    pub since: Option<Micros>,
    /// Before.
    pub until: Option<Micros>,
}

pub(crate) type EventCols = (
    events::id,
    events::name,
    events::source,
    events::payload,
    events::actor_id,
    events::depth,
    events::occurred_at,
    events::collection,
);
/// The columns of an event, in the order of [`EventTuple`]; the dispatcher reads the same.
pub(crate) const EVENT_COLS: EventCols = (
    events::id,
    events::name,
    events::source,
    events::payload,
    events::actor_id,
    events::depth,
    events::occurred_at,
    events::collection,
);
/// An event row: (id, name, source, payload, actor, depth, occurred_at, collection).
pub(crate) type EventTuple = (String, String, String, String, Option<String>, i32, i64, Option<String>);

/// A company's events, newest first.
pub fn list(
    conn: &mut DbConn,
    company_id: &str,
    filter: &LogFilter,
    page: &PageRequest,
) -> Result<Page<LoggedEvent>, StoreError> {
    let mut q = events::table.filter(events::company_id.eq(company_id)).into_boxed();
    if let Some(name) = &filter.name {
        match name.strip_suffix(".*") {
            Some(prefix) => {
                let like = format!("{}.%", prefix.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
                q = q.filter(events::name.like(like).escape('\\'));
            }
            None => q = q.filter(events::name.eq(name.clone())),
        }
    }
    if let Some(s) = filter.since {
        q = q.filter(events::occurred_at.ge(s));
    }
    if let Some(u) = filter.until {
        q = q.filter(events::occurred_at.lt(u));
    }
    if let Some(after) = &page.after {
        q = q.filter(events::id.lt(after.clone()));
    }
    let rows: Vec<EventTuple> = q.order(events::id.desc()).limit(page.fetch()).select(EVENT_COLS).load(conn)?;
    let page = Page::from_rows(rows, page, |r| r.0.clone());
    let ids: Vec<&String> = page.items.iter().map(|r| &r.0).collect();
    let all: Vec<DeliveryState> = deliveries::table
        .filter(deliveries::event_id.eq_any(&ids))
        .order(deliveries::id.asc())
        .select((
            deliveries::id,
            deliveries::event_id,
            deliveries::plugin,
            deliveries::handler,
            deliveries::state,
            deliveries::attempts,
            deliveries::next_attempt_at,
            deliveries::last_error,
            deliveries::delivered_at,
        ))
        .load(conn)?;
    Ok(page.map(|(id, name, source, payload, actor_id, depth, occurred_at, collection)| LoggedEvent {
        deliveries: all.iter().filter(|d| d.event_id == id).cloned().collect(),
        payload: serde_json::from_str(&payload).unwrap_or(Value::Null),
        id,
        name,
        source,
        actor_id,
        depth,
        occurred_at,
        collection,
    }))
}

/// Puts an event's dead-lettered deliveries back in the queue, with fresh attempts. Returns
/// how many; `None` when the company has no such event.
pub fn replay(conn: &mut DbConn, company_id: &str, event_id: &str) -> Result<Option<usize>, StoreError> {
    let exists: i64 = events::table
        .filter(events::id.eq(event_id))
        .filter(events::company_id.eq(company_id))
        .count()
        .get_result(conn)?;
    if exists == 0 {
        return Ok(None);
    }
    let n = diesel::update(
        deliveries::table.filter(deliveries::event_id.eq(event_id)).filter(deliveries::state.eq("dead")),
    )
    .set((
        deliveries::state.eq("pending"),
        deliveries::attempts.eq(0),
        deliveries::next_attempt_at.eq(clock::now()),
        deliveries::lease_owner.eq(None::<String>),
        deliveries::lease_until.eq(None::<i64>),
    ))
    .execute(conn)?;
    Ok(Some(n))
}

/// Queue metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    /// Deliveries waiting (all companies).
    pub pending: i64,
    /// Dead letters.
    pub dead: i64,
    /// Oldest pending delivery's age, in microseconds.
    pub oldest_pending_age: Option<Micros>,
    /// (plugin, dead letters, deliveries with a failed attempt) per plugin.
    pub failures_by_plugin: Vec<(String, i64, i64)>,
    /// Deliveries completed by this node since it started.
    pub delivered_by_this_node: u64,
    /// Recent commit-to-delivery latency on this node (p50, p99), microseconds.
    pub latency: Option<(i64, i64)>,
}

/// The queue at a glance: waiting deliveries, dead letters, the oldest waiting one's age.
#[derive(Debug, Clone, Copy)]
pub struct Queue {
    /// Deliveries waiting (all companies).
    pub pending: i64,
    /// Dead letters.
    pub dead: i64,
    /// Oldest pending delivery's age, in microseconds.
    pub oldest_pending_age: Option<Micros>,
}

/// [`Queue`] now: two counts and a minimum over the delivery state, cheap enough for every
/// metrics scrape.
pub fn queue(conn: &mut DbConn) -> Result<Queue, StoreError> {
    let pending: i64 = deliveries::table.filter(deliveries::state.eq("pending")).count().get_result(conn)?;
    let dead: i64 = deliveries::table.filter(deliveries::state.eq("dead")).count().get_result(conn)?;
    let oldest: Option<i64> = deliveries::table
        .filter(deliveries::state.eq("pending"))
        .select(diesel::dsl::min(deliveries::created_at))
        .first(conn)?;
    Ok(Queue { pending, dead, oldest_pending_age: oldest.map(|o| clock::now() - o) })
}

/// Current metrics.
pub fn metrics(platform: &dyn BusKernel, conn: &mut DbConn) -> Result<Metrics, StoreError> {
    let Queue { pending, dead, oldest_pending_age } = queue(conn)?;
    let failing: Vec<(String, String)> = deliveries::table
        .filter(deliveries::last_error.is_not_null())
        .select((deliveries::plugin, deliveries::state))
        .load(conn)?;
    let mut by_plugin: std::collections::BTreeMap<String, (i64, i64)> = Default::default();
    for (plugin, state) in failing {
        let e = by_plugin.entry(plugin).or_default();
        e.1 += 1;
        if state == "dead" {
            e.0 += 1;
        }
    }
    Ok(Metrics {
        pending,
        dead,
        oldest_pending_age,
        failures_by_plugin: by_plugin.into_iter().map(|(p, (d, f))| (p, d, f)).collect(),
        delivered_by_this_node: platform.bus().stats.delivered_total(),
        latency: platform.bus().stats.latency_percentiles(),
    })
}
