//! The accounting plugin through HTTP: the chart on enabling, balanced and immutable
//! entries, invoices paid in parts, period locks, bad input that changes nothing, and won
//! deals, stock moves and payments crossing between plugins only where they are enabled.

use serde_json::{Value, json};

use crate::both_backends;
use crate::support::{TestApp, package};

both_backends!(the_books_through_http, deals_stock_and_payments_cross_plugins_only_where_enabled,);

fn data(co: &str, coll: &str) -> String {
    format!("/api/v1/companies/{co}/data/accounting/{coll}")
}

fn cmd(co: &str, name: &str) -> String {
    format!("/api/v1/companies/{co}/plugins/accounting/commands/{name}")
}

async fn items(app: &TestApp, co: &str, coll: &str, filter: Value) -> Vec<Value> {
    let q = json!({ "filter": filter, "limit": 500 });
    let r = app.post(&format!("{}/query", data(co, coll)), &app.root, q).await;
    r.expect(200)["items"].as_array().cloned().unwrap_or_default()
}

/// The closing balance of an account in a trial balance answer, debit positive.
fn closing(tb: &Value, code: &str) -> String {
    let cents = |v: &Value| (v.as_str().unwrap().parse::<f64>().unwrap() * 100.0).round() as i64;
    let net = tb["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["code"] == code)
        .map_or(0, |r| cents(&r["closing_debit"]) - cents(&r["closing_credit"]));
    format!("{}{}.{:02}", if net < 0 { "-" } else { "" }, net.abs() / 100, net.abs() % 100)
}

async fn the_books_through_http(app: &TestApp) {
    let (_, clerk) = app.user("clerk@example.com").await;
    let (_, chief) = app.user("chief@example.com").await;
    let (_, sales) = app.user("sales@example.com").await;
    let co = app.company("Acme", &[("sales@example.com", "member")]).await;
    app.install(&package("accounting")).await;
    app.enable(&co, "accounting", json!({ "config": { "chart": "ru" } })).await.expect(200);
    app.member_with_role(&co, "clerk@example.com", "clerk", &["accounting.view", "accounting.enter"]).await;
    app.member_with_role(&co, "chief@example.com", "chief", &["accounting.*"]).await;
    // The chart came with the plugin.
    let accounts = items(app, &co, "account", json!({ "field": "type", "op": "eq", "value": "asset" })).await;
    assert!(accounts.iter().any(|a| a["data"]["code"] == "62.01" && a["data"]["role"] == "receivable"));
    // A plain member sees nothing of the books.
    app.get(&data(&co, "account"), &sales).await.expect(403);
    app.post(&cmd(&co, "trial-balance"), &sales, json!({})).await.expect(403);

    // A clerk enters; unbalanced entries are refused and change nothing.
    let before = app.snapshot().await;
    let unbalanced = json!({ "journal": "GEN", "date": "2026-02-02", "post": true,
        "lines": [{ "account": "51", "debit": "100" }, { "account": "80", "credit": "99.99" }] });
    let r = app.post(&cmd(&co, "create-entry"), &chief, unbalanced).await;
    r.expect(422);
    assert!(r.body.to_string().contains("differ by 0.01"), "{}", r.body);
    for bad in [
        json!({ "journal": "GEN", "date": "2026-02-02", "lines": "many" }),
        json!({ "journal": "GEN", "date": "2 Feb", "lines": [] }),
        json!({ "journal": "NOPE", "date": "2026-02-02", "lines": [] }),
        json!({ "journal": "GEN", "date": "2026-02-02", "lines": [], "colour": "red" }),
        json!({ "journal": "GEN", "date": "2026-02-02", "lines": [{ "account": "51", "debit": "1e400" }] }),
    ] {
        let r = app.post(&cmd(&co, "create-entry"), &clerk, bad.clone()).await;
        assert!(r.status.is_client_error(), "{bad}: {}", r.body);
    }
    let r = app
        .call_raw(
            reqwest::Method::POST,
            &cmd(&co, "create-entry"),
            Some(&clerk),
            Some("application/json"),
            b"{\"journal\":".to_vec(),
        )
        .await;
    assert!(r.status.is_client_error());
    assert_eq!(app.snapshot().await, before, "refused input changed something");
    // Nobody writes the journal around the plugin, whatever they hold (the refusal is audited).
    let direct = json!({ "journal": "x", "date": "2026-02-02", "lines": [] });
    let r = app.post(&data(&co, "entry"), &app.root, direct).await;
    r.expect(403);
    assert_eq!(r.body["error"]["code"], "read_only");
    assert!(items(app, &co, "entry", json!({ "field": "state", "op": "eq", "value": "draft" })).await.is_empty());

    let draft = json!({ "journal": "GEN", "date": "2026-02-02", "memo": "Взнос в уставный капитал",
        "lines": [{ "account": "51", "debit": "100000" }, { "account": "80", "credit": "100000" }] });
    let d = app.post(&cmd(&co, "create-entry"), &clerk, draft).await;
    let eid = d.expect(200)["id"].as_str().unwrap().to_string();
    // Posting is the chief's.
    app.post(&cmd(&co, "post-entry"), &clerk, json!({ "id": eid })).await.expect(403);
    let p = app.post(&cmd(&co, "post-entry"), &chief, json!({ "id": eid })).await;
    assert!(p.expect(200)["number"].as_str().unwrap().starts_with("GEN-2026-"));
    app.post(&cmd(&co, "update-entry"), &chief, json!({ "id": eid, "memo": "x" })).await.expect(422);
    app.patch(&format!("{}/{eid}", data(&co, "entry")), &app.root, json!({ "memo": "x" })).await.expect(403);
    app.delete(&format!("{}/{eid}", data(&co, "entry")), &app.root).await.expect(403);

    // An invoice paid in two parts.
    let inv = json!({ "kind": "invoice", "partner": "c-1", "partner_name": "ООО Вектор", "date": "2026-02-10",
        "lines": [{ "description": "Шкаф", "quantity": 3, "price": "15000", "tax": "VAT20" }] });
    let inv = app.post(&cmd(&co, "create-invoice"), &clerk, inv).await;
    let inv = inv.expect(200).clone();
    assert_eq!(
        (inv["untaxed"].as_str(), inv["tax"].as_str(), inv["total"].as_str()),
        (Some("45000.00"), Some("9000.00"), Some("54000.00"))
    );
    let iid = inv["id"].as_str().unwrap().to_string();
    app.post(&cmd(&co, "post-invoice"), &chief, json!({ "id": iid })).await.expect(200);
    for (day, amount) in [("2026-02-15", "20000"), ("2026-02-25", "34000")] {
        let pay = json!({ "direction": "in", "partner": "c-1", "date": day, "amount": amount, "invoices": [{ "invoice": iid }] });
        app.post(&cmd(&co, "register-payment"), &chief, pay).await.expect(200);
    }
    let got = app.get(&format!("{}/{iid}", data(&co, "invoice")), &clerk).await;
    assert_eq!(
        (got.expect(200)["data"]["state"].as_str(), got.body["data"]["residual"].as_str()),
        (Some("paid"), Some("0.00"))
    );
    let tb = app.post(&cmd(&co, "trial-balance"), &clerk, json!({ "from": "2026-02-01", "to": "2026-02-28" })).await;
    let tb = tb.expect(200).clone();
    assert_eq!(tb["balanced"], true);
    assert_eq!(closing(&tb, "62.01"), "0.00");
    assert_eq!(closing(&tb, "51"), "154000.00");
    assert_eq!(closing(&tb, "68.02"), "-9000.00");
    let pl = app.post(&cmd(&co, "profit-and-loss"), &clerk, json!({ "from": "2026-01-01", "to": "2026-12-31" })).await;
    assert_eq!(pl.expect(200)["result"], "45000.00");

    // The chief locks February; nothing posts into it any more.
    app.post(&cmd(&co, "lock-period"), &clerk, json!({ "until": "2026-02-28" })).await.expect(403);
    app.post(&cmd(&co, "lock-period"), &chief, json!({ "until": "2026-02-28" })).await.expect(200);
    let late = json!({ "journal": "GEN", "date": "2026-02-27", "post": true,
        "lines": [{ "account": "26", "debit": "10" }, { "account": "51", "credit": "10" }] });
    let before = app.snapshot().await;
    let r = app.post(&cmd(&co, "create-entry"), &chief, late).await;
    r.expect(422);
    assert!(r.body.to_string().contains("locked"), "{}", r.body);
    assert_eq!(app.snapshot().await, before);
    let ledger = app
        .post(&cmd(&co, "general-ledger"), &clerk, json!({ "account": "51", "from": "2026-02-01", "to": "2026-02-28" }))
        .await;
    let rows = ledger.expect(200)["rows"].as_array().unwrap().clone();
    assert_eq!(
        rows.iter().map(|r| r["balance"].as_str().unwrap()).collect::<Vec<_>>(),
        ["100000.00", "120000.00", "154000.00"]
    );
}

async fn deals_stock_and_payments_cross_plugins_only_where_enabled(app: &TestApp) {
    let with = app.company("With accounting", &[]).await;
    let without = app.company("Without accounting", &[]).await;
    for p in ["crm", "warehouse", "accounting"] {
        app.install(&package(p)).await;
    }
    for co in [&with, &without] {
        app.enable(co, "crm", json!({})).await.expect(200);
        app.enable(co, "warehouse", json!({})).await.expect(200);
    }
    app.enable(&with, "accounting", json!({ "grants": ["crm.customer"] })).await.expect(200);
    let _bus = app.start_bus();
    let mut deals = Vec::new();
    let mut customers = Vec::new();
    for co in [&with, &without] {
        let crm = |name: &str| format!("/api/v1/companies/{co}/plugins/crm/commands/{name}");
        let crm_data = |coll: &str| format!("/api/v1/companies/{co}/data/crm/{coll}");
        let card =
            app.post(&crm("create-customer"), &app.root, json!({ "name": "ООО Берёза", "kind": "organization" })).await;
        let customer = card.expect(200)["customer"]["id"].as_str().unwrap().to_string();
        let p = app.post(&crm_data("pipeline"), &app.root, json!({ "name": "Sales" })).await.expect(201)["id"].clone();
        let open = json!({ "pipeline": p, "code": "new", "name": "New", "position": 1 });
        let open = app.post(&crm_data("stage"), &app.root, open).await.expect(201)["id"].clone();
        let won = json!({ "pipeline": p, "code": "won", "name": "Won", "position": 2, "outcome": "won" });
        let won = app.post(&crm_data("stage"), &app.root, won).await.expect(201)["id"].clone();
        let deal = json!({ "title": "Офисная мебель", "customer": customer, "pipeline": p, "stage": open, "amount": "24000.00",
                           "lines": [{ "product": "DESK", "name": "Стол", "quantity": "2", "price": "12000" }] });
        let deal = app.post(&crm_data("deal"), &app.root, deal).await.expect(201)["id"].as_str().unwrap().to_string();
        app.post(&crm("move-deal"), &app.root, json!({ "id": deal, "stage": won })).await.expect(200);
        deals.push(deal);
        customers.push(customer);
    }
    let source = json!({ "field": "source", "op": "eq", "value": format!("crm.deal:{}", deals[0]) });
    assert!(
        crate::support::eventually(20, async || items(app, &with, "invoice", source.clone()).await.len() == 1).await,
        "the won deal made no invoice"
    );
    let invoice = items(app, &with, "invoice", source.clone()).await.remove(0);
    assert_eq!(invoice["data"]["state"], "draft");
    assert_eq!(invoice["data"]["total"], "24000.00");
    assert_eq!(invoice["data"]["partner_name"], "ООО Берёза", "named from the granted CRM card");
    // The company without accounting queued nothing for it.
    let events = app.get(&format!("/api/v1/companies/{without}/events?name=crm.deal.won"), &app.root).await;
    let events = events.expect(200)["items"].as_array().unwrap().clone();
    assert!(events[0]["deliveries"].as_array().unwrap().iter().all(|d| d["plugin"] != "accounting"), "{events:?}");
    app.get(&data(&without, "invoice"), &app.root).await.expect(404);

    // Posting and paying it: the payment reaches the customer's CRM history.
    let iid = invoice["id"].as_str().unwrap();
    app.post(&cmd(&with, "post-invoice"), &app.root, json!({ "id": iid })).await.expect(200);
    let day = invoice["data"]["date"].as_str().unwrap();
    let pay = json!({ "direction": "in", "partner": customers[0], "date": day, "amount": "24000" });
    app.post(&cmd(&with, "register-payment"), &app.root, pay).await.expect(200);
    let history = || async {
        let url = format!("/api/v1/companies/{with}/plugins/crm/commands/timeline");
        let body = json!({ "customer": customers[0], "kind": "payment" });
        app.post(&url, &app.root, body).await.body["entries"].as_array().cloned().unwrap_or_default()
    };
    assert!(
        crate::support::eventually(20, async || history().await.len() == 1).await,
        "the payment never reached the CRM"
    );
    assert_eq!(history().await[0]["amount"], "24000.00");

    // A receipt into stock posts its value to inventory.
    let wh = |name: &str| format!("/api/v1/companies/{with}/plugins/warehouse/commands/{name}");
    let wh_data = |coll: &str| format!("/api/v1/companies/{with}/data/warehouse/{coll}");
    let loc = |code: &str, kind: &str| json!({ "name": code, "code": code, "kind": kind });
    let sup = app.post(&wh_data("location"), &app.root, loc("SUP", "supplier")).await.expect(201)["id"].clone();
    let store = app.post(&wh_data("location"), &app.root, loc("WH", "warehouse")).await.expect(201)["id"].clone();
    let product = app.post(&wh_data("product"), &app.root, json!({ "sku": "DESK", "name": "Стол" })).await.expect(201)
        ["id"]
        .clone();
    let receipt =
        json!({ "product": product, "quantity": "5", "from_location": sup, "to_location": store, "unit_cost": "7000" });
    let mv = app.post(&wh("receive"), &app.root, receipt).await.expect(200)["id"].as_str().unwrap().to_string();
    let stock = json!({ "field": "source", "op": "eq", "value": format!("warehouse.move:{mv}") });
    assert!(
        crate::support::eventually(20, async || items(app, &with, "entry", stock.clone()).await.len() == 1).await,
        "the receipt never reached the books"
    );
    let tb =
        app.post(&cmd(&with, "trial-balance"), &app.root, json!({ "from": "2000-01-01", "to": "2099-12-31" })).await;
    let tb = tb.expect(200).clone();
    assert_eq!(closing(&tb, "41.01"), "35000.00");
    assert_eq!(tb["balanced"], true);
    // Every delivery to accounting succeeded.
    let events = app.get(&format!("/api/v1/companies/{with}/events?limit=200"), &app.root).await;
    for e in events.expect(200)["items"].as_array().unwrap() {
        for d in e["deliveries"].as_array().unwrap().iter().filter(|d| d["plugin"] == "accounting") {
            assert_eq!(d["state"], "done", "{e}");
        }
    }
}
