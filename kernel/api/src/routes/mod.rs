//! Route table and the helpers every handler shares.

mod audit_log;
mod auth;
mod commands;
mod companies;
mod company_plugins;
mod doc;
mod documents;
mod events;
mod fair_use;
mod files;
mod health;
mod mail;
mod me;
mod members;
mod notifications;
mod outbound;
mod outgoing_webhooks;
mod plugins;
mod query_doc;
mod records;
mod roles;
mod tokens;
mod unsubscribe;
mod users;
mod webhooks;

use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::Auth;
use erp_kernel::Platform;
use erp_kernel::access::CompanyScope;
use erp_kernel::audit::refusals::{self, Refusal};
use erp_kernel::audit::{Actor, Outcome};
use erp_kernel::clock;
use erp_kernel::events::NewEvent;
use erp_kernel::ids;
use erp_kernel::paging::{Page, PageRequest};
use erp_kernel::plugins::health as plugin_health;
use erp_kernel::session::{Deadline, Session};
use erp_kernel::storage::{DbConn, run_blocking};

#[derive(OpenApi)]
#[openapi(
    info(title = "ERP platform API", description = "Kernel API: identity, companies, members, roles, tokens, audit.\n\nEvery error answer is `{\"error\": {\"code\", \"message\", \"fields\"?}}`. Text in a request never holds NUL (U+0000): a body with one is refused with 422, a path with one is not found, a query string with one is refused with 400. A POST with an `Idempotency-Key` header (1 to 255 visible ASCII characters) is answered once and then replayed; the same key with another request is a 422, and while the first runs a 409."),
    modifiers(&BearerAuth),
    components(schemas(ErrorBody)),
    tags(
        (name = "system", description = "Liveness, readiness, metrics and the API description"),
        (name = "identity", description = "Login, tokens, users and the caller"),
        (name = "companies", description = "Companies, members, roles and audit"),
        (name = "plugins", description = "Installed plugins and their per-company lifecycle"),
        (name = "records", description = "Records of the collections plugins declare"),
        (name = "files", description = "Files: uploads, and downloads through the records that hold them"),
        (name = "documents", description = "Documents plugins print, and the templates a company uses for them"),
        (name = "notifications", description = "The caller's notifications: inbox, read marks, preferences and a live stream"),
        (name = "webhooks", description = "Inbound webhooks delivered to plugins"),
        (name = "mail", description = "The company's outgoing mail server and the mailbox read into a plugin's inbox"),
        (name = "events", description = "The event log, deliveries and dead letters")
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
        let mut metrics = Http::new(HttpAuthScheme::Bearer);
        metrics.description = Some("The operator's metrics token (ERP_METRICS_TOKEN), when the server has one".into());
        components.add_security_scheme("metrics_token", SecurityScheme::Http(metrics));
    }
}

/// Every API route, with its OpenAPI description.
pub(super) fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health::health))
        .routes(routes!(health::ready))
        .routes(routes!(health::metrics))
        .routes(routes!(openapi_json))
        .routes(routes!(auth::login))
        .routes(routes!(tokens::list_tokens, tokens::create_token, tokens::revoke_current))
        .routes(routes!(tokens::revoke_token))
        .routes(routes!(tokens::revoke_all))
        .routes(routes!(me::me, me::update_me))
        .routes(routes!(users::create_user))
        .routes(routes!(companies::list_companies, companies::create_company))
        .routes(routes!(companies::get_company))
        .routes(routes!(companies::get_profile, companies::put_profile))
        .routes(routes!(documents::list_kinds))
        .routes(routes!(documents::get_template, documents::put_template))
        .routes(routes!(members::list_members, members::add_member))
        .routes(routes!(members::update_member, members::remove_member))
        .routes(routes!(members::list_people))
        .routes(routes!(roles::list_roles, roles::create_role))
        .routes(routes!(roles::update_role, roles::delete_role))
        .routes(routes!(audit_log::list_audit))
        .routes(routes!(outbound::list_outbound))
        .routes(plugins::upload_route())
        .routes(routes!(plugins::get_plugin, plugins::uninstall_plugin))
        .routes(routes!(company_plugins::list_enabled))
        .routes(routes!(company_plugins::enable_plugin, company_plugins::disable_plugin))
        .routes(routes!(fair_use::usage))
        .routes(routes!(fair_use::release))
        .routes(routes!(commands::run_command))
        .routes(routes!(records::list_records, records::create_record))
        .routes(routes!(records::get_record, records::update_record, records::delete_record))
        .routes(routes!(records::query_records))
        .routes(routes!(records::aggregate_records))
        .routes(files::upload_route())
        .routes(routes!(files::download_file))
        .routes(routes!(notifications::list_notifications))
        .routes(routes!(notifications::mark_read))
        .routes(routes!(notifications::get_notification))
        .routes(routes!(notifications::get_preferences, notifications::put_preferences))
        .routes(routes!(notifications::stream_notifications))
        .routes(webhooks::route())
        .routes(routes!(events::list_events))
        .routes(routes!(events::replay_event))
        .routes(routes!(events::metrics))
        .routes(routes!(mail::get_mail, mail::put_mail, mail::delete_mail))
        .routes(routes!(mail::test_mail))
        .routes(routes!(mail::poll_mail))
        .routes(routes!(mail::list_outbox))
        .routes(routes!(unsubscribe::preview, unsubscribe::confirm))
        .routes(routes!(outgoing_webhooks::list_webhooks, outgoing_webhooks::create_webhook))
        .routes(routes!(
            outgoing_webhooks::get_webhook,
            outgoing_webhooks::update_webhook,
            outgoing_webhooks::delete_webhook
        ))
}

