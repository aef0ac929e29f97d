//! Files in the UI: uploads from the form's file inputs and downloads of what records hold,
//! both streamed through the API as the visitor (so the API's permission checks decide).

use axum::body::Body;
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{Ctx, encode, session};

/// `?name=` of an upload.
#[derive(Deserialize)]
pub(super) struct UploadQuery {
    name: String,
}

/// `POST /c/{company}/files?name=`: the file input's script sends the file here with the
/// page's CSRF token in `X-CSRF-Token`; the answer is the API's (`{"id", "name", ...}`).
pub(super) async fn upload(
    ctx: Ctx,
    Path(cid): Path<String>,
    Query(q): Query<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let token = headers.get("x-csrf-token").and_then(|v| v.to_str().ok());
    if !session::csrf_ok(&ctx.secret, token) {
        let message = ctx.t("csrf");
        let body = serde_json::json!({ "error": { "code": "csrf", "message": message } });
        return (StatusCode::FORBIDDEN, axum::Json(body)).into_response();
    }
    let path = format!("/api/v1/companies/{cid}/files?name={}", encode(&q.name));
    ctx.api.pass(Method::POST, &path, &headers, body).await
}

/// `GET /c/{company}/files/{file}`: the file, if the visitor may read the record holding it.
pub(super) async fn download(ctx: Ctx, Path((cid, fid)): Path<(String, String)>) -> Response {
    let path = format!("/api/v1/companies/{cid}/files/{}", encode(&fid));
    let answer = ctx.api.pass(Method::GET, &path, &HeaderMap::new(), Body::empty()).await;
    if answer.status().is_success() {
        return answer;
    }
    let failure = ctx.api.failure_of(answer).await;
    ctx.fail(&failure)
}

/// The headers a passed-through request keeps: what an upload is and how long, and where a
/// reconnecting event stream left off.
pub(super) fn forwarded(headers: &HeaderMap) -> impl Iterator<Item = (&header::HeaderName, &header::HeaderValue)> {
    headers
        .iter()
        .filter(|(k, _)| *k == header::CONTENT_TYPE || *k == header::CONTENT_LENGTH || k.as_str() == "last-event-id")
}
