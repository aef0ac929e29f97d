//! `erp bench`: server time of a web UI list page of 50 rows, beside the API query it is
//! built from, in the default order and sorted by an indexed field.

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use serde_json::json;
use tower::ServiceExt;

use super::bench::{millis, percentile};

/// Times the notes list page (50 rows) and the API query behind it, in id order (the list's
/// default) and sorted by title.
pub(super) fn run(
    runtime: &tokio::runtime::Runtime,
    router: &Router,
    token: &str,
    company_id: &str,
) -> anyhow::Result<()> {
    for sort in [None, Some("title")] {
        one(runtime, router, token, company_id, sort)?;
    }
    Ok(())
}

fn one(
    runtime: &tokio::runtime::Runtime,
    router: &Router,
    token: &str,
    company_id: &str,
    sort: Option<&str>,
) -> anyhow::Result<()> {
    const ROUNDS: usize = 200;
    let page = match sort {
        Some(f) => format!("/c/{company_id}/p/notes/d/note?sort={f}"),
        None => format!("/c/{company_id}/p/notes/d/note"),
    };
    let query = format!("/api/v1/companies/{company_id}/data/notes/note/query");
    let body = match sort {
        Some(f) => json!({ "limit": 50, "sort": { "field": f } }),
        None => json!({ "limit": 50 }),
    };
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
                        .body(Body::from(body.to_string()))?
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
    let (p50, p99, api50) = (percentile(&ui, 0.5), percentile(&ui, 0.99), percentile(&api, 0.5));
    let order = sort.map(|f| format!("sorted by {f}")).unwrap_or_else(|| "default order".into());
    println!(
        "web UI list page, 50 rows, {order} (all data through the API with the user's token), {ROUNDS} times: p50 {}, p99 {}; the API query alone p50 {} (the page is {:.1}x it); target well under 100 ms ({:.2}x)",
        millis(p50.as_secs_f64()),
        millis(p99.as_secs_f64()),
        millis(api50.as_secs_f64()),
        p50.as_secs_f64() / api50.as_secs_f64(),
        p50.as_secs_f64() / 0.1
    );
    Ok(())
}
