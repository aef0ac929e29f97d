//! Reports from aggregates: stock on hand by location, movements over a period, slow movers.

use std::collections::BTreeMap;

use erp_sdk::store::{self, Aggregate, Filter, Group};
use erp_sdk::{Error, Result, Value, json};
use rust_decimal::Decimal;

use crate::stock::metric as num;
use crate::when;

fn key(g: &Group, name: &str) -> String {
    g.key.get(name).and_then(Value::as_str).unwrap_or_default().to_string()
}

fn time_arg(input: &Value, name: &str) -> Result<Option<String>> {
    match input[name].as_str() {
        None => Ok(None),
        Some(s) => when::parse(s)
            .or_else(|| when::parse(&format!("{s}T00:00:00Z")))
            .map(|t| Some(when::format(t)))
            .ok_or_else(|| Error::invalid(name, "is not a date or an RFC 3339 time")),
    }
}

/// `stock-report`: on hand per location and product (non-zero), optionally for one location.
pub fn on_hand(input: Value) -> Result<Value> {
    let mut agg = Aggregate::new().group_by("location").group_by("product").metric("sum", "quantity");
    if let Some(l) = input["location"].as_str() {
        agg = agg.filter(Filter::eq("location", l));
    }
    let rows: Vec<Value> = store::aggregate("quant", &agg)?
        .iter()
        .filter(|g| !num(g, "sum_quantity").is_zero())
        .map(|g| json!({ "location": key(g, "location"), "product": key(g, "product"), "quantity": num(g, "sum_quantity").normalize().to_string() }))
        .collect();
    Ok(json!({ "rows": rows }))
}

/// `movements`: done quantities per product and kind of move over a period.
pub fn movements(input: Value) -> Result<Value> {
    let mut f = vec![Filter::eq("state", "done")];
    if let Some(t) = time_arg(&input, "from")? {
        f.push(Filter::gte("done_at", t.as_str()));
    }
    if let Some(t) = time_arg(&input, "to")? {
        f.push(Filter::lt("done_at", t.as_str()));
    }
    if let Some(p) = input["product"].as_str() {
        f.push(Filter::eq("product", p));
    }
    let groups = store::aggregate(
        "move",
        &Aggregate::new().filter(Filter::and(f)).group_by("product").group_by("kind").count().metric("sum", "quantity"),
    )?;
    let mut per: BTreeMap<String, erp_sdk::serde_json::Map<String, Value>> = BTreeMap::new();
    for g in &groups {
        per.entry(key(g, "product")).or_default().insert(
            key(g, "kind"),
            json!({ "moves": g.values.get("count"), "quantity": num(g, "sum_quantity").normalize().to_string() }),
        );
    }
    let rows: Vec<Value> = per.into_iter().map(|(p, kinds)| json!({ "product": p, "kinds": kinds })).collect();
    Ok(json!({ "from": input["from"], "to": input["to"], "products": rows }))
}

/// `slow-movers`: products in stock that have not been issued for `days` days (30 by default).
pub fn slow_movers(input: Value) -> Result<Value> {
    let days = input["days"].as_i64().unwrap_or(30);
    if !(1..=3650).contains(&days) {
        return Err(Error::invalid("days", "must be 1 to 3650"));
    }
    let cutoff = when::now() - chrono::TimeDelta::days(days);
    let stock = store::aggregate("quant", &Aggregate::new().group_by("product").metric("sum", "quantity"))?;
    let issued = store::aggregate(
        "move",
        &Aggregate::new()
            .filter(Filter::and(vec![Filter::eq("kind", "issue"), Filter::eq("state", "done")]))
            .group_by("product")
            .metric("max", "done_at"),
    )?;
    let last: BTreeMap<String, Option<String>> = issued
        .iter()
        .map(|g| (key(g, "product"), g.values.get("max_done_at").and_then(Value::as_str).map(str::to_string)))
        .collect();
    let mut rows = Vec::new();
    for g in &stock {
        let qty = num(g, "sum_quantity");
        if qty <= Decimal::ZERO {
            continue;
        }
        let product = key(g, "product");
        let last_issue = last.get(&product).cloned().flatten();
        let slow = last_issue.as_deref().and_then(when::parse).is_none_or(|t| t < cutoff);
        if slow {
            rows.push(json!({ "product": product, "on_hand": qty.normalize().to_string(), "last_issue": last_issue }));
        }
    }
    Ok(json!({ "days": days, "products": rows }))
}
