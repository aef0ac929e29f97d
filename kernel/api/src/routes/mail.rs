//! `/api/v1/companies/{id}/mail`: the company's outgoing mail server and the mailbox read into
//! a plugin's inbox, a test message, and a check of the mailbox on demand. All of it needs
//! `kernel.company.manage`; passwords go in and never come out.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ListOf, company_read, company_write, time};
use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use erp_kernel::access::permissions::COMPANY_MANAGE;
use erp_kernel::audit::{self, Entry, Outcome};
use erp_kernel::mail::{self, MailError, Outgoing, outbox, poll, settings};
use erp_kernel::outbound::OutboundError;
use erp_kernel::storage::run_blocking;

impl From<MailError> for ApiError {
    fn from(e: MailError) -> ApiError {
        match e {
            MailError::Invalid(i) => i.into(),
            MailError::NotConfigured(m) => ApiError::new(StatusCode::CONFLICT, "mail_not_configured", m),
            MailError::Rejected(m) => {
                ApiError::new(StatusCode::BAD_GATEWAY, "mail_rejected", format!("the mail server refused: {m}"))
            }
            MailError::Outbound(OutboundError::Denied(m)) => ApiError::new(StatusCode::FORBIDDEN, "outbound_denied", m),
            MailError::Outbound(OutboundError::Invalid(m)) => ApiError::unprocessable(m),
            MailError::Outbound(OutboundError::Limit(m)) => {
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", m).with_retry_after(60)
            }
            MailError::Outbound(OutboundError::Failed(m)) => ApiError::new(StatusCode::BAD_GATEWAY, "mail_failed", m),
            MailError::Secret(s) => ApiError::new(StatusCode::CONFLICT, "mail_not_configured", s.to_string()),
            MailError::Store(s) => s.into(),
            MailError::NotFound(m) => ApiError::new(StatusCode::NOT_FOUND, "not_found", m),
            MailError::Plugin(e) => e.into(),
        }
    }
}

/// The company's mail settings (passwords are never shown, only whether one is set).
#[derive(Serialize, ToSchema)]
pub(crate) struct MailOut {
    /// False until settings are saved.
    configured: bool,
    /// The address mail is sent from.
    from_address: String,
    /// The name shown with it.
    from_name: String,
    /// SMTP relay host; empty: no outgoing mail.
    smtp_host: String,
    /// Its port.
    smtp_port: u16,
    /// `starttls`, `tls` or `none`.
    smtp_security: String,
    /// User name; empty: no authentication.
    smtp_username: String,
    /// Whether an SMTP password is stored.
    smtp_password_set: bool,
    /// IMAP host; empty: no mailbox.
    imap_host: String,
    /// Its port.
    imap_port: u16,
    /// `starttls`, `tls` or `none`.
    imap_security: String,
    /// User name.
    imap_username: String,
    /// Whether an IMAP password is stored.
    imap_password_set: bool,
    /// The folder read.
    imap_folder: String,
    /// `plugin/webhook` new messages are handed to.
    deliver_to: String,
    /// When the mailbox was last checked.
    checked_at: Option<String>,
    /// Why the last check failed.
    last_error: Option<String>,
    /// Messages read from the mailbox so far.
    received: i64,
    /// When the settings last changed.
    updated_at: Option<String>,
}

fn out(s: Option<settings::Stored>, received: i64) -> MailOut {
    match s {
        Some(s) => MailOut {
            configured: true,
            smtp_password_set: s.smtp_password.is_some(),
            imap_password_set: s.imap_password.is_some(),
            checked_at: s.imap_checked_at.map(time),
            last_error: s.imap_error,
            updated_at: Some(time(s.updated_at)),
            smtp_port: u16::try_from(s.smtp_port).unwrap_or(0),
            imap_port: u16::try_from(s.imap_port).unwrap_or(0),
            from_address: s.from_address,
            from_name: s.from_name,
            smtp_host: s.smtp_host,
            smtp_security: s.smtp_security,
            smtp_username: s.smtp_username,
            imap_host: s.imap_host,
            imap_security: s.imap_security,
            imap_username: s.imap_username,
            imap_folder: s.imap_folder,
            deliver_to: s.deliver_to,
            received,
        },
        None => MailOut {
            configured: false,
            from_address: String::new(),
            from_name: String::new(),
            smtp_host: String::new(),
            smtp_port: 587,
            smtp_security: "starttls".into(),
            smtp_username: String::new(),
            smtp_password_set: false,
            imap_host: String::new(),
            imap_port: 993,
            imap_security: "tls".into(),
            imap_username: String::new(),
            imap_password_set: false,
            imap_folder: "INBOX".into(),
            deliver_to: String::new(),
            checked_at: None,
            last_error: None,
            received,
            updated_at: None,
        },
    }
}

