//! Posting claimed webhook deliveries: never inside a transaction. The event and the
//! subscription are read, the request is sent through the outbound client (to the
//! subscription's own host only), and the outcome is written in a short transaction of its
//! own, conditional on this node still holding the lease.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use erp_manifest::hosts::HostPattern;
use serde_json::{Value, json};

use super::{SOURCE, Subscription};
use crate::bus::BusKernel;
use crate::bus::dispatch::{self, Claimed};
use crate::bus::log::{self, LoggedEvent};
use crate::clock;
use crate::outbound::{Caller, Request};
use crate::plugins::PluginError;
use crate::storage::StoreError;
use crate::storage::schema::{deliveries, events, outgoing_webhooks};

/// How long one round may spend sending before it gives the rest back.
const ROUND_TIME: Duration = Duration::from_secs(5);

/// What a delivery sends, read before anything leaves.
struct Prepared {
    sub: Subscription,
    occurred_at: i64,
    name: String,
    body: Vec<u8>,
    key: String,
}

/// The event as the subscription's creator may see it, in the body a receiver gets.
fn prepare(platform: &dyn BusKernel, c: &Claimed) -> Result<Result<Prepared, String>, StoreError> {
    platform.db().read_blocking(|conn| {
        let sub: Option<Subscription> = outgoing_webhooks::table
            .filter(outgoing_webhooks::company_id.eq(&c.company_id))
            .filter(outgoing_webhooks::id.eq(&c.handler))
            .first(conn)
            .optional()?;
        let Some(sub) = sub else {
            return Ok(Err("the webhook was removed".to_string()));
        };
        let row: Option<log::EventTuple> =
            events::table.filter(events::id.eq(&c.event_id)).select(log::EVENT_COLS).first(conn).optional()?;
        let Some((id, name, source, payload, actor_id, depth, occurred_at, collection)) = row else {
            return Ok(Err("the event no longer exists".to_string()));
        };
        let mut ev = [LoggedEvent {
            id,
            name,
            source,
            payload: serde_json::from_str(&payload).unwrap_or(Value::Null),
            actor_id,
            depth,
            occurred_at,
            collection,
            deliveries: Vec::new(),
        }];
        // Read as the person who set the webhook up may read now; one who left sees nothing.
        match crate::access::company_scope(conn, &sub.created_by, &c.company_id) {
            Ok(scope) => log::visible_to(platform, conn, &scope, &mut ev)?,
            Err(_) => ev[0].payload = Value::Object(serde_json::Map::new()),
        }
        let [ev] = ev;
        let body = json!({
            "delivery": c.id,
            "event": ev.id,
            "name": ev.name,
            "occurred_at": clock::to_rfc3339(ev.occurred_at),
            "company_id": c.company_id,
            "actor_id": ev.actor_id,
            "payload": ev.payload,
        });
        let key = crate::bus::emit::idempotency_key(&ev.id, SOURCE, &sub.id);
        Ok(Ok(Prepared { sub, occurred_at: ev.occurred_at, name: ev.name, body: body.to_string().into_bytes(), key }))
    })
}

/// The subscription's own origin: the only host its deliveries may reach.
fn origin(url: &str) -> Vec<HostPattern> {
    let Ok(u) = reqwest::Url::parse(url) else { return Vec::new() };
    let (Some(host), Some(port)) = (u.host_str(), u.port_or_known_default()) else { return Vec::new() };
    vec![HostPattern { scheme: u.scheme().to_string(), host: host.to_ascii_lowercase(), port: Some(port) }]
}

/// Gives leases back so that another round takes the deliveries.
fn release(platform: &dyn BusKernel, ids: &[String]) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    let me = platform.bus().node.clone();
    platform.db().write_blocking(|conn| {
        diesel::update(deliveries::table.filter(deliveries::id.eq_any(ids)).filter(deliveries::lease_owner.eq(&me)))
            .set((deliveries::lease_owner.eq(None::<String>), deliveries::lease_until.eq(None::<i64>)))
            .execute(conn)?;
        Ok(())
    })
}

/// Posts claimed webhook deliveries, in order per subscription; answers how many settled.
pub fn deliver(platform: &dyn BusKernel, claimed: Vec<Claimed>) -> Result<usize, PluginError> {
    let me = platform.bus().node.clone();
    let started = Instant::now();
    let mut stopped: HashSet<String> = HashSet::new();
    let mut left = Vec::new();
    let mut settled = 0;
    for c in claimed {
        if stopped.contains(&c.handler) || started.elapsed() > ROUND_TIME {
            left.push(c.id.clone());
            continue;
        }
        let mut occurred = None;
        let outcome = match prepare(platform, &c)? {
            Err(gone) => Err((gone, true)),
            Ok(p) => {
                occurred = Some(p.occurred_at);
                let timestamp = clock::now() / 1_000_000;
                let request = Request {
                    method: "POST".into(),
                    url: p.sub.url.clone(),
                    headers: vec![
                        ("content-type".into(), "application/json".into()),
                        ("erp-event".into(), p.name.clone()),
                        ("erp-delivery".into(), c.id.clone()),
                        ("erp-signature".into(), super::signature(&p.sub.secret, timestamp, &p.body)),
                    ],
                    body: Some(p.body),
                    idempotency_key: Some(p.key),
                };
                let caller = Caller { company_id: &c.company_id, source: SOURCE, granted: origin(&p.sub.url) };
                let timeout = platform.outbound().settings().timeout;
                match platform.outbound().send(platform.db(), platform.plugins().metrics(), &caller, request, timeout) {
                    Ok(r) if (200..300).contains(&r.status) => Ok(()),
                    Ok(r) => Err((format!("the receiver answered {}", r.status), false)),
                    Err(e) => Err((e.to_string(), false)),
                }
            }
        };
        platform.db().write_blocking(|conn| {
            match &outcome {
                Ok(()) => {
                    dispatch::complete(conn, std::slice::from_ref(&c.id), &me)?;
                }
                Err((error, dead)) => dispatch::fail(platform, conn, &c, error, *dead)?,
            }
            Ok::<_, StoreError>(())
        })?;
        settled += 1;
        match outcome {
            Ok(()) => {
                let lag = clock::now() - occurred.unwrap_or_else(clock::now);
                platform.plugins().metrics().delivery("delivered", Some(lag.max(0) as f64 / 1e6));
                platform.bus().stats.delivered(lag);
            }
            Err(_) => {
                stopped.insert(c.handler.clone());
            }
        }
    }
    release(platform, &left)?;
    Ok(settled)
}
