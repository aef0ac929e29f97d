//! Companies, members, roles and the audit log.

use serde_json::{Value, json};

use crate::both_backends;
use crate::support::TestApp;

both_backends!(
    companies_are_created_and_listed,
    members_are_managed_with_owner_rules,
    custom_roles_grant_exactly_their_permissions,
    audit_records_every_change_and_refusal,
    lists_paginate_with_cursors
);

async fn companies_are_created_and_listed(app: &TestApp) {
    let (_, anna) = app.user("anna@example.com").await;
    app.post("/api/v1/companies", &anna, json!({ "name": "Nope" })).await.expect(403);
    app.post("/api/v1/companies", &app.root, json!({ "name": "   " })).await.expect(422);
    let made = app.post("/api/v1/companies", &app.root, json!({ "name": "Acme Trading" })).await;
    let body = made.expect(201).clone();
    assert_eq!(body["name"], "Acme Trading");
    assert_eq!(body["role"], "owner", "the creator becomes owner");
    let id = body["id"].as_str().unwrap();
    let got = app.get(&format!("/api/v1/companies/{id}"), &app.root).await;
    assert_eq!(got.expect(200)["name"], "Acme Trading");
    let list = app.get("/api/v1/companies", &app.root).await;
    assert_eq!(list.expect(200)["items"].as_array().unwrap().len(), 1);
    // Not a member: not found, exactly like a company that does not exist.
    app.get(&format!("/api/v1/companies/{id}"), &anna).await.expect(404);
    app.get("/api/v1/companies/0190f4a2-0000-7000-8000-000000000000", &app.root).await.expect(404);
    app.get("/api/v1/companies/not-a-uuid", &app.root).await.expect(404);
    assert_eq!(app.get("/api/v1/companies", &anna).await.expect(200)["items"], json!([]));
}

async fn members_are_managed_with_owner_rules(app: &TestApp) {
    let (anna_id, anna) = app.user("anna@example.com").await;
    let (bob_id, bob) = app.user("bob@example.com").await;
    app.user("carl@example.com").await;
    let co = app.company("Acme", &[("anna@example.com", "admin"), ("bob@example.com", "member")]).await;
    let members = format!("/api/v1/companies/{co}/members");

    // Admin Anna adds Carl; duplicates, unknown users and unknown roles are refused.
    let carl = app.post(&members, &anna, json!({ "email": "carl@example.com", "role": "member" })).await;
    assert_eq!(carl.expect(201)["role"], "member");
    let carl_id = carl.body["user_id"].as_str().unwrap().to_string();
    app.post(&members, &anna, json!({ "email": "carl@example.com", "role": "member" })).await.expect(409);
    let ghost = app.post(&members, &anna, json!({ "email": "ghost@example.com", "role": "member" })).await;
    ghost.expect(422);
    assert_eq!(ghost.body["error"]["fields"][0]["field"], "email");
    let role = app.post(&members, &anna, json!({ "email": "carl@example.com", "role": "emperor" })).await;
    role.expect(422);

    // Only owners make owners; plain members cannot manage members at all.
    app.patch(&format!("{members}/{carl_id}"), &anna, json!({ "role": "owner" })).await.expect(403);
    app.patch(&format!("{members}/{carl_id}"), &bob, json!({ "role": "admin" })).await.expect(403);
    app.post(&members, &bob, json!({ "email": "carl@example.com", "role": "member" })).await.expect(403);
    let promoted = app.patch(&format!("{members}/{carl_id}"), &anna, json!({ "role": "admin" })).await;
    assert_eq!(promoted.expect(200)["role"], "admin");

    let list = app.get(&members, &bob).await;
    let mut roles: Vec<(String, String)> = list.expect(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["email"].as_str().unwrap().to_string(), m["role"].as_str().unwrap().to_string()))
        .collect();
    roles.sort();
    assert_eq!(
        roles,
        vec![
            ("anna@example.com".into(), "admin".into()),
            ("bob@example.com".into(), "member".into()),
            ("carl@example.com".into(), "admin".into()),
            ("root@example.com".into(), "owner".into()),
        ]
    );

    // The last owner can neither be demoted nor removed; admins cannot touch owners.
    let root_id = app.get("/api/v1/me", &app.root).await.body["id"].as_str().unwrap().to_string();
    app.patch(&format!("{members}/{root_id}"), &app.root, json!({ "role": "admin" })).await.expect(409);
    app.delete(&format!("{members}/{root_id}"), &app.root).await.expect(409);
    app.delete(&format!("{members}/{root_id}"), &anna).await.expect(403);
    app.patch(&format!("{members}/{anna_id}"), &app.root, json!({ "role": "owner" })).await.expect(200);
    app.patch(&format!("{members}/{root_id}"), &anna, json!({ "role": "admin" })).await.expect(200);

    // Bob may leave on his own; Carl is removed by an owner; then they lose access.
    app.delete(&format!("{members}/{bob_id}"), &bob).await.expect(204);
    app.get(&format!("/api/v1/companies/{co}"), &bob).await.expect(404);
    app.delete(&format!("{members}/{carl_id}"), &anna).await.expect(204);
    app.delete(&format!("{members}/{carl_id}"), &anna).await.expect(404);
}

