//! Bad input of every kind gets the right 4xx with a JSON error, and changes nothing.

use reqwest::Method;
use serde_json::json;

use crate::both_backends;
use crate::support::TestApp;

both_backends!(bad_bodies_and_tokens_change_nothing);

async fn bad_bodies_and_tokens_change_nothing(app: &TestApp) {
    let (anna_id, anna) = app.user("anna@example.com").await;
    app.user("bob@example.com").await;
    let co = app.company("Acme", &[("anna@example.com", "admin")]).await;
    let members = format!("/api/v1/companies/{co}/members");
    let roles = format!("/api/v1/companies/{co}/roles");
    let revoked = app.post("/api/v1/auth/tokens", &anna, json!({ "name": "old" })).await.expect(201).clone();
    app.delete(&format!("/api/v1/auth/tokens/{}", revoked["id"].as_str().unwrap()), &anna).await.expect(204);
    let revoked = revoked["token"].as_str().unwrap().to_string();
    let json_ct = Some("application/json");
    let big = format!("{{\"email\": \"bob@example.com\", \"role\": \"{}\"}}", "x".repeat(2 << 20));

    let before = app.snapshot().await;
    // (what, method, path, token, content type, body, expected status)
    type Case<'a> = (&'a str, Method, String, Option<&'a str>, Option<&'a str>, Vec<u8>, u16);
    let cases: Vec<Case> = vec![
        ("malformed JSON", Method::POST, members.clone(), Some(&anna), json_ct, b"{\"email\": ".to_vec(), 400),
        ("not JSON at all", Method::POST, roles.clone(), Some(&anna), json_ct, b"name=x".to_vec(), 400),
        (
            "wrong type",
            Method::POST,
            members.clone(),
            Some(&anna),
            json_ct,
            br#"{"email": "bob@example.com", "role": 7}"#.to_vec(),
            422,
        ),
        ("wrong top-level type", Method::POST, roles.clone(), Some(&anna), json_ct, br#"["name"]"#.to_vec(), 422),
        (
            "missing field",
            Method::POST,
            members.clone(),
            Some(&anna),
            json_ct,
            br#"{"email": "bob@example.com"}"#.to_vec(),
            422,
        ),
        (
            "unknown field",
            Method::POST,
            members.clone(),
            Some(&anna),
            json_ct,
            br#"{"email": "bob@example.com", "role": "member", "company_id": "x"}"#.to_vec(),
            422,
        ),
        (
            "protected field on company",
            Method::POST,
            "/api/v1/companies".into(),
            Some(&app.root),
            json_ct,
            br#"{"name": "Evil", "owner_id": "someone"}"#.to_vec(),
            422,
        ),
        (
            "protected field on user",
            Method::POST,
            "/api/v1/users".into(),
            Some(&app.root),
            json_ct,
            br#"{"email": "e@example.com", "password": "long-enough", "name": "E", "id": "x"}"#.to_vec(),
            422,
        ),
        (
            "protected field on member",
            Method::PATCH,
            format!("{members}/{anna_id}"),
            Some(&anna),
            json_ct,
            br#"{"role": "admin", "user_id": "x"}"#.to_vec(),
            422,
        ),
        (
            "no content type",
            Method::POST,
            members.clone(),
            Some(&anna),
            None,
            br#"{"email": "bob@example.com", "role": "member"}"#.to_vec(),
            415,
        ),
        (
            "missing token",
            Method::POST,
            members.clone(),
            None,
            json_ct,
            br#"{"email": "bob@example.com", "role": "member"}"#.to_vec(),
            401,
        ),
        (
            "garbage token",
            Method::POST,
            members.clone(),
            Some("garbage"),
            json_ct,
            br#"{"email": "bob@example.com", "role": "member"}"#.to_vec(),
            401,
        ),
        (
            "forged token",
            Method::POST,
            members.clone(),
            Some("erp_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
            json_ct,
            br#"{"email": "bob@example.com", "role": "member"}"#.to_vec(),
            401,
        ),
        (
            "revoked token",
            Method::POST,
            members.clone(),
            Some(&revoked),
            json_ct,
            br#"{"email": "bob@example.com", "role": "member"}"#.to_vec(),
            401,
        ),
        ("malformed login", Method::POST, "/api/v1/auth/login".into(), None, json_ct, br#"{"email": 1}"#.to_vec(), 422),
        // serde reads a struct from an array as well; the API takes objects only.
        (
            "array for an object",
            Method::POST,
            roles.clone(),
            Some(&anna),
            json_ct,
            br#"["clerks", "", []]"#.to_vec(),
            422,
        ),
        // No database stores NUL in text (PostgreSQL refuses it): refused before any lookup.
        (
            "NUL in a body",
            Method::POST,
            members.clone(),
            Some(&anna),
            json_ct,
            br#"{"email": "bob\u0000@example.com", "role": "member"}"#.to_vec(),
            422,
        ),
        (
            "NUL in a login",
            Method::POST,
            "/api/v1/auth/login".into(),
            None,
            json_ct,
            br#"{"email": "anna\u0000@example.com", "password": "x"}"#.to_vec(),
            422,
        ),
        ("NUL in a path", Method::DELETE, format!("{roles}/clerks%00"), Some(&anna), None, Vec::new(), 404),
        ("NUL in a query", Method::GET, format!("{members}?cursor=%00"), Some(&anna), None, Vec::new(), 400),
        ("bad query", Method::GET, format!("{members}?limit=abc"), Some(&anna), None, Vec::new(), 400),
        ("unknown route", Method::GET, "/api/v1/nothing-here".into(), Some(&anna), None, Vec::new(), 404),
        ("wrong method", Method::PUT, "/api/v1/me".into(), Some(&anna), json_ct, b"{}".to_vec(), 405),
    ];
    for (what, method, path, token, ct, body, status) in cases {
        let r = app.call_raw(method, &path, token, ct, body).await;
        assert_eq!(r.status.as_u16(), status, "{what}: {}", r.body);
        assert!(
            r.body["error"]["code"].is_string() && r.body["error"]["message"].is_string(),
            "{what}: JSON error expected, got {}",
            r.body
        );
    }
    let too_big = app.call_oversized("POST", &members, Some(&anna), "application/json", big.into_bytes()).await;
    assert_eq!(too_big.status.as_u16(), 413, "oversized body: {}", too_big.body);
    assert_eq!(too_big.code(), "payload_too_large");
    // A header that is not a bearer token at all.
    let r = app
        .client
        .get(format!("{}/api/v1/me", app.base))
        .header("authorization", "Basic YWxhZGRpbjpvcGVu")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert_eq!(app.snapshot().await, before, "bad input changed the database");
}
