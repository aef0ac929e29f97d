//! Running the real `erp` binary as an administrator would: a first start that listens at once
//! and says when it is ready, a demo that never lands in real data by surprise and has its own
//! password, online backups under write load restored to identical data, metrics behind a
//! token, JSON logs carrying the request id, and client addresses taken from trusted proxies.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::Text;
use serde_json::{Value, json};

use crate::durability::{ERP, Server, admin, everything, login_as, start_with};

fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap()
}

async fn login(client: &reqwest::Client, base: &str, email: &str, password: &str) -> reqwest::Response {
    client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .unwrap()
}

async fn token(client: &reqwest::Client, base: &str, email: &str, password: &str) -> String {
    login_as(client, base, email, password).await
}

/// The password in "Log in as ... with password X (...".
fn printed_password(lines: &[String]) -> Option<String> {
    lines
        .iter()
        .find_map(|l| l.split(" with password ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .map(String::from)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_start_listens_at_once_and_says_when_it_is_ready() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("erp.db").display());
    let mut child = Command::new(ERP)
        .args(["serve", "--demo", "--db", &db, "--listen", "127.0.0.1:0"])
        .env("ERP_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn erp serve");
    let server = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let base = loop {
        let line = lines.next().expect("server exited before listening").unwrap();
        if let Some(rest) = line.strip_prefix("ERP platform listening on ") {
            break rest.trim().to_string();
        }
    };
    let _child = Server::from(child);
    let printed = server.clone();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            printed.lock().unwrap().push(line);
        }
    });
    let c = client();
    // The bundled plugins take seconds to compile on a first start; the server answers meanwhile.
    let health = c.get(format!("{base}/health")).send().await.unwrap();
    assert_eq!(health.status().as_u16(), 200);
    let ready = c.get(format!("{base}/ready")).send().await.unwrap();
    assert_eq!(ready.status().as_u16(), 503, "not ready while compiling");
    assert_eq!(ready.json::<Value>().await.unwrap()["status"], "starting");
    let api = c.get(format!("{base}/api/v1/companies")).send().await.unwrap();
    assert_eq!(api.status().as_u16(), 503);
    assert_eq!(api.headers()["retry-after"], "1");
    assert_eq!(api.json::<Value>().await.unwrap()["error"]["code"], "starting");
    let page = c.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 503);
    assert!(page.text().await.unwrap().contains("Сервер запускается"));

    let mut waited = 0;
    while c.get(format!("{base}/ready")).send().await.unwrap().status().as_u16() != 200 {
        waited += 1;
        assert!(waited < 1200, "ready within two minutes");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    while !server.lock().unwrap().iter().any(|l| l.starts_with("Ready in ")) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let lines = server.lock().unwrap().clone();
    let started = lines.iter().find(|l| l.starts_with("Ready in ")).expect("the start time is printed");
    println!("first start with the demo: {started}");
    assert!(lines.iter().any(|l| l.starts_with("Installed 7 bundled plugins in ")), "{lines:?}");
    let password = printed_password(&lines).expect("a new demo prints its password");
    assert_eq!(password.len(), 16);
    assert_ne!(password, "demo-password");
    let owner = token(&c, &base, "demo@example.com", &password).await;
    let companies: Value =
        c.get(format!("{base}/api/v1/companies")).bearer_auth(&owner).send().await.unwrap().json().await.unwrap();
    assert_eq!(companies["items"][0]["name"], erp::demo::COMPANY);
    drop(_child);

    // A restart finds everything in place: no compiling, and the password is not shown again.
    let ((_again, base), lines) = start_with(&db, &["--demo"]);
    assert!(printed_password(&lines).is_none(), "the password is printed once: {lines:?}");
    assert!(lines.iter().any(|l| l.contains("password printed when the demo was created")), "{lines:?}");
    assert!(!lines.iter().any(|l| l.starts_with("Installed ")), "nothing to install again: {lines:?}");
    token(&c, &base, "anna.sales@example.com", &password).await;
    let before_upgrade = token(&c, &base, "demo@example.com", &password).await;
    drop(_again);

    // A database demoed by an older version still has the fixed, publicly known password: the
    // next start replaces it, prints the new one and signs the old sessions out.
    let file = db.trim_start_matches("sqlite://");
    let old_hash = erp_kernel::identity::passwords::hash("demo-password").unwrap();
    let mut conn = SqliteConnection::establish(file).unwrap();
    let set = diesel::sql_query("UPDATE users SET password_hash = ? WHERE email IN (?, ?)")
        .bind::<Text, _>(&old_hash)
        .bind::<Text, _>("demo@example.com")
        .bind::<Text, _>("ivan.store@example.com")
        .execute(&mut conn)
        .unwrap();
    assert_eq!(set, 2);
    drop(conn);
    let ((_upgraded, base), lines) = start_with(&db, &["--demo"]);
    assert!(lines.iter().any(|l| l.contains("old fixed password")), "{lines:?}");
    let replaced = printed_password(&lines).expect("the replacement password is printed");
    assert_ne!(replaced, password);
    assert_eq!(login(&c, &base, "demo@example.com", "demo-password").await.status().as_u16(), 401);
    assert_eq!(login(&c, &base, "ivan.store@example.com", "demo-password").await.status().as_u16(), 401);
    token(&c, &base, "demo@example.com", &replaced).await;
    token(&c, &base, "ivan.store@example.com", &replaced).await;
    token(&c, &base, "anna.sales@example.com", &password).await;
    let old_session = c.get(format!("{base}/api/v1/companies")).bearer_auth(&before_upgrade).send().await.unwrap();
    assert_eq!(old_session.status().as_u16(), 401, "sessions from before the replacement end");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_stays_out_of_a_database_with_other_users_unless_told() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("erp.db").display());
    admin(&["admin", "create-user", "--db", &db, "--email", "boss@firm.example", "--password", "Boss-password-7"]);
    let refused = Command::new(ERP)
        .args(["serve", "--demo", "--db", &db, "--listen", "127.0.0.1:0"])
        .env("ERP_LOG", "warn")
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("boss@firm.example") && err.contains("--demo-allow-existing"), "{err}");
    assert!(!String::from_utf8_lossy(&refused.stdout).contains("listening"), "refused before listening");

    let weak = Command::new(ERP)
        .args(["serve", "--demo", "--demo-allow-existing", "--demo-password", "short", "--db", &db])
        .args(["--listen", "127.0.0.1:0"])
        .env("ERP_LOG", "warn")
        .output()
        .unwrap();
    assert!(!weak.status.success());
    let err = String::from_utf8_lossy(&weak.stderr);
    assert!(err.contains("--demo-password") && err.contains('8'), "refused before listening: {err}");

    let ((_server, base), lines) =
        start_with(&db, &["--demo", "--demo-allow-existing", "--demo-password", "Chosen-demo-pass-9"]);
    assert_eq!(printed_password(&lines).as_deref(), Some("Chosen-demo-pass-9"));
    let c = client();
    token(&c, &base, "demo@example.com", "Chosen-demo-pass-9").await;
    token(&c, &base, "boss@firm.example", "Boss-password-7").await;

    // A real company that happens to have the demo's name never gets its sample data.
    let other = dir.path().join("other.db");
    let other = format!("sqlite://{}", other.display());
    admin(&["admin", "create-user", "--db", &other, "--email", "boss@firm.example", "--password", "Boss-password-7"]);
    admin(&["admin", "create-company", "--db", &other, "--name", erp::demo::COMPANY, "--owner", "boss@firm.example"]);
    let stopped = Command::new(ERP)
        .args(["serve", "--demo", "--demo-allow-existing", "--demo-password", "Chosen-demo-pass-9", "--db", &other])
        .args(["--listen", "127.0.0.1:0"])
        .env("ERP_LOG", "warn")
        .output()
        .unwrap();
    assert!(!stopped.status.success());
    let err = String::from_utf8_lossy(&stopped.stderr);
    assert!(err.contains("does not own"), "{err}");
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

