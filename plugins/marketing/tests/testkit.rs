//! The marketing plugin in the SDK test kit, beside the CRM it depends on: a segment over
//! purchase history on a hand-built data set, mailings that never reach the unsubscribed and
//! carry only each recipient's own data, spend imported from an ad platform's CSV,
//! attribution of leads and won deals, and ROI on a hand-computed example. That enabling it
//! without the CRM is refused is tested over HTTP (`tests/e2e/marketing.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use erp_sdk::{Error, Value, json};
use erp_testkit::{TestKernel, package};

fn built(dir: &str) -> &'static [u8] {
    let path = if dir == "crm" {
        format!("{}/../crm", env!("CARGO_MANIFEST_DIR"))
    } else {
        env!("CARGO_MANIFEST_DIR").to_string()
    };
    package(path).expect("builds")
}

const GRANTS: [&str; 6] = ["crm.customer", "crm.contact", "crm.address", "crm.timeline", "crm.lead", "crm.deal"];

fn kernel() -> TestKernel {
    let k = TestKernel::for_package_with(built("marketing"), &[built("crm")]).expect("plugin loads");
    k.enable("marketing", GRANTS.iter().map(|g| g.to_string()).collect(), json!({ "gross_margin": "30" })).unwrap();
    k
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_string()
}

/// A CRM customer with an e-mail, a city, a running total and a last purchase.
fn customer(k: &TestKernel, name: &str, email: Option<&str>, city: &str, spent: &str, last: Option<&str>) -> String {
    let mut body =
        json!({ "name": name, "total_spent": spent, "tags": if spent == "0" { json!([]) } else { json!(["buyer"]) } });
    if let Some(l) = last {
        body["last_purchase_at"] = json!(format!("{l}T12:00:00Z"));
    }
    let c = id(&k.create("crm.customer", body).unwrap());
    if let Some(e) = email {
        k.create("crm.contact", json!({ "customer": c, "kind": "email", "value": e })).unwrap();
    }
    k.create("crm.address", json!({ "customer": c, "kind": "delivery", "city": city, "line": "ул. Ленина, 1" }))
        .unwrap();
    c
}

fn purchase(k: &TestKernel, customer: &str, at: &str, skus: &[&str]) {
    let lines: Vec<Value> = skus.iter().map(|s| json!({ "product": s, "quantity": "1", "price": "100" })).collect();
    k.create(
        "crm.timeline",
        json!({ "customer": customer, "kind": "purchase", "at": format!("{at}T10:00:00Z"), "title": "Покупка",
                "amount": "100", "data": { "lines": lines } }),
    )
    .unwrap();
}

/// Five customers: who bought what, where, for how much.
fn shop(k: &TestKernel) -> [String; 5] {
    let a = customer(k, "Анна", Some("anna@mail.example"), "Москва", "52000", Some("2026-10-01"));
    let b = customer(k, "Борис", Some("boris@mail.example"), "Казань", "8000", Some("2026-03-15"));
    let c = customer(k, "Вера", Some("vera@mail.example"), "Москва", "15000", Some("2025-12-20"));
    let d = customer(k, "Глеб", None, "Москва", "30000", Some("2026-09-09"));
    let e = customer(k, "Дина", Some("dina@mail.example"), "Самара", "0", None);
    purchase(k, &a, "2026-10-01", &["SOFA-1", "LAMP-2"]);
    purchase(k, &b, "2026-03-15", &["SOFA-1"]);
    purchase(k, &c, "2025-12-20", &["CHAIR-3"]);
    purchase(k, &d, "2026-09-09", &["SOFA-1"]);
    [a, b, c, d, e]
}

fn names(k: &TestKernel, rule: Value) -> Vec<String> {
    let r = k.command("preview-segment", json!({ "rule": rule })).unwrap();
    let mut n: Vec<String> =
        r["sample"].as_array().unwrap().iter().map(|x| x["name"].as_str().unwrap().to_string()).collect();
    n.sort();
    assert_eq!(r["count"].as_u64().unwrap() as usize, n.len());
    n
}

