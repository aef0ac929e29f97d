//! Login, tokens, users, throttling and what identity stores.

use diesel::prelude::*;
use reqwest::Method;
use serde_json::json;

use crate::both_backends;
use crate::support::{PASSWORD, TestApp};

both_backends!(
    health_and_login,
    me_shows_companies_and_roles,
    users_are_created_by_operators_only,
    api_tokens_work_until_revoked,
    failed_logins_are_throttled,
    stored_secrets_are_hashed
);

async fn health_and_login(app: &TestApp) {
    let h = app.call(Method::GET, "/health", None, None).await;
    assert_eq!(h.expect(200)["status"], "ok");
    assert!(h.headers.contains_key("x-request-id"), "every answer carries a request id");

    let ok = app
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({ "email": "ROOT@example.com ", "password": PASSWORD })),
        )
        .await;
    let token = ok.expect(200)["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("erp_"), "recognisable prefix: {token}");
    assert!(token.len() >= 4 + 22, "at least 128 bits of entropy");
    app.get("/api/v1/me", &token).await.expect(200);

    let wrong = app
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({ "email": "root@example.com", "password": "nope-nope" })),
        )
        .await;
    wrong.expect(401);
    assert_eq!(wrong.code(), "invalid_credentials");
    let unknown = app
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({ "email": "ghost@example.com", "password": PASSWORD })),
        )
        .await;
    unknown.expect(401);
    assert_eq!(unknown.code(), "invalid_credentials");
}

async fn me_shows_companies_and_roles(app: &TestApp) {
    let (anna_id, anna) = app.user("anna@example.com").await;
    let acme = app.company("Acme", &[("anna@example.com", "member")]).await;
    let globex = app.company("Globex", &[("anna@example.com", "admin")]).await;
    let _other = app.company("Initech", &[]).await;
    let me = app.get("/api/v1/me", &anna).await;
    let body = me.expect(200);
    assert_eq!(body["id"], anna_id.as_str());
    assert_eq!(body["email"], "anna@example.com");
    assert_eq!(body["is_superadmin"], false);
    let mut seen: Vec<(String, String)> = body["companies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_str().unwrap().to_string(), c["role"].as_str().unwrap().to_string()))
        .collect();
    seen.sort();
    let mut expected = vec![(acme, "member".to_string()), (globex, "admin".to_string())];
    expected.sort();
    assert_eq!(seen, expected, "exactly the companies Anna belongs to");
    app.call(Method::GET, "/api/v1/me", None, None).await.expect(401);
}

async fn users_are_created_by_operators_only(app: &TestApp) {
    let (_, anna) = app.user("anna@example.com").await;
    let denied = app
        .post("/api/v1/users", &anna, json!({ "email": "bob@example.com", "password": PASSWORD, "name": "Bob" }))
        .await;
    denied.expect(403);
    let dup = app
        .post(
            "/api/v1/users",
            &app.root,
            json!({ "email": "Anna@Example.com", "password": PASSWORD, "name": "Anna 2" }),
        )
        .await;
    dup.expect(409);
    let bad =
        app.post("/api/v1/users", &app.root, json!({ "email": "not-an-email", "password": "short", "name": "" })).await;
    bad.expect(422);
    let fields: Vec<&str> =
        bad.body["error"]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert_eq!(fields, vec!["email", "name", "password"], "every problem is reported at once");
    let op = app
        .post(
            "/api/v1/users",
            &app.root,
            json!({ "email": "op@example.com", "password": PASSWORD, "name": "Op", "is_superadmin": true }),
        )
        .await;
    op.expect(201);
    let op_token = app.login("op@example.com", PASSWORD).await;
    app.post("/api/v1/users", &op_token, json!({ "email": "carl@example.com", "password": PASSWORD, "name": "Carl" }))
        .await
        .expect(201);
}

async fn api_tokens_work_until_revoked(app: &TestApp) {
    let (_, anna) = app.user("anna@example.com").await;
    let made = app.post("/api/v1/auth/tokens", &anna, json!({ "name": "integration", "expires_in_days": 30 })).await;
    let body = made.expect(201).clone();
    let api = body["token"].as_str().unwrap().to_string();
    let api_id = body["id"].as_str().unwrap().to_string();
    assert!(body["expires_at"].is_string());
    app.get("/api/v1/me", &api).await.expect(200);

    let list = app.get("/api/v1/auth/tokens", &anna).await;
    let items = list.expect(200)["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 2, "the login session and the API token");
    assert!(items.iter().all(|t| t.get("token").is_none()), "secrets are never listed");
    assert!(items.iter().any(|t| t["kind"] == "api" && t["name"] == "integration"));

    // Someone else cannot revoke Anna's token, nor learn that it exists.
    let (_, bob) = app.user("bob@example.com").await;
    app.delete(&format!("/api/v1/auth/tokens/{api_id}"), &bob).await.expect(404);
    app.get("/api/v1/me", &api).await.expect(200);

    app.delete(&format!("/api/v1/auth/tokens/{api_id}"), &anna).await.expect(204);
    let after = app.get("/api/v1/me", &api).await;
    after.expect(401);
    assert_eq!(after.code(), "unauthenticated");
    app.delete(&format!("/api/v1/auth/tokens/{api_id}"), &anna).await.expect(404);

    // Logging out revokes the session token itself.
    app.call(Method::DELETE, "/api/v1/auth/tokens", Some(&anna), None).await.expect(204);
    app.get("/api/v1/me", &anna).await.expect(401);

    let bad = app.post("/api/v1/auth/tokens", &bob, json!({ "name": "", "expires_in_days": 0 })).await;
    bad.expect(422);
    assert_eq!(bad.body["error"]["fields"].as_array().unwrap().len(), 2);
}

async fn failed_logins_are_throttled(app: &TestApp) {
    app.user("anna@example.com").await;
    app.user("bob@example.com").await;
    for _ in 0..5 {
        app.call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({ "email": "anna@example.com", "password": "wrong-password" })),
        )
        .await
        .expect(401);
    }
    let locked = app
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({ "email": "anna@example.com", "password": PASSWORD })),
        )
        .await;
    locked.expect(429);
    let retry: u64 = locked.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=30).contains(&retry), "retry after {retry}");
    // Other accounts are not affected.
    app.login("bob@example.com", PASSWORD).await;

    // Once the lock has run out (moved into the past here), the right password works again
    // and resets the counter.
    let db = app.db.clone();
    tokio::task::spawn_blocking(move || {
        use erp_kernel::storage::schema::login_throttle;
        db.write_blocking(|conn| {
            diesel::update(login_throttle::table.filter(login_throttle::email.eq("anna@example.com")))
                .set(login_throttle::locked_until.eq(Some(1_i64)))
                .execute(conn)
                .map_err(erp_kernel::storage::StoreError::from)
        })
    })
    .await
    .unwrap()
    .unwrap();
    app.login("anna@example.com", PASSWORD).await;
    app.call(
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(json!({ "email": "anna@example.com", "password": "wrong-password" })),
    )
    .await
    .expect(401);
    app.login("anna@example.com", PASSWORD).await;
}

