//! Fair use between companies: a company whose plugin loops does not stall another's
//! writes; a request past its deadline saves nothing; idempotent retries do the work once; a
//! plugin that keeps hitting its limits is quarantined in that company and released by the
//! admin; quotas refuse at their edge and keep what is stored.

use std::time::Duration;

use serde_json::{Value, json};

use crate::both_backends;
use crate::support::{TestApp, eventually, package};
use erp_kernel::fair_use::{Quotas, Settings};

both_backends!(a_looping_company_does_not_stall_another, an_idempotent_retry_creates_one_record);

/// Like `both_backends!`, for tests that need their own fair-use settings.
macro_rules! both_backends_with {
    ($($name:ident => $settings:expr),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    if let Some(app) = $crate::support::TestApp::start_with($crate::support::Backend::Sqlite, $settings).await {
                        super::$name(&app).await;
                    }
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(app) = $crate::support::TestApp::start_with($crate::support::Backend::Postgres, $settings).await {
                        super::$name(&app).await;
                    }
                }
            }
        )*
    };
}

both_backends_with!(
    a_request_past_its_deadline_leaves_nothing => super::short_deadline(),
    a_misbehaving_handler_is_quarantined_and_released => super::quick_quarantine(),
    each_quota_refuses_at_its_edge => super::small_quotas(),
);

fn short_deadline() -> Settings {
    Settings { deadline: Duration::from_millis(700), ..Settings::default() }
}

fn quick_quarantine() -> Settings {
    Settings { strikes: 2, ..Settings::default() }
}

fn small_quotas() -> Settings {
    Settings {
        quotas: Quotas {
            company_records: Some(6),
            plugin_records: Some(4),
            company_bytes: None,
            plugin_bytes: Some(4096),
            company_events: None,
            plugin_events: Some(12),
        },
        ..Settings::default()
    }
}

fn items(v: &Value) -> Vec<Value> {
    v["items"].as_array().cloned().unwrap_or_default()
}

async fn two_companies(app: &TestApp) -> (String, String) {
    app.install(&package("hostile")).await;
    app.install(&package("notes")).await;
    let a = app.company("Attacker", &[]).await;
    let b = app.company("Bystander", &[]).await;
    app.enable(&a, "hostile", json!({})).await.expect(200);
    app.enable(&b, "notes", json!({})).await.expect(200);
    (a, b)
}

