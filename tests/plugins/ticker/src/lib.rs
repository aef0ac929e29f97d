//! Records each scheduled run.

use erp_sdk::{Error, Plugin, Result, json, now, store};

/// The plugin.
pub struct Ticker;

impl Plugin for Ticker {
    fn schedule(name: &str) -> Result<()> {
        if name != "tick" {
            return Err(Error::not_found(format!("schedule {name}")));
        }
        store::create("tick", &json!({ "at": now() }))?;
        Ok(())
    }
}

erp_sdk::export_plugin!(Ticker);
