//! `/api/v1/companies/{id}/events`: the event log with delivery state per subscriber, replay
//! of dead letters; `/api/v1/events/metrics` for operators.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ListOf, company_read, company_write, time};
use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery, Auth};
use erp_kernel::access::permissions::{EVENTS_MANAGE, EVENTS_READ};
use erp_kernel::audit::{self, Entry, Outcome};
use erp_kernel::bus::log::{self, DeliveryState, LogFilter, LoggedEvent};
use erp_kernel::clock;
use erp_kernel::ids;
use erp_kernel::paging::PageRequest;
use erp_kernel::validation::Checker;

/// `?name=&since=&until=&limit=&cursor=`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct EventQuery {
    /// An event name, or a prefix ending in `.*` (`crm.deal.*`).
    #[param(schema_with = super::doc::event_pattern)]
    name: Option<String>,
    /// Only events at or after this time (RFC 3339).
    #[param(schema_with = super::doc::date_time)]
    since: Option<String>,
    /// Only events before this time (RFC 3339).
    #[param(schema_with = super::doc::date_time)]
    until: Option<String>,
    /// Items per page, 1..=500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// Cursor from the previous page.
    #[param(schema_with = super::doc::cursor)]
    cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct DeliveryOut {
    /// Subscriber plugin.
    plugin: String,
    /// Its handler.
    handler: String,
    /// `pending`, `done` or `dead`.
    state: String,
    /// Attempts so far.
    attempts: i32,
    /// When the next attempt is due (pending only).
    next_attempt_at: Option<String>,
    /// The last failure.
    last_error: Option<String>,
    /// When it was delivered.
    delivered_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct EventOut {
    /// Event id.
    id: String,
    /// Name such as `crm.deal.won`.
    name: String,
    /// The plugin that published it, or `kernel`.
    source: String,
    /// Payload.
    #[schema(value_type = Object)]
    payload: serde_json::Value,
    /// Who caused it.
    actor_id: Option<String>,
    /// Position in a chain of events (0 for a change made by a user).
    depth: i32,
    /// When.
    occurred_at: String,
    /// One per after-commit subscriber.
    deliveries: Vec<DeliveryOut>,
}

fn delivery(d: DeliveryState) -> DeliveryOut {
    DeliveryOut {
        next_attempt_at: (d.state == "pending").then(|| time(d.next_attempt_at)),
        plugin: d.plugin,
        handler: d.handler,
        state: d.state,
        attempts: d.attempts,
        last_error: d.last_error,
        delivered_at: d.delivered_at.map(time),
    }
}

fn out(e: LoggedEvent) -> EventOut {
    EventOut {
        id: e.id,
        name: e.name,
        source: e.source,
        payload: e.payload,
        actor_id: e.actor_id,
        depth: e.depth,
        occurred_at: time(e.occurred_at),
        deliveries: e.deliveries.into_iter().map(delivery).collect(),
    }
}

/// The company's events, newest first, with the state of each delivery.
#[utoipa::path(get, path = "/api/v1/companies/{id}/events", tag = "events", security(("bearer" = [])),
    params(("id" = String, Path, description = "Company id"), EventQuery),
    responses((status = 200, body = ListOf<EventOut>), (status = 400, description = "bad filter"), (status = 403, description = "missing kernel.events.read"), (status = 404, description = "no such company")))]
pub(crate) async fn list_events(
    auth: Auth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<EventQuery>,
) -> Result<Json<ListOf<EventOut>>, ApiError> {
    let mut c = Checker::new();
    let since = q.since.as_deref().map(|s| clock::parse_rfc3339(s).ok_or(())).transpose();
    let until = q.until.as_deref().map(|s| clock::parse_rfc3339(s).ok_or(())).transpose();
    c.check(since.is_ok(), "since", "must be an RFC 3339 time");
    c.check(until.is_ok(), "until", "must be an RFC 3339 time");
    c.check(
        q.name.as_deref().is_none_or(erp_kernel::plugins::manifest::is_event_pattern),
        "name",
        "must be an event name or a prefix ending in .*",
    );
    let page = PageRequest::new(q.limit, q.cursor.as_deref());
    if let Err(i) = &page {
        for f in &i.0 {
            c.add(&f.field, f.message.clone());
        }
    }
    if let Err(i) = c.finish() {
        return Err(ApiError::new(axum::http::StatusCode::BAD_REQUEST, "bad_request", format!("invalid query: {i}"))
            .with_fields(i.0));
    }
    let filter = LogFilter { name: q.name, since: since.unwrap_or(None), until: until.unwrap_or(None) };
    let page = page.map_err(ApiError::invalid)?;
    let platform = state.platform.clone();
    let found = company_read(&state, &auth, &id, move |conn, scope| {
        scope.require(EVENTS_READ)?;
        let mut found = log::list(conn, &scope.company_id, &filter, &page)?;
        log::visible_to(&platform, conn, scope, &mut found.items)?;
        Ok(found)
    })
    .await?;
    Ok(Json(ListOf::from_page(found, out)))
}

