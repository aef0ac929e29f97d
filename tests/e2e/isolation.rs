//! The cross-company matrix: for every company-scoped route, a member of company A using
//! company B's ids gets 404, exactly like a missing object, and nothing changes.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{Value, json};

use crate::both_backends;
use crate::support::TestApp;

both_backends!(cross_company_requests_are_not_found);

/// One company-scoped route with a valid body, so that only the company check can refuse it.
struct Entry {
    method: Method,
    path: &'static str,
    body: Option<Value>,
}

fn matrix() -> Vec<Entry> {
    let e = |method: Method, path: &'static str, body: Option<Value>| Entry { method, path, body };
    vec![
        e(Method::GET, "/api/v1/companies/{id}", None),
        e(Method::GET, "/api/v1/companies/{id}/members", None),
        e(Method::GET, "/api/v1/companies/{id}/people", None),
        e(Method::GET, "/api/v1/companies/{id}/profile", None),
        e(Method::GET, "/api/v1/companies/{id}/documents", None),
        e(Method::GET, "/api/v1/companies/{id}/documents/{plugin}/{document}/{language}", None),
        e(
            Method::PUT,
            "/api/v1/companies/{id}/documents/{plugin}/{document}/{language}",
            Some(json!({ "source": "Planted" })),
        ),
        e(Method::PUT, "/api/v1/companies/{id}/profile", Some(json!({ "name": "Planted", "time_zone": "UTC" }))),
        e(
            Method::POST,
            "/api/v1/companies/{id}/members",
            Some(json!({ "email": "a-friend@example.com", "role": "member" })),
        ),
        e(Method::PATCH, "/api/v1/companies/{id}/members/{user_id}", Some(json!({ "role": "member" }))),
        e(Method::DELETE, "/api/v1/companies/{id}/members/{user_id}", None),
        e(Method::GET, "/api/v1/companies/{id}/roles", None),
        e(Method::POST, "/api/v1/companies/{id}/roles", Some(json!({ "name": "spy", "permissions": [] }))),
        e(Method::PUT, "/api/v1/companies/{id}/roles/{name}", Some(json!({ "permissions": ["*"] }))),
        e(Method::DELETE, "/api/v1/companies/{id}/roles/{name}", None),
        e(Method::GET, "/api/v1/companies/{id}/audit", None),
        e(Method::GET, "/api/v1/companies/{id}/outbound", None),
        e(Method::GET, "/api/v1/companies/{id}/mail", None),
        e(
            Method::PUT,
            "/api/v1/companies/{id}/mail",
            Some(json!({ "smtp_host": "planted.example.com", "from_address": "a@planted.example.com" })),
        ),
        e(Method::DELETE, "/api/v1/companies/{id}/mail", None),
        e(Method::POST, "/api/v1/companies/{id}/mail/test", Some(json!({ "to": "a@planted.example.com" }))),
        e(Method::POST, "/api/v1/companies/{id}/mail/poll", None),
        e(Method::GET, "/api/v1/companies/{id}/mail/outbox", None),
        e(Method::GET, "/api/v1/companies/{id}/outgoing-webhooks", None),
        e(
            Method::POST,
            "/api/v1/companies/{id}/outgoing-webhooks",
            Some(json!({ "url": "https://planted.example.com/", "events": ["notes.note.*"] })),
        ),
        e(Method::GET, "/api/v1/companies/{id}/outgoing-webhooks/{webhook_id}", None),
        e(
            Method::PATCH,
            "/api/v1/companies/{id}/outgoing-webhooks/{webhook_id}",
            Some(json!({ "url": "https://planted.example.com/" })),
        ),
        e(Method::DELETE, "/api/v1/companies/{id}/outgoing-webhooks/{webhook_id}", None),
        e(Method::GET, "/api/v1/companies/{id}/plugins", None),
        e(Method::PUT, "/api/v1/companies/{id}/plugins/{name}", Some(json!({}))),
        e(Method::DELETE, "/api/v1/companies/{id}/plugins/{name}", None),
        e(Method::GET, "/api/v1/companies/{id}/usage", None),
        e(Method::POST, "/api/v1/companies/{id}/plugins/{name}/release", Some(json!({}))),
        e(Method::POST, "/api/v1/companies/{id}/plugins/{plugin}/commands/{command}", Some(json!({}))),
        e(Method::GET, "/api/v1/companies/{id}/data/{plugin}/{collection}", None),
        e(Method::POST, "/api/v1/companies/{id}/data/{plugin}/{collection}", Some(json!({ "title": "planted" }))),
        e(Method::GET, "/api/v1/companies/{id}/data/{plugin}/{collection}/{record_id}", None),
        e(
            Method::PATCH,
            "/api/v1/companies/{id}/data/{plugin}/{collection}/{record_id}",
            Some(json!({ "title": "changed" })),
        ),
        e(Method::DELETE, "/api/v1/companies/{id}/data/{plugin}/{collection}/{record_id}", None),
        e(Method::POST, "/api/v1/companies/{id}/data/{plugin}/{collection}/query", Some(json!({}))),
        e(
            Method::POST,
            "/api/v1/companies/{id}/data/{plugin}/{collection}/aggregate",
            Some(json!({ "metrics": [{ "op": "count" }] })),
        ),
        e(Method::GET, "/api/v1/companies/{id}/events", None),
        e(Method::POST, "/api/v1/companies/{id}/files", Some(json!({ "planted": true }))),
        e(Method::GET, "/api/v1/companies/{id}/files/{file_id}", None),
        e(Method::GET, "/api/v1/companies/{id}/notifications", None),
        e(Method::GET, "/api/v1/companies/{id}/notifications/{notification}", None),
        e(Method::POST, "/api/v1/companies/{id}/notifications/read", Some(json!({ "all": true }))),
        e(Method::GET, "/api/v1/companies/{id}/notifications/preferences", None),
        e(
            Method::PUT,
            "/api/v1/companies/{id}/notifications/preferences",
            Some(json!({ "kinds": [{ "kind": "notes.shared", "channel": "off" }] })),
        ),
        e(Method::GET, "/api/v1/companies/{id}/notifications/stream", None),
        e(Method::POST, "/api/v1/companies/{id}/events/{event_id}/replay", Some(json!({}))),
    ]
}

