//! The web UI over real HTTP: sessions, CSRF on every form, escaping, the same permissions as
//! the API, locale formatting and validation errors shown per field.

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::{Value, json};

use crate::both_backends;
use crate::support::{PASSWORD, TestApp, eventually, package};

both_backends!(
    ui_session_csrf_and_escaping,
    ui_permissions_match_the_api,
    ui_forms_show_field_errors_and_conflicts,
    ui_board_calendar_and_admin_pages,
    ui_dead_letters_are_replayed_from_the_event_log,
    ui_shows_and_releases_a_quarantined_plugin
);

/// A browser-like client: cookies by hand, redirects not followed.
pub(crate) struct Browser<'a> {
    app: &'a TestApp,
    http: reqwest::Client,
    cookies: Vec<(String, String)>,
}

pub(crate) struct Page {
    pub(crate) status: u16,
    pub(crate) body: String,
    pub(crate) location: Option<String>,
    set_cookies: Vec<String>,
    timing_ms: Option<f64>,
}

impl<'a> Browser<'a> {
    pub(crate) fn new(app: &'a TestApp) -> Browser<'a> {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Browser { app, http, cookies: Vec::new() }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    async fn send(&mut self, req: reqwest::RequestBuilder) -> Page {
        let res = req.header(COOKIE, self.cookie_header()).send().await.unwrap();
        let status = res.status().as_u16();
        let location = res.headers().get(LOCATION).map(|v| v.to_str().unwrap().to_string());
        let timing_ms = res
            .headers()
            .get("server-timing")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split("dur=").nth(1))
            .and_then(|v| v.parse().ok());
        let set_cookies: Vec<String> =
            res.headers().get_all(SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_string()).collect();
        for c in &set_cookies {
            let (pair, _) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = pair.split_once('=').unwrap();
            self.cookies.retain(|(name, _)| name != k);
            if !v.is_empty() && !c.contains("Max-Age=0") {
                self.cookies.push((k.to_string(), v.to_string()));
            }
        }
        Page { status, body: res.text().await.unwrap(), location, set_cookies, timing_ms }
    }

    pub(crate) async fn get(&mut self, path: &str) -> Page {
        let req = self.http.get(format!("{}{path}", self.app.base));
        self.send(req).await
    }

    pub(crate) async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let req = self.http.post(format!("{}{path}", self.app.base)).form(form);
        self.send(req).await
    }

    /// Logs in through the login form, as a browser does.
    pub(crate) async fn login(&mut self, email: &str) {
        self.login_with(email, PASSWORD).await;
    }

    /// Sends a raw body with extra headers, as a page's script does with `fetch`.
    pub(crate) async fn send_bytes(&mut self, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Page {
        let mut req = self.http.post(format!("{}{path}", self.app.base)).body(body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.send(req).await
    }

    /// Logs in with a password of one's own.
    pub(crate) async fn login_with(&mut self, email: &str, password: &str) {
        let form = self.get("/login").await;
        assert_eq!(form.status, 200);
        let csrf = csrf_of(&form.body);
        let done =
            self.post("/login", &[("_csrf", &csrf), ("email", email), ("password", password), ("next", "/")]).await;
        assert_eq!(done.status, 303, "{}", done.body);
        assert!(self.cookies.iter().any(|(k, _)| k == "erp_session"), "logged in");
    }

    /// Chooses the UI language, as the language switch does.
    pub(crate) fn language(&mut self, lang: &str) {
        self.cookies.retain(|(k, _)| k != "erp_lang");
        self.cookies.push(("erp_lang".into(), lang.into()));
    }
}

/// The value of the form input `name` on a page.
pub(crate) fn input_value(html: &str, name: &str) -> String {
    let at = html.find(&format!("name=\"{name}\" value=\"")).unwrap_or_else(|| panic!("no input {name}"));
    let rest = &html[at + name.len() + 15..];
    rest[..rest.find('"').unwrap()].to_string()
}

/// The demo company, its owner's API token, and a browser logged in as the owner reading
/// Russian.
pub(crate) async fn demo_in_russian<'a>(app: &'a TestApp, password: &str) -> (String, String, Browser<'a>) {
    let demo = app.demo(password).await;
    let owner = app.login(erp::demo::EMAIL, password).await;
    let mut b = Browser::new(app);
    b.login_with(erp::demo::EMAIL, password).await;
    b.language("ru");
    (demo.company_id, owner, b)
}

/// The CSRF token in a page's forms.
pub(crate) fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"_csrf\" value=\"").expect("a form with a CSRF token");
    let rest = &html[at + 20..];
    rest[..rest.find('"').unwrap()].to_string()
}

