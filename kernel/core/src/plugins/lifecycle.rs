//! Plugin lifecycle: install (and upgrade), uninstall, enable and disable per company, and
//! running commands and webhooks.

use std::collections::BTreeSet;
use std::sync::Arc;

use diesel::prelude::*;
use serde_json::{Value, json};

use super::host::{Answer, Call};
use super::manifest::{FieldSpec, Manifest};
use super::package::{self, Inspected};
use super::registry::{self, Active, parse_stored};
use super::{Kernel, PluginError};
use crate::access::CompanyScope;
use crate::access::permissions::{COMPANY_READ, PLUGINS_MANAGE};
use crate::audit::{self, Actor, Entry, Outcome};
use crate::clock;
use crate::events::NewEvent;
use crate::records::values::validate_object;
use crate::records::{self, Collection};
use crate::session::Session;
use crate::storage::DbConn;
use crate::storage::schema::{company_plugins, plugin_artifacts, plugin_versions, plugins};
use crate::validation::{FieldError, Invalid};

/// What an install did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    /// Plugin name.
    pub name: String,
    /// Installed version.
    pub version: String,
    /// The version it replaced, for an upgrade.
    pub upgraded_from: Option<String>,
    /// Companies whose data the plugin's `migrate` export upgraded.
    pub migrated_companies: usize,
}

/// An installed plugin as listed.
#[derive(Debug, Clone)]
pub struct InstalledPlugin {
    /// Current version's manifest.
    pub manifest: Arc<Manifest>,
    /// Every installed version.
    pub versions: Vec<String>,
    /// Number of companies that enabled it.
    pub enabled_in: i64,
}

/// A plugin as enabled in a company.
#[derive(Debug, Clone)]
pub struct Enabled {
    /// Current version's manifest.
    pub manifest: Arc<Manifest>,
    /// Granted collections.
    pub grants: Vec<String>,
    /// Configuration.
    pub config: Value,
    /// Since when (µs).
    pub enabled_at: i64,
    /// Whether a webhook secret is set.
    pub has_webhook_secret: bool,
}

fn version_key(v: &str) -> semver::Version {
    semver::Version::parse(v).unwrap_or_else(|_| semver::Version::new(0, 0, 0))
}

/// Differences between two versions' collections that existing data may not survive.
pub fn breaking_changes(old: &Manifest, new: &Manifest) -> Vec<String> {
    let mut out = Vec::new();
    for (cname, oc) in &old.collections {
        let Some(nc) = new.collections.get(cname) else {
            out.push(format!("collection {cname} was removed"));
            continue;
        };
        for (fname, of) in &oc.fields {
            let Some(nf) = nc.fields.get(fname) else {
                out.push(format!("field {cname}.{fname} was removed"));
                continue;
            };
            if of.kind != nf.kind {
                out.push(format!("field {cname}.{fname} changed type"));
            }
            if of.values.iter().any(|v| !nf.values.contains(v)) {
                out.push(format!("field {cname}.{fname} lost enum values"));
            }
            if nf.unique && !of.unique {
                out.push(format!("field {cname}.{fname} became unique"));
            }
            if nf.required && !of.required && nf.default.is_none() {
                out.push(format!("field {cname}.{fname} became required without a default"));
            }
            if nf.max_length.unwrap_or(u32::MAX) < of.max_length.unwrap_or(u32::MAX) {
                out.push(format!("field {cname}.{fname} got a shorter max_length"));
            }
            if nf.scale.unwrap_or(u32::MAX) < of.scale.unwrap_or(u32::MAX) {
                out.push(format!("field {cname}.{fname} got a smaller scale"));
            }
            if of.to != nf.to {
                out.push(format!("field {cname}.{fname} refers to another collection"));
            }
        }
        for (fname, nf) in &nc.fields {
            if !oc.fields.contains_key(fname) && nf.required && nf.default.is_none() {
                out.push(format!("new field {cname}.{fname} is required without a default"));
            }
        }
    }
    out
}

