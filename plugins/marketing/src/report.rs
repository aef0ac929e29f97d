//! The ROI report: per campaign and per channel for a period, spend, leads, cost per lead,
//! deals won, revenue, ROI and ROMI, with deals credited to the first or the last touch.
//!
//! ROMI = (revenue - spend) / spend; ROI = (revenue x gross margin - spend) / spend; both in
//! percent, to two decimals; absent when nothing was spent.

use std::collections::BTreeMap;

use erp_sdk::store::Filter;
use erp_sdk::{Error, Result, Value, json};
use rust_decimal::Decimal;
use serde::Deserialize;

use crate::model::{Campaign, Conversion, Spend, Touch};
use crate::util;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Input {
    from: Option<String>,
    to: Option<String>,
    model: Option<String>,
}

#[derive(Default, Clone)]
struct Row {
    spend: Decimal,
    leads: u64,
    deals: u64,
    revenue: Decimal,
}

fn percent(part: Decimal, whole: Decimal) -> Option<String> {
    (!whole.is_zero()).then(|| (part * Decimal::ONE_HUNDRED / whole).round_dp(2).normalize().to_string())
}

fn shown(r: &Row) -> Value {
    let margin = util::gross_margin() / Decimal::ONE_HUNDRED;
    let cpl = (r.leads > 0).then(|| (r.spend / Decimal::from(r.leads)).round_dp(2).normalize().to_string());
    json!({
        "spend": r.spend.normalize().to_string(), "leads": r.leads, "cost_per_lead": cpl, "deals_won": r.deals,
        "revenue": r.revenue.normalize().to_string(),
        "romi_percent": percent(r.revenue - r.spend, r.spend),
        "roi_percent": percent(r.revenue * margin - r.spend, r.spend),
    })
}

fn within(at: &str, from: &str, to: &str) -> bool {
    let day = at.get(..10).unwrap_or(at);
    day >= from && day <= to
}

/// `report`.
pub fn report(input: Value) -> Result<Value> {
    let i: Input = erp_sdk::input(input)?;
    let from = i.from.unwrap_or_else(|| "0000-01-01".into());
    let to = i.to.unwrap_or_else(|| "9999-12-31".into());
    for (f, v) in [("from", &from), ("to", &to)] {
        if !v.starts_with("0000") && !v.starts_with("9999") {
            util::date(f, v)?;
        }
    }
    let first = match i.model.as_deref() {
        None | Some("last") => false,
        Some("first") => true,
        Some(_) => return Err(Error::invalid("model", "must be first or last")),
    };
    let campaigns = util::every::<Campaign>("campaign")?;
    let mut rows: BTreeMap<String, Row> = BTreeMap::new();
    let period = |field: &str| Filter::and(vec![Filter::gte(field, from.as_str()), Filter::lte(field, to.as_str())]);
    for s in util::all::<Spend>("spend", period("date"))? {
        rows.entry(s.data.campaign).or_default().spend += s.data.amount;
    }
    for t in util::every::<Touch>("touch")? {
        if within(&t.data.at, &from, &to) {
            rows.entry(t.data.campaign).or_default().leads += 1;
        }
    }
    let mut unattributed = Row::default();
    for c in util::every::<Conversion>("conversion")? {
        if !within(&c.data.won_at, &from, &to) {
            continue;
        }
        let credited = if first { c.data.first_touch } else { c.data.last_touch };
        let row = match credited {
            Some(id) => rows.entry(id).or_default(),
            None => &mut unattributed,
        };
        row.deals += 1;
        row.revenue += c.data.amount;
    }
    let mut by_channel: BTreeMap<String, Row> = BTreeMap::new();
    let mut total = Row::default();
    let mut out = Vec::new();
    for c in &campaigns {
        let r = rows.get(&c.id).cloned().unwrap_or_default();
        let ch = by_channel.entry(c.data.channel.clone()).or_default();
        for acc in [ch, &mut total] {
            acc.spend += r.spend;
            acc.leads += r.leads;
            acc.deals += r.deals;
            acc.revenue += r.revenue;
        }
        let mut v = shown(&r);
        v["campaign"] = json!(c.id);
        v["name"] = json!(c.data.name);
        v["channel"] = json!(c.data.channel);
        v["budget"] = json!(c.data.budget.map(|b| b.normalize().to_string()));
        out.push(v);
    }
    let channels: Vec<Value> = by_channel
        .iter()
        .map(|(name, r)| {
            let mut v = shown(r);
            v["channel"] = json!(name);
            v
        })
        .collect();
    Ok(json!({
        "from": from, "to": to, "model": if first { "first" } else { "last" }, "currency": util::currency(),
        "gross_margin_percent": util::gross_margin().normalize().to_string(),
        "campaigns": out, "channels": channels, "total": shown(&total),
        "unattributed": { "deals_won": unattributed.deals, "revenue": unattributed.revenue.normalize().to_string() },
    }))
}
