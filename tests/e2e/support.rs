//! Test harness: a real server over a real database (a temporary SQLite file, or a uniquely
//! named PostgreSQL database dropped afterwards), driven through real HTTP.

use std::sync::atomic::{AtomicU32, Ordering};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use erp_api::AppState;
use erp_kernel::Platform;
use erp_kernel::identity::IdentityError;
use erp_kernel::identity::users::{self, NewUser};
use erp_kernel::storage::{Db, DbConn};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Bundled plugins (already compiled by the binary's build script, so building them again
/// only checks that they are fresh).
const BUNDLED: &[&str] = &["notes", "crm", "warehouse", "accounting", "hr", "marketing", "collaboration"];

/// Test fixture plugins (crates under tests/plugins/), never built by a production build.
const FIXTURES: &[&str] = &[
    "hostile",
    "fs_reader",
    "bad_manifest",
    "needs_ghost",
    "legacy",
    "ledger_v1",
    "ledger_v2",
    "ledger_v3",
    "spy",
    "counter",
    "flaky",
    "guard",
    "ticker",
    "sink",
    "courier",
    "fake_accounting",
    "fake_hr",
];

/// The repository root.
pub fn workspace() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A compiled plugin package, bundled or fixture. The first call builds them all for
/// `wasm32-wasip2` (one nested cargo build into `target/wasm-plugins`); later calls read files.
pub fn package(krate: &str) -> Vec<u8> {
    static BUILT: std::sync::OnceLock<Result<std::path::PathBuf, String>> = std::sync::OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let target = erp_plugin_build::outer_target_dir(&exe).ok_or("test binary outside a cargo target folder")?;
        let crates: Vec<&str> = BUNDLED.iter().chain(FIXTURES).copied().collect();
        erp_plugin_build::PluginBuild::new(workspace().join("Cargo.toml"), &crates, &target).run()
    });
    let dir = built.as_ref().unwrap_or_else(|e| panic!("building the test plugins: {e}"));
    let path = dir.join(format!("{krate}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("missing plugin package {}: {e}", path.display()))
}

/// Event-bus settings for tests: quick retries, short leases, tight polling.
pub fn fast_bus() -> erp_kernel::bus::BusConfig {
    erp_kernel::bus::BusConfig {
        backoff_base: std::time::Duration::from_millis(30),
        backoff_max: std::time::Duration::from_millis(300),
        max_attempts: 3,
        lease: std::time::Duration::from_secs(5),
        batch: 64,
        idle_poll: std::time::Duration::from_millis(5),
        schedule_tick: std::time::Duration::from_millis(50),
    }
}

/// Polls `check` until it is true or `secs` pass.
pub async fn eventually(secs: u64, mut check: impl AsyncFnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if check().await {
            return true;
        }
        if std::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}

/// Password every test user gets.
pub const PASSWORD: &str = "test-password-1";

/// Runs one async test body on both backends: `both_backends!(name => body_fn)` generates
/// `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    if let Some(app) = $crate::support::TestApp::start($crate::support::Backend::Sqlite).await {
                        super::$name(&app).await;
                    }
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(app) = $crate::support::TestApp::start($crate::support::Backend::Postgres).await {
                        super::$name(&app).await;
                    }
                }
            }
        )*
    };
}

/// The PostgreSQL server the tests use, without a database name.
pub fn pg_admin_url() -> String {
    std::env::var("ERP_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_string())
}

fn unique_suffix() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("{}_{}_{}", std::process::id(), n, nanos)
}

