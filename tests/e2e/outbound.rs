//! Plugins calling hosts outside the platform (WIT 0.2.1 `http`), against a real HTTP server
//! on the loopback: only declared hosts an admin granted, never a private address or a
//! redirect to one, limits on size and time, nothing after the change wrote, every request in
//! the outbound log, and after-commit handlers delivering once on the remote side with the
//! event's idempotency key.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use parking_lot::Mutex;
use serde_json::{Value, json};

use crate::both_backends;
use crate::support::{TestApp, eventually, package};
use crate::ui::{Browser, csrf_of};

both_backends!(
    plugins_reach_only_granted_public_hosts,
    after_commit_handlers_call_out_once_per_event,
    outgoing_webhooks_are_signed_retried_and_replayed,
);

/// A request the stand-in server received.
#[derive(Debug, Clone)]
pub(crate) struct Hit {
    pub path: String,
    pub idempotency_key: Option<String>,
    pub signature: Option<String>,
    pub body: String,
}

/// A stand-in for the services plugins call, on 127.0.0.1.
pub(crate) struct Stub {
    pub base: String,
    pub port: u16,
    pub hits: Arc<Mutex<Vec<Hit>>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Stub {
    /// Starts the server; `fail_first` POSTs to `/notes` are answered 503.
    pub(crate) async fn start(fail_first: usize) -> Stub {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let hits: Arc<Mutex<Vec<Hit>>> = Arc::default();
        let posts = Arc::new(AtomicUsize::new(0));
        let record = {
            let hits = hits.clone();
            move |path: &str, headers: &HeaderMap, body: String| {
                let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).map(str::to_string);
                hits.lock().push(Hit {
                    path: path.to_string(),
                    idempotency_key: header("idempotency-key"),
                    signature: header("erp-signature"),
                    body,
                });
            }
        };
        let (r1, r2, r3) = (record.clone(), record.clone(), record.clone());
        let hooks = Arc::new(AtomicUsize::new(0));
        let router = Router::new()
            .route(
                "/hook",
                post(move |headers: HeaderMap, body: String| async move {
                    r3("/hook", &headers, body);
                    if hooks.fetch_add(1, Ordering::SeqCst) < 3 {
                        StatusCode::INTERNAL_SERVER_ERROR.into_response()
                    } else {
                        StatusCode::NO_CONTENT.into_response()
                    }
                }),
            )
            .route(
                "/hello",
                get(move |headers: HeaderMap| async move {
                    r1("/hello", &headers, String::new());
                    "hi"
                }),
            )
            .route("/to-hello", get(|| async { (StatusCode::FOUND, [(header::LOCATION, "/hello")]) }))
            .route(
                "/to-localhost",
                get(move || async move {
                    (StatusCode::FOUND, [(header::LOCATION, format!("http://localhost:{port}/hello"))])
                }),
            )
            .route(
                "/to-metadata",
                get(|| async {
                    (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, "http://169.254.169.254/latest/meta-data")])
                }),
            )
            .route("/big", get(|| async { vec![b'x'; 5 * 1024 * 1024] }))
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(std::time::Duration::from_secs(30)).await;
                    "late"
                }),
            )
            .route(
                "/notes",
                post(move |headers: HeaderMap, body: String| async move {
                    r2("/notes", &headers, body);
                    if posts.fetch_add(1, Ordering::SeqCst) < fail_first {
                        StatusCode::SERVICE_UNAVAILABLE.into_response()
                    } else {
                        (StatusCode::OK, "{\"ok\":true}").into_response()
                    }
                }),
            );
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Stub { base: format!("http://127.0.0.1:{port}"), port, hits, server }
    }

    pub(crate) fn count(&self, path: &str) -> usize {
        self.hits.lock().iter().filter(|h| h.path == path).count()
    }
}

async fn fetch(app: &TestApp, co: &str, input: Value) -> Value {
    let r = app.post(&format!("/api/v1/companies/{co}/plugins/courier/commands/fetch"), &app.root, input).await;
    r.expect(200).clone()
}

