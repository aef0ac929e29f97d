//! Valuation: what stock is worth, by FIFO layers or moving average (AVCO), in exact decimals
//! rounded to kopecks per move. Every valued move leaves a ledger entry, so the value at any
//! date is a sum over the ledger, never a replay of history.

use erp_sdk::store::{self, Aggregate, Filter, Query, Record};
use erp_sdk::{Error, Result, Value, context, json};
use rust_decimal::Decimal;
use serde::Deserialize;

use crate::model::{Cost, Entry, Layer, Product};

#[derive(Deserialize, Default)]
#[serde(default)]
struct Config {
    valuation: Option<String>,
}

fn fifo() -> bool {
    context::config::<Config>().ok().and_then(|c| c.valuation).as_deref() != Some("avco")
}

/// Rounded to kopecks and always shown with two decimals.
fn money(d: Decimal) -> Decimal {
    let mut d = d.round_dp(2);
    d.rescale(2);
    d
}

fn overflow() -> Error {
    Error::invalid("quantity", "amounts are too large to value")
}

fn cost_of(product: &str) -> Result<Option<Record<Cost>>> {
    let q = Query::new().filter(Filter::eq("key", product)).limit(1);
    Ok(store::query::<Cost>("cost", &q)?.records.into_iter().next())
}

fn save_cost(product: &str, current: Option<Record<Cost>>, quantity: Decimal, value: Decimal) -> Result<()> {
    match current {
        Some(c) => {
            let patch = json!({ "quantity": quantity.to_string(), "value": value.to_string() });
            store::update::<Value>("cost", &c.id, &patch, Some(c.version))?;
        }
        None => {
            store::create("cost", &Cost { key: product.into(), product: product.into(), quantity, value })?;
        }
    }
    Ok(())
}

fn entry(move_id: &str, product: &str, quantity: Decimal, value: Decimal, at: &str) -> Result<()> {
    store::create(
        "ledger",
        &Entry { move_id: move_id.into(), product: product.into(), quantity, value, at: at.into() },
    )?;
    Ok(())
}

/// Stock comes in at `unit_cost`: the value added (rounded to kopecks).
pub fn receive(move_id: &str, product: &str, quantity: Decimal, unit_cost: Decimal, at: &str) -> Result<Decimal> {
    let value = money(quantity.checked_mul(unit_cost).ok_or_else(overflow)?);
    let current = cost_of(product)?;
    let (q, v) = current.as_ref().map(|c| (c.data.quantity, c.data.value)).unwrap_or_default();
    save_cost(
        product,
        current,
        q.checked_add(quantity).ok_or_else(overflow)?,
        v.checked_add(value).ok_or_else(overflow)?,
    )?;
    if fifo() {
        let layer =
            Layer { product: product.into(), move_id: move_id.into(), at: at.into(), unit_cost, remaining: quantity };
        store::create("layer", &layer)?;
    }
    entry(move_id, product, quantity, value, at)?;
    Ok(value)
}

/// Stock goes out: the value taken (rounded to kopecks). FIFO takes the oldest layers first;
/// AVCO takes the average, and the last unit out takes exactly what is left.
pub fn issue(move_id: &str, product: &Record<Product>, quantity: Decimal, at: &str) -> Result<Decimal> {
    let current = cost_of(&product.id)?;
    let (q, v) = current.as_ref().map(|c| (c.data.quantity, c.data.value)).unwrap_or_default();
    let fallback = product.data.standard_cost.unwrap_or_default();
    let value = if fifo() {
        let mut left = quantity;
        let mut value = Decimal::ZERO;
        let layers = Query::new()
            .filter(Filter::and(vec![Filter::eq("product", product.id.as_str()), Filter::gt("remaining", "0")]))
            .sort_asc("at")
            .limit(500);
        for l in store::query::<Layer>("layer", &layers)?.records {
            if left.is_zero() {
                break;
            }
            let take = left.min(l.data.remaining);
            value = value.checked_add(take.checked_mul(l.data.unit_cost).ok_or_else(overflow)?).ok_or_else(overflow)?;
            left -= take;
            let patch = json!({ "remaining": (l.data.remaining - take).to_string() });
            store::update::<Value>("layer", &l.id, &patch, Some(l.version))?;
        }
        // Beyond the layers (negative stock allowed): at the standard cost.
        value = value.checked_add(left.checked_mul(fallback).ok_or_else(overflow)?).ok_or_else(overflow)?;
        money(value)
    } else if quantity >= q && q > Decimal::ZERO {
        let beyond = (quantity - q).checked_mul(fallback).ok_or_else(overflow)?;
        money(v.checked_add(beyond).ok_or_else(overflow)?)
    } else if q > Decimal::ZERO {
        money(quantity.checked_mul(v).ok_or_else(overflow)? / q)
    } else {
        money(quantity.checked_mul(fallback).ok_or_else(overflow)?)
    };
    save_cost(&product.id, current, q - quantity, v - value)?;
    entry(move_id, &product.id, -quantity, -value, at)?;
    Ok(value)
}

/// `valuation`: per product, the quantity and value of stock at a time (now by default),
/// summed from the ledger.
pub fn report(input: Value) -> Result<Value> {
    let mut agg = Aggregate::new().group_by("product").metric("sum", "quantity").metric("sum", "value");
    let at = match input["at"].as_str() {
        None => None,
        Some(s) => Some(
            crate::when::parse(s)
                .or_else(|| crate::when::parse(&format!("{s}T23:59:59.999999Z")))
                .ok_or_else(|| Error::invalid("at", "is not a date or an RFC 3339 time"))?,
        ),
    };
    if let Some(t) = at {
        agg = agg.filter(Filter::lte("at", crate::when::format(t).as_str()));
    }
    let groups = store::aggregate("ledger", &agg)?;
    let mut total = Decimal::ZERO;
    let mut rows = Vec::new();
    for g in groups {
        let num = |k: &str| crate::stock::metric(&g, k);
        let value = money(num("sum_value"));
        total = total.checked_add(value).ok_or_else(overflow)?;
        rows.push(json!({
            "product": g.key.get("product"),
            "quantity": num("sum_quantity").normalize().to_string(),
            "value": value.to_string(),
        }));
    }
    Ok(json!({ "at": at.map(crate::when::format), "products": rows, "total": money(total).to_string() }))
}
