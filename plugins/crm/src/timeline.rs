//! The customer timeline: what happened with a customer, newest first. Views, visits,
//! purchases and payments come in through commands; messages, stage changes, activities and
//! merges are written by the parts of the plugin that cause them.

use std::collections::BTreeMap;

use erp_sdk::store::{self, Filter, Query};
use erp_sdk::{Error, Result, Value, json};
use rust_decimal::Decimal;
use serde::Deserialize;

use crate::model::{Customer, Entry};
use crate::time;
use crate::util;

/// Writes one timeline entry.
pub fn add(entry: Entry) -> Result<String> {
    Ok(store::create("timeline", &entry)?.id)
}

/// `59200` as `59 200,00`.
pub fn money_ru(d: Decimal) -> String {
    let text = format!("{:.2}", d.round_dp(2).abs());
    let (int, frac) = text.split_once('.').unwrap_or((&text, "00"));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push('\u{a0}');
        }
        grouped.push(c);
    }
    format!("{}{grouped},{frac}", if d.is_sign_negative() && !d.is_zero() { "-" } else { "" })
}

/// How many items, in English: `1 item`, `3 items`, `2.5 items`.
fn items_en(n: &Decimal) -> String {
    let n = n.normalize();
    if n == Decimal::ONE { "1 item".into() } else { format!("{n} items") }
}

/// How many items, in Russian with the right plural: `1 товар`, `3 товара`, `5 товаров`.
fn items_ru(n: &Decimal) -> String {
    let n = n.normalize();
    if n.fract() != Decimal::ZERO {
        return format!("{} товара", n.to_string().replace('.', ","));
    }
    let whole = n.abs().trunc().to_string().parse::<u64>().unwrap_or(0);
    let word = match (whole % 10, whole % 100) {
        (1, r) if r != 11 => "товар",
        (2..=4, r) if !(12..=14).contains(&r) => "товара",
        _ => "товаров",
    };
    format!("{n} {word}")
}

/// When something happened: the given time, or now.
fn when(at: Option<&str>) -> Result<String> {
    match at {
        None => Ok(time::format(time::now())),
        Some(s) => time::normalise(s).ok_or_else(|| Error::invalid("at", "is not an RFC 3339 time")),
    }
}