/// The router of every API route and the OpenAPI document that describes them.
pub(super) fn split() -> (axum::Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, mut doc) = api().split_for_parts();
    // The error answers follow from the routes, so they are added once all are known.
    doc::add_error_answers(&mut doc);
    (router, doc)
}

/// The OpenAPI document of the real routes, as JSON text.
pub fn openapi_document() -> String {
    let (_, doc) = split();
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

/// The OpenAPI 3 document of this API.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "system", responses((status = 200, description = "OpenAPI 3 document")))]
async fn openapi_json(State(state): State<AppState>) -> impl IntoResponse {
    let body = state.openapi.get().cloned().unwrap_or_default();
    ([(header::CONTENT_TYPE, "application/json")], body)
}

pub(super) async fn no_route() -> ApiError {
    ApiError::not_found()
}

pub(super) async fn no_method() -> ApiError {
    ApiError::new(axum::http::StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "method not allowed on this path")
}

/// `?limit=&cursor=` on list endpoints.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct PageQuery {
    /// Items per page, 1..=500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub(crate) limit: Option<u32>,
    /// Cursor from the previous page's `next_cursor`.
    #[param(schema_with = doc::cursor)]
    pub(crate) cursor: Option<String>,
}

impl PageQuery {
    fn request(&self) -> Result<PageRequest, ApiError> {
        page_request(self.limit, self.cursor.as_deref())
    }
}

/// A page request from a query string's `limit` and `cursor`: a bad one makes the query
/// malformed, 400 with the field named.
fn page_request(limit: Option<u32>, cursor: Option<&str>) -> Result<PageRequest, ApiError> {
    PageRequest::new(limit, cursor).map_err(|invalid| {
        ApiError::new(axum::http::StatusCode::BAD_REQUEST, "bad_request", format!("invalid query: {invalid}"))
            .with_fields(invalid.0)
    })
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ListOf<T> {
    /// The items of this page.
    pub(crate) items: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub(crate) next_cursor: Option<String>,
}

impl<T> ListOf<T> {
    fn from_page<U>(page: Page<U>, f: impl FnMut(U) -> T) -> ListOf<T> {
        let page = page.map(f);
        ListOf { items: page.items, next_cursor: page.next_cursor }
    }
}

/// `{"id": ...}` answer of create endpoints.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Created {
    /// Id of the new object.
    id: String,
}

fn time(at: i64) -> String {
    clock::to_rfc3339(at)
}

fn company_id(raw: &str) -> Result<String, ApiError> {
    ids::parse(raw).ok_or_else(ApiError::not_found)
}

/// Runs a read in one company: `NotFound` for non-members before anything else happens.
pub(crate) async fn company_read<T: Send + 'static>(
    state: &AppState,
    auth: &Auth,
    company: &str,
    f: impl FnOnce(&mut DbConn, &CompanyScope) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let company_id = company_id(company)?;
    let user_id = auth.user.id.clone();
    let platform = state.platform.clone();
    state
        .db
        .read(move |conn| {
            let scope = platform.company_scope(conn, &user_id, &company_id)?;
            f(conn, &scope)
        })
        .await
}

