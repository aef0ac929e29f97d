//! The record store through REST: schema validation, optimistic concurrency, references,
//! queries, aggregates, sensitive fields and permissions, commands and webhooks.

use reqwest::Method;
use serde_json::{Value, json};

use crate::both_backends;
use crate::support::{TestApp, package};

both_backends!(
    schema_validation_reports_every_field_and_stores_nothing,
    versions_references_and_uniqueness,
    queries_filter_sort_and_page,
    aggregates_are_exact,
    sensitive_fields_need_their_permission,
    record_permissions_follow_roles,
    commands_validate_input_and_check_permissions,
    webhooks_need_the_company_secret,
    plugins_reach_other_collections_only_when_granted,
);

/// A company with notes enabled; returns its id.
async fn with_notes(app: &TestApp, members: &[(&str, &str)]) -> String {
    let co = app.company("Acme", members).await;
    app.install(&package("notes")).await;
    app.enable(&co, "notes", json!({})).await.expect(200);
    co
}

fn data(co: &str, coll: &str) -> String {
    format!("/api/v1/companies/{co}/data/notes/{coll}")
}

fn field_names(body: &Value) -> Vec<String> {
    let mut v: Vec<String> =
        body["error"]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap().to_string()).collect();
    v.sort();
    v
}

async fn schema_validation_reports_every_field_and_stores_nothing(app: &TestApp) {
    let co = with_notes(app, &[]).await;
    let before = app.snapshot().await;
    let bad = json!({
        "body": 42,
        "priority": "urgent",
        "due": "2026-02-30",
        "pinned": "yes",
        "words": 1.5,
        "cost": "12.345",
        "remind_at": "tomorrow",
        "notebook": "not-an-id",
        "colour": "red"
    });
    let r = app.post(&data(&co, "note"), &app.root, bad).await;
    r.expect(422);
    assert_eq!(r.code(), "validation_failed");
    assert_eq!(
        field_names(&r.body),
        vec!["body", "colour", "cost", "due", "notebook", "pinned", "priority", "remind_at", "title", "words"],
        "every problem at once: {}",
        r.body
    );
    // A reference to a record that does not exist (in this company).
    let ghost = app
        .post(
            &data(&co, "note"),
            &app.root,
            json!({ "title": "x", "notebook": "0190f4a2-0000-7000-8000-00000000abcd" }),
        )
        .await;
    ghost.expect(422);
    assert_eq!(field_names(&ghost.body), vec!["notebook"]);
    // Not an object at all.
    app.post(&data(&co, "note"), &app.root, json!(["title"])).await.expect(422);
    // The plugin's own validation hook vetoes.
    let veto = app.post(&data(&co, "note"), &app.root, json!({ "title": "TODO" })).await;
    veto.expect(422);
    assert_eq!(veto.code(), "plugin_refused");
    assert_eq!(veto.body["error"]["plugin"], "notes");
    assert_eq!(field_names(&veto.body), vec!["title"]);
    assert_eq!(app.snapshot().await, before, "invalid records stored something");

    // Every type, valid, normalised.
    let book = app.post(&data(&co, "notebook"), &app.root, json!({ "name": "Work" })).await;
    let book_id = book.expect(201)["id"].as_str().unwrap().to_string();
    let ok = app
        .post(
            &data(&co, "note"),
            &app.root,
            json!({
                "title": "Ship the release",
                "body": "All of it",
                "notebook": book_id,
                "priority": "high",
                "due": "2026-12-31",
                "pinned": true,
                "words": 3,
                "cost": 1250.5,
                "remind_at": "2026-12-30T12:00:00+03:00",
                "extra": { "tags": ["a", "b"] }
            }),
        )
        .await;
    let body = ok.expect(201).clone();
    assert_eq!(ok.headers["etag"], "\"1\"");
    assert_eq!(body["version"], 1);
    assert_eq!(body["data"]["cost"], "1250.5");
    assert_eq!(body["data"]["remind_at"], "2026-12-30T09:00:00Z", "datetimes are stored in UTC");
    assert_eq!(body["data"]["extra"]["tags"], json!(["a", "b"]));
    // Defaults apply when a field is left out.
    let plain = app.post(&data(&co, "note"), &app.root, json!({ "title": "Plain" })).await;
    assert_eq!(plain.expect(201)["data"]["priority"], "normal");
    assert_eq!(plain.body["data"]["pinned"], false);
}