async fn notes_company(app: &TestApp, members: &[(&str, &str)]) -> String {
    app.install(&package("notes")).await;
    let co = app.company("UI Co", members).await;
    app.enable(&co, "notes", json!({})).await.expect(200);
    co
}

async fn count_notes(app: &TestApp, co: &str) -> usize {
    let r = app.get(&format!("/api/v1/companies/{co}/data/notes/note?limit=500"), &app.root).await;
    r.expect(200)["items"].as_array().unwrap().len()
}

async fn ui_session_csrf_and_escaping(app: &TestApp) {
    let co = notes_company(app, &[]).await;
    let mut b = Browser::new(app);

    // Without a session every page sends the browser to the login form.
    let anon = b.get(&format!("/c/{co}/p/notes/d/note")).await;
    assert_eq!(anon.status, 303);
    assert!(anon.location.unwrap().starts_with("/login?next="));

    // The login form refuses a post without its token (login CSRF).
    let forged = b.post("/login", &[("email", "root@example.com"), ("password", PASSWORD)]).await;
    assert_eq!(forged.status, 403);
    assert!(!b.cookies.iter().any(|(k, _)| k == "erp_session"));
    // A wrong password is an error on the form, not a session.
    let form = b.get("/login").await;
    let csrf = csrf_of(&form.body);
    let wrong =
        b.post("/login", &[("_csrf", &csrf), ("email", "root@example.com"), ("password", "nope-nope-nope")]).await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.body.contains("id=\"login-error\""));

    b.login("root@example.com").await;
    let session_cookie = b.cookies.iter().find(|(k, _)| k == "erp_session").unwrap().1.clone();
    let home = b.get("/").await;
    assert_eq!(home.location.as_deref(), Some(format!("/c/{co}").as_str()));

    // The session cookie is HttpOnly and SameSite; Secure when the request came over TLS.
    let mut tls = Browser::new(app);
    let form = tls.send(tls.http.get(format!("{}/login", app.base)).header("x-forwarded-proto", "https")).await;
    let csrf = csrf_of(&form.body);
    let req = tls.http.post(format!("{}/login", app.base)).header("x-forwarded-proto", "https").form(&[
        ("_csrf", csrf.as_str()),
        ("email", "root@example.com"),
        ("password", PASSWORD),
    ]);
    let done = tls.send(req).await;
    let cookie = done.set_cookies.iter().find(|c| c.starts_with("erp_session=")).unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Secure"), "{cookie}");
    let plain = b.set_cookie_of_login().await;
    assert!(plain.contains("HttpOnly") && !plain.contains("Secure"), "{plain}");

    // A record whose fields hold markup is shown as text, in the list and in the form.
    let hostile = "<script>alert('x')</script><img src=x onerror=alert(1)>";
    app.post(
        &format!("/api/v1/companies/{co}/data/notes/note"),
        &app.root,
        json!({ "title": hostile, "body": "\"><b>bold</b>" }),
    )
    .await
    .expect(201);
    let list = b.get(&format!("/c/{co}/p/notes/d/note")).await;
    assert_eq!(list.status, 200);
    assert!(!list.body.contains("<script>alert"), "no raw script in the list");
    assert!(!list.body.contains("<img src=x"), "no raw markup in the list");
    assert!(list.body.contains("&lt;script&gt;alert("), "escaped text is shown");
    let id = app.get(&format!("/api/v1/companies/{co}/data/notes/note"), &app.root).await.body["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let form = b.get(&format!("/c/{co}/p/notes/d/note/r/{id}")).await;
    assert!(!form.body.contains("<b>bold</b>") && !form.body.contains("<script>alert"));
    assert!(form.body.contains("&lt;b&gt;bold&lt;&#x2f;b&gt;"));
    // Pages forbid framing and inline scripts.
    let headers = b.http.get(format!("{}/c/{co}", app.base)).header(COOKIE, b.cookie_header()).send().await.unwrap();
    let csp = headers.headers().get("content-security-policy").unwrap().to_str().unwrap().to_string();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));

    // Every state-changing form needs the session's token: none, a wrong one or another
    // session's one change nothing.
    let before = count_notes(app, &co).await;
    let new = format!("/c/{co}/p/notes/d/note/new");
    for token in [None, Some("0123456789abcdef0123456789abcdef"), Some(csrf.as_str())] {
        let mut form = vec![("title", "forged")];
        if let Some(t) = token {
            form.push(("_csrf", t));
        }
        let r = b.post(&new, &form).await;
        assert_eq!(r.status, 403, "token {token:?}");
    }
    let del = b.post(&format!("/c/{co}/p/notes/d/note/r/{id}/delete"), &[]).await;
    assert_eq!(del.status, 403);
    assert_eq!(count_notes(app, &co).await, before, "nothing changed");

    // With the page's own token it works, and the list shows the new note.
    let page = b.get(&new).await;
    let token = csrf_of(&page.body);
    let made =
        b.post(&new, &[("_csrf", &token), ("title", "Real note"), ("words", "1200"), ("cost", "1,234.50")]).await;
    assert_eq!(made.status, 303, "{}", made.body);
    assert_eq!(count_notes(app, &co).await, before + 1);
    let made_id = made.location.unwrap().split("/r/").nth(1).unwrap().split('?').next().unwrap().to_string();
    let stored = app.get(&format!("/api/v1/companies/{co}/data/notes/note/{made_id}"), &app.root).await;
    assert_eq!(stored.body["data"]["cost"], "1234.50", "a number with a thousands separator is read exactly");

    // Numbers are formatted per locale.
    b.get("/lang?to=ru&back=/").await;
    let ru = b.get(&format!("/c/{co}/p/notes/d/note?cols=title&cols=cost")).await;
    assert!(ru.body.contains("1\u{a0}234,50"), "Russian number format");
    assert!(ru.body.contains("Выйти"), "Russian texts");
    b.get("/lang?to=en&back=/").await;
    let en = b.get(&format!("/c/{co}/p/notes/d/note?cols=title&cols=cost")).await;
    assert!(en.body.contains("1,234.50"), "English number format");
    assert!(en.body.contains("Log out"));

    // A list of 50 rows: the server reports its own time for the page.
    for i in 0..50 {
        app.post(
            &format!("/api/v1/companies/{co}/data/notes/note"),
            &app.root,
            json!({ "title": format!("Row {i}"), "cost": "10.5" }),
        )
        .await
        .expect(201);
    }
    let full = b.get(&format!("/c/{co}/p/notes/d/note")).await;
    assert_eq!(full.body.matches("<tr>").count(), 1 + 50, "header and 50 rows");
    assert!(full.timing_ms.is_some(), "Server-Timing header");
    assert!(full.body.contains("rel=\"next\""), "a next page link");

    // Logging out revokes the token: the old cookie no longer opens anything.
    let page = b.get(&format!("/c/{co}")).await;
    let token = csrf_of(&page.body);
    let out = b.post("/logout", &[("_csrf", &token)]).await;
    assert_eq!(out.status, 303);
    let api = app.get("/api/v1/me", &session_cookie).await;
    assert_eq!(api.status.as_u16(), 401, "the session's token is revoked");
}

