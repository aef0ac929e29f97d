//! The CRM plugin: customer cards with full history, one inbox for leads from every channel,
//! sales pipelines with rules and events, activities with reminders, recommendations,
//! document templates, automation robots and reports.
//!
//! Written with the SDK only. See `README.md` for the collections, commands, events and
//! permissions.

mod activities;
mod channels;
mod contacts;
mod customers;
mod demo;
mod documents;
mod funnel;
mod inbox;
mod leads;
mod model;
mod recommend;
mod replies;
mod reports;
mod robots;
mod time;
mod timeline;
mod util;

use erp_sdk::{
    Error, Event, Plugin, Result, Value, WebhookRequest, WebhookResponse, WriteCheck, WriteKind, context, json,
    serde_json,
};
use serde::Deserialize;

/// The plugin.
pub struct Crm;

/// What the plugin reads of its configuration here: the company's settings, which the kernel
/// puts under `company`.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Config {
    company: CompanySettings,
}

/// The company's shared settings (Settings → Company in the kernel).
#[derive(Deserialize, Default)]
#[serde(default)]
struct CompanySettings {
    currency: String,
}

/// The company's currency for new deals and purchases: the one in the company's settings,
/// `RUB` when none is set.
pub(crate) fn default_currency() -> String {
    context::config::<Config>()
        .ok()
        .map(|c| c.company.currency.trim().to_uppercase())
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "RUB".into())
}

impl Plugin for Crm {
    fn demo(request: &erp_sdk::DemoRequest) -> Result<erp_sdk::DemoAnswer> {
        demo::step(request)
    }

    fn command(name: &str, input: Value) -> Result<Value> {
        match name {
            "create-customer" => customers::create(input),
            "card" => customers::card(input),
            "duplicates" => customers::duplicates(input),
            "merge-customers" => customers::merge(input),
            "timeline" => timeline::timeline(input),
            "track-view" => timeline::track_view(input),
            "track-visit" => timeline::track_visit(input),
            "record-purchase" => timeline::record_purchase(input),
            "record-payment" => timeline::record_payment(input),
            "recommend" => recommend::recommend(input),
            "move-deal" => funnel::move_deal(input),
            "reply" => replies::reply(input),
            "qualify-lead" => leads::qualify(input),
            "junk-lead" => leads::junk(input),
            "complete-activity" => activities::complete(input),
            "overdue" => activities::overdue(),
            "render-document" => documents::render(input),
            "document" => documents::document(input),
            "report-funnel" => reports::funnel(input),
            "report-managers" => reports::managers(input),
            "report-sources" => reports::sources(input),
            "report-forecast" => reports::forecast(input),
            other => Err(Error::not_found(format!("command {other}"))),
        }
    }

    fn validate(check: &WriteCheck) -> Result<()> {
        let Some(after) = &check.after else { return Ok(()) };
        match check.collection.as_str() {
            "deal" => funnel::validate_deal(&check.record_id, check.before.as_ref(), after),
            "stage" => funnel::validate_stage(&check.record_id, after),
            "contact" => customers::validate_contact(after),
            "template" => documents::validate_template(after),
            "robot" => robots::validate(after),
            "customer" if check.kind != WriteKind::Delete => validate_customer(after),
            _ => Ok(()),
        }
    }

    fn event(handler: &str, event: &Event) -> Result<()> {
        let payload: Value = event.payload()?;
        match handler {
            "deal-changed" => funnel::on_deal_changed(event, &payload),
            "robots" => robots::on_event(event, &payload),
            "activity-changed" => activities::on_changed(&payload),
            "contact-changed" => customers::keep_contact_key(&payload),
            "payment-received" => on_payment(event, &payload),
            "absence-changed" => inbox::on_absence(&payload),
            "mail-outcome" => replies::on_mail_outcome(&payload),
            other => Err(Error::not_found(format!("event handler {other}"))),
        }
    }

    fn schedule(name: &str) -> Result<()> {
        match name {
            "reminders" => activities::remind(),
            "robots" => robots::on_schedule(),
            other => Err(Error::not_found(format!("schedule {other}"))),
        }
    }

    fn webhook(name: &str, request: WebhookRequest) -> Result<WebhookResponse> {
        if request.method != "POST" {
            return Err(Error::invalid("method", "send a POST"));
        }
        let content_type = request
            .headers
            .iter()
            .find(|(k, _)| k == "content-type")
            .map(|(_, v)| v.as_str())
            .unwrap_or("application/json");
        let inbound = match name {
            "telegram" => match channels::telegram(&request.body)? {
                Some(m) => m,
                None => return Ok(WebhookResponse::json(&json!({ "ignored": true }))),
            },
            "email" => channels::email(&request.body)?,
            "form" => channels::form(content_type, &request.body)?,
            "message" => channels::normalised(&request.body)?,
            other => return Err(Error::not_found(format!("webhook {other}"))),
        };
        let r = inbox::receive(inbound)?;
        // The answer names the lead only: whether the sender is a known customer is not the
        // sender's business.
        Ok(WebhookResponse::json(&json!({
            "lead": r.lead,
            "message": r.message,
            "new_lead": r.new_lead,
            "duplicate": r.message.is_none(),
        })))
    }
}

/// A customer's name parts must add up to a name, and tags are a list of text.
fn validate_customer(after: &Value) -> Result<()> {
    if let Some(tags) = after.get("tags")
        && !tags.as_array().is_some_and(|a| a.len() <= 100 && a.iter().all(Value::is_string))
    {
        return Err(Error::invalid("tags", "must be a list of at most 100 texts"));
    }
    if after["name"].as_str().is_none_or(|n| n.trim().is_empty()) {
        return Err(Error::invalid("name", "must not be blank"));
    }
    Ok(())
}

#[derive(Deserialize)]
struct PaymentReceived {
    customer: Option<String>,
    amount: rust_decimal::Decimal,
    currency: Option<String>,
    id: Option<String>,
    paid_at: Option<String>,
}

/// `accounting.payment.received`: the payment joins the customer's history, once.
fn on_payment(event: &Event, payload: &Value) -> Result<()> {
    let p: PaymentReceived =
        serde_json::from_value(payload.clone()).map_err(|e| Error::invalid("payload", e.to_string()))?;
    let Some(customer) = p.customer else { return Ok(()) };
    if erp_sdk::store::get::<Value>("customer", &customer).is_err() {
        return Ok(()); // not one of our cards
    }
    if !erp_sdk::events::first_time(event, "processed")? {
        return Ok(());
    }
    let at = p.paid_at.as_deref().and_then(time::normalise).unwrap_or_else(|| time::format(time::now()));
    timeline::payment(&customer, p.amount, p.currency, p.id, at, "accounting")?;
    Ok(())
}

erp_sdk::export_plugin!(
    Crm,
    documents: [
        "documents/offer.ru.typ",
        "documents/offer.en.typ",
        "documents/contract.ru.typ",
        "documents/letter.ru.typ",
    ]
);
