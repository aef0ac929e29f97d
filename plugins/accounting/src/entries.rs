//! Journal entries: drafts that can change, and posting, after which an entry never changes
//! (a correction is its reversal). Posting checks the balance, the lock date and the
//! accounts, numbers the entry, writes its lines and adds them to the monthly balances.

use chrono::Datelike;
use erp_sdk::store::{self, Filter, Query, Record};
use erp_sdk::{Error, Result, Value, WriteKind, events, json};
use rust_decimal::Decimal;
use serde::Deserialize;

use crate::model::{Entry, EntryLine, Journal, Line};
use crate::{accounts, dates, money, numbering, periods, rates, util};

/// Most lines in one entry.
const MAX_LINES: usize = 1000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewEntry {
    journal: String,
    date: String,
    memo: Option<String>,
    reference: Option<String>,
    currency: Option<String>,
    rate: Option<Decimal>,
    lines: Vec<EntryLine>,
    #[serde(default)]
    post: bool,
}

/// Checks a draft as entered: the journal and accounts exist (by id or code, stored as ids),
/// each line has one positive side with at most two decimals.
fn prepare(mut e: Entry) -> Result<Entry> {
    if e.state.is_empty() {
        e.state = "draft".into();
    }
    e.journal = util::by_id_or_code::<Journal>("journal", "journal", &e.journal)?.id;
    dates::parse("date", &e.date)?;
    e.currency = Some(util::currency("currency", e.currency.as_deref())?);
    if let Some(r) = e.rate
        && r <= Decimal::ZERO
    {
        return Err(Error::invalid("rate", "must be more than zero"));
    }
    if e.lines.len() > MAX_LINES {
        return Err(Error::invalid("lines", format!("at most {MAX_LINES} lines in one entry")));
    }
    for (i, l) in e.lines.iter_mut().enumerate() {
        l.account = accounts::find(&format!("lines.{i}.account"), &l.account)?.id;
        l.debit = money::amount(&format!("lines.{i}.debit"), l.debit)?;
        l.credit = money::amount(&format!("lines.{i}.credit"), l.credit)?;
        if let Some(b) = l.base {
            let field = format!("lines.{i}.base");
            let checked = money::amount(&field, b.abs())?;
            if (!l.debit.is_zero() && b.is_sign_negative())
                || (!l.credit.is_zero() && b.is_sign_positive() && !b.is_zero())
            {
                return Err(Error::invalid(
                    field,
                    "must be on the line's side: positive for a debit, negative for a credit",
                ));
            }
            l.base = Some(if b.is_sign_negative() { -checked } else { checked });
        }
        let sides = (!l.debit.is_zero(), !l.credit.is_zero(), l.base.is_some_and(|b| !b.is_zero()));
        if sides.0 && sides.1 {
            return Err(Error::invalid(format!("lines.{i}"), "has both a debit and a credit: use two lines"));
        }
        if !sides.0 && !sides.1 && !sides.2 {
            return Err(Error::invalid(format!("lines.{i}"), "needs a debit or a credit"));
        }
    }
    Ok(e)
}

/// `create-entry`: a draft, posted at once with `post: true`.
pub fn create(input: Value) -> Result<Value> {
    let n: NewEntry = erp_sdk::input(input)?;
    if n.post && !erp_sdk::context::has_permission("accounting.post") {
        return Err(Error::AccessDenied("missing accounting.post: only a draft can be entered".into()));
    }
    let entry = prepare(Entry {
        journal: n.journal,
        date: n.date,
        state: "draft".into(),
        memo: n.memo,
        reference: n.reference,
        currency: n.currency,
        rate: n.rate,
        lines: n.lines,
        ..Entry::default()
    })?;
    let rec = store::create("entry", &entry)?;
    if n.post {
        return post_record(rec);
    }
    Ok(json!({ "id": rec.id, "state": "draft" }))
}

