//! `erp serve`: open the database, start the HTTP server, stop gracefully on Ctrl-C/SIGTERM.

use anyhow::Context;

use super::{ServeArgs, demo};
use crate::bundled;
use erp_api::AppState;
use erp_kernel::Platform;

/// Runs the server until interrupted.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    runtime.block_on(serve(args))
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    // Every connection is an open file: raise the soft limit before accepting any.
    let files = erp_api::server::raise_file_limit();
    let url = args.db.clone();
    let fair = args.fair_use();
    let platform = tokio::task::spawn_blocking(move || {
        let db = erp_kernel::storage::Db::open(&url)?;
        Platform::with_settings(db, erp_kernel::bus::BusConfig::default(), fair)
    })
    .await?
    .with_context(|| format!("opening database {}", redact(&args.db)))?;
    let setup = platform.clone();
    let installed = tokio::task::spawn_blocking(move || bundled::install_all(&setup))
        .await?
        .context("installing the bundled plugins")?;
    for line in installed {
        tracing::info!(plugin = %line, "installed bundled plugin");
    }
    let demo = if args.demo {
        let platform = platform.clone();
        Some(tokio::task::spawn_blocking(move || demo::ensure(&platform)).await??)
    } else {
        None
    };
    let workers = erp_kernel::bus::start(&platform).context("starting the event dispatcher and scheduler")?;
    let listener =
        tokio::net::TcpListener::bind(&args.listen).await.with_context(|| format!("listening on {}", args.listen))?;
    let addr = listener.local_addr()?;
    let router = erp_web::app(AppState::with_throttle(platform, args.throttle()));
    tracing::info!(%addr, db = %redact(&args.db), "serving");
    println!("ERP platform listening on http://{addr}");
    println!("Web UI: open http://{addr}/ in a browser");
    println!("API description: http://{addr}/api/v1/openapi.json");
    if let Some(demo) = demo {
        println!("Demo company {:?} (id {})", demo::COMPANY, demo.company_id);
        println!("Log in as {} with password {}", demo::EMAIL, demo::PASSWORD);
    }
    let http = args.http();
    tracing::info!(
        files = ?files,
        connections = http.connection_cap(files),
        header_timeout = ?http.header_timeout,
        idle_timeout = ?http.idle_timeout,
        "connection limits"
    );
    erp_api::serve_with(listener, router, http, shutdown_signal()).await?;
    tokio::task::spawn_blocking(move || workers.stop()).await?;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down; finishing open requests");
}

/// The URL without a password, for logs.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}://{}:***@{}", &url[..scheme], user, &url[at + 1..])
        }
        _ => url.to_string(),
    }
}
