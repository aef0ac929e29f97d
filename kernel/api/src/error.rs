//! The one HTTP error type: every layer's error maps to a status and a JSON body
//! `{"error": {"code": "...", "message": "...", "fields": [...]}}`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use erp_kernel::access::AccessError;
use erp_kernel::identity::IdentityError;
use erp_kernel::plugins::{GuestError, Limit, PluginError};
use erp_kernel::records::RecordError;
use erp_kernel::storage::StoreError;
use erp_kernel::validation::{FieldError, Invalid};

/// An error answered to an HTTP client.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// Human-readable explanation.
    pub message: String,
    /// Details beyond code and message, boxed to keep results small.
    pub extra: Box<Extra>,
}

/// Optional parts of an error answer.
#[derive(Debug, Default)]
pub struct Extra {
    /// Field-level problems for validation errors.
    pub fields: Vec<FieldError>,
    /// Seconds to wait before retrying (429, 503).
    pub retry_after: Option<u64>,
    /// The plugin that refused or failed, when one did.
    pub plugin: Option<String>,
    /// Every problem found, for invalid plugin packages.
    pub problems: Vec<String>,
    /// The limit a plugin hit (plugin, reason, limit), kept for the plugin's health record.
    pub limit_hit: Option<(String, String, Limit)>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ErrorBody {
    error: ErrorDetail,
}

/// Error details as sent to clients.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ErrorDetail {
    /// Stable code such as `not_found` or `validation_failed`.
    code: String,
    /// Human-readable explanation.
    message: String,
    /// Field-level problems, present for validation errors.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Object>)]
    fields: Vec<FieldError>,
    /// The plugin that refused or failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    plugin: Option<String>,
    /// Every problem of an invalid plugin package.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    problems: Vec<String>,
}

impl ApiError {
    /// An error with a status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into(), extra: Box::default() }
    }

    /// Adds field-level problems.
    pub fn with_fields(mut self, fields: Vec<FieldError>) -> ApiError {
        self.extra.fields = fields;
        self
    }

    /// Adds a `Retry-After`.
    pub fn with_retry_after(mut self, secs: u64) -> ApiError {
        self.extra.retry_after = Some(secs);
        self
    }

    /// Names the plugin that refused or failed.
    pub fn with_plugin(mut self, plugin: String) -> ApiError {
        self.extra.plugin = Some(plugin);
        self
    }

    /// The plugin failure behind this error, when a plugin hit one of its limits.
    pub fn plugin_failure(&self) -> Option<PluginError> {
        self.extra.limit_hit.as_ref().map(|(plugin, reason, limit)| PluginError::Failed {
            plugin: plugin.clone(),
            reason: reason.clone(),
            limit: Some(*limit),
        })
    }

    /// 400: the request is malformed.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 401: no valid credentials.
    pub fn unauthenticated(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
    }

    /// 403: authenticated but not allowed.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404: no such object, or not one the caller may know about.
    pub fn not_found() -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", "not found")
    }

    /// 409: clashes with the current state.
    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, "conflict", message)
    }

    /// 507: a storage quota of the company or plugin would be exceeded; nothing was saved.
    pub fn quota(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INSUFFICIENT_STORAGE, "quota_exceeded", message)
    }

    /// 503: the request ran past its deadline; nothing it did was saved.
    pub fn deadline() -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "deadline_exceeded",
            "the request ran past its deadline and was rolled back; nothing was saved",
        )
        .with_retry_after(1)
    }

    /// 503: the company's lane is full.
    pub fn busy(message: impl Into<String>, retry_after_secs: u64) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy", message).with_retry_after(retry_after_secs)
    }

    /// 413: the body is too large.
    pub fn too_large(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", message)
    }

    /// 422: well-formed but invalid, with field-level messages.
    pub fn invalid(invalid: Invalid) -> ApiError {
        let message = format!("validation failed: {invalid}");
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", message).with_fields(invalid.0)
    }

    /// 422 for a body that does not match the expected shape (wrong types, unknown fields).
    pub fn unprocessable(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", message)
    }

    /// 500: a fault on our side; details go to the log, not the client.
    pub fn internal(detail: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %detail, "internal error");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error")
    }

    /// True for 403 responses.
    pub fn is_forbidden(&self) -> bool {
        self.status == StatusCode::FORBIDDEN
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let extra = *self.extra;
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message,
                fields: extra.fields,
                plugin: extra.plugin,
                problems: extra.problems,
            },
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = extra.retry_after
            && let Ok(value) = HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::Pool(_) => {
                tracing::error!(error = %e, "database unavailable");
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "database unavailable, retry shortly")
                    .with_retry_after(1)
            }
            StoreError::Deadline => ApiError::deadline(),
            ref lost if lost.is_connection_lost() => {
                tracing::error!(error = %lost, "database connection lost");
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "database connection lost, retry shortly")
                    .with_retry_after(1)
            }
            ref other if other.is_unique_violation() => {
                ApiError::conflict("an object with the same unique value already exists")
            }
            other => ApiError::internal(other),
        }
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> ApiError {
        StoreError::Query(e).into()
    }
}

