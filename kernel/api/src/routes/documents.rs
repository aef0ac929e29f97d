//! Document templates of a company: which kinds its enabled plugins print, and the Typst
//! template each uses, which an administrator may replace with versions of their own (the
//! plugin's stays as it shipped; saving its text again is how to go back to it).

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{company_read, company_work, time};
use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, Auth};
use erp_kernel::access::permissions::{COMPANY_MANAGE, COMPANY_READ};
use erp_kernel::audit::{self, Entry, Outcome};
use erp_kernel::documents::{DocumentError, templates};

impl From<DocumentError> for ApiError {
    fn from(e: DocumentError) -> ApiError {
        match e {
            DocumentError::NotFound(_) => ApiError::not_found(),
            DocumentError::Invalid(i) => ApiError::invalid(i),
            DocumentError::Store(s) => s.into(),
        }
    }
}

/// One kind of document a plugin prints.
#[derive(Debug, Serialize, ToSchema)]
pub struct KindOut {
    /// The plugin that prints it.
    pub plugin: String,
    /// Its name in the plugin's manifest, such as `invoice`.
    pub document: String,
    /// What people call it, in the caller's language.
    pub label: String,
    /// The collection whose records it is printed for.
    pub collection: String,
    /// Languages it has a template in, each with the company's version in use (0: the plugin's).
    pub languages: Vec<LanguageOut>,
}

/// A template language and the version in use.
#[derive(Debug, Serialize, ToSchema)]
pub struct LanguageOut {
    /// `ru`, `en`.
    pub language: String,
    /// The company's newest saved version; 0 while the plugin's own is in use.
    pub version: i32,
}

/// The document kinds the company's enabled plugins print.
#[utoipa::path(get, path = "/api/v1/companies/{id}/documents", tag = "documents", security(("bearer" = [])),
    params(("id" = String, Path, description = "Company id")),
    responses((status = 200, body = [KindOut]), (status = 404, description = "no such company, or not a member")))]
pub(crate) async fn list_kinds(
    auth: Auth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Vec<KindOut>>, ApiError> {
    let platform = state.platform.clone();
    let lang = auth.locale.to_string();
    let kinds = company_read(&state, &auth, &id, move |conn, scope| {
        scope.require(COMPANY_READ)?;
        let mut out = Vec::new();
        for m in platform.plugins.enabled_manifests(conn, &scope.company_id)? {
            for d in &m.documents {
                let mut languages = Vec::new();
                for language in d.templates.keys() {
                    let saved = templates::versions(conn, &scope.company_id, &m.plugin.name, &d.name, language)?;
                    languages.push(LanguageOut {
                        language: language.clone(),
                        version: saved.first().map_or(0, |v| v.version),
                    });
                }
                out.push(KindOut {
                    plugin: m.plugin.name.clone(),
                    document: d.name.clone(),
                    label: d.label.text(&lang).to_string(),
                    collection: d.collection.clone(),
                    languages,
                });
            }
        }
        Ok(out)
    })
    .await?;
    Ok(Json(kinds))
}

/// A saved version in a template's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionOut {
    /// 1, 2, …
    pub version: i32,
    /// When it was saved.
    pub created_at: String,
    /// The user who saved it.
    pub created_by: Option<String>,
}

/// A template as the company uses it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateOut {
    /// The Typst source in use.
    pub source: String,
    /// Its version; 0 for the plugin's own.
    pub version: i32,
    /// The plugin's own template, to compare with or go back to.
    pub shipped: String,
    /// The company's saved versions, newest first.
    pub versions: Vec<VersionOut>,
}

fn enabled_kind<'m>(
    manifest: &'m erp_kernel::plugins::manifest::Manifest,
    document: &str,
    language: &str,
) -> Result<templates::Kind<'m>, ApiError> {
    let kind = templates::Kind::of(manifest, document)?;
    if !kind.spec.templates.contains_key(language) {
        return Err(ApiError::not_found());
    }
    Ok(kind)
}

