//! `erp bench`, search part: the header's search box over a company with many customers, each
//! with a phone contact, by the start of a name and by a phone number typed another way.

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use tower::ServiceExt;

use super::bench::{millis, percentile};
use super::bench_rows::{Rows, analyze};
use erp_kernel::Platform;
use erp_kernel::access::CompanyScope;
use erp_kernel::ids;
use erp_kernel::plugins::lifecycle::{self, EnableRequest};
use erp_kernel::session::Session;

/// Enables the CRM, loads `customers` customers with a phone each, and times search pages.
pub(super) fn run(
    runtime: &tokio::runtime::Runtime,
    router: &Router,
    platform: &Platform,
    token: &str,
    company_id: &str,
    customers: usize,
) -> anyhow::Result<()> {
    {
        let mut session = Session::begin(&platform.db, company_id, None)?;
        lifecycle::enable(platform, &mut session, &CompanyScope::system(company_id), "crm", EnableRequest::default())?;
        session.commit()?;
    }
    let started = Instant::now();
    const SURNAMES: [&str; 8] = ["Иванов", "Петров", "Сидоров", "Кузнецов", "Смирнов", "Попов", "Волков", "Соколов"];
    let mut rows = Rows::new(company_id, "crm");
    for i in 0..customers {
        let (customer, contact) = (ids::new_id(), ids::new_id());
        let name = format!("{} {i:06}", SURNAMES[i % SURNAMES.len()]);
        let phone = format!("7916{i:07}");
        let data = format!(r#"{{"kind":"person","name":"{name}","total_spent":"0"}}"#);
        rows.record(&customer, "customer", 1, &data);
        rows.key(&customer, "customer", "name", &name);
        let data = format!(r#"{{"customer":"{customer}","kind":"phone","value":"+{phone}","key":"phone:{phone}"}}"#);
        rows.record(&contact, "contact", 1, &data);
        rows.reference(&contact, "contact", "customer", &customer);
        rows.key(&contact, "contact", "key", &format!("phone:{phone}"));
        if rows.len() >= 1000 {
            rows.flush(platform)?;
        }
    }
    rows.flush(platform)?;
    analyze(platform)?;
    println!("loaded {customers} customers with a phone each in {:.1} s", started.elapsed().as_secs_f64());
    let middle = customers / 2;
    let by_name = format!("сидоров {:06}", middle - middle % 8 + 2).replace(' ', "%20");
    let by_phone = format!("8%20(916)%20{:03}-{:02}-{:02}", middle / 10_000 % 1000, middle / 100 % 100, middle % 100);
    for (what, q) in [("the start of a name, in lower case", by_name), ("a phone typed another way", by_phone)] {
        let page = format!("/c/{company_id}/search?q={q}");
        let times = runtime.block_on(async {
            let mut out: Vec<Duration> = Vec::new();
            for i in 0..120 {
                let req = Request::get(&page).header("cookie", format!("erp_session={token}")).body(Body::empty())?;
                let started = Instant::now();
                let res = router.clone().oneshot(req).await?;
                let status = res.status();
                let body = axum::body::to_bytes(res.into_body(), usize::MAX).await?;
                let spent = started.elapsed();
                anyhow::ensure!(status.is_success(), "the search page failed with {status}");
                anyhow::ensure!(body.windows(9).any(|w| w == b"<a href=\""), "the search finds the customer");
                if i >= 20 {
                    out.push(spent);
                }
            }
            out.sort();
            anyhow::Ok(out)
        })?;
        let (p50, p99) = (percentile(&times, 0.5), percentile(&times, 0.99));
        println!(
            "search box over {customers} customers, by {what}, 100 times: p50 {}, p99 {}; target under 100 ms ({:.2}x)",
            millis(p50.as_secs_f64()),
            millis(p99.as_secs_f64()),
            p50.as_secs_f64() / 0.1
        );
    }
    Ok(())
}