fn customer_exists(id: &str) -> Result<()> {
    match store::get::<Customer>("customer", id) {
        Ok(_) => Ok(()),
        Err(Error::NotFound(_)) => Err(Error::invalid("customer", "no such customer")),
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct View {
    customer: String,
    product: String,
    product_name: Option<String>,
    url: Option<String>,
    at: Option<String>,
}

/// `track-view`: a customer looked at a product.
pub fn track_view(input: Value) -> Result<Value> {
    let v: View = util::input(input)?;
    customer_exists(&v.customer)?;
    if !crate::recommend::is_product_id(&v.product) {
        return Err(Error::invalid("product", "give a product id of 1 to 100 characters, no control characters"));
    }
    let product = v.product_name.as_deref().unwrap_or(&v.product);
    let (title, title_ru) = (format!("Viewed {product}"), format!("Просмотр: {product}"));
    let id = add(Entry {
        customer: v.customer.clone(),
        kind: "view".into(),
        at: when(v.at.as_deref())?,
        title,
        title_ru: Some(title_ru),
        ref_id: Some(v.product.clone()),
        data: Some(json!({ "product": v.product, "product_name": v.product_name, "url": v.url })),
        ..Entry::default()
    })?;
    crate::recommend::viewed(&v.customer, &v.product)?;
    Ok(json!({ "id": id }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Visit {
    customer: String,
    url: String,
    referrer: Option<String>,
    country: Option<String>,
    region: Option<String>,
    city: Option<String>,
    #[serde(default, deserialize_with = "coordinate")]
    latitude: Option<f64>,
    #[serde(default, deserialize_with = "coordinate")]
    longitude: Option<f64>,
    source: Option<String>,
    #[serde(default)]
    utm: BTreeMap<String, String>,
    at: Option<String>,
}

/// A coordinate as the kernel passes a decimal input (text), or as a JSON number.
fn coordinate<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Option<f64>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(Value::String(s)) => s.trim().parse().map(Some).map_err(serde::de::Error::custom),
        Some(other) => Err(serde::de::Error::custom(format!("{other} is not a number"))),
    }
}

/// `track-visit`: a web visit with where it came from.
pub fn track_visit(input: Value) -> Result<Value> {
    let v: Visit = util::input(input)?;
    customer_exists(&v.customer)?;
    let mut errors = Vec::new();
    if let Some(lat) = v.latitude.filter(|l| !(-90.0..=90.0).contains(l)) {
        errors.push(erp_sdk::FieldError { field: "latitude".into(), message: format!("{lat} is not within -90..90") });
    }
    if let Some(lon) = v.longitude.filter(|l| !(-180.0..=180.0).contains(l)) {
        errors
            .push(erp_sdk::FieldError { field: "longitude".into(), message: format!("{lon} is not within -180..180") });
    }
    if let Some(k) = v.utm.keys().find(|k| !k.starts_with("utm_")) {
        errors.push(erp_sdk::FieldError { field: format!("utm.{k}"), message: "UTM keys start with utm_".into() });
    }
    if !errors.is_empty() {
        return Err(Error::Invalid(errors));
    }
    let place = [v.city.as_deref(), v.region.as_deref(), v.country.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ");
    let source = v.source.clone().or_else(|| v.utm.get("utm_source").cloned());
    let title = match (&source, place.is_empty()) {
        (Some(s), false) => format!("Visited {} from {place} via {s}", v.url),
        (Some(s), true) => format!("Visited {} via {s}", v.url),
        (None, false) => format!("Visited {} from {place}", v.url),
        (None, true) => format!("Visited {}", v.url),
    };
    let title_ru = match (&source, place.is_empty()) {
        (Some(s), false) => format!("Посещение {} ({place}), источник {s}", v.url),
        (Some(s), true) => format!("Посещение {}, источник {s}", v.url),
        (None, false) => format!("Посещение {} ({place})", v.url),
        (None, true) => format!("Посещение {}", v.url),
    };
    let id = add(Entry {
        customer: v.customer,
        kind: "visit".into(),
        at: when(v.at.as_deref())?,
        title,
        title_ru: Some(title_ru),
        data: Some(json!({
            "url": v.url, "referrer": v.referrer, "country": v.country, "region": v.region, "city": v.city,
            "latitude": v.latitude, "longitude": v.longitude, "source": source, "utm": v.utm,
        })),
        ..Entry::default()
    })?;
    Ok(json!({ "id": id }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    product: String,
    name: Option<String>,
    quantity: Decimal,
    price: Decimal,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Purchase {
    customer: String,
    lines: Vec<Line>,
    currency: Option<String>,
    order: Option<String>,
    at: Option<String>,
}

/// `record-purchase`: a purchase with lines; the customer's total and last purchase follow.
pub fn record_purchase(input: Value) -> Result<Value> {
    let p: Purchase = util::input(input)?;
    let customer = match store::get::<Customer>("customer", &p.customer) {
        Ok(c) => c,
        Err(Error::NotFound(_)) => return Err(Error::invalid("customer", "no such customer")),
        Err(e) => return Err(e),
    };
    if p.lines.is_empty() || p.lines.len() > 500 {
        return Err(Error::invalid("lines", "give 1 to 500 lines"));
    }
    let mut errors = Vec::new();
    let mut total = Decimal::ZERO;
    for (i, l) in p.lines.iter().enumerate() {
        if !crate::recommend::is_product_id(&l.product) {
            errors.push(erp_sdk::FieldError {
                field: format!("lines[{i}].product"),
                message: "give a product id of 1 to 100 characters, no control characters".into(),
            });
        }
        if l.quantity <= Decimal::ZERO {
            errors.push(erp_sdk::FieldError {
                field: format!("lines[{i}].quantity"),
                message: "must be positive".into(),
            });
        }
        if l.price < Decimal::ZERO {
            errors.push(erp_sdk::FieldError {
                field: format!("lines[{i}].price"),
                message: "must not be negative".into(),
            });
        }
        match l.quantity.checked_mul(l.price).and_then(|x| total.checked_add(x)) {
            Some(t) => total = t,
            None => {
                errors.push(erp_sdk::FieldError { field: format!("lines[{i}]"), message: "amount is too large".into() })
            }
        }
    }
    if !errors.is_empty() {
        return Err(Error::Invalid(errors));
    }
    let total = total.round_dp(2);
    // "Bought 3 items" counts the pieces, not the lines ("1 item(s)" for three chairs was wrong).
    let quantity: Decimal = p.lines.iter().map(|l| l.quantity).sum();
    let at = when(p.at.as_deref())?;
    let currency = p.currency.clone().unwrap_or_else(crate::default_currency);
    let lines: Vec<Value> = p
        .lines
        .iter()
        .map(|l| {
            json!({ "product": l.product, "name": l.name, "quantity": l.quantity.to_string(), "price": l.price.to_string() })
        })
        .collect();
    let id = add(Entry {
        customer: p.customer.clone(),
        kind: "purchase".into(),
        at: at.clone(),
        title: format!("Bought {} for {total} {currency}", items_en(&quantity)),
        title_ru: Some(format!("Покупка: {} на сумму {} {currency}", items_ru(&quantity), money_ru(total))),
        amount: Some(total.to_string()),
        currency: Some(currency.clone()),
        ref_id: p.order.clone(),
        data: Some(json!({ "lines": lines, "order": p.order })),
    })?;
    // The running total is kept in the company's currency; purchases in others stay in the
    // history only.
    let spent: Decimal = customer.data.total_spent.as_deref().and_then(|s| s.parse().ok()).unwrap_or_default();
    let counted = currency == crate::default_currency();
    let new_total = if counted {
        spent.checked_add(total).ok_or_else(|| Error::invalid("lines", "the customer's total would be too large"))?
    } else {
        spent
    };
    let later = customer
        .data
        .last_purchase_at
        .as_deref()
        .and_then(time::parse)
        .is_none_or(|last| time::parse(&at).is_some_and(|now| now > last));
    let mut patch = json!({ "total_spent": new_total.round_dp(2).to_string() });
    if later {
        patch["last_purchase_at"] = json!(at);
    }
    // With the version read above: two purchases at once never lose an amount.
    store::update::<Value>("customer", &p.customer, &patch, Some(customer.version))?;
    let products: Vec<String> = p.lines.iter().map(|l| l.product.clone()).collect();
    crate::recommend::bought(&p.customer, &products)?;
    Ok(json!({ "id": id, "amount": total.to_string(), "currency": currency }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Payment {
    customer: String,
    amount: Decimal,
    currency: Option<String>,
    reference: Option<String>,
    at: Option<String>,
}

/// `record-payment`: money received from a customer.
pub fn record_payment(input: Value) -> Result<Value> {
    let p: Payment = util::input(input)?;
    customer_exists(&p.customer)?;
    if p.amount <= Decimal::ZERO {
        return Err(Error::invalid("amount", "must be positive"));
    }
    let id = payment(&p.customer, p.amount, p.currency, p.reference, when(p.at.as_deref())?, "manual")?;
    Ok(json!({ "id": id }))
}

/// Writes a payment entry (from the command or from accounting's event).
pub fn payment(
    customer: &str,
    amount: Decimal,
    currency: Option<String>,
    reference: Option<String>,
    at: String,
    source: &str,
) -> Result<String> {
    let currency = currency.unwrap_or_else(crate::default_currency);
    let amount = amount.round_dp(2);
    add(Entry {
        customer: customer.to_string(),
        kind: "payment".into(),
        at,
        title: format!("Paid {amount} {currency}"),
        title_ru: Some(format!("Оплата {} {currency}", money_ru(amount))),
        amount: Some(amount.to_string()),
        currency: Some(currency),
        ref_id: reference.clone(),
        data: Some(json!({ "reference": reference, "source": source })),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Ask {
    customer: String,
    kind: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// `timeline`: one page of a customer's history, newest first.
pub fn timeline(input: Value) -> Result<Value> {
    let a: Ask = util::input(input)?;
    customer_exists(&a.customer)?;
    let limit = a.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(Error::invalid("limit", "must be between 1 and 200"));
    }
    let mut filter = vec![Filter::eq("customer", a.customer.as_str())];
    if let Some(k) = &a.kind {
        filter.push(Filter::eq("kind", k.as_str()));
    }
    let mut q = Query::new().filter(Filter::and(filter)).sort_desc("at").limit(limit);
    if let Some(c) = a.cursor {
        q = q.cursor(c);
    }
    let page = store::query::<Entry>("timeline", &q)?;
    // Stage changes of deals the caller may not see are left out.
    let all_deals = erp_sdk::context::has_permission(util::ALL_DEALS);
    let mut seen = std::collections::BTreeMap::new();
    let mut visible = |r: &erp_sdk::store::Record<Entry>| -> Result<bool> {
        if all_deals || r.data.kind != "stage_change" {
            return Ok(true);
        }
        let Some(deal) = r.data.ref_id.clone() else { return Ok(true) };
        if let Some(v) = seen.get(&deal) {
            return Ok(*v);
        }
        let v = match store::get::<crate::model::Deal>("deal", &deal) {
            Ok(d) => util::may_see_deal(d.data.responsible.as_deref()),
            Err(Error::NotFound(_)) => false,
            Err(e) => return Err(e),
        };
        seen.insert(deal, v);
        Ok(v)
    };
    let mut shown = Vec::new();
    for r in &page.records {
        if visible(r)? {
            shown.push(r);
        }
    }
    let ru = erp_sdk::context::current().locale.starts_with("ru");
    let entries: Vec<Value> = shown
        .into_iter()
        .map(|r| {
            json!({
                "id": r.id, "kind": r.data.kind, "at": r.data.at,
                "title": if ru { r.data.title_ru.as_ref().unwrap_or(&r.data.title) } else { &r.data.title },
                "amount": r.data.amount, "currency": r.data.currency, "ref_id": r.data.ref_id, "data": r.data.data,
            })
        })
        .collect();
    Ok(json!({ "entries": entries, "next_cursor": page.next_cursor }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn russian_titles_count_items_with_the_right_plural_and_group_money() {
        let n = |s: &str| s.parse::<Decimal>().expect("decimal");
        let said: Vec<String> =
            ["1", "2", "5", "11", "21", "22", "112", "2.5"].iter().map(|q| items_ru(&n(q))).collect();
        assert_eq!(
            said,
            ["1 товар", "2 товара", "5 товаров", "11 товаров", "21 товар", "22 товара", "112 товаров", "2,5 товара"]
        );
        assert_eq!(items_en(&n("1.000")), "1 item");
        assert_eq!(items_en(&n("3")), "3 items");
        assert_eq!(money_ru(n("59200")), "59\u{a0}200,00");
        assert_eq!(money_ru(n("-1234.5")), "-1\u{a0}234,50");
    }
}
