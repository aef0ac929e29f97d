//! The event hook bus: exact outbox, synchronous vetoes, after-commit delivery with retries,
//! dead letters and replay, visibility rules, loop protection, several nodes, schedules.

use diesel::prelude::*;
use erp_kernel::Platform;
use erp_kernel::access::CompanyScope;
use erp_kernel::bus::BusConfig;
use erp_kernel::records::{self, Caller, Collection};
use erp_kernel::session::Session;
use erp_kernel::storage::StoreError;
use erp_kernel::storage::schema::{deliveries, events, schedule_runs};
use serde_json::{Value, json};

use crate::both_backends;
use crate::support::{TestApp, eventually, fast_bus, package};

both_backends!(
    deliveries_keep_event_order_per_subscriber,
    a_worker_whose_lease_expired_cannot_complete,
    after_commit_events_reach_enabled_subscribers_with_visible_fields,
    failing_subscriber_backs_off_dead_letters_and_replays,
    synchronous_hooks_veto_the_whole_change,
    event_chains_stop_at_the_depth_limit,
    reports_change_nothing_even_when_they_write,
    outbox_holds_exactly_the_committed_events,
    schedules_run_once_per_slot_without_overlap,
    two_nodes_share_one_queue,
);

async fn setup(app: &TestApp, name: &str, plugins: &[(&str, Value)]) -> String {
    let co = app.company(name, &[]).await;
    for (plugin, body) in plugins {
        let r = app.enable(&co, plugin, body.clone()).await;
        assert_eq!(r.status.as_u16(), 200, "enable {plugin}: {}", r.body);
    }
    co
}

async fn install(app: &TestApp, plugins: &[&str]) {
    for p in plugins {
        app.install(&package(p)).await;
    }
}

/// Delivery states of a company's events, as (plugin, state) pairs.
async fn delivery_states(app: &TestApp, co: &str) -> Vec<(String, String)> {
    let r = app.get(&format!("/api/v1/companies/{co}/events?limit=500"), &app.root).await;
    let mut out = Vec::new();
    for e in r.expect(200)["items"].as_array().unwrap() {
        for d in e["deliveries"].as_array().unwrap() {
            out.push((d["plugin"].as_str().unwrap().to_string(), d["state"].as_str().unwrap().to_string()));
        }
    }
    out
}

async fn seen(app: &TestApp, co: &str) -> Vec<Value> {
    let r = app.get(&format!("/api/v1/companies/{co}/data/counter/seen?limit=500"), &app.root).await;
    r.expect(200)["items"].as_array().unwrap().iter().map(|i| i["data"].clone()).collect()
}

async fn after_commit_events_reach_enabled_subscribers_with_visible_fields(app: &TestApp) {
    install(app, &["notes", "counter"]).await;
    let a = setup(app, "Granted", &[("notes", json!({})), ("counter", json!({ "grants": ["notes.note"] }))]).await;
    let b = setup(app, "Not granted", &[("notes", json!({})), ("counter", json!({}))]).await;
    let c = setup(app, "Without counter", &[("notes", json!({}))]).await;
    for co in [&a, &b, &c] {
        app.post(
            &format!("/api/v1/companies/{co}/data/notes/note"),
            &app.root,
            json!({ "title": "Visible", "secret": "hidden" }),
        )
        .await
        .expect(201);
    }
    let _workers = app.start_bus();
    assert!(
        eventually(20, async || seen(app, &a).await.len() == 1 && seen(app, &b).await.len() == 1).await,
        "deliveries arrive"
    );
    // Granted read access: the fields, without the sensitive one.
    let got = &seen(app, &a).await[0];
    assert_eq!(got["event"], "notes.note.created");
    assert_eq!(got["payload"]["after"]["title"], "Visible");
    assert!(got["payload"]["after"].get("secret").is_none(), "{got}");
    // No grant: the event, without the record's fields.
    let got = &seen(app, &b).await[0];
    assert!(got["payload"].get("after").is_none() && got["payload"]["id"].is_string(), "{got}");
    // Not enabled: nothing queued at all.
    assert!(delivery_states(app, &c).await.is_empty());
    assert!(delivery_states(app, &a).await.iter().all(|(_, s)| s == "done"));
    // The event log filters by name and time.
    let r = app.get(&format!("/api/v1/companies/{a}/events?name=notes.note.*"), &app.root).await;
    assert_eq!(r.expect(200)["items"].as_array().unwrap().len(), 1);
    app.get(&format!("/api/v1/companies/{a}/events?since=2999-01-01T00:00:00Z"), &app.root).await.expect(200);
    app.get(&format!("/api/v1/companies/{a}/events?since=yesterday"), &app.root).await.expect(400);
}

