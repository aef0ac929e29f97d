//! `/api/v1/companies/{id}/files`: uploads streamed to the kernel's file store, and downloads
//! that only whoever may read the record holding the file gets (its uploader until then).
//! Every other case, another company's file included, is a plain 404.

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::UtoipaMethodRouter;
use utoipa_axum::routes;

use super::{company_read, time};
use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery, Auth};
use erp_kernel::audit::{self, Actor, Entry, Outcome};
use erp_kernel::files::{FileError, FileRow, Uploaded, catalog, names};
use erp_kernel::ids;
use erp_kernel::records::{self, Caller};

/// A stored file.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct FileOut {
    /// Id: put it in a record's file field to attach the file.
    id: String,
    /// Name.
    name: String,
    /// Bytes.
    size: i64,
    /// Content type.
    content_type: String,
    /// Upload time.
    created_at: String,
}

fn out(f: &FileRow) -> FileOut {
    FileOut {
        id: f.id.clone(),
        name: f.name.clone(),
        size: f.size,
        content_type: f.content_type.clone(),
        created_at: time(f.created_at),
    }
}

/// `?name=` of an upload.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct UploadQuery {
    /// The file's name, such as `offer.pdf` (a path is cut to its last part).
    #[param(schema_with = super::doc::file_name)]
    name: String,
}

impl From<FileError> for ApiError {
    fn from(e: FileError) -> Self {
        match e {
            FileError::TooLarge { .. } => ApiError::too_large(e.to_string()),
            FileError::Quota { .. } => ApiError::quota(e.to_string()),
            FileError::Invalid(m) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", m)
                .with_fields(vec![erp_kernel::validation::FieldError::new("name", m)]),
            FileError::NotFound => ApiError::not_found(),
            FileError::Interrupted => ApiError::bad_request(e.to_string()),
            FileError::Store(s) => s.into(),
            FileError::Seal(_) | FileError::Io(_) => ApiError::internal(e),
        }
    }
}

/// The upload route, without the JSON body limit: files are streamed and limited by size on
/// their own.
pub(super) fn upload_route() -> UtoipaMethodRouter<AppState> {
    let (schemas, paths, router) = routes!(upload_file);
    (schemas, paths, router.layer(DefaultBodyLimit::disable()))
}

/// Uploads a file: the body is its content, `Content-Type` its type. The answer's `id` goes
/// into a record's file field to attach it; a file not attached within a day is removed.
/// Larger than the server's file limit is 413, past the company's room for files 507; either
/// way, and when the upload breaks off, nothing is kept.
#[utoipa::path(post, path = "/api/v1/companies/{id}/files", tag = "files", security(("bearer" = [])),
    params(("id" = String, Path, description = "Company id"), UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The file's content"),
    responses((status = 201, body = FileOut), (status = 404, description = "no such company"), (status = 413, description = "larger than a file may be"), (status = 422, description = "no usable name"), (status = 507, description = "the company's room for files is full")))]
pub(crate) async fn upload_file(
    auth: Auth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<impl IntoResponse, ApiError> {
    names::clean_name(&q.name).map_err(FileError::Invalid)?;
    let files = state.platform.files.clone();
    let declared: Option<u64> =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    let (company, used) = company_read(&state, &auth, &id, |conn, scope| {
        Ok((scope.company_id.clone(), catalog::usage(conn, &scope.company_id)?))
    })
    .await?;
    // Refused before a byte is read when the declared size already says no.
    if let Some(len) = declared {
        if len > files.max_file_bytes() {
            return Err(FileError::TooLarge { limit: files.max_file_bytes() }.into());
        }
        if let Some(limit) = files.company_bytes()
            && used.bytes.saturating_add(len as i64) > limit
        {
            return Err(FileError::Quota { limit, used: used.bytes, size: len as i64 }.into());
        }
    }
    let mut upload = files.begin_upload().await?;
    let mut stream = body.into_data_stream();
    while let Some(piece) = stream.next().await {
        let piece = piece.map_err(|_| FileError::Interrupted)?;
        upload.write(&piece).await?;
    }
    if declared.is_some_and(|len| len != upload.size()) {
        return Err(FileError::Interrupted.into());
    }
    let staged = upload.finish().await?;
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string);
    let uploaded =
        Uploaded { company_id: company.clone(), name: q.name, content_type, uploaded_by: Some(auth.user.id.clone()) };
    let row = files.keep(&state.db, staged, uploaded).await?;
    let actor = auth.actor();
    let detail = serde_json::json!({ "name": row.name, "size": row.size });
    audit_file(&state, actor, &company, "file.upload", &row.id, detail).await;
    Ok((StatusCode::CREATED, axum::Json(out(&row))))
}

async fn audit_file(
    state: &AppState,
    actor: Actor,
    company: &str,
    action: &'static str,
    file_id: &str,
    detail: serde_json::Value,
) {
    let (company, file_id) = (company.to_string(), file_id.to_string());
    let written = state
        .db
        .write(move |conn| {
            audit::record(
                conn,
                Entry {
                    company_id: Some(&company),
                    actor: &actor,
                    action,
                    object_type: "file",
                    object_id: Some(&file_id),
                    outcome: Outcome::Success,
                    detail,
                },
            )
        })
        .await;
    if let Err(e) = written {
        tracing::error!(error = %e, action, "could not audit a file");
    }
}

