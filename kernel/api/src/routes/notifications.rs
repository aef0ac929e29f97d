//! `/api/v1/companies/{id}/notifications`: the caller's notifications in a company (newest
//! first, with the unread count), read marks, where each kind goes, and a live stream of new
//! ones as Server-Sent Events.

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{company_read, company_work};
use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use erp_kernel::notify::{Channel, Notification, NotifyError, inbox};
use erp_kernel::paging::PageRequest;

impl From<NotifyError> for ApiError {
    fn from(e: NotifyError) -> Self {
        match e {
            NotifyError::Invalid(i) => ApiError::invalid(i),
            NotifyError::NotMember(_) => ApiError::unprocessable(e.to_string()),
            NotifyError::Store(s) => s.into(),
        }
    }
}

/// A notification as its reader sees it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct NotificationOut {
    /// Id (time-ordered).
    id: String,
    /// Kind, such as `collaboration.mention`: what preferences choose by.
    kind: String,
    /// Who sent it: a plugin, or `kernel`.
    source: String,
    /// Headline, in the reader's language when the sender gave it.
    title: String,
    /// Text (may be empty).
    body: String,
    /// The record it is about: `{plugin, collection, record}`.
    #[schema(value_type = Option<Object>)]
    link: Option<serde_json::Value>,
    /// `low`, `normal` or `high`.
    importance: String,
    /// When it was sent.
    created_at: String,
    /// Whether its reader has read it.
    read: bool,
}

fn out(n: &Notification, locale: &str) -> NotificationOut {
    serde_json::from_value(n.view(locale)).unwrap_or_else(|_| NotificationOut {
        id: n.id.clone(),
        kind: n.kind.clone(),
        source: n.source.clone(),
        title: String::new(),
        body: String::new(),
        link: None,
        importance: n.importance.clone(),
        created_at: String::new(),
        read: n.read_at.is_some(),
    })
}

/// `?unread=&limit=&cursor=`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct InboxQuery {
    /// Only unread notifications.
    unread: Option<bool>,
    /// Items per page, 1..=500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// Cursor from the previous page's `next_cursor`.
    cursor: Option<String>,
}

/// One page of the inbox.
#[derive(Serialize, ToSchema)]
pub(crate) struct InboxOut {
    /// Newest first.
    items: Vec<NotificationOut>,
    /// Pass as `cursor` for the next page; absent on the last.
    next_cursor: Option<String>,
    /// Unread notifications in all.
    unread: i64,
}

/// The caller's notifications in the company, newest first.
#[utoipa::path(get, path = "/api/v1/companies/{id}/notifications", tag = "notifications", security(("bearer" = [])),
    params(("id" = String, Path, description = "Company id"), InboxQuery),
    responses((status = 200, body = InboxOut), (status = 404, description = "no such company")))]
pub(crate) async fn list_notifications(
    auth: Auth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<InboxQuery>,
) -> Result<Json<InboxOut>, ApiError> {
    let page = PageRequest::new(q.limit, q.cursor.as_deref()).map_err(|invalid| {
        ApiError::new(axum::http::StatusCode::BAD_REQUEST, "bad_request", format!("invalid query: {invalid}"))
            .with_fields(invalid.0)
    })?;
    let unread_only = q.unread.unwrap_or(false);
    let locale = auth.locale;
    company_read(&state, &auth, &id, move |conn, scope| {
        let me = scope.user().unwrap_or_default().to_string();
        let found = inbox::list(conn, &scope.company_id, &me, unread_only, &page)?;
        let unread = inbox::unread(conn, &scope.company_id, &me)?;
        Ok(Json(InboxOut {
            items: found.items.iter().map(|n| out(n, locale)).collect(),
            next_cursor: found.next_cursor,
            unread,
        }))
    })
    .await
}

/// One of the caller's notifications.
#[utoipa::path(get, path = "/api/v1/companies/{id}/notifications/{notification}", tag = "notifications", security(("bearer" = [])),
    params(("id" = String, Path, description = "Company id"), ("notification" = String, Path, description = "Notification id")),
    responses((status = 200, body = NotificationOut), (status = 404, description = "no such notification of the caller")))]
