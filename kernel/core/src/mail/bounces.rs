//! Bounces: delivery status notifications (RFC 3464) that recipients' servers send back to
//! the company's mailbox. A report of a permanent failure marks the sent message it is about
//! (found by its Message-ID) as bounced and tells the plugin that sent it, once, with
//! `<plugin>.mail.bounced`; reports of delays and successes change nothing. Reports never reach
//! the lead inbox.

use diesel::prelude::*;
use mail_parser::{MessageParser, MimeHeaders};

use super::MailError;
use super::outbox::{self, BOUNCED, Queued, SENT};
use crate::clock;
use crate::plugins::Kernel;
use crate::session::Session;
use crate::storage::schema::mail_outbox;

/// Longest reason kept on a bounced message.
const MAX_REASON: usize = 500;

/// A recipient a report says could not be reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failed {
    /// The recipient's address.
    pub address: String,
    /// The status code, such as `5.1.1`.
    pub status: String,
    /// What the recipient's server said, when the report gives it.
    pub diagnostic: Option<String>,
}

/// A delivery status notification.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Report {
    /// The Message-ID of the message it reports on (`<id@host>`), when the report carries it.
    pub message_id: Option<String>,
    /// Recipients that failed for good.
    pub failed: Vec<Failed>,
}

impl Report {
    /// Why the message bounced, for people.
    pub fn reason(&self) -> String {
        let text = self
            .failed
            .iter()
            .map(|f| match &f.diagnostic {
                Some(d) => format!("{}: {} ({d})", f.address, f.status),
                None => format!("{}: {}", f.address, f.status),
            })
            .collect::<Vec<_>>()
            .join("; ");
        text.chars().take(MAX_REASON).collect()
    }
}

/// `<id>` in angle brackets, however it was written.
fn bracketed(id: &str) -> String {
    format!("<{}>", id.trim().trim_start_matches('<').trim_end_matches('>'))
}

/// The fields of a `message/delivery-status` body: groups separated by blank lines, folded
/// lines joined.
fn field_groups(text: &str) -> Vec<Vec<(String, String)>> {
    let mut groups: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for line in text.lines() {
        if line.trim().is_empty() {
            groups.push(Vec::new());
            continue;
        }
        let group = groups.last_mut().expect("one group at least");
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = group.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            group.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    groups.retain(|g| !g.is_empty());
    groups
}

/// The value after a `type;` prefix (`rfc822; a@b.c` → `a@b.c`).
fn typed(value: &str) -> String {
    value.split_once(';').map_or(value, |(_, v)| v).trim().to_string()
}

/// The report in `raw`, when it is a delivery status notification (`multipart/report` with
/// `report-type=delivery-status`); `None` for any other message.
pub fn parse(raw: &[u8]) -> Option<Report> {
    let message = MessageParser::default().parse(raw)?;
    let top = message.content_type()?;
    let is_report = top.ctype().eq_ignore_ascii_case("multipart")
        && top.subtype().is_some_and(|s| s.eq_ignore_ascii_case("report"))
        && top.attribute("report-type").is_some_and(|t| t.eq_ignore_ascii_case("delivery-status"));
    if !is_report {
        return None;
    }
    let mut report = Report::default();
    for part in &message.parts {
        let Some(ct) = part.content_type() else { continue };
        let kind = format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or_default()).to_ascii_lowercase();
        match kind.as_str() {
            "message/delivery-status" | "message/global-delivery-status" => {
                let text = String::from_utf8_lossy(part.contents()).to_string();
                // The first group is about the report; the others one recipient each.
                for group in field_groups(&text).into_iter().skip(1) {
                    let get = |n: &str| group.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
                    let action = get("action").unwrap_or_default().to_ascii_lowercase();
                    let status = get("status").map(|s| typed(&s)).unwrap_or_default();
                    if action != "failed" || !status.starts_with('5') {
                        continue;
                    }
                    let address = get("final-recipient").or_else(|| get("original-recipient")).map(|v| typed(&v));
                    report.failed.push(Failed {
                        address: address.unwrap_or_default(),
                        status,
                        diagnostic: get("diagnostic-code").map(|d| typed(&d)),
                    });
                }
            }
            "message/rfc822" | "message/global" | "text/rfc822-headers" | "message/global-headers" => {
                let id = match part.message() {
                    Some(original) => original.message_id().map(str::to_string),
                    None => MessageParser::default()
                        .parse_headers(part.contents())
                        .and_then(|h| h.message_id().map(str::to_string)),
                };
                if let Some(id) = id.filter(|i| !i.trim().is_empty() && i.len() <= 500) {
                    report.message_id.get_or_insert(bracketed(&id));
                }
            }
            _ => {}
        }
    }
    Some(report)
}

