//! Replies to a lead through the channel it wrote from: a Telegram chat through the Bot API,
//! or e-mail threaded under the lead's letters (a web form's sender is answered by e-mail).
//! The reply joins the lead's thread with its delivery state; what became of an e-mail comes
//! back from the kernel's mail worker as `crm.mail.sent` or `crm.mail.failed`.

use erp_sdk::http::Request;
use erp_sdk::mail::{Message as Mail, Outcome};
use erp_sdk::store::{self, Filter, Query, Record};
use erp_sdk::{Error, Result, Value, context, json, serde_json};
use serde::Deserialize;

use crate::model::{Entry, Lead, Message};
use crate::{time, util};

/// Longest reply, in characters (a Telegram message holds 4,096).
const MAX_TEXT: usize = 4000;
/// Messages of a thread read to find where to answer.
const THREAD: usize = 500;
/// The prefix of the keys replies are mailed under: `reply/<message id>`.
const KEY_PREFIX: &str = "reply/";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Input {
    lead: String,
    text: String,
    #[serde(default)]
    subject: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Config {
    telegram_token: Option<String>,
}

/// Where a reply goes.
enum Route {
    Telegram { chat: i64, answered: Option<i64> },
    Email { to: String, subject: String, in_reply_to: Option<String>, references: Vec<String> },
}

/// The chat and message of a Telegram key `telegram:<chat>:<message>`.
fn telegram_key(key: &str) -> Option<(i64, i64)> {
    let mut parts = key.strip_prefix("telegram:")?.split(':');
    let chat = parts.next()?.parse().ok()?;
    let message = parts.next()?.parse().ok()?;
    Some((chat, message))
}

/// The address in `Name <addr>` or a bare address.
fn address_of(sender: &str) -> Option<String> {
    let inner = match (sender.rfind('<'), sender.rfind('>')) {
        (Some(a), Some(b)) if a < b => &sender[a + 1..b],
        _ => sender,
    };
    let inner = inner.trim();
    (inner.contains('@') && !inner.contains(char::is_whitespace)).then(|| inner.to_string())
}

fn subject_for(lead: &Lead, thread: &[Record<Message>], asked: Option<&str>) -> String {
    if let Some(s) = asked.map(str::trim).filter(|s| !s.is_empty()) {
        return s.to_string();
    }
    let last = thread.iter().rev().filter_map(|m| m.data.subject.as_deref()).find(|s| !s.trim().is_empty());
    let base = last.unwrap_or(&lead.title).trim();
    let lower = base.to_lowercase();
    if lower.starts_with("re:") || lower.starts_with("на:") { base.to_string() } else { format!("Re: {base}") }
}

fn route(lead: &Lead, thread: &[Record<Message>], subject: Option<&str>) -> Result<Route> {
    let incoming = || thread.iter().rev().filter(|m| m.data.direction.as_deref().unwrap_or("in") == "in");
    match lead.channel.as_str() {
        "telegram" => {
            let (chat, answered) = incoming()
                .filter_map(|m| m.data.external_key.as_deref().and_then(telegram_key))
                .map(|(chat, id)| (chat, Some(id)))
                .next()
                .ok_or_else(|| Error::invalid("lead", "has no Telegram message to answer"))?;
            Ok(Route::Telegram { chat, answered })
        }
        "email" | "form" => {
            let to = lead
                .email
                .clone()
                .or_else(|| incoming().filter_map(|m| m.data.sender.as_deref().and_then(address_of)).next())
                .ok_or_else(|| Error::invalid("lead", "has no e-mail address to answer"))?;
            let ids: Vec<String> = thread.iter().filter_map(|m| m.data.message_id.clone()).collect();
            let in_reply_to = incoming().filter_map(|m| m.data.message_id.clone()).next();
            let references = ids.iter().rev().take(20).rev().cloned().collect();
            Ok(Route::Email { to, subject: subject_for(lead, thread, subject), in_reply_to, references })
        }
        other => Err(Error::invalid(
            "lead",
            format!("came through the {other} channel, which replies are not sent through; answer it there"),
        )),
    }
}

/// Sends the reply through Telegram: before anything is written, since the remote side cannot
/// be rolled back. Answers the sent message's key, or why it failed.
fn send_telegram(
    chat: i64,
    answered: Option<i64>,
    text: &str,
    key: &str,
) -> Result<std::result::Result<String, String>> {
    let config: Config = context::config().unwrap_or_default();
    let token = config
        .telegram_token
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Error::invalid("lead", "no Telegram bot token is set in the CRM's settings"))?;
    let mut body = json!({ "chat_id": chat, "text": text });
    if let Some(id) = answered {
        body["reply_parameters"] = json!({ "message_id": id, "allow_sending_without_reply": true });
    }
    let answer = match Request::post(&format!("https://api.telegram.org/bot{token}/sendMessage"))
        .json(&body)
        .idempotency_key(key)
        .send()
    {
        Ok(a) => a,
        // Not granted, or the network: the manager sees why on the message.
        Err(e) => return Ok(Err(e.to_string())),
    };
    let parsed: Value = answer.json().unwrap_or(Value::Null);
    if answer.is_success() && parsed["ok"] == json!(true) {
        let id = parsed["result"]["message_id"].as_i64().unwrap_or_default();
        Ok(Ok(format!("telegram:{chat}:{id}")))
    } else {
        let why = parsed["description"].as_str().map_or_else(|| format!("status {}", answer.status), str::to_string);
        Ok(Err(format!("Telegram refused the message: {why}")))
    }
}

