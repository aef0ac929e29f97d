//! Attribution: a CRM lead is linked to the campaign its UTM tags or source name (a touch);
//! a won deal is credited to its customer's first and last touch before it was won. Each
//! event applies once, however often it is delivered; `attribute-history` does the same for
//! what the CRM held before marketing was enabled.

use erp_sdk::store::{self, Filter, Query, Record};
use erp_sdk::{Event, Result, Value, json};
use rust_decimal::Decimal;

use crate::model::{Campaign, Conversion, Touch};
use crate::util;

/// The campaign a lead came from: its `utm_campaign`, else the CRM source a campaign owns,
/// else its `utm_source`.
fn campaign_for(lead: &Value) -> Result<Option<Record<Campaign>>> {
    let utm = &lead["utm"];
    let by = |field: &str, value: Option<&str>| -> Result<Option<Record<Campaign>>> {
        match value.filter(|v| !v.is_empty()) {
            Some(v) => store::first("campaign", Query::new().filter(Filter::eq(field, v))),
            None => Ok(None),
        }
    };
    if let Some(c) = by("utm_campaign", utm["utm_campaign"].as_str())? {
        return Ok(Some(c));
    }
    if let Some(c) = by("lead_source", lead["source"].as_str())? {
        return Ok(Some(c));
    }
    by("utm_source", utm["utm_source"].as_str())
}

/// `crm.lead.created`.
pub fn lead_created(event: &Event, payload: &Value) -> Result<()> {
    let (Some(lead), Some(after)) = (payload["id"].as_str(), payload.get("after")) else { return Ok(()) };
    touch(lead, after, &event.occurred_at).map(|_| ())
}

/// Links a lead (or, keyed `customer:<id>`, a customer's recorded source) to its campaign,
/// once; answers whether a link was made.
fn touch(key: &str, record: &Value, at: &str) -> Result<bool> {
    if store::first::<Value>("touch", Query::new().filter(Filter::eq("lead", key)))?.is_some() {
        return Ok(false);
    }
    let Some(campaign) = campaign_for(record)? else { return Ok(false) };
    store::create(
        "touch",
        &Touch {
            customer: record["customer"].as_str().map(str::to_string),
            lead: key.to_string(),
            campaign: campaign.id,
            at: at.to_string(),
        },
    )?;
    Ok(true)
}

/// `crm.deal.won`: credits the deal's amount (in the marketing currency) to the customer's
/// first and last touch up to the moment it was won.
pub fn deal_won(event: &Event, payload: &Value) -> Result<()> {
    credit(payload, &event.occurred_at).map(|_| ())
}

fn credit(payload: &Value, when: &str) -> Result<bool> {
    let Some(deal) = payload["id"].as_str() else { return Ok(false) };
    if store::first::<Value>("conversion", Query::new().filter(Filter::eq("deal", deal)))?.is_some() {
        return Ok(false);
    }
    let won_at = payload["closed_at"].as_str().map(str::to_string).unwrap_or_else(|| when.to_string());
    let customer = payload["customer"].as_str().map(str::to_string);
    let mut touches = match &customer {
        Some(c) => util::all::<Touch>("touch", Filter::eq("customer", c.as_str()))?,
        None => Vec::new(),
    };
    // A lead from a new sender had no customer yet when it was linked: find it by the deal.
    let lead = store::get::<Value>("crm.deal", deal).ok().and_then(|d| d.data["lead"].as_str().map(str::to_string));
    if let Some(lead) = lead
        && !touches.iter().any(|t| t.data.lead == lead)
        && let Some(t) = store::first::<Touch>("touch", Query::new().filter(Filter::eq("lead", lead.as_str())))?
    {
        touches.push(t);
    }
    touches.retain(|t| t.data.at <= won_at);
    touches.sort_by(|a, b| a.data.at.cmp(&b.data.at));
    let same_currency = payload["currency"].as_str().is_none_or(|c| c.eq_ignore_ascii_case(&util::currency()));
    let amount = payload["amount"]
        .as_str()
        .and_then(|a| a.parse::<Decimal>().ok())
        .filter(|_| same_currency)
        .unwrap_or_default();
    store::create(
        "conversion",
        &Conversion {
            deal: deal.to_string(),
            customer,
            amount,
            first_touch: touches.first().map(|t| t.data.campaign.clone()),
            last_touch: touches.last().map(|t| t.data.campaign.clone()),
            won_at,
        },
    )?;
    Ok(true)
}

fn needs(collection: &str) -> impl Fn(erp_sdk::Error) -> erp_sdk::Error + '_ {
    move |e| match e {
        erp_sdk::Error::AccessDenied(_) => {
            erp_sdk::Error::invalid("grants", format!("needs read access to {collection}: grant it to marketing"))
        }
        other => other,
    }
}

/// `attribute-history`: links the CRM's existing leads, and customers by their recorded
/// source, to campaigns, and credits its won deals; what is already linked stays as it is.
pub fn history() -> Result<Value> {
    let (mut leads, mut sources, mut deals) = (0, 0, 0);
    for l in util::every::<Value>("crm.lead").map_err(needs("crm.lead"))? {
        leads += usize::from(touch(&l.id, &l.data, &l.created_at)?);
    }
    for c in util::every::<Value>("crm.customer").map_err(needs("crm.customer"))? {
        let Some(source) = c.data["source"].as_str() else { continue };
        // Customers a lead already brought are not counted twice.
        if store::first::<Value>("touch", Query::new().filter(Filter::eq("customer", c.id.as_str())))?.is_some() {
            continue;
        }
        let as_lead = json!({ "customer": c.id, "source": source, "utm": { "utm_source": source } });
        sources += usize::from(touch(&format!("customer:{}", c.id), &as_lead, &c.created_at)?);
    }
    for d in util::all::<Value>("crm.deal", Filter::eq("status", "won")).map_err(needs("crm.deal"))? {
        let mut payload = d.data.clone();
        payload["id"] = json!(d.id);
        deals += usize::from(credit(&payload, &d.updated_at)?);
    }
    Ok(json!({ "leads_linked": leads, "customers_linked": sources, "deals_credited": deals }))
}
