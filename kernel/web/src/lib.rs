//! The web UI: server-rendered pages generated from plugin manifests, served at `/`.
//!
//! Every page is built from in-process calls to the JSON API made with the user's own token
//! (`client`), so the UI shows and changes exactly what the API allows. Templates are embedded
//! and auto-escaped; every form carries a CSRF token derived from the session.

// A refused step is the error page itself, so handlers return `Result<_, Response>`.
#![allow(clippy::result_large_err)]

mod admin;
mod assets;
mod auth;
mod chart;
mod chat;
mod client;
mod collab;
mod commands;
mod comments;
mod documents;
mod drive;
mod fields;
mod files;
mod format;
mod home;
mod i18n;
mod lines;
mod meta;
mod notifications;
mod records;
mod render;
mod search;
mod session;
mod settings;
mod unsubscribe;
mod views;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use client::{Api, Failure};
use meta::{Company, ManifestCache};

use erp_kernel::access::permissions;
use erp_kernel::plugins::package::MAX_PACKAGE_BYTES;

/// What UI handlers share.
#[derive(Clone)]
pub(crate) struct UiState {
    /// The API router the UI calls in-process.
    api: Router,
    manifests: Arc<ManifestCache>,
}

/// A page or a redirect; errors are rendered pages too.
type Page = Result<Response, Response>;

/// The whole application served to the network: the API under `/api/v1`, the web UI at `/`
/// (a client of that same API, called in-process with the user's token), request ids and
/// tracing around both.
pub fn app(state: erp_api::AppState) -> Router {
    let api = erp_api::router(state.clone());
    erp_api::with_middleware(api.clone().merge(router(api)), &state)
}

/// The UI's routes over the API router.
pub fn router(api: Router) -> Router {
    let state = UiState { api, manifests: Arc::new(ManifestCache::default()) };
    let company = Router::new()
        .route("/", get(home::company_home))
        .route("/search", get(search::search))
        .route("/files", post(files::upload))
        .route("/files/{fid}", get(files::download))
        .route("/chat", get(chat::index))
        .route("/chat/direct", post(chat::direct))
        .route("/chat/new", post(chat::create))
        .route("/chat/{chat}", get(chat::conversation).post(chat::send))
        .route("/chat/{chat}/since", get(chat::since))
        .route("/chat/{chat}/members", post(chat::add_members))
        .route("/chat/{chat}/leave", post(chat::leave))
        .route("/drive", get(drive::index))
        .route("/drive/trash", get(drive::trash))
        .route("/drive/folder", post(drive::create_folder))
        .route("/drive/share", post(drive::share))
        .route("/drive/f/{folder}", get(drive::folder))
        .route("/drive/f/{folder}/put", post(drive::put))
        .route("/drive/d/{doc}", get(drive::document))
        .route("/drive/d/{doc}/{action}", post(drive::trash_or_restore))
        .route("/comments/{id}", get(comments::open))
        .route("/notifications", get(notifications::inbox))
        .route("/notifications/read", post(notifications::read_all))
        .route("/notifications/preferences", post(notifications::save_preferences))
        .route("/notifications/stream", get(notifications::stream))
        .route("/notifications/{nid}/open", get(notifications::open))
        .route("/p/{plugin}", get(commands::plugin_home))
        .route("/p/{plugin}/cmd/{command}", get(commands::command_page).post(commands::run_command))
        .route("/p/{plugin}/d/{coll}", get(records::list))
        .route("/p/{plugin}/d/{coll}/pick", get(records::pick))
        .route("/p/{plugin}/d/{coll}/new", get(records::new_form).post(records::create))
        .route("/p/{plugin}/d/{coll}/board", get(views::board))
        .route("/p/{plugin}/d/{coll}/calendar", get(views::calendar))
        .route("/p/{plugin}/d/{coll}/r/{rid}", get(records::show).post(records::update))
        .route("/p/{plugin}/d/{coll}/r/{rid}/delete", post(records::delete))
        .route("/p/{plugin}/d/{coll}/r/{rid}/comment", post(comments::post))
        .route("/p/{plugin}/d/{coll}/r/{rid}/move", post(views::move_card))
        .route("/settings", get(settings::company).post(settings::save_company))
        .route("/settings/me", post(settings::save_mine))
        .route("/settings/p/{plugin}", get(settings::plugin).post(settings::save_plugin))
        .route("/admin/plugins", get(admin::plugins))
        .route("/admin/plugins/upload", post(admin::upload).layer(DefaultBodyLimit::max(MAX_PACKAGE_BYTES + 64 * 1024)))
        .route("/admin/plugins/{name}", get(admin::plugin))
        .route("/admin/plugins/{name}/enable", post(admin::enable))
        .route("/admin/plugins/{name}/disable", post(admin::disable))
        .route("/admin/plugins/{name}/release", post(admin::release))
        .route("/admin/members", get(admin::members).post(admin::add_member))
        .route("/admin/users", post(admin::create_user))
        .route("/admin/members/{uid}", post(admin::change_member))
        .route("/admin/members/{uid}/remove", post(admin::remove_member))
        .route("/admin/roles", post(admin::create_role))
        .route("/admin/roles/{name}/delete", post(admin::delete_role))
        .route("/admin/audit", get(admin::audit))
        .route("/admin/outbound", get(admin::outbound))
        .route("/admin/documents", get(documents::index))
        .route("/admin/documents/{plugin}/{document}/{language}", get(documents::template).post(documents::save))
        .route("/admin/mail", get(admin::mail).post(admin::save_mail))
        .route("/admin/mail/test", post(admin::test_mail))
        .route("/admin/mail/poll", post(admin::poll_mail))
        .route("/admin/webhooks", get(admin::webhooks).post(admin::add_webhook))
        .route("/admin/webhooks/{wid}", post(admin::change_webhook))
        .route("/admin/webhooks/{wid}/delete", post(admin::delete_webhook))
        .route("/admin/events", get(admin::events))
        .route("/admin/events/{eid}/replay", post(admin::replay))
        .fallback(views::not_found);
    Router::new()
        .route("/", get(views::root))
        .route("/login", get(auth::login_form).post(auth::login))
        .route("/logout", post(auth::logout))
        .route("/lang", get(auth::switch_language))
        .route("/switch", get(views::switch_company))
        .route("/assets/{file}", get(assets::serve))
        .route("/unsubscribe/{token}", get(unsubscribe::ask).post(unsubscribe::confirm))
        .nest("/c/{cid}", company)
        .with_state(state)
}

