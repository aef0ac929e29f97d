//! Customer invoices and vendor bills: drafts with lines and taxes, due dates from payment
//! terms, posting into the journal, cancellation by a credit note. Residuals fall as
//! payments and credit notes are allocated (see `payments`).

use chrono::Datelike;
use erp_sdk::store::{self, Filter, Record};
use erp_sdk::{Error, Result, Value, events, json};
use rust_decimal::Decimal;
use serde::Deserialize;

use crate::model::{Allocation, Computed, Entry, EntryLine, Invoice, InvoiceLine};
use crate::{accounts, dates, entries, money, numbering, periods, rates, taxes, util};

/// Most lines on one invoice.
const MAX_LINES: usize = 500;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewInvoice {
    kind: String,
    partner: String,
    partner_name: Option<String>,
    date: String,
    due_date: Option<String>,
    payment_days: Option<Decimal>,
    currency: Option<String>,
    rate: Option<Decimal>,
    reference: Option<String>,
    lines: Vec<InvoiceLine>,
}

/// Checks an invoice as entered and computes its amounts; a due date comes from the payment
/// term when none is given.
fn prepare(mut inv: Invoice, payment_days: Option<Decimal>) -> Result<Invoice> {
    if inv.state.is_empty() {
        inv.state = "draft".into();
    }
    if inv.partner.trim().is_empty() {
        return Err(Error::invalid("partner", "is required"));
    }
    let date = dates::parse("date", &inv.date)?;
    if inv.lines.is_empty() || inv.lines.len() > MAX_LINES {
        return Err(Error::invalid("lines", format!("needs 1 to {MAX_LINES} lines")));
    }
    inv.currency = Some(util::currency("currency", inv.currency.as_deref())?);
    let (mut base, mut tax, mut total) = (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
    inv.computed.clear();
    for i in 0..inv.lines.len() {
        let (a, t) = taxes::line(i, &inv.lines[i])?;
        inv.computed.push(Computed {
            base: a.base,
            tax: a.tax,
            total: a.total,
            sales_account: t.as_ref().and_then(|t| t.data.sales_account.clone()),
            purchase_account: t.as_ref().and_then(|t| t.data.purchase_account.clone()),
        });
        let line = &mut inv.lines[i];
        line.tax = t.map(|t| t.data.code);
        if let Some(acc) = &line.account {
            line.account = Some(accounts::postable(&format!("lines.{i}.account"), acc)?.data.code);
        }
        base = money::add("lines", base, a.base)?;
        tax = money::add("lines", tax, a.tax)?;
        total = money::add("lines", total, a.total)?;
    }
    if total <= Decimal::ZERO {
        return Err(Error::invalid("lines", "the total must be more than zero"));
    }
    let due = match (inv.due_date.as_deref(), payment_days) {
        (Some(d), _) => dates::parse("due_date", d)?,
        (None, Some(days)) => term(date, days)?,
        (None, None) => dates::plus_days(date, util::config().payment_days.unwrap_or(14).max(0) as u64),
    };
    if due < date {
        return Err(Error::invalid("due_date", "must not be before the invoice date"));
    }
    inv.due_date = Some(dates::format(due));
    (inv.untaxed, inv.tax, inv.total, inv.residual) = (base, tax, total, total);
    Ok(inv)
}

fn term(date: chrono::NaiveDate, days: Decimal) -> Result<chrono::NaiveDate> {
    match u64::try_from(days.normalize().mantissa()) {
        Ok(d) if days.normalize().scale() == 0 && d <= 3650 => Ok(dates::plus_days(date, d)),
        _ => Err(Error::invalid("payment_days", "must be a whole number of days from 0 to 3650")),
    }
}

/// `create-invoice`: a draft invoice or bill.
pub fn create(input: Value) -> Result<Value> {
    let n: NewInvoice = erp_sdk::input(input)?;
    if !matches!(n.kind.as_str(), "invoice" | "bill") {
        return Err(Error::invalid("kind", "must be invoice or bill; credit notes come from cancelling"));
    }
    let inv = prepare(
        Invoice {
            kind: n.kind,
            partner: n.partner,
            partner_name: n.partner_name,
            date: n.date,
            due_date: n.due_date,
            currency: n.currency,
            rate: n.rate,
            reference: n.reference,
            lines: n.lines,
            ..Invoice::default()
        },
        n.payment_days,
    )?;
    let rec = store::create("invoice", &inv)?;
    Ok(summary(&rec))
}

/// Creates a draft for another part of the plugin (won deals); answers its id.
pub fn create_draft(inv: Invoice) -> Result<String> {
    Ok(store::create("invoice", &prepare(inv, None)?)?.id)
}

fn summary(rec: &Record<Invoice>) -> Value {
    let i = &rec.data;
    json!({ "id": rec.id, "kind": i.kind, "number": i.number, "state": i.state, "untaxed": money::text(i.untaxed),
            "tax": money::text(i.tax), "total": money::text(i.total), "residual": money::text(i.residual),
            "due_date": i.due_date, "currency": i.currency })
}

fn draft(id: &str) -> Result<Record<Invoice>> {
    let rec = store::get::<Invoice>("invoice", id)?;
    if rec.data.state != "draft" {
        return Err(Error::invalid("id", "only a draft changes; cancel a posted invoice with a credit note"));
    }
    Ok(rec)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InvoicePatch {
    id: String,
    partner: Option<String>,
    partner_name: Option<String>,
    date: Option<String>,
    due_date: Option<String>,
    payment_days: Option<Decimal>,
    currency: Option<String>,
    rate: Option<Decimal>,
    reference: Option<String>,
    lines: Option<Vec<InvoiceLine>>,
}

/// `update-invoice`: changes a draft.
pub fn update(input: Value) -> Result<Value> {
    let p: InvoicePatch = erp_sdk::input(input)?;
    let rec = draft(&p.id)?;
    let mut i = rec.data;
    i.partner = p.partner.unwrap_or(i.partner);
    i.partner_name = p.partner_name.or(i.partner_name);
    if p.date.is_some() || p.payment_days.is_some() {
        i.due_date = None;
    }
    i.date = p.date.unwrap_or(i.date);
    i.due_date = p.due_date.or(i.due_date);
    i.currency = p.currency.or(i.currency);
    i.rate = p.rate.or(i.rate);
    i.reference = p.reference.or(i.reference);
    i.lines = p.lines.unwrap_or(i.lines);
    let i = prepare(i, p.payment_days)?;
    let saved = store::update::<Invoice>("invoice", &rec.id, &i, Some(rec.version))?;
    Ok(summary(&saved))
}

/// `delete-invoice`: removes a draft.
pub fn delete(input: Value) -> Result<Value> {
    let rec = draft(util::text(&input, "id")?)?;
    store::delete("invoice", &rec.id, Some(rec.version))?;
    Ok(json!({ "id": rec.id, "deleted": true }))
}

/// Adds an amount to the entry line of `(account, debit side, partner)`, or opens one.
fn put(lines: &mut Vec<EntryLine>, account: &str, debit: bool, amount: Decimal, partner: Option<&str>) {
    if amount.is_zero() {
        return;
    }
    let found = lines.iter_mut().find(|l| {
        l.account == account && l.debit.is_zero() != debit && l.partner.as_deref() == partner && l.base.is_none()
    });
    match found {
        Some(l) if debit => l.debit += amount,
        Some(l) => l.credit += amount,
        None => lines.push(EntryLine {
            account: account.to_string(),
            debit: if debit { amount } else { Decimal::ZERO },
            credit: if debit { Decimal::ZERO } else { amount },
            partner: partner.map(str::to_string),
            ..EntryLine::default()
        }),
    }
}

/// The journal lines of an invoice or bill, in its currency. Sales: receivable against
/// revenue and tax; where the chart has an account for VAT on sales (the Russian 90.03),
/// revenue is credited with tax and the tax is moved from it, as Russian books keep it.
/// Credit notes and vendor credits are the mirror of what they correct.
fn journal_lines(inv: &Invoice) -> Result<Vec<EntryLine>> {
    let mut lines = Vec::new();
    let partner = Some(inv.partner.as_str());
    let sales_vat = if inv.customer_side() { accounts::by_role("sales_vat").ok() } else { None };
    let counter = accounts::by_role(if inv.customer_side() { "receivable" } else { "payable" })?;
    for (i, l) in inv.lines.iter().enumerate() {
        let a = inv.computed.get(i).cloned().ok_or_else(|| Error::failed("the invoice's amounts were not computed"))?;
        let own = match &l.account {
            Some(code) => accounts::find(&format!("lines.{i}.account"), code)?,
            None => accounts::by_role(if inv.customer_side() { "revenue" } else { "expense" })?,
        };
        if inv.customer_side() {
            put(&mut lines, &counter.id, true, a.total, partner);
            match (&sales_vat, a.sales_account.clone()) {
                (Some(vat), Some(payable)) if !a.tax.is_zero() => {
                    put(&mut lines, &own.id, false, a.total, None);
                    put(&mut lines, &vat.id, true, a.tax, None);
                    put(&mut lines, &payable, false, a.tax, None);
                }
                (None, Some(payable)) => {
                    put(&mut lines, &own.id, false, a.base, None);
                    put(&mut lines, &payable, false, a.tax, None);
                }
                _ => put(&mut lines, &own.id, false, a.total, None),
            }
        } else {
            put(&mut lines, &counter.id, false, a.total, partner);
            match a.purchase_account.clone() {
                Some(recoverable) => {
                    put(&mut lines, &own.id, true, a.base, None);
                    put(&mut lines, &recoverable, true, a.tax, None);
                }
                None => put(&mut lines, &own.id, true, a.total, None),
            }
        }
    }
    if matches!(inv.kind.as_str(), "credit_note" | "vendor_credit") {
        for l in &mut lines {
            std::mem::swap(&mut l.debit, &mut l.credit);
        }
    }
    Ok(lines)
}

fn prefix(kind: &str) -> &'static str {
    match kind {
        "invoice" => "INV",
        "bill" => "BILL",
        "credit_note" => "CN",
        _ => "VC",
    }
}

/// Posts a draft: numbers it, writes its journal entry, opens its residual.
fn post_record(rec: Record<Invoice>) -> Result<Record<Invoice>> {
    let mut inv = rec.data;
    let date = dates::parse("date", &inv.date)?;
    periods::check_open("date", date)?;
    let currency = util::currency("currency", inv.currency.as_deref())?;
    let rate = rates::at(&currency, date, inv.rate)?;
    let number = numbering::next(prefix(&inv.kind), date.year())?;
    let journal = entries::journal_of_kind(if inv.customer_side() { "sale" } else { "purchase" })?;
    let entry = entries::post_new(Entry {
        journal,
        date: inv.date.clone(),
        memo: Some(format!("{number} {}", inv.partner_name.clone().unwrap_or_else(|| inv.partner.clone()))),
        reference: Some(number.clone()),
        currency: Some(currency.clone()),
        rate: Some(rate),
        lines: journal_lines(&inv)?,
        source: Some(format!("invoice:{}", rec.id)),
        ..Entry::default()
    })?;
    inv.state = "posted".into();
    inv.number = Some(number.clone());
    inv.entry = Some(entry);
    inv.rate = Some(rate);
    inv.currency = Some(currency);
    inv.residual = inv.total;
    let saved = store::update::<Invoice>("invoice", &rec.id, &inv, Some(rec.version))?;
    events::publish(
        "accounting.invoice.posted",
        &json!({ "id": rec.id, "kind": inv.kind, "number": number, "partner": inv.partner, "date": inv.date,
                 "due_date": inv.due_date, "total": money::text(inv.total), "currency": inv.currency }),
    )?;
    Ok(saved)
}

/// `post-invoice`.
pub fn post(input: Value) -> Result<Value> {
    let saved = post_record(draft(util::text(&input, "id")?)?)?;
    Ok(summary(&saved))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Cancel {
    id: String,
    date: Option<String>,
}

/// `cancel-invoice`: a credit note (or vendor credit) mirrors a posted, unpaid invoice and
/// is set against it in full.
pub fn cancel(input: Value) -> Result<Value> {
    let c: Cancel = erp_sdk::input(input)?;
    let rec = store::get::<Invoice>("invoice", &c.id)?;
    let inv = &rec.data;
    if !matches!(inv.kind.as_str(), "invoice" | "bill") {
        return Err(Error::invalid("id", "a credit note is not cancelled; it is itself a correction"));
    }
    match inv.state.as_str() {
        "posted" => {}
        "draft" => return Err(Error::invalid("id", "a draft is deleted, not cancelled")),
        "cancelled" => return Err(Error::invalid("id", "already cancelled")),
        _ => return Err(Error::invalid("id", "payments are allocated to it: only an unpaid invoice is cancelled")),
    }
    let date = match c.date {
        Some(d) => dates::parse("date", &d)?,
        None => periods::first_open(dates::today().max(dates::parse("date", &inv.date)?))?,
    };
    // The mirror of what was posted, amounts and accounts as they were then.
    let credit = Invoice {
        kind: if inv.customer_side() { "credit_note" } else { "vendor_credit" }.into(),
        partner: inv.partner.clone(),
        partner_name: inv.partner_name.clone(),
        date: dates::format(date),
        due_date: Some(dates::format(date)),
        currency: inv.currency.clone(),
        rate: inv.rate,
        lines: inv.lines.clone(),
        computed: inv.computed.clone(),
        untaxed: inv.untaxed,
        tax: inv.tax,
        total: inv.total,
        residual: inv.total,
        state: "draft".into(),
        origin: Some(rec.id.clone()),
        reference: inv.number.clone(),
        ..Invoice::default()
    };
    let draft = store::create("invoice", &credit)?;
    let mut posted = post_record(draft)?;
    store::create(
        "allocation",
        &Allocation {
            payment: None,
            credit_note: Some(posted.id.clone()),
            invoice: rec.id.clone(),
            amount: inv.total,
            base: Some(posted_counter(&rec.data)?),
            date: dates::format(date),
        },
    )?;
    posted.data.residual = money::round(Decimal::ZERO);
    store::update::<Value>("invoice", &posted.id, &json!({ "residual": "0.00" }), Some(posted.version))?;
    let patch = json!({ "state": "cancelled", "residual": "0.00" });
    let cancelled = store::update::<Invoice>("invoice", &rec.id, &patch, Some(rec.version))?;
    Ok(json!({ "invoice": summary(&cancelled), "credit_note": summary(&posted) }))
}

/// What the invoice's entry put on the partner's receivable or payable, in the company
/// currency.
pub fn posted_counter(inv: &Invoice) -> Result<Decimal> {
    let Some(entry) = &inv.entry else { return Ok(Decimal::ZERO) };
    let counter = accounts::by_role(if inv.customer_side() { "receivable" } else { "payable" })?;
    let e = store::get::<Entry>("entry", entry)?;
    Ok(e.data.lines.iter().filter(|l| l.account == counter.id).filter_map(|l| l.base).map(|b| b.abs()).sum())
}

/// The company-currency amount that allocating `amount` clears on an invoice: at its own
/// rate, except that the allocation settling it clears exactly what is left, so a paid
/// foreign-currency invoice leaves nothing behind.
pub fn clears(inv: &Record<Invoice>, amount: Decimal) -> Result<Decimal> {
    if amount != inv.data.residual {
        return Ok(money::round(amount * inv.data.rate.unwrap_or(Decimal::ONE)));
    }
    let before: Decimal = util::all::<Allocation>("allocation", Filter::eq("invoice", inv.id.as_str()))?
        .iter()
        .map(|a| a.data.base.unwrap_or_else(|| money::round(a.data.amount * inv.data.rate.unwrap_or(Decimal::ONE))))
        .sum();
    Ok(posted_counter(&inv.data)? - before)
}

/// Validation: a posted invoice keeps its lines, amounts, partner and dates; only its
/// residual and state move, and it is never deleted.
pub fn validate(before: Option<&Value>, after: Option<&Value>) -> Result<()> {
    let Some(b) = before else { return Ok(()) };
    if b["state"].as_str() == Some("draft") {
        return Ok(());
    }
    let Some(a) = after else {
        return Err(Error::invalid("state", "a posted invoice is never deleted: cancel it with a credit note"));
    };
    for field in [
        "kind", "number", "partner", "date", "due_date", "currency", "rate", "lines", "computed", "untaxed", "tax",
        "total", "entry",
    ] {
        if a.get(field) != b.get(field) {
            return Err(Error::invalid(field, "a posted invoice never changes: cancel it with a credit note"));
        }
    }
    Ok(())
}
