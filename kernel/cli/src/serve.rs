//! `erp serve`: open the database, listen at once, install the bundled plugins (and the demo)
//! beside the running server, stop gracefully on Ctrl-C/SIGTERM.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::Context;

use super::{ServeArgs, demo, demo_mail};
use crate::bundled;
use erp_api::AppState;
use erp_api::readiness::Readiness;
use erp_kernel::Platform;
use erp_kernel::storage::backup;

/// Every ten minutes, removes files nobody uses any more (see `Files::sweep`).
fn sweep_files_in_background(platform: &Platform) {
    let (files, db) = (platform.files.clone(), platform.db.clone());
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(600));
        tick.tick().await;
        loop {
            tick.tick().await;
            match files.sweep(&db).await {
                Ok(swept) => tracing::info!(?swept, "swept unused files"),
                Err(e) => tracing::warn!(error = %e, "could not sweep unused files"),
            }
        }
    });
}

/// The mail worker: every few seconds sends the queued mail that is due (`mail::outbox`), and
/// every `poll_secs` seconds (0: never) checks the companies' mailboxes that are due
/// (`mail::poll`).
fn mail_in_background(platform: &Platform, poll_secs: u64) {
    let platform = platform.clone();
    let every = std::time::Duration::from_secs(poll_secs.max(1));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
        let mut last_poll = Instant::now();
        loop {
            tick.tick().await;
            let p = platform.clone();
            let poll = poll_secs > 0 && last_poll.elapsed() >= every;
            if poll {
                last_poll = Instant::now();
            }
            let done = tokio::task::spawn_blocking(move || {
                erp_kernel::mail::outbox::deliver_due(&p, 100)?;
                if poll {
                    erp_kernel::mail::poll::poll_due(&p, every)?;
                }
                Ok::<_, erp_kernel::storage::StoreError>(())
            })
            .await;
            match done {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "the mail worker could not finish a round"),
                Err(e) => tracing::warn!(error = %e, "the mail worker stopped a round"),
            }
        }
    });
}

/// Runs the server until interrupted.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    runtime.block_on(serve(args))
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut http = args.http();
    http.trusted_proxies = args.proxies()?;
    // Every connection is an open file: raise the soft limit before accepting any.
    let files = erp_api::server::raise_file_limit();
    // A restore must not replace the file under a running server: hold its lock while serving.
    let _lock = match backup::sqlite_file(&args.db) {
        Some(file) => Some(backup::ServerLock::hold(&file)?),
        None => None,
    };
    let url = args.db.clone();
    let fair = args.fair_use();
    let file_settings = args.files()?;
    let mut outbound = args.outbound()?;
    let secrets = args.secrets()?;
    // The demo's mail goes to a stub on the loopback, which the demo alone may reach.
    let demo_mail = match args.demo {
        true => {
            let dir = match backup::sqlite_file(&args.db) {
                Some(db) => std::path::PathBuf::from(format!("{}.demo-mail", db.display())),
                None => std::path::PathBuf::from("erp-demo-mail"),
            };
            outbound
                .allow_private
                .push(erp_kernel::outbound::address::Network::parse("127.0.0.1").map_err(anyhow::Error::msg)?);
            Some(demo_mail::start(&dir)?)
        }
        false => None,
    };
    tracing::info!(dir = %file_settings.dir.display(), encrypted = file_settings.key.is_some(), "files");
    // Bound before anything starts, so links in e-mails can name the port when no public
    // address is given; connections wait in the backlog until start-up serves them.
    let listener =
        tokio::net::TcpListener::bind(&args.listen).await.with_context(|| format!("listening on {}", args.listen))?;
    let addr = listener.local_addr()?;
    let public_url = args.public_url(addr)?;
    tracing::info!(public_url = public_url.as_str(), "links in e-mails");
    let platform = tokio::task::spawn_blocking(move || {
        let db = erp_kernel::storage::Db::open(&url)?;
        Platform::with_settings(db, erp_kernel::bus::BusConfig::default(), fair)
    })
    .await?
    .with_context(|| format!("opening database {}", redact(&args.db)))?
    .with_files(erp_kernel::files::Files::open(file_settings))
    .with_outbound(outbound)
    .with_secrets(secrets)
    .with_public_url(public_url);
    sweep_files_in_background(&platform);
    mail_in_background(&platform, args.mail_poll_secs);
    let demo_options = args
        .demo
        .then(|| demo::DemoOptions { password: args.demo_password.clone(), allow_existing: args.demo_allow_existing });
    if let Some(options) = &demo_options {
        let (platform, options) = (platform.clone(), options.clone());
        tokio::task::spawn_blocking(move || demo::check(&platform, &options)).await??;
    }
    let mut state = AppState::with_throttle(platform.clone(), args.throttle());
    state.readiness = Readiness::starting("installing the bundled plugins");
    state.metrics_token = args.metrics_token.as_deref().filter(|t| !t.is_empty()).map(Into::into);
    let readiness = state.readiness.clone();
    let router = erp_web::app(state);
    tracing::info!(%addr, db = %redact(&args.db), "serving");
    println!("ERP platform listening on http://{addr}");
    println!("Web UI: open http://{addr}/ in a browser");
    println!("API description: http://{addr}/api/v1/openapi.json");
    tracing::info!(
        files = ?files,
        connections = http.connection_cap(files),
        header_timeout = ?http.header_timeout,
        idle_timeout = ?http.idle_timeout,
        "connection limits"
    );
    // Start-up work runs beside the server, which answers /health at once and 503 elsewhere
    // until it is done; if it fails, the server stops with its error.
    let (failed_tx, failed_rx) = tokio::sync::oneshot::channel::<anyhow::Error>();
    let workers = Arc::new(parking_lot::Mutex::new(None));
    let stopping = Arc::new(AtomicBool::new(false));
    let startup = {
        let (workers, stopping) = (workers.clone(), stopping.clone());
        tokio::task::spawn_blocking(move || {
            // A panic (a bug) must stop the server too, not leave it alive and never ready.
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                start_up(&platform, &readiness, demo_options, demo_mail.as_ref(), &stopping)
            }))
            .unwrap_or_else(|_| Err(anyhow::anyhow!("start-up panicked; see the log above")));
            match outcome {
                Ok(Some(w)) => {
                    *workers.lock() = Some(w);
                    readiness.ready();
                    let secs = started.elapsed().as_secs_f64();
                    tracing::info!(seconds = secs, "ready");
                    println!("Ready in {secs:.1} s");
                }
                Ok(None) => {}
                Err(e) => {
                    // Clients learn only that it failed; the reason goes to the log.
                    readiness.failed("see the server's log");
                    let _ = failed_tx.send(e);
                }
            }
        })
    };
    let failure = Arc::new(parking_lot::Mutex::new(None));
    let stop = {
        let failure = failure.clone();
        async move {
            tokio::select! {
                _ = shutdown_signal() => {}
                Ok(e) = failed_rx => {
                    tracing::error!(error = %format!("{e:#}"), "start-up failed; stopping");
                    *failure.lock() = Some(e);
                }
            }
        }
    };
    erp_api::serve_with(listener, router, http, stop).await?;
    // A start-up step under way cannot be cut short: wait for it, so that nothing writes after
    // the database's lock is let go; the steps left are skipped.
    stopping.store(true, Ordering::Relaxed);
    let _ = startup.await;
    let workers = workers.lock().take();
    if let Some(workers) = workers {
        tokio::task::spawn_blocking(move || workers.stop()).await?;
    }
    if let Some(e) = failure.lock().take() {
        return Err(e);
    }
    tracing::info!("stopped");
    Ok(())
}

