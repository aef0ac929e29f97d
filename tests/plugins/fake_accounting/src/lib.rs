//! Stands in for the accounting plugin: `pay` publishes `accounting.payment.received` with the
//! command's input as the payload.

use erp_sdk::{Error, Plugin, Result, Value, events, json};

/// The plugin.
pub struct FakeAccounting;

impl Plugin for FakeAccounting {
    fn command(name: &str, input: Value) -> Result<Value> {
        match name {
            "pay" => Ok(json!({ "event": events::publish("accounting.payment.received", &input)? })),
            other => Err(Error::not_found(format!("command {other}"))),
        }
    }
}

erp_sdk::export_plugin!(FakeAccounting);