impl Browser<'_> {
    async fn set_cookie_of_login(&mut self) -> String {
        let mut fresh = Browser::new(self.app);
        let form = fresh.get("/login").await;
        let csrf = csrf_of(&form.body);
        let done =
            fresh.post("/login", &[("_csrf", &csrf), ("email", "root@example.com"), ("password", PASSWORD)]).await;
        done.set_cookies.into_iter().find(|c| c.starts_with("erp_session=")).unwrap()
    }
}

async fn ui_permissions_match_the_api(app: &TestApp) {
    app.user("reader@example.com").await;
    app.user("outsider@example.com").await;
    let co = notes_company(app, &[]).await;
    app.member_with_role(&co, "reader@example.com", "viewer", &["kernel.company.read"]).await;
    app.post(&format!("/api/v1/companies/{co}/data/notes/note"), &app.root, json!({ "title": "Board secrets" }))
        .await
        .expect(201);

    // A member without the notes permission sees neither the menu entry nor the data.
    let mut reader = Browser::new(app);
    reader.login("reader@example.com").await;
    let home = reader.get(&format!("/c/{co}")).await;
    assert_eq!(home.status, 200);
    assert!(!home.body.contains("data-nav=\"notes.note\""), "no menu entry");
    let list = reader.get(&format!("/c/{co}/p/notes/d/note")).await;
    assert_eq!(list.status, 403);
    assert!(!list.body.contains("Board secrets"));
    // Nor administration they may not do.
    assert!(!home.body.contains("/admin/plugins"));
    let admin = reader.get(&format!("/c/{co}/admin/events")).await;
    assert_eq!(admin.status, 403);

    // Someone outside the company cannot even tell it exists.
    let mut outsider = Browser::new(app);
    outsider.login("outsider@example.com").await;
    let page = outsider.get(&format!("/c/{co}")).await;
    assert_eq!(page.status, 404);
    let switched = outsider.get(&format!("/switch?company={co}")).await;
    assert_eq!(switched.status, 404);

    // The owner sees the menu entry and the data.
    let mut owner = Browser::new(app);
    owner.login("root@example.com").await;
    let home = owner.get(&format!("/c/{co}")).await;
    assert!(home.body.contains("data-nav=\"notes.note\""));
    let list = owner.get(&format!("/c/{co}/p/notes/d/note")).await;
    assert!(list.body.contains("Board secrets"));
}

