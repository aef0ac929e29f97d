//! Files through the API and the UI: uploads streamed under the per-file limit and the
//! company's quota, content stored once, downloads only for who may read the record holding
//! the file, safe headers, encryption at rest, and nothing left behind by refused, broken or
//! abandoned uploads.

use std::path::Path;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::both_backends;
use crate::support::{Backend, Resp, TestApp, eventually, package};
use crate::ui::{Browser, csrf_of};

both_backends!(files_follow_their_records, sweeps_remove_what_nobody_uses);

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

async fn upload(app: &TestApp, co: &str, token: &str, name: &str, content_type: Option<&str>, bytes: &[u8]) -> Resp {
    let path = format!("/api/v1/companies/{co}/files?name={}", enc(name));
    app.call_raw(Method::POST, &path, Some(token), content_type, bytes.to_vec()).await
}

struct Download {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Download {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
    }
}

async fn download(app: &TestApp, co: &str, token: &str, id: &str) -> Download {
    let res = app
        .client
        .get(format!("{}/api/v1/companies/{co}/files/{id}", app.base))
        .bearer_auth(token)
        .send()
        .await
        .expect("download");
    let (status, headers) = (res.status().as_u16(), res.headers().clone());
    Download { status, headers, body: res.bytes().await.expect("body").to_vec() }
}

fn notes(co: &str) -> String {
    format!("/api/v1/companies/{co}/data/notes/note")
}

/// Files under a directory, however deep.
fn files_in(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return out };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() { out.extend(files_in(&p)) } else { out.push(p) }
    }
    out
}

fn blobs(app: &TestApp) -> usize {
    files_in(&app.files_dir.path().join("blobs")).len()
}

fn staging(app: &TestApp) -> usize {
    files_in(&app.files_dir.path().join("staging")).len()
}

async fn file_rows(app: &TestApp) -> i64 {
    let db = app.db.clone();
    tokio::task::spawn_blocking(move || {
        use diesel::prelude::*;
        db.read_blocking(|conn| {
            erp_kernel::storage::schema::files::table
                .count()
                .get_result::<i64>(conn)
                .map_err(erp_kernel::storage::StoreError::from)
        })
    })
    .await
    .expect("join")
    .expect("count files")
}

async fn used_bytes(app: &TestApp, co: &str) -> i64 {
    let (db, co) = (app.db.clone(), co.to_string());
    tokio::task::spawn_blocking(move || db.read_blocking(|conn| erp_kernel::files::catalog::usage(conn, &co)))
        .await
        .expect("join")
        .expect("usage")
        .bytes
}

async fn with_notes(app: &TestApp, members: &[(&str, &str)]) -> String {
    let co = app.company("Acme", members).await;
    app.install(&package("notes")).await;
    app.enable(&co, "notes", json!({})).await.expect(200);
    co
}

