//! Request extractors whose rejections are JSON [`ApiError`]s: bodies, paths, queries and the
//! authenticated caller.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use super::AppState;
use super::error::ApiError;
use erp_kernel::audit::Actor;
use erp_kernel::identity::{User, tokens};

/// A JSON body. Malformed JSON is 400, a wrong shape (types, unknown or missing fields) is
/// 422, a body over the limit is 413, a missing JSON content type is 415.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    let text = rejection.body_text();
    match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::too_large("request body is too large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "expected Content-Type: application/json",
        ),
        StatusCode::UNPROCESSABLE_ENTITY => ApiError::unprocessable(text),
        StatusCode::BAD_REQUEST if text.contains("length limit") => ApiError::too_large("request body is too large"),
        _ => ApiError::bad_request(text),
    }
}

/// A raw request body (plugin packages, webhook payloads), with JSON errors for bodies over
/// the limit.
#[derive(Debug)]
pub struct RawBody(pub axum::body::Bytes);

impl<S> FromRequest<S> for RawBody
where
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::body::Bytes::from_request(req, state).await {
            Ok(b) => Ok(RawBody(b)),
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::too_large("request body is too large"))
            }
            Err(e) if e.body_text().contains("length limit") => Err(ApiError::too_large("request body is too large")),
            Err(e) => Err(ApiError::bad_request(e.body_text())),
        }
    }
}

/// Path parameters. Anything that does not parse is simply not found.
#[derive(Debug)]
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|_| ApiError::not_found())
    }
}

/// Query-string parameters; unknown or malformed ones are 400.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|e| ApiError::bad_request(e.body_text()))
    }
}

/// The authenticated caller: a bearer token resolved to a user. Identity only ever comes from
/// here, never from request parameters or bodies.
#[derive(Debug, Clone)]
pub struct Auth {
    /// The calling user.
    pub user: User,
    /// Id of the token used for this request.
    pub token_id: String,
    /// The request id, for the audit log.
    pub request_id: Option<String>,
}

impl Auth {
    /// The caller as an audit actor.
    pub fn actor(&self) -> Actor {
        Actor::user(&self.user.id, self.request_id.as_deref())
    }

    /// `Forbidden` unless the caller is a platform operator.
    pub fn require_superadmin(&self) -> Result<(), ApiError> {
        if self.user.is_superadmin { Ok(()) } else { Err(ApiError::forbidden("only platform operators may do this")) }
    }
}

/// The `x-request-id` header set by the request-id layer.
pub fn request_id_of(headers: &axum::http::HeaderMap) -> Option<String> {
    headers.get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_string)
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthenticated("missing Authorization: Bearer token"))?;
        let secret = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(|s| s.trim().to_string())
            .ok_or_else(|| ApiError::unauthenticated("Authorization must be: Bearer <token>"))?;
        let found = state.db.read(move |conn| tokens::authenticate(conn, &secret).map_err(ApiError::from)).await?;
        let (user, token_id) =
            found.ok_or_else(|| ApiError::unauthenticated("token is invalid, expired or revoked"))?;
        Ok(Auth { user, token_id, request_id: request_id_of(&parts.headers) })
    }
}
