//! The CRM plugin through HTTP: the lead inbox with real channel formats, the sales funnel's
//! rules and events, personal data on every read path, managers restricted to their own
//! deals, document templates, automation robots and reports.

use reqwest::Method;
use serde_json::{Value, json};

use crate::both_backends;
use crate::support::{TestApp, package};

both_backends!(
    telegram_and_email_open_and_join_leads,
    malformed_inbound_is_refused_and_changes_nothing,
    deals_follow_the_pipeline_rules,
    personal_data_is_hidden_on_every_read_path,
    managers_restricted_to_own_deals_see_only_theirs,
    templates_render_documents_and_broken_ones_say_where,
    robots_fire_once_per_event_and_loops_stop,
    reports_add_up,
    payments_and_absences_from_other_plugins_reach_the_crm,
    customer_history_merge_and_recommendations,
    activities_are_planned_completed_and_listed_when_overdue,
);

pub(crate) const SECRET: &str = "crm-hook-secret-0123456789";

/// A company with CRM enabled and a webhook secret; returns its id.
async fn with_crm(app: &TestApp, members: &[(&str, &str)]) -> String {
    let co = app.company("Acme", members).await;
    app.install(&package("crm")).await;
    app.enable(&co, "crm", json!({ "webhook_secret": SECRET })).await.expect(200);
    co
}

fn data(co: &str, coll: &str) -> String {
    format!("/api/v1/companies/{co}/data/crm/{coll}")
}

fn cmd(co: &str, name: &str) -> String {
    format!("/api/v1/companies/{co}/plugins/crm/commands/{name}")
}

async fn create(app: &TestApp, co: &str, coll: &str, body: Value) -> String {
    let r = app.post(&data(co, coll), &app.root, body).await;
    r.expect(201)["id"].as_str().unwrap().to_string()
}

/// Posts to a CRM webhook with the company's secret: (status, body).
/// Posts to one of the CRM's inbound webhooks with the company's secret; answers the status and body.
pub(crate) async fn hook(
    app: &TestApp,
    co: &str,
    name: &str,
    content_type: &str,
    body: impl Into<Vec<u8>>,
) -> (u16, Value) {
    let r = app
        .client
        .post(format!("{}/api/v1/hooks/{co}/crm/{name}", app.base))
        .header("content-type", content_type)
        .header("x-webhook-secret", SECRET)
        .body(body.into())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// A pipeline `new -> qualified -> proposal -> won`, any open stage may be lost, lost may
/// reopen to new: (pipeline id, stage ids by code).
async fn pipeline(app: &TestApp, co: &str) -> (String, std::collections::BTreeMap<String, String>) {
    let p = create(app, co, "pipeline", json!({ "name": "Sales", "is_default": true })).await;
    let mut ids = std::collections::BTreeMap::new();
    for (pos, code, outcome, prob, next) in [
        (1, "new", "open", 10, json!(["qualified", "lost"])),
        (2, "qualified", "open", 30, json!(["proposal", "lost"])),
        (3, "proposal", "open", 60, json!(["won", "lost"])),
        (4, "won", "won", 100, json!([])),
        (5, "lost", "lost", 0, json!(["new"])),
    ] {
        let id = create(
            app,
            co,
            "stage",
            json!({ "pipeline": p, "code": code, "name": code, "position": pos, "outcome": outcome,
                    "probability": prob, "next": next }),
        )
        .await;
        ids.insert(code.to_string(), id);
    }
    (p, ids)
}

async fn events_named(app: &TestApp, co: &str, token: &str, name: &str) -> Vec<Value> {
    let r = app.get(&format!("/api/v1/companies/{co}/events?name={name}&limit=500"), token).await;
    r.expect(200)["items"].as_array().unwrap().clone()
}

fn update(id: i64, message_id: i64, text: &str) -> String {
    json!({
        "update_id": id,
        "message": {
            "message_id": message_id, "date": 1764403200,
            "from": { "id": 5550001, "is_bot": false, "first_name": "Анна", "last_name": "Кузнецова", "username": "anna_k" },
            "chat": { "id": 5550001, "type": "private", "first_name": "Анна" },
            "text": text
        }
    })
    .to_string()
}

async fn telegram_and_email_open_and_join_leads(app: &TestApp) {
    let (m1, _) = app.user("m1@example.com").await;
    let (m2, _) = app.user("m2@example.com").await;
    let co = with_crm(app, &[("m1@example.com", "member"), ("m2@example.com", "member")]).await;
    create(app, &co, "manager", json!({ "user_id": m1, "name": "Мария" })).await;
    create(app, &co, "manager", json!({ "user_id": m2, "name": "Олег" })).await;

    // A Telegram update from someone new opens a lead.
    let (status, first) =
        hook(app, &co, "telegram", "application/json", update(1, 10, "Сколько стоит доставка?")).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["new_lead"], true);
    let lead_id = first["lead"].as_str().unwrap().to_string();
    let lead = app.get(&format!("{}/{lead_id}", data(&co, "lead")), &app.root).await;
    let lead = lead.expect(200)["data"].clone();
    assert_eq!(lead["channel"], "telegram");
    assert_eq!(lead["name"], "Анна Кузнецова");
    assert_eq!(lead["status"], "new");
    assert_eq!(lead["contact_key"], "telegram:5550001");
    let first_manager = lead["responsible"].as_str().unwrap().to_string();
    assert!([&m1, &m2].contains(&&first_manager));

    // Telegram delivers the same update again: stored once.
    let (status, again) =
        hook(app, &co, "telegram", "application/json", update(1, 10, "Сколько стоит доставка?")).await;
    assert_eq!((status, again["duplicate"].clone()), (200, json!(true)));
    // A second message from her joins the same lead.
    let (_, second) = hook(app, &co, "telegram", "application/json", update(2, 11, "И есть ли самовывоз?")).await;
    assert_eq!(second["lead"], lead_id.as_str());
    assert_eq!(second["new_lead"], false);
    let lead = app.get(&format!("{}/{lead_id}", data(&co, "lead")), &app.root).await;
    assert_eq!(lead.expect(200)["data"]["messages"], 2);
    let thread = app
        .post(
            &format!("{}/query", data(&co, "message")),
            &app.root,
            json!({ "filter": { "field": "lead", "op": "eq", "value": lead_id } }),
        )
        .await;
    assert_eq!(thread.expect(200)["items"].as_array().unwrap().len(), 2);

    // A raw e-mail from a known customer joins that customer's history; the new lead goes to
    // the other manager (round-robin).
    let card = app
        .post(
            &cmd(&co, "create-customer"),
            &app.root,
            json!({ "last_name": "Петров", "first_name": "Иван", "patronymic": "Сергеевич",
                    "contacts": [{ "kind": "email", "value": "Ivan.Petrov@Example.ru" },
                                 { "kind": "phone", "value": "+7 (912) 000-11-22" }] }),
        )
        .await;
    let customer = card.expect(200)["customer"]["id"].as_str().unwrap().to_string();
    assert_eq!(card.body["customer"]["data"]["name"], "Петров Иван Сергеевич");
    let raw = "From: Ivan Petrov <ivan.petrov@example.ru>\r\nTo: sales@acme.example\r\n\
               Subject: =?UTF-8?B?0JrQvtC80LzQtdGA0YfQtdGB0LrQvtC1INC/0YDQtdC00LvQvtC20LXQvdC40LU=?=\r\n\
               Message-ID: <offer-1@example.ru>\r\nDate: Sat, 29 Nov 2025 11:00:00 +0300\r\n\
               Content-Type: text/plain; charset=utf-8\r\n\r\nПришлите предложение на 20 стульев.\r\n";
    let (status, mail) = hook(app, &co, "email", "message/rfc822", raw).await;
    assert_eq!(status, 200, "{mail}");
    assert!(mail.get("customer").is_none(), "the answer does not tell who is a customer: {mail}");
    assert_eq!(mail["new_lead"], true);
    let mail_lead = app.get(&format!("{}/{}", data(&co, "lead"), mail["lead"].as_str().unwrap()), &app.root).await;
    let mail_lead = mail_lead.expect(200)["data"].clone();
    assert_eq!(mail_lead["title"], "Коммерческое предложение");
    assert_eq!(mail_lead["customer"], customer.as_str());
    assert_ne!(
        mail_lead["responsible"],
        first_manager.as_str(),
        "round-robin gives the next lead to the other manager"
    );
    let history = app.post(&cmd(&co, "timeline"), &app.root, json!({ "customer": customer, "kind": "message" })).await;
    let entries = history.expect(200)["entries"].as_array().unwrap().clone();
    assert_eq!(entries.len(), 1);
    assert!(entries[0]["title"].as_str().unwrap().contains("Коммерческое предложение"));
    // A phone number from a web form in another spelling finds the same customer.
    let (status, form) = hook(
        app,
        &co,
        "form",
        "application/x-www-form-urlencoded",
        "name=Ivan&phone=8+912+000+11+22&message=Call+me&utm_source=yandex",
    )
    .await;
    assert_eq!(status, 200, "{form}");
    assert_eq!(form["lead"], mail["lead"], "an open lead of the customer takes the message");

    // Qualifying the Telegram lead makes a customer card and a deal in the default pipeline.
    let (_, stages) = pipeline(app, &co).await;
    let q = app.post(&cmd(&co, "qualify-lead"), &app.root, json!({ "id": lead_id, "amount": "15000.00" })).await;
    let q = q.expect(200).clone();
    let deal = app.get(&format!("{}/{}", data(&co, "deal"), q["deal"].as_str().unwrap()), &app.root).await;
    let deal = deal.expect(200)["data"].clone();
    assert_eq!(deal["stage"], stages["new"].as_str());
    assert_eq!(deal["amount"], "15000.00");
    assert_eq!(deal["responsible"], first_manager.as_str());
    let contacts = app
        .post(
            &format!("{}/query", data(&co, "contact")),
            &app.root,
            json!({ "filter": { "field": "customer", "op": "eq", "value": q["customer"] } }),
        )
        .await;
    assert_eq!(contacts.expect(200)["items"][0]["data"]["key"], "telegram:5550001");
    let created = events_named(app, &co, &app.root, "crm.lead.created").await;
    assert_eq!(created.len(), 2, "two leads opened");
    // Qualifying twice is a conflict.
    app.post(&cmd(&co, "qualify-lead"), &app.root, json!({ "id": lead_id })).await.expect(409);
}