async fn versions_references_and_uniqueness(app: &TestApp) {
    let co = with_notes(app, &[]).await;
    let book = app.post(&data(&co, "notebook"), &app.root, json!({ "name": "Work" })).await.expect(201).clone();
    let book_id = book["id"].as_str().unwrap();
    let dup = app.post(&data(&co, "notebook"), &app.root, json!({ "name": "Work" })).await;
    dup.expect(422);
    assert_eq!(field_names(&dup.body), vec!["name"]);
    // Unique per company: another company may use the same name.
    let other = app.company("Globex", &[]).await;
    app.enable(&other, "notes", json!({})).await.expect(200);
    app.post(&data(&other, "notebook"), &app.root, json!({ "name": "Work" })).await.expect(201);

    let note =
        app.post(&data(&co, "note"), &app.root, json!({ "title": "A", "notebook": book_id })).await.expect(201).clone();
    let note_path = format!("{}/{}", data(&co, "note"), note["id"].as_str().unwrap());
    // Optimistic concurrency: the second writer with the old version loses.
    let first = app
        .client
        .patch(format!("{}{note_path}", app.base))
        .bearer_auth(&app.root)
        .header("if-match", "\"1\"")
        .json(&json!({ "title": "B" }))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status().as_u16(), 200);
    let second = app
        .client
        .patch(format!("{}{note_path}", app.base))
        .bearer_auth(&app.root)
        .header("if-match", "\"1\"")
        .json(&json!({ "title": "C" }))
        .send()
        .await
        .unwrap();
    assert_eq!(second.status().as_u16(), 409);
    let now = app.get(&note_path, &app.root).await;
    assert_eq!(now.expect(200)["data"]["title"], "B");
    assert_eq!(now.body["version"], 2);
    // Clearing a field with null; an invalid patch changes nothing.
    let cleared = app.patch(&note_path, &app.root, json!({ "notebook": null })).await;
    assert!(cleared.expect(200)["data"].get("notebook").is_none());
    app.patch(&note_path, &app.root, json!({ "title": null })).await.expect(422);
    app.patch(&note_path, &app.root, json!({ "nope": 1 })).await.expect(422);
    assert_eq!(app.get(&note_path, &app.root).await.body["version"], 3);
    // A referenced record cannot be deleted.
    let note2 =
        app.post(&data(&co, "note"), &app.root, json!({ "title": "D", "notebook": book_id })).await.expect(201).clone();
    let book_path = format!("{}/{book_id}", data(&co, "notebook"));
    app.delete(&book_path, &app.root).await.expect(409);
    app.delete(&format!("{}/{}", data(&co, "note"), note2["id"].as_str().unwrap()), &app.root).await.expect(204);
    let stale = app
        .client
        .delete(format!("{}{book_path}", app.base))
        .bearer_auth(&app.root)
        .header("if-match", "\"7\"")
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status().as_u16(), 409);
    app.delete(&book_path, &app.root).await.expect(204);
    app.get(&book_path, &app.root).await.expect(404);
    let bad_match = app
        .client
        .delete(format!("{}{note_path}", app.base))
        .bearer_auth(&app.root)
        .header("if-match", "yesterday")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_match.status().as_u16(), 400);
}

async fn seed(app: &TestApp, co: &str) {
    let notes = [
        ("Alpha report", "high", Some("2026-01-10"), 120, "10.00"),
        ("Beta call", "low", Some("2026-03-01"), 5, "0.50"),
        ("Gamma review", "normal", None, 40, "99.99"),
        ("alpha follow-up", "normal", Some("2026-02-15"), 12, "5.25"),
        ("Delta plan", "high", Some("2026-01-31"), 300, "1000.01"),
        ("Epsilon notes", "low", None, 0, "0"),
    ];
    for (title, priority, due, words, cost) in notes {
        let mut body = json!({ "title": title, "priority": priority, "words": words, "cost": cost });
        if let Some(d) = due {
            body["due"] = json!(d);
        }
        app.post(&data(co, "note"), &app.root, body).await.expect(201);
    }
}

async fn titles(app: &TestApp, co: &str, query: Value) -> Vec<String> {
    let r = app.post(&format!("{}/query", data(co, "note")), &app.root, query.clone()).await;
    r.expect(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["data"]["title"].as_str().unwrap().to_string())
        .collect()
}

