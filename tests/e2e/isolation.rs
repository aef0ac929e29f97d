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

fn fill(path: &str, company: &str, user: &str, role: &str) -> String {
    path.replace("{id}", company).replace("{user_id}", user).replace("{name}", role)
}

async fn cross_company_requests_are_not_found(app: &TestApp) {
    let listed: BTreeSet<(String, String)> =
        matrix().iter().map(|e| (e.method.to_string(), e.path.to_string())).collect();
    assert_eq!(company_routes(app).await, listed, "every company-scoped route needs an entry in the isolation matrix");

    app.user("a-friend@example.com").await;
    let (_, alice) = app.user("alice@a.example").await;
    let (_, bert) = app.user("bert@b.example").await;
    let (b_only_id, _) = app.user("bea@b.example").await;
    let a = app.company("Company A", &[("alice@a.example", "owner")]).await;
    let b = app.company("Company B", &[("bert@b.example", "owner"), ("bea@b.example", "member")]).await;
    app.post(&format!("/api/v1/companies/{b}/roles"), &bert, json!({ "name": "b-secret", "permissions": [] }))
        .await
        .expect(201);
    let bert_id = app.get("/api/v1/me", &bert).await.body["id"].as_str().unwrap().to_string();

    let before = app.snapshot().await;
    for entry in matrix() {
        // Company B's ids with Alice's token.
        let path = fill(entry.path, &b, &bert_id, "b-secret");
        let r = app.call(entry.method.clone(), &path, Some(&alice), entry.body.clone()).await;
        assert_eq!(r.status.as_u16(), 404, "{} {path}: {}", entry.method, r.body);
        assert_eq!(r.code(), "not_found");
        // Alice's own company with objects that only exist in company B.
        if entry.path.contains("{user_id}") || entry.path.contains("{name}") {
            let path = fill(entry.path, &a, &b_only_id, "b-secret");
            let r = app.call(entry.method.clone(), &path, Some(&alice), entry.body.clone()).await;
            assert_eq!(r.status.as_u16(), 404, "{} {path}: {}", entry.method, r.body);
        }
    }
    assert_eq!(app.snapshot().await, before, "cross-company requests changed data");
    // Company B is intact from its own side.
    let members = app.get(&format!("/api/v1/companies/{b}/members"), &bert).await;
    assert_eq!(members.expect(200)["items"].as_array().unwrap().len(), 3);
}