/// Audits a download and, for a file on a record, publishes `kernel.file.downloaded` so that
/// the record's plugin can keep its own access log (a drive's "who downloaded what").
async fn record_download(state: &AppState, auth: &Auth, company: &str, file: &FileRow) {
    let platform = state.platform.clone();
    let file = file.clone();
    let written = super::company_work(state, auth, company, "file.download", move |session, scope, actor| {
        let detail = serde_json::json!({ "name": file.name, "record_id": file.record_id });
        audit::record(
            session.conn()?,
            Entry {
                company_id: Some(&file.company_id),
                actor,
                action: "file.download",
                object_type: "file",
                object_id: Some(&file.id),
                outcome: Outcome::Success,
                detail,
            },
        )?;
        if let (Some(plugin), Some(collection), Some(record_id)) = (&file.plugin, &file.collection, &file.record_id) {
            // Ids only: the event log shows it to readers of the record, and plugins look up
            // the rest through the record.
            let payload = serde_json::json!({
                "file_id": file.id, "plugin": plugin, "collection": collection, "record_id": record_id,
                "field": file.field, "user_id": scope.user(),
            });
            super::kernel_event(&platform, session, "kernel.file.downloaded", payload)?;
        }
        Ok(())
    })
    .await;
    if let Err(e) = written {
        tracing::error!(error = %e.message, "could not record a download");
    }
}

/// The file if the caller may have it: through the record that holds it, or as its uploader
/// while it is attached nowhere. Anything else is not found, so a file's existence leaks to
/// nobody.
fn readable(
    platform: &erp_kernel::Platform,
    conn: &mut erp_kernel::storage::DbConn,
    scope: &erp_kernel::access::CompanyScope,
    file_id: &str,
) -> Result<FileRow, ApiError> {
    let file = catalog::get(conn, &scope.company_id, file_id)?.ok_or_else(ApiError::not_found)?;
    let (Some(plugin), Some(coll)) = (&file.plugin, &file.collection) else {
        return if file.uploaded_by.is_some() && file.uploaded_by.as_deref() == scope.user() {
            Ok(file)
        } else {
            Err(ApiError::not_found())
        };
    };
    let coll = super::records::collection(platform, conn, &scope.company_id, plugin, coll)
        .map_err(|_| ApiError::not_found())?;
    if records::holds_file(conn, Caller::User(scope), &coll, &file)? { Ok(file) } else { Err(ApiError::not_found()) }
}

/// Downloads a file. Pictures, PDF and plain text open in place; every other type (HTML and
/// SVG included) comes as `application/octet-stream` to be saved. Each download is in the
/// audit log.
#[utoipa::path(get, path = "/api/v1/companies/{id}/files/{file_id}", tag = "files", security(("bearer" = [])),
    params(("id" = String, Path, description = "Company id"), ("file_id" = String, Path, description = "File id")),
    responses((status = 200, description = "The file's content", content_type = "application/octet-stream"), (status = 404, description = "no such file, or not one the caller may read")))]
pub(crate) async fn download_file(
    auth: Auth,
    State(state): State<AppState>,
    ApiPath((id, file_id)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    let file_id = ids::parse(&file_id).ok_or_else(ApiError::not_found)?;
    let platform = state.platform.clone();
    let file = company_read(&state, &auth, &id, move |conn, scope| readable(&platform, conn, scope, &file_id)).await?;
    let content = state.platform.files.read(&file).await?;
    record_download(&state, &auth, &id, &file).await;
    let inline = names::shown_inline(&file.content_type);
    let content_type = if inline { file.content_type.as_str() } else { "application/octet-stream" };
    let mut response = Body::from_stream(content).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(content_type).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(file.size));
    if let Ok(v) = HeaderValue::from_str(&disposition(inline, &file.name)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    // Whatever the bytes are, a browser runs nothing from them. A PDF is shown by the
    // browser's own viewer, which a sandboxed page may not load.
    let policy = if content_type == "application/pdf" {
        "default-src 'none'; frame-ancestors 'self'"
    } else {
        "sandbox; default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'"
    };
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(policy));
    Ok(response)
}

/// `Content-Disposition` with an ASCII fallback name and the real one in RFC 5987 form.
fn disposition(inline: bool, name: &str) -> String {
    let fallback: String = name
        .chars()
        .map(
            |c| if c.is_ascii_graphic() && c != '"' && c != '\\' && c != ';' && c != '%' || c == ' ' { c } else { '_' },
        )
        .collect();
    let mut encoded = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    let kind = if inline { "inline" } else { "attachment" };
    format!("{kind}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispositions_carry_any_name_safely() {
        assert_eq!(
            disposition(false, "Счёт \"5\".pdf"),
            "attachment; filename=\"____ _5_.pdf\"; filename*=UTF-8''%D0%A1%D1%87%D1%91%D1%82%20%225%22.pdf"
        );
        assert_eq!(disposition(true, "a;b.png"), "inline; filename=\"a_b.png\"; filename*=UTF-8''a%3Bb.png");
    }
}
