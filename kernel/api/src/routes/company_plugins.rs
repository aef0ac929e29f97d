//! `/api/v1/companies/{id}/plugins`: what a company enabled; enable, configure and disable.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{company_read, company_work, time};
use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, Auth};
use erp_kernel::plugins::lifecycle::{self, EnableRequest, Enabled};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EnableBody {
    /// Collections of the plugin's declared capabilities to grant, such as `crm.customer`.
    #[serde(default)]
    #[schema(schema_with = super::doc::grants)]
    grants: Vec<String>,
    /// Configuration matching the plugin's `[config]`; `null` is none.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    config: serde_json::Value,
    /// Secret that inbound webhooks must present in `X-Webhook-Secret` (16 to 256 characters).
    #[schema(schema_with = super::doc::webhook_secret)]
    webhook_secret: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct EnabledOut {
    /// Plugin name.
    name: String,
    /// Installed version in use.
    version: String,
    /// Granted collections.
    grants: Vec<String>,
    /// Configuration.
    #[schema(value_type = Object)]
    config: serde_json::Value,
    /// Since when.
    enabled_at: String,
    /// Whether inbound webhooks are accepted (a secret is set).
    webhook_secret_set: bool,
}

fn out(e: Enabled) -> EnabledOut {
    EnabledOut {
        name: e.manifest.plugin.name.clone(),
        version: e.manifest.plugin.version.to_string(),
        grants: e.grants,
        config: e.config,
        enabled_at: time(e.enabled_at),
        webhook_secret_set: e.has_webhook_secret,
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct EnabledList {
    /// Enabled plugins by name.
    items: Vec<EnabledOut>,
}

/// Plugins enabled in the company.
#[utoipa::path(get, path = "/api/v1/companies/{id}/plugins", tag = "plugins", security(("bearer" = [])),
    params(("id" = String, Path, description = "Company id")), responses((status = 200, body = EnabledList), (status = 404, description = "no such company")))]
pub(crate) async fn list_enabled(
    auth: Auth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<EnabledList>, ApiError> {
    let platform = state.platform.clone();
    let items =
        company_read(&state, &auth, &id, move |conn, scope| Ok(lifecycle::list_enabled(&platform, conn, scope)?))
            .await?;
    Ok(Json(EnabledList { items: items.into_iter().map(out).collect() }))
}

/// Enables a plugin for the company (or changes its grants and configuration). Its
/// dependencies must be enabled first.
#[utoipa::path(put, path = "/api/v1/companies/{id}/plugins/{name}", tag = "plugins", security(("bearer" = [])), request_body = EnableBody,
    params(("id" = String, Path, description = "Company id"), ("name" = String, Path, description = "Plugin name")),
    responses((status = 200, body = EnabledOut), (status = 403, description = "missing kernel.plugins.manage"), (status = 404, description = "no such company or plugin"), (status = 422, description = "missing dependency, unknown grant or bad configuration")))]
pub(crate) async fn enable_plugin(
    auth: Auth,
    State(state): State<AppState>,
    ApiPath((id, name)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<EnableBody>,
) -> Result<Json<EnabledOut>, ApiError> {
    let platform = state.platform.clone();
    let enabled = company_work(&state, &auth, &id, "plugin.enable", move |session, scope, _actor| {
        let req = EnableRequest { grants: body.grants, config: body.config, webhook_secret: body.webhook_secret };
        Ok(lifecycle::enable(&platform, session, scope, &name, req)?)
    })
    .await?;
    Ok(Json(out(enabled)))
}

/// Disables a plugin for the company. Its data stays and comes back when it is enabled again.
#[utoipa::path(delete, path = "/api/v1/companies/{id}/plugins/{name}", tag = "plugins", security(("bearer" = [])),
    params(("id" = String, Path, description = "Company id"), ("name" = String, Path, description = "Plugin name")),
    responses((status = 204, description = "disabled"), (status = 403, description = "missing kernel.plugins.manage"), (status = 404, description = "not enabled"), (status = 409, description = "another enabled plugin depends on it")))]
pub(crate) async fn disable_plugin(
    auth: Auth,
    State(state): State<AppState>,
    ApiPath((id, name)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let platform = state.platform.clone();
    company_work(&state, &auth, &id, "plugin.disable", move |session, scope, _actor| {
        Ok(lifecycle::disable(&platform, session, scope, &name)?)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