/// The settings to keep: every field replaces what is stored, except the passwords, which stay
/// when left out and are removed when empty.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct MailIn {
    /// The address mail is sent from (required with an SMTP host).
    #[serde(default)]
    #[schema(max_length = 320)]
    from_address: String,
    /// The name shown with it.
    #[serde(default)]
    #[schema(max_length = 200)]
    from_name: String,
    /// SMTP relay host name or address; empty: no outgoing mail.
    #[serde(default)]
    #[schema(max_length = 253)]
    smtp_host: String,
    /// Its port (0 or left out: 587 for STARTTLS, 465 for TLS, 25 for none).
    #[serde(default)]
    smtp_port: u16,
    /// `starttls` (the default), `tls` or `none`.
    #[serde(default)]
    #[schema(pattern = "^(starttls|tls|none)?$")]
    smtp_security: String,
    /// User name; empty: no authentication.
    #[serde(default)]
    #[schema(max_length = 320)]
    smtp_username: String,
    /// New password; left out: unchanged; empty: removed.
    #[serde(default)]
    #[schema(max_length = 1000)]
    smtp_password: Option<String>,
    /// IMAP host name or address; empty: no mailbox.
    #[serde(default)]
    #[schema(max_length = 253)]
    imap_host: String,
    /// Its port (0 or left out: 993 for TLS, 143 otherwise).
    #[serde(default)]
    imap_port: u16,
    /// `tls` (the default), `starttls` or `none`.
    #[serde(default)]
    #[schema(pattern = "^(starttls|tls|none)?$")]
    imap_security: String,
    /// User name (required with an IMAP host).
    #[serde(default)]
    #[schema(max_length = 320)]
    imap_username: String,
    /// New password; left out: unchanged; empty: removed.
    #[serde(default)]
    #[schema(max_length = 1000)]
    imap_password: Option<String>,
    /// The folder to read (empty: `INBOX`).
    #[serde(default)]
    #[schema(max_length = 200)]
    imap_folder: String,
    /// `plugin/webhook` new messages are handed to, such as the CRM's e-mail channel (required
    /// with an IMAP host).
    #[serde(default)]
    #[schema(max_length = 200)]
    deliver_to: String,
}

/// The company's mail settings.
#[utoipa::path(get, path = "/api/v1/companies/{id}/mail", tag = "mail", security(("bearer" = [])),
    params(("id" = String, Path, description = "Company id")),
    responses((status = 200, body = MailOut), (status = 403, description = "missing permission"), (status = 404, description = "no such company")))]
pub(crate) async fn get_mail(
    auth: Auth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<MailOut>, ApiError> {
    let (stored, received) = company_read(&state, &auth, &id, |conn, scope| {
        scope.require(COMPANY_MANAGE)?;
        Ok((settings::get(conn, &scope.company_id)?, settings::received_count(conn, &scope.company_id)?))
    })
    .await?;
    Ok(Json(out(stored, received)))
}

/// Saves the company's mail settings.
#[utoipa::path(put, path = "/api/v1/companies/{id}/mail", tag = "mail", security(("bearer" = [])), request_body = MailIn,
    params(("id" = String, Path, description = "Company id")),
    responses((status = 200, body = MailOut), (status = 403, description = "missing permission"), (status = 404, description = "no such company"), (status = 422, description = "invalid settings")))]
pub(crate) async fn put_mail(
    auth: Auth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<MailIn>,
) -> Result<Json<MailOut>, ApiError> {
    let platform = state.platform.clone();
    let (stored, received) = company_write(&state, &auth, &id, "mail.settings", move |conn, scope, actor| {
        scope.require(COMPANY_MANAGE)?;
        let change = settings::Change {
            from_address: body.from_address,
            from_name: body.from_name,
            smtp_host: body.smtp_host,
            smtp_port: body.smtp_port,
            smtp_security: body.smtp_security,
            smtp_username: body.smtp_username,
            smtp_password: body.smtp_password,
            imap_host: body.imap_host,
            imap_port: body.imap_port,
            imap_security: body.imap_security,
            imap_username: body.imap_username,
            imap_password: body.imap_password,
            imap_folder: body.imap_folder,
            deliver_to: body.deliver_to,
        };
        let stored = settings::put(&platform, conn, &scope.company_id, &change)?;
        audit::record(
            conn,
            Entry {
                company_id: Some(&scope.company_id),
                actor,
                action: "mail.settings",
                object_type: "company",
                object_id: Some(&scope.company_id),
                outcome: Outcome::Success,
                detail: serde_json::json!({
                    "smtp_host": stored.smtp_host, "imap_host": stored.imap_host,
                    "smtp_password_changed": change.smtp_password.is_some(),
                    "imap_password_changed": change.imap_password.is_some(),
                }),
            },
        )?;
        let received = settings::received_count(conn, &scope.company_id)?;
        Ok((stored, received))
    })
    .await?;
    Ok(Json(out(Some(stored), received)))
}

