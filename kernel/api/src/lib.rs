//! The HTTP API: the axum router, its middleware and the handlers, one file per resource,
//! the one error type and the OpenAPI document.
//!
//! Architecture invariant: only this crate and `erp-web` know axum and the JSON shapes of the
//! API; the kernel below returns domain structs and its own error types.

pub mod error;
pub mod extract;
mod headers;
mod idempotency;
pub mod readiness;
mod routes;
pub mod server;
pub mod throttle;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::Request;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use erp_kernel::Platform;
use erp_kernel::audit::refusals::{self as audit_refusals, Refusals};
use erp_kernel::storage::Db;

pub use routes::openapi_document;

/// Largest JSON body accepted.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// Shared state of every handler.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The database.
    pub db: Db,
    /// The kernel's services (database and plugin runtime).
    pub platform: Platform,
    /// Caps on password checks, login attempts and webhooks.
    pub throttle: throttle::Throttle,
    /// Refusals folded per minute for the audit log.
    pub refusals: Arc<Refusals>,
    /// Whether start-up is done (see `readiness`).
    pub readiness: readiness::Readiness,
    /// When set, `/metrics` needs it as a bearer token.
    pub metrics_token: Option<Arc<str>>,
    /// The OpenAPI document, rendered once at start-up.
    openapi: Arc<OnceLock<String>>,
}

impl AppState {
    /// State over the kernel's services, with the default caps.
    pub fn new(platform: Platform) -> AppState {
        AppState::with_throttle(platform, throttle::ThrottleSettings::default())
    }

    /// State over the kernel's services with explicit caps.
    pub fn with_throttle(platform: Platform, settings: throttle::ThrottleSettings) -> AppState {
        let state = AppState {
            db: platform.db.clone(),
            platform,
            throttle: throttle::Throttle::new(settings),
            refusals: Arc::new(Refusals::default()),
            readiness: readiness::Readiness::default(),
            metrics_token: None,
            openapi: Arc::new(OnceLock::new()),
        };
        state.flush_refusals_in_background();
        state
    }

    /// Writes the summaries of refusal minutes that are over every few seconds, for as long as
    /// the state lives (when there is a runtime to do it on; otherwise the next refusal does).
    fn flush_refusals_in_background(&self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let refusals = Arc::downgrade(&self.refusals);
        let db = self.db.clone();
        runtime.spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(10));
            loop {
                tick.tick().await;
                let Some(refusals) = refusals.upgrade() else { return };
                let due = refusals.due(erp_kernel::clock::now());
                drop(refusals);
                if !due.is_empty()
                    && let Err(e) = db.write(move |conn| audit_refusals::write(conn, &due)).await
                {
                    tracing::error!(error = %e, "could not write refusal summaries to the audit log");
                }
            }
        });
    }
}

/// The API router with its state, body limit and JSON fallbacks, without the request-id and
/// tracing layers (see [`with_middleware`]), so that a client in the same process (the web
/// UI) can call it with `tower::ServiceExt::oneshot`.
pub fn router(state: AppState) -> Router {
    let (api, doc) = routes::split();
    let rendered = serde_json::to_string_pretty(&doc).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    let _ = state.openapi.set(rendered);
    api.fallback(routes::no_route)
        .method_not_allowed_fallback(routes::no_method)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(state.clone(), idempotency::layer))
        .with_state(state)
}

/// Wraps a router served to the network: request counts and timings by route for
/// `/metrics`, the start-up gate (see `readiness`), request ids (taken from `x-request-id` or
/// made), a tracing span per request, and `nosniff` and `no-store` on every answer (see
/// `headers`).
pub fn with_middleware(router: Router, state: &AppState) -> Router {
    let metrics = state.platform.plugins.metrics().clone();
    let readiness = state.readiness.clone();
    router
        .layer(axum::middleware::from_fn(move |request: axum::extract::Request, next: axum::middleware::Next| {
            let metrics = metrics.clone();
            async move {
                let route = request
                    .extensions()
                    .get::<axum::extract::MatchedPath>()
                    .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
                let method = request.method().clone();
                let started = std::time::Instant::now();
                let response = next.run(request).await;
                metrics.http_request(
                    method.as_str(),
                    &route,
                    response.status().as_u16(),
                    started.elapsed().as_secs_f64(),
                );
                response
            }
        }))
        .layer(axum::middleware::from_fn(move |request: axum::extract::Request, next: axum::middleware::Next| {
            readiness::gate(readiness.clone(), request, next)
        }))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request<_>| {
                    let request_id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
                    tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %request_id)
                })
                // One line per answer (status and latency, in the request's span): the access log.
                .on_response(tower_http::trace::DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(axum::middleware::from_fn(headers::layer))
}

pub use server::{HttpSettings, serve, serve_with};

/// Grace period the CLI gives open requests on shutdown.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
