//! `POST /api/v1/users`: platform operators create user accounts.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

use super::Created;
use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiJson, Auth};
use erp_kernel::audit::{self, Entry, Outcome};
use erp_kernel::identity::users::{self, NewUser};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateUser {
    /// Login e-mail (unique).
    #[schema(schema_with = super::doc::email)]
    email: String,
    /// Initial password.
    #[schema(schema_with = super::doc::new_password)]
    password: String,
    /// Display name.
    #[schema(schema_with = super::doc::display_name)]
    name: String,
    /// Make the new user a platform operator too.
    #[serde(default)]
    is_superadmin: bool,
}

/// Creates a user (platform operators only).
#[utoipa::path(post, path = "/api/v1/users", tag = "identity", security(("bearer" = [])), request_body = CreateUser,
    responses((status = 201, body = Created), (status = 403, description = "not a platform operator"), (status = 409, description = "e-mail taken"), (status = 422, description = "invalid input")))]
pub(crate) async fn create_user(
    auth: Auth,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateUser>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    auth.require_superadmin()?;
    let new =
        NewUser { email: body.email, password: body.password, name: body.name, is_superadmin: body.is_superadmin };
    let permit = state.throttle.hash_permit().await?;
    let prepared = tokio::task::spawn_blocking(move || {
        let _slot = permit;
        users::prepare(&new)
    })
    .await
    .map_err(ApiError::internal)??;
    let actor = auth.actor();
    let user = state
        .db
        .write(move |conn| {
            let user = users::insert(conn, &prepared)?;
            audit::record(
                conn,
                Entry {
                    company_id: None,
                    actor: &actor,
                    action: "user.create",
                    object_type: "user",
                    object_id: Some(&user.id),
                    outcome: Outcome::Success,
                    detail: serde_json::json!({ "email": user.email, "is_superadmin": user.is_superadmin }),
                },
            )?;
            Ok::<_, ApiError>(user)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(Created { id: user.id })))
}
