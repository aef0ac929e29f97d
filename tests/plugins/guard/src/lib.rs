//! A synchronous subscriber: vetoes notes whose title contains "forbidden".

use erp_sdk::{Error, Event, Plugin, Result, Value};

/// The plugin.
pub struct Guard;

impl Plugin for Guard {
    fn event(_handler: &str, event: &Event) -> Result<()> {
        let payload: Value = event.payload()?;
        let title = payload["after"]["title"].as_str().unwrap_or_default();
        if title.to_lowercase().contains("forbidden") {
            return Err(Error::invalid("title", "guard does not allow forbidden notes"));
        }
        Ok(())
    }
}

erp_sdk::export_plugin!(Guard);
