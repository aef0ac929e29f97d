//! `erp bench`: measures the plugin runtime and the record store in one run and prints the
//! figures with their ratios to each other and to the targets. Nothing is asserted: the
//! machine may be shared and noisy.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::body::Body;
use axum::http::Request;
use diesel::connection::SimpleConnection;
use serde_json::json;
use tower::ServiceExt;

use crate::bundled;
use erp_api::AppState;
use erp_kernel::Platform;
use erp_kernel::access::CompanyScope;
use erp_kernel::identity::companies;
use erp_kernel::identity::login;
use erp_kernel::identity::users::{self, NewUser};
use erp_kernel::ids;
use erp_kernel::plugins::PluginError;
use erp_kernel::plugins::host::Call;
use erp_kernel::plugins::lifecycle::{self, EnableRequest};
use erp_kernel::records::query::QueryRequest;
use erp_kernel::records::{self, Caller, Collection};
use erp_kernel::session::Session;
use erp_kernel::storage::Backend;

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Database URL; a fresh SQLite file in the temp directory when absent.
    pub db: Option<String>,
    /// Records in the collection for the query benchmark.
    pub records: usize,
    /// Repetitions of the per-call benchmarks.
    pub calls: usize,
    /// Events for the delivery throughput benchmark.
    pub events: usize,
    /// Done stock moves in the history for the warehouse on-hand benchmark.
    pub moves: usize,
    /// Posted journal lines for the trial balance benchmark.
    pub lines: usize,
    /// Customers for the search box benchmark.
    pub customers: usize,
}

fn per_op(total: Duration, n: usize) -> f64 {
    total.as_secs_f64() / n.max(1) as f64
}

fn micros(secs: f64) -> String {
    format!("{:.1} µs", secs * 1e6)
}

pub(super) fn millis(secs: f64) -> String {
    format!("{:.3} ms", secs * 1e3)
}

pub(super) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

/// Runs every benchmark and prints the results.
pub fn run(opts: BenchOptions) -> anyhow::Result<()> {
    let temp = std::env::temp_dir().join(format!("erp-bench-{}-{}", std::process::id(), ids::new_id()));
    let url = match &opts.db {
        Some(u) => u.clone(),
        None => {
            std::fs::create_dir_all(&temp)?;
            format!("sqlite://{}", temp.join("bench.db").display())
        }
    };
    let result = run_on(&url, &opts);
    if opts.db.is_none() {
        let _ = std::fs::remove_dir_all(&temp);
    }
    result
}

