//! `erp bench`: live notifications and files. A chat message in a group of 200 members (the
//! collaboration plugin) reaches the open event stream of each: the time from posting it to
//! its delivery, p50 and p99. A 100 MB file
//! uploaded and downloaded through the API, with the growth of the process's resident memory
//! while it streams.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use bytes::Bytes;
use futures_util::StreamExt;
use tower::ServiceExt;

use super::bench::{millis, percentile};
use erp_kernel::Platform;
use erp_kernel::identity::tokens::{self, TokenKind};
use erp_kernel::identity::users::{self, NewUser};
use erp_kernel::identity::{IdentityError, members};
use erp_kernel::session::Session;

/// People in the group whose streams are open.
const PEOPLE: usize = 200;
/// Messages posted one after another.
const ROUNDS: usize = 20;
/// The file moved up and down.
const FILE_BYTES: usize = 100 * 1024 * 1024;

/// Runs both benchmarks.
pub(super) fn run(
    runtime: &tokio::runtime::Runtime,
    platform: &Platform,
    router: &Router,
    token: &str,
    company_id: &str,
) -> anyhow::Result<()> {
    fan_out(runtime, platform, router, token, company_id)?;
    file_round_trip(runtime, router, token, company_id)
}

/// Creates `PEOPLE` members with a token each.
fn people(platform: &Platform, company_id: &str) -> anyhow::Result<Vec<(String, String)>> {
    let mut out = Vec::with_capacity(PEOPLE);
    for i in 0..PEOPLE {
        let prepared = users::prepare(&NewUser {
            email: format!("listener-{i}-{}@example.com", erp_kernel::ids::new_id()),
            password: "bench-password-1".into(),
            name: format!("Listener {i}"),
            is_superadmin: false,
        })?;
        let person = platform.db.write_blocking(|conn| {
            let user = users::insert(conn, &prepared)?;
            members::add(conn, company_id, &user.id, "member")?;
            let token = tokens::issue(conn, &user.id, TokenKind::Api, "bench", None)?;
            Ok::<_, IdentityError>((user.id, token.secret))
        })?;
        out.push(person);
    }
    Ok(out)
}

fn fan_out(
    runtime: &tokio::runtime::Runtime,
    platform: &Platform,
    router: &Router,
    token: &str,
    company_id: &str,
) -> anyhow::Result<()> {
    let people = people(platform, company_id)?;
    {
        let mut session = Session::begin(&platform.db, company_id, None)?;
        let scope = erp_kernel::access::CompanyScope::system(company_id);
        erp_kernel::plugins::lifecycle::enable(platform, &mut session, &scope, "collaboration", Default::default())?;
        session.commit()?;
    }
    let members: Vec<String> = people.iter().map(|(id, _)| id.clone()).collect();
    let command = |name: &'static str, body: serde_json::Value| {
        let req = Request::post(format!("/api/v1/companies/{company_id}/plugins/collaboration/commands/{name}"))
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()));
        async move {
            let res = router.clone().oneshot(req?).await?;
            anyhow::ensure!(res.status().is_success(), "{name} answered {}", res.status());
            let bytes = axum::body::to_bytes(res.into_body(), 1 << 20).await?;
            Ok::<serde_json::Value, anyhow::Error>(serde_json::from_slice(&bytes)?)
        }
    };
    let path = format!("/api/v1/companies/{company_id}/notifications/stream");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(usize, Instant)>();
    let streams = runtime.block_on(async {
        let mut tasks = Vec::with_capacity(PEOPLE);
        let (ready_tx, mut ready_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
        for (i, (_, token)) in people.iter().enumerate() {
            let req = Request::get(&path)
                .header("authorization", format!("Bearer {token}"))
                .header("accept", "text/event-stream")
                .body(Body::empty())?;
            let res = router.clone().oneshot(req).await?;
            anyhow::ensure!(res.status().is_success(), "the stream answered {}", res.status());
            let (tx, ready_tx) = (tx.clone(), ready_tx.clone());
            tasks.push(tokio::spawn(async move {
                let mut body = res.into_body().into_data_stream();
                let mut text = String::new();
                while let Some(Ok(data)) = body.next().await {
                    text.push_str(&String::from_utf8_lossy(&data));
                    // One event per blank line: `ready` first, then notifications.
                    while let Some(end) = text.find("\n\n") {
                        let event: String = text.drain(..end + 2).collect();
                        if event.contains("event: ready") {
                            let _ = ready_tx.send(());
                        } else if event.contains("event: notification") {
                            let _ = tx.send((i, Instant::now()));
                        }
                    }
                }
            }));
        }
        for _ in 0..PEOPLE {
            ready_rx.recv().await;
        }
        Ok::<_, anyhow::Error>(tasks)
    })?;
    // Everyone hears of being added to the group first; then each message reaches all.
    let group = runtime.block_on(async {
        let group = command("create-group", serde_json::json!({ "name": "Bench group", "members": members })).await?;
        drain(&mut rx, PEOPLE).await;
        Ok::<_, anyhow::Error>(group)
    })?;
    let chat = group["chat"].as_str().unwrap_or_default().to_string();
    let mut latencies = Vec::with_capacity(PEOPLE * ROUNDS);
    let mut missing = 0usize;
    let mut posting = Vec::with_capacity(ROUNDS);
    for round in 0..ROUNDS {
        let posted = Instant::now();
        runtime.block_on(command(
            "post-message",
            serde_json::json!({ "chat": chat, "text": format!("Сообщение {round}") }),
        ))?;
        posting.push(posted.elapsed());
        let arrivals = runtime.block_on(drain(&mut rx, PEOPLE));
        missing += PEOPLE - arrivals.len();
        latencies.extend(arrivals.into_iter().map(|at| at.saturating_duration_since(posted)));
    }
    for t in streams {
        t.abort();
    }
    latencies.sort();
    posting.sort();
    println!(
        "message fan-out: {ROUNDS} chat messages in a group of {PEOPLE} members, each with an open event stream: post to delivery p50 {}, p99 {} (the post itself p50 {}), {} delivered, {missing} missing",
        millis(percentile(&latencies, 0.5).as_secs_f64()),
        millis(percentile(&latencies, 0.99).as_secs_f64()),
        millis(percentile(&posting, 0.5).as_secs_f64()),
        latencies.len(),
    );
    Ok(())
}

