//! A company's e-mail against real servers on the loopback: an SMTP server (the `mailin`
//! protocol library behind a socket loop of the test's own) that takes the company's messages
//! with authentication, and Dovecot, a real IMAP server, whose mailbox is read into the CRM's
//! lead inbox once per message however often it is checked.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;
use serde_json::{Value, json};

use crate::both_backends;
use crate::support::{TestApp, package};
use crate::ui::{Browser, csrf_of};

both_backends!(
    mail_goes_out_through_the_company_relay,
    a_mailbox_message_becomes_one_lead,
    notifications_reach_people_by_email_too,
    the_demo_keeps_its_mail_in_a_mailbox_stub,
);

/// A message the SMTP server took.
#[derive(Debug, Clone, Default)]
pub(crate) struct Received {
    pub from: String,
    pub to: Vec<String>,
    pub data: Vec<u8>,
}

/// The test relays' handler: wants `user`/`password`, refuses `@nowhere.invalid`, keeps
/// what it is given in `received`.
#[derive(Clone)]
pub(crate) struct Collect {
    user: &'static str,
    password: &'static str,
    current: Option<Received>,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Collect {
    pub(crate) fn new(user: &'static str, password: &'static str, received: Arc<Mutex<Vec<Received>>>) -> Collect {
        Collect { user, password, current: None, received }
    }
}

impl mailin::Handler for Collect {
    fn rcpt(&mut self, to: &str) -> mailin::Response {
        if to.ends_with("@nowhere.invalid") { mailin::response::NO_MAILBOX } else { mailin::response::OK }
    }

    fn data_start(&mut self, _domain: &str, from: &str, _is8bit: bool, to: &[String]) -> mailin::Response {
        self.current = Some(Received { from: from.to_string(), to: to.to_vec(), data: Vec::new() });
        mailin::response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        if let Some(c) = self.current.as_mut() {
            c.data.extend_from_slice(buf);
        }
        Ok(())
    }

    fn data_end(&mut self) -> mailin::Response {
        if let Some(c) = self.current.take() {
            self.received.lock().push(c);
        }
        mailin::response::OK
    }

    fn auth_plain(&mut self, _authz: &str, user: &str, password: &str) -> mailin::Response {
        if user == self.user && password == self.password {
            mailin::response::AUTH_OK
        } else {
            mailin::response::INVALID_CREDENTIALS
        }
    }
}

/// An SMTP server on 127.0.0.1 that wants `user`/`password` and keeps what it is given.
pub(crate) struct Smtp {
    pub port: u16,
    pub received: Arc<Mutex<Vec<Received>>>,
    /// Connections clients opened.
    pub connections: Arc<std::sync::atomic::AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Drop for Smtp {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn converse(stream: TcpStream, handler: Collect) -> std::io::Result<()> {
    let peer = stream.peer_addr()?.ip();
    let session = mailin::SessionBuilder::new("smtp.test")
        .enable_auth(mailin::AuthMechanism::Plain)
        .insecure_enable_plaintext_auth()
        .build(peer, handler);
    erp::demo_mail::converse(stream, session)
}

impl Smtp {
    pub(crate) fn start(user: &'static str, password: &'static str) -> Smtp {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let handler = Collect::new(user, password, received.clone());
        let stopping = stop.clone();
        let connections: Arc<std::sync::atomic::AtomicUsize> = Arc::default();
        let counted = connections.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                counted.fetch_add(1, Ordering::SeqCst);
                let handler = handler.clone();
                std::thread::spawn(move || {
                    let _ = converse(stream, handler);
                });
            }
        });
        Smtp { port, received, connections, stop }
    }
}

/// A Dovecot IMAP server on 127.0.0.1 with one mailbox, `inbox@example.com` / `secret`, kept
/// as a Maildir the test writes messages into.
pub(crate) struct Dovecot {
    pub port: u16,
    /// The implicit TLS (IMAPS) port, when started with a certificate.
    pub tls_port: Option<u16>,
    dir: tempfile::TempDir,
    child: std::process::Child,
    owner: (u32, u32),
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        // TERM lets the master take its children down with it.
        let _ = std::process::Command::new("kill").arg(self.child.id().to_string()).status();
        let _ = self.child.wait();
    }
}

fn id(flag: &str) -> u32 {
    let out = std::process::Command::new("id").arg(flag).output().expect("id");
    String::from_utf8_lossy(&out.stdout).trim().parse().expect("a number")
}