/// Removes the company's mail settings: nothing is sent or read until they are set again.
#[utoipa::path(delete, path = "/api/v1/companies/{id}/mail", tag = "mail", security(("bearer" = [])),
    params(("id" = String, Path, description = "Company id")),
    responses((status = 204, description = "removed"), (status = 403, description = "missing permission"), (status = 404, description = "no such company or no settings")))]
pub(crate) async fn delete_mail(
    auth: Auth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    company_write(&state, &auth, &id, "mail.settings.delete", move |conn, scope, actor| {
        scope.require(COMPANY_MANAGE)?;
        if !settings::delete(conn, &scope.company_id)? {
            return Err(ApiError::not_found());
        }
        audit::record(
            conn,
            Entry {
                company_id: Some(&scope.company_id),
                actor,
                action: "mail.settings.delete",
                object_type: "company",
                object_id: Some(&scope.company_id),
                outcome: Outcome::Success,
                detail: serde_json::json!({}),
            },
        )?;
        Ok(())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Where a test message goes.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TestMail {
    /// The recipient: one e-mail address.
    #[schema(
        max_length = 254,
        pattern = r"^[A-Za-z0-9_%+-]{1,20}(\.[A-Za-z0-9_%+-]{1,20}){0,2}@[A-Za-z0-9]([A-Za-z0-9-]{0,30}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,30}[A-Za-z0-9])?){1,3}$"
    )]
    to: String,
}

/// A message that was handed to the relay.
#[derive(Serialize, ToSchema)]
pub(crate) struct Sent {
    /// Its Message-ID.
    message_id: String,
}

/// Sends a short test message through the company's relay, to check the settings.
#[utoipa::path(post, path = "/api/v1/companies/{id}/mail/test", tag = "mail", security(("bearer" = [])), request_body = TestMail,
    params(("id" = String, Path, description = "Company id")),
    responses((status = 200, body = Sent), (status = 403, description = "missing permission, or the relay's address is not one the platform may reach"),
        (status = 404, description = "no such company"), (status = 409, description = "no outgoing mail server is set up"),
        (status = 422, description = "not an e-mail address"), (status = 429, description = "over the company's outbound rate"),
        (status = 502, description = "the relay could not be reached or refused the message")))]
pub(crate) async fn test_mail(
    auth: Auth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<TestMail>,
) -> Result<Json<Sent>, ApiError> {
    let (company, name) = company_read(&state, &auth, &id, |conn, scope| {
        scope.require(COMPANY_MANAGE)?;
        let name = erp_kernel::identity::companies::get(conn, &scope.company_id)?.ok_or_else(ApiError::not_found)?.name;
        Ok((scope.company_id.clone(), name))
    })
    .await?;
    if !settings::is_address(body.to.trim()) {
        return Err(erp_kernel::validation::Invalid::one("to", "must be an e-mail address").into());
    }
    let platform = state.platform.clone();
    let message_id = run_blocking(move || {
        let message = Outgoing {
            to: vec![body.to.trim().to_string()],
            subject: format!("{name}: test message / тестовое письмо"),
            text: "This message checks the outgoing mail settings.\nЭто письмо проверяет настройки исходящей почты.\n"
                .into(),
            ..Outgoing::default()
        };
        mail::send(&platform, &company, &message).map_err(ApiError::from)
    })
    .await?;
    Ok(Json(Sent { message_id }))
}

/// What a check of the mailbox brought.
#[derive(Serialize, ToSchema)]
pub(crate) struct Checked {
    /// New messages found.
    found: usize,
    /// Handed to the plugin.
    delivered: usize,
    /// Handed on before (the same Message-ID).
    duplicates: usize,
    /// The plugin refused them.
    refused: usize,
    /// Too large to take, left in the mailbox.
    too_large: usize,
    /// Reports that a sent message could not be delivered: the message is marked bounced.
    bounces: usize,
    /// Other delivery reports (delays, messages not sent from here), read and left alone.
    reports: usize,
}

