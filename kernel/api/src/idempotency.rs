//! `Idempotency-Key` on POST requests: the same key with the same request answers the first
//! answer again without doing the work twice; with a different request it is a 422; while the
//! first runs, a 409. Keys are per credential (the bearer token or webhook secret) and are
//! remembered for the node's `idempotency_ttl` (24 hours by default). A request that failed on
//! the server's side (5xx) saved nothing and forgets its key, so the client may retry it.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;
use erp_kernel::fair_use::idempotency::{self, Claim, MAX_KEY_LEN};
use erp_kernel::plugins::package::sha256;

/// Largest request body a keyed request may have (a plugin package is the largest).
const MAX_REQUEST_BYTES: usize = erp_kernel::plugins::package::MAX_PACKAGE_BYTES + 64 * 1024;
/// Largest answer remembered; a larger one is answered but its key forgotten.
const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;

/// The middleware.
pub(crate) async fn layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    let Some(raw) = req.headers().get("idempotency-key") else {
        return next.run(req).await;
    };
    let key = match raw.to_str() {
        Ok(k) if !k.is_empty() && k.len() <= MAX_KEY_LEN && k.bytes().all(|b| b.is_ascii_graphic()) => k.to_string(),
        _ => {
            return ApiError::bad_request(format!(
                "the Idempotency-Key header must be 1 to {MAX_KEY_LEN} visible ASCII characters"
            ))
            .into_response();
        }
    };
    let credential = ["authorization", "x-webhook-secret"]
        .iter()
        .find_map(|h| req.headers().get(*h).and_then(|v| v.to_str().ok()).map(str::to_string));
    // Anonymous requests (login) are not remembered: their answers are nobody's to replay.
    let Some(credential) = credential else {
        return next.run(req).await;
    };
    let owner = sha256(credential.as_bytes());
    let (parts, body) = req.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_REQUEST_BYTES).await else {
        return ApiError::too_large("the request body is too large").into_response();
    };
    let mut fingerprint = Vec::with_capacity(bytes.len() + 256);
    fingerprint.extend_from_slice(parts.method.as_str().as_bytes());
    fingerprint.push(b' ');
    fingerprint.extend_from_slice(parts.uri.to_string().as_bytes());
    fingerprint.push(b'\n');
    fingerprint.extend_from_slice(&bytes);
    let request_hash = sha256(&fingerprint);
    let settings = &state.platform.fair.settings;
    let (ttl, running_for) = (settings.idempotency_ttl, settings.deadline * 2);
    let claimed = {
        let (owner, key, hash) = (owner.clone(), key.clone(), request_hash.clone());
        state.db.write(move |conn| idempotency::claim(conn, &owner, &key, &hash, running_for)).await
    };
    match claimed {
        Ok(Claim::Run) => {}
        Ok(Claim::Replay { status, response }) => return replay(status, &response),
        Ok(Claim::Mismatch) => {
            return ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "this Idempotency-Key was used with a different request; use a new key for a new request",
            )
            .into_response();
        }
        Ok(Claim::Running) => return in_use(),
        Err(e) if e.is_unique_violation() => return in_use(),
        Err(e) => return ApiError::from(e).into_response(),
    }
    let response = next.run(Request::from_parts(parts, Body::from(bytes))).await;
    let status = response.status();
    let (head, body) = response.into_parts();
    let body = to_bytes(body, MAX_ANSWER_BYTES).await;
    let remember = !status.is_server_error() && body.is_ok();
    let stored = match (&body, remember) {
        (Ok(b), true) => {
            let content_type = head.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
            let envelope = json!({ "content_type": content_type, "body": String::from_utf8_lossy(b) }).to_string();
            let (owner, key) = (owner.clone(), key.clone());
            state.db.write(move |conn| idempotency::finish(conn, &owner, &key, status.as_u16(), &envelope, ttl)).await
        }
        _ => state.db.write(move |conn| idempotency::forget(conn, &owner, &key)).await,
    };
    if let Err(e) = stored {
        tracing::error!(error = %e, "could not remember an idempotency key");
    }
    match body {
        Ok(b) => Response::from_parts(head, Body::from(b)),
        Err(_) => ApiError::internal("the answer could not be read").into_response(),
    }
}

fn in_use() -> Response {
    ApiError::new(
        StatusCode::CONFLICT,
        "idempotency_key_in_use",
        "a request with this Idempotency-Key is still running; retry shortly",
    )
    .with_retry_after(1)
    .into_response()
}

fn replay(status: u16, stored: &str) -> Response {
    let envelope: Value = serde_json::from_str(stored).unwrap_or(Value::Null);
    let body = envelope["body"].as_str().unwrap_or("").to_string();
    let content_type = envelope["content_type"].as_str().unwrap_or("application/json").to_string();
    let mut response = (StatusCode::from_u16(status).unwrap_or(StatusCode::OK), body).into_response();
    if let Ok(v) = HeaderValue::from_str(&content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    response.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}
