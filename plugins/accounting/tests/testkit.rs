//! The accounting plugin in the SDK test kit: the chart loaded on enabling, balanced and
//! immutable entries, tax rounding on hand-computed examples, invoices paid in parts, the
//! trial balance after a random sequence of operations, period locks, exchange differences,
//! and won deals and stock moves reaching the books once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use erp_sdk::{Error, Value, json};
use erp_testkit::{TestKernel, package};

fn kernel() -> TestKernel {
    TestKernel::for_package(package(env!("CARGO_MANIFEST_DIR")).expect("builds")).expect("plugin loads")
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_string()
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not text: {v}"))
}

fn entry(k: &TestKernel, date: &str, lines: Value) -> Result<Value, Error> {
    k.command("create-entry", json!({ "journal": "GEN", "date": date, "lines": lines, "post": true }))
}

fn row<'a>(tb: &'a Value, code: &str) -> Option<&'a Value> {
    tb["rows"].as_array().unwrap().iter().find(|r| r["code"] == code)
}

/// The closing balance of an account in a trial balance, debit positive.
fn closing(tb: &Value, code: &str) -> String {
    let Some(r) = row(tb, code) else { return "0.00".into() };
    let d: f64 = s(&r["closing_debit"]).parse().unwrap();
    let c: f64 = s(&r["closing_credit"]).parse().unwrap();
    format!("{:.2}", d - c)
}

fn tb(k: &TestKernel, from: &str, to: &str) -> Value {
    k.command("trial-balance", json!({ "from": from, "to": to })).unwrap()
}

fn invalid_on(e: Error, field: &str) -> String {
    match e {
        Error::Invalid(fields) => {
            let f = fields
                .iter()
                .find(|f| f.field.starts_with(field))
                .unwrap_or_else(|| panic!("no {field} in {fields:?}"));
            f.message.clone()
        }
        other => panic!("expected invalid {field}, got {other:?}"),
    }
}

#[test]
fn enabling_loads_the_russian_chart_once() {
    let k = kernel();
    let accounts = k.query("account", json!({ "limit": 500 })).unwrap();
    let codes: Vec<&str> = accounts.iter().map(|a| s(&a["data"]["code"])).collect();
    for code in ["01", "10.01", "41.01", "51", "60.01", "62.01", "68.02", "90.01", "90.02", "91.01", "99"] {
        assert!(codes.contains(&code), "{code} missing from {codes:?}");
    }
    let receivable = accounts.iter().find(|a| a["data"]["code"] == "62.01").unwrap();
    assert_eq!(receivable["data"]["role"], "receivable");
    assert_eq!(receivable["data"]["type"], "asset");
    let parent = accounts.iter().find(|a| a["data"]["code"] == "62").unwrap();
    assert_eq!(receivable["data"]["parent"], parent["id"]);
    // Loading again adds nothing; the IFRS template adds its own accounts beside.
    let again = k.command("load-chart", json!({ "template": "ru" })).unwrap();
    assert_eq!(again["accounts"], 0);
    let ifrs = k.command("load-chart", json!({ "template": "ifrs" })).unwrap();
    assert!(ifrs["accounts"].as_u64().unwrap() > 20);
    assert!(k.command("load-chart", json!({ "template": "us-gaap" })).is_err());
    let taxes = k.query("tax", json!({})).unwrap();
    assert!(taxes.iter().any(|t| t["data"]["code"] == "VAT20INC" && t["data"]["included"] == true));
}

#[test]
fn unbalanced_entries_are_refused_and_write_nothing() {
    let k = kernel();
    let e = entry(
        &k,
        "2026-03-10",
        json!([
            { "account": "51", "debit": "100.00" },
            { "account": "62.01", "credit": "90.00" },
        ]),
    )
    .unwrap_err();
    assert!(invalid_on(e, "lines").contains("differ by 10"), "names the difference");
    assert!(k.query("entry", json!({})).unwrap().is_empty());
    assert!(k.query("line", json!({})).unwrap().is_empty());
    assert!(k.query("balance", json!({})).unwrap().is_empty());
    // Both sides on one line, a negative amount, three decimals, a group account: refused.
    for (lines, field) in [
        (json!([{ "account": "51", "debit": "1", "credit": "1" }, { "account": "62.01", "credit": "0" }]), "lines.0"),
        (json!([{ "account": "51", "debit": "-5" }, { "account": "62.01", "credit": "-5" }]), "lines.0.debit"),
        (json!([{ "account": "51", "debit": "1.005" }, { "account": "62.01", "credit": "1.005" }]), "lines.0.debit"),
        (json!([{ "account": "62", "debit": "5" }, { "account": "51", "credit": "5" }]), "lines.0.account"),
        (json!([{ "account": "no-such", "debit": "5" }, { "account": "51", "credit": "5" }]), "lines.0.account"),
    ] {
        let e = entry(&k, "2026-03-10", lines).unwrap_err();
        invalid_on(e, field);
    }
    assert!(k.query("line", json!({})).unwrap().is_empty());
}

