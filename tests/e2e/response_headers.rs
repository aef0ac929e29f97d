//! Headers on every answer (issue 18): `X-Content-Type-Options: nosniff` everywhere, and
//! `Cache-Control: no-store` on API answers and pages (they hold personal data), while the
//! UI's static assets keep their own caching.

use crate::support::{Backend, TestApp};

fn header<'a>(headers: &'a reqwest::header::HeaderMap, name: &str) -> &'a str {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_carry_nosniff_and_no_store() {
    let Some(app) = TestApp::start(Backend::Sqlite).await else {
        return;
    };
    let get = |path: &str, token: Option<&str>| {
        let mut req = app.client.get(format!("{}{path}", app.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
    };
    let cases = [
        ("/api/v1/me", Some(app.root.as_str()), 200),
        ("/api/v1/me", None, 401),
        ("/api/v1/no-such-thing", Some(app.root.as_str()), 404),
        ("/login", None, 200),
    ];
    for (path, token, status) in cases {
        let r = get(path, token).await.expect("request");
        assert_eq!(r.status().as_u16(), status, "{path}");
        assert_eq!(header(r.headers(), "x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header(r.headers(), "cache-control"), "no-store", "{path}");
    }
    let page = get("/login", None).await.expect("page");
    assert!(header(page.headers(), "content-type").starts_with("text/html"));

    let asset = get("/assets/app.css", None).await.expect("asset");
    assert_eq!(asset.status().as_u16(), 200);
    assert_eq!(header(asset.headers(), "x-content-type-options"), "nosniff");
    assert!(header(asset.headers(), "cache-control").contains("max-age"), "assets stay cacheable");
}
