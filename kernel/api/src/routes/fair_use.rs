//! `/api/v1/companies/{id}/usage` (what each plugin stores against the quotas, and its
//! health: strikes and quarantine) and `POST .../plugins/{name}/release` (ends a quarantine).

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use super::{company_read, company_work, time};
use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiPath, Auth};
use erp_kernel::fair_use::{Quotas, quota};
use erp_kernel::plugins::health;

/// Quotas; `null` means unlimited.
#[derive(Serialize, ToSchema)]
pub(crate) struct QuotasOut {
    company_records: Option<i64>,
    plugin_records: Option<i64>,
    company_bytes: Option<i64>,
    plugin_bytes: Option<i64>,
    company_events: Option<i64>,
    plugin_events: Option<i64>,
}

impl From<Quotas> for QuotasOut {
    fn from(q: Quotas) -> QuotasOut {
        QuotasOut {
            company_records: q.company_records,
            plugin_records: q.plugin_records,
            company_bytes: q.company_bytes,
            plugin_bytes: q.plugin_bytes,
            company_events: q.company_events,
            plugin_events: q.plugin_events,
        }
    }
}

/// One plugin's usage and health in the company.
#[derive(Serialize, ToSchema)]
pub(crate) struct PluginUsage {
    /// Plugin name.
    plugin: String,
    /// Records stored.
    records: i64,
    /// Bytes of record data stored.
    bytes: i64,
    /// Events published.
    events: i64,
    /// Limit hits in the current window.
    strikes: i32,
    /// Since when it is quarantined in this company, if it is.
    quarantined_at: Option<String>,
    /// The last limit it hit: `time`, `memory` or `write_hold`.
    last_limit: Option<String>,
    /// What happened then.
    last_limit_reason: Option<String>,
}

/// The company's usage.
#[derive(Serialize, ToSchema)]
pub(crate) struct UsageOut {
    /// The node's quotas.
    quotas: QuotasOut,
    /// Records of all plugins.
    records: i64,
    /// Bytes of all plugins.
    bytes: i64,
    /// Events of all plugins.
    events: i64,
    /// Per plugin.
    plugins: Vec<PluginUsage>,
}

/// What the company and each of its plugins store, against the quotas, and which plugins are
/// quarantined.
#[utoipa::path(get, path = "/api/v1/companies/{id}/usage", tag = "plugins", security(("bearer" = [])),
    params(("id" = String, Path, description = "Company id")), responses((status = 200, body = UsageOut), (status = 404, description = "no such company")))]
pub(crate) async fn usage(
    auth: Auth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<UsageOut>, ApiError> {
    let quotas = state.platform.fair.settings.quotas;
    let (usage, healths) = company_read(&state, &auth, &id, move |conn, scope| {
        let healths = health::list(conn, scope)?;
        Ok((quota::usage(conn, &scope.company_id)?, healths))
    })
    .await?;
    let mut plugins: Vec<PluginUsage> = usage
        .into_iter()
        .map(|(plugin, u)| PluginUsage {
            plugin,
            records: u.records,
            bytes: u.bytes,
            events: u.events,
            strikes: 0,
            quarantined_at: None,
            last_limit: None,
            last_limit_reason: None,
        })
        .collect();
    for h in healths {
        let i = match plugins.iter().position(|p| p.plugin == h.plugin) {
            Some(i) => i,
            None => {
                plugins.push(PluginUsage {
                    plugin: h.plugin.clone(),
                    records: 0,
                    bytes: 0,
                    events: 0,
                    strikes: 0,
                    quarantined_at: None,
                    last_limit: None,
                    last_limit_reason: None,
                });
                plugins.len() - 1
            }
        };
        plugins[i].strikes = h.strikes;
        plugins[i].quarantined_at = h.quarantined_at.map(time);
        plugins[i].last_limit = h.limit;
        plugins[i].last_limit_reason = h.reason;
    }
    Ok(Json(UsageOut {
        quotas: quotas.into(),
        records: plugins.iter().map(|p| p.records).sum(),
        bytes: plugins.iter().map(|p| p.bytes).sum(),
        events: plugins.iter().map(|p| p.events).sum(),
        plugins,
    }))
}

/// Releases a plugin quarantined in the company: its waiting deliveries resume and its
/// commands run again.
#[utoipa::path(post, path = "/api/v1/companies/{id}/plugins/{name}/release", tag = "plugins", security(("bearer" = [])),
    params(("id" = String, Path, description = "Company id"), ("name" = String, Path, description = "Plugin name")),
    responses((status = 200, body = UsageOut), (status = 403, description = "missing kernel.plugins.manage"), (status = 404, description = "no such company"), (status = 409, description = "the plugin is not quarantined")))]
pub(crate) async fn release(
    auth: Auth,
    State(state): State<AppState>,
    ApiPath((id, name)): ApiPath<(String, String)>,
) -> Result<Json<UsageOut>, ApiError> {
    let platform = state.platform.clone();
    company_work(&state, &auth, &id, "plugin.release", move |session, scope, _actor| {
        Ok(health::release(&platform, session, scope, &name)?)
    })
    .await?;
    usage(auth, State(state), ApiPath(id)).await
}