fn indexes_changed(old: &Manifest, new: &Manifest, coll: &str) -> bool {
    let keys = |m: &Manifest| -> BTreeSet<(String, bool, bool)> {
        m.collections
            .get(coll)
            .map(|c| c.fields.iter().map(|(n, f)| (n.clone(), f.is_indexed(), f.unique)).collect())
            .unwrap_or_default()
    };
    keys(old) != keys(new)
}

/// Installs a package, or upgrades the installed plugin to it. Platform operators only
/// (checked by the caller).
pub fn install(platform: &dyn Kernel, bytes: &[u8], actor: &Actor) -> Result<Installed, PluginError> {
    let inspected = package::inspect(platform.plugins(), bytes).map_err(PluginError::Invalid)?;
    let mut tx = platform.db().begin()?;
    let result = install_in(platform, tx.conn()?, &inspected, actor)?;
    match result.upgraded_from {
        Some(from) => {
            drop(tx);
            upgrade(platform, inspected, from, actor)
        }
        None => {
            tx.commit()?;
            Ok(result)
        }
    }
}

fn dependency_problems(conn: &mut DbConn, manifest: &Manifest) -> Result<Vec<String>, PluginError> {
    let mut problems = Vec::new();
    for (dep, req) in &manifest.dependencies {
        let installed: Option<String> = plugins::table.find(dep).select(plugins::version).first(conn).optional()?;
        match installed {
            None => problems.push(format!("depends on {dep} {req}, which is not installed")),
            Some(v) if !req.matches(&version_key(&v)) => {
                problems.push(format!("depends on {dep} {req}, but {dep} {v} is installed"))
            }
            Some(_) => {}
        }
    }
    Ok(problems)
}

/// First-time install (or detects an upgrade and leaves it to [`upgrade`]).
fn install_in(
    platform: &dyn Kernel,
    conn: &mut DbConn,
    p: &Inspected,
    actor: &Actor,
) -> Result<Installed, PluginError> {
    let name = p.manifest.plugin.name.clone();
    let version = p.manifest.plugin.version.to_string();
    let current: Option<String> = plugins::table.find(&name).select(plugins::version).first(conn).optional()?;
    let exists: i64 = plugin_versions::table.find((&name, &version)).count().get_result(conn)?;
    if exists > 0 {
        return Err(PluginError::Conflict(format!("plugin {name} {version} is already installed")));
    }
    let problems = dependency_problems(conn, &p.manifest)?;
    if !problems.is_empty() {
        return Err(PluginError::Invalid(problems));
    }
    if let Some(cur) = current {
        if version_key(&cur) >= p.manifest.plugin.version {
            return Err(PluginError::Conflict(format!("plugin {name} {cur} is installed; {version} is not newer")));
        }
        return Ok(Installed { name, version, upgraded_from: Some(cur), migrated_companies: 0 });
    }
    store_version(conn, platform, p, actor)?;
    let now = clock::now();
    diesel::insert_into(plugins::table)
        .values((
            plugins::name.eq(&name),
            plugins::version.eq(&version),
            plugins::installed_at.eq(now),
            plugins::updated_at.eq(now),
        ))
        .execute(conn)?;
    audit::record(
        conn,
        Entry {
            company_id: None,
            actor,
            action: "plugin.install",
            object_type: "plugin",
            object_id: Some(&name),
            outcome: Outcome::Success,
            detail: json!({ "version": version, "sha256": p.sha256 }),
        },
    )?;
    Ok(Installed { name, version, upgraded_from: None, migrated_companies: 0 })
}

fn store_version(conn: &mut DbConn, platform: &dyn Kernel, p: &Inspected, actor: &Actor) -> Result<(), PluginError> {
    diesel::insert_into(plugin_versions::table)
        .values((
            plugin_versions::name.eq(&p.manifest.plugin.name),
            plugin_versions::version.eq(p.manifest.plugin.version.to_string()),
            plugin_versions::sha256.eq(&p.sha256),
            plugin_versions::wit_version.eq(p.manifest.plugin.wit.to_string()),
            plugin_versions::manifest.eq(&p.manifest_text),
            plugin_versions::package.eq(&p.package),
            plugin_versions::templates.eq(serde_json::to_string(&p.templates).unwrap_or_else(|_| "{}".into())),
            plugin_versions::installed_at.eq(clock::now()),
            plugin_versions::installed_by.eq(actor.user_id.as_deref()),
        ))
        .execute(conn)?;
    registry::store_artifact(conn, &p.sha256, platform.plugins().engine_key(), &p.artifact)
}

