//! `/api/v1/companies/{id}/outgoing-webhooks`: URLs the company's events are posted to, signed
//! with a secret of each subscription. Listing needs `kernel.events.read`; setting up, changing
//! and removing, and seeing a secret, `kernel.events.manage`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{company_read, company_write, time};
use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, Auth};
use erp_kernel::access::permissions::{EVENTS_MANAGE, EVENTS_READ};
use erp_kernel::audit::{self, Entry, Outcome};
use erp_kernel::bus::webhooks::{self, Change, Subscription, WebhookError};

impl From<WebhookError> for ApiError {
    fn from(e: WebhookError) -> ApiError {
        match e {
            WebhookError::Invalid(i) => i.into(),
            WebhookError::NotFound => ApiError::not_found(),
            WebhookError::Store(s) => s.into(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct WebhookOut {
    /// Id.
    id: String,
    /// Where events are posted.
    url: String,
    /// Event names or prefixes (`crm.deal.*`).
    events: Vec<String>,
    /// What it is for.
    description: String,
    /// Paused webhooks receive nothing.
    active: bool,
    /// The signing secret (only to those who may manage webhooks, and when asked for one).
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
    /// Who set it up: events reach it as that person may read them.
    created_by: String,
    /// When set up.
    created_at: String,
    /// When last changed.
    updated_at: String,
}

fn out(s: Subscription, with_secret: bool) -> WebhookOut {
    WebhookOut {
        events: s.patterns(),
        id: s.id,
        url: s.url,
        description: s.description,
        active: s.active,
        secret: with_secret.then_some(s.secret),
        created_by: s.created_by,
        created_at: time(s.created_at),
        updated_at: time(s.updated_at),
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct WebhookList {
    /// The company's webhooks, oldest first (without secrets).
    items: Vec<WebhookOut>,
}

/// A new webhook.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewWebhook {
    /// An absolute `http` or `https` URL, without a user name or password.
    #[schema(max_length = 2000, pattern = "^https?://[^\\s/@?#]+(/[^\\s]*)?$")]
    url: String,
    /// 1 to 20 event names or prefixes ending in `.*`.
    #[schema(schema_with = super::doc::event_patterns)]
    events: Vec<String>,
    /// What it is for.
    #[serde(default)]
    #[schema(max_length = 500, pattern = "^[^\\x00]*$")]
    description: String,
    /// Start paused (`false`).
    #[serde(default = "yes")]
    active: bool,
}

fn yes() -> bool {
    true
}

/// A change to a webhook: fields left out stay as they are.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct WebhookChange {
    /// An absolute `http` or `https` URL.
    #[serde(default, deserialize_with = "present")]
    #[schema(max_length = 2000, pattern = "^https?://[^\\s/@?#]+(/[^\\s]*)?$")]
    url: Option<String>,
    /// 1 to 20 event names or prefixes ending in `.*`.
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = super::doc::event_patterns)]
    events: Option<Vec<String>>,
    /// What it is for.
    #[serde(default, deserialize_with = "present")]
    #[schema(max_length = 500, pattern = "^[^\\x00]*$")]
    description: Option<String>,
    /// Running (`true`) or paused (`false`).
    #[serde(default, deserialize_with = "present")]
    active: Option<bool>,
    /// `true` gives the webhook a new secret (the old one stops working at once).
    #[serde(default)]
    rotate_secret: bool,
}

/// A field that may be left out but is never null.
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

fn audit_webhook(
    conn: &mut erp_kernel::storage::DbConn,
    company_id: &str,
    actor: &audit::Actor,
    action: &str,
    s: &Subscription,
) -> Result<(), ApiError> {
    audit::record(
        conn,
        Entry {
            company_id: Some(company_id),
            actor,
            action,
            object_type: "webhook",
            object_id: Some(&s.id),
            outcome: Outcome::Success,
            detail: serde_json::json!({ "url": s.url, "events": s.patterns(), "active": s.active }),
        },
    )?;
    Ok(())
}

/// The company's outgoing webhooks.
#[utoipa::path(get, path = "/api/v1/companies/{id}/outgoing-webhooks", tag = "events", security(("bearer" = [])),
    params(("id" = String, Path, description = "Company id")),
    responses((status = 200, body = WebhookList), (status = 403, description = "missing permission"), (status = 404, description = "no such company")))]
