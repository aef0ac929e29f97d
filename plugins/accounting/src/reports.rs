//! Financial reports for any period, exact to the kopeck: trial balance, general ledger of
//! an account, profit and loss, balance sheet. Built from `sums`, so their cost depends on
//! the number of accounts and months, not on the number of lines posted.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use erp_sdk::store::{self, Filter, Query};
use erp_sdk::{Error, Result, Value, json};
use rust_decimal::Decimal;
use serde::Deserialize;

use crate::model::{Account, Entry, Line};
use crate::sums::{self, Turnover};
use crate::{accounts, dates, money, util};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Period {
    from: Option<String>,
    to: Option<String>,
}

fn period(input: Value, default_from: fn(NaiveDate) -> NaiveDate) -> Result<(NaiveDate, NaiveDate)> {
    let p: Period = erp_sdk::input(input)?;
    let to = dates::optional("to", p.to.as_deref())?.unwrap_or_else(dates::today);
    let from = dates::optional("from", p.from.as_deref())?.unwrap_or_else(|| default_from(to));
    if from > to {
        return Err(Error::invalid("from", "must not be after to"));
    }
    Ok((from, to))
}

fn chart() -> Result<BTreeMap<String, Account>> {
    let all = store::query_all::<Account>("account", Query::new(), util::MAX_SCAN)?;
    Ok(all.into_iter().map(|r| (r.id, r.data)).collect())
}

fn t(d: Decimal) -> String {
    money::text(d)
}

fn split(net: Decimal) -> (Decimal, Decimal) {
    if net >= Decimal::ZERO { (net, Decimal::ZERO) } else { (Decimal::ZERO, -net) }
}

