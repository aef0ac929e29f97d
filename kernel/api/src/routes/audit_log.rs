//! `GET /api/v1/companies/{id}/audit`: the company's audit log, newest first.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use super::{ListOf, PageQuery, company_read, time};
use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery, Auth};
use erp_kernel::access::permissions::AUDIT_READ;
use erp_kernel::audit::{self, Record};

#[derive(Serialize, ToSchema)]
pub(crate) struct AuditOut {
    /// Record id.
    id: String,
    /// When.
    at: String,
    /// Acting user, if any.
    actor_id: Option<String>,
    /// Action such as `member.add`.
    action: String,
    /// Kind of object.
    object_type: String,
    /// Object id.
    object_id: Option<String>,
    /// `success` or `denied`.
    outcome: String,
    /// Extra facts.
    #[schema(value_type = Object)]
    detail: serde_json::Value,
    /// HTTP request id.
    request_id: Option<String>,
}

impl From<Record> for AuditOut {
    fn from(r: Record) -> AuditOut {
        AuditOut {
            id: r.id,
            at: time(r.at),
            actor_id: r.actor_id,
            action: r.action,
            object_type: r.object_type,
            object_id: r.object_id,
            outcome: r.outcome,
            detail: serde_json::from_str(&r.detail).unwrap_or(serde_json::Value::Null),
            request_id: r.request_id,
        }
    }
}

/// The company's audit records (owners and admins).
#[utoipa::path(get, path = "/api/v1/companies/{id}/audit", tag = "companies", security(("bearer" = [])),
    params(("id" = String, Path, description = "Company id"), PageQuery),
    responses((status = 200, body = ListOf<AuditOut>), (status = 403, description = "missing permission"), (status = 404, description = "no such company")))]
pub(crate) async fn list_audit(
    auth: Auth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<ListOf<AuditOut>>, ApiError> {
    let page = q.request()?;
    let found = company_read(&state, &auth, &id, move |conn, scope| {
        scope.require(AUDIT_READ)?;
        Ok(audit::list(conn, &scope.company_id, &page)?)
    })
    .await?;
    Ok(Json(ListOf::from_page(found, AuditOut::from)))
}
