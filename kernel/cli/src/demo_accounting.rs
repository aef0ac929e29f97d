//! The accounting part of the demo: the Russian chart, share capital and a loan in the bank,
//! vendor bills for rent and goods, customer invoices (paid, partly paid, overdue, one in
//! dollars), a locked past period; the demo's stock moves and won deals reach the books
//! through the event bus. All of it through the plugin's commands.

use chrono::{Days, NaiveDate};
use serde_json::{Value, json};

use erp_kernel::Platform;
use erp_kernel::access::CompanyScope;
use erp_kernel::plugins::PluginError;
use erp_kernel::plugins::lifecycle::{self, EnableRequest};
use erp_kernel::records::{self, Caller, Collection};
use erp_kernel::session::Session;

fn day(today: NaiveDate, days_ago: u64) -> String {
    today.checked_sub_days(Days::new(days_ago)).unwrap_or(today).format("%Y-%m-%d").to_string()
}

/// Enables accounting for the demo company and fills its books, once. Runs before the
/// warehouse and CRM demos, so that their stock moves and won deals post here.
pub fn sample_accounting(platform: &Platform, company_id: &str) -> Result<(), PluginError> {
    let mut session = Session::begin(&platform.db, company_id, None)?;
    if platform.plugins.enabled_names(session.conn()?, company_id)?.iter().any(|n| n == "accounting") {
        return Ok(());
    }
    let scope = CompanyScope::system(company_id);
    let request = EnableRequest { grants: vec!["crm.customer".into()], ..EnableRequest::default() };
    let enabled = lifecycle::enable(platform, &mut session, &scope, "accounting", request)?;
    let today = chrono::DateTime::from_timestamp_micros(erp_kernel::clock::now()).unwrap_or_default().date_naive();
    let rates = Collection::new(enabled.manifest.clone(), "rate")
        .ok_or_else(|| PluginError::Internal("accounting has no rate".into()))?;
    for (ago, rate) in [(35, "91.20"), (20, "93.45")] {
        let body = json!({ "currency": "USD", "date": day(today, ago), "rate": rate });
        records::create(&mut session, platform, Caller::User(&scope), &rates, body)?;
    }
    let mut run = |command: &str, input: Value| {
        lifecycle::run_command(platform, &mut session, &scope, "accounting", command, input)
    };
    let d = |n: u64| day(today, n);
    let entry = |date: String, memo: &str, debit: &str, credit: &str, amount: &str| {
        json!({ "journal": "GEN", "date": date, "memo": memo, "post": true,
                "lines": [{ "account": debit, "debit": amount }, { "account": credit, "credit": amount }] })
    };
    run("create-entry", entry(d(120), "Оплата уставного капитала", "51", "80", "1000000.00"))?;
    run("create-entry", entry(d(110), "Получен краткосрочный кредит", "51", "66", "500000.00"))?;
    run("create-entry", entry(d(100), "Касса: получено из банка", "50.01", "51", "30000.00"))?;
    // Monthly rent, billed and paid.
    for (n, ago) in [100u64, 70, 40, 10].into_iter().enumerate() {
        let bill = json!({ "kind": "bill", "partner": "vendor-arenda", "partner_name": "ООО «Аренда-Сити»", "date": d(ago),
            "payment_days": 5, "reference": format!("Аренда, месяц {}", n + 1),
            "lines": [{ "description": "Аренда склада и офиса", "quantity": 1, "price": "85000.00", "tax": "VAT20INC", "account": "26" }] });
        let id = run("create-invoice", bill)?["id"].clone();
        run("post-invoice", json!({ "id": id }))?;
        if ago > 10 {
            let pay = json!({ "direction": "out", "partner": "vendor-arenda", "partner_name": "ООО «Аренда-Сити»",
                              "date": d(ago - 3), "amount": "85000.00" });
            run("register-payment", pay)?;
        }
    }
    // Customer invoices: paid, paid in part, overdue.
    let customers = [
        ("demo-romashka", "ООО «Ромашка»", 95u64, "48000.00", Some("48000.00")),
        ("demo-vector", "АО «Вектор»", 60, "126500.00", Some("60000.00")),
        ("demo-polyus", "ИП Полюсов С. А.", 50, "23900.00", None),
        ("demo-bereza", "ООО «Берёза»", 8, "310000.00", None),
    ];
    for (partner, name, ago, price, paid) in customers {
        let inv = json!({ "kind": "invoice", "partner": partner, "partner_name": name, "date": d(ago), "payment_days": 14,
            "lines": [{ "description": "Офисная мебель по спецификации", "quantity": 1, "price": price, "tax": "VAT20INC" }] });
        let id = run("create-invoice", inv)?["id"].clone();
        run("post-invoice", json!({ "id": id }))?;
        if let Some(amount) = paid {
            let pay = json!({ "direction": "in", "partner": partner, "partner_name": name, "date": d(ago - 5), "amount": amount,
                              "invoices": [{ "invoice": id }] });
            run("register-payment", pay)?;
        }
    }
    // A dollar invoice, at the rates entered above.
    let usd = json!({ "kind": "invoice", "partner": "demo-nordic", "partner_name": "Nordic Interiors AB", "date": d(30),
        "currency": "USD", "payment_days": 30,
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
    session.commit()?;
    Ok(())
}
