//! `GET /health`: liveness and database reachability.

use axum::Json;
use axum::extract::State;
use diesel::connection::SimpleConnection;
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::error::ApiError;
use erp_kernel::storage::StoreError;

#[derive(Serialize, ToSchema)]
pub(crate) struct Health {
    /// Always `ok` when the answer is 200.
    status: &'static str,
}

/// 200 when the server runs and its database answers; 503 otherwise.
#[utoipa::path(get, path = "/health", tag = "system", responses((status = 200, body = Health), (status = 503, description = "database unavailable")))]
pub(crate) async fn health(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    state
        .db
        .read(|conn| conn.batch_execute("SELECT 1").map_err(StoreError::from))
        .await
        .map_err(|e| ApiError::new(axum::http::StatusCode::SERVICE_UNAVAILABLE, "unavailable", e.to_string()))?;
    Ok(Json(Health { status: "ok" }))
}