impl From<Invalid> for ApiError {
    fn from(e: Invalid) -> ApiError {
        ApiError::invalid(e)
    }
}

impl From<IdentityError> for ApiError {
    fn from(e: IdentityError) -> ApiError {
        match e {
            IdentityError::InvalidCredentials => {
                ApiError::new(StatusCode::UNAUTHORIZED, "invalid_credentials", e.to_string())
            }
            IdentityError::Throttled { retry_after_secs } => {
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts", e.to_string())
                    .with_retry_after(retry_after_secs)
            }
            IdentityError::NotFound => ApiError::not_found(),
            IdentityError::Conflict(m) => ApiError::conflict(m),
            IdentityError::Invalid(i) => ApiError::invalid(i),
            IdentityError::Store(s) => s.into(),
            IdentityError::Internal(m) => ApiError::internal(m),
        }
    }
}

impl From<AccessError> for ApiError {
    fn from(e: AccessError) -> ApiError {
        match e {
            AccessError::NotFound => ApiError::not_found(),
            AccessError::Forbidden(p) => ApiError::forbidden(format!("missing permission {p}")),
            AccessError::Conflict(m) => ApiError::conflict(m),
            AccessError::Invalid(i) => ApiError::invalid(i),
            AccessError::Store(s) => s.into(),
            AccessError::Internal(m) => ApiError::internal(m),
        }
    }
}

impl From<PluginError> for ApiError {
    fn from(e: PluginError) -> ApiError {
        match e {
            PluginError::Refused { plugin, error } => {
                let message = format!("plugin {plugin} refused: {error}");
                let (status, code) = match &error {
                    GuestError::AccessDenied(_) => (StatusCode::FORBIDDEN, "plugin_refused"),
                    GuestError::NotFound(_) => (StatusCode::NOT_FOUND, "plugin_refused"),
                    GuestError::Conflict(_) => (StatusCode::CONFLICT, "plugin_refused"),
                    _ => (StatusCode::UNPROCESSABLE_ENTITY, "plugin_refused"),
                };
                let fields = match error {
                    GuestError::Invalid(fields) => fields,
                    _ => Vec::new(),
                };
                ApiError::new(status, code, message).with_fields(fields).with_plugin(plugin)
            }
            PluginError::Failed { plugin, reason, limit } => {
                tracing::warn!(plugin = %plugin, %reason, "plugin failed");
                let (status, code) = match limit {
                    Some(Limit::Capacity) => (StatusCode::SERVICE_UNAVAILABLE, "plugin_busy"),
                    Some(Limit::Deadline) => (StatusCode::SERVICE_UNAVAILABLE, "deadline_exceeded"),
                    Some(Limit::Quarantined) => (StatusCode::SERVICE_UNAVAILABLE, "plugin_quarantined"),
                    Some(_) => (StatusCode::INTERNAL_SERVER_ERROR, "plugin_limit_exceeded"),
                    None => (StatusCode::INTERNAL_SERVER_ERROR, "plugin_failed"),
                };
                let message = format!("plugin {plugin} failed: {reason}; its changes were rolled back");
                let mut err = ApiError::new(status, code, message).with_plugin(plugin.clone());
                if let Some(limit) = limit {
                    if limit == Limit::Deadline {
                        err = err.with_retry_after(1);
                    }
                    err.extra.limit_hit = Some((plugin, reason, limit));
                }
                err
            }
            PluginError::NotFound(_) => ApiError::not_found(),
            PluginError::Invalid(problems) => {
                let message = format!("invalid plugin package: {}", problems.join("; "));
                let mut err = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_plugin", message);
                err.extra.problems = problems;
                err
            }
            PluginError::Conflict(m) => ApiError::conflict(m),
            PluginError::Quota(m) => ApiError::quota(m),
            PluginError::Forbidden(p) => ApiError::forbidden(format!("missing permission {p}")),
            PluginError::InvalidInput(i) => ApiError::invalid(i),
            PluginError::Store(s) => s.into(),
            PluginError::Internal(m) => ApiError::internal(m),
        }
    }
}

impl From<RecordError> for ApiError {
    fn from(e: RecordError) -> ApiError {
        match e {
            RecordError::NotFound(_) => ApiError::not_found(),
            RecordError::Forbidden(p) => ApiError::forbidden(format!("missing permission {p}")),
            e @ RecordError::ReadOnly(..) => ApiError::new(StatusCode::FORBIDDEN, "read_only", e.to_string()),
            RecordError::Invalid(i) => ApiError::invalid(i),
            RecordError::Conflict(m) => ApiError::conflict(m),
            RecordError::Quota(m) => ApiError::quota(m),
            RecordError::Plugin(p) => p.into(),
            RecordError::Store(s) => s.into(),
            RecordError::Internal(m) => ApiError::internal(m),
        }
    }
}
