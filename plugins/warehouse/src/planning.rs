//! Reorder rules: min/max per product and warehouse. A schedule checks them and publishes
//! `warehouse.stock.low` once per dip below the minimum; the replenishment proposal orders up
//! to the maximum plus the forecast demand over the lead time.

use std::collections::BTreeSet;

use erp_sdk::store::{self, Filter, Record};
use erp_sdk::{Error, Result, Value, events, json, serde_json};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::model::{Location, Product, Quant};
use crate::{forecast, stock};

/// `reorder_rule`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Rule {
    pub product: String,
    pub warehouse: String,
    pub min_qty: Decimal,
    pub max_qty: Decimal,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lead_days: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alerted: Option<bool>,
}

/// The validation hook for rules: 0 ≤ min ≤ max, a warehouse, one rule per product and
/// warehouse.
pub fn validate(id: &str, after: &Value) -> Result<()> {
    let r: Rule = serde_json::from_value(after.clone()).map_err(|e| Error::invalid("rule", e.to_string()))?;
    if r.min_qty < Decimal::ZERO || r.max_qty < r.min_qty {
        return Err(Error::invalid("max_qty", "need 0 ≤ min_qty ≤ max_qty"));
    }
    if r.lead_days.is_some_and(|d| !(0..=365).contains(&d)) {
        return Err(Error::invalid("lead_days", "must be 0 to 365"));
    }
    match store::get::<Location>("location", &r.warehouse) {
        Ok(l) if l.data.kind == "warehouse" => {}
        _ => return Err(Error::invalid("warehouse", "must be a warehouse")),
    }
    let same =
        Filter::and(vec![Filter::eq("product", r.product.as_str()), Filter::eq("warehouse", r.warehouse.as_str())]);
    if stock::every::<Rule>("reorder_rule", same, 10)?.iter().any(|o| o.id != id) {
        return Err(Error::invalid("product", "already has a rule for this warehouse"));
    }
    Ok(())
}

/// The warehouse and every zone and bin inside it.
fn subtree(warehouse: &str, all: &[Record<Location>]) -> BTreeSet<String> {
    let mut inside: BTreeSet<String> = BTreeSet::from([warehouse.to_string()]);
    loop {
        let before = inside.len();
        for l in all {
            if l.data.parent.as_ref().is_some_and(|p| inside.contains(p)) {
                inside.insert(l.id.clone());
            }
        }
        if inside.len() == before {
            return inside;
        }
    }
}

/// What a rule says now: on hand in the warehouse, available (less what is reserved), and the
/// quantity to order when below the minimum.
fn assess(rule: &Record<Rule>, locations: &[Record<Location>]) -> Result<Value> {
    let r = &rule.data;
    let inside = subtree(&r.warehouse, locations);
    let on_hand: Decimal = stock::every::<Quant>("quant", Filter::eq("product", r.product.as_str()), 10_000)?
        .iter()
        .filter(|q| inside.contains(&q.data.location))
        .map(|q| q.data.quantity)
        .sum();
    let available = on_hand - stock::reserved_total(&r.product)?;
    let f = forecast::of(&r.product, 26, 4, Decimal::new(3, 1))?;
    let lead = Decimal::from(r.lead_days.unwrap_or(7));
    let lead_demand = (f.weekly * lead / Decimal::from(7)).round_dp(4);
    let low = available < r.min_qty;
    let propose = if low { (r.max_qty - available + lead_demand).max(Decimal::ZERO).ceil() } else { Decimal::ZERO };
    let sku = store::get::<Product>("product", &r.product).map(|p| p.data.sku).unwrap_or_default();
    Ok(json!({
        "rule": rule.id, "product": r.product, "sku": sku, "warehouse": r.warehouse,
        "on_hand": on_hand.normalize().to_string(), "available": available.normalize().to_string(),
        "min_qty": r.min_qty.normalize().to_string(), "max_qty": r.max_qty.normalize().to_string(),
        "lead_days": r.lead_days.unwrap_or(7), "forecast_weekly": f.weekly.round_dp(4).normalize().to_string(),
        "forecast_method": f.method, "low": low, "propose": propose.normalize().to_string(),
    }))
}

/// `replenishment`: every rule below its minimum, with the quantity to order.
pub fn replenishment() -> Result<Value> {
    let locations = stock::all::<Location>("location", 10_000)?;
    let mut out = Vec::new();
    for rule in stock::all::<Rule>("reorder_rule", 10_000)? {
        let a = assess(&rule, &locations)?;
        if a["low"] == json!(true) {
            out.push(a);
        }
    }
    Ok(json!({ "proposals": out }))
}

/// The `reorder` schedule: announces each dip below a minimum once, as `warehouse.stock.low`.
pub fn check() -> Result<()> {
    let locations = stock::all::<Location>("location", 10_000)?;
    for rule in stock::all::<Rule>("reorder_rule", 10_000)? {
        let a = assess(&rule, &locations)?;
        let low = a["low"] == json!(true);
        let alerted = rule.data.alerted == Some(true);
        if low && !alerted {
            events::publish("warehouse.stock.low", &a)?;
        }
        if low != alerted {
            store::update::<Value>("reorder_rule", &rule.id, &json!({ "alerted": low }), Some(rule.version))?;
        }
    }
    Ok(())
}
