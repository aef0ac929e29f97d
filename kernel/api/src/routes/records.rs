//! `/api/v1/companies/{id}/data/{plugin}/{collection}`: records of the collections enabled
//! plugins declare. Reads and writes need the collection's permissions; sensitive fields are
//! hidden from callers without its sensitive permission; a plugin not enabled in the company
//! is invisible (404).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::{ListOf, PageQuery, company_read, company_work, time};
use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use erp_kernel::Platform;
use erp_kernel::audit::{self, Actor, Entry, Outcome};
use erp_kernel::ids;
use erp_kernel::records::aggregate::AggregateRequest;
use erp_kernel::records::query::QueryRequest;
use erp_kernel::records::{self, Caller, Collection, StoredRecord};
use erp_kernel::session::Session;
use erp_kernel::storage::DbConn;

/// A record as clients see it.
#[derive(Serialize, ToSchema)]
pub(crate) struct RecordOut {
    /// Record id.
    id: String,
    /// Version; send it back in `If-Match` to detect concurrent changes.
    version: i64,
    /// The fields.
    #[schema(value_type = Object)]
    data: serde_json::Map<String, Value>,
    /// Creation time.
    created_at: String,
    /// Last change.
    updated_at: String,
    /// Creator.
    created_by: Option<String>,
    /// Last editor.
    updated_by: Option<String>,
}

fn out(r: StoredRecord) -> RecordOut {
    RecordOut {
        id: r.id,
        version: r.version,
        data: r.data,
        created_at: time(r.created_at),
        updated_at: time(r.updated_at),
        created_by: r.created_by,
        updated_by: r.updated_by,
    }
}

fn etag(version: i64) -> [(header::HeaderName, HeaderValue); 1] {
    [(header::ETAG, HeaderValue::from_str(&format!("\"{version}\"")).unwrap_or(HeaderValue::from_static("\"0\"")))]
}

/// The version in `If-Match`, if any (`"3"` or `3`).
fn if_match(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    match headers.get(header::IF_MATCH) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .ok()
            .map(|s| s.trim().trim_start_matches("W/").trim_matches('"'))
            .and_then(|s| s.parse::<i64>().ok())
            .map(Some)
            .ok_or_else(|| ApiError::bad_request("If-Match must be a record version such as \"3\"")),
    }
}

/// The collection of an enabled plugin; not found otherwise.
pub(super) fn collection(
    platform: &Platform,
    conn: &mut DbConn,
    company_id: &str,
    plugin: &str,
    name: &str,
) -> Result<Collection, ApiError> {
    let active = platform.plugins.active(conn, company_id, plugin)?;
    Collection::new(active.loaded.manifest.clone(), name).ok_or_else(ApiError::not_found)
}

fn record_id(raw: &str) -> Result<String, ApiError> {
    ids::parse(raw).ok_or_else(ApiError::not_found)
}

fn audit_record(
    session: &mut Session,
    actor: &Actor,
    action: &str,
    coll: &Collection,
    id: &str,
) -> Result<(), ApiError> {
    let company = session.company_id.clone();
    audit::record(
        session.conn()?,
        Entry {
            company_id: Some(&company),
            actor,
            action,
            object_type: &coll.qualified(),
            object_id: Some(id),
            outcome: Outcome::Success,
            detail: serde_json::json!({}),
        },
    )?;
    Ok(())
}

/// Lists records, oldest first.
#[utoipa::path(get, path = "/api/v1/companies/{id}/data/{plugin}/{collection}", tag = "records", security(("bearer" = [])),
    params(("id" = String, Path, description = "Company id"), ("plugin" = String, Path, description = "Plugin name"), ("collection" = String, Path, description = "Collection name"), super::query_doc::RecordPageQuery),
    responses((status = 200, body = ListOf<RecordOut>), (status = 403, description = "missing the read permission"), (status = 404, description = "no such company, plugin or collection"), (status = 422, description = "the cursor is not one of this collection's")))]
