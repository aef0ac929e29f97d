//! The test kit: load a compiled plugin into an in-memory kernel and call it from an ordinary
//! `cargo test`, without a server.
//!
//! ```no_run
//! use erp_testkit::TestKernel;
//! use serde_json::json;
//!
//! let kernel = TestKernel::for_crate(env!("CARGO_MANIFEST_DIR")).expect("plugin loads");
//! let answer = kernel.command("add", json!({ "title": "Buy paper" })).expect("command runs");
//! assert!(answer["id"].is_string());
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use erp_kernel::Platform;
use erp_kernel::access::CompanyScope;
use erp_kernel::audit::Actor;
use erp_kernel::identity::users::{self, NewUser};
use erp_kernel::identity::{IdentityError, companies};
use erp_kernel::plugins::host::{Call, DeliveredEvent};
use erp_kernel::plugins::lifecycle::{self, EnableRequest};
use erp_kernel::plugins::{GuestError, PluginError};
use erp_kernel::records::{self, Caller, Collection};
use erp_kernel::session::Session;
use erp_kernel::storage::{Db, StoreError};
use serde_json::Value;

use erp_sdk::{Error, FieldError};

/// An in-memory kernel with one company in which the plugin under test is enabled.
pub struct TestKernel {
    platform: Platform,
    company_id: String,
    owner_id: String,
    plugin: String,
    _dir: tempfile::TempDir,
}

impl std::fmt::Debug for TestKernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestKernel").field("plugin", &self.plugin).field("company_id", &self.company_id).finish()
    }
}

fn kernel_error(e: impl std::fmt::Display) -> Error {
    Error::Failed(e.to_string())
}

fn from_plugin_error(e: PluginError) -> Error {
    match e {
        PluginError::Refused { error, .. } => match error {
            GuestError::AccessDenied(m) => Error::AccessDenied(m),
            GuestError::NotFound(m) => Error::NotFound(m),
            GuestError::Invalid(v) => {
                Error::Invalid(v.into_iter().map(|f| FieldError { field: f.field, message: f.message }).collect())
            }
            GuestError::Conflict(m) => Error::Conflict(m),
            GuestError::LimitExceeded(m) => Error::LimitExceeded(m),
            GuestError::Failed(m) => Error::Failed(m),
        },
        PluginError::NotFound(m) => Error::NotFound(m),
        PluginError::Forbidden(m) => Error::AccessDenied(m),
        PluginError::InvalidInput(i) => {
            Error::Invalid(i.0.into_iter().map(|f| FieldError { field: f.field, message: f.message }).collect())
        }
        PluginError::Conflict(m) => Error::Conflict(m),
        other => Error::Failed(other.to_string()),
    }
}

/// The package of the plugin crate in `crate_dir`, built once per test binary however many
/// tests ask for it (pass `env!("CARGO_MANIFEST_DIR")`, or a path from it for a dependency).
pub fn package(crate_dir: impl AsRef<Path>) -> Result<&'static [u8], Error> {
    static BUILT: std::sync::Mutex<Vec<(PathBuf, &'static [u8])>> = std::sync::Mutex::new(Vec::new());
    let dir = crate_dir.as_ref().to_path_buf();
    let mut built = BUILT.lock().map_err(|_| Error::Failed("a test panicked while building a plugin".into()))?;
    if let Some((_, bytes)) = built.iter().find(|(d, _)| *d == dir) {
        return Ok(bytes);
    }
    let path = build_plugin(&dir)?;
    let bytes = std::fs::read(&path).map_err(|e| Error::Failed(format!("reading {}: {e}", path.display())))?;
    // Kept for the life of the test binary, like the tests that use it.
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    built.push((dir, bytes));
    Ok(bytes)
}

/// Builds the plugin crate in `crate_dir` for `wasm32-wasip2` (release) and returns the path
/// of its package. It shares `<target>/wasm-plugins` and its settings with the platform's own
/// plugin builds, so their artifacts are reused.
pub fn build_plugin(crate_dir: impl AsRef<Path>) -> Result<PathBuf, Error> {
    let crate_dir = crate_dir.as_ref();
    let target = std::env::current_exe()
        .ok()
        .and_then(|exe| erp_plugin_build::outer_target_dir(&exe))
        .unwrap_or_else(|| crate_dir.join("target"));
    let name = erp_plugin_build::package_name(crate_dir).map_err(Error::Failed)?;
    let built =
        erp_plugin_build::PluginBuild::new(crate_dir.join("Cargo.toml"), &[], &target).run().map_err(Error::Failed)?;
    Ok(built.join(format!("{name}.wasm")))
}