async fn stored_secrets_are_hashed(app: &TestApp) {
    let (_, anna) = app.user("anna@example.com").await;
    let api = app.post("/api/v1/auth/tokens", &anna, json!({ "name": "ci" })).await.expect(201)["token"]
        .as_str()
        .unwrap()
        .to_string();
    let snapshot = app.snapshot().await;
    let everything: String = snapshot.iter().flat_map(|(_, rows)| rows.iter()).cloned().collect::<Vec<_>>().join("\n");
    for secret in [&anna, &api, &app.root] {
        assert!(!everything.contains(secret.as_str()), "a raw token is stored in the database");
    }
    assert!(!everything.contains(PASSWORD), "a raw password is stored in the database");

    let db = app.db.clone();
    let hashes: Vec<String> = tokio::task::spawn_blocking(move || {
        use erp_kernel::storage::schema::users;
        db.read_blocking(|conn| {
            users::table
                .select(users::password_hash)
                .load::<String>(conn)
                .map_err(erp_kernel::storage::StoreError::from)
        })
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(hashes.len(), 2);
    for h in hashes {
        let parts: Vec<&str> = h.split('$').collect();
        assert_eq!(parts[1], "argon2id", "{h}");
        let params: std::collections::HashMap<&str, u32> =
            parts[3].split(',').map(|kv| kv.split_once('=').unwrap()).map(|(k, v)| (k, v.parse().unwrap())).collect();
        assert!(params["m"] >= 19_456 && params["t"] >= 2 && params["p"] >= 1, "{h}");
    }
}