async fn custom_roles_grant_exactly_their_permissions(app: &TestApp) {
    app.user("anna@example.com").await;
    let (_, bob) = app.user("bob@example.com").await;
    let co = app.company("Acme", &[("anna@example.com", "member"), ("bob@example.com", "member")]).await;
    let roles = format!("/api/v1/companies/{co}/roles");

    let list = app.get(&roles, &bob).await;
    let names: Vec<&str> =
        list.expect(200)["items"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["owner", "admin", "member"]);

    let auditor = json!({ "name": "auditor", "description": "Reads the audit log", "permissions": ["kernel.company.read", "kernel.audit.read", "kernel.audit.read"] });
    app.post(&roles, &bob, auditor.clone()).await.expect(403);
    let made = app.post(&roles, &app.root, auditor.clone()).await;
    assert_eq!(made.expect(201)["permissions"], json!(["kernel.audit.read", "kernel.company.read"]));
    app.post(&roles, &app.root, auditor).await.expect(409);
    let bad = app.post(&roles, &app.root, json!({ "name": "Bad Name", "permissions": ["ok.perm", "Not Valid"] })).await;
    bad.expect(422);
    assert_eq!(bad.body["error"]["fields"].as_array().unwrap().len(), 2);
    app.post(&roles, &app.root, json!({ "name": "owner", "permissions": [] })).await.expect(422);
    app.put(&format!("{roles}/member"), &app.root, json!({ "permissions": ["*"] })).await.expect(409);

    // Bob cannot read the audit log until he holds the auditor role.
    let audit = format!("/api/v1/companies/{co}/audit");
    app.get(&audit, &bob).await.expect(403);
    let bob_id = app.get("/api/v1/me", &bob).await.body["id"].as_str().unwrap().to_string();
    app.patch(&format!("/api/v1/companies/{co}/members/{bob_id}"), &app.root, json!({ "role": "auditor" }))
        .await
        .expect(200);
    app.get(&audit, &bob).await.expect(200);
    // ...and the role gives nothing else.
    app.get(&format!("/api/v1/companies/{co}/members"), &bob).await.expect(403);

    // A role manager cannot hand out more than they hold.
    app.post(&roles, &app.root, json!({ "name": "rolesmith", "permissions": ["kernel.roles.manage", "kernel.roles.read", "kernel.members.manage"] })).await.expect(201);
    let anna_id =
        app.get("/api/v1/me", &app.login("anna@example.com", crate::support::PASSWORD).await).await.body["id"]
            .as_str()
            .unwrap()
            .to_string();
    app.patch(&format!("/api/v1/companies/{co}/members/{anna_id}"), &app.root, json!({ "role": "rolesmith" }))
        .await
        .expect(200);
    let anna = app.login("anna@example.com", crate::support::PASSWORD).await;
    app.post(&roles, &anna, json!({ "name": "superuser", "permissions": ["*"] })).await.expect(403);
    app.post(&roles, &anna, json!({ "name": "helper", "permissions": ["kernel.roles.read"] })).await.expect(201);
    app.patch(&format!("/api/v1/companies/{co}/members/{bob_id}"), &anna, json!({ "role": "admin" })).await.expect(403);

    // Roles in use cannot be deleted; unused ones can; updates replace the permission set.
    app.delete(&format!("{roles}/auditor"), &app.root).await.expect(409);
    let upd = app.put(&format!("{roles}/helper"), &app.root, json!({ "description": "Reads roles and members", "permissions": ["kernel.roles.read", "kernel.members.read"] })).await;
    assert_eq!(upd.expect(200)["permissions"], json!(["kernel.members.read", "kernel.roles.read"]));
    app.delete(&format!("{roles}/helper"), &app.root).await.expect(204);
    app.delete(&format!("{roles}/helper"), &app.root).await.expect(404);
    app.delete(&format!("{roles}/admin"), &app.root).await.expect(409);
}