fn run_on(url: &str, opts: &BenchOptions) -> anyhow::Result<()> {
    let platform = Platform::open(url).context("opening the database")?;
    bundled::install_all(&platform)?;
    let prepared = users::prepare(&NewUser {
        email: format!("bench-{}@example.com", ids::new_id()),
        password: "bench-password".into(),
        name: "Bench".into(),
        is_superadmin: true,
    })?;
    let email = prepared.email().to_string();
    let company = platform.db.write_blocking(|conn| {
        let user = users::insert(conn, &prepared)?;
        companies::create(conn, "Bench Ltd", &user.id)
    })?;
    let company_id = company.id.clone();
    {
        let mut session = Session::begin(&platform.db, &company_id, None)?;
        lifecycle::enable(
            &platform,
            &mut session,
            &CompanyScope::system(&company_id),
            "notes",
            EnableRequest::default(),
        )?;
        session.commit()?;
    }
    let backend = match platform.db.backend() {
        Backend::Sqlite => "SQLite",
        Backend::Postgres => "PostgreSQL",
    };
    println!("ERP benchmark on {backend}; every figure comes from this one run.");

    // 1. Instantiate + no-op command, inside one open transaction (no database work).
    let call = {
        let mut session = Session::begin(&platform.db, &company_id, None)?;
        let active = Arc::new(platform.plugins.active(session.conn()?, &company_id, "notes")?);
        let mut once = || {
            platform.plugins.invoke(&platform, &mut session, &active, None, Call::Command { name: "ping", input: "{}" })
        };
        for _ in 0..opts.calls.min(200) {
            once()?;
        }
        let started = Instant::now();
        for _ in 0..opts.calls {
            once()?;
        }
        per_op(started.elapsed(), opts.calls)
    };
    println!(
        "plugin call (fresh Store, instantiate from InstancePre, no-op command): {} per call; target 10 µs ({:.1}x the target)",
        micros(call),
        call / 10e-6
    );

    // 2. Creating a record, one transaction each: raw insert, REST, plugin command.
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let token = login::login(&platform.db, &email, "bench-password", "bench")?.token.secret;
    let router = erp_web::app(AppState::new(platform.clone()));
    let n = (opts.calls / 5).max(50);
    let raw = raw_inserts(&platform, &company_id, n)?;
    let post = |path: String, body: serde_json::Value| {
        let router = router.clone();
        let token = token.clone();
        async move {
            let req = Request::post(path)
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "application/json")
                .body(Body::from(body.to_string()))?;
            let res = router.oneshot(req).await?;
            anyhow::ensure!(res.status().is_success(), "benchmark request failed with {}", res.status());
            Ok::<_, anyhow::Error>(())
        }
    };
    let timed = |make: &dyn Fn(usize) -> (String, serde_json::Value)| -> anyhow::Result<f64> {
        runtime.block_on(async {
            let started = Instant::now();
            for i in 0..n {
                let (path, body) = make(i);
                post(path, body).await?;
            }
            Ok(per_op(started.elapsed(), n))
        })
    };
    let base = format!("/api/v1/companies/{company_id}");
    let rest_book = timed(&|i| (format!("{base}/data/notes/notebook"), json!({ "name": format!("book {i}") })))?;
    let rest_note = timed(&|i| (format!("{base}/data/notes/note"), json!({ "title": format!("rest note {i}") })))?;
    let via_plugin =
        timed(&|i| (format!("{base}/plugins/notes/commands/add"), json!({ "title": format!("plugin note {i}") })))?;
    println!("creating a record, {n} times each, one transaction each, through the in-process HTTP router:");
    println!("  raw diesel insert (no validation, no audit)         {}", millis(raw));
    println!(
        "  kernel REST, notebook (no hook)                     {}  ({:.1}x raw)",
        millis(rest_book),
        rest_book / raw
    );
    println!(
        "  kernel REST, note (runs the plugin's validation)    {}  ({:.1}x raw)",
        millis(rest_note),
        rest_note / raw
    );
    println!(
        "  plugin command creating a note                      {}  ({:.2}x kernel REST for the same note; target within 2x)",
        millis(via_plugin),
        via_plugin / rest_note
    );

    // 3. Query by an indexed field in a large collection.
    let started = Instant::now();
    bulk_notes(&platform, &company_id, opts.records)?;
    println!("loaded {} notes in {:.1} s", opts.records, started.elapsed().as_secs_f64());
    let (p50, p99, found) = query_latency(&platform, &company_id, opts.records)?;
    println!(
        "query by an indexed field (title = one value) in {} records: p50 {} , p99 {}, {found} found; target p50 under 5 ms ({:.2}x the target)",
        opts.records,
        millis(p50.as_secs_f64()),
        millis(p99.as_secs_f64()),
        p50.as_secs_f64() / 5e-3
    );

    // 3b. The web UI's list page over the same collection.
    super::bench_ui::run(&runtime, &router, &token, &company_id)?;

    // 3b'. Live notifications to 200 open streams, and a 100 MB file up and down.
    super::bench_live::run(&runtime, &platform, &router, &token, &company_id)?;

    // 3c. The search box over many customers.
    super::bench_search::run(&runtime, &router, &platform, &token, &company_id, opts.customers)?;

    // 4. After-commit events to a no-op subscriber.
    event_bench(&platform, &company_id, opts.events)?;

    // 5. Warehouse: on-hand after a long history of moves.
    super::bench_stock::run(&platform, &company_id, opts.moves)?;

    // 6. Accounting: the trial balance over a long journal.
    super::bench_ledger::run(&platform, &company_id, opts.lines)?;

    // 6b. The mail worker: letters to an SMTP server, with and without a kept connection.
    super::bench_mail::run(&platform, &company_id, super::bench_mail::LETTERS)?;

    // 6c. Printed documents: the invoice template, one page and 500 lines.
    super::bench_documents::run()?;

    // 7. One company under attack by another's plugin.
    super::bench_attack::run(url)?;
    Ok(())
}

