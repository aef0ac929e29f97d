//! Serving the application to the network: an HTTP/1.1 accept loop with connection limits
//! (header, idle and body timeouts, a minimum body rate, a cap on open connections under the
//! open-file limit) and graceful shutdown.

mod files;
mod paced_body;
mod proxies;
mod registry;
mod service;
mod settings;
mod timed_io;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub use files::{file_limit, raise_file_limit};
pub use proxies::TrustedProxies;
pub use settings::{DEFAULT_MAX_CONNECTIONS, HttpSettings, RESERVED_FILES};

use paced_body::Pace;
use registry::{Registry, Slot, Timeouts};
use timed_io::TimedIo;

/// Pause after an accept error that is not about one connection (such as running out of
/// files), so that the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(250);

/// Serves `router` on `listener` with the default [`HttpSettings`] until `shutdown` resolves,
/// then lets open requests finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, router, HttpSettings::default(), shutdown).await
}

/// Serves `router` on `listener` under `settings` until `shutdown` resolves, then closes
/// waiting connections and lets open requests finish.
pub async fn serve_with(
    listener: TcpListener,
    router: Router,
    settings: HttpSettings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let files = file_limit();
    let cap = settings.connection_cap(files);
    if cap < settings.max_connections {
        tracing::warn!(cap, files, asked = settings.max_connections, "the open-file limit allows fewer connections");
    }
    let registry = Registry::new(cap);
    let settings = Arc::new(settings);
    let (stop, stopping) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let slot = tokio::select! {
            slot = registry.admit() => slot,
            () = &mut shutdown => break,
        };
        let Some(slot) = slot else { break };
        tokio::spawn(connection(stream, peer, slot, router.clone(), settings.clone(), stopping.clone()));
    }
    drop(listener);
    let _ = stop.send(true);
    registry.drained().await;
    Ok(())
}

/// Errors about one connection are that connection's problem; others (out of files) pause.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(e.kind(), ConnectionRefused | ConnectionAborted | ConnectionReset) {
        return;
    }
    tracing::error!(error = %e, "cannot accept connections");
    tokio::time::sleep(ACCEPT_BACKOFF).await;
}

/// Serves one connection until it ends, is evicted while waiting, or the server stops.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    slot: Slot,
    router: Router,
    settings: Arc<HttpSettings>,
    mut stopping: watch::Receiver<bool>,
) {
    let conn = slot.conn().clone();
    let timeouts = Timeouts { header: settings.header_timeout, idle: settings.idle_timeout };
    let io = TokioIo::new(TimedIo::new(stream, conn.clone(), timeouts));
    let pace = Pace::new(&settings);
    let serving = conn.clone();
    let proxies = settings.clone();
    let service = hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
        let client = proxies.trusted_proxies.client(peer, request.headers());
        service::answer(router.clone(), service::Serving::start(serving.clone()), pace, client, request)
    });
    let mut http = http1::Builder::new();
    // The socket keeps the header and idle clocks (`TimedIo`), not hyper.
    http.keep_alive(true).header_read_timeout(None);
    let served = http.serve_connection(io, service);
    tokio::pin!(served);
    let mut closing = false;
    loop {
        tokio::select! {
            result = served.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(%peer, error = %e, "connection ended");
                }
                break;
            }
            () = conn.evicted(), if !closing => {
                if !conn.is_serving() {
                    tracing::debug!(%peer, "closed a waiting connection to make room for a new one");
                    break;
                }
                closing = true;
                served.as_mut().graceful_shutdown();
            }
            _ = stopping.wait_for(|stop| *stop), if !closing => {
                closing = true;
                served.as_mut().graceful_shutdown();
            }
        }
    }
    drop(slot);
}
