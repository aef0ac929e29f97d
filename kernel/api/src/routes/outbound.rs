//! `GET /api/v1/companies/{id}/outbound`: the company's requests to hosts outside the platform
//! (plugins' calls, outgoing webhooks), newest first: host, status, duration, never bodies.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ListOf, company_read, time};
use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery, Auth};
use erp_kernel::access::permissions::AUDIT_READ;
use erp_kernel::outbound::log::{self, LogRow};

/// `?source=&limit=&cursor=`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct OutboundQuery {
    /// Only requests of this plugin (or `webhooks`).
    #[param(max_length = 64)]
    source: Option<String>,
    /// Items per page, 1..=500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// Cursor from the previous page.
    #[param(schema_with = super::doc::cursor)]
    cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct OutboundOut {
    /// Row id.
    id: String,
    /// When the request was made.
    at: String,
    /// The plugin that made it, or `webhooks`.
    source: String,
    /// HTTP method.
    method: String,
    /// `scheme://host:port` (the last one when redirected).
    host: String,
    /// The answer's status, when one came.
    status: Option<i32>,
    /// `ok` (an answer came), `denied` (not granted, or not a public address), `invalid`,
    /// `limit` (rate, time or size) or `failed` (could not reach the host).
    outcome: String,
    /// Why it was refused or failed.
    error: Option<String>,
    /// Milliseconds it took.
    duration_ms: i32,
}

impl From<LogRow> for OutboundOut {
    fn from(r: LogRow) -> OutboundOut {
        OutboundOut {
            id: r.id,
            at: time(r.created_at),
            source: r.source,
            method: r.method,
            host: r.host,
            status: r.status,
            outcome: r.outcome,
            error: r.error,
            duration_ms: r.duration_ms,
        }
    }
}

/// The company's outbound requests (owners and admins).
#[utoipa::path(get, path = "/api/v1/companies/{id}/outbound", tag = "companies", security(("bearer" = [])),
    params(("id" = String, Path, description = "Company id"), OutboundQuery),
    responses((status = 200, body = ListOf<OutboundOut>), (status = 403, description = "missing permission"), (status = 404, description = "no such company")))]
pub(crate) async fn list_outbound(
    auth: Auth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<OutboundQuery>,
) -> Result<Json<ListOf<OutboundOut>>, ApiError> {
    let page = super::page_request(q.limit, q.cursor.as_deref())?;
    if q.source.as_ref().is_some_and(|s| s.chars().count() > 64) {
        return Err(ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "bad_request",
            "invalid query: source must be at most 64 characters",
        ));
    }
    let source = q.source.filter(|s| !s.is_empty());
    let found = company_read(&state, &auth, &id, move |conn, scope| {
        scope.require(AUDIT_READ)?;
        Ok(log::list(conn, &scope.company_id, source.as_deref(), &page)?)
    })
    .await?;
    Ok(Json(ListOf::from_page(found, OutboundOut::from)))
}
