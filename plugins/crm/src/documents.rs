//! Documents for deals and customers: a CRM template's text (minijinja over customer, deal and
//! company data) printed as a PDF in the layout of its kind (offer, contract, or a letter on
//! the company's form), kept as a numbered document on the deal or customer. A broken
//! template is refused when it is saved, with the line and column of the problem.

use erp_sdk::store::{self, Filter, Record};
use erp_sdk::{Error, Result, Value, context, documents, json, serde_json, words};
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::model::{Address, Contact, Customer, Deal, Manager, Pipeline, Stage};
use crate::time;
use crate::util;

/// Template instructions one render may spend (a loop that never ends stops here).
const FUEL: u64 = 2_000_000;
/// Largest rendered document, in bytes.
const MAX_OUTPUT: usize = 1024 * 1024;

/// `template`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Template {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    pub body: String,
}

/// `document`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Document {
    pub template: String,
    pub kind: String,
    pub title: String,
    pub number: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deal: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub responsible: Option<String>,
    pub html: String,
    /// The PDF of a document without personal data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<Value>,
    /// The PDF of one with personal data: only those who may see it can open it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_pii: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    pub pages: i64,
    pub has_pii: bool,
    pub rendered_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// `123456.5` as `123 456,50` (Russian) or `123,456.50` (other locales).
fn money(value: &str, ru: bool) -> String {
    let d: Decimal = value.trim().parse().unwrap_or_default();
    let text = d.round_dp(2).abs().to_string();
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let frac = format!("{frac:0<2}");
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(if ru { '\u{a0}' } else { ',' });
        }
        grouped.push(c);
    }
    let sign = if d.is_sign_negative() && !d.is_zero() { "-" } else { "" };
    format!("{sign}{grouped}{}{}", if ru { ',' } else { '.' }, &frac[..2])
}

fn environment(ru: bool) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    // The text goes to the PDF as a value, never as markup: nothing to escape.
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.set_fuel(Some(FUEL));
    env.add_filter("money", move |v: minijinja::Value| money(&v.to_string(), ru));
    env
}

/// Where in the source a template error is, as `line L, column C: what`.
fn describe(source: &str, e: &minijinja::Error) -> String {
    let what = e.detail().map(str::to_string).unwrap_or_else(|| e.kind().to_string());
    match (e.line(), e.range()) {
        (Some(line), Some(range)) => {
            let start = range.start.min(source.len());
            let line_start = source[..start].rfind('\n').map(|i| i + 1).unwrap_or(0);
            let column = source[line_start..start].chars().count() + 1;
            format!("line {line}, column {column}: {what}")
        }
        (Some(line), None) => format!("line {line}: {what}"),
        _ => what,
    }
}

/// Compiles a template body; the error says where it breaks.
pub fn compile_check(body: &str) -> Result<()> {
    let env = environment(true);
    env.template_from_str(body).map(|_| ()).map_err(|e| Error::invalid("body", describe(body, &e)))
}

/// The validation hook for templates.
pub fn validate_template(after: &Value) -> Result<()> {
    compile_check(after["body"].as_str().unwrap_or_default())
}

/// What documents read of the plugin's configuration: the company's details, which the kernel
/// puts under `company` from the company's profile (Settings → Company).
#[derive(Deserialize, Default)]
#[serde(default)]
struct CompanyConfig {
    company: CompanyDetails,
}

/// The company's details as the kernel gives them; any of them may be empty.
#[derive(Deserialize, Default)]
#[serde(default)]
struct CompanyDetails {
    /// Display name.
    name: String,
    /// Full legal name (`ООО «Ромашка»`).
    legal_name: String,
    tax_id: String,
    kpp: String,
    registration_number: String,
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

impl CompanyDetails {
    /// The company as a template sees it: `name` is the legal name when there is one (else the
    /// display name), `short_name` the display name, `bank` the bank details on one line.
    fn context(&self) -> Value {
        let name = if self.legal_name.trim().is_empty() { &self.name } else { &self.legal_name };
        json!({
            "name": name, "short_name": self.name, "tax_id": self.tax_id, "kpp": self.kpp,
            "registration_number": self.registration_number, "address": self.address, "phone": self.phone,
            "email": self.email, "bank_name": self.bank_name, "bank_bic": self.bank_bic,
            "bank_account": self.bank_account, "bank_corr_account": self.bank_corr_account,
            "director": self.director, "accountant": self.accountant, "bank": self.bank_line(),
        })
    }