pub(crate) async fn get_notification(
    auth: Auth,
    State(state): State<AppState>,
    ApiPath((id, nid)): ApiPath<(String, String)>,
) -> Result<Json<NotificationOut>, ApiError> {
    let locale = auth.locale;
    company_read(&state, &auth, &id, move |conn, scope| {
        let me = scope.user().unwrap_or_default().to_string();
        let found = inbox::get(conn, &scope.company_id, &me, &nid)?.ok_or_else(ApiError::not_found)?;
        Ok(Json(out(&found, locale)))
    })
    .await
}

/// Which notifications to mark read: some by id, or all.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReadIn {
    /// These notifications (at most 500).
    #[serde(default)]
    ids: Option<Vec<String>>,
    /// Every unread notification of the caller in the company.
    #[serde(default)]
    all: bool,
}

/// What marking changed.
#[derive(Serialize, ToSchema)]
pub(crate) struct ReadOut {
    /// Notifications that became read.
    changed: usize,
    /// Unread notifications left.
    unread: i64,
}

/// Marks the caller's notifications read: those named in `ids`, or `all`.
#[utoipa::path(post, path = "/api/v1/companies/{id}/notifications/read", tag = "notifications", security(("bearer" = [])),
    params(("id" = String, Path, description = "Company id")), request_body = ReadIn,
    responses((status = 200, body = ReadOut), (status = 404, description = "no such company"), (status = 422, description = "neither ids nor all, or too many ids")))]
pub(crate) async fn mark_read(
    auth: Auth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<ReadIn>,
) -> Result<Json<ReadOut>, ApiError> {
    let ids = match (body.ids, body.all) {
        (Some(_), true) | (None, false) => {
            return Err(ApiError::invalid(erp_kernel::validation::Invalid::one(
                "ids",
                "give either the ids to mark or all: true",
            )));
        }
        (Some(ids), false) if ids.len() > 500 => {
            return Err(ApiError::invalid(erp_kernel::validation::Invalid::one("ids", "at most 500 at once")));
        }
        (ids, _) => ids,
    };
    company_work(&state, &auth, &id, "notification.read", move |session, scope, _| {
        let me = scope.user().unwrap_or_default().to_string();
        let company = scope.company_id.clone();
        let changed = inbox::mark_read(session.conn()?, &company, &me, ids.as_deref())?;
        let unread = inbox::unread(session.conn()?, &company, &me)?;
        Ok(Json(ReadOut { changed, unread }))
    })
    .await
}

/// Where one kind of notification goes.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PreferenceIo {
    /// The kind, such as `collaboration.mention`.
    kind: String,
    /// `app` (the bell), `app_and_email`, or `off` (not kept at all).
    channel: String,
}

/// The caller's choices.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PreferencesIo {
    /// Every kind the caller has received or chosen for, with its channel.
    kinds: Vec<PreferenceIo>,
}

fn preferences_of(conn: &mut erp_kernel::storage::DbConn, company: &str, me: &str) -> Result<PreferencesIo, ApiError> {
    let mut kinds: Vec<PreferenceIo> = inbox::preferences(conn, company, me)?
        .into_iter()
        .map(|(kind, channel)| PreferenceIo { kind, channel: channel.as_str().to_string() })
        .collect();
    for kind in inbox::kinds_received(conn, company, me)? {
        if !kinds.iter().any(|k| k.kind == kind) {
            kinds.push(PreferenceIo { kind, channel: Channel::App.as_str().to_string() });
        }
    }
    kinds.sort_by(|a, b| a.kind.cmp(&b.kind));
    Ok(PreferencesIo { kinds })
}

/// Where each kind of the caller's notifications goes in the company.
#[utoipa::path(get, path = "/api/v1/companies/{id}/notifications/preferences", tag = "notifications", security(("bearer" = [])),
    params(("id" = String, Path, description = "Company id")),
    responses((status = 200, body = PreferencesIo), (status = 404, description = "no such company")))]
pub(crate) async fn get_preferences(
    auth: Auth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<PreferencesIo>, ApiError> {
    company_read(&state, &auth, &id, move |conn, scope| {
        let me = scope.user().unwrap_or_default().to_string();
        Ok(Json(preferences_of(conn, &scope.company_id, &me)?))
    })
    .await
}

/// Sets where the given kinds go (kinds not named keep their choice).
#[utoipa::path(put, path = "/api/v1/companies/{id}/notifications/preferences", tag = "notifications", security(("bearer" = [])),
    params(("id" = String, Path, description = "Company id")), request_body = PreferencesIo,
    responses((status = 200, body = PreferencesIo), (status = 404, description = "no such company"), (status = 422, description = "an unknown kind or channel")))]
