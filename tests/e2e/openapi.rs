//! The OpenAPI document describes the real routes, and only those.

use reqwest::Method;

use crate::both_backends;
use crate::support::TestApp;

both_backends!(openapi_documents_real_routes);

async fn openapi_documents_real_routes(app: &TestApp) {
    let doc = app.call(Method::GET, "/api/v1/openapi.json", None, None).await.expect(200).clone();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "OpenAPI 3");
    let paths = doc["paths"].as_object().unwrap();
    for required in [
        "/health",
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
    let public = ["/health", "/api/v1/openapi.json", "/api/v1/auth/login"];
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