async fn queries_filter_sort_and_page(app: &TestApp) {
    let co = with_notes(app, &[]).await;
    seed(app, &co).await;
    let f = |field: &str, op: &str, value: Value| json!({ "filter": { "field": field, "op": op, "value": value }, "sort": { "field": "title" } });
    // (query, expected titles in order)
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (f("priority", "eq", json!("high")), vec!["Alpha report", "Delta plan"]),
        (f("priority", "ne", json!("low")), vec!["Alpha report", "Delta plan", "Gamma review", "alpha follow-up"]),
        (f("words", "gt", json!(40)), vec!["Alpha report", "Delta plan"]),
        (f("words", "gte", json!(40)), vec!["Alpha report", "Delta plan", "Gamma review"]),
        (f("words", "lt", json!(12)), vec!["Beta call", "Epsilon notes"]),
        (f("words", "lte", json!(12)), vec!["Beta call", "Epsilon notes", "alpha follow-up"]),
        (f("due", "lt", json!("2026-02-01")), vec!["Alpha report", "Delta plan"]),
        (
            f("priority", "in", json!(["low", "normal"])),
            vec!["Beta call", "Epsilon notes", "Gamma review", "alpha follow-up"],
        ),
        (f("title", "prefix", json!("Al")), vec!["Alpha report"]),
        (f("title", "contains", json!("ALPHA")), vec!["Alpha report", "alpha follow-up"]),
        (f("cost", "gte", json!("99.99")), vec!["Delta plan", "Gamma review"]),
        (
            json!({ "filter": { "or": [ { "field": "priority", "op": "eq", "value": "high" }, { "and": [ { "field": "words", "op": "lt", "value": 10 }, { "field": "due", "op": "gte", "value": "2026-01-01" } ] } ] }, "sort": { "field": "title" } }),
            vec!["Alpha report", "Beta call", "Delta plan"],
        ),
        (
            json!({ "sort": { "field": "words", "desc": true }, "limit": 3 }),
            vec!["Delta plan", "Alpha report", "Gamma review"],
        ),
        (
            json!({ "sort": { "field": "due" } }),
            vec!["Alpha report", "Delta plan", "alpha follow-up", "Beta call", "Gamma review", "Epsilon notes"],
        ),
        (
            json!({ "sort": { "field": "due", "desc": true } }),
            vec!["Beta call", "alpha follow-up", "Delta plan", "Alpha report", "Epsilon notes", "Gamma review"],
        ),
    ];
    for (query, expected) in cases {
        assert_eq!(titles(app, &co, query.clone()).await, expected, "{query}");
    }
    // Paging through a sort with missing values visits every record exactly once, in order.
    for desc in [false, true] {
        let mut seen = Vec::new();
        let mut cursor = Value::Null;
        loop {
            let mut q = json!({ "sort": { "field": "due", "desc": desc }, "limit": 2 });
            if !cursor.is_null() {
                q["cursor"] = cursor.clone();
            }
            let r = app.post(&format!("{}/query", data(&co, "note")), &app.root, q).await;
            let body = r.expect(200).clone();
            seen.extend(
                body["items"].as_array().unwrap().iter().map(|i| i["data"]["title"].as_str().unwrap().to_string()),
            );
            cursor = body["next_cursor"].clone();
            if cursor.is_null() {
                break;
            }
        }
        let all = titles(app, &co, json!({ "sort": { "field": "due", "desc": desc } })).await;
        assert_eq!(seen, all, "pages in order, desc={desc}");
    }
    // Bad queries are 422 with the place named.
    let bad = [
        json!({ "filter": { "field": "nope", "op": "eq", "value": 1 } }),
        json!({ "filter": { "field": "words", "op": "eq", "value": "many" } }),
        json!({ "filter": { "field": "words", "op": "like", "value": 1 } }),
        json!({ "filter": { "and": [] } }),
        json!({ "sort": { "field": "body" } }),
        json!({ "limit": 0 }),
        json!({ "cursor": "not-a-cursor" }),
    ];
    for q in bad {
        let r = app.post(&format!("{}/query", data(&co, "note")), &app.root, q.clone()).await;
        r.expect(422);
        assert!(!r.body["error"]["fields"].as_array().unwrap().is_empty(), "{q}: {}", r.body);
    }
    app.post(&format!("{}/query", data(&co, "note")), &app.root, json!({ "unknown": 1 })).await.expect(422);
    // A cursor from one sort does not fit another.
    let by_words = app
        .post(&format!("{}/query", data(&co, "note")), &app.root, json!({ "sort": { "field": "words" }, "limit": 2 }))
        .await;
    let cursor = by_words.expect(200)["next_cursor"].as_str().unwrap().to_string();
    let mixed = app
        .post(
            &format!("{}/query", data(&co, "note")),
            &app.root,
            json!({ "sort": { "field": "title" }, "cursor": cursor }),
        )
        .await;
    mixed.expect(422);
}