async fn a_looping_company_does_not_stall_another(app: &TestApp) {
    let (a, b) = two_companies(app).await;
    // Company A runs commands and reports that compute until their limit, in parallel.
    let mut attack = Vec::new();
    for i in 0..6 {
        let (base, client, token, a) = (app.base.clone(), app.client.clone(), app.root.clone(), a.clone());
        let command = if i % 2 == 0 { "loop" } else { "loop-report" };
        attack.push(tokio::spawn(async move {
            let url = format!("{base}/api/v1/companies/{a}/plugins/hostile/commands/{command}");
            client.post(url).bearer_auth(token).json(&json!({})).send().await.map(|r| r.status().as_u16())
        }));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Meanwhile company B writes; every write succeeds.
    for i in 0..8 {
        app.post(&format!("/api/v1/companies/{b}/data/notes/note"), &app.root, json!({ "title": format!("note {i}") }))
            .await
            .expect(201);
    }
    for task in attack {
        let status = task.await.expect("join").expect("answer");
        // Stopped at its limit (500), or refused while A's lane was full (503); never a success.
        assert!(status == 500 || status == 503, "the looping command answered {status}");
    }
    let notes = app.get(&format!("/api/v1/companies/{b}/data/notes/note?limit=100"), &app.root).await;
    assert_eq!(items(notes.expect(200)).len(), 8);
}

async fn a_request_past_its_deadline_leaves_nothing(app: &TestApp) {
    let (a, _) = two_companies(app).await;
    let path = format!("/api/v1/companies/{a}/plugins/hostile/commands/slow-write");
    // Computes past the 0.7 s deadline, then would write: interrupted and rolled back.
    let r = app.post(&path, &app.root, json!({ "ms": 900, "label": "late" })).await;
    r.expect(503);
    assert_eq!(r.code(), "deadline_exceeded", "{}", r.body);
    assert!(r.headers.get("retry-after").is_some());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let marks = app.get(&format!("/api/v1/companies/{a}/data/hostile/mark?limit=100"), &app.root).await;
    assert!(items(marks.expect(200)).is_empty(), "nothing of the late request was committed");
    // Work inside the deadline still commits.
    app.post(&path, &app.root, json!({ "ms": 10, "label": "in time" })).await.expect(200);
    let marks = app.get(&format!("/api/v1/companies/{a}/data/hostile/mark?limit=100"), &app.root).await;
    assert_eq!(items(marks.expect(200)).len(), 1);
}

async fn an_idempotent_retry_creates_one_record(app: &TestApp) {
    let (a, b) = two_companies(app).await;
    let notes = format!("/api/v1/companies/{b}/data/notes/note");
    let (first, replayed) = app.post_keyed(&notes, &app.root, "create-note-1", json!({ "title": "once" })).await;
    assert!(!replayed);
    let id = first.expect(201)["id"].as_str().unwrap().to_string();
    let (again, replayed) = app.post_keyed(&notes, &app.root, "create-note-1", json!({ "title": "once" })).await;
    assert!(replayed, "the retry is answered from memory");
    assert_eq!(again.expect(201)["id"], id.as_str(), "the retry gets the first answer");
    let listed = app.get(&format!("{notes}?limit=100"), &app.root).await;
    assert_eq!(items(listed.expect(200)).len(), 1, "one record for two requests");
    // The same key with another body is refused and changes nothing.
    let (other, _) = app.post_keyed(&notes, &app.root, "create-note-1", json!({ "title": "twice" })).await;
    other.expect(422);
    assert_eq!(other.code(), "idempotency_key_reused");
    let listed = app.get(&format!("{notes}?limit=100"), &app.root).await;
    assert_eq!(items(listed.expect(200)).len(), 1);
    // A new key is a new request.
    app.post_keyed(&notes, &app.root, "create-note-2", json!({ "title": "twice" })).await.0.expect(201);
    // Commands too: the retry does not run the command again.
    let command = format!("/api/v1/companies/{a}/plugins/hostile/commands/ok");
    let (one, _) = app.post_keyed(&command, &app.root, "command-1", json!({})).await;
    let (two, replayed) = app.post_keyed(&command, &app.root, "command-1", json!({})).await;
    assert!(replayed);
    assert_eq!(one.expect(200), two.expect(200));
    let marks = app.get(&format!("/api/v1/companies/{a}/data/hostile/mark?limit=100"), &app.root).await;
    assert_eq!(items(marks.expect(200)).len(), 1, "the command ran once");
    // A request that failed on the server's side saved nothing and may be retried.
    let failing = format!("/api/v1/companies/{a}/plugins/hostile/commands/write-then-panic");
    app.post_keyed(&failing, &app.root, "panic-1", json!({})).await.0.expect(500);
    let (retried, replayed) = app.post_keyed(&failing, &app.root, "panic-1", json!({})).await;
    assert!(!replayed, "a failed request's key is forgotten");
    retried.expect(500);
    // Malformed keys are refused.
    let (bad, _) = app.post_keyed(&notes, &app.root, "", json!({ "title": "x" })).await;
    bad.expect(400);
}

async fn a_misbehaving_handler_is_quarantined_and_released(app: &TestApp) {
    let (a, b) = two_companies(app).await;
    app.enable(&b, "hostile", json!({})).await.expect(200);
    let workers = app.start_bus();
    // Each spin record's after-commit handler busy-waits until its handler limit.
    for _ in 0..2 {
        app.post(&format!("/api/v1/companies/{a}/plugins/hostile/commands/spin"), &app.root, json!({}))
            .await
            .expect(200);
    }
    let usage = format!("/api/v1/companies/{a}/usage");
    let quarantined = eventually(60, async || {
        let u = app.get(&usage, &app.root).await;
        items_of(&u.body["plugins"]).iter().any(|p| p["plugin"] == "hostile" && p["quarantined_at"].is_string())
    })
    .await;
    assert!(quarantined, "the plugin was quarantined: {}", app.get(&usage, &app.root).await.body);
    // The admin is told through the event log.
    let events = app.get(&format!("/api/v1/companies/{a}/events?name=kernel.plugin.quarantined"), &app.root).await;
    let told = items(events.expect(200));
    assert_eq!(told.len(), 1, "{told:?}");
    // ... and in the bell of its owner, in that company only.
    let bell = app.get(&format!("/api/v1/companies/{a}/notifications"), &app.root).await;
    let bell = bell.expect(200);
    let notes = items_of(&bell["items"]);
    assert_eq!(notes.len(), 1, "{bell}");
    assert_eq!(notes[0]["kind"], "kernel.plugin_quarantined");
    assert_eq!(notes[0]["importance"], "high");
    assert!(notes[0]["title"].as_str().unwrap().contains("hostile"), "{bell}");
    assert_eq!(bell["unread"], 1);
    let other = app.get(&format!("/api/v1/companies/{b}/notifications"), &app.root).await;
    assert_eq!(other.expect(200)["unread"], 0);
    // While quarantined its commands are refused in that company, and only there.
    let r = app.post(&format!("/api/v1/companies/{a}/plugins/hostile/commands/ok"), &app.root, json!({})).await;
    r.expect(503);
    assert_eq!(r.code(), "plugin_quarantined");
    app.post(&format!("/api/v1/companies/{b}/plugins/hostile/commands/ok"), &app.root, json!({})).await.expect(200);
    // Released by the admin, it works again (the bus is stopped first, so that the waiting
    // spin deliveries do not quarantine it again at once).
    workers.stop();
    let released = app.post(&format!("/api/v1/companies/{a}/plugins/hostile/release"), &app.root, json!({})).await;
    let hostile = items_of(&released.expect(200)["plugins"]).into_iter().find(|p| p["plugin"] == "hostile").unwrap();
    assert!(hostile["quarantined_at"].is_null());
    app.post(&format!("/api/v1/companies/{a}/plugins/hostile/commands/ok"), &app.root, json!({})).await.expect(200);
    let events = app.get(&format!("/api/v1/companies/{a}/events?name=kernel.plugin.released"), &app.root).await;
    assert_eq!(items(events.expect(200)).len(), 1);
    // Releasing what is not quarantined is a conflict.
    app.post(&format!("/api/v1/companies/{a}/plugins/hostile/release"), &app.root, json!({})).await.expect(409);
}

fn items_of(v: &Value) -> Vec<Value> {
    v.as_array().cloned().unwrap_or_default()
}

async fn each_quota_refuses_at_its_edge(app: &TestApp) {
    let (a, b) = two_companies(app).await;
    app.enable(&b, "hostile", json!({})).await.expect(200);
    let notes = format!("/api/v1/companies/{b}/data/notes/note");
    // Records per plugin: 4.
    let mut ids = Vec::new();
    for i in 0..4 {
        let r = app.post(&notes, &app.root, json!({ "title": format!("n{i}") })).await;
        ids.push(r.expect(201)["id"].as_str().unwrap().to_string());
    }
    let refused = app.post(&notes, &app.root, json!({ "title": "one too many" })).await;
    refused.expect(507);
    assert_eq!(refused.code(), "quota_exceeded");
    assert!(refused.body["error"]["message"].as_str().unwrap().contains("records"), "{}", refused.body);
    assert_eq!(items(app.get(&format!("{notes}?limit=100"), &app.root).await.expect(200)).len(), 4);
    // Deleting frees room.
    app.delete(&format!("{notes}/{}", ids[0]), &app.root).await.expect(204);
    app.post(&notes, &app.root, json!({ "title": "fits again" })).await.expect(201);
    // Records per company: 6 (4 notes + 2 marks).
    let ok = format!("/api/v1/companies/{b}/plugins/hostile/commands/ok");
    app.post(&ok, &app.root, json!({})).await.expect(200);
    app.post(&ok, &app.root, json!({})).await.expect(200);
    let r = app.post(&ok, &app.root, json!({})).await;
    assert!(r.status.as_u16() >= 400, "the company's seventh record is refused: {}", r.body);
    assert!(r.body["error"]["message"].as_str().unwrap().contains("quota exceeded"), "{}", r.body);
    // Bytes per plugin: 4096, in company A (no records yet).
    let big = "x".repeat(3000);
    let marks = format!("/api/v1/companies/{a}/data/hostile/mark");
    app.post(&marks, &app.root, json!({ "label": big })).await.expect(201);
    let r = app.post(&marks, &app.root, json!({ "label": big })).await;
    r.expect(507);
    assert!(r.body["error"]["message"].as_str().unwrap().contains("bytes"), "{}", r.body);
    // Events per plugin: 12 in company B; notes published 6 (5 created, 1 deleted) so far.
    for i in 0..6 {
        let r = app.patch(&format!("{notes}/{}", ids[1]), &app.root, json!({ "title": format!("edit {i}") })).await;
        r.expect(200);
    }
    let r = app.patch(&format!("{notes}/{}", ids[1]), &app.root, json!({ "title": "edit 7" })).await;
    r.expect(507);
    assert!(r.body["error"]["message"].as_str().unwrap().contains("events"), "{}", r.body);
    // The admin sees usage against the quotas.
    let u = app.get(&format!("/api/v1/companies/{b}/usage"), &app.root).await;
    let body = u.expect(200);
    assert_eq!(body["quotas"]["plugin_records"], 4);
    let notes_usage = items_of(&body["plugins"]).into_iter().find(|p| p["plugin"] == "notes").unwrap();
    assert_eq!(notes_usage["records"], 4);
    assert_eq!(notes_usage["events"], 12);
}