async fn files_follow_their_records(app: &TestApp) {
    let (_, anna) = app.user("anna@example.com").await;
    let (_, boris) = app.user("boris@example.com").await;
    let (_, vera) = app.user("vera@example.com").await;
    let co = with_notes(app, &[("anna@example.com", "member")]).await;
    app.member_with_role(&co, "boris@example.com", "visitor", &["notes.note.write"]).await;
    let other = app.company("Globex", &[("vera@example.com", "member")]).await;

    // An upload keeps a clean name, and a type from the client or the extension.
    let pdf = b"%PDF-1.4 an invoice for payment".to_vec();
    let up = upload(app, &co, &app.root, "../../Счёт №5.pdf", None, &pdf).await;
    let file = up.expect(201).clone();
    let id = file["id"].as_str().unwrap().to_string();
    assert_eq!(file["name"], "Счёт №5.pdf");
    assert_eq!(file["size"], pdf.len());
    assert_eq!(file["content_type"], "application/pdf");
    assert_eq!(used_bytes(app, &co).await, pdf.len() as i64);

    // While attached nowhere, only its uploader has it, and only they may attach it.
    assert_eq!(download(app, &co, &app.root, &id).await.body, pdf);
    assert_eq!(download(app, &co, &anna, &id).await.status, 404);
    let stolen = app.post(&notes(&co), &anna, json!({ "title": "Mine", "attachment": id })).await;
    stolen.expect(422);
    assert_eq!(stolen.body["error"]["fields"][0]["field"], "attachment");
    let note = app.post(&notes(&co), &app.root, json!({ "title": "Invoice", "attachment": id })).await;
    let note = note.expect(201).clone();
    let note_id = note["id"].as_str().unwrap().to_string();
    assert_eq!(
        note["data"]["attachment"],
        json!({ "id": id, "name": "Счёт №5.pdf", "size": pdf.len(), "content_type": "application/pdf" })
    );

    // Attached, it goes to whoever may read the note, with headers a browser cannot misuse.
    let got = download(app, &co, &anna, &id).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body, pdf);
    assert_eq!(got.header("content-type"), "application/pdf");
    assert_eq!(
        got.header("content-disposition"),
        "inline; filename=\"____ _5.pdf\"; filename*=UTF-8''%D0%A1%D1%87%D1%91%D1%82%20%E2%84%965.pdf"
    );
    assert_eq!(got.header("x-content-type-options"), "nosniff");
    // A PDF is shown by the browser's own viewer, which a sandboxed page may not load; it still
    // may load nothing else.
    assert_eq!(got.header("content-security-policy"), "default-src 'none'; frame-ancestors 'self'");
    // Nobody else: not a member who cannot read notes, not another company's member, not
    // through another company's path, not by a made-up id.
    assert_eq!(download(app, &co, &boris, &id).await.status, 404);
    assert_eq!(download(app, &co, &vera, &id).await.status, 404);
    assert_eq!(download(app, &other, &vera, &id).await.status, 404);
    assert_eq!(download(app, &other, &app.root, &id).await.status, 404);
    assert_eq!(download(app, &co, &app.root, "0190e0e0-0000-7000-8000-000000000000").await.status, 404);
    assert_eq!(download(app, &co, &app.root, "not-an-id").await.status, 404);
    let audit = app.get(&format!("/api/v1/companies/{co}/audit"), &app.root).await;
    let actions: Vec<String> = audit.expect(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(actions.iter().any(|a| a == "file.download"), "downloads are audited: {actions:?}");
    assert!(actions.iter().any(|a| a == "file.upload"), "uploads are audited: {actions:?}");

    // One file, one record: the id cannot be attached again elsewhere.
    let twice = app.post(&notes(&co), &app.root, json!({ "title": "Copy", "attachment": id })).await;
    twice.expect(422);
    assert!(twice.body["error"]["fields"][0]["message"].as_str().unwrap().contains("another record"));
    let made_up = app
        .post(&notes(&co), &app.root, json!({ "title": "X", "attachment": "0190e0e0-0000-7000-8000-000000000000" }))
        .await;
    made_up.expect(422);
    app.post(&notes(&co), &app.root, json!({ "title": "X", "attachment": 42 })).await.expect(422);

    // HTML and SVG are never shown in place.
    let html = upload(app, &co, &app.root, "page.html", Some("text/html"), b"<script>alert(1)</script>").await;
    let html_id = html.expect(201)["id"].as_str().unwrap().to_string();
    app.post(&notes(&co), &app.root, json!({ "title": "Page", "attachment": html_id })).await.expect(201);
    let got = download(app, &co, &anna, &html_id).await;
    assert_eq!(got.header("content-type"), "application/octet-stream");
    assert!(got.header("content-disposition").starts_with("attachment;"));

    // The same content twice is stored once.
    let blobs_before = blobs(app);
    let again = upload(app, &co, &app.root, "copy.pdf", None, &pdf).await;
    let again_id = again.expect(201)["id"].as_str().unwrap().to_string();
    assert_eq!(blobs(app), blobs_before, "duplicate content is stored once");

    // Replacing a note's file forgets the old one and gives its bytes back.
    let used = used_bytes(app, &co).await;
    let path = format!("{}/{note_id}", notes(&co));
    let changed = app.patch(&path, &app.root, json!({ "attachment": again_id })).await;
    assert_eq!(changed.expect(200)["data"]["attachment"]["name"], "copy.pdf");
    assert_eq!(download(app, &co, &app.root, &id).await.status, 404);
    assert_eq!(used_bytes(app, &co).await, used - pdf.len() as i64);
    // Saving the record as it is (its file field as read) changes nothing.
    let current = app.get(&path, &app.root).await.expect(200)["data"].clone();
    let same = app.patch(&path, &app.root, json!({ "attachment": current["attachment"] })).await;
    assert_eq!(same.expect(200)["data"]["attachment"], current["attachment"]);
    assert_eq!(download(app, &co, &anna, &again_id).await.status, 200);

    // A sensitive file field: hidden from who may not see it, file included.
    let secret = upload(app, &co, &app.root, "salary.txt", Some("text/plain"), b"confidential").await;
    let secret_id = secret.expect(201)["id"].as_str().unwrap().to_string();
    let private = app.post(&notes(&co), &app.root, json!({ "title": "Pay", "private_file": secret_id })).await;
    let private_id = private.expect(201)["id"].as_str().unwrap().to_string();
    let seen = app.get(&format!("{}/{private_id}", notes(&co)), &anna).await;
    assert!(seen.expect(200)["data"].get("private_file").is_none());
    assert_eq!(download(app, &co, &anna, &secret_id).await.status, 404);
    assert_eq!(download(app, &co, &app.root, &secret_id).await.body, b"confidential");

    // Deleting the record forgets its file.
    app.delete(&path, &app.root).await.expect(204);
    assert_eq!(download(app, &co, &app.root, &again_id).await.status, 404);

    // The UI uploads through its own route (with the page's CSRF token) and serves downloads
    // through the API's checks.
    let mut b = Browser::new(app);
    b.login("anna@example.com").await;
    let form = b.get(&format!("/c/{co}/p/notes/d/note/new")).await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("type=\"file\""), "a file field has a file input");
    let csrf = csrf_of(&form.body);
    let refused =
        b.send_bytes(&format!("/c/{co}/files?name=a.txt"), &[("content-type", "text/plain")], b"x".to_vec()).await;
    assert_eq!(refused.status, 403, "no CSRF token, no upload");
    let sent = b
        .send_bytes(
            &format!("/c/{co}/files?name=plan.txt"),
            &[("content-type", "text/plain"), ("x-csrf-token", &csrf)],
            "План на неделю".as_bytes().to_vec(),
        )
        .await;
    assert_eq!(sent.status, 201, "{}", sent.body);
    let sent: Value = serde_json::from_str(&sent.body).unwrap();
    let plan_id = sent["id"].as_str().unwrap().to_string();
    let created = b
        .post(&format!("/c/{co}/p/notes/d/note/new"), &[("_csrf", &csrf), ("title", "Plan"), ("attachment", &plan_id)])
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    let page = b.get(created.location.as_deref().unwrap()).await;
    assert!(page.body.contains("plan.txt"), "the record page names its file");
    assert!(page.body.replace("&#x2f;", "/").contains(&format!("/c/{co}/files/{plan_id}")), "and links to it");
    let got = b.get(&format!("/c/{co}/files/{plan_id}")).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body, "План на неделю");
    let mut outsider = Browser::new(app);
    outsider.login("vera@example.com").await;
    assert_eq!(outsider.get(&format!("/c/{co}/files/{plan_id}")).await.status, 404);
}