async fn aggregates_are_exact(app: &TestApp) {
    let co = with_notes(app, &[]).await;
    seed(app, &co).await;
    let r = app
        .post(
            &format!("{}/aggregate", data(&co, "note")),
            &app.root,
            json!({
                "group_by": ["priority"],
                "metrics": [
                    { "op": "count" },
                    { "op": "sum", "field": "cost" },
                    { "op": "sum", "field": "words" },
                    { "op": "avg", "field": "cost", "as": "avg_cost" },
                    { "op": "min", "field": "due" },
                    { "op": "max", "field": "words" }
                ]
            }),
        )
        .await;
    let groups = r.expect(200)["groups"].as_array().unwrap().clone();
    let by = |p: &str| groups.iter().find(|g| g["key"]["priority"] == p).unwrap()["values"].clone();
    assert_eq!(
        by("high"),
        json!({ "count": 2, "sum_cost": "1010.01", "sum_words": 420, "avg_cost": "505.005", "min_due": "2026-01-10", "max_words": 300 })
    );
    assert_eq!(by("normal")["sum_cost"], "105.24");
    assert_eq!(by("low")["avg_cost"], "0.25");
    // Filter plus a single group over everything.
    let total = app
        .post(
            &format!("{}/aggregate", data(&co, "note")),
            &app.root,
            json!({ "filter": { "field": "priority", "op": "ne", "value": "low" }, "metrics": [{ "op": "sum", "field": "cost" }, { "op": "count" }] }),
        )
        .await;
    assert_eq!(total.expect(200)["groups"], json!([{ "key": {}, "values": { "sum_cost": "1115.25", "count": 4 } }]));
    let bad = app
        .post(
            &format!("{}/aggregate", data(&co, "note")),
            &app.root,
            json!({ "metrics": [{ "op": "sum", "field": "title" }] }),
        )
        .await;
    bad.expect(422);
}

async fn sensitive_fields_need_their_permission(app: &TestApp) {
    let (_, anna) = app.user("anna@example.com").await;
    let co = with_notes(app, &[("anna@example.com", "member")]).await;
    let made = app
        .post(&data(&co, "note"), &app.root, json!({ "title": "Salary review", "secret": "Ivanov earns more" }))
        .await;
    let id = made.expect(201)["id"].as_str().unwrap().to_string();
    assert_eq!(made.body["data"]["secret"], "Ivanov earns more", "owners see everything");
    let path = format!("{}/{id}", data(&co, "note"));
    let seen = app.get(&path, &anna).await;
    assert_eq!(seen.expect(200)["data"]["title"], "Salary review");
    assert!(seen.body["data"].get("secret").is_none(), "members without notes.note.private do not see it");
    let listed = app.get(&data(&co, "note"), &anna).await;
    assert!(listed.expect(200)["items"][0]["data"].get("secret").is_none());
    let q = app.post(&format!("{}/query", data(&co, "note")), &anna, json!({})).await;
    assert!(q.expect(200)["items"][0]["data"].get("secret").is_none());
    // Probing the hidden field is refused, not answered.
    let probe = app
        .post(
            &format!("{}/query", data(&co, "note")),
            &anna,
            json!({ "filter": { "field": "secret", "op": "contains", "value": "Ivanov" } }),
        )
        .await;
    probe.expect(403);
    let group = app
        .post(
            &format!("{}/aggregate", data(&co, "note")),
            &anna,
            json!({ "group_by": ["secret"], "metrics": [{ "op": "count" }] }),
        )
        .await;
    group.expect(403);
    app.patch(&path, &anna, json!({ "secret": "overwritten" })).await.expect(403);
    // Other fields stay editable, and the hidden value survives.
    app.patch(&path, &anna, json!({ "title": "Salary review 2027" })).await.expect(200);
    assert_eq!(app.get(&path, &app.root).await.body["data"]["secret"], "Ivanov earns more");
    // Granting the permission through a custom role reveals it.
    app.post(
        &format!("/api/v1/companies/{co}/roles"),
        &app.root,
        json!({ "name": "hr", "permissions": ["notes.note.read", "notes.note.private"] }),
    )
    .await
    .expect(201);
    let anna_id = app.get("/api/v1/me", &anna).await.body["id"].as_str().unwrap().to_string();
    app.patch(&format!("/api/v1/companies/{co}/members/{anna_id}"), &app.root, json!({ "role": "hr" }))
        .await
        .expect(200);
    assert_eq!(app.get(&path, &anna).await.body["data"]["secret"], "Ivanov earns more");
}