#[test]
fn segments_select_by_purchase_history_fields_and_geography() {
    let k = kernel();
    shop(&k);
    // Bought a sofa this year in Moscow: Анна, Глеб (Борис is in Kazan, Вера bought a chair last year).
    let rule = json!({ "all": [ { "bought": { "product": "SOFA-1", "since": "2026-01-01" } }, { "city": "москва" } ] });
    assert_eq!(names(&k, rule), ["Анна", "Глеб"]);
    assert_eq!(names(&k, json!({ "total_spent": { "gte": "15000", "lte": "40000" } })), ["Вера", "Глеб"]);
    assert_eq!(names(&k, json!({ "last_purchase": { "before": "2026-06-30" } })), ["Борис", "Вера"]);
    assert_eq!(names(&k, json!({ "not": { "tag": "buyer" } })), ["Дина"]);
    assert_eq!(
        names(&k, json!({ "any": [ { "bought": "CHAIR-3" }, { "field": "name", "op": "eq", "value": "Дина" } ] })),
        ["Вера", "Дина"]
    );
    // A city is personal data: selecting by it needs the permission to see it.
    let by_city = json!({ "rule": { "city": "москва" } });
    let plain = k.command_as(&["marketing.read"], "preview-segment", by_city.clone());
    assert!(matches!(plain, Err(Error::AccessDenied(_))), "{plain:?}");
    k.command_as(&["marketing.read", "crm.customer.pii"], "preview-segment", by_city).unwrap();
    // A broken rule names where it breaks.
    let e = k
        .command("preview-segment", json!({ "rule": { "all": [ { "tag": "x" }, { "colour": "red" } ] } }))
        .unwrap_err();
    assert!(matches!(&e, Error::Invalid(f) if f[0].field == "rule.all.1"), "{e:?}");
    assert!(k.create("segment", json!({ "name": "bad", "rule": { "total_spent": { "gte": "lots" } } })).is_err());
}

#[test]
fn segments_made_of_condition_lines_select_like_rules() {
    let k = kernel();
    shop(&k);
    let preview = |data: Value| {
        let seg = id(&k.create("segment", data).unwrap());
        let r = k
            .command_as(&["marketing.read", "crm.customer.pii"], "preview-segment", json!({ "segment": seg }))
            .unwrap();
        let mut n: Vec<String> =
            r["sample"].as_array().unwrap().iter().map(|x| x["name"].as_str().unwrap().to_string()).collect();
        n.sort();
        n
    };
    // As a form sends them: decimals and dates as text, a city typed in any case.
    let moscow_sofa = json!({ "name": "Диван в Москве", "conditions": [
        { "what": "bought", "value": "SOFA-1", "after": "2026-01-01" }, { "what": "city", "value": "МОСКВА" } ] });
    assert_eq!(preview(moscow_sofa), ["Анна", "Глеб"]);
    let middle =
        json!({ "name": "Средние", "conditions": [{ "what": "total_spent", "min": "15000", "max": "40000" }] });
    assert_eq!(preview(middle), ["Вера", "Глеб"]);
    let either = json!({ "name": "Стул или Дина", "match": "any", "conditions": [
        { "what": "bought", "value": "CHAIR-3" }, { "what": "name", "value": "дина" } ] });
    assert_eq!(preview(either), ["Вера", "Дина"]);
    let never = json!({ "name": "Без покупок", "conditions": [{ "what": "tag", "value": "buyer", "negate": true }] });
    assert_eq!(preview(never), ["Дина"]);
    // A line without what its condition needs names the line and the column; nothing is saved.
    let e =
        k.create("segment", json!({ "name": "Пустой", "conditions": [{ "what": "tag" }, { "what": "total_spent" }] }));
    assert!(matches!(&e, Err(Error::Invalid(f)) if f[0].field == "conditions[0].value"), "{e:?}");
    let e = k.create(
        "segment",
        json!({ "name": "Наоборот", "conditions": [{ "what": "total_spent", "min": "9", "max": "1" }] }),
    );
    assert!(matches!(&e, Err(Error::Invalid(f)) if f[0].field == "conditions[0].max"), "{e:?}");
    assert!(k.create("segment", json!({ "name": "Ничего" })).is_err(), "a segment needs conditions or a rule");
}

