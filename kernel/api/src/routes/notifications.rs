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
use std::sync::Arc;

use erp_kernel::notify::{self, Channel, Notification, NotifyError, inbox};
use erp_kernel::plugins::manifest::Manifest;

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
    /// The kind as people read it, in the reader's language.
    #[serde(default)]
    kind_label: String,
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

fn out(n: &Notification, locale: &str, manifests: &[Arc<Manifest>]) -> NotificationOut {
    let kind_label = notify::kind_label(&n.kind, locale, manifests);
    serde_json::from_value(n.view(locale))
        .map(|o: NotificationOut| NotificationOut { kind_label: kind_label.clone(), ..o })
        .unwrap_or_else(|_| NotificationOut {
            id: n.id.clone(),
            kind: n.kind.clone(),
            kind_label,
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
    #[param(schema_with = super::doc::cursor)]
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
    let page = super::page_request(q.limit, q.cursor.as_deref())?;
    let unread_only = q.unread.unwrap_or(false);
    let locale = auth.locale;
    let platform = state.platform.clone();
    company_read(&state, &auth, &id, move |conn, scope| {
        let me = scope.user().unwrap_or_default().to_string();
        let found = inbox::list(conn, &scope.company_id, &me, unread_only, &page)?;
        let unread = inbox::unread(conn, &scope.company_id, &me)?;
        let manifests = platform.plugins.enabled_manifests(conn, &scope.company_id)?;
        Ok(Json(InboxOut {
            items: found.items.iter().map(|n| out(n, locale, &manifests)).collect(),
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
    let platform = state.platform.clone();
    company_read(&state, &auth, &id, move |conn, scope| {
        let me = scope.user().unwrap_or_default().to_string();
        let found = inbox::get(conn, &scope.company_id, &me, &nid)?.ok_or_else(ApiError::not_found)?;
        let manifests = platform.plugins.enabled_manifests(conn, &scope.company_id)?;
        Ok(Json(out(&found, locale, &manifests)))
    })
    .await
}

/// Which notifications to mark read: some by id, or all.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum ReadIn {
    /// These notifications.
    Some(ReadSome),
    /// Every unread notification of the caller in the company.
    All(ReadAll),
}

/// Some notifications by id.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReadSome {
    /// Their ids (at most 500).
    #[schema(max_items = 500)]
    ids: Vec<String>,
}

/// Every unread notification.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReadAll {
    /// `true`.
    #[schema(schema_with = super::doc::only_true)]
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
    let ids = match body {
        ReadIn::All(ReadAll { all: false }) => {
            return Err(ApiError::invalid(erp_kernel::validation::Invalid::one(
                "all",
                "give either the ids to mark or all: true",
            )));
        }
        ReadIn::Some(ReadSome { ids }) if ids.len() > 500 => {
            return Err(ApiError::invalid(erp_kernel::validation::Invalid::one("ids", "at most 500 at once")));
        }
        ReadIn::Some(ReadSome { ids }) => Some(ids),
        ReadIn::All(_) => None,
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

/// Where one kind of notification goes, as the caller sets it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PreferenceIn {
    /// The kind, such as `collaboration.mention`.
    #[schema(schema_with = super::doc::notification_kind)]
    kind: String,
    /// `app` (the bell), `app_and_email`, or `off` (not kept at all).
    #[schema(schema_with = super::doc::notification_channel)]
    channel: String,
}

/// The caller's new choices.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PreferencesIn {
    /// Kinds with their channels (at most 200).
    #[schema(max_items = 200)]
    kinds: Vec<PreferenceIn>,
}

/// Where one kind of notification goes.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PreferenceOut {
    /// The kind, such as `collaboration.mention`.
    kind: String,
    /// The kind as people read it, in the caller's language.
    label: String,
    /// `app` (the bell), `app_and_email`, or `off` (not kept at all).
    channel: String,
}

/// The caller's choices.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PreferencesOut {
    /// Every kind the company's plugins and the kernel send, and any other the caller has
    /// received or chosen for, with its channel (`app` unless chosen).
    kinds: Vec<PreferenceOut>,
}

/// The kinds a person may choose for in a company: the kernel's, those the enabled plugins
/// declare, and those the person has received.
fn offered(
    conn: &mut erp_kernel::storage::DbConn,
    platform: &erp_kernel::Platform,
    company: &str,
    me: &str,
) -> Result<(Vec<String>, Vec<Arc<Manifest>>), ApiError> {
    let manifests = platform.plugins.enabled_manifests(conn, company)?;
    let mut kinds: Vec<String> = notify::KERNEL_KINDS.iter().map(|(k, _, _)| k.to_string()).collect();
    kinds.extend(manifests.iter().flat_map(|m| m.notifications.iter().map(|n| n.kind.clone())));
    kinds.extend(inbox::kinds_received(conn, company, me)?);
    kinds.sort();
    kinds.dedup();
    Ok((kinds, manifests))
}

fn preferences_of(
    conn: &mut erp_kernel::storage::DbConn,
    platform: &erp_kernel::Platform,
    company: &str,
    me: &str,
    locale: &str,
) -> Result<PreferencesOut, ApiError> {
    let (mut kinds, manifests) = offered(conn, platform, company, me)?;
    let chosen = inbox::preferences(conn, company, me)?;
    kinds.extend(chosen.iter().map(|(k, _)| k.clone()));
    kinds.sort();
    kinds.dedup();
    let kinds = kinds
        .into_iter()
        .map(|kind| {
            let channel = chosen.iter().find(|(k, _)| *k == kind).map_or(Channel::App, |(_, c)| *c);
            PreferenceOut {
                label: notify::kind_label(&kind, locale, &manifests),
                channel: channel.as_str().to_string(),
                kind,
            }
        })
        .collect();
    Ok(PreferencesOut { kinds })
}

/// Where each kind of the caller's notifications goes in the company.
#[utoipa::path(get, path = "/api/v1/companies/{id}/notifications/preferences", tag = "notifications", security(("bearer" = [])),
    params(("id" = String, Path, description = "Company id")),
    responses((status = 200, body = PreferencesOut), (status = 404, description = "no such company")))]