/// Every (method, path) the API documents under a company.
async fn company_routes(app: &TestApp) -> BTreeSet<(String, String)> {
    let doc = app.call(Method::GET, "/api/v1/openapi.json", None, None).await.expect(200).clone();
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        if !path.starts_with("/api/v1/companies/{id}") {
            continue;
        }
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                out.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

/// Company B's objects (or objects that exist only in B) to put into a route template.
struct Ids<'a> {
    company: &'a str,
    user: &'a str,
    role: &'a str,
    record: &'a str,
    event: &'a str,
    file: &'a str,
    notification: &'a str,
    webhook: &'a str,
}

fn fill(path: &str, ids: &Ids<'_>) -> String {
    let name = if path.contains("/roles/") { ids.role } else { "notes" };
    // An upload names its file in the query.
    let path = if path.ends_with("/files") { format!("{path}?name=planted.txt") } else { path.to_string() };
    path.replace("{id}", ids.company)
        .replace("{user_id}", ids.user)
        .replace("{name}", name)
        .replace("{plugin}", "notes")
        .replace("{collection}", "note")
        .replace("{command}", "stats")
        .replace("{document}", "invoice")
        .replace("{language}", "ru")
        .replace("{record_id}", ids.record)
        .replace("{event_id}", ids.event)
        .replace("{file_id}", ids.file)
        .replace("{notification}", ids.notification)
        .replace("{webhook_id}", ids.webhook)
}

/// Templates naming an object below the company, which may belong to another company.
fn names_an_object(path: &str) -> bool {
    path.contains("{user_id}")
        || path.contains("{record_id}")
        || path.contains("{event_id}")
        || path.contains("{file_id}")
        || path.contains("{notification}")
        || path.contains("{webhook_id}")
        || path.contains("/roles/{name}")
}