/// The logged-in user on a UI request.
struct Ctx {
    api: Api,
    state: UiState,
    lang: &'static str,
    csrf: String,
    secret: String,
    me: Value,
    headers: HeaderMap,
    path: String,
    started: Instant,
    company: Option<Company>,
    /// A confirmation from the previous step (`?ok=saved`).
    flash: Option<String>,
}

impl FromRequestParts<UiState> for Ctx {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &UiState) -> Result<Ctx, Response> {
        let started = Instant::now();
        // Nested routes see their URI without the prefix; links and redirects need it whole.
        let uri = parts
            .extensions
            .get::<axum::extract::OriginalUri>()
            .map(|o| o.0.clone())
            .unwrap_or_else(|| parts.uri.clone());
        let path = uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| "/".into());
        let to_login = || Redirect::to(&format!("/login?next={}", encode(&path))).into_response();
        let secret = session::cookie(&parts.headers, session::SESSION_COOKIE).ok_or_else(to_login)?;
        let request_id = erp_api::extract::request_id_of(&parts.headers);
        let api = Api::new(state.api.clone(), &secret, request_id, session::language(&parts.headers));
        let me = match api.get("/api/v1/me").await {
            Ok(me) => me,
            Err(f) if f.status == StatusCode::UNAUTHORIZED => {
                let clear = session::set_cookie(&parts.headers, session::SESSION_COOKIE, None, 0);
                return Err(([(header::SET_COOKIE, clear)], to_login()).into_response());
            }
            Err(f) => return Err(render::bare_error(session::language(&parts.headers), &f)),
        };
        Ok(Ctx {
            api,
            state: state.clone(),
            lang: session::language(&parts.headers),
            csrf: session::csrf_token(&secret),
            secret,
            me,
            headers: parts.headers.clone(),
            path,
            started,
            company: None,
            flash: flash(parts.uri.query()).map(|k| i18n::text(session::language(&parts.headers), k)),
        })
    }
}

impl Ctx {
    /// A path segment taken from the URL into an API path: ids and names only, so that nothing
    /// can reach another API route (`%2F`, `?`); anything else is "not found".
    fn segment(&self, raw: &str) -> Result<String, Response> {
        let plain = !raw.is_empty()
            && raw.len() <= 100
            && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
        if plain && raw != "." && raw != ".." {
            Ok(raw.to_string())
        } else {
            Err(self.fail(&Failure { status: StatusCode::NOT_FOUND, ..Failure::internal(self.t("not_found")) }))
        }
    }