#[test]
fn posted_entries_never_change_and_reverse_once() {
    let k = kernel();
    let posted = entry(
        &k,
        "2026-03-10",
        json!([
            { "account": "51", "debit": "1500.00", "memo": "capital paid in" },
            { "account": "80", "credit": "1500.00" },
        ]),
    )
    .unwrap();
    assert_eq!(posted["state"], "posted");
    assert!(s(&posted["number"]).starts_with("GEN-2026-"));
    let eid = id(&posted);
    // Through the plugin's commands...
    invalid_on(k.command("update-entry", json!({ "id": eid, "memo": "changed" })).unwrap_err(), "id");
    invalid_on(k.command("delete-entry", json!({ "id": eid })).unwrap_err(), "id");
    invalid_on(k.command("post-entry", json!({ "id": eid })).unwrap_err(), "id");
    // ...and directly: the journal is kept by the plugin alone.
    assert!(matches!(k.update("entry", &eid, json!({ "memo": "changed" })), Err(Error::AccessDenied(_))));
    let line = k.query("line", json!({})).unwrap().remove(0);
    assert!(matches!(k.update("line", s(&line["id"]), json!({ "debit": "1.00" })), Err(Error::AccessDenied(_))));
    assert!(matches!(
        k.create("balance", json!({ "key": "x", "account": line["data"]["account"], "period": "2026-03" })),
        Err(Error::AccessDenied(_))
    ));
    assert_eq!(k.get("entry", &eid).unwrap()["data"]["memo"], Value::Null);

    let rev = k.command("reverse-entry", json!({ "id": eid, "date": "2026-03-20" })).unwrap();
    invalid_on(k.command("reverse-entry", json!({ "id": eid })).unwrap_err(), "id");
    let t = tb(&k, "2026-03-01", "2026-03-31");
    assert_eq!(closing(&t, "51"), "0.00");
    assert_eq!(t["totals"]["debit"], "3000.00");
    assert_eq!(k.get("entry", &id(&rev)).unwrap()["data"]["reversal_of"], json!(eid));
}

#[test]
fn drafts_change_until_posted() {
    let k = kernel();
    let d = k
        .command(
            "create-entry",
            json!({ "journal": "GEN", "date": "2026-04-02", "lines": [
            { "account": "26", "debit": "300" }, { "account": "60.01", "credit": "200" } ] }),
        )
        .unwrap();
    assert_eq!(d["state"], "draft");
    // A draft may be unbalanced while it is being written; it posts only once it balances.
    invalid_on(k.command("post-entry", json!({ "id": id(&d) })).unwrap_err(), "lines");
    k.command("update-entry", json!({ "id": id(&d), "lines": [
        { "account": "26", "debit": 300, "department": "sales" }, { "account": "60.01", "credit": 300, "partner": "v-1" } ] }))
        .unwrap();
    let p = k.command("post-entry", json!({ "id": id(&d) })).unwrap();
    assert_eq!(p["total"], "300.00");
    let lines = k.query("line", json!({ "filter": { "field": "department", "op": "eq", "value": "sales" } })).unwrap();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["data"]["debit"], "300.00");
}

#[test]
fn taxes_round_per_line_on_hand_computed_examples() {
    let k = kernel();
    let r = k
        .command(
            "compute-taxes",
            json!({ "lines": [
            // 3 x 33.33 = 99.99; 20% = 19.998 -> 20.00; total 119.99
            { "description": "a", "quantity": "3", "price": "33.33", "tax": "VAT20" },
            // 100 with 20% inside: 100 * 20 / 120 = 16.666.. -> 16.67; base 83.33
            { "description": "b", "quantity": "1", "price": "100", "tax": "VAT20INC" },
            // 0.05 at 10% = 0.005 -> 0.01 (half away from zero, not to even)
            { "description": "c", "quantity": "1", "price": "0.05", "tax": "VAT10" },
            // 2.5 x 0.33 = 0.825 -> 0.83; 20% = 0.166 -> 0.17
            { "description": "d", "quantity": "2.5", "price": "0.33", "tax": "VAT20" },
            // no tax
            { "description": "e", "quantity": "2", "price": "10.10" },
        ] }),
        )
        .unwrap();
    let l = r["lines"].as_array().unwrap();
    let triple = |i: usize| (s(&l[i]["base"]).to_string(), s(&l[i]["tax"]).to_string(), s(&l[i]["total"]).to_string());
    assert_eq!(triple(0), ("99.99".into(), "20.00".into(), "119.99".into()));
    assert_eq!(triple(1), ("83.33".into(), "16.67".into(), "100.00".into()));
    assert_eq!(triple(2), ("0.05".into(), "0.01".into(), "0.06".into()));
    assert_eq!(triple(3), ("0.83".into(), "0.17".into(), "1.00".into()));
    assert_eq!(triple(4), ("20.20".into(), "0.00".into(), "20.20".into()));
    assert_eq!((s(&r["untaxed"]), s(&r["tax"]), s(&r["total"])), ("204.40", "36.85", "241.25"));
}