/// Upgrades an installed plugin: additive collection changes apply by themselves (new
/// indexes are built), anything else needs the new version to declare `migrates_from` and
/// its `migrate` export runs for every company that enabled the plugin. All in one
/// transaction: either every company is upgraded or nothing changes. Calls already running
/// finish on the version they started with.
fn upgrade(platform: &dyn Kernel, p: Inspected, from: String, actor: &Actor) -> Result<Installed, PluginError> {
    let name = p.manifest.plugin.name.clone();
    let version = p.manifest.plugin.version.to_string();
    let mut tx = platform.db().begin()?;
    let conn = tx.conn()?;
    let old_text: String = plugin_versions::table.find((&name, &from)).select(plugin_versions::manifest).first(conn)?;
    let old = parse_stored(&old_text)?;
    let breaking = breaking_changes(&old, &p.manifest);
    let migrates = p.manifest.plugin.migrates_from.as_ref().is_some_and(|r| r.matches(&version_key(&from)));
    if !breaking.is_empty() && !migrates {
        return Err(PluginError::Invalid(vec![format!(
            "upgrade from {from} is not additive ({}); declare migrates_from = \"{from}\" (or a range) and implement the migrate export",
            breaking.join("; ")
        )]));
    }
    // Plugins that depend on this one must accept the new version.
    let dependents: Vec<(String, String)> = plugins::table.select((plugins::name, plugins::version)).load(conn)?;
    for (dep_name, dep_version) in dependents {
        if dep_name == name {
            continue;
        }
        let m = platform.plugins().load(conn, &dep_name, &dep_version)?;
        if let Some(req) = m.manifest.dependencies.get(&name)
            && !req.matches(&p.manifest.plugin.version)
        {
            return Err(PluginError::Conflict(format!(
                "{dep_name} {dep_version} needs {name} {req}; {version} does not match"
            )));
        }
    }
    store_version(conn, platform, &p, actor)?;
    diesel::update(plugins::table.find(&name))
        .set((plugins::version.eq(&version), plugins::updated_at.eq(clock::now())))
        .execute(conn)?;
    let loaded = platform.plugins().load(conn, &name, &version)?;
    let revoke = widened_capabilities(&old, &p.manifest);
    if !revoke.is_empty() {
        let rows: Vec<(String, String)> = company_plugins::table
            .filter(company_plugins::plugin.eq(&name))
            .select((company_plugins::company_id, company_plugins::grants))
            .load(conn)?;
        for (company, grants) in rows {
            let mut list: Vec<String> = serde_json::from_str(&grants).unwrap_or_default();
            let before = list.len();
            list.retain(|g| !revoke.contains(g));
            if list.len() != before {
                let text = serde_json::to_string(&list).map_err(|e| PluginError::Internal(e.to_string()))?;
                diesel::update(company_plugins::table.find((&company, &name)))
                    .set(company_plugins::grants.eq(text))
                    .execute(conn)?;
            }
        }
    }
    audit::record(
        conn,
        Entry {
            company_id: None,
            actor,
            action: "plugin.upgrade",
            object_type: "plugin",
            object_id: Some(&name),
            outcome: Outcome::Success,
            detail: json!({ "from": from, "to": version, "sha256": p.sha256, "revoked_grants": revoke }),
        },
    )?;
    let companies: Vec<String> = company_plugins::table
        .filter(company_plugins::plugin.eq(&name))
        .select(company_plugins::company_id)
        .load(conn)?;
    let mut migrated = 0;
    if migrates {
        // One session per company, all inside this one transaction.
        let mut current = Some(tx);
        for company in &companies {
            let Some(t) = current.take() else { break };
            let mut session = Session::from_tx(t, company, None);
            // An upgrade is the administrator's maintenance, not a tenant's request.
            session.bounded_writes = false;
            let active = Arc::new(platform.plugins().active(session.reader()?, company, &name)?);
            platform.plugins().invoke(platform, &mut session, &active, None, Call::Migrate { from: &from })?;
            current = Some(session.into_tx()?);
            migrated += 1;
        }
        tx = current.ok_or_else(|| PluginError::Internal("transaction lost during migration".into()))?;
    }
    // Indexes last: the migration may first make the data fit them (say, a field that became unique).
    for cname in p.manifest.collections.keys() {
        if indexes_changed(&old, &p.manifest, cname)
            && let Some(coll) = Collection::new(loaded.manifest.clone(), cname)
        {
            records::store::reindex(tx.conn()?, &coll).map_err(|e| PluginError::Internal(e.to_string()))?;
        }
    }
    tx.commit()?;
    Ok(Installed { name, version, upgraded_from: Some(from), migrated_companies: migrated })
}

