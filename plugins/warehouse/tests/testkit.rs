//! The warehouse plugin in the SDK test kit: FIFO and AVCO against hand-computed examples,
//! on-hand equal to the sum of done moves after a random sequence, negative stock,
//! reservations and deliveries, immutable done moves.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use erp_sdk::{Error, Value, json};
use erp_testkit::{TestKernel, package};
use std::collections::BTreeMap;

fn kernel() -> TestKernel {
    TestKernel::for_package(package(env!("CARGO_MANIFEST_DIR")).expect("builds")).expect("plugin loads")
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_string()
}

/// Places and one product: (supplier, warehouse, bin, customer, loss, product).
struct Site {
    supplier: String,
    warehouse: String,
    bin: String,
    customer: String,
    loss: String,
    product: String,
}

fn site(k: &TestKernel) -> Site {
    let loc = |code: &str, kind: &str, parent: Option<&str>| {
        let mut body = json!({ "name": code, "code": code, "kind": kind });
        if let Some(p) = parent {
            body["parent"] = json!(p);
        }
        id(&k.create("location", body).unwrap())
    };
    let warehouse = loc("WH", "warehouse", None);
    let zone = loc("WH-A", "zone", Some(&warehouse));
    Site {
        supplier: loc("SUP", "supplier", None),
        bin: loc("WH-A-01", "bin", Some(&zone)),
        warehouse,
        customer: loc("CUS", "customer", None),
        loss: loc("LOSS", "loss", None),
        product: id(&k.create("product", json!({ "sku": "CHAIR", "name": "Стул", "standard_cost": "50" })).unwrap()),
    }
}

fn receive(k: &TestKernel, s: &Site, qty: &str, cost: &str) {
    let body = json!({ "product": s.product, "quantity": qty, "from_location": s.supplier, "to_location": s.bin, "unit_cost": cost });
    k.command("receive", body).unwrap();
}

fn issue(k: &TestKernel, s: &Site, qty: &str) -> Result<Value, Error> {
    k.command(
        "issue",
        json!({ "product": s.product, "quantity": qty, "from_location": s.bin, "to_location": s.customer }),
    )
}

fn issued_values(k: &TestKernel) -> Vec<String> {
    k.events()
        .unwrap()
        .into_iter()
        .filter(|(n, p)| n == "warehouse.move.done" && p["kind"] == "issue")
        .map(|(_, p)| p["value"].as_str().unwrap().to_string())
        .collect()
}

fn valuation(k: &TestKernel) -> (String, String) {
    let v = k.command("valuation", json!({})).unwrap();
    let p = &v["products"][0];
    (p["quantity"].as_str().unwrap().to_string(), p["value"].as_str().unwrap().to_string())
}

#[test]
fn fifo_takes_the_oldest_receipts_first() {
    let k = kernel();
    let s = site(&k);
    receive(&k, &s, "10", "100.00");
    receive(&k, &s, "10", "120.00");
    issue(&k, &s, "15").unwrap(); // 10 × 100 + 5 × 120
    issue(&k, &s, "3").unwrap(); // 3 × 120
    assert_eq!(issued_values(&k), ["1600.00", "360.00"]);
    assert_eq!(valuation(&k), ("2".to_string(), "240.00".to_string()));
}

#[test]
fn moving_average_values_issues_at_the_average_and_empties_exactly() {
    let k = kernel();
    k.enable("warehouse", vec![], json!({ "valuation": "avco" })).unwrap();
    let s = site(&k);
    receive(&k, &s, "10", "100.00"); // 10 at 1000.00
    receive(&k, &s, "5", "130.00"); // 15 at 1650.00, average 110
    issue(&k, &s, "4").unwrap(); // 4 × 110 = 440.00; 11 at 1210.00
    receive(&k, &s, "9", "121.1111"); // 9 × 121.1111 = 1089.9999 → 1090.00; 20 at 2300.00
    issue(&k, &s, "7").unwrap(); // 7 × 2300 / 20 = 805.00; 13 at 1495.00
    issue(&k, &s, "13").unwrap(); // the last units take what is left: 1495.00
    assert_eq!(issued_values(&k), ["440.00", "805.00", "1495.00"]);
    assert_eq!(valuation(&k), ("0".to_string(), "0.00".to_string()));
    // Thirds: 3 units worth 10.00; one goes out at 3.33, the last two take 6.67.
    receive(&k, &s, "3", "3.3333");
    issue(&k, &s, "1").unwrap();
    issue(&k, &s, "2").unwrap();
    assert_eq!(issued_values(&k)[3..], ["3.33", "6.67"]);
    assert_eq!(valuation(&k).1, "0.00");
}