/// A document kind's template in one language: the one in use, the plugin's own and the
/// company's history.
#[utoipa::path(get, path = "/api/v1/companies/{id}/documents/{plugin}/{document}/{language}", tag = "documents", security(("bearer" = [])),
    params(("id" = String, Path, description = "Company id"), ("plugin" = String, Path, description = "Plugin"),
           ("document" = String, Path, description = "Document kind"), ("language" = String, Path, description = "Language, such as ru")),
    responses((status = 200, body = TemplateOut), (status = 403, description = "missing kernel.company.manage"), (status = 404, description = "no such kind or language")))]
pub(crate) async fn get_template(
    auth: Auth,
    State(state): State<AppState>,
    ApiPath((id, plugin, document, language)): ApiPath<(String, String, String, String)>,
) -> Result<Json<TemplateOut>, ApiError> {
    let platform = state.platform.clone();
    let out = company_read(&state, &auth, &id, move |conn, scope| {
        scope.require(COMPANY_MANAGE)?;
        let active = platform.plugins.active(conn, &scope.company_id, &plugin).map_err(|_| ApiError::not_found())?;
        let manifest = active.loaded.manifest.clone();
        let kind = enabled_kind(&manifest, &document, &language)?;
        let version = manifest.plugin.version.to_string();
        let current = templates::current(conn, &scope.company_id, kind, &version, &language)?;
        let shipped = templates::shipped_source(conn, kind, &version, &language)?;
        let versions = templates::versions(conn, &scope.company_id, &plugin, &document, &language)?
            .into_iter()
            .map(|v| VersionOut { version: v.version, created_at: time(v.created_at), created_by: v.created_by })
            .collect();
        Ok(TemplateOut { source: current.source, version: current.version, shipped, versions })
    })
    .await?;
    Ok(Json(out))
}

/// A new version of a template.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateIn {
    /// The Typst source; it reads its data with `json("/data.json")`.
    pub source: String,
}

/// The saved version.
#[derive(Debug, Serialize, ToSchema)]
pub struct SavedOut {
    /// Its number.
    pub version: i32,
}

/// Saves a new version of a template, used from the next document on. A template with
/// syntax errors is refused, each error with its line, and nothing is saved.
#[utoipa::path(put, path = "/api/v1/companies/{id}/documents/{plugin}/{document}/{language}", tag = "documents", security(("bearer" = [])),
    request_body = TemplateIn,
    params(("id" = String, Path, description = "Company id"), ("plugin" = String, Path, description = "Plugin"),
           ("document" = String, Path, description = "Document kind"), ("language" = String, Path, description = "Language, such as ru")),
    responses((status = 200, body = SavedOut), (status = 403, description = "missing kernel.company.manage"), (status = 404, description = "no such kind or language"), (status = 422, description = "the template has errors")))]
pub(crate) async fn put_template(
    auth: Auth,
    State(state): State<AppState>,
    ApiPath((id, plugin, document, language)): ApiPath<(String, String, String, String)>,
    ApiJson(body): ApiJson<TemplateIn>,
) -> Result<Json<SavedOut>, ApiError> {
    let platform = state.platform.clone();
    let version = company_work(&state, &auth, &id, "document.template.save", move |session, scope, actor| {
        scope.require(COMPANY_MANAGE)?;
        let active = platform
            .plugins
            .active(session.reader()?, &scope.company_id, &plugin)
            .map_err(|_| ApiError::not_found())?;
        let manifest = active.loaded.manifest.clone();
        let kind = enabled_kind(&manifest, &document, &language)?;
        let conn = session.conn()?;
        let version =
            templates::save(conn, &scope.company_id, kind, &language, &body.source, actor.user_id.as_deref())?;
        audit::record(
            conn,
            Entry {
                company_id: Some(&scope.company_id),
                actor,
                action: "document.template.save",
                object_type: "document_template",
                object_id: Some(&format!("{plugin}/{document}/{language}")),
                outcome: Outcome::Success,
                detail: serde_json::json!({ "version": version }),
            },
        )?;
        Ok(version)
    })
    .await?;
    Ok(Json(SavedOut { version }))
}
