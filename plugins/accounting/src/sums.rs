//! Debit and credit turnover per account over any range of days, from the monthly balances
//! for whole months and the daily balances for the days of a partial month at either end:
//! a report reads balances only, never the lines, however long the history.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use erp_sdk::Result;
use erp_sdk::store::{self, Aggregate, Filter};
use rust_decimal::Decimal;

use crate::dates;

/// Account id to (debit, credit).
pub type Turnover = BTreeMap<String, (Decimal, Decimal)>;

fn collect(into: &mut Turnover, collection: &str, mut filters: Vec<Filter>, account: Option<&str>) -> Result<()> {
    if let Some(a) = account {
        filters.push(Filter::eq("account", a));
    }
    let agg = Aggregate::new()
        .filter(Filter::and(filters))
        .group_by("account")
        .metric("sum", "debit")
        .metric("sum", "credit");
    for g in store::aggregate(collection, &agg)? {
        let Some(acc) = g.key_text("account") else { continue };
        let num = |name: &str| g.number(name).and_then(|s| s.parse::<Decimal>().ok()).unwrap_or_default();
        let e = into.entry(acc.to_string()).or_default();
        e.0 += num("sum_debit");
        e.1 += num("sum_credit");
    }
    Ok(())
}

fn months(into: &mut Turnover, first: Option<NaiveDate>, last: NaiveDate, account: Option<&str>) -> Result<()> {
    let mut f = vec![Filter::lte("period", dates::period(last))];
    if let Some(first) = first {
        f.push(Filter::gte("period", dates::period(first)));
    }
    collect(into, "balance", f, account)
}

fn days(into: &mut Turnover, from: NaiveDate, to: NaiveDate, account: Option<&str>) -> Result<()> {
    let f = vec![Filter::gte("date", dates::format(from)), Filter::lte("date", dates::format(to))];
    collect(into, "daily", f, account)
}

/// Turnover from `from` (the beginning of the books when absent) to `to`, both included,
/// for every account or for one.
pub fn turnover(from: Option<NaiveDate>, to: NaiveDate, account: Option<&str>) -> Result<Turnover> {
    let mut out = Turnover::new();
    if from.is_some_and(|f| f > to) {
        return Ok(out);
    }
    // The whole months inside the range: from `start` to the end of the month of `end`.
    let start = from.map(|f| if f.day() == 1 { f } else { dates::next(dates::month_end(f)) });
    let end = if to == dates::month_end(to) { to } else { dates::prev(dates::month_start(to)) };
    match start {
        Some(s) if s > end => days(&mut out, from.unwrap_or(s), to, account)?,
        _ => {
            months(&mut out, start, end, account)?;
            if let (Some(f), Some(s)) = (from, start)
                && f < s
            {
                days(&mut out, f, dates::prev(s), account)?;
            }
            if end < to {
                days(&mut out, dates::next(end), to, account)?;
            }
        }
    }
    Ok(out)
}

/// Turnover up to and including `at`: the balance at the end of that day.
pub fn up_to(at: NaiveDate, account: Option<&str>) -> Result<Turnover> {
    turnover(None, at, account)
}

/// The first day of `d`'s year.
pub fn year_start(d: NaiveDate) -> NaiveDate {
    NaiveDate::from_ymd_opt(d.year(), 1, 1).unwrap_or(d)
}
