//! The marketing plugin through HTTP: refused without the CRM it depends on; a campaign's
//! spend, the leads and the won deal it brought, and its ROI; a mailing that skips the
//! unsubscribed, with delivery reported through the webhook; an e-mail mailing of 500
//! recipients sent through a real SMTP server, once each, within the company's rate; the
//! letter's one-click unsubscribe link and a bounce read from the company's mailbox keep those
//! recipients out of the next mailing.

use serde_json::{Value, json};

use crate::both_backends;
use crate::support::{TestApp, package};

both_backends!(
    marketing_needs_the_crm,
    from_campaign_to_revenue_and_mailings,
    a_mailing_reaches_each_recipient_once,
    unsubscribe_links_and_bounces_stop_the_next_mailing
);

const SECRET: &str = "marketing-hook-secret-0001";
const GRANTS: [&str; 6] = ["crm.customer", "crm.contact", "crm.address", "crm.timeline", "crm.lead", "crm.deal"];

fn data(co: &str, plugin: &str, coll: &str) -> String {
    format!("/api/v1/companies/{co}/data/{plugin}/{coll}")
}

fn cmd(co: &str, plugin: &str, name: &str) -> String {
    format!("/api/v1/companies/{co}/plugins/{plugin}/commands/{name}")
}

async fn create(app: &TestApp, co: &str, plugin: &str, coll: &str, body: Value) -> String {
    let r = app.post(&data(co, plugin, coll), &app.root, body).await;
    r.expect(201)["id"].as_str().unwrap().to_string()
}

async fn marketing_needs_the_crm(app: &TestApp) {
    let co = app.company("Acme", &[]).await;
    app.install(&package("crm")).await;
    app.install(&package("marketing")).await;
    let before = app.snapshot().await;
    let r = app.enable(&co, "marketing", json!({})).await;
    r.expect(422);
    let text = r.body.to_string();
    assert!(text.contains("crm") && text.contains("enable crm"), "{text}");
    assert_eq!(app.snapshot().await, before);
    app.enable(&co, "crm", json!({})).await.expect(200);
    app.enable(&co, "marketing", json!({ "grants": GRANTS })).await.expect(200);
    // Disabling the CRM under it is the admin's call; marketing's own data stays.
    app.get(&data(&co, "marketing", "campaign"), &app.root).await.expect(200);
}