/// Installed plugins, by name.
pub fn list(platform: &dyn Kernel, conn: &mut DbConn) -> Result<Vec<InstalledPlugin>, PluginError> {
    let names: Vec<String> = plugins::table.order(plugins::name.asc()).select(plugins::name).load(conn)?;
    let mut out = Vec::new();
    for name in names {
        if let Some(p) = describe(platform, conn, &name)? {
            out.push(p);
        }
    }
    Ok(out)
}

/// One installed plugin.
pub fn describe(platform: &dyn Kernel, conn: &mut DbConn, name: &str) -> Result<Option<InstalledPlugin>, PluginError> {
    let Some(loaded) = platform.plugins().current(conn, name)? else { return Ok(None) };
    let mut versions: Vec<String> =
        plugin_versions::table.filter(plugin_versions::name.eq(name)).select(plugin_versions::version).load(conn)?;
    versions.sort_by_key(|v| version_key(v));
    let enabled_in: i64 = company_plugins::table.filter(company_plugins::plugin.eq(name)).count().get_result(conn)?;
    Ok(Some(InstalledPlugin { manifest: loaded.manifest.clone(), versions, enabled_in }))
}

/// Removes an installed plugin (code only: companies' data stays for a reinstall). Refused
/// while any company has it enabled or another plugin depends on it.
pub fn uninstall(platform: &dyn Kernel, name: &str, actor: &Actor) -> Result<(), PluginError> {
    platform.db().write_blocking(|conn| {
        let Some(loaded) = platform.plugins().current(conn, name)? else {
            return Err(PluginError::NotFound(format!("plugin {name}")));
        };
        let enabled: i64 = company_plugins::table.filter(company_plugins::plugin.eq(name)).count().get_result(conn)?;
        if enabled > 0 {
            return Err(PluginError::Conflict(format!(
                "{name} is enabled in {enabled} compan(y/ies); disable it there first"
            )));
        }
        let others: Vec<(String, String)> = plugins::table.select((plugins::name, plugins::version)).load(conn)?;
        for (other, v) in others {
            if other != name && platform.plugins().load(conn, &other, &v)?.manifest.dependencies.contains_key(name) {
                return Err(PluginError::Conflict(format!("{other} depends on {name}; uninstall it first")));
            }
        }
        let shas: Vec<String> =
            plugin_versions::table.filter(plugin_versions::name.eq(name)).select(plugin_versions::sha256).load(conn)?;
        diesel::delete(plugin_artifacts::table.filter(plugin_artifacts::sha256.eq_any(&shas))).execute(conn)?;
        diesel::delete(plugin_versions::table.filter(plugin_versions::name.eq(name))).execute(conn)?;
        diesel::delete(plugins::table.find(name)).execute(conn)?;
        audit::record(
            conn,
            Entry {
                company_id: None,
                actor,
                action: "plugin.uninstall",
                object_type: "plugin",
                object_id: Some(name),
                outcome: Outcome::Success,
                detail: json!({ "version": loaded.manifest.plugin.version.to_string() }),
            },
        )?;
        Ok(())
    })
}

