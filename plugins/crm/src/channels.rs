//! Inbound channel formats: a Telegram Bot API `Update`, a raw RFC 5322 e-mail, a website
//! form (JSON or form-encoded) and a normalised message for other messengers. Each parser
//! turns a request body into one [`Inbound`] message, or a clear error; none of them touches
//! the store.

use std::collections::BTreeMap;

use erp_sdk::{Error, Result, serde_json};
use serde::Deserialize;

use crate::contacts;
use crate::time;

/// Largest inbound body the parsers accept, in bytes.
pub const MAX_BODY: usize = 256 * 1024;

/// One message from one sender, whatever channel it came through.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Inbound {
    /// `telegram`, `email`, `form`, `whatsapp`, `vk`, `phone` or `other`.
    pub channel: String,
    /// The channel's own id of the message, to ignore redeliveries.
    pub external_key: Option<String>,
    /// Who wrote, as they call themselves.
    pub sender_name: Option<String>,
    /// Contacts of the sender: (kind, value), kinds as in the `contact` collection.
    pub contacts: Vec<(String, String)>,
    /// Subject line (e-mail).
    pub subject: Option<String>,
    /// Text.
    pub text: String,
    /// When it was sent, RFC 3339 UTC, when the channel says.
    pub sent_at: Option<String>,
    /// UTM parameters and the page of a web form.
    pub utm: BTreeMap<String, String>,
    /// An e-mail's Message-ID as written (`<id@host>`), which a reply threads under.
    pub message_id: Option<String>,
}

impl Inbound {
    /// The first contact key that identifies the sender.
    pub fn keys(&self) -> Vec<String> {
        self.contacts.iter().filter_map(|(k, v)| contacts::key_of(k, v)).collect()
    }

    /// The sender's e-mail address, if given.
    pub fn email(&self) -> Option<&str> {
        self.contacts.iter().find(|(k, _)| k == "email").map(|(_, v)| v.as_str())
    }

    /// The sender's phone, if given.
    pub fn phone(&self) -> Option<&str> {
        self.contacts.iter().find(|(k, _)| k == "phone").map(|(_, v)| v.as_str())
    }
}

fn body_error(message: impl Into<String>) -> Error {
    Error::invalid("body", message)
}

fn check_size(body: &[u8]) -> Result<()> {
    if body.is_empty() {
        return Err(body_error("is empty"));
    }
    if body.len() > MAX_BODY {
        return Err(body_error(format!("is larger than {MAX_BODY} bytes")));
    }
    Ok(())
}