async fn cross_company_requests_are_not_found(app: &TestApp) {
    let listed: BTreeSet<(String, String)> =
        matrix().iter().map(|e| (e.method.to_string(), e.path.to_string())).collect();
    assert_eq!(company_routes(app).await, listed, "every company-scoped route needs an entry in the isolation matrix");

    app.user("a-friend@example.com").await;
    let (_, alice) = app.user("alice@a.example").await;
    let (_, bert) = app.user("bert@b.example").await;
    let (b_only_id, bea) = app.user("bea@b.example").await;
    let a = app.company("Company A", &[("alice@a.example", "owner")]).await;
    let b = app.company("Company B", &[("bert@b.example", "owner"), ("bea@b.example", "member")]).await;
    app.post(&format!("/api/v1/companies/{b}/roles"), &bert, json!({ "name": "b-secret", "permissions": [] }))
        .await
        .expect(201);
    let bert_id = app.get("/api/v1/me", &bert).await.body["id"].as_str().unwrap().to_string();
    app.install(&crate::support::package("notes")).await;
    app.enable(&a, "notes", json!({})).await.expect(200);
    app.enable(&b, "notes", json!({})).await.expect(200);
    let note =
        app.post(&format!("/api/v1/companies/{b}/data/notes/note"), &bert, json!({ "title": "B's secret plan" })).await;
    let b_note = note.expect(201)["id"].as_str().unwrap().to_string();
    let b_events = app.get(&format!("/api/v1/companies/{b}/events"), &bert).await;
    let b_event = b_events.expect(200)["items"][0]["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/companies/{b}/files?name=secret.txt");
    let file = app.call_raw(Method::POST, &path, Some(&bert), Some("text/plain"), b"B's secret".to_vec()).await;
    let b_file = file.expect(201)["id"].as_str().unwrap().to_string();
    let share = format!("/api/v1/companies/{b}/plugins/notes/commands/share");
    app.post(&share, &bert, json!({ "id": b_note, "user": b_only_id })).await.expect(200);
    let told = app.get(&format!("/api/v1/companies/{b}/notifications"), &bea).await;
    let b_notification = told.expect(200)["items"][0]["id"].as_str().unwrap().to_string();
    let hook = json!({ "url": "https://b.example.com/hooks", "events": ["notes.note.*"] });
    let hook = app.post(&format!("/api/v1/companies/{b}/outgoing-webhooks"), &bert, hook).await;
    let b_webhook = hook.expect(201)["id"].as_str().unwrap().to_string();

    let before = app.snapshot().await;
    for entry in matrix() {
        // Company B's ids with Alice's token.
        let path = fill(
            entry.path,
            &Ids {
                company: &b,
                user: &bert_id,
                role: "b-secret",
                record: &b_note,
                event: &b_event,
                file: &b_file,
                notification: &b_notification,
                webhook: &b_webhook,
            },
        );
        let r = app.call(entry.method.clone(), &path, Some(&alice), entry.body.clone()).await;
        assert_eq!(r.status.as_u16(), 404, "{} {path}: {}", entry.method, r.body);
        assert_eq!(r.code(), "not_found");
        // Alice's own company with objects that only exist in company B.
        if names_an_object(entry.path) {
            let path = fill(
                entry.path,
                &Ids {
                    company: &a,
                    user: &b_only_id,
                    role: "b-secret",
                    record: &b_note,
                    event: &b_event,
                    file: &b_file,
                    notification: &b_notification,
                    webhook: &b_webhook,
                },
            );
            let r = app.call(entry.method.clone(), &path, Some(&alice), entry.body.clone()).await;
            assert_eq!(r.status.as_u16(), 404, "{} {path}: {}", entry.method, r.body);
        }
    }
    assert_eq!(app.snapshot().await, before, "cross-company requests changed data");
    // Company B is intact from its own side.
    let members = app.get(&format!("/api/v1/companies/{b}/members"), &bert).await;
    assert_eq!(members.expect(200)["items"].as_array().unwrap().len(), 3);
    let kept = app.get(&format!("/api/v1/companies/{b}/data/notes/note/{b_note}"), &bert).await;
    assert_eq!(kept.expect(200)["data"]["title"], "B's secret plan");
    // Alice sees her own company's notes only.
    let mine = app.get(&format!("/api/v1/companies/{a}/data/notes/note"), &alice).await;
    assert_eq!(mine.expect(200)["items"], json!([]));
}
