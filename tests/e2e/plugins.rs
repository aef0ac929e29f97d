//! Plugin packages and lifecycle: install, refuse bad packages, enable per company with
//! dependencies, upgrade keeping data, uninstall, and the previous WIT version.

use reqwest::Method;
use serde_json::json;

use crate::both_backends;
use crate::support::{TestApp, package};

both_backends!(
    install_list_enable_disable_uninstall,
    bad_packages_are_refused_with_every_problem,
    dependencies_are_enforced,
    upgrades_keep_data_and_run_migrations,
    previous_wit_version_still_loads,
    compiled_artifacts_survive_a_restart,
);

async fn install_list_enable_disable_uninstall(app: &TestApp) {
    let (_, anna) = app.user("anna@example.com").await;
    let co = app.company("Acme", &[("anna@example.com", "member")]).await;
    let notes = package("notes");
    let denied =
        app.call_raw(Method::POST, "/api/v1/plugins", Some(&anna), Some("application/wasm"), notes.clone()).await;
    denied.expect(403);

    let installed = app.install(&notes).await;
    assert_eq!(installed["name"], "notes");
    assert_eq!(installed["version"], "0.1.1");
    assert_eq!(installed["upgraded_from"], serde_json::Value::Null);
    let again = app.call_raw(Method::POST, "/api/v1/plugins", Some(&app.root), Some("application/wasm"), notes).await;
    again.expect(409);

    let list = app.get("/api/v1/plugins", &anna).await;
    let items = list.expect(200)["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["name"], "notes");
    assert!(items[0]["manifest"]["collections"]["note"]["fields"]["title"].is_object());
    app.get("/api/v1/plugins/notes", &anna).await.expect(200);
    app.get("/api/v1/plugins/nothing", &anna).await.expect(404);

    // Not enabled: invisible in the company.
    app.get(&format!("/api/v1/companies/{co}/data/notes/note"), &app.root).await.expect(404);
    // Members cannot enable; owners can.
    app.put(&format!("/api/v1/companies/{co}/plugins/notes"), &anna, json!({})).await.expect(403);
    let enabled = app.enable(&co, "notes", json!({})).await;
    assert_eq!(enabled.expect(200)["version"], "0.1.1");
    let listed = app.get(&format!("/api/v1/companies/{co}/plugins"), &anna).await;
    assert_eq!(listed.expect(200)["items"][0]["name"], "notes");
    // Members get the plugin's default member permissions.
    let made = app.post(&format!("/api/v1/companies/{co}/data/notes/note"), &anna, json!({ "title": "First" })).await;
    made.expect(201);

    app.delete("/api/v1/plugins/notes", &app.root).await.expect(409);
    app.delete(&format!("/api/v1/companies/{co}/plugins/notes"), &anna).await.expect(403);
    app.delete(&format!("/api/v1/companies/{co}/plugins/notes"), &app.root).await.expect(204);
    app.get(&format!("/api/v1/companies/{co}/data/notes/note"), &app.root).await.expect(404);
    // Enabling again brings the data back.
    app.enable(&co, "notes", json!({})).await.expect(200);
    let back = app.get(&format!("/api/v1/companies/{co}/data/notes/note"), &app.root).await;
    assert_eq!(back.expect(200)["items"].as_array().unwrap().len(), 1);
    app.delete(&format!("/api/v1/companies/{co}/plugins/notes"), &app.root).await.expect(204);
    app.delete("/api/v1/plugins/notes", &anna).await.expect(403);
    app.delete("/api/v1/plugins/notes", &app.root).await.expect(204);
    assert_eq!(app.get("/api/v1/plugins", &anna).await.body["items"], json!([]));

    let log = app.get(&format!("/api/v1/companies/{co}/audit"), &app.root).await;
    let actions: Vec<&str> =
        log.body["items"].as_array().unwrap().iter().map(|r| r["action"].as_str().unwrap()).collect();
    assert!(actions.contains(&"plugin.enable") && actions.contains(&"plugin.disable"), "{actions:?}");
}

async fn bad_packages_are_refused_with_every_problem(app: &TestApp) {
    let before = app.snapshot().await;
    let upload = |bytes: Vec<u8>| {
        app.call_raw(Method::POST, "/api/v1/plugins", Some(&app.root), Some("application/wasm"), bytes)
    };

    let fs = upload(package("fs_reader")).await;
    fs.expect(422);
    assert_eq!(fs.code(), "invalid_plugin");
    let problems = fs.body["error"]["problems"].to_string();
    assert!(problems.contains("wasi:filesystem") && problems.contains("no file system"), "{problems}");

    let bad = upload(package("bad_manifest")).await;
    bad.expect(422);
    let problems: Vec<String> =
        bad.body["error"]["problems"].as_array().unwrap().iter().map(|p| p.as_str().unwrap().to_string()).collect();
    assert!(problems.iter().any(|p| p.contains("line 5") && p.contains("colour")), "{problems:?}");

    let ghost = upload(package("needs_ghost")).await;
    ghost.expect(422);
    assert!(ghost.body["error"]["problems"].to_string().contains("ghost"), "{}", ghost.body);

    let garbage = upload(b"definitely not wasm".to_vec()).await;
    garbage.expect(422);
    let core = upload(b"\0asm\x01\0\0\0".to_vec()).await;
    core.expect(422);
    assert!(core.body["error"]["message"].as_str().unwrap().contains("core WebAssembly module"), "{}", core.body);
    let empty = upload(Vec::new()).await;
    empty.expect(422);
    let too_big = app
        .call_oversized("POST", "/api/v1/plugins", Some(&app.root), "application/wasm", vec![0u8; 33 * 1024 * 1024])
        .await;
    too_big.expect(413);

    assert_eq!(app.get("/api/v1/plugins", &app.root).await.body["items"], json!([]));
    assert_eq!(app.snapshot().await, before, "refused packages changed the database");
}

async fn dependencies_are_enforced(app: &TestApp) {
    let co = app.company("Acme", &[]).await;
    // spy depends on notes: it cannot even be installed before notes.
    let spy =
        app.call_raw(Method::POST, "/api/v1/plugins", Some(&app.root), Some("application/wasm"), package("spy")).await;
    spy.expect(422);
    assert!(spy.body["error"]["problems"].to_string().contains("notes"), "{}", spy.body);
    app.install(&package("notes")).await;
    app.install(&package("spy")).await;
    // Enabling spy before notes in a company names the missing dependency.
    let early = app.enable(&co, "spy", json!({})).await;
    early.expect(422);
    assert!(early.body["error"]["message"].as_str().unwrap().contains("enable notes"), "{}", early.body);
    app.enable(&co, "notes", json!({})).await.expect(200);
    // Grants must be among the declared capabilities.
    let wrong = app.enable(&co, "spy", json!({ "grants": ["notes.notebook"] })).await;
    wrong.expect(422);
    app.enable(&co, "spy", json!({ "grants": ["notes.note"] })).await.expect(200);
    // notes cannot be disabled or uninstalled while spy needs it.
    app.delete(&format!("/api/v1/companies/{co}/plugins/notes"), &app.root).await.expect(409);
    app.delete("/api/v1/plugins/notes", &app.root).await.expect(409);
}

async fn upgrades_keep_data_and_run_migrations(app: &TestApp) {
    let a = app.company("Acme", &[]).await;
    let b = app.company("Globex", &[]).await;
    app.install(&package("ledger_v1")).await;
    for co in [&a, &b] {
        app.enable(co, "ledger", json!({})).await.expect(200);
    }
    let add = |co: &str, body: serde_json::Value| {
        let path = format!("/api/v1/companies/{co}/plugins/ledger/commands/add");
        async move { app.post(&path, &app.root, body).await }
    };
    add(&a, json!({ "title": "Rent", "amount": 1200, "code": "R1" })).await.expect(200);
    add(&a, json!({ "title": "Paper", "amount": 35 })).await.expect(200);
    add(&b, json!({ "title": "Coffee", "amount": 7, "code": "C" })).await.expect(200);

    // 1.1.0 is additive: new optional and defaulted fields, a new index, a new collection.
    let up = app.install(&package("ledger_v2")).await;
    assert_eq!(up["upgraded_from"], "1.0.0");
    let entries = app
        .post(
            &format!("/api/v1/companies/{a}/data/ledger/entry/query"),
            &app.root,
            json!({ "sort": { "field": "amount", "desc": true } }),
        )
        .await;
    let titles: Vec<&str> =
        entries.expect(200)["items"].as_array().unwrap().iter().map(|r| r["data"]["title"].as_str().unwrap()).collect();
    assert_eq!(titles, vec!["Rent", "Paper"], "the new index on amount works for old records");
    app.post(&format!("/api/v1/companies/{a}/data/ledger/tag"), &app.root, json!({ "name": "office" }))
        .await
        .expect(201);

    // Downgrades and repeats are refused.
    let again = app
        .call_raw(Method::POST, "/api/v1/plugins", Some(&app.root), Some("application/wasm"), package("ledger_v1"))
        .await;
    again.expect(409);

    // 2.0.0 changes a type and drops a field: its migrate export rewrites every company.
    let up = app.install(&package("ledger_v3")).await;
    assert_eq!(up["upgraded_from"], "1.1.0");
    assert_eq!(up["migrated_companies"], 2);
    let total = app.post(&format!("/api/v1/companies/{a}/plugins/ledger/commands/total"), &app.root, json!({})).await;
    assert_eq!(total.expect(200)["total"], "1235.00", "exact decimal sum after migration");
    let entries = app.get(&format!("/api/v1/companies/{b}/data/ledger/entry"), &app.root).await;
    let first = &entries.expect(200)["items"][0]["data"];
    assert_eq!(first["title"], "[C] Coffee");
    assert_eq!(first["amount"], "7.00");
    assert!(first.get("code").is_none(), "dropped fields are gone: {first}");
    let list = app.get("/api/v1/plugins/ledger", &app.root).await;
    assert_eq!(list.expect(200)["versions"], json!(["1.0.0", "1.1.0", "2.0.0"]));
}

async fn previous_wit_version_still_loads(app: &TestApp) {
    let co = app.company("Acme", &[]).await;
    let installed = app.install(&package("legacy")).await;
    assert_eq!(installed["name"], "legacy");
    let info = app.get("/api/v1/plugins/legacy", &app.root).await;
    assert_eq!(info.expect(200)["wit"], "0.1.0");
    app.enable(&co, "legacy", json!({})).await.expect(200);
    let hello = app
        .post(&format!("/api/v1/companies/{co}/plugins/legacy/commands/hello"), &app.root, json!("from 0.1.0"))
        .await;
    let body = hello.expect(200).clone();
    assert_eq!(body["plugin"], "legacy");
    assert_eq!(body["company"], co.as_str());
    let memo = app
        .get(&format!("/api/v1/companies/{co}/data/legacy/memo/{}", body["memo"].as_str().unwrap()), &app.root)
        .await;
    assert_eq!(memo.expect(200)["data"]["text"], "\"from 0.1.0\"");
}

async fn compiled_artifacts_survive_a_restart(app: &TestApp) {
    use diesel::prelude::*;
    use erp_kernel::storage::StoreError;
    use erp_kernel::storage::schema::{plugin_artifacts, plugin_versions};

    let co = app.company("Acme", &[]).await;
    app.install(&package("notes")).await;
    app.enable(&co, "notes", json!({})).await.expect(200);
    // Blank the stored package: a kernel that had to compile again would now fail.
    let db = app.db.clone();
    let artifacts = tokio::task::spawn_blocking(move || {
        db.write_blocking(|conn| {
            diesel::update(plugin_versions::table).set(plugin_versions::package.eq(Vec::<u8>::new())).execute(conn)?;
            plugin_artifacts::table.count().get_result::<i64>(conn).map_err(StoreError::from)
        })
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(artifacts, 1, "one artifact per package and engine");
    // A second kernel over the same database (a restart, or another node) runs the plugin
    // from the stored artifact.
    let platform = erp_kernel::Platform::with_db(app.db.clone()).unwrap();
    let company = co.clone();
    let answer = tokio::task::spawn_blocking(move || {
        let mut session = erp_kernel::session::Session::begin(&platform.db, &company, None).unwrap();
        let scope = erp_kernel::access::CompanyScope::system(&company);
        erp_kernel::plugins::lifecycle::run_command(&platform, &mut session, &scope, "notes", "stats", json!({}))
    })
    .await
    .unwrap()
    .expect("runs from the stored artifact");
    assert_eq!(answer["pinned"], 0);
}