/// What an admin sends to enable (or reconfigure) a plugin for a company.
#[derive(Debug, Clone, Default)]
pub struct EnableRequest {
    /// Collections (`plugin.collection`) of declared capabilities to grant.
    pub grants: Vec<String>,
    /// Configuration matching the manifest's `[config]`.
    pub config: Value,
    /// Secret that inbound webhooks must present (at least 16 characters).
    pub webhook_secret: Option<String>,
}

fn validate_config(fields: &std::collections::BTreeMap<String, FieldSpec>, config: &Value) -> Result<Value, Invalid> {
    let empty = serde_json::Map::new();
    let obj = match config {
        Value::Null => &empty,
        Value::Object(m) => m,
        _ => return Err(Invalid::one("config", "must be a JSON object")),
    };
    let checked = validate_object(fields, obj).map_err(|i| {
        Invalid(i.0.into_iter().map(|f| FieldError::new(format!("config.{}", f.field), f.message)).collect())
    })?;
    Ok(Value::Object(checked))
}

fn forbidden(e: crate::access::AccessError, why: &str) -> PluginError {
    match e {
        crate::access::AccessError::Forbidden(p) => PluginError::Forbidden(format!("{p} ({why})")),
        other => PluginError::Internal(other.to_string()),
    }
}

/// Collections whose capability a new version widens (more access, or sensitive fields) or
/// drops: their grants must be given again.
fn widened_capabilities(old: &Manifest, new: &Manifest) -> Vec<String> {
    let hosts = new.declared_hosts();
    old.capabilities
        .iter()
        .filter(|o| match new.capabilities.iter().find(|n| n.collection == o.collection) {
            None => true,
            Some(n) => n.access > o.access || (n.sensitive && !o.sensitive),
        })
        .map(|c| c.collection.clone())
        .chain(old.declared_hosts().into_iter().filter(|h| !hosts.contains(h)))
        .chain((old.mail.is_some() && new.mail.is_none()).then(|| erp_manifest::MAIL_GRANT.to_string()))
        .collect()
}

