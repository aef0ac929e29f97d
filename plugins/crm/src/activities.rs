//! Activities and reminders: calls, meetings and tasks with a due time; the schedule raises
//! `crm.activity.due` once per activity and tells the responsible manager (a notification of
//! kind `crm.activity_due`), and the overdue list groups open work per manager.

use std::collections::BTreeMap;

use erp_sdk::notify::{Importance, Notification};
use erp_sdk::store::{self, Filter, Query};
use erp_sdk::{Error, Result, Value, events, json, log};

use crate::model::{Activity, Entry};
use crate::time;
use crate::util;

/// The `reminders` schedule: each open activity that has come due is announced once.
pub fn remind() -> Result<()> {
    let now = time::format(time::now());
    let q = Query::new()
        .filter(Filter::and(vec![
            Filter::eq("done", false),
            Filter::eq("reminded", false),
            Filter::lte("due_at", now.as_str()),
        ]))
        .sort_asc("due_at")
        .limit(200);
    for a in store::query::<Activity>("activity", &q)?.records {
        events::publish(
            "crm.activity.due",
            &json!({
                "id": a.id, "kind": a.data.kind, "title": a.data.title, "due_at": a.data.due_at,
                "responsible": a.data.responsible, "customer": a.data.customer, "deal": a.data.deal,
            }),
        )?;
        store::update::<Value>("activity", &a.id, &json!({ "reminded": true }), Some(a.version))?;
        if let Some(user) = &a.data.responsible {
            remind_person(user, &a.id, &a.data)?;
        }
    }
    Ok(())
}

/// Tells the responsible manager an activity has come due, linked to it.
fn remind_person(user: &str, id: &str, a: &Activity) -> Result<()> {
    let sent = Notification::new("crm.activity_due")
        .to(user)
        .title("en", &format!("Due now: {}", a.title))
        .title("ru", &format!("Наступил срок: {}", a.title))
        .link("activity", id)
        .importance(Importance::High)
        .send();
    match sent {
        Ok(_) => Ok(()),
        // Someone who left the company is not told; the reminder itself stands.
        Err(Error::Invalid(_)) => {
            log::warn(&format!("activity {id}: its responsible {user} is not a member any more"));
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// The synchronous handler of `crm.activity.updated`: a new due time means a new reminder.
pub fn on_changed(payload: &Value) -> Result<()> {
    let (Some(id), before, after) = (payload["id"].as_str(), &payload["before"], &payload["after"]) else {
        return Ok(());
    };
    if before["due_at"] != after["due_at"] && after["reminded"] == json!(true) && after["done"] != json!(true) {
        store::update::<Value>("activity", id, &json!({ "reminded": false }), None)?;
    }
    Ok(())
}

/// `overdue`: open activities past due, per responsible manager, oldest first.
pub fn overdue() -> Result<Value> {
    let now = time::format(time::now());
    let filter = Filter::and(vec![Filter::eq("done", false), Filter::lt("due_at", now.as_str())]);
    let mut per: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut all = util::all::<Activity>("activity", filter)?;
    all.sort_by(|a, b| a.data.due_at.cmp(&b.data.due_at));
    for a in all {
        let who = a.data.responsible.clone().unwrap_or_default();
        per.entry(who).or_default().push(json!({
            "id": a.id, "kind": a.data.kind, "title": a.data.title, "due_at": a.data.due_at,
            "customer": a.data.customer, "deal": a.data.deal,
        }));
    }
    let managers: Vec<Value> = per
        .into_iter()
        .map(|(who, items)| json!({ "responsible": if who.is_empty() { Value::Null } else { json!(who) }, "count": items.len(), "activities": items }))
        .collect();
    Ok(json!({ "as_of": now, "managers": managers }))
}

/// `complete-activity`: done, with an optional note; it joins the customer's history.
pub fn complete(input: Value) -> Result<Value> {
    let id = input["id"].as_str().unwrap_or_default().to_string();
    let a = store::get::<Activity>("activity", &id)?;
    if a.data.done == Some(true) {
        return Err(erp_sdk::Error::Conflict(format!("activity {id} is already done")));
    }
    let mut patch = json!({ "done": true });
    if let Some(note) = input["note"].as_str() {
        patch["note"] = json!(note);
    }
    store::update::<Value>("activity", &id, &patch, Some(a.version))?;
    if let Some(c) = &a.data.customer {
        crate::timeline::add(Entry {
            customer: c.clone(),
            kind: "activity".into(),
            at: time::format(time::now()),
            title: format!("Done: {}", a.data.title),
            title_ru: Some(format!("Выполнено: {}", a.data.title)),
            ref_id: Some(id.clone()),
            data: Some(json!({ "activity": id, "kind": a.data.kind, "note": input["note"] })),
            ..Entry::default()
        })?;
    }
    Ok(json!({ "id": id, "done": true }))
}
