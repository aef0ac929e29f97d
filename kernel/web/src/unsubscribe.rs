//! The page an unsubscribe link in a mailing opens: it says whose mail it is and to which
//! address, and unsubscribes with one button; the same address takes a mail program's
//! one-click `POST` (RFC 8058). No login: the signed token in the link is the permission.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::client::{Api, Failure};
use super::{UiState, i18n, render, session};

/// Tokens are URL-safe base64 halves joined by a dot; anything else is no link of ours.
fn plain(token: &str) -> bool {
    !token.is_empty() && token.len() <= 1024 && token.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

fn page(
    lang: &str,
    status: StatusCode,
    token: &str,
    answer: Result<serde_json::Value, Failure>,
    done: bool,
) -> Response {
    let title = i18n::text(lang, "unsubscribe_title");
    match answer {
        Ok(a) => {
            let say = |key: &str| {
                i18n::text(lang, key)
                    .replace("{company}", a["company"].as_str().unwrap_or_default())
                    .replace("{address}", a["recipient"].as_str().unwrap_or_default())
            };
            let already = !a["first"].as_bool().unwrap_or(true);
            let message = match (done, already) {
                (true, false) => say("unsubscribe_done"),
                (_, true) => say("unsubscribe_already"),
                (false, false) => say("unsubscribe_ask"),
            };
            let page = json!({ "title": title, "message": message, "ask": !done && !already,
                               "action": format!("/unsubscribe/{token}"), "path": format!("/unsubscribe/{token}") });
            render::anonymous(lang, status, "unsubscribe.html", page)
        }
        Err(f) if f.status == StatusCode::NOT_FOUND => {
            let page = json!({ "title": title, "message": i18n::text(lang, "unsubscribe_invalid"), "ask": false, "path": "/" });
            render::anonymous(lang, StatusCode::NOT_FOUND, "unsubscribe.html", page)
        }
        Err(f) => render::bare_error(lang, &f),
    }
}

fn not_ours(lang: &str) -> Response {
    let failure = Failure { status: StatusCode::NOT_FOUND, ..Failure::internal(String::new()) };
    page(lang, StatusCode::NOT_FOUND, "", Err(failure), false)
}

/// `GET /unsubscribe/{token}`: whose mail, to which address, and the button.
pub(super) async fn ask(State(state): State<UiState>, headers: HeaderMap, Path(token): Path<String>) -> Response {
    let lang = session::language(&headers);
    if !plain(&token) {
        return not_ours(lang);
    }
    let answer = Api::anonymous(state.api.clone(), None).get(&format!("/api/v1/mail/unsubscribe/{token}")).await;
    page(lang, StatusCode::OK, &token, answer, false)
}

/// `POST /unsubscribe/{token}`: the button, or a mail program's one click.
pub(super) async fn confirm(State(state): State<UiState>, headers: HeaderMap, Path(token): Path<String>) -> Response {
    let lang = session::language(&headers);
    if !plain(&token) {
        return not_ours(lang);
    }
    let answer =
        Api::anonymous(state.api.clone(), None).post(&format!("/api/v1/mail/unsubscribe/{token}"), json!({})).await;
    page(lang, StatusCode::OK, &token, answer, true)
}