    /// Enters a company: its permissions and enabled plugins. Non-members get "not found".
    async fn enter(&mut self, company_id: &str) -> Result<&Company, Response> {
        let company_id = self.segment(company_id)?;
        let company_id = company_id.as_str();
        let company = Company::load(&self.api, &self.state.manifests, company_id).await.map_err(|f| self.fail(&f))?;
        Ok(self.company.insert(company))
    }

    fn company(&self) -> Result<&Company, Response> {
        self.company.as_ref().ok_or_else(|| self.fail(&Failure::internal("no company chosen")))
    }

    /// The person's language and time zone (their own, else the company's).
    fn loc(&self) -> format::Locale {
        let company = self.company.as_ref().map(|c| c.time_zone.as_str());
        format::Locale::new(self.lang, &[self.me["time_zone"].as_str(), company])
    }

    fn t(&self, key: &str) -> String {
        i18n::text(self.lang, key)
    }

    /// The page `template` with `page` values and the layout's own (user, nav, CSRF token...).
    fn render(&self, template: &str, page: Value) -> Response {
        self.render_status(StatusCode::OK, template, page)
    }

    fn render_status(&self, status: StatusCode, template: &str, page: Value) -> Response {
        let company = self.company.as_ref();
        let me = &self.me;
        let companies: Vec<Value> = me["companies"].as_array().cloned().unwrap_or_default();
        let base = json!({
            "lang": self.lang,
            "other_lang": if self.lang == "ru" { "en" } else { "ru" },
            "csrf": self.csrf,
            "path": self.path,
            "me": { "name": me["name"], "email": me["email"], "is_superadmin": me["is_superadmin"] },
            "companies": companies,
            "company": company.map(|c| json!({ "id": c.id, "name": c.name, "role": c.role, "unread": c.unread, "admin": {
                "plugins": c.can(permissions::PLUGINS_MANAGE) || me["is_superadmin"] == true,
                "members": c.can(permissions::MEMBERS_READ),
                "audit": c.can(permissions::AUDIT_READ),
                "events": c.can(permissions::EVENTS_READ),
                "company": c.can(permissions::COMPANY_MANAGE),
            } })),
            "nav": company.map(|c| c.nav(self.lang)).unwrap_or(Value::Array(Vec::new())),
            // The plugin of the page, whose folded menu parts open.
            "current_plugin": self.path.split("/p/").nth(1).and_then(|rest| rest.split('/').next()),
            "flash": self.flash,
        });
        render::page(self.lang, status, template, base, page, self.started)
    }

    /// An error page for a refused or failed call.
    fn fail(&self, f: &Failure) -> Response {
        let key = match f.status {
            StatusCode::FORBIDDEN => "forbidden",
            StatusCode::NOT_FOUND => "not_found",
            _ => "error",
        };
        self.render_status(
            f.status,
            "error.html",
            json!({ "title": self.t(key), "message": f.message, "problems": f.problems }),
        )
    }

    /// The fields of a submitted form, after its CSRF token checked out.
    fn form(&self, body: &Bytes) -> Result<Form, Response> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).map_err(|e| {
            self.fail(&Failure {
                status: StatusCode::BAD_REQUEST,
                ..Failure::internal(format!("unreadable form: {e}"))
            })
        })?;
        let form = Form(pairs);
        if !session::csrf_ok(&self.secret, form.get(session::CSRF_FIELD)) {
            return Err(self.csrf_refused());
        }
        Ok(form)
    }

    fn csrf_refused(&self) -> Response {
        let f = Failure { status: StatusCode::FORBIDDEN, code: "csrf".into(), ..Failure::internal(self.t("csrf")) };
        self.fail(&f)
    }

    /// `/c/{company}` followed by `rest`.
    fn base(&self) -> String {
        self.company.as_ref().map(|c| format!("/c/{}", c.id)).unwrap_or_default()
    }
}

/// The confirmation named by `?ok=`, if it is one the UI gives.
fn flash(query: Option<&str>) -> Option<&'static str> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query?).ok()?;
    let key = pairs.into_iter().find(|(k, _)| k == "ok")?.1;
    ["created", "saved", "deleted", "done"].into_iter().find(|k| *k == key)
}

/// A submitted form's fields, in order (repeated names kept).
struct Form(Vec<(String, String)>);

impl Form {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn all(&self, name: &str) -> Vec<&str> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect()
    }
}

/// Percent-encodes a query value.
fn encode(s: &str) -> String {
    serde_urlencoded::to_string([("v", s)]).map(|q| q[2..].to_string()).unwrap_or_default()
}

/// 303 to `to`, the answer to a form that worked.
fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}
