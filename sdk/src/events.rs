//! Publishing events, and the events a plugin receives.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::bindings::erp::plugin::events as wit;
use crate::error::Result;

/// An event delivered to one of the plugin's subscriptions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Unique event id.
    pub id: String,
    /// Event name such as `crm.deal.won`.
    pub name: String,
    /// Payload as JSON text.
    pub payload: String,
    /// Who caused it.
    pub actor: Option<String>,
    /// When it happened (RFC 3339 UTC).
    pub occurred_at: String,
    /// Stable across redeliveries of this event to this subscriber: store it with the effect
    /// to apply each event once.
    pub idempotency_key: String,
}

impl Event {
    /// The payload deserialised into `T`.
    pub fn payload<T: DeserializeOwned>(&self) -> Result<T> {
        Ok(serde_json::from_str(&self.payload)?)
    }
}

/// Publishes an event named `<this plugin>.<something>` with a payload. It commits with the current change or not
/// at all. Returns the event id.
pub fn publish(name: &str, payload: &impl Serialize) -> Result<String> {
    let payload = serde_json::to_string(payload)?;
    Ok(wit::publish(name, &payload)?)
}