#[derive(Serialize, ToSchema)]
pub(crate) struct Replayed {
    /// Dead-lettered deliveries put back in the queue.
    replayed: usize,
}

/// Re-delivers an event's dead-lettered deliveries (with fresh attempts).
#[utoipa::path(post, path = "/api/v1/companies/{id}/events/{event_id}/replay", tag = "events", security(("bearer" = [])),
    params(("id" = String, Path, description = "Company id"), ("event_id" = String, Path, description = "Event id")),
    responses((status = 200, body = Replayed), (status = 403, description = "missing kernel.events.manage"), (status = 404, description = "no such event"), (status = 409, description = "nothing dead-lettered to replay")))]
pub(crate) async fn replay_event(
    auth: Auth,
    State(state): State<AppState>,
    ApiPath((id, event_id)): ApiPath<(String, String)>,
) -> Result<Json<Replayed>, ApiError> {
    let event_id = ids::parse(&event_id).ok_or_else(ApiError::not_found)?;
    let n = company_write(&state, &auth, &id, "event.replay", move |conn, scope, actor| {
        scope.require(EVENTS_MANAGE)?;
        let n = log::replay(conn, &scope.company_id, &event_id)?.ok_or_else(ApiError::not_found)?;
        if n == 0 {
            return Err(ApiError::conflict("this event has no dead-lettered deliveries"));
        }
        audit::record(
            conn,
            Entry {
                company_id: Some(&scope.company_id),
                actor,
                action: "event.replay",
                object_type: "event",
                object_id: Some(&event_id),
                outcome: Outcome::Success,
                detail: serde_json::json!({ "replayed": n }),
            },
        )?;
        Ok(n)
    })
    .await?;
    Ok(Json(Replayed { replayed: n }))
}

#[derive(Serialize, ToSchema)]
pub(crate) struct PluginFailures {
    /// Plugin.
    plugin: String,
    /// Its dead letters.
    dead: i64,
    /// Its deliveries with at least one failed attempt.
    failed: i64,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct MetricsOut {
    /// Deliveries waiting, all companies.
    queue_depth: i64,
    /// Dead letters, all companies.
    dead_letters: i64,
    /// Age of the oldest waiting delivery, in milliseconds.
    oldest_pending_ms: Option<i64>,
    /// Failures per plugin.
    failures_by_plugin: Vec<PluginFailures>,
    /// Deliveries completed by this node since it started.
    delivered_by_this_node: u64,
    /// Commit-to-delivery latency of recent deliveries on this node, p50, in milliseconds.
    latency_p50_ms: Option<f64>,
    /// The same, p99.
    latency_p99_ms: Option<f64>,
}

/// Queue depth, delivery latency and failures per plugin (platform operators).
#[utoipa::path(get, path = "/api/v1/events/metrics", tag = "events", security(("bearer" = [])),
    responses((status = 200, body = MetricsOut), (status = 403, description = "not a platform operator")))]
pub(crate) async fn metrics(auth: Auth, State(state): State<AppState>) -> Result<Json<MetricsOut>, ApiError> {
    auth.require_superadmin()?;
    let platform = state.platform.clone();
    let m = state.db.read(move |conn| log::metrics(&platform, conn).map_err(ApiError::from)).await?;
    Ok(Json(MetricsOut {
        queue_depth: m.pending,
        dead_letters: m.dead,
        oldest_pending_ms: m.oldest_pending_age.map(|a| a / 1000),
        failures_by_plugin: m
            .failures_by_plugin
            .into_iter()
            .map(|(plugin, dead, failed)| PluginFailures { plugin, dead, failed })
            .collect(),
        delivered_by_this_node: m.delivered_by_this_node,
        latency_p50_ms: m.latency.map(|l| l.0 as f64 / 1000.0),
        latency_p99_ms: m.latency.map(|l| l.1 as f64 / 1000.0),
    }))
}
