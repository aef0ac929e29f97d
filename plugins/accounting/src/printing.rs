//! Printed forms of invoices: the invoice for payment (счёт на оплату, Russian or English) and
//! the act of work done (акт). Each print is kept as a `document` record holding the PDF: the
//! first is version 1, printing again after the invoice or the company's details changed makes
//! the next version, and printing again with nothing changed answers the latest, so an issued
//! document never changes under anyone's feet. `send-invoice` e-mails the PDF to the customer.

use erp_sdk::store::{self, Record};
use erp_sdk::{Error, Result, Value, context, documents, json, words};
use rust_decimal::Decimal;
use serde::Deserialize;

use crate::model::{Invoice, Tax};
use crate::{money, util};

/// The company's details as the kernel gives them to every plugin.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Company {
    name: String,
    legal_name: String,
    tax_id: String,
    kpp: String,
    address: String,
    phone: String,
    email: String,
    bank_name: String,
    bank_bic: String,
    bank_account: String,
    bank_corr_account: String,
    director: String,
    accountant: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Settings {
    company: Company,
}

/// The buyer's name and taxpayer number from CRM, when the plugin may read its customers.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Customer {
    name: String,
    tax_id: Option<String>,
}

fn amount(d: Decimal, lang: &str) -> String {
    words::money(&money::text(d), lang).unwrap_or_else(|| money::text(d))
}

fn quantity(d: Decimal, lang: &str) -> String {
    let text = d.normalize().to_string();
    if lang == "ru" { text.replace('.', ",") } else { text }
}