/// Applies a report to the company's sent mail in the session's transaction: the message it is
/// about, when it failed for good, is marked bounced and its plugin told. Answers whether a
/// message was marked.
pub fn apply(kernel: &dyn Kernel, session: &mut Session, report: &Report) -> Result<bool, MailError> {
    let (Some(message_id), false) = (&report.message_id, report.failed.is_empty()) else { return Ok(false) };
    let company = session.company_id.clone();
    let found: Option<Queued> = mail_outbox::table
        .filter(mail_outbox::company_id.eq(&company))
        .filter(mail_outbox::message_id.eq(message_id))
        .filter(mail_outbox::status.eq(SENT))
        .select(Queued::as_select())
        .first(session.conn()?)
        .optional()?;
    let Some(q) = found else { return Ok(false) };
    let reason = report.reason();
    let changed = diesel::update(mail_outbox::table.find(&q.id).filter(mail_outbox::status.eq(SENT)))
        .set((
            mail_outbox::status.eq(BOUNCED),
            mail_outbox::bounced_at.eq(clock::now()),
            mail_outbox::error.eq(&reason),
        ))
        .execute(session.conn()?)?;
    if changed == 1 {
        outbox::announce(kernel, session, &q, "bounced", Some(&reason))?;
    }
    Ok(changed == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A report as Postfix writes one.
    fn dsn(message_id: &str, action: &str, status: &str) -> String {
        format!(
            "From: MAILER-DAEMON@mx.example.net\r\nTo: shop@example.com\r\nSubject: Undelivered Mail Returned to Sender\r\n\
Message-ID: <dsn-{status}@mx.example.net>\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"B1\"\r\n\r\n\
--B1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nI'm sorry to have to inform you that your message could not be delivered.\r\n\r\n\
--B1\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\nArrival-Date: Mon, 7 Dec 2026 10:00:00 +0000\r\n\r\n\
Final-Recipient: rfc822; nobody@example.net\r\nOriginal-Recipient: rfc822;nobody@example.net\r\nAction: {action}\r\nStatus: {status}\r\n\
Diagnostic-Code: smtp; 550 5.1.1 <nobody@example.net>: Recipient address\r\n rejected: User unknown\r\n\r\n\
--B1\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: shop@example.com\r\nTo: nobody@example.net\r\nSubject: Sale\r\nMessage-ID: {message_id}\r\n\r\n\
--B1--\r\n"
        )
    }

    #[test]
    fn a_permanent_failure_names_the_message_and_the_recipient() {
        let report = parse(dsn("<m1@shop.example.com>", "failed", "5.1.1").as_bytes()).expect("a report");
        assert_eq!(report.message_id.as_deref(), Some("<m1@shop.example.com>"));
        assert_eq!(report.failed.len(), 1);
        assert_eq!(report.failed[0].address, "nobody@example.net");
        assert_eq!(report.failed[0].status, "5.1.1");
        assert!(report.reason().contains("User unknown"), "{}", report.reason());
    }

    #[test]
    fn delays_and_ordinary_letters_are_no_bounces() {
        let delayed = parse(dsn("<m1@shop.example.com>", "delayed", "4.4.1").as_bytes()).expect("a report");
        assert!(delayed.failed.is_empty());
        let letter = "From: a@example.net\r\nTo: b@example.com\r\nSubject: Hi\r\nMessage-ID: <x@y>\r\n\r\nHello\r\n";
        assert_eq!(parse(letter.as_bytes()), None);
    }
}
