//! `POST /api/v1/auth/login`: password login, answering a session token.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiJson, ClientAddr, request_id_of};
use erp_kernel::audit::refusals::{Kind, Refusal};
use erp_kernel::audit::{self, Actor, Entry, Outcome};
use erp_kernel::clock;
use erp_kernel::identity::{IdentityError, login as login_flow};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginBody {
    /// Login e-mail.
    #[schema(pattern = "^[^\\x00]*$")]
    email: String,
    /// Password.
    #[schema(pattern = "^[^\\x00]*$")]
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

/// Exchanges e-mail and password for a session token. Attempts are limited per client
/// address and per account (429 with `Retry-After`); five attempts for one account from one
/// address lock that pair for a growing time (429); when too many password checks run at
/// once the answer is 503 with `Retry-After`.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "identity", request_body = LoginBody,
    responses((status = 200, body = LoginAnswer), (status = 401, description = "wrong e-mail or password"),
        (status = 429, description = "too many attempts"), (status = 503, description = "too many password checks at once")))]
pub(crate) async fn login(
    State(state): State<AppState>,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Json<LoginAnswer>, ApiError> {
    let request_id = request_id_of(&headers);
    let email = body.email.clone();
    let admitted = async {
        state.throttle.login(address, &body.email).await?;
        state.throttle.hash_permit().await
    }
    .await;
    let permit = match admitted {
        Ok(p) => p,
        Err(refused) => {
            refused_login(&state, &email, &refused.message, request_id).await;
            return Err(refused);
        }
    };
    let db = state.db.clone();
    let client = address.map(|a| a.to_string()).unwrap_or_else(|| "unknown".into());
    let outcome = tokio::task::spawn_blocking(move || {
        let _slot = permit;
        login_flow::login(&db, &body.email, &body.password, &client)
    })
    .await
    .map_err(ApiError::internal)?;
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
                refused_login(&state, &email, &err.to_string(), request_id).await;
            }
            Err(err.into())
        }
    }
}

/// Audits a refused login, folded per e-mail and minute.
async fn refused_login(state: &AppState, email: &str, reason: &str, request_id: Option<String>) {
    let email: String = email.chars().take(254).collect();
    let refusal = Refusal {
        kind: Kind { company_id: None, action: "auth.login".into(), actor_id: None, subject: email.clone() },
        outcome: Outcome::Failure,
        object_type: "user".into(),
        object_id: None,
        request_id,
        detail: serde_json::json!({ "email": email, "reason": reason }),
    };
    super::audit_refusal(state, refusal).await;
}
