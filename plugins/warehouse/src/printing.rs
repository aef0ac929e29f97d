//! Printed forms of shipments: the delivery note (товарная накладная, ТОРГ-12) with prices,
//! VAT and the total in words, and the picking list the storekeeper walks the bins with. Each
//! print is a `document` record holding the PDF, kept as issued (see `erp_sdk::documents::issue`).

use std::collections::BTreeMap;

use erp_sdk::store::{self, Record};
use erp_sdk::{Error, Result, Value, context, documents, json, words};
use rust_decimal::Decimal;
use serde::Deserialize;

use crate::model::{Location, Move};
use crate::shipments::Shipment;

/// Most lines one shipment prints.
const MAX_LINES: usize = 2_000;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Company {
    name: String,
    legal_name: String,
    tax_id: String,
    kpp: String,
    address: String,
    phone: String,
    bank_name: String,
    bank_bic: String,
    bank_account: String,
    bank_corr_account: String,
    director: String,
    accountant: String,
    currency: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Settings {
    company: Company,
    /// The VAT rate included in sale prices, in percent; none prints "without VAT".
    delivery_note_vat: Option<Decimal>,
}

/// A product as printed.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Product {
    sku: String,
    name: String,
    uom: Option<String>,
    sale_price: Option<Decimal>,
}

fn money(d: Decimal, lang: &str) -> String {
    let text = d.round_dp(2).to_string();
    words::money(&text, lang).unwrap_or(text)
}

fn quantity(d: Decimal, lang: &str) -> String {
    let text = d.normalize().to_string();
    if lang == "ru" { text.replace('.', ",") } else { text }
}

fn location_name(id: &str, cache: &mut BTreeMap<String, (String, String)>) -> (String, String) {
    if let Some(hit) = cache.get(id) {
        return hit.clone();
    }
    let found = store::get::<Location>("location", id).map(|l| (l.data.name, l.data.code)).unwrap_or_default();
    cache.insert(id.to_string(), found.clone());
    found
}