/// The role names of a company as stored in a SQLite file, read without the server.
fn roles_in_file(path: &std::path::Path, company: &str) -> BTreeSet<String> {
    let mut conn = SqliteConnection::establish(path.to_str().unwrap()).unwrap();
    diesel::sql_query("SELECT name FROM roles WHERE company_id = ?")
        .bind::<Text, _>(company)
        .load::<Name>(&mut conn)
        .unwrap()
        .into_iter()
        .map(|n| n.name)
        .collect()
}

/// A role the test's writers made (`w<writer>-r<n>`).
fn is_written(name: &str) -> bool {
    name.starts_with('w') && name.contains("-r")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_under_write_load_restores_identical_data() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("erp.db");
    let db = format!("sqlite://{}", file.display());
    admin(&["admin", "create-user", "--db", &db, "--email", "root@example.com", "--password", "Backup-password-1"]);
    let company =
        admin(&["admin", "create-company", "--db", &db, "--name", "Backed Up Ltd", "--owner", "root@example.com"]);
    let ((mut server, base), _) = start_with(&db, &[]);
    let c = client();
    let token = token(&c, &base, "root@example.com", "Backup-password-1").await;
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    // Names sent: an answer trails its commit, so a backup may hold a role not yet acknowledged.
    let sent = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..4 {
        let (c, base, token, company, acked, sent, stop) =
            (c.clone(), base.clone(), token.clone(), company.clone(), acked.clone(), sent.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let name = format!("w{w}-r{i}");
                sent.lock().unwrap().push(name.clone());
                let r = c
                    .post(format!("{base}/api/v1/companies/{company}/roles"))
                    .bearer_auth(&token)
                    .json(&json!({ "name": name, "permissions": [] }))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status().as_u16(), 201);
                acked.lock().unwrap().push(name);
                i += 1;
            }
        }));
    }
    while acked.lock().unwrap().len() < 100 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let before: BTreeSet<String> = acked.lock().unwrap().iter().cloned().collect();
    let backup = dir.path().join("backup.db");
    let out = tokio::task::spawn_blocking({
        let (db, backup) = (db.clone(), backup.clone());
        move || admin(&["admin", "backup", "--db", &db, "--to", backup.to_str().unwrap()])
    })
    .await
    .unwrap();
    assert!(out.starts_with("Backed up "), "{out}");
    let after: BTreeSet<String> = acked.lock().unwrap().iter().cloned().collect();
    let sent_by_then: BTreeSet<String> = sent.lock().unwrap().iter().cloned().collect();
    // Writes go on after the backup; the backup is one moment between the two readings.
    while acked.lock().unwrap().len() < after.len() + 50 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The writers' roles (a company also has its built-in ones).
    let in_backup: BTreeSet<String> = roles_in_file(&backup, &company).into_iter().filter(|n| is_written(n)).collect();
    assert!(before.is_subset(&in_backup), "every write acknowledged before the backup is in it");
    assert!(in_backup.is_subset(&sent_by_then), "nothing from after the backup is in it");
    println!("backup under load: {} of {} acknowledged roles at the time", in_backup.len(), after.len());

    // A restore under the running server is refused and changes nothing.
    let refused =
        Command::new(ERP).args(["admin", "restore", "--from", backup.to_str().unwrap(), "--db", &db]).output().unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("stop it first"));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    let all_acked = acked.lock().unwrap().len();
    server.kill().unwrap();

    let out = admin(&["admin", "restore", "--from", backup.to_str().unwrap(), "--db", &db]);
    assert!(out.contains("before-restore"), "{out}");
    let ((_server, base), _) = start_with(&db, &[]);
    let token = crate::operations::token(&c, &base, "root@example.com", "Backup-password-1").await;
    let roles = everything(&c, format!("{base}/api/v1/companies/{company}/roles"), &token).await;
    let served: BTreeSet<String> =
        roles.iter().map(|r| r["name"].as_str().unwrap().to_string()).filter(|n| is_written(n)).collect();
    assert_eq!(served, in_backup, "the restored database serves exactly what the backup holds");
    assert!(served.len() < all_acked, "writes after the backup are gone with the restore");
    let kept: BTreeSet<String> = roles_in_file(&dir.path().join("erp.db.before-restore"), &company)
        .into_iter()
        .filter(|n| is_written(n))
        .collect();
    assert_eq!(kept.len(), all_acked, "the replaced database is kept whole, its WAL included");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_sees_metrics_logs_and_real_client_addresses() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("erp.db").display());
    admin(&["admin", "create-user", "--db", &db, "--email", "root@example.com", "--password", "Metrics-password-1"]);
    let log = dir.path().join("server.log");
    let mut child = Command::new(ERP)
        .args(["serve", "--db", &db, "--listen", "127.0.0.1:0", "--trusted-proxies", "127.0.0.1,10.0.0.0/8"])
        .env("ERP_LOG", "info")
        .env("ERP_LOG_FORMAT", "json")
        .env("ERP_METRICS_TOKEN", "scrape-secret")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut base = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("ERP platform listening on ") {
            base = rest.trim().to_string();
        }
        if line.starts_with("Ready in ") {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    let _server = Server::from(child);
    let c = client();

    // Behind the proxy, each client is throttled by its own address.
    let via = |from: &'static str| {
        let c = c.clone();
        let base = base.clone();
        async move {
            c.post(format!("{base}/api/v1/auth/login"))
                .header("x-forwarded-for", from)
                .json(&json!({ "email": "root@example.com", "password": "not-the-password" }))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    for _ in 0..5 {
        assert_eq!(via("203.0.113.5").await, 401);
    }
    assert_eq!(via("203.0.113.5").await, 429, "that client is locked out");
    assert_eq!(via("203.0.113.6").await, 401, "another client behind the same proxy is not");
    assert_eq!(via("6.6.6.6, 203.0.113.5").await, 429, "an address the client wrote itself changes nothing");

    let r = c.get(format!("{base}/api/v1/companies")).header("x-request-id", "ops-request-42").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert_eq!(c.get(format!("{base}/metrics")).send().await.unwrap().status().as_u16(), 401);
    let wrong = c.get(format!("{base}/metrics")).bearer_auth("guess").send().await.unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    let metrics = c.get(format!("{base}/metrics")).bearer_auth("scrape-secret").send().await.unwrap();
    assert_eq!(metrics.status().as_u16(), 200);
    assert!(metrics.headers()["content-type"].to_str().unwrap().starts_with("application/openmetrics-text"));
    let text = metrics.text().await.unwrap();
    for series in [
        r#"erp_http_requests_total{method="POST",route="/api/v1/auth/login",status="401"} 6"#,
        r#"erp_http_requests_total{method="POST",route="/api/v1/auth/login",status="429"} 2"#,
        r#"erp_http_requests_total{method="GET",route="/api/v1/companies",status="401"} 1"#,
        r#"erp_http_request_duration_seconds_bucket{le="#,
        "erp_bus_pending_deliveries ",
        "erp_bus_dead_letters ",
        r#"erp_db_pool_connections{state="idle"}"#,
    ] {
        assert!(text.contains(series), "{series} in:\n{text}");
    }

    // JSON logs: one object per line, the answer's line carrying the request id.
    let mut found = false;
    for _ in 0..50 {
        let logged = std::fs::read_to_string(&log).unwrap();
        // The last line may still be being written.
        let whole = &logged[..logged.rfind('\n').map_or(0, |i| i + 1)];
        let objects: Vec<Value> = whole.lines().map(|l| serde_json::from_str(l).expect("a JSON log line")).collect();
        found = objects.iter().any(|o| o["span"]["request_id"] == "ops-request-42" && o["fields"]["status"] == 401);
        if found {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(found, "the request's log line carries its id");
}