impl TestKernel {
    /// Builds the plugin crate at `crate_dir` and loads it (pass `env!("CARGO_MANIFEST_DIR")`).
    pub fn for_crate(crate_dir: impl AsRef<Path>) -> Result<TestKernel, Error> {
        let package = build_plugin(crate_dir)?;
        let bytes =
            std::fs::read(&package).map_err(|e| Error::Failed(format!("reading {}: {e}", package.display())))?;
        TestKernel::for_package(&bytes)
    }

    /// Loads a plugin package into a fresh kernel with one company and enables it there.
    pub fn for_package(bytes: &[u8]) -> Result<TestKernel, Error> {
        TestKernel::for_package_with(bytes, &[])
    }

    /// Like [`TestKernel::for_package`], for a plugin that depends on others: their
    /// packages are installed and enabled first, in the order given.
    pub fn for_package_with(bytes: &[u8], dependencies: &[&[u8]]) -> Result<TestKernel, Error> {
        let dir = tempfile::tempdir().map_err(kernel_error)?;
        let db = Db::open(&format!("sqlite://{}", dir.path().join("kernel.db").display())).map_err(kernel_error)?;
        // A test's stand-in servers listen on the loopback, which only an operator opens.
        let public = erp_kernel::links::PublicUrl::parse("https://erp.test.example").map_err(kernel_error)?;
        let platform =
            Platform::with_db(db).map_err(kernel_error)?.with_outbound(loopback_outbound()).with_public_url(public);
        let owner = users::prepare(&NewUser {
            email: "owner@test.example".into(),
            password: "test-kit-password".into(),
            name: "Test Owner".into(),
            is_superadmin: true,
        })
        .map_err(kernel_error)?;
        let (company, owner_id) = platform
            .db
            .write_blocking(|conn| {
                let user = users::insert(conn, &owner)?;
                Ok((companies::create(conn, "Test Company", &user.id)?, user.id))
            })
            .map_err(|e: IdentityError| kernel_error(e))?;
        let install = |bytes: &[u8]| {
            lifecycle::install(&platform, bytes, &Actor::system()).map_err(|e| match e {
                PluginError::Invalid(problems) => Error::Failed(format!("invalid package: {}", problems.join("; "))),
                other => from_plugin_error(other),
            })
        };
        let deps = dependencies.iter().map(|d| install(d).map(|i| i.name)).collect::<Result<Vec<_>, _>>()?;
        let installed = install(bytes)?;
        let kernel = TestKernel { platform, company_id: company.id, owner_id, plugin: installed.name, _dir: dir };
        for d in deps {
            kernel.enable(&d, Vec::new(), Value::Null)?;
        }
        kernel.enable(&kernel.plugin.clone(), Vec::new(), Value::Null)?;
        Ok(kernel)
    }

    /// The test company's id.
    pub fn company_id(&self) -> &str {
        &self.company_id
    }

    /// The user id of the test company's owner (a member, so notifications reach them).
    pub fn owner_id(&self) -> &str {
        &self.owner_id
    }

    /// The notifications `user_id` has in the test company, newest first, as the API shows
    /// them to an English reader (`kind`, `title`, `body`, `link`, `importance`, `read`).
    pub fn notifications(&self, user_id: &str) -> Result<Vec<Value>, Error> {
        let (company, user) = (self.company_id.clone(), user_id.to_string());
        let page = self
            .platform
            .db
            .read_blocking(|conn| {
                let page = erp_kernel::paging::PageRequest::new(Some(500), None)
                    .map_err(|e| erp_kernel::notify::NotifyError::Store(StoreError::Task(e.to_string())))?;
                erp_kernel::notify::inbox::list(conn, &company, &user, false, &page)
            })
            .map_err(kernel_error)?;
        Ok(page.items.iter().map(|n| n.view("en")).collect())
    }

    /// Installs another plugin (a dependency, say) without enabling it.
    pub fn install(&self, bytes: &[u8]) -> Result<String, Error> {
        lifecycle::install(&self.platform, bytes, &Actor::system()).map(|i| i.name).map_err(from_plugin_error)
    }

    /// Enables (or reconfigures) a plugin in the test company.
    pub fn enable(&self, name: &str, grants: Vec<String>, config: Value) -> Result<(), Error> {
        self.work(|platform, session, scope| {
            lifecycle::enable(platform, session, scope, name, EnableRequest { grants, config, webhook_secret: None })
                .map(|_| ())
        })
    }