/// The data the templates read: everything formatted for the language, nothing to compute.
fn data(inv: &Record<Invoice>, lang: &str, form: &str) -> Result<Value> {
    let i = &inv.data;
    let settings: Settings = context::config().unwrap_or_default();
    let c = settings.company;
    let currency = i.currency.clone().unwrap_or_else(util::company_currency);
    let buyer: Customer = store::get::<Customer>("crm.customer", &i.partner).map(|r| r.data).unwrap_or_default();
    let buyer_name = i.partner_name.clone().filter(|n| !n.trim().is_empty()).unwrap_or(buyer.name);
    let mut lines = Vec::new();
    // Prices that include VAT print with their VAT included, as Russian invoices do.
    let mut included = false;
    for (n, line) in i.lines.iter().enumerate() {
        let computed = i.computed.get(n).cloned().unwrap_or_default();
        let tax = line.tax.as_deref().and_then(|t| util::by_id_or_code::<Tax>("tax", "code", t).ok()).map(|t| t.data);
        included |= tax.as_ref().is_some_and(|t| t.included);
        let line_amount = if tax.as_ref().is_some_and(|t| t.included) { computed.total } else { computed.base };
        let rate = match &tax {
            Some(t) => format!("{}%", quantity(t.rate, lang)),
            None if lang == "ru" => "Без НДС".to_string(),
            None => "No VAT".to_string(),
        };
        lines.push(json!({
            "n": n + 1,
            "description": line.description,
            "product": line.product.clone().unwrap_or_default(),
            "quantity": quantity(line.quantity, lang),
            "unit": if lang == "ru" { "шт" } else { "pcs" },
            "price": amount(line.price, lang),
            "base": amount(computed.base, lang),
            "vat_rate": rate,
            "vat": amount(computed.tax, lang),
            "total": amount(computed.total, lang),
            "amount": amount(line_amount, lang),
        }));
    }
    let number = i.number.clone().unwrap_or_default();
    let date = words::date(&i.date, lang).unwrap_or_else(|| i.date.clone());
    let title = match (form, lang) {
        ("act", "ru") => format!("Акт № {number} от {date}"),
        ("act", _) => format!("Certificate of work done No. {number} of {date}"),
        (_, "ru") => format!("Счёт на оплату № {number} от {date}"),
        _ => format!("Invoice No. {number} of {date}"),
    };
    let sum = money::text(i.total);
    Ok(json!({
        "language": lang,
        "title": title,
        "number": number,
        "date": date,
        "date_long": words::date_long(&i.date, lang).unwrap_or_default(),
        "due_date": i.due_date.as_deref().and_then(|d| words::date(d, lang)).unwrap_or_default(),
        "reference": i.reference.clone().unwrap_or_default(),
        "currency": if lang == "ru" && currency == "RUB" { "руб.".to_string() } else { currency.clone() },
        "seller": {
            "name": if c.legal_name.trim().is_empty() { c.name.clone() } else { c.legal_name.clone() },
            "short_name": c.name, "inn": c.tax_id, "kpp": c.kpp, "address": c.address, "phone": c.phone,
            "email": c.email, "bank_name": c.bank_name, "bic": c.bank_bic, "account": c.bank_account,
            "corr_account": c.bank_corr_account, "director": c.director, "accountant": c.accountant,
        },
        "buyer": { "name": buyer_name, "inn": buyer.tax_id.unwrap_or_default() },
        "lines": lines,
        "count": i.lines.len(),
        "untaxed": amount(i.untaxed, lang),
        "included": included,
        "subtotal": amount(if included { i.total } else { i.untaxed }, lang),
        "tax": amount(i.tax, lang),
        "total": amount(i.total, lang),
        "total_words": words::amount(&sum, &currency, lang).unwrap_or_default(),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PrintInput {
    id: String,
    form: Option<String>,
    language: Option<String>,
}

/// `print-invoice {id, form?, language?}`: the PDF of an invoice's form, made now or, when
/// nothing changed since the last print, the last one.
pub fn print(input: Value) -> Result<Value> {
    let input: PrintInput = erp_sdk::input(input)?;
    let form = input.form.unwrap_or_else(|| "invoice".into());
    if !matches!(form.as_str(), "invoice" | "act") {
        return Err(Error::invalid("form", "must be invoice or act"));
    }
    let inv = store::get::<Invoice>("invoice", &input.id)?;
    if !inv.data.customer_side() {
        return Err(Error::invalid("id", "only customer invoices and credit notes are printed"));
    }
    if inv.data.number.is_none() {
        return Err(Error::invalid("id", "post the invoice first: a draft has no number to print"));
    }
    let lang = match input.language.as_deref() {
        Some(l) if l == "ru" || l == "en" => l.to_string(),
        Some(_) => return Err(Error::invalid("language", "must be ru or en")),
        None if context::current().locale.starts_with("en") => "en".into(),
        None => "ru".into(),
    };
    let lang = if form == "act" { "ru".to_string() } else { lang };
    let data = data(&inv, &lang, &form)?;
    let number = inv.data.number.clone().unwrap_or_default();
    let name = data["title"].as_str().unwrap_or("document").to_string();
    let issue = documents::Issue {
        collection: "document",
        record_field: "invoice",
        record_id: &input.id,
        document: &form,
        language: &lang,
        number: &number,
        name: &name,
    };
    Ok(answer(&documents::issue(issue, &data)?))
}

fn answer(d: &Record<documents::Printed>) -> Value {
    json!({
        "id": d.id, "version": d.data.revision, "pages": d.data.pages,
        "file": d.data.file, "open": d.data.file.get("id"),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SendInput {
    id: String,
    to: Option<String>,
    form: Option<String>,
    language: Option<String>,
}

/// The customer's first e-mail in CRM, where the company granted reading its contacts.
fn customer_email(partner: &str) -> Option<String> {
    let q = store::Query::new()
        .filter(store::Filter::and(vec![store::Filter::eq("customer", partner), store::Filter::eq("kind", "email")]));
    store::first::<Value>("crm.contact", q).ok().flatten().and_then(|c| c.data["value"].as_str().map(str::to_string))
}

/// `send-invoice {id, to?, form?, language?}`: e-mails the printed form (printing it first
/// when nothing changed since is not needed) to the address given or the customer's e-mail in
/// CRM. The same document to the same address goes once, however often this runs.
pub fn send(input: Value) -> Result<Value> {
    let i: SendInput = erp_sdk::input(input)?;
    let printed = print(json!({ "id": i.id, "form": i.form, "language": i.language }))?;
    let inv = store::get::<Invoice>("invoice", &i.id)?;
    let to = match i.to.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) => t.to_string(),
        None => customer_email(&inv.data.partner).ok_or_else(|| {
            Error::invalid("to", "the customer has no e-mail in CRM (or CRM contacts are not granted); give an address")
        })?,
    };
    let file = printed["open"].as_str().ok_or_else(|| Error::failed("the printed form has no file"))?;
    let doc = store::get::<Value>("document", printed["id"].as_str().unwrap_or_default())?;
    let title = doc.data["file"]["name"].as_str().unwrap_or_default().trim_end_matches(".pdf").to_string();
    let settings: Settings = context::config().unwrap_or_default();
    let company =
        if settings.company.legal_name.trim().is_empty() { settings.company.name } else { settings.company.legal_name };
    let lang = doc.data["language"].as_str().unwrap_or("ru");
    let currency = inv.data.currency.clone().unwrap_or_else(util::company_currency);
    let total = amount(inv.data.total, lang);
    let text = if lang == "ru" {
        let currency = if currency == "RUB" { "руб.".to_string() } else { currency };
        let lower: String = title.chars().take(1).flat_map(char::to_lowercase).chain(title.chars().skip(1)).collect();
        let end = if currency.ends_with('.') { "" } else { "." };
        format!(
            "Здравствуйте!\n\nНаправляем вам {lower} на сумму {total} {currency}{end} Документ во вложении.\n\nС уважением,\n{company}"
        )
    } else {
        format!("Hello,\n\nPlease find attached {title}, for {total} {currency}.\n\nKind regards,\n{company}")
    };
    let key = format!("invoice/{}/{}/{}", i.id, doc.id, to.to_lowercase());
    let queued = erp_sdk::mail::Message::new(&to, &title, &text).attach(file).send(&key)?;
    Ok(json!({ "document": doc.id, "to": to, "outbox": queued.id, "queued": queued.created }))
}

/// Printed documents never change: only `print-invoice` makes them.
pub fn validate(before: Option<&Value>) -> Result<()> {
    if before.is_some() {
        return Err(Error::invalid(
            "document",
            "a printed document never changes; print the invoice again for a new version",
        ));
    }
    Ok(())
}
