//! Shipments: an outgoing delivery grouping the issue moves of one reference, with carrier,
//! tracking number and a status history (ready → shipped → delivered, or cancelled while
//! ready).

use erp_sdk::store;
use erp_sdk::{Error, Result, Value, json, serde_json};
use serde::{Deserialize, Serialize};

use crate::when;

/// `shipment`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Shipment {
    pub reference: String,
    pub to_location: String,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub carrier: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracking: Option<String>,
    pub moves: Value,
    pub history: Value,
}

/// A new shipment, ready to go.
pub fn open(reference: &str, to_location: &str, moves: Value) -> Result<String> {
    let s = Shipment {
        reference: reference.into(),
        to_location: to_location.into(),
        status: "ready".into(),
        carrier: None,
        tracking: None,
        moves,
        history: json!([{ "status": "ready", "at": when::format(when::now()) }]),
    };
    Ok(store::create("shipment", &s)?.id)
}

/// The validation hook: the status only moves forward, and the history only grows.
pub fn validate(before: Option<&Value>, after: &Value) -> Result<()> {
    let s: Shipment = serde_json::from_value(after.clone()).map_err(|e| Error::invalid("shipment", e.to_string()))?;
    let Some(before) = before else {
        return if s.status == "ready" { Ok(()) } else { Err(Error::invalid("status", "a shipment starts ready")) };
    };
    let from = before["status"].as_str().unwrap_or_default();
    let ok = from == s.status
        || matches!(
            (from, s.status.as_str()),
            ("ready", "shipped") | ("shipped", "delivered") | ("ready", "cancelled")
        );
    if !ok {
        return Err(Error::invalid("status", format!("cannot go from {from} to {}", s.status)));
    }
    if s.status == "shipped" && s.carrier.as_deref().is_none_or(|c| c.trim().is_empty()) {
        return Err(Error::invalid("carrier", "a shipped shipment names its carrier"));
    }
    Ok(())
}

fn step(input: &Value, status: &str, extra: Value) -> Result<Value> {
    let id = input["id"].as_str().ok_or_else(|| Error::invalid("id", "is required"))?;
    let s = store::get::<Shipment>("shipment", id)?;
    let mut history = s.data.history.as_array().cloned().unwrap_or_default();
    history.push(json!({ "status": status, "at": when::format(when::now()) }));
    let mut patch = json!({ "status": status, "history": history });
    if let (Some(p), Some(e)) = (patch.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            p.insert(k.clone(), v.clone());
        }
    }
    store::update::<Value>("shipment", id, &patch, Some(s.version))?;
    Ok(json!({ "id": id, "status": status }))
}

/// `ship`: handed to the carrier.
pub fn ship(input: Value) -> Result<Value> {
    let extra = json!({ "carrier": input["carrier"], "tracking": input["tracking"] });
    step(&input, "shipped", extra)
}

/// `mark-delivered`: the customer has it.
pub fn delivered(input: Value) -> Result<Value> {
    step(&input, "delivered", json!({}))
}
