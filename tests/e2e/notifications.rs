//! Notifications: each person's inbox in a company with its unread count, read marks, where
//! each kind goes, that nobody else can see or touch them, and the live stream, on one node
//! and from one node to another over a shared PostgreSQL database.

use std::time::Duration;

use serde_json::{Value, json};

use crate::both_backends;
use crate::support::{Backend, TestApp};
use crate::ui::{Browser, csrf_of};
use erp_kernel::Platform;
use erp_kernel::notify::{Importance, Link, NewNotification, Text};
use erp_kernel::plugins::Kernel;
use erp_kernel::session::Session;

both_backends!(the_inbox_is_each_persons_own, the_stream_delivers_as_it_happens);

/// Sends a notification as the kernel would, in a transaction of its own; the error's text
/// when it is refused.
async fn send(
    platform: &Platform,
    company: &str,
    to: &[&str],
    kind: &str,
    title: Text,
    link: Option<Link>,
) -> Result<Vec<String>, String> {
    let (platform, company) = (platform.clone(), company.to_string());
    let to: Vec<String> = to.iter().map(|s| s.to_string()).collect();
    let kind = kind.to_string();
    tokio::task::spawn_blocking(move || {
        let mut session = Session::begin(&platform.db, &company, None).map_err(|e| e.to_string())?;
        let body = Text::One("Details follow".into());
        let note = NewNotification {
            company_id: &company,
            recipients: &to,
            source: "kernel",
            kind: &kind,
            title: &title,
            body: &body,
            link: link.as_ref(),
            importance: Importance::High,
        };
        let sent = platform.notify(&mut session, &note).map_err(|e| e.to_string())?;
        session.commit().map_err(|e| e.to_string())?;
        Ok(sent.into_iter().map(|n| n.id).collect())
    })
    .await
    .expect("join")
}

fn both(en: &str, ru: &str) -> Text {
    Text::ByLanguage([("en".to_string(), en.to_string()), ("ru".to_string(), ru.to_string())].into())
}

fn items(v: &Value) -> Vec<Value> {
    v["items"].as_array().cloned().unwrap_or_default()
}