async fn from_campaign_to_revenue_and_mailings(app: &TestApp) {
    let co = app.company("Acme", &[]).await;
    app.install(&package("crm")).await;
    app.install(&package("marketing")).await;
    app.enable(&co, "crm", json!({})).await.expect(200);
    app.enable(&co, "marketing", json!({ "grants": GRANTS, "webhook_secret": SECRET })).await.expect(200);
    let _bus = app.start_bus();
    let campaign = create(app, &co, "marketing", "campaign",
        json!({ "name": "Кухни — Директ", "channel": "search_ads", "utm_source": "yandex", "utm_campaign": "kitchens" })).await;
    let csv = "Date,Campaign,Impressions,Clicks,Cost\n2026-11-01,kitchens,1000,40,\"1,500.00\"\n2026-11-02,kitchens,1200,45,2500\n";
    let r = app.post(&cmd(&co, "marketing", "import-spend"), &app.root, json!({ "csv": csv })).await;
    assert_eq!(r.expect(200)["total"], "4000.00");
    // Two customers come through the campaign; one buys a kitchen.
    let mut customers = Vec::new();
    for (name, email) in [("ООО Берёза", "info@bereza.example"), ("ИП Клёнов", "klenov@mail.example")]
    {
        let c = create(app, &co, "crm", "customer", json!({ "name": name })).await;
        create(app, &co, "crm", "contact", json!({ "customer": c, "kind": "email", "value": email })).await;
        let lead = json!({ "title": format!("Заявка от {name}"), "channel": "form", "customer": c,
                           "utm": { "utm_source": "yandex", "utm_campaign": "kitchens" } });
        create(app, &co, "crm", "lead", lead).await;
        customers.push(c);
    }
    let touches = || async {
        app.get(&data(&co, "marketing", "touch"), &app.root).await.body["items"].as_array().map_or(0, Vec::len)
    };
    assert!(crate::support::eventually(20, async || touches().await == 2).await, "the leads were not attributed");
    let p = create(app, &co, "crm", "pipeline", json!({ "name": "Sales" })).await;
    let open =
        create(app, &co, "crm", "stage", json!({ "pipeline": p, "code": "new", "name": "New", "position": 1 })).await;
    let won = create(
        app,
        &co,
        "crm",
        "stage",
        json!({ "pipeline": p, "code": "won", "name": "Won", "position": 2, "outcome": "won" }),
    )
    .await;
    let deal = create(
        app,
        &co,
        "crm",
        "deal",
        json!({ "title": "Кухня", "customer": customers[0], "pipeline": p, "stage": open, "amount": "20000.00" }),
    )
    .await;
    app.post(&cmd(&co, "crm", "move-deal"), &app.root, json!({ "id": deal, "stage": won })).await.expect(200);
    let report = || async { app.post(&cmd(&co, "marketing", "report"), &app.root, json!({})).await.body.clone() };
    assert!(
        crate::support::eventually(20, async || report().await["total"]["deals_won"] == 1).await,
        "the deal was not credited"
    );
    let r = report().await;
    let row = r["campaigns"].as_array().unwrap().iter().find(|c| c["campaign"] == json!(campaign)).unwrap().clone();
    // Spend 4,000; 2 leads: 2,000 each; revenue 20,000: ROMI 400 %, ROI (6,000 - 4,000) / 4,000 = 50 %.
    assert_eq!(
        (row["cost_per_lead"].as_str(), row["romi_percent"].as_str(), row["roi_percent"].as_str()),
        (Some("2000"), Some("400"), Some("50"))
    );

    // A mailing to everyone who bought or asked, minus the one who unsubscribed.
    let seg = create(
        app,
        &co,
        "marketing",
        "segment",
        json!({ "name": "Все", "rule": { "field": "name", "op": "contains", "value": "" } }),
    )
    .await;
    let preview = app.post(&cmd(&co, "marketing", "preview-segment"), &app.root, json!({ "segment": seg })).await;
    assert_eq!(preview.expect(200)["count"], 2);
    app.post(&cmd(&co, "marketing", "unsubscribe"), &app.root, json!({ "customer": customers[1] })).await.expect(200);
    let snap = app.post(&cmd(&co, "marketing", "snapshot-segment"), &app.root, json!({ "segment": seg })).await;
    let snap = snap.expect(200)["id"].clone();
    let mailing = create(app, &co, "marketing", "mailing", json!({ "name": "Новинки", "subject": "Для {{ customer.name }}", "body": "Здравствуйте, {{ customer.name }}!" })).await;
    let q = app
        .post(&cmd(&co, "marketing", "queue-mailing"), &app.root, json!({ "mailing": mailing, "snapshot": snap }))
        .await;
    assert_eq!((q.expect(200)["queued"].as_u64(), q.body["skipped_unsubscribed"].as_u64()), (Some(1), Some(1)));
    let messages = app.get(&data(&co, "marketing", "message"), &app.root).await;
    let message = messages.expect(200)["items"][0].clone();
    assert_eq!(message["data"]["customer"], json!(customers[0]));
    let url = format!("{}/api/v1/hooks/{co}/marketing/delivery", app.base);
    let hook = |body: Value| {
        let req =
            app.client.post(url.clone()).header("content-type", "application/json").header("x-webhook-secret", SECRET);
        async move { req.body(body.to_string()).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(hook(json!({ "message": message["id"], "status": "sent" })).await, 200);
    assert!(hook(json!({ "message": message["id"], "status": "queued" })).await >= 400);
    let got =
        app.get(&format!("{}/{}", data(&co, "marketing", "message"), message["id"].as_str().unwrap()), &app.root).await;
    assert_eq!(got.expect(200)["data"]["status"], "sent");
}

/// Runs the node's mail worker until the outbox is empty, as the server does every few seconds.
pub(crate) async fn drain_outbox(app: &TestApp) -> usize {
    let mut sent = 0;
    loop {
        let platform = app.platform.clone();
        let n = tokio::task::spawn_blocking(move || erp_kernel::mail::outbox::deliver_due(&platform, 200))
            .await
            .unwrap()
            .unwrap();
        if n == 0 {
            return sent;
        }
        sent += n;
    }
}

async fn statuses(app: &TestApp, co: &str) -> std::collections::BTreeMap<String, usize> {
    let mut out = std::collections::BTreeMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("{}?limit=500", data(co, "marketing", "message"));
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = app.get(&path, &app.root).await.expect(200).clone();
        for m in page["items"].as_array().unwrap() {
            *out.entry(m["data"]["status"].as_str().unwrap().to_string()).or_insert(0) += 1;
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return out,
        }
    }
}

/// A company with the CRM and marketing (granted `mail`, with `config`), its mail set up as
/// `extra` adds to a relay on `smtp_port`.
async fn mailing_company(app: &TestApp, smtp_port: u16, config: Value, extra: Value) -> (String, Vec<&'static str>) {
    let co = app.company("Acme", &[]).await;
    app.install(&package("crm")).await;
    app.install(&package("marketing")).await;
    app.enable(&co, "crm", json!({})).await.expect(200);
    let mut grants: Vec<&str> = GRANTS.to_vec();
    grants.push("mail");
    app.enable(&co, "marketing", json!({ "grants": grants, "config": config })).await.expect(200);
    let mut mail = json!({ "from_address": "news@acme.example", "from_name": "Acme", "smtp_host": "127.0.0.1",
                           "smtp_port": smtp_port, "smtp_security": "none", "smtp_username": "acme",
                           "smtp_password": "relay-password" });
    for (k, v) in extra.as_object().into_iter().flatten() {
        mail[k] = v.clone();
    }
    app.put(&format!("/api/v1/companies/{co}/mail"), &app.root, mail).await.expect(200);
    (co, grants)
}

/// CRM customers named `Клиент <name>` with these e-mails, and a segment of them all.
async fn customers_and_segment(app: &TestApp, co: &str, people: &[(String, String)]) -> (Vec<String>, String) {
    let mut customers = Vec::new();
    for (name, email) in people {
        let body = json!({ "name": format!("Клиент {name}"), "contacts": [{ "kind": "email", "value": email }] });
        let r = app.post(&cmd(co, "crm", "create-customer"), &app.root, body).await;
        customers.push(r.expect(200)["customer"]["id"].as_str().unwrap().to_string());
    }
    let rule = json!({ "name": "Все", "rule": { "field": "name", "op": "contains", "value": "Клиент" } });
    (customers, create(app, co, "marketing", "segment", rule).await)
}

async fn a_mailing_reaches_each_recipient_once(app: &TestApp) {
    let smtp = crate::mail::Smtp::start("acme", "relay-password");
    let config = json!({ "mail_per_minute": 300 });
    let (co, grants) = mailing_company(app, smtp.port, config, json!({})).await;
    let _bus = app.start_bus();
    // One address the relay refuses for good.
    let people: Vec<(String, String)> = (0..500)
        .map(|i| {
            let email = if i == 7 { "gone@nowhere.invalid".to_string() } else { format!("client{i}@example.org") };
            (i.to_string(), email)
        })
        .collect();
    let (customers, seg) = customers_and_segment(app, &co, &people).await;
    let snap = app.post(&cmd(&co, "marketing", "snapshot-segment"), &app.root, json!({ "segment": seg })).await;
    let snap = snap.expect(200)["id"].clone();
    let mailing = create(app, &co, "marketing", "mailing", json!({ "name": "Декабрь",
        "subject": "Скидки для {{ customer.name }}", "body": "<p>Здравствуйте, {{ customer.name }}!</p><p>Скидка 10%.</p>" })).await;
    let q = app
        .post(&cmd(&co, "marketing", "queue-mailing"), &app.root, json!({ "mailing": mailing, "snapshot": snap }))
        .await;
    assert_eq!(q.expect(200)["queued"], 500, "{:?}", q.body);
    // Someone unsubscribes after it was queued: their letter never goes.
    app.post(&cmd(&co, "marketing", "unsubscribe"), &app.root, json!({ "customer": customers[3], "channel": "email" }))
        .await
        .expect(200);

    // The rate holds: 300 a minute, however often sending is asked for.
    let send =
        || async { app.post(&cmd(&co, "marketing", "send-mailings"), &app.root, json!({})).await.expect(200).clone() };
    let first = send().await;
    assert_eq!((first["handed"].as_u64(), first["cancelled"].as_u64()), (Some(300), Some(1)), "{first}");
    let second = send().await;
    assert_eq!(second["handed"], 0, "the minute's budget is spent: {second}");
    // Delivered at least once by the worker, and a second pass of everything sends nothing more.
    assert_eq!(drain_outbox(app).await, 300);
    // A higher rate lets the rest go within the same minute.
    let faster = json!({ "grants": grants, "config": { "mail_per_minute": 500 } });
    app.enable(&co, "marketing", faster).await.expect(200);
    let third = send().await;
    assert_eq!(third["handed"], 199, "{third}");
    assert_eq!(drain_outbox(app).await, 199);
    assert_eq!(send().await["handed"], 0);
    assert_eq!(drain_outbox(app).await, 0);

    let got = smtp.received.lock().clone();
    assert_eq!(got.len(), 498, "499 handed out, one refused by the relay");
    let mut to: Vec<String> = got.iter().flat_map(|r| r.to.clone()).collect();
    to.sort();
    to.dedup();
    assert_eq!(to.len(), 498, "each recipient once");
    // A round's letters share one connection to the relay (a refusal costs it, and the next
    // letter opens another).
    let connections = smtp.connections.load(std::sync::atomic::Ordering::SeqCst);
    assert!(connections <= 12, "{connections} connections for 499 letters");
    assert!(!to.contains(&"client3@example.org".to_string()), "the unsubscribed customer got nothing");
    let one = got.iter().find(|r| r.to == ["client1@example.org"]).unwrap();
    let parsed = mail_parser::MessageParser::default().parse(&one.data).unwrap();
    assert_eq!(parsed.subject(), Some("Скидки для Клиент 1"));
    let text = parsed.body_text(0).unwrap().replace("\r\n", "\n");
    assert!(text.starts_with("Здравствуйте, Клиент 1!\nСкидка 10%.\n"), "{text}");
    assert!(text.contains("Отписаться: http"), "every letter says how to unsubscribe: {text}");
    assert!(parsed.body_html(0).unwrap().contains("<p>Здравствуйте, Клиент 1!</p>"));

    // Outcomes come back: sent, the refused address failed and is not mailed again.
    let done = async || {
        let s = statuses(app, &co).await;
        s.get("sent") == Some(&498) && s.get("failed") == Some(&1)
    };
    assert!(crate::support::eventually(60, done).await, "{:?}", statuses(app, &co).await);
    assert_eq!(statuses(app, &co).await.get("cancelled"), Some(&1));
    let unsub = app.get(&format!("{}?limit=100", data(&co, "marketing", "unsubscribe")), &app.root).await;
    let unsub = unsub.expect(200)["items"].as_array().unwrap().clone();
    assert!(unsub.iter().any(|u| u["data"]["customer"] == json!(customers[7])), "{unsub:?}");
    let m = app.get(&format!("{}/{mailing}", data(&co, "marketing", "mailing")), &app.root).await;
    assert_eq!(m.expect(200)["data"]["state"], "sent");
}

/// Sends what is queued and delivers it; answers the letters the relay got.
async fn send_and_deliver(app: &TestApp, co: &str) {
    let r = app.post(&cmd(co, "marketing", "send-mailings"), &app.root, json!({})).await;
    assert!(r.expect(200)["waiting"].is_null(), "{:?}", r.body);
    drain_outbox(app).await;
}

/// A delivery status notification for the message `message_id`, as Postfix writes them.
fn bounce_report(message_id: &str, address: &str) -> String {
    format!(
        "From: MAILER-DAEMON@mx.example.net\r\nTo: news@acme.example\r\nSubject: Undelivered Mail Returned to Sender\r\n\
Message-ID: <bounce-1@mx.example.net>\r\nDate: Mon, 7 Dec 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"R1\"\r\n\r\n\
--R1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nYour message could not be delivered.\r\n\r\n\
--R1\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\n\r\n\
Final-Recipient: rfc822; {address}\r\nAction: failed\r\nStatus: 5.1.1\r\n\
Diagnostic-Code: smtp; 550 5.1.1 <{address}>: Recipient address rejected: User unknown\r\n\r\n\
--R1\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: Acme <news@acme.example>\r\nTo: {address}\r\n\
Subject: Sale\r\nMessage-ID: {message_id}\r\n\r\n--R1--\r\n"
    )
}

async fn unsubscribe_links_and_bounces_stop_the_next_mailing(app: &TestApp) {
    let smtp = crate::mail::Smtp::start("acme", "relay-password");
    let Some(imap) = tokio::task::spawn_blocking(crate::mail::Dovecot::start).await.unwrap() else { return };
    let mailbox = json!({ "imap_host": "127.0.0.1", "imap_port": imap.port, "imap_security": "none",
                          "imap_username": "inbox@example.com", "imap_password": "secret", "deliver_to": "crm/email" });
    let (co, _) = mailing_company(app, smtp.port, json!({}), mailbox).await;
    let _bus = app.start_bus();
    let people: Vec<(String, String)> =
        [("Анна", "anna@example.org"), ("Борис", "boris@example.org"), ("Вера", "vera@gone.example")]
            .iter()
            .map(|(n, e)| (n.to_string(), e.to_string()))
            .collect();
    let (customers, seg) = customers_and_segment(app, &co, &people).await;
    let mailing = async |name: &str| {
        let snap = app.post(&cmd(&co, "marketing", "snapshot-segment"), &app.root, json!({ "segment": seg })).await;
        let snap = snap.expect(200)["id"].clone();
        let m = create(
            app,
            &co,
            "marketing",
            "mailing",
            json!({ "name": name, "subject": "Новости", "body": "<p>Здравствуйте, {{ customer.name }}!</p>" }),
        )
        .await;
        let path = cmd(&co, "marketing", "queue-mailing");
        app.post(&path, &app.root, json!({ "mailing": m, "snapshot": snap })).await.expect(200).clone()
    };
    let first = mailing("Ноябрь").await;
    assert_eq!(first["queued"], 3, "{first}");
    send_and_deliver(app, &co).await;
    let letters = smtp.received.lock().clone();
    assert_eq!(letters.len(), 3);
    let to_anna = letters.iter().find(|r| r.to == ["anna@example.org"]).unwrap();
    let parsed = mail_parser::MessageParser::default().parse(&to_anna.data).unwrap();
    let header = parsed.header_raw("List-Unsubscribe").unwrap().trim().to_string();
    let link = header.trim_start_matches('<').trim_end_matches('>').to_string();
    assert!(link.starts_with(&format!("{}/unsubscribe/", app.base)), "{link}");
    assert_eq!(parsed.header_raw("List-Unsubscribe-Post").map(str::trim), Some("List-Unsubscribe=One-Click"));
    assert!(parsed.body_text(0).unwrap().contains(&link), "the link is in the letter too");
    assert!(parsed.body_html(0).unwrap().contains(&format!("<a href=\"{link}\">Отписаться</a>")));

    // The link opens a page that asks first: whose mailings, which address; nothing changes yet.
    let web = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let page = web.get(&link).header("Accept-Language", "ru-RU,ru;q=0.9").send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Больше не присылать рассылки Acme на адрес anna@example.org?"), "{html}");
    assert!(html.contains("id=\"unsubscribe-confirm\""), "{html}");
    let unsubscribes = async || {
        let r = app.get(&format!("{}?limit=100", data(&co, "marketing", "unsubscribe")), &app.root).await;
        r.expect(200)["items"].as_array().unwrap().clone()
    };
    assert!(unsubscribes().await.is_empty(), "opening the link changes nothing");
    // A mail program's one-click POST (RFC 8058) confirms it, without a login or a form token.
    let done = web
        .post(&link)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    assert!(done.text().await.unwrap().contains("Done: Acme will send no more mailings to anna@example.org."));
    let again = web.post(&link).header("Accept-Language", "ru").send().await.unwrap().text().await.unwrap();
    assert!(again.contains("Адрес anna@example.org уже отписан от рассылок Acme."), "{again}");
    let anna_off = async || unsubscribes().await.iter().any(|u| u["data"]["customer"] == json!(customers[0]));
    assert!(crate::support::eventually(30, anna_off).await, "the plugin heard of it");
    let by_link = unsubscribes().await;
    assert_eq!(by_link.len(), 1, "heard once however often the link is followed: {by_link:?}");
    assert_eq!(by_link[0]["data"]["cause"], "link");
    // A link changed by one character, or made up, unsubscribes no one.
    let mut forged = link.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    for bad in [forged, format!("{}/unsubscribe/bm90LWEtdG9rZW4.AAAAAAAAAAAAAAAAAAAAAA", app.base)] {
        let r = web.post(&bad).send().await.unwrap();
        assert_eq!(r.status(), 404, "{bad}");
        assert!(r.text().await.unwrap().contains("This unsubscribe link is not valid."));
    }
    let api = app.call(reqwest::Method::POST, "/api/v1/mail/unsubscribe/x.y", None, None).await;
    assert_eq!(api.expect(404)["error"]["code"], "not_found");

    // Vera's server sends her letter back; the report in the company's mailbox marks it.
    let to_vera = letters.iter().find(|r| r.to == ["vera@gone.example"]).unwrap();
    let vera_id = mail_parser::MessageParser::default().parse(&to_vera.data).unwrap().message_id().unwrap().to_string();
    imap.deliver("bounce.eml", &bounce_report(&format!("<{vera_id}>"), "vera@gone.example"));
    let poll = format!("/api/v1/companies/{co}/mail/poll");
    let checked = app.post(&poll, &app.root, json!({})).await.expect(200).clone();
    assert_eq!(
        (checked["found"].as_u64(), checked["bounces"].as_u64(), checked["delivered"].as_u64()),
        (Some(1), Some(1), Some(0)),
        "{checked}"
    );
    let leads = app.get(&data(&co, "crm", "lead"), &app.root).await;
    assert_eq!(leads.expect(200)["items"].as_array().unwrap().len(), 0, "a bounce is no lead");
    let outbox = app.get(&format!("/api/v1/companies/{co}/mail/outbox?status=bounced"), &app.root).await;
    let outbox = outbox.expect(200)["items"].as_array().unwrap().clone();
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0]["recipient"], "vera@gone.example");
    assert!(outbox[0]["error"].as_str().unwrap().contains("User unknown"), "{outbox:?}");
    let vera_off = async || {
        unsubscribes()
            .await
            .iter()
            .any(|u| u["data"]["customer"] == json!(customers[2]) && u["data"]["cause"] == "bounce")
    };
    assert!(crate::support::eventually(30, vera_off).await, "{:?}", unsubscribes().await);
    assert!(crate::support::eventually(30, async || statuses(app, &co).await.get("bounced") == Some(&1)).await);
    // The report read again changes nothing more.
    imap.deliver("bounce-copy.eml", &bounce_report(&format!("<{vera_id}>"), "vera@gone.example"));
    app.post(&poll, &app.root, json!({})).await.expect(200);
    assert_eq!(unsubscribes().await.len(), 2);

    // The next mailing goes to Boris alone.
    let second = mailing("Декабрь").await;
    assert_eq!((second["queued"].as_u64(), second["skipped_unsubscribed"].as_u64()), (Some(1), Some(2)), "{second}");
    send_and_deliver(app, &co).await;
    let letters = smtp.received.lock().clone();
    assert_eq!(letters.len(), 4);
    assert_eq!(letters[3].to, ["boris@example.org"]);
}

