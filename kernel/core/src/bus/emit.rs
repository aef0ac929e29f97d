//! Emitting an event inside a unit of work: the event row, the synchronous subscribers (in
//! order, with the hook budget; an error vetoes the whole change) and one outbox row per
//! after-commit subscriber, all in the same transaction.

use std::sync::Arc;

use diesel::prelude::*;
use serde_json::Value;

use crate::clock;
use crate::events::{self, NewEvent};
use crate::fair_use::quota;
use crate::ids;
use crate::plugins::host::{Call, DeliveredEvent};
use crate::plugins::manifest::{DeliveryMode, Manifest};
use crate::plugins::registry::Active;
use crate::plugins::{Kernel, Limit, PluginError};
use crate::session::Session;
use crate::storage::DbConn;
use crate::storage::schema::deliveries;

/// Longest chain of events causing events (a handler's writes emit events, whose handlers
/// write...). Deeper chains stop with an error instead of looping.
pub const MAX_EVENT_DEPTH: u32 = 8;

/// True when a subscription pattern (`crm.deal.won` or `crm.deal.*`) matches an event name.
pub fn pattern_matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix(".*") {
        Some(prefix) => {
            name.len() > prefix.len() + 1 && name.starts_with(prefix) && name.as_bytes()[prefix.len()] == b'.'
        }
        None => pattern == name,
    }
}

/// A subscriber of one event.
pub(crate) struct Subscriber {
    pub(crate) active: Arc<Active>,
    pub(crate) handler: String,
    pub(crate) mode: DeliveryMode,
}

/// Enabled plugins of the company whose subscriptions match, in a defined order: by plugin
/// name, then in the order the manifest declares them.
pub(crate) fn subscribers(
    platform: &dyn Kernel,
    conn: &mut DbConn,
    company_id: &str,
    name: &str,
) -> Result<Vec<Subscriber>, PluginError> {
    let mut out = Vec::new();
    for plugin in platform.plugins().enabled_names(conn, company_id)? {
        let Some(manifest) = platform.plugins().current_manifest(conn, &plugin)? else { continue };
        if !manifest.subscriptions.iter().any(|s| pattern_matches(&s.pattern, name)) {
            continue;
        }
        let active = Arc::new(platform.plugins().active(conn, company_id, &plugin)?);
        for s in manifest.subscriptions.iter().filter(|s| pattern_matches(&s.pattern, name)) {
            out.push(Subscriber { active: active.clone(), handler: s.handler.clone(), mode: s.mode });
        }
    }
    Ok(out)
}

/// The payload as one subscriber may see it. Record events carry the record's fields: the
/// owning plugin sees all of them; another plugin sees the declared ones only through a
/// granted capability on that collection, and sensitive fields only if the capability asks
/// for them. Without the owner's schema, no fields at all.
pub(crate) fn visible_payload(
    payload: &Value,
    source: &str,
    collection: Option<&str>,
    owner: Option<&Manifest>,
    subscriber: &Manifest,
    grants: &[String],
) -> Value {
    let Some(collection) = collection else { return payload.clone() };
    if subscriber.plugin.name == source {
        return payload.clone();
    }
    let qualified = format!("{source}.{collection}");
    let cap =
        subscriber.capabilities.iter().find(|c| c.collection == qualified).filter(|_| grants.contains(&qualified));
    record_fields_for(payload, owner.and_then(|m| m.collections.get(collection)), cap.map(|c| c.sensitive))
}

/// A record event's payload cut for one reader: `None` when it may not read the collection
/// (the fields go), else whether it may see sensitive fields.
pub(crate) fn record_fields_for(
    payload: &Value,
    spec: Option<&crate::plugins::manifest::CollectionSpec>,
    read: Option<bool>,
) -> Value {
    let mut out = payload.clone();
    let Some(obj) = out.as_object_mut() else { return out };
    for side in ["before", "after"] {
        match read {
            None => {
                obj.remove(side);
            }
            Some(sensitive) => {
                if let Some(Value::Object(fields)) = obj.get_mut(side) {
                    crate::records::readable_fields(fields, spec, sensitive);
                }
            }
        }
    }
    out
}

