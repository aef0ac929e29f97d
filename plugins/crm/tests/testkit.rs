//! The CRM plugin in the SDK test kit: cards, duplicates and merges, the timeline,
//! recommendations, lead assignment, reminders and the own-deals rule in commands.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use erp_sdk::{Error, Value, json, serde_json};
use erp_testkit::{TestKernel, package};

/// The plugin is built once per test binary; each test gets a fresh kernel.
fn kernel() -> TestKernel {
    TestKernel::for_package(package(env!("CARGO_MANIFEST_DIR")).expect("builds")).expect("plugin loads")
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_string()
}

fn person(k: &TestKernel, last: &str, first: &str, contacts: Value) -> String {
    let card =
        k.command("create-customer", json!({ "last_name": last, "first_name": first, "contacts": contacts })).unwrap();
    id(&card["customer"])
}

fn events_named(k: &TestKernel, name: &str) -> Vec<Value> {
    k.events().unwrap().into_iter().filter(|(n, _)| n == name).map(|(_, p)| p).collect()
}

#[test]
fn duplicates_are_found_by_email_or_phone_and_merge_keeps_all_history() {
    let k = kernel();
    let a = person(&k, "Иванов", "Иван", json!([{ "kind": "phone", "value": "+7 (999) 123-45-67" }]));
    let b = person(
        &k,
        "Иванов",
        "И.",
        json!([{ "kind": "phone", "value": "8 999 123 45 67" }, { "kind": "email", "value": "ivan@example.ru" }]),
    );
    let c = person(&k, "Петров", "Пётр", json!([{ "kind": "email", "value": "IVAN@example.ru" }]));
    let other = person(&k, "Сидоров", "Семён", json!([{ "kind": "phone", "value": "+7 900 000 00 00" }]));
    let found = k.command("duplicates", json!({ "id": b })).unwrap();
    let mut ids: Vec<String> = found["duplicates"].as_array().unwrap().iter().map(id).collect();
    ids.sort();
    let mut expected = vec![a.clone(), c.clone()];
    expected.sort();
    assert_eq!(ids, expected, "same phone in another spelling, same e-mail in another case; not {other}");

    // History on the duplicate.
    k.command(
        "record-purchase",
        json!({ "customer": b, "lines": [{ "product": "P1", "quantity": "2", "price": "100.50" }] }),
    )
    .unwrap();
    k.command(
        "record-purchase",
        json!({ "customer": a, "lines": [{ "product": "P2", "quantity": "1", "price": "10" }] }),
    )
    .unwrap();
    k.command("track-view", json!({ "customer": b, "product": "P3" })).unwrap();
    let merged = k.command("merge-customers", json!({ "into": a, "from": b })).unwrap();
    assert_eq!(merged["customer"]["data"]["total_spent"], "211.00");
    // One phone (the same number twice becomes one contact), plus the e-mail.
    let kinds: Vec<&str> =
        merged["contacts"].as_array().unwrap().iter().map(|c| c["data"]["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds.len(), 2, "{kinds:?}");
    assert!(matches!(k.get("customer", &b), Err(Error::NotFound(_))));
    let history = k.command("timeline", json!({ "customer": a })).unwrap();
    let entries = history["entries"].as_array().unwrap();
    let kinds: Vec<&str> = entries.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "purchase").count(), 2, "{kinds:?}");
    assert!(kinds.contains(&"view") && kinds.contains(&"merge"), "{kinds:?}");
    assert_eq!(events_named(&k, "crm.customer.merged").len(), 1);
    // Merging a card into itself is refused.
    assert!(matches!(k.command("merge-customers", json!({ "into": a, "from": a })), Err(Error::Invalid(_))));
}

