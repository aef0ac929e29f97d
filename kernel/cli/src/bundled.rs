//! Plugins bundled with the kernel (built by `build.rs`), installed at start-up.

use erp_kernel::Platform;
use erp_kernel::audit::Actor;
use erp_kernel::plugins::package::embedded_manifest;
use erp_kernel::plugins::{PluginError, lifecycle};

include!(concat!(env!("OUT_DIR"), "/bundled.rs"));

/// Installs each bundled plugin that is missing, and upgrades those that are older than the
/// bundled version. Returns what changed, as `name version` lines.
pub fn install_all(platform: &Platform) -> Result<Vec<String>, PluginError> {
    let mut due: Vec<(String, semver::Version, &[u8])> = Vec::new();
    for (krate, bytes) in BUNDLED {
        let text = embedded_manifest(bytes)
            .map_err(PluginError::Internal)?
            .ok_or_else(|| PluginError::Internal(format!("bundled plugin {krate} has no manifest")))?;
        let manifest = erp_kernel::plugins::registry::parse_stored(&text)?;
        let name = manifest.plugin.name.clone();
        let installed = platform.db.read_blocking(|conn| platform.plugins.current_manifest(conn, &name))?;
        if !matches!(installed, Some(m) if m.plugin.version >= manifest.plugin.version) {
            due.push((name, manifest.plugin.version.clone(), bytes));
        }
    }
    // Installs go in order (a plugin may need one before it); their compiling need not.
    if due.len() > 1 {
        let packages: Vec<&[u8]> = due.iter().map(|(_, _, bytes)| *bytes).collect();
        platform.plugins.compile_ahead(&packages);
    }
    let mut changed = Vec::new();
    let result = due.iter().try_for_each(|(name, version, bytes)| {
        match lifecycle::install(platform, bytes, &Actor::system()) {
            Ok(done) => changed.push(format!("{} {}", done.name, done.version)),
            // Another node starting on the same database installed it first (a conflict, or
            // a unique key when both got past the check).
            Err(_) if installed_at_least(platform, name, version)? => {}
            Err(e) => return Err(e),
        }
        Ok::<_, PluginError>(())
    });
    platform.plugins.forget_ahead();
    result.map(|()| changed)
}

/// True when `name` is installed at `version` or newer.
fn installed_at_least(platform: &Platform, name: &str, version: &semver::Version) -> Result<bool, PluginError> {
    let current = platform.db.read_blocking(|conn| platform.plugins.current_manifest(conn, name))?;
    Ok(current.is_some_and(|m| m.plugin.version >= *version))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What people read of every bundled plugin is in English and Russian: collections,
    /// fields, enum values, commands, inputs, report columns and settings.
    #[test]
    fn every_bundled_label_is_in_english_and_russian() {
        let mut missing = Vec::new();
        for (krate, bytes) in BUNDLED {
            let text = embedded_manifest(bytes).unwrap().unwrap();
            let manifest = erp_kernel::plugins::registry::parse_stored(&text).unwrap();
            for (path, label) in manifest.labels() {
                if !label.is_some_and(|l| l.covers(&["en", "ru"])) {
                    missing.push(format!("{krate}: {path}"));
                }
            }
            for c in manifest.commands.iter().filter(|c| c.report) {
                assert!(!c.columns.is_empty(), "{krate}: report {} declares the columns it shows", c.name);
            }
        }
        assert!(missing.is_empty(), "labels without English and Russian:\n{}", missing.join("\n"));
    }
}
