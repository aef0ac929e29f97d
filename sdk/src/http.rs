//! Requests to services outside the platform (WIT 0.2.1): messengers, payment and delivery
//! services, a company's own systems.
//!
//! A plugin declares each host in its manifest and an administrator of the company grants it
//! when enabling the plugin:
//!
//! ```toml
//! [plugin]
//! wit = "0.2.1"
//!
//! [[hosts]]
//! url = "https://api.telegram.org"
//! reason = "Sends replies to the Telegram chats customers write from"
//! ```
//!
//! Requests to anything else, to private addresses, or redirected there, are refused before a
//! connection opens. A request is made only while the current change has written nothing: call
//! out first and write after, or call from an after-commit event handler and pass the event's
//! idempotency key on, so that a handler run twice acts once on the remote side.
//!
//! ```no_run
//! use erp_sdk::http::Request;
//! use erp_sdk::json;
//!
//! # fn reply(token: &str, chat: i64, key: &str) -> erp_sdk::Result<()> {
//! let answer = Request::post(&format!("https://api.telegram.org/bot{token}/sendMessage"))
//!     .json(&json!({ "chat_id": chat, "text": "Здравствуйте!" }))
//!     .idempotency_key(key)
//!     .send()?;
//! if !answer.is_success() {
//!     return Err(erp_sdk::Error::failed(format!("Telegram answered {}", answer.status)));
//! }
//! # Ok(()) }
//! ```

use serde::de::DeserializeOwned;

use crate::bindings::erp::plugin::http as wit;
use crate::error::{Error, Result};

/// A request being put together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    idempotency_key: Option<String>,
}

impl Request {
    /// A request with any method (`GET`, `HEAD`, `POST`, `PUT`, `PATCH`, `DELETE`).
    pub fn new(method: &str, url: &str) -> Request {
        Request {
            method: method.to_string(),
            url: url.to_string(),
            headers: Vec::new(),
            body: None,
            idempotency_key: None,
        }
    }

    /// A `GET` request.
    pub fn get(url: &str) -> Request {
        Request::new("GET", url)
    }

    /// A `POST` request.
    pub fn post(url: &str) -> Request {
        Request::new("POST", url)
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Request {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// A raw body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Request {
        self.body = Some(body.into());
        self
    }

    /// A JSON body, with its content type.
    pub fn json(self, value: &serde_json::Value) -> Request {
        self.header("content-type", "application/json").body(value.to_string())
    }

    /// A form body (`application/x-www-form-urlencoded`).
    pub fn form(self, pairs: &[(&str, &str)]) -> Request {
        let body: Vec<String> = pairs.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect();
        self.header("content-type", "application/x-www-form-urlencoded").body(body.join("&"))
    }

    /// Sent as `Idempotency-Key`, usually the event's idempotency key.
    pub fn idempotency_key(mut self, key: &str) -> Request {
        self.idempotency_key = Some(key.to_string());
        self
    }

    /// Sends it and waits for the answer. Any status is an answer; an error means the request
    /// was refused or the remote side could not be reached in time.
    pub fn send(self) -> Result<Response> {
        let answer = wit::send(&wit::Request {
            method: self.method,
            url: self.url,
            headers: self.headers,
            body: self.body,
            idempotency_key: self.idempotency_key,
        })?;
        Ok(Response { status: answer.status, headers: answer.headers, body: answer.body })
    }
}

/// Percent-encodes a form value.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// An answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// Headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl Response {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The first value of a header (`name` in lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body)
            .map_err(|e| Error::failed(format!("the answer (status {}) is not the JSON expected: {e}", self.status)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_put_together() {
        let r = Request::post("https://example.com/x").form(&[("text", "Привет мир"), ("a&b", "1=2")]);
        assert_eq!(
            r.body.as_deref(),
            Some("text=%D0%9F%D1%80%D0%B8%D0%B2%D0%B5%D1%82+%D0%BC%D0%B8%D1%80&a%26b=1%3D2".as_bytes())
        );
        assert_eq!(r.headers, vec![("content-type".to_string(), "application/x-www-form-urlencoded".to_string())]);
        let answer =
            Response { status: 201, headers: vec![("x-id".into(), "7".into())], body: b"{\"ok\":true}".to_vec() };
        assert!(answer.is_success());
        assert_eq!(answer.header("x-id"), Some("7"));
        assert_eq!(answer.json::<serde_json::Value>().expect("json")["ok"], true);
    }
}
