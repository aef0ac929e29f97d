//! On-hand quantities: one `quant` per product and internal location, changed only by done
//! moves, each change written with the version read so concurrent moves cannot lose one.

use erp_sdk::store::{self, Aggregate, Filter, Group, Query, Record};
use erp_sdk::{Error, Result, Value, context, json};
use rust_decimal::Decimal;
use serde::Deserialize;

use crate::model::{Location, Quant};

/// Records of a query, page by page (at most `cap`).
pub fn every<T: serde::de::DeserializeOwned>(collection: &str, filter: Filter, cap: usize) -> Result<Vec<Record<T>>> {
    every_of(collection, Some(filter), cap)
}

/// Every record of a collection, page by page (at most `cap`).
pub fn all<T: serde::de::DeserializeOwned>(collection: &str, cap: usize) -> Result<Vec<Record<T>>> {
    every_of(collection, None, cap)
}

fn every_of<T: serde::de::DeserializeOwned>(
    collection: &str,
    filter: Option<Filter>,
    cap: usize,
) -> Result<Vec<Record<T>>> {
    let query = |cursor: Option<String>| {
        let mut q = Query::new().limit(500);
        if let Some(f) = &filter {
            q = q.filter(f.clone());
        }
        if let Some(c) = cursor {
            q = q.cursor(c);
        }
        q
    };
    let mut out = Vec::new();
    let mut q = query(None);
    loop {
        let page = store::query::<T>(collection, &q)?;
        out.extend(page.records);
        match page.next_cursor {
            Some(c) if out.len() < cap => q = query(Some(c)),
            Some(_) => return Err(Error::Failed(format!("more than {cap} {collection} records to read"))),
            None => return Ok(out),
        }
    }
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

/// A metric of an aggregation group as a decimal (sums come as exact strings, or integers).
pub fn metric(g: &Group, name: &str) -> Decimal {
    g.values
        .get(name)
        .and_then(|v| v.as_str().map(str::to_string).or_else(|| v.as_i64().map(|i| i.to_string())))
        .and_then(|s| s.parse().ok())
        .unwrap_or_default()
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