fn invoice(k: &TestKernel, partner: &str, date: &str, lines: Value) -> String {
    let inv = k
        .command(
            "create-invoice",
            json!({ "kind": "invoice", "partner": partner, "partner_name": "ООО Ромашка",
            "date": date, "payment_days": 10, "lines": lines }),
        )
        .unwrap();
    let posted = k.command("post-invoice", json!({ "id": id(&inv) })).unwrap();
    assert_eq!(posted["state"], "posted");
    id(&posted)
}

#[test]
fn an_invoice_paid_in_two_parts_ends_paid_with_a_balanced_ledger() {
    let k = kernel();
    let inv = invoice(
        &k,
        "c-1",
        "2026-05-05",
        json!([
        { "description": "Стол", "quantity": 2, "price": "6000.00", "tax": "VAT20INC" } ]),
    );
    let got = k.get("invoice", &inv).unwrap()["data"].clone();
    assert_eq!((s(&got["total"]), s(&got["tax"]), s(&got["due_date"])), ("12000.00", "2000.00", "2026-05-15"));
    assert!(s(&got["number"]).starts_with("INV-2026-"));
    // Russian books: 62.01 to 90.01 with tax, then the tax from 90.03 to 68.02.
    let t = tb(&k, "2026-05-01", "2026-05-31");
    assert_eq!(closing(&t, "62.01"), "12000.00");
    assert_eq!(closing(&t, "90.01"), "-12000.00");
    assert_eq!(closing(&t, "90.03"), "2000.00");
    assert_eq!(closing(&t, "68.02"), "-2000.00");

    let p1 = k
        .command(
            "register-payment",
            json!({ "direction": "in", "partner": "c-1", "date": "2026-05-10", "amount": "5000",
            "invoices": [{ "invoice": inv }] }),
        )
        .unwrap();
    assert_eq!(p1["allocated"][0]["amount"], "5000.00");
    let mid = k.get("invoice", &inv).unwrap()["data"].clone();
    assert_eq!((s(&mid["state"]), s(&mid["residual"])), ("partial", "7000.00"));
    // Paying more than is left is refused; the second part pays it off.
    invalid_on(
        k.command(
            "register-payment",
            json!({ "direction": "in", "partner": "c-1", "date": "2026-05-12", "amount": "8000",
            "invoices": [{ "invoice": inv, "amount": "8000" }] }),
        )
        .unwrap_err(),
        "invoices.0.amount",
    );
    k.command(
        "register-payment",
        json!({ "direction": "in", "partner": "c-1", "date": "2026-05-20", "amount": "7000" }),
    )
    .unwrap();
    let done = k.get("invoice", &inv).unwrap()["data"].clone();
    assert_eq!((s(&done["state"]), s(&done["residual"])), ("paid", "0.00"));
    let t = tb(&k, "2026-05-01", "2026-05-31");
    assert!(t["balanced"].as_bool().unwrap());
    assert_eq!(closing(&t, "62.01"), "0.00");
    assert_eq!(closing(&t, "51"), "12000.00");
    let names: Vec<String> = k.events().unwrap().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names.iter().filter(|n| *n == "accounting.payment.received").count(), 2);
    assert_eq!(names.iter().filter(|n| *n == "accounting.invoice.paid").count(), 1);
    let (_, received) = k.events().unwrap().into_iter().find(|(n, _)| n == "accounting.payment.received").unwrap();
    assert_eq!((s(&received["customer"]), s(&received["amount"])), ("c-1", "5000.00"));
    assert_eq!(received["paid_at"], "2026-05-10T00:00:00Z");
}

#[test]
fn overpayment_stays_as_credit_for_the_next_invoice() {
    let k = kernel();
    let first = invoice(&k, "c-2", "2026-06-01", json!([{ "description": "x", "quantity": 1, "price": "100" }]));
    let pay = k
        .command(
            "register-payment",
            json!({ "direction": "in", "partner": "c-2", "date": "2026-06-02", "amount": "150" }),
        )
        .unwrap();
    assert_eq!(pay["unallocated"], "50.00");
    assert_eq!(k.get("invoice", &first).unwrap()["data"]["state"], "paid");
    let aged = k.command("aged", json!({ "kind": "receivable", "at": "2026-06-03" })).unwrap();
    assert_eq!(aged["partners"][0]["credit"], "50.00");
    let second = invoice(&k, "c-2", "2026-06-05", json!([{ "description": "y", "quantity": 1, "price": "80" }]));
    let a = k.command("allocate", json!({ "payment": id(&pay), "invoice": second, "date": "2026-06-05" })).unwrap();
    assert_eq!((s(&a["amount"]), s(&a["unallocated"])), ("50.00", "0.00"));
    let inv = k.get("invoice", &second).unwrap()["data"].clone();
    assert_eq!((s(&inv["state"]), s(&inv["residual"])), ("partial", "30.00"));
    invalid_on(k.command("allocate", json!({ "payment": id(&pay), "invoice": second })).unwrap_err(), "payment");
    // Receivable 100 + 80 - 150 = 30 at the end.
    assert_eq!(closing(&tb(&k, "2026-06-01", "2026-06-30"), "62.01"), "30.00");
}

