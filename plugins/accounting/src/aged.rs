//! Aged receivables and payables at any date: what each partner owes (or is owed) by days
//! overdue, from invoices and the allocations dated up to that day, with unallocated credit.

use std::collections::BTreeMap;

use erp_sdk::store::Filter;
use erp_sdk::{Error, Result, Value, json, serde_json};
use rust_decimal::Decimal;
use serde::Deserialize;

use crate::model::{Allocation, Invoice, Payment};
use crate::{dates, money, util};

const BUCKETS: [&str; 5] = ["current", "1_30", "31_60", "61_90", "over_90"];

fn bucket(days_overdue: i64) -> usize {
    match days_overdue {
        i64::MIN..=0 => 0,
        1..=30 => 1,
        31..=60 => 2,
        61..=90 => 3,
        _ => 4,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Input {
    kind: String,
    at: Option<String>,
}

#[derive(Default)]
struct Row {
    name: Option<String>,
    buckets: [Decimal; 5],
    credit: Decimal,
}

/// `aged`.
pub fn aged(input: Value) -> Result<Value> {
    let i: Input = erp_sdk::input(input)?;
    let (kind, direction) = match i.kind.as_str() {
        "receivable" => ("invoice", "in"),
        "payable" => ("bill", "out"),
        _ => return Err(Error::invalid("kind", "must be receivable or payable")),
    };
    let at = dates::optional("at", i.at.as_deref())?.unwrap_or_else(dates::today);
    let day = dates::format(at);
    let mut applied: BTreeMap<String, Decimal> = BTreeMap::new();
    let mut used: BTreeMap<String, Decimal> = BTreeMap::new();
    for a in util::all::<Allocation>("allocation", Filter::lte("date", day.as_str()))? {
        *applied.entry(a.data.invoice.clone()).or_default() += a.data.amount;
        if let Some(p) = a.data.payment {
            *used.entry(p).or_default() += a.data.amount;
        }
    }
    let filter = Filter::and(vec![
        Filter::eq("kind", kind),
        Filter::lte("date", day.as_str()),
        Filter::is_in("state", vec![json!("posted"), json!("partial"), json!("paid"), json!("cancelled")]),
    ]);
    let mut partners: BTreeMap<String, Row> = BTreeMap::new();
    let currency = util::company_currency();
    for inv in util::all::<Invoice>("invoice", filter)? {
        let open = inv.data.total - applied.get(&inv.id).copied().unwrap_or_default();
        if open <= Decimal::ZERO {
            continue;
        }
        // Foreign-currency documents count at their own rate, as the books carry them.
        let open = money::round(open * inv.data.rate.unwrap_or(Decimal::ONE));
        let due = inv.data.due_date.as_deref().map(|d| dates::parse("due_date", d)).transpose()?;
        let overdue = due.map(|d| (at - d).num_days()).unwrap_or(0);
        let row = partners.entry(inv.data.partner.clone()).or_default();
        row.name = row.name.take().or(inv.data.partner_name.clone());
        row.buckets[bucket(overdue)] += open;
    }
    let pays = Filter::and(vec![Filter::eq("direction", direction), Filter::lte("date", day.as_str())]);
    for p in util::all::<Payment>("payment", pays)? {
        let left = p.data.amount - used.get(&p.id).copied().unwrap_or_default();
        let left = money::round(left * p.data.rate.unwrap_or(Decimal::ONE));
        if left > Decimal::ZERO {
            let row = partners.entry(p.data.partner.clone()).or_default();
            row.name = row.name.take().or(p.data.partner_name.clone());
            row.credit += left;
        }
    }
    let mut totals = [Decimal::ZERO; 5];
    let mut total_credit = Decimal::ZERO;
    let rows: Vec<Value> = partners
        .into_iter()
        .map(|(partner, r)| {
            let mut b = serde_json::Map::new();
            for (n, v) in BUCKETS.iter().zip(r.buckets) {
                b.insert(n.to_string(), json!(money::text(v)));
            }
            for (t, v) in totals.iter_mut().zip(r.buckets) {
                *t += v;
            }
            total_credit += r.credit;
            let owed: Decimal = r.buckets.iter().sum();
            json!({ "partner": partner, "name": r.name, "buckets": b, "total": money::text(owed),
                    "credit": money::text(r.credit), "net": money::text(owed - r.credit) })
        })
        .collect();
    let mut t = serde_json::Map::new();
    for (n, v) in BUCKETS.iter().zip(totals) {
        t.insert(n.to_string(), json!(money::text(v)));
    }
    Ok(json!({
        "kind": i.kind, "at": day, "currency": currency, "partners": rows, "totals": t,
        "total": money::text(totals.iter().sum()), "credit": money::text(total_credit),
    }))
}