async fn malformed_inbound_is_refused_and_changes_nothing(app: &TestApp) {
    let co = with_crm(app, &[]).await;
    let before = app.snapshot().await;
    let cases: Vec<(&str, &str, Vec<u8>)> = vec![
        ("telegram", "application/json", b"{not json".to_vec()),
        ("telegram", "application/json", br#"{"update_id": "seven"}"#.to_vec()),
        ("telegram", "application/json", br#"{"update_id": 1, "message": {"message_id": 1}}"#.to_vec()),
        ("email", "message/rfc822", b"no headers at all, just words".to_vec()),
        ("email", "message/rfc822", b"Subject: no sender\r\n\r\nhello".to_vec()),
        ("email", "message/rfc822", b"From: not-an-address\r\n\r\nhello".to_vec()),
        ("form", "application/json", br#"{"name": "No contact at all"}"#.to_vec()),
        ("form", "application/json", br#"{"email": "broken@", "phone": "12"}"#.to_vec()),
        ("form", "application/json", br#"{"email": "a@b.ru", "admin": true}"#.to_vec()),
        ("form", "text/plain", b"email=a@b.ru".to_vec()),
        ("form", "application/x-www-form-urlencoded", b"email=a%40b.ru&email=c%40d.ru".to_vec()),
        ("message", "application/json", br#"{"channel": "fax", "sender_id": "1", "text": "hi"}"#.to_vec()),
        ("message", "application/json", br#"{"channel": "vk", "sender_id": "1", "text": "hi", "x": 1}"#.to_vec()),
        ("message", "application/json", br#"{"channel": "vk", "sender_id": "1", "text": ""}"#.to_vec()),
        ("message", "application/json", b"[]".to_vec()),
    ];
    for (name, content_type, body) in cases {
        let shown = String::from_utf8_lossy(&body).to_string();
        let (status, answer) = hook(app, &co, name, content_type, body).await;
        assert!((400..500).contains(&status), "{name} {shown}: {status} {answer}");
        assert!(answer["error"]["message"].is_string(), "{name} {shown}: {answer}");
    }
    // Not a POST.
    let r = app
        .client
        .get(format!("{}/api/v1/hooks/{co}/crm/telegram", app.base))
        .header("x-webhook-secret", SECRET)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error());
    assert_eq!(app.snapshot().await, before, "refused inbound messages changed something");
    // An update that carries no message from a person is acknowledged and stores nothing.
    let (status, answer) =
        hook(app, &co, "telegram", "application/json", r#"{"update_id": 9, "callback_query": {"id": "1"}}"#).await;
    assert_eq!((status, answer), (200, json!({ "ignored": true })));
}

async fn deals_follow_the_pipeline_rules(app: &TestApp) {
    let co = with_crm(app, &[]).await;
    let (p, s) = pipeline(app, &co).await;
    let customer = create(app, &co, "customer", json!({ "name": "ООО Ромашка", "kind": "organization" })).await;
    let deal = create(
        app,
        &co,
        "deal",
        json!({ "title": "Стулья", "customer": customer, "pipeline": p, "stage": s["new"], "amount": "120000.00",
                "lines": [{ "product": "CHAIR-1", "name": "Стул", "quantity": "20", "price": "6000.00" }] }),
    )
    .await;
    let deal_url = format!("{}/{deal}", data(&co, "deal"));
    // Skipping stages is refused, by the command and by a plain update alike.
    let jump = app.post(&cmd(&co, "move-deal"), &app.root, json!({ "id": deal, "stage": s["won"] })).await;
    jump.expect(422);
    assert!(jump.body.to_string().contains("cannot move from new to won"), "{}", jump.body);
    app.patch(&deal_url, &app.root, json!({ "stage": s["won"], "status": "won" })).await.expect(422);
    // A status that does not match the stage is refused.
    app.patch(&deal_url, &app.root, json!({ "status": "won" })).await.expect(422);
    // A stage of another pipeline is refused.
    let other = create(app, &co, "pipeline", json!({ "name": "Partners" })).await;
    let foreign =
        create(app, &co, "stage", json!({ "pipeline": other, "code": "new", "name": "new", "position": 1 })).await;
    app.post(&cmd(&co, "move-deal"), &app.root, json!({ "id": deal, "stage": foreign })).await.expect(422);
    // Switching pipelines cannot skip to a closed stage, and a deal cannot be born closed.
    let other_won = create(
        app,
        &co,
        "stage",
        json!({ "pipeline": other, "code": "won", "name": "won", "position": 2, "outcome": "won" }),
    )
    .await;
    let now = "2026-01-01T00:00:00Z";
    let skip = json!({ "pipeline": other, "stage": other_won, "status": "won", "closed_at": now });
    let r = app.patch(&deal_url, &app.root, skip).await;
    r.expect(422);
    assert!(r.body.to_string().contains("open stage"), "{}", r.body);
    let born_won = json!({ "title": "x", "pipeline": p, "stage": s["won"], "status": "won", "closed_at": now });
    app.post(&data(&co, "deal"), &app.root, born_won).await.expect(422);
    // The close time is the funnel's, not the user's; robot marks are the robots'.
    app.patch(&deal_url, &app.root, json!({ "closed_at": now })).await.expect(422);
    let forged =
        app.patch(&deal_url, &app.root, json!({ "robot_run": "01a2259f-0000-7000-8000-000000000001:0" })).await;
    forged.expect(422);
    // Moving to the stage it is in is refused.
    app.post(&cmd(&co, "move-deal"), &app.root, json!({ "id": deal, "stage": s["new"] })).await.expect(422);
    let unchanged = app.get(&deal_url, &app.root).await;
    assert_eq!(unchanged.expect(200)["data"]["stage"], s["new"].as_str());

    // Allowed moves go through, with history, timeline and events.
    app.post(&cmd(&co, "move-deal"), &app.root, json!({ "id": deal, "stage": s["qualified"] })).await.expect(200);
    let lost = app.post(&cmd(&co, "move-deal"), &app.root, json!({ "id": deal, "stage": s["lost"] })).await;
    lost.expect(422);
    assert!(lost.body.to_string().contains("reason"), "{}", lost.body);
    let lost = app
        .post(&cmd(&co, "move-deal"), &app.root, json!({ "id": deal, "stage": s["lost"], "reason": "Дорого" }))
        .await;
    assert_eq!(lost.expect(200)["data"]["status"], "lost");
    assert!(lost.body["data"]["closed_at"].is_string());
    // Reopen, then win.
    for code in ["new", "qualified", "proposal", "won"] {
        let r = app.post(&cmd(&co, "move-deal"), &app.root, json!({ "id": deal, "stage": s[code] })).await;
        r.expect(200);
    }
    let won = app.get(&deal_url, &app.root).await;
    let won = won.expect(200)["data"].clone();
    assert_eq!(won["status"], "won");
    assert!(won.get("lost_reason").is_none(), "{won}");
    let stays = app
        .post(
            &format!("{}/query", data(&co, "deal_stage")),
            &app.root,
            json!({ "filter": { "field": "deal", "op": "eq", "value": deal }, "sort": { "field": "entered_at" } }),
        )
        .await;
    let stays = stays.expect(200)["items"].as_array().unwrap().clone();
    let path: Vec<&str> = stays.iter().map(|x| x["data"]["stage"].as_str().unwrap()).collect();
    let codes: Vec<&str> =
        path.iter().map(|id| s.iter().find(|(_, v)| v.as_str() == *id).map(|(k, _)| k.as_str()).unwrap()).collect();
    assert_eq!(codes, ["new", "qualified", "lost", "new", "qualified", "proposal", "won"]);
    assert!(stays[..6].iter().all(|x| x["data"]["left_at"].is_string()));
    assert!(stays[6]["data"].get("left_at").is_none());

    let changed = events_named(app, &co, &app.root, "crm.deal.stage_changed").await;
    assert_eq!(changed.len(), 6);
    let lost_events = events_named(app, &co, &app.root, "crm.deal.lost").await;
    assert_eq!(lost_events.len(), 1);
    assert_eq!(lost_events[0]["payload"]["reason"], "Дорого");
    let won_events = events_named(app, &co, &app.root, "crm.deal.won").await;
    assert_eq!(won_events.len(), 1);
    let payload = &won_events[0]["payload"];
    assert_eq!(payload["amount"], "120000.00");
    assert_eq!(payload["customer"], customer.as_str());
    assert_eq!(payload["lines"][0]["product"], "CHAIR-1");
    let history =
        app.post(&cmd(&co, "timeline"), &app.root, json!({ "customer": customer, "kind": "stage_change" })).await;
    assert_eq!(history.expect(200)["entries"].as_array().unwrap().len(), 7, "opened + 6 moves");
}

async fn personal_data_is_hidden_on_every_read_path(app: &TestApp) {
    let (_, sales) = app.user("sales@example.com").await;
    let co = with_crm(app, &[]).await;
    let perms = [
        "crm.customer.read",
        "crm.customer.write",
        "crm.lead.read",
        "crm.deal.read",
        "crm.deal.all",
        "kernel.events.read",
    ];
    app.member_with_role(&co, "sales@example.com", "sales", &perms).await;
    let card = app
        .post(
            &cmd(&co, "create-customer"),
            &app.root,
            json!({ "last_name": "Смирнова", "first_name": "Ольга", "birth_date": "1990-05-17", "gender": "female",
                    "contacts": [{ "kind": "phone", "value": "+7 999 555-44-33" }],
                    "addresses": [{ "kind": "home", "city": "Казань", "line": "ул. Баумана, 1" }] }),
        )
        .await;
    let id = card.expect(200)["customer"]["id"].as_str().unwrap().to_string();
    assert_eq!(card.body["customer"]["data"]["birth_date"], "1990-05-17", "the owner sees personal data");
    hook(app, &co, "form", "application/json", r#"{"name": "Guest", "email": "guest@mail.example", "message": "hi"}"#)
        .await;

    let secrets = ["1990-05-17", "female", "555-44-33", "79995554433", "Баумана", "Казань", "guest@mail.example"];
    let assert_clean = |what: &str, body: &Value| {
        let text = body.to_string();
        for s in secrets {
            assert!(!text.contains(s), "{what} shows {s}: {text}");
        }
    };
    // Get, list, query of every collection that holds personal data.
    let got = app.get(&format!("{}/{id}", data(&co, "customer")), &sales).await;
    assert_eq!(got.expect(200)["data"]["name"], "Смирнова Ольга");
    assert_clean("get customer", &got.body);
    for coll in ["customer", "contact", "address", "lead", "message"] {
        let list = app.get(&data(&co, coll), &sales).await;
        assert_clean(&format!("list {coll}"), list.expect(200));
        let q = app.post(&format!("{}/query", data(&co, coll)), &sales, json!({})).await;
        assert_clean(&format!("query {coll}"), q.expect(200));
    }
    // Filtering or grouping by a personal field is refused, not answered.
    let by_birth = json!({ "filter": { "field": "birth_date", "op": "eq", "value": "1990-05-17" } });
    app.post(&format!("{}/query", data(&co, "customer")), &sales, by_birth).await.expect(403);
    let by_gender = json!({ "group_by": ["gender"], "metrics": [{ "op": "count" }] });
    app.post(&format!("{}/aggregate", data(&co, "customer")), &sales, by_gender).await.expect(403);
    let by_key = json!({ "filter": { "field": "key", "op": "eq", "value": "phone:79995554433" } });
    app.post(&format!("{}/query", data(&co, "contact")), &sales, by_key).await.expect(403);
    // The plugin's own answers.
    let card = app.post(&cmd(&co, "card"), &sales, json!({ "id": id })).await;
    assert_eq!(card.expect(200)["contacts"].as_array().unwrap().len(), 1, "the contact is listed, its value is not");
    assert_clean("card", &card.body);
    // Events.
    let events = app.get(&format!("/api/v1/companies/{co}/events?limit=500"), &sales).await;
    assert_clean("event log", events.expect(200));
    // Writing personal data without the permission is refused.
    let r = app
        .post(
            &cmd(&co, "create-customer"),
            &sales,
            json!({ "name": "X", "contacts": [{ "kind": "phone", "value": "+7 900 000 00 00" }] }),
        )
        .await;
    r.expect(403);
    app.patch(&format!("{}/{id}", data(&co, "customer")), &sales, json!({ "gender": "male" })).await.expect(403);
    // With the permission it all shows.
    let full = app.get(&format!("{}/{id}", data(&co, "customer")), &app.root).await;
    assert_eq!(full.expect(200)["data"]["gender"], "female");
}

async fn managers_restricted_to_own_deals_see_only_theirs(app: &TestApp) {
    let (anna, anna_token) = app.user("anna@example.com").await;
    let (boris, _) = app.user("boris@example.com").await;
    let co = with_crm(app, &[]).await;
    let perms = ["crm.customer.read", "crm.deal.read", "crm.deal.write", "crm.settings.read", "kernel.events.read"];
    app.member_with_role(&co, "anna@example.com", "rep", &perms).await;
    let body = json!({ "email": "boris@example.com", "role": "rep" });
    app.post(&format!("/api/v1/companies/{co}/members"), &app.root, body).await.expect(201);
    let (p, s) = pipeline(app, &co).await;
    let deal = |title: &str, who: &str| json!({ "title": title, "pipeline": p, "stage": s["new"], "responsible": who, "amount": "100.00" });
    let mine = create(app, &co, "deal", deal("Anna's", &anna)).await;
    let theirs = create(app, &co, "deal", deal("Boris's", &boris)).await;
    let deal_url = |id: &str| format!("{}/{id}", data(&co, "deal"));

    // By id: someone else's deal does not exist for her.
    app.get(&deal_url(&mine), &anna_token).await.expect(200);
    app.get(&deal_url(&theirs), &anna_token).await.expect(404);
    app.patch(&deal_url(&theirs), &anna_token, json!({ "amount": "1.00" })).await.expect(404);
    let r = app.call(Method::DELETE, &deal_url(&theirs), Some(&anna_token), None).await;
    r.expect(404);
    app.post(&cmd(&co, "move-deal"), &anna_token, json!({ "id": theirs, "stage": s["qualified"] })).await.expect(404);
    // Lists, queries and aggregates count only hers.
    let list = app.get(&data(&co, "deal"), &anna_token).await;
    let titles: Vec<&str> =
        list.expect(200)["items"].as_array().unwrap().iter().map(|d| d["data"]["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["Anna's"]);
    let q = json!({ "filter": { "field": "title", "op": "eq", "value": "Boris's" } });
    let q = app.post(&format!("{}/query", data(&co, "deal")), &anna_token, q).await;
    assert_eq!(q.expect(200)["items"].as_array().unwrap().len(), 0);
    let agg = json!({ "metrics": [{ "op": "count" }, { "op": "sum", "field": "amount" }] });
    let agg = app.post(&format!("{}/aggregate", data(&co, "deal")), &anna_token, agg).await;
    assert_eq!(agg.expect(200)["groups"][0]["values"]["count"], 1);
    // Nor is his deal's stage history.
    let stays = app.get(&data(&co, "deal_stage"), &anna_token).await;
    let stays = stays.expect(200)["items"].as_array().unwrap().clone();
    assert!(!stays.is_empty() && stays.iter().all(|x| x["data"]["deal"] == mine.as_str()), "{stays:?}");
    // Events about his deal are not hers to read, even those the plugin publishes.
    app.post(&cmd(&co, "move-deal"), &app.root, json!({ "id": theirs, "stage": s["qualified"] })).await.expect(200);
    let hers = events_named(app, &co, &anna_token, "crm.deal.stage_changed").await;
    assert_eq!(hers.len(), 1, "{hers:?}");
    assert!(hers[0]["payload"].as_object().unwrap().is_empty(), "{hers:?}");
    // Events about his deal are not hers to read.
    let events = app.get(&format!("/api/v1/companies/{co}/events?name=crm.deal.*&limit=500"), &anna_token).await;
    assert!(!events.expect(200).to_string().contains("Boris's"), "{}", events.body);
    // She cannot hand a deal to someone else, or open one in his name; her new deals are hers.
    app.patch(&deal_url(&mine), &anna_token, json!({ "responsible": boris })).await.expect(403);
    app.post(&data(&co, "deal"), &anna_token, deal("For Boris", &boris)).await.expect(403);
    let own = json!({ "title": "New", "pipeline": p, "stage": s["new"] });
    let own = app.post(&data(&co, "deal"), &anna_token, own).await;
    assert_eq!(own.expect(201)["data"]["responsible"], anna.as_str());
    // Her own deal she works as usual.
    app.post(&cmd(&co, "move-deal"), &anna_token, json!({ "id": mine, "stage": s["qualified"] })).await.expect(200);
    // The owner sees everything.
    let all = app.get(&data(&co, "deal"), &app.root).await;
    assert_eq!(all.expect(200)["items"].as_array().unwrap().len(), 3);
}

async fn templates_render_documents_and_broken_ones_say_where(app: &TestApp) {
    let (_, sales) = app.user("sales@example.com").await;
    let co = with_crm(app, &[]).await;
    let perms = ["crm.customer.read", "crm.deal.read", "crm.deal.all", "crm.template.read"];
    app.member_with_role(&co, "sales@example.com", "sales", &perms).await;
    // Documents carry the company's details from its profile in the kernel.
    let profile = json!({ "name": "Альфа", "legal_name": "ООО «Альфа»", "tax_id": "7707083893",
                          "time_zone": "Europe/Moscow", "currency": "RUB" });
    app.put(&format!("/api/v1/companies/{co}/profile"), &app.root, profile).await.expect(200);
    // A broken template is refused with its position, and nothing is stored.
    let broken = json!({ "name": "Broken", "body": "<h1>Offer</h1>\n<p>{{ customer.name </p>" });
    let r = app.post(&data(&co, "template"), &app.root, broken).await;
    r.expect(422);
    assert!(r.body.to_string().contains("line 2, column"), "{}", r.body);
    let body = "{{ company.name }}: КП {{ document.number }}\n\n{{ company.short_name }}, ИНН {{ company.tax_id }}\n\n\
                {{ customer.name }}, {{ customer.phone }}\n\n\
                {% for l in deal.lines %}{{ l.name }}: {{ l.quantity }} × {{ l.price | money }} = {{ l.total | money }}{% endfor %}\n\n\
                Итого {{ deal.lines_total | money }} {{ deal.currency }}";
    let template =
        create(app, &co, "template", json!({ "name": "Коммерческое предложение", "kind": "offer", "body": body }))
            .await;
    let (p, s) = pipeline(app, &co).await;
    let card = app
        .post(
            &cmd(&co, "create-customer"),
            &app.root,
            json!({ "name": "Иванов <script> #set", "contacts": [{ "kind": "phone", "value": "+7 999 111-22-33" }] }),
        )
        .await;
    let customer = card.expect(200)["customer"]["id"].as_str().unwrap().to_string();
    let deal = create(
        app,
        &co,
        "deal",
        json!({ "title": "Стулья", "customer": customer, "pipeline": p, "stage": s["new"], "amount": "13000.00",
                "lines": [{ "product": "CH", "name": "Стул", "quantity": "2", "price": "6500.00" }] }),
    )
    .await;
    let doc = app
        .post(&cmd(&co, "render-document"), &app.root, json!({ "template": template, "deal": deal, "language": "ru" }))
        .await;
    let text = doc.expect(200)["html"].as_str().unwrap().to_string();
    assert!(text.contains("ООО «Альфа»: КП КП-00001"), "{text}");
    assert!(text.contains("Иванов <script> #set, +7 999 111-22-33"), "the text as typed: {text}");
    // The document is a PDF in the offer's layout: the company, the customer as typed, the
    // lines, the total in words.
    let file = doc.body["open"].as_str().expect("the answer opens the PDF").to_string();
    let (status, ct, pdf) = crate::documents::download(app, &co, &app.root, &file).await;
    assert_eq!((status, ct.as_str()), (200, "application/pdf"));
    let pdf_text = crate::documents::pdf_pages(&pdf).join(" ").split_whitespace().collect::<Vec<_>>().join(" ");
    for expected in [
        "Коммерческое предложение № КП-00001",
        "ООО «Альфа»",
        "ИНН 7707083893",
        "Иванов <script> #set",
        "+7 999 111-22-33",
        "Стул",
        "13 000,00",
        "Тринадцать тысяч рублей 00 копеек",
    ] {
        assert!(pdf_text.contains(expected), "{expected:?} in {pdf_text}");
    }
    // Someone without personal-data rights renders without personal data...
    let second = app
        .post(&cmd(&co, "render-document"), &sales, json!({ "template": template, "deal": deal, "language": "en" }))
        .await;
    let second_text = second.expect(200)["html"].as_str().unwrap().to_string();
    assert!(second_text.contains("КП-00002") && !second_text.contains("111-22-33"), "{second_text}");
    let own_pdf = second.body["open"].as_str().unwrap().to_string();
    let (status, _, pdf) = crate::documents::download(app, &co, &sales, &own_pdf).await;
    assert_eq!(status, 200, "their own PDF opens");
    let english = crate::documents::pdf_pages(&pdf).join(" ").split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        english.contains("Commercial offer No. КП-00002") && english.contains("Thirteen thousand roubles"),
        "{english}"
    );
    // ...and cannot open the first document's text or PDF, which hold some.
    let first_id = doc.body["id"].as_str().unwrap();
    let opened = app.post(&cmd(&co, "document"), &sales, json!({ "id": first_id })).await;
    assert_eq!(opened.expect(200)["hidden"], true);
    assert_eq!(opened.body["file"], Value::Null);
    let stored = app.get(&format!("{}/{first_id}", data(&co, "document")), &sales).await;
    assert!(stored.expect(200)["data"].get("html").is_none());
    assert!(stored.body["data"].get("file_pii").is_none());
    assert_eq!(crate::documents::download(app, &co, &sales, &file).await.0, 404, "the PDF with personal data");
    let own = app.post(&cmd(&co, "document"), &sales, json!({ "id": second.body["id"] })).await;
    assert_eq!(own.expect(200)["html"], second_text.as_str());
    // A template that fails while rendering says where.
    let bad_render =
        create(app, &co, "template", json!({ "name": "Unknown function", "body": "line one\n{{ nothing() }}" })).await;
    let r = app.post(&cmd(&co, "render-document"), &app.root, json!({ "template": bad_render, "deal": deal })).await;
    r.expect(422);
    assert!(r.body.to_string().contains("line 2"), "{}", r.body);
}

async fn robots_fire_once_per_event_and_loops_stop(app: &TestApp) {
    let co = with_crm(app, &[]).await;
    let p = create(app, &co, "pipeline", json!({ "name": "Sales", "is_default": true })).await;
    let mut s = std::collections::BTreeMap::new();
    for (pos, code, outcome, next) in [
        (1, "new", "open", json!(["qualified"])),
        (2, "qualified", "open", json!(["proposal"])),
        (3, "proposal", "open", json!(["qualified", "won"])),
        (4, "won", "won", json!([])),
    ] {
        let id = create(
            app,
            &co,
            "stage",
            json!({ "pipeline": p, "code": code, "name": code, "position": pos, "outcome": outcome, "next": next }),
        )
        .await;
        s.insert(code, id);
    }
    let template =
        create(app, &co, "template", json!({ "name": "КП", "kind": "offer", "body": "КП по сделке {{ deal.title }}" }))
            .await;
    // Rules are checked when saved.
    let bad = json!({ "name": "Bad", "trigger": "stage_entered", "actions": [{ "type": "teleport" }],
                      "conditions": [{ "field": "colour", "op": "eq", "value": 1 }] });
    let r = app.post(&data(&co, "robot"), &app.root, bad).await;
    r.expect(422);
    let fields: Vec<&str> =
        r.body["error"]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert!(fields.contains(&"actions[0].type") && fields.contains(&"conditions[0].field"), "{fields:?}");
    // Lines of the right shape that do not make sense together: the plugin names each problem.
    let senseless = json!({ "name": "Senseless", "trigger": "stage_entered",
                            "conditions": [{ "field": "stage", "op": "eq", "value": "Нет такого" }],
                            "actions": [{ "type": "move_deal", "title": "Позвонить" }] });
    let r = app.post(&data(&co, "robot"), &app.root, senseless).await;
    r.expect(422);
    let fields: Vec<&str> =
        r.body["error"]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    for expected in ["stage", "conditions[0].value", "actions[0].title", "actions[0].stage"] {
        assert!(fields.contains(&expected), "{expected} in {fields:?}");
    }
    let watch_robots = json!({ "name": "Watch", "trigger": "event", "event": "crm.robot.*", "actions": [{ "type": "publish_event", "name": "x" }] });
    app.post(&data(&co, "robot"), &app.root, watch_robots).await.expect(422);

    let offer = create(
        app,
        &co,
        "robot",
        json!({ "name": "Offer", "trigger": "stage_entered", "stage": s["qualified"],
                "conditions": [{ "field": "amount", "op": "gte", "value": "1000" }, { "field": "stage", "op": "in", "value": "Proposal, QUALIFIED" }],
                "actions": [{ "type": "create_activity", "title": "Подготовить КП", "kind": "task", "due_in_hours": 4 },
                            { "type": "render_document", "template": template },
                            { "type": "publish_event", "name": "offer.prepared" }] }),
    )
    .await;
    let back = create(
        app,
        &co,
        "robot",
        json!({ "name": "Back", "trigger": "stage_entered", "stage": s["proposal"],
                "conditions": [{ "field": "source", "op": "eq", "value": "loop" }],
                "actions": [{ "type": "move_deal", "stage": s["qualified"] }] }),
    )
    .await;
    let forth = create(
        app,
        &co,
        "robot",
        json!({ "name": "Forth", "trigger": "stage_entered", "stage": s["qualified"],
                "conditions": [{ "field": "source", "op": "eq", "value": "loop" }],
                "actions": [{ "type": "move_deal", "stage": s["proposal"] }] }),
    )
    .await;
    let thanks = create(
        app,
        &co,
        "robot",
        json!({ "name": "Thanks", "trigger": "event", "event": "crm.deal.won",
                "actions": [{ "type": "create_activity", "title": "Поблагодарить клиента", "kind": "call" }] }),
    )
    .await;
    let deal = |title: &str, amount: &str, source: &str| json!({ "title": title, "pipeline": p, "stage": s["new"], "amount": amount, "source": source });
    // Robots run after commit, from the event bus.
    let _bus = app.start_bus();
    let big = create(app, &co, "deal", deal("Big", "5000.00", "web")).await;
    let small = create(app, &co, "deal", deal("Small", "10.00", "web")).await;
    let count = |coll: &'static str, filter: Value| {
        let co = co.clone();
        async move {
            let r = app
                .post(&format!("{}/query", data(&co, coll)), &app.root, json!({ "filter": filter, "limit": 500 }))
                .await;
            r.expect(200)["items"].as_array().unwrap().clone()
        }
    };
    let move_to = |id: String, code: &'static str| {
        let body = json!({ "id": id, "stage": s[code] });
        let url = cmd(&co, "move-deal");
        async move { app.post(&url, &app.root, body).await }
    };
    move_to(big.clone(), "qualified").await.expect(200);
    move_to(small.clone(), "qualified").await.expect(200);
    let offer_runs = || count("robot_run", json!({ "field": "robot", "op": "eq", "value": offer }));
    assert!(
        crate::support::eventually(20, async || offer_runs().await.iter().any(|r| r["data"]["outcome"] == "done"))
            .await
    );
    // Give the small deal's event time to be handled too.
    let settled = || count("robot_run", json!({ "field": "outcome", "op": "eq", "value": "running" }));
    assert!(crate::support::eventually(20, async || settled().await.is_empty()).await);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let runs = offer_runs().await;
    assert_eq!(runs.len(), 1, "fires for the big deal only");
    assert_eq!(runs[0]["data"]["outcome"], "done", "{}", runs[0]);
    assert_eq!(runs[0]["data"]["deal"], big.as_str());
    let tasks = count("activity", json!({ "field": "deal", "op": "eq", "value": big })).await;
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0]["data"]["title"], "Подготовить КП");
    assert_eq!(count("document", json!({ "field": "deal", "op": "eq", "value": big })).await.len(), 1);
    assert_eq!(events_named(app, &co, &app.root, "crm.robot.offer.prepared").await.len(), 1);
    assert!(count("activity", json!({ "field": "deal", "op": "eq", "value": small })).await.is_empty());

    // A loop between two robots stops, and the stop is logged.
    let looping = create(app, &co, "deal", deal("Loop", "10.00", "loop")).await;
    move_to(looping.clone(), "qualified").await.expect(200);
    let loop_runs = || count("robot_run", json!({ "field": "deal", "op": "eq", "value": looping }));
    assert!(
        crate::support::eventually(20, async || loop_runs().await.iter().any(|r| r["data"]["outcome"] == "skipped"))
            .await,
        "the loop never stopped"
    );
    let runs = loop_runs().await;
    let outcomes: Vec<(String, String)> = runs
        .iter()
        .map(|r| (r["data"]["robot"].as_str().unwrap().to_string(), r["data"]["outcome"].as_str().unwrap().to_string()))
        .collect();
    assert!(
        outcomes.contains(&(back.clone(), "skipped".into())) || outcomes.contains(&(forth.clone(), "skipped".into())),
        "{outcomes:?}"
    );
    let skipped = runs.iter().find(|r| r["data"]["outcome"] == "skipped").unwrap();
    assert!(skipped["data"]["detail"]["reason"].as_str().unwrap().contains("loop"), "{skipped}");
    assert!(runs.len() <= 3, "the chain is short: {outcomes:?}");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(loop_runs().await.len(), runs.len(), "nothing fires after the stop");

    // An event robot: once per event.
    move_to(big.clone(), "proposal").await.expect(200);
    move_to(big.clone(), "won").await.expect(200);
    let find_thanks = || count("activity", json!({ "field": "title", "op": "eq", "value": "Поблагодарить клиента" }));
    assert!(crate::support::eventually(20, async || find_thanks().await.len() == 1).await, "the robot never ran");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(find_thanks().await.len(), 1);
    let runs = count("robot_run", json!({ "field": "robot", "op": "eq", "value": thanks })).await;
    assert_eq!(runs.len(), 1);
}

async fn reports_add_up(app: &TestApp) {
    let (m1, _) = app.user("m1@example.com").await;
    let (m2, _) = app.user("m2@example.com").await;
    let co = with_crm(app, &[("m1@example.com", "member"), ("m2@example.com", "member")]).await;
    let p = create(app, &co, "pipeline", json!({ "name": "Sales", "is_default": true })).await;
    let mut s = std::collections::BTreeMap::new();
    for (pos, code, outcome, prob) in
        [(1, "a", "open", 10), (2, "b", "open", 50), (3, "won", "won", 100), (4, "lost", "lost", 0)]
    {
        let id = create(app, &co, "stage", json!({ "pipeline": p, "code": code, "name": code, "position": pos, "outcome": outcome, "probability": prob })).await;
        s.insert(code, id);
    }
    // Four deals: 100 and 200 stay in a, 300 moves to b, 400 goes to b and is won by m2.
    let mut ids = Vec::new();
    for (amount, who, close) in [
        ("100.00", &m1, "2027-01-10"),
        ("200.00", &m1, "2027-01-20"),
        ("300.00", &m2, "2027-02-05"),
        ("400.00", &m2, "2027-02-06"),
    ] {
        ids.push(
            create(
                app,
                &co,
                "deal",
                json!({ "title": amount, "pipeline": p, "stage": s["a"], "amount": amount,
                                                  "responsible": who, "expected_close": close, "source": "yandex" }),
            )
            .await,
        );
    }
    for (i, code) in [(2, "b"), (3, "b"), (3, "won")] {
        app.post(&cmd(&co, "move-deal"), &app.root, json!({ "id": ids[i], "stage": s[code] })).await.expect(200);
    }
    let f = app.post(&cmd(&co, "report-funnel"), &app.root, json!({})).await;
    let stages = f.expect(200)["stages"].as_array().unwrap().clone();
    let row = |code: &str| stages.iter().find(|r| r["code"] == code).unwrap().clone();
    assert_eq!(row("a")["entered"], 4);
    assert_eq!(row("a")["entered_amount"], "1000.00");
    assert_eq!(row("a")["to_next_stage"], 2);
    assert_eq!(row("a")["conversion_pct"], "50.0");
    assert_eq!(row("b")["entered"], 2);
    assert_eq!(row("b")["conversion_pct"], "50.0");
    assert_eq!(row("won")["entered"], 1);
    assert_eq!(row("won")["share_of_first_pct"], "25.0");
    assert_eq!(row("a")["open_now"], 2);
    assert_eq!(row("a")["open_amount"], "300.00");
    assert_eq!(row("b")["open_amount"], "300.00");

    let m = app.post(&cmd(&co, "report-managers"), &app.root, json!({})).await;
    let managers = m.expect(200)["managers"].as_array().unwrap().clone();
    let of = |u: &str| managers.iter().find(|r| r["responsible"] == u).unwrap().clone();
    assert_eq!(of(&m2)["won"], 1);
    assert_eq!(of(&m2)["won_amount"], "400.00");
    assert_eq!(of(&m2)["open"], 1);
    assert_eq!(of(&m2)["win_rate_pct"], "100.0");
    assert_eq!(of(&m1)["open_amount"], "300.00");

    // Forecast: amount × probability per month of expected close.
    let fc = app.post(&cmd(&co, "report-forecast"), &app.root, json!({ "pipeline": p, "months": 36 })).await;
    let months = fc.expect(200)["months"].as_array().unwrap().clone();
    let month = |m: &str| months.iter().find(|r| r["month"] == m).unwrap().clone();
    assert_eq!(month("2027-01")["deals"], 2);
    assert_eq!(month("2027-01")["weighted"], "30.00", "(100 + 200) × 10%");
    assert_eq!(month("2027-02")["weighted"], "150.00", "300 × 50%; the won deal is not forecast");
    assert_eq!(fc.body["weighted_total"], "180.00");

    let src = app.post(&cmd(&co, "report-sources"), &app.root, json!({})).await;
    assert_eq!(src.expect(200)["won_by_source"][0]["amount"], "400.00");
    // Bad periods are refused.
    app.post(&cmd(&co, "report-managers"), &app.root, json!({ "from": "last week" })).await.expect(422);
}

async fn payments_and_absences_from_other_plugins_reach_the_crm(app: &TestApp) {
    let (m1, _) = app.user("m1@example.com").await;
    let (m2, _) = app.user("m2@example.com").await;
    // Managers are people of the company: a user field takes members only.
    let co = with_crm(app, &[("m1@example.com", "member"), ("m2@example.com", "member")]).await;
    app.install(&package("fake_accounting")).await;
    app.install(&package("fake_hr")).await;
    app.enable(&co, "accounting", json!({})).await.expect(200);
    app.enable(&co, "hr", json!({})).await.expect(200);
    create(app, &co, "manager", json!({ "user_id": m1, "name": "Мария" })).await;
    create(app, &co, "manager", json!({ "user_id": m2, "name": "Олег" })).await;
    let card = app
        .post(&cmd(&co, "create-customer"), &app.root, json!({ "name": "ООО Вектор", "kind": "organization" }))
        .await;
    let customer = card.expect(200)["customer"]["id"].as_str().unwrap().to_string();
    let _bus = app.start_bus();

    let pay = |body: Value| {
        let url = format!("/api/v1/companies/{co}/plugins/accounting/commands/pay");
        async move { app.post(&url, &app.root, body).await }
    };
    pay(json!({ "customer": customer, "amount": "1500.00", "currency": "RUB", "id": "PAY-1", "paid_at": "2026-11-20T10:00:00Z" }))
        .await
        .expect(200);
    // A payment of someone the CRM does not know is ignored, not retried forever.
    pay(json!({ "customer": "0190f4a2-0000-7000-8000-00000000abcd", "amount": "1.00" })).await.expect(200);
    let payments = || {
        let body = json!({ "customer": customer, "kind": "payment" });
        let url = cmd(&co, "timeline");
        async move { app.post(&url, &app.root, body).await.body["entries"].as_array().cloned().unwrap_or_default() }
    };
    assert!(crate::support::eventually(20, async || payments().await.len() == 1).await, "the payment never arrived");
    let entries = payments().await;
    assert_eq!(entries[0]["amount"], "1500.00");
    assert_eq!(entries[0]["at"], "2026-11-20T10:00:00Z");
    assert_eq!(entries[0]["data"]["source"], "accounting");

    // HR says Мария is away: new leads go to Олег.
    let url = format!("/api/v1/companies/{co}/plugins/hr/commands/absence");
    app.post(&url, &app.root, json!({ "user_id": m1, "absent": true })).await.expect(200);
    let away = || {
        let body = json!({ "filter": { "field": "user_id", "op": "eq", "value": m1 } });
        let url = format!("{}/query", data(&co, "manager"));
        async move { app.post(&url, &app.root, body).await.body["items"][0]["data"]["absent"] == json!(true) }
    };
    assert!(crate::support::eventually(20, away).await, "the absence never arrived");
    for n in 0..2 {
        let form = format!(r#"{{"name": "Client {n}", "email": "c{n}@mail.example", "message": "hi"}}"#);
        let (status, answer) = hook(app, &co, "form", "application/json", form).await;
        assert_eq!(status, 200);
        let lead = app.get(&format!("{}/{}", data(&co, "lead"), answer["lead"].as_str().unwrap()), &app.root).await;
        assert_eq!(lead.expect(200)["data"]["responsible"], m2.as_str());
    }
    // Every delivery succeeded: nothing waits, nothing is dead.
    let events = app.get(&format!("/api/v1/companies/{co}/events?name=accounting.*&limit=50"), &app.root).await;
    for e in events.expect(200)["items"].as_array().unwrap() {
        for d in e["deliveries"].as_array().unwrap() {
            assert_eq!(d["state"], "done", "{e}");
        }
    }
    assert_eq!(payments().await.len(), 1, "applied once");
}

async fn customer_history_merge_and_recommendations(app: &TestApp) {
    let co = with_crm(app, &[]).await;
    let run = |name: &'static str, body: Value| {
        let url = cmd(&co, name);
        async move { app.post(&url, &app.root, body).await }
    };
    let person = |last: &'static str, contacts: Value| async move {
        let r = run("create-customer", json!({ "last_name": last, "first_name": "Тест", "contacts": contacts })).await;
        r.expect(200)["customer"]["id"].as_str().unwrap().to_string()
    };
    let a = person("Алексеев", json!([{ "kind": "email", "value": "alexeev@mail.example" }])).await;
    let b = person("Алексеев", json!([{ "kind": "phone", "value": "8 (916) 555-00-11" }, { "kind": "email", "value": "ALEXEEV@mail.example" }])).await;
    let others: Vec<String> = vec![person("Борисов", json!([])).await, person("Власов", json!([])).await];
    // History: views, a visit with geography, purchases, a payment.
    run(
        "track-visit",
        json!({ "customer": b, "url": "https://shop.example/sofas", "country": "Россия", "region": "Татарстан",
        "city": "Казань", "latitude": 55.79, "longitude": 49.12, "source": "yandex",
        "utm": { "utm_source": "yandex", "utm_medium": "cpc", "utm_campaign": "sofa" }, "at": "2026-11-01T09:00:00Z" }),
    )
    .await
    .expect(200);
    run(
        "track-view",
        json!({ "customer": b, "product": "SOFA", "product_name": "Диван", "at": "2026-11-01T09:05:00Z" }),
    )
    .await
    .expect(200);
    run(
        "record-purchase",
        json!({ "customer": b, "order": "SO-1", "at": "2026-11-02T12:00:00Z",
        "lines": [{ "product": "SOFA", "name": "Диван", "quantity": "1", "price": "45900.00" },
                  { "product": "RUG", "name": "Ковёр", "quantity": "2", "price": "4400.50" }] }),
    )
    .await
    .expect(200);
    run(
        "record-payment",
        json!({ "customer": b, "amount": "54701.00", "reference": "PP-7", "at": "2026-11-03T08:00:00Z" }),
    )
    .await
    .expect(200);
    for c in &others {
        run("record-purchase", json!({ "customer": c, "lines": [{ "product": "SOFA", "quantity": "1", "price": "1" },
                                                                 { "product": "LAMP", "quantity": "1", "price": "1" }] }))
            .await
            .expect(200);
    }
    // Bad history input changes nothing.
    let before = app.snapshot().await;
    run("record-purchase", json!({ "customer": b, "lines": [] })).await.expect(422);
    run("record-purchase", json!({ "customer": b, "lines": [{ "product": "X", "quantity": "1", "price": "abc" }] }))
        .await
        .expect(422);
    run("track-visit", json!({ "customer": b, "url": "x", "latitude": 91 })).await.expect(422);
    run("record-payment", json!({ "customer": b, "amount": "-5" })).await.expect(422);
    run("track-view", json!({ "customer": "0190f4a2-0000-7000-8000-00000000abcd", "product": "X" })).await.expect(422);
    assert_eq!(app.snapshot().await, before);

    let card = run("card", json!({ "id": b })).await;
    assert_eq!(card.expect(200)["customer"]["data"]["total_spent"], "54701.00");
    let dups = run("duplicates", json!({ "id": a })).await;
    assert_eq!(dups.expect(200)["duplicates"][0]["id"], b.as_str());
    assert_eq!(dups.body["duplicates"][0]["matched_on"], json!(["email"]));
    let recs = run("recommend", json!({ "customer": b })).await;
    let recs = recs.expect(200)["recommendations"].as_array().unwrap().clone();
    assert_eq!(recs[0]["product"], "LAMP", "two others bought a lamp with the sofa: {recs:?}");
    assert!(recs[0]["reason"].as_str().unwrap().contains("2 customer(s) who bought SOFA also bought LAMP"));

    // Merge the duplicate into the first card: everything comes along.
    let merged = run("merge-customers", json!({ "into": a, "from": b })).await;
    let merged = merged.expect(200).clone();
    assert_eq!(merged["customer"]["data"]["total_spent"], "54701.00");
    assert_eq!(merged["contacts"].as_array().unwrap().len(), 2, "the shared e-mail once, plus the phone");
    app.get(&format!("{}/{b}", data(&co, "customer")), &app.root).await.expect(404);
    let history = run("timeline", json!({ "customer": a })).await;
    let kinds: Vec<String> = history.expect(200)["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(kinds, ["merge", "payment", "purchase", "view", "visit"], "newest first");
    let visit = run("timeline", json!({ "customer": a, "kind": "visit" })).await;
    let visit = visit.expect(200)["entries"][0]["data"].clone();
    assert_eq!((visit["city"].clone(), visit["utm"]["utm_campaign"].clone()), (json!("Казань"), json!("sofa")));
    let recs = run("recommend", json!({ "customer": a })).await;
    assert_eq!(recs.expect(200)["recommendations"][0]["product"], "LAMP", "recommendations follow the merge");
}

async fn activities_are_planned_completed_and_listed_when_overdue(app: &TestApp) {
    let (m1, m1_token) = app.user("m1@example.com").await;
    let co = with_crm(app, &[("m1@example.com", "member")]).await;
    let customer = create(app, &co, "customer", json!({ "name": "ООО Ромашка", "kind": "organization" })).await;
    let late = create(
        app,
        &co,
        "activity",
        json!({ "kind": "call", "title": "Перезвонить", "due_at": "2026-01-10T09:00:00Z",
                                                   "responsible": m1, "customer": customer }),
    )
    .await;
    create(
        app,
        &co,
        "activity",
        json!({ "kind": "meeting", "title": "Встреча", "due_at": "2099-01-10T09:00:00Z", "responsible": m1 }),
    )
    .await;
    // Bad activities are refused field by field.
    let r = app.post(&data(&co, "activity"), &m1_token, json!({ "kind": "lunch", "due_at": "soon" })).await;
    r.expect(422);
    let overdue = app.post(&cmd(&co, "overdue"), &m1_token, json!({})).await;
    let managers = overdue.expect(200)["managers"].as_array().unwrap().clone();
    assert_eq!(managers.len(), 1);
    assert_eq!(managers[0]["responsible"], m1.as_str());
    assert_eq!(managers[0]["activities"][0]["id"], late.as_str());
    app.post(&cmd(&co, "complete-activity"), &m1_token, json!({ "id": late, "note": "Договорились о встрече" }))
        .await
        .expect(200);
    app.post(&cmd(&co, "complete-activity"), &m1_token, json!({ "id": late })).await.expect(409);
    let overdue = app.post(&cmd(&co, "overdue"), &m1_token, json!({})).await;
    assert_eq!(overdue.expect(200)["managers"], json!([]));
    let history = app.post(&cmd(&co, "timeline"), &m1_token, json!({ "customer": customer, "kind": "activity" })).await;
    assert_eq!(history.expect(200)["entries"][0]["data"]["note"], "Договорились о встрече");
}
