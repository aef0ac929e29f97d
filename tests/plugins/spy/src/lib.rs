//! Reads another plugin's collection: allowed only as declared and granted.

use erp_sdk::store::{self, Query};
use erp_sdk::{Error, Plugin, Result, Value, json};

/// The plugin.
pub struct Spy;

impl Plugin for Spy {
    fn command(name: &str, input: Value) -> Result<Value> {
        let id = input["id"].as_str().unwrap_or_default();
        match name {
            "read-note" => Ok(store::get::<Value>("notes.note", id)?.data),
            "read-notebook" => Ok(store::get::<Value>("notes.notebook", id)?.data),
            "write-note" => {
                Ok(json!({ "id": store::create::<Value>("notes.note", &json!({ "title": "planted" }))?.id }))
            }
            "count-notes" => {
                Ok(json!({ "count": store::query::<Value>("notes.note", &Query::new().limit(500))?.records.len() }))
            }
            other => Err(Error::not_found(format!("command {other}"))),
        }
    }
}

erp_sdk::export_plugin!(Spy);