/// What a start needs before it takes work: the bundled plugins installed (compiled the first
/// time), the demo loaded when asked for, the event dispatcher and scheduler running.
fn start_up(
    platform: &Platform,
    readiness: &Readiness,
    demo_options: Option<demo::DemoOptions>,
    demo_mail: Option<&demo_mail::Stub>,
    stopping: &AtomicBool,
) -> anyhow::Result<Option<erp_kernel::bus::Workers>> {
    let compiled = Instant::now();
    let installed = bundled::install_all(platform).context("installing the bundled plugins")?;
    for line in &installed {
        tracing::info!(plugin = %line, "installed bundled plugin");
    }
    if !installed.is_empty() {
        println!(
            "Installed {} bundled plugins in {:.1} s: {}",
            installed.len(),
            compiled.elapsed().as_secs_f64(),
            installed.join(", ")
        );
    }
    if stopping.load(Ordering::Relaxed) {
        return Ok(None);
    }
    if let Some(options) = demo_options {
        readiness.step("loading the demo data");
        let demo = demo::ensure(platform, &options)?;
        println!("Demo company {:?} (id {})", demo::COMPANY, demo.company_id);
        if let Some(stub) = demo_mail
            && demo::use_mailbox(platform, &demo.company_id, stub.port)?
        {
            println!("The demo company's mail is kept in {} (an SMTP stub on 127.0.0.1)", stub.dir.display());
        }
        if demo.old_password_replaced {
            println!("The demo people had the old fixed password \"demo-password\"; it no longer works");
        }
        match demo.new_password {
            Some(password) => println!(
                "Log in as {} with password {password} (shown only now; the colleagues {} share it)",
                demo::EMAIL,
                demo::COLLEAGUES.join(" and ")
            ),
            None => println!(
                "Log in as {} with the password printed when the demo was created (or set with --demo-password then)",
                demo::EMAIL
            ),
        }
    }
    if stopping.load(Ordering::Relaxed) {
        return Ok(None);
    }
    readiness.step("starting the event dispatcher");
    erp_kernel::bus::start(platform).map(Some).context("starting the event dispatcher and scheduler")
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