    /// The bank details on one line, as Russian documents write them
    /// (`АО «Банк», БИК 044525225, р/с 40702…, к/с 30101…`), leaving out the empty parts.
    fn bank_line(&self) -> String {
        [
            ("", &self.bank_name),
            ("БИК ", &self.bank_bic),
            ("р/с ", &self.bank_account),
            ("к/с ", &self.bank_corr_account),
        ]
        .into_iter()
        .filter(|(_, value)| !value.trim().is_empty())
        .map(|(label, value)| format!("{label}{}", value.trim()))
        .collect::<Vec<_>>()
        .join(", ")
    }
}

/// A customer as a template sees it: fields, contacts and addresses, without personal data
/// unless `pii`.
fn customer_context(c: &Record<Customer>, pii: bool) -> Result<Value> {
    let mut out = util::shown("customer", c, pii)["data"].clone();
    out["id"] = json!(c.id);
    let contacts = util::all::<Contact>("contact", Filter::eq("customer", c.id.as_str()))?;
    let addresses = util::all::<Address>("address", Filter::eq("customer", c.id.as_str()))?;
    if pii {
        let first = |kind: &str| contacts.iter().find(|x| x.data.kind == kind).map(|x| x.data.value.clone());
        out["phone"] = json!(first("phone"));
        out["email"] = json!(first("email"));
        out["contacts"] =
            json!(contacts.iter().map(|x| json!({ "kind": x.data.kind, "value": x.data.value })).collect::<Vec<_>>());
        out["addresses"] =
            json!(addresses.iter().map(|a| serde_json::to_value(&a.data).unwrap_or_default()).collect::<Vec<_>>());
        out["legal_address"] = json!(addresses.iter().find(|a| a.data.kind == "legal").map(|a| &a.data.line));
        out["delivery_address"] = json!(addresses.iter().find(|a| a.data.kind == "delivery").map(|a| &a.data.line));
    }
    Ok(out)
}

/// A deal as a template sees it, with its stage, pipeline, manager and line totals.
fn deal_context(d: &Record<Deal>) -> Result<Value> {
    let mut out = serde_json::to_value(&d.data)?;
    out["id"] = json!(d.id);
    out["stage_name"] = json!(store::get::<Stage>("stage", &d.data.stage).map(|s| s.data.name).ok());
    out["pipeline_name"] = json!(store::get::<Pipeline>("pipeline", &d.data.pipeline).map(|p| p.data.name).ok());
    if let Some(user) = &d.data.responsible {
        let q = erp_sdk::store::Query::new().filter(Filter::eq("user_id", user.as_str()));
        out["manager"] = json!(util::first::<Manager>("manager", q)?.map(|m| m.data.name));
    }
    let mut total = Decimal::ZERO;
    let mut lines = Vec::new();
    let too_big = || Error::invalid("deal.lines", "amounts are too large to add up");
    for l in d.data.lines.as_ref().and_then(Value::as_array).into_iter().flatten() {
        let num = |k: &str| l[k].as_str().and_then(|s| s.parse::<Decimal>().ok()).unwrap_or_default();
        let sum = num("quantity").checked_mul(num("price")).ok_or_else(too_big)?.round_dp(2);
        total = total.checked_add(sum).ok_or_else(too_big)?;
        let mut line = l.clone();
        line["total"] = json!(sum.to_string());
        lines.push(line);
    }
    out["lines"] = json!(lines);
    out["lines_total"] = json!(total.to_string());
    Ok(out)
}

/// The next number of a document series. The counter is updated with its version, so two
/// renders at once cannot take the same number (one of them is told to retry).
fn next_number(kind: &str) -> Result<i64> {
    let key = format!("document:{kind}");
    let q = erp_sdk::store::Query::new().filter(Filter::eq("key", key.as_str()));
    match util::first::<Value>("counter", q)? {
        Some(c) => {
            let next = c.data["value"].as_i64().unwrap_or(0).saturating_add(1);
            store::update::<Value>("counter", &c.id, &json!({ "value": next }), Some(c.version))?;
            Ok(next)
        }
        None => {
            store::create("counter", &json!({ "key": key, "value": 1 }))?;
            Ok(1)
        }
    }
}

/// The Typst document a CRM template's kind prints as.
fn printed_kind(kind: &str) -> &'static str {
    match kind {
        "offer" => "offer",
        "contract" => "contract",
        _ => "letter",
    }
}