/// A database that exists for one test and is removed afterwards.
pub struct TestDb {
    pub url: String,
    pg_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// Creates the database; `None` when PostgreSQL is unreachable outside CI (the test then
    /// skips loudly). Under `CI=true` an unreachable PostgreSQL fails the test.
    pub fn create(backend: Backend) -> Option<TestDb> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("erp.db").display());
                Some(TestDb { url, pg_name: None, _dir: Some(dir) })
            }
            Backend::Postgres => {
                let admin = format!("{}/postgres", pg_admin_url());
                let mut conn = match PgConnection::establish(&admin) {
                    Ok(c) => c,
                    Err(e) => {
                        if std::env::var("CI").as_deref() == Ok("true") {
                            panic!("PostgreSQL is required under CI but unreachable at {admin}: {e}");
                        }
                        eprintln!("\n*** SKIPPING PostgreSQL test: cannot connect to {admin}: {e} ***\n");
                        return None;
                    }
                };
                let name = format!("erp_test_{}", unique_suffix());
                conn.batch_execute(&format!("CREATE DATABASE {name}")).expect("create test database");
                Some(TestDb { url: format!("{}/{name}", pg_admin_url()), pg_name: Some(name), _dir: None })
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = &self.pg_name {
            let admin = format!("{}/postgres", pg_admin_url());
            match PgConnection::establish(&admin) {
                Ok(mut conn) => {
                    if let Err(e) = conn.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")) {
                        eprintln!("could not drop test database {name}: {e}");
                    }
                }
                Err(e) => eprintln!("could not drop test database {name}: {e}"),
            }
        }
    }
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Resp {
    /// The error code of a JSON error body.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    /// Asserts the status and that error answers have the JSON error shape.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Value {
        assert_eq!(self.status.as_u16(), status, "unexpected answer: {}", self.body);
        if status >= 400 {
            assert!(self.body["error"]["code"].is_string(), "error body without code: {}", self.body);
            assert!(self.body["error"]["message"].is_string(), "error body without message: {}", self.body);
        }
        &self.body
    }
}

/// A running server on a fresh database, plus a logged-in platform operator.
pub struct TestApp {
    pub base: String,
    pub db: Db,
    /// The kernel behind the server (start its event workers with `start_bus`).
    pub platform: Platform,
    pub client: reqwest::Client,
    /// Token of the platform operator `root@example.com`.
    pub root: String,
    server: tokio::task::JoinHandle<()>,
    /// Where this server keeps uploaded files (`blobs/`, `staging/`).
    pub files_dir: tempfile::TempDir,
    _db_guard: TestDb,
}