fn draft(id: &str) -> Result<Record<Entry>> {
    let rec = store::get::<Entry>("entry", id)?;
    if rec.data.state != "draft" {
        return Err(Error::invalid("id", "a posted entry never changes: reverse it instead"));
    }
    Ok(rec)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryPatch {
    id: String,
    journal: Option<String>,
    date: Option<String>,
    memo: Option<String>,
    reference: Option<String>,
    currency: Option<String>,
    rate: Option<Decimal>,
    lines: Option<Vec<EntryLine>>,
}

/// `update-entry`: changes a draft.
pub fn update(input: Value) -> Result<Value> {
    let p: EntryPatch = erp_sdk::input(input)?;
    let rec = draft(&p.id)?;
    let mut e = rec.data;
    e.journal = p.journal.unwrap_or(e.journal);
    e.date = p.date.unwrap_or(e.date);
    e.memo = p.memo.or(e.memo);
    e.reference = p.reference.or(e.reference);
    e.currency = p.currency.or(e.currency);
    e.rate = p.rate.or(e.rate);
    e.lines = p.lines.unwrap_or(e.lines);
    let e = prepare(e)?;
    store::update::<Value>("entry", &rec.id, &e, Some(rec.version))?;
    Ok(json!({ "id": rec.id, "state": "draft" }))
}

/// `delete-entry`: removes a draft.
pub fn delete(input: Value) -> Result<Value> {
    let rec = draft(util::text(&input, "id")?)?;
    store::delete("entry", &rec.id, Some(rec.version))?;
    Ok(json!({ "id": rec.id, "deleted": true }))
}

/// `post-entry`.
pub fn post(input: Value) -> Result<Value> {
    post_record(draft(util::text(&input, "id")?)?)
}

/// The journal of a kind (the first), or else the general one: where the plugin posts what
/// invoices, payments and stock moves make.
pub fn journal_of_kind(kind: &str) -> Result<String> {
    let of = |k: &str| store::first::<Journal>("journal", Query::new().filter(Filter::eq("kind", k)));
    match of(kind)? {
        Some(j) => Ok(j.id),
        None => of("general")?
            .map(|j| j.id)
            .ok_or_else(|| Error::failed(format!("no {kind} or general journal: load the chart of accounts"))),
    }
}

/// Posts an entry made by the plugin itself (invoices, payments, stock); answers its id.
pub fn post_new(entry: Entry) -> Result<String> {
    let rec = store::create("entry", &prepare(entry)?)?;
    let id = rec.id.clone();
    post_record(rec)?;
    Ok(id)
}

/// The company-currency amounts of the lines: the stated `base` (debit positive, credit
/// negative), or the amount at `rate`. Converting each line rounds it; when no line states
/// its base, the kopecks that rounding leaves go to the largest line of the lighter side.
fn convert(lines: &[EntryLine], rate: Decimal) -> Result<Vec<(Decimal, Decimal)>> {
    let mut out = Vec::with_capacity(lines.len());
    for (i, l) in lines.iter().enumerate() {
        let field = format!("lines.{i}");
        out.push(match l.base {
            Some(b) if b.is_sign_negative() => (money::round(Decimal::ZERO), -b),
            Some(b) => (b, money::round(Decimal::ZERO)),
            None => {
                (money::round(money::mul(&field, l.debit, rate)?), money::round(money::mul(&field, l.credit, rate)?))
            }
        });
    }
    if lines.iter().all(|l| l.base.is_none()) {
        let (dr, cr) = totals(&out);
        let diff = dr - cr;
        if !diff.is_zero() {
            let lighter_is_credit = diff > Decimal::ZERO;
            let pick = out
                .iter()
                .enumerate()
                .filter(|(_, (d, c))| if lighter_is_credit { !c.is_zero() } else { !d.is_zero() })
                .max_by_key(|(_, (d, c))| (*d).max(*c))
                .map(|(i, _)| i);
            if let Some(i) = pick {
                if lighter_is_credit {
                    out[i].1 += diff;
                } else {
                    out[i].0 -= diff;
                }
            }
        }
    }
    Ok(out)
}

/// A line in the company currency only (an exchange difference).
pub fn fx_line(account: String, amount: Decimal, debit: bool, partner: Option<String>) -> EntryLine {
    EntryLine {
        account,
        base: Some(if debit { amount } else { -amount }),
        partner,
        memo: Some("exchange difference".into()),
        ..EntryLine::default()
    }
}

fn totals(amounts: &[(Decimal, Decimal)]) -> (Decimal, Decimal) {
    amounts.iter().fold((Decimal::ZERO, Decimal::ZERO), |(d, c), (a, b)| (d + a, c + b))
}

fn post_record(rec: Record<Entry>) -> Result<Value> {
    let mut e = rec.data;
    let date = dates::parse("date", &e.date)?;
    periods::check_open("date", date)?;
    let journal = store::get::<Journal>("journal", &e.journal)?;
    let currency = util::currency("currency", e.currency.as_deref())?;
    let rate = rates::at(&currency, date, e.rate)?;
    let foreign = currency != util::company_currency();
    if e.lines.len() < 2 {
        return Err(Error::invalid("lines", "an entry needs at least two lines"));
    }
    let (dr, cr) = e.lines.iter().fold((Decimal::ZERO, Decimal::ZERO), |(d, c), l| (d + l.debit, c + l.credit));
    if dr != cr {
        return Err(Error::invalid(
            "lines",
            format!(
                "debits {} and credits {} differ by {}: an entry posts only when it balances",
                dr,
                cr,
                (dr - cr).abs()
            ),
        ));
    }
    let amounts = convert(&e.lines, rate)?;
    let (cdr, ccr) = totals(&amounts);
    if cdr != ccr {
        return Err(Error::invalid(
            "lines",
            format!(
                "in {} the debits {} and credits {} differ by {}",
                util::company_currency(),
                cdr,
                ccr,
                (cdr - ccr).abs()
            ),
        ));
    }
    if cdr.is_zero() {
        return Err(Error::invalid("lines", "an entry of zero posts nothing"));
    }
    let mut accounts_seen = Vec::new();
    for (i, l) in e.lines.iter().enumerate() {
        if !accounts_seen.contains(&l.account) {
            accounts::postable(&format!("lines.{i}.account"), &l.account)?;
            accounts_seen.push(l.account.clone());
        }
    }
    let number = numbering::next(&journal.data.code, date.year())?;
    let day = dates::format(date);
    for (l, (debit, credit)) in e.lines.iter_mut().zip(&amounts) {
        store::create(
            "line",
            &Line {
                entry: rec.id.clone(),
                account: l.account.clone(),
                date: day.clone(),
                debit: *debit,
                credit: *credit,
                currency: foreign.then(|| currency.clone()),
                amount_currency: foreign.then(|| l.debit - l.credit),
                partner: l.partner.clone(),
                department: l.department.clone(),
                project: l.project.clone(),
                memo: l.memo.clone(),
            },
        )?;
        // Kept on the entry, so that its reversal mirrors it to the kopeck.
        l.base = Some(*debit - *credit);
    }
    // One balance change per account, however many lines it has.
    let mut per_account: Vec<(&str, Decimal, Decimal)> = Vec::new();
    for (l, (debit, credit)) in e.lines.iter().zip(&amounts) {
        match per_account.iter_mut().find(|(a, _, _)| *a == l.account) {
            Some(t) => {
                t.1 += *debit;
                t.2 += *credit;
            }
            None => per_account.push((&l.account, *debit, *credit)),
        }
    }
    for (account, debit, credit) in per_account {
        periods::add(account, date, debit, credit)?;
    }
    e.state = "posted".into();
    e.number = Some(number.clone());
    e.total = Some(cdr);
    e.currency = Some(currency);
    e.rate = Some(rate);
    e.posted_at = Some(erp_sdk::now());
    store::update::<Value>("entry", &rec.id, &e, Some(rec.version))?;
    events::publish(
        "accounting.entry.posted",
        &json!({ "id": rec.id, "number": number, "journal": journal.data.code, "date": day,
                 "total": money::text(cdr), "source": e.source }),
    )?;
    Ok(json!({ "id": rec.id, "number": number, "state": "posted", "total": money::text(cdr) }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Reverse {
    id: String,
    date: Option<String>,
}

/// `reverse-entry`: posts the mirror of a posted entry, once.
pub fn reverse(input: Value) -> Result<Value> {
    let r: Reverse = erp_sdk::input(input)?;
    let orig = store::get::<Entry>("entry", &r.id)?;
    if orig.data.state != "posted" {
        return Err(Error::invalid("id", "only a posted entry is reversed; a draft is changed or deleted"));
    }
    // A document's entry follows its document: an invoice is cancelled by a credit note,
    // a payment by a payment back; reversing the entry alone would part the books from it.
    if let Some(src) = orig.data.source.as_deref().filter(|s| s.starts_with("invoice:") || s.starts_with("payment:")) {
        return Err(Error::invalid("id", format!("the entry belongs to {src}: correct the document, not its entry")));
    }
    let q = Query::new().filter(Filter::eq("reversal_of", orig.id.as_str()));
    if let Some(done) = store::first::<Entry>("entry", q)? {
        return Err(Error::invalid("id", format!("already reversed by {}", done.data.number.unwrap_or_default())));
    }
    let date = r.date.unwrap_or_else(|| orig.data.date.clone());
    let number = orig.data.number.clone().unwrap_or_default();
    let lines = orig
        .data
        .lines
        .iter()
        .map(|l| {
            let mut m = l.clone();
            std::mem::swap(&mut m.debit, &mut m.credit);
            m.base = l.base.map(|b| -b);
            if m.memo.is_none() {
                m.memo = Some(format!("reversal of {number}"));
            }
            m
        })
        .collect();
    let id = post_new(Entry {
        journal: orig.data.journal.clone(),
        date,
        memo: Some(format!("Reversal of {number}")),
        reference: orig.data.reference.clone(),
        currency: orig.data.currency.clone(),
        rate: orig.data.rate,
        lines,
        reversal_of: Some(orig.id.clone()),
        ..Entry::default()
    })?;
    let rev = store::get::<Entry>("entry", &id)?;
    Ok(json!({ "id": id, "number": rev.data.number, "reverses": orig.id }))
}

/// Validation: posted entries and their lines never change and are never deleted.
pub fn validate(collection: &str, kind: WriteKind, before: Option<&Value>) -> Result<()> {
    let posted = before.is_some_and(|b| collection == "line" || b["state"].as_str() == Some("posted"));
    if kind != WriteKind::Create && posted {
        return Err(Error::invalid("state", "posted entries and their lines never change: post a reversal instead"));
    }
    Ok(())
}
