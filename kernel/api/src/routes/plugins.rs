//! `/api/v1/plugins`: the platform's installed plugins. Platform operators install (and
//! upgrade) by uploading a package, and uninstall.

use axum::Json;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::UtoipaMethodRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiPath, Auth, RawBody};
use erp_kernel::plugins::lifecycle::{self, InstalledPlugin};
use erp_kernel::plugins::package::MAX_PACKAGE_BYTES;
use erp_kernel::storage::run_blocking;

#[derive(Serialize, ToSchema)]
pub(crate) struct InstalledOut {
    /// Plugin name.
    name: String,
    /// Installed version.
    version: String,
    /// The version replaced by this upgrade, if it was one.
    upgraded_from: Option<String>,
    /// Companies whose data the plugin migrated during the upgrade.
    migrated_companies: usize,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct PluginOut {
    /// Plugin name.
    name: String,
    /// Current version.
    version: String,
    /// Every installed version.
    versions: Vec<String>,
    /// WIT contract version it was built against.
    wit: String,
    /// What it does.
    description: String,
    /// Who made it.
    publisher: String,
    /// Companies that enabled it (shown to platform operators only).
    enabled_in: Option<i64>,
    /// The full manifest (collections, commands, permissions, capabilities, views...).
    #[schema(value_type = Object)]
    manifest: serde_json::Value,
}

pub(crate) fn plugin_out(p: InstalledPlugin, operator: bool) -> PluginOut {
    let m = &p.manifest;
    PluginOut {
        name: m.plugin.name.clone(),
        version: m.plugin.version.to_string(),
        versions: p.versions,
        wit: m.plugin.wit.to_string(),
        description: m.plugin.description.clone(),
        publisher: m.plugin.publisher.clone(),
        enabled_in: operator.then_some(p.enabled_in),
        manifest: serde_json::to_value(&**m).unwrap_or_default(),
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct PluginList {
    /// Installed plugins by name.
    items: Vec<PluginOut>,
}

/// The install route, with a body limit large enough for packages.
pub(super) fn upload_route() -> UtoipaMethodRouter<AppState> {
    let (schemas, paths, router) = routes!(list_plugins, install_plugin);
    (schemas, paths, router.layer(DefaultBodyLimit::max(MAX_PACKAGE_BYTES + 1)))
}

/// Installs a plugin package, or upgrades the installed plugin to it (platform operators).
/// Every problem of an invalid package is listed in `problems`.
#[utoipa::path(post, path = "/api/v1/plugins", tag = "plugins", security(("bearer" = [])),
    request_body(description = "The plugin package (a .wasm component), whatever the Content-Type says",
        content((Vec<u8> = "application/wasm"), (Vec<u8> = "application/octet-stream"))),
    responses((status = 201, body = InstalledOut), (status = 403, description = "not a platform operator"), (status = 409, description = "this version is installed already, or a newer one"), (status = 413, description = "too large"), (status = 422, description = "invalid package; see problems")))]
pub(crate) async fn install_plugin(
    auth: Auth,
    State(state): State<AppState>,
    RawBody(body): RawBody,
) -> Result<(StatusCode, Json<InstalledOut>), ApiError> {
    auth.require_superadmin()?;
    let actor = auth.actor();
    let platform = state.platform.clone();
    let done = run_blocking(move || lifecycle::install(&platform, &body, &actor).map_err(ApiError::from)).await?;
    Ok((
        StatusCode::CREATED,
        Json(InstalledOut {
            name: done.name,
            version: done.version,
            upgraded_from: done.upgraded_from,
            migrated_companies: done.migrated_companies,
        }),
    ))
}

/// Lists installed plugins.
#[utoipa::path(get, path = "/api/v1/plugins", tag = "plugins", security(("bearer" = [])), responses((status = 200, body = PluginList)))]
pub(crate) async fn list_plugins(auth: Auth, State(state): State<AppState>) -> Result<Json<PluginList>, ApiError> {
    let platform = state.platform.clone();
    let items = state.db.read(move |conn| lifecycle::list(&platform, conn).map_err(ApiError::from)).await?;
    let operator = auth.user.is_superadmin;
    Ok(Json(PluginList { items: items.into_iter().map(|p| plugin_out(p, operator)).collect() }))
}

/// One installed plugin with its manifest: what it declares and what it asks to be granted.
#[utoipa::path(get, path = "/api/v1/plugins/{name}", tag = "plugins", security(("bearer" = [])),
    params(("name" = String, Path, description = "Plugin name")), responses((status = 200, body = PluginOut), (status = 404, description = "not installed")))]
pub(crate) async fn get_plugin(
    auth: Auth,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<PluginOut>, ApiError> {
    let platform = state.platform.clone();
    let found = state.db.read(move |conn| lifecycle::describe(&platform, conn, &name).map_err(ApiError::from)).await?;
    let operator = auth.user.is_superadmin;
    found.map(|p| Json(plugin_out(p, operator))).ok_or_else(ApiError::not_found)
}

/// Uninstalls a plugin (platform operators). Refused while a company has it enabled or
/// another plugin depends on it. Companies' data stays for a reinstall.
#[utoipa::path(delete, path = "/api/v1/plugins/{name}", tag = "plugins", security(("bearer" = [])),
    params(("name" = String, Path, description = "Plugin name")),
    responses((status = 204, description = "uninstalled"), (status = 403, description = "not a platform operator"), (status = 404, description = "not installed"), (status = 409, description = "still enabled or depended on")))]
pub(crate) async fn uninstall_plugin(
    auth: Auth,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    auth.require_superadmin()?;
    let actor = auth.actor();
    let platform = state.platform.clone();
    run_blocking(move || lifecycle::uninstall(&platform, &name, &actor).map_err(ApiError::from)).await?;
    Ok(StatusCode::NO_CONTENT)
}
