//! Notifications to people of the company (WIT 0.2.0): kept in their inbox, shown in the bell
//! and pushed live to their open pages, or sent where each person chose for the kind.
//!
//! ```no_run
//! use erp_sdk::notify::{Importance, Notification};
//!
//! # fn remind(user: &str, deal_id: &str) -> erp_sdk::Result<()> {
//! Notification::new("crm.activity_due")
//!     .to(user)
//!     .title("en", "Call the client")
//!     .title("ru", "Позвонить клиенту")
//!     .link("deal", deal_id)
//!     .importance(Importance::High)
//!     .send()?;
//! # Ok(()) }
//! ```

use crate::bindings::erp::plugin::notify as wit;
use crate::error::Result;

/// How much a notification asks for attention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Importance {
    /// Worth a look some time.
    Low,
    /// The usual.
    #[default]
    Normal,
    /// Needs attention now.
    High,
}

/// A notification being put together.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Notification {
    recipients: Vec<String>,
    kind: String,
    title: Vec<(String, String)>,
    body: Vec<(String, String)>,
    link: Option<(String, String)>,
    importance: Importance,
}

impl Notification {
    /// A notification of `kind`: `<plugin>.<name>`, what people choose channels by.
    pub fn new(kind: &str) -> Notification {
        Notification { kind: kind.to_string(), ..Notification::default() }
    }

    /// Adds a recipient (a member's user id).
    pub fn to(mut self, user_id: &str) -> Notification {
        if !self.recipients.iter().any(|r| r == user_id) {
            self.recipients.push(user_id.to_string());
        }
        self
    }

    /// Adds recipients.
    pub fn to_all<'a>(mut self, user_ids: impl IntoIterator<Item = &'a str>) -> Notification {
        for id in user_ids {
            self = self.to(id);
        }
        self
    }

    /// The headline in one language (`en`, `ru`); add each language the plugin speaks.
    pub fn title(mut self, language: &str, text: &str) -> Notification {
        self.title.push((language.to_string(), text.to_string()));
        self
    }

    /// The text in one language.
    pub fn body(mut self, language: &str, text: &str) -> Notification {
        self.body.push((language.to_string(), text.to_string()));
        self
    }

    /// The record it is about (`collection` as in [`crate::store`]).
    pub fn link(mut self, collection: &str, record_id: &str) -> Notification {
        self.link = Some((collection.to_string(), record_id.to_string()));
        self
    }

    /// How much it asks for attention.
    pub fn importance(mut self, importance: Importance) -> Notification {
        self.importance = importance;
        self
    }

    /// The people it goes to.
    pub fn recipients(&self) -> &[String] {
        &self.recipients
    }

    /// Sends it with the current change (kept only if that commits); answers how many
    /// people receive it. With no recipients nothing is sent.
    pub fn send(self) -> Result<u32> {
        if self.recipients.is_empty() {
            return Ok(0);
        }
        let importance = match self.importance {
            Importance::Low => wit::Importance::Low,
            Importance::Normal => wit::Importance::Normal,
            Importance::High => wit::Importance::High,
        };
        Ok(wit::send(&wit::Notification {
            recipients: self.recipients,
            kind: self.kind,
            title: self.title,
            body: self.body,
            link: self.link,
            importance,
        })?)
    }
}
