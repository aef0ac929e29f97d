//! Requests to hosts outside the platform: plugins' calls to messengers, payment and delivery
//! services (WIT 0.2.1 `http`), and the kernel's own outgoing webhooks.
//!
//! Every request is checked before a socket opens: the URL's scheme, host and port must fall
//! under a pattern granted to the caller, and every address its host resolves to must be public
//! (unless the operator allows private networks). Redirects are followed by hand, each hop
//! checked the same way. A request has a time limit, a response size limit and a per-company
//! rate; each one is counted in the metrics and written to the outbound log ([`log`]).

pub mod address;
mod client;
pub mod log;
pub mod roots;

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use erp_manifest::hosts::HostPattern;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::metrics::Metrics;
use crate::storage::Db;

/// The operator's settings for outbound requests.
#[derive(Debug, Clone)]
pub struct OutboundSettings {
    /// Private, loopback or link-local networks requests may reach all the same (none by
    /// default: only public addresses).
    pub allow_private: Vec<address::Network>,
    /// Longest a request may take, redirects included.
    pub timeout: Duration,
    /// Largest response body.
    pub max_response_bytes: usize,
    /// Requests one company may make per minute.
    pub per_minute: u32,
    /// Origins whose requests the operator sends elsewhere (a test rig's stand-in, an egress
    /// relay); grants and the log still name the origin the caller asked for.
    pub routes: Vec<Route>,
    /// Certificate authorities trusted besides the public ones (mail servers, plugins'
    /// requests).
    pub extra_roots: roots::ExtraRoots,
}

/// `https://api.telegram.org=http://127.0.0.1:8081`: requests to the first origin are sent to
/// the second, path and query kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// `scheme://host:port` asked for.
    pub from: String,
    /// Where such requests go instead.
    pub to: reqwest::Url,
}

impl Route {
    /// Parses `from=to`, both `http` or `https` origins without a path.
    pub fn parse(text: &str) -> Result<Route, String> {
        let (from, to) = text.split_once('=').ok_or_else(|| format!("{text:?} is not origin=origin"))?;
        let origin = |s: &str| {
            reqwest::Url::parse(s.trim())
                .ok()
                .filter(|u| {
                    matches!(u.scheme(), "http" | "https")
                        && u.host_str().is_some()
                        && u.path() == "/"
                        && u.query().is_none()
                        && u.username().is_empty()
                })
                .ok_or_else(|| format!("{s:?} is not an http or https origin such as https://api.example.com"))
        };
        let from = origin(from)?;
        Ok(Route { from: client::origin_of(from.as_str()), to: origin(to)? })
    }
}

impl Default for OutboundSettings {
    fn default() -> Self {
        OutboundSettings {
            allow_private: Vec::new(),
            timeout: Duration::from_secs(10),
            max_response_bytes: 4 * 1024 * 1024,
            per_minute: 600,
            routes: Vec::new(),
            extra_roots: roots::ExtraRoots::default(),
        }
    }
}

/// Largest request body.
pub const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;
/// Most redirects followed.
pub const MAX_REDIRECTS: usize = 5;

/// Why a request was not answered.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum OutboundError {
    /// Not granted, or not a public address.
    #[error("{0}")]
    Denied(String),
    /// A malformed request.
    #[error("{0}")]
    Invalid(String),
    /// The company's rate, the time limit or the response size limit.
    #[error("{0}")]
    Limit(String),
    /// The remote side could not be reached or broke off.
    #[error("{0}")]
    Failed(String),
}

impl OutboundError {
    /// The outcome as the log and the metrics name it.
    pub fn outcome(&self) -> &'static str {
        match self {
            OutboundError::Denied(_) => "denied",
            OutboundError::Invalid(_) => "invalid",
            OutboundError::Limit(_) => "limit",
            OutboundError::Failed(_) => "failed",
        }
    }
}

/// A request as a caller hands it over.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// `GET`, `HEAD`, `POST`, `PUT`, `PATCH` or `DELETE`.
    pub method: String,
    /// Absolute `http` or `https` URL.
    pub url: String,
    /// Headers (the kernel sets `host`, `content-length` and the like itself).
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Option<Vec<u8>>,
    /// Sent as `Idempotency-Key`.
    pub idempotency_key: Option<String>,
}

