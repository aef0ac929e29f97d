//! Reservations against deals and orders: available = on hand − reserved. A delivery issues
//! what was reserved. A won CRM deal with product lines reserves stock by SKU.

use erp_sdk::store::{self, Filter, Query};
use erp_sdk::{Error, Event, Result, Value, events, json, serde_json};
use rust_decimal::Decimal;
use serde::Deserialize;

use crate::model::{Location, Product, Quant, Reservation};
use crate::stock;

/// Reserves up to `quantity` of a product for `reference`; with `partial`, what is available
/// when that is less, otherwise a refusal. Returns the reserved quantity.
pub fn reserve_for(product: &str, quantity: Decimal, reference: &str, partial: bool) -> Result<Decimal> {
    if quantity <= Decimal::ZERO {
        return Err(Error::invalid("quantity", "must be positive"));
    }
    let available = (stock::on_hand_total(product)? - stock::reserved_total(product)?).max(Decimal::ZERO);
    let take = if available >= quantity {
        quantity
    } else if partial {
        available
    } else {
        return Err(Error::invalid(
            "quantity",
            format!("only {} available; ask for a partial reservation to take that", available.normalize()),
        ));
    };
    if take > Decimal::ZERO {
        let r = Reservation {
            product: product.into(),
            quantity: take,
            requested: quantity,
            reference: reference.into(),
            state: Some("active".into()),
        };
        store::create("reservation", &r)?;
    }
    Ok(take)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Reserve {
    product: String,
    quantity: Decimal,
    reference: String,
    partial: Option<bool>,
}

/// `reserve`.
pub fn reserve(input: Value) -> Result<Value> {
    let r: Reserve = serde_json::from_value(input).map_err(|e| Error::invalid("input", e.to_string()))?;
    if store::get::<Product>("product", &r.product).is_err() {
        return Err(Error::invalid("product", "no such product"));
    }
    let got = reserve_for(&r.product, r.quantity, &r.reference, r.partial.unwrap_or(false))?;
    Ok(json!({ "reserved": got.normalize().to_string(), "requested": r.quantity.normalize().to_string() }))
}

/// `deliver`: the active reservations of a reference are issued to a customer location, from
/// the internal locations holding most of each product; all or nothing.
pub fn deliver(input: Value) -> Result<Value> {
    let reference = input["reference"].as_str().ok_or_else(|| Error::invalid("reference", "is required"))?;
    let to = input["to_location"].as_str().ok_or_else(|| Error::invalid("to_location", "is required"))?;
    match store::get::<Location>("location", to) {
        Ok(l) if l.data.kind == "customer" => {}
        Ok(_) => return Err(Error::invalid("to_location", "must be a customer location")),
        Err(_) => return Err(Error::invalid("to_location", "no such location")),
    }
    let f = Filter::and(vec![Filter::eq("reference", reference), Filter::eq("state", "active")]);
    let reservations = stock::every::<Reservation>("reservation", f, 1000)?;
    if reservations.is_empty() {
        return Err(Error::not_found(format!("active reservations for {reference}")));
    }
    let mut moves = Vec::new();
    for r in reservations {
        let mut left = r.data.quantity;
        let mut quants = stock::every::<Quant>("quant", Filter::eq("product", r.data.product.as_str()), 10_000)?;
        quants.sort_by_key(|q| std::cmp::Reverse(q.data.quantity));
        for q in quants.iter().filter(|q| q.data.quantity > Decimal::ZERO) {
            if left.is_zero() {
                break;
            }
            let take = left.min(q.data.quantity);
            let m = json!({
                "product": r.data.product, "quantity": take.to_string(), "from_location": q.data.location,
                "to_location": to, "reference": reference,
            });
            moves.push(crate::moves::make("issue", m)?["id"].clone());
            left -= take;
        }
        if !left.is_zero() {
            return Err(Error::invalid(
                "reference",
                format!("{} short of product {} to deliver", left.normalize(), r.data.product),
            ));
        }
        store::update::<Value>("reservation", &r.id, &json!({ "state": "delivered" }), Some(r.version))?;
    }
    let shipment = crate::shipments::open(reference, to, json!(moves))?;
    Ok(json!({ "reference": reference, "moves": moves, "shipment": shipment }))
}

/// `crm.deal.won` (after commit): each product line whose `product` is one of our SKUs is
/// reserved for the deal, as much as is available; once per event.
pub fn on_deal_won(event: &Event, payload: &Value) -> Result<()> {
    let Some(deal) = payload["id"].as_str() else { return Ok(()) };
    if !events::first_time(event, "processed")? {
        return Ok(());
    }
    let reference = format!("crm.deal:{deal}");
    for line in payload["lines"].as_array().into_iter().flatten() {
        let (Some(sku), Some(qty)) =
            (line["product"].as_str(), line["quantity"].as_str().and_then(|q| q.parse::<Decimal>().ok()))
        else {
            continue;
        };
        let q = Query::new().filter(Filter::eq("sku", sku)).limit(1);
        let Some(product) = store::query::<Product>("product", &q)?.records.into_iter().next() else { continue };
        if qty > Decimal::ZERO {
            reserve_for(&product.id, qty, &reference, true)?;
        }
    }
    Ok(())
}