#[test]
fn cancelling_posts_a_credit_note_and_the_aged_report_follows_dates() {
    let k = kernel();
    let inv = invoice(
        &k,
        "c-3",
        "2026-01-10",
        json!([{ "description": "x", "quantity": 1, "price": "1200", "tax": "VAT20INC" }]),
    );
    let old = invoice(&k, "c-4", "2025-09-01", json!([{ "description": "y", "quantity": 1, "price": "500" }]));
    let aged = k.command("aged", json!({ "kind": "receivable", "at": "2026-01-31" })).unwrap();
    assert_eq!(aged["totals"]["1_30"], "1200.00"); // due 2026-01-20, 11 days late
    assert_eq!(aged["totals"]["over_90"], "500.00");
    let c = k.command("cancel-invoice", json!({ "id": inv, "date": "2026-02-01" })).unwrap();
    assert_eq!(c["invoice"]["state"], "cancelled");
    assert!(s(&c["credit_note"]["number"]).starts_with("CN-2026-"));
    invalid_on(k.command("cancel-invoice", json!({ "id": inv })).unwrap_err(), "id");
    // Before the credit note the invoice was still owed; after it, not.
    let before = k.command("aged", json!({ "kind": "receivable", "at": "2026-01-31" })).unwrap();
    assert_eq!(before["total"], "1700.00");
    let after = k.command("aged", json!({ "kind": "receivable", "at": "2026-02-02" })).unwrap();
    assert_eq!(after["total"], "500.00");
    let t = tb(&k, "2026-01-01", "2026-02-28");
    for code in ["90.03", "68.02"] {
        assert_eq!(closing(&t, code), "0.00", "{code} is back to zero");
    }
    assert_eq!(closing(&t, "90.01"), "-500.00", "only last year's invoice is left in revenue");
    assert_eq!(row(&t, "90.01").unwrap()["opening_credit"], "500.00");
    // A paid invoice is not cancelled.
    k.command(
        "register-payment",
        json!({ "direction": "in", "partner": "c-4", "date": "2026-02-03", "amount": "100" }),
    )
    .unwrap();
    invalid_on(k.command("cancel-invoice", json!({ "id": old })).unwrap_err(), "id");
}

#[test]
fn bills_post_expense_and_recoverable_tax_against_payables() {
    let k = kernel();
    let bill = k
        .command(
            "create-invoice",
            json!({ "kind": "bill", "partner": "v-1", "date": "2026-07-01", "due_date": "2026-07-31",
            "lines": [{ "description": "Аренда", "quantity": 1, "price": "50000", "tax": "VAT20", "account": "26" }] }),
        )
        .unwrap();
    k.command("post-invoice", json!({ "id": id(&bill) })).unwrap();
    k.command(
        "register-payment",
        json!({ "direction": "out", "partner": "v-1", "date": "2026-07-15", "amount": "60000" }),
    )
    .unwrap();
    let t = tb(&k, "2026-07-01", "2026-07-31");
    assert_eq!(closing(&t, "26"), "50000.00");
    assert_eq!(closing(&t, "19.03"), "10000.00");
    assert_eq!(closing(&t, "60.01"), "0.00");
    assert_eq!(closing(&t, "51"), "-60000.00");
    assert_eq!(k.get("invoice", &id(&bill)).unwrap()["data"]["state"], "paid");
}

#[test]
fn nothing_posts_into_a_locked_period() {
    let k = kernel();
    let draft = k
        .command(
            "create-entry",
            json!({ "journal": "GEN", "date": "2026-03-15", "lines": [
            { "account": "51", "debit": "10" }, { "account": "80", "credit": "10" } ] }),
        )
        .unwrap();
    let inv = k
        .command(
            "create-invoice",
            json!({ "kind": "invoice", "partner": "c-9", "date": "2026-03-20",
            "lines": [{ "description": "x", "quantity": 1, "price": "10" }] }),
        )
        .unwrap();
    k.command("lock-period", json!({ "until": "2026-03-31" })).unwrap();
    assert!(invalid_on(k.command("post-entry", json!({ "id": id(&draft) })).unwrap_err(), "date").contains("locked"));
    invalid_on(k.command("post-invoice", json!({ "id": id(&inv) })).unwrap_err(), "date");
    invalid_on(
        k.command(
            "register-payment",
            json!({ "direction": "in", "partner": "c-9", "date": "2026-03-31", "amount": "1" }),
        )
        .unwrap_err(),
        "date",
    );
    assert!(k.query("line", json!({})).unwrap().is_empty());
    // The first open day posts; a stock move dated in the closed month lands on it.
    entry(&k, "2026-04-01", json!([{ "account": "51", "debit": "10" }, { "account": "80", "credit": "10" }])).unwrap();
    k.handle(
        "move-done",
        "ev-1",
        "warehouse.move.done",
        json!({ "id": "m-1", "kind": "receipt", "sku": "A", "quantity": "2",
        "from_kind": "supplier", "to_kind": "bin", "value": "70.00", "done_at": "2026-03-30T10:00:00Z" }),
    )
    .unwrap();
    let stock = k
        .query("entry", json!({ "filter": { "field": "source", "op": "eq", "value": "warehouse.move:m-1" } }))
        .unwrap();
    assert_eq!(stock[0]["data"]["date"], "2026-04-01");
    assert!(k.events().unwrap().iter().any(|(n, p)| n == "accounting.period.locked" && p["until"] == "2026-03-31"));
}