pub(crate) async fn list_webhooks(
    auth: Auth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<WebhookList>, ApiError> {
    let all = company_read(&state, &auth, &id, |conn, scope| {
        scope.require(EVENTS_READ)?;
        Ok(webhooks::list(conn, &scope.company_id)?)
    })
    .await?;
    Ok(Json(WebhookList { items: all.into_iter().map(|s| out(s, false)).collect() }))
}

/// Sets up a webhook; the answer holds its signing secret.
#[utoipa::path(post, path = "/api/v1/companies/{id}/outgoing-webhooks", tag = "events", security(("bearer" = [])), request_body = NewWebhook,
    params(("id" = String, Path, description = "Company id")),
    responses((status = 201, body = WebhookOut), (status = 403, description = "missing permission"), (status = 404, description = "no such company"), (status = 422, description = "invalid input")))]
pub(crate) async fn create_webhook(
    auth: Auth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<NewWebhook>,
) -> Result<(StatusCode, Json<WebhookOut>), ApiError> {
    let created = company_write(&state, &auth, &id, "webhook.create", move |conn, scope, actor| {
        scope.require(EVENTS_MANAGE)?;
        let change = Change {
            url: Some(body.url),
            events: Some(body.events),
            description: Some(body.description),
            active: Some(body.active),
        };
        let who = scope.user().unwrap_or_default().to_string();
        let s = webhooks::create(conn, &scope.company_id, &who, &change)?;
        audit_webhook(conn, &scope.company_id, actor, "webhook.create", &s)?;
        Ok(s)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(out(created, true))))
}

/// One webhook, with its signing secret.
#[utoipa::path(get, path = "/api/v1/companies/{id}/outgoing-webhooks/{webhook_id}", tag = "events", security(("bearer" = [])),
    params(("id" = String, Path, description = "Company id"), ("webhook_id" = String, Path, description = "Webhook id")),
    responses((status = 200, body = WebhookOut), (status = 403, description = "missing permission"), (status = 404, description = "no such webhook")))]
pub(crate) async fn get_webhook(
    auth: Auth,
    State(state): State<AppState>,
    ApiPath((id, webhook_id)): ApiPath<(String, String)>,
) -> Result<Json<WebhookOut>, ApiError> {
    let found = company_read(&state, &auth, &id, move |conn, scope| {
        scope.require(EVENTS_MANAGE)?;
        Ok(webhooks::get(conn, &scope.company_id, &webhook_id)?)
    })
    .await?;
    Ok(Json(out(found, true)))
}

/// Changes a webhook: its URL, events, description, pause, or secret.
#[utoipa::path(patch, path = "/api/v1/companies/{id}/outgoing-webhooks/{webhook_id}", tag = "events", security(("bearer" = [])), request_body = WebhookChange,
    params(("id" = String, Path, description = "Company id"), ("webhook_id" = String, Path, description = "Webhook id")),
    responses((status = 200, body = WebhookOut), (status = 403, description = "missing permission"), (status = 404, description = "no such webhook"), (status = 422, description = "invalid input")))]
pub(crate) async fn update_webhook(
    auth: Auth,
    State(state): State<AppState>,
    ApiPath((id, webhook_id)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<WebhookChange>,
) -> Result<Json<WebhookOut>, ApiError> {
    let changed = company_write(&state, &auth, &id, "webhook.update", move |conn, scope, actor| {
        scope.require(EVENTS_MANAGE)?;
        let change = Change { url: body.url, events: body.events, description: body.description, active: body.active };
        let s = webhooks::update(conn, &scope.company_id, &webhook_id, &change, body.rotate_secret)?;
        audit_webhook(conn, &scope.company_id, actor, "webhook.update", &s)?;
        Ok(s)
    })
    .await?;
    Ok(Json(out(changed, true)))
}

/// Removes a webhook; its deliveries still waiting are dropped.
#[utoipa::path(delete, path = "/api/v1/companies/{id}/outgoing-webhooks/{webhook_id}", tag = "events", security(("bearer" = [])),
    params(("id" = String, Path, description = "Company id"), ("webhook_id" = String, Path, description = "Webhook id")),
    responses((status = 204, description = "removed"), (status = 403, description = "missing permission"), (status = 404, description = "no such webhook")))]
pub(crate) async fn delete_webhook(
    auth: Auth,
    State(state): State<AppState>,
    ApiPath((id, webhook_id)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    company_write(&state, &auth, &id, "webhook.delete", move |conn, scope, actor| {
        scope.require(EVENTS_MANAGE)?;
        let s = webhooks::get(conn, &scope.company_id, &webhook_id)?;
        webhooks::delete(conn, &scope.company_id, &webhook_id)?;
        audit_webhook(conn, &scope.company_id, actor, "webhook.delete", &s)?;
        Ok(())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
