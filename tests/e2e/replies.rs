//! E-mail from plugins (WIT 0.2.2 `mail`) and CRM replies through the channel a lead wrote
//! from: a real SMTP server on the loopback, and a local HTTP server standing in for the
//! Telegram Bot API, reached through the operator's route for `https://api.telegram.org`.

use std::sync::Arc;

use axum::Router;
use axum::http::{StatusCode, Uri};
use axum::response::IntoResponse;
use axum::routing::post;
use mail_parser::MimeHeaders;
use parking_lot::Mutex;
use serde_json::{Value, json};

use crate::both_backends;
use crate::crm::SECRET;
use crate::mail::Smtp;
use crate::support::{Backend, TestApp, eventually, package};

both_backends!(plugins_send_mail_once_per_key_and_hear_the_outcome, email_leads_get_threaded_replies);

fn relay(port: u16) -> Value {
    json!({
        "from_address": "sales@acme.example", "from_name": "Acme",
        "smtp_host": "127.0.0.1", "smtp_port": port, "smtp_security": "none",
        "smtp_username": "acme", "smtp_password": "relay-password",
    })
}

/// Runs the node's mail worker once, as the server does every few seconds.
async fn mail_worker(app: &TestApp) -> usize {
    let platform = app.platform.clone();
    tokio::task::spawn_blocking(move || erp_kernel::mail::outbox::deliver_due(&platform, 100)).await.unwrap().unwrap()
}

async fn courier_mail(app: &TestApp, co: &str, input: Value) -> Value {
    let r = app.post(&format!("/api/v1/companies/{co}/plugins/courier/commands/mail"), &app.root, input).await;
    r.expect(200).clone()
}

async fn outcomes(app: &TestApp, co: &str) -> Vec<Value> {
    let r = app.get(&format!("/api/v1/companies/{co}/data/courier/outcome?limit=100"), &app.root).await;
    r.expect(200)["items"].as_array().unwrap().clone()
}