async fn ui_forms_show_field_errors_and_conflicts(app: &TestApp) {
    let co = notes_company(app, &[]).await;
    let mut b = Browser::new(app);
    b.login("root@example.com").await;
    let new = format!("/c/{co}/p/notes/d/note/new");
    let page = b.get(&new).await;
    assert!(page.body.contains("name=\"title\"") && page.body.contains("type=\"datetime-local\""));
    let csrf = csrf_of(&page.body);

    // The kernel's per-field errors appear next to their fields, and what was typed stays.
    let bad = b.post(&new, &[("_csrf", &csrf), ("words", "many"), ("body", "kept text")]).await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("id=\"f-title-error\""), "title is required: {}", bad.body);
    assert!(bad.body.contains("id=\"f-words-error\""), "words must be a number");
    assert!(bad.body.contains("kept text"));
    assert_eq!(count_notes(app, &co).await, 0);

    // An edit based on an old version is refused and explained, and the newer data is shown.
    let made = app.post(&format!("/api/v1/companies/{co}/data/notes/note"), &app.root, json!({ "title": "v1" })).await;
    let id = made.expect(201)["id"].as_str().unwrap().to_string();
    let form = b.get(&format!("/c/{co}/p/notes/d/note/r/{id}")).await;
    assert!(form.body.contains("name=\"_version\" value=\"1\""));
    app.patch(
        &format!("/api/v1/companies/{co}/data/notes/note/{id}"),
        &app.root,
        json!({ "title": "changed elsewhere" }),
    )
    .await
    .expect(200);
    let stale = b
        .post(&format!("/c/{co}/p/notes/d/note/r/{id}"), &[("_csrf", &csrf), ("_version", "1"), ("title", "mine")])
        .await;
    assert_eq!(stale.status, 409);
    assert!(stale.body.contains("id=\"conflict\""));
    assert!(stale.body.contains("name=\"_version\" value=\"2\""), "the form now carries the current version");
    let stored = app.get(&format!("/api/v1/companies/{co}/data/notes/note/{id}"), &app.root).await;
    assert_eq!(stored.body["data"]["title"], "changed elsewhere", "the stale edit changed nothing");
    let saved = b
        .post(&format!("/c/{co}/p/notes/d/note/r/{id}"), &[("_csrf", &csrf), ("_version", "2"), ("title", "mine")])
        .await;
    assert_eq!(saved.status, 303);
    let stored: Value = app.get(&format!("/api/v1/companies/{co}/data/notes/note/{id}"), &app.root).await.body;
    assert_eq!(stored["data"]["title"], "mine");

    // Saving a form changes only what the user changed: an untouched time keeps its
    // microseconds, and a save without changes writes nothing.
    let made = app
        .post(
            &format!("/api/v1/companies/{co}/data/notes/note"),
            &app.root,
            json!({ "title": "precise", "remind_at": "2026-05-01T10:00:00.123456Z", "extra": "42" }),
        )
        .await;
    let id = made.expect(201)["id"].as_str().unwrap().to_string();
    let remind_at = made.body["data"]["remind_at"].clone();
    let form = b.get(&format!("/c/{co}/p/notes/d/note/r/{id}")).await;
    assert!(form.body.contains("value=\"2026-05-01T10:00:00\""), "the time to the second");
    assert!(form.body.contains("&quot;42&quot;"), "a JSON string is shown as JSON");
    let same = b
        .post(
            &format!("/c/{co}/p/notes/d/note/r/{id}"),
            &[
                ("_csrf", &csrf),
                ("_version", "1"),
                ("title", "precise"),
                ("remind_at", "2026-05-01T10:00"),
                ("extra", "\"42\""),
            ],
        )
        .await;
    assert_eq!(same.status, 303);
    let stored = app.get(&format!("/api/v1/companies/{co}/data/notes/note/{id}"), &app.root).await.body;
    assert_eq!(stored["version"], 1, "nothing was written");
    assert_eq!(stored["data"]["remind_at"], remind_at);
    assert_eq!(stored["data"]["extra"], "42");

    // Paths that are not ids never reach the API.
    let odd = b.get(&format!("/c/{co}/p/notes/d/note/r/..%2F..%2Fplugins")).await;
    assert_eq!(odd.status, 404);

    // Commands are forms; one without declared input takes a JSON object.
    let cmd = b.get(&format!("/c/{co}/p/notes/cmd/stats")).await;
    assert_eq!(cmd.status, 200);
    assert!(cmd.body.contains("name=\"__json\""));
    let bad = b.post(&format!("/c/{co}/p/notes/cmd/stats"), &[("_csrf", &csrf), ("__json", "[1, 2]")]).await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("id=\"command-error\""));
    let ran = b.post(&format!("/c/{co}/p/notes/cmd/stats"), &[("_csrf", &csrf), ("__json", "{}")]).await;
    assert_eq!(ran.status, 200);
    assert!(ran.body.contains("id=\"result\""));
    let forged = b.post(&format!("/c/{co}/p/notes/cmd/add"), &[("title", "forged")]).await;
    assert_eq!(forged.status, 403, "commands need the CSRF token too");
}