async fn outbound_log(app: &TestApp, co: &str, query: &str) -> Vec<Value> {
    let r = app.get(&format!("/api/v1/companies/{co}/outbound{query}"), &app.root).await;
    r.expect(200)["items"].as_array().expect("items").clone()
}

async fn setup(app: &TestApp, stub: &Stub, grants: &[&str]) -> String {
    app.install(&package("notes")).await;
    app.install(&package("courier")).await;
    let co = app.company("Outbound", &[]).await;
    app.enable(&co, "notes", json!({})).await.expect(200);
    let body = json!({ "grants": grants, "config": { "endpoint": format!("{}/notes", stub.base) } });
    app.enable(&co, "courier", body).await.expect(200);
    co
}

async fn plugins_reach_only_granted_public_hosts(app: &TestApp) {
    let stub = Stub::start(0).await;
    let co = setup(app, &stub, &["http://127.0.0.1:*", "http://169.254.169.254"]).await;
    // The admin sees the hosts the plugin asks for, with why.
    let plugin = app.get("/api/v1/plugins/courier", &app.root).await;
    let text = plugin.expect(200).to_string();
    assert!(
        text.contains("https://api.telegram.org") && text.contains("Granted only where the operator routes it"),
        "{text}"
    );
    // Only declared hosts can be granted; the grant is kept in one written form.
    let r = app.enable(&co, "courier", json!({ "grants": ["https://evil.example.com"] })).await;
    assert_eq!(r.status.as_u16(), 422, "{}", r.body);
    assert!(r.body.to_string().contains("does not declare the host https://evil.example.com"), "{}", r.body);
    let listed = app.get(&format!("/api/v1/companies/{co}/plugins"), &app.root).await;
    assert!(listed.expect(200).to_string().contains("http://127.0.0.1:*"), "{}", listed.body);

    let base = &stub.base;
    let ok = fetch(app, &co, json!({ "url": format!("{base}/hello") })).await;
    assert_eq!((ok["status"].as_u64(), ok["body"].as_str()), (Some(200), Some("hi")), "{ok}");
    // A redirect on a granted host is followed.
    let ok = fetch(app, &co, json!({ "url": format!("{base}/to-hello") })).await;
    assert_eq!(ok["body"], "hi", "{ok}");
    assert_eq!(stub.count("/hello"), 2);

    // Refused before a socket opens: a host not granted (declared or not), by name or redirect.
    let port = stub.port;
    for url in [
        format!("http://localhost:{port}/hello"),
        "https://api.telegram.org/bot123/sendMessage".to_string(),
        "https://example.com/".to_string(),
        format!("{base}/to-localhost"),
    ] {
        let r = fetch(app, &co, json!({ "url": url })).await;
        assert_eq!(r["refused"], "access_denied", "{url}: {r}");
        assert!(r["message"].as_str().unwrap_or("").contains("not a host granted to courier"), "{r}");
    }
    assert_eq!(stub.count("/hello"), 2, "a refused request reaches nothing");
    // A private address stays closed even when granted, directly or through a redirect.
    for url in ["http://169.254.169.254/latest/meta-data".to_string(), format!("{base}/to-metadata")] {
        let r = fetch(app, &co, json!({ "url": url })).await;
        assert_eq!(r["refused"], "access_denied", "{r}");
        assert!(r["message"].as_str().unwrap_or("").contains("private"), "{r}");
    }
    // Limits: the answer's size, the call's time; malformed requests.
    let big = fetch(app, &co, json!({ "url": format!("{base}/big") })).await;
    assert_eq!(big["refused"], "limit_exceeded", "{big}");
    let slow = fetch(app, &co, json!({ "url": format!("{base}/slow") })).await;
    assert_eq!(slow["refused"], "limit_exceeded", "{slow}");
    for bad in [
        json!({ "url": "not a url" }),
        json!({ "url": format!("{base}/hello"), "method": "TRACE" }),
        json!({ "url": format!("{base}/hello"), "headers": { "Host": "evil" } }),
        json!({ "url": format!("http://user:pw@127.0.0.1:{port}/hello") }),
    ] {
        let r = fetch(app, &co, bad.clone()).await;
        assert_eq!(r["refused"], "invalid", "{bad}: {r}");
    }
    // Nothing goes out once the change has written: it could not be rolled back.
    let r = app
        .post(
            &format!("/api/v1/companies/{co}/plugins/courier/commands/write-then-fetch"),
            &app.root,
            json!({ "url": format!("{base}/hello") }),
        )
        .await;
    let r = r.expect(200);
    assert_eq!(r["refused"], "invalid", "{r}");
    assert!(r["message"].as_str().unwrap_or("").contains("before the change's first write"), "{r}");
    assert_eq!(stub.count("/hello"), 2);

    // The outbound log: every request, its host and outcome, never a path.
    let log = outbound_log(app, &co, "?limit=500").await;
    let outcomes: Vec<&str> = log.iter().filter_map(|e| e["outcome"].as_str()).collect();
    assert_eq!(outcomes.iter().filter(|o| **o == "ok").count(), 2, "{log:?}");
    assert_eq!(outcomes.iter().filter(|o| **o == "denied").count(), 6, "{log:?}");
    assert_eq!(outcomes.iter().filter(|o| **o == "limit").count(), 2, "{log:?}");
    assert_eq!(outcomes.iter().filter(|o| **o == "invalid").count(), 5, "{log:?}");
    assert!(log.iter().all(|e| e["source"] == "courier" && e["duration_ms"].is_i64()));
    assert!(log.iter().any(|e| e["host"] == format!("http://127.0.0.1:{port}") && e["status"] == 200));
    let text = serde_json::to_string(&log).expect("json");
    assert!(!text.contains("/hello") && !text.contains("bot123"), "no paths or tokens in the log: {text}");
    assert!(outbound_log(app, &co, "?source=webhooks").await.is_empty());
    app.get(&format!("/api/v1/companies/{co}/outbound?bogus=1"), &app.root).await.expect(400);
    // Administrators read it; other members do not.
    let (_, token) = app.user("clerk@example.com").await;
    app.post(
        &format!("/api/v1/companies/{co}/members"),
        &app.root,
        json!({ "email": "clerk@example.com", "role": "member" }),
    )
    .await
    .expect(201);
    app.get(&format!("/api/v1/companies/{co}/outbound"), &token).await.expect(403);
    // Counted in the node's metrics.
    let platform = app.platform.clone();
    let metrics = tokio::task::spawn_blocking(move || platform.metrics_text()).await.unwrap().expect("metrics");
    assert!(metrics.contains("erp_outbound_requests_total{source=\"courier\",outcome=\"denied\"} 6"), "{metrics}");

    // In the web UI, in Russian: the plugin's page lists the hosts it asks for with their
    // reasons, ticked as granted; the outbound log reads with names and plain outcomes.
    let mut b = Browser::new(app);
    b.language("ru");
    b.login("root@example.com").await;
    let page = b.get(&format!("/c/{co}/admin/plugins/courier")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Внешние сервисы, к которым обращается"), "{}", page.body);
    assert!(page.body.contains("api.telegram.org") && page.body.contains("Granted only where the operator routes it"));
    let ticked = page.body.matches(" checked>").count();
    assert_eq!(ticked, 2, "the two granted hosts are ticked");
    let log = b.get(&format!("/c/{co}/admin/outbound")).await;
    assert_eq!(log.status, 200);
    for words in ["Внешние запросы", "получен ответ", "отклонён: не разрешён", "отклонён: превышен лимит"]
    {
        assert!(log.body.contains(words), "{words}: {}", log.body);
    }
    assert!(!log.body.contains("/hello") && !log.body.contains("&#x2f;hello"));
    // Granting from the page: only what is ticked stays granted.
    let csrf = csrf_of(&page.body);
    let done = b
        .post(&format!("/c/{co}/admin/plugins/courier/enable"), &[("_csrf", &csrf), ("grant", "http://127.0.0.1:*")])
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let listed = app.get(&format!("/api/v1/companies/{co}/plugins"), &app.root).await;
    let entry = listed.expect(200)["items"].as_array().unwrap().iter().find(|p| p["name"] == "courier").cloned();
    assert_eq!(entry.unwrap()["grants"], json!(["http://127.0.0.1:*"]));

    // Revoking the grant closes the host at once.
    app.enable(&co, "courier", json!({ "grants": [] })).await.expect(200);
    let r = fetch(app, &co, json!({ "url": format!("{base}/hello") })).await;
    assert_eq!(r["refused"], "access_denied", "{r}");
}

async fn after_commit_handlers_call_out_once_per_event(app: &TestApp) {
    // The remote side fails twice, then takes the note: the handler runs three times with the
    // same idempotency key, and its own record of the delivery is kept once.
    let stub = Stub::start(2).await;
    let co = setup(app, &stub, &["notes.note", "http://127.0.0.1:*"]).await;
    let _workers = app.start_bus();
    app.post(&format!("/api/v1/companies/{co}/data/notes/note"), &app.root, json!({ "title": "Привет" }))
        .await
        .expect(201);
    let sent = async || {
        let r = app.get(&format!("/api/v1/companies/{co}/data/courier/sent"), &app.root).await;
        r.expect(200)["items"].as_array().expect("items").clone()
    };
    assert!(eventually(20, async || sent().await.len() == 1).await, "delivered: {:?}", stub.hits.lock());
    let hits: Vec<Hit> = stub.hits.lock().iter().filter(|h| h.path == "/notes").cloned().collect();
    assert_eq!(hits.len(), 3, "{hits:?}");
    let key = hits[0].idempotency_key.clone().expect("an idempotency key");
    assert!(hits.iter().all(|h| h.idempotency_key.as_deref() == Some(key.as_str())), "{hits:?}");
    assert!(hits[2].body.contains("Привет"), "{hits:?}");
    assert_eq!(sent().await[0]["data"]["status"], 200);
    let log = outbound_log(app, &co, "?source=courier").await;
    let statuses: Vec<i64> = log.iter().filter_map(|e| e["status"].as_i64()).collect();
    assert_eq!(statuses, vec![200, 503, 503], "newest first: {log:?}");
}

async fn outgoing_webhooks_are_signed_retried_and_replayed(app: &TestApp) {
    let stub = Stub::start(0).await;
    app.install(&package("notes")).await;
    let co = app.company("Hooks", &[]).await;
    app.enable(&co, "notes", json!({})).await.expect(200);
    let hooks = format!("/api/v1/companies/{co}/outgoing-webhooks");
    // Bad input is refused whole.
    for bad in [
        json!({ "url": "ftp://example.com/", "events": ["notes.note.created"] }),
        json!({ "url": "https://u:p@example.com/", "events": ["notes.note.created"] }),
        json!({ "url": format!("{}/hook", stub.base), "events": [] }),
        json!({ "url": format!("{}/hook", stub.base), "events": ["Not an event"] }),
        json!({ "url": format!("{}/hook", stub.base), "events": ["notes.note.created"], "extra": 1 }),
    ] {
        let r = app.post(&hooks, &app.root, bad.clone()).await;
        assert!(matches!(r.status.as_u16(), 400 | 422), "{bad}: {}", r.body);
    }
    assert_eq!(app.get(&hooks, &app.root).await.expect(200)["items"], json!([]));
    // A receiver on a private address fails on its own queue without holding up the other.
    let private = json!({ "url": "http://169.254.169.254/hook", "events": ["notes.note.*"] });
    let private = app.post(&hooks, &app.root, private).await.expect(201)["id"].as_str().unwrap().to_string();
    let body =
        json!({ "url": format!("{}/hook", stub.base), "events": ["notes.note.created"], "description": "ERP → склад" });
    let created = app.post(&hooks, &app.root, body).await;
    let created = created.expect(201).clone();
    let (id, secret) = (created["id"].as_str().unwrap().to_string(), created["secret"].as_str().unwrap().to_string());
    assert!(secret.starts_with("whsec_") && secret.len() > 40, "{created}");
    let listed = app.get(&hooks, &app.root).await;
    assert!(listed.expect(200)["items"].as_array().unwrap().iter().all(|h| h.get("secret").is_none()));
    // Members without the permission neither see nor change webhooks.
    let (_, clerk) = app.user("hook-clerk@example.com").await;
    app.post(
        &format!("/api/v1/companies/{co}/members"),
        &app.root,
        json!({ "email": "hook-clerk@example.com", "role": "member" }),
    )
    .await
    .expect(201);
    app.get(&format!("{hooks}/{id}"), &clerk).await.expect(403);
    app.post(&hooks, &clerk, json!({ "url": "https://x.example.com/", "events": ["notes.note.created"] }))
        .await
        .expect(403);

    let _workers = app.start_bus();
    let note =
        app.post(&format!("/api/v1/companies/{co}/data/notes/note"), &app.root, json!({ "title": "Привет" })).await;
    let note_id = note.expect(201)["id"].as_str().unwrap().to_string();
    // Three failures use up the attempts: a dead letter, shown with the receiver's answer.
    let states = async || {
        let r = app.get(&format!("/api/v1/companies/{co}/events?name=notes.note.created"), &app.root).await;
        let event = r.expect(200)["items"][0].clone();
        let of = |h: &str| {
            event["deliveries"].as_array().unwrap().iter().find(|d| d["handler"] == h).cloned().unwrap_or(Value::Null)
        };
        (event["id"].as_str().unwrap().to_string(), of(&id), of(&private))
    };
    assert!(eventually(20, async || states().await.1["state"] == "dead").await, "{:?}", states().await);
    let (event_id, mine, theirs) = states().await;
    assert_eq!(mine["plugin"], "webhooks");
    assert!(mine["last_error"].as_str().unwrap_or("").contains("500"), "{mine}");
    assert!(eventually(20, async || states().await.2["state"] == "dead").await);
    let theirs_error = states().await.2["last_error"].as_str().unwrap_or("").to_string();
    assert!(theirs_error.contains("private"), "{theirs} {theirs_error}");
    assert_eq!(stub.count("/hook"), 3);
    // Replayed, the fourth try arrives, signed with the subscription's secret.
    app.post(&format!("/api/v1/companies/{co}/events/{event_id}/replay"), &app.root, json!({})).await.expect(200);
    assert!(eventually(20, async || states().await.1["state"] == "done").await, "{:?}", states().await);
    let hits: Vec<Hit> = stub.hits.lock().iter().filter(|h| h.path == "/hook").cloned().collect();
    assert_eq!(hits.len(), 4, "{hits:?}");
    let last = &hits[3];
    let now = chrono::Utc::now().timestamp();
    let header = last.signature.clone().expect("signed");
    assert!(erp_kernel::bus::webhooks::verify(&secret, &header, last.body.as_bytes(), now, 300), "{header}");
    assert!(!erp_kernel::bus::webhooks::verify("whsec_wrong", &header, last.body.as_bytes(), now, 300));
    let delivered: Value = serde_json::from_str(&last.body).unwrap();
    assert_eq!(delivered["name"], "notes.note.created");
    assert_eq!(delivered["event"], event_id.as_str());
    assert_eq!(delivered["payload"]["id"], note_id.as_str());
    assert_eq!(delivered["payload"]["after"]["title"], "Привет");
    let key = hits[0].idempotency_key.clone().expect("an idempotency key");
    assert!(hits.iter().all(|h| h.idempotency_key.as_deref() == Some(key.as_str())), "{hits:?}");
    // Every try is in the outbound log, by host and status.
    let log = outbound_log(app, &co, "?source=webhooks").await;
    let mut statuses: Vec<i64> = log.iter().filter_map(|e| e["status"].as_i64()).collect();
    statuses.sort();
    assert_eq!(statuses, vec![204, 500, 500, 500], "{log:?}");
    assert!(log.iter().any(|e| e["outcome"] == "denied" && e["host"] == "http://169.254.169.254:80"), "{log:?}");

    // Paused, it receives nothing; with a new secret the old one no longer signs; removed, it is gone.
    let paused =
        app.patch(&format!("{hooks}/{id}"), &app.root, json!({ "active": false, "rotate_secret": true })).await;
    let paused = paused.expect(200).clone();
    assert_eq!(paused["active"], false);
    assert_ne!(paused["secret"], secret.as_str());
    app.post(&format!("/api/v1/companies/{co}/data/notes/note"), &app.root, json!({ "title": "Тишина" }))
        .await
        .expect(201);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(stub.count("/hook"), 4);
    let audit = app.get(&format!("/api/v1/companies/{co}/audit"), &app.root).await;
    assert!(audit.expect(200).to_string().contains("webhook.update"));
    // The administration page, in Russian: the webhooks with their state, and a form that
    // adds one and shows its secret once.
    let mut b = Browser::new(app);
    b.language("ru");
    b.login("root@example.com").await;
    let page = b.get(&format!("/c/{co}/admin/webhooks")).await;
    assert_eq!(page.status, 200);
    for words in ["Исходящие вебхуки", "Приостановлен", "Работает", "ERP → склад"]
    {
        assert!(page.body.contains(words), "{words}: {}", page.body);
    }
    let csrf = csrf_of(&page.body);
    let form = [
        ("_csrf", csrf.as_str()),
        ("url", "https://hooks.example.com/erp"),
        ("events", "crm.deal.*, notes.note.created"),
        ("description", "Склад"),
    ];
    let added = b.post(&format!("/c/{co}/admin/webhooks"), &form).await;
    assert_eq!(added.status, 200, "{}", added.body);
    assert!(added.body.contains("Секрет подписи") && added.body.contains("whsec_"), "{}", added.body);
    let listed = app.get(&hooks, &app.root).await;
    let items = listed.expect(200)["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 3);
    assert_eq!(items[2]["events"], json!(["crm.deal.*", "notes.note.created"]));
    let bad = b
        .post(&format!("/c/{co}/admin/webhooks"), &[("_csrf", csrf.as_str()), ("url", "ftp://x"), ("events", "x")])
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);

    app.delete(&format!("{hooks}/{id}"), &app.root).await.expect(204);
    app.get(&format!("{hooks}/{id}"), &app.root).await.expect(404);
}

/// An operator's route sends a granted origin's requests to a stand-in (here Telegram's, as a
/// test rig does); the grant and the log still name the origin the plugin asked for, and other
/// hosts stay closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_follow_the_operators_routes() {
    let stub = Stub::start(0).await;
    let mut outbound = crate::support::loopback_outbound();
    outbound.routes =
        vec![erp_kernel::outbound::Route::parse(&format!("https://api.telegram.org={}", stub.base)).unwrap()];
    let app = TestApp::start_with_outbound(crate::support::Backend::Sqlite, outbound).await.expect("sqlite");
    let co = setup(&app, &stub, &["https://api.telegram.org"]).await;
    let ok = fetch(&app, &co, json!({ "url": "https://api.telegram.org/hello?x=1" })).await;
    assert_eq!((ok["status"].as_u64(), ok["body"].as_str()), (Some(200), Some("hi")), "{ok}");
    assert_eq!(stub.count("/hello"), 1);
    let r = fetch(&app, &co, json!({ "url": format!("{}/hello", stub.base) })).await;
    assert_eq!(r["refused"], "access_denied", "the stand-in itself is not granted: {r}");
    assert_eq!(stub.count("/hello"), 1);
    let log = outbound_log(&app, &co, "?source=courier").await;
    assert_eq!(log[1]["host"], "https://api.telegram.org:443", "{log:?}");
    assert_eq!(log[1]["status"], 200, "{log:?}");
}
