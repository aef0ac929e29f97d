//! E-mail through the company's own relay (WIT 0.2.2; unsubscribe links and later news of
//! sent mail, 0.2.3): replies to customers, mailings, documents.
//!
//! A plugin declares that it sends mail in its manifest, and an administrator of the company
//! grants it (`mail` among the grants) when enabling the plugin:
//!
//! ```toml
//! [plugin]
//! wit = "0.2.4"
//!
//! [mail]
//! reason = "Sends replies to customers who wrote by e-mail"
//! ```
//!
//! A message is queued in the current change under the plugin's own key and goes out after
//! the change commits: queuing the same key again queues nothing, so a handler that runs
//! twice sends once. What became of it comes back as `<plugin>.mail.sent` or
//! `<plugin>.mail.failed`, which the plugin may subscribe to (see [`Outcome`]); later,
//! `<plugin>.mail.bounced` when the recipient's server sends it back, and
//! `<plugin>.mail.unsubscribed` when the recipient follows its [`unsubscribe_link`].
//!
//! ```no_run
//! use erp_sdk::mail::Message;
//!
//! # fn reply(lead: &str, to: &str, answered: &str) -> erp_sdk::Result<()> {
//! let queued = Message::new(to, "Re: Поставка", "Здравствуйте! Отправили счёт.")
//!     .in_reply_to(answered)
//!     .send(&format!("reply/{lead}/1"))?;
//! // `queued.message_id` threads the customer's answer to this reply.
//! # let _ = queued; Ok(()) }
//! ```

use serde::Deserialize;

use crate::bindings::erp::plugin::mail as wit;
use crate::error::Result;

/// A message being put together.
#[derive(Debug, Clone)]
pub struct Message {
    inner: wit::Message,
}

/// A queued message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    /// The outbox id, which the outcome event carries.
    pub id: String,
    /// The Message-ID it is sent with (`<id@host>`).
    pub message_id: String,
    /// False when the key was queued before and nothing new was queued.
    pub created: bool,
}

impl Message {
    /// A plain-text message to one recipient (`name@domain` or `Name <name@domain>`).
    pub fn new(to: &str, subject: &str, text: &str) -> Message {
        Message {
            inner: wit::Message {
                to: vec![to.to_string()],
                cc: Vec::new(),
                reply_to: None,
                subject: subject.to_string(),
                text: text.to_string(),
                html: None,
                attachments: Vec::new(),
                in_reply_to: None,
                references: Vec::new(),
                unsubscribe_url: None,
                key: String::new(),
            },
        }
    }

    /// Another recipient.
    pub fn to(mut self, to: &str) -> Message {
        self.inner.to.push(to.to_string());
        self
    }

    /// A copy to someone.
    pub fn cc(mut self, cc: &str) -> Message {
        self.inner.cc.push(cc.to_string());
        self
    }

    /// Replies go to this address instead of the company's sender.
    pub fn reply_to(mut self, address: &str) -> Message {
        self.inner.reply_to = Some(address.to_string());
        self
    }

    /// An HTML alternative to the text.
    pub fn html(mut self, html: &str) -> Message {
        self.inner.html = Some(html.to_string());
        self
    }

    /// Attaches a file the plugin may read (its id).
    pub fn attach(mut self, file_id: &str) -> Message {
        self.inner.attachments.push(file_id.to_string());
        self
    }

    /// Answers the message with this Message-ID.
    pub fn in_reply_to(mut self, message_id: &str) -> Message {
        self.inner.in_reply_to = Some(message_id.to_string());
        self
    }

    /// The thread's earlier Message-IDs, oldest first.
    pub fn references(mut self, ids: &[String]) -> Message {
        self.inner.references = ids.to_vec();
        self
    }

    /// A mailing's unsubscribe link, sent as `List-Unsubscribe` (one click).
    pub fn unsubscribe_url(mut self, url: &str) -> Message {
        self.inner.unsubscribe_url = Some(url.to_string());
        self
    }

    /// Queues it under `key` (at most 200 characters) in the current change.
    pub fn send(mut self, key: &str) -> Result<Queued> {
        self.inner.key = key.to_string();
        let q = wit::send(&self.inner)?;
        Ok(Queued { id: q.id, message_id: q.message_id, created: q.created })
    }
}

/// The one-click unsubscribe link of the message the plugin queues under `key`: put it in
/// [`Message::unsubscribe_url`] and in the letter's text. Confirming it emits
/// `<plugin>.mail.unsubscribed` once. Fails when the operator gave the platform no public
/// address, or without the `mail` grant.
pub fn unsubscribe_link(key: &str) -> Result<String> {
    Ok(wit::unsubscribe_link(key)?)
}

/// The payload of `<plugin>.mail.sent`, `.failed`, `.bounced` and `.unsubscribed`:
/// `let outcome: Outcome = event.payload()?;`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Outcome {
    /// The outbox id.
    pub id: String,
    /// The key the message was queued under.
    pub key: Option<String>,
    /// Its Message-ID, once sent.
    pub message_id: Option<String>,
    /// `sent`, `refused` (the relay refused it for good), `failed` (not sent after the last
    /// attempt), `bounced` (sent, then returned by the recipient's server) or `unsubscribed`
    /// (the recipient followed its unsubscribe link).
    pub status: String,
    /// Why it was not sent, or why it came back.
    pub error: Option<String>,
}

impl Outcome {
    /// Whether the relay took the message.
    pub fn is_sent(&self) -> bool {
        self.status == "sent"
    }

    /// Whether the recipient's server sent the message back.
    pub fn is_bounced(&self) -> bool {
        self.status == "bounced"
    }

    /// Whether the recipient asked for no more such mail.
    pub fn is_unsubscribed(&self) -> bool {
        self.status == "unsubscribed"
    }
}