async fn failing_subscriber_backs_off_dead_letters_and_replays(app: &TestApp) {
    install(app, &["notes", "counter", "flaky"]).await;
    let co = setup(app, "Acme", &[("notes", json!({})), ("counter", json!({})), ("flaky", json!({}))]).await;
    let (_, anna) = app.user("anna@example.com").await;
    app.post(
        &format!("/api/v1/companies/{co}/members"),
        &app.root,
        json!({ "email": "anna@example.com", "role": "member" }),
    )
    .await
    .expect(201);
    app.post(&format!("/api/v1/companies/{co}/data/notes/note"), &app.root, json!({ "title": "One" }))
        .await
        .expect(201);
    let _workers = app.start_bus();
    // The healthy subscriber is not held up by the failing one.
    assert!(eventually(20, async || seen(app, &co).await.len() == 1).await);
    assert!(
        eventually(20, async || delivery_states(app, &co).await.contains(&("flaky".to_string(), "dead".to_string())))
            .await,
        "the failing delivery ends as a dead letter"
    );
    let log = app.get(&format!("/api/v1/companies/{co}/events?name=notes.note.created"), &app.root).await;
    let event = log.expect(200)["items"][0].clone();
    let dead = event["deliveries"].as_array().unwrap().iter().find(|d| d["plugin"] == "flaky").unwrap().clone();
    assert_eq!(dead["attempts"], 3, "retried up to the limit: {dead}");
    assert!(dead["last_error"].as_str().unwrap().contains("configured to fail"), "{dead}");
    let metrics = app.get("/api/v1/events/metrics", &app.root).await;
    assert!(metrics.expect(200)["dead_letters"].as_i64().unwrap() >= 1);
    assert!(metrics.body["failures_by_plugin"].as_array().unwrap().iter().any(|f| f["plugin"] == "flaky"));
    app.get("/api/v1/events/metrics", &anna).await.expect(403);
    // Members may not replay; admins may.
    let replay = format!("/api/v1/companies/{co}/events/{}/replay", event["id"].as_str().unwrap());
    app.post(&replay, &anna, json!({})).await.expect(403);
    app.enable(&co, "flaky", json!({ "config": { "fail": false } })).await.expect(200);
    let r = app.post(&replay, &app.root, json!({})).await;
    assert_eq!(r.expect(200)["replayed"], 1);
    assert!(
        eventually(20, async || delivery_states(app, &co).await.iter().all(|(_, s)| s == "done")).await,
        "the replay succeeds"
    );
    app.post(&replay, &app.root, json!({})).await.expect(409);
    app.post(
        &format!("/api/v1/companies/{co}/events/0190f4a2-0000-7000-8000-00000000abcd/replay"),
        &app.root,
        json!({}),
    )
    .await
    .expect(404);
    // The healthy subscriber got the event once, not again on replay.
    assert_eq!(seen(app, &co).await.len(), 1);
}

async fn synchronous_hooks_veto_the_whole_change(app: &TestApp) {
    install(app, &["notes", "guard"]).await;
    let co = setup(app, "Acme", &[("notes", json!({})), ("guard", json!({ "grants": ["notes.note"] }))]).await;
    let before = app.snapshot().await;
    let r = app
        .post(&format!("/api/v1/companies/{co}/data/notes/note"), &app.root, json!({ "title": "A forbidden plan" }))
        .await;
    r.expect(422);
    assert_eq!(r.body["error"]["plugin"], "guard");
    assert!(r.body["error"]["message"].as_str().unwrap().contains("guard does not allow"), "{}", r.body);
    assert_eq!(app.snapshot().await, before, "a vetoed change leaves nothing: no record, no event");
    app.post(&format!("/api/v1/companies/{co}/data/notes/note"), &app.root, json!({ "title": "A fine plan" }))
        .await
        .expect(201);
}

async fn reports_change_nothing_even_when_they_write(app: &TestApp) {
    install(app, &["counter"]).await;
    let co = setup(app, "Acme", &[("counter", json!({}))]).await;
    let before = app.snapshot().await;
    // `peek` is a report whose handler publishes an event: the answer comes back, the event
    // does not stay (the web UI runs reports when a link is opened).
    let r = app.post(&format!("/api/v1/companies/{co}/plugins/counter/commands/peek"), &app.root, json!({})).await;
    assert!(r.expect(200)["event"].is_string(), "the report ran");
    assert_eq!(app.snapshot().await, before, "nothing it wrote stayed, not even an audit record");
    let r = app.get(&format!("/api/v1/companies/{co}/events?name=counter.chain.link"), &app.root).await;
    assert!(r.body["items"].as_array().unwrap().is_empty());
    // The same handler as an ordinary command keeps its event.
    app.post(&format!("/api/v1/companies/{co}/plugins/counter/commands/start-chain"), &app.root, json!({}))
        .await
        .expect(200);
    let r = app.get(&format!("/api/v1/companies/{co}/events?name=counter.chain.link"), &app.root).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
}

