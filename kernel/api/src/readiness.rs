//! Whether the node may take work yet. The server listens at once; while bundled plugins are
//! still being compiled and installed (and the demo loaded), `/health` says it is alive,
//! `/ready` says it is starting, and every other request gets 503 with `Retry-After`.

use std::sync::Arc;

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use parking_lot::RwLock;

use crate::error::ApiError;

/// Where start-up is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Still preparing: what it is doing now.
    Starting(String),
    /// Taking work.
    Ready,
    /// Start-up failed; the node will not become ready.
    Failed(String),
}

/// The node's start-up phase, shared by the server and its start-up task. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Readiness(Arc<RwLock<Phase>>);

impl Default for Readiness {
    /// Ready: a state made for a test or a tool serves at once.
    fn default() -> Self {
        Readiness(Arc::new(RwLock::new(Phase::Ready)))
    }
}

impl Readiness {
    /// Starting, doing `step`.
    pub fn starting(step: &str) -> Readiness {
        Readiness(Arc::new(RwLock::new(Phase::Starting(step.to_string()))))
    }

    /// Now doing `step`.
    pub fn step(&self, step: &str) {
        *self.0.write() = Phase::Starting(step.to_string());
    }

    /// Start-up is done.
    pub fn ready(&self) {
        *self.0.write() = Phase::Ready;
    }

    /// Start-up failed with `error`.
    pub fn failed(&self, error: &str) {
        *self.0.write() = Phase::Failed(error.to_string());
    }

    /// The phase now.
    pub fn phase(&self) -> Phase {
        self.0.read().clone()
    }

    /// True once start-up is done.
    pub fn is_ready(&self) -> bool {
        matches!(*self.0.read(), Phase::Ready)
    }
}

/// Paths answered while starting: liveness, readiness and metrics.
const ALWAYS: &[&str] = &["/health", "/ready", "/metrics"];

/// Middleware: 503 with `Retry-After: 1` for everything but [`ALWAYS`] until the node is
/// ready; a JSON error for the API, a page that reloads itself for the web UI.
pub(crate) async fn gate(readiness: Readiness, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let (failed, message) = match readiness.phase() {
        _ if ALWAYS.contains(&path) => return next.run(request).await,
        Phase::Ready => return next.run(request).await,
        Phase::Starting(step) => (false, format!("the server is starting ({step}); try again in a moment")),
        Phase::Failed(e) => (true, format!("the server could not start: {e}")),
    };
    let mut response = if path.starts_with("/api/") {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "starting", message).into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, Html(starting_page(failed))).into_response()
    };
    if !failed {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

/// A page in both languages (the visitor has no language yet) that reloads every second.
fn starting_page(failed: bool) -> String {
    let (en, ru, refresh) = if failed {
        (
            "The server could not start; its administrator sees why in the log.",
            "Сервер не смог запуститься; причину администратор увидит в журнале.",
            "",
        )
    } else {
        (
            "The server is starting. This page opens by itself in a moment.",
            "Сервер запускается. Страница откроется сама через несколько секунд.",
            r#"<meta http-equiv="refresh" content="1">"#,
        )
    };
    format!(
        "<!doctype html><html lang=\"ru\"><head><meta charset=\"utf-8\">{refresh}<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>ERP</title></head><body style=\"font-family:sans-serif;margin:3em auto;max-width:32em;padding:0 1em\"><p>{ru}</p><p lang=\"en\">{en}</p></body></html>"
    )
}
