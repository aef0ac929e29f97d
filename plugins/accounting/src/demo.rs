//! Sample books for `erp serve --demo`: share capital and a loan in the bank, vendor bills for
//! rent, customer invoices (paid, partly paid, overdue, one in dollars) and a locked past
//! period. The demo's stock moves and won deals reach these books through the event bus.

use chrono::{Days, NaiveDate};
use erp_sdk::{DemoAnswer, DemoRequest, Plugin, Result, Value, json, store};

use crate::{Accounting, dates};

/// Fills the books in one step.
pub fn step(request: &DemoRequest) -> Result<DemoAnswer> {
    let today = dates::parse("today", &request.today)?;
    let d = |days_ago: u64| dates::format(today.checked_sub_days(Days::new(days_ago)).unwrap_or(today));
    for (ago, rate) in [(35, "91.20"), (20, "93.45")] {
        store::create::<Value>("rate", &json!({ "currency": "USD", "date": d(ago), "rate": rate }))?;
    }
    let run = Accounting::command;
    run("create-entry", entry(d(120), "Оплата уставного капитала", "51", "80", "1000000.00"))?;
    run("create-entry", entry(d(110), "Получен краткосрочный кредит", "51", "66", "500000.00"))?;
    run("create-entry", entry(d(100), "Касса: получено из банка", "50.01", "51", "30000.00"))?;
    rent(today)?;
    // Customer invoices: paid, paid in part, overdue.
    let customers = [
        ("demo-romashka", "ООО «Ромашка»", 95u64, "48000.00", Some("48000.00")),
        ("demo-vector", "АО «Вектор»", 60, "126500.00", Some("60000.00")),
        ("demo-polyus", "ИП Полюсов С. А.", 50, "23900.00", None),
        ("demo-bereza", "ООО «Берёза»", 8, "310000.00", None),
    ];
    for (partner, name, ago, price, paid) in customers {
        let invoice = json!({ "kind": "invoice", "partner": partner, "partner_name": name, "date": d(ago), "payment_days": "14",
            "lines": [{ "description": "Офисная мебель по спецификации", "quantity": 1, "price": price, "tax": "VAT20INC" }] });
        let id = run("create-invoice", invoice)?["id"].clone();
        run("post-invoice", json!({ "id": id }))?;
        if paid.is_none() {
            // The unpaid ones were sent with their printed forms.
            run("print-invoice", json!({ "id": id, "form": "invoice", "language": "ru" }))?;
            run("print-invoice", json!({ "id": id, "form": "act", "language": "ru" }))?;
        }
        if let Some(amount) = paid {
            let payment = json!({ "direction": "in", "partner": partner, "partner_name": name, "date": d(ago - 5),
                                  "amount": amount, "invoices": [{ "invoice": id }] });
            run("register-payment", payment)?;
        }
    }
    // A dollar invoice, at the rates entered above.
    let usd = json!({ "kind": "invoice", "partner": "demo-nordic", "partner_name": "Nordic Interiors AB", "date": d(30),
        "currency": "USD", "payment_days": "30",
        "lines": [{ "description": "Design consulting, 40 hours", "quantity": 40, "price": "75.00" }] });
    let id = run("create-invoice", usd)?["id"].clone();
    run("post-invoice", json!({ "id": id }))?;
    run(
        "register-payment",
        json!({ "direction": "in", "partner": "demo-nordic", "partner_name": "Nordic Interiors AB",
                "date": d(15), "amount": "3000.00", "currency": "USD" }),
    )?;
    run("create-entry", entry(d(5), "Хозяйственные расходы наличными", "26", "50.01", "4350.00"))?;
    run("lock-period", json!({ "until": d(90) }))?;
    Ok(DemoAnswer::done())
}

/// A posted general-journal entry of one debit and one credit.
fn entry(date: String, memo: &str, debit: &str, credit: &str, amount: &str) -> Value {
    json!({ "journal": "GEN", "date": date, "memo": memo, "post": true,
            "lines": [{ "account": debit, "debit": amount }, { "account": credit, "credit": amount }] })
}

/// Four months of rent, billed and (all but the last) paid.
fn rent(today: NaiveDate) -> Result<()> {
    let d = |days_ago: u64| dates::format(today.checked_sub_days(Days::new(days_ago)).unwrap_or(today));
    for (n, ago) in [100u64, 70, 40, 10].into_iter().enumerate() {
        let bill = json!({ "kind": "bill", "partner": "vendor-arenda", "partner_name": "ООО «Аренда-Сити»", "date": d(ago),
            "payment_days": "5", "reference": format!("Аренда, месяц {}", n + 1),
            "lines": [{ "description": "Аренда склада и офиса", "quantity": 1, "price": "85000.00", "tax": "VAT20INC", "account": "26" }] });
        let id = Accounting::command("create-invoice", bill)?["id"].clone();
        Accounting::command("post-invoice", json!({ "id": id }))?;
        if ago > 10 {
            let payment = json!({ "direction": "out", "partner": "vendor-arenda", "partner_name": "ООО «Аренда-Сити»",
                                  "date": d(ago - 3), "amount": "85000.00" });
            Accounting::command("register-payment", payment)?;
        }
    }
    Ok(())
}
