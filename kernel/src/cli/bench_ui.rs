//! `erp bench`: server time of a web UI list page of 50 rows, beside the API query it is
//! built from.

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use serde_json::json;
use tower::ServiceExt;

use super::bench::{millis, percentile};

/// Times the notes list page (50 rows, sorted by an indexed field) and the API query behind it.
pub(super) fn run(
    runtime: &tokio::runtime::Runtime,
    router: &Router,
    token: &str,
    company_id: &str,
) -> anyhow::Result<()> {
    const ROUNDS: usize = 200;
    let page = format!("/c/{company_id}/p/notes/d/note?sort=title");
    let query = format!("/api/v1/companies/{company_id}/data/notes/note/query");
    let times = |ui: bool| -> anyhow::Result<Vec<Duration>> {
        runtime.block_on(async {
            let mut out = Vec::with_capacity(ROUNDS);
            for i in 0..ROUNDS + 20 {
                let req = if ui {
                    Request::get(&page).header("cookie", format!("erp_session={token}")).body(Body::empty())?
                } else {
                    Request::post(&query)
                        .header("authorization", format!("Bearer {token}"))
                        .header("content-type", "application/json")
                        .body(Body::from(json!({ "limit": 50, "sort": { "field": "title" } }).to_string()))?
                };
                let started = Instant::now();
                let res = router.clone().oneshot(req).await?;
                let status = res.status();
                let body = axum::body::to_bytes(res.into_body(), usize::MAX).await?;
                let spent = started.elapsed();
                anyhow::ensure!(status.is_success(), "benchmark page failed with {status}");
                anyhow::ensure!(!ui || body.windows(4).filter(|w| w == b"<tr>").count() == 51, "the page has 50 rows");
                if i >= 20 {
                    out.push(spent);
                }
            }
            out.sort();
            Ok(out)
        })
    };
    let ui = times(true)?;
    let api = times(false)?;
    let (p50, p99) = (percentile(&ui, 0.5), percentile(&ui, 0.99));
    println!(
        "web UI list page, 50 rows (every call through the API with the user's token), {ROUNDS} times: p50 {}, p99 {}; the API query alone p50 {} ({:.1}x); target well under 100 ms ({:.2}x)",
        millis(p50.as_secs_f64()),
        millis(p99.as_secs_f64()),
        millis(percentile(&api, 0.5).as_secs_f64()),
        p50.as_secs_f64() / percentile(&api, 0.5).as_secs_f64(),
        p50.as_secs_f64() / 0.1
    );
    Ok(())
}
