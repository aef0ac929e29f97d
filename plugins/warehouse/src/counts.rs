//! Inventory counts: a count sheet lists what a location should hold; storekeepers enter what
//! they found; confirming posts each difference as an adjustment move.

use erp_sdk::store::{self, Filter};
use erp_sdk::{Error, Result, Value, json, serde_json};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::model::{Location, Quant};
use crate::{stock, when};

/// `count`: one count sheet.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Count {
    pub location: String,
    pub state: String,
    pub started_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirmed_at: Option<String>,
}

/// `count_line`: one product on a sheet.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Line {
    pub count: String,
    pub product: String,
    pub expected: Decimal,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counted: Option<Decimal>,
}

/// `start-count`: a sheet for a warehouse, zone or bin with what the books say it holds.
pub fn start(input: Value) -> Result<Value> {
    let location = input["location"].as_str().ok_or_else(|| Error::invalid("location", "is required"))?;
    let place =
        store::get::<Location>("location", location).map_err(|_| Error::invalid("location", "no such location"))?;
    if !place.data.is_internal() {
        return Err(Error::invalid("location", "count a warehouse, zone or bin"));
    }
    let open = Filter::and(vec![Filter::eq("location", location), Filter::eq("state", "open")]);
    if !stock::every::<Count>("count", open, 1)?.is_empty() {
        return Err(Error::Conflict("this location already has an open count".into()));
    }
    let count = store::create(
        "count",
        &Count {
            location: location.into(),
            state: "open".into(),
            started_at: when::format(when::now()),
            confirmed_at: None,
        },
    )?;
    let mut lines = 0;
    for q in stock::every::<Quant>("quant", Filter::eq("location", location), 10_000)? {
        if q.data.quantity.is_zero() {
            continue;
        }
        store::create(
            "count_line",
            &Line { count: count.id.clone(), product: q.data.product, expected: q.data.quantity, counted: None },
        )?;
        lines += 1;
    }
    Ok(json!({ "id": count.id, "lines": lines }))
}

/// The validation hook for count lines: counted quantities are not negative, and a confirmed
/// sheet does not change.
pub fn validate_line(after: Option<&Value>, before: Option<&Value>) -> Result<()> {
    let sheet = after.or(before).and_then(|v| v["count"].as_str()).unwrap_or_default().to_string();
    if let Ok(c) = store::get::<Count>("count", &sheet)
        && c.data.state != "open"
    {
        return Err(Error::Conflict("the count is confirmed; it does not change".into()));
    }
    if let Some(a) = after {
        let l: Line = serde_json::from_value(a.clone()).map_err(|e| Error::invalid("line", e.to_string()))?;
        if l.counted.is_some_and(|c| c < Decimal::ZERO) {
            return Err(Error::invalid("counted", "must not be negative"));
        }
    }
    Ok(())
}

/// `confirm-count`: every line counted differently from the books becomes an adjustment (a
/// gain from, or a loss to, the company's inventory-loss location). Lines left uncounted are
/// taken as found as expected.
pub fn confirm(input: Value) -> Result<Value> {
    let id = input["id"].as_str().ok_or_else(|| Error::invalid("id", "is required"))?;
    let count = store::get::<Count>("count", id)?;
    if count.data.state != "open" {
        return Err(Error::Conflict(format!("the count is already {}", count.data.state)));
    }
    let loss = stock::every::<Location>("location", Filter::eq("kind", "loss"), 1)?
        .into_iter()
        .next()
        .ok_or_else(|| Error::invalid("location", "set up an inventory-loss location first"))?;
    let mut adjustments = Vec::new();
    for line in stock::every::<Line>("count_line", Filter::eq("count", id), 10_000)? {
        let Some(counted) = line.data.counted else { continue };
        // Against the books now: moves since the sheet was printed count too.
        let now = stock::quant(&line.data.product, &count.data.location)?.map(|q| q.data.quantity).unwrap_or_default();
        let diff = counted - now;
        if diff.is_zero() {
            continue;
        }
        let (from, to) = if diff > Decimal::ZERO {
            (loss.id.clone(), count.data.location.clone())
        } else {
            (count.data.location.clone(), loss.id.clone())
        };
        let m = json!({ "product": line.data.product, "quantity": diff.abs().to_string(), "from_location": from,
                        "to_location": to, "reference": format!("count:{id}") });
        adjustments.push(json!({ "product": line.data.product, "difference": diff.normalize().to_string(),
                                 "move": crate::moves::make("adjustment", m)?["id"] }));
    }
    let patch = json!({ "state": "confirmed", "confirmed_at": when::format(when::now()) });
    store::update::<Value>("count", id, &patch, Some(count.version))?;
    Ok(json!({ "id": id, "adjustments": adjustments }))
}
