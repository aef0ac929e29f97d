//! A server killed with SIGKILL in the middle of a stream of acknowledged writes loses none
//! of them: every 201 the client saw is there after a restart (SQLite file).

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

/// Starts `erp serve` and returns the child with its base URL.
pub(crate) fn start(db: &str) -> (Child, String) {
    let mut child = Command::new(ERP)
        .args(["serve", "--db", db, "--listen", "127.0.0.1:0"])
        .env("ERP_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn erp serve");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let base = loop {
        let line = lines.next().expect("server exited before listening").unwrap();
        if let Some(rest) = line.strip_prefix("ERP platform listening on ") {
            break rest.trim().to_string();
        }
    };
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines.by_ref() {});
    (child, base)
}

async fn login(client: &reqwest::Client, base: &str) -> String {
    let r = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({ "email": "root@example.com", "password": "durable-password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
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
    child.wait().unwrap();
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
    child.wait().unwrap();
    assert!(lost.is_empty(), "{} acknowledged writes lost after SIGKILL: {lost:?}", lost.len());
}