#[test]
fn valuation_at_a_past_date_sums_the_ledger_up_to_it() {
    let k = kernel();
    let s = site(&k);
    receive(&k, &s, "10", "100.00");
    let before = k.command("valuation", json!({ "at": "2000-01-01" })).unwrap();
    assert_eq!(before["total"], "0.00");
    let now = k.command("valuation", json!({ "at": "2999-01-01" })).unwrap();
    assert_eq!(now["total"], "1000.00");
    assert!(matches!(k.command("valuation", json!({ "at": "yesterday" })), Err(Error::Invalid(_))));
}

#[test]
fn on_hand_always_equals_the_sum_of_done_moves() {
    let k = kernel();
    let s = site(&k);
    let mut seed: u64 = 42;
    let mut roll = |n: u64| {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    let places = [s.warehouse.clone(), s.bin.clone()];
    let mut refused = 0;
    for _ in 0..60 {
        let qty = (1 + roll(9)).to_string();
        let here = places[roll(2) as usize].clone();
        let there = places.iter().find(|p| **p != here).unwrap().clone();
        let (cmd, from, to) = match roll(4) {
            0 | 1 => ("receive", s.supplier.clone(), here),
            2 => ("issue", here, s.customer.clone()),
            _ => ("transfer", here, there),
        };
        let body = json!({ "product": s.product, "quantity": qty, "from_location": from, "to_location": to, "unit_cost": "10" });
        match k.command(cmd, body) {
            Ok(_) => {}
            Err(Error::Invalid(f)) if f[0].message.contains("on hand") => refused += 1,
            Err(e) => panic!("{cmd}: {e:?}"),
        }
    }
    assert!(refused > 0, "the sequence should hit empty locations sometimes");
    let moves =
        k.query("move", json!({ "filter": { "field": "state", "op": "eq", "value": "done" }, "limit": 500 })).unwrap();
    let mut expected: BTreeMap<String, f64> = BTreeMap::new();
    for m in &moves {
        let q: f64 = m["data"]["quantity"].as_str().unwrap().parse().unwrap();
        *expected.entry(m["data"]["from_location"].as_str().unwrap().to_string()).or_default() -= q;
        *expected.entry(m["data"]["to_location"].as_str().unwrap().to_string()).or_default() += q;
    }
    for place in &places {
        let quant = k.query("quant", json!({ "filter": { "field": "location", "op": "eq", "value": place } })).unwrap();
        let on_hand: f64 =
            quant.first().map(|q| q["data"]["quantity"].as_str().unwrap().parse().unwrap()).unwrap_or(0.0);
        assert_eq!(on_hand, expected.get(place).copied().unwrap_or(0.0), "location {place}");
        assert!(on_hand >= 0.0);
    }
}

#[test]
fn negative_stock_is_refused_unless_allowed() {
    let k = kernel();
    let s = site(&k);
    receive(&k, &s, "2", "10");
    let Err(Error::Invalid(f)) = issue(&k, &s, "3") else { panic!("should be refused") };
    assert!(f[0].message.contains("only 2 on hand"), "{f:?}");
    assert_eq!(k.command("on-hand", json!({ "product": s.product })).unwrap()["on_hand"], "2");
    k.enable("warehouse", vec![], json!({ "allow_negative": true })).unwrap();
    issue(&k, &s, "3").unwrap();
    assert_eq!(k.command("on-hand", json!({ "product": s.product })).unwrap()["on_hand"], "-1");
}

#[test]
fn reservations_limit_what_is_available_and_deliveries_issue_them() {
    let k = kernel();
    let s = site(&k);
    receive(&k, &s, "10", "10");
    let r = k.command("reserve", json!({ "product": s.product, "quantity": "6", "reference": "SO-1" })).unwrap();
    assert_eq!(r["reserved"], "6");
    let refused = k.command("reserve", json!({ "product": s.product, "quantity": "6", "reference": "SO-2" }));
    assert!(matches!(refused, Err(Error::Invalid(_))), "{refused:?}");
    let partial = k
        .command("reserve", json!({ "product": s.product, "quantity": "6", "reference": "SO-2", "partial": true }))
        .unwrap();
    assert_eq!(partial["reserved"], "4");
    let stock = k.command("on-hand", json!({ "product": s.product })).unwrap();
    assert_eq!(
        (stock["on_hand"].clone(), stock["reserved"].clone(), stock["available"].clone()),
        (json!("10"), json!("10"), json!("0"))
    );
    let delivered = k.command("deliver", json!({ "reference": "SO-1", "to_location": s.customer })).unwrap();
    assert_eq!(delivered["moves"].as_array().unwrap().len(), 1);
    let stock = k.command("on-hand", json!({ "product": s.product })).unwrap();
    assert_eq!((stock["on_hand"].clone(), stock["available"].clone()), (json!("4"), json!("0")));
    assert!(matches!(
        k.command("deliver", json!({ "reference": "SO-1", "to_location": s.customer })),
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        k.command("deliver", json!({ "reference": "SO-2", "to_location": s.bin })),
        Err(Error::Invalid(_))
    ));
}

#[test]
fn done_moves_never_change_and_places_must_fit() {
    let k = kernel();
    let s = site(&k);
    receive(&k, &s, "5", "10");
    let done = k.query("move", json!({})).unwrap();
    let done = id(&done[0]);
    assert!(matches!(k.update("move", &done, json!({ "note": "fix" })), Err(Error::Conflict(_))));
    // A draft can be confirmed once, or cancelled.
    let draft = k
        .create("move", json!({ "kind": "transfer", "product": s.product, "quantity": "2", "from_location": s.bin, "to_location": s.warehouse }))
        .unwrap();
    k.command("confirm-move", json!({ "id": id(&draft) })).unwrap();
    assert!(matches!(k.command("confirm-move", json!({ "id": id(&draft) })), Err(Error::Conflict(_))));
    let on_hand = k.command("on-hand", json!({ "product": s.product })).unwrap();
    assert_eq!(on_hand["on_hand"], "5");
    assert_eq!(on_hand["locations"].as_array().unwrap().len(), 2);
    // Wrong places for the kind, a zero quantity, a zone outside a warehouse.
    for bad in [
        json!({ "kind": "receipt", "product": s.product, "quantity": "1", "from_location": s.customer, "to_location": s.bin }),
        json!({ "kind": "issue", "product": s.product, "quantity": "1", "from_location": s.supplier, "to_location": s.customer }),
        json!({ "kind": "transfer", "product": s.product, "quantity": "0", "from_location": s.bin, "to_location": s.warehouse }),
        json!({ "kind": "adjustment", "product": s.product, "quantity": "1", "from_location": s.supplier, "to_location": s.bin }),
    ] {
        assert!(matches!(k.create("move", bad.clone()), Err(Error::Invalid(_))), "{bad}");
    }
    assert!(k.create("location", json!({ "name": "Z", "code": "Z", "kind": "zone" })).is_err());
    assert!(k.create("location", json!({ "name": "B", "code": "B", "kind": "bin", "parent": s.customer })).is_err());
    // An inventory loss takes value out; a gain brings it in.
    k.command(
        "adjust",
        json!({ "product": s.product, "quantity": "1", "from_location": s.bin, "to_location": s.loss }),
    )
    .unwrap();
    assert_eq!(k.command("on-hand", json!({ "product": s.product })).unwrap()["on_hand"], "4");
}

#[test]
fn a_count_posts_its_differences_as_adjustments() {
    let k = kernel();
    let s = site(&k);
    receive(&k, &s, "10", "10");
    let sheet = k.command("start-count", json!({ "location": s.bin })).unwrap();
    assert_eq!(sheet["lines"], 1);
    assert!(
        matches!(k.command("start-count", json!({ "location": s.bin })), Err(Error::Conflict(_))),
        "one open count per place"
    );
    let lines =
        k.query("count_line", json!({ "filter": { "field": "count", "op": "eq", "value": sheet["id"] } })).unwrap();
    assert_eq!(lines[0]["data"]["expected"], "10");
    k.update("count_line", &id(&lines[0]), json!({ "counted": "8" })).unwrap();
    assert!(k.update("count_line", &id(&lines[0]), json!({ "counted": "-1" })).is_err());
    let done = k.command("confirm-count", json!({ "id": sheet["id"] })).unwrap();
    assert_eq!(done["adjustments"][0]["difference"], "-2");
    assert_eq!(k.command("on-hand", json!({ "product": s.product })).unwrap()["on_hand"], "8");
    assert!(
        k.update("count_line", &id(&lines[0]), json!({ "counted": "9" })).is_err(),
        "a confirmed count does not change"
    );
    assert!(matches!(k.command("confirm-count", json!({ "id": sheet["id"] })), Err(Error::Conflict(_))));
}

#[test]
fn reorder_rules_announce_a_dip_once_and_propose_a_quantity() {
    let k = kernel();
    let s = site(&k);
    receive(&k, &s, "3", "10");
    let rule =
        json!({ "product": s.product, "warehouse": s.warehouse, "min_qty": "5", "max_qty": "20", "lead_days": 7 });
    k.create("reorder_rule", rule.clone()).unwrap();
    assert!(k.create("reorder_rule", rule).is_err(), "one rule per product and warehouse");
    let bad = json!({ "product": s.product, "warehouse": s.bin, "min_qty": "5", "max_qty": "2" });
    assert!(matches!(k.create("reorder_rule", bad), Err(Error::Invalid(_))));
    k.schedule("reorder").unwrap();
    k.schedule("reorder").unwrap();
    let low: Vec<Value> =
        k.events().unwrap().into_iter().filter(|(n, _)| n == "warehouse.stock.low").map(|(_, p)| p).collect();
    assert_eq!(low.len(), 1, "announced once per dip");
    // The bin is inside the warehouse; no issues yet, so no forecast demand: up to the maximum.
    assert_eq!(low[0]["on_hand"], "3");
    assert_eq!(low[0]["propose"], "17");
    let proposals = k.command("replenishment", json!({})).unwrap();
    assert_eq!(proposals["proposals"][0]["propose"], "17");
    // Back above the minimum, then below again: a new announcement.
    receive(&k, &s, "10", "10");
    k.schedule("reorder").unwrap();
    assert_eq!(k.command("replenishment", json!({})).unwrap()["proposals"], json!([]));
    issue(&k, &s, "12").unwrap();
    k.schedule("reorder").unwrap();
    let low = k.events().unwrap().into_iter().filter(|(n, _)| n == "warehouse.stock.low").count();
    assert_eq!(low, 2);
}

#[test]
fn the_forecast_shows_both_methods_and_their_errors() {
    let k = kernel();
    let s = site(&k);
    receive(&k, &s, "100", "10");
    issue(&k, &s, "7").unwrap();
    let f = k.command("forecast", json!({ "product": s.product, "weeks": 8, "window": 4, "alpha": "0.5" })).unwrap();
    let history: Vec<&str> = f["weekly_history"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(history, ["0", "0", "0", "0", "0", "0", "0", "7"]);
    // Moving average of the last four weeks: 7 / 4; exponential smoothing: 0.5 × 7.
    assert_eq!(f["moving_average"]["forecast"], "1.75");
    assert_eq!(f["exponential_smoothing"]["forecast"], "3.5");
    // One-step errors: MA over weeks 5-8 (7 once in 4) = 1.75; ES over weeks 2-8 (7 once in 7) = 1.
    assert_eq!(f["moving_average"]["mean_abs_error"], "1.75");
    assert_eq!(f["exponential_smoothing"]["mean_abs_error"], "1");
    assert_eq!(f["method"], "exponential_smoothing");
    assert!(matches!(k.command("forecast", json!({ "product": s.product, "alpha": "2" })), Err(Error::Invalid(_))));
}

#[test]
fn shipments_move_forward_with_their_history() {
    let k = kernel();
    let s = site(&k);
    receive(&k, &s, "5", "10");
    k.command("reserve", json!({ "product": s.product, "quantity": "2", "reference": "SO-9" })).unwrap();
    let d = k.command("deliver", json!({ "reference": "SO-9", "to_location": s.customer })).unwrap();
    let shipment = d["shipment"].as_str().unwrap().to_string();
    assert!(matches!(k.command("ship", json!({ "id": shipment })), Err(Error::Invalid(_))), "a carrier is needed");
    assert!(
        matches!(k.command("mark-delivered", json!({ "id": shipment })), Err(Error::Invalid(_))),
        "not shipped yet"
    );
    k.command("ship", json!({ "id": shipment, "carrier": "СДЭК", "tracking": "1234567890" })).unwrap();
    k.command("mark-delivered", json!({ "id": shipment })).unwrap();
    let got = k.get("shipment", &shipment).unwrap();
    assert_eq!(got["data"]["status"], "delivered");
    let steps: Vec<&str> =
        got["data"]["history"].as_array().unwrap().iter().map(|h| h["status"].as_str().unwrap()).collect();
    assert_eq!(steps, ["ready", "shipped", "delivered"]);
    assert!(k.command("ship", json!({ "id": shipment, "carrier": "X" })).is_err());
}

#[test]
fn reports_show_stock_movements_and_slow_movers() {
    let k = kernel();
    let s = site(&k);
    receive(&k, &s, "10", "10");
    issue(&k, &s, "4").unwrap();
    let other = id(&k.create("product", json!({ "sku": "DESK", "name": "Стол" })).unwrap());
    k.command("receive", json!({ "product": other, "quantity": "3", "from_location": s.supplier, "to_location": s.bin, "unit_cost": "1" }))
        .unwrap();
    let stock = k.command("stock-report", json!({ "location": s.bin })).unwrap();
    assert_eq!(stock["rows"].as_array().unwrap().len(), 2);
    let moves = k.command("movements", json!({ "product": s.product })).unwrap();
    assert_eq!(moves["products"][0]["kinds"]["receipt"]["quantity"], "10");
    assert_eq!(moves["products"][0]["kinds"]["issue"]["quantity"], "4");
    let slow = k.command("slow-movers", json!({ "days": 30 })).unwrap();
    let slow: Vec<&str> = slow["products"].as_array().unwrap().iter().map(|p| p["product"].as_str().unwrap()).collect();
    assert_eq!(slow, [other.as_str()], "the desk never went out; the chair did today");
}

#[test]
fn the_demo_stocks_a_warehouse_with_real_movements() {
    let k = kernel();
    assert_eq!(k.demo(&[], "2026-12-05").unwrap(), 1);
    let products = k.query("product", json!({ "limit": 500 })).unwrap();
    assert_eq!(products.len(), 12);
    let chair = products.iter().find(|p| p["data"]["sku"] == "CHAIR-01").unwrap();
    // 20 + 15 received, 5 issued, 4 shipped with order ЗК-0042.
    let on_hand = k.command("on-hand", json!({ "product": chair["id"] })).unwrap();
    assert_eq!(on_hand["on_hand"], "26", "{on_hand}");
    // That order went out with its delivery note and picking list printed.
    let printed = k.query("document", json!({})).unwrap();
    let mut forms: Vec<&str> = printed.iter().map(|d| d["data"]["form"].as_str().unwrap()).collect();
    forms.sort();
    assert_eq!(forms, ["delivery_note", "picking_list"]);
    assert_eq!(k.query("reorder_rule", json!({})).unwrap().len(), 4);
    assert_eq!(k.query("location", json!({})).unwrap().len(), 10);
}
