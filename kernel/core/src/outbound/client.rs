//! The HTTP client behind outbound requests: a request checked and built, host names resolved
//! to public addresses only (checked again at connect time, so a name cannot be pointed at a
//! private address between the check and the connection), redirects followed by hand with
//! each hop checked, and the answer read up to its size limit.

use std::error::Error as StdError;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use erp_manifest::hosts::HostPattern;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode, Url};

use super::address::{Network, reachable};
use super::{MAX_REDIRECTS, MAX_REQUEST_BYTES, OutboundError, Request, Response, Route};

/// Headers the kernel sets, or that would let a caller smuggle a second request.
const KERNEL_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "keep-alive",
    "proxy-authorization",
    "proxy-connection",
    "idempotency-key",
];

/// A name that resolves only to addresses the platform may not reach.
#[derive(Debug)]
struct NotPublic(String);

impl std::fmt::Display for NotPublic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} resolves to a private, loopback or link-local address", self.0)
    }
}

impl StdError for NotPublic {}

/// Resolves names, keeping only the addresses requests may reach.
struct CheckedResolver {
    allow_private: Vec<Network>,
}

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow = self.allow_private.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let usable: Vec<SocketAddr> = found.into_iter().filter(|a| reachable(a.ip(), &allow)).collect();
            if usable.is_empty() {
                return Err(Box::new(NotPublic(host)) as Box<dyn StdError + Send + Sync>);
            }
            Ok(Box::new(usable.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The node's client: no proxy from the environment, no automatic redirects, checked names.
pub(super) fn build(allow_private: Vec<Network>, roots: &super::roots::ExtraRoots) -> reqwest::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder();
    for der in &roots.0 {
        builder = builder.add_root_certificate(reqwest::Certificate::from_der(der)?);
    }
    builder
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(Arc::new(CheckedResolver { allow_private }))
        .connect_timeout(Duration::from_secs(5))
        .pool_idle_timeout(Duration::from_secs(30))
        .user_agent(concat!("erp-platform/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// A checked request, ready to send.
#[derive(Debug)]
pub(super) struct Prepared {
    pub url: Url,
    method: Method,
    headers: HeaderMap,
    body: Option<Vec<u8>>,
}

/// `scheme://host:port` of a URL, for the log (never its path or query).
pub(super) fn origin_of(url: &str) -> String {
    match Url::parse(url) {
        Ok(u) => origin(&u),
        Err(_) => "(not a URL)".to_string(),
    }
}

fn origin(u: &Url) -> String {
    format!("{}://{}:{}", u.scheme(), u.host_str().unwrap_or(""), u.port_or_known_default().unwrap_or(0))
}

/// Checks the method, URL, headers and body of a request.
pub(super) fn prepare(req: Request) -> Result<Prepared, OutboundError> {
    let invalid = |m: String| Err(OutboundError::Invalid(m));
    let method = match req.method.to_ascii_uppercase().as_str() {
        "GET" => Method::GET,
        "HEAD" => Method::HEAD,
        "POST" => Method::POST,
        "PUT" => Method::PUT,
        "PATCH" => Method::PATCH,
        "DELETE" => Method::DELETE,
        other => return invalid(format!("method {other:?} is not one of GET, HEAD, POST, PUT, PATCH, DELETE")),
    };
    let url = match Url::parse(&req.url) {
        Ok(u) => u,
        Err(e) => {
            return invalid(format!("{:?} is not an absolute URL: {e}", req.url.chars().take(200).collect::<String>()));
        }
    };
    if !url.username().is_empty() || url.password().is_some() {
        return invalid("a URL may not carry a user name or password; send an Authorization header".into());
    }
    let mut headers = HeaderMap::new();
    for (name, value) in req.headers {
        let lower = name.to_ascii_lowercase();
        if KERNEL_HEADERS.contains(&lower.as_str()) {
            return invalid(format!("header {lower} is set by the kernel"));
        }
        let Ok(n) = HeaderName::from_bytes(lower.as_bytes()) else {
            return invalid(format!("{name:?} is not a valid header name"));
        };
        let Ok(v) = HeaderValue::from_str(&value) else {
            return invalid(format!("the value of header {lower} is not valid"));
        };
        headers.append(n, v);
    }
    if let Some(key) = req.idempotency_key {
        let Ok(v) =
            HeaderValue::from_str(&key).map_err(|_| ()).and_then(|v| if key.len() <= 255 { Ok(v) } else { Err(()) })
        else {
            return invalid("the idempotency key must be printable text of at most 255 characters".into());
        };
        headers.insert(HeaderName::from_static("idempotency-key"), v);
    }
    if req.body.as_ref().is_some_and(|b| b.len() > MAX_REQUEST_BYTES) {
        return Err(OutboundError::Limit(format!("the body is larger than {} MiB", MAX_REQUEST_BYTES / (1024 * 1024))));
    }
    Ok(Prepared { url, method, headers, body: req.body })
}

/// Refuses a URL outside the granted hosts, or whose host is an address that is not public.
pub(super) fn check(
    url: &Url,
    granted: &[HostPattern],
    allow_private: &[Network],
    source: &str,
) -> Result<(), OutboundError> {
    let scheme = url.scheme();
    if scheme != "http" && scheme != "https" {
        return Err(OutboundError::Denied(format!("{scheme}: URLs are not allowed; use http or https")));
    }
    let Some(host) = url.host_str().map(str::to_ascii_lowercase) else {
        return Err(OutboundError::Invalid("the URL names no host".into()));
    };
    let port = url.port_or_known_default().unwrap_or(0);
    if !granted.iter().any(|p| p.matches(scheme, &host, port)) {
        return Err(OutboundError::Denied(format!(
            "{scheme}://{host}:{port} is not a host granted to {source} in this company"
        )));
    }
    let literal = host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>();
    if let Ok(ip) = literal
        && !reachable(ip, allow_private)
    {
        return Err(OutboundError::Denied(format!("{host} is a private, loopback or link-local address")));
    }
    Ok(())
}

/// Where a request for `url` (of origin `at`) is really sent: the operator's route for its
/// origin, if there is one, with the path and query kept.
fn routed(url: &Url, at: &str, routes: &[Route]) -> Url {
    let Some(route) = routes.iter().find(|r| r.from == at) else { return url.clone() };
    let mut wire = route.to.clone();
    wire.set_path(url.path());
    wire.set_query(url.query());
    wire
}

/// What went wrong with a send, in the caller's terms.
fn classify(e: &reqwest::Error) -> OutboundError {
    let mut source: Option<&(dyn StdError + 'static)> = e.source();
    while let Some(s) = source {
        if let Some(np) = s.downcast_ref::<NotPublic>() {
            return OutboundError::Denied(np.to_string());
        }
        source = s.source();
    }
    if e.is_timeout() {
        return OutboundError::Limit("the remote side did not answer in time".into());
    }
    let mut text = e.to_string();
    let mut source: Option<&(dyn StdError + 'static)> = e.source();
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    OutboundError::Failed(text)
}

type Sent = Result<(String, Response), (Option<String>, OutboundError)>;

/// Sends a prepared request, following redirects to granted hosts; answers the last hop's
/// origin with the answer.
pub(super) async fn run(
    client: &reqwest::Client,
    mut p: Prepared,
    granted: &[HostPattern],
    allow_private: &[Network],
    routes: &[Route],
    source: &str,
    max_bytes: usize,
) -> Sent {
    let mut hops = 0;
    loop {
        let at = origin(&p.url);
        if hops > 0
            && let Err(e) = check(&p.url, granted, allow_private, source)
        {
            return Err((Some(at), e));
        }
        let wire = routed(&p.url, &at, routes);
        // A route's target named by address is checked here; one named by host, by the resolver.
        if let Some(ip) =
            wire.host_str().and_then(|h| h.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().ok())
            && !reachable(ip, allow_private)
        {
            return Err((
                Some(at),
                OutboundError::Denied(format!("{ip} is a private, loopback or link-local address")),
            ));
        }
        let mut builder = client.request(p.method.clone(), wire).headers(p.headers.clone());
        if let Some(body) = &p.body {
            builder = builder.body(body.clone());
        }
        let mut resp = match builder.send().await {
            Ok(r) => r,
            Err(e) => return Err((Some(at), classify(&e))),
        };
        let status = resp.status();
        if status.is_redirection()
            && let Some(location) = resp.headers().get(reqwest::header::LOCATION).and_then(|l| l.to_str().ok())
        {
            hops += 1;
            if hops > MAX_REDIRECTS {
                return Err((Some(at), OutboundError::Failed(format!("more than {MAX_REDIRECTS} redirects"))));
            }
            let Ok(next) = p.url.join(location) else {
                return Err((Some(at), OutboundError::Failed("a redirect to something that is not a URL".into())));
            };
            // 303, and 301/302 after a POST, turn into a GET without a body, as browsers do.
            if status == StatusCode::SEE_OTHER
                || (matches!(status, StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND) && p.method == Method::POST)
            {
                p.method = if p.method == Method::HEAD { Method::HEAD } else { Method::GET };
                p.body = None;
                p.headers.remove(reqwest::header::CONTENT_TYPE);
            }
            // Credentials go only to the host they were given for.
            if origin(&next) != at {
                p.headers.remove(reqwest::header::AUTHORIZATION);
                p.headers.remove(reqwest::header::COOKIE);
            }
            p.url = next;
            continue;
        }
        let headers: Vec<(String, String)> = resp
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        if resp.content_length().is_some_and(|n| n > max_bytes as u64) {
            return Err((Some(at), OutboundError::Limit(format!("the answer is larger than {max_bytes} bytes"))));
        }
        let mut body = Vec::new();
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > max_bytes {
                        return Err((
                            Some(at),
                            OutboundError::Limit(format!("the answer is larger than {max_bytes} bytes")),
                        ));
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => return Err((Some(at), classify(&e))),
            }
        }
        return Ok((at, Response { status: status.as_u16(), headers, body }));
    }
}