fn user_name() -> String {
    let out = std::process::Command::new("id").arg("-un").output().expect("id");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

impl Dovecot {
    /// Starts the server; `None` (with a loud message) where Dovecot is not installed, which
    /// under CI is a failure (`.ci/run` installs it).
    pub(crate) fn start() -> Option<Dovecot> {
        Dovecot::start_with(None)
    }

    /// Like [`Dovecot::start`], also speaking TLS (STARTTLS on `port`, implicit TLS on
    /// `tls_port`) with this PEM certificate chain and key.
    pub(crate) fn start_with(tls: Option<(String, String)>) -> Option<Dovecot> {
        let binary = ["/usr/sbin/dovecot", "/usr/local/sbin/dovecot"].into_iter().find(|p| Path::new(p).exists());
        let Some(binary) = binary else {
            assert!(
                std::env::var("CI").is_err(),
                "Dovecot is not installed; .ci/run installs it (apt-get install dovecot-imapd)"
            );
            eprintln!("SKIPPED: Dovecot (dovecot-imapd) is not installed; the IMAP test needs it");
            return None;
        };
        let dir = tempfile::tempdir().expect("dir");
        let root = dir.path();
        let port = TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
        // As root, mail is kept by `nobody` and Dovecot's own users run its services; otherwise
        // everything runs as the caller.
        let root_user = id("-u") == 0;
        let owner = if root_user { (65534, 65534) } else { (id("-u"), id("-g")) };
        let (internal, login) =
            if root_user { ("dovecot".to_string(), "dovenull".to_string()) } else { (user_name(), user_name()) };
        for d in ["mail/inbox/new", "mail/inbox/cur", "mail/inbox/tmp", "run", "state"] {
            std::fs::create_dir_all(root.join(d)).expect("mkdir");
        }
        std::fs::write(root.join("users"), "inbox@example.com:{PLAIN}secret\n").expect("users");
        let r = root.display();
        let tls_port =
            tls.as_ref().map(|_| TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port());
        let ssl = match &tls {
            Some((cert, key)) => {
                std::fs::write(root.join("cert.pem"), cert).expect("cert");
                std::fs::write(root.join("key.pem"), key).expect("key");
                format!("ssl = yes\nssl_cert = <{r}/cert.pem\nssl_key = <{r}/key.pem\n")
            }
            None => "ssl = no\n".to_string(),
        };
        let conf = format!(
            "base_dir = {r}/run\nstate_dir = {r}/state\nlog_path = {r}/dovecot.log\nprotocols = imap\n\
             listen = 127.0.0.1\n{ssl}disable_plaintext_auth = no\nauth_mechanisms = plain login\n\
             mail_location = maildir:{r}/mail/%n\ndefault_internal_user = {internal}\n\
             default_login_user = {login}\nfirst_valid_uid = 1\n\
             service imap-login {{\n  chroot =\n  inet_listener imap {{\n    address = 127.0.0.1\n    port = {port}\n  }}\n  inet_listener imaps {{\n    address = 127.0.0.1\n    port = {}\n  }}\n}}\n\
             service anvil {{\n  chroot =\n}}\n\
             passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%u {r}/users\n}}\n\
             userdb {{\n  driver = static\n  args = uid={} gid={} home={r}/mail/%n\n}}\n",
            tls_port.unwrap_or(0),
            owner.0,
            owner.1
        );
        std::fs::write(root.join("dovecot.conf"), conf).expect("conf");
        chown_all(&root.join("mail"), owner);
        if root_user {
            // Dovecot's unprivileged services must reach the configuration and the sockets.
            let _ = std::process::Command::new("chmod").args(["755", &r.to_string()]).status();
        }
        let child = std::process::Command::new(binary)
            .args(["-F", "-c"])
            .arg(root.join("dovecot.conf"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start dovecot");
        let server = Dovecot { port, tls_port, dir, child, owner };
        for _ in 0..100 {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(server);
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let log = std::fs::read_to_string(server.dir.path().join("dovecot.log")).unwrap_or_default();
        panic!("Dovecot did not start listening: {log}");
    }

    /// Delivers a message into the mailbox, as a mail server would (a new file in `new/`).
    pub(crate) fn deliver(&self, name: &str, raw: &str) {
        let tmp = self.dir.path().join("mail/inbox/tmp").join(name);
        std::fs::write(&tmp, raw).expect("write message");
        chown_all(&tmp, self.owner);
        let new: PathBuf = self.dir.path().join("mail/inbox/new").join(name);
        std::fs::rename(&tmp, &new).expect("deliver");
    }
}

fn chown_all(path: &Path, (uid, gid): (u32, u32)) {
    let _ = std::process::Command::new("chown").args(["-R", &format!("{uid}:{gid}")]).arg(path).status();
}

fn relay(port: u16, password: &str) -> Value {
    json!({
        "from_address": "sales@acme.example", "from_name": "Acme — отдел продаж",
        "smtp_host": "127.0.0.1", "smtp_port": port, "smtp_security": "none",
        "smtp_username": "acme", "smtp_password": password,
    })
}

async fn mail_goes_out_through_the_company_relay(app: &TestApp) {
    let smtp = Smtp::start("acme", "relay-password");
    let co = app.company("Acme", &[]).await;
    let path = format!("/api/v1/companies/{co}/mail");
    let test = format!("{path}/test");
    // Nothing set up yet: a clear conflict, not a failure.
    let none = app.get(&path, &app.root).await;
    assert_eq!(none.expect(200)["configured"], false);
    let r = app.post(&test, &app.root, json!({ "to": "ivan@example.org" })).await;
    assert_eq!((r.status.as_u16(), r.code()), (409, "mail_not_configured"), "{:?}", r.body);

    // Bad settings change nothing and name their fields.
    for (body, field) in [
        (json!({ "smtp_host": "smtp://relay", "from_address": "a@b.example" }), "smtp_host"),
        (
            json!({ "smtp_host": "relay.example", "smtp_security": "ssl", "from_address": "a@b.example" }),
            "smtp_security",
        ),
        (json!({ "smtp_host": "relay.example", "from_address": "not an address" }), "from_address"),
        (json!({ "imap_host": "imap.example", "imap_username": "x" }), "deliver_to"),
    ] {
        let r = app.put(&path, &app.root, body).await;
        assert_eq!(r.status, 422, "{:?}", r.body);
        assert_eq!(r.body["error"]["fields"][0]["field"], field, "{:?}", r.body);
    }
    let r = app.put(&path, &app.root, json!({ "smtp_host": "relay.example", "password": "x" })).await;
    assert!(r.status == 400 || r.status == 422, "an unknown field is refused: {:?}", r.body);
    app.get(&path, &app.root).await.expect(200);
    assert_eq!(app.get(&path, &app.root).await.body["configured"], false);

    // Saved: the password is sealed in the database and never shown.
    let saved = app.put(&path, &app.root, relay(smtp.port, "relay-password")).await;
    let saved = saved.expect(200).clone();
    assert_eq!(saved["smtp_password_set"], true);
    assert!(!saved.to_string().contains("relay-password"), "{saved}");
    let (db, c) = (app.db.clone(), co.clone());
    let stored =
        tokio::task::spawn_blocking(move || db.read_blocking(|conn| erp_kernel::mail::settings::get(conn, &c)))
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    let sealed = stored.smtp_password.clone().unwrap();
    assert!(sealed.starts_with("sealed:") && !sealed.contains("relay-password"), "{sealed}");

    // A test message reaches the relay, authenticated, with its subject in UTF-8.
    let sent = app.post(&test, &app.root, json!({ "to": "ivan@example.org" })).await;
    let message_id = sent.expect(200)["message_id"].as_str().unwrap().to_string();
    let got = smtp.received.lock().clone();
    assert_eq!(got.len(), 1, "one message");
    assert_eq!(got[0].to, ["ivan@example.org"]);
    assert_eq!(got[0].from, "sales@acme.example");
    let parsed = mail_parser::MessageParser::default().parse(&got[0].data).unwrap();
    assert_eq!(parsed.subject(), Some("Acme: test message / тестовое письмо"));
    assert_eq!(parsed.from().and_then(|f| f.first()).and_then(|a| a.name()), Some("Acme — отдел продаж"));
    assert_eq!(parsed.message_id().map(|m| format!("<{m}>")), Some(message_id));

    // Saving again without a password keeps it; a wrong one is refused by the relay.
    let mut keep = relay(smtp.port, "");
    keep.as_object_mut().unwrap().remove("smtp_password");
    assert_eq!(app.put(&path, &app.root, keep).await.expect(200)["smtp_password_set"], true);
    app.post(&test, &app.root, json!({ "to": "ivan@example.org" })).await.expect(200);
    app.put(&path, &app.root, relay(smtp.port, "wrong")).await.expect(200);
    let r = app.post(&test, &app.root, json!({ "to": "ivan@example.org" })).await;
    assert_eq!((r.status.as_u16(), r.code()), (502, "mail_rejected"), "{:?}", r.body);
    app.put(&path, &app.root, relay(smtp.port, "relay-password")).await.expect(200);
    let r = app.post(&test, &app.root, json!({ "to": "nobody@nowhere.invalid" })).await;
    assert_eq!((r.status.as_u16(), r.code()), (502, "mail_rejected"), "a refused recipient: {:?}", r.body);
    let r = app.post(&test, &app.root, json!({ "to": "not an address" })).await;
    assert_eq!(r.status, 422, "{:?}", r.body);
    assert_eq!(smtp.received.lock().len(), 2, "only the accepted messages arrived");

    // A relay on a private address the operator did not open is refused before connecting.
    let mut private = relay(25, "x");
    private["smtp_host"] = json!("10.1.2.3");
    app.put(&path, &app.root, private).await.expect(200);
    let r = app.post(&test, &app.root, json!({ "to": "ivan@example.org" })).await;
    assert_eq!((r.status.as_u16(), r.code()), (403, "outbound_denied"), "{:?}", r.body);

    // Every conversation is in the outbound log.
    let log = app.get(&format!("/api/v1/companies/{co}/outbound?source=mail"), &app.root).await;
    let items = log.expect(200)["items"].as_array().unwrap().clone();
    let outcomes: Vec<&str> = items.iter().map(|i| i["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes.iter().filter(|o| **o == "ok").count(), 2, "{items:?}");
    assert!(outcomes.contains(&"denied"), "{items:?}");
    assert!(items.iter().all(|i| i["method"] == "SMTP"), "{items:?}");

    // Only those who manage the company see or change mail settings.
    let (_, clerk) = app.user("clerk@example.com").await;
    let co2 = app.company("Clerks", &[("clerk@example.com", "member")]).await;
    let r = app.get(&format!("/api/v1/companies/{co2}/mail"), &clerk).await;
    assert_eq!(r.status, 403, "{:?}", r.body);
    app.delete(&path, &app.root).await.expect(204);
    assert_eq!(app.get(&path, &app.root).await.body["configured"], false);
}

pub(crate) fn email(from: &str, message_id: &str, subject: &str, text: &str) -> String {
    format!(
        "From: {from}\r\nTo: inbox@example.com\r\nSubject: {subject}\r\nMessage-ID: {message_id}\r\n\
         Date: Mon, 07 Dec 2026 09:00:00 +0300\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"
    )
}

async fn count(app: &TestApp, co: &str, collection: &str) -> usize {
    let r = app.get(&format!("/api/v1/companies/{co}/data/crm/{collection}?limit=100"), &app.root).await;
    r.expect(200)["items"].as_array().unwrap().len()
}

async fn a_mailbox_message_becomes_one_lead(app: &TestApp) {
    let Some(imap) = tokio::task::spawn_blocking(Dovecot::start).await.unwrap() else { return };
    let co = app.company("Acme", &[]).await;
    app.install(&package("crm")).await;
    app.enable(&co, "crm", json!({})).await.expect(200);
    imap.deliver("1.eml", &email("Ivan Petrov <ivan@example.org>", "<m1@example.org>", "Quote", "Need 20 chairs."));
    let path = format!("/api/v1/companies/{co}/mail");
    let poll = format!("{path}/poll");
    let mailbox = json!({
        "imap_host": "127.0.0.1", "imap_port": imap.port, "imap_security": "none",
        "imap_username": "inbox@example.com", "imap_password": "wrong", "deliver_to": "crm/email",
    });
    app.put(&path, &app.root, mailbox.clone()).await.expect(200);
    // A wrong password is a clear error, kept on the settings for the admin to see.
    let r = app.post(&poll, &app.root, json!({})).await;
    assert_eq!((r.status.as_u16(), r.code()), (502, "mail_failed"), "{:?}", r.body);
    let shown = app.get(&path, &app.root).await;
    assert!(shown.expect(200)["last_error"].as_str().unwrap().contains("login"), "{:?}", shown.body);

    let mut right = mailbox.clone();
    right["imap_password"] = json!("secret");
    app.put(&path, &app.root, right).await.expect(200);
    let first = app.post(&poll, &app.root, json!({})).await;
    let first = first.expect(200).clone();
    assert_eq!((first["found"].as_u64(), first["delivered"].as_u64()), (Some(1), Some(1)), "{first}");
    assert_eq!(count(app, &co, "lead").await, 1);
    let again = app.post(&poll, &app.root, json!({})).await;
    assert_eq!(again.expect(200)["found"], 0, "nothing new the second time");
    assert_eq!(count(app, &co, "lead").await, 1, "polled twice, still one lead");

    // The same message copied into the mailbox again, and a new one from someone else.
    imap.deliver("2.eml", &email("Ivan Petrov <ivan@example.org>", "<m1@example.org>", "Quote", "Need 20 chairs."));
    imap.deliver("3.eml", &email("Мария <maria@example.org>", "<m3@example.org>", "Счёт", "Пришлите счёт."));
    let third = app.post(&poll, &app.root, json!({})).await;
    let third = third.expect(200).clone();
    assert_eq!(
        (third["found"].as_u64(), third["duplicates"].as_u64(), third["delivered"].as_u64()),
        (Some(2), Some(1), Some(1)),
        "{third}"
    );
    assert_eq!(count(app, &co, "lead").await, 2, "one lead per sender, the copy changed nothing");
    let leads = app.get(&format!("/api/v1/companies/{co}/data/crm/lead?limit=100"), &app.root).await;
    let titles: Vec<String> = leads.expect(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["data"]["title"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(titles.iter().any(|t| t == "Счёт"), "{titles:?}");

    // Something the inbox cannot read is refused once and not offered again.
    imap.deliver("4.eml", "this is not an e-mail message\r\n");
    let fourth = app.post(&poll, &app.root, json!({})).await;
    assert_eq!(fourth.expect(200)["refused"], 1, "{:?}", fourth.body);
    let fifth = app.post(&poll, &app.root, json!({})).await;
    assert_eq!(fifth.expect(200)["found"], 0);
    let shown = app.get(&path, &app.root).await;
    let shown = shown.expect(200).clone();
    assert_eq!(shown["received"], 3, "two messages and the refused one: {shown}");
    assert!(shown["last_error"].is_null(), "{shown}");
    let log = app.get(&format!("/api/v1/companies/{co}/outbound?source=mail"), &app.root).await;
    let items = log.expect(200)["items"].as_array().unwrap().clone();
    assert!(items.iter().all(|i| i["method"] == "IMAP"), "{items:?}");
    assert_eq!(items.iter().filter(|i| i["outcome"] == "ok").count(), 5, "{items:?}");
}

/// Runs the node's mail worker once, as the server does every few seconds.
async fn mail_worker(app: &TestApp) -> usize {
    let platform = app.platform.clone();
    tokio::task::spawn_blocking(move || erp_kernel::mail::outbox::deliver_due(&platform, 100)).await.unwrap().unwrap()
}

async fn notify(app: &TestApp, co: &str, to: &[String], en: &str, ru: &str) {
    use erp_kernel::notify::{Importance, NewNotification, Text};
    use erp_kernel::plugins::Kernel;
    let (platform, co, to) = (app.platform.clone(), co.to_string(), to.to_vec());
    let (title, body) = (
        Text::ByLanguage([("en".to_string(), en.to_string()), ("ru".to_string(), ru.to_string())].into()),
        Text::One("Details follow".into()),
    );
    tokio::task::spawn_blocking(move || {
        let mut session = erp_kernel::session::Session::begin(&platform.db, &co, None).unwrap();
        let note = NewNotification {
            company_id: &co,
            recipients: &to,
            source: "kernel",
            kind: "kernel.test_note",
            title: &title,
            body: &body,
            link: None,
            importance: Importance::High,
        };
        platform.notify(&mut session, &note).unwrap();
        session.commit().unwrap();
    })
    .await
    .unwrap();
}

async fn notifications_reach_people_by_email_too(app: &TestApp) {
    let smtp = Smtp::start("acme", "relay-password");
    let (alice, alice_token) = app.user("alice@example.com").await;
    let (bob, _) = app.user("bob@example.com").await;
    let co = app.company("Acme", &[("alice@example.com", "member"), ("bob@example.com", "member")]).await;
    // A closed port first: the relay is down.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    app.put(&format!("/api/v1/companies/{co}/mail"), &app.root, relay(closed, "relay-password")).await.expect(200);
    // A kind is offered once it has been sent; this one goes to the app only.
    notify(app, &co, std::slice::from_ref(&alice), "Welcome", "Добро пожаловать").await;
    let prefs = format!("/api/v1/companies/{co}/notifications/preferences");
    app.put(&prefs, &alice_token, json!({ "kinds": [{ "kind": "kernel.test_note", "channel": "app_and_email" }] }))
        .await
        .expect(200);
    notify(app, &co, &[alice.clone(), bob.clone()], "Call the customer", "Позвоните клиенту").await;
    assert_eq!(mail_worker(app).await, 1, "only Alice asked for e-mail");
    let outbox = format!("/api/v1/companies/{co}/mail/outbox");
    let listed = app.get(&outbox, &app.root).await;
    let item = listed.expect(200)["items"][0].clone();
    assert_eq!((item["status"].as_str(), item["attempts"].as_i64()), (Some("queued"), Some(1)), "{item}");
    assert!(item["error"].as_str().is_some_and(|e| !e.is_empty()), "the failure is shown: {item}");
    assert_eq!(item["recipient"], "alice@example.com");
    assert_eq!(mail_worker(app).await, 0, "not retried before its time");

    // The relay is back and the retry is due: the message goes out once.
    app.put(&format!("/api/v1/companies/{co}/mail"), &app.root, relay(smtp.port, "relay-password")).await.expect(200);
    let db = app.db.clone();
    tokio::task::spawn_blocking(move || {
        db.write_blocking(|conn| {
            use diesel::prelude::*;
            diesel::sql_query("UPDATE mail_outbox SET next_at = 0")
                .execute(conn)
                .map_err(erp_kernel::storage::StoreError::from)
        })
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(mail_worker(app).await, 1);
    assert_eq!(mail_worker(app).await, 0, "sent once");
    let got = smtp.received.lock().clone();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].to, ["alice@example.com"]);
    let parsed = mail_parser::MessageParser::default().parse(&got[0].data).unwrap();
    assert_eq!(parsed.subject(), Some("Позвоните клиенту / Call the customer"));
    let text = parsed.body_text(0).unwrap().to_string();
    assert!(text.contains("Details follow"));
    // The letter links to the notification, which opens what it names once Alice logs in.
    let link = text.lines().map(str::trim).find(|l| l.starts_with(&app.base)).expect("a link in the letter");
    assert!(link.starts_with(&format!("{}/c/{co}/notifications/", app.base)) && link.ends_with("/open"), "{text}");
    let web = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let opened = web.get(link).send().await.unwrap();
    let to = opened.headers()["location"].to_str().unwrap().to_string();
    assert!(to.starts_with("/login?next=") && to.contains("notifications"), "{to}");
    let listed = app.get(&format!("{outbox}?status=sent"), &app.root).await;
    let item = listed.expect(200)["items"][0].clone();
    assert_eq!(item["attempts"], 2, "{item}");
    assert_eq!(
        item["message_id"].as_str().map(|m| m.trim_matches(['<', '>']).to_string()),
        parsed.message_id().map(str::to_string)
    );
    app.get(&format!("{outbox}?status=lost"), &app.root).await.expect(400);

    // The administration page, in Russian: the settings without the password, and what went out.
    let mut b = Browser::new(app);
    b.language("ru");
    b.login("root@example.com").await;
    let page = b.get(&format!("/c/{co}/admin/mail")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    for words in [
        "Исходящая почта (SMTP)",
        "Входящий ящик (IMAP)",
        "сохранён; оставьте пустым",
        "отправлено",
        "Позвоните клиенту",
    ] {
        assert!(page.body.contains(words), "{words}: {}", page.body);
    }
    assert!(!page.body.contains("relay-password"));
    // Saving the form with the password left empty keeps it; the test form sends a message.
    let csrf = csrf_of(&page.body);
    let port = smtp.port.to_string();
    let form = [
        ("_csrf", csrf.as_str()),
        ("from_address", "sales@acme.example"),
        ("from_name", "Acme"),
        ("smtp_host", "127.0.0.1"),
        ("smtp_port", port.as_str()),
        ("smtp_security", "none"),
        ("smtp_username", "acme"),
        ("smtp_password", ""),
    ];
    let saved = b.post(&format!("/c/{co}/admin/mail"), &form).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let sent =
        b.post(&format!("/c/{co}/admin/mail/test"), &[("_csrf", csrf.as_str()), ("to", "boss@example.org")]).await;
    assert!(sent.body.contains("Тестовое письмо передано"), "{}", sent.body);
    assert_eq!(smtp.received.lock().len(), 2);
    let bad = b.post(&format!("/c/{co}/admin/mail"), &[("_csrf", csrf.as_str()), ("smtp_host", "smtp://x")]).await;
    assert_eq!(bad.status, 422, "{}", bad.body);
}

async fn the_demo_keeps_its_mail_in_a_mailbox_stub(app: &TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let stub = erp::demo_mail::start(dir.path()).unwrap();
    let co = app.company("Demo", &[]).await;
    let (platform, c) = (app.platform.clone(), co.clone());
    let port = stub.port;
    let used = tokio::task::spawn_blocking(move || erp::demo::use_mailbox(&platform, &c, port)).await.unwrap().unwrap();
    assert!(used);
    let sent =
        app.post(&format!("/api/v1/companies/{co}/mail/test"), &app.root, json!({ "to": "ivan@example.org" })).await;
    sent.expect(200);
    let kept: Vec<_> = std::fs::read_dir(dir.path().join("new")).unwrap().flatten().collect();
    assert_eq!(kept.len(), 1, "the message is a file in the stub's Maildir");
    let raw = std::fs::read(kept[0].path()).unwrap();
    let parsed = mail_parser::MessageParser::default().parse(&raw).unwrap();
    assert_eq!(parsed.subject(), Some("Demo: test message / тестовое письмо"));
    // A server someone set up is not replaced at the next start.
    let path = format!("/api/v1/companies/{co}/mail");
    app.put(&path, &app.root, relay(2525, "x")).await.expect(200);
    let mut other = app.get(&path, &app.root).await.expect(200).clone();
    assert_eq!(other["smtp_port"], 2525);
    app.put(&path, &app.root, json!({ "smtp_host": "relay.example.com", "from_address": "a@example.com" }))
        .await
        .expect(200);
    let (platform, c) = (app.platform.clone(), co.clone());
    let used = tokio::task::spawn_blocking(move || erp::demo::use_mailbox(&platform, &c, port)).await.unwrap().unwrap();
    assert!(!used);
    other = app.get(&path, &app.root).await.expect(200).clone();
    assert_eq!(other["smtp_host"], "relay.example.com");
}

/// In Chromium, in Russian, on a laptop and a phone: the demo owner sends a test message from
/// Administration → E-mail and sees it go out. Screenshots: `mail-*.png`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mail_page_in_the_browser() {
    use crate::browser::{DEMO_PASSWORD, chromium, click, fill, login, shot, text_of};
    use crate::support::Backend;

    let Some(driver) = chromium().await else { return };
    let app = TestApp::start(Backend::Sqlite).await.expect("sqlite");
    let demo = app.demo(DEMO_PASSWORD).await;
    let co = demo.company_id.clone();
    let owner = app.login(erp::demo::EMAIL, DEMO_PASSWORD).await;
    let smtp = Smtp::start("acme", "relay-password");
    app.put(&format!("/api/v1/companies/{co}/mail"), &owner, relay(smtp.port, "relay-password")).await.expect(200);
    let c = &driver.client;
    let base = app.base.clone();
    c.goto(&format!("{base}/lang?to=ru&back=/")).await.unwrap();
    login(c, &base, erp::demo::EMAIL).await;
    c.goto(&format!("{base}/c/{co}/admin/mail")).await.unwrap();
    fill(c, "#m-test-to", "director@example.org").await;
    click(c, "#mail-test button[type=submit]").await;
    c.wait()
        .at_most(std::time::Duration::from_secs(15))
        .for_element(fantoccini::Locator::Css("#mail-notice"))
        .await
        .unwrap();
    let notice = text_of(c, "#mail-notice").await;
    assert!(notice.contains("Тестовое письмо передано"), "{notice}");
    assert_eq!(smtp.received.lock().len(), 1);
    let outbox = text_of(c, "main").await;
    assert!(outbox.contains("Исходящая почта (SMTP)") && !outbox.contains("relay-password"), "{outbox}");
    shot(c, "mail-ru").await;
    c.set_window_size(390, 844).await.unwrap();
    c.goto(&format!("{base}/c/{co}/admin/mail")).await.unwrap();
    shot(c, "mail-phone-ru").await;
}