/// Runs a change in one company as one unit of work (one transaction, audit record included),
/// with the session that plugin calls need. A refusal for a missing permission is audited on
/// its own, since the refused change never commits.
pub(crate) async fn company_work<T: Send + 'static>(
    state: &AppState,
    auth: &Auth,
    company: &str,
    action: &'static str,
    f: impl FnOnce(&mut Session, &CompanyScope, &Actor) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let company_id = company_id(company)?;
    let actor = auth.actor();
    let (user_id, cid, inner_actor, platform) =
        (auth.user.id.clone(), company_id.clone(), actor.clone(), state.platform.clone());
    let locale = auth.locale;
    let result = within_deadline(state, &company_id, move |deadline| {
        let mut session = Session::begin(&platform.db, &cid, Some(&user_id))?;
        session.request_id = inner_actor.request_id.clone();
        session.locale = locale.to_string();
        session.deadline = Some(deadline);
        let scope = platform.company_scope(session.reader()?, &user_id, &cid)?;
        let value = f(&mut session, &scope, &inner_actor)?;
        session.commit()?;
        Ok::<_, ApiError>(value)
    })
    .await;
    if let Err(err) = &result
        && err.is_forbidden()
    {
        let refusal = Refusal {
            kind: refusals::Kind {
                company_id: Some(company_id.clone()),
                action: action.to_string(),
                actor_id: actor.user_id.clone(),
                subject: err.message.clone(),
            },
            outcome: Outcome::Denied,
            object_type: "company".into(),
            object_id: Some(company_id),
            request_id: actor.request_id.clone(),
            detail: serde_json::json!({ "reason": err.message }),
        };
        audit_refusal(state, refusal).await;
    }
    result
}

/// Audits a refusal, folded with its repeats of the same minute (see `audit::refusals`).
pub(crate) async fn audit_refusal(state: &AppState, refusal: Refusal) {
    let pending = state.refusals.note(refusal, clock::now());
    if pending.is_empty() {
        return;
    }
    if let Err(e) = state.db.write(move |conn| refusals::write(conn, &pending)).await {
        tracing::error!(error = %e, "could not audit a refused request");
    }
}

/// Runs blocking work of one company in its lane of the gate and under the request deadline:
/// 503 with `Retry-After` when the lane is full; when the deadline passes first, the client
/// is told so and the work, which is interrupted there, cannot commit any more. A plugin
/// that hit one of its limits gets a strike in the company.
pub(crate) async fn within_deadline<T: Send + 'static>(
    state: &AppState,
    company_id: &str,
    work: impl FnOnce(Arc<Deadline>) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let fair = state.platform.fair.clone();
    let deadline = Deadline::at(Instant::now() + fair.settings.deadline);
    let _permit = fair
        .gate
        .enter(company_id, fair.settings.deadline)
        .await
        .map_err(|b| ApiError::busy(b.to_string(), b.retry_after_secs))?;
    let inner = deadline.clone();
    let mut task = tokio::task::spawn_blocking(move || work(inner));
    let joined = match tokio::time::timeout_at(deadline.instant().into(), &mut task).await {
        Ok(joined) => joined,
        // Past the deadline: either the client is told it failed and the work can no longer
        // commit, or the work is committing already and its outcome is the answer.
        Err(_) if deadline.expire() => return Err(ApiError::deadline()),
        Err(_) => task.await,
    };
    let result = joined.unwrap_or_else(|e| Err(ApiError::internal(format!("the request's task failed: {e}"))));
    if let Err(err) = &result
        && let Some(failure) = err.plugin_failure()
    {
        let (platform, company) = (state.platform.clone(), company_id.to_string());
        let _ = run_blocking(move || {
            plugin_health::note_failure(&platform, &company, &failure);
            Ok::<_, ApiError>(())
        })
        .await;
    }
    result
}

/// Emits a kernel event (`kernel.member.added`, ...) in the unit of work.
pub(crate) fn kernel_event(
    platform: &Platform,
    session: &mut Session,
    name: &str,
    payload: serde_json::Value,
) -> Result<(), ApiError> {
    erp_kernel::bus::emit(platform, session, NewEvent { name, source: "kernel", payload, collection: None })?;
    Ok(())
}

/// [`company_work`] for changes that only need the connection.
pub(crate) async fn company_write<T: Send + 'static>(
    state: &AppState,
    auth: &Auth,
    company: &str,
    action: &'static str,
    f: impl FnOnce(&mut DbConn, &CompanyScope, &Actor) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    company_work(state, auth, company, action, move |session, scope, actor| f(session.conn()?, scope, actor)).await
}
