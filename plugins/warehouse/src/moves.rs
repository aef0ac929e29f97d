//! Stock moves: receipts, issues, transfers and adjustments between locations. A move is a
//! draft until it is done; a done move is immutable (corrections are new moves). Stock and
//! valuation follow a move in the same transaction as it becomes done, from a synchronous
//! subscription to this plugin's own move events, so the REST API and the commands behave
//! alike.

use erp_sdk::store::{self, Record};
use erp_sdk::{Error, FieldError, Result, Value, events, json, serde_json};
use rust_decimal::Decimal;
use serde::Deserialize;

use crate::model::{Location, Move, Product};
use crate::{stock, valuation, when};

fn location(id: &str, field: &str) -> Result<Record<Location>> {
    match store::get::<Location>("location", id) {
        Ok(l) => Ok(l),
        Err(Error::NotFound(_)) => Err(Error::invalid(field, "no such location")),
        Err(e) => Err(e),
    }
}

/// Which kinds of place a move of each kind goes between.
fn places_fit(kind: &str, from: &Location, to: &Location) -> std::result::Result<(), &'static str> {
    let ok = match kind {
        "receipt" => from.kind == "supplier" && to.is_internal(),
        "issue" => from.is_internal() && matches!(to.kind.as_str(), "customer" | "loss" | "production"),
        "transfer" => from.is_internal() && to.is_internal(),
        "adjustment" => (from.kind == "loss" && to.is_internal()) || (from.is_internal() && to.kind == "loss"),
        _ => false,
    };
    if ok {
        return Ok(());
    }
    Err(match kind {
        "receipt" => "a receipt goes from a supplier location to a warehouse, zone or bin",
        "issue" => "an issue goes from a warehouse, zone or bin to a customer, loss or production location",
        "transfer" => "a transfer goes between two warehouses, zones or bins",
        _ => "an adjustment goes between an inventory-loss location and a warehouse, zone or bin",
    })
}

/// The validation hook for moves.
pub fn validate(kind: erp_sdk::WriteKind, before: Option<&Value>, after: Option<&Value>) -> Result<()> {
    let old: Option<Move> = before.map(|b| serde_json::from_value(b.clone())).transpose()?;
    if let Some(o) = &old
        && o.state() != "draft"
    {
        return Err(Error::Conflict(format!(
            "the move is {}; done and cancelled moves do not change (make a new move)",
            o.state()
        )));
    }
    let Some(after) = after else { return Ok(()) };
    let _ = kind;
    let m: Move = serde_json::from_value(after.clone()).map_err(|e| Error::invalid("move", e.to_string()))?;
    let mut errors = Vec::new();
    if m.quantity <= Decimal::ZERO {
        errors.push(FieldError { field: "quantity".into(), message: "must be positive".into() });
    }
    if m.unit_cost.is_some_and(|c| c < Decimal::ZERO) {
        errors.push(FieldError { field: "unit_cost".into(), message: "must not be negative".into() });
    }
    if m.from_location == m.to_location {
        errors.push(FieldError { field: "to_location".into(), message: "is the same as from_location".into() });
    }
    let from = location(&m.from_location, "from_location")?;
    let to = location(&m.to_location, "to_location")?;
    if let Err(why) = places_fit(&m.kind, &from.data, &to.data) {
        errors.push(FieldError { field: "to_location".into(), message: why.into() });
    }
    match (old.is_none(), m.state()) {
        (true, "cancelled") => {
            errors.push(FieldError { field: "state".into(), message: "a new move is a draft or done".into() })
        }
        (_, "done") => match m.done_at.as_deref().and_then(when::parse) {
            None => errors.push(FieldError { field: "done_at".into(), message: "a done move needs its time".into() }),
            Some(t) if t > when::now() + chrono::TimeDelta::minutes(5) => {
                errors.push(FieldError { field: "done_at".into(), message: "is in the future".into() })
            }
            Some(_) => {}
        },
        _ => {}
    }
    if errors.is_empty() { Ok(()) } else { Err(Error::Invalid(errors)) }
}

