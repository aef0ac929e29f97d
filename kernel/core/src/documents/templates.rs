//! Where a document's template comes from: the company's newest saved version, else the one
//! the plugin's installed version ships. Saving checks the template and keeps every version.

use std::collections::BTreeMap;

use diesel::prelude::*;
use erp_manifest::manifest::{DocumentSpec, Manifest};

use super::DocumentError;
use crate::clock;
use crate::storage::DbConn;
use crate::storage::schema::{document_templates, plugin_versions};

/// A template as used for one document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// The Typst source.
    pub source: String,
    /// The company's version; 0 for the plugin's own.
    pub version: i32,
}

/// One saved version, for the list an administrator sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedVersion {
    /// 1, 2, …
    pub version: i32,
    /// When it was saved, in microseconds since the epoch.
    pub created_at: i64,
    /// Who saved it.
    pub created_by: Option<String>,
}

/// A document kind: the plugin and the kind as its manifest declares it.
#[derive(Debug, Clone, Copy)]
pub struct Kind<'a> {
    /// The plugin's name.
    pub plugin: &'a str,
    /// The kind as the manifest declares it.
    pub spec: &'a DocumentSpec,
}

impl<'a> Kind<'a> {
    /// The kind `name` of a plugin's manifest.
    pub fn of(manifest: &'a Manifest, name: &str) -> Result<Kind<'a>, DocumentError> {
        let spec = manifest
            .documents
            .iter()
            .find(|d| d.name == name)
            .ok_or_else(|| DocumentError::NotFound(format!("document {name} of {}", manifest.plugin.name)))?;
        Ok(Kind { plugin: &manifest.plugin.name, spec })
    }
}

/// The templates a plugin version (`Version::to_string()`, as installed) ships, by path.
fn shipped(conn: &mut DbConn, plugin: &str, version: &str) -> Result<BTreeMap<String, String>, DocumentError> {
    let text: Option<String> =
        plugin_versions::table.find((plugin, version)).select(plugin_versions::templates).first(conn).optional()?;
    Ok(text.and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default())
}

/// The plugin's own template of a kind in `language` (as [`DocumentSpec::language_for`] picks).
pub fn shipped_source(
    conn: &mut DbConn,
    kind: Kind<'_>,
    version: &str,
    language: &str,
) -> Result<String, DocumentError> {
    let lang = kind.spec.language_for(language).unwrap_or(language);
    let path = kind.spec.templates.get(lang).ok_or_else(|| DocumentError::NotFound(format!("template {lang}")))?;
    shipped(conn, kind.plugin, version)?
        .remove(path)
        .ok_or_else(|| DocumentError::NotFound(format!("template {path} of {}", kind.plugin)))
}

/// The template the company uses for a kind in a language: its newest saved version, else the
/// plugin's own.
pub fn current(
    conn: &mut DbConn,
    company_id: &str,
    kind: Kind<'_>,
    version: &str,
    language: &str,
) -> Result<Template, DocumentError> {
    let lang = kind.spec.language_for(language).unwrap_or(language);
    let saved: Option<(i32, String)> = document_templates::table
        .filter(document_templates::company_id.eq(company_id))
        .filter(document_templates::plugin.eq(kind.plugin))
        .filter(document_templates::document.eq(&kind.spec.name))
        .filter(document_templates::language.eq(lang))
        .order(document_templates::version.desc())
        .select((document_templates::version, document_templates::source))
        .first(conn)
        .optional()?;
    match saved {
        Some((version, source)) => Ok(Template { source, version }),
        None => Ok(Template { source: shipped_source(conn, kind, version, lang)?, version: 0 }),
    }
}

/// The company's saved versions of a kind's template in a language, newest first.
pub fn versions(
    conn: &mut DbConn,
    company_id: &str,
    plugin: &str,
    document: &str,
    language: &str,
) -> Result<Vec<SavedVersion>, DocumentError> {
    let rows: Vec<(i32, i64, Option<String>)> = document_templates::table
        .filter(document_templates::company_id.eq(company_id))
        .filter(document_templates::plugin.eq(plugin))
        .filter(document_templates::document.eq(document))
        .filter(document_templates::language.eq(language))
        .order(document_templates::version.desc())
        .select((document_templates::version, document_templates::created_at, document_templates::created_by))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(version, created_at, created_by)| SavedVersion { version, created_at, created_by })
        .collect())
}

/// One saved version's source.
pub fn saved(
    conn: &mut DbConn,
    company_id: &str,
    plugin: &str,
    document: &str,
    language: &str,
    version: i32,
) -> Result<String, DocumentError> {
    document_templates::table
        .find((company_id, plugin, document, language, version))
        .select(document_templates::source)
        .first(conn)
        .optional()?
        .ok_or_else(|| DocumentError::NotFound(format!("version {version} of the {document} template")))
}

/// Saves a new version of the company's template after checking its syntax; answers its
/// number. The caller checks it against real data first where there is some.
pub fn save(
    conn: &mut DbConn,
    company_id: &str,
    kind: Kind<'_>,
    language: &str,
    source: &str,
    by: Option<&str>,
) -> Result<i32, DocumentError> {
    if !kind.spec.templates.contains_key(language) {
        return Err(DocumentError::NotFound(format!("a {language} template of {}", kind.spec.name)));
    }
    erp_typeset::check(source).map_err(|e| DocumentError::template("source", &e))?;
    let newest: Option<i32> = document_templates::table
        .filter(document_templates::company_id.eq(company_id))
        .filter(document_templates::plugin.eq(kind.plugin))
        .filter(document_templates::document.eq(&kind.spec.name))
        .filter(document_templates::language.eq(language))
        .select(diesel::dsl::max(document_templates::version))
        .first(conn)?;
    let version = newest.unwrap_or(0) + 1;
    diesel::insert_into(document_templates::table)
        .values((
            document_templates::company_id.eq(company_id),
            document_templates::plugin.eq(kind.plugin),
            document_templates::document.eq(&kind.spec.name),
            document_templates::language.eq(language),
            document_templates::version.eq(version),
            document_templates::source.eq(source),
            document_templates::created_at.eq(clock::now()),
            document_templates::created_by.eq(by),
        ))
        .execute(conn)?;
    Ok(version)
}