/// `trial-balance`: per account, the opening balance, the turnover and the closing balance;
/// the debit and credit columns each sum to the same total.
pub fn trial_balance(input: Value) -> Result<Value> {
    let (from, to) = period(input, dates::month_start)?;
    let opening = sums::up_to(dates::prev(from), None)?;
    let moved = sums::turnover(Some(from), to, None)?;
    let chart = chart()?;
    let mut ids: Vec<&String> = opening.keys().chain(moved.keys()).collect();
    ids.sort();
    ids.dedup();
    let mut rows = Vec::new();
    let mut total = [Decimal::ZERO; 6];
    for id in ids {
        let (od, oc) = opening.get(id).copied().unwrap_or_default();
        let (d, c) = moved.get(id).copied().unwrap_or_default();
        let open = split(od - oc);
        let close = split(od - oc + d - c);
        if [open.0, open.1, d, c, close.0, close.1].iter().all(|x| x.is_zero()) {
            continue;
        }
        for (i, v) in [open.0, open.1, d, c, close.0, close.1].into_iter().enumerate() {
            total[i] += v;
        }
        let acc = chart.get(id).cloned().unwrap_or_default();
        rows.push(json!({
            "account": id, "code": acc.code, "name": acc.name, "type": acc.kind,
            "opening_debit": t(open.0), "opening_credit": t(open.1), "debit": t(d), "credit": t(c),
            "closing_debit": t(close.0), "closing_credit": t(close.1),
        }));
    }
    rows.sort_by(|a, b| a["code"].as_str().cmp(&b["code"].as_str()));
    Ok(json!({
        "from": dates::format(from), "to": dates::format(to), "currency": util::company_currency(), "rows": rows,
        "totals": { "opening_debit": t(total[0]), "opening_credit": t(total[1]), "debit": t(total[2]),
                    "credit": t(total[3]), "closing_debit": t(total[4]), "closing_credit": t(total[5]) },
        "balanced": total[0] == total[1] && total[2] == total[3] && total[4] == total[5],
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Ledger {
    account: String,
    from: Option<String>,
    to: Option<String>,
    cursor: Option<String>,
    carried: Option<Decimal>,
}

/// `general-ledger`: the lines of an account in date order with the running balance (debit
/// positive), 500 at a time; the next page is asked for with `cursor` and `carried` from
/// this one.
pub fn general_ledger(input: Value) -> Result<Value> {
    let l: Ledger = erp_sdk::input(input)?;
    let account = accounts::find("account", &l.account)?;
    let to = dates::optional("to", l.to.as_deref())?.unwrap_or_else(dates::today);
    let from = dates::optional("from", l.from.as_deref())?.unwrap_or_else(|| dates::month_start(to));
    if from > to {
        return Err(Error::invalid("from", "must not be after to"));
    }
    let opening = {
        let before = sums::up_to(dates::prev(from), Some(&account.id))?;
        before.get(&account.id).map(|(d, c)| *d - *c).unwrap_or_default()
    };
    let mut running = match (&l.cursor, l.carried) {
        (Some(_), Some(c)) => c,
        (Some(_), None) => {
            return Err(Error::invalid("carried", "is required with cursor: the balance the last page ended at"));
        }
        (None, _) => opening,
    };
    let filter = Filter::and(vec![
        Filter::eq("account", account.id.as_str()),
        Filter::gte("date", dates::format(from)),
        Filter::lte("date", dates::format(to)),
    ]);
    let mut q = Query::new().filter(filter).sort_asc("date").limit(500);
    if let Some(c) = l.cursor {
        q = q.cursor(c);
    }
    let page = store::query::<Line>("line", &q)?;
    let mut numbers: BTreeMap<String, Option<String>> = BTreeMap::new();
    let (mut debit, mut credit) = (Decimal::ZERO, Decimal::ZERO);
    let mut rows = Vec::new();
    for line in &page.records {
        let x = &line.data;
        running += x.debit - x.credit;
        debit += x.debit;
        credit += x.credit;
        if !numbers.contains_key(&x.entry) {
            let number = store::get::<Entry>("entry", &x.entry).ok().and_then(|e| e.data.number);
            numbers.insert(x.entry.clone(), number);
        }
        rows.push(json!({
            "date": x.date, "entry": x.entry, "number": numbers.get(&x.entry).cloned().flatten(),
            "debit": t(x.debit), "credit": t(x.credit), "balance": t(running),
            "partner": x.partner, "memo": x.memo, "currency": x.currency,
            "amount_currency": x.amount_currency.map(t),
        }));
    }
    Ok(json!({
        "account": { "id": account.id, "code": account.data.code, "name": account.data.name },
        "from": dates::format(from), "to": dates::format(to), "opening": t(opening), "rows": rows,
        "page_debit": t(debit), "page_credit": t(credit), "carried": t(running),
        "next_cursor": page.next_cursor, "closing": if page.next_cursor.is_none() { Some(t(running)) } else { None },
    }))
}

fn section(
    chart: &BTreeMap<String, Account>,
    sums: &Turnover,
    kind: &str,
    debit_positive: bool,
) -> (Vec<Value>, Decimal) {
    let mut rows = Vec::new();
    let mut total = Decimal::ZERO;
    for (id, (d, c)) in sums {
        let Some(acc) = chart.get(id).filter(|a| a.kind == kind) else { continue };
        let amount = if debit_positive { *d - *c } else { *c - *d };
        if amount.is_zero() {
            continue;
        }
        total += amount;
        rows.push(json!({ "account": id, "code": acc.code, "name": acc.name, "amount": t(amount) }));
    }
    rows.sort_by(|a, b| a["code"].as_str().cmp(&b["code"].as_str()));
    (rows, total)
}

/// `profit-and-loss`: income and expenses of the period (the year to date by default).
pub fn profit_and_loss(input: Value) -> Result<Value> {
    let (from, to) = period(input, sums::year_start)?;
    let moved = sums::turnover(Some(from), to, None)?;
    let chart = chart()?;
    let (income, total_income) = section(&chart, &moved, "income", false);
    let (expenses, total_expenses) = section(&chart, &moved, "expense", true);
    Ok(json!({
        "from": dates::format(from), "to": dates::format(to), "currency": util::company_currency(),
        "income": income, "expenses": expenses, "total_income": t(total_income),
        "total_expenses": t(total_expenses), "result": t(total_income - total_expenses),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct At {
    at: Option<String>,
}

/// `balance-sheet`: assets against liabilities, equity and the result not yet closed to
/// equity, at the end of a day.
pub fn balance_sheet(input: Value) -> Result<Value> {
    let a: At = erp_sdk::input(input)?;
    let at = dates::optional("at", a.at.as_deref())?.unwrap_or_else(dates::today);
    let closing = sums::up_to(at, None)?;
    let chart = chart()?;
    let (assets, total_assets) = section(&chart, &closing, "asset", true);
    let (liabilities, total_liabilities) = section(&chart, &closing, "liability", false);
    let (equity, total_equity) = section(&chart, &closing, "equity", false);
    let (_, income) = section(&chart, &closing, "income", false);
    let (_, expenses) = section(&chart, &closing, "expense", true);
    let result = income - expenses;
    Ok(json!({
        "at": dates::format(at), "currency": util::company_currency(),
        "assets": assets, "liabilities": liabilities, "equity": equity,
        "total_assets": t(total_assets), "total_liabilities": t(total_liabilities), "total_equity": t(total_equity),
        "unclosed_result": t(result),
        "total_liabilities_and_equity": t(total_liabilities + total_equity + result),
        "balanced": total_assets == total_liabilities + total_equity + result,
    }))
}
