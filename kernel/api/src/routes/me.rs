//! `/api/v1/me`: the caller and their companies; the caller's own settings (time zone).

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiJson, Auth};
use erp_kernel::identity::{companies, profile};
use erp_kernel::paging::{MAX_LIMIT, PageRequest};

#[derive(Serialize, ToSchema)]
pub(crate) struct MyCompany {
    /// Company id.
    id: String,
    /// Company name.
    name: String,
    /// The caller's role there.
    role: String,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct MeOut {
    /// User id.
    id: String,
    /// E-mail.
    email: String,
    /// Display name.
    name: String,
    /// Platform operator.
    is_superadmin: bool,
    /// The caller's own time zone; none follows each company's.
    time_zone: Option<String>,
    /// Companies the caller belongs to, with their role in each (first 500).
    companies: Vec<MyCompany>,
}

/// Who the caller is, and where they belong.
#[utoipa::path(get, path = "/api/v1/me", tag = "identity", security(("bearer" = [])), responses((status = 200, body = MeOut), (status = 401, description = "not logged in")))]
pub(crate) async fn me(auth: Auth, State(state): State<AppState>) -> Result<Json<MeOut>, ApiError> {
    let user_id = auth.user.id.clone();
    let page = state
        .db
        .read(move |conn| {
            companies::list_for_user(conn, &user_id, &PageRequest::first(MAX_LIMIT)).map_err(ApiError::from)
        })
        .await?;
    Ok(Json(MeOut {
        id: auth.user.id,
        email: auth.user.email,
        name: auth.user.name,
        is_superadmin: auth.user.is_superadmin,
        time_zone: auth.user.time_zone,
        companies: page.items.into_iter().map(|(c, role)| MyCompany { id: c.id, name: c.name, role }).collect(),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateMe {
    /// An IANA time zone such as `Europe/Moscow`, or null to follow each company's.
    #[schema(schema_with = super::doc::time_zone_or_null)]
    time_zone: Option<String>,
}

/// Changes the caller's own settings.
#[utoipa::path(patch, path = "/api/v1/me", tag = "identity", security(("bearer" = [])), request_body = UpdateMe,
    responses((status = 200, body = MeOut), (status = 401, description = "not logged in"), (status = 422, description = "invalid input")))]
pub(crate) async fn update_me(
    auth: Auth,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<UpdateMe>,
) -> Result<Json<MeOut>, ApiError> {
    let user_id = auth.user.id.clone();
    let zone = body.time_zone.clone();
    state
        .db
        .write(move |conn| profile::set_user_time_zone(conn, &user_id, zone.as_deref()).map_err(ApiError::from))
        .await?;
    let mut auth = auth;
    auth.user.time_zone = body.time_zone;
    me(auth, State(state)).await
}
