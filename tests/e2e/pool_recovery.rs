//! The connection pool after PostgreSQL ends every connection (issue 18, finding 6): under a
//! steady load of reads and writes, `pg_terminate_backend` on all of the test database's
//! backends; requests started afterwards must succeed at once (the pool tests a connection
//! on checkout and replaces a dead one), and the server must be answering again within 2 s.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};
use serde_json::json;

use crate::support::{Backend, TestApp, pg_admin_url};

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct Ended {
    #[diesel(sql_type = Bool)]
    ended: bool,
}

/// One request of the load: when it started and ended, and its status (0: no answer).
struct Outcome {
    started: Instant,
    ended: Instant,
    status: u16,
    what: &'static str,
}

async fn load(app: Arc<TestApp>, company: String, worker: usize, stop: Arc<AtomicBool>) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    let mut n = 0usize;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let started = Instant::now();
        let (what, request) = match (worker + n) % 4 {
            0 => ("health", app.client.get(format!("{}/health", app.base))),
            1 => ("me", app.client.get(format!("{}/api/v1/me", app.base)).bearer_auth(&app.root)),
            2 => (
                "members",
                app.client.get(format!("{}/api/v1/companies/{company}/members", app.base)).bearer_auth(&app.root),
            ),
            _ => (
                "create company",
                app.client
                    .post(format!("{}/api/v1/companies", app.base))
                    .bearer_auth(&app.root)
                    .json(&json!({ "name": format!("Load {worker}-{n}") })),
            ),
        };
        let status = match request.send().await {
            Ok(r) => {
                let status = r.status().as_u16();
                let _ = r.bytes().await;
                status
            }
            Err(_) => 0,
        };
        outcomes.push(Outcome { started, ended: Instant::now(), status, what });
    }
    outcomes
}

/// Ends every backend of `database` and waits until they are gone; returns how many.
fn terminate_backends(database: &str) -> usize {
    let mut admin = PgConnection::establish(&format!("{}/postgres", pg_admin_url())).expect("admin connection");
    let ended: Vec<Ended> = diesel::sql_query(
        "SELECT pg_terminate_backend(pid, 5000) AS ended FROM pg_stat_activity \
         WHERE datname = $1 AND pid <> pg_backend_pid()",
    )
    .bind::<Text, _>(database)
    .load(&mut admin)
    .expect("terminate");
    ended.iter().filter(|e| e.ended).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_recover_at_once_after_backends_are_terminated() {
    let Some(app) = TestApp::start(Backend::Postgres).await else {
        return;
    };
    let app = Arc::new(app);
    let company = app.company("Pool", &[]).await;
    let db = app.db.clone();
    let database = tokio::task::spawn_blocking(move || {
        db.read_blocking(|conn| {
            diesel::sql_query("SELECT current_database() AS name")
                .get_result::<Name>(conn)
                .map_err(erp_kernel::storage::StoreError::from)
        })
    })
    .await
    .expect("join")
    .expect("database name")
    .name;

    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..6).map(|w| tokio::spawn(load(app.clone(), company.clone(), w, stop.clone()))).collect();
    tokio::time::sleep(Duration::from_secs(1)).await;

    let killing = Instant::now();
    let terminated = tokio::task::spawn_blocking(move || terminate_backends(&database)).await.expect("join");
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    let mut outcomes = Vec::new();
    for w in workers {
        outcomes.extend(w.await.expect("join"));
    }

    let ok = |o: &Outcome| (200..300).contains(&o.status);
    let before = outcomes.iter().filter(|o| o.ended < killing).count();
    let in_flight: Vec<&Outcome> = outcomes.iter().filter(|o| o.ended >= killing && o.started < t0).collect();
    let after: Vec<&Outcome> = outcomes.iter().filter(|o| o.started >= t0).collect();
    let failed_in_flight: Vec<String> =
        in_flight.iter().filter(|o| !ok(o)).map(|o| format!("{} {}", o.what, o.status)).collect();
    let failed_after: Vec<String> =
        after.iter().filter(|o| !ok(o)).map(|o| format!("{} {}", o.what, o.status)).collect();
    let first_ok = after.iter().filter(|o| ok(o)).map(|o| o.ended.duration_since(t0)).min();
    let last_failure = outcomes.iter().filter(|o| !ok(o)).map(|o| o.ended.saturating_duration_since(t0)).max();
    let termination = t0.duration_since(killing);
    println!(
        "pool recovery: {terminated} backends terminated in {termination:?}; {before} requests before, \
         {} in flight meanwhile ({} failed: {failed_in_flight:?}), {} after ({} failed: \
         {failed_after:?}); first success {first_ok:?} after, last failure {last_failure:?} after",
        in_flight.len(),
        failed_in_flight.len(),
        after.len(),
        failed_after.len(),
    );

    assert!(terminated > 0, "no backend of the test database was terminated");
    assert!(before > 0 && after.len() > 10, "the load did not run: {before} before, {} after", after.len());
    let first_ok = first_ok.expect("no request succeeded after the termination");
    assert!(first_ok < Duration::from_secs(2), "the first success came {first_ok:?} after the termination");
    assert!(failed_after.is_empty(), "requests started after the termination failed: {failed_after:?}");
    assert!(
        outcomes.iter().all(|o| o.status != 500),
        "a lost connection was answered 500: in flight {failed_in_flight:?}"
    );
}