#[test]
fn stock_moves_post_their_value_once() {
    let k = kernel();
    let mv = |event: &str, id: &str, from: &str, to: &str, value: &str| {
        k.handle(
            "move-done",
            event,
            "warehouse.move.done",
            json!({ "id": id, "kind": "issue", "sku": "CHAIR", "quantity": "1",
            "from_kind": from, "to_kind": to, "value": value, "done_at": "2026-08-03T09:00:00Z" }),
        )
        .unwrap();
    };
    mv("e1", "m1", "supplier", "zone", "1000.00");
    mv("e1", "m1", "supplier", "zone", "1000.00"); // delivered again
    mv("e2", "m2", "bin", "customer", "600.00");
    mv("e3", "m3", "bin", "loss", "100.00");
    mv("e4", "m4", "bin", "bin", "0"); // a transfer: nothing to post
    let t = tb(&k, "2026-08-01", "2026-08-31");
    assert_eq!(closing(&t, "41.01"), "300.00");
    assert_eq!(closing(&t, "76.09"), "-1000.00");
    assert_eq!(closing(&t, "90.02"), "600.00");
    assert_eq!(closing(&t, "94"), "100.00");
    assert_eq!(k.query("entry", json!({})).unwrap().len(), 3);
}

#[test]
fn a_won_deal_becomes_one_draft_invoice_even_when_delivered_twice() {
    let k = kernel();
    let won = json!({ "id": "01J0DEAL0000000000000000AA", "title": "Кухня для Иванова", "customer": "01J0CUST0000000000000000AA",
        "amount": "30000", "currency": "RUB", "closed_at": "2026-09-01T12:00:00Z",
        "lines": [{ "product": "TABLE", "name": "Стол", "quantity": "2", "price": "12000" },
                  { "product": "CHAIR", "name": "Стул", "quantity": "1", "price": "6000" }] });
    k.handle("deal-won", "ev-7", "crm.deal.won", won.clone()).unwrap();
    k.handle("deal-won", "ev-7", "crm.deal.won", won.clone()).unwrap();
    let invoices = k.query("invoice", json!({})).unwrap();
    assert_eq!(invoices.len(), 1);
    let inv = &invoices[0]["data"];
    assert_eq!((s(&inv["state"]), s(&inv["total"]), s(&inv["tax"])), ("draft", "30000.00", "5000.00"));
    assert_eq!(inv["partner"], "01J0CUST0000000000000000AA");
    assert_eq!(inv["date"], "2026-09-01");
    assert_eq!(inv["lines"][0]["tax"], "VAT20INC");
    // Without the CRM capability granted, the deal's title names the customer.
    assert_eq!(inv["partner_name"], "Кухня для Иванова");
    // A deal without lines is invoiced for its amount.
    k.handle(
        "deal-won",
        "ev-8",
        "crm.deal.won",
        json!({ "id": "d-2", "title": "Услуги", "customer": "c", "amount": "999.99" }),
    )
    .unwrap();
    assert_eq!(k.query("invoice", json!({})).unwrap().len(), 2);
}