/// The remote side's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// Headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

/// Who makes a request, and where they may go.
#[derive(Debug, Clone)]
pub struct Caller<'a> {
    /// The company it is made for.
    pub company_id: &'a str,
    /// The plugin, or `webhooks`.
    pub source: &'a str,
    /// Hosts granted to the caller in that company.
    pub granted: Vec<HostPattern>,
}

/// Outbound requests of this node. Cheap to clone.
#[derive(Clone)]
pub struct Outbound {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Outbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbound").field("settings", &self.inner.settings).finish()
    }
}

struct Inner {
    settings: OutboundSettings,
    limiter: DefaultKeyedRateLimiter<String>,
    runtime: OnceLock<Result<Runtime, String>>,
    client: OnceLock<Result<reqwest::Client, String>>,
    logged: AtomicU64,
}

/// The runtime the requests run on, started at the first request. Shut down without waiting,
/// so that a platform may be dropped anywhere, an async test included.
struct Runtime(Option<tokio::runtime::Runtime>);

impl Drop for Runtime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

impl Outbound {
    /// Outbound requests with `settings`.
    pub fn new(settings: OutboundSettings) -> Outbound {
        let per_minute = NonZeroU32::new(settings.per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
        Outbound {
            inner: Arc::new(Inner {
                limiter: RateLimiter::keyed(Quota::per_minute(per_minute)),
                settings,
                runtime: OnceLock::new(),
                client: OnceLock::new(),
                logged: AtomicU64::new(0),
            }),
        }
    }

    /// The settings in force.
    pub fn settings(&self) -> &OutboundSettings {
        &self.inner.settings
    }

    fn runtime(&self) -> Result<&tokio::runtime::Runtime, OutboundError> {
        let rt = self.inner.runtime.get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("erp-outbound")
                .enable_all()
                .build()
                .map(|rt| Runtime(Some(rt)))
                .map_err(|e| e.to_string())
        });
        match rt {
            Ok(Runtime(Some(rt))) => Ok(rt),
            Ok(Runtime(None)) => Err(OutboundError::Failed("outbound requests are shut down".into())),
            Err(e) => Err(OutboundError::Failed(format!("outbound requests cannot start: {e}"))),
        }
    }

    fn client(&self) -> Result<reqwest::Client, OutboundError> {
        let allow = self.inner.settings.allow_private.clone();
        let roots = &self.inner.settings.extra_roots;
        self.inner
            .client
            .get_or_init(|| client::build(allow, roots).map_err(|e| e.to_string()))
            .clone()
            .map_err(|e| OutboundError::Failed(format!("outbound requests cannot start: {e}")))
    }

    /// Takes one request from the company's rate; `Err` past it. Every attempt counts, refused
    /// ones included, so that a plugin trying host after host cannot flood the log.
    pub fn admit(&self, metrics: &Metrics, caller: &Caller<'_>) -> Result<(), OutboundError> {
        if self.inner.limiter.check_key(&caller.company_id.to_string()).is_ok() {
            return Ok(());
        }
        // Counted, not logged one by one: the flood is what the rate stops.
        metrics.outbound(caller.source, "limit", 0.0);
        Err(OutboundError::Limit(format!(
            "more than {} outbound requests a minute in this company; try again shortly",
            self.inner.settings.per_minute
        )))
    }

    /// Sends `req` for `caller`, waiting at most `time_left` (and the configured limit), and
    /// records it in the log and the metrics whatever the outcome (past the company's rate,
    /// only in the metrics). Blocks the calling thread: never call it from async code or inside
    /// a transaction that has written.
    pub fn send(
        &self,
        db: &Db,
        metrics: &Metrics,
        caller: &Caller<'_>,
        req: Request,
        time_left: Duration,
    ) -> Result<Response, OutboundError> {
        self.admit(metrics, caller)?;
        let started = Instant::now();
        let method = req.method.to_ascii_uppercase();
        let mut host = client::origin_of(&req.url);
        let result = self.send_checked(caller, req, time_left.min(self.inner.settings.timeout), &mut host);
        let elapsed = started.elapsed();
        let (outcome, status, error) = match &result {
            Ok(r) => ("ok", Some(r.status), None),
            Err(e) => (e.outcome(), None, Some(e.to_string())),
        };
        metrics.outbound(caller.source, outcome, elapsed.as_secs_f64());
        if let Err(e) = &result {
            tracing::info!(company = caller.company_id, source = caller.source, host, error = %e, "outbound request refused or failed");
        }
        self.record(
            db,
            &log::Entry {
                company_id: caller.company_id,
                source: caller.source,
                method: &method,
                host: &host,
                status,
                outcome,
                error: error.as_deref(),
                duration_ms: u32::try_from(elapsed.as_millis()).unwrap_or(u32::MAX),
            },
        );
        result
    }

    /// Writes `entry` to the outbound log on a write of its own (pruning it now and then); a
    /// failure is only traced, the request having happened all the same.
    pub fn record(&self, db: &Db, entry: &log::Entry<'_>) {
        let prune = self.inner.logged.fetch_add(1, Ordering::Relaxed) % 1000 == 999;
        let written = db.write_blocking(|conn| {
            log::record(conn, entry)?;
            if prune {
                log::prune(conn)?;
            }
            Ok::<_, crate::storage::StoreError>(())
        });
        if let Err(e) = written {
            tracing::warn!(error = %e, "an outbound request could not be logged");
        }
    }

    /// The addresses `host` resolves to that the platform may reach (public ones, and those in
    /// networks the operator allows); `Denied` when there are none. For connections the kernel
    /// opens itself (SMTP, IMAP): connect to these addresses, not to the name, so the name
    /// cannot be pointed elsewhere between the check and the connection.
    pub fn resolve(&self, host: &str, port: u16) -> Result<Vec<std::net::SocketAddr>, OutboundError> {
        use std::net::ToSocketAddrs;
        let found: Vec<std::net::SocketAddr> = (host, port)
            .to_socket_addrs()
            .map_err(|e| OutboundError::Failed(format!("{host} cannot be resolved: {e}")))?
            .collect();
        let usable: Vec<_> =
            found.into_iter().filter(|a| address::reachable(a.ip(), &self.inner.settings.allow_private)).collect();
        if usable.is_empty() {
            return Err(OutboundError::Denied(format!("{host} resolves to a private, loopback or link-local address")));
        }
        Ok(usable)
    }

    /// Runs `work` on the outbound runtime and waits for it at most `time`. Blocks the calling
    /// thread: never call it from async code or inside a transaction that has written.
    pub fn block_on<T: Send + 'static>(
        &self,
        time: Duration,
        work: impl std::future::Future<Output = Result<T, OutboundError>> + Send + 'static,
    ) -> Result<T, OutboundError> {
        let rt = self.runtime()?;
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        rt.spawn(async move {
            let out = tokio::time::timeout(time, work)
                .await
                .unwrap_or_else(|_| Err(OutboundError::Limit(format!("no answer within {} ms", time.as_millis()))));
            let _ = tx.send(out);
        });
        rx.recv().map_err(|_| OutboundError::Failed("outbound requests are shut down".into()))?
    }

    /// Records a request refused before it was sent by whoever holds `conn`'s transaction (a
    /// plugin call that has written: a second writer would wait for it), and answers `error`.
    pub fn refuse(
        &self,
        conn: &mut crate::storage::DbConn,
        metrics: &Metrics,
        caller: &Caller<'_>,
        req: &Request,
        error: OutboundError,
    ) -> OutboundError {
        if let Err(limit) = self.admit(metrics, caller) {
            return limit;
        }
        metrics.outbound(caller.source, error.outcome(), 0.0);
        let message = error.to_string();
        let entry = log::Entry {
            company_id: caller.company_id,
            source: caller.source,
            method: &req.method.to_ascii_uppercase(),
            host: &client::origin_of(&req.url),
            status: None,
            outcome: error.outcome(),
            error: Some(&message),
            duration_ms: 0,
        };
        if let Err(e) = log::record(conn, &entry) {
            tracing::warn!(error = %e, "an outbound request could not be logged");
        }
        error
    }

    fn send_checked(
        &self,
        caller: &Caller<'_>,
        req: Request,
        time: Duration,
        host: &mut String,
    ) -> Result<Response, OutboundError> {
        let prepared = client::prepare(req)?;
        client::check(&prepared.url, &caller.granted, &self.inner.settings.allow_private, caller.source)?;
        if time.is_zero() {
            return Err(OutboundError::Limit("no time is left for the request".into()));
        }
        let client = self.client()?;
        let rt = self.runtime()?;
        let granted = caller.granted.clone();
        let allow = self.inner.settings.allow_private.clone();
        let routes = self.inner.settings.routes.clone();
        let source = caller.source.to_string();
        let max = self.inner.settings.max_response_bytes;
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        rt.spawn(async move {
            let deadline = tokio::time::Instant::now() + time;
            let out = tokio::time::timeout_at(
                deadline,
                client::run(&client, prepared, &granted, &allow, &routes, &source, max),
            )
            .await
            .unwrap_or_else(|_| Err((None, OutboundError::Limit(format!("no answer within {} ms", time.as_millis())))));
            let _ = tx.send(out);
        });
        match rx.recv() {
            Ok(Ok((last, response))) => {
                *host = last;
                Ok(response)
            }
            Ok(Err((last, e))) => {
                if let Some(last) = last {
                    *host = last;
                }
                Err(e)
            }
            Err(_) => Err(OutboundError::Failed("the request was dropped".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_name_two_origins() {
        let r = Route::parse("https://api.telegram.org=http://127.0.0.1:8081").expect("route");
        assert_eq!((r.from.as_str(), r.to.as_str()), ("https://api.telegram.org:443", "http://127.0.0.1:8081/"));
        for bad in ["https://api.telegram.org", "ftp://a=http://b", "https://a/path=http://b", "https://a=http://b/x"] {
            assert!(Route::parse(bad).is_err(), "{bad}");
        }
    }
    use crate::storage::schema::{companies, outbound_log};
    use diesel::prelude::*;

    #[test]
    fn a_company_past_its_rate_is_refused_and_every_request_is_logged() {
        let dir = tempfile::tempdir().expect("dir");
        let db = Db::open(&format!("sqlite://{}", dir.path().join("t.db").display())).expect("db");
        db.write_blocking(|conn| {
            diesel::insert_into(companies::table)
                .values((
                    companies::id.eq("co"),
                    companies::name.eq("Co"),
                    companies::created_at.eq(0_i64),
                    companies::profile.eq("{}"),
                ))
                .execute(conn)
                .map_err(crate::storage::StoreError::from)
        })
        .expect("company");
        let loopback = address::Network::parse("127.0.0.1").expect("network");
        let out =
            Outbound::new(OutboundSettings { per_minute: 3, allow_private: vec![loopback], ..Default::default() });
        let metrics = Metrics::new();
        // A port nothing listens on: the requests fail, but they count against the rate.
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
        let granted = vec![HostPattern::parse("http://127.0.0.1:*").expect("pattern")];
        let caller = Caller { company_id: "co", source: "courier", granted };
        let request =
            || Request { method: "GET".into(), url: format!("http://127.0.0.1:{port}/x"), ..Default::default() };
        let limit = Duration::from_secs(5);
        for _ in 0..2 {
            let e = out.send(&db, &metrics, &caller, request(), limit).expect_err("nothing listens");
            assert_eq!(e.outcome(), "failed", "{e}");
        }
        // A refused request counts too: trying host after host cannot flood the log.
        let elsewhere = || Request { url: "https://example.com/".into(), ..request() };
        assert_eq!(out.send(&db, &metrics, &caller, elsewhere(), limit).expect_err("denied").outcome(), "denied");
        for _ in 0..50 {
            let e = out.send(&db, &metrics, &caller, elsewhere(), limit).expect_err("over the rate");
            assert!(matches!(e, OutboundError::Limit(_)), "{e}");
        }
        // Another company has its own rate.
        let other = Caller { company_id: "other", ..caller.clone() };
        assert_eq!(out.send(&db, &metrics, &other, request(), limit).expect_err("fails").outcome(), "failed");
        let outcomes: Vec<String> = db
            .read_blocking(|conn| {
                outbound_log::table
                    .filter(outbound_log::company_id.eq("co"))
                    .order(outbound_log::id.asc())
                    .select(outbound_log::outcome)
                    .load::<String>(conn)
                    .map_err(crate::storage::StoreError::from)
            })
            .expect("log");
        assert_eq!(outcomes, vec!["failed", "failed", "denied"], "past the rate, nothing more is written");
    }
}
