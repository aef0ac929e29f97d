//! Sending e-mail mailings: queued messages of queued mailings are handed to the company's
//! mail (WIT 0.2.2) within a per-minute rate, each under its own key so that a recipient gets
//! one letter however often a run repeats; a customer who unsubscribed after the mailing was
//! queued gets nothing. Every letter carries its one-click unsubscribe link (the
//! `List-Unsubscribe` header and a line at the end). What became of it comes back as
//! `marketing.mail.*`: a recipient the relay refuses for good, whose server sends the letter
//! back, or who follows the unsubscribe link is not mailed again.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use erp_sdk::mail::{Message as Mail, Outcome};
use erp_sdk::store::{self, Aggregate, Filter, Query, Record};
use erp_sdk::{Error, Result, Value, context, json, serde_json};
use serde::Deserialize;

use crate::mailings::{self, unsubscribed};
use crate::model::{Mailing, Message};
use crate::util;

/// Default e-mails per minute.
const DEFAULT_RATE: i64 = 200;
/// Most e-mails per minute a company may set.
const MAX_RATE: i64 = 5000;
/// Messages read at a time.
const PAGE: u32 = 200;
/// The prefix of the keys mailing messages are queued under: `mailing/<message id>`.
const KEY_PREFIX: &str = "mailing/";

#[derive(Deserialize, Default)]
#[serde(default)]
struct Config {
    mail_per_minute: Option<i64>,
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&erp_sdk::now()).map(|t| t.with_timezone(&Utc)).unwrap_or_default()
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Letters handed out in the last minute.
fn sent_last_minute(now: DateTime<Utc>) -> Result<i64> {
    let groups = store::aggregate(
        "message",
        &Aggregate::new().filter(Filter::gt("sent_at", stamp(now - Duration::seconds(60)))).count(),
    )?;
    Ok(groups.first().and_then(|g| g.values.get("count")).and_then(Value::as_i64).unwrap_or(0))
}

/// Plain text of an HTML body, for the text part: tags dropped, paragraphs and line breaks
/// kept as new lines, the escapes templates make undone.
fn plain(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut tag: Option<String> = None;
    for c in html.chars() {
        match (&mut tag, c) {
            (None, '<') => tag = Some(String::new()),
            (Some(t), '>') => {
                let name = t.trim_start_matches('/').split([' ', '/']).next().unwrap_or_default().to_lowercase();
                if matches!(name.as_str(), "p" | "br" | "div" | "li" | "tr" | "h1" | "h2" | "h3" | "h4")
                    && !out.ends_with('\n')
                    && !out.is_empty()
                {
                    out.push('\n');
                }
                tag = None;
            }
            (Some(t), c) => t.push(c),
            (None, c) => out.push(c),
        }
    }
    out.trim_end()
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#x2f;", "/")
        .replace("&amp;", "&")
}

fn moved(msg: &Record<Message>, patch: Value, status: &str, detail: Option<&str>) -> Result<()> {
    let mut history = msg.data.history.clone();
    history.push(json!({ "status": status, "at": erp_sdk::now(), "detail": detail }));
    let mut patch = patch;
    patch["status"] = json!(status);
    patch["history"] = json!(history);
    store::update::<Value>("message", &msg.id, &patch, Some(msg.version))?;
    Ok(())
}

/// Why a run stops early: the company cannot send now, so the rest stays queued.
fn blocks_all(e: &Error) -> bool {
    match e {
        Error::AccessDenied(_) | Error::LimitExceeded(_) => true,
        Error::Invalid(fields) => fields.iter().any(|f| f.field == "mail"),
        _ => false,
    }
}

/// Hands queued e-mail of queued mailings to the company's mail, within the rate; answers what
/// it did.
pub fn send_due() -> Result<Value> {
    let config: Config = context::config().unwrap_or_default();
    let rate = config.mail_per_minute.unwrap_or(DEFAULT_RATE).clamp(1, MAX_RATE);
    let now = now();
    let mut budget = rate - sent_last_minute(now)?;
    let (mut handed, mut cancelled, mut failed) = (0, 0, 0);
    let mut waiting = None;
    let mailings = util::all::<Mailing>("mailing", Filter::eq("state", "queued"))?;
    let email: Vec<_> =
        mailings.into_iter().filter(|m| m.data.channel.as_deref().unwrap_or("email") == "email").collect();
    let stop: BTreeSet<String> = if email.is_empty() { BTreeSet::new() } else { unsubscribed("email")? };
    'mailings: for m in email {
        if budget <= 0 {
            break;
        }
        let queued = Filter::and(vec![Filter::eq("mailing", m.id.as_str()), Filter::eq("status", "queued")]);
        let mut cursor: Option<String> = None;
        let mut seen = 0;
        loop {
            let mut q = Query::new().filter(queued.clone()).limit(PAGE);
            if let Some(c) = cursor.take() {
                q = q.cursor(c);
            }
            let page = store::query::<Message>("message", &q)?;
            seen += page.records.len();
            for msg in page.records {
                if stop.contains(&msg.data.customer) {
                    moved(&msg, json!({}), "cancelled", Some("unsubscribed after the mailing was queued"))?;
                    cancelled += 1;
                    continue;
                }
                let subject = msg.data.subject.clone().unwrap_or_else(|| m.data.name.clone());
                let key = format!("{KEY_PREFIX}{}", msg.id);
                let link = match erp_sdk::mail::unsubscribe_link(&key) {
                    Ok(link) => link,
                    Err(e) if blocks_all(&e) => {
                        waiting = Some(e.to_string());
                        break 'mailings;
                    }
                    Err(e) => return Err(e),
                };
                let (text_footer, html_footer) = unsubscribe_footer(&format!("{subject} {}", msg.data.body), &link);
                let letter = Mail::new(&msg.data.address, &subject, &format!("{}{text_footer}", plain(&msg.data.body)))
                    .html(&format!("{}{html_footer}", msg.data.body))
                    .unsubscribe_url(&link);
                match letter.send(&key) {
                    Ok(q) => {
                        moved(&msg, json!({ "sent_at": stamp(now), "message_id": q.message_id }), "sending", None)?;
                        handed += 1;
                        budget -= 1;
                    }
                    Err(e) if blocks_all(&e) => {
                        waiting = Some(e.to_string());
                        break 'mailings;
                    }
                    Err(e) => {
                        moved(&msg, json!({}), "failed", Some(&e.to_string()))?;
                        failed += 1;
                    }
                }
                if budget <= 0 {
                    break 'mailings;
                }
            }
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        if seen == 0 || budget > 0 {
            // Every letter of it has been handed out (or cancelled, or failed).
            store::update::<Value>("mailing", &m.id, &json!({ "state": "sent" }), Some(m.version))?;
        }
    }
    Ok(json!({ "handed": handed, "cancelled": cancelled, "failed": failed, "waiting": waiting, "rate": rate }))
}

