//! The web UI's way to the data: in-process calls to the JSON API with the user's own token, so
//! the UI can never show or change what the API would refuse.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::Value;
use tower::ServiceExt;

use erp_api::MAX_BODY_BYTES;
use erp_kernel::plugins::package::MAX_PACKAGE_BYTES;

/// A refused or failed API call, as the API described it.
#[derive(Debug, Clone)]
pub(super) struct Failure {
    /// HTTP status.
    pub status: StatusCode,
    /// Machine-readable code (`validation_failed`, `conflict`, ...).
    pub code: String,
    /// Human-readable message.
    pub message: String,
    /// Field-level problems: (field, message).
    pub fields: Vec<(String, String)>,
    /// Every problem of an invalid package.
    pub problems: Vec<String>,
}

impl Failure {
    fn from_answer(status: StatusCode, body: &Value) -> Failure {
        let e = &body["error"];
        let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
        Failure {
            status,
            code: text(&e["code"]),
            message: e["message"].as_str().map(str::to_string).unwrap_or_else(|| status.to_string()),
            fields: e["fields"]
                .as_array()
                .map(|a| a.iter().map(|f| (text(&f["field"]), text(&f["message"]))).collect())
                .unwrap_or_default(),
            problems: e["problems"].as_array().map(|a| a.iter().map(text).collect()).unwrap_or_default(),
        }
    }

    /// The failure as the API would answer it.
    fn into_json(self) -> axum::response::Response {
        use axum::response::IntoResponse;
        let body = serde_json::json!({ "error": { "code": self.code, "message": self.message } });
        (self.status, axum::Json(body)).into_response()
    }

    pub(super) fn internal(message: impl Into<String>) -> Failure {
        Failure {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal".into(),
            message: message.into(),
            fields: Vec::new(),
            problems: Vec::new(),
        }
    }

    /// The message for one field, if the API named it (`customer` also matches `data.customer`).
    /// The problem with exactly the field `name` (a line's cell: `lines[2].quantity`).
    pub(super) fn exact(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(f, _)| f == name).map(|(_, m)| m.as_str())
    }

    pub(super) fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(f, _)| f == name || f.rsplit('.').next() == Some(name) || f.starts_with(&format!("{name}.")))
            .map(|(_, m)| m.as_str())
    }
}

/// The API as one logged-in user sees it.
#[derive(Clone)]
pub(super) struct Api {
    router: Router,
    token: String,
    request_id: Option<String>,
    /// The visitor's language, which plugins answer in.
    lang: &'static str,
    /// The visitor's connection, so that the API throttles them, not the UI.
    peer: Option<ConnectInfo<SocketAddr>>,
}

impl Api {
    pub(super) fn new(router: Router, token: &str, request_id: Option<String>, lang: &'static str) -> Api {
        Api { router, token: token.to_string(), request_id, lang, peer: None }
    }

    /// Calls the API without a token (login), on behalf of the visitor at `peer`.
    pub(super) fn anonymous(router: Router, peer: Option<ConnectInfo<SocketAddr>>) -> Api {
        Api { router, token: String::new(), request_id: None, lang: "en", peer }
    }

    pub(super) async fn get(&self, path: &str) -> Result<Value, Failure> {
        self.send(Method::GET, path, None, None).await
    }

    pub(super) async fn post(&self, path: &str, body: Value) -> Result<Value, Failure> {
        self.send(Method::POST, path, Some(body), None).await
    }

    pub(super) async fn put(&self, path: &str, body: Value) -> Result<Value, Failure> {
        self.send(Method::PUT, path, Some(body), None).await
    }

    pub(super) async fn patch(&self, path: &str, body: Value, version: Option<i64>) -> Result<Value, Failure> {
        self.send(Method::PATCH, path, Some(body), version).await
    }

    pub(super) async fn delete(&self, path: &str) -> Result<Value, Failure> {
        self.send(Method::DELETE, path, None, None).await
    }

    /// Uploads a plugin package.
    pub(super) async fn upload(&self, path: &str, bytes: Vec<u8>) -> Result<Value, Failure> {
        let req = self.request(Method::POST, path).header(header::CONTENT_TYPE, "application/wasm");
        self.run(req.body(Body::from(bytes)), MAX_PACKAGE_BYTES + 4096).await
    }

    /// Passes a request with a streamed body to the API and its answer back as it came,
    /// streamed too (uploads and downloads of files).
    pub(super) async fn pass(
        &self,
        method: Method,
        path: &str,
        headers: &axum::http::HeaderMap,
        body: Body,
    ) -> axum::response::Response {
        let mut req = self.request(method, path);
        for (k, v) in super::files::forwarded(headers) {
            req = req.header(k, v);
        }
        let answer = match req.body(body) {
            Ok(req) => self.router.clone().oneshot(req).await,
            Err(e) => return Failure::internal(e.to_string()).into_json(),
        };
        match answer {
            Ok(answer) => answer.map(Body::new),
            Err(e) => Failure::internal(e.to_string()).into_json(),
        }
    }

    /// The failure a passed-through answer describes.
    pub(super) async fn failure_of(&self, answer: axum::response::Response) -> Failure {
        let status = answer.status();
        let bytes = axum::body::to_bytes(answer.into_body(), MAX_BODY_BYTES).await.unwrap_or_default();
        let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Failure::from_answer(status, &value)
    }

    fn request(&self, method: Method, path: &str) -> axum::http::request::Builder {
        let mut req = Request::builder().method(method).uri(path).header(header::ACCEPT_LANGUAGE, self.lang);
        if !self.token.is_empty() {
            req = req.header(header::AUTHORIZATION, format!("Bearer {}", self.token));
        }
        if let Some(id) = &self.request_id {
            req = req.header("x-request-id", id);
        }
        if let Some(peer) = self.peer {
            req = req.extension(peer);
        }
        req
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        version: Option<i64>,
    ) -> Result<Value, Failure> {
        let mut req = self.request(method, path);
        if let Some(v) = version {
            req = req.header(header::IF_MATCH, format!("\"{v}\""));
        }
        let req = match body {
            Some(b) => req.header(header::CONTENT_TYPE, "application/json").body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        };
        self.run(req, MAX_BODY_BYTES * 8).await
    }

    async fn run(&self, req: Result<Request<Body>, axum::http::Error>, limit: usize) -> Result<Value, Failure> {
        let req = req.map_err(|e| Failure::internal(format!("could not build a request: {e}")))?;
        let answer = self.router.clone().oneshot(req).await.map_err(|e| Failure::internal(e.to_string()))?;
        let status = answer.status();
        let bytes = axum::body::to_bytes(answer.into_body(), limit)
            .await
            .map_err(|e| Failure::internal(format!("could not read the answer: {e}")))?;
        let value: Value =
            if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap_or(Value::Null) };
        if status.is_success() { Ok(value) } else { Err(Failure::from_answer(status, &value)) }
    }
}
