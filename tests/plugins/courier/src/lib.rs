//! Calls hosts outside the platform: `fetch` makes the request its input describes and
//! answers what came back or why it was refused; `write-then-fetch` tries to call out after
//! writing (refused); the `post` handler posts each new note to the configured endpoint with
//! the event's idempotency key and records the status it got; `mail` queues the e-mail its
//! input describes, and `mail-outcome` records what became of each.

use erp_sdk::http::Request;
use erp_sdk::mail::{Message, Outcome};
use erp_sdk::{Error, Event, Plugin, Result, Value, context, files, json, store};

/// The plugin.
pub struct Courier;

fn refusal(e: &Error) -> Value {
    let kind = match e {
        Error::AccessDenied(_) => "access_denied",
        Error::Invalid(_) => "invalid",
        Error::LimitExceeded(_) => "limit_exceeded",
        Error::Failed(_) => "failed",
        Error::NotFound(_) => "not_found",
        Error::Conflict(_) => "conflict",
    };
    json!({ "refused": kind, "message": e.to_string() })
}

fn fetch(input: &Value) -> Value {
    let url = input["url"].as_str().unwrap_or_default();
    let mut req = Request::new(input["method"].as_str().unwrap_or("GET"), url);
    if let Some(body) = input["body"].as_str() {
        req = req.body(body);
    }
    if let Some(headers) = input["headers"].as_object() {
        for (k, v) in headers {
            req = req.header(k, v.as_str().unwrap_or_default());
        }
    }
    match req.send() {
        Ok(r) => json!({ "status": r.status, "body": r.text(), "location": r.header("x-served-by") }),
        Err(e) => refusal(&e),
    }
}

fn mail(input: &Value) -> Result<Value> {
    let text = |k: &str| input[k].as_str().unwrap_or_default().to_string();
    let mut message = Message::new(&text("to"), &text("subject"), &text("text"));
    if let Some(answered) = input["in_reply_to"].as_str() {
        message = message.in_reply_to(answered);
    }
    if let Some(content) = input["attachment"].as_str() {
        let file = files::create("offer.txt", Some("text/plain"), content.as_bytes())?;
        message = message.attach(&file.id);
    }
    if let Some(id) = input["attach_id"].as_str() {
        message = message.attach(id);
    }
    Ok(match message.send(&text("key")) {
        Ok(q) => json!({ "id": q.id, "message_id": q.message_id, "created": q.created }),
        Err(e) => refusal(&e),
    })
}

impl Plugin for Courier {
    fn command(name: &str, input: Value) -> Result<Value> {
        match name {
            "fetch" => Ok(fetch(&input)),
            "mail" => mail(&input),
            "write-then-fetch" => {
                store::create("sent", &json!({ "event_id": "manual" }))?;
                Ok(fetch(&input))
            }
            other => Err(Error::not_found(format!("command {other}"))),
        }
    }

    fn event(handler: &str, event: &Event) -> Result<()> {
        if handler == "mail-outcome" {
            let o: Outcome = event.payload()?;
            let key = o.key.clone().unwrap_or_default();
            store::create(
                "outcome",
                &json!({ "key": key, "status": o.status, "message_id": o.message_id, "error": o.error }),
            )?;
            return Ok(());
        }
        let config: Value = context::config()?;
        let Some(endpoint) = config["endpoint"].as_str() else {
            return Ok(());
        };
        let note: Value = event.payload()?;
        let answer = Request::post(endpoint)
            .json(&json!({ "title": note["after"]["title"], "event": event.id }))
            .idempotency_key(&event.idempotency_key)
            .send()?;
        if answer.status >= 500 {
            return Err(Error::failed(format!("the endpoint answered {}", answer.status)));
        }
        store::create("sent", &json!({ "event_id": event.id, "status": answer.status }))?;
        Ok(())
    }
}

erp_sdk::export_plugin!(Courier);