/// What the templates read.
fn data(s: &Record<Shipment>, form: &str, lang: &str) -> Result<Value> {
    let settings: Settings = context::config().unwrap_or_default();
    let c = settings.company;
    let ids: Vec<String> =
        s.data.moves.as_array().into_iter().flatten().filter_map(|m| m.as_str().map(str::to_string)).collect();
    if ids.len() > MAX_LINES {
        return Err(Error::invalid("id", format!("a shipment prints at most {MAX_LINES} lines")));
    }
    let mut places = BTreeMap::new();
    let mut products: BTreeMap<String, Product> = BTreeMap::new();
    let mut lines = Vec::new();
    let (mut total_qty, mut total, mut total_vat) = (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
    let rate = settings.delivery_note_vat.filter(|r| !r.is_zero());
    for id in &ids {
        let m = store::get::<Move>("move", id)?.data;
        if !products.contains_key(&m.product) {
            let p = store::get::<Product>("product", &m.product).map(|p| p.data).unwrap_or_default();
            products.insert(m.product.clone(), p);
        }
        let p = &products[&m.product];
        let price = p.sale_price.unwrap_or_default();
        let amount = (price * m.quantity).round_dp(2);
        let vat = rate.map_or(Decimal::ZERO, |r| (amount * r / (Decimal::ONE_HUNDRED + r)).round_dp(2));
        total_qty += m.quantity;
        total += amount;
        total_vat += vat;
        let (bin, bin_code) = location_name(&m.from_location, &mut places);
        lines.push(json!({
            "name": p.name, "sku": p.sku, "unit": p.uom.clone().unwrap_or_else(|| if lang == "ru" { "шт".into() } else { "pcs".into() }),
            "quantity": quantity(m.quantity, lang), "price": money(price, lang),
            "net": money(amount - vat, lang), "vat_rate": rate.map_or_else(|| if lang == "ru" { "Без НДС".to_string() } else { "No VAT".to_string() }, |r| format!("{}%", r.normalize())),
            "vat": money(vat, lang), "amount": money(amount, lang), "bin": bin, "bin_code": bin_code,
            "lot": m.lot.clone().unwrap_or_default(),
        }));
    }
    if form == "picking_list" {
        lines.sort_by(|a, b| {
            a["bin_code"].as_str().cmp(&b["bin_code"].as_str()).then(a["sku"].as_str().cmp(&b["sku"].as_str()))
        });
    }
    for (n, line) in lines.iter_mut().enumerate() {
        line["n"] = json!(n + 1);
    }
    let (to, _) = location_name(&s.data.to_location, &mut places);
    let today = erp_sdk::now();
    let date = words::date(&today, lang).unwrap_or_default();
    let number = s.data.reference.clone();
    let title = match (form, lang) {
        ("picking_list", "ru") => format!("Лист подбора к отгрузке {number} от {date}"),
        ("picking_list", _) => format!("Picking list for shipment {number} of {date}"),
        _ => format!("Товарная накладная № {number} от {date}"),
    };
    let currency = if c.currency.is_empty() { "RUB".to_string() } else { c.currency.clone() };
    let total_text = total.round_dp(2).to_string();
    Ok(json!({
        "language": lang, "title": title, "number": number, "date": date,
        "seller": {
            "name": if c.legal_name.trim().is_empty() { c.name.clone() } else { c.legal_name.clone() },
            "inn": c.tax_id, "kpp": c.kpp, "address": c.address, "phone": c.phone, "bank_name": c.bank_name,
            "bic": c.bank_bic, "account": c.bank_account, "corr_account": c.bank_corr_account,
            "director": c.director, "accountant": c.accountant,
        },
        "consignee": to,
        "carrier": s.data.carrier.clone().unwrap_or_default(),
        "tracking": s.data.tracking.clone().unwrap_or_default(),
        "lines": lines,
        "count": ids.len(),
        "total_quantity": quantity(total_qty, lang),
        "net": money(total - total_vat, lang),
        "vat": money(total_vat, lang),
        "total": money(total, lang),
        "total_words": words::amount(&total_text, &currency, lang).unwrap_or_default(),
        "count_words": words::ru_number(ids.len() as u64, false),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PrintInput {
    id: String,
    form: Option<String>,
    language: Option<String>,
}

/// `print-shipment {id, form?: delivery_note | picking_list, language?}`.
pub fn print(input: Value) -> Result<Value> {
    let input: PrintInput = erp_sdk::input(input)?;
    let form = input.form.unwrap_or_else(|| "delivery_note".into());
    if !matches!(form.as_str(), "delivery_note" | "picking_list") {
        return Err(Error::invalid("form", "must be delivery_note or picking_list"));
    }
    let lang = match input.language.as_deref() {
        Some(l) if l == "ru" || l == "en" => l.to_string(),
        Some(_) => return Err(Error::invalid("language", "must be ru or en")),
        None if context::current().locale.starts_with("en") => "en".into(),
        None => "ru".into(),
    };
    // The delivery note is a Russian form.
    let lang = if form == "delivery_note" { "ru".to_string() } else { lang };
    let s = store::get::<Shipment>("shipment", &input.id)?;
    if s.data.status == "cancelled" {
        return Err(Error::invalid("id", "a cancelled shipment is not printed"));
    }
    let data = data(&s, &form, &lang)?;
    let name = data["title"].as_str().unwrap_or("document").to_string();
    let issue = documents::Issue {
        collection: "document",
        record_field: "shipment",
        record_id: &input.id,
        document: &form,
        language: &lang,
        number: &s.data.reference,
        name: &name,
    };
    let d = documents::issue(issue, &data)?;
    Ok(
        json!({ "id": d.id, "version": d.data.revision, "pages": d.data.pages, "file": d.data.file, "open": d.data.file.get("id") }),
    )
}

/// Printed documents never change: only `print-shipment` makes them.
pub fn validate(before: Option<&Value>) -> Result<()> {
    if before.is_some() {
        return Err(Error::invalid(
            "document",
            "a printed document never changes; print the shipment again for a new version",
        ));
    }
    Ok(())
}