fn actions(body: &Value) -> Vec<(String, String)> {
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["action"].as_str().unwrap().to_string(), r["outcome"].as_str().unwrap().to_string()))
        .collect()
}

async fn audit_records_every_change_and_refusal(app: &TestApp) {
    let (_, bob) = app.user("bob@example.com").await;
    app.user("carl@example.com").await;
    let co = app.company("Acme", &[("bob@example.com", "member")]).await;
    app.post(
        &format!("/api/v1/companies/{co}/members"),
        &bob,
        json!({ "email": "carl@example.com", "role": "member" }),
    )
    .await
    .expect(403);
    app.post(&format!("/api/v1/companies/{co}/roles"), &app.root, json!({ "name": "clerk", "permissions": [] }))
        .await
        .expect(201);
    let log = app.get(&format!("/api/v1/companies/{co}/audit"), &app.root).await;
    let body = log.expect(200).clone();
    assert_eq!(
        actions(&body),
        vec![
            ("role.create".to_string(), "success".to_string()),
            ("member.add".to_string(), "denied".to_string()),
            ("member.add".to_string(), "success".to_string()),
            ("company.create".to_string(), "success".to_string()),
        ],
        "newest first"
    );
    let denied = &body["items"][1];
    let bob_id = app.get("/api/v1/me", &bob).await.body["id"].clone();
    assert_eq!(denied["actor_id"], bob_id);
    assert!(denied["request_id"].is_string());
    assert!(denied["at"].as_str().unwrap().ends_with('Z'), "UTC timestamps");
    app.get(&format!("/api/v1/companies/{co}/audit"), &bob).await.expect(403);
}

async fn lists_paginate_with_cursors(app: &TestApp) {
    let mut emails = Vec::new();
    for i in 0..5 {
        let e = format!("user{i}@example.com");
        app.user(&e).await;
        emails.push(e);
    }
    let members: Vec<(&str, &str)> = emails.iter().map(|e| (e.as_str(), "member")).collect();
    let co = app.company("Acme", &members).await;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/companies/{co}/members?limit=2&cursor={c}"),
            None => format!("/api/v1/companies/{co}/members?limit=2"),
        };
        let page = app.get(&path, &app.root).await;
        let body = page.expect(200).clone();
        let items = body["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|m| m["email"].as_str().unwrap().to_string()));
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 6, "every member exactly once: {seen:?}");
    let mut dedup = seen.clone();
    dedup.sort();
    dedup.dedup();
    assert_eq!(dedup.len(), 6);
    app.get(&format!("/api/v1/companies/{co}/members?limit=501"), &app.root).await.expect(400);
    app.get(&format!("/api/v1/companies/{co}/members?limit=0"), &app.root).await.expect(400);
    app.get(&format!("/api/v1/companies/{co}/members?cursor=%%%"), &app.root).await.expect(400);
    app.get(&format!("/api/v1/companies/{co}/members?bogus=1"), &app.root).await.expect(400);
    app.get(&format!("/api/v1/companies/{co}/audit?limit=500"), &app.root).await.expect(200);
}
