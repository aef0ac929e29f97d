//! The OpenAPI document describes the real routes, and only those, with their inputs and
//! errors as the server really has them.

use reqwest::Method;
use serde_json::json;

use crate::both_backends;
use crate::support::TestApp;

both_backends!(openapi_documents_real_routes, openapi_describes_inputs_and_errors);

async fn openapi_documents_real_routes(app: &TestApp) {
    let doc = app.call(Method::GET, "/api/v1/openapi.json", None, None).await.expect(200).clone();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "OpenAPI 3");
    let paths = doc["paths"].as_object().unwrap();
    for required in [
        "/health",
        "/ready",
        "/metrics",
        "/api/v1/auth/login",
        "/api/v1/me",
        "/api/v1/users",
        "/api/v1/companies",
        "/api/v1/companies/{id}/members",
        "/api/v1/auth/tokens",
        "/api/v1/openapi.json",
    ] {
        assert!(paths.contains_key(required), "{required} is documented");
    }
    // The metrics token is optional: only a server started with one asks for it.
    assert_eq!(doc["paths"]["/metrics"]["get"]["security"], json!([{}, { "metrics_token": [] }]));
    assert_eq!(doc["components"]["securitySchemes"]["metrics_token"]["scheme"], "bearer");
    let public = ["/health", "/ready", "/metrics", "/api/v1/openapi.json", "/api/v1/auth/login"];
    for (path, item) in paths {
        let concrete = path
            .replace("{id}", "0190f4a2-0000-7000-8000-000000000000")
            .replace("{company_id}", "0190f4a2-0000-7000-8000-000000000000")
            .replace("{user_id}", "0190f4a2-0000-7000-8000-000000000001")
            .replace("{record_id}", "0190f4a2-0000-7000-8000-000000000003")
            .replace("{event_id}", "0190f4a2-0000-7000-8000-000000000004")
            .replace("{token_id}", "0190f4a2-0000-7000-8000-000000000002")
            .replace("{name}", "x")
            .replace("{plugin}", "x")
            .replace("{collection}", "x")
            .replace("{command}", "x")
            .replace("{hook}", "x");
        if path.starts_with("/api/v1/hooks/") {
            // Authenticated by a per-company secret, not a bearer token: prove the route is
            // real by the answer to a method it does not take.
            let r = app.call(Method::GET, &concrete, None, None).await;
            assert_eq!(r.status.as_u16(), 405, "{path} exists");
            continue;
        }
        for method in item.as_object().unwrap().keys() {
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            if path.starts_with("/api/v1/mail/unsubscribe/") {
                // The signed token in the path is the permission: a made-up one is no link.
                let r = app.call(m.clone(), "/api/v1/mail/unsubscribe/bm8.AAAAAAAAAAAAAAAAAAAAAA", None, None).await;
                assert_eq!(r.status.as_u16(), 404, "{m} {path}");
                assert!(r.body["error"]["message"].as_str().unwrap().contains("unsubscribe link"), "{m} {path} exists");
                continue;
            }
            let r = app.call(m.clone(), &concrete, None, None).await;
            if public.contains(&path.as_str()) {
                assert_ne!(r.status.as_u16(), 404, "{m} {path} exists");
                assert_ne!(r.status.as_u16(), 405, "{m} {path} exists");
            } else {
                // A real protected route asks for credentials; a missing one would be 404.
                assert_eq!(r.status.as_u16(), 401, "{m} {path} is a real protected route: {}", r.body);
            }
        }
    }
}

async fn openapi_describes_inputs_and_errors(app: &TestApp) {
    let doc = app.call(Method::GET, "/api/v1/openapi.json", None, None).await.expect(200).clone();

    // Paging: optional query parameters, the limit with its bounds.
    let params = doc["paths"]["/api/v1/companies"]["get"]["parameters"].as_array().unwrap().clone();
    let param = |name: &str| params.iter().find(|p| p["name"] == name).unwrap_or_else(|| panic!("{name}")).clone();
    for name in ["limit", "cursor"] {
        assert_eq!(param(name)["in"], "query", "{name} is a query parameter");
        assert_eq!(param(name)["required"], false, "{name} is optional");
    }
    assert_eq!(param("limit")["schema"]["minimum"], 1);
    assert_eq!(param("limit")["schema"]["maximum"], 500);

    // Errors: where they can happen, always with the error body.
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            operations += 1;
            let responses = op["responses"].as_object().unwrap();
            let has = |status: &str| responses.contains_key(status);
            let what = format!("{} {path}", method.to_uppercase());
            if op["security"].as_array().is_some_and(|s| !s.is_empty()) {
                assert!(has("401"), "{what} needs a token, so it documents 401");
            }
            if op["requestBody"]["content"]["application/json"].is_object() {
                for status in ["400", "413", "415", "422"] {
                    assert!(has(status), "{what} takes a JSON body, so it documents {status}");
                }
            }
            if path.contains('{') {
                assert!(has("404"), "{what} names an object, so it documents 404");
            }
            let reads = method == "get" || path.ends_with("/query") || path.ends_with("/aggregate");
            if path.starts_with("/api/v1/companies/{id}/") && !reads {
                assert!(has("503"), "{what} runs in the company's lane, so it documents 503");
                assert!(responses["503"]["headers"]["Retry-After"].is_object(), "{what}: 503 has Retry-After");
            }
            for (status, response) in responses {
                // A readiness probe's 503 is a state ("starting"), not a refused request.
                if path == "/ready" && status == "503" {
                    assert_eq!(response["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/Ready");
                    continue;
                }
                if status.parse::<u16>().is_ok_and(|s| s >= 400) {
                    assert_eq!(
                        response["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/ErrorBody",
                        "{what} {status} has the error body"
                    );
                }
            }
        }
    }
    assert!(operations > 30, "every route is described");
    assert!(doc["paths"]["/api/v1/auth/login"]["post"]["responses"]["429"].is_object(), "login documents 429");

    // Request bodies: no unknown fields, and the validators' rules.
    let schemas = &doc["components"]["schemas"];
    for name in [
        "LoginBody",
        "CreateUser",
        "CreateCompany",
        "CreateToken",
        "AddMember",
        "UpdateMember",
        "CreateRole",
        "UpdateRole",
        "EnableBody",
        "QueryBody",
        "AggregateBody",
    ] {
        assert_eq!(schemas[name]["additionalProperties"], false, "{name} allows no unknown fields");
    }
    let password = &schemas["CreateUser"]["properties"]["password"];
    assert_eq!((password["minLength"].clone(), password["maxLength"].clone()), (json!(8), json!(1024)));
    assert_eq!(schemas["CreateUser"]["properties"]["email"]["format"], "email");
    assert_eq!(schemas["CreateUser"]["properties"]["name"]["maxLength"], 200);
    assert!(schemas["CreateRole"]["properties"]["name"]["pattern"].is_string());
    assert_eq!(schemas["CreateRole"]["properties"]["permissions"]["maxItems"], 500);

    // And the server keeps what the document says: any well-formed cursor is a position, a
    // limit out of bounds is refused, a name with a control character too.
    let cursor = param("cursor")["schema"]["pattern"].as_str().unwrap().to_string();
    assert!(cursor.starts_with('^'), "the cursor's form is documented: {cursor}");
    app.get("/api/v1/companies?cursor=AAAA", &app.root).await.expect(200);
    app.get("/api/v1/companies?limit=501", &app.root).await.expect(400);
    let r = app.post("/api/v1/companies", &app.root, json!({ "name": "Acme\n" })).await;
    r.expect(422);
}