#[test]
fn foreign_currency_invoices_clear_at_their_rate_with_an_exchange_difference() {
    let k = kernel();
    k.create("rate", json!({ "currency": "USD", "date": "2026-10-01", "rate": "90.00" })).unwrap();
    k.create("rate", json!({ "currency": "USD", "date": "2026-10-15", "rate": "92.50" })).unwrap();
    assert!(k.create("rate", json!({ "currency": "USD", "date": "2026-10-15", "rate": "1" })).is_err());
    let inv = k
        .command(
            "create-invoice",
            json!({ "kind": "invoice", "partner": "c-usd", "date": "2026-10-05", "currency": "USD",
            "lines": [{ "description": "Консультация", "quantity": 1, "price": "1000" }] }),
        )
        .unwrap();
    k.command("post-invoice", json!({ "id": id(&inv) })).unwrap();
    let posted = k.get("invoice", &id(&inv)).unwrap()["data"].clone();
    assert_eq!(posted["rate"], "90.00");
    k.command(
        "register-payment",
        json!({ "direction": "in", "partner": "c-usd", "date": "2026-10-20", "amount": "1000", "currency": "USD" }),
    )
    .unwrap();
    let t = tb(&k, "2026-10-01", "2026-10-31");
    assert_eq!(closing(&t, "62.01"), "0.00");
    assert_eq!(closing(&t, "51"), "92500.00");
    assert_eq!(closing(&t, "90.01"), "-90000.00");
    assert_eq!(closing(&t, "91.01"), "-2500.00"); // the gain on the rate
    assert!(t["balanced"].as_bool().unwrap());
    let lines = k.query("line", json!({ "filter": { "field": "currency", "op": "eq", "value": "USD" } }));
    assert!(lines.is_ok());
    // Without a rate for the day, posting says so.
    let eur = k
        .command(
            "create-invoice",
            json!({ "kind": "invoice", "partner": "c-eur", "date": "2026-10-05", "currency": "EUR",
            "lines": [{ "description": "x", "quantity": 1, "price": "1" }] }),
        )
        .unwrap();
    assert!(invalid_on(k.command("post-invoice", json!({ "id": id(&eur) })).unwrap_err(), "rate").contains("EUR"));
}

/// A small deterministic generator for the random sequence.
struct Dice(u64);