/// The arrival times of one notification at each of `n` streams, within 10 s.
async fn drain(rx: &mut tokio::sync::mpsc::UnboundedReceiver<(usize, Instant)>, n: usize) -> Vec<Instant> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(n);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while out.len() < n {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some((i, at))) if seen.insert(i) => out.push(at),
            Ok(Some(_)) => {}
            _ => break,
        }
    }
    out
}

/// Resident memory of this process, in bytes.
fn resident() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("VmRSS:").and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            })
        })
        .map_or(0, |kb| kb * 1024)
}

/// Samples resident memory every few milliseconds until stopped; answers the peak.
struct Sampler {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sampler {
    fn start() -> Sampler {
        let (stop, peak) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(resident())));
        let (s, p) = (stop.clone(), peak.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                p.fetch_max(resident(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        Sampler { stop, peak, thread: Some(thread) }
    }

    fn peak(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.peak.load(Ordering::Relaxed)
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn file_round_trip(
    runtime: &tokio::runtime::Runtime,
    router: &Router,
    token: &str,
    company_id: &str,
) -> anyhow::Result<()> {
    let piece = Bytes::from(vec![0x5au8; 64 * 1024]);
    let pieces = FILE_BYTES / piece.len();
    let before = resident();
    let sampler = Sampler::start();
    let started = Instant::now();
    let id = runtime.block_on(async {
        let stream = futures_util::stream::iter((0..pieces).map(move |_| Ok::<_, std::io::Error>(piece.clone())));
        let req = Request::post(format!("/api/v1/companies/{company_id}/files?name=big.bin"))
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/octet-stream")
            .header("content-length", FILE_BYTES.to_string())
            .body(Body::from_stream(stream))?;
        let res = router.clone().oneshot(req).await?;
        anyhow::ensure!(res.status().is_success(), "the upload answered {}", res.status());
        let body = axum::body::to_bytes(res.into_body(), 1024 * 1024).await?;
        let file: serde_json::Value = serde_json::from_slice(&body)?;
        file["id"].as_str().map(str::to_string).ok_or_else(|| anyhow::anyhow!("no file id"))
    })?;
    let up = started.elapsed();
    let up_peak = sampler.peak();
    let sampler = Sampler::start();
    let started = Instant::now();
    let received = runtime.block_on(async {
        let req = Request::get(format!("/api/v1/companies/{company_id}/files/{id}"))
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())?;
        let res = router.clone().oneshot(req).await?;
        anyhow::ensure!(res.status().is_success(), "the download answered {}", res.status());
        let mut body = res.into_body().into_data_stream();
        let mut n = 0usize;
        while let Some(data) = body.next().await {
            n += data?.len();
        }
        Ok(n)
    })?;
    let down = started.elapsed();
    let down_peak = sampler.peak();
    anyhow::ensure!(received == FILE_BYTES, "downloaded {received} of {FILE_BYTES} bytes");
    let growth = up_peak.max(down_peak).saturating_sub(before);
    println!(
        "a 100 MB file through the API: upload {:.2} s ({:.0} MB/s), download {:.2} s ({:.0} MB/s); resident memory growth at the peak {} (upload {}, download {}); target under 16 MiB ({:.2}x the target)",
        up.as_secs_f64(),
        FILE_BYTES as f64 / 1e6 / up.as_secs_f64(),
        down.as_secs_f64(),
        FILE_BYTES as f64 / 1e6 / down.as_secs_f64(),
        mib(growth),
        mib(up_peak.saturating_sub(before)),
        mib(down_peak.saturating_sub(before)),
        growth as f64 / (16.0 * 1024.0 * 1024.0),
    );
    Ok(())
}