pub(crate) async fn put_preferences(
    auth: Auth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<PreferencesIo>,
) -> Result<Json<PreferencesIo>, ApiError> {
    if body.kinds.len() > 200 {
        return Err(ApiError::invalid(erp_kernel::validation::Invalid::one("kinds", "at most 200 at once")));
    }
    let mut choices = Vec::with_capacity(body.kinds.len());
    for (i, k) in body.kinds.into_iter().enumerate() {
        let channel = Channel::parse(&k.channel).ok_or_else(|| {
            ApiError::invalid(erp_kernel::validation::Invalid::one(
                format!("kinds[{i}].channel"),
                "must be app, app_and_email or off",
            ))
        })?;
        choices.push((k.kind, channel));
    }
    company_work(&state, &auth, &id, "notification.preferences", move |session, scope, _| {
        let me = scope.user().unwrap_or_default().to_string();
        let company = scope.company_id.clone();
        for (kind, channel) in &choices {
            inbox::set_preference(session.conn()?, &company, &me, kind, *channel)?;
        }
        Ok(Json(preferences_of(session.conn()?, &company, &me)?))
    })
    .await
}

/// How many missed notifications a reconnecting stream replays at most.
const REPLAY: i64 = 200;

/// New notifications of the caller in the company as they arrive, as Server-Sent Events:
/// first `ready` with `{"unread": n}`, then one `notification` event per notification (its
/// `id` the notification's). A client that reconnects with `Last-Event-ID` first gets what it
/// missed. A comment every 15 seconds keeps proxies from closing the stream; `reload` means
/// the connection fell behind and the client should list the inbox again.
#[utoipa::path(get, path = "/api/v1/companies/{id}/notifications/stream", tag = "notifications", security(("bearer" = [])),
    params(("id" = String, Path, description = "Company id"), ("Last-Event-ID" = Option<String>, Header, description = "The last notification id received")),
    responses((status = 200, description = "text/event-stream of notifications", content_type = "text/event-stream"), (status = 404, description = "no such company")))]
pub(crate) async fn stream_notifications(
    auth: Auth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let last = headers.get("last-event-id").and_then(|v| v.to_str().ok()).and_then(erp_kernel::ids::parse);
    let locale = auth.locale;
    let (company, me, unread, missed) = company_read(&state, &auth, &id, move |conn, scope| {
        let me = scope.user().unwrap_or_default().to_string();
        let unread = inbox::unread(conn, &scope.company_id, &me)?;
        let missed = match &last {
            Some(after) => inbox::after(conn, &scope.company_id, &me, after, REPLAY)?,
            None => Vec::new(),
        };
        Ok((scope.company_id.clone(), me, unread, missed))
    })
    .await?;
    // Listen before replaying, so nothing falls between the two.
    let feed = state.platform.live.listen(&company, &me);
    // What the replay sent may come again live; nothing else can.
    let replayed: std::collections::HashSet<String> = missed.iter().map(|n| n.id.clone()).collect();
    let first: Vec<Event> = std::iter::once(Event::default().event("ready").data(format!("{{\"unread\":{unread}}}")))
        .chain(missed.iter().map(|n| event_of(n, locale)))
        .collect();
    let live = futures_util::stream::unfold(feed.receiver, move |mut receiver| async move {
        use tokio::sync::broadcast::error::RecvError;
        match receiver.recv().await {
            Ok(n) => Some((Some(n), receiver)),
            // Fell behind: the page reloads its inbox instead of missing some.
            Err(RecvError::Lagged(_)) => Some((None, receiver)),
            Err(RecvError::Closed) => None,
        }
    });
    let live = futures_util::StreamExt::filter_map(live, move |n| {
        let event = match n {
            None => Some(Event::default().event("reload").data("{}")),
            Some(n) if replayed.contains(&n.id) => None,
            Some(n) => Some(event_of(&n, locale)),
        };
        std::future::ready(event)
    });
    let all = futures_util::StreamExt::map(
        futures_util::StreamExt::chain(futures_util::stream::iter(first), live),
        Ok::<Event, Infallible>,
    );
    Ok(Sse::new(all).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)).text("keep-alive")))
}

fn event_of(n: &Notification, locale: &str) -> Event {
    let data = serde_json::to_string(&out(n, locale)).unwrap_or_else(|_| "{}".into());
    Event::default().event("notification").id(n.id.clone()).data(data)
}