/// The schedule: like [`send_due`], quietly.
pub fn on_schedule() -> Result<()> {
    send_due().map(|_| ())
}

/// Whether the customer is already kept off e-mail.
fn already_off(customer: &str) -> Result<bool> {
    let page = store::query::<Value>("unsubscribe", &Query::new().filter(Filter::eq("customer", customer)).limit(100))?;
    Ok(page.records.iter().any(|u| mailings::covers(&u.data, "email")))
}

/// The letter's closing lines with its unsubscribe link, in the language the letter is written
/// in (Russian when it has Cyrillic letters): (text, HTML).
fn unsubscribe_footer(body: &str, link: &str) -> (String, String) {
    let russian = body.chars().any(|c| matches!(c, 'а'..='я' | 'А'..='Я' | 'ё' | 'Ё'));
    let (why, action) = if russian {
        ("Вы получили это письмо, потому что подписаны на наши рассылки.", "Отписаться")
    } else {
        ("You received this letter because you are subscribed to our mailings.", "Unsubscribe")
    };
    let href = link.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;");
    (
        format!("\n\n--\n{why}\n{action}: {link}"),
        format!("<hr><p style=\"font-size:12px;color:#666\">{why} <a href=\"{href}\">{action}</a></p>"),
    )
}

/// `marketing.mail.*`: the message shows what became of it; a recipient the relay refused for
/// good, whose server sent the letter back, or who followed the letter's unsubscribe link is not
/// mailed again.
pub fn on_mail_outcome(payload: &Value) -> Result<()> {
    let o: Outcome = serde_json::from_value(payload.clone()).map_err(|e| Error::invalid("payload", e.to_string()))?;
    let Some(id) = o.key.as_deref().and_then(|k| k.strip_prefix(KEY_PREFIX)) else { return Ok(()) };
    let Ok(msg) = store::get::<Message>("message", id) else { return Ok(()) };
    if o.is_unsubscribed() {
        if !already_off(&msg.data.customer)? {
            mailings::record_unsubscribe(&msg.data.customer, "email", "link", None)?;
        }
        return Ok(());
    }
    if o.is_bounced() {
        if msg.data.status != "bounced" {
            moved(&msg, json!({}), "bounced", o.error.as_deref())?;
        }
        if !already_off(&msg.data.customer)? {
            mailings::record_unsubscribe(&msg.data.customer, "email", "bounce", o.error.as_deref())?;
        }
        return Ok(());
    }
    if msg.data.status != "sending" {
        return Ok(());
    }
    if o.is_sent() {
        return moved(&msg, json!({}), "sent", None);
    }
    moved(&msg, json!({}), "failed", o.error.as_deref())?;
    if o.status == "refused" {
        mailings::record_unsubscribe(&msg.data.customer, "email", "refused", o.error.as_deref())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unsubscribe_line_speaks_the_letter_s_language() {
        let (text, html) = unsubscribe_footer("Скидка 10% для вас", "https://erp.example.com/unsubscribe/a.b");
        assert!(text.ends_with("Отписаться: https://erp.example.com/unsubscribe/a.b"), "{text}");
        assert!(html.contains("<a href=\"https://erp.example.com/unsubscribe/a.b\">Отписаться</a>"), "{html}");
        let (text, _) = unsubscribe_footer("Our spring sale", "https://x/u/1");
        assert!(text.ends_with("Unsubscribe: https://x/u/1"), "{text}");
    }

    #[test]
    fn html_bodies_get_a_text_part() {
        assert_eq!(plain("<p>Здравствуйте, Иван!</p><p>Скидка <b>10%</b></p>"), "Здравствуйте, Иван!\nСкидка 10%");
        assert_eq!(plain("Tom &amp; Jerry &lt;3<br/>Bye"), "Tom & Jerry <3\nBye");
    }
}
