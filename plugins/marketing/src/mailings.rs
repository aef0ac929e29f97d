//! Mailings: a subject and body template rendered for each customer of a snapshot with that
//! customer's own data only, queued as messages (e-mail goes out through `sending`, other
//! channels' delivery connectors report statuses); unsubscribed customers are never queued.

use std::collections::{BTreeMap, BTreeSet};

use erp_sdk::store::{self, Filter, Record};
use erp_sdk::{Error, Result, Value, WebhookRequest, WebhookResponse, events, json, serde_json};
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::Deserialize;

use crate::model::{Mailing, Message};
use crate::util;

/// Template instructions one message may take.
const FUEL: u64 = 50_000;
/// Most messages one mailing queues at a time.
const MAX_RECIPIENTS: usize = 10_000;
/// Customers whose cards and addresses are read in one query.
const CHUNK: usize = 500;

fn environment(html: bool) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    env.set_fuel(Some(FUEL));
    if html {
        env.set_auto_escape_callback(|_| AutoEscape::Html);
    }
    env
}

/// Validation of a mailing: both templates compile (the error says where they break).
pub fn validate(after: &Value) -> Result<()> {
    let html = after["channel"].as_str() != Some("sms");
    let env = environment(html);
    for field in ["subject", "body"] {
        if let Some(src) = after[field].as_str() {
            env.template_from_str(src).map_err(|e| Error::invalid(field, e.to_string()))?;
        }
    }
    Ok(())
}

/// What a template may use about its recipient: their own card, nothing of anyone else's.
fn recipient(customer: &Value, id: &str) -> Value {
    let c = customer;
    json!({ "id": id, "name": c["name"], "first_name": c["first_name"], "last_name": c["last_name"],
            "patronymic": c["patronymic"], "kind": c["kind"], "tags": c["tags"], "total_spent": c["total_spent"] })
}

/// Whether an unsubscribe record keeps its customer off `channel`.
pub(crate) fn covers(unsubscribe: &Value, channel: &str) -> bool {
    matches!(unsubscribe["channel"].as_str(), None | Some("all")) || unsubscribe["channel"].as_str() == Some(channel)
}

