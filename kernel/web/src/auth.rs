//! Logging in and out, and the language switch.

use std::net::SocketAddr;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{AppendHeaders, IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::client::Api;
use super::session::{self, CSRF_FIELD, LANG_COOKIE, LOGIN_COOKIE, SESSION_COOKIE};
use super::{Ctx, Form, UiState, i18n, render, see_other};

/// Session cookie lifetime; the token itself expires on the kernel's schedule.
const SESSION_SECONDS: i64 = 12 * 3600;

#[derive(Deserialize)]
pub(super) struct Next {
    next: Option<String>,
}

fn login_page(headers: &HeaderMap, status: StatusCode, next: &str, email: &str, error: Option<String>) -> Response {
    let lang = session::language(headers);
    // The login form is guarded by its own random cookie, since there is no session yet.
    let token = session::cookie(headers, LOGIN_COOKIE).unwrap_or_else(session::random_token);
    let cookie = session::set_cookie(headers, LOGIN_COOKIE, Some(&token), 3600);
    let page = json!({ "next": next, "email": email, "error": error, "csrf": session::csrf_token(&token),
                       "path": format!("/login?next={}", super::encode(next)) });
    ([(header::SET_COOKIE, cookie)], render::anonymous(lang, status, "login.html", page)).into_response()
}

pub(super) async fn login_form(headers: HeaderMap, Query(q): Query<Next>) -> Response {
    login_page(&headers, StatusCode::OK, &session::local_path(q.next.as_deref()), "", None)
}

pub(super) async fn login(
    State(state): State<UiState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let lang = session::language(&headers);
    let form = match serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body) {
        Ok(pairs) => Form(pairs),
        Err(_) => return login_page(&headers, StatusCode::BAD_REQUEST, "/", "", Some(i18n::text(lang, "error"))),
    };
    let next = session::local_path(form.get("next"));
    let email = form.get("email").unwrap_or_default().to_string();
    let guard = session::cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    if guard.is_empty() || !session::csrf_ok(&guard, form.get(CSRF_FIELD)) {
        return login_page(&headers, StatusCode::FORBIDDEN, &next, &email, Some(i18n::text(lang, "csrf")));
    }
    let api = Api::anonymous(state.api.clone(), peer.map(|Extension(p)| p));
    let answer = api
        .post("/api/v1/auth/login", json!({ "email": email, "password": form.get("password").unwrap_or_default() }))
        .await;
    match answer {
        Ok(v) => {
            let token = v["token"].as_str().unwrap_or_default();
            let cookie = session::set_cookie(&headers, SESSION_COOKIE, Some(token), SESSION_SECONDS);
            let clear = session::set_cookie(&headers, LOGIN_COOKIE, None, 0);
            (AppendHeaders([(header::SET_COOKIE, cookie), (header::SET_COOKIE, clear)]), see_other(&next))
                .into_response()
        }
        Err(f) if f.status == StatusCode::TOO_MANY_REQUESTS => {
            login_page(&headers, f.status, &next, &email, Some(f.message))
        }
        Err(f) if f.status.is_client_error() => {
            login_page(&headers, StatusCode::UNAUTHORIZED, &next, &email, Some(i18n::text(lang, "login_failed")))
        }
        Err(f) => login_page(&headers, f.status, &next, &email, Some(f.message)),
    }
}

/// Revokes the session's token and forgets the cookie.
pub(super) async fn logout(ctx: Ctx, body: Bytes) -> Response {
    if let Err(refused) = ctx.form(&body) {
        return refused;
    }
    if let Err(f) = ctx.api.delete("/api/v1/auth/tokens").await {
        tracing::warn!(error = %f.message, "logout could not revoke the token");
    }
    let clear = session::set_cookie(&ctx.headers, SESSION_COOKIE, None, 0);
    ([(header::SET_COOKIE, clear)], see_other("/login")).into_response()
}

#[derive(Deserialize)]
pub(super) struct LangQuery {
    to: Option<String>,
    back: Option<String>,
}

pub(super) async fn switch_language(headers: HeaderMap, Query(q): Query<LangQuery>) -> Response {
    let lang = if q.to.as_deref() == Some("ru") { "ru" } else { "en" };
    let cookie = session::set_cookie(&headers, LANG_COOKIE, Some(lang), 365 * 24 * 3600);
    ([(header::SET_COOKIE, cookie)], see_other(&session::local_path(q.back.as_deref()))).into_response()
}
