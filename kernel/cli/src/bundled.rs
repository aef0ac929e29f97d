//! Plugins bundled with the kernel (built by `build.rs`), installed at start-up.

use erp_kernel::Platform;
use erp_kernel::audit::Actor;
use erp_kernel::plugins::package::embedded_manifest;
use erp_kernel::plugins::{PluginError, lifecycle};

include!(concat!(env!("OUT_DIR"), "/bundled.rs"));

/// Installs each bundled plugin that is missing, and upgrades those that are older than the
/// bundled version. Returns what changed, as `name version` lines.
pub fn install_all(platform: &Platform) -> Result<Vec<String>, PluginError> {
    let mut changed = Vec::new();
    for (krate, bytes) in BUNDLED {
        let text = embedded_manifest(bytes)
            .map_err(PluginError::Internal)?
            .ok_or_else(|| PluginError::Internal(format!("bundled plugin {krate} has no manifest")))?;
        let manifest = erp_kernel::plugins::registry::parse_stored(&text)?;
        let name = manifest.plugin.name.clone();
        let installed = platform.db.read_blocking(|conn| platform.plugins.current_manifest(conn, &name))?;
        match installed {
            Some(m) if m.plugin.version >= manifest.plugin.version => continue,
            _ => {
                let done = lifecycle::install(platform, bytes, &Actor::system())?;
                changed.push(format!("{} {}", done.name, done.version));
            }
        }
    }
    Ok(changed)
}
