//! The marketing plugin: campaigns with ad spend (entered or imported from ad platforms'
//! CSV), audience segments over the CRM's customers, personalised mailings that honour
//! unsubscribes, attribution of CRM leads and won deals to campaigns, and the ROI report.
//! It needs the CRM (a declared dependency).
//!
//! Written with the SDK only. See `README.md` for the collections, commands, events and
//! permissions.

mod attribution;
mod campaigns;
mod demo;
mod mailings;
mod model;
mod report;
mod segments;
mod sending;
mod spend_import;
mod util;

use erp_sdk::{Error, Event, Plugin, Result, Value, WebhookRequest, WebhookResponse, WriteCheck};

/// The plugin.
pub struct Marketing;

impl Plugin for Marketing {
    fn demo(request: &erp_sdk::DemoRequest) -> Result<erp_sdk::DemoAnswer> {
        demo::step(request)
    }

    fn command(name: &str, input: Value) -> Result<Value> {
        match name {
            "import-spend" => spend_import::import(input),
            "preview-segment" => segments::preview(input),
            "snapshot-segment" => segments::snapshot(input),
            "queue-mailing" => mailings::queue(input),
            "message-status" => mailings::status(input),
            "unsubscribe" => mailings::unsubscribe(input),
            "send-mailings" => sending::send_due(),
            "report" => report::report(input),
            "attribute-history" => attribution::history(),
            other => Err(Error::not_found(format!("command {other}"))),
        }
    }

    fn validate(check: &WriteCheck) -> Result<()> {
        let Some(after) = &check.after else { return Ok(()) };
        match check.collection.as_str() {
            "campaign" => campaigns::validate(after),
            "spend" => campaigns::validate_spend(&check.record_id, after),
            "segment" => segments::validate(after),
            "mailing" => mailings::validate(after),
            _ => Ok(()),
        }
    }

    fn event(handler: &str, event: &Event) -> Result<()> {
        let payload: Value = event.payload()?;
        match handler {
            "lead-created" => attribution::lead_created(event, &payload),
            "deal-won" => attribution::deal_won(event, &payload),
            "mail-outcome" => sending::on_mail_outcome(&payload),
            other => Err(Error::not_found(format!("event handler {other}"))),
        }
    }

    fn schedule(name: &str) -> Result<()> {
        match name {
            "send-mailings" => sending::on_schedule(),
            other => Err(Error::not_found(format!("schedule {other}"))),
        }
    }

    fn webhook(name: &str, request: WebhookRequest) -> Result<WebhookResponse> {
        match name {
            "delivery" => mailings::webhook(request),
            other => Err(Error::not_found(format!("webhook {other}"))),
        }
    }
}

erp_sdk::export_plugin!(Marketing);