/// Checks the company's mailbox now (it is also checked every minute or so).
#[utoipa::path(post, path = "/api/v1/companies/{id}/mail/poll", tag = "mail", security(("bearer" = [])),
    params(("id" = String, Path, description = "Company id")),
    responses((status = 200, body = Checked), (status = 403, description = "missing permission, or the mailbox's address is not one the platform may reach"),
        (status = 404, description = "no such company"), (status = 409, description = "no mailbox is set up"),
        (status = 429, description = "over the company's outbound rate"), (status = 502, description = "the mailbox could not be read")))]
pub(crate) async fn poll_mail(
    auth: Auth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Checked>, ApiError> {
    let company = company_read(&state, &auth, &id, |_, scope| {
        scope.require(COMPANY_MANAGE)?;
        Ok(scope.company_id.clone())
    })
    .await?;
    let platform = state.platform.clone();
    let r = run_blocking(move || poll::poll(&platform, &company).map_err(ApiError::from)).await?;
    Ok(Json(Checked {
        found: r.found,
        delivered: r.delivered,
        duplicates: r.duplicates,
        refused: r.refused,
        too_large: r.too_large,
        bounces: r.bounces,
        reports: r.reports,
    }))
}

/// `?status=&limit=&cursor=`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct OutboxQuery {
    /// Only messages in this state.
    status: Option<OutboxStatus>,
    /// Items per page, 1..=500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// Cursor from the previous page.
    #[param(schema_with = super::doc::cursor)]
    cursor: Option<String>,
}

/// Where a message stands.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum OutboxStatus {
    /// Waiting, or being retried.
    Queued,
    /// Handed to the relay.
    Sent,
    /// Refused for good by the relay.
    Refused,
    /// Not sent after the last attempt.
    Failed,
    /// Sent, then returned by the recipient's server.
    Bounced,
}

impl OutboxStatus {
    fn as_str(self) -> &'static str {
        match self {
            OutboxStatus::Queued => outbox::QUEUED,
            OutboxStatus::Sent => outbox::SENT,
            OutboxStatus::Refused => outbox::REFUSED,
            OutboxStatus::Failed => outbox::FAILED,
            OutboxStatus::Bounced => outbox::BOUNCED,
        }
    }
}

/// A message of the outbox (its body is not shown).
#[derive(Serialize, ToSchema)]
pub(crate) struct OutboxOut {
    /// Id.
    id: String,
    /// What queued it: a plugin, or `notifications`.
    source: String,
    /// The first recipient.
    recipient: String,
    /// Subject.
    subject: String,
    /// `queued`, `sent`, `refused`, `failed` or `bounced`.
    status: String,
    /// Whether the recipient followed the message's unsubscribe link.
    unsubscribed: bool,
    /// Attempts made.
    attempts: i32,
    /// Why the last attempt failed.
    error: Option<String>,
    /// Its Message-ID once sent.
    message_id: Option<String>,
    /// When queued.
    created_at: String,
    /// When sent.
    sent_at: Option<String>,
}

/// The company's outgoing mail, newest first: what was sent, what waits and what failed.
#[utoipa::path(get, path = "/api/v1/companies/{id}/mail/outbox", tag = "mail", security(("bearer" = [])),
    params(("id" = String, Path, description = "Company id"), OutboxQuery),
    responses((status = 200, body = ListOf<OutboxOut>), (status = 403, description = "missing permission"), (status = 404, description = "no such company")))]
pub(crate) async fn list_outbox(
    auth: Auth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<OutboxQuery>,
) -> Result<Json<ListOf<OutboxOut>>, ApiError> {
    let page = super::page_request(q.limit, q.cursor.as_deref())?;
    let status = q.status.map(OutboxStatus::as_str);
    let found = company_read(&state, &auth, &id, move |conn, scope| {
        scope.require(COMPANY_MANAGE)?;
        Ok(outbox::list(conn, &scope.company_id, status, &page)?)
    })
    .await?;
    Ok(Json(ListOf::from_page(found, |r| OutboxOut {
        id: r.id,
        source: r.source,
        recipient: r.recipient,
        subject: r.subject,
        status: r.status,
        unsubscribed: r.unsubscribed_at.is_some(),
        attempts: r.attempts,
        error: r.error,
        message_id: r.message_id,
        created_at: time(r.created_at),
        sent_at: r.sent_at.map(time),
    })))
}
