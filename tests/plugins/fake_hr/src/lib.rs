//! Stands in for the HR plugin: `absence` publishes `hr.absence.changed` with the command's
//! input as the payload.

use erp_sdk::{Error, Plugin, Result, Value, events, json};

/// The plugin.
pub struct FakeHr;

impl Plugin for FakeHr {
    fn command(name: &str, input: Value) -> Result<Value> {
        match name {
            "absence" => Ok(json!({ "event": events::publish("hr.absence.changed", &input)? })),
            other => Err(Error::not_found(format!("command {other}"))),
        }
    }
}

erp_sdk::export_plugin!(FakeHr);