async fn event_chains_stop_at_the_depth_limit(app: &TestApp) {
    install(app, &["counter"]).await;
    let co = setup(app, "Acme", &[("counter", json!({}))]).await;
    app.post(&format!("/api/v1/companies/{co}/plugins/counter/commands/start-chain"), &app.root, json!({}))
        .await
        .expect(200);
    let _workers = app.start_bus();
    let done = eventually(30, async || {
        let r = app.get(&format!("/api/v1/companies/{co}/events?name=counter.chain.link&limit=100"), &app.root).await;
        r.body["items"].as_array().unwrap().iter().any(|e| e["deliveries"][0]["state"] == "dead")
    })
    .await;
    assert!(done, "the chain ends in a dead letter");
    let r = app.get(&format!("/api/v1/companies/{co}/events?name=counter.chain.link&limit=100"), &app.root).await;
    let items = r.body["items"].as_array().unwrap().clone();
    assert_eq!(items.len() as u32, erp_kernel::bus::MAX_EVENT_DEPTH + 1, "links up to the limit, then no more");
    let last = &items[0];
    assert_eq!(last["depth"], erp_kernel::bus::MAX_EVENT_DEPTH);
    assert!(last["deliveries"][0]["last_error"].as_str().unwrap().contains("prevent a loop"), "{last}");
}

async fn outbox_holds_exactly_the_committed_events(app: &TestApp) {
    install(app, &["notes", "counter"]).await;
    let co = setup(app, "Acme", &[("notes", json!({})), ("counter", json!({}))]).await;
    let platform = app.platform.clone();
    let company = co.clone();
    let (committed, events_seen, queued) = tokio::task::spawn_blocking(move || {
        let manifest =
            platform.db.read_blocking(|conn| platform.plugins.current_manifest(conn, "notes")).unwrap().unwrap();
        let note = Collection::new(manifest, "note").unwrap();
        let scope = CompanyScope::system(&company);
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut committed = std::collections::BTreeSet::new();
        for i in 0..150 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let mut session = Session::begin(&platform.db, &company, None).unwrap();
            // Several writes per transaction; a third are vetoed by the plugin's hook.
            let writes = 1 + seed % 3;
            let mut ids = Vec::new();
            let mut vetoed = false;
            for w in 0..writes {
                let title =
                    if (seed >> (8 + w)).is_multiple_of(7) { "TODO".to_string() } else { format!("note {i}.{w}") };
                match records::create(&mut session, &platform, Caller::User(&scope), &note, json!({ "title": title })) {
                    Ok(r) => ids.push(r.id),
                    Err(_) => vetoed = true,
                }
            }
            // Commit a share, roll the rest back (vetoed ones always roll back).
            if !vetoed && !seed.is_multiple_of(4) {
                session.commit().unwrap();
                committed.extend(ids);
            }
        }
        let found: Vec<String> = platform
            .db
            .read_blocking(|conn| {
                events::table
                    .filter(events::company_id.eq(&company))
                    .filter(events::name.eq("notes.note.created"))
                    .select(events::payload)
                    .load::<String>(conn)
                    .map_err(StoreError::from)
            })
            .unwrap();
        let queued: i64 = platform
            .db
            .read_blocking(|conn| {
                deliveries::table
                    .filter(deliveries::company_id.eq(&company))
                    .count()
                    .get_result(conn)
                    .map_err(StoreError::from)
            })
            .unwrap();
        let ids: std::collections::BTreeSet<String> = found
            .iter()
            .map(|p| serde_json::from_str::<Value>(p).unwrap()["id"].as_str().unwrap().to_string())
            .collect();
        (committed, ids, queued)
    })
    .await
    .unwrap();
    assert!(committed.len() > 50, "a fair share committed: {}", committed.len());
    assert_eq!(events_seen, committed, "the outbox holds exactly the committed changes' events");
    assert_eq!(queued as usize, committed.len(), "one delivery per committed event and subscriber");
}