fn clean(s: Option<&str>) -> Option<String> {
    s.map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

// ---------------------------------------------------------------------------- Telegram

#[derive(Deserialize)]
struct TgUpdate {
    update_id: i64,
    message: Option<TgMessage>,
    edited_message: Option<TgMessage>,
    business_message: Option<TgMessage>,
}

#[derive(Deserialize)]
struct TgMessage {
    message_id: i64,
    from: Option<TgUser>,
    chat: TgChat,
    date: i64,
    text: Option<String>,
    caption: Option<String>,
    contact: Option<TgContact>,
}

#[derive(Deserialize)]
struct TgUser {
    id: i64,
    #[serde(default)]
    is_bot: bool,
    first_name: String,
    last_name: Option<String>,
}

#[derive(Deserialize)]
struct TgChat {
    id: i64,
}

#[derive(Deserialize)]
struct TgContact {
    phone_number: String,
    user_id: Option<i64>,
}

/// Parses a Telegram Bot API `Update`. Updates that carry no message from a person (a bot's
/// own message, a callback, a poll...) give `None`: Telegram needs a 2xx for them too.
pub fn telegram(body: &[u8]) -> Result<Option<Inbound>> {
    check_size(body)?;
    let update: TgUpdate =
        serde_json::from_slice(body).map_err(|e| body_error(format!("is not a Telegram Update: {e}")))?;
    let _ = update.update_id;
    let Some(msg) = update.message.or(update.business_message).or(update.edited_message) else {
        return Ok(None);
    };
    let Some(from) = msg.from.filter(|f| !f.is_bot) else { return Ok(None) };
    let mut contacts = vec![("telegram".to_string(), from.id.to_string())];
    // A shared contact is the sender's own phone only when Telegram says it is theirs.
    if let Some(c) = msg.contact.as_ref().filter(|c| c.user_id == Some(from.id)) {
        contacts.push(("phone".into(), c.phone_number.clone()));
    }
    let name = [Some(from.first_name.as_str()), from.last_name.as_deref()]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let text = msg
        .text
        .or(msg.caption)
        .or_else(|| msg.contact.as_ref().map(|_| "Shared a contact".to_string()))
        .unwrap_or_default();
    Ok(Some(Inbound {
        channel: "telegram".into(),
        external_key: Some(format!("telegram:{}:{}", msg.chat.id, msg.message_id)),
        sender_name: clean(Some(&name)),
        contacts,
        subject: None,
        text,
        sent_at: time::from_unix(msg.date),
        utm: BTreeMap::new(),
        message_id: None,
    }))
}

// ---------------------------------------------------------------------------- e-mail

/// Parses a raw RFC 5322 message. It must have a `From` address.
pub fn email(body: &[u8]) -> Result<Inbound> {
    check_size(body)?;
    let message = mail_parser::MessageParser::default()
        .parse(body)
        .ok_or_else(|| body_error("is not an RFC 5322 e-mail message"))?;
    if message.headers().is_empty() {
        return Err(body_error("is not an RFC 5322 e-mail message: it has no header fields"));
    }
    let from = message.from().and_then(|a| a.first()).ok_or_else(|| body_error("has no From address"))?;
    let address = from.address().ok_or_else(|| body_error("has no From address"))?;
    if contacts::email_key(address).is_none() {
        return Err(body_error(format!("From {address:?} is not an e-mail address")));
    }
    let text = message
        .body_text(0)
        .map(|t| t.trim().to_string())
        .or_else(|| message.body_html(0).map(|h| strip_tags(&h)))
        .unwrap_or_default();
    Ok(Inbound {
        channel: "email".into(),
        external_key: message.message_id().map(|id| format!("email:{}", id.to_lowercase())),
        sender_name: clean(from.name()),
        contacts: vec![("email".into(), address.to_string())],
        subject: clean(message.subject()),
        text,
        sent_at: message.date().and_then(|d| time::from_unix(d.to_timestamp())),
        utm: BTreeMap::new(),
        message_id: message.message_id().map(|id| format!("<{id}>")),
    })
}

/// Plain text of an HTML body, for messages without a text part.
fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

// ---------------------------------------------------------------------------- web form

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Form {
    name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    message: Option<String>,
    subject: Option<String>,
    page: Option<String>,
    form_id: Option<String>,
    submission_id: Option<String>,
    utm_source: Option<String>,
    utm_medium: Option<String>,
    utm_campaign: Option<String>,
    utm_content: Option<String>,
    utm_term: Option<String>,
}

/// Parses a website form, JSON or `application/x-www-form-urlencoded` by content type. It
/// needs an e-mail or a phone to answer.
pub fn form(content_type: &str, body: &[u8]) -> Result<Inbound> {
    check_size(body)?;
    let mime = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let form: Form = match mime.as_str() {
        "application/json" => {
            serde_json::from_slice(body).map_err(|e| body_error(format!("is not a valid form: {e}")))?
        }
        "application/x-www-form-urlencoded" => {
            let pairs: Vec<(String, String)> =
                form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
            let mut map = serde_json::Map::new();
            for (k, v) in pairs {
                if map.insert(k.clone(), v.into()).is_some() {
                    return Err(Error::invalid(k, "is given twice"));
                }
            }
            serde_json::from_value(serde_json::Value::Object(map))
                .map_err(|e| body_error(format!("is not a valid form: {e}")))?
        }
        other => {
            return Err(Error::invalid(
                "content-type",
                format!("{other:?} is not supported; send application/json or application/x-www-form-urlencoded"),
            ));
        }
    };
    let mut errors = Vec::new();
    let mut contacts = Vec::new();
    if let Some(e) = clean(form.email.as_deref()) {
        if contacts::email_key(&e).is_some() {
            contacts.push(("email".to_string(), e));
        } else {
            errors.push(erp_sdk::FieldError { field: "email".into(), message: "is not an e-mail address".into() });
        }
    }
    if let Some(p) = clean(form.phone.as_deref()) {
        if contacts::phone_key(&p).is_some() {
            contacts.push(("phone".to_string(), p));
        } else {
            errors.push(erp_sdk::FieldError { field: "phone".into(), message: "is not a phone number".into() });
        }
    }
    if errors.is_empty() && contacts.is_empty() {
        errors.push(erp_sdk::FieldError { field: "email".into(), message: "give an e-mail or a phone".into() });
    }
    if !errors.is_empty() {
        return Err(Error::Invalid(errors));
    }
    let mut utm = BTreeMap::new();
    for (k, v) in [
        ("utm_source", form.utm_source),
        ("utm_medium", form.utm_medium),
        ("utm_campaign", form.utm_campaign),
        ("utm_content", form.utm_content),
        ("utm_term", form.utm_term),
        ("page", form.page),
    ] {
        if let Some(v) = clean(v.as_deref()) {
            utm.insert(k.to_string(), v);
        }
    }
    let external_key = match (clean(form.form_id.as_deref()), clean(form.submission_id.as_deref())) {
        (form_id, Some(sub)) => Some(format!("form:{}:{sub}", form_id.unwrap_or_default())),
        _ => None,
    };
    Ok(Inbound {
        channel: "form".into(),
        external_key,
        sender_name: clean(form.name.as_deref()),
        contacts,
        subject: clean(form.subject.as_deref()),
        text: form.message.unwrap_or_default().trim().to_string(),
        sent_at: None,
        utm,
        message_id: None,
    })
}

// ---------------------------------------------------------------------------- other messengers

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Normalised {
    channel: String,
    sender_id: String,
    sender_name: Option<String>,
    phone: Option<String>,
    email: Option<String>,
    text: String,
    message_id: Option<String>,
    sent_at: Option<String>,
}

/// Parses the normalised message other messenger connectors send:
/// `{"channel": "whatsapp", "sender_id", "sender_name", "phone", "email", "text", "message_id", "sent_at"}`.
pub fn normalised(body: &[u8]) -> Result<Inbound> {
    check_size(body)?;
    let m: Normalised =
        serde_json::from_slice(body).map_err(|e| body_error(format!("is not a normalised message: {e}")))?;
    let channel = match m.channel.as_str() {
        "whatsapp" | "vk" | "telegram" | "phone" | "other" => m.channel.clone(),
        other => {
            return Err(Error::invalid(
                "channel",
                format!("{other:?} is not one of whatsapp, vk, telegram, phone, other"),
            ));
        }
    };
    let mut errors = Vec::new();
    let mut contacts = Vec::new();
    match contacts::key_of(&channel, &m.sender_id) {
        Some(_) => contacts.push((channel.clone(), m.sender_id.trim().to_string())),
        None => errors
            .push(erp_sdk::FieldError { field: "sender_id".into(), message: format!("is not a {channel} account id") }),
    }
    if let Some(p) = clean(m.phone.as_deref()) {
        match contacts::phone_key(&p) {
            Some(_) => contacts.push(("phone".into(), p)),
            None => errors.push(erp_sdk::FieldError { field: "phone".into(), message: "is not a phone number".into() }),
        }
    }
    if let Some(e) = clean(m.email.as_deref()) {
        match contacts::email_key(&e) {
            Some(_) => contacts.push(("email".into(), e)),
            None => {
                errors.push(erp_sdk::FieldError { field: "email".into(), message: "is not an e-mail address".into() })
            }
        }
    }
    let sent_at = match m.sent_at.as_deref() {
        None => None,
        Some(s) => match time::parse(s) {
            Some(t) => Some(time::format(t)),
            None => {
                errors.push(erp_sdk::FieldError { field: "sent_at".into(), message: "is not an RFC 3339 time".into() });
                None
            }
        },
    };
    if m.text.trim().is_empty() {
        errors.push(erp_sdk::FieldError { field: "text".into(), message: "is empty".into() });
    }
    if !errors.is_empty() {
        return Err(Error::Invalid(errors));
    }
    Ok(Inbound {
        external_key: clean(m.message_id.as_deref()).map(|id| format!("{channel}:{id}")),
        channel,
        sender_name: clean(m.sender_name.as_deref()),
        contacts,
        subject: None,
        text: m.text.trim().to_string(),
        sent_at,
        utm: BTreeMap::new(),
        message_id: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const UPDATE: &str = r#"{"update_id": 10000,
        "message": {"message_id": 1365, "date": 1764403200,
            "from": {"id": 1111111, "is_bot": false, "first_name": "Анна", "last_name": "Кузнецова",
                     "username": "anna_k", "language_code": "ru"},
            "chat": {"id": 1111111, "first_name": "Анна", "type": "private"},
            "text": "Здравствуйте! Сколько стоит доставка?"}}"#;

    #[test]
    fn a_telegram_update_becomes_a_message() {
        let m = telegram(UPDATE.as_bytes()).expect("parses").expect("a message");
        assert_eq!(m.channel, "telegram");
        assert_eq!(m.sender_name.as_deref(), Some("Анна Кузнецова"));
        assert_eq!(m.keys(), vec!["telegram:1111111"]);
        assert_eq!(m.external_key.as_deref(), Some("telegram:1111111:1365"));
        assert_eq!(m.sent_at.as_deref(), Some("2025-11-29T08:00:00Z"));
        assert!(m.text.contains("доставка"));
    }

    #[test]
    fn telegram_updates_without_a_persons_message_are_ignored() {
        assert_eq!(telegram(br#"{"update_id": 1, "callback_query": {"id": "x"}}"#).expect("parses"), None);
        let bot = UPDATE.replace("\"is_bot\": false", "\"is_bot\": true");
        assert_eq!(telegram(bot.as_bytes()).expect("parses"), None);
    }

    #[test]
    fn malformed_telegram_updates_are_refused() {
        for bad in [&b"not json"[..], br#"{"message": {}}"#, br#"{"update_id": "x"}"#, b""] {
            assert!(matches!(telegram(bad), Err(Error::Invalid(_))), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn a_raw_email_becomes_a_message() {
        let raw = "From: =?UTF-8?B?0JjQstCw0L0g0J/QtdGC0YDQvtCy?= <Ivan.Petrov@Example.ru>\r\n\
                   To: sales@shop.example\r\n\
                   Subject: =?UTF-8?Q?=D0=9A=D0=BE=D0=BC=D0=BC=D0=B5=D1=80=D1=87=D0=B5=D1=81=D0=BA=D0=BE=D0=B5?=\r\n\
                   Message-ID: <abc-123@example.ru>\r\n\
                   Date: Sat, 29 Nov 2025 11:00:00 +0300\r\n\
                   Content-Type: text/plain; charset=utf-8\r\n\r\n\
                   Пришлите, пожалуйста, предложение на 20 стульев.\r\n";
        let m = email(raw.as_bytes()).expect("parses");
        assert_eq!(m.sender_name.as_deref(), Some("Иван Петров"));
        assert_eq!(m.keys(), vec!["email:ivan.petrov@example.ru"]);
        assert_eq!(m.subject.as_deref(), Some("Коммерческое"));
        assert_eq!(m.external_key.as_deref(), Some("email:abc-123@example.ru"));
        assert_eq!(m.sent_at.as_deref(), Some("2025-11-29T08:00:00Z"));
        assert!(m.text.starts_with("Пришлите"));
    }

    #[test]
    fn emails_without_a_sender_are_refused() {
        assert!(email(b"Subject: hi\r\n\r\nbody").is_err());
        assert!(email(b"just some words").is_err());
        assert!(email(b"From: nobody\r\n\r\nx").is_err());
    }

    #[test]
    fn forms_in_both_encodings() {
        let json = form(
            "application/json; charset=utf-8",
            br#"{"name": "Oleg", "phone": "8 (912) 000-11-22", "message": "Call me", "utm_source": "yandex"}"#,
        )
        .expect("json form");
        assert_eq!(json.keys(), vec!["phone:79120001122"]);
        assert_eq!(json.utm.get("utm_source").map(String::as_str), Some("yandex"));
        let encoded = form(
            "application/x-www-form-urlencoded",
            b"name=Oleg&email=oleg%40mail.example&message=%D0%9F%D1%80%D0%B8%D0%B2%D0%B5%D1%82",
        )
        .expect("encoded form");
        assert_eq!(encoded.keys(), vec!["email:oleg@mail.example"]);
        assert_eq!(encoded.text, "Привет");
    }

    #[test]
    fn bad_forms_are_refused_field_by_field() {
        let Err(Error::Invalid(fields)) = form("application/json", br#"{"email": "nope", "phone": "x"}"#) else {
            panic!("should be invalid");
        };
        assert_eq!(fields.len(), 2);
        assert!(form("application/json", br#"{"name": "No contact"}"#).is_err());
        assert!(form("application/json", br#"{"email": "a@b.ru", "evil": 1}"#).is_err());
        assert!(form("text/plain", b"email=a@b.ru").is_err());
        assert!(form("application/x-www-form-urlencoded", b"email=a%40b.ru&email=c%40d.ru").is_err());
    }

    #[test]
    fn normalised_messages() {
        let m = normalised(
            br#"{"channel": "whatsapp", "sender_id": "+7 999 123-45-67", "text": "Hi", "message_id": "w1"}"#,
        )
        .expect("parses");
        assert_eq!(m.keys(), vec!["whatsapp:79991234567"]);
        assert!(normalised(br#"{"channel": "fax", "sender_id": "1", "text": "x"}"#).is_err());
        assert!(normalised(br#"{"channel": "vk", "sender_id": "1", "text": " "}"#).is_err());
        assert!(normalised(br#"{"channel": "vk", "sender_id": "1", "text": "x", "sent_at": "yesterday"}"#).is_err());
    }
}
