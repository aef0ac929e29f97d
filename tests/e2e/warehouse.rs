//! The warehouse plugin through HTTP: stock moves and their rules, concurrent issues of the
//! last units, valuation, and reservations from won CRM deals only where the warehouse is
//! enabled.

use serde_json::{Value, json};

use crate::both_backends;
use crate::support::{TestApp, package};

both_backends!(
    moves_follow_the_rules_and_done_moves_never_change,
    concurrent_issues_of_the_last_units_never_go_negative,
    a_won_deal_reserves_stock_only_where_the_warehouse_is_enabled,
    counts_planning_shipments_and_reports,
);

fn data(co: &str, coll: &str) -> String {
    format!("/api/v1/companies/{co}/data/warehouse/{coll}")
}

fn cmd(co: &str, name: &str) -> String {
    format!("/api/v1/companies/{co}/plugins/warehouse/commands/{name}")
}

async fn create(app: &TestApp, co: &str, coll: &str, body: Value) -> String {
    let r = app.post(&data(co, coll), &app.root, body).await;
    r.expect(201)["id"].as_str().unwrap().to_string()
}

/// Locations and a product: (supplier, bin, customer, product).
async fn site(app: &TestApp, co: &str, sku: &str) -> (String, String, String, String) {
    let supplier =
        create(app, co, "location", json!({ "name": "Поставщики", "code": "SUP", "kind": "supplier" })).await;
    let wh = create(app, co, "location", json!({ "name": "Склад", "code": "WH", "kind": "warehouse" })).await;
    let bin =
        create(app, co, "location", json!({ "name": "Ячейка 1", "code": "WH-01", "kind": "bin", "parent": wh })).await;
    let customer =
        create(app, co, "location", json!({ "name": "Покупатели", "code": "CUS", "kind": "customer" })).await;
    let product = create(app, co, "product", json!({ "sku": sku, "name": "Стул", "standard_cost": "100" })).await;
    (supplier, bin, customer, product)
}

async fn on_hand(app: &TestApp, co: &str, product: &str) -> Value {
    let r = app.post(&cmd(co, "on-hand"), &app.root, json!({ "product": product })).await;
    r.expect(200).clone()
}

async fn moves_follow_the_rules_and_done_moves_never_change(app: &TestApp) {
    let (_, clerk) = app.user("clerk@example.com").await;
    let co = app.company("Acme", &[("clerk@example.com", "member")]).await;
    app.install(&package("warehouse")).await;
    app.enable(&co, "warehouse", json!({})).await.expect(200);
    let (supplier, bin, customer, product) = site(app, &co, "CHAIR").await;
    // A storekeeper receives and issues through commands.
    let receipt = json!({ "product": product, "quantity": "10", "from_location": supplier, "to_location": bin, "unit_cost": "120.50" });
    let r = app.post(&cmd(&co, "receive"), &clerk, receipt).await;
    let receipt_id = r.expect(200)["id"].as_str().unwrap().to_string();
    let issue = json!({ "product": product, "quantity": "4", "from_location": bin, "to_location": customer, "reference": "SO-1" });
    app.post(&cmd(&co, "issue"), &clerk, issue).await.expect(200);
    assert_eq!(on_hand(app, &co, &product).await["on_hand"], "6");
    // Issuing more than is there is refused and changes nothing.
    let before = app.snapshot().await;
    let too_much = json!({ "product": product, "quantity": "7", "from_location": bin, "to_location": customer });
    let r = app.post(&cmd(&co, "issue"), &clerk, too_much).await;
    r.expect(422);
    assert!(r.body.to_string().contains("only 6 on hand"), "{}", r.body);
    // So are wrong places, bad numbers and unknown fields.
    for bad in [
        json!({ "product": product, "quantity": "1", "from_location": customer, "to_location": bin }),
        json!({ "product": product, "quantity": "-1", "from_location": bin, "to_location": customer }),
        json!({ "product": product, "quantity": "abc", "from_location": bin, "to_location": customer }),
        json!({ "product": product, "quantity": "1", "from_location": bin, "to_location": customer, "price": 1 }),
    ] {
        let r = app.post(&cmd(&co, "issue"), &clerk, bad.clone()).await;
        assert!(r.status.is_client_error(), "{bad}: {}", r.body);
    }
    assert_eq!(app.snapshot().await, before, "refused moves changed something");
    // Adjustments and direct writes of moves are for those who may adjust stock.
    let gain = json!({ "product": product, "quantity": "1", "from_location": bin, "to_location": customer });
    app.post(&cmd(&co, "adjust"), &clerk, gain).await.expect(403);
    let draft =
        json!({ "kind": "transfer", "product": product, "quantity": "1", "from_location": bin, "to_location": bin });
    app.post(&data(&co, "move"), &clerk, draft).await.expect(403);
    // A done move never changes: corrections are new moves.
    let url = format!("{}/{receipt_id}", data(&co, "move"));
    app.patch(&url, &app.root, json!({ "quantity": "100" })).await.expect(409);
    app.delete(&url, &app.root).await.expect(409);
    // Valuation: FIFO, 4 went out at 120.50.
    let done = app.get(&format!("/api/v1/companies/{co}/events?name=warehouse.move.done&limit=10"), &app.root).await;
    let issued =
        done.expect(200)["items"].as_array().unwrap().iter().find(|e| e["payload"]["kind"] == "issue").unwrap().clone();
    assert_eq!(issued["payload"]["value"], "482.00");
    assert_eq!(issued["payload"]["sku"], "CHAIR");
    let v = app.post(&cmd(&co, "valuation"), &app.root, json!({})).await;
    assert_eq!(v.expect(200)["total"], "723.00");
}

