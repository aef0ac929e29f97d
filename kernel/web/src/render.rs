//! Templates: embedded in the binary, HTML auto-escaping on for every one of them.

use std::sync::OnceLock;
use std::time::Instant;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use minijinja::{AutoEscape, Environment};
use serde_json::{Value, json};

use super::client::Failure;
use super::i18n;

const TEMPLATES: &[(&str, &str)] = &[
    ("layout.html", include_str!("templates/layout.html")),
    ("macros.html", include_str!("templates/macros.html")),
    ("login.html", include_str!("templates/login.html")),
    ("unsubscribe.html", include_str!("templates/unsubscribe.html")),
    ("error.html", include_str!("templates/error.html")),
    ("home.html", include_str!("templates/home.html")),
    ("search.html", include_str!("templates/search.html")),
    ("plugin.html", include_str!("templates/plugin.html")),
    ("list.html", include_str!("templates/list.html")),
    ("record.html", include_str!("templates/record.html")),
    ("settings.html", include_str!("templates/settings.html")),
    ("settings_plugin.html", include_str!("templates/settings_plugin.html")),
    ("board.html", include_str!("templates/board.html")),
    ("calendar.html", include_str!("templates/calendar.html")),
    ("command.html", include_str!("templates/command.html")),
    ("admin_plugins.html", include_str!("templates/admin_plugins.html")),
    ("admin_plugin.html", include_str!("templates/admin_plugin.html")),
    ("admin_members.html", include_str!("templates/admin_members.html")),
    ("admin_audit.html", include_str!("templates/admin_audit.html")),
    ("admin_outbound.html", include_str!("templates/admin_outbound.html")),
    ("admin_webhooks.html", include_str!("templates/admin_webhooks.html")),
    ("admin_mail.html", include_str!("templates/admin_mail.html")),
    ("admin_documents.html", include_str!("templates/admin_documents.html")),
    ("admin_document.html", include_str!("templates/admin_document.html")),
    ("admin_events.html", include_str!("templates/admin_events.html")),
    ("notifications.html", include_str!("templates/notifications.html")),
    ("chat.html", include_str!("templates/chat.html")),
    ("comments_panel.html", include_str!("templates/comments_panel.html")),
    ("chat_messages.html", include_str!("templates/chat_messages.html")),
    ("drive.html", include_str!("templates/drive.html")),
    ("drive_document.html", include_str!("templates/drive_document.html")),
    ("share_form.html", include_str!("templates/share_form.html")),
];

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        // Every template is HTML, whatever its name: nothing reaches the page unescaped unless
        // a template says `|safe`, which only the server-built SVG charts do.
        env.set_auto_escape_callback(|_| AutoEscape::Html);
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
        for (name, source) in TEMPLATES {
            if let Err(e) = env.add_template(name, source) {
                tracing::error!(template = name, error = %e, "a UI template does not compile");
            }
        }
        env
    })
}

/// The kernel's texts in one language, for templates as `t.key`.
fn texts(lang: &str) -> &'static Value {
    static EN: OnceLock<Value> = OnceLock::new();
    static RU: OnceLock<Value> = OnceLock::new();
    let cell = if lang == "ru" { &RU } else { &EN };
    cell.get_or_init(|| i18n::all(lang))
}

/// Renders `template` with the layout's values and the page's, timing the server's work.
pub(super) fn page(
    lang: &str,
    status: StatusCode,
    template: &str,
    base: Value,
    page: Value,
    started: Instant,
) -> Response {
    let mut ctx = base;
    if let (Some(target), Value::Object(extra)) = (ctx.as_object_mut(), page) {
        target.extend(extra);
        target.insert("t".into(), texts(lang).clone());
    }
    let rendered = env().get_template(template).and_then(|t| t.render(&ctx));
    match rendered {
        Ok(html) => {
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            let timing = HeaderValue::from_str(&format!("app;dur={ms:.1}")).unwrap_or(HeaderValue::from_static("app"));
            (status, [(header::HeaderName::from_static("server-timing"), timing)], security_headers(), Html(html))
                .into_response()
        }
        Err(e) => {
            tracing::error!(template, error = %e, "a UI page could not be rendered");
            (StatusCode::INTERNAL_SERVER_ERROR, "the page could not be rendered").into_response()
        }
    }
}

/// A part of a page without the layout (list items the page's script inserts), with the
/// kernel's texts.
pub(super) fn fragment(lang: &str, template: &str, page: Value) -> Response {
    let mut ctx = page;
    if let Some(target) = ctx.as_object_mut() {
        target.insert("t".into(), texts(lang).clone());
    }
    match env().get_template(template).and_then(|t| t.render(&ctx)) {
        Ok(html) => (security_headers(), Html(html)).into_response(),
        Err(e) => {
            tracing::error!(template, error = %e, "a UI fragment could not be rendered");
            (StatusCode::INTERNAL_SERVER_ERROR, "the page could not be rendered").into_response()
        }
    }
}

/// Headers on every page: no framing by other sites, no sniffing, scripts and styles only from
/// here.
pub(super) fn security_headers() -> [(header::HeaderName, HeaderValue); 4] {
    [
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (header::REFERRER_POLICY, HeaderValue::from_static("same-origin")),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'",
            ),
        ),
    ]
}

/// A page without a user (login, errors before the session is known).
pub(super) fn anonymous(lang: &str, status: StatusCode, template: &str, page: Value) -> Response {
    let base =
        json!({ "lang": lang, "other_lang": if lang == "ru" { "en" } else { "ru" }, "nav": [], "companies": [] });
    self::page(lang, status, template, base, page, Instant::now())
}

/// An error page without a user.
pub(super) fn bare_error(lang: &str, f: &Failure) -> Response {
    anonymous(lang, f.status, "error.html", json!({ "title": i18n::text(lang, "error"), "message": f.message }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles() {
        for (name, _) in TEMPLATES {
            assert!(env().get_template(name).is_ok(), "{name} compiles");
        }
    }

    #[test]
    fn output_is_escaped() {
        let html = env()
            .template_from_str("<p>{{ v }}</p>")
            .and_then(|t| t.render(json!({ "v": "<script>alert(1)</script>" })))
            .unwrap_or_default();
        assert_eq!(html, "<p>&lt;script&gt;alert(1)&lt;&#x2f;script&gt;</p>");
    }
}
