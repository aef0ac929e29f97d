//! What other plugins' events mean for the books, where they are enabled for the company:
//! a won CRM deal becomes a draft customer invoice, a done warehouse move posts its value
//! to inventory, cost of sales, losses or production. Each applies once, even when its
//! event is delivered again.

use erp_sdk::store::{self, Filter, Query};
use erp_sdk::{Result, Value, log};
use rust_decimal::Decimal;

use crate::model::{Entry, EntryLine, Invoice, InvoiceLine};
use crate::{accounts, dates, entries, invoices, periods, taxes, util};

fn dec(v: &Value) -> Option<Decimal> {
    match v {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.to_string().parse().ok(),
        _ => None,
    }
}

/// `crm.deal.won`: a draft invoice from the deal's lines, exactly once per deal.
pub fn deal_won(payload: &Value) -> Result<()> {
    let Some(deal) = payload["id"].as_str() else { return Ok(()) };
    let source = format!("crm.deal:{deal}");
    if store::first::<Value>("invoice", Query::new().filter(Filter::eq("source", source.as_str())))?.is_some() {
        return Ok(());
    }
    let Some(customer) = payload["customer"].as_str() else {
        log::warn(&format!("won deal {deal} has no customer: no invoice made"));
        return Ok(());
    };
    let title = payload["title"].as_str().unwrap_or("Deal").to_string();
    // The customer's name where the admin granted reading CRM customers, else the deal's title.
    let name = store::get::<Value>("crm.customer", customer)
        .ok()
        .and_then(|c| c.data["name"].as_str().map(str::to_string))
        .unwrap_or_else(|| title.clone());
    let tax = util::config().deal_tax.filter(|t| taxes::find("tax", t).is_ok());
    let mut lines: Vec<InvoiceLine> = payload["lines"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| {
            let quantity = dec(&l["quantity"]).filter(|q| *q > Decimal::ZERO)?;
            let price = dec(&l["price"]).filter(|p| !p.is_sign_negative())?;
            let product = l["product"].as_str().map(str::to_string);
            let description = l["name"].as_str().map(str::to_string).or_else(|| product.clone())?;
            Some(InvoiceLine { description, quantity, price, tax: tax.clone(), account: None, product })
        })
        .collect();
    if lines.is_empty() {
        match dec(&payload["amount"]).filter(|a| *a > Decimal::ZERO) {
            Some(amount) => lines.push(InvoiceLine {
                description: title.clone(),
                quantity: Decimal::ONE,
                price: amount,
                tax: tax.clone(),
                ..InvoiceLine::default()
            }),
            None => {
                log::warn(&format!("won deal {deal} has neither lines nor an amount: no invoice made"));
                return Ok(());
            }
        }
    }
    let date = payload["closed_at"].as_str().and_then(|s| s.get(..10)).map(str::to_string);
    let date = date.filter(|d| dates::parse("date", d).is_ok()).unwrap_or_else(|| dates::format(dates::today()));
    invoices::create_draft(Invoice {
        kind: "invoice".into(),
        partner: customer.to_string(),
        partner_name: Some(name),
        date,
        currency: payload["currency"].as_str().map(str::to_string),
        lines,
        source: Some(source),
        reference: Some(title),
        ..Invoice::default()
    })?;
    Ok(())
}

fn internal(kind: &str) -> bool {
    matches!(kind, "warehouse" | "zone" | "bin")
}

/// The accounts (by role) a move's value goes to, debit first; none for transfers.
fn roles(from: &str, to: &str) -> Option<(&'static str, &'static str)> {
    Some(match (internal(from), from, internal(to), to) {
        (false, "supplier", true, _) => ("inventory", "goods_received"),
        (true, _, false, "supplier") => ("goods_received", "inventory"),
        (true, _, false, "customer") => ("cogs", "inventory"),
        (false, "customer", true, _) => ("inventory", "cogs"),
        (true, _, false, "loss") => ("inventory_loss", "inventory"),
        (false, "loss", true, _) => ("inventory", "other_income"),
        (true, _, false, "production") => ("production", "inventory"),
        (false, "production", true, _) => ("inventory", "production"),
        _ => return None,
    })
}

/// `warehouse.move.done`: posts the move's value, once per move, on its day or the first
/// open day after the lock date.
pub fn move_done(payload: &Value) -> Result<()> {
    let Some(id) = payload["id"].as_str() else { return Ok(()) };
    let value = dec(&payload["value"]).map(|v| v.abs()).unwrap_or_default();
    let (from, to) = (payload["from_kind"].as_str().unwrap_or(""), payload["to_kind"].as_str().unwrap_or(""));
    let Some((debit, credit)) = roles(from, to) else { return Ok(()) };
    if value.is_zero() {
        return Ok(());
    }
    let source = format!("warehouse.move:{id}");
    if store::first::<Value>("entry", Query::new().filter(Filter::eq("source", source.as_str())))?.is_some() {
        return Ok(());
    }
    let day = payload["done_at"].as_str().and_then(|s| s.get(..10)).and_then(|d| dates::parse("done_at", d).ok());
    let date = periods::first_open(day.unwrap_or_else(dates::today))?;
    let journal = entries::journal_of_kind("stock")?;
    let sku = payload["sku"].as_str().unwrap_or_default();
    let qty = payload["quantity"].as_str().unwrap_or_default();
    let memo = format!("{} {sku} × {qty}", payload["kind"].as_str().unwrap_or("move"));
    let line = |role: &str, debit_side: bool| -> Result<EntryLine> {
        Ok(EntryLine {
            account: accounts::by_role(role)?.id,
            debit: if debit_side { value } else { Decimal::ZERO },
            credit: if debit_side { Decimal::ZERO } else { value },
            memo: Some(memo.clone()),
            ..EntryLine::default()
        })
    };
    entries::post_new(Entry {
        journal,
        date: dates::format(date),
        memo: Some(memo.clone()),
        reference: payload["reference"].as_str().map(str::to_string),
        lines: vec![line(debit, true)?, line(credit, false)?],
        source: Some(source),
        ..Entry::default()
    })?;
    Ok(())
}