/// Another node of a [`TestApp`] (see [`TestApp::another_node`]).
pub struct Node {
    pub base: String,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Node {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Links in e-mails lead to the test server itself.
fn public_url(addr: std::net::SocketAddr) -> erp_kernel::links::PublicUrl {
    erp_kernel::links::PublicUrl::parse(&format!("http://{addr}")).expect("a public address")
}

impl TestApp {
    /// Starts a server; `None` when the backend is unavailable and the test should skip.
    pub async fn start(backend: Backend) -> Option<TestApp> {
        TestApp::start_with(backend, erp_kernel::fair_use::Settings::default()).await
    }

    /// Starts a server with explicit fair-use settings (deadlines, quotas, quarantine).
    pub async fn start_with(backend: Backend, fair: erp_kernel::fair_use::Settings) -> Option<TestApp> {
        TestApp::start_full(backend, fair, erp_api::HttpSettings::default(), loopback_outbound(), |_| {}).await
    }

    /// Starts a server with explicit outbound settings (routes, allowed networks).
    pub async fn start_with_outbound(
        backend: Backend,
        outbound: erp_kernel::outbound::OutboundSettings,
    ) -> Option<TestApp> {
        let (fair, http) = (erp_kernel::fair_use::Settings::default(), erp_api::HttpSettings::default());
        TestApp::start_full(backend, fair, http, outbound, |_| {}).await
    }

    /// Starts a server with explicit connection limits (timeouts, body pace, connection cap).
    pub async fn start_with_http(backend: Backend, http: erp_api::HttpSettings) -> Option<TestApp> {
        TestApp::start_full(backend, erp_kernel::fair_use::Settings::default(), http, loopback_outbound(), |_| {}).await
    }

    /// Starts a server whose file settings `files` adjusts (limits, a key); files go to a
    /// temporary directory, [`TestApp::files_dir`].
    pub async fn start_with_files(
        backend: Backend,
        files: impl FnOnce(&mut erp_kernel::files::FileSettings),
    ) -> Option<TestApp> {
        let (fair, http) = (erp_kernel::fair_use::Settings::default(), erp_api::HttpSettings::default());
        TestApp::start_full(backend, fair, http, loopback_outbound(), files).await
    }

    async fn start_full(
        backend: Backend,
        fair: erp_kernel::fair_use::Settings,
        http: erp_api::HttpSettings,
        outbound: erp_kernel::outbound::OutboundSettings,
        adjust_files: impl FnOnce(&mut erp_kernel::files::FileSettings),
    ) -> Option<TestApp> {
        let guard = tokio::task::spawn_blocking(move || TestDb::create(backend)).await.expect("join")?;
        let url = guard.url.clone();
        let db = tokio::task::spawn_blocking(move || Db::open(&url)).await.expect("join").expect("open db");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let files_dir = tempfile::tempdir().expect("files dir");
        let mut file_settings = erp_kernel::files::FileSettings::in_dir(files_dir.path());
        adjust_files(&mut file_settings);
        let platform = Platform::with_settings(db.clone(), fast_bus(), fair)
            .expect("plugin runtime")
            .with_files(erp_kernel::files::Files::open(file_settings))
            .with_outbound(outbound)
            .with_public_url(public_url(addr));
        let router = erp_web::app(AppState::new(platform.clone()));
        let server = tokio::spawn(async move {
            let _ = erp_api::serve_with(listener, router, http, std::future::pending()).await;
        });
        let client = reqwest::Client::builder().build().expect("client");
        let mut app = TestApp {
            base: format!("http://{addr}"),
            db,
            platform,
            client,
            root: String::new(),
            server,
            files_dir,
            _db_guard: guard,
        };
        let db = app.db.clone();
        tokio::task::spawn_blocking(move || {
            let new = NewUser {
                email: "root@example.com".into(),
                password: PASSWORD.into(),
                name: "Root".into(),
                is_superadmin: true,
            };
            let prepared = users::prepare(&new)?;
            db.write_blocking(|conn| users::insert(conn, &prepared))
        })
        .await
        .expect("join")
        .map_err(|e: IdentityError| e.to_string())
        .expect("create root");
        app.root = app.login("root@example.com", PASSWORD).await;
        Some(app)
    }

    /// A second node on the same database: its own pool, plugin runtime, live relay and HTTP
    /// server, as another process behind a load balancer would be.
    pub async fn another_node(&self) -> Node {
        let url = self._db_guard.url.clone();
        let db = tokio::task::spawn_blocking(move || Db::open(&url)).await.expect("join").expect("open db");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let platform = Platform::with_settings(db, fast_bus(), erp_kernel::fair_use::Settings::default())
            .expect("plugin runtime")
            .with_files(erp_kernel::files::Files::open(erp_kernel::files::FileSettings::in_dir(self.files_dir.path())))
            .with_outbound(self.platform.outbound.settings().clone())
            .with_secrets(self.platform.secrets.clone())
            .with_public_url(public_url(addr));
        let router = erp_web::app(AppState::new(platform.clone()));
        let server = tokio::spawn(async move {
            let _ =
                erp_api::serve_with(listener, router, erp_api::HttpSettings::default(), std::future::pending()).await;
        });
        Node { base: format!("http://{addr}"), server }
    }

    /// Sends a request; `body` is sent as JSON when present.
    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Resp {
        let mut req = self.client.request(method, format!("{}{}", self.base, path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("request");
        Self::read(res).await
    }

    /// Sends a POST with an `Idempotency-Key`.
    pub async fn post_keyed(&self, path: &str, token: &str, key: &str, body: Value) -> (Resp, bool) {
        let res = self
            .client
            .post(format!("{}{}", self.base, path))
            .bearer_auth(token)
            .header("idempotency-key", key)
            .json(&body)
            .send()
            .await
            .expect("request");
        let replayed = res.headers().get("idempotent-replayed").is_some();
        (Self::read(res).await, replayed)
    }

    /// Sends a raw body with a content type.
    pub async fn call_raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Resp {
        let mut req = self.client.request(method, format!("{}{}", self.base, path)).body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let res = req.send().await.expect("request");
        Self::read(res).await
    }

    /// Sends a body the server will refuse before reading all of it, over a plain socket: the
    /// server may answer and close while the body is still being written, which an ordinary
    /// client reports as a broken connection instead of the answer.
    pub async fn call_oversized(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: Vec<u8>,
    ) -> Resp {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let addr = self.base.trim_start_matches("http://").to_string();
        let stream = tokio::net::TcpStream::connect(&addr).await.expect("connect");
        let (mut reader, mut writer) = stream.into_split();
        let auth = token.map(|t| format!("authorization: Bearer {t}\r\n")).unwrap_or_default();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nhost: {addr}\r\n{auth}content-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        );
        let sender = tokio::spawn(async move {
            let _ = writer.write_all(head.as_bytes()).await;
            let _ = writer.write_all(&body).await;
        });
        let mut raw = Vec::new();
        let _ = tokio::time::timeout(std::time::Duration::from_secs(20), reader.read_to_end(&mut raw)).await;
        sender.abort();
        let text = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((text.as_str(), ""));
        let code: u16 = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
        let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        // The answer may be chunked: take the JSON object inside.
        let json = body.find('{').and_then(|start| body.rfind('}').map(|end| &body[start..=end])).unwrap_or("");
        let body = serde_json::from_str(json).unwrap_or(Value::Null);
        Resp { status, body, headers: reqwest::header::HeaderMap::new() }
    }

    async fn read(res: reqwest::Response) -> Resp {
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.bytes().await.expect("body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Resp { status, body, headers }
    }

    pub async fn get(&self, path: &str, token: &str) -> Resp {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Resp {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Resp {
        self.call(Method::PATCH, path, Some(token), Some(body)).await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> Resp {
        self.call(Method::PUT, path, Some(token), Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Resp {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    /// Logs in and returns the token.
    pub async fn login(&self, email: &str, password: &str) -> String {
        let r = self
            .call(Method::POST, "/api/v1/auth/login", None, Some(json!({ "email": email, "password": password })))
            .await;
        r.expect(200)["token"].as_str().expect("token").to_string()
    }

    /// Creates a user through the API and logs them in: (user id, token).
    pub async fn user(&self, email: &str) -> (String, String) {
        let r = self
            .post("/api/v1/users", &self.root, json!({ "email": email, "password": PASSWORD, "name": email }))
            .await;
        let id = r.expect(201)["id"].as_str().expect("id").to_string();
        (id, self.login(email, PASSWORD).await)
    }

    /// Creates a company (root is owner) and adds `members` with their roles.
    pub async fn company(&self, name: &str, members: &[(&str, &str)]) -> String {
        let r = self.post("/api/v1/companies", &self.root, json!({ "name": name })).await;
        let id = r.expect(201)["id"].as_str().expect("id").to_string();
        for (email, role) in members {
            self.post(&format!("/api/v1/companies/{id}/members"), &self.root, json!({ "email": email, "role": role }))
                .await
                .expect(201);
        }
        id
    }

    /// Installs a plugin package through the API as the platform operator.
    pub async fn install(&self, package: &[u8]) -> Value {
        let r = self
            .call_raw(Method::POST, "/api/v1/plugins", Some(&self.root), Some("application/wasm"), package.to_vec())
            .await;
        r.expect(201).clone()
    }

    /// Adds a custom role with `permissions` and makes `email` a member holding it.
    pub async fn member_with_role(&self, co: &str, email: &str, role: &str, permissions: &[&str]) {
        let body = json!({ "name": role, "permissions": permissions });
        let r = self.post(&format!("/api/v1/companies/{co}/roles"), &self.root, body).await;
        assert!(r.status.is_success(), "{}", r.body);
        let body = json!({ "email": email, "role": role });
        self.post(&format!("/api/v1/companies/{co}/members"), &self.root, body).await.expect(201);
    }

    /// Installs the bundled plugins and fills the demo company, its people sharing `password`.
    pub async fn demo(&self, password: &str) -> erp::demo::Demo {
        let platform = self.platform.clone();
        let password = password.to_string();
        tokio::task::spawn_blocking(move || {
            erp::bundled::install_all(&platform)?;
            let options = erp::demo::DemoOptions { password: Some(password), allow_existing: true };
            erp::demo::ensure(&platform, &options)
        })
        .await
        .unwrap()
        .expect("demo data")
    }

    /// Enables a plugin in a company as root (an owner of every test company).
    pub async fn enable(&self, company: &str, plugin: &str, body: Value) -> Resp {
        self.put(&format!("/api/v1/companies/{company}/plugins/{plugin}"), &self.root, body).await
    }

    /// Starts this node's event dispatcher and scheduler (stopped when dropped).
    pub fn start_bus(&self) -> erp_kernel::bus::Workers {
        erp_kernel::bus::start(&self.platform).expect("workers")
    }

    /// Every row of every kernel table as text, to prove that a request changed nothing.
    pub async fn snapshot(&self) -> Vec<(String, Vec<String>)> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || db.read_blocking(snapshot)).await.expect("join").expect("snapshot")
    }
}

#[derive(QueryableByName)]
struct RowText {
    #[diesel(sql_type = diesel::sql_types::Text)]
    row: String,
}

/// Each kernel table with an expression that renders a whole row as text.
const TABLES: &[(&str, &str)] = &[
    (
        "users",
        "id || '|' || email || '|' || name || '|' || password_hash || '|' || CAST(is_superadmin AS TEXT) || '|' || CAST(failed_logins AS TEXT) || '|' || COALESCE(CAST(locked_until AS TEXT), '')",
    ),
    (
        "login_throttle",
        "email || '|' || client || '|' || CAST(failures AS TEXT) || '|' || COALESCE(CAST(locked_until AS TEXT), '')",
    ),
    ("companies", "id || '|' || name || '|' || CAST(created_at AS TEXT)"),
    ("roles", "company_id || '|' || name || '|' || description || '|' || permissions"),
    ("memberships", "company_id || '|' || user_id || '|' || role"),
    (
        "tokens",
        "id || '|' || user_id || '|' || kind || '|' || name || '|' || token_hash || '|' || COALESCE(CAST(expires_at AS TEXT), '') || '|' || COALESCE(CAST(revoked_at AS TEXT), '')",
    ),
    (
        "audit_log",
        "id || '|' || COALESCE(company_id, '') || '|' || COALESCE(actor_id, '') || '|' || action || '|' || outcome || '|' || detail",
    ),
    ("plugins", "name || '|' || version || '|' || CAST(updated_at AS TEXT)"),
    ("plugin_versions", "name || '|' || version || '|' || sha256 || '|' || CAST(LENGTH(package) AS TEXT)"),
    ("plugin_artifacts", "sha256 || '|' || engine || '|' || CAST(LENGTH(artifact) AS TEXT)"),
    (
        "idempotency_keys",
        "owner || '|' || idem_key || '|' || request_hash || '|' || CAST(status AS TEXT) || '|' || response",
    ),
    (
        "plugin_health",
        "company_id || '|' || plugin || '|' || CAST(strikes AS TEXT) || '|' || COALESCE(CAST(quarantined_at AS TEXT), '')",
    ),
    (
        "plugin_usage",
        "company_id || '|' || plugin || '|' || CAST(records AS TEXT) || '|' || CAST(bytes AS TEXT) || '|' || CAST(events AS TEXT)",
    ),
    (
        "company_plugins",
        "company_id || '|' || plugin || '|' || config || '|' || grants || '|' || COALESCE(webhook_secret_hash, '')",
    ),
    (
        "records",
        "id || '|' || company_id || '|' || plugin || '|' || collection || '|' || CAST(version AS TEXT) || '|' || data",
    ),
    (
        "record_keys",
        "record_id || '|' || field || '|' || COALESCE(key_text, '') || '|' || COALESCE(CAST(key_num AS TEXT), '')",
    ),
    (
        "record_unique",
        "company_id || '|' || plugin || '|' || collection || '|' || field || '|' || value || '|' || record_id",
    ),
    ("record_refs", "from_id || '|' || field || '|' || to_id"),
    ("events", "id || '|' || company_id || '|' || name || '|' || payload"),
    ("deliveries", "id || '|' || event_id || '|' || plugin || '|' || state || '|' || CAST(attempts AS TEXT)"),
    (
        "schedule_runs",
        "company_id || '|' || plugin || '|' || schedule || '|' || CAST(next_run_at AS TEXT) || '|' || CAST(runs AS TEXT)",
    ),
    (
        "files",
        "id || '|' || company_id || '|' || sha256 || '|' || CAST(size AS TEXT) || '|' || name || '|' || COALESCE(record_id, '') || '|' || COALESCE(field, '')",
    ),
    ("file_usage", "company_id || '|' || CAST(files AS TEXT) || '|' || CAST(bytes AS TEXT)"),
    (
        "document_templates",
        "company_id || '|' || plugin || '|' || document || '|' || language || '|' || CAST(version AS TEXT) || '|' || source",
    ),
    (
        "notifications",
        "id || '|' || company_id || '|' || user_id || '|' || kind || '|' || title || '|' || body || '|' || COALESCE(CAST(read_at AS TEXT), '')",
    ),
    ("notification_preferences", "company_id || '|' || user_id || '|' || kind || '|' || channel"),
    (
        "mail_settings",
        "company_id || '|' || from_address || '|' || smtp_host || '|' || CAST(smtp_port AS TEXT) || '|' || smtp_username || '|' || COALESCE(smtp_password, '') || '|' || imap_host || '|' || imap_username || '|' || COALESCE(imap_password, '') || '|' || imap_folder || '|' || deliver_to || '|' || COALESCE(CAST(imap_last_uid AS TEXT), '') || '|' || COALESCE(imap_error, '') || '|' || CAST(updated_at AS TEXT)",
    ),
    ("mail_received", "company_id || '|' || message_id || '|' || CAST(status AS TEXT)"),
    (
        "mail_outbox",
        "id || '|' || company_id || '|' || source || '|' || recipient || '|' || subject || '|' || status || '|' || CAST(attempts AS TEXT) || '|' || COALESCE(error, '') || '|' || COALESCE(message_id, '')",
    ),
    (
        "outbound_log",
        "id || '|' || company_id || '|' || source || '|' || method || '|' || host || '|' || COALESCE(CAST(status AS TEXT), '') || '|' || outcome || '|' || COALESCE(error, '') || '|' || CAST(duration_ms AS TEXT)",
    ),
    (
        "outgoing_webhooks",
        "id || '|' || company_id || '|' || url || '|' || events || '|' || description || '|' || secret || '|' || CAST(active AS TEXT) || '|' || created_by || '|' || CAST(updated_at AS TEXT)",
    ),
];

fn table_names(conn: &mut DbConn) -> Result<Vec<String>, diesel::result::Error> {
    let sql = match conn {
        DbConn::Sqlite(_) => {
            "SELECT name AS row FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> '__diesel_schema_migrations' ORDER BY 1"
        }
        DbConn::Postgres(_) => {
            "SELECT CAST(tablename AS TEXT) AS row FROM pg_tables WHERE schemaname = 'public' AND tablename <> '__diesel_schema_migrations' ORDER BY 1"
        }
    };
    Ok(diesel::sql_query(sql).load::<RowText>(conn)?.into_iter().map(|r| r.row).collect())
}

fn snapshot(conn: &mut DbConn) -> Result<Vec<(String, Vec<String>)>, erp_kernel::storage::StoreError> {
    let mut known: Vec<&str> = TABLES.iter().map(|(t, _)| *t).collect();
    known.sort();
    let actual = table_names(conn)?;
    assert_eq!(actual, known, "the snapshot must cover every table; update TABLES in tests/e2e/support.rs");
    let mut out = Vec::new();
    for (table, expr) in TABLES {
        let rows = diesel::sql_query(format!("SELECT {expr} AS row FROM {table} ORDER BY 1")).load::<RowText>(conn)?;
        out.push((table.to_string(), rows.into_iter().map(|r| r.row).collect()));
    }
    Ok(out)
}

/// Outbound requests as tests need them: the stand-in servers listen on 127.0.0.1, which only
/// an operator's setting opens (every other private address stays closed).
pub fn loopback_outbound() -> erp_kernel::outbound::OutboundSettings {
    let loopback = erp_kernel::outbound::address::Network::parse("127.0.0.1").expect("an address");
    erp_kernel::outbound::OutboundSettings { allow_private: vec![loopback], ..Default::default() }
}