    fn work<T>(
        &self,
        f: impl FnOnce(&Platform, &mut Session, &CompanyScope) -> Result<T, PluginError>,
    ) -> Result<T, Error> {
        self.work_as(None, f)
    }

    fn work_as<T>(
        &self,
        user: Option<&str>,
        f: impl FnOnce(&Platform, &mut Session, &CompanyScope) -> Result<T, PluginError>,
    ) -> Result<T, Error> {
        let mut session = Session::begin(&self.platform.db, &self.company_id, user).map_err(kernel_error)?;
        let scope = CompanyScope::system(&self.company_id);
        let value = f(&self.platform, &mut session, &scope).map_err(from_plugin_error)?;
        session.commit().map_err(kernel_error)?;
        Ok(value)
    }

    /// Runs a command of the plugin under test with every permission. Errors the plugin
    /// returns come back as they are; a trap or limit comes back as `Error::Failed`.
    pub fn command(&self, command: &str, input: Value) -> Result<Value, Error> {
        let plugin = self.plugin.clone();
        self.work(|platform, session, scope| lifecycle::run_command(platform, session, scope, &plugin, command, input))
    }

    /// Runs the demo (`[demo]` in the manifest) of the plugin under test to its end, as
    /// `erp serve --demo` does, for a company whose members are `people` and whose today is
    /// `today` (`YYYY-MM-DD`); returns the number of steps it took.
    pub fn demo(&self, people: &[erp_sdk::DemoPerson], today: &str) -> Result<u32, Error> {
        let plugin = self.plugin.clone();
        self.work(|platform, session, scope| {
            erp_kernel::plugins::demo::run(platform, session, scope, &plugin, people, today)
        })
    }

    /// Runs a command as a user holding only `permissions`.
    pub fn command_as(&self, permissions: &[&str], command: &str, input: Value) -> Result<Value, Error> {
        self.command_as_user("", permissions, command, input)
    }

    /// Runs a command as the user `user_id` holding only `permissions` (the plugin sees the
    /// id in its calling context).
    pub fn command_as_user(
        &self,
        user_id: &str,
        permissions: &[&str],
        command: &str,
        input: Value,
    ) -> Result<Value, Error> {
        let plugin = self.plugin.clone();
        let user = (!user_id.is_empty()).then_some(user_id);
        self.work_as(user, |platform, session, scope| {
            let limited = CompanyScope {
                permissions: permissions.iter().map(|p| p.to_string()).collect(),
                user_id: user_id.to_string(),
                ..scope.clone()
            };
            lifecycle::run_command(platform, session, &limited, &plugin, command, input)
        })
    }

    /// Sends an inbound webhook to the plugin under test (no secret needed here) and returns
    /// the plugin's answer: (status, content type, body). A refusal comes back as an error.
    pub fn webhook(&self, name: &str, content_type: &str, body: &[u8]) -> Result<(u16, String, Vec<u8>), Error> {
        let plugin = self.plugin.clone();
        self.work(|platform, session, _| {
            let company = session.company_id.clone();
            let active = Arc::new(platform.plugins.active(session.conn()?, &company, &plugin)?);
            if !active.loaded.manifest.webhooks.iter().any(|w| w.name == name) {
                return Err(PluginError::NotFound(format!("webhook {name}")));
            }
            let headers = vec![("content-type".to_string(), content_type.to_string())];
            let answer = lifecycle::run_webhook(platform, session, &active, name, "POST", headers, body.to_vec())?;
            Ok((answer.status, answer.content_type, answer.body))
        })
    }

    /// Runs one of the plugin's schedules now, as the kernel's scheduler would.
    pub fn schedule(&self, name: &str) -> Result<(), Error> {
        let plugin = self.plugin.clone();
        self.work(|platform, session, _| {
            let company = session.company_id.clone();
            let active = Arc::new(platform.plugins.active(session.conn()?, &company, &plugin)?);
            if !active.loaded.manifest.schedules.iter().any(|s| s.name == name) {
                return Err(PluginError::NotFound(format!("schedule {name}")));
            }
            platform.plugins.invoke(platform, session, &active, None, Call::Schedule { name }).map(|_| ())
        })
    }

    /// Delivers every after-commit event that is due to its subscribers, as the kernel's
    /// dispatcher would, until nothing is left to deliver now. Returns how many deliveries ran.
    pub fn deliver(&self) -> Result<usize, Error> {
        let mut total = 0;
        loop {
            let n = erp_kernel::bus::dispatch::run_once(&self.platform).map_err(from_plugin_error)?;
            if n == 0 {
                return Ok(total);
            }
            total += n;
        }
    }