async fn record_permissions_follow_roles(app: &TestApp) {
    let (_, anna) = app.user("anna@example.com").await;
    let (_, bob) = app.user("bob@example.com").await;
    let co = with_notes(app, &[("anna@example.com", "member"), ("bob@example.com", "member")]).await;
    // Members hold notes' default permissions.
    app.post(&data(&co, "note"), &anna, json!({ "title": "Mine" })).await.expect(201);
    // A custom role without them sees nothing.
    app.post(
        &format!("/api/v1/companies/{co}/roles"),
        &app.root,
        json!({ "name": "guest", "permissions": ["kernel.company.read"] }),
    )
    .await
    .expect(201);
    let bob_id = app.get("/api/v1/me", &bob).await.body["id"].as_str().unwrap().to_string();
    app.patch(&format!("/api/v1/companies/{co}/members/{bob_id}"), &app.root, json!({ "role": "guest" }))
        .await
        .expect(200);
    app.get(&data(&co, "note"), &bob).await.expect(403);
    app.post(&data(&co, "note"), &bob, json!({ "title": "Nope" })).await.expect(403);
    app.post(&format!("/api/v1/companies/{co}/plugins/notes/commands/stats"), &bob, json!({})).await.expect(403);
    // A read-only role reads but cannot write.
    app.post(
        &format!("/api/v1/companies/{co}/roles"),
        &app.root,
        json!({ "name": "reader", "permissions": ["notes.note.read"] }),
    )
    .await
    .expect(201);
    app.patch(&format!("/api/v1/companies/{co}/members/{bob_id}"), &app.root, json!({ "role": "reader" }))
        .await
        .expect(200);
    assert_eq!(app.get(&data(&co, "note"), &bob).await.expect(200)["items"].as_array().unwrap().len(), 1);
    app.post(&data(&co, "note"), &bob, json!({ "title": "Nope" })).await.expect(403);
    // Write without read: a change would show the record, so it is refused.
    app.post(
        &format!("/api/v1/companies/{co}/roles"),
        &app.root,
        json!({ "name": "scribe", "permissions": ["notes.note.write"] }),
    )
    .await
    .expect(201);
    app.patch(&format!("/api/v1/companies/{co}/members/{bob_id}"), &app.root, json!({ "role": "scribe" }))
        .await
        .expect(200);
    let note = app.get(&data(&co, "note"), &app.root).await.body["items"][0]["id"].as_str().unwrap().to_string();
    app.patch(&format!("{}/{note}", data(&co, "note")), &bob, json!({})).await.expect(403);
    // The event log shows record fields only to those who may read the collection.
    app.post(
        &format!("/api/v1/companies/{co}/roles"),
        &app.root,
        json!({ "name": "watcher", "permissions": ["kernel.events.read"] }),
    )
    .await
    .expect(201);
    app.patch(&format!("/api/v1/companies/{co}/members/{bob_id}"), &app.root, json!({ "role": "watcher" }))
        .await
        .expect(200);
    let log = app.get(&format!("/api/v1/companies/{co}/events?name=notes.note.created"), &bob).await;
    let payload = log.expect(200)["items"][0]["payload"].clone();
    assert!(payload["id"].is_string() && payload.get("after").is_none(), "{payload}");
    app.get(&format!("/api/v1/companies/{co}/events"), &anna).await.expect(403);
    // Someone who manages members but holds less than an admin cannot demote one.
    app.post(
        &format!("/api/v1/companies/{co}/roles"),
        &app.root,
        json!({ "name": "hr", "permissions": ["kernel.members.manage", "kernel.members.read"] }),
    )
    .await
    .expect(201);
    let anna_id = app.get("/api/v1/me", &anna).await.body["id"].as_str().unwrap().to_string();
    app.patch(&format!("/api/v1/companies/{co}/members/{anna_id}"), &app.root, json!({ "role": "admin" }))
        .await
        .expect(200);
    app.patch(&format!("/api/v1/companies/{co}/members/{bob_id}"), &app.root, json!({ "role": "hr" }))
        .await
        .expect(200);
    app.patch(&format!("/api/v1/companies/{co}/members/{anna_id}"), &bob, json!({ "role": "member" }))
        .await
        .expect(403);
    app.delete(&format!("/api/v1/companies/{co}/members/{anna_id}"), &bob).await.expect(403);
    // Refusals are audited.
    let log = app.get(&format!("/api/v1/companies/{co}/audit"), &app.root).await;
    assert!(
        log.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["action"] == "record.create" && r["outcome"] == "denied")
    );
}

