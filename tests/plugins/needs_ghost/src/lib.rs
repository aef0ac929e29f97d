//! A plugin that depends on a plugin nobody installed.

use erp_sdk::Plugin;

/// The plugin.
pub struct NeedsGhost;

impl Plugin for NeedsGhost {}

erp_sdk::export_plugin!(NeedsGhost);