#[test]
fn the_timeline_is_newest_first_and_filters_by_kind() {
    let k = kernel();
    let c = person(&k, "Орлова", "Анна", json!([]));
    k.command(
        "track-visit",
        json!({ "customer": c, "url": "https://shop.example/", "city": "Казань", "country": "Россия",
        "latitude": 55.79, "longitude": 49.1, "utm": { "utm_source": "yandex", "utm_campaign": "autumn" },
        "at": "2026-10-01T10:00:00Z" }),
    )
    .unwrap();
    k.command(
        "track-view",
        json!({ "customer": c, "product": "SOFA", "product_name": "Диван", "at": "2026-10-02T10:00:00+03:00" }),
    )
    .unwrap();
    k.command("record-payment", json!({ "customer": c, "amount": "500.00", "at": "2026-10-03T10:00:00Z" })).unwrap();
    let all = k.command("timeline", json!({ "customer": c })).unwrap();
    let at: Vec<&str> = all["entries"].as_array().unwrap().iter().map(|e| e["at"].as_str().unwrap()).collect();
    assert_eq!(at, ["2026-10-03T10:00:00Z", "2026-10-02T07:00:00Z", "2026-10-01T10:00:00Z"]);
    let visits = k.command("timeline", json!({ "customer": c, "kind": "visit" })).unwrap();
    let visits = visits["entries"].as_array().unwrap();
    assert_eq!(visits.len(), 1);
    assert_eq!(visits[0]["data"]["city"], "Казань");
    assert_eq!(visits[0]["data"]["utm"]["utm_source"], "yandex");
    // Pages.
    let first = k.command("timeline", json!({ "customer": c, "limit": 2 })).unwrap();
    let next = k.command("timeline", json!({ "customer": c, "limit": 2, "cursor": first["next_cursor"] })).unwrap();
    assert_eq!(next["entries"][0]["kind"], "visit");
    // Bad input.
    for bad in [
        json!({ "customer": c, "url": "x", "latitude": 123.0 }),
        json!({ "customer": c, "url": "x", "utm": { "source": "y" } }),
        json!({ "customer": c, "url": "x", "weather": "rain" }),
        json!({ "customer": c, "url": "x", "at": "yesterday" }),
    ] {
        assert!(matches!(k.command("track-visit", bad.clone()), Err(Error::Invalid(_))), "{bad}");
    }
    let bad_lines = json!({ "customer": c, "lines": [{ "product": "", "quantity": "0", "price": "-1" }] });
    let Err(Error::Invalid(fields)) = k.command("record-purchase", bad_lines) else { panic!("should be invalid") };
    assert_eq!(fields.len(), 3, "{fields:?}");
}

#[test]
fn recommendations_come_from_what_similar_customers_bought() {
    let k = kernel();
    let buy = |c: &str, products: &[&str]| {
        let lines: Vec<Value> =
            products.iter().map(|p| json!({ "product": p, "quantity": "1", "price": "10" })).collect();
        k.command("record-purchase", json!({ "customer": c, "lines": lines })).unwrap();
    };
    // Three customers bought a desk with a chair; two of them a lamp too; one a rug.
    let c1 = person(&k, "A", "A", json!([]));
    let c2 = person(&k, "B", "B", json!([]));
    let c3 = person(&k, "C", "C", json!([]));
    let me = person(&k, "D", "D", json!([]));
    buy(&c1, &["DESK", "CHAIR", "LAMP"]);
    buy(&c2, &["DESK", "CHAIR"]);
    buy(&c2, &["LAMP"]);
    buy(&c3, &["DESK", "CHAIR", "RUG"]);
    // I bought a desk and looked at a chair.
    buy(&me, &["DESK"]);
    k.command("track-view", json!({ "customer": me, "product": "CHAIR" })).unwrap();
    let r = k.command("recommend", json!({ "customer": me })).unwrap();
    let recs = r["recommendations"].as_array().unwrap();
    let order: Vec<&str> = recs.iter().map(|x| x["product"].as_str().unwrap()).collect();
    // Scores (weight 2 for bought, 1 for viewed; pair score together + 2 × bought together):
    // CHAIR via DESK: 2 × (4 + 2×3) = 20; LAMP: 2×(2+4) + 1×(2+4) = 18; RUG: 2×(1+2) + 1×(1+2) = 9.
    assert_eq!(order, ["CHAIR", "LAMP", "RUG"], "{r}");
    assert_eq!(recs[0]["score"], 20);
    assert_eq!(recs[1]["score"], 18);
    assert_eq!(recs[2]["score"], 9);
    assert!(recs[1]["reason"].as_str().unwrap().contains("bought DESK also bought LAMP"), "{}", recs[1]["reason"]);
    // What I already bought is never offered.
    buy(&me, &["CHAIR"]);
    let r = k.command("recommend", json!({ "customer": me })).unwrap();
    let order: Vec<&str> =
        r["recommendations"].as_array().unwrap().iter().map(|x| x["product"].as_str().unwrap()).collect();
    assert!(!order.contains(&"CHAIR") && !order.contains(&"DESK"), "{order:?}");
}