/// Enables (or reconfigures) a plugin for the scope's company.
pub fn enable(
    platform: &dyn Kernel,
    session: &mut Session,
    scope: &CompanyScope,
    name: &str,
    req: EnableRequest,
) -> Result<Enabled, PluginError> {
    scope.require(PLUGINS_MANAGE).map_err(|_| PluginError::Forbidden(PLUGINS_MANAGE.into()))?;
    let company = session.company_id.clone();
    let conn = session.conn()?;
    let loaded =
        platform.plugins().current(conn, name)?.ok_or_else(|| PluginError::NotFound(format!("plugin {name}")))?;
    let m = &loaded.manifest;
    let mut problems = Vec::new();
    for (dep, range) in &m.dependencies {
        let enabled: i64 = company_plugins::table
            .filter(company_plugins::company_id.eq(&company))
            .filter(company_plugins::plugin.eq(dep))
            .count()
            .get_result(conn)?;
        if enabled == 0 {
            problems.push(FieldError::new(
                "dependencies",
                format!("{name} needs {dep} {range}: enable {dep} in this company first"),
            ));
        }
    }
    let declared_hosts = m.declared_hosts();
    let mut grants = Vec::new();
    for g in &req.grants {
        // A host: granted as written in the manifest's form, if the plugin declares it.
        if erp_manifest::hosts::is_host_grant(g) {
            match erp_manifest::hosts::normalize(g) {
                Ok(h) if declared_hosts.contains(&h) => grants.push(h),
                Ok(h) => problems.push(FieldError::new("grants", format!("{name} does not declare the host {h}"))),
                Err(e) => problems.push(FieldError::new("grants", e)),
            }
            continue;
        }
        if g == erp_manifest::MAIL_GRANT {
            if m.mail.is_some() {
                grants.push(g.clone());
            } else {
                problems.push(FieldError::new("grants", format!("{name} does not declare that it sends e-mail")));
            }
            continue;
        }
        grants.push(g.clone());
        let Some(cap) = m.capabilities.iter().find(|c| &c.collection == g) else {
            problems.push(FieldError::new("grants", format!("{name} does not request access to {g}")));
            continue;
        };
        // Nobody hands a plugin more than they hold themselves.
        let (owner, coll) = g.split_once('.').unwrap_or((g.as_str(), ""));
        if let Some(target) = platform.plugins().current_manifest(conn, owner)? {
            let mut needed = vec![target.read_permission(coll)];
            if cap.access == crate::plugins::manifest::Access::Write {
                needed.push(target.write_permission(coll));
            }
            if cap.sensitive {
                needed.push(target.sensitive_permission(coll));
            }
            scope.require_covers(&needed).map_err(|e| forbidden(e, &format!("to grant {g} to {name}")))?;
        }
    }
    // Enabling gives members the plugin's default permissions: only for those who hold them.
    scope
        .require_covers(&m.default_permissions(crate::access::roles::MEMBER))
        .map_err(|e| forbidden(e, &format!("to give members {name}'s default permissions")))?;
    if let Some(secret) = &req.webhook_secret
        && !(16..=256).contains(&secret.chars().count())
    {
        problems.push(FieldError::new("webhook_secret", "must be 16 to 256 characters"));
    }
    let config = match validate_config(&m.config, &req.config) {
        Ok(c) => c,
        Err(mut i) => {
            problems.append(&mut i.0);
            Value::Null
        }
    };
    if !problems.is_empty() {
        return Err(PluginError::InvalidInput(Invalid(problems)));
    }
    grants.sort();
    grants.dedup();
    let grants_json = serde_json::to_string(&grants).map_err(|e| PluginError::Internal(e.to_string()))?;
    let secret_hash = req.webhook_secret.as_deref().map(crate::identity::tokens::hash_secret);
    let existing: Option<(i64, Option<String>)> = company_plugins::table
        .find((&company, name))
        .select((company_plugins::enabled_at, company_plugins::webhook_secret_hash))
        .first(conn)
        .optional()?;
    let now = clock::now();
    let enabled_at = match &existing {
        Some((at, old_secret)) => {
            diesel::update(company_plugins::table.find((&company, name)))
                .set((
                    company_plugins::config.eq(config.to_string()),
                    company_plugins::grants.eq(&grants_json),
                    company_plugins::webhook_secret_hash.eq(secret_hash.clone().or_else(|| old_secret.clone())),
                ))
                .execute(conn)?;
            *at
        }
        None => {
            diesel::insert_into(company_plugins::table)
                .values((
                    company_plugins::company_id.eq(&company),
                    company_plugins::plugin.eq(name),
                    company_plugins::config.eq(config.to_string()),
                    company_plugins::grants.eq(&grants_json),
                    company_plugins::webhook_secret_hash.eq(&secret_hash),
                    company_plugins::enabled_at.eq(now),
                    company_plugins::enabled_by.eq(scope.user()),
                ))
                .execute(conn)?;
            now
        }
    };
    let has_secret = secret_hash.is_some() || existing.as_ref().is_some_and(|(_, s)| s.is_some());
    let action = if existing.is_some() { "plugin.configure" } else { "plugin.enable" };
    let actor = Actor { user_id: scope.user().map(str::to_string), request_id: session.request_id.clone() };
    let conn = session.conn()?;
    audit::record(
        conn,
        Entry {
            company_id: Some(&company),
            actor: &actor,
            action,
            object_type: "plugin",
            object_id: Some(name),
            outcome: Outcome::Success,
            detail: json!({ "version": m.plugin.version.to_string(), "grants": grants }),
        },
    )?;
    if existing.is_none() {
        crate::fair_use::quota::open(session.conn()?, &company, name)?;
        let payload = json!({ "plugin": name, "version": m.plugin.version.to_string() });
        platform
            .emit(session, NewEvent { name: "kernel.plugin.enabled", source: "kernel", payload, collection: None })?;
    }
    Ok(Enabled { manifest: loaded.manifest.clone(), grants, config, enabled_at, has_webhook_secret: has_secret })
}