async fn schedules_run_once_per_slot_without_overlap(app: &TestApp) {
    install(app, &["ticker"]).await;
    let co = setup(app, "Acme", &[("ticker", json!({}))]).await;
    let ticks = async || {
        let r = app.get(&format!("/api/v1/companies/{co}/data/ticker/tick?limit=500"), &app.root).await;
        r.expect(200)["items"].as_array().unwrap().len()
    };
    // Two nodes run schedulers on the same database.
    let other = Platform::with_config(app.db.clone(), fast_bus()).unwrap();
    let _a = app.start_bus();
    let _b = erp_kernel::bus::start(&other).unwrap();
    let row = async || {
        let db = app.db.clone();
        let company = co.clone();
        tokio::task::spawn_blocking(move || {
            db.read_blocking(|conn| {
                schedule_runs::table
                    .filter(schedule_runs::company_id.eq(&company))
                    .select((schedule_runs::next_run_at, schedule_runs::runs))
                    .first::<(i64, i64)>(conn)
                    .optional()
                    .map_err(StoreError::from)
            })
        })
        .await
        .unwrap()
        .unwrap()
    };
    assert!(eventually(10, async || row().await.is_some()).await, "the schedule is registered");
    let (next, runs) = row().await.unwrap();
    let now = erp_kernel::clock::now();
    assert!(next > now + erp_kernel::clock::seconds(3500), "an hourly schedule first runs an hour after enabling");
    assert_eq!(runs, 0);
    for round in 1..=3_usize {
        // The kernel was down for three hours: the schedule runs once, not three times.
        let db = app.db.clone();
        let company = co.clone();
        tokio::task::spawn_blocking(move || {
            db.write_blocking(|conn| {
                diesel::update(schedule_runs::table.filter(schedule_runs::company_id.eq(&company)))
                    .set(schedule_runs::next_run_at.eq(erp_kernel::clock::now() - erp_kernel::clock::seconds(3 * 3600)))
                    .execute(conn)
                    .map_err(StoreError::from)
            })
        })
        .await
        .unwrap()
        .unwrap();
        assert!(eventually(10, async || ticks().await == round).await, "round {round} runs");
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert_eq!(ticks().await, round, "exactly one run per due slot, on either node");
        let (next, runs) = row().await.unwrap();
        assert_eq!(runs as usize, round);
        assert!(
            next > erp_kernel::clock::now() + erp_kernel::clock::seconds(3500),
            "the next slot is an hour after the run"
        );
    }
}