/// A test plugin (`sink`, `hostile`), where the end-to-end tests have built it beside this
/// binary (`<target>/wasm-plugins/`); production builds do not build test plugins.
pub(super) fn test_plugin(krate: &str) -> Option<Vec<u8>> {
    let exe = std::env::current_exe().ok()?;
    let target = exe.ancestors().find(|p| p.join("CACHEDIR.TAG").exists())?;
    std::fs::read(target.join(format!("wasm-plugins/wasm32-wasip2/release/{krate}.wasm"))).ok()
}

/// Queues `n` committed `notes.note.created` events with one delivery each to the sink, in
/// transactions of 500, with raw inserts (the same rows `emit` writes).
fn queue_events(platform: &Platform, company_id: &str, n: usize) -> anyhow::Result<()> {
    let mut done = 0;
    while done < n {
        let end = (done + 500).min(n);
        let now = erp_kernel::clock::now();
        let mut evs = Vec::new();
        let mut dels = Vec::new();
        for _ in done..end {
            let (eid, did) = (ids::new_id(), ids::new_id());
            evs.push(format!("('{eid}', '{company_id}', 'notes.note.created', 'notes', '{{\"id\": \"{eid}\"}}', NULL, 0, {now}, 'note')"));
            dels.push(format!("('{did}', '{eid}', '{company_id}', 'sink', 'drop', 'pending', 0, {now}, {now})"));
        }
        let sql = format!(
            "INSERT INTO events (id, company_id, name, source, payload, actor_id, depth, occurred_at, collection) VALUES {}; \
             INSERT INTO deliveries (id, event_id, company_id, plugin, handler, state, attempts, next_attempt_at, created_at) VALUES {};",
            evs.join(", "),
            dels.join(", ")
        );
        platform.db.write_blocking(|conn| conn.batch_execute(&sql).map_err(erp_kernel::storage::StoreError::from))?;
        done = end;
    }
    Ok(())
}

fn pending(platform: &Platform) -> anyhow::Result<i64> {
    use diesel::prelude::*;
    use erp_kernel::storage::schema::deliveries;
    Ok(platform.db.read_blocking(|conn| {
        deliveries::table
            .filter(deliveries::state.eq("pending"))
            .count()
            .get_result(conn)
            .map_err(erp_kernel::storage::StoreError::from)
    })?)
}

fn event_bench(platform: &Platform, company_id: &str, n: usize) -> anyhow::Result<()> {
    let Some(sink) = test_plugin("sink") else {
        println!(
            "events: skipped (the sink test plugin is not built; `cargo test --release -p erp --test e2e` builds it)"
        );
        return Ok(());
    };
    lifecycle::install(platform, &sink, &erp_kernel::audit::Actor::system())?;
    {
        let mut session = Session::begin(&platform.db, company_id, None)?;
        lifecycle::enable(platform, &mut session, &CompanyScope::system(company_id), "sink", EnableRequest::default())?;
        session.commit()?;
    }
    // Throughput: a full queue drained by one node.
    queue_events(platform, company_id, n)?;
    let started = Instant::now();
    let workers = erp_kernel::bus::start(platform)?;
    while pending(platform)? > 0 {
        std::thread::sleep(Duration::from_millis(20));
    }
    let rate = n as f64 / started.elapsed().as_secs_f64();
    workers.stop();
    println!(
        "after-commit events delivered to a no-op subscriber: {rate:.0} events/s ({n} events); target 10000 events/s ({:.2}x the target)",
        rate / 10_000.0
    );
    // Latency at half that rate, for three seconds.
    platform.bus.stats.reset_latencies();
    let workers = erp_kernel::bus::start(platform)?;
    let per_tick = ((rate / 2.0) / 100.0).max(1.0) as usize;
    let started = Instant::now();
    let mut sent = 0;
    while started.elapsed() < Duration::from_secs(3) {
        let tick = Instant::now();
        queue_events(platform, company_id, per_tick)?;
        sent += per_tick;
        std::thread::sleep(Duration::from_millis(10).saturating_sub(tick.elapsed()));
    }
    while pending(platform)? > 0 {
        std::thread::sleep(Duration::from_millis(20));
    }
    workers.stop();
    let offered = sent as f64 / 3.0;
    match platform.bus.stats.latency_percentiles() {
        Some((p50, p99)) => println!(
            "commit-to-delivery latency at {offered:.0} events/s: p50 {} , p99 {}; target p99 under 50 ms ({:.2}x the target)",
            millis(p50 as f64 / 1e6),
            millis(p99 as f64 / 1e6),
            p99 as f64 / 50_000.0
        ),
        None => println!("commit-to-delivery latency: no deliveries measured"),
    }
    Ok(())
}

