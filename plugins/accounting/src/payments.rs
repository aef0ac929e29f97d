//! Payments and reconciliation: a payment posts to the bank or cash account against the
//! partner's receivable or payable, is allocated to one or more invoices (partially where it
//! falls short), and what is left stays as the partner's credit for later invoices.
//! Foreign-currency invoices are cleared at their own rate; the difference to the payment's
//! rate is an exchange gain or loss.

use chrono::{Datelike, NaiveDate};
use erp_sdk::store::{self, Filter, Record};
use erp_sdk::{Error, Result, Value, events, json};
use rust_decimal::Decimal;
use serde::Deserialize;

use crate::model::{Allocation, Entry, EntryLine, Invoice, Payment};
use crate::{accounts, dates, entries, invoices, money, numbering, periods, rates, util};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Target {
    invoice: String,
    amount: Option<Decimal>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewPayment {
    direction: String,
    partner: String,
    partner_name: Option<String>,
    date: String,
    amount: Decimal,
    currency: Option<String>,
    rate: Option<Decimal>,
    account: Option<String>,
    reference: Option<String>,
    invoices: Option<Vec<Target>>,
}

fn invoice_kind(direction: &str) -> &'static str {
    if direction == "in" { "invoice" } else { "bill" }
}

/// An invoice a payment may go to: the right side, the same partner and currency, open.
fn open_invoice(field: &str, id: &str, p: &Payment, currency: &str) -> Result<Record<Invoice>> {
    let inv = store::get::<Invoice>("invoice", id).map_err(|_| Error::invalid(field, "no such invoice"))?;
    let i = &inv.data;
    if i.kind != invoice_kind(&p.direction) {
        return Err(Error::invalid(field, format!("a payment {} cannot pay a {}", p.direction, i.kind)));
    }
    if i.partner != p.partner {
        return Err(Error::invalid(field, "belongs to another customer or vendor"));
    }
    if i.currency.as_deref() != Some(currency) {
        return Err(Error::invalid(
            field,
            format!("is in {}, the payment in {currency}", i.currency.clone().unwrap_or_default()),
        ));
    }
    if !matches!(i.state.as_str(), "posted" | "partial") {
        return Err(Error::invalid(field, format!("is {}, not open for payment", i.state)));
    }
    Ok(inv)
}

/// The exchange difference left on the partner's account after clearing: `left` is its
/// debit balance in the company currency (negative for a credit balance).
fn fx_lines(lines: &mut Vec<EntryLine>, counter: &str, left: Decimal, partner: &str) -> Result<()> {
    if left.is_zero() {
        return Ok(());
    }
    let partner = Some(partner.to_string());
    if left > Decimal::ZERO {
        lines.push(entries::fx_line(counter.to_string(), left, false, partner));
        lines.push(entries::fx_line(accounts::by_role("other_expense")?.id, left, true, None));
    } else {
        lines.push(entries::fx_line(counter.to_string(), -left, true, partner));
        lines.push(entries::fx_line(accounts::by_role("other_income")?.id, -left, false, None));
    }
    Ok(())
}

/// Sets part of a payment or credit note against an invoice: its residual falls and it is
/// paid when nothing is left.
fn apply(inv: &Record<Invoice>, amount: Decimal, allocation: Allocation) -> Result<()> {
    store::create("allocation", &allocation)?;
    let residual = inv.data.residual - amount;
    let state = if residual.is_zero() { "paid" } else { "partial" };
    store::update::<Value>(
        "invoice",
        &inv.id,
        &json!({ "residual": money::text(residual), "state": state }),
        Some(inv.version),
    )?;
    if residual.is_zero() {
        events::publish(
            "accounting.invoice.paid",
            &json!({ "id": inv.id, "kind": inv.data.kind, "number": inv.data.number, "partner": inv.data.partner,
                     "total": money::text(inv.data.total), "currency": inv.data.currency }),
        )?;
    }
    Ok(())
}

