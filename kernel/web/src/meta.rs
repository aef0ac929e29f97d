//! What the current user may see in the current company: enabled plugins with their manifests,
//! and the collections, commands and reports their permissions open.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use serde_json::{Value, json};

use super::client::{Api, Failure};
use erp_kernel::access::permissions;
use erp_kernel::plugins::manifest::{CollectionSpec, CommandSpec, FieldSpec, FieldType, Label, Manifest};

/// Manifests by plugin name and version; a version's manifest never changes.
#[derive(Default)]
pub(super) struct ManifestCache(Mutex<HashMap<(String, String), Arc<Manifest>>>);

impl ManifestCache {
    async fn get(&self, api: &Api, name: &str, version: &str) -> Result<Arc<Manifest>, Failure> {
        let key = (name.to_string(), version.to_string());
        if let Some(m) = self.0.lock().get(&key) {
            return Ok(m.clone());
        }
        let described = api.get(&format!("/api/v1/plugins/{name}")).await?;
        let manifest: Manifest = serde_json::from_value(described["manifest"].clone())
            .map_err(|e| Failure::internal(format!("unreadable manifest of {name}: {e}")))?;
        let manifest = Arc::new(manifest);
        if manifest.plugin.version.to_string() == version {
            self.0.lock().insert(key, manifest.clone());
        }
        Ok(manifest)
    }
}

/// The current company as its member sees it.
pub(super) struct Company {
    pub id: String,
    pub name: String,
    pub role: String,
    pub permissions: Vec<String>,
    /// The company's time zone (IANA name).
    pub time_zone: String,
    /// Enabled plugins, in name order.
    pub plugins: Vec<Arc<Manifest>>,
    /// The visitor's unread notifications here (the bell's count).
    pub unread: i64,
}

impl Company {
    pub(super) async fn load(api: &Api, cache: &ManifestCache, id: &str) -> Result<Company, Failure> {
        let company = api.get(&format!("/api/v1/companies/{id}")).await?;
        let enabled = api.get(&format!("/api/v1/companies/{id}/plugins")).await?;
        let inbox = api.get(&format!("/api/v1/companies/{id}/notifications?unread=true&limit=1")).await?;
        let mut plugins = Vec::new();
        for p in enabled["items"].as_array().into_iter().flatten() {
            let (name, version) = (p["name"].as_str().unwrap_or_default(), p["version"].as_str().unwrap_or_default());
            plugins.push(cache.get(api, name, version).await?);
        }
        plugins.sort_by(|a, b| a.plugin.name.cmp(&b.plugin.name));
        let strings = |v: &Value| v.as_str().unwrap_or_default().to_string();
        Ok(Company {
            id: strings(&company["id"]),
            name: strings(&company["name"]),
            role: strings(&company["role"]),
            permissions: company["permissions"].as_array().map(|a| a.iter().map(strings).collect()).unwrap_or_default(),
            time_zone: strings(&company["time_zone"]),
            plugins,
            unread: inbox["unread"].as_i64().unwrap_or(0),
        })
    }

    /// True when the member holds `permission`, exactly as the kernel decides.
    pub(super) fn can(&self, permission: &str) -> bool {
        self.permissions.iter().any(|g| permissions::grants(g, permission))
    }

    pub(super) fn plugin(&self, name: &str) -> Option<&Arc<Manifest>> {
        self.plugins.iter().find(|m| m.plugin.name == name)
    }

    pub(super) fn may_read(&self, m: &Manifest, collection: &str) -> bool {
        self.can(&m.read_permission(collection))
    }

    pub(super) fn may_write(&self, m: &Manifest, collection: &str) -> bool {
        m.collections.get(collection).is_some_and(|c| !c.read_only) && self.can(&m.write_permission(collection))
    }

    pub(super) fn may_see_sensitive(&self, m: &Manifest, collection: &str) -> bool {
        self.can(&m.sensitive_permission(collection))
    }