pub(crate) async fn list_records(
    auth: Auth,
    State(state): State<AppState>,
    ApiPath((id, plugin, name)): ApiPath<(String, String, String)>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<ListOf<RecordOut>>, ApiError> {
    let req = QueryRequest { limit: q.limit, cursor: q.cursor.clone(), ..QueryRequest::default() };
    let platform = state.platform.clone();
    let page = company_read(&state, &auth, &id, move |conn, scope| {
        let coll = collection(&platform, conn, &scope.company_id, &plugin, &name)?;
        Ok(records::find(conn, &scope.company_id, Caller::User(scope), &coll, &req)?)
    })
    .await?;
    Ok(Json(ListOf { items: page.records.into_iter().map(out).collect(), next_cursor: page.next_cursor }))
}

/// Creates a record from a JSON object of fields.
#[utoipa::path(post, path = "/api/v1/companies/{id}/data/{plugin}/{collection}", tag = "records", security(("bearer" = [])),
    request_body(content = Object, description = "The record's fields"),
    params(("id" = String, Path, description = "Company id"), ("plugin" = String, Path, description = "Plugin name"), ("collection" = String, Path, description = "Collection name")),
    responses((status = 201, body = RecordOut), (status = 403, description = "missing the write permission"), (status = 404, description = "no such company, plugin or collection"), (status = 422, description = "invalid fields, or the plugin's validation refused")))]
pub(crate) async fn create_record(
    auth: Auth,
    State(state): State<AppState>,
    ApiPath((id, plugin, name)): ApiPath<(String, String, String)>,
    ApiJson(data): ApiJson<Value>,
) -> Result<impl IntoResponse, ApiError> {
    let platform = state.platform.clone();
    let created = company_work(&state, &auth, &id, "record.create", move |session, scope, actor| {
        let company = session.company_id.clone();
        let coll = collection(&platform, session.conn()?, &company, &plugin, &name)?;
        let created = records::create(session, &platform, Caller::User(scope), &coll, data)?;
        audit_record(session, actor, "record.create", &coll, &created.id)?;
        Ok(created)
    })
    .await?;
    Ok((StatusCode::CREATED, etag(created.version), Json(out(created))))
}

/// One record, with its version in `ETag`.
#[utoipa::path(get, path = "/api/v1/companies/{id}/data/{plugin}/{collection}/{record_id}", tag = "records", security(("bearer" = [])),
    params(("id" = String, Path, description = "Company id"), ("plugin" = String, Path, description = "Plugin name"), ("collection" = String, Path, description = "Collection name"), ("record_id" = String, Path, description = "Record id")),
    responses((status = 200, body = RecordOut), (status = 403, description = "missing the read permission"), (status = 404, description = "no such record")))]
pub(crate) async fn get_record(
    auth: Auth,
    State(state): State<AppState>,
    ApiPath((id, plugin, name, rid)): ApiPath<(String, String, String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let rid = record_id(&rid)?;
    let platform = state.platform.clone();
    let found = company_read(&state, &auth, &id, move |conn, scope| {
        let coll = collection(&platform, conn, &scope.company_id, &plugin, &name)?;
        Ok(records::get(conn, &scope.company_id, Caller::User(scope), &coll, &rid)?)
    })
    .await?;
    Ok((etag(found.version), Json(out(found))))
}

/// Changes the fields in a JSON object (`null` clears one). With `If-Match: "<version>"`, a
/// concurrent change since that version is a 409.
#[utoipa::path(patch, path = "/api/v1/companies/{id}/data/{plugin}/{collection}/{record_id}", tag = "records", security(("bearer" = [])),
    request_body(content = Object, description = "Changed fields"),
    params(("id" = String, Path, description = "Company id"), ("plugin" = String, Path, description = "Plugin name"), ("collection" = String, Path, description = "Collection name"), ("record_id" = String, Path, description = "Record id")),
    responses((status = 200, body = RecordOut), (status = 403, description = "missing the write permission"), (status = 404, description = "no such record"), (status = 409, description = "stale version"), (status = 422, description = "invalid fields")))]
pub(crate) async fn update_record(
    auth: Auth,
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath((id, plugin, name, rid)): ApiPath<(String, String, String, String)>,
    ApiJson(patch): ApiJson<Value>,
) -> Result<impl IntoResponse, ApiError> {
    let rid = record_id(&rid)?;
    let expected = if_match(&headers)?;
    let platform = state.platform.clone();
    let updated = company_work(&state, &auth, &id, "record.update", move |session, scope, actor| {
        let company = session.company_id.clone();
        let coll = collection(&platform, session.conn()?, &company, &plugin, &name)?;
        let updated = records::update(session, &platform, Caller::User(scope), &coll, &rid, patch, expected)?;
        audit_record(session, actor, "record.update", &coll, &rid)?;
        Ok(updated)
    })
    .await?;
    Ok((etag(updated.version), Json(out(updated))))
}

