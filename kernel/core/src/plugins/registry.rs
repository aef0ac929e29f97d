//! Installed plugins as the runtime needs them: the current version of each plugin, what a
//! company enabled (configuration, granted capabilities), and compiled versions, loaded once
//! from their stored artifacts and cached by package hash.

use std::sync::Arc;

use diesel::prelude::*;
use serde_json::Value;

use super::host::{PluginPre, supported_wit};
use super::manifest::{self, Manifest};
use super::{PluginError, PluginHost};
use crate::clock;
use crate::storage::DbConn;
use crate::storage::schema::{company_plugins, plugin_artifacts, plugin_health, plugin_versions, plugins};

/// A compiled plugin version, ready to instantiate.
pub struct Loaded {
    /// Its manifest.
    pub manifest: Arc<Manifest>,
    /// SHA-256 of the package.
    pub sha256: String,
    pub(crate) pre: PluginPre,
}

impl std::fmt::Debug for Loaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loaded").field("plugin", &self.manifest.plugin.name).field("sha256", &self.sha256).finish()
    }
}

/// A plugin as enabled in one company.
#[derive(Debug)]
pub struct Active {
    /// The installed version.
    pub loaded: Arc<Loaded>,
    /// The company's configuration.
    pub config: Value,
    /// Collections (`plugin.collection`) the company's admin granted.
    pub grants: Vec<String>,
    /// Quarantined in this company (see `fair_use::quarantine`): its calls are refused.
    pub quarantined: bool,
}

/// Parses a stored manifest (it was validated at install).
pub fn parse_stored(text: &str) -> Result<Manifest, PluginError> {
    manifest::parse(text, &supported_wit())
        .map_err(|p| PluginError::Internal(format!("stored manifest no longer parses: {}", p[0])))
}

impl PluginHost {
    /// The compiled version with this package hash: from the cache, else from its stored
    /// artifact, else compiled from the stored package (and the artifact stored for next time).
    pub fn load(&self, conn: &mut DbConn, name: &str, version: &str) -> Result<Arc<Loaded>, PluginError> {
        let (sha256, manifest_text): (String, String) = plugin_versions::table
            .find((name, version))
            .select((plugin_versions::sha256, plugin_versions::manifest))
            .first(conn)
            .optional()?
            .ok_or_else(|| PluginError::NotFound(format!("plugin {name} {version}")))?;
        if let Some(hit) = self.cached(&sha256) {
            return Ok(hit);
        }
        let manifest = self.parsed(&sha256, &manifest_text)?;
        let artifact: Option<Vec<u8>> = plugin_artifacts::table
            .find((&sha256, self.engine_key()))
            .select(plugin_artifacts::artifact)
            .first(conn)
            .optional()?;
        let component = match artifact.map(|a| self.component_from_artifact(&a)) {
            Some(Ok(c)) => c,
            _ => {
                let package: Vec<u8> =
                    plugin_versions::table.find((name, version)).select(plugin_versions::package).first(conn)?;
                let artifact =
                    self.precompile(&package).map_err(|e| PluginError::Internal(format!("compiling {name}: {e}")))?;
                store_artifact(conn, &sha256, self.engine_key(), &artifact)?;
                self.component_from_artifact(&artifact).map_err(|e| PluginError::Internal(e.to_string()))?
            }
        };
        let pre = self.prepare(&component).map_err(|e| PluginError::Internal(format!("linking {name}: {e}")))?;
        let loaded = Arc::new(Loaded { manifest, sha256, pre });
        self.remember(loaded.clone());
        Ok(loaded)
    }

    /// A stored manifest, parsed once per package hash.
    fn parsed(&self, sha256: &str, text: &str) -> Result<Arc<Manifest>, PluginError> {
        if let Some(m) = self.cached_manifest(sha256) {
            return Ok(m);
        }
        let m = Arc::new(parse_stored(text)?);
        self.remember_manifest(sha256, m.clone());
        Ok(m)
    }