impl Dice {
    fn next(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[test]
fn the_trial_balance_sums_to_zero_after_any_sequence_of_operations() {
    let k = kernel();
    let mut dice = Dice(0x9e37_79b9_7f4a_7c15);
    let accounts = ["51", "50.01", "26", "44", "60.01", "62.01", "41.01", "80", "91.01", "91.02", "68.02", "19.03"];
    let taxes = [None, Some("VAT20"), Some("VAT20INC"), Some("VAT10")];
    let mut posted = Vec::new();
    let mut invoices = Vec::new();
    for step in 0..60 {
        let day = format!("2026-{:02}-{:02}", 1 + dice.next(6), 1 + dice.next(28));
        match dice.next(5) {
            0 | 1 => {
                let amount = format!("{}.{:02}", dice.next(100_000), dice.next(100));
                let (a, b) = (accounts[dice.next(12) as usize], accounts[dice.next(12) as usize]);
                let split = format!("{}.{:02}", dice.next(50), dice.next(100));
                let rest = (amount.parse::<f64>().unwrap() * 100.0).round() as i64
                    + (split.parse::<f64>().unwrap() * 100.0).round() as i64;
                if let Ok(e) = entry(
                    &k,
                    &day,
                    json!([
                    { "account": a, "debit": amount }, { "account": "90.02", "debit": split },
                    { "account": b, "credit": format!("{}.{:02}", rest / 100, rest % 100) } ]),
                ) {
                    posted.push(id(&e));
                }
            }
            2 => {
                let lines: Vec<Value> = (0..1 + dice.next(3))
                    .map(|i| json!({ "description": format!("line {i}"), "quantity": format!("{}.{}", 1 + dice.next(9), dice.next(10)),
                                     "price": format!("{}.{:02}", dice.next(5000), dice.next(100)), "tax": taxes[dice.next(4) as usize] }))
                    .collect();
                let kind = if dice.next(3) == 0 { "bill" } else { "invoice" };
                let partner = format!("p-{}", dice.next(4));
                let draft = json!({ "kind": kind, "partner": partner, "date": day, "lines": lines });
                if let Ok(inv) = k.command("create-invoice", draft)
                    && k.command("post-invoice", json!({ "id": id(&inv) })).is_ok()
                {
                    invoices.push((id(&inv), kind, partner));
                }
            }
            3 if !invoices.is_empty() => {
                let (_, kind, partner) = &invoices[dice.next(invoices.len() as u64) as usize];
                let direction = if *kind == "bill" { "out" } else { "in" };
                let amount = format!("{}.{:02}", 1 + dice.next(8000), dice.next(100));
                k.command(
                    "register-payment",
                    json!({ "direction": direction, "partner": partner, "date": "2026-06-30", "amount": amount }),
                )
                .unwrap();
            }
            4 if !posted.is_empty() && step % 3 == 0 => {
                let e = posted.swap_remove(dice.next(posted.len() as u64) as usize);
                k.command("reverse-entry", json!({ "id": e, "date": "2026-06-30" })).unwrap();
            }
            _ if !invoices.is_empty() => {
                let (inv, _, _) = &invoices[dice.next(invoices.len() as u64) as usize];
                let _ = k.command("cancel-invoice", json!({ "id": inv, "date": "2026-06-30" }));
            }
            _ => {}
        }
    }
    for (from, to) in [
        ("2026-01-01", "2026-06-30"),
        ("2026-02-14", "2026-05-09"),
        ("2026-03-01", "2026-03-31"),
        ("2026-06-30", "2026-06-30"),
    ] {
        let t = tb(&k, from, to);
        assert!(t["balanced"].as_bool().unwrap(), "{from}..{to}: {}", t["totals"]);
        let net: f64 = t["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| s(&r["closing_debit"]).parse::<f64>().unwrap() - s(&r["closing_credit"]).parse::<f64>().unwrap())
            .sum();
        assert!(net.abs() < 0.005, "closing balances sum to {net}");
    }
    // The balances kept per month agree with the lines themselves.
    let lines = k.query("line", json!({ "limit": 500 })).unwrap();
    assert!(lines.len() < 500, "every line was read");
    let (d, c) = lines.iter().fold((0i64, 0i64), |(d, c), l| {
        let cents = |v: &Value| (s(v).parse::<f64>().unwrap() * 100.0).round() as i64;
        (d + cents(&l["data"]["debit"]), c + cents(&l["data"]["credit"]))
    });
    assert_eq!(d, c);
    // A range cut inside months (daily balances at its ends) agrees with its lines.
    let inside: i64 = lines
        .iter()
        .filter(|l| ("2026-02-14".."2026-05-10").contains(&s(&l["data"]["date"])))
        .map(|l| (s(&l["data"]["debit"]).parse::<f64>().unwrap() * 100.0).round() as i64)
        .sum();
    let part = tb(&k, "2026-02-14", "2026-05-09");
    assert_eq!((s(&part["totals"]["debit"]).parse::<f64>().unwrap() * 100.0).round() as i64, inside);
    let year = tb(&k, "2026-01-01", "2026-12-31");
    assert_eq!((s(&year["totals"]["debit"]).parse::<f64>().unwrap() * 100.0).round() as i64, d);
    let bs = k.command("balance-sheet", json!({ "at": "2026-12-31" })).unwrap();
    assert!(bs["balanced"].as_bool().unwrap(), "{bs}");
}

#[test]
fn reports_read_partial_months_and_the_ledger_runs() {
    let k = kernel();
    entry(&k, "2026-01-31", json!([{ "account": "51", "debit": "100" }, { "account": "80", "credit": "100" }]))
        .unwrap();
    entry(&k, "2026-02-10", json!([{ "account": "26", "debit": "40" }, { "account": "51", "credit": "40" }])).unwrap();
    entry(&k, "2026-02-20", json!([{ "account": "51", "debit": "15" }, { "account": "91.01", "credit": "15" }]))
        .unwrap();
    entry(&k, "2026-03-05", json!([{ "account": "26", "debit": "5" }, { "account": "51", "credit": "5" }])).unwrap();
    let t = tb(&k, "2026-02-15", "2026-03-04");
    let bank = row(&t, "51").unwrap();
    assert_eq!(
        (s(&bank["opening_debit"]), s(&bank["debit"]), s(&bank["credit"]), s(&bank["closing_debit"])),
        ("60.00", "15.00", "0.00", "75.00")
    );
    let gl = k.command("general-ledger", json!({ "account": "51", "from": "2026-02-01", "to": "2026-03-31" })).unwrap();
    assert_eq!(gl["opening"], "100.00");
    let balances: Vec<&str> = gl["rows"].as_array().unwrap().iter().map(|r| s(&r["balance"])).collect();
    assert_eq!(balances, ["60.00", "75.00", "70.00"]);
    assert_eq!(gl["closing"], "70.00");
    let pl = k.command("profit-and-loss", json!({ "from": "2026-01-01", "to": "2026-03-31" })).unwrap();
    assert_eq!((s(&pl["total_income"]), s(&pl["total_expenses"]), s(&pl["result"])), ("15.00", "45.00", "-30.00"));
    let bs = k.command("balance-sheet", json!({ "at": "2026-03-31" })).unwrap();
    assert_eq!(
        (s(&bs["total_assets"]), s(&bs["total_equity"]), s(&bs["unclosed_result"])),
        ("70.00", "100.00", "-30.00")
    );
    assert!(bs["balanced"].as_bool().unwrap());
    invalid_on(k.command("trial-balance", json!({ "from": "2026-03-01", "to": "2026-02-01" })).unwrap_err(), "from");
    invalid_on(k.command("trial-balance", json!({ "from": "yesterday" })).unwrap_err(), "from");
}

#[test]
fn permissions_separate_entering_posting_and_closing() {
    let k = kernel();
    let lines = json!([{ "account": "51", "debit": "10" }, { "account": "80", "credit": "10" }]);
    let d = k
        .command_as(
            &["accounting.enter"],
            "create-entry",
            json!({ "journal": "GEN", "date": "2026-02-01", "lines": lines }),
        )
        .unwrap();
    assert!(matches!(
        k.command_as(&["accounting.enter"], "post-entry", json!({ "id": id(&d) })),
        Err(Error::AccessDenied(_))
    ));
    assert!(matches!(
        k.command_as(&["accounting.post"], "lock-period", json!({ "until": "2026-01-31" })),
        Err(Error::AccessDenied(_))
    ));
    assert!(matches!(k.command_as(&["accounting.enter"], "trial-balance", json!({})), Err(Error::AccessDenied(_))));
    k.command_as(&["accounting.post"], "post-entry", json!({ "id": id(&d) })).unwrap();
    k.command_as(&["accounting.view"], "trial-balance", json!({})).unwrap();
}

#[test]
fn documents_keep_their_amounts_and_their_entries() {
    let k = kernel();
    // Posting straight from a draft needs the right to post.
    let lines = json!([{ "account": "51", "debit": "10" }, { "account": "80", "credit": "10" }]);
    let r = k.command_as(
        &["accounting.enter"],
        "create-entry",
        json!({ "journal": "GEN", "date": "2026-02-01", "lines": lines, "post": true }),
    );
    assert!(matches!(r, Err(Error::AccessDenied(_))), "{r:?}");
    assert!(k.query("entry", json!({})).unwrap().is_empty());
    // A tax changed after the draft was entered does not change what the invoice posts.
    let inv = k
        .command(
            "create-invoice",
            json!({ "kind": "invoice", "partner": "c-t", "date": "2026-02-02",
            "lines": [{ "description": "x", "quantity": 1, "price": "1000", "tax": "VAT20" }] }),
        )
        .unwrap();
    let vat = k.query("tax", json!({ "filter": { "field": "code", "op": "eq", "value": "VAT20" } })).unwrap().remove(0);
    k.update("tax", vat["id"].as_str().unwrap(), json!({ "rate": "10" })).unwrap();
    k.command("post-invoice", json!({ "id": id(&inv) })).unwrap();
    let t = tb(&k, "2026-02-01", "2026-02-28");
    assert_eq!((closing(&t, "62.01"), closing(&t, "68.02")), ("1200.00".to_string(), "-200.00".to_string()));
    k.command("cancel-invoice", json!({ "id": id(&inv), "date": "2026-02-03" })).unwrap();
    let t = tb(&k, "2026-02-01", "2026-02-28");
    assert_eq!(
        (closing(&t, "62.01"), closing(&t, "68.02"), closing(&t, "90.03")),
        ("0.00".into(), "0.00".into(), "0.00".into())
    );
    // An invoice's entry is corrected through the invoice, not reversed on its own.
    let entry = k.get("invoice", &id(&inv)).unwrap()["data"]["entry"].as_str().unwrap().to_string();
    invalid_on(k.command("reverse-entry", json!({ "id": entry })).unwrap_err(), "id");
}

#[test]
fn a_paid_foreign_currency_invoice_leaves_no_kopeck_behind() {
    let k = kernel();
    // Two lines of one cent at 1.5: each rounds to 0.02, the total of 0.03 to 0.05; the
    // receivable takes the kopeck (0.04 against two credits of 0.02).
    let inv = k
        .command(
            "create-invoice",
            json!({ "kind": "invoice", "partner": "c-fx", "date": "2026-04-01", "currency": "USD", "rate": "1.5",
            "lines": [{ "description": "a", "quantity": 1, "price": "0.01", "account": "90.01" },
                      { "description": "b", "quantity": 1, "price": "0.01", "account": "91.01" }] }),
        )
        .unwrap();
    k.command("post-invoice", json!({ "id": id(&inv) })).unwrap();
    assert_eq!(closing(&tb(&k, "2026-04-01", "2026-04-30"), "62.01"), "0.04");
    k.command(
        "register-payment",
        json!({ "direction": "in", "partner": "c-fx", "date": "2026-04-02", "amount": "0.02",
        "currency": "USD", "rate": "1.5" }),
    )
    .unwrap();
    let t = tb(&k, "2026-04-01", "2026-04-30");
    assert_eq!(closing(&t, "62.01"), "0.00");
    assert_eq!(closing(&t, "51"), "0.03");
    assert_eq!(closing(&t, "91.02"), "0.01", "the rounding is an exchange difference");
    assert_eq!(k.get("invoice", &id(&inv)).unwrap()["data"]["state"], "paid");
}

#[test]
fn the_demo_keeps_balanced_books_with_a_locked_past() {
    let k = kernel();
    assert_eq!(k.demo(&[], "2026-12-05").unwrap(), 1);
    let invoices = k.query("invoice", json!({ "limit": 500 })).unwrap();
    assert_eq!(invoices.len(), 9, "four rent bills, four customer invoices, one in dollars");
    assert!(invoices.iter().any(|i| i["data"]["currency"] == "USD"));
    let trial = k.command("trial-balance", json!({ "from": "2026-01-01", "to": "2026-12-31" })).unwrap();
    assert_eq!(trial["totals"]["debit"], trial["totals"]["credit"], "{trial}");
    // The period the demo locked refuses new entries.
    let late = json!({ "journal": "GEN", "date": "2026-08-01", "memo": "late", "post": true,
                       "lines": [{ "account": "26", "debit": "1.00" }, { "account": "51", "credit": "1.00" }] });
    assert!(matches!(k.command("create-entry", late), Err(Error::Invalid(_) | Error::Conflict(_))));
}
