//! A plugin that tries to read the host's files; the kernel must refuse to install it.

use erp_sdk::{Plugin, Result, Value, json};

/// The plugin.
pub struct FsReader;

impl Plugin for FsReader {
    fn command(_name: &str, _input: Value) -> Result<Value> {
        let text = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
        Ok(json!({ "bytes": text.len() }))
    }
}

erp_sdk::export_plugin!(FsReader);
