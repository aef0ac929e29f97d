//! `GET /api/v1/me`: the caller and their companies.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::Auth;
use erp_kernel::identity::companies;
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
        companies: page.items.into_iter().map(|(c, role)| MyCompany { id: c.id, name: c.name, role }).collect(),
    }))
}