/// Disables a plugin for the scope's company. Its data stays; enabling again brings it back.
pub fn disable(
    platform: &dyn Kernel,
    session: &mut Session,
    scope: &CompanyScope,
    name: &str,
) -> Result<(), PluginError> {
    scope.require(PLUGINS_MANAGE).map_err(|_| PluginError::Forbidden(PLUGINS_MANAGE.into()))?;
    let company = session.company_id.clone();
    let conn = session.conn()?;
    let enabled: i64 = company_plugins::table.find((&company, name)).count().get_result(conn)?;
    if enabled == 0 {
        return Err(PluginError::NotFound(format!("plugin {name} is not enabled")));
    }
    for other in platform.plugins().enabled_manifests(conn, &company)? {
        if other.plugin.name != name && other.dependencies.contains_key(name) {
            return Err(PluginError::Conflict(format!("{} depends on {name}; disable it first", other.plugin.name)));
        }
    }
    diesel::delete(company_plugins::table.find((&company, name))).execute(conn)?;
    let actor = Actor { user_id: scope.user().map(str::to_string), request_id: session.request_id.clone() };
    let conn = session.conn()?;
    audit::record(
        conn,
        Entry {
            company_id: Some(&company),
            actor: &actor,
            action: "plugin.disable",
            object_type: "plugin",
            object_id: Some(name),
            outcome: Outcome::Success,
            detail: json!({}),
        },
    )?;
    let payload = json!({ "plugin": name });
    platform.emit(session, NewEvent { name: "kernel.plugin.disabled", source: "kernel", payload, collection: None })?;
    Ok(())
}

/// Plugins enabled in the scope's company.
pub fn list_enabled(
    platform: &dyn Kernel,
    conn: &mut DbConn,
    scope: &CompanyScope,
) -> Result<Vec<Enabled>, PluginError> {
    scope.require(COMPANY_READ).map_err(|_| PluginError::Forbidden(COMPANY_READ.into()))?;
    let rows: Vec<(String, String, String, i64, Option<String>)> = company_plugins::table
        .filter(company_plugins::company_id.eq(&scope.company_id))
        .order(company_plugins::plugin.asc())
        .select((
            company_plugins::plugin,
            company_plugins::config,
            company_plugins::grants,
            company_plugins::enabled_at,
            company_plugins::webhook_secret_hash,
        ))
        .load(conn)?;
    let mut out = Vec::new();
    // Configuration may hold credentials: only those who manage plugins see it.
    let manager = scope.can(PLUGINS_MANAGE);
    for (name, config, grants, enabled_at, secret) in rows {
        let Some(manifest) = platform.plugins().current_manifest(conn, &name)? else { continue };
        out.push(Enabled {
            manifest,
            grants: serde_json::from_str(&grants).unwrap_or_default(),
            config: if manager { serde_json::from_str(&config).unwrap_or(Value::Null) } else { Value::Null },
            enabled_at,
            has_webhook_secret: secret.is_some(),
        });
    }
    Ok(out)
}

/// True when `command` only reads: a report, or the timeline a view names. Callers that run
/// it on behalf of a link (the web UI opens reports by GET) discard whatever it wrote.
pub fn reads_only(manifest: &Manifest, command: &str) -> bool {
    manifest.command(command).is_some_and(|c| c.report)
        || manifest.views.values().any(|v| v.timeline_command.as_deref() == Some(command))
}

/// Runs a plugin command for a user, in the session's transaction.
pub fn run_command(
    platform: &dyn Kernel,
    session: &mut Session,
    scope: &CompanyScope,
    plugin: &str,
    command: &str,
    input: Value,
) -> Result<Value, PluginError> {
    let company = session.company_id.clone();
    let active = Arc::new(platform.plugins().active(session.reader()?, &company, plugin)?);
    let spec = active
        .loaded
        .manifest
        .command(command)
        .ok_or_else(|| PluginError::NotFound(format!("command {command} of plugin {plugin}")))?
        .clone();
    if !scope.can(&spec.permission) {
        return Err(PluginError::Forbidden(spec.permission));
    }
    let input = if spec.input.is_empty() {
        input
    } else {
        let Value::Object(obj) = &input else {
            return Err(PluginError::InvalidInput(Invalid::one("input", "must be a JSON object")));
        };
        Value::Object(validate_object(&spec.input, obj)?)
    };
    let text = input.to_string();
    match platform.plugins().invoke(
        platform,
        session,
        &active,
        Some(scope.clone()),
        Call::Command { name: command, input: &text },
    )? {
        Answer::Json(out) => serde_json::from_str(&out).map_err(|e| PluginError::Failed {
            plugin: plugin.to_string(),
            reason: format!("command {command} answered invalid JSON: {e}"),
            limit: None,
        }),
        other => Err(PluginError::Internal(format!("unexpected answer {other:?}"))),
    }
}