/// `register-payment`.
pub fn register(input: Value) -> Result<Value> {
    let n: NewPayment = erp_sdk::input(input)?;
    if !matches!(n.direction.as_str(), "in" | "out") {
        return Err(Error::invalid("direction", "must be in (received) or out (paid)"));
    }
    if n.partner.trim().is_empty() {
        return Err(Error::invalid("partner", "is required"));
    }
    let amount = money::amount("amount", n.amount)?;
    if amount.is_zero() {
        return Err(Error::invalid("amount", "must be more than zero"));
    }
    let date = dates::parse("date", &n.date)?;
    periods::check_open("date", date)?;
    let currency = util::currency("currency", n.currency.as_deref())?;
    let rate = rates::at(&currency, date, n.rate)?;
    let cash = match &n.account {
        Some(a) => accounts::postable("account", a)?,
        None => accounts::by_role("bank")?,
    };
    let mut payment = Payment {
        number: None,
        direction: n.direction.clone(),
        partner: n.partner.clone(),
        partner_name: n.partner_name.clone(),
        date: dates::format(date),
        amount,
        currency: Some(currency.clone()),
        rate: Some(rate),
        account: cash.id.clone(),
        unallocated: amount,
        entry: None,
        reference: n.reference.clone(),
    };
    // What goes to which invoice.
    let mut plan: Vec<(Record<Invoice>, Decimal)> = Vec::new();
    let mut left = amount;
    match &n.invoices {
        Some(targets) => {
            for (i, t) in targets.iter().enumerate() {
                let field = format!("invoices.{i}.invoice");
                let inv = open_invoice(&field, &t.invoice, &payment, &currency)?;
                if plan.iter().any(|(p, _)| p.id == inv.id) {
                    return Err(Error::invalid(field, "is listed twice"));
                }
                let want = match t.amount {
                    Some(a) => money::amount(&format!("invoices.{i}.amount"), a)?,
                    None => inv.data.residual.min(left),
                };
                if want > inv.data.residual {
                    return Err(Error::invalid(
                        format!("invoices.{i}.amount"),
                        format!("is more than the {} left to pay", money::text(inv.data.residual)),
                    ));
                }
                if want > left {
                    return Err(Error::invalid("invoices", "allocate no more than the payment's amount"));
                }
                left -= want;
                if !want.is_zero() {
                    plan.push((inv, want));
                }
            }
        }
        None => {
            let filter = Filter::and(vec![
                Filter::eq("partner", n.partner.as_str()),
                Filter::eq("kind", invoice_kind(&n.direction)),
                Filter::is_in("state", vec![json!("posted"), json!("partial")]),
            ]);
            let mut open = util::all::<Invoice>("invoice", filter)?;
            open.retain(|i| i.data.currency.as_deref() == Some(currency.as_str()));
            open.sort_by(|a, b| (&a.data.due_date, &a.data.date).cmp(&(&b.data.due_date, &b.data.date)));
            for inv in open {
                if left.is_zero() {
                    break;
                }
                let want = inv.data.residual.min(left);
                left -= want;
                plan.push((inv, want));
            }
        }
    }
    let incoming = n.direction == "in";
    let counter = accounts::by_role(if incoming { "receivable" } else { "payable" })?;
    let bank_c = money::round(amount * rate);
    let partner = Some(n.partner.clone());
    let mut lines = vec![EntryLine {
        account: cash.id.clone(),
        debit: if incoming { amount } else { Decimal::ZERO },
        credit: if incoming { Decimal::ZERO } else { amount },
        base: Some(if incoming { bank_c } else { -bank_c }),
        ..EntryLine::default()
    }];
    // The partner's account is cleared at each invoice's rate, the rest at the payment's;
    // what the bank got beyond that (or short of it) is an exchange gain (or loss).
    let mut cleared = Decimal::ZERO;
    let mut clear = |amt: Decimal, c: Decimal, memo: Option<String>| {
        cleared += c;
        lines.push(EntryLine {
            account: counter.id.clone(),
            debit: if incoming { Decimal::ZERO } else { amt },
            credit: if incoming { amt } else { Decimal::ZERO },
            base: Some(if incoming { -c } else { c }),
            partner: partner.clone(),
            memo,
            ..EntryLine::default()
        });
    };
    let mut bases = Vec::new();
    for (inv, amt) in &plan {
        let c = invoices::clears(inv, *amt)?;
        bases.push(c);
        clear(*amt, c, inv.data.number.clone());
    }
    if !left.is_zero() {
        clear(left, money::round(left * rate), Some("credit".into()));
    }
    let debits_over_credits = if incoming { bank_c - cleared } else { cleared - bank_c };
    if debits_over_credits > Decimal::ZERO {
        lines.push(entries::fx_line(accounts::by_role("other_income")?.id, debits_over_credits, false, None));
    } else if debits_over_credits < Decimal::ZERO {
        lines.push(entries::fx_line(accounts::by_role("other_expense")?.id, -debits_over_credits, true, None));
    }
    let number = numbering::next(if incoming { "RCV" } else { "PAY" }, date.year())?;
    payment.number = Some(number.clone());
    payment.unallocated = left;
    let rec = store::create("payment", &payment)?;
    let entry = entries::post_new(Entry {
        journal: entries::journal_of_kind(if cash.data.role.as_deref() == Some("cash") { "cash" } else { "bank" })?,
        date: payment.date.clone(),
        memo: Some(format!("{number} {}", n.partner_name.clone().unwrap_or_else(|| n.partner.clone()))),
        reference: n.reference.clone().or(Some(number.clone())),
        currency: Some(currency.clone()),
        rate: Some(rate),
        lines,
        source: Some(format!("payment:{}", rec.id)),
        ..Entry::default()
    })?;
    store::update::<Value>("payment", &rec.id, &json!({ "entry": entry }), Some(rec.version))?;
    let mut allocated = Vec::new();
    for ((inv, amt), base) in plan.iter().zip(bases) {
        apply(
            inv,
            *amt,
            Allocation {
                payment: Some(rec.id.clone()),
                credit_note: None,
                invoice: inv.id.clone(),
                amount: *amt,
                base: Some(base),
                date: payment.date.clone(),
            },
        )?;
        allocated.push(json!({ "invoice": inv.id, "number": inv.data.number, "amount": money::text(*amt) }));
    }
    if incoming {
        events::publish(
            "accounting.payment.received",
            &json!({ "id": rec.id, "number": number, "customer": n.partner, "amount": money::text(amount),
                     "currency": currency, "paid_at": dates::midnight(date) }),
        )?;
    }
    Ok(json!({ "id": rec.id, "number": number, "entry": entry, "allocated": allocated,
               "unallocated": money::text(left) }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Allocate {
    payment: String,
    invoice: String,
    amount: Option<Decimal>,
    date: Option<String>,
}

/// `allocate`: uses credit left on a payment for an invoice.
pub fn allocate(input: Value) -> Result<Value> {
    let a: Allocate = erp_sdk::input(input)?;
    let pay = store::get::<Payment>("payment", &a.payment).map_err(|_| Error::invalid("payment", "no such payment"))?;
    let p = &pay.data;
    let currency = p.currency.clone().unwrap_or_else(util::company_currency);
    let inv = open_invoice("invoice", &a.invoice, p, &currency)?;
    let most = p.unallocated.min(inv.data.residual);
    let amount = match a.amount {
        Some(x) => money::amount("amount", x)?,
        None => most,
    };
    if amount.is_zero() {
        return Err(Error::invalid("payment", "has no credit left to allocate"));
    }
    if amount > most {
        return Err(Error::invalid(
            "amount",
            format!(
                "is more than can be allocated: {} left on the payment, {} on the invoice",
                money::text(p.unallocated),
                money::text(inv.data.residual)
            ),
        ));
    }
    let earliest = dates::parse("date", &p.date)?.max(dates::parse("date", &inv.data.date)?);
    let date: NaiveDate = match a.date {
        Some(d) => dates::parse("date", &d)?,
        None => periods::first_open(dates::today().max(earliest))?,
    };
    if date < earliest {
        return Err(Error::invalid("date", "must not be before the payment or the invoice"));
    }
    let rate = p.rate.unwrap_or(Decimal::ONE);
    let on_invoice = invoices::clears(&inv, amount)?;
    let diff = on_invoice - money::round(amount * rate);
    if !diff.is_zero() {
        periods::check_open("date", date)?;
        let incoming = p.direction == "in";
        let counter = accounts::by_role(if incoming { "receivable" } else { "payable" })?;
        let mut lines = Vec::new();
        fx_lines(&mut lines, &counter.id, if incoming { diff } else { -diff }, &p.partner)?;
        entries::post_new(Entry {
            journal: entries::journal_of_kind("bank")?,
            date: dates::format(date),
            memo: Some(format!(
                "Exchange difference: {} to {}",
                p.number.clone().unwrap_or_default(),
                inv.data.number.clone().unwrap_or_default()
            )),
            lines,
            ..Entry::default()
        })?;
    }
    apply(
        &inv,
        amount,
        Allocation {
            payment: Some(pay.id.clone()),
            credit_note: None,
            invoice: inv.id.clone(),
            amount,
            base: Some(on_invoice),
            date: dates::format(date),
        },
    )?;
    let left = p.unallocated - amount;
    store::update::<Value>("payment", &pay.id, &json!({ "unallocated": money::text(left) }), Some(pay.version))?;
    Ok(json!({ "payment": pay.id, "invoice": inv.id, "amount": money::text(amount), "unallocated": money::text(left) }))
}