/// Sends an upload with a chunked body (no declared length) over a plain socket and reads
/// the answer's status.
async fn chunked_upload(app: &TestApp, co: &str, token: &str, size: usize) -> u16 {
    let addr = app.base.trim_start_matches("http://").to_string();
    let mut s = tokio::net::TcpStream::connect(&addr).await.expect("connect");
    let head = format!(
        "POST /api/v1/companies/{co}/files?name=big.bin HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.expect("head");
    let piece = vec![b'z'; 8192];
    let mut sent = 0;
    while sent < size {
        let frame = format!("{:x}\r\n", piece.len());
        // The server may answer and close before the whole body is sent.
        if s.write_all(frame.as_bytes()).await.is_err()
            || s.write_all(&piece).await.is_err()
            || s.write_all(b"\r\n").await.is_err()
        {
            break;
        }
        sent += piece.len();
    }
    let _ = s.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer).await;
    let text = String::from_utf8_lossy(&answer);
    text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
}

async fn refused_uploads_keep_nothing_on(app: &TestApp) {
    let co = with_notes(app, &[]).await;
    let kib = 1024;
    // Over the per-file limit: refused whether the size is declared or not.
    let big = upload(app, &co, &app.root, "big.bin", None, &vec![1u8; 65 * kib]).await;
    big.expect(413);
    assert_eq!(big.code(), "payload_too_large");
    assert_eq!(chunked_upload(app, &co, &app.root, 100 * kib).await, 413);
    // Up to the company's room, then 507.
    upload(app, &co, &app.root, "a.bin", None, &vec![2u8; 60 * kib]).await.expect(201);
    upload(app, &co, &app.root, "b.bin", None, &vec![3u8; 60 * kib]).await.expect(201);
    let full = upload(app, &co, &app.root, "c.bin", None, &vec![4u8; 60 * kib]).await;
    full.expect(507);
    assert_eq!(full.code(), "quota_exceeded");
    assert_eq!(file_rows(app).await, 2);
    assert_eq!(used_bytes(app, &co).await, 120 * kib as i64);
    // A name that is nothing but a path is refused before a byte is stored.
    upload(app, &co, &app.root, "../", None, b"x").await.expect(422);
    // A client that stops in the middle leaves nothing.
    let addr = app.base.trim_start_matches("http://").to_string();
    let mut s = tokio::net::TcpStream::connect(&addr).await.expect("connect");
    let head = format!(
        "POST /api/v1/companies/{co}/files?name=cut.bin HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\nContent-Length: 50000\r\n\r\n",
        app.root
    );
    s.write_all(head.as_bytes()).await.expect("head");
    s.write_all(&[5u8; 10000]).await.expect("part of the body");
    s.flush().await.expect("flush");
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(s);
    assert!(eventually(10, async || staging(app) == 0).await, "the broken upload's staging file is removed");
    assert_eq!(file_rows(app).await, 2);
    assert_eq!(blobs(app), 2);
    assert_eq!(used_bytes(app, &co).await, 120 * kib as i64);
}