async fn plugins_send_mail_once_per_key_and_hear_the_outcome(app: &TestApp) {
    let smtp = Smtp::start("acme", "relay-password");
    let _bus = app.start_bus();
    app.install(&package("notes")).await;
    app.install(&package("courier")).await;
    let co = app.company("Mailers", &[]).await;
    app.enable(&co, "notes", json!({})).await.expect(200);
    app.enable(&co, "courier", json!({})).await.expect(200);
    let letter = json!({ "to": "Иван <ivan@example.org>", "subject": "Предложение", "text": "Цены в приложении.",
                         "key": "offer/ivan", "attachment": "Стулья: 20 × 1 500 ₽" });

    // The plugin page shows what it asks for; without the grant nothing is queued.
    let plugin = app.get("/api/v1/plugins/courier", &app.root).await;
    assert!(plugin.expect(200).to_string().contains("Sends the messages its tests ask for"), "{}", plugin.body);
    let r = courier_mail(app, &co, letter.clone()).await;
    assert_eq!(r["refused"], "access_denied", "{r}");
    let r = app.enable(&co, "notes", json!({ "grants": ["mail"] })).await;
    assert_eq!(r.status, 422, "a plugin that does not declare [mail] cannot be granted it: {}", r.body);
    app.enable(&co, "courier", json!({ "grants": ["mail"] })).await.expect(200);

    // Granted, but the company has no relay: a clear refusal.
    let r = courier_mail(app, &co, letter.clone()).await;
    assert_eq!(r["refused"], "invalid", "{r}");
    assert!(r["message"].as_str().unwrap().contains("no outgoing mail server"), "{r}");
    app.put(&format!("/api/v1/companies/{co}/mail"), &app.root, relay(smtp.port)).await.expect(200);

    // A bad message is refused whole.
    let mut bad = letter.clone();
    bad["to"] = json!("not an address");
    assert_eq!(courier_mail(app, &co, bad).await["refused"], "invalid");
    let mut no_key = letter.clone();
    no_key["key"] = json!("");
    assert_eq!(courier_mail(app, &co, no_key).await["refused"], "invalid");

    // Queued once per key, with its Message-ID known at once.
    let first = courier_mail(app, &co, letter.clone()).await;
    assert_eq!(first["created"], true, "{first}");
    let message_id = first["message_id"].as_str().unwrap().to_string();
    assert!(message_id.starts_with('<') && message_id.ends_with("@acme.example>"), "{message_id}");
    let again = courier_mail(app, &co, letter.clone()).await;
    assert_eq!((again["created"].as_bool(), &again["id"]), (Some(false), &first["id"]), "{again}");
    let refused = courier_mail(
        app,
        &co,
        json!({ "to": "nobody@nowhere.invalid", "subject": "x", "text": "x", "key": "offer/nobody" }),
    )
    .await;
    assert_eq!(refused["created"], true, "{refused}");

    assert_eq!(mail_worker(app).await, 2);
    assert_eq!(mail_worker(app).await, 0, "nothing is sent twice");
    let got = smtp.received.lock().clone();
    assert_eq!(got.len(), 1, "the refused recipient got nothing: {got:?}");
    let parsed = mail_parser::MessageParser::default().parse(&got[0].data).unwrap();
    assert_eq!(parsed.subject(), Some("Предложение"));
    assert_eq!(parsed.message_id().map(|m| format!("<{m}>")), Some(message_id.clone()));
    let attached = parsed.attachments().next().expect("the file is attached");
    assert_eq!(attached.attachment_name(), Some("offer.txt"));
    assert_eq!(attached.contents(), "Стулья: 20 × 1 500 ₽".as_bytes());

    // The plugin hears what became of each message.
    assert!(eventually(20, async || outcomes(app, &co).await.len() == 2).await, "{:?}", outcomes(app, &co).await);
    let heard = outcomes(app, &co).await;
    let by_key = |k: &str| heard.iter().find(|o| o["data"]["key"] == k).unwrap()["data"].clone();
    assert_eq!(by_key("offer/ivan")["status"], "sent");
    assert_eq!(by_key("offer/ivan")["message_id"], message_id.as_str());
    assert_eq!(by_key("offer/nobody")["status"], "refused");
    assert!(by_key("offer/nobody")["error"].as_str().unwrap().contains("refused"), "{heard:?}");

    // No plugin may claim an outcome itself, and the admin sees each message in the outbox.
    let outbox = app.get(&format!("/api/v1/companies/{co}/mail/outbox"), &app.root).await;
    let items = outbox.expect(200)["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 2, "{items:?}");
    assert!(items.iter().all(|i| i["source"] == "courier"), "{items:?}");

    // Revoking the grant stops new mail.
    app.enable(&co, "courier", json!({ "grants": [] })).await.expect(200);
    let mut other = letter.clone();
    other["key"] = json!("offer/ivan-2");
    assert_eq!(courier_mail(app, &co, other).await["refused"], "access_denied");
}

/// The Telegram Bot API as the CRM uses it: `sendMessage` answers a new message id, or
/// `chat not found` for chat 404.
struct Telegram {
    base: String,
    sent: Arc<Mutex<Vec<(String, Value)>>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Telegram {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Telegram {
    async fn start() -> Telegram {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let sent: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
        let keep = sent.clone();
        let router = Router::new().fallback(post(move |uri: Uri, body: axum::Json<Value>| async move {
            let n = {
                let mut s = keep.lock();
                s.push((uri.path().to_string(), body.0.clone()));
                s.len()
            };
            if body.0["chat_id"] == 404 {
                let no = json!({ "ok": false, "error_code": 400, "description": "Bad Request: chat not found" });
                (StatusCode::BAD_REQUEST, axum::Json(no)).into_response()
            } else {
                axum::Json(
                    json!({ "ok": true, "result": { "message_id": 500 + n, "chat": { "id": body.0["chat_id"] } } }),
                )
                .into_response()
            }
        }));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Telegram { base: format!("http://127.0.0.1:{port}"), sent, server }
    }
}

/// Posts to a CRM webhook and answers the body of its success.
async fn hook(app: &TestApp, co: &str, name: &str, content_type: &str, body: impl Into<Vec<u8>>) -> Value {
    let (status, body) = crate::crm::hook(app, co, name, content_type, body).await;
    assert_eq!(status, 200, "{body}");
    body
}

fn update(chat: i64, message_id: i64, text: &str) -> Value {
    json!({ "update_id": message_id, "message": { "message_id": message_id, "date": 1_796_000_000,
            "from": { "id": chat, "is_bot": false, "first_name": "Пётр" }, "chat": { "id": chat }, "text": text } })
}

async fn reply(app: &TestApp, co: &str, body: Value) -> crate::support::Resp {
    app.post(&format!("/api/v1/companies/{co}/plugins/crm/commands/reply"), &app.root, body).await
}

async fn message(app: &TestApp, co: &str, id: &str) -> Value {
    let r = app.get(&format!("/api/v1/companies/{co}/data/crm/message/{id}"), &app.root).await;
    r.expect(200)["data"].clone()
}

async fn email_leads_get_threaded_replies(app: &TestApp) {
    let smtp = Smtp::start("acme", "relay-password");
    let _bus = app.start_bus();
    app.install(&package("crm")).await;
    let co = app.company("Replies", &[]).await;
    app.enable(&co, "crm", json!({ "webhook_secret": SECRET, "grants": ["mail"] })).await.expect(200);
    let letter = "From: Мария <maria@example.org>\r\nTo: sales@acme.example\r\nSubject: Счёт на стулья\r\n\
                  Message-ID: <Q1.Maria@Example.org>\r\nDate: Mon, 07 Dec 2026 09:00:00 +0300\r\n\
                  Content-Type: text/plain; charset=utf-8\r\n\r\nПришлите счёт на 20 стульев.\r\n";
    let lead = hook(app, &co, "email", "message/rfc822", letter).await["lead"].as_str().unwrap().to_string();

    // Bad input changes nothing.
    let r = reply(app, &co, json!({ "lead": lead, "text": "   " })).await;
    assert_eq!(r.status, 422, "{:?}", r.body);
    let r = reply(app, &co, json!({ "lead": lead, "text": "x", "colour": "red" })).await;
    assert_eq!(r.status, 422, "{:?}", r.body);
    // Without a relay the reply is refused and nothing joins the thread.
    let r = reply(app, &co, json!({ "lead": lead, "text": "Счёт во вложении." })).await;
    assert_eq!(r.status, 422, "{:?}", r.body);
    let thread = format!("/api/v1/companies/{co}/data/crm/message?limit=100");
    assert_eq!(app.get(&thread, &app.root).await.expect(200)["items"].as_array().unwrap().len(), 1);

    app.put(&format!("/api/v1/companies/{co}/mail"), &app.root, relay(smtp.port)).await.expect(200);
    let sent = reply(app, &co, json!({ "lead": lead, "text": "Здравствуйте! Счёт отправим сегодня." })).await;
    let sent = sent.expect(200).clone();
    assert_eq!(sent["delivery"], "queued", "{sent}");
    let id = sent["message"].as_str().unwrap().to_string();
    assert_eq!(mail_worker(app).await, 1);
    let got = smtp.received.lock().clone();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].to, ["maria@example.org"]);
    let parsed = mail_parser::MessageParser::default().parse(&got[0].data).unwrap();
    assert_eq!(parsed.subject(), Some("Re: Счёт на стулья"));
    assert_eq!(parsed.in_reply_to().as_text(), Some("Q1.Maria@Example.org"), "threaded under her letter as written");
    assert!(parsed.body_text(0).unwrap().contains("Счёт отправим сегодня"));
    assert!(
        eventually(20, async || message(app, &co, &id).await["delivery"] == "sent").await,
        "{}",
        message(app, &co, &id).await
    );
    let stored = message(app, &co, &id).await;
    assert_eq!((stored["direction"].as_str(), stored["lead"].as_str()), (Some("out"), Some(lead.as_str())));
    assert_eq!(stored["message_id"].as_str().map(|m| m.trim_matches(['<', '>'])), parsed.message_id());
    let l = app.get(&format!("/api/v1/companies/{co}/data/crm/lead/{lead}"), &app.root).await;
    let l = l.expect(200)["data"].clone();
    assert_eq!((l["messages"].as_i64(), l["status"].as_str()), (Some(2), Some("in_progress")), "{l}");

    // In the web UI, in Russian: the lead's Reply opens its form, which goes back to the lead.
    let mut b = crate::ui::Browser::new(app);
    b.language("ru");
    b.login("root@example.com").await;
    let lead_page = format!("/c/{co}/p/crm/d/lead/r/{lead}");
    let page = b.get(&lead_page).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let html = page.body.replace("&#x2f;", "/").replace("&amp;", "&");
    let link = format!("/c/{co}/p/crm/cmd/reply?lead={lead}&_back=");
    let start = html.find(&link).unwrap_or_else(|| panic!("a Reply link on the lead: {html}"));
    let href = html[start..].split('"').next().unwrap().to_string();
    let form = b.get(&href).await;
    assert_eq!(form.status, 200, "{}", form.body);
    let html = form.body.replace("&#x2f;", "/");
    assert!(html.contains("Вернуться к записи"), "{html}");
    let csrf = crate::ui::csrf_of(&form.body);
    let back = crate::ui::input_value(&html, "_back");
    assert_eq!(back, lead_page);
    let answered = b
        .post(
            &format!("/c/{co}/p/crm/cmd/reply"),
            &[("_csrf", &csrf), ("_back", &back), ("lead", &lead), ("text", "Счёт во вложении, проверьте.")],
        )
        .await;
    assert_eq!(answered.status, 303, "{}", answered.body);
    assert_eq!(answered.location.as_deref(), Some(format!("{lead_page}?ok=done").as_str()));
    assert_eq!(mail_worker(app).await, 1, "the reply from the form went out too");
    // A `_back` that leaves the site is not followed.
    let away = b
        .post(
            &format!("/c/{co}/p/crm/cmd/reply"),
            &[("_csrf", &csrf), ("_back", "//evil.example/x"), ("lead", &lead), ("text", "Ещё раз")],
        )
        .await;
    assert_eq!(away.status, 200, "the answer is shown instead: {}", away.body);
}

/// Telegram replies go to the chat the lead wrote from, through the operator's route to the
/// stand-in; a refusal shows on the message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telegram_leads_get_replies_in_their_chat() {
    let tg = Telegram::start().await;
    let mut outbound = crate::support::loopback_outbound();
    outbound.routes =
        vec![erp_kernel::outbound::Route::parse(&format!("https://api.telegram.org={}", tg.base)).unwrap()];
    let app = TestApp::start_with_outbound(Backend::Sqlite, outbound).await.expect("sqlite");
    app.install(&package("crm")).await;
    let co = app.company("Telegram", &[]).await;
    app.enable(&co, "crm", json!({ "webhook_secret": SECRET })).await.expect(200);
    let lead = hook(&app, &co, "telegram", "application/json", update(7_001, 41, "Есть стулья?").to_string()).await;
    let lead = lead["lead"].as_str().unwrap().to_string();

    // Not granted yet: the reply is kept with why it did not go.
    app.enable(&co, "crm", json!({ "config": { "telegram_token": "123:ABC" } })).await.expect(200);
    let r = reply(&app, &co, json!({ "lead": lead, "text": "Да, есть." })).await;
    let r = r.expect(200).clone();
    assert_eq!(r["delivery"], "failed", "{r}");
    assert!(tg.sent.lock().is_empty());

    let grant = json!({ "grants": ["https://api.telegram.org"], "config": { "telegram_token": "123:ABC" } });
    app.enable(&co, "crm", grant).await.expect(200);
    let r = reply(&app, &co, json!({ "lead": lead, "text": "Да, есть 40 штук." })).await;
    let r = r.expect(200).clone();
    assert_eq!(r["delivery"], "sent", "{r}");
    let sent = tg.sent.lock().clone();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, "/bot123:ABC/sendMessage");
    assert_eq!(sent[0].1["chat_id"], 7_001, "the lead's chat");
    assert_eq!(sent[0].1["text"], "Да, есть 40 штук.");
    assert_eq!(sent[0].1["reply_parameters"]["message_id"], 41, "answers her message");
    let stored = message(&app, &co, r["message"].as_str().unwrap()).await;
    assert_eq!((stored["delivery"].as_str(), stored["direction"].as_str()), (Some("sent"), Some("out")), "{stored}");

    // Telegram refusing the chat shows on the message.
    let other = hook(&app, &co, "telegram", "application/json", update(404, 42, "Алло").to_string()).await;
    let r = reply(&app, &co, json!({ "lead": other["lead"], "text": "Здравствуйте" })).await;
    let r = r.expect(200).clone();
    assert_eq!(r["delivery"], "failed", "{r}");
    let stored = message(&app, &co, r["message"].as_str().unwrap()).await;
    assert!(stored["error"].as_str().unwrap().contains("chat not found"), "{stored}");
}
