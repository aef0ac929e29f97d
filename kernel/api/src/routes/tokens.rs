//! `/api/v1/auth/tokens`: the caller's API tokens; create, list, revoke.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::time;
use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, Auth};
use erp_kernel::audit::{self, Entry, Outcome};
use erp_kernel::clock;
use erp_kernel::identity::tokens::{self as token_store, TokenInfo, TokenKind};
use erp_kernel::ids;
use erp_kernel::validation::{Checker, is_display_name};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateToken {
    /// A label to recognise the token by.
    #[schema(schema_with = super::doc::display_name)]
    name: String,
    /// Lifetime in days, 1 to 3650; 90 when not given. Every API token expires.
    #[schema(minimum = 1, maximum = 3650, default = 90)]
    expires_in_days: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct NewToken {
    /// Token id (for revocation).
    id: String,
    /// The bearer token. Shown once; only its hash is stored.
    token: String,
    /// Label.
    name: String,
    /// Expiry, if any.
    expires_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct TokenOut {
    /// Token id.
    id: String,
    /// `session` (from a login) or `api`.
    kind: &'static str,
    /// Label.
    name: String,
    /// Creation time.
    created_at: String,
    /// Expiry, if any.
    expires_at: Option<String>,
    /// Revocation time, if revoked.
    revoked_at: Option<String>,
}

impl From<TokenInfo> for TokenOut {
    fn from(t: TokenInfo) -> TokenOut {
        TokenOut {
            id: t.id,
            kind: match t.kind {
                TokenKind::Session => "session",
                TokenKind::Api => "api",
            },
            name: t.name,
            created_at: time(t.created_at),
            expires_at: t.expires_at.map(time),
            revoked_at: t.revoked_at.map(time),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct TokenList {
    /// The caller's tokens, newest first.
    items: Vec<TokenOut>,
}

/// Lists the caller's tokens (never the secrets).
#[utoipa::path(get, path = "/api/v1/auth/tokens", tag = "identity", security(("bearer" = [])), responses((status = 200, body = TokenList)))]
pub(crate) async fn list_tokens(auth: Auth, State(state): State<AppState>) -> Result<Json<TokenList>, ApiError> {
    let user_id = auth.user.id.clone();
    let items = state.db.read(move |conn| token_store::list(conn, &user_id).map_err(ApiError::from)).await?;
    Ok(Json(TokenList { items: items.into_iter().map(TokenOut::from).collect() }))
}

/// Creates an API token for the caller.
#[utoipa::path(post, path = "/api/v1/auth/tokens", tag = "identity", security(("bearer" = [])), request_body = CreateToken,
    responses((status = 201, body = NewToken), (status = 422, description = "invalid input")))]
pub(crate) async fn create_token(
    auth: Auth,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateToken>,
) -> Result<(StatusCode, Json<NewToken>), ApiError> {
    let mut c = Checker::new();
    c.check(is_display_name(&body.name), "name", "must be 1 to 200 characters");
    c.check(
        body.expires_in_days.is_none_or(|d| (1..=3650).contains(&d)),
        "expires_in_days",
        "must be between 1 and 3650",
    );
    c.finish()?;
    let days = body.expires_in_days.unwrap_or(token_store::DEFAULT_API_TOKEN_DAYS);
    let expires_at = Some(clock::now() + clock::seconds(i64::from(days) * 86_400));
    let actor = auth.actor();
    let user_id = auth.user.id.clone();
    let issued = state
        .db
        .write(move |conn| {
            let issued = token_store::issue(conn, &user_id, TokenKind::Api, body.name.trim(), expires_at)?;
            audit::record(
                conn,
                Entry {
                    company_id: None,
                    actor: &actor,
                    action: "token.create",
                    object_type: "token",
                    object_id: Some(&issued.info.id),
                    outcome: Outcome::Success,
                    detail: serde_json::json!({ "name": issued.info.name }),
                },
            )?;
            Ok::<_, ApiError>(issued)
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(NewToken {
            id: issued.info.id,
            token: issued.secret,
            name: issued.info.name,
            expires_at: issued.info.expires_at.map(time),
        }),
    ))
}

/// Revokes the token used for this request (log out). It stops working immediately.
#[utoipa::path(delete, path = "/api/v1/auth/tokens", tag = "identity", security(("bearer" = [])), responses((status = 204, description = "revoked")))]
pub(crate) async fn revoke_current(auth: Auth, State(state): State<AppState>) -> Result<StatusCode, ApiError> {
    revoke(&state, &auth, auth.token_id.clone()).await
}

#[derive(Serialize, ToSchema)]
pub(crate) struct Revoked {
    /// How many live tokens were revoked.
    revoked: usize,
}

/// Revokes every live token of the caller, this one included: all sessions and API tokens
/// stop working at once (after a lost laptop or a leaked token).
#[utoipa::path(post, path = "/api/v1/auth/tokens/revoke-all", tag = "identity", security(("bearer" = [])),
    responses((status = 200, body = Revoked)))]
pub(crate) async fn revoke_all(auth: Auth, State(state): State<AppState>) -> Result<Json<Revoked>, ApiError> {
    let actor = auth.actor();
    let user_id = auth.user.id.clone();
    let revoked = state
        .db
        .write(move |conn| {
            let revoked = token_store::revoke_all(conn, &user_id)?;
            audit::record(
                conn,
                Entry {
                    company_id: None,
                    actor: &actor,
                    action: "token.revoke_all",
                    object_type: "user",
                    object_id: Some(&user_id),
                    outcome: Outcome::Success,
                    detail: serde_json::json!({ "revoked": revoked }),
                },
            )?;
            Ok::<_, ApiError>(revoked)
        })
        .await?;
    Ok(Json(Revoked { revoked }))
}

/// Revokes one of the caller's tokens by id.
#[utoipa::path(delete, path = "/api/v1/auth/tokens/{token_id}", tag = "identity", security(("bearer" = [])),
    params(("token_id" = String, Path, description = "Token id")), responses((status = 204, description = "revoked"), (status = 404, description = "no such live token")))]
pub(crate) async fn revoke_token(
    auth: Auth,
    State(state): State<AppState>,
    ApiPath(token_id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let token_id = ids::parse(&token_id).ok_or_else(ApiError::not_found)?;
    revoke(&state, &auth, token_id).await
}

async fn revoke(state: &AppState, auth: &Auth, token_id: String) -> Result<StatusCode, ApiError> {
    let actor = auth.actor();
    let user_id = auth.user.id.clone();
    state
        .db
        .write(move |conn| {
            token_store::revoke(conn, &user_id, &token_id)?;
            audit::record(
                conn,
                Entry {
                    company_id: None,
                    actor: &actor,
                    action: "token.revoke",
                    object_type: "token",
                    object_id: Some(&token_id),
                    outcome: Outcome::Success,
                    detail: serde_json::json!({}),
                },
            )?;
            Ok::<_, ApiError>(())
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
