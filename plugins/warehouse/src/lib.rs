//! The warehouse plugin: products, warehouses and locations, stock moves with exact on-hand
//! quantities, FIFO or moving-average valuation, reservations (also from won CRM deals),
//! inventory counts, reorder rules with a demand forecast, shipments and reports.
//!
//! Written with the SDK only. See `README.md` for the collections, commands, events and
//! permissions.

mod counts;
mod demo;
mod forecast;
mod model;
mod moves;
mod places;
mod planning;
mod printing;
mod reports;
mod reservations;
mod shipments;
mod stock;
mod valuation;
mod when;

use erp_sdk::{Error, Event, Plugin, Result, Value, WriteCheck};

/// The plugin.
pub struct Warehouse;

impl Plugin for Warehouse {
    fn demo(request: &erp_sdk::DemoRequest) -> Result<erp_sdk::DemoAnswer> {
        demo::step(request)
    }

    fn command(name: &str, input: Value) -> Result<Value> {
        match name {
            "receive" => moves::make("receipt", input),
            "issue" => moves::make("issue", input),
            "transfer" => moves::make("transfer", input),
            "adjust" => moves::make("adjustment", input),
            "confirm-move" => moves::confirm(input),
            "cancel-move" => moves::cancel(input),
            "on-hand" => stock::on_hand(input),
            "reserve" => reservations::reserve(input),
            "deliver" => reservations::deliver(input),
            "valuation" => valuation::report(input),
            "start-count" => counts::start(input),
            "confirm-count" => counts::confirm(input),
            "forecast" => forecast::forecast(input),
            "replenishment" => planning::replenishment(),
            "ship" => shipments::ship(input),
            "print-shipment" => printing::print(input),
            "mark-delivered" => shipments::delivered(input),
            "stock-report" => reports::on_hand(input),
            "movements" => reports::movements(input),
            "slow-movers" => reports::slow_movers(input),
            other => Err(Error::not_found(format!("command {other}"))),
        }
    }

    fn validate(check: &WriteCheck) -> Result<()> {
        match check.collection.as_str() {
            "move" => moves::validate(check.kind, check.before.as_ref(), check.after.as_ref()),
            "location" => match &check.after {
                Some(after) => places::validate(&check.record_id, after),
                None => Ok(()),
            },
            "count_line" => counts::validate_line(check.after.as_ref(), check.before.as_ref()),
            "reorder_rule" => match &check.after {
                Some(after) => planning::validate(&check.record_id, after),
                None => Ok(()),
            },
            "document" => printing::validate(check.before.as_ref()),
            "shipment" => match &check.after {
                Some(after) => shipments::validate(check.before.as_ref(), after),
                None => Ok(()),
            },
            "product" => match &check.after {
                Some(after) if after["standard_cost"].as_str().is_some_and(|c| c.starts_with('-')) => {
                    Err(Error::invalid("standard_cost", "must not be negative"))
                }
                _ => Ok(()),
            },
            _ => Ok(()),
        }
    }

    fn schedule(name: &str) -> Result<()> {
        match name {
            "reorder" => planning::check(),
            other => Err(Error::not_found(format!("schedule {other}"))),
        }
    }

    fn event(handler: &str, event: &Event) -> Result<()> {
        let payload: Value = event.payload()?;
        match handler {
            "move-changed" => moves::on_changed(&payload),
            "deal-won" => reservations::on_deal_won(event, &payload),
            other => Err(Error::not_found(format!("event handler {other}"))),
        }
    }
}

erp_sdk::export_plugin!(
    Warehouse,
    documents: ["documents/delivery_note.ru.typ", "documents/picking_list.ru.typ", "documents/picking_list.en.typ"]
);