/// A server with a 64 KiB file limit and 150 KiB of room per company.
async fn small_limits(backend: Backend) -> Option<TestApp> {
    TestApp::start_with_files(backend, |f| {
        f.max_file_bytes = 64 * 1024;
        f.company_bytes = Some(150 * 1024);
    })
    .await
}

mod refused_uploads_keep_nothing {
    use crate::support::Backend;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        if let Some(app) = super::small_limits(Backend::Sqlite).await {
            super::refused_uploads_keep_nothing_on(&app).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        if let Some(app) = super::small_limits(Backend::Postgres).await {
            super::refused_uploads_keep_nothing_on(&app).await;
        }
    }
}

async fn sweeps_remove_what_nobody_uses(app: &TestApp) {
    let co = with_notes(app, &[]).await;
    let kept = upload(app, &co, &app.root, "kept.txt", None, b"kept").await;
    let kept_id = kept.expect(201)["id"].as_str().unwrap().to_string();
    app.post(&notes(&co), &app.root, json!({ "title": "Kept", "attachment": kept_id })).await.expect(201);
    upload(app, &co, &app.root, "forgotten.txt", None, b"forgotten").await.expect(201);
    assert_eq!((file_rows(app).await, blobs(app)), (2, 2));
    let swept = app.platform.files.sweep_with(&app.db, Duration::ZERO, Duration::ZERO).await.expect("sweep");
    assert_eq!((swept.files, swept.blobs), (1, 1));
    assert_eq!((file_rows(app).await, blobs(app)), (1, 1));
    assert_eq!(used_bytes(app, &co).await, 4);
    assert_eq!(download(app, &co, &app.root, &kept_id).await.body, b"kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_are_sealed_at_rest_when_a_key_is_set() {
    let key = "7f".repeat(32);
    let Some(app) = TestApp::start_with_files(Backend::Sqlite, |f| {
        f.key = Some(erp_kernel::files::FileKey::parse(&key).expect("key"));
    })
    .await
    else {
        return;
    };
    let co = with_notes(&app, &[]).await;
    let text = "Совершенно секретно. ".repeat(20_000);
    let up = upload(&app, &co, &app.root, "secret.txt", Some("text/plain"), text.as_bytes()).await;
    let id = up.expect(201)["id"].as_str().unwrap().to_string();
    let stored = files_in(&app.files_dir.path().join("blobs"));
    assert_eq!(stored.len(), 1);
    let raw = std::fs::read(&stored[0]).expect("blob");
    let needle = "Совершенно".as_bytes();
    assert!(!raw.windows(needle.len()).any(|w| w == needle), "the blob on disk is not the plain text");
    assert_eq!(download(&app, &co, &app.root, &id).await.body, text.as_bytes());
}