/// The idempotency key of one delivery: stable across redeliveries to that subscriber.
pub fn idempotency_key(event_id: &str, plugin: &str, handler: &str) -> String {
    format!("{event_id}:{plugin}:{handler}")
}

/// Emits an event in the session's company: writes it, runs synchronous subscribers (an
/// error from any vetoes the whole unit of work and names the plugin), and queues one
/// delivery per after-commit subscriber. Returns the event id.
pub fn emit(platform: &dyn Kernel, session: &mut Session, ev: NewEvent<'_>) -> Result<String, PluginError> {
    if session.chain > MAX_EVENT_DEPTH {
        return Err(PluginError::Failed {
            plugin: ev.source.to_string(),
            reason: format!(
                "event {} would be {} links deep in a chain of events; stopped at {MAX_EVENT_DEPTH} to prevent a loop",
                ev.name, session.chain
            ),
            limit: Some(Limit::Depth),
        });
    }
    let company = session.company_id.clone();
    let (actor, depth) = (session.user_id.clone(), session.chain);
    let conn = session.conn()?;
    if ev.source != "kernel" {
        let quotas = platform.fair().settings.quotas;
        quota::charge(conn, &quotas, &company, ev.source, quota::Usage { events: 1, ..Default::default() })?;
    }
    let id = events::insert(conn, &company, &ev, actor.as_deref(), depth)?;
    let hooks = super::webhooks::subscribed(conn, &company, ev.name)?;
    let subs = subscribers(platform, conn, &company, ev.name)?;
    let now = clock::now();
    for hook in &hooks {
        diesel::insert_into(deliveries::table)
            .values((
                deliveries::id.eq(ids::new_id()),
                deliveries::event_id.eq(&id),
                deliveries::company_id.eq(&company),
                deliveries::plugin.eq(super::webhooks::SOURCE),
                deliveries::handler.eq(hook),
                deliveries::state.eq("pending"),
                deliveries::attempts.eq(0),
                deliveries::next_attempt_at.eq(now),
                deliveries::created_at.eq(now),
            ))
            .execute(conn)?;
    }
    if subs.is_empty() {
        return Ok(id);
    }
    let owner = match ev.collection {
        Some(_) => platform.plugins().current_manifest(conn, ev.source)?,
        None => None,
    };
    for s in subs.iter().filter(|s| s.mode == DeliveryMode::AfterCommit) {
        diesel::insert_into(deliveries::table)
            .values((
                deliveries::id.eq(ids::new_id()),
                deliveries::event_id.eq(&id),
                deliveries::company_id.eq(&company),
                deliveries::plugin.eq(&s.active.loaded.manifest.plugin.name),
                deliveries::handler.eq(&s.handler),
                deliveries::state.eq("pending"),
                deliveries::attempts.eq(0),
                deliveries::next_attempt_at.eq(now),
                deliveries::created_at.eq(now),
            ))
            .execute(session.conn()?)?;
    }
    let occurred_at = clock::to_rfc3339(now);
    for s in subs.iter().filter(|s| s.mode == DeliveryMode::Sync) {
        let manifest = &s.active.loaded.manifest;
        let payload =
            visible_payload(&ev.payload, ev.source, ev.collection, owner.as_deref(), manifest, &s.active.grants);
        let event = DeliveredEvent {
            id: id.clone(),
            name: ev.name.to_string(),
            payload: payload.to_string(),
            actor: actor.clone(),
            occurred_at: occurred_at.clone(),
            idempotency_key: idempotency_key(&id, &manifest.plugin.name, &s.handler),
        };
        // What the handler emits is one link further down the chain.
        session.chain += 1;
        let outcome = platform.plugins().invoke(
            platform,
            session,
            &s.active,
            None,
            Call::Event { handler: &s.handler, event: &event, sync: true },
        );
        session.chain -= 1;
        outcome?;
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        assert!(pattern_matches("crm.deal.won", "crm.deal.won"));
        assert!(pattern_matches("crm.deal.*", "crm.deal.won"));
        assert!(pattern_matches("crm.*", "crm.deal.won"));
        assert!(!pattern_matches("crm.deal.*", "crm.deal"));
        assert!(!pattern_matches("crm.deal.*", "crm.dealer.won"));
        assert!(!pattern_matches("crm.deal.won", "crm.deal.lost"));
    }
}
