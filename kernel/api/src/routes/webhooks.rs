//! `POST /api/v1/hooks/{company_id}/{plugin}/{hook}`: inbound webhooks (a messenger, a web
//! form, an e-mail gateway) delivered to a plugin, authenticated by the secret the company's
//! admin set when enabling it (header `X-Webhook-Secret`).

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::UtoipaMethodRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiPath, RawBody, request_id_of};
use erp_kernel::audit::{self, Actor, Entry, Outcome};
use erp_kernel::ids;
use erp_kernel::plugins::lifecycle;
use erp_kernel::session::Session;

/// Largest webhook body.
const MAX_WEBHOOK_BYTES: usize = 1024 * 1024;

pub(super) fn route() -> UtoipaMethodRouter<AppState> {
    let (schemas, paths, router) = routes!(deliver);
    (schemas, paths, router.layer(DefaultBodyLimit::max(MAX_WEBHOOK_BYTES)))
}

/// Delivers an inbound webhook to an enabled plugin, in one transaction; answers whatever the
/// plugin answers. The secret is checked before anything else; deliveries are limited per
/// company (429 with `Retry-After`).
#[utoipa::path(post, path = "/api/v1/hooks/{company_id}/{plugin}/{hook}", tag = "webhooks",
    request_body(content = Vec<u8>, description = "Any payload; the plugin parses it"),
    params(("company_id" = String, Path, description = "Company id"), ("plugin" = String, Path, description = "Plugin name"), ("hook" = String, Path, description = "Webhook name"),
        ("X-Webhook-Secret" = String, Header, description = "The company's webhook secret for this plugin")),
    responses((status = 200, description = "the plugin's answer"), (status = 403, description = "wrong or missing secret"), (status = 404, description = "no such company, plugin or webhook"),
        (status = 422, description = "the plugin refused the payload; `fields` names the problems"),
        (status = 413, description = "body over 1 MiB"), (status = 429, description = "over the company's webhook rate"), (status = 503, description = "the company's lanes are full")))]
pub(crate) async fn deliver(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
    ApiPath((company, plugin, hook)): ApiPath<(String, String, String)>,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    let company = ids::parse(&company).ok_or_else(ApiError::not_found)?;
    let secret = headers.get("x-webhook-secret").and_then(|v| v.to_str().ok()).map(str::to_string);
    let forwarded: Vec<(String, String)> = headers
        .iter()
        .filter(|(name, _)| *name != "x-webhook-secret" && *name != header::AUTHORIZATION && *name != header::COOKIE)
        .filter_map(|(name, v)| v.to_str().ok().map(|v| (name.as_str().to_string(), v.to_string())))
        .collect();
    let request_id = request_id_of(&headers);
    // The secret first, on a plain read: a caller without it takes no write lock, no place in
    // the company's lanes and nothing of the company's webhook rate.
    let (platform, c, p, h, s) =
        (state.platform.clone(), company.clone(), plugin.clone(), hook.clone(), secret.clone());
    state
        .db
        .read(move |conn| {
            lifecycle::check_webhook(&platform, conn, &c, &p, &h, s.as_deref())?;
            Ok::<_, ApiError>(())
        })
        .await?;
    state.throttle.webhook(&company)?;
    let platform = state.platform.clone();
    let lane = company.clone();
    let answer = super::within_deadline(&state, &lane, move |deadline| {
        let mut session = Session::begin(&platform.db, &company, None)?;
        session.request_id = request_id.clone();
        session.deadline = Some(deadline);
        let active =
            lifecycle::check_webhook(&platform, session.reader()?, &company, &plugin, &hook, secret.as_deref())?;
        let answer =
            lifecycle::run_webhook(&platform, &mut session, &active, &hook, method.as_str(), forwarded, body.to_vec())?;
        let actor = Actor { user_id: None, request_id };
        audit::record(
            session.conn()?,
            Entry {
                company_id: Some(&company),
                actor: &actor,
                action: "plugin.webhook",
                object_type: "plugin",
                object_id: Some(&plugin),
                outcome: Outcome::Success,
                detail: serde_json::json!({ "hook": hook, "status": answer.status }),
            },
        )?;
        session.commit()?;
        Ok::<_, ApiError>(answer)
    })
    .await?;
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let content_type =
        HeaderValue::from_str(&answer.content_type).unwrap_or(HeaderValue::from_static("application/octet-stream"));
    Ok((status, [(header::CONTENT_TYPE, content_type)], answer.body).into_response())
}