/// Inserts records with plain diesel, one transaction each: the floor for any write path.
fn raw_inserts(platform: &Platform, company_id: &str, n: usize) -> anyhow::Result<f64> {
    use diesel::prelude::*;
    use erp_kernel::storage::schema::records;
    let started = Instant::now();
    for i in 0..n {
        platform.db.write_blocking(|conn| {
            let now = erp_kernel::clock::now();
            diesel::insert_into(records::table)
                .values((
                    records::id.eq(ids::new_id()),
                    records::company_id.eq(company_id),
                    records::plugin.eq("notes"),
                    records::collection.eq("raw"),
                    records::version.eq(1_i64),
                    records::data.eq(json!({ "title": format!("raw {i}") }).to_string()),
                    records::created_at.eq(now),
                    records::updated_at.eq(now),
                ))
                .execute(conn)
                .map_err(erp_kernel::storage::StoreError::from)
        })?;
    }
    Ok(per_op(started.elapsed(), n))
}

/// Loads `n` notes (title and priority indexed) with multi-row inserts: the same rows the
/// record store writes, much faster than one write at a time.
fn bulk_notes(platform: &Platform, company_id: &str, n: usize) -> anyhow::Result<()> {
    let priorities = ["low", "normal", "high"];
    let mut rows = super::bench_rows::Rows::new(company_id, "notes");
    for i in 0..n {
        let id = ids::new_id();
        let title = format!("note {i:07}");
        let priority = priorities[i % 3];
        let data = json!({ "title": title, "priority": priority, "pinned": false }).to_string();
        rows.record(&id, "note", 1, &data);
        rows.key(&id, "note", "title", &title);
        rows.key(&id, "note", "priority", priority);
        if rows.len() == 1000 {
            rows.flush(platform)?;
        }
    }
    rows.flush(platform)?;
    super::bench_rows::analyze(platform)
}

fn query_latency(platform: &Platform, company_id: &str, n: usize) -> anyhow::Result<(Duration, Duration, usize)> {
    let scope = CompanyScope::system(company_id);
    let manifest = platform
        .db
        .read_blocking(|conn| platform.plugins.current_manifest(conn, "notes"))?
        .ok_or_else(|| PluginError::NotFound("notes".into()))?;
    let coll = Collection::new(manifest, "note").ok_or_else(|| PluginError::NotFound("note".into()))?;
    let mut times = Vec::new();
    let mut found = 0;
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    platform.db.read_blocking(|conn| {
        for _ in 0..300 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let i = (seed % n.max(1) as u64) as usize;
            let req = QueryRequest {
                filter: Some(json!({ "field": "title", "op": "eq", "value": format!("note {i:07}") })),
                ..QueryRequest::default()
            };
            let started = Instant::now();
            let page = records::find(conn, company_id, Caller::User(&scope), &coll, &req)?;
            times.push(started.elapsed());
            found += page.records.len();
        }
        Ok::<_, anyhow::Error>(())
    })?;
    times.sort();
    Ok((percentile(&times, 0.5), percentile(&times, 0.99), found))
}
