//! `POST /api/v1/auth/login`: password login, answering a session token.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::ApiJson;
use erp_kernel::audit::{self, Actor, Entry, Outcome};
use erp_kernel::clock;
use erp_kernel::identity::{IdentityError, login as login_flow};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginBody {
    /// Login e-mail.
    email: String,
    /// Password.
    password: String,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct LoginAnswer {
    /// Bearer token for `Authorization: Bearer ...`.
    token: String,
    /// When the token stops working (RFC 3339, UTC).
    expires_at: Option<String>,
    /// The logged-in user's id.
    user_id: String,
}

/// Exchanges e-mail and password for a session token. Repeated failures lock the account for
/// a growing time (429 with `Retry-After`).
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "identity", request_body = LoginBody,
    responses((status = 200, body = LoginAnswer), (status = 401, description = "wrong e-mail or password"), (status = 429, description = "too many failed logins")))]
pub(crate) async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Json<LoginAnswer>, ApiError> {
    let db = state.db.clone();
    let email = body.email.clone();
    let outcome = tokio::task::spawn_blocking(move || login_flow::login(&db, &body.email, &body.password))
        .await
        .map_err(ApiError::internal)?;
    let request_id = headers.get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_string);
    match outcome {
        Ok(done) => {
            let actor = Actor::user(&done.user.id, request_id.as_deref());
            let user_id = done.user.id.clone();
            state
                .db
                .write(move |conn| {
                    audit::record(
                        conn,
                        Entry {
                            company_id: None,
                            actor: &actor,
                            action: "auth.login",
                            object_type: "user",
                            object_id: Some(&user_id),
                            outcome: Outcome::Success,
                            detail: serde_json::json!({}),
                        },
                    )
                })
                .await?;
            Ok(Json(LoginAnswer {
                token: done.token.secret,
                expires_at: done.token.info.expires_at.map(clock::to_rfc3339),
                user_id: done.user.id,
            }))
        }
        Err(err) => {
            if matches!(err, IdentityError::InvalidCredentials | IdentityError::Throttled { .. }) {
                let actor = Actor { user_id: None, request_id };
                let detail = serde_json::json!({ "email": email.chars().take(254).collect::<String>(), "reason": err.to_string() });
                state
                    .db
                    .write(move |conn| {
                        audit::record(
                            conn,
                            Entry {
                                company_id: None,
                                actor: &actor,
                                action: "auth.login",
                                object_type: "user",
                                object_id: None,
                                outcome: Outcome::Failure,
                                detail,
                            },
                        )
                    })
                    .await?;
            }
            Err(err.into())
        }
    }
}