/// The city of an address (`г. Москва` or the first part without digits), for a contract's
/// heading.
fn city_of(address: &str) -> String {
    let parts: Vec<&str> = address.split(',').map(str::trim).collect();
    if let Some(c) = parts.iter().find_map(|p| p.strip_prefix("г. ").or_else(|| p.strip_prefix("г."))) {
        return c.trim().to_string();
    }
    parts
        .iter()
        .find(|p| !p.is_empty() && !p.chars().any(|c| c.is_ascii_digit()))
        .map(|p| p.to_string())
        .unwrap_or_default()
}

fn amount_text(d: Decimal, lang: &str) -> String {
    let text = d.round_dp(2).to_string();
    words::money(&text, lang).unwrap_or(text)
}

/// What the document templates read: the company, the customer, the deal with its lines,
/// and the template's own text in paragraphs, everything formatted for the language.
#[allow(clippy::too_many_arguments)]
fn print_data(
    today: &str,
    company: &CompanyDetails,
    customer: Option<&Value>,
    deal: Option<&Value>,
    heading: &str,
    number: &str,
    text: &str,
    lang: &str,
) -> Value {
    let date = words::date(today, lang).unwrap_or_default();
    let c = company.context();
    let customer = customer.cloned().unwrap_or(Value::Null);
    let text_of = |v: &Value, k: &str| v[k].as_str().unwrap_or_default().to_string();
    let mut lines = Vec::new();
    let mut total = Decimal::ZERO;
    if let Some(d) = deal {
        for (n, l) in d["lines"].as_array().into_iter().flatten().enumerate() {
            let num = |k: &str| l[k].as_str().and_then(|s| s.parse::<Decimal>().ok()).unwrap_or_default();
            let amount = num("total");
            total += amount;
            let qty = num("quantity").normalize().to_string();
            lines.push(json!({
                "n": n + 1,
                "name": l["name"].as_str().or_else(|| l["product"].as_str()).unwrap_or_default(),
                "quantity": if lang == "ru" { qty.replace('.', ",") } else { qty },
                "price": amount_text(num("price"), lang),
                "amount": amount_text(amount, lang),
            }));
        }
    }
    let currency = deal.map(|d| text_of(d, "currency")).filter(|c| !c.is_empty()).unwrap_or_else(|| "RUB".into());
    let total_text = total.round_dp(2).to_string();
    let shown_currency = if lang == "ru" && currency == "RUB" { "руб.".to_string() } else { currency.clone() };
    let paragraphs: Vec<String> =
        text.split("\n\n").map(|p| p.trim().replace('\n', " ")).filter(|p| !p.is_empty()).collect();
    json!({
        "language": lang,
        "title": format!("{heading} № {number} от {date}"),
        "heading": heading,
        "number": number,
        "date": date,
        "date_long": words::date_long(today, lang).unwrap_or_default(),
        "city": city_of(c["address"].as_str().unwrap_or_default()),
        "seller": {
            "name": c["name"], "inn": c["tax_id"], "kpp": c["kpp"], "address": c["address"], "phone": c["phone"],
            "email": c["email"], "bank_name": c["bank_name"], "bic": c["bank_bic"], "account": c["bank_account"],
            "corr_account": c["bank_corr_account"], "director": c["director"],
        },
        "customer": {
            "name": text_of(&customer, "name"), "inn": text_of(&customer, "tax_id"),
            "address": customer["legal_address"].as_str().or_else(|| customer["delivery_address"].as_str()).unwrap_or_default(),
            "phone": customer["phone"].as_str().unwrap_or_default(), "email": customer["email"].as_str().unwrap_or_default(),
        },
        "deal": {
            "title": deal.map(|d| text_of(d, "title")).unwrap_or_default(),
            "manager": deal.map(|d| text_of(d, "manager")).unwrap_or_default(),
            "lines": lines,
            "currency": shown_currency,
            "total": amount_text(total, lang),
            "total_words": words::amount(&total_text, &currency, lang).unwrap_or_default(),
        },
        "text": text,
        "paragraphs": paragraphs,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Render {
    template: String,
    deal: Option<String>,
    customer: Option<String>,
    language: Option<String>,
}

/// A document made from a template.
#[derive(Debug)]
pub struct Made {
    /// The `document` record.
    pub id: String,
    /// The template's text as rendered.
    pub text: String,
    /// The PDF (a `file` field's value).
    pub file: Value,
}

/// Renders a template for a deal or a customer into a PDF and stores the document.
pub fn render_for(
    template_id: &str,
    deal: Option<&str>,
    customer: Option<&str>,
    pii: bool,
    language: Option<&str>,
) -> Result<Made> {
    let template = match store::get::<Template>("template", template_id) {
        Ok(t) => t,
        Err(Error::NotFound(_)) => return Err(Error::invalid("template", "no such template")),
        Err(e) => return Err(e),
    };
    let deal = match deal {
        Some(id) => Some(store::get::<Deal>("deal", id)?),
        None => None,
    };
    let customer_id = customer.map(str::to_string).or_else(|| deal.as_ref().and_then(|d| d.data.customer.clone()));
    let customer = match &customer_id {
        Some(id) => Some(store::get::<Customer>("customer", id)?),
        None => None,
    };
    if deal.is_none() && customer.is_none() {
        return Err(Error::invalid("deal", "give a deal or a customer"));
    }
    let company = context::config::<CompanyConfig>().unwrap_or_default().company;
    let kind = template.data.kind.clone().unwrap_or_else(|| "other".into());
    let prefix = match kind.as_str() {
        "offer" => "КП",
        "contract" => "ДГ",
        "invoice" => "СЧ",
        _ => "ДОК",
    };
    let number = format!("{prefix}-{:05}", next_number(&kind)?);
    let now = time::now();
    let customer_ctx = match &customer {
        Some(c) => customer_context(c, pii)?,
        None => Value::Null,
    };
    let deal_ctx = match &deal {
        Some(d) => deal_context(d)?,
        None => Value::Null,
    };
    let ctx = json!({
        "company": company.context(),
        "customer": customer_ctx,
        "deal": deal_ctx,
        "document": { "number": number, "kind": kind },
        "today": now.format("%Y-%m-%d").to_string(),
        "now": time::format(now),
    });
    // The language asked for; else the caller's, and Russian for work nobody asked for.
    let ru = match language {
        Some(l) => l == "ru",
        None => {
            let locale = context::current().locale;
            locale.is_empty() || locale.starts_with("ru") || util::current_user().is_none()
        }
    };
    let env = environment(ru);
    let tmpl = env
        .template_from_str(&template.data.body)
        .map_err(|e| Error::invalid("template", describe(&template.data.body, &e)))?;
    let text = tmpl.render(&ctx).map_err(|e| Error::invalid("template", describe(&template.data.body, &e)))?;
    if text.len() > MAX_OUTPUT {
        return Err(Error::invalid("template", format!("renders to more than {MAX_OUTPUT} bytes")));
    }
    let lang = if ru { "ru" } else { "en" };
    let printed = printed_kind(&kind);
    let heading = match (kind.as_str(), ru) {
        ("offer", true) => "Коммерческое предложение".to_string(),
        ("offer", false) => "Commercial offer".to_string(),
        ("contract", _) => "Договор".to_string(),
        _ => template.data.name.clone(),
    };
    let data = print_data(
        &now.format("%Y-%m-%d").to_string(),
        &company,
        (!customer_ctx.is_null()).then_some(&customer_ctx),
        (!deal_ctx.is_null()).then_some(&deal_ctx),
        &heading,
        &number,
        &text,
        lang,
    );
    let title = match (&deal, &customer) {
        (Some(d), _) => format!("{} {number}: {}", template.data.name, d.data.title),
        (None, Some(c)) => format!("{} {number}: {}", template.data.name, c.data.name),
        (None, None) => format!("{} {number}", template.data.name),
    };
    let pdf = documents::render(printed, lang, &data, data["title"].as_str().unwrap_or("document"))?;
    let doc = store::create(
        "document",
        &Document {
            template: template.id.clone(),
            kind: kind.clone(),
            title,
            number,
            deal: deal.as_ref().map(|d| d.id.clone()),
            customer: customer.as_ref().map(|c| c.id.clone()),
            responsible: deal
                .as_ref()
                .and_then(|d| d.data.responsible.clone())
                .or_else(util::current_user)
                .or_else(|| customer.as_ref().and_then(|c| c.data.responsible.clone())),
            html: text.clone(),
            file: (!pii).then(|| pdf.file.field_value()),
            file_pii: pii.then(|| pdf.file.field_value()),
            language: Some(lang.to_string()),
            pages: i64::from(pdf.pages),
            has_pii: pii,
            rendered_at: time::format(now),
            by: util::current_user(),
        },
    )?;
    Ok(Made { id: doc.id, text, file: pdf.file.field_value() })
}

/// `render-document`: a template for a deal (and its customer) or a customer alone. What the
/// caller may not see stays out of the document.
pub fn render(input: Value) -> Result<Value> {
    let r: Render = util::input(input)?;
    if let Some(id) = &r.deal {
        let d = store::get::<Deal>("deal", id)?;
        if !util::may_see_deal(d.data.responsible.as_deref()) {
            return Err(Error::not_found(format!("deal {id}")));
        }
    }
    if r.language.as_deref().is_some_and(|l| l != "ru" && l != "en") {
        return Err(Error::invalid("language", "must be ru or en"));
    }
    let made =
        render_for(&r.template, r.deal.as_deref(), r.customer.as_deref(), util::sees_pii(), r.language.as_deref())?;
    Ok(json!({ "id": made.id, "html": made.text, "file": made.file, "open": made.file.get("id") }))
}

/// `document`: a stored document; its text only to those who may see what it holds.
pub fn document(input: Value) -> Result<Value> {
    let id = input["id"].as_str().ok_or_else(|| Error::invalid("id", "is required"))?;
    let doc = store::get::<Document>("document", id)?;
    if let Some(deal) = &doc.data.deal {
        let d = store::get::<Deal>("deal", deal)?;
        if !util::may_see_deal(d.data.responsible.as_deref()) {
            return Err(Error::not_found(format!("document {id}")));
        }
    }
    let html = if doc.data.has_pii && !util::sees_pii() { Value::Null } else { json!(doc.data.html) };
    Ok(json!({
        "id": doc.id, "title": doc.data.title, "number": doc.data.number, "deal": doc.data.deal,
        "customer": doc.data.customer, "rendered_at": doc.data.rendered_at, "html": html,
        "file": if html.is_null() { Value::Null } else { doc.data.file.clone().or(doc.data.file_pii.clone()).unwrap_or(Value::Null) },
        "hidden": html.is_null(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_in_both_styles() {
        assert_eq!(money("1234567.5", true), "1\u{a0}234\u{a0}567,50");
        assert_eq!(money("1234567.5", false), "1,234,567.50");
        assert_eq!(money("0", false), "0.00");
        assert_eq!(money("-15.456", false), "-15.46");
        assert_eq!(money("999", true), "999,00");
    }

    #[test]
    fn broken_templates_say_where() {
        let Err(Error::Invalid(f)) = compile_check("<p>Hello</p>\n<p>{{ customer.name </p>") else {
            panic!("should be refused");
        };
        assert!(f[0].message.starts_with("line 2, column"), "{}", f[0].message);
        assert!(compile_check("{% for l in deal.lines %}{{ l.name }}{% endfor %}").is_ok());
        assert!(compile_check("{% if x %}unclosed").is_err());
    }

    #[test]
    fn rendering_escapes_and_stops_runaway_loops() {
        let env = environment(false);
        let out = env
            .render_str("{{ name }} {{ sum | money }}", json!({ "name": "<b>A&B</b>", "sum": "1500" }))
            .expect("renders");
        assert_eq!(out, "<b>A&B</b> 1,500.00", "text as typed: the PDF prints it as a value");
        let runtime = env.render_str("line one\n{{ nothing() }}", json!({}));
        assert!(runtime.is_err(), "{runtime:?}");
        let source = "line one\n{{ nothing() }}";
        let e = env.template_from_str(source).expect("compiles").render(json!({})).expect_err("fails");
        assert!(describe(source, &e).starts_with("line 2"), "{}", describe(source, &e));
        let looped = env
            .render_str("{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}", json!({}));
        assert!(looped.is_err());
    }

    #[test]
    fn company_details_come_from_the_kernels_company_object() {
        let config = json!({ "assignment": "round_robin", "company": {
            "name": "Альфа", "legal_name": "ООО «Альфа»", "tax_id": "7707083893", "bank_name": "АО «Банк»",
            "bank_bic": "044525225", "bank_account": "40702810900000000001", "bank_corr_account": "",
            "time_zone": "Europe/Moscow", "currency": "RUB", "utc_offset_minutes": 180 } });
        let company = serde_json::from_value::<CompanyConfig>(config).expect("reads").company;
        let ctx = company.context();
        assert_eq!((ctx["name"].as_str(), ctx["short_name"].as_str()), (Some("ООО «Альфа»"), Some("Альфа")));
        assert_eq!(ctx["bank"], "АО «Банк», БИК 044525225, р/с 40702810900000000001");
        let plain = serde_json::from_value::<CompanyConfig>(json!({ "company": { "name": "Альфа" } })).expect("reads");
        let ctx = plain.company.context();
        assert_eq!((ctx["name"].as_str(), ctx["bank"].as_str()), (Some("Альфа"), Some("")));
        let none = serde_json::from_value::<CompanyConfig>(json!({})).expect("reads");
        assert_eq!(none.company.context()["name"], "");
    }
}

#[cfg(test)]
mod print_tests {
    use super::*;

    #[test]
    fn cities_come_from_addresses() {
        assert_eq!(city_of("125009, г. Москва, ул. Примерная, д. 1"), "Москва");
        assert_eq!(city_of("Казань, ул. Баумана, 5"), "Казань");
        assert_eq!(city_of(""), "");
    }

    #[test]
    fn print_data_formats_the_deal_for_the_language() {
        let company = CompanyDetails {
            name: "Альфа".into(), legal_name: "ООО «Альфа»".into(), ..Default::default()
        };
        let deal = json!({ "title": "Поставка", "currency": "RUB", "manager": "Анна",
            "lines": [{ "name": "Стол", "quantity": "2", "price": "15000", "total": "30000.00" }] });
        let customer = json!({ "name": "ООО \"Рога\" #set <b>", "tax_id": "7707083893" });
        let d = print_data(
            "2026-12-07",
            &company,
            Some(&customer),
            Some(&deal),
            "Коммерческое предложение",
            "КП-00001",
            "Первый.\n\nВторой\nабзац.",
            "ru",
        );
        assert_eq!(d["seller"]["name"], "ООО «Альфа»");
        assert_eq!(d["customer"]["name"], "ООО \"Рога\" #set <b>");
        assert_eq!(d["deal"]["lines"][0]["amount"], "30\u{a0}000,00");
        assert_eq!(d["deal"]["total_words"], "Тридцать тысяч рублей 00 копеек");
        assert_eq!(d["deal"]["currency"], "руб.");
        assert_eq!(d["date_long"], "7 декабря 2026 г.");
        assert_eq!(d["paragraphs"], json!(["Первый.", "Второй абзац."]));
        assert_eq!(printed_kind("invoice"), "letter");
    }
}