pub(crate) async fn get_preferences(
    auth: Auth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<PreferencesOut>, ApiError> {
    let (locale, platform) = (auth.locale, state.platform.clone());
    company_read(&state, &auth, &id, move |conn, scope| {
        let me = scope.user().unwrap_or_default().to_string();
        Ok(Json(preferences_of(conn, &platform, &scope.company_id, &me, locale)?))
    })
    .await
}

/// Sets where the given kinds go (kinds not named keep their choice).
#[utoipa::path(put, path = "/api/v1/companies/{id}/notifications/preferences", tag = "notifications", security(("bearer" = [])),
    params(("id" = String, Path, description = "Company id")), request_body = PreferencesIn,
    responses((status = 200, body = PreferencesOut), (status = 404, description = "no such company"), (status = 422, description = "an unknown kind or channel")))]
pub(crate) async fn put_preferences(
    auth: Auth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<PreferencesIn>,
) -> Result<Json<PreferencesOut>, ApiError> {
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
    let (locale, platform) = (auth.locale, state.platform.clone());
    company_work(&state, &auth, &id, "notification.preferences", move |session, scope, _| {
        let me = scope.user().unwrap_or_default().to_string();
        let company = scope.company_id.clone();
        let (known, _) = offered(session.conn()?, &platform, &company, &me)?;
        let unknown: Vec<erp_kernel::validation::FieldError> = choices
            .iter()
            .enumerate()
            .filter(|(_, (kind, _))| !known.contains(kind))
            .map(|(i, (kind, _))| {
                erp_kernel::validation::FieldError::new(
                    format!("kinds[{i}].kind"),
                    format!("{kind} is not a kind of notification sent in this company"),
                )
            })
            .collect();
        if !unknown.is_empty() {
            return Err(ApiError::invalid(erp_kernel::validation::Invalid(unknown)));
        }
        for (kind, channel) in &choices {
            inbox::set_preference(session.conn()?, &company, &me, kind, *channel)?;
        }
        Ok(Json(preferences_of(session.conn()?, &platform, &company, &me, locale)?))
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
    // Kinds are labelled as the plugins enabled when the stream opened declare them.
    let manifests = {
        let (platform, company) = (state.platform.clone(), company.clone());
        state.platform.db.read(move |conn| platform.plugins.enabled_manifests(conn, &company)).await?
    };
    // Listen before replaying, so nothing falls between the two.
    let feed = state.platform.live.listen(&company, &me);
    // What the replay sent may come again live; nothing else can.
    let replayed: std::collections::HashSet<String> = missed.iter().map(|n| n.id.clone()).collect();
    let first: Vec<Event> = std::iter::once(Event::default().event("ready").data(format!("{{\"unread\":{unread}}}")))
        .chain(missed.iter().map(|n| event_of(n, locale, &manifests)))
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
            Some(n) => Some(event_of(&n, locale, &manifests)),
        };
        std::future::ready(event)
    });
    let all = futures_util::StreamExt::map(
        futures_util::StreamExt::chain(futures_util::stream::iter(first), live),
        Ok::<Event, Infallible>,
    );
    Ok(Sse::new(all).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)).text("keep-alive")))
}

fn event_of(n: &Notification, locale: &str, manifests: &[Arc<Manifest>]) -> Event {
    let data = serde_json::to_string(&out(n, locale, manifests)).unwrap_or_else(|_| "{}".into());
    Event::default().event("notification").id(n.id.clone()).data(data)
}