async fn the_inbox_is_each_persons_own(app: &TestApp) {
    let (alice, alice_token) = app.user("alice@example.com").await;
    let (bob, bob_token) = app.user("bob@example.com").await;
    let (stranger, stranger_token) = app.user("stranger@example.com").await;
    let co = app.company("Acme", &[("alice@example.com", "member"), ("bob@example.com", "member")]).await;
    let other = app.company("Other", &[("stranger@example.com", "member")]).await;
    let inbox = format!("/api/v1/companies/{co}/notifications");

    let link = Link {
        plugin: "notes".into(),
        collection: "note".into(),
        record: "0190f0f0-0000-7000-8000-000000000001".into(),
    };
    let first =
        send(&app.platform, &co, &[&alice], "kernel.test_note", Text::One("First".into()), Some(link)).await.unwrap();
    let second =
        send(&app.platform, &co, &[&alice, &bob], "kernel.test_note", both("Second", "Второе"), None).await.unwrap();
    assert_eq!(second.len(), 2, "one row per recipient");
    // Only members of the company can be notified there, and nothing is kept when one is not.
    let refused =
        send(&app.platform, &co, &[&alice, &stranger], "kernel.test_note", Text::One("No".into()), None).await;
    assert!(refused.unwrap_err().contains("not a member"));
    // A kind must be the sender's own.
    let refused = send(&app.platform, &co, &[&alice], "crm.activity_due", Text::One("No".into()), None).await;
    assert!(refused.is_err());

    // Newest first, with the unread count; the title in the reader's language.
    let listed = app.get(&inbox, &alice_token).await;
    let body = listed.expect(200);
    let notes = items(body);
    assert_eq!(body["unread"], 2, "{body}");
    assert_eq!(notes.len(), 2);
    assert_eq!(notes[0]["title"], "Second");
    assert_eq!(notes[1]["title"], "First");
    assert_eq!(notes[1]["link"]["collection"], "note");
    assert_eq!(notes[0]["importance"], "high");
    assert_eq!(notes[0]["read"], false);
    let russian = app
        .client
        .get(format!("{}{inbox}", app.base))
        .bearer_auth(&alice_token)
        .header("accept-language", "ru-RU,ru;q=0.9")
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(russian["items"][0]["title"], "Второе");

    // Bob sees only his own; he cannot open, or mark, Alice's.
    let bobs = app.get(&inbox, &bob_token).await;
    assert_eq!(items(bobs.expect(200)).len(), 1);
    app.get(&format!("{inbox}/{}", first[0]), &bob_token).await.expect(404);
    app.get(&format!("{inbox}/{}", first[0]), &alice_token).await.expect(200);
    let marked = app.post(&format!("{inbox}/read"), &bob_token, json!({ "ids": [first[0]] })).await;
    assert_eq!(marked.expect(200)["changed"], 0);
    // Someone outside the company finds nothing there, not even the inbox.
    app.get(&inbox, &stranger_token).await.expect(404);
    app.get(&format!("{inbox}/{}", first[0]), &stranger_token).await.expect(404);
    app.get(&format!("/api/v1/companies/{other}/notifications"), &alice_token).await.expect(404);
    let streamed =
        app.client.get(format!("{}{inbox}/stream", app.base)).bearer_auth(&stranger_token).send().await.unwrap();
    assert_eq!(streamed.status().as_u16(), 404);

    // Read marks.
    let marked = app.post(&format!("{inbox}/read"), &alice_token, json!({ "ids": [first[0]] })).await;
    let marked = marked.expect(200);
    assert_eq!((marked["changed"].as_i64(), marked["unread"].as_i64()), (Some(1), Some(1)));
    let unread_only = app.get(&format!("{inbox}?unread=true"), &alice_token).await;
    assert_eq!(items(unread_only.expect(200)).len(), 1);
    for bad in
        [json!({}), json!({ "ids": [first[0]], "all": true }), json!({ "all": true, "also": 1 }), json!({ "ids": "x" })]
    {
        let r = app.post(&format!("{inbox}/read"), &alice_token, bad.clone()).await;
        assert_eq!(r.status.as_u16(), 422, "{bad} → {}", r.body);
    }
    app.get(&format!("{inbox}?unread=maybe"), &alice_token).await.expect(400);
    let all = app.post(&format!("{inbox}/read"), &alice_token, json!({ "all": true })).await;
    assert_eq!(all.expect(200)["unread"], 0);

    // Preferences: a kind turned off is not kept for that person; others still get it.
    let prefs = format!("{inbox}/preferences");
    let got = app.get(&prefs, &alice_token).await;
    let kind = |v: &Value, k: &str| v["kinds"].as_array().unwrap().iter().find(|x| x["kind"] == k).cloned();
    // The kernel's own kinds are offered before any arrives, with their labels; a kind
    // received is offered too.
    let got = got.expect(200).clone();
    assert_eq!(
        kind(&got, "kernel.plugin_quarantined"),
        Some(
            json!({ "kind": "kernel.plugin_quarantined", "label": "A plugin was stopped in this company", "channel": "app" })
        )
    );
    assert_eq!(kind(&got, "kernel.test_note").map(|k| k["channel"].clone()), Some(json!("app")));
    let put =
        app.put(&prefs, &alice_token, json!({ "kinds": [{ "kind": "kernel.test_note", "channel": "off" }] })).await;
    assert_eq!(kind(put.expect(200), "kernel.test_note").unwrap()["channel"], "off");
    for bad in [
        json!({ "kinds": [{ "kind": "kernel.test_note", "channel": "pigeon" }] }),
        json!({ "kinds": [{ "kind": "Not A Kind", "channel": "app" }] }),
        json!({ "kinds": [{ "kind": "kernel.test_note" }] }),
        json!({ "kinds": [{ "kind": "kernel.never_sent", "channel": "off" }] }),
        json!({ "kinds": "all" }),
    ] {
        let r = app.put(&prefs, &alice_token, bad.clone()).await;
        assert_eq!(r.status.as_u16(), 422, "{bad} → {}", r.body);
    }
    let third =
        send(&app.platform, &co, &[&alice, &bob], "kernel.test_note", Text::One("Third".into()), None).await.unwrap();
    assert_eq!(third.len(), 1, "only Bob still gets it");
    assert_eq!(app.get(&inbox, &alice_token).await.expect(200)["unread"], 0);
    assert_eq!(app.get(&inbox, &bob_token).await.expect(200)["unread"], 2);
    let back = app
        .put(&prefs, &alice_token, json!({ "kinds": [{ "kind": "kernel.test_note", "channel": "app_and_email" }] }))
        .await;
    assert_eq!(kind(back.expect(200), "kernel.test_note").unwrap()["channel"], "app_and_email");

    // In the UI, in Russian: the bell's count on every page, the inbox, marking all read, and
    // the choice per kind.
    let mut browser = Browser::new(app);
    browser.language("ru");
    browser.login("bob@example.com").await;
    let home = browser.get(&format!("/c/{co}")).await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains("id=\"bell-count\">2<"), "the bell counts two: {}", home.body);
    let page = browser.get(&format!("/c/{co}/notifications")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    for text in [
        "Уведомления",
        "Второе",
        "Third",
        "Непрочитанных: 2",
        "Отметить все прочитанными",
        "Важно",
        "Плагин остановлен в этой компании",
    ] {
        assert!(page.body.contains(text), "{text} on the inbox page: {}", page.body);
    }
    assert!(!page.body.contains("First"), "Alice's own notification is not on Bob's page");
    let csrf = csrf_of(&page.body);
    let done = browser.post(&format!("/c/{co}/notifications/read"), &[("_csrf", &csrf)]).await;
    assert_eq!(done.status, 303);
    let page = browser.get(&format!("/c/{co}/notifications")).await;
    assert!(page.body.contains("Непрочитанных: 0"), "{}", page.body);
    assert!(page.body.contains("id=\"bell-count\" hidden>0<"), "the bell shows no count: {}", page.body);
    let saved = browser
        .post(&format!("/c/{co}/notifications/preferences"), &[("_csrf", &csrf), ("channel.kernel.test_note", "off")])
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let got = app.get(&prefs, &bob_token).await;
    assert_eq!(kind(got.expect(200), "kernel.test_note").unwrap()["channel"], "off");
    // A form without its CSRF token changes nothing.
    let forged =
        browser.post(&format!("/c/{co}/notifications/preferences"), &[("channel.kernel.test_note", "app")]).await;
    assert_eq!(forged.status, 403);
    assert_eq!(kind(app.get(&prefs, &bob_token).await.expect(200), "kernel.test_note").unwrap()["channel"], "off");
    // Another person's notification does not open for Bob.
    let theirs = browser.get(&format!("/c/{co}/notifications/{}/open", first[0])).await;
    assert_eq!(theirs.status, 404);
}

