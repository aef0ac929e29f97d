//! The unified lead inbox: every inbound message, whatever its channel, is matched to a
//! customer or an open lead, joins that lead's conversation, and a new lead gets a manager.

use erp_sdk::store::{self, Filter, Query};
use erp_sdk::{Error, Result, Value, context, json};
use serde::Deserialize;

use crate::channels::Inbound;
use crate::model::{Contact, Entry, Lead, Manager, Message};
use crate::time;
use crate::util;

/// What happened to an inbound message.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    /// The lead it joined.
    pub lead: String,
    /// The stored message; `None` when this message was already received.
    pub message: Option<String>,
    /// The customer it was matched to.
    pub customer: Option<String>,
    /// True when a new lead was opened for it.
    pub new_lead: bool,
}

fn open_statuses() -> Vec<Value> {
    vec![json!("new"), json!("in_progress")]
}

/// The customer that owns one of these contact keys, trying them in order (the channel's own
/// id of the sender first).
fn customer_by_keys(keys: &[String]) -> Result<Option<String>> {
    for k in keys {
        let q = Query::new().filter(Filter::eq("key", k.as_str()));
        if let Some(c) = util::first::<Contact>("contact", q)? {
            return Ok(Some(c.data.customer));
        }
    }
    Ok(None)
}

/// The newest open lead of the customer, or of the same sender by any of their keys (also
/// one opened before the sender had a card).
fn open_lead(customer: Option<&str>, keys: &[String]) -> Result<Option<erp_sdk::store::Record<Lead>>> {
    let mut any = Vec::new();
    if let Some(c) = customer {
        any.push(Filter::eq("customer", c));
    }
    if !keys.is_empty() {
        let list: Vec<Value> = keys.iter().map(|k| json!(k)).collect();
        any.push(Filter::is_in("contact_key", list.clone()));
        any.push(Filter::is_in("other_key", list));
    }
    let who = match any.len() {
        0 => return Ok(None),
        1 => any.remove(0),
        _ => Filter::or(any),
    };
    let q = Query::new()
        .filter(Filter::and(vec![who, Filter::is_in("status", open_statuses())]))
        .sort_desc("last_message_at");
    util::first::<Lead>("lead", q)
}

fn title_for(m: &Inbound) -> String {
    if let Some(s) = &m.subject {
        return s.chars().take(200).collect();
    }
    let first_line = m.text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or_default();
    if first_line.is_empty() {
        return format!("Message via {}", m.channel);
    }
    let mut t: String = first_line.chars().take(80).collect();
    if first_line.chars().count() > 80 {
        t.push('…');
    }
    t
}