/// Customers who asked for no more mail on this channel.
pub(crate) fn unsubscribed(channel: &str) -> Result<BTreeSet<String>> {
    Ok(util::every::<Value>("unsubscribe")?
        .into_iter()
        .filter(|u| covers(&u.data, channel))
        .filter_map(|u| u.data["customer"].as_str().map(str::to_string))
        .collect())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Queue {
    mailing: String,
    snapshot: String,
}

/// `queue-mailing`.
pub fn queue(input: Value) -> Result<Value> {
    let q: Queue = erp_sdk::input(input)?;
    let m = store::get::<Mailing>("mailing", &q.mailing).map_err(|_| Error::invalid("mailing", "no such mailing"))?;
    let sent =
        store::first::<Value>("message", erp_sdk::store::Query::new().filter(Filter::eq("mailing", m.id.as_str())))?;
    if m.data.state.as_deref() == Some("queued") || sent.is_some() {
        return Err(Error::invalid("mailing", "is already queued: copy it to send again"));
    }
    let snap =
        store::get::<Value>("snapshot", &q.snapshot).map_err(|_| Error::invalid("snapshot", "no such snapshot"))?;
    let ids: Vec<String> = snap.data["customers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    if ids.len() > MAX_RECIPIENTS {
        return Err(Error::invalid("snapshot", format!("has more than {MAX_RECIPIENTS} customers: split the segment")));
    }
    let channel = m.data.channel.clone().unwrap_or_else(|| "email".into());
    let env = environment(channel == "email");
    // A subject is plain text, never HTML.
    let plain = environment(false);
    let subject = m.data.subject.as_deref().map(|s| plain.template_from_str(s)).transpose();
    let subject = subject.map_err(|e| Error::invalid("subject", e.to_string()))?;
    let body = env.template_from_str(&m.data.body).map_err(|e| Error::invalid("body", e.to_string()))?;
    let stop = unsubscribed(&channel)?;
    let kind = if channel == "sms" { "phone" } else { "email" };
    let (mut queued, mut skipped_unsubscribed, mut skipped_no_address, mut gone) = (0, 0, 0, 0);
    let wanted: Vec<String> = ids
        .into_iter()
        .filter(|id| {
            let stopped = stop.contains(id);
            skipped_unsubscribed += usize::from(stopped);
            !stopped
        })
        .collect();
    // Cards and addresses are read a chunk at a time: one query each instead of two per customer.
    for chunk in wanted.chunks(CHUNK) {
        let list: Vec<Value> = chunk.iter().map(|id| json!(id)).collect();
        let cards: BTreeMap<String, Value> = util::all::<Value>("crm.customer", Filter::is_in("id", list.clone()))?
            .into_iter()
            .map(|r| (r.id, r.data))
            .collect();
        let contacts = util::all::<Value>(
            "crm.contact",
            Filter::and(vec![Filter::is_in("customer", list), Filter::eq("kind", kind)]),
        )
        .map_err(|e| match e {
            Error::AccessDenied(_) => {
                Error::invalid("mailing", "needs read access to crm.contact with personal data: grant it to marketing")
            }
            other => other,
        })?;
        // The oldest address of each customer, as a card lists them.
        let mut addresses: BTreeMap<String, String> = BTreeMap::new();
        for c in contacts {
            if let (Some(customer), Some(value)) = (c.data["customer"].as_str(), c.data["value"].as_str()) {
                addresses.entry(customer.to_string()).or_insert_with(|| value.to_string());
            }
        }
        for id in chunk {
            let Some(card) = cards.get(id) else {
                gone += 1;
                continue;
            };
            let Some(address) = addresses.get(id).cloned() else {
                skipped_no_address += 1;
                continue;
            };
            let ctx = json!({ "customer": recipient(card, id) });
            let render = |t: &minijinja::Template<'_, '_>, field: &str| {
                t.render(&ctx).map_err(|e| Error::invalid(field, format!("for customer {id}: {e}")))
            };
            let message = Message {
                mailing: m.id.clone(),
                customer: id.clone(),
                address,
                subject: subject.as_ref().map(|s| render(s, "subject")).transpose()?,
                body: render(&body, "body")?,
                status: "queued".into(),
                history: vec![json!({ "status": "queued", "at": erp_sdk::now() })],
            };
            store::create("message", &message)?;
            queued += 1;
        }
    }
    store::update::<Value>("mailing", &m.id, &json!({ "state": "queued" }), Some(m.version))?;
    let summary = json!({ "id": m.id, "name": m.data.name, "queued": queued, "skipped_unsubscribed": skipped_unsubscribed,
                          "skipped_no_address": skipped_no_address, "skipped_unknown": gone });
    events::publish("marketing.mailing.queued", &summary)?;
    Ok(summary)
}

/// The statuses a message may move to from each status.
fn allowed(from: &str, to: &str) -> bool {
    matches!(
        (from, to),
        ("queued", "sending" | "sent" | "failed" | "cancelled")
            | ("sending", "sent" | "failed")
            | ("sent", "failed" | "opened" | "clicked")
            | ("opened", "clicked")
    )
}

fn set_status(id: &str, status: &str, detail: Option<&str>) -> Result<Value> {
    let msg = store::get::<Message>("message", id).map_err(|_| Error::invalid("id", "no such message"))?;
    if msg.data.status == status {
        return Ok(json!({ "id": id, "status": status, "changed": false }));
    }
    if !allowed(&msg.data.status, status) {
        return Err(Error::invalid("status", format!("a {} message cannot become {status}", msg.data.status)));
    }
    let mut history = msg.data.history.clone();
    history.push(json!({ "status": status, "at": erp_sdk::now(), "detail": detail }));
    store::update::<Value>("message", id, &json!({ "status": status, "history": history }), Some(msg.version))?;
    Ok(json!({ "id": id, "status": status, "changed": true }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Status {
    id: String,
    status: String,
    detail: Option<String>,
}

/// `message-status`.
pub fn status(input: Value) -> Result<Value> {
    let s: Status = erp_sdk::input(input)?;
    set_status(&s.id, &s.status, s.detail.as_deref())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Unsubscribe {
    customer: String,
    channel: Option<String>,
    reason: Option<String>,
}

/// Records that `customer` gets nothing more on `channel`; `cause` is `request`, `link`,
/// `bounce` or `refused`.
pub(crate) fn record_unsubscribe(customer: &str, channel: &str, cause: &str, reason: Option<&str>) -> Result<Value> {
    if !matches!(channel, "email" | "sms" | "all") {
        return Err(Error::invalid("channel", "must be email, sms or all"));
    }
    let rec = store::create::<Value>(
        "unsubscribe",
        &json!({ "customer": customer, "channel": channel, "cause": cause, "reason": reason, "at": erp_sdk::now() }),
    )?;
    Ok(json!({ "id": rec.id, "customer": customer, "channel": channel }))
}

/// `unsubscribe`.
pub fn unsubscribe(input: Value) -> Result<Value> {
    let u: Unsubscribe = erp_sdk::input(input)?;
    if u.customer.trim().is_empty() {
        return Err(Error::invalid("customer", "is required"));
    }
    record_unsubscribe(&u.customer, u.channel.as_deref().unwrap_or("all"), "request", u.reason.as_deref())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Delivery {
    message: Option<String>,
    status: Option<String>,
    detail: Option<String>,
    unsubscribe: Option<String>,
}

/// The `delivery` webhook: connectors report statuses and unsubscribe links.
pub fn webhook(request: WebhookRequest) -> Result<WebhookResponse> {
    if request.method != "POST" {
        return Err(Error::invalid("method", "send a POST"));
    }
    let d: Delivery = serde_json::from_slice(&request.body).map_err(|e| Error::invalid("body", e.to_string()))?;
    let answer = match (d.message, d.status, d.unsubscribe) {
        (Some(m), Some(s), None) => set_status(&m, &s, d.detail.as_deref())?,
        (None, None, Some(m)) => {
            let msg: Record<Message> =
                store::get("message", &m).map_err(|_| Error::invalid("unsubscribe", "no such message"))?;
            let mailing = store::get::<Mailing>("mailing", &msg.data.mailing)?;
            record_unsubscribe(&msg.data.customer, mailing.data.channel.as_deref().unwrap_or("email"), "link", None)?
        }
        _ => return Err(Error::invalid("body", "give message and status, or unsubscribe")),
    };
    Ok(WebhookResponse::json(&answer))
}