async fn commands_validate_input_and_check_permissions(app: &TestApp) {
    let co = with_notes(app, &[]).await;
    let note = app
        .post(
            &data(&co, "note"),
            &app.root,
            json!({ "title": "Old", "pinned": true, "priority": "high", "due": "2026-12-01" }),
        )
        .await
        .expect(201)
        .clone();
    let id = note["id"].as_str().unwrap();
    let cmd = format!("/api/v1/companies/{co}/plugins/notes/commands");
    let missing = app.post(&format!("{cmd}/archive"), &app.root, json!({})).await;
    missing.expect(422);
    assert_eq!(field_names(&missing.body), vec!["id"]);
    app.post(&format!("{cmd}/archive"), &app.root, json!({ "id": 5 })).await.expect(422);
    app.post(&format!("{cmd}/nothing"), &app.root, json!({})).await.expect(404);
    let done = app.post(&format!("{cmd}/archive"), &app.root, json!({ "id": id })).await;
    assert_eq!(done.expect(200)["version"], 2);
    let now = app.get(&format!("{}/{id}", data(&co, "note")), &app.root).await;
    assert_eq!(now.body["data"]["priority"], "low");
    assert_eq!(now.body["data"]["pinned"], false);
    // The plugin's event and the record events are in the log, committed with the change.
    let db = app.db.clone();
    let names: Vec<String> = tokio::task::spawn_blocking(move || {
        use diesel::prelude::*;
        use erp_kernel::storage::schema::events;
        db.read_blocking(|conn| {
            events::table
                .order(events::id.asc())
                .select(events::name)
                .load::<String>(conn)
                .map_err(erp_kernel::storage::StoreError::from)
        })
    })
    .await
    .unwrap()
    .unwrap();
    assert!(names.ends_with(&["notes.note.updated".to_string(), "notes.note.archived".to_string()]), "{names:?}");
    assert!(names.contains(&"kernel.plugin.enabled".to_string()));
    // A command for a missing record is the plugin's not-found, passed on.
    let gone =
        app.post(&format!("{cmd}/archive"), &app.root, json!({ "id": "0190f4a2-0000-7000-8000-00000000abcd" })).await;
    gone.expect(404);
    assert_eq!(gone.body["error"]["plugin"], "notes");
}

