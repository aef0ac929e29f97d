//! `erp bench`: one company's writes while another company's plugin attacks. Company B writes
//! a note every 20 ms through the HTTP API (in-process) while company A runs 8 parallel calls
//! of a command that loops until its limit, then 8 after-commit handlers that busy-wait, then
//! 8 calls that write and then loop. Prints B's write p50/p99 in each phase and their ratios
//! to the quiet phase, measured in this one run. Needs the `hostile` test plugin, which the
//! end-to-end tests build.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use serde_json::json;
use tower::ServiceExt;

use super::bench::{millis, percentile, test_plugin};
use crate::bundled;
use erp_api::AppState;
use erp_kernel::Platform;
use erp_kernel::access::CompanyScope;
use erp_kernel::audit::Actor;
use erp_kernel::bus::BusConfig;
use erp_kernel::fair_use::Settings;
use erp_kernel::identity::users::{self, NewUser};
use erp_kernel::identity::{companies, login};
use erp_kernel::ids;
use erp_kernel::plugins::lifecycle::{self, EnableRequest};
use erp_kernel::session::Session;
use erp_kernel::storage::Db;

/// B's writes per phase.
const WRITES: usize = 150;
/// B's pace.
const EVERY: Duration = Duration::from_millis(20);
/// A's parallel attackers.
const ATTACKERS: usize = 8;

/// What company A does during a phase.
#[derive(Clone, Copy)]
enum Attack {
    Nothing,
    /// Runs this hostile command in parallel, again and again.
    Command(&'static str),
    /// Keeps this many busy-waiting after-commit handlers queued.
    Handlers,
}

/// B's write latencies in one phase.
struct Phase {
    p50: Duration,
    p99: Duration,
    failed: usize,
}

pub(super) fn run(url: &str) -> anyhow::Result<()> {
    let Some(hostile) = test_plugin("hostile") else {
        println!(
            "company under attack: skipped (the hostile test plugin is not built; `cargo test --release -p erp --test e2e` builds it)"
        );
        return Ok(());
    };
    // Quarantine would end the attack after a few limit hits; switched off, the figures show
    // what the attack itself costs the other company.
    let settings = Settings { strikes: u32::MAX, ..Settings::default() };
    let platform = Platform::with_settings(Db::open(url)?, BusConfig::default(), settings)?;
    bundled::install_all(&platform)?;
    if platform.db.read_blocking(|conn| platform.plugins.current_manifest(conn, "hostile"))?.is_none() {
        lifecycle::install(&platform, &hostile, &Actor::system())?;
    }
    let prepared = users::prepare(&NewUser {
        email: format!("attack-{}@example.com", ids::new_id()),
        password: "bench-password".into(),
        name: "Bench".into(),
        is_superadmin: true,
    })?;
    let email = prepared.email().to_string();
    let (a, b) = platform.db.write_blocking(|conn| {
        let user = users::insert(conn, &prepared)?;
        let a = companies::create(conn, "Attacker Ltd", &user.id)?;
        let b = companies::create(conn, "Bystander Ltd", &user.id)?;
        Ok::<_, erp_kernel::identity::IdentityError>((a.id, b.id))
    })?;
    for (company, plugin) in [(&a, "hostile"), (&b, "notes")] {
        let mut session = Session::begin(&platform.db, company, None)?;
        lifecycle::enable(&platform, &mut session, &CompanyScope::system(company), plugin, EnableRequest::default())?;
        session.commit()?;
    }
    let token = login::login(&platform.db, &email, "bench-password", "bench")?.token.secret;
    let router = erp_web::app(AppState::new(platform.clone()));
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let workers = erp_kernel::bus::start(&platform)?;
    let ctx = Ctx { router, token, a, b };
    let quiet = runtime.block_on(phase(&ctx, Attack::Nothing))?;
    let loops = runtime.block_on(phase(&ctx, Attack::Command("loop")))?;
    let handlers = runtime.block_on(phase(&ctx, Attack::Handlers))?;
    let holds = runtime.block_on(phase(&ctx, Attack::Command("write-then-loop")))?;
    workers.stop();

    println!(
        "company B writes a note every {} ms ({WRITES} writes a phase) while company A attacks; quiet: p50 {}, p99 {}",
        EVERY.as_millis(),
        millis(quiet.p50.as_secs_f64()),
        millis(quiet.p99.as_secs_f64())
    );
    let target = |p: &Phase| {
        let ok = p.p99 < Duration::from_millis(100) && p.p99.as_secs_f64() < 5.0 * quiet.p99.as_secs_f64();
        if ok { "met" } else { "NOT met" }
    };
    for (what, p, goal) in [
        (format!("{ATTACKERS} parallel commands looping until their limit"), &loops, true),
        (format!("{ATTACKERS} after-commit handlers busy-waiting until their limit"), &handlers, true),
        (format!("{ATTACKERS} parallel commands that write, then loop (stopped after write_hold_ms)"), &holds, false),
    ] {
        let verdict =
            if goal { format!("; target p99 under 100 ms and under 5x quiet: {}", target(p)) } else { String::new() };
        println!(
            "  A runs {what}: B's p50 {} ({:.2}x quiet), p99 {} ({:.2}x quiet), {} of {WRITES} writes failed{verdict}",
            millis(p.p50.as_secs_f64()),
            p.p50.as_secs_f64() / quiet.p50.as_secs_f64(),
            millis(p.p99.as_secs_f64()),
            p.p99.as_secs_f64() / quiet.p99.as_secs_f64(),
            p.failed,
        );
    }
    Ok(())
}

struct Ctx {
    router: Router,
    token: String,
    a: String,
    b: String,
}

async fn post(router: &Router, token: &str, path: &str, body: serde_json::Value) -> anyhow::Result<u16> {
    let req = Request::post(path)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))?;
    let res = router.clone().oneshot(req).await?;
    let status = res.status().as_u16();
    axum::body::to_bytes(res.into_body(), usize::MAX).await?;
    Ok(status)
}

async fn phase(ctx: &Ctx, attack: Attack) -> anyhow::Result<Phase> {
    let stop = Arc::new(AtomicBool::new(false));
    let mut attackers = Vec::new();
    match attack {
        Attack::Nothing => {}
        Attack::Command(command) => {
            for _ in 0..ATTACKERS {
                let (router, token, stop) = (ctx.router.clone(), ctx.token.clone(), stop.clone());
                let path = format!("/api/v1/companies/{}/plugins/hostile/commands/{command}", ctx.a);
                attackers.push(tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        if post(&router, &token, &path, json!({})).await.is_err() {
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                    }
                }));
            }
        }
        Attack::Handlers => {
            // Each spin record queues one delivery whose handler busy-waits; retries keep
            // them coming for the whole phase.
            let path = format!("/api/v1/companies/{}/plugins/hostile/commands/spin", ctx.a);
            for _ in 0..ATTACKERS {
                post(&ctx.router, &ctx.token, &path, json!({})).await?;
            }
        }
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let path = format!("/api/v1/companies/{}/data/notes/note", ctx.b);
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut times = Vec::with_capacity(WRITES);
    let mut failed = 0;
    for i in 0..WRITES {
        tick.tick().await;
        let started = Instant::now();
        let status = post(&ctx.router, &ctx.token, &path, json!({ "title": format!("note {i}") })).await?;
        times.push(started.elapsed());
        if status != 201 {
            failed += 1;
        }
    }
    stop.store(true, Ordering::Relaxed);
    for a in attackers {
        let _ = a.await;
    }
    times.sort();
    Ok(Phase { p50: percentile(&times, 0.5), p99: percentile(&times, 0.99), failed })
}