/// Result of an inbound webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookAnswer {
    /// HTTP status.
    pub status: u16,
    /// Content type.
    pub content_type: String,
    /// Body.
    pub body: Vec<u8>,
}

/// Checks the company's webhook secret for a plugin; `NotFound` when the plugin is not enabled
/// or the webhook is not declared, `Forbidden` for a wrong or missing secret.
pub fn check_webhook(
    platform: &dyn Kernel,
    conn: &mut DbConn,
    company_id: &str,
    plugin: &str,
    hook: &str,
    secret: Option<&str>,
) -> Result<Arc<Active>, PluginError> {
    let active = platform.plugins().active(conn, company_id, plugin)?;
    if !active.loaded.manifest.webhooks.iter().any(|w| w.name == hook) {
        return Err(PluginError::NotFound(format!("webhook {hook} of plugin {plugin}")));
    }
    let stored: Option<String> =
        company_plugins::table.find((company_id, plugin)).select(company_plugins::webhook_secret_hash).first(conn)?;
    let given = secret.map(crate::identity::tokens::hash_secret);
    match (stored, given) {
        (Some(s), Some(g)) if constant_time_eq(s.as_bytes(), g.as_bytes()) => Ok(Arc::new(active)),
        (None, _) => Err(PluginError::Forbidden("a webhook secret (none is set for this company)".into())),
        _ => Err(PluginError::Forbidden("a valid webhook secret".into())),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Delivers an inbound webhook to the plugin, in the session's transaction.
pub fn run_webhook(
    platform: &dyn Kernel,
    session: &mut Session,
    active: &Arc<Active>,
    hook: &str,
    method: &str,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
) -> Result<WebhookAnswer, PluginError> {
    match platform.plugins().invoke(
        platform,
        session,
        active,
        None,
        Call::Webhook { name: hook, method, headers, body },
    )? {
        Answer::Webhook { status, content_type, body } => Ok(WebhookAnswer { status, content_type, body }),
        other => Err(PluginError::Internal(format!("unexpected answer {other:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::manifest::{Access, CapabilitySpec, parse};

    fn with_caps(caps: &[(&str, Access, bool)]) -> Manifest {
        let mut m =
            parse("[plugin]\nname = \"x\"\nversion = \"1.0.0\"\nwit = \"0.1.1\"\n", &[semver::Version::new(0, 1, 1)])
                .expect("manifest");
        m.capabilities = caps
            .iter()
            .map(|(c, a, s)| CapabilitySpec {
                collection: c.to_string(),
                access: *a,
                sensitive: *s,
                reason: String::new(),
            })
            .collect();
        m
    }

    #[test]
    fn widened_or_dropped_capabilities_lose_their_grants() {
        let old = with_caps(&[
            ("a.x", Access::Read, false),
            ("a.y", Access::Read, false),
            ("a.z", Access::Write, true),
            ("a.w", Access::Read, false),
        ]);
        let new = with_caps(&[
            ("a.x", Access::Read, false),
            ("a.y", Access::Write, false),
            ("a.z", Access::Read, false),
            ("a.v", Access::Read, true),
        ]);
        assert_eq!(widened_capabilities(&old, &new), vec!["a.y".to_string(), "a.w".to_string()]);
        let sensitive = with_caps(&[("a.x", Access::Read, true)]);
        assert_eq!(widened_capabilities(&old, &sensitive).first().map(String::as_str), Some("a.x"));
    }
}