async fn webhooks_need_the_company_secret(app: &TestApp) {
    let co = with_notes(app, &[]).await;
    let other = app.company("Globex", &[]).await;
    app.enable(&other, "notes", json!({})).await.expect(200);
    let hook = |company: &str| format!("/api/v1/hooks/{company}/notes/inbound");
    let send = |path: String, secret: Option<&'static str>| async move {
        let mut req = app
            .client
            .post(format!("{}{path}", app.base))
            .header("content-type", "application/json")
            .body(r#"{"title": "From the web form"}"#);
        if let Some(s) = secret {
            req = req.header("x-webhook-secret", s);
        }
        req.send().await.unwrap()
    };
    // No secret set yet: refused.
    assert_eq!(send(hook(&co), Some("whatever-whatever-1")).await.status().as_u16(), 403);
    app.enable(&co, "notes", json!({ "webhook_secret": "s3cret-s3cret-s3cret" })).await.expect(200);
    app.enable(&co, "notes", json!({ "webhook_secret": "short" })).await.expect(422);
    let before = app.snapshot().await;
    assert_eq!(send(hook(&co), None).await.status().as_u16(), 403);
    assert_eq!(send(hook(&co), Some("wrong-wrong-wrong-wrong")).await.status().as_u16(), 403);
    // The right secret for another company does not open this one.
    assert_eq!(send(hook(&other), Some("s3cret-s3cret-s3cret")).await.status().as_u16(), 403);
    assert_eq!(
        send(format!("/api/v1/hooks/{co}/notes/outbound"), Some("s3cret-s3cret-s3cret")).await.status().as_u16(),
        404
    );
    assert_eq!(
        send(format!("/api/v1/hooks/{co}/ghost/inbound"), Some("s3cret-s3cret-s3cret")).await.status().as_u16(),
        404
    );
    assert_eq!(app.snapshot().await, before, "refused webhooks changed something");
    let ok = send(hook(&co), Some("s3cret-s3cret-s3cret")).await;
    assert_eq!(ok.status().as_u16(), 200);
    let body: Value = ok.json().await.unwrap();
    let got = app.get(&format!("{}/{}", data(&co, "note"), body["id"].as_str().unwrap()), &app.root).await;
    assert_eq!(got.expect(200)["data"]["title"], "From the web form");
    let bad = app.call_raw(Method::POST, &hook(&co), None, Some("application/json"), b"{".to_vec()).await;
    assert_eq!(bad.status.as_u16(), 403, "no secret, no parsing");
    // Listing shows that a secret is set, never the secret.
    let listed = app.get(&format!("/api/v1/companies/{co}/plugins"), &app.root).await;
    assert_eq!(listed.body["items"][0]["webhook_secret_set"], true);
    assert!(!listed.body.to_string().contains("s3cret"));
}

async fn plugins_reach_other_collections_only_when_granted(app: &TestApp) {
    let (_, manager) = app.user("manager@example.com").await;
    let co = with_notes(app, &[]).await;
    app.install(&package("spy")).await;
    // A plugin manager who cannot read notes cannot give a plugin notes either.
    app.post(
        &format!("/api/v1/companies/{co}/roles"),
        &app.root,
        json!({ "name": "plugin-admin", "permissions": ["kernel.plugins.manage", "spy.run"] }),
    )
    .await
    .expect(201);
    app.post(
        &format!("/api/v1/companies/{co}/members"),
        &app.root,
        json!({ "email": "manager@example.com", "role": "plugin-admin" }),
    )
    .await
    .expect(201);
    let r =
        app.put(&format!("/api/v1/companies/{co}/plugins/spy"), &manager, json!({ "grants": ["notes.note"] })).await;
    r.expect(403);
    assert!(r.body["error"]["message"].as_str().unwrap().contains("notes.note.read"), "{}", r.body);
    app.enable(&co, "spy", json!({})).await.expect(200);
    let book = app.post(&data(&co, "notebook"), &app.root, json!({ "name": "Private" })).await.expect(201).clone();
    let note = app
        .post(&data(&co, "note"), &app.root, json!({ "title": "Plan", "secret": "hidden" }))
        .await
        .expect(201)
        .clone();
    let run = |command: &'static str, input: Value| {
        let path = format!("/api/v1/companies/{co}/plugins/spy/commands/{command}");
        async move { app.post(&path, &app.root, input).await }
    };
    // Declared but not granted.
    let denied = run("read-note", json!({ "id": note["id"] })).await;
    denied.expect(403);
    assert!(denied.body["error"]["message"].as_str().unwrap().contains("not granted"), "{}", denied.body);
    app.enable(&co, "spy", json!({ "grants": ["notes.note"] })).await.expect(200);
    // Granted: readable, without sensitive fields (the capability does not ask for them).
    let read = run("read-note", json!({ "id": note["id"] })).await;
    assert_eq!(read.expect(200)["title"], "Plan");
    assert!(read.body.get("secret").is_none(), "{}", read.body);
    assert_eq!(run("count-notes", json!({})).await.expect(200)["count"], 1);
    // Not declared at all, or more access than declared: refused.
    run("read-notebook", json!({ "id": book["id"] })).await.expect(403);
    run("write-note", json!({})).await.expect(403);
    // Another company's records stay out of reach even with the grant.
    let other = app.company("Globex", &[]).await;
    app.enable(&other, "notes", json!({})).await.expect(200);
    let foreign =
        app.post(&data(&other, "note"), &app.root, json!({ "title": "Globex plan" })).await.expect(201).clone();
    run("read-note", json!({ "id": foreign["id"] })).await.expect(404);
    assert_eq!(run("count-notes", json!({})).await.expect(200)["count"], 1);
}
