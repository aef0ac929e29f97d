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

    /// The payload of a kernel record event (`<plugin>.<collection>.created|updated|deleted`):
    /// the record's id, its fields before and after, and its version after an update.
    pub fn record_change(&self) -> Result<crate::RecordChange> {
        self.payload()
    }
}

/// Honours an event's idempotency key: records it in `collection` (which must declare a
/// unique text field `key`) and answers `true` the first time, `false` when this delivery was
/// already applied. Inside the kernel a handler's writes and its delivery commit together,
/// so this matters for effects outside the kernel (a message sent, a call made).
///
/// ```no_run
/// # use erp_sdk::{Event, Result};
/// # fn send_sms(_: &str) {}
/// fn on_deal_won(event: &Event) -> Result<()> {
///     if erp_sdk::events::first_time(event, "processed")? {
///         send_sms("Congratulations!");
///     }
///     Ok(())
/// }
/// ```
pub fn first_time(event: &Event, collection: &str) -> Result<bool> {
    match crate::store::create::<serde_json::Value>(collection, &serde_json::json!({ "key": event.idempotency_key })) {
        Ok(_) => Ok(true),
        Err(crate::Error::Invalid(fields)) if fields.iter().any(|f| f.field == "key") => Ok(false),
        Err(e) => Err(e),
    }
}

/// Publishes an event named `<this plugin>.<something>` with a payload. It commits with the current change or not
/// at all. Returns the event id.
pub fn publish(name: &str, payload: &impl Serialize) -> Result<String> {
    let payload = serde_json::to_string(payload)?;
    Ok(wit::publish(name, &payload)?)
}
