//! The accounting plugin: a chart of accounts loaded from a template, a double-entry journal
//! whose posted entries never change, taxes, customer invoices and vendor bills, payments
//! with reconciliation and exchange differences, period locks with monthly balances, and
//! financial reports; won CRM deals and done warehouse moves reach the books by events.
//!
//! Written with the SDK only. See `README.md` for the collections, commands, events and
//! permissions.

mod accounts;
mod aged;
mod chart;
mod dates;
mod demo;
mod entries;
mod integrations;
mod invoices;
mod model;
mod money;
mod numbering;
mod payments;
mod periods;
mod printing;
mod rates;
mod reports;
mod sums;
mod taxes;
mod util;

use erp_sdk::{Error, Event, Plugin, Result, Value, WriteCheck};

/// The plugin.
pub struct Accounting;

impl Plugin for Accounting {
    fn demo(request: &erp_sdk::DemoRequest) -> Result<erp_sdk::DemoAnswer> {
        demo::step(request)
    }

    fn command(name: &str, input: Value) -> Result<Value> {
        match name {
            "load-chart" => chart::load(util::text(&input, "template")?),
            "create-entry" => entries::create(input),
            "update-entry" => entries::update(input),
            "delete-entry" => entries::delete(input),
            "post-entry" => entries::post(input),
            "reverse-entry" => entries::reverse(input),
            "compute-taxes" => taxes::preview(input),
            "create-invoice" => invoices::create(input),
            "update-invoice" => invoices::update(input),
            "delete-invoice" => invoices::delete(input),
            "post-invoice" => invoices::post(input),
            "cancel-invoice" => invoices::cancel(input),
            "register-payment" => payments::register(input),
            "allocate" => payments::allocate(input),
            "lock-period" => periods::lock(input),
            "trial-balance" => reports::trial_balance(input),
            "general-ledger" => reports::general_ledger(input),
            "profit-and-loss" => reports::profit_and_loss(input),
            "balance-sheet" => reports::balance_sheet(input),
            "aged" => aged::aged(input),
            "print-invoice" => printing::print(input),
            "send-invoice" => printing::send(input),
            other => Err(Error::not_found(format!("command {other}"))),
        }
    }

    fn validate(check: &WriteCheck) -> Result<()> {
        let after = check.after.as_ref();
        match (check.collection.as_str(), after) {
            ("entry" | "line", _) => entries::validate(&check.collection, check.kind, check.before.as_ref()),
            ("invoice", _) => invoices::validate(check.before.as_ref(), after),
            ("document", _) => printing::validate(check.before.as_ref()),
            ("account", Some(a)) => accounts::validate(&check.record_id, a),
            ("tax", Some(a)) => taxes::validate(a),
            ("rate", Some(a)) => rates::validate(&check.record_id, a),
            _ => Ok(()),
        }
    }

    fn event(handler: &str, event: &Event) -> Result<()> {
        let payload: Value = event.payload()?;
        match handler {
            "enabled" => chart::on_enabled(&payload),
            "deal-won" => integrations::deal_won(&payload),
            "move-done" => integrations::move_done(&payload),
            other => Err(Error::not_found(format!("event handler {other}"))),
        }
    }
}

erp_sdk::export_plugin!(
    Accounting,
    documents: ["documents/invoice.ru.typ", "documents/invoice.en.typ", "documents/act.ru.typ"]
);
