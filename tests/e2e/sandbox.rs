//! Hostile plugins: each is stopped with a clear error naming the plugin and the limit,
//! nothing it wrote is committed, and the next call to a healthy plugin works.

use serde_json::json;

use crate::both_backends;
use crate::support::{TestApp, package};

both_backends!(
    hostile_plugins_are_stopped_and_rolled_back,
    plugins_cannot_publish_under_another_name,
    an_ignored_veto_still_leaves_nothing
);

async fn marks(app: &TestApp, co: &str) -> usize {
    let r = app.get(&format!("/api/v1/companies/{co}/data/hostile/mark?limit=500"), &app.root).await;
    r.expect(200)["items"].as_array().unwrap().len()
}

async fn hostile_plugins_are_stopped_and_rolled_back(app: &TestApp) {
    let co = app.company("Acme", &[]).await;
    app.install(&package("hostile")).await;
    app.install(&package("notes")).await;
    app.enable(&co, "hostile", json!({})).await.expect(200);
    app.enable(&co, "notes", json!({})).await.expect(200);
    let run = |command: &str| {
        let path = format!("/api/v1/companies/{co}/plugins/hostile/commands/{command}");
        async move { app.post(&path, &app.root, json!({})).await }
    };

    // (command, expected status, error code, words the message must contain)
    let cases = [
        ("loop", 500, "plugin_limit_exceeded", "ran out of time"),
        ("write-then-loop", 500, "plugin_limit_exceeded", "while holding the write lock"),
        ("write-then-bomb", 500, "plugin_limit_exceeded", "memory limit"),
        ("write-then-panic", 500, "plugin_failed", "panicked"),
        ("huge-answer", 500, "plugin_limit_exceeded", "answered"),
        ("leak-handles", 500, "plugin_failed", "failed"),
    ];
    for (command, status, code, words) in cases {
        let r = run(command).await;
        assert_eq!(r.status.as_u16(), status, "{command}: {}", r.body);
        assert_eq!(r.code(), code, "{command}: {}", r.body);
        assert_eq!(r.body["error"]["plugin"], "hostile", "{command}: the error names the plugin");
        let message = r.body["error"]["message"].as_str().unwrap();
        assert!(message.contains("hostile") && message.contains(words), "{command}: {message}");
        assert_eq!(marks(app, &co).await, 0, "{command}: what it wrote before failing must be rolled back");
        // The kernel keeps serving, and the next call to a healthy plugin works.
        app.post(&format!("/api/v1/companies/{co}/plugins/notes/commands/stats"), &app.root, json!({}))
            .await
            .expect(200);
    }

    // Output beyond the cap is dropped quietly; the call succeeds.
    run("chatty").await.expect(200);
    // Oversized arguments to host calls are refused as values, not traps.
    let big = run("big-argument").await;
    assert!(big.expect(200)["refused"].as_str().unwrap().contains("larger than"), "{}", big.body);
    let ok = run("ok").await;
    ok.expect(200);
    assert_eq!(marks(app, &co).await, 2);
    // No audit record for the failed commands: their transactions never committed.
    let log = app.get(&format!("/api/v1/companies/{co}/audit?limit=500"), &app.root).await;
    let commands = log.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "plugin.command" && r["object_id"] == "hostile")
        .count();
    assert_eq!(commands, 3, "chatty, big-argument and ok committed; the hostile ones did not");
}

async fn plugins_cannot_publish_under_another_name(app: &TestApp) {
    let co = app.company("Acme", &[]).await;
    app.install(&package("hostile")).await;
    app.enable(&co, "hostile", json!({})).await.expect(200);
    let r = app
        .post(&format!("/api/v1/companies/{co}/plugins/hostile/commands/publish-foreign"), &app.root, json!({}))
        .await;
    r.expect(403);
    assert_eq!(r.code(), "plugin_refused");
    assert!(r.body["error"]["message"].as_str().unwrap().contains("may only publish"), "{}", r.body);
    // Nor fake the kernel's record events of its own collections.
    let r = app
        .post(&format!("/api/v1/companies/{co}/plugins/hostile/commands/spoof-record-event"), &app.root, json!({}))
        .await;
    r.expect(403);
    assert!(r.body["error"]["message"].as_str().unwrap().contains("the kernel emits those"), "{}", r.body);
}

async fn an_ignored_veto_still_leaves_nothing(app: &TestApp) {
    let co = app.company("Acme", &[]).await;
    app.install(&package("notes")).await;
    app.install(&package("hostile")).await;
    app.enable(&co, "notes", json!({})).await.expect(200);
    app.enable(&co, "hostile", json!({ "grants": ["notes.note"] })).await.expect(200);
    let r =
        app.post(&format!("/api/v1/companies/{co}/plugins/hostile/commands/ignore-veto"), &app.root, json!({})).await;
    assert_eq!(r.expect(200)["refused"], true);
    let notes = app.get(&format!("/api/v1/companies/{co}/data/notes/note"), &app.root).await;
    assert_eq!(
        notes.expect(200)["items"],
        json!([]),
        "the vetoed note must not exist although the caller ignored the veto"
    );
    let events = app.get(&format!("/api/v1/companies/{co}/events?name=notes.note.created"), &app.root).await;
    assert_eq!(events.expect(200)["items"], json!([]), "nor its event");
    assert_eq!(marks(app, &co).await, 1, "the caller's own later write stands");
}
