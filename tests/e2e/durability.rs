//! A server killed with SIGKILL in the middle of a stream of acknowledged writes loses none
//! of them, and every committed event still reaches its subscriber exactly once (SQLite file).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use std::time::Duration;

use serde_json::{Value, json};

pub(crate) const ERP: &str = env!("CARGO_BIN_EXE_erp");

/// Runs `erp` with arguments and returns its trimmed output; fails the test on error.
pub(crate) fn admin(args: &[&str]) -> String {
    let out = Command::new(ERP).args(args).env("ERP_LOG", "warn").output().expect("run erp admin");
    assert!(out.status.success(), "erp {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A running `erp serve`, killed when dropped (so a failing test leaves no server behind).
pub(crate) struct Server(Child);

impl Server {
    /// The server's process id.
    pub(crate) fn id(&self) -> u32 {
        self.0.id()
    }

    /// Kills the server without warning (SIGKILL) and waits for it.
    pub(crate) fn kill(&mut self) -> std::io::Result<()> {
        self.0.kill()?;
        self.0.wait().map(|_| ())
    }
}

impl From<Child> for Server {
    fn from(child: Child) -> Server {
        Server(child)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `erp serve` and returns it with its base URL once it is ready.
pub(crate) fn start(db: &str) -> (Server, String) {
    start_with(db, &[]).0
}

/// Starts `erp serve` with more arguments; returns it with its base URL once it is ready, and
/// what it printed until then.
/// How long a start may take on a busy machine before a test gives up on it.
const START_LIMIT: Duration = Duration::from_secs(300);

pub(crate) fn start_with(db: &str, more: &[&str]) -> ((Server, String), Vec<String>) {
    let mut child = Command::new(ERP)
        .args(["serve", "--db", db, "--listen", "127.0.0.1:0"])
        .args(more)
        .env("ERP_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn erp serve");
    let stdout = child.stdout.take().unwrap();
    // A reader thread hands lines over and keeps draining stdout afterwards, so the server
    // never blocks on a full pipe; the wait for readiness has a deadline.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = std::time::Instant::now() + START_LIMIT;
    let mut printed = Vec::new();
    let mut base = None;
    // The server listens at once and prints "Ready in" once start-up is done.
    loop {
        let line = match rx.recv_timeout(deadline.saturating_duration_since(std::time::Instant::now())) {
            Ok(line) => line,
            Err(e) => {
                let _ = child.kill();
                panic!("the server was not ready within {START_LIMIT:?} ({e}); it printed {printed:?}");
            }
        };
        if let Some(rest) = line.strip_prefix("ERP platform listening on ") {
            base = Some(rest.trim().to_string());
        }
        let ready = line.starts_with("Ready in ");
        printed.push(line);
        if ready {
            break;
        }
    }
    ((Server(child), base.expect("the server printed its address")), printed)
}

async fn login(client: &reqwest::Client, base: &str) -> String {
    login_as(client, base, "root@example.com", "durable-password").await
}

/// Logs in through the API of a server started by [`start_with`] and answers the token.
pub(crate) async fn login_as(client: &reqwest::Client, base: &str, email: &str, password: &str) -> String {
    let r = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "login as {email}");
    r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_during_writes_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("durable.db").display());
    admin(&[
        "admin",
        "create-user",
        "--db",
        &db,
        "--email",
        "root@example.com",
        "--password",
        "durable-password",
        "--superadmin",
    ]);
    let company =
        admin(&["admin", "create-company", "--db", &db, "--name", "Durable Ltd", "--owner", "root@example.com"]);

    let (mut child, base) = start(&db);
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let token = login(&client, &base).await;
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut writers = Vec::new();
    for w in 0..4 {
        let (client, base, token, company, acked) =
            (client.clone(), base.clone(), token.clone(), company.clone(), acked.clone());
        writers.push(tokio::spawn(async move {
            for i in 0.. {
                let name = format!("w{w}-r{i}");
                let sent = client
                    .post(format!("{base}/api/v1/companies/{company}/roles"))
                    .bearer_auth(&token)
                    .json(&json!({ "name": name, "permissions": [] }))
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status().as_u16() == 201 => acked.lock().unwrap().push(name),
                    Ok(r) => panic!("unexpected status {}", r.status()),
                    Err(_) => break,
                }
            }
        }));
    }
    // Let a stream of writes build up, then kill the server without warning.
    loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if acked.lock().unwrap().len() >= 200 {
            break;
        }
    }
    child.kill().unwrap();
    for w in writers {
        w.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 200);

    let (mut child, base) = start(&db);
    let token = login(&client, &base).await;
    let roles: Value = client
        .get(format!("{base}/api/v1/companies/{company}/roles"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let stored: std::collections::HashSet<String> =
        roles["items"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap().to_string()).collect();
    let lost: Vec<&String> = acked.iter().filter(|n| !stored.contains(*n)).collect();
    child.kill().unwrap();
    assert!(lost.is_empty(), "{} acknowledged writes lost after SIGKILL: {lost:?}", lost.len());
}

/// Everything the writers need to reach the current server process.
#[derive(Clone, Default)]
struct Target {
    base: String,
    token: String,
}

/// Every item of a paged list, following its cursors.
pub(crate) async fn everything(client: &reqwest::Client, url: String, token: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page_url = match &cursor {
            Some(c) => format!("{url}?limit=500&cursor={c}"),
            None => format!("{url}?limit=500"),
        };
        let page: Value = client.get(page_url).bearer_auth(token).send().await.unwrap().json().await.unwrap();
        out.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return out,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_while_events_flow_loses_and_doubles_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("events.db").display());
    admin(&[
        "admin",
        "create-user",
        "--db",
        &db,
        "--email",
        "root@example.com",
        "--password",
        "durable-password",
        "--superadmin",
    ]);
    let company = admin(&["admin", "create-company", "--db", &db, "--name", "Busy Ltd", "--owner", "root@example.com"]);
    let (mut child, base) = start(&db);
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let token = login(&client, &base).await;
    let counter = crate::support::package("counter");
    let r = client
        .post(format!("{base}/api/v1/plugins"))
        .bearer_auth(&token)
        .header("content-type", "application/wasm")
        .body(counter)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    for (plugin, body) in [("notes", json!({})), ("counter", json!({ "grants": ["notes.note"] }))] {
        let r = client
            .put(format!("{base}/api/v1/companies/{company}/plugins/{plugin}"))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
    }

    let target = Arc::new(Mutex::new(Target { base: base.clone(), token }));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut writers = Vec::new();
    for w in 0..3 {
        let (client, company, target, stop, acked) =
            (client.clone(), company.clone(), target.clone(), stop.clone(), acked.clone());
        writers.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let t = { target.lock().unwrap().clone() };
                let sent = client
                    .post(format!("{}/api/v1/companies/{company}/data/notes/note", t.base))
                    .bearer_auth(&t.token)
                    .json(&json!({ "title": format!("w{w} n{i}") }))
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status().as_u16() == 201 => {
                        let id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
                        acked.lock().unwrap().push(id);
                        i += 1;
                    }
                    _ => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            }
        }));
    }
    // Kill the server three times while notes are written and their events delivered.
    for round in 0..3 {
        tokio::time::sleep(Duration::from_millis(600 + round * 250)).await;
        child.kill().unwrap();
        let (next, base) = start(&db);
        child = next;
        let token = login(&client, &base).await;
        *target.lock().unwrap() = Target { base, token };
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    let t = { target.lock().unwrap().clone() };
    // Wait for the queue to drain.
    let mut drained = false;
    for _ in 0..1200 {
        let m: Value = client
            .get(format!("{}/api/v1/events/metrics", t.base))
            .bearer_auth(&t.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if m["queue_depth"] == 0 {
            assert_eq!(m["dead_letters"], 0, "{m}");
            drained = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(drained, "every committed event is delivered after the restarts");
    let notes = everything(&client, format!("{}/api/v1/companies/{company}/data/notes/note", t.base), &t.token).await;
    let seen = everything(&client, format!("{}/api/v1/companies/{company}/data/counter/seen", t.base), &t.token).await;
    child.kill().unwrap();
    let note_ids: std::collections::HashSet<String> =
        notes.iter().map(|n| n["id"].as_str().unwrap().to_string()).collect();
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() > 20, "writes flowed: {}", acked.len());
    assert!(acked.iter().all(|a| note_ids.contains(a)), "acknowledged notes survive the kills");
    let created: Vec<&Value> = seen.iter().filter(|s| s["data"]["event"] == "notes.note.created").collect();
    let mut delivered: Vec<String> =
        created.iter().map(|s| s["data"]["payload"]["id"].as_str().unwrap().to_string()).collect();
    delivered.sort();
    let before = delivered.len();
    delivered.dedup();
    assert_eq!(before, delivered.len(), "the subscriber applied each event once");
    let delivered: std::collections::HashSet<String> = delivered.into_iter().collect();
    assert_eq!(delivered, note_ids, "every committed note's event reached the subscriber, and nothing else");
}
