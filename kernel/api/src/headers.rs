//! Headers every answer carries: `X-Content-Type-Options: nosniff`, and `Cache-Control:
//! no-store` (answers hold personal data) unless the handler chose its own caching, as the
//! UI's static assets do.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// Adds the protective headers to an answer's headers.
pub fn protect(headers: &mut HeaderMap) {
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
}

/// Middleware adding [`protect`]'s headers to every answer.
pub(crate) async fn layer(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    protect(response.headers_mut());
    response
}
