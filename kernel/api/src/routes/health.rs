//! `GET /health` (the process is alive), `GET /ready` (it takes work: start-up done and the
//! database answers) and `GET /metrics` (Prometheus text).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use diesel::connection::SimpleConnection;
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::error::ApiError;
use crate::readiness::Phase;
use erp_kernel::storage::{StoreError, run_blocking};

#[derive(Serialize, ToSchema)]
pub(crate) struct Health {
    /// `ok`.
    status: &'static str,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct Ready {
    /// `ready`, `starting`, `failed` or `unavailable` (the database does not answer).
    status: &'static str,
    /// What start-up is doing, why it failed, or what the database said.
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
}

/// 200 as soon as the server listens, whatever else is going on (liveness).
#[utoipa::path(get, path = "/health", tag = "system", responses((status = 200, body = Health)))]
pub(crate) async fn health() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// 200 once start-up is done (bundled plugins installed, the demo loaded) and the database
/// answers; 503 before that or while the database is unreachable. Route traffic by this.
#[utoipa::path(get, path = "/ready", tag = "system", responses(
    (status = 200, body = Ready),
    (status = 503, body = Ready, description = "starting, failed to start, or the database does not answer"),
))]
pub(crate) async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Ready>) {
    let not_yet = |status, detail| (StatusCode::SERVICE_UNAVAILABLE, Json(Ready { status, detail: Some(detail) }));
    match state.readiness.phase() {
        Phase::Starting(step) => return not_yet("starting", step),
        Phase::Failed(error) => return not_yet("failed", error),
        Phase::Ready => {}
    }
    match state.db.read(|conn| conn.batch_execute("SELECT 1").map_err(StoreError::from)).await {
        Ok(()) => (StatusCode::OK, Json(Ready { status: "ready", detail: None })),
        Err(e) => {
            // The database's own words (host, user) are for the log, not for anyone asking.
            tracing::warn!(error = %e, "readiness check: the database does not answer");
            not_yet("unavailable", "the database does not answer".to_string())
        }
    }
}

/// This node's metrics in the Prometheus (OpenMetrics) text format: HTTP requests and their
/// durations by route and status, plugin calls by plugin and outcome, event deliveries and
/// their lag, the waiting queue and dead letters, database pool use. When the server has a
/// metrics token, it must be sent as `Authorization: Bearer <token>`.
#[utoipa::path(get, path = "/metrics", tag = "system", security((), ("metrics_token" = [])), responses(
    (status = 200, content_type = "application/openmetrics-text", body = String),
    (status = 401, body = crate::error::ErrorBody, description = "the server has a metrics token and the request lacks it"),
    (status = 503, body = crate::error::ErrorBody, description = "the database does not answer"),
))]
pub(crate) async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    if let Some(expected) = state.metrics_token.as_deref() {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|h| h.trim().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        if !given.is_some_and(|g| erp_kernel::identity::tokens::same_secret(g, expected)) {
            return Err(ApiError::unauthenticated("/metrics needs Authorization: Bearer <the metrics token>"));
        }
    }
    let platform = state.platform.clone();
    let text = run_blocking(move || platform.metrics_text()).await.map_err(|e| {
        tracing::warn!(error = %e, "metrics: the database does not answer");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "the database does not answer")
            .with_retry_after(1)
    })?;
    let mut response = text.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    Ok(response)
}
