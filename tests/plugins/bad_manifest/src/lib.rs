//! A plugin whose manifest is wrong in several ways.

use erp_sdk::Plugin;

/// The plugin.
pub struct BadManifest;

impl Plugin for BadManifest {}

erp_sdk::export_plugin!(BadManifest);
