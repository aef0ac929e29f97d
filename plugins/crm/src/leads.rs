//! Working a lead: qualify it into a deal (opening a customer card for a new sender), or
//! close it as junk with a reason.

use erp_sdk::store::{self, Filter};
use erp_sdk::{Error, Result, Value, json};
use rust_decimal::Decimal;
use serde::Deserialize;

use crate::contacts;
use crate::funnel;
use crate::model::{Contact, Customer, Deal, Entry, Lead, Message};
use crate::time;
use crate::util;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Qualify {
    id: String,
    pipeline: Option<String>,
    title: Option<String>,
    amount: Option<Decimal>,
}

fn open_lead(id: &str) -> Result<erp_sdk::store::Record<Lead>> {
    let lead = store::get::<Lead>("lead", id)?;
    if !lead.data.is_open() {
        return Err(Error::Conflict(format!("lead {id} is already {}", lead.data.status())));
    }
    Ok(lead)
}

/// The lead's customer, or a new card from what the sender told us.
fn customer_for(lead: &Lead) -> Result<String> {
    if let Some(c) = &lead.customer {
        return Ok(c.clone());
    }
    let name = lead.name.clone().unwrap_or_else(|| lead.title.clone());
    let customer = store::create(
        "customer",
        &Customer {
            kind: Some("person".into()),
            name,
            responsible: lead.responsible.clone(),
            source: lead.source.clone(),
            ..Customer::default()
        },
    )?;
    let mut given = Vec::new();
    if let Some(e) = &lead.email {
        given.push(("email", e.clone()));
    }
    if let Some(p) = &lead.phone {
        given.push(("phone", p.clone()));
    }
    if let Some(k) = &lead.contact_key
        && let Some((kind, value)) = k.split_once(':')
        && !matches!(kind, "email" | "phone")
    {
        given.push((kind, value.to_string()));
    }
    for (kind, value) in given {
        if let Some(key) = contacts::key_of(kind, &value) {
            store::create(
                "contact",
                &Contact { customer: customer.id.clone(), kind: kind.into(), value, key: Some(key) },
            )?;
        }
    }
    Ok(customer.id)
}

/// `qualify-lead`: a deal in the first stage of the chosen (or default) pipeline.
pub fn qualify(input: Value) -> Result<Value> {
    let q: Qualify = util::input(input)?;
    let lead = open_lead(&q.id)?;
    let pipeline = match q.pipeline {
        Some(p) => p,
        None => {
            funnel::default_pipeline()?.ok_or_else(|| Error::invalid("pipeline", "the company has no pipeline yet"))?
        }
    };
    let (stage, _) = funnel::first_stage(&pipeline)?.ok_or_else(|| Error::invalid("pipeline", "has no open stage"))?;
    if q.amount.is_some_and(|a| a < Decimal::ZERO) {
        return Err(Error::invalid("amount", "must not be negative"));
    }
    let customer = customer_for(&lead.data)?;
    let now = time::format(time::now());
    let deal = store::create(
        "deal",
        &Deal {
            title: q.title.unwrap_or_else(|| lead.data.title.clone()),
            customer: Some(customer.clone()),
            pipeline,
            stage,
            status: Some("open".into()),
            amount: Some(q.amount.unwrap_or_default().round_dp(2).to_string()),
            currency: Some(crate::default_currency()),
            responsible: lead.data.responsible.clone().or_else(util::current_user),
            stage_since: Some(now.clone()),
            source: lead.data.source.clone(),
            lead: Some(lead.id.clone()),
            ..Deal::default()
        },
    )?;
    store::update::<Value>(
        "lead",
        &lead.id,
        &json!({ "status": "qualified", "deal": deal.id, "customer": customer }),
        Some(lead.version),
    )?;
    // The conversation so far belongs to the customer now.
    for m in util::all::<Message>("message", Filter::eq("lead", lead.id.as_str()))? {
        if m.data.customer.is_none() {
            store::update::<Value>("message", &m.id, &json!({ "customer": customer }), Some(m.version))?;
        }
    }
    crate::timeline::add(Entry {
        customer: customer.clone(),
        kind: "lead".into(),
        at: now,
        title: format!("Lead {} qualified into a deal", lead.data.title),
        title_ru: Some(format!("Лид «{}» стал сделкой", lead.data.title)),
        ref_id: Some(lead.id.clone()),
        data: Some(json!({ "lead": lead.id, "deal": deal.id, "channel": lead.data.channel })),
        ..Entry::default()
    })?;
    Ok(json!({ "lead": lead.id, "deal": deal.id, "customer": customer }))
}

/// `junk-lead`: closed with a reason.
pub fn junk(input: Value) -> Result<Value> {
    let id = input["id"].as_str().ok_or_else(|| Error::invalid("id", "is required"))?;
    let reason = input["reason"].as_str().map(str::trim).filter(|r| !r.is_empty());
    let Some(reason) = reason else { return Err(Error::invalid("reason", "is required")) };
    let lead = open_lead(id)?;
    store::update::<Value>("lead", id, &json!({ "status": "junk", "junk_reason": reason }), Some(lead.version))?;
    Ok(json!({ "lead": id, "status": "junk" }))
}