async fn concurrent_issues_of_the_last_units_never_go_negative(app: &TestApp) {
    let co = app.company("Acme", &[]).await;
    app.install(&package("warehouse")).await;
    app.enable(&co, "warehouse", json!({})).await.expect(200);
    let (supplier, bin, customer, product) = site(app, &co, "LAST").await;
    let receipt = json!({ "product": product, "quantity": "5", "from_location": supplier, "to_location": bin, "unit_cost": "10" });
    app.post(&cmd(&co, "receive"), &app.root, receipt).await.expect(200);
    // Eight clerks at once each issue one unit; a clash is retried as a client would.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (client, url, token) = (app.client.clone(), format!("{}{}", app.base, cmd(&co, "issue")), app.root.clone());
        let body = json!({ "product": product, "quantity": "1", "from_location": bin, "to_location": customer });
        tasks.push(tokio::spawn(async move {
            loop {
                let r = client.post(&url).bearer_auth(&token).json(&body).send().await.unwrap();
                match r.status().as_u16() {
                    409 => tokio::time::sleep(std::time::Duration::from_millis(5)).await,
                    other => return other,
                }
            }
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    statuses.sort();
    assert_eq!(statuses, [200, 200, 200, 200, 200, 422, 422, 422], "exactly the five units go out");
    let stock = on_hand(app, &co, &product).await;
    assert_eq!(stock["on_hand"], "0");
    let done = json!({ "filter": { "field": "state", "op": "eq", "value": "done" }, "limit": 100 });
    let moves = app.post(&format!("{}/query", data(&co, "move")), &app.root, done).await;
    assert_eq!(moves.expect(200)["items"].as_array().unwrap().len(), 6, "one receipt and five issues");
}

async fn a_won_deal_reserves_stock_only_where_the_warehouse_is_enabled(app: &TestApp) {
    let with = app.company("With warehouse", &[]).await;
    let without = app.company("Without warehouse", &[]).await;
    app.install(&package("crm")).await;
    app.install(&package("warehouse")).await;
    for co in [&with, &without] {
        app.enable(co, "crm", json!({})).await.expect(200);
    }
    app.enable(&with, "warehouse", json!({})).await.expect(200);
    let (supplier, bin, customer, product) = site(app, &with, "CHAIR-1").await;
    let receipt = json!({ "product": product, "quantity": "10", "from_location": supplier, "to_location": bin, "unit_cost": "100" });
    app.post(&cmd(&with, "receive"), &app.root, receipt).await.expect(200);
    let _bus = app.start_bus();
    let mut deals = Vec::new();
    for co in [&with, &without] {
        let crm = |coll: &str| format!("/api/v1/companies/{co}/data/crm/{coll}");
        let p = app.post(&crm("pipeline"), &app.root, json!({ "name": "Sales" })).await.expect(201)["id"].clone();
        let open = app
            .post(&crm("stage"), &app.root, json!({ "pipeline": p, "code": "new", "name": "New", "position": 1 }))
            .await;
        let open = open.expect(201)["id"].clone();
        let won = json!({ "pipeline": p, "code": "won", "name": "Won", "position": 2, "outcome": "won" });
        let won = app.post(&crm("stage"), &app.root, won).await.expect(201)["id"].clone();
        let deal = json!({ "title": "Стулья", "pipeline": p, "stage": open, "amount": "400.00",
                           "lines": [{ "product": "CHAIR-1", "name": "Стул", "quantity": "4", "price": "100" }] });
        let deal = app.post(&crm("deal"), &app.root, deal).await.expect(201)["id"].as_str().unwrap().to_string();
        let url = format!("/api/v1/companies/{co}/plugins/crm/commands/move-deal");
        app.post(&url, &app.root, json!({ "id": deal, "stage": won })).await.expect(200);
        deals.push(deal);
    }
    let reference = format!("crm.deal:{}", deals[0]);
    let reserved = || async {
        let q = json!({ "filter": { "field": "reference", "op": "eq", "value": reference } });
        app.post(&format!("{}/query", data(&with, "reservation")), &app.root, q).await.body["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    assert!(
        crate::support::eventually(20, async || reserved().await.len() == 1).await,
        "the won deal reserved nothing"
    );
    assert_eq!(reserved().await[0]["data"]["quantity"], "4");
    assert_eq!(on_hand(app, &with, &product).await["available"], "6");
    // The company without the warehouse: no delivery to it was even queued.
    let events = app.get(&format!("/api/v1/companies/{without}/events?name=crm.deal.won"), &app.root).await;
    let events = events.expect(200)["items"].as_array().unwrap().clone();
    assert_eq!(events.len(), 1);
    assert!(events[0]["deliveries"].as_array().unwrap().iter().all(|d| d["plugin"] != "warehouse"), "{events:?}");
    app.get(&data(&without, "reservation"), &app.root).await.expect(404);
    // The delivery issues what was reserved.
    let r =
        app.post(&cmd(&with, "deliver"), &app.root, json!({ "reference": reference, "to_location": customer })).await;
    r.expect(200);
    let stock = on_hand(app, &with, &product).await;
    assert_eq!((stock["on_hand"].clone(), stock["reserved"].clone()), (json!("6"), json!("0")));
}

async fn counts_planning_shipments_and_reports(app: &TestApp) {
    let co = app.company("Acme", &[]).await;
    app.install(&package("warehouse")).await;
    app.enable(&co, "warehouse", json!({ "config": { "valuation": "avco" } })).await.expect(200);
    let (supplier, bin, customer, product) = site(app, &co, "DESK").await;
    let wh = app
        .post(
            &format!("{}/query", data(&co, "location")),
            &app.root,
            json!({ "filter": { "field": "kind", "op": "eq", "value": "warehouse" } }),
        )
        .await;
    let wh = wh.expect(200)["items"][0]["id"].as_str().unwrap().to_string();
    create(app, &co, "location", json!({ "name": "Недостачи", "code": "LOSS", "kind": "loss" })).await;
    let receipt = json!({ "product": product, "quantity": "12", "from_location": supplier, "to_location": bin, "unit_cost": "1000" });
    app.post(&cmd(&co, "receive"), &app.root, receipt).await.expect(200);
    // A count finds one desk missing.
    let sheet = app.post(&cmd(&co, "start-count"), &app.root, json!({ "location": bin })).await;
    let sheet = sheet.expect(200)["id"].as_str().unwrap().to_string();
    let lines = app
        .post(
            &format!("{}/query", data(&co, "count_line")),
            &app.root,
            json!({ "filter": { "field": "count", "op": "eq", "value": sheet } }),
        )
        .await;
    let line = lines.expect(200)["items"][0]["id"].as_str().unwrap().to_string();
    app.patch(&format!("{}/{line}", data(&co, "count_line")), &app.root, json!({ "counted": "11" })).await.expect(200);
    let confirmed = app.post(&cmd(&co, "confirm-count"), &app.root, json!({ "id": sheet })).await;
    assert_eq!(confirmed.expect(200)["adjustments"][0]["difference"], "-1");
    assert_eq!(on_hand(app, &co, &product).await["on_hand"], "11");
    // A rule above what is left proposes to order up to the maximum.
    create(app, &co, "reorder_rule", json!({ "product": product, "warehouse": wh, "min_qty": "20", "max_qty": "30" }))
        .await;
    let proposals = app.post(&cmd(&co, "replenishment"), &app.root, json!({})).await;
    assert_eq!(proposals.expect(200)["proposals"][0]["propose"], "19");
    // Reserve, deliver, ship.
    app.post(&cmd(&co, "reserve"), &app.root, json!({ "product": product, "quantity": "2", "reference": "SO-7" }))
        .await
        .expect(200);
    let d = app.post(&cmd(&co, "deliver"), &app.root, json!({ "reference": "SO-7", "to_location": customer })).await;
    let shipment = d.expect(200)["shipment"].as_str().unwrap().to_string();
    app.post(&cmd(&co, "ship"), &app.root, json!({ "id": shipment })).await.expect(422);
    app.post(&cmd(&co, "ship"), &app.root, json!({ "id": shipment, "carrier": "Почта России", "tracking": "RA123" }))
        .await
        .expect(200);
    app.post(&cmd(&co, "mark-delivered"), &app.root, json!({ "id": shipment })).await.expect(200);
    let s = app.get(&format!("{}/{shipment}", data(&co, "shipment")), &app.root).await;
    assert_eq!(s.expect(200)["data"]["status"], "delivered");
    // Reports.
    let f = app.post(&cmd(&co, "forecast"), &app.root, json!({ "product": product, "weeks": 4, "window": 2 })).await;
    assert_eq!(f.expect(200)["weekly_history"], json!(["0", "0", "0", "2"]));
    let m = app.post(&cmd(&co, "movements"), &app.root, json!({ "product": product, "from": "2000-01-01" })).await;
    let kinds = m.expect(200)["products"][0]["kinds"].clone();
    assert_eq!(
        (
            kinds["receipt"]["quantity"].clone(),
            kinds["issue"]["quantity"].clone(),
            kinds["adjustment"]["quantity"].clone()
        ),
        (json!("12"), json!("2"), json!("1"))
    );
    let v = app.post(&cmd(&co, "valuation"), &app.root, json!({})).await;
    assert_eq!(v.expect(200)["total"], "9000.00", "9 desks at the average of 1000");
    app.post(&cmd(&co, "movements"), &app.root, json!({ "from": "soon" })).await.expect(422);
}
