//! On-hand quantities: one `quant` per product and internal location, changed only by done
//! moves, each change written with the version read so concurrent moves cannot lose one.

use erp_sdk::store::{self, Aggregate, Filter, Group, Query, Record};
use erp_sdk::{Error, Result, Value, context, json};
use rust_decimal::Decimal;
use serde::Deserialize;

use crate::model::{Location, Quant};

/// Records of a query, page by page (at most `cap`).
pub fn every<T: serde::de::DeserializeOwned>(collection: &str, filter: Filter, cap: usize) -> Result<Vec<Record<T>>> {
    store::query_all(collection, Query::new().filter(filter), cap)
}

/// Every record of a collection, page by page (at most `cap`).
pub fn all<T: serde::de::DeserializeOwned>(collection: &str, cap: usize) -> Result<Vec<Record<T>>> {
    store::query_all(collection, Query::new(), cap)
}

fn key(product: &str, location: &str) -> String {
    format!("{product}@{location}")
}

/// The quant of a product in a location, if there is one.
pub fn quant(product: &str, location: &str) -> Result<Option<Record<Quant>>> {
    let q = Query::new().filter(Filter::eq("key", key(product, location).as_str())).limit(1);
    Ok(store::query::<Quant>("quant", &q)?.records.into_iter().next())
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Config {
    allow_negative: Option<bool>,
}

/// Changes the on-hand quantity of a product in an internal location by `delta`. Going below
/// zero is refused unless the company allows negative stock.
pub fn change(product: &str, location: &Record<Location>, delta: Decimal) -> Result<Decimal> {
    let allow_negative = context::config::<Config>().ok().and_then(|c| c.allow_negative).unwrap_or(false);
    let current = quant(product, &location.id)?;
    let before = current.as_ref().map(|q| q.data.quantity).unwrap_or_default();
    let after = before.checked_add(delta).ok_or_else(|| Error::invalid("quantity", "is too large"))?;
    if after < Decimal::ZERO && !allow_negative {
        return Err(Error::invalid(
            "quantity",
            format!("only {} on hand in {}; negative stock is not allowed", before.normalize(), location.data.name),
        ));
    }
    match current {
        Some(q) => {
            store::update::<Value>("quant", &q.id, &json!({ "quantity": after.to_string() }), Some(q.version))?;
        }
        None => {
            let q = Quant {
                key: key(product, &location.id),
                product: product.into(),
                location: location.id.clone(),
                quantity: after,
            };
            store::create("quant", &q)?;
        }
    }
    Ok(after)
}

/// A metric of an aggregation group as a decimal.
pub fn metric(g: &Group, name: &str) -> Decimal {
    g.number(name).and_then(|s| s.parse().ok()).unwrap_or_default()
}

/// The sum of `quantity` over the records of `collection` that match.
fn sum_quantity(collection: &str, filter: Filter) -> Result<Decimal> {
    let groups = store::aggregate(collection, &Aggregate::new().filter(filter).metric("sum", "quantity"))?;
    Ok(groups.first().map(|g| metric(g, "sum_quantity")).unwrap_or_default())
}

/// On hand of a product across internal locations (quants exist only for those).
pub fn on_hand_total(product: &str) -> Result<Decimal> {
    sum_quantity("quant", Filter::eq("product", product))
}

/// Reserved and not yet delivered, for a product.
pub fn reserved_total(product: &str) -> Result<Decimal> {
    sum_quantity("reservation", Filter::and(vec![Filter::eq("product", product), Filter::eq("state", "active")]))
}

/// `on-hand`: per location, and in total with what is reserved and available.
pub fn on_hand(input: Value) -> Result<Value> {
    let product = input["product"].as_str().ok_or_else(|| Error::invalid("product", "is required"))?.to_string();
    let quants = every::<Quant>("quant", Filter::eq("product", product.as_str()), 10_000)?;
    let mut rows = Vec::new();
    let mut total = Decimal::ZERO;
    for q in quants.iter().filter(|q| !q.data.quantity.is_zero()) {
        total += q.data.quantity;
        rows.push(json!({ "location": q.data.location, "quantity": q.data.quantity.normalize().to_string() }));
    }
    let reserved = reserved_total(&product)?;
    Ok(json!({
        "product": product,
        "on_hand": total.normalize().to_string(),
        "reserved": reserved.normalize().to_string(),
        "available": (total - reserved).normalize().to_string(),
        "locations": rows,
    }))
}
