//! Customer cards: creation with contacts and addresses, the card view, duplicate detection
//! by e-mail or phone, and merging a duplicate into the surviving card with all its history.

use std::collections::{BTreeMap, BTreeSet};

use erp_sdk::store::{self, Filter, Query, Record};
use erp_sdk::{Error, FieldError, Result, Value, events, json, serde_json};
use rust_decimal::Decimal;
use serde::Deserialize;

use crate::contacts;
use crate::model::{Activity, Address, Contact, Customer, Deal, Entry, Lead};
use crate::time;
use crate::util;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewContact {
    kind: String,
    value: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewAddress {
    kind: String,
    country: Option<String>,
    city: Option<String>,
    line: String,
    postal_code: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewCustomer {
    kind: Option<String>,
    name: Option<String>,
    last_name: Option<String>,
    first_name: Option<String>,
    patronymic: Option<String>,
    tax_id: Option<String>,
    birth_date: Option<String>,
    gender: Option<String>,
    tags: Option<Vec<String>>,
    responsible: Option<String>,
    source: Option<String>,
    #[serde(default)]
    contacts: Vec<NewContact>,
    #[serde(default)]
    addresses: Vec<NewAddress>,
}

/// The full name in the order used in Russia: last name, first name, patronymic.
pub fn full_name(last: Option<&str>, first: Option<&str>, patronymic: Option<&str>) -> String {
    [last, first, patronymic]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Checks a contact's value against its kind; the error names the field.
pub fn check_contact(kind: &str, value: &str, field: &str) -> Result<String> {
    contacts::key_of(kind, value).ok_or_else(|| Error::invalid(field, format!("{value:?} is not a valid {kind}")))
}

/// `create-customer`: a card with its contacts and addresses, in one step.
pub fn create(input: Value) -> Result<Value> {
    let c: NewCustomer = util::input(input)?;
    let pii = util::sees_pii();
    let personal = c.birth_date.is_some() || c.gender.is_some() || !c.contacts.is_empty() || !c.addresses.is_empty();
    if personal && !pii {
        return Err(Error::AccessDenied(format!("{} (to enter birth date, gender, contacts or addresses)", util::PII)));
    }
    let kind = c.kind.clone().unwrap_or_else(|| "person".into());
    let name = match c.name.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(n) => n.to_string(),
        None => full_name(c.last_name.as_deref(), c.first_name.as_deref(), c.patronymic.as_deref()),
    };
    let mut errors = Vec::new();
    if name.is_empty() {
        errors.push(FieldError { field: "name".into(), message: "give a name, or a last and first name".into() });
    }
    let mut keys = Vec::new();
    for (i, ct) in c.contacts.iter().enumerate() {
        match check_contact(&ct.kind, &ct.value, &format!("contacts[{i}].value")) {
            Ok(k) => keys.push(k),
            Err(Error::Invalid(mut f)) => errors.append(&mut f),
            Err(e) => return Err(e),
        }
    }
    if c.contacts.len() > 50 || c.addresses.len() > 20 {
        errors.push(FieldError { field: "contacts".into(), message: "at most 50 contacts and 20 addresses".into() });
    }
    if !errors.is_empty() {
        return Err(Error::Invalid(errors));
    }
    let customer = store::create(
        "customer",
        &Customer {
            kind: Some(kind),
            name,
            last_name: c.last_name,
            first_name: c.first_name,
            patronymic: c.patronymic,
            tax_id: c.tax_id,
            birth_date: c.birth_date,
            gender: c.gender,
            tags: c.tags.map(|t| json!(t)),
            responsible: c.responsible.or_else(util::current_user),
            source: c.source,
            ..Customer::default()
        },
    )?;
    for (ct, key) in c.contacts.into_iter().zip(keys) {
        store::create(
            "contact",
            &Contact { customer: customer.id.clone(), kind: ct.kind, value: ct.value.trim().into(), key: Some(key) },
        )?;
    }
    for a in c.addresses {
        store::create(
            "address",
            &Address {
                customer: customer.id.clone(),
                kind: a.kind,
                country: a.country,
                city: a.city,
                line: a.line,
                postal_code: a.postal_code,
            },
        )?;
    }
    card_of(&customer.id)
}

/// The validation hook for contacts: the value must fit the kind, and the stored key (when
/// given) must be the normalised value.
pub fn validate_contact(after: &Value) -> Result<()> {
    let kind = after["kind"].as_str().unwrap_or_default();
    let value = after["value"].as_str().unwrap_or_default();
    let key = check_contact(kind, value, "value")?;
    match after["key"].as_str() {
        Some(k) if k != key => Err(Error::invalid("key", format!("must be {key}, the normalised value, or left out"))),
        _ => Ok(()),
    }
}

/// Fills in a contact's key after a write that left it out (REST clients need not know it).
pub fn keep_contact_key(payload: &Value) -> Result<()> {
    let (Some(id), Some(after)) = (payload["id"].as_str(), payload.get("after")) else { return Ok(()) };
    if after["key"].is_string() {
        return Ok(());
    }
    let key = check_contact(
        after["kind"].as_str().unwrap_or_default(),
        after["value"].as_str().unwrap_or_default(),
        "value",
    )?;
    store::update::<Value>("contact", id, &json!({ "key": key }), None)?;
    Ok(())
}

/// The card: fields, contacts, addresses, open deals (those the caller may see), open leads
/// and planned activities.
pub fn card(input: Value) -> Result<Value> {
    let id = input["id"].as_str().ok_or_else(|| Error::invalid("id", "is required"))?;
    card_of(id)
}

fn card_of(id: &str) -> Result<Value> {
    let pii = util::sees_pii();
    let customer = store::get::<Customer>("customer", id)?;
    let of = || Filter::eq("customer", id);
    let contacts: Vec<Value> =
        util::all::<Contact>("contact", of())?.iter().map(|r| util::shown("contact", r, pii)).collect();
    let addresses: Vec<Value> =
        util::all::<Address>("address", of())?.iter().map(|r| util::shown("address", r, pii)).collect();
    // Each part only for those who may read it.
    let can = erp_sdk::context::has_permission;
    let mut visible_deals = std::collections::BTreeSet::new();
    let deals: Vec<Value> = if can("crm.deal.read") {
        util::all::<Deal>("deal", Filter::and(vec![of(), Filter::eq("status", "open")]))?
            .iter()
            .filter(|d| util::may_see_deal(d.data.responsible.as_deref()))
            .inspect(|d| {
                visible_deals.insert(d.id.clone());
            })
            .map(|r| util::shown("deal", r, pii))
            .collect()
    } else {
        Vec::new()
    };
    let leads: Vec<Value> = if can("crm.lead.read") {
        let open = Filter::is_in("status", vec![json!("new"), json!("in_progress")]);
        util::all::<Lead>("lead", Filter::and(vec![of(), open]))?.iter().map(|r| util::shown("lead", r, pii)).collect()
    } else {
        Vec::new()
    };
    let activities: Vec<Value> = if can("crm.activity.read") {
        util::all::<Activity>("activity", Filter::and(vec![of(), Filter::eq("done", false)]))?
            .iter()
            .filter(|a| a.data.deal.as_ref().is_none_or(|d| visible_deals.contains(d) || can(util::ALL_DEALS)))
            .map(|r| util::shown("activity", r, pii))
            .collect()
    } else {
        Vec::new()
    };
    Ok(json!({
        "customer": util::shown("customer", &customer, pii),
        "contacts": contacts,
        "addresses": addresses,
        "open_deals": deals,
        "open_leads": leads,
        "planned_activities": activities,
    }))
}

/// The contact keys of a customer.
fn keys_of(id: &str) -> Result<Vec<Record<Contact>>> {
    util::all::<Contact>("contact", Filter::eq("customer", id))
}

/// Customers (other than `id`) sharing a contact key with `id`, with the kinds that match.
fn duplicates_of(id: &str) -> Result<BTreeMap<String, BTreeSet<String>>> {
    let keys: Vec<Value> = keys_of(id)?
        .into_iter()
        .filter_map(|c| c.data.key)
        .filter(|k| k.starts_with("email:") || k.starts_with("phone:") || k.starts_with("whatsapp:"))
        .map(Value::from)
        .collect();
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    if keys.is_empty() {
        return Ok(out);
    }
    for chunk in keys.chunks(100) {
        for c in util::all::<Contact>("contact", Filter::is_in("key", chunk.to_vec()))? {
            if c.data.customer != id {
                out.entry(c.data.customer).or_default().insert(c.data.kind);
            }
        }
    }
    Ok(out)
}

/// `duplicates`: cards sharing an e-mail or phone with this one.
pub fn duplicates(input: Value) -> Result<Value> {
    let id = input["id"].as_str().ok_or_else(|| Error::invalid("id", "is required"))?;
    store::get::<Customer>("customer", id)?;
    let mut out = Vec::new();
    for (other, kinds) in duplicates_of(id)? {
        let c = store::get::<Customer>("customer", &other)?;
        out.push(json!({ "id": other, "name": c.data.name, "matched_on": kinds }));
    }
    Ok(json!({ "duplicates": out }))
}

/// Points every record of `collection` that refers to `from` through `field` at `into`.
fn repoint(collection: &str, field: &str, from: &str, into: &str) -> Result<usize> {
    let mut moved = 0;
    loop {
        let page = store::query::<Value>(collection, &Query::new().filter(Filter::eq(field, from)).limit(500))?;
        if page.records.is_empty() {
            return Ok(moved);
        }
        for r in page.records {
            store::update::<Value>(collection, &r.id, &json!({ field: into }), Some(r.version))?;
            moved += 1;
        }
    }
}

/// `merge-customers`: `from` goes into `into`. Contacts `into` lacks, addresses, timeline,
/// leads, messages, deals and activities move over; empty fields of `into` are filled from
/// `from`; purchase totals add up; `from` is deleted.
pub fn merge(input: Value) -> Result<Value> {
    let (Some(into), Some(from)) = (input["into"].as_str(), input["from"].as_str()) else {
        return Err(Error::invalid("input", "give into and from"));
    };
    if into == from {
        return Err(Error::invalid("from", "is the same card as into"));
    }
    // The duplicate's deals and leads move too, so merging takes the right to work them all.
    let needed: Vec<&str> =
        [util::ALL_DEALS, "crm.lead.write"].into_iter().filter(|p| !erp_sdk::context::has_permission(p)).collect();
    if !needed.is_empty() {
        return Err(Error::AccessDenied(format!("{} (to merge cards with their deals and leads)", needed.join(", "))));
    }
    let survivor = store::get::<Customer>("customer", into)?;
    let dup = store::get::<Customer>("customer", from)?;
    // Contacts: keep one per key.
    let known: BTreeSet<String> = keys_of(into)?.into_iter().filter_map(|c| c.data.key).collect();
    for c in keys_of(from)? {
        if c.data.key.as_ref().is_some_and(|k| known.contains(k)) {
            store::delete("contact", &c.id, None)?;
        } else {
            store::update::<Value>("contact", &c.id, &json!({ "customer": into }), Some(c.version))?;
        }
    }
    let mut moved = BTreeMap::new();
    for (collection, field) in [
        ("address", "customer"),
        ("timeline", "customer"),
        ("lead", "customer"),
        ("message", "customer"),
        ("deal", "customer"),
        ("activity", "customer"),
        ("document", "customer"),
    ] {
        moved.insert(collection, repoint(collection, field, from, into)?);
    }
    crate::recommend::merge(into, from)?;
    // Fields: what the survivor lacks comes from the duplicate.
    let (s, d) = (&survivor.data, &dup.data);
    let mut patch = serde_json::Map::new();
    let mut fill = |name: &str, mine: &Option<String>, theirs: &Option<String>| {
        if mine.is_none()
            && let Some(v) = theirs
        {
            patch.insert(name.to_string(), json!(v));
        }
    };
    fill("last_name", &s.last_name, &d.last_name);
    fill("first_name", &s.first_name, &d.first_name);
    fill("patronymic", &s.patronymic, &d.patronymic);
    fill("tax_id", &s.tax_id, &d.tax_id);
    fill("birth_date", &s.birth_date, &d.birth_date);
    fill("gender", &s.gender, &d.gender);
    fill("responsible", &s.responsible, &d.responsible);
    fill("source", &s.source, &d.source);
    let mut tags: BTreeSet<String> = BTreeSet::new();
    for t in [&s.tags, &d.tags].into_iter().flatten() {
        tags.extend(t.as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_string));
    }
    if !tags.is_empty() {
        patch.insert("tags".into(), json!(tags));
    }
    let spent = |c: &Customer| c.total_spent.as_deref().and_then(|v| v.parse::<Decimal>().ok()).unwrap_or_default();
    let total =
        spent(s).checked_add(spent(d)).ok_or_else(|| Error::invalid("total_spent", "is too large to add up"))?;
    patch.insert("total_spent".into(), json!(total.to_string()));
    let latest = [s.last_purchase_at.as_deref(), d.last_purchase_at.as_deref()]
        .into_iter()
        .flatten()
        .filter_map(time::parse)
        .max();
    if let Some(t) = latest {
        patch.insert("last_purchase_at".into(), json!(time::format(t)));
    }
    store::update::<Value>("customer", into, &Value::Object(patch), Some(survivor.version))?;
    crate::timeline::add(Entry {
        customer: into.to_string(),
        kind: "merge".into(),
        at: time::format(time::now()),
        title: format!("Merged the duplicate card {}", d.name),
        title_ru: Some(format!("Объединена с дублем карточки «{}»", d.name)),
        ref_id: Some(from.to_string()),
        data: Some(json!({ "from": from, "name": d.name, "moved": moved })),
        ..Entry::default()
    })?;
    store::delete("customer", from, None)?;
    events::publish("crm.customer.merged", &json!({ "into": into, "from": from }))?;
    card_of(into)
}