async fn ui_board_and_calendar_setup(app: &TestApp) -> (String, String) {
    let co = notes_company(app, &[]).await;
    let today = chrono_today();
    let made = app
        .post(
            &format!("/api/v1/companies/{co}/data/notes/note"),
            &app.root,
            json!({ "title": "Due note", "due": today, "priority": "low" }),
        )
        .await;
    (co, made.expect(201)["id"].as_str().unwrap().to_string())
}

fn chrono_today() -> String {
    let days = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() / 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

async fn ui_board_calendar_and_admin_pages(app: &TestApp) {
    let (co, id) = ui_board_and_calendar_setup(app).await;
    let mut b = Browser::new(app);
    b.login("root@example.com").await;

    // The kanban has a lane per enum value; moving a card changes the stage under its version.
    let board = b.get(&format!("/c/{co}/p/notes/d/note/board")).await;
    assert_eq!(board.status, 200);
    for lane in ["low", "normal", "high"] {
        assert!(board.body.contains(&format!("data-stage=\"{lane}\"")), "lane {lane}");
    }
    assert!(board.body.contains(&format!("id=\"card-{id}\"")));
    let csrf = csrf_of(&board.body);
    let back = format!("/c/{co}/p/notes/d/note/board");
    let moved = b
        .post(
            &format!("/c/{co}/p/notes/d/note/r/{id}/move"),
            &[("_csrf", &csrf), ("stage", "high"), ("version", "1"), ("back", &back)],
        )
        .await;
    assert_eq!(moved.status, 303);
    assert_eq!(moved.location.as_deref(), Some(back.as_str()));
    let stored = app.get(&format!("/api/v1/companies/{co}/data/notes/note/{id}"), &app.root).await;
    assert_eq!(stored.body["data"]["priority"], "high");
    // A second move from the same (now stale) card is refused and explained, not applied.
    let stale = b
        .post(
            &format!("/c/{co}/p/notes/d/note/r/{id}/move"),
            &[("_csrf", &csrf), ("stage", "low"), ("version", "1"), ("back", &back)],
        )
        .await;
    assert_eq!(stale.status, 409, "the board shows why");
    assert!(stale.body.contains("id=\"board-error\""));
    let escaped = back.replace('/', "&#x2f;");
    assert!(stale.body.contains(&format!("name=\"back\" value=\"{escaped}\"")), "its forms still return to the board");
    let stored = app.get(&format!("/api/v1/companies/{co}/data/notes/note/{id}"), &app.root).await;
    assert_eq!(stored.body["data"]["priority"], "high");
    // Off-site "back" targets are not followed.
    let away = b
        .post(
            &format!("/c/{co}/p/notes/d/note/r/{id}/move"),
            &[("_csrf", &csrf), ("stage", "normal"), ("version", "2"), ("back", "//evil.example/")],
        )
        .await;
    assert_eq!(away.location.as_deref(), Some("/"));

    // The calendar shows the note on its day of this month.
    let cal = b.get(&format!("/c/{co}/p/notes/d/note/calendar")).await;
    assert_eq!(cal.status, 200);
    assert!(cal.body.contains("Due note"));
    assert!(cal.body.contains("class=\" today\""), "today is marked");
    let next_month = b.get(&format!("/c/{co}/p/notes/d/note/calendar?month=2099-01")).await;
    assert!(!next_month.body.contains("Due note"));

    // Admin pages for the owner: plugins with their capabilities, members, audit, events.
    let plugins = b.get(&format!("/c/{co}/admin/plugins")).await;
    assert_eq!(plugins.status, 200);
    assert!(plugins.body.contains("data-plugin=\"notes\""));
    let notes = b.get(&format!("/c/{co}/admin/plugins/notes")).await;
    assert!(notes.body.contains("notes.note.read"), "its permissions are listed");
    let members = b.get(&format!("/c/{co}/admin/members")).await;
    assert!(members.body.contains("root@example.com"));
    // Roles: created from the members page, refused when they hold more than allowed
    // (unknown permission strings), deleted again.
    let csrf = csrf_of(&members.body);
    let made = b
        .post(
            &format!("/c/{co}/admin/roles"),
            &[
                ("_csrf", &csrf),
                ("name", "clerk"),
                ("description", "Reads notes"),
                ("permissions", "notes.note.read\nkernel.company.read"),
            ],
        )
        .await;
    assert_eq!(made.status, 303, "{}", made.body);
    let roles = app.get(&format!("/api/v1/companies/{co}/roles"), &app.root).await;
    let clerk = roles.body["items"].as_array().unwrap().iter().find(|r| r["name"] == "clerk").cloned().expect("clerk");
    assert_eq!(clerk["permissions"], json!(["kernel.company.read", "notes.note.read"]));
    let bad = b
        .post(
            &format!("/c/{co}/admin/roles"),
            &[("_csrf", &csrf), ("name", "odd"), ("permissions", "Not A Permission")],
        )
        .await;
    assert_eq!(bad.status, 422);
    let page = b.get(&format!("/c/{co}/admin/members")).await;
    assert!(
        page.body.contains("/admin/roles/clerk/delete")
            || page.body.contains("&#x2f;admin&#x2f;roles&#x2f;clerk&#x2f;delete")
    );
    let gone = b.post(&format!("/c/{co}/admin/roles/clerk/delete"), &[("_csrf", &csrf)]).await;
    assert_eq!(gone.status, 303);
    let roles = app.get(&format!("/api/v1/companies/{co}/roles"), &app.root).await;
    assert!(!roles.body["items"].as_array().unwrap().iter().any(|r| r["name"] == "clerk"));
    let audit = b.get(&format!("/c/{co}/admin/audit")).await;
    assert!(audit.body.contains("record.update"), "the move is in the audit log");
    let events = b.get(&format!("/c/{co}/admin/events")).await;
    assert!(events.body.contains("notes.note.updated"));

    // Disabling from the admin page takes the plugin out of the menu.
    let csrf = csrf_of(&notes.body);
    let off = b.post(&format!("/c/{co}/admin/plugins/notes/disable"), &[("_csrf", &csrf)]).await;
    assert_eq!(off.status, 303);
    let home = b.get(&format!("/c/{co}")).await;
    assert!(!home.body.contains("data-nav=\"notes.note\""));
    let on = b.post(&format!("/c/{co}/admin/plugins/notes/enable"), &[("_csrf", &csrf)]).await;
    assert_eq!(on.status, 303);
    let home = b.get(&format!("/c/{co}")).await;
    assert!(home.body.contains("data-nav=\"notes.note\""));
}

async fn ui_dead_letters_are_replayed_from_the_event_log(app: &TestApp) {
    app.install(&package("flaky")).await;
    let co = notes_company(app, &[]).await;
    app.enable(&co, "flaky", json!({})).await.expect(200);
    app.post(&format!("/api/v1/companies/{co}/data/notes/note"), &app.root, json!({ "title": "One" }))
        .await
        .expect(201);
    let _workers = app.start_bus();
    let mut b = Browser::new(app);
    b.login("root@example.com").await;
    let dead_page = format!("/c/{co}/admin/events?dead=1");
    let mut page = b.get(&dead_page).await;
    for _ in 0..200 {
        if page.body.contains("/replay") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        page = b.get(&dead_page).await;
    }
    assert!(page.body.contains("delivery dead"), "the dead letter is shown");
    let at = page.body.find("/replay").expect("a replay button");
    let start = page.body[..at].rfind("action=\"").unwrap() + 8;
    let action = page.body[start..at + 7].replace("&#x2f;", "/");
    app.enable(&co, "flaky", json!({ "config": { "fail": false } })).await.expect(200);
    let csrf = csrf_of(&page.body);
    let replayed = b.post(&action, &[("_csrf", &csrf)]).await;
    assert_eq!(replayed.status, 303, "{}", replayed.body);
    let done = eventually(20, async || {
        let r = app.get(&format!("/api/v1/companies/{co}/events?name=notes.note.created"), &app.root).await;
        r.body["items"][0]["deliveries"].as_array().unwrap().iter().all(|d| d["state"] == "done")
    })
    .await;
    assert!(done, "the replayed delivery succeeds");
    let page = b.get(&dead_page).await;
    assert!(!page.body.contains("/replay"), "no dead letters left");
}

async fn ui_shows_and_releases_a_quarantined_plugin(app: &TestApp) {
    let co = app.company("Acme", &[]).await;
    app.install(&package("hostile")).await;
    app.enable(&co, "hostile", json!({})).await.expect(200);
    let command = |name: &str| format!("/api/v1/companies/{co}/plugins/hostile/commands/{name}");
    // Five limit hits (computing while holding the write lock) quarantine it here.
    for _ in 0..5 {
        app.post(&command("write-then-loop"), &app.root, json!({})).await.expect(500);
    }
    app.post(&command("ok"), &app.root, json!({})).await.expect(503);

    let mut b = Browser::new(app);
    b.login("root@example.com").await;
    b.get("/lang?to=ru&back=/").await;
    let page = b.get(&format!("/c/{co}/admin/plugins")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("На карантине"), "the admin sees the quarantine: {}", page.body);
    assert!(page.body.contains("Снять с карантина") && page.body.contains("id=\"release-hostile\""));
    assert!(page.body.contains("слишком долго вычислял, удерживая блокировку записи"), "the limit it hit, in Russian");
    // Without the form's token nothing happens.
    let forged = b.post(&format!("/c/{co}/admin/plugins/hostile/release"), &[]).await;
    assert_eq!(forged.status, 403);
    app.post(&command("ok"), &app.root, json!({})).await.expect(503);
    // With it, the plugin is released and works again.
    let csrf = csrf_of(&page.body);
    let done = b.post(&format!("/c/{co}/admin/plugins/hostile/release"), &[("_csrf", &csrf)]).await;
    assert_eq!(done.status, 303, "{}", done.body);
    let page = b.get(&format!("/c/{co}/admin/plugins")).await;
    assert!(!page.body.contains("На карантине"));
    assert!(page.body.contains("Работает"));
    app.post(&command("ok"), &app.root, json!({})).await.expect(200);
}