    /// The manifest of a plugin's current version, without compiling anything.
    pub fn current_manifest(&self, conn: &mut DbConn, name: &str) -> Result<Option<Arc<Manifest>>, PluginError> {
        let row: Option<(String, String)> = plugins::table
            .inner_join(
                plugin_versions::table
                    .on(plugin_versions::name.eq(plugins::name).and(plugin_versions::version.eq(plugins::version))),
            )
            .filter(plugins::name.eq(name))
            .select((plugin_versions::sha256, plugin_versions::manifest))
            .first(conn)
            .optional()?;
        row.map(|(sha, text)| self.parsed(&sha, &text)).transpose()
    }

    /// The current installed version of a plugin, if installed.
    pub fn current(&self, conn: &mut DbConn, name: &str) -> Result<Option<Arc<Loaded>>, PluginError> {
        let version: Option<String> = plugins::table.find(name).select(plugins::version).first(conn).optional()?;
        version.map(|v| self.load(conn, name, &v)).transpose()
    }

    /// The plugin as enabled in `company_id`; `NotFound` when it is not enabled there.
    pub fn active(&self, conn: &mut DbConn, company_id: &str, name: &str) -> Result<Active, PluginError> {
        let quarantined = diesel::dsl::exists(
            plugin_health::table
                .filter(plugin_health::company_id.eq(company_plugins::company_id))
                .filter(plugin_health::plugin.eq(company_plugins::plugin))
                .filter(plugin_health::quarantined_at.is_not_null()),
        );
        let row: Option<(String, String, String, bool)> = company_plugins::table
            .inner_join(plugins::table)
            .filter(company_plugins::company_id.eq(company_id))
            .filter(company_plugins::plugin.eq(name))
            .select((plugins::version, company_plugins::config, company_plugins::grants, quarantined))
            .first(conn)
            .optional()?;
        let (version, config, grants, quarantined) =
            row.ok_or_else(|| PluginError::NotFound(format!("plugin {name} is not enabled")))?;
        let loaded = self.load(conn, name, &version)?;
        let config = serde_json::from_str(&config).unwrap_or(Value::Object(Default::default()));
        let grants = serde_json::from_str(&grants).unwrap_or_default();
        Ok(Active { loaded, config, grants, quarantined })
    }

    /// Names of the plugins enabled in a company.
    pub fn enabled_names(&self, conn: &mut DbConn, company_id: &str) -> Result<Vec<String>, PluginError> {
        Ok(company_plugins::table
            .filter(company_plugins::company_id.eq(company_id))
            .order(company_plugins::plugin.asc())
            .select(company_plugins::plugin)
            .load(conn)?)
    }

    /// Manifests of the plugins enabled in a company.
    pub fn enabled_manifests(&self, conn: &mut DbConn, company_id: &str) -> Result<Vec<Arc<Manifest>>, PluginError> {
        let names = self.enabled_names(conn, company_id)?;
        let mut out = Vec::new();
        for name in names {
            if let Some(m) = self.current_manifest(conn, &name)? {
                out.push(m);
            }
        }
        Ok(out)
    }
}

/// Stores a compiled artifact unless one is already there.
pub fn store_artifact(conn: &mut DbConn, sha256: &str, engine: &str, artifact: &[u8]) -> Result<(), PluginError> {
    let exists: i64 = plugin_artifacts::table
        .filter(plugin_artifacts::sha256.eq(sha256))
        .filter(plugin_artifacts::engine.eq(engine))
        .count()
        .get_result(conn)?;
    if exists == 0 {
        diesel::insert_into(plugin_artifacts::table)
            .values((
                plugin_artifacts::sha256.eq(sha256),
                plugin_artifacts::engine.eq(engine),
                plugin_artifacts::artifact.eq(artifact),
                plugin_artifacts::created_at.eq(clock::now()),
            ))
            .execute(conn)?;
    }
    Ok(())
}
