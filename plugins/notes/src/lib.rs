//! The example plugin: notebooks and notes.
//!
//! It shows each part of the SDK: typed records, queries, aggregates, a validation hook that
//! vetoes bad writes, events, files, notifications and an inbound webhook.

mod demo;

use erp_sdk::notify::Notification;
use erp_sdk::store::{self, Aggregate, Filter, Query};
use erp_sdk::{
    Error, Plugin, Result, Value, WebhookRequest, WebhookResponse, WriteCheck, WriteKind, events, files, json,
    serde_json,
};
use serde::{Deserialize, Serialize};

/// A note as this plugin reads it (fields it does not need are left out).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Note {
    /// Title.
    pub title: String,
    /// Body text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Priority: low, normal or high.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<String>,
    /// Pinned to the top.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinned: Option<bool>,
}

/// The plugin.
pub struct Notes;

impl Plugin for Notes {
    fn demo(request: &erp_sdk::DemoRequest) -> Result<erp_sdk::DemoAnswer> {
        demo::step(request)
    }

    fn command(name: &str, input: Value) -> Result<Value> {
        match name {
            "archive" => archive(&input),
            "stats" => stats(),
            "add" => {
                let title = input["title"].as_str().ok_or_else(|| Error::invalid("title", "is required"))?;
                let note = store::create(
                    "note",
                    &Note { title: title.to_string(), body: None, priority: None, pinned: None },
                )?;
                Ok(json!({ "id": note.id }))
            }
            "ping" => Ok(json!({})),
            "share" => share(&input),
            "export" => export(&input),
            "preview" => preview(&input),
            other => Err(Error::not_found(format!("command {other}"))),
        }
    }

    fn validate(check: &WriteCheck) -> Result<()> {
        if check.collection != "note" || check.kind == WriteKind::Delete {
            return Ok(());
        }
        let Some(after) = &check.after else { return Ok(()) };
        let title = after["title"].as_str().unwrap_or_default();
        if title.trim().eq_ignore_ascii_case("todo") {
            return Err(Error::invalid("title", "say what to do, not just TODO"));
        }
        if after["priority"] == "high" && after["due"].is_null() {
            return Err(Error::invalid("due", "high-priority notes need a due date"));
        }
        Ok(())
    }

    fn webhook(name: &str, request: WebhookRequest) -> Result<WebhookResponse> {
        if name != "inbound" {
            return Err(Error::not_found(format!("webhook {name}")));
        }
        let note: Note = serde_json::from_slice(&request.body).map_err(|e| Error::invalid("body", e.to_string()))?;
        let created = store::create("note", &note)?;
        Ok(WebhookResponse::json(&json!({ "id": created.id })))
    }
}

fn archive(input: &Value) -> Result<Value> {
    let id = input["id"].as_str().ok_or_else(|| Error::invalid("id", "is required"))?;
    let note = store::get::<Note>("note", id)?;
    let updated =
        store::update::<Note>("note", id, &json!({ "pinned": false, "priority": "low" }), Some(note.version))?;
    events::publish("notes.note.archived", &json!({ "id": id, "title": note.data.title }))?;
    Ok(json!({ "id": updated.id, "version": updated.version }))
}

fn stats() -> Result<Value> {
    let groups = store::aggregate("note", &Aggregate::new().group_by("priority").count())?;
    let pinned = store::query::<Note>("note", &Query::new().filter(Filter::eq("pinned", true)).limit(500))?;
    let mut by_priority = serde_json::Map::new();
    for g in groups {
        let key = g.key.get("priority").and_then(Value::as_str).unwrap_or("none").to_string();
        by_priority.insert(key, g.values.get("count").cloned().unwrap_or(Value::Null));
    }
    Ok(json!({ "by_priority": by_priority, "pinned": pinned.records.len() }))
}

/// `share`: tells a colleague about a note, with a link to it and an optional message.
fn share(input: &Value) -> Result<Value> {
    let id = input["id"].as_str().ok_or_else(|| Error::invalid("id", "is required"))?;
    let user = input["user"].as_str().ok_or_else(|| Error::invalid("user", "is required"))?;
    let note = store::get::<Note>("note", id)?;
    let message = input["message"].as_str().unwrap_or_default();
    let sent = Notification::new("notes.shared")
        .to(user)
        .title("en", &format!("A note for you: {}", note.data.title))
        .title("ru", &format!("Вам заметка: {}", note.data.title))
        .body("en", message)
        .body("ru", message)
        .link("note", id)
        .send()?;
    Ok(json!({ "id": id, "notified": sent }))
}

/// `export`: the note's title and body as a text file, attached to the note.
fn export(input: &Value) -> Result<Value> {
    let id = input["id"].as_str().ok_or_else(|| Error::invalid("id", "is required"))?;
    let note = store::get::<Note>("note", id)?;
    let text = format!("{}\n\n{}\n", note.data.title, note.data.body.as_deref().unwrap_or_default());
    let name: String = note.data.title.chars().take(100).collect();
    let file = files::create(&format!("{name}.txt"), Some("text/plain; charset=utf-8"), text.as_bytes())?;
    store::update::<Value>("note", id, &json!({ "attachment": file.field_value() }), Some(note.version))?;
    Ok(json!({ "id": id, "file": file.id, "name": file.name, "size": file.size }))
}

/// Most bytes `preview` shows.
const PREVIEW_BYTES: u32 = 4096;

/// `preview`: the beginning of the note's attachment, as text.
fn preview(input: &Value) -> Result<Value> {
    let id = input["id"].as_str().ok_or_else(|| Error::invalid("id", "is required"))?;
    let attached = files::attached("note", id)?;
    let Some(file) = attached.iter().find(|f| f.content_type.starts_with("text/")).or(attached.first()) else {
        return Err(Error::not_found(format!("a file attached to note {id}")));
    };
    let head = files::read(&file.id, 0, PREVIEW_BYTES)?;
    Ok(json!({
        "name": file.name,
        "size": file.size,
        "sha256": file.sha256,
        "text": String::from_utf8_lossy(&head),
        "complete": file.size <= u64::from(PREVIEW_BYTES),
    }))
}

erp_sdk::export_plugin!(Notes);
