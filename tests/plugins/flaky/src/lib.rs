//! Fails every delivery while its configuration says `fail = true`.

use erp_sdk::{Error, Event, Plugin, Result, Value, context, json, store};

/// The plugin.
pub struct Flaky;

impl Plugin for Flaky {
    fn event(_handler: &str, event: &Event) -> Result<()> {
        let config: Value = context::config()?;
        if config["fail"].as_bool().unwrap_or(true) {
            return Err(Error::failed("flaky is configured to fail"));
        }
        store::create("got", &json!({ "event_id": event.id }))?;
        Ok(())
    }
}

erp_sdk::export_plugin!(Flaky);