/// `reply`: answers the lead through its channel and stores the reply in its thread.
pub fn reply(input: Value) -> Result<Value> {
    let i: Input = util::input(input)?;
    let text = i.text.trim().to_string();
    if text.is_empty() {
        return Err(Error::invalid("text", "must not be blank"));
    }
    if text.chars().count() > MAX_TEXT {
        return Err(Error::invalid("text", format!("must be at most {MAX_TEXT} characters")));
    }
    let lead = store::get::<Lead>("lead", &i.lead)?;
    let thread: Vec<Record<Message>> =
        store::query_all("message", Query::new().filter(Filter::eq("lead", lead.id.as_str())).sort_asc("at"), THREAD)?;
    let route = route(&lead.data, &thread, i.subject.as_deref())?;
    let at = time::format(time::now());
    let base = Message {
        lead: lead.id.clone(),
        customer: lead.data.customer.clone(),
        channel: lead.data.channel.clone(),
        direction: Some("out".into()),
        body: Some(text.clone()),
        at: at.clone(),
        author: util::current_user(),
        ..Message::default()
    };
    let (stored, delivery, error) = match route {
        Route::Telegram { chat, answered } => {
            let sent = send_telegram(chat, answered, &text, &erp_sdk::new_id())?;
            let (delivery, external_key, error) = match sent {
                Ok(key) => ("sent", Some(key), None),
                Err(why) => ("failed", None, Some(why.chars().take(1000).collect::<String>())),
            };
            let record = store::create(
                "message",
                &Message { delivery: Some(delivery.into()), external_key, error: error.clone(), ..base },
            )?;
            (record.id, delivery, error)
        }
        Route::Email { to, subject, in_reply_to, references } => {
            let record = store::create(
                "message",
                &Message { delivery: Some("queued".into()), subject: Some(subject.clone()), ..base },
            )?;
            let mut mail = Mail::new(&to, &subject, &text).references(&references);
            if let Some(id) = &in_reply_to {
                mail = mail.in_reply_to(id);
            }
            let queued = mail.send(&format!("{KEY_PREFIX}{}", record.id))?;
            store::update::<Value>(
                "message",
                &record.id,
                &json!({ "message_id": queued.message_id }),
                Some(record.version),
            )?;
            (record.id, "queued", None)
        }
    };
    let mut patch = json!({
        "messages": lead.data.messages.unwrap_or(0).saturating_add(1),
        "last_message_at": at,
    });
    if lead.data.status() == "new" {
        patch["status"] = json!("in_progress");
    }
    store::update::<Value>("lead", &lead.id, &patch, Some(lead.version))?;
    if let Some(c) = &lead.data.customer {
        crate::timeline::add(Entry {
            customer: c.clone(),
            kind: "message".into(),
            at: time::format(time::now()),
            title: format!("Reply via {}", lead.data.channel),
            title_ru: Some(format!("Ответ ({})", crate::inbox::channel_ru(&lead.data.channel))),
            ref_id: Some(stored.clone()),
            data: Some(json!({ "lead": lead.id, "message": stored, "channel": lead.data.channel })),
            ..Entry::default()
        })?;
    }
    Ok(json!({ "message": stored, "lead": lead.id, "delivery": delivery, "error": error }))
}

/// `crm.mail.sent` and `crm.mail.failed`: the reply's message shows what became of it.
pub fn on_mail_outcome(payload: &Value) -> Result<()> {
    let o: Outcome = serde_json::from_value(payload.clone()).map_err(|e| Error::invalid("payload", e.to_string()))?;
    let Some(id) = o.key.as_deref().and_then(|k| k.strip_prefix(KEY_PREFIX)) else { return Ok(()) };
    let Ok(message) = store::get::<Message>("message", id) else { return Ok(()) };
    // Replies carry no unsubscribe link; a bounce is a failure like any other.
    if o.is_unsubscribed() {
        return Ok(());
    }
    let mut patch = json!({ "delivery": if o.is_sent() { "sent" } else { "failed" } });
    patch["error"] = match &o.error {
        Some(e) if !o.is_sent() => json!(e.chars().take(1000).collect::<String>()),
        _ => Value::Null,
    };
    if let Some(mid) = &o.message_id {
        patch["message_id"] = json!(mid);
    }
    store::update::<Value>("message", &message.id, &patch, Some(message.version))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn telegram_keys_name_the_chat_and_message() {
        assert_eq!(telegram_key("telegram:1111111:1365"), Some((1_111_111, 1365)));
        assert_eq!(telegram_key("telegram:-100200:7"), Some((-100_200, 7)));
        assert_eq!(telegram_key("email:abc@x"), None);
        assert_eq!(telegram_key("telegram:chat:1"), None);
    }

    #[test]
    fn addresses_come_out_of_senders() {
        assert_eq!(address_of("Иван <ivan@example.ru>").as_deref(), Some("ivan@example.ru"));
        assert_eq!(address_of("ivan@example.ru").as_deref(), Some("ivan@example.ru"));
        assert_eq!(address_of("Иван Петров"), None);
    }

    #[test]
    fn replies_keep_one_re() {
        let lead = Lead { title: "Поставка".into(), ..Lead::default() };
        let msg = |subject: &str| Record {
            id: "m".into(),
            version: 1,
            data: Message { subject: Some(subject.into()), ..Message::default() },
            created_at: String::new(),
            updated_at: String::new(),
        };
        assert_eq!(subject_for(&lead, &[], None), "Re: Поставка");
        assert_eq!(subject_for(&lead, &[msg("Re: Счёт")], None), "Re: Счёт");
        assert_eq!(subject_for(&lead, &[msg("Счёт")], Some("  Договор ")), "Договор");
    }
}
