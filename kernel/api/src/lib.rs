//! The HTTP API: the axum router, its middleware and the handlers, one file per resource,
//! the one error type and the OpenAPI document.
//!
//! Architecture invariant: only this crate and `erp-web` know axum and the JSON shapes of the
//! API; the kernel below returns domain structs and its own error types.

pub mod error;
pub mod extract;
mod idempotency;
mod routes;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::Request;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use erp_kernel::Platform;
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
    /// The OpenAPI document, rendered once at start-up.
    openapi: Arc<OnceLock<String>>,
}

impl AppState {
    /// State over the kernel's services.
    pub fn new(platform: Platform) -> AppState {
        AppState { db: platform.db.clone(), platform, openapi: Arc::new(OnceLock::new()) }
    }
}

/// The API router with its state, body limit and JSON fallbacks, without the request-id and
/// tracing layers (see [`with_middleware`]), so that a client in the same process (the web
/// UI) can call it with `tower::ServiceExt::oneshot`.
pub fn router(state: AppState) -> Router {
    let (api, doc) = routes::api().split_for_parts();
    let rendered = serde_json::to_string_pretty(&doc).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    let _ = state.openapi.set(rendered);
    api.fallback(routes::no_route)
        .method_not_allowed_fallback(routes::no_method)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(state.clone(), idempotency::layer))
        .with_state(state)
}

/// Wraps a router served to the network: request ids (taken from `x-request-id` or made) and
/// a tracing span per request.
pub fn with_middleware(router: Router) -> Router {
    router
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
            let request_id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %request_id)
        }))
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

/// Serves `router` on `listener` until `shutdown` resolves, then drains open requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router).with_graceful_shutdown(shutdown).await
}

/// Grace period the CLI gives open requests on shutdown.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
