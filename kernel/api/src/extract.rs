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

/// A JSON body, always a JSON object. Malformed JSON is 400, a wrong shape (types, unknown or
/// missing fields, anything but an object at the top) is 422, a body over the limit is 413, a
/// missing JSON content type is 415.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let (value, bytes) = json_body::<T, S>(req, state).await?;
        // serde reads a struct from a JSON array too; these bodies are objects only.
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(ApiError::unprocessable("the body must be a JSON object"));
        }
        Ok(ApiJson(value))
    }
}

/// A JSON body of any kind (a plugin command's input), with the errors of [`ApiJson`].
#[derive(Debug)]
pub struct AnyJson(pub serde_json::Value);

impl<S: Send + Sync> FromRequest<S> for AnyJson {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        json_body(req, state).await.map(|(value, _)| AnyJson(value))
    }
}

async fn json_body<T: DeserializeOwned, S: Send + Sync>(
    req: Request,
    state: &S,
) -> Result<(T, axum::body::Bytes), ApiError> {
    if !is_json(req.headers()) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "expected Content-Type: application/json",
        ));
    }
    let bytes = read_body(req, state).await?;
    let value = axum::Json::<T>::from_bytes(&bytes).map_err(json_rejection)?.0;
    if has_nul(&bytes) {
        return Err(ApiError::unprocessable("text in the body must not contain NUL characters (U+0000)"));
    }
    Ok((value, bytes))
}

/// True when JSON text holds a NUL character: `\u0000` is the only way one can appear in it.
/// (No database stores NUL in text, so the API refuses it everywhere.)
fn has_nul(json: &[u8]) -> bool {
    let mut bytes = json.iter().enumerate();
    while let Some((i, &b)) = bytes.next() {
        if b == b'\\' {
            if json.get(i + 1..i + 6) == Some(&b"u0000"[..]) {
                return true;
            }
            // The escaped character is never the start of another escape.
            bytes.next();
        }
    }
    false
}

/// True when a URI part holds a percent-encoded NUL.
fn has_encoded_nul(text: &str) -> bool {
    text.contains("%00")
}

/// `Content-Type: application/json`, or another `application/...+json`.
fn is_json(headers: &axum::http::HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    match essence.split_once('/') {
        Some(("application", subtype)) => subtype == "json" || subtype.ends_with("+json"),
        _ => false,
    }
}

/// The whole body, with a JSON 413 for one over the limit.
async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<axum::body::Bytes, ApiError> {
    match axum::body::Bytes::from_request(req, state).await {
        Ok(b) => Ok(b),
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(ApiError::too_large("request body is too large")),
        Err(e) if e.body_text().contains("length limit") => Err(ApiError::too_large("request body is too large")),
        Err(e) => Err(ApiError::bad_request(e.body_text())),
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
        read_body(req, state).await.map(RawBody)
    }
}

/// Path parameters. Anything that does not parse (or holds a NUL) is simply not found.
#[derive(Debug)]
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        if has_encoded_nul(parts.uri.path()) {
            return Err(ApiError::not_found());
        }
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|_| ApiError::not_found())
    }
}

/// Query-string parameters; unknown or malformed ones (or ones holding a NUL) are 400.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        if parts.uri.query().is_some_and(has_encoded_nul) {
            return Err(ApiError::bad_request("query parameters must not contain NUL characters (U+0000)"));
        }
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
    /// The caller's language (`Accept-Language`), which plugins see as their call's locale.
    pub locale: &'static str,
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

/// The caller's network address, when the server knows it (the connection's peer; requests
/// the web UI makes on a visitor's behalf carry the visitor's).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub Option<std::net::IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>();
        Ok(ClientAddr(peer.map(|c| c.0.ip())))
    }
}

/// The first language of `Accept-Language` that the platform speaks (`ru` or `en`); English
/// otherwise.
pub fn locale_of(headers: &axum::http::HeaderMap) -> &'static str {
    let Some(value) = headers.get(axum::http::header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()) else {
        return "en";
    };
    for tag in value.split(',') {
        let primary = tag.split(';').next().unwrap_or_default().trim().split('-').next().unwrap_or_default();
        match primary.to_ascii_lowercase().as_str() {
            "ru" => return "ru",
            "en" => return "en",
            _ => {}
        }
    }
    "en"
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
            .and_then(|h| h.trim().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, s)| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ApiError::unauthenticated("Authorization must be: Bearer <token>"))?;
        let found = state.db.read(move |conn| tokens::authenticate(conn, &secret).map_err(ApiError::from)).await?;
        let (user, token_id) =
            found.ok_or_else(|| ApiError::unauthenticated("token is invalid, expired or revoked"))?;
        Ok(Auth { user, token_id, request_id: request_id_of(&parts.headers), locale: locale_of(&parts.headers) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_callers_language_is_the_first_one_the_platform_speaks() {
        let with = |v: &str| {
            let mut h = axum::http::HeaderMap::new();
            h.insert(axum::http::header::ACCEPT_LANGUAGE, v.parse().expect("header"));
            locale_of(&h)
        };
        assert_eq!(with("ru-RU,ru;q=0.9,en-US;q=0.8"), "ru");
        assert_eq!(with("de-DE, en;q=0.5, ru;q=0.3"), "en");
        assert_eq!(with("fr, RU"), "ru");
        assert_eq!(with("*"), "en");
        assert_eq!(locale_of(&axum::http::HeaderMap::new()), "en");
    }
}