/// An open event stream read as it arrives.
pub(crate) struct Events {
    res: reqwest::Response,
    buf: String,
}

impl Events {
    pub(crate) async fn open(app_base: &str, co: &str, token: &str, last: Option<&str>) -> Events {
        let client = reqwest::Client::new();
        let mut req = client.get(format!("{app_base}/api/v1/companies/{co}/notifications/stream")).bearer_auth(token);
        if let Some(last) = last {
            req = req.header("last-event-id", last);
        }
        let res = req.send().await.expect("stream");
        assert_eq!(res.status().as_u16(), 200);
        assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
        Events { res, buf: String::new() }
    }

    /// The next event as (name, id, data), within `secs`.
    pub(crate) async fn next(&mut self, secs: u64) -> Option<(String, String, Value)> {
        let until = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let (mut name, mut id, mut data) = (String::new(), String::new(), String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        name = v.trim().to_string();
                    } else if let Some(v) = line.strip_prefix("id:") {
                        id = v.trim().to_string();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim());
                    }
                }
                if name.is_empty() {
                    continue; // a keep-alive comment
                }
                return Some((name, id, serde_json::from_str(&data).unwrap_or(Value::Null)));
            }
            let chunk = tokio::time::timeout_at(until, self.res.chunk()).await.ok()?.ok()??;
            self.buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