async fn two_nodes_share_one_queue(app: &TestApp) {
    if app.db.backend() != erp_kernel::storage::Backend::Postgres {
        // One dispatcher per process is the design on SQLite.
        return;
    }
    install(app, &["notes", "counter"]).await;
    let co = setup(app, "Acme", &[("notes", json!({})), ("counter", json!({}))]).await;
    let platform = app.platform.clone();
    let company = co.clone();
    let total = 600;
    tokio::task::spawn_blocking(move || {
        let manifest =
            platform.db.read_blocking(|conn| platform.plugins.current_manifest(conn, "notes")).unwrap().unwrap();
        let note = Collection::new(manifest, "note").unwrap();
        let scope = CompanyScope::system(&company);
        for chunk in 0..(total / 50) {
            let mut session = Session::begin(&platform.db, &company, None).unwrap();
            for i in 0..50 {
                records::create(
                    &mut session,
                    &platform,
                    Caller::User(&scope),
                    &note,
                    json!({ "title": format!("n{chunk}.{i}") }),
                )
                .unwrap();
            }
            session.commit().unwrap();
        }
    })
    .await
    .unwrap();
    let config = BusConfig { batch: 16, ..fast_bus() };
    let a = Platform::with_config(app.db.clone(), config.clone()).unwrap();
    let b = Platform::with_config(app.db.clone(), config).unwrap();
    // Both nodes load the subscriber before either starts, so neither drains the queue while
    // the other is still loading it.
    for node in [a.clone(), b.clone()] {
        let company = co.clone();
        tokio::task::spawn_blocking(move || {
            node.db.read_blocking(|conn| node.plugins.active(conn, &company, "counter").map(|_| ())).unwrap()
        })
        .await
        .unwrap();
    }
    let wa = erp_kernel::bus::start(&a).unwrap();
    let wb = erp_kernel::bus::start(&b).unwrap();
    let count = async || {
        let r = app
            .post(
                &format!("/api/v1/companies/{co}/data/counter/seen/aggregate"),
                &app.root,
                json!({ "metrics": [{ "op": "count" }] }),
            )
            .await;
        r.expect(200)["groups"][0]["values"]["count"].as_u64().unwrap_or(0)
    };
    assert!(eventually(60, async || count().await == total as u64).await, "the queue drains");
    wa.stop();
    wb.stop();
    let (da, db) = (a.bus.stats.delivered_total(), b.bus.stats.delivered_total());
    assert_eq!(da + db, total as u64, "every delivery completed exactly once across both nodes");
    assert!(da > 0 && db > 0, "both nodes took work: {da} and {db}");
    let db_handle = app.db.clone();
    let company = co.clone();
    let not_done: i64 = tokio::task::spawn_blocking(move || {
        db_handle.read_blocking(|conn| {
            deliveries::table
                .filter(deliveries::company_id.eq(&company))
                .filter(deliveries::state.ne("done"))
                .count()
                .get_result(conn)
                .map_err(StoreError::from)
        })
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(not_done, 0);
}

async fn notes_in_order(app: &TestApp, co: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let r = app
            .post(&format!("/api/v1/companies/{co}/data/notes/note"), &app.root, json!({ "title": format!("n{i}") }))
            .await;
        ids.push(r.expect(201)["id"].as_str().unwrap().to_string());
    }
    ids
}

async fn deliveries_keep_event_order_per_subscriber(app: &TestApp) {
    install(app, &["notes", "counter", "flaky"]).await;
    let co = setup(
        app,
        "Acme",
        &[("notes", json!({})), ("counter", json!({})), ("flaky", json!({ "config": { "fail": false } }))],
    )
    .await;
    let ids = notes_in_order(app, &co, 40).await;
    let _workers = app.start_bus();
    let got_all = async || {
        let got = app.get(&format!("/api/v1/companies/{co}/data/flaky/got?limit=500"), &app.root).await;
        got.expect(200)["items"].as_array().unwrap().len() == 40
    };
    assert!(eventually(30, async || seen(app, &co).await.len() == 40 && got_all().await).await);
    // `seen` records get time-ordered ids as they are written: the order the events arrived.
    let arrived: Vec<String> =
        seen(app, &co).await.iter().map(|s| s["payload"]["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(arrived, ids, "each subscriber gets a company's events in the order they happened");
    let got = app.get(&format!("/api/v1/companies/{co}/data/flaky/got?limit=500"), &app.root).await;
    assert_eq!(got.expect(200)["items"].as_array().unwrap().len(), 40);
}

async fn a_worker_whose_lease_expired_cannot_complete(app: &TestApp) {
    install(app, &["notes", "counter"]).await;
    let co = setup(app, "Acme", &[("notes", json!({})), ("counter", json!({}))]).await;
    notes_in_order(app, &co, 5).await;
    let slow = Platform::with_config(app.db.clone(), fast_bus()).unwrap();
    let quick = Platform::with_config(app.db.clone(), fast_bus()).unwrap();
    let retry = quick.clone();
    let db = app.db.clone();
    let (stale, fresh) = tokio::task::spawn_blocking(move || {
        use erp_kernel::bus::dispatch;
        // The slow node claims the work, then stalls past its lease.
        let claimed = dispatch::claim(&slow).unwrap();
        assert_eq!(claimed.len(), 5);
        db.write_blocking(|conn| {
            diesel::update(deliveries::table)
                .set(deliveries::lease_until.eq(Some(1_i64)))
                .execute(conn)
                .map_err(StoreError::from)
        })
        .unwrap();
        // Another node takes the expired leases and delivers.
        let taken = dispatch::claim(&quick).unwrap();
        assert_eq!(taken.len(), 5, "expired leases can be claimed again");
        let fresh = dispatch::deliver(&quick, taken).unwrap();
        // The stale node wakes up and tries to finish: nothing of its work may stick.
        let stale = dispatch::deliver(&slow, claimed).unwrap();
        (stale, fresh)
    })
    .await
    .unwrap();
    assert_eq!(fresh, 5);
    assert_eq!(stale, 0, "a worker that lost its lease completes nothing");
    // On a loaded machine a handler may run past its time limit and wait for a retry: the new
    // holder finishes the work, and still nothing is applied twice.
    for _ in 0..100 {
        if seen(app, &co).await.len() >= 5 {
            break;
        }
        let again = retry.clone();
        tokio::task::spawn_blocking(move || erp_kernel::bus::dispatch::run_once(&again)).await.unwrap().unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(seen(app, &co).await.len(), 5, "each event applied once");
    assert!(delivery_states(app, &co).await.iter().all(|(_, s)| s == "done"));
}
