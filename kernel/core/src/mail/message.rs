//! Outgoing messages and their MIME form: UTF-8 subjects and names encoded as RFC 2047 wants,
//! plain text with an optional HTML alternative, attachments, threading headers for replies
//! (`In-Reply-To`, `References`) and `List-Unsubscribe` for mailings.

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use serde::{Deserialize, Serialize};

use super::MailError;
use crate::validation::{FieldError, Invalid};

/// Most recipients of one message (To and Cc together).
pub const MAX_RECIPIENTS: usize = 50;
/// Largest message, attachments included.
pub const MAX_BYTES: usize = crate::plugins::host::MAX_MAIL_BYTES;

/// A file sent with a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attached {
    /// The name the recipient sees.
    pub name: String,
    /// Its content type (`application/pdf`).
    pub content_type: String,
    /// Its content (base64 when the message waits in the outbox).
    #[serde(with = "base64_bytes")]
    pub bytes: Vec<u8>,
}

mod base64_bytes {
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

/// A message to send.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Outgoing {
    /// Recipients: `name@domain` or `Name <name@domain>`.
    pub to: Vec<String>,
    /// Copies.
    pub cc: Vec<String>,
    /// Reply to this address instead of the sender.
    pub reply_to: Option<String>,
    /// Subject line, any script.
    pub subject: String,
    /// Plain text.
    pub text: String,
    /// An HTML alternative to the text.
    pub html: Option<String>,
    /// Files.
    pub attachments: Vec<Attached>,
    /// The Message-ID being answered (`<id@host>`).
    pub in_reply_to: Option<String>,
    /// The thread's earlier Message-IDs, oldest first.
    pub references: Vec<String>,
    /// A mailing's unsubscribe link (`https://…`), sent as `List-Unsubscribe` with one-click
    /// unsubscription (RFC 8058).
    pub unsubscribe_url: Option<String>,
    /// A key that stays the same when the same message is sent again (a retried delivery): the
    /// Message-ID is made from it, so the recipient's server and client can see the repeat.
    pub idempotency_key: Option<String>,
    /// The Message-ID fixed when the message was queued (a plugin's message, whose thread must
    /// know it before it is sent); otherwise it is made from the idempotency key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
}

fn mailbox(field: &str, text: &str, problems: &mut Vec<FieldError>) -> Option<Mailbox> {
    match text.trim().parse::<Mailbox>() {
        Ok(m) => Some(m),
        Err(_) => {
            problems.push(FieldError::new(field, format!("{text:?} is not an e-mail address")));
            None
        }
    }
}

/// A Message-ID in angle brackets, or nothing.
fn message_id(text: &str) -> Option<String> {
    let t = text.trim();
    let inner = t.strip_prefix('<').and_then(|t| t.strip_suffix('>')).unwrap_or(t);
    let ok = !inner.is_empty()
        && inner.len() <= 250
        && inner.contains('@')
        && inner.bytes().all(|b| b.is_ascii_graphic() && b != b'<' && b != b'>');
    ok.then(|| format!("<{inner}>"))
}

/// The Message-ID a message gets: from its idempotency key when it has one, so a repeat
/// carries the same id, otherwise random.
pub fn new_message_id(idempotency_key: Option<&str>, domain: &str) -> String {
    use sha2::{Digest, Sha256};
    let local = match idempotency_key {
        Some(k) => hex::encode(&Sha256::digest(k.as_bytes())[..16]),
        None => crate::ids::new_id(),
    };
    format!("<{local}@{domain}>")
}

fn header(name: &'static str, value: String) -> HeaderValue {
    HeaderValue::new(HeaderName::new_from_ascii_str(name), value)
}