/// Takes one inbound message into the inbox.
pub fn receive(m: Inbound) -> Result<Received> {
    if let Some(key) = &m.external_key
        && let Some(seen) =
            util::first::<Message>("message", Query::new().filter(Filter::eq("external_key", key.as_str())))?
    {
        return Ok(Received { lead: seen.data.lead, message: None, customer: seen.data.customer, new_lead: false });
    }
    let keys = m.keys();
    let customer = customer_by_keys(&keys)?;
    let at = m.sent_at.clone().unwrap_or_else(|| time::format(time::now()));
    let (lead, new_lead) = match open_lead(customer.as_deref(), &keys)? {
        Some(l) => {
            let mut patch = json!({
                "messages": l.data.messages.unwrap_or(0).saturating_add(1),
                "last_message_at": at,
                "status": if l.data.status() == "new" { "new" } else { "in_progress" },
            });
            if l.data.customer.is_none() && customer.is_some() {
                patch["customer"] = json!(customer);
            }
            store::update::<Value>("lead", &l.id, &patch, Some(l.version))?;
            (l.id, false)
        }
        None => {
            // The kernel's record event `crm.lead.created` announces it, with these fields.
            let responsible = assign()?;
            let source = m.utm.get("utm_source").cloned().unwrap_or_else(|| m.channel.clone());
            let lead = store::create(
                "lead",
                &Lead {
                    title: title_for(&m),
                    status: Some("new".into()),
                    channel: m.channel.clone(),
                    customer: customer.clone(),
                    name: m.sender_name.clone(),
                    contact_key: keys.first().cloned(),
                    other_key: keys.get(1).cloned(),
                    email: m.email().map(str::to_string),
                    phone: m.phone().map(str::to_string),
                    responsible: responsible.clone(),
                    source: Some(source.clone()),
                    utm: (!m.utm.is_empty()).then(|| json!(m.utm)),
                    messages: Some(1),
                    last_message_at: Some(at.clone()),
                    ..Lead::default()
                },
            )?;
            (lead.id, true)
        }
    };
    let sender = match (&m.sender_name, m.contacts.first()) {
        (Some(n), Some((_, v))) => Some(format!("{n} <{v}>")),
        (None, Some((_, v))) => Some(v.clone()),
        (Some(n), None) => Some(n.clone()),
        (None, None) => None,
    };
    let message = store::create(
        "message",
        &Message {
            lead: lead.clone(),
            customer: customer.clone(),
            channel: m.channel.clone(),
            direction: Some("in".into()),
            external_key: m.external_key.clone(),
            sender,
            subject: m.subject.clone(),
            body: Some(m.text.chars().take(100_000).collect()),
            at: at.clone(),
            message_id: m.message_id.clone(),
            ..Message::default()
        },
    )?;
    if let Some(c) = &customer {
        crate::timeline::add(Entry {
            customer: c.clone(),
            kind: "message".into(),
            at,
            title: match &m.subject {
                Some(s) => format!("Message via {}: {s}", m.channel),
                None => format!("Message via {}", m.channel),
            },
            title_ru: Some(match &m.subject {
                Some(s) => format!("Сообщение ({}): {s}", channel_ru(&m.channel)),
                None => format!("Сообщение ({})", channel_ru(&m.channel)),
            }),
            ref_id: Some(message.id.clone()),
            data: Some(json!({ "lead": lead, "message": message.id, "channel": m.channel })),
            ..Entry::default()
        })?;
    }
    Ok(Received { lead, message: Some(message.id), customer, new_lead })
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Config {
    assignment: Option<String>,
}

/// Picks the manager for a new lead among active managers who are not absent: round-robin
/// (who waited longest since their last lead) or least-loaded (fewest open leads), as the
/// company configured. `None` when nobody takes leads.
pub fn assign() -> Result<Option<String>> {
    let config: Config = context::config().unwrap_or_default();
    assign_with(config.assignment.as_deref().unwrap_or("round_robin"))
}

/// Picks a manager with an explicit strategy (`round_robin` or `least_loaded`); robots use it.
pub fn assign_with(strategy: &str) -> Result<Option<String>> {
    let team: Vec<_> = util::all::<Manager>("manager", Filter::eq("active", true))?
        .into_iter()
        .filter(|m| m.data.absent != Some(true))
        .collect();
    if team.is_empty() {
        return Ok(None);
    }
    pick(team, strategy)
}

fn pick(team: Vec<erp_sdk::store::Record<Manager>>, strategy: &str) -> Result<Option<String>> {
    let waited = |m: &Manager| m.last_assigned_at.as_deref().and_then(time::parse);
    let chosen = match strategy {
        "least_loaded" => {
            let load = store::aggregate(
                "lead",
                &erp_sdk::store::Aggregate::new()
                    .filter(Filter::is_in("status", open_statuses()))
                    .group_by("responsible")
                    .count(),
            )?;
            let open_of = |user: &str| {
                load.iter()
                    .find(|g| g.key.get("responsible").and_then(Value::as_str) == Some(user))
                    .and_then(|g| g.values.get("count").and_then(Value::as_i64))
                    .unwrap_or(0)
            };
            team.iter().min_by_key(|m| (open_of(&m.data.user_id), waited(&m.data), m.data.user_id.clone()))
        }
        _ => team.iter().min_by_key(|m| (waited(&m.data), m.data.user_id.clone())),
    };
    let Some(m) = chosen else { return Ok(None) };
    store::update::<Value>(
        "manager",
        &m.id,
        &json!({ "last_assigned_at": time::format(time::now()) }),
        Some(m.version),
    )?;
    Ok(Some(m.data.user_id.clone()))
}

/// The handler of `hr.absence.changed`: `{"user_id", "absent": bool}` marks a manager absent
/// or back, so new leads skip them.
pub fn on_absence(payload: &Value) -> Result<()> {
    let (Some(user), Some(absent)) = (payload["user_id"].as_str(), payload["absent"].as_bool()) else {
        return Err(Error::invalid("payload", "needs user_id and absent"));
    };
    if let Some(m) = util::first::<Manager>("manager", Query::new().filter(Filter::eq("user_id", user)))? {
        store::update::<Value>("manager", &m.id, &json!({ "absent": absent }), Some(m.version))?;
    }
    Ok(())
}

/// A channel's name in Russian, as the manifest labels it.
pub(crate) fn channel_ru(channel: &str) -> &str {
    match channel {
        "email" => "эл. почта",
        "form" => "веб-форма",
        "vk" => "ВКонтакте",
        "phone" => "телефон",
        "other" => "другое",
        other => other,
    }
}