/// The synchronous handler of `warehouse.move.created|updated`: a move that just became done
/// changes stock and valuation and is announced as `warehouse.move.done`.
pub fn on_changed(payload: &Value) -> Result<()> {
    let Some(id) = payload["id"].as_str() else { return Ok(()) };
    let after: Move = serde_json::from_value(payload["after"].clone())?;
    let was_done = payload.get("before").is_some_and(|b| b["state"] == "done");
    if after.state() != "done" || was_done {
        return Ok(());
    }
    apply(id, &after)
}

fn apply(id: &str, m: &Move) -> Result<()> {
    let product = match store::get::<Product>("product", &m.product) {
        Ok(p) => p,
        Err(Error::NotFound(_)) => return Err(Error::invalid("product", "no such product")),
        Err(e) => return Err(e),
    };
    let from = location(&m.from_location, "from_location")?;
    let to = location(&m.to_location, "to_location")?;
    let at = m.done_at.clone().unwrap_or_else(|| when::format(when::now()));
    if from.data.is_internal() {
        stock::change(&product.id, &from, -m.quantity)?;
    }
    if to.data.is_internal() {
        stock::change(&product.id, &to, m.quantity)?;
    }
    let (value, unit_cost) = match (from.data.is_internal(), to.data.is_internal()) {
        (false, true) => {
            let unit = m.unit_cost.or(product.data.standard_cost).unwrap_or_default();
            (valuation::receive(id, &product.id, m.quantity, unit, &at)?, Some(unit))
        }
        (true, false) => {
            let v = valuation::issue(id, &product, m.quantity, &at)?;
            (v, Some((v / m.quantity).round_dp(4)))
        }
        _ => (Decimal::ZERO, None),
    };
    events::publish(
        "warehouse.move.done",
        &json!({
            "id": id, "kind": m.kind, "product": product.id, "sku": product.data.sku,
            "quantity": m.quantity.normalize().to_string(), "from_location": m.from_location,
            "to_location": m.to_location, "from_kind": from.data.kind, "to_kind": to.data.kind,
            "value": value.to_string(),
            "unit_cost": unit_cost.map(|u| u.normalize().to_string()), "done_at": at, "reference": m.reference,
        }),
    )?;
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewMove {
    product: String,
    quantity: Decimal,
    from_location: String,
    to_location: String,
    unit_cost: Option<Decimal>,
    lot: Option<String>,
    reference: Option<String>,
    note: Option<String>,
}

/// Commands `receive`, `issue`, `transfer` and `adjust`: a move of that kind, done now.
pub fn make(kind: &str, input: Value) -> Result<Value> {
    let n: NewMove = serde_json::from_value(input).map_err(|e| Error::invalid("input", e.to_string()))?;
    let m = Move {
        kind: kind.into(),
        product: n.product,
        quantity: n.quantity,
        from_location: n.from_location,
        to_location: n.to_location,
        state: Some("done".into()),
        unit_cost: n.unit_cost,
        lot: n.lot,
        reference: n.reference,
        done_at: Some(when::format(when::now())),
        note: n.note,
    };
    let created = store::create("move", &m)?;
    Ok(json!({ "id": created.id, "state": "done" }))
}

fn draft_only(m: &Move) -> Result<()> {
    if m.state() == "draft" { Ok(()) } else { Err(Error::Conflict(format!("the move is already {}", m.state()))) }
}

/// `confirm-move`: a draft becomes done now.
pub fn confirm(input: Value) -> Result<Value> {
    let id = input["id"].as_str().ok_or_else(|| Error::invalid("id", "is required"))?;
    let m = store::get::<Move>("move", id)?;
    draft_only(&m.data)?;
    let patch = json!({ "state": "done", "done_at": when::format(when::now()) });
    store::update::<Value>("move", id, &patch, Some(m.version))?;
    Ok(json!({ "id": id, "state": "done" }))
}

/// `cancel-move`: a draft is cancelled.
pub fn cancel(input: Value) -> Result<Value> {
    let id = input["id"].as_str().ok_or_else(|| Error::invalid("id", "is required"))?;
    let m = store::get::<Move>("move", id)?;
    draft_only(&m.data)?;
    store::update::<Value>("move", id, &json!({ "state": "cancelled" }), Some(m.version))?;
    Ok(json!({ "id": id, "state": "cancelled" }))
}