#[test]
fn new_leads_go_to_the_least_loaded_present_manager() {
    let k = kernel();
    k.enable("crm", vec![], json!({ "assignment": "least_loaded" })).unwrap();
    k.create("manager", json!({ "user_id": "u-1", "name": "Мария" })).unwrap();
    k.create("manager", json!({ "user_id": "u-2", "name": "Олег" })).unwrap();
    k.create("manager", json!({ "user_id": "u-3", "name": "Ирина", "absent": true })).unwrap();
    // Мария already has two open leads.
    for n in 0..2 {
        k.create("lead", json!({ "title": format!("Old {n}"), "channel": "other", "responsible": "u-1" })).unwrap();
    }
    let mut owners = Vec::new();
    for n in 0..3 {
        let form = format!(r#"{{"name": "Client {n}", "email": "client{n}@mail.example", "message": "hi"}}"#);
        let (status, _, body) = k.webhook("form", "application/json", form.as_bytes()).unwrap();
        assert_eq!(status, 200);
        let answer: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(answer["new_lead"], true);
        let lead = k.get("lead", answer["lead"].as_str().unwrap()).unwrap();
        owners.push(lead["data"]["responsible"].as_str().unwrap().to_string());
    }
    // Олег catches up first; at a tie, who waited longer; Ирина is away.
    assert_eq!(owners, ["u-2", "u-2", "u-1"]);
}

#[test]
fn round_robin_takes_turns() {
    let k = kernel();
    for (user, name) in [("u-1", "Мария"), ("u-2", "Олег")] {
        k.create("manager", json!({ "user_id": user, "name": name })).unwrap();
    }
    k.create("manager", json!({ "user_id": "u-9", "name": "Уволен", "active": false })).unwrap();
    let mut owners = Vec::new();
    for n in 0..4 {
        let msg = format!(r#"{{"channel": "vk", "sender_id": "id{n}", "text": "Здравствуйте", "message_id": "m{n}"}}"#);
        let (_, _, body) = k.webhook("message", "application/json", msg.as_bytes()).unwrap();
        let answer: Value = serde_json::from_slice(&body).unwrap();
        owners.push(k.get("lead", answer["lead"].as_str().unwrap()).unwrap()["data"]["responsible"].clone());
    }
    assert_eq!(owners[0], owners[2]);
    assert_eq!(owners[1], owners[3]);
    assert_ne!(owners[0], owners[1]);
    assert!(!owners.contains(&json!("u-9")));
}

#[test]
fn reminders_fire_once_and_overdue_work_is_listed_per_manager() {
    let k = kernel();
    let c = person(&k, "Лебедев", "Олег", json!([]));
    let past = json!({ "kind": "call", "title": "Перезвонить", "due_at": "2020-01-01T09:00:00Z", "responsible": "u-1", "customer": c });
    let later =
        json!({ "kind": "task", "title": "Отправить счёт", "due_at": "2099-01-01T09:00:00Z", "responsible": "u-1" });
    let a = id(&k.create("activity", past).unwrap());
    k.create("activity", later).unwrap();
    k.schedule("reminders").unwrap();
    k.schedule("reminders").unwrap();
    let due = events_named(&k, "crm.activity.due");
    assert_eq!(due.len(), 1, "announced once: {due:?}");
    assert_eq!(due[0]["id"], a.as_str());
    // A responsible manager who is a member is told, once, with a link to the activity.
    let mine = json!({ "kind": "call", "title": "Позвонить Лебедеву", "due_at": "2020-01-02T09:00:00Z", "responsible": k.owner_id() });
    let mine = id(&k.create("activity", mine).unwrap());
    k.schedule("reminders").unwrap();
    k.schedule("reminders").unwrap();
    let told = k.notifications(k.owner_id()).unwrap();
    assert_eq!(told.len(), 1, "told once: {told:?}");
    assert_eq!(told[0]["kind"], "crm.activity_due");
    assert_eq!(told[0]["title"], "Due now: Позвонить Лебедеву");
    assert_eq!(told[0]["importance"], "high");
    assert_eq!(told[0]["link"]["record"], mine.as_str());
    assert_eq!(told[0]["link"]["collection"], "activity");
    k.command("complete-activity", json!({ "id": mine })).unwrap();
    let overdue = k.command("overdue", json!({})).unwrap();
    assert_eq!(overdue["managers"][0]["responsible"], "u-1");
    assert_eq!(overdue["managers"][0]["count"], 1);
    k.command("complete-activity", json!({ "id": a, "note": "Договорились" })).unwrap();
    assert_eq!(k.command("overdue", json!({})).unwrap()["managers"], json!([]));
    let history = k.command("timeline", json!({ "customer": c, "kind": "activity" })).unwrap();
    assert_eq!(history["entries"][0]["title"], "Done: Перезвонить");
    assert!(matches!(k.command("complete-activity", json!({ "id": a })), Err(Error::Conflict(_))));
}

#[test]
fn commands_apply_the_own_deals_rule_and_hide_personal_data() {
    let k = kernel();
    let p = id(&k.create("pipeline", json!({ "name": "Sales" })).unwrap());
    let s1 = id(&k.create("stage", json!({ "pipeline": p, "code": "a", "name": "A", "position": 1 })).unwrap());
    let s2 = id(&k.create("stage", json!({ "pipeline": p, "code": "b", "name": "B", "position": 2 })).unwrap());
    let c = person(&k, "Зайцева", "Ольга", json!([{ "kind": "phone", "value": "+7 916 111 22 33" }]));
    let mine = k
        .create("deal", json!({ "title": "Mine", "customer": c, "pipeline": p, "stage": s1, "responsible": "u-1" }))
        .unwrap();
    let theirs = k
        .create("deal", json!({ "title": "Theirs", "customer": c, "pipeline": p, "stage": s1, "responsible": "u-2" }))
        .unwrap();
    let rep = ["crm.deal.read", "crm.deal.write", "crm.customer.read"];
    let moved = k.command_as_user("u-1", &rep, "move-deal", json!({ "id": id(&mine), "stage": s2 })).unwrap();
    assert_eq!(moved["data"]["stage"], s2.as_str());
    let refused = k.command_as_user("u-1", &rep, "move-deal", json!({ "id": id(&theirs), "stage": s2 }));
    assert!(matches!(refused, Err(Error::NotFound(_))), "{refused:?}");
    let card = k.command_as_user("u-1", &rep, "card", json!({ "id": c })).unwrap();
    let titles: Vec<&str> =
        card["open_deals"].as_array().unwrap().iter().map(|d| d["data"]["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["Mine"]);
    let text = card.to_string();
    assert!(!text.contains("111 22 33") && !text.contains("9161112233"), "no phone without crm.customer.pii: {card}");
    let full = k
        .command_as_user(
            "u-3",
            &["crm.customer.read", "crm.customer.pii", "crm.deal.read", "crm.deal.all"],
            "card",
            json!({ "id": c }),
        )
        .unwrap();
    assert_eq!(full["open_deals"].as_array().unwrap().len(), 2);
    assert!(full.to_string().contains("+7 916 111 22 33"));
    // Stage codes are unique within a pipeline; probabilities are percentages.
    assert!(k.create("stage", json!({ "pipeline": p, "code": "a", "name": "Again", "position": 3 })).is_err());
    assert!(
        k.create("stage", json!({ "pipeline": p, "code": "c", "name": "C", "position": 3, "probability": 150 }))
            .is_err()
    );
}

#[test]
fn a_stale_deal_robot_fires_once_per_stay() {
    let k = kernel();
    let p = id(&k.create("pipeline", json!({ "name": "Sales" })).unwrap());
    let s1 = id(&k.create("stage", json!({ "pipeline": p, "code": "a", "name": "A", "position": 1 })).unwrap());
    let robot = json!({ "name": "Nudge", "trigger": "stale_in_stage", "stage": s1, "days": 3,
                        "actions": [{ "type": "create_activity", "title": "Напомнить о сделке", "kind": "call" }] });
    // Days are checked when the rule is saved.
    let mut no_days = robot.clone();
    no_days["days"] = json!(0);
    assert!(matches!(k.create("robot", no_days), Err(Error::Invalid(_))));
    k.create("robot", robot).unwrap();
    let deal = |title: &str, since: &str| json!({ "title": title, "pipeline": p, "stage": s1, "responsible": "u-1", "stage_since": since });
    let old = id(&k.create("deal", deal("Old", "2020-01-01T00:00:00Z")).unwrap());
    k.create("deal", deal("Fresh", "2099-01-01T00:00:00Z")).unwrap();
    // The stay in the stage is what counts (the deal's own stage_since is informational):
    // pretend the old deal entered its stage years ago.
    let stay = k.query("deal_stage", json!({ "filter": { "field": "deal", "op": "eq", "value": old } })).unwrap();
    k.update("deal_stage", &id(&stay[0]), json!({ "entered_at": "2020-01-01T00:00:00Z" })).unwrap();
    k.schedule("robots").unwrap();
    k.schedule("robots").unwrap();
    let nudges = k
        .query("activity", json!({ "filter": { "field": "title", "op": "eq", "value": "Напомнить о сделке" } }))
        .unwrap();
    assert_eq!(nudges.len(), 1, "{nudges:?}");
    assert_eq!(nudges[0]["data"]["deal"], old.as_str());
    assert_eq!(nudges[0]["data"]["responsible"], "u-1");
    let runs = k.query("robot_run", json!({})).unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["data"]["outcome"], "done");
}

fn member(id: &str, name: &str, role: &str) -> erp_sdk::DemoPerson {
    erp_sdk::DemoPerson { user_id: id.into(), name: name.into(), email: format!("{id}@example.com"), role: role.into() }
}

#[test]
fn the_demo_fills_a_sales_department_in_steps() {
    let k = kernel();
    let people = [
        member("owner", "Demo Owner", "owner"),
        member("anna", "Anna Petrova", "member"),
        member("auditor", "Ivan Sokolov", "supervisor"),
    ];
    let steps = k.demo(&people, "2026-12-05").unwrap();
    assert!(steps > 10, "a demo this size is split into steps, took {steps}");
    let all = |collection: &str| k.query(collection, json!({ "limit": 500 })).unwrap();
    // Members who sell become managers; a custom role that only looks on does not.
    let mut managers: Vec<String> =
        all("manager").iter().map(|m| m["data"]["name"].as_str().unwrap().to_string()).collect();
    managers.sort();
    assert_eq!(managers, ["Anna Petrova", "Demo Owner"]);
    let customers = all("customer");
    assert_eq!(customers.len(), 240);
    assert!(customers.iter().all(|c| ["owner", "anna"].contains(&c["data"]["responsible"].as_str().unwrap())));
    let spent = |c: &Value| c["data"]["total_spent"].as_str().and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
    assert!(customers.iter().filter(|c| spent(c) > 0.0).count() > 100, "most customers bought something");
    assert_eq!(all("pipeline").len(), 2);
    let deals = all("deal");
    assert_eq!(deals.len(), 48);
    for status in ["open", "won", "lost"] {
        assert!(deals.iter().any(|d| d["data"]["status"] == status), "a deal is {status}");
    }
    // The inbox received one lead per channel through the webhooks.
    let mut channels: Vec<String> =
        all("lead").iter().map(|l| l["data"]["channel"].as_str().unwrap_or_default().to_string()).collect();
    channels.sort();
    assert_eq!(channels, ["email", "form", "telegram"]);
    assert_eq!(all("robot").len(), 3);
    assert!(all("activity").len() >= 12);

    // A company without anyone to sell gets a clear error, not half a demo.
    let empty = kernel();
    match empty.demo(&[member("auditor", "Ivan Sokolov", "supervisor")], "2026-12-05") {
        Err(Error::Invalid(fields)) => assert_eq!(fields[0].field, "people"),
        other => panic!("expected an invalid people list, got {other:?}"),
    }
    assert!(empty.query("manager", json!({})).unwrap().is_empty());
}