/// Builds the MIME message from `from` (the company's address and name); answers it with its
/// Message-ID.
pub fn build(from: Mailbox, m: &Outgoing) -> Result<(lettre::Message, String), MailError> {
    let mut problems = Vec::new();
    if m.to.is_empty() {
        problems.push(FieldError::new("to", "must name at least one recipient"));
    }
    if m.to.len() + m.cc.len() > MAX_RECIPIENTS {
        problems.push(FieldError::new("to", format!("at most {MAX_RECIPIENTS} recipients in all")));
    }
    let to: Vec<Mailbox> = m.to.iter().filter_map(|t| mailbox("to", t, &mut problems)).collect();
    let cc: Vec<Mailbox> = m.cc.iter().filter_map(|t| mailbox("cc", t, &mut problems)).collect();
    let reply_to = m.reply_to.as_deref().and_then(|r| mailbox("reply_to", r, &mut problems));
    if m.subject.chars().any(|c| c == '\r' || c == '\n') || m.subject.chars().count() > 998 {
        problems.push(FieldError::new("subject", "must be one line of at most 998 characters"));
    }
    let in_reply_to = match m.in_reply_to.as_deref() {
        Some(id) => match message_id(id) {
            Some(id) => Some(id),
            None => {
                problems.push(FieldError::new("in_reply_to", "must be a Message-ID such as <id@example.com>"));
                None
            }
        },
        None => None,
    };
    let mut references = Vec::new();
    for (i, r) in m.references.iter().enumerate().take(50) {
        match message_id(r) {
            Some(id) => references.push(id),
            None => problems.push(FieldError::new(format!("references.{i}"), "must be a Message-ID")),
        }
    }
    if let Some(url) = &m.unsubscribe_url
        && !reqwest::Url::parse(url).is_ok_and(|u| u.scheme() == "https" || u.scheme() == "http")
    {
        problems.push(FieldError::new("unsubscribe_url", "must be an http or https URL"));
    }
    let size = m.text.len()
        + m.html.as_ref().map_or(0, String::len)
        + m.attachments.iter().map(|a| a.bytes.len()).sum::<usize>();
    if size > MAX_BYTES {
        problems.push(FieldError::new("attachments", format!("the message must be at most {} MiB", MAX_BYTES >> 20)));
    }
    let mut types = Vec::new();
    for (i, a) in m.attachments.iter().enumerate() {
        match ContentType::parse(&a.content_type) {
            Ok(t) => types.push(t),
            Err(_) => problems.push(FieldError::new(format!("attachments.{i}.content_type"), "is not a content type")),
        }
        if a.name.trim().is_empty() || a.name.chars().any(char::is_control) {
            problems.push(FieldError::new(format!("attachments.{i}.name"), "must be a file name"));
        }
    }
    if !problems.is_empty() {
        return Err(MailError::Invalid(Invalid(problems)));
    }
    let domain = from.email.domain().to_string();
    let id = match m.message_id.as_deref().and_then(message_id) {
        Some(fixed) => fixed,
        None => new_message_id(m.idempotency_key.as_deref(), &domain),
    };
    let mut builder = lettre::Message::builder()
        .from(from)
        .subject(m.subject.clone())
        .message_id(Some(id.clone()))
        .date_now()
        .user_agent("ERP".into());
    for t in to {
        builder = builder.to(t);
    }
    for c in cc {
        builder = builder.cc(c);
    }
    if let Some(r) = reply_to {
        builder = builder.reply_to(r);
    }
    if let Some(r) = in_reply_to.clone() {
        builder = builder.in_reply_to(r);
    }
    // References ends with the message answered, as RFC 5322 asks.
    let mut thread = references;
    if let Some(r) = in_reply_to
        && thread.last() != Some(&r)
    {
        thread.push(r);
    }
    if !thread.is_empty() {
        builder = builder.references(thread.join(" "));
    }
    let alternative = m.html.as_ref().map(|h| MultiPart::alternative_plain_html(m.text.clone(), h.clone()));
    let built = if m.attachments.is_empty() {
        match alternative {
            Some(a) => builder.multipart(a),
            None => builder.singlepart(SinglePart::plain(m.text.clone())),
        }
    } else {
        let mut mixed = match alternative {
            Some(a) => MultiPart::mixed().multipart(a),
            None => MultiPart::mixed().singlepart(SinglePart::plain(m.text.clone())),
        };
        for (a, t) in m.attachments.iter().zip(types) {
            mixed = mixed.singlepart(Attachment::new(a.name.clone()).body(a.bytes.clone(), t));
        }
        builder.multipart(mixed)
    };
    let mut message =
        built.map_err(|e| MailError::Invalid(Invalid(vec![FieldError::new("message", e.to_string())])))?;
    if let Some(url) = &m.unsubscribe_url {
        message.headers_mut().insert_raw(header("List-Unsubscribe", format!("<{url}>")));
        message.headers_mut().insert_raw(header("List-Unsubscribe-Post", "List-Unsubscribe=One-Click".into()));
    }
    Ok((message, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from() -> Mailbox {
        "Отдел продаж <sales@example.com>".parse().expect("from")
    }

    #[test]
    fn a_reply_threads_and_encodes_its_subject() {
        let m = Outgoing {
            to: vec!["Иван <ivan@example.org>".into()],
            subject: "Re: Счёт №42".into(),
            text: "Добрый день!".into(),
            in_reply_to: Some("<abc@example.org>".into()),
            references: vec!["<root@example.org>".into()],
            ..Default::default()
        };
        let (message, id) = build(from(), &m).expect("message");
        let raw = String::from_utf8(message.formatted()).expect("utf8");
        assert!(id.ends_with("@example.com>"));
        assert!(raw.contains("In-Reply-To: <abc@example.org>"), "{raw}");
        assert!(raw.contains("References: <root@example.org> <abc@example.org>"), "{raw}");
        let head = raw.split("\r\n\r\n").next().unwrap_or_default();
        assert!(head.is_ascii() && head.contains("Subject: Re: =?utf-8?"), "headers are RFC 2047 encoded: {raw}");
        let parsed = mail_parser::MessageParser::default().parse(raw.as_bytes()).expect("parse");
        assert_eq!(parsed.subject(), Some("Re: Счёт №42"));
        assert_eq!(parsed.body_text(0).as_deref().map(str::trim), Some("Добрый день!"));
    }

    #[test]
    fn mailings_carry_unsubscribe_headers_and_attachments() {
        use mail_parser::MimeHeaders;
        let m = Outgoing {
            to: vec!["ivan@example.org".into()],
            subject: "News".into(),
            text: "Hello".into(),
            html: Some("<p>Hello</p>".into()),
            attachments: vec![Attached {
                name: "прайс.pdf".into(),
                content_type: "application/pdf".into(),
                bytes: b"%PDF-1.4".to_vec(),
            }],
            unsubscribe_url: Some("https://erp.example.com/u/abc".into()),
            idempotency_key: Some("mailing-1/ivan".into()),
            ..Default::default()
        };
        let (message, id) = build(from(), &m).expect("message");
        let (_, again) = build(from(), &m).expect("message");
        assert_eq!(id, again, "the same key gives the same Message-ID");
        let raw = message.formatted();
        let parsed = mail_parser::MessageParser::default().parse(&raw).expect("parse");
        assert_eq!(parsed.header_raw("List-Unsubscribe").map(str::trim), Some("<https://erp.example.com/u/abc>"));
        assert_eq!(parsed.attachment_count(), 1);
        assert_eq!(parsed.attachment(0).and_then(|a| a.attachment_name()), Some("прайс.pdf"));
        assert_eq!(parsed.body_html(0).as_deref().map(str::trim), Some("<p>Hello</p>"));
    }

    #[test]
    fn bad_messages_name_their_fields() {
        let m = Outgoing {
            to: vec!["not an address".into()],
            subject: "two\nlines".into(),
            in_reply_to: Some("nonsense".into()),
            ..Default::default()
        };
        let Err(MailError::Invalid(Invalid(problems))) = build(from(), &m) else { panic!("refused") };
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["to", "subject", "in_reply_to"]);
    }
}