/// Deletes a record that no other record refers to.
#[utoipa::path(delete, path = "/api/v1/companies/{id}/data/{plugin}/{collection}/{record_id}", tag = "records", security(("bearer" = [])),
    params(("id" = String, Path, description = "Company id"), ("plugin" = String, Path, description = "Plugin name"), ("collection" = String, Path, description = "Collection name"), ("record_id" = String, Path, description = "Record id")),
    responses((status = 204, description = "deleted"), (status = 403, description = "missing the write permission"), (status = 404, description = "no such record"), (status = 409, description = "stale version, or still referred to")))]
pub(crate) async fn delete_record(
    auth: Auth,
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath((id, plugin, name, rid)): ApiPath<(String, String, String, String)>,
) -> Result<StatusCode, ApiError> {
    let rid = record_id(&rid)?;
    let expected = if_match(&headers)?;
    let platform = state.platform.clone();
    company_work(&state, &auth, &id, "record.delete", move |session, scope, actor| {
        let company = session.company_id.clone();
        let coll = collection(&platform, session.conn()?, &company, &plugin, &name)?;
        records::delete(session, &platform, Caller::User(scope), &coll, &rid, expected)?;
        audit_record(session, actor, "record.delete", &coll, &rid)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Runs a query: `{"filter": {...}, "sort": {"field", "desc"}, "limit", "cursor"}`. Filters
/// combine `{"field", "op", "value"}` (ops eq, ne, lt, lte, gt, gte, in, prefix, contains)
/// with `{"and": [...]}` and `{"or": [...]}`.
#[utoipa::path(post, path = "/api/v1/companies/{id}/data/{plugin}/{collection}/query", tag = "records", security(("bearer" = [])),
    request_body(content = super::query_doc::QueryBody, description = "The query"),
    params(("id" = String, Path, description = "Company id"), ("plugin" = String, Path, description = "Plugin name"), ("collection" = String, Path, description = "Collection name")),
    responses((status = 200, body = ListOf<RecordOut>), (status = 403, description = "missing the read permission, or filtering on a hidden sensitive field"), (status = 404, description = "no such collection"), (status = 422, description = "invalid query")))]
pub(crate) async fn query_records(
    auth: Auth,
    State(state): State<AppState>,
    ApiPath((id, plugin, name)): ApiPath<(String, String, String)>,
    ApiJson(req): ApiJson<QueryRequest>,
) -> Result<Json<ListOf<RecordOut>>, ApiError> {
    let platform = state.platform.clone();
    let page = company_read(&state, &auth, &id, move |conn, scope| {
        let coll = collection(&platform, conn, &scope.company_id, &plugin, &name)?;
        Ok(records::find(conn, &scope.company_id, Caller::User(scope), &coll, &req)?)
    })
    .await?;
    Ok(Json(ListOf { items: page.records.into_iter().map(out).collect(), next_cursor: page.next_cursor }))
}

/// Aggregates: `{"filter": {...}, "group_by": ["field"], "metrics": [{"op": "count"}, {"op": "sum", "field": "amount"}]}`.
/// Sums and averages of decimals are exact decimal strings.
#[utoipa::path(post, path = "/api/v1/companies/{id}/data/{plugin}/{collection}/aggregate", tag = "records", security(("bearer" = [])),
    request_body(content = super::query_doc::AggregateBody, description = "The aggregation"),
    params(("id" = String, Path, description = "Company id"), ("plugin" = String, Path, description = "Plugin name"), ("collection" = String, Path, description = "Collection name")),
    responses((status = 200, description = "{\"groups\": [{\"key\": {...}, \"values\": {...}}]}"), (status = 403, description = "missing the read permission"), (status = 404, description = "no such collection"), (status = 422, description = "invalid aggregation")))]
pub(crate) async fn aggregate_records(
    auth: Auth,
    State(state): State<AppState>,
    ApiPath((id, plugin, name)): ApiPath<(String, String, String)>,
    ApiJson(req): ApiJson<AggregateRequest>,
) -> Result<Json<Value>, ApiError> {
    let platform = state.platform.clone();
    let answer = company_read(&state, &auth, &id, move |conn, scope| {
        let coll = collection(&platform, conn, &scope.company_id, &plugin, &name)?;
        Ok(records::aggregate(conn, &scope.company_id, Caller::User(scope), &coll, &req)?)
    })
    .await?;
    Ok(Json(answer))
}
