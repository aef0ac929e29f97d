//! Connection limits (issue 18, finding 5): a request head trickled a byte at a time, a
//! connection that never sends one, an idle kept-alive connection and a trickled body are all
//! cut off; a flood of idle connections past the cap leaves `/health` answering.
//!
//! The limits are shortened through `HttpSettings`; the assertions leave 5 s of slack for a
//! busy machine. The database plays no part, so these run on SQLite only.

use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{Backend, TestApp};
use erp_api::HttpSettings;

/// Slack on top of a limit before a test calls it broken.
const SLACK: Duration = Duration::from_secs(5);

fn settings() -> HttpSettings {
    HttpSettings {
        header_timeout: Duration::from_secs(30),
        idle_timeout: Duration::from_secs(30),
        body_grace: Duration::from_secs(30),
        ..HttpSettings::default()
    }
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.base.trim_start_matches("http://")).await.expect("connect")
}

/// Reads until the server closes the connection (or resets it); `None` if it is still open
/// after `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> Option<Vec<u8>> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(seen),
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
        }
    }
}

/// Reads one answer with a `content-length` from a kept-alive connection: (status, body).
async fn read_answer(stream: &mut TcpStream) -> (u16, Vec<u8>) {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&raw).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let head = &text[..end];
            let length: usize = head
                .lines()
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string()))
                .and_then(|v| v.parse().ok())
                .expect("content-length");
            if raw.len() >= end + 4 + length {
                let status = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).expect("status");
                return (status, raw[end + 4..end + 4 + length].to_vec());
            }
        }
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
            .await
            .expect("an answer in time")
            .expect("read");
        assert!(n > 0, "closed before the answer was complete: {text}");
        raw.extend_from_slice(&buf[..n]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_head_sent_a_byte_a_second_is_cut_off() {
    let limit = Duration::from_secs(2);
    let Some(app) =
        TestApp::start_with_http(Backend::Sqlite, HttpSettings { header_timeout: limit, ..settings() }).await
    else {
        return;
    };

    // Slowloris: a head that never ends, one byte a second.
    let stream = connect(&app).await;
    let (mut reader, mut writer) = stream.into_split();
    let started = Instant::now();
    let trickle = tokio::spawn(async move {
        let head = b"GET /health HTTP/1.1\r\nhost: x\r\nx-slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        for byte in head {
            if writer.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    let mut buf = [0u8; 256];
    let closed = tokio::time::timeout(limit + SLACK, async {
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    trickle.abort();
    assert!(closed.is_ok(), "a trickled head kept its connection open past {:?}", limit + SLACK);
    assert!(started.elapsed() >= limit - Duration::from_millis(100), "closed before the header timeout");

    // A connection that never sends a byte is closed by the same clock.
    let mut silent = connect(&app).await;
    assert!(closed_within(&mut silent, limit + SLACK).await.is_some(), "a silent connection stayed open");

    // The server still answers.
    let r = app.client.get(format!("{}/health", app.base)).send().await.expect("health");
    assert_eq!(r.status().as_u16(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_kept_alive_connection_is_closed() {
    let idle = Duration::from_secs(2);
    let Some(app) = TestApp::start_with_http(Backend::Sqlite, HttpSettings { idle_timeout: idle, ..settings() }).await
    else {
        return;
    };
    let mut stream = connect(&app).await;
    for _ in 0..2 {
        stream.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n").await.expect("write");
        let (status, _) = read_answer(&mut stream).await;
        assert_eq!(status, 200, "a kept-alive connection serves several requests");
    }
    let waited = Instant::now();
    assert!(closed_within(&mut stream, idle + SLACK).await.is_some(), "an idle connection stayed open");
    assert!(waited.elapsed() >= idle - Duration::from_millis(100), "closed before the idle timeout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickled_body_is_refused_with_408() {
    let grace = Duration::from_secs(1);
    let http = HttpSettings { body_grace: grace, body_min_rate: 1000, ..settings() };
    let Some(app) = TestApp::start_with_http(Backend::Sqlite, http).await else {
        return;
    };
    let stream = connect(&app).await;
    let (mut reader, mut writer) = stream.into_split();
    let body = br#"{"email": "root@example.com", "password": "a password sent far too slowly"}"#;
    let head = format!(
        "POST /api/v1/auth/login HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    let started = Instant::now();
    let trickle = tokio::spawn(async move {
        if writer.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        for byte in body {
            if writer.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });
    let mut raw = Vec::new();
    let read = tokio::time::timeout(grace + SLACK, reader.read_to_end(&mut raw)).await;
    trickle.abort();
    assert!(read.is_ok(), "the connection stayed open past {:?}", grace + SLACK);
    assert!(started.elapsed() < Duration::from_secs(body.len() as u64 / 2), "the whole body was waited for");
    let text = String::from_utf8_lossy(&raw).into_owned();
    assert!(text.starts_with("HTTP/1.1 408"), "expected 408, got: {text}");
    let json = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    let json: Value = serde_json::from_str(json).expect("a JSON error body");
    assert_eq!(json["error"]["code"], "request_timeout", "{json}");
    assert!(json["error"]["message"].is_string(), "{json}");

    // A body that comes at once is unaffected.
    let r = app
        .client
        .post(format!("{}/api/v1/auth/login", app.base))
        .json(&serde_json::json!({ "email": "root@example.com", "password": crate::support::PASSWORD }))
        .send()
        .await
        .expect("login");
    assert_eq!(r.status().as_u16(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_past_the_cap_leave_health_answering() {
    let cap = 20;
    let Some(app) =
        TestApp::start_with_http(Backend::Sqlite, HttpSettings { max_connections: cap, ..settings() }).await
    else {
        return;
    };
    // cap + 100 connections that never send a request, held open by the client.
    let mut idle = Vec::new();
    for _ in 0..cap + 100 {
        idle.push(connect(&app).await);
    }

    // A newcomer takes the place of the connection that waited longest.
    let fresh = reqwest::Client::builder().pool_max_idle_per_host(0).build().expect("client");
    for _ in 0..3 {
        let r = tokio::time::timeout(SLACK, fresh.get(format!("{}/health", app.base)).send())
            .await
            .expect("/health answers while the cap is taken")
            .expect("health");
        assert_eq!(r.status().as_u16(), 200);
    }

    // The server closed the surplus rather than holding a file for each.
    let mut closed = 0;
    for stream in &mut idle {
        if closed_within(stream, Duration::from_millis(50)).await.is_some() {
            closed += 1;
        }
    }
    assert!(closed >= 100, "only {closed} of {} idle connections were closed at a cap of {cap}", cap + 100);

    // Once the clients let go, everything works as before.
    drop(idle);
    let me = app.get("/api/v1/me", &app.root).await;
    me.expect(200);
}