    /// Hands an event straight to one of the plugin's handlers after commit, as the
    /// dispatcher delivers it; `event_id` is kept in the idempotency key, so calling this
    /// twice with the same id is a redelivery of the same event.
    pub fn handle(&self, handler: &str, event_id: &str, name: &str, payload: Value) -> Result<(), Error> {
        let plugin = self.plugin.clone();
        self.work(|platform, session, _| {
            let company = session.company_id.clone();
            let active = Arc::new(platform.plugins.active(session.conn()?, &company, &plugin)?);
            let event = DeliveredEvent {
                id: event_id.to_string(),
                name: name.to_string(),
                payload: payload.to_string(),
                actor: None,
                occurred_at: erp_kernel::clock::to_rfc3339(erp_kernel::clock::now()),
                idempotency_key: erp_kernel::bus::emit::idempotency_key(event_id, &plugin, handler),
            };
            let call = Call::Event { handler, event: &event, sync: false };
            platform.plugins.invoke(platform, session, &active, None, call).map(|_| ())
        })
    }

    /// Names and payloads of the events published in the test company so far, oldest first.
    pub fn events(&self) -> Result<Vec<(String, Value)>, Error> {
        let company = self.company_id.clone();
        let mut out = Vec::new();
        let mut cursor = None;
        loop {
            let page = self
                .platform
                .db
                .read_blocking(|conn| {
                    erp_kernel::bus::log::list(
                        conn,
                        &company,
                        &erp_kernel::bus::log::LogFilter::default(),
                        &erp_kernel::paging::PageRequest::new(Some(500), cursor.as_deref())
                            .map_err(|e| StoreError::Task(e.to_string()))?,
                    )
                })
                .map_err(kernel_error)?;
            out.extend(page.items.into_iter().map(|e| (e.name, e.payload)));
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        out.reverse();
        Ok(out)
    }

    fn collection(&self, session: &mut Session, name: &str) -> Result<Collection, PluginError> {
        let (plugin, coll) = name.split_once('.').unwrap_or((&self.plugin, name));
        let conn = session.conn()?;
        let active = self.platform.plugins.active(conn, &self.company_id, plugin)?;
        Collection::new(Arc::clone(&active.loaded.manifest), coll)
            .ok_or_else(|| PluginError::NotFound(format!("collection {name}")))
    }

    /// Creates a record as the test company's owner (running the plugin's validation hook).
    pub fn create(&self, collection: &str, data: Value) -> Result<Value, Error> {
        self.work(|platform, session, scope| {
            let coll = self.collection(session, collection)?;
            let r = records::create(session, platform, Caller::User(scope), &coll, data)?;
            Ok(record_json(r))
        })
    }

    /// Changes a record as the test company's owner (running the plugin's validation hook).
    pub fn update(&self, collection: &str, id: &str, patch: Value) -> Result<Value, Error> {
        self.work(|platform, session, scope| {
            let coll = self.collection(session, collection)?;
            let r = records::update(session, platform, Caller::User(scope), &coll, id, patch, None)?;
            Ok(record_json(r))
        })
    }

    /// Reads a record.
    pub fn get(&self, collection: &str, id: &str) -> Result<Value, Error> {
        self.work(|_, session, scope| {
            let coll = self.collection(session, collection)?;
            let conn = session.conn()?;
            Ok(record_json(records::get(conn, &self.company_id, Caller::User(scope), &coll, id)?))
        })
    }

    /// Runs a query (the JSON form of [`crate::store::Query`]) and returns the records.
    pub fn query(&self, collection: &str, query: Value) -> Result<Vec<Value>, Error> {
        let req: records::query::QueryRequest =
            serde_json::from_value(query).map_err(|e| Error::invalid("query", e.to_string()))?;
        self.work(|_, session, scope| {
            let coll = self.collection(session, collection)?;
            let conn = session.conn()?;
            let page = records::find(conn, &self.company_id, Caller::User(scope), &coll, &req)?;
            Ok(page.records.into_iter().map(record_json).collect())
        })
    }
}

fn record_json(r: records::StoredRecord) -> Value {
    serde_json::json!({ "id": r.id, "version": r.version, "data": r.data })
}

/// Outbound requests may reach the loopback, where a test's stand-in servers listen; every
/// other private address stays closed, as on a server.
fn loopback_outbound() -> erp_kernel::outbound::OutboundSettings {
    use erp_kernel::outbound::address::Network;
    let allow_private = ["127.0.0.0/8", "::1"].iter().filter_map(|n| Network::parse(n).ok()).collect();
    erp_kernel::outbound::OutboundSettings { allow_private, ..Default::default() }
}