/// In Chromium, in Russian, on a phone: the unsubscribe link of a real letter asks first, then
/// confirms. Screenshots: `unsubscribe-*.png`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_unsubscribe_page_on_a_phone() {
    use crate::browser::{chromium, click, shot, text_of};

    let Some(driver) = chromium().await else { return };
    let app = TestApp::start(crate::support::Backend::Sqlite).await.expect("sqlite");
    let smtp = crate::mail::Smtp::start("acme", "relay-password");
    let (co, _) = mailing_company(&app, smtp.port, json!({}), json!({})).await;
    let people = [("Анна".to_string(), "anna@example.org".to_string())];
    let (_, seg) = customers_and_segment(&app, &co, &people).await;
    let snap = app.post(&cmd(&co, "marketing", "snapshot-segment"), &app.root, json!({ "segment": seg })).await;
    let snap = snap.expect(200)["id"].clone();
    let m = create(
        &app,
        &co,
        "marketing",
        "mailing",
        json!({ "name": "Весна", "subject": "Весенние скидки", "body": "<p>Здравствуйте!</p>" }),
    )
    .await;
    let path = cmd(&co, "marketing", "queue-mailing");
    app.post(&path, &app.root, json!({ "mailing": m, "snapshot": snap })).await.expect(200);
    send_and_deliver(&app, &co).await;
    let letter = smtp.received.lock()[0].data.clone();
    let parsed = mail_parser::MessageParser::default().parse(&letter).unwrap();
    let link = parsed.header_raw("List-Unsubscribe").unwrap().trim().trim_matches(['<', '>']).to_string();

    let c = &driver.client;
    c.goto(&format!("{}/lang?to=ru&back=/login", app.base)).await.unwrap();
    c.set_window_size(390, 844).await.unwrap();
    c.goto(&link).await.unwrap();
    let asked = text_of(c, "#unsubscribe-message").await;
    assert_eq!(asked, "Больше не присылать рассылки Acme на адрес anna@example.org?");
    shot(c, "unsubscribe-phone-ru").await;
    click(c, "#unsubscribe-confirm").await;
    c.wait()
        .at_most(std::time::Duration::from_secs(15))
        .for_element(fantoccini::Locator::XPath("//p[@id='unsubscribe-message'][starts-with(., 'Готово')]"))
        .await
        .unwrap();
    let done = text_of(c, "#unsubscribe-message").await;
    assert_eq!(done, "Готово: Acme больше не будет присылать рассылки на адрес anna@example.org.");
    shot(c, "unsubscribed-phone-ru").await;
}