    /// The navigation: per plugin, the collections and reports this member may open.
    pub(super) fn nav(&self, lang: &str) -> Value {
        let items: Vec<Value> = self
            .plugins
            .iter()
            .filter_map(|m| {
                let name = &m.plugin.name;
                let shown = |c: &String| self.may_read(m, c) && m.views.get(c).and_then(|v| v.menu) != Some(false);
                let entry = |c: &String| {
                    m.collections.get(c).map(|spec| json!({ "name": c, "label": plural_label(spec, c, lang) }))
                };
                // The menu's main entries in the plugin's order; the rest are its settings.
                let (collections, mut settings): (Vec<Value>, Vec<Value>) = if m.menu.is_empty() {
                    (m.collections.keys().filter(|c| shown(c)).filter_map(entry).collect(), Vec::new())
                } else {
                    (
                        m.menu.iter().filter(|c| shown(c)).filter_map(entry).collect(),
                        m.collections.keys().filter(|c| shown(c) && !m.menu.contains(c)).filter_map(entry).collect(),
                    )
                };
                settings.sort_by_key(|e| e["label"].as_str().unwrap_or_default().to_lowercase());
                let reports: Vec<Value> = m
                    .commands
                    .iter()
                    .filter(|c| c.report && self.can(&c.permission))
                    .map(|c| json!({ "name": c.name, "label": command_label(c, lang) }))
                    .collect();
                let commands = m.commands.iter().any(|c| !c.report && self.can(&c.permission));
                // The chat and the drive, when this plugin provides them, come first.
                use super::collab::{Surface, provides};
                let pages: Vec<Value> = [(Surface::Chat, "/chat", "chats", "chat"), (Surface::Drive, "/drive", "drive", "drive")]
                    .into_iter()
                    .filter(|(surface, ..)| provides(self, m, *surface))
                    .map(|(_, url, label, page)| json!({ "url": url, "label": super::i18n::text(lang, label), "name": page }))
                    .collect();
                (!collections.is_empty() || !settings.is_empty() || !reports.is_empty() || commands).then(|| {
                    json!({ "name": name, "label": plugin_label(m, lang), "collections": collections,
                            "settings": settings, "reports": reports, "commands": commands, "pages": pages })
                })
            })
            .collect();
        Value::Array(items)
    }
}

pub(super) fn label_or(label: &Option<Label>, fallback: &str, lang: &str) -> String {
    label.as_ref().map(|l| l.text(lang).to_string()).filter(|s| !s.is_empty()).unwrap_or_else(|| humanize(fallback))
}

/// `expected_close` as `Expected close`.
pub(super) fn humanize(name: &str) -> String {
    let spaced = name.replace(['_', '-'], " ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

pub(super) fn plugin_label(m: &Manifest, lang: &str) -> String {
    label_or(&m.plugin.label, &m.plugin.name, lang)
}

pub(super) fn collection_label(spec: &CollectionSpec, name: &str, lang: &str) -> String {
    label_or(&spec.label, name, lang)
}

/// The name of a collection's list: its plural label, else its label.
pub(super) fn plural_label(spec: &CollectionSpec, name: &str, lang: &str) -> String {
    match &spec.plural {
        Some(p) => p.text(lang).to_string(),
        None => collection_label(spec, name, lang),
    }
}

pub(super) fn field_label(spec: &FieldSpec, name: &str, lang: &str) -> String {
    label_or(&spec.label, name, lang)
}

/// What the plugin does, in the person's language; the developer's English description where
/// the manifest gives no summary (and nothing in other languages).
pub(super) fn plugin_summary(m: &Manifest, lang: &str) -> String {
    match &m.plugin.summary {
        Some(s) => s.text(lang).to_string(),
        None if lang == "en" => m.plugin.description.clone(),
        None => String::new(),
    }
}

pub(super) fn command_label(c: &CommandSpec, lang: &str) -> String {
    label_or(&c.label, &c.name, lang)
}

/// The field that names a record: the view's title field, else `name` or `title`, else the
/// first text field.
pub(super) fn title_field(m: &Manifest, collection: &str) -> Option<String> {
    let spec = m.collections.get(collection)?;
    m.views
        .get(collection)
        .and_then(|v| v.title_field.clone())
        .or_else(|| {
            ["name", "title", "code", "number"].iter().find(|f| spec.fields.contains_key(**f)).map(|f| f.to_string())
        })
        .or_else(|| spec.fields.iter().find(|(_, f)| f.kind == FieldType::Text && !f.sensitive).map(|(n, _)| n.clone()))
}

/// Fields in the order a form shows them: the title, then the list columns, then the rest.
pub(super) fn field_order(m: &Manifest, collection: &str) -> Vec<String> {
    let mut order: Vec<String> = m.views.get(collection).map(|v| v.form_fields.clone()).unwrap_or_default();
    order.extend(title_field(m, collection));
    order.extend(default_columns(m, collection));
    // Then the other single values, and the tables and lists last: they are the widest.
    if let Some(spec) = m.collections.get(collection) {
        let (lists, single): (Vec<_>, Vec<_>) = spec.fields.iter().partition(|(_, f)| f.kind == FieldType::Json);
        order.extend(single.into_iter().chain(lists).map(|(n, _)| n.clone()));
    }
    let mut seen = std::collections::HashSet::new();
    order.retain(|n| seen.insert(n.clone()));
    order
}

/// The list columns: the view's, else the first few plain fields.
pub(super) fn default_columns(m: &Manifest, collection: &str) -> Vec<String> {
    let Some(spec) = m.collections.get(collection) else { return Vec::new() };
    match m.views.get(collection) {
        Some(v) if !v.list_columns.is_empty() => v.list_columns.clone(),
        _ => spec.fields.iter().filter(|(_, f)| f.kind != FieldType::Json).take(6).map(|(n, _)| n.clone()).collect(),
    }
}