#[test]
fn mailings_skip_the_unsubscribed_and_carry_only_the_recipients_data() {
    let k = kernel();
    let [a, b, c, d, e] = shop(&k);
    let seg = id(&k
        .create("segment", json!({ "name": "Все", "rule": { "not": { "field": "name", "op": "eq", "value": "-" } } }))
        .unwrap());
    k.command("unsubscribe", json!({ "customer": b, "reason": "не интересно" })).unwrap();
    let snap = k.command("snapshot-segment", json!({ "segment": seg })).unwrap();
    assert_eq!(snap["count"], 5);
    // Vera unsubscribes after the snapshot was taken: still not queued.
    k.command("unsubscribe", json!({ "customer": c, "channel": "email" })).unwrap();
    let m = id(&k
        .create(
            "mailing",
            json!({ "name": "Осенняя распродажа", "subject": "{{ customer.name }}, скидка для вас",
            "body": "<p>Здравствуйте, {{ customer.name }}! Вы купили у нас на {{ customer.total_spent }} ₽.</p>" }),
        )
        .unwrap());
    let q = k.command("queue-mailing", json!({ "mailing": m, "snapshot": id(&snap) })).unwrap();
    assert_eq!(
        (q["queued"].as_u64(), q["skipped_unsubscribed"].as_u64(), q["skipped_no_address"].as_u64()),
        (Some(2), Some(2), Some(1))
    );
    let messages = k.query("message", json!({})).unwrap();
    let to: Vec<&str> = messages.iter().map(|m| m["data"]["customer"].as_str().unwrap()).collect();
    assert!(
        to.contains(&a.as_str())
            && to.contains(&e.as_str())
            && !to.contains(&b.as_str())
            && !to.contains(&c.as_str())
            && !to.contains(&d.as_str())
    );
    for msg in &messages {
        let body = msg["data"]["body"].as_str().unwrap();
        let mine = msg["data"]["customer"] == json!(a);
        assert_eq!(body.contains("Анна"), mine, "{body}");
        assert_eq!(body.contains("Дина"), !mine, "{body}");
        assert!(!body.contains("Борис") && !body.contains("Вера") && !body.contains("@"), "{body}");
    }
    assert!(k.command("queue-mailing", json!({ "mailing": m, "snapshot": id(&snap) })).is_err(), "queued twice");
    k.update("mailing", &m, json!({ "state": "draft" })).unwrap();
    assert!(
        k.command("queue-mailing", json!({ "mailing": m, "snapshot": id(&snap) })).is_err(),
        "queued twice after a reset"
    );
    // Delivery connectors move statuses forward only; an unsubscribe link records the customer.
    let first = id(&messages[0]);
    k.command("message-status", json!({ "id": first, "status": "sent" })).unwrap();
    k.command("message-status", json!({ "id": first, "status": "opened" })).unwrap();
    assert!(k.command("message-status", json!({ "id": first, "status": "queued" })).is_err());
    let (status, _, body) =
        k.webhook("delivery", "application/json", format!(r#"{{"unsubscribe": "{first}"}}"#).as_bytes()).unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let unsub = k.query("unsubscribe", json!({ "limit": 50 })).unwrap();
    assert_eq!(unsub.len(), 3);
    let bad = k.webhook("delivery", "application/json", b"{\"message\": 1}");
    assert!(bad.as_ref().map_or(true, |(status, _, _)| *status >= 400), "{bad:?}");
    // A template that does not compile is refused with where it breaks.
    assert!(k.create("mailing", json!({ "name": "x", "body": "Hi {{ customer.name " })).is_err());
}

#[test]
fn spend_imports_from_an_ad_platform_csv_and_bad_files_change_nothing() {
    let k = kernel();
    let c = id(&k
        .create("campaign", json!({ "name": "Кухни — Директ", "channel": "search_ads", "utm_source": "yandex", "utm_campaign": "kitchens_nov" }))
        .unwrap());
    let csv = "\u{feff}Дата;Кампания;Показы;Клики;Ср. цена клика (руб.);Расход (руб.)\n\
               01.11.2026;kitchens_nov;12 000;340;11,76;4 000,00\n\
               02.11.2026;Кухни — Директ;15 500;410;14,63;6 000,00\n\
               Итого;;27 500;750;;10 000,00\n";
    let r = k.command("import-spend", json!({ "csv": csv })).unwrap();
    assert_eq!((r["rows"].as_u64(), r["total"].as_str()), (Some(2), Some("10000.00")));
    let spend = k.query("spend", json!({})).unwrap();
    assert_eq!(spend.len(), 2);
    assert!(spend.iter().all(|s| s["data"]["campaign"] == json!(c) && s["data"]["channel"] == "search_ads"));
    // The same export again replaces those days instead of adding to them.
    let again = k.command("import-spend", json!({ "csv": csv })).unwrap();
    assert_eq!(again["days_replaced"], 2);
    assert_eq!(k.query("spend", json!({})).unwrap().len(), 2);
    // One bad row refuses the whole file.
    let bad = "Date,Campaign,Cost\n2026-11-03,kitchens_nov,100\n2026-11-04,unknown,50\nyesterday,kitchens_nov,10\n";
    match k.command("import-spend", json!({ "csv": bad })).unwrap_err() {
        Error::Invalid(f) => {
            assert_eq!(f.iter().map(|x| x.field.as_str()).collect::<Vec<_>>(), ["csv.line.3", "csv.line.4"])
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(k.query("spend", json!({})).unwrap().len(), 2);
    assert!(k.command("import-spend", json!({ "csv": "a,b\n1,2\n" })).is_err());
}

#[test]
fn leads_and_won_deals_are_attributed_and_roi_is_exact() {
    let k = kernel();
    let direct = id(&k
        .create(
            "campaign",
            json!({ "name": "Директ", "channel": "search_ads", "utm_campaign": "kitchens", "budget": "20000" }),
        )
        .unwrap());
    let vk =
        id(&k.create("campaign", json!({ "name": "ВКонтакте", "channel": "social", "lead_source": "vk" })).unwrap());
    for (day, amount) in [("2026-11-01", "4000"), ("2026-11-02", "6000")] {
        k.create("spend", json!({ "campaign": direct, "date": day, "amount": amount })).unwrap();
    }
    k.create("spend", json!({ "campaign": vk, "date": "2026-11-01", "amount": "5000" })).unwrap();
    assert!(
        k.create("spend", json!({ "campaign": vk, "date": "2026-11-01", "amount": "1" })).is_err(),
        "one entry per day"
    );
    let lead = |ev: &str, lead: &str, customer: &str, after: Value| {
        let mut after = after;
        after["customer"] = json!(customer);
        k.handle("lead-created", ev, "crm.lead.created", json!({ "id": lead, "after": after })).unwrap();
    };
    // Four leads from Директ (by utm_campaign), one from VK (by source), one from nowhere known.
    for n in 0..4 {
        lead(
            &format!("e{n}"),
            &format!("l{n}"),
            &format!("c{n}"),
            json!({ "utm": { "utm_source": "yandex", "utm_campaign": "kitchens" } }),
        );
    }
    lead("e4", "l4", "c0", json!({ "source": "vk" }));
    lead("e4", "l4", "c0", json!({ "source": "vk" })); // delivered again
    lead("e5", "l5", "c9", json!({ "source": "billboard" }));
    assert_eq!(k.query("touch", json!({})).unwrap().len(), 5);
    // c0 came first from Директ, then from VK; its deal of 50,000 is won.
    let won = json!({ "id": "d1", "customer": "c0", "amount": "50000.00", "currency": "RUB", "closed_at": "2099-01-01T00:00:00Z" });
    k.handle("deal-won", "e6", "crm.deal.won", won.clone()).unwrap();
    k.handle("deal-won", "e6", "crm.deal.won", won).unwrap();
    k.handle(
        "deal-won",
        "e7",
        "crm.deal.won",
        json!({ "id": "d2", "customer": "c9", "amount": "700", "closed_at": "2099-01-02T00:00:00Z" }),
    )
    .unwrap();
    let first = k.command("report", json!({ "model": "first" })).unwrap();
    let row =
        |r: &Value, name: &str| r["campaigns"].as_array().unwrap().iter().find(|c| c["name"] == name).unwrap().clone();
    let d = row(&first, "Директ");
    // Spend 10,000; 4 leads -> 2,500 each; revenue 50,000: ROMI (50000-10000)/10000 = 400 %;
    // ROI with a 30 % margin (15000-10000)/10000 = 50 %.
    assert_eq!(
        (d["spend"].as_str(), d["leads"].as_u64(), d["cost_per_lead"].as_str()),
        (Some("10000"), Some(4), Some("2500"))
    );
    assert_eq!((d["deals_won"].as_u64(), d["revenue"].as_str()), (Some(1), Some("50000")));
    assert_eq!((d["romi_percent"].as_str(), d["roi_percent"].as_str()), (Some("400"), Some("50")));
    let v = row(&first, "ВКонтакте");
    assert_eq!(
        (v["leads"].as_u64(), v["deals_won"].as_u64(), v["romi_percent"].as_str()),
        (Some(1), Some(0), Some("-100"))
    );
    assert_eq!(first["unattributed"]["revenue"], "700");
    // Last touch credits VK instead: (50000-5000)/5000 = 900 %.
    let last = k.command("report", json!({ "model": "last" })).unwrap();
    assert_eq!(row(&last, "ВКонтакте")["romi_percent"], "900");
    assert_eq!(row(&last, "Директ")["deals_won"], 0);
    let channels = last["channels"].as_array().unwrap();
    assert!(channels.iter().any(|c| c["channel"] == "social" && c["revenue"] == "50000"));
    assert_eq!(last["total"]["spend"], "15000");
    // A period picks spend by its day.
    let one_day = k.command("report", json!({ "from": "2026-11-02", "to": "2026-11-02" })).unwrap();
    assert_eq!(row(&one_day, "Директ")["spend"], "6000");
    assert!(k.command("report", json!({ "model": "linear" })).is_err());
}

#[test]
fn a_deal_from_a_new_senders_lead_is_credited_through_the_lead() {
    let k = kernel();
    let camp = id(&k
        .create("campaign", json!({ "name": "Форма на сайте", "channel": "display_ads", "utm_campaign": "banner" }))
        .unwrap());
    // The lead arrives before the CRM knows the sender: no customer on it yet.
    let lead = id(&k.create("crm.lead", json!({ "title": "Заявка", "channel": "form" })).unwrap());
    k.handle(
        "lead-created",
        "e1",
        "crm.lead.created",
        json!({ "id": lead, "after": { "utm": { "utm_campaign": "banner" } } }),
    )
    .unwrap();
    let c = id(&k.create("crm.customer", json!({ "name": "Новый клиент" })).unwrap());
    let p = id(&k.create("crm.pipeline", json!({ "name": "Sales" })).unwrap());
    let s = id(&k.create("crm.stage", json!({ "pipeline": p, "code": "a", "name": "A", "position": 1 })).unwrap());
    let deal = id(&k
        .create(
            "crm.deal",
            json!({ "title": "Шкаф", "customer": c, "pipeline": p, "stage": s, "amount": "9000", "lead": lead }),
        )
        .unwrap());
    let won = json!({ "id": deal, "customer": c, "amount": "9000.00", "currency": "RUB", "closed_at": "2099-01-01T00:00:00Z" });
    k.handle("deal-won", "e2", "crm.deal.won", won).unwrap();
    let conv = k.query("conversion", json!({})).unwrap();
    assert_eq!(
        (conv[0]["data"]["first_touch"].as_str(), conv[0]["data"]["last_touch"].as_str()),
        (Some(camp.as_str()), Some(camp.as_str()))
    );
    // History attribution does not count the customer a second time.
    let h = k.command("attribute-history", json!({})).unwrap();
    assert_eq!(h["deals_credited"], 0);
}

#[test]
fn the_demo_runs_campaigns_and_queues_a_mailing_to_big_buyers() {
    let k = kernel();
    customer(&k, "ООО «Крупный»", Some("big@example.com"), "Москва", "120000", Some("2026-11-20"));
    customer(&k, "ИП Малый", Some("small@example.com"), "Казань", "900", Some("2026-11-20"));
    assert_eq!(k.demo(&[], "2026-12-05").unwrap(), 1);
    assert_eq!(k.query("campaign", json!({})).unwrap().len(), 4);
    assert_eq!(k.query("spend", json!({ "limit": 500 })).unwrap().len(), 240, "60 days of four campaigns");
    assert_eq!(k.query("segment", json!({})).unwrap().len(), 3);
    let messages = k.query("message", json!({})).unwrap();
    assert_eq!(messages.len(), 1, "only the big buyer is in the segment: {messages:?}");
}