async fn the_stream_delivers_as_it_happens(app: &TestApp) {
    let (alice, alice_token) = app.user("alice@example.com").await;
    let (_, bob_token) = app.user("bob@example.com").await;
    let co = app.company("Acme", &[("alice@example.com", "member"), ("bob@example.com", "member")]).await;
    send(&app.platform, &co, &[&alice], "kernel.test_note", Text::One("Before".into()), None).await.unwrap();

    let mut alices = Events::open(&app.base, &co, &alice_token, None).await;
    let mut bobs = Events::open(&app.base, &co, &bob_token, None).await;
    let (name, _, data) = alices.next(10).await.expect("ready");
    assert_eq!((name.as_str(), data["unread"].as_i64()), ("ready", Some(1)));
    bobs.next(10).await.expect("ready");

    let sent = send(&app.platform, &co, &[&alice], "kernel.test_note", Text::One("Live".into()), None).await.unwrap();
    let (name, id, data) = alices.next(10).await.expect("the notification arrives");
    assert_eq!(name, "notification");
    assert_eq!(id, sent[0]);
    assert_eq!(data["title"], "Live");
    // Bob's stream carries nothing of Alice's.
    assert!(bobs.next(2).await.is_none(), "Bob got nothing");

    // A stream reopened with the last id it saw first gets what it missed.
    drop(alices);
    let missed =
        send(&app.platform, &co, &[&alice], "kernel.test_note", Text::One("Missed".into()), None).await.unwrap();
    let mut again = Events::open(&app.base, &co, &alice_token, Some(&sent[0])).await;
    assert_eq!(again.next(10).await.expect("ready").0, "ready");
    let (name, id, data) = again.next(10).await.expect("the missed one");
    assert_eq!(
        (name.as_str(), id.as_str(), data["title"].as_str()),
        ("notification", missed[0].as_str(), Some("Missed"))
    );

    // A notification whose transaction rolls back reaches nobody.
    let platform = app.platform.clone();
    let (cid, to) = (co.clone(), vec![alice.clone()]);
    tokio::task::spawn_blocking(move || {
        let mut session = Session::begin(&platform.db, &cid, None).unwrap();
        let (title, body) = (Text::One("Never".into()), Text::One(String::new()));
        let note = NewNotification {
            company_id: &cid,
            recipients: &to,
            source: "kernel",
            kind: "kernel.test_note",
            title: &title,
            body: &body,
            link: None,
            importance: Importance::Normal,
        };
        platform.notify(&mut session, &note).unwrap();
        drop(session);
    })
    .await
    .unwrap();
    assert!(again.next(3).await.is_none(), "nothing from a rolled-back change");
}

/// Two nodes on one PostgreSQL database: a notification written through one reaches a stream
/// open on the other, woken by `LISTEN`/`NOTIFY` rather than its idle scan.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notification_crosses_nodes() {
    let Some(app) = TestApp::start(Backend::Postgres).await else { return };
    let (alice, alice_token) = app.user("alice@example.com").await;
    let co = app.company("Acme", &[("alice@example.com", "member")]).await;
    let other = app.another_node().await;
    let mut stream = Events::open(&other.base, &co, &alice_token, None).await;
    assert_eq!(stream.next(10).await.expect("ready").0, "ready");
    // Let the other node's relay settle into its idle pace.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let started = std::time::Instant::now();
    let sent = send(&app.platform, &co, &[&alice], "kernel.test_note", Text::One("Across".into()), None).await.unwrap();
    let (name, id, _) = stream.next(10).await.expect("it arrives on the other node");
    assert_eq!((name.as_str(), id.as_str()), ("notification", sent[0].as_str()));
    println!("delivered across nodes in {:?}", started.elapsed());
}
