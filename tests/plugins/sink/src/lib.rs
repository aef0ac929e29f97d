//! A subscriber that does nothing: measures the bus itself.

use erp_sdk::{Event, Plugin, Result};

/// The plugin.
pub struct Sink;

impl Plugin for Sink {
    fn event(_handler: &str, _event: &Event) -> Result<()> {
        Ok(())
    }
}

erp_sdk::export_plugin!(Sink);
