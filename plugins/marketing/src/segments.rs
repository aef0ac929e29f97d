//! Audience segments: rules over the CRM's customers (fields, tags, geography, purchase
//! history), evaluated on demand with a count preview, and frozen into snapshots for
//! mailings.
//!
//! A rule is JSON: `{"all": [...]}`, `{"any": [...]}`, `{"not": rule}`, or one condition:
//! `{"field": "source"|"kind"|"name"|"responsible", "op": "eq"|"ne"|"in"|"contains", "value"}`,
//! `{"tag": "vip"}`, `{"city": "Москва"}`, `{"country": "Россия"}`,
//! `{"total_spent": {"gte": "10000", "lte": ...}}`, `{"last_purchase": {"after": date, "before": date}}`,
//! `{"days_since_purchase": {"gte": 90}}`, `{"bought": "SKU"}` or
//! `{"bought": {"product": "SKU", "since": date}}`.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use erp_sdk::store::{self, Filter, Record};
use erp_sdk::{Error, Result, Value, json, serde_json};
use rust_decimal::Decimal;
use serde::Deserialize;

use crate::util;

/// A parsed rule.
#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    All(Vec<Rule>),
    Any(Vec<Rule>),
    Not(Box<Rule>),
    Field { field: String, op: String, value: Value },
    Tag(String),
    City(String),
    Country(String),
    Spent { min: Option<Decimal>, max: Option<Decimal> },
    LastPurchase { after: Option<NaiveDate>, before: Option<NaiveDate> },
    DaysSince { min: Option<i64>, max: Option<i64> },
    Bought { product: String, since: Option<NaiveDate> },
}

const FIELDS: &[&str] = &["source", "kind", "name", "responsible"];

fn dec(path: &str, v: &Value) -> Result<Option<Decimal>> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => s.parse().map(Some).map_err(|_| Error::invalid(path, "must be a number")),
        Value::Number(n) => n.to_string().parse().map(Some).map_err(|_| Error::invalid(path, "must be a number")),
        _ => Err(Error::invalid(path, "must be a number")),
    }
}

fn text(path: &str, v: &Value) -> Result<String> {
    v.as_str().filter(|s| !s.trim().is_empty()).map(str::to_string).ok_or_else(|| Error::invalid(path, "must be text"))
}

fn opt_date(path: &str, v: &Value) -> Result<Option<NaiveDate>> {
    match v.as_str() {
        Some(s) => util::date(path, s).map(Some),
        None if v.is_null() => Ok(None),
        None => Err(Error::invalid(path, "must be a date, YYYY-MM-DD")),
    }
}

/// Parses a rule, naming the path of the first problem (`rule.all.1.tag`).
pub fn parse(v: &Value, path: &str) -> Result<Rule> {
    let obj = v.as_object().ok_or_else(|| Error::invalid(path, "must be an object"))?;
    let depth = path.matches('.').count();
    if depth > 12 {
        return Err(Error::invalid(path, "is nested too deep"));
    }
    let list = |key: &str, items: &Value| -> Result<Vec<Rule>> {
        let items = items.as_array().filter(|a| !a.is_empty() && a.len() <= 50);
        let items = items.ok_or_else(|| Error::invalid(format!("{path}.{key}"), "must be a list of 1 to 50 rules"))?;
        items.iter().enumerate().map(|(i, r)| parse(r, &format!("{path}.{key}.{i}"))).collect()
    };
    if let Some(op) = obj.get("op") {
        let field = text(&format!("{path}.field"), &obj.get("field").cloned().unwrap_or_default())?;
        if !FIELDS.contains(&field.as_str()) {
            return Err(Error::invalid(format!("{path}.field"), format!("must be one of {}", FIELDS.join(", "))));
        }
        let op = text(&format!("{path}.op"), op)?;
        if !matches!(op.as_str(), "eq" | "ne" | "in" | "contains") {
            return Err(Error::invalid(format!("{path}.op"), "must be eq, ne, in or contains"));
        }
        let value = obj.get("value").cloned().unwrap_or_default();
        if (op == "in") != value.is_array() {
            return Err(Error::invalid(format!("{path}.value"), "must be a list for in, else text"));
        }
        return Ok(Rule::Field { field, op, value });
    }
    if obj.len() != 1 {
        return Err(Error::invalid(path, "must have exactly one condition"));
    }
    let (key, val) = obj.iter().next().ok_or_else(|| Error::invalid(path, "is empty"))?;
    let sub = |k: &str| format!("{path}.{key}.{k}");
    Ok(match key.as_str() {
        "all" => Rule::All(list("all", val)?),
        "any" => Rule::Any(list("any", val)?),
        "not" => Rule::Not(Box::new(parse(val, &format!("{path}.not"))?)),
        "tag" => Rule::Tag(text(&format!("{path}.tag"), val)?),
        "city" => Rule::City(text(&format!("{path}.city"), val)?.to_lowercase()),
        "country" => Rule::Country(text(&format!("{path}.country"), val)?.to_lowercase()),
        "total_spent" => Rule::Spent { min: dec(&sub("gte"), &val["gte"])?, max: dec(&sub("lte"), &val["lte"])? },
        "last_purchase" => Rule::LastPurchase {
            after: opt_date(&sub("after"), &val["after"])?,
            before: opt_date(&sub("before"), &val["before"])?,
        },
        "days_since_purchase" => {
            let int = |k: &str| -> Result<Option<i64>> {
                Ok(dec(&sub(k), &val[k])?.map(|d| i64::try_from(d.trunc().mantissa()).unwrap_or(i64::MAX)))
            };
            Rule::DaysSince { min: int("gte")?, max: int("lte")? }
        }
        "bought" => match val {
            Value::String(p) => Rule::Bought { product: p.clone(), since: None },
            _ => Rule::Bought {
                product: text(&sub("product"), &val["product"])?,
                since: opt_date(&sub("since"), &val["since"])?,
            },
        },
        other => return Err(Error::invalid(path, format!("{other:?} is not a condition"))),
    })
}

fn uses(r: &Rule, what: &dyn Fn(&Rule) -> bool) -> bool {
    match r {
        Rule::All(v) | Rule::Any(v) => v.iter().any(|x| uses(x, what)),
        Rule::Not(x) => uses(x, what),
        other => what(other),
    }
}

/// What a rule is checked against for one customer.
struct Facts<'a> {
    customer: &'a Value,
    cities: BTreeSet<String>,
    countries: BTreeSet<String>,
    bought: Vec<(String, NaiveDate)>,
}

fn matches(r: &Rule, f: &Facts<'_>, today: NaiveDate) -> bool {
    let c = f.customer;
    let last = c["last_purchase_at"]
        .as_str()
        .and_then(|s| s.get(..10))
        .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok());
    match r {
        Rule::All(v) => v.iter().all(|x| matches(x, f, today)),
        Rule::Any(v) => v.iter().any(|x| matches(x, f, today)),
        Rule::Not(x) => !matches(x, f, today),
        Rule::Field { field, op, value } => {
            let have = c[field.as_str()].as_str().unwrap_or_default();
            match op.as_str() {
                "eq" => value.as_str() == Some(have),
                "ne" => value.as_str() != Some(have),
                "in" => value.as_array().is_some_and(|a| a.iter().any(|v| v.as_str() == Some(have))),
                _ => value.as_str().is_some_and(|v| have.to_lowercase().contains(&v.to_lowercase())),
            }
        }
        Rule::Tag(t) => c["tags"].as_array().is_some_and(|a| a.iter().any(|x| x.as_str() == Some(t.as_str()))),
        Rule::City(x) => f.cities.contains(x),
        Rule::Country(x) => f.countries.contains(x),
        Rule::Spent { min, max } => {
            let spent: Decimal = c["total_spent"].as_str().and_then(|s| s.parse().ok()).unwrap_or_default();
            min.is_none_or(|m| spent >= m) && max.is_none_or(|m| spent <= m)
        }
        Rule::LastPurchase { after, before } => {
            last.is_some_and(|l| after.is_none_or(|a| l >= a) && before.is_none_or(|b| l <= b))
        }
        Rule::DaysSince { min, max } => last.is_some_and(|l| {
            let days = (today - l).num_days();
            min.is_none_or(|m| days >= m) && max.is_none_or(|m| days <= m)
        }),
        Rule::Bought { product, since } => {
            f.bought.iter().any(|(p, at)| p == product && since.is_none_or(|s| *at >= s))
        }
    }
}

fn granted<T>(r: Result<T>, collection: &str) -> Result<T> {
    r.map_err(|e| match e {
        Error::AccessDenied(_) => {
            Error::invalid("rule", format!("needs read access to {collection}: grant it to marketing"))
        }
        other => other,
    })
}

/// The ids of the customers a rule selects now, by name.
pub fn evaluate(rule: &Rule) -> Result<Vec<(String, String)>> {
    let customers = granted(
        store::query_all::<Value>("crm.customer", erp_sdk::store::Query::new(), util::MAX_SCAN),
        "crm.customer",
    )?;
    let mut cities: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut countries: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    if uses(rule, &|r| matches!(r, Rule::City(_) | Rule::Country(_))) {
        for a in granted(util::every::<Value>("crm.address"), "crm.address")? {
            let Some(cust) = a.data["customer"].as_str() else { continue };
            if let Some(city) = a.data["city"].as_str() {
                cities.entry(cust.to_string()).or_default().insert(city.trim().to_lowercase());
            }
            if let Some(country) = a.data["country"].as_str() {
                countries.entry(cust.to_string()).or_default().insert(country.trim().to_lowercase());
            }
        }
    }
    let mut bought: BTreeMap<String, Vec<(String, NaiveDate)>> = BTreeMap::new();
    if uses(rule, &|r| matches!(r, Rule::Bought { .. })) {
        let purchases = granted(util::all::<Value>("crm.timeline", Filter::eq("kind", "purchase")), "crm.timeline")?;
        for p in purchases {
            let (Some(cust), Some(at)) = (p.data["customer"].as_str(), p.data["at"].as_str()) else { continue };
            let Some(day) = at.get(..10).and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()) else { continue };
            for l in p.data["data"]["lines"].as_array().into_iter().flatten() {
                if let Some(sku) = l["product"].as_str() {
                    bought.entry(cust.to_string()).or_default().push((sku.to_string(), day));
                }
            }
        }
    }
    let today = chrono::DateTime::parse_from_rfc3339(&erp_sdk::now()).map(|t| t.date_naive()).unwrap_or_default();
    let empty = BTreeSet::new();
    let mut out = Vec::new();
    for c in &customers {
        let facts = Facts {
            customer: &c.data,
            cities: cities.get(&c.id).unwrap_or(&empty).clone(),
            countries: countries.get(&c.id).unwrap_or(&empty).clone(),
            bought: bought.get(&c.id).cloned().unwrap_or_default(),
        };
        if matches(rule, &facts, today) {
            out.push((c.id.clone(), c.data["name"].as_str().unwrap_or_default().to_string()));
        }
    }
    Ok(out)
}

/// One condition line of a segment as forms edit it.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Line {
    what: String,
    negate: Option<bool>,
    value: Option<String>,
    min: Option<Decimal>,
    max: Option<Decimal>,
    after: Option<String>,
    before: Option<String>,
}

/// The rule of a condition line; problems name the line's column (`conditions[1].min`).
fn line_rule(line: Line, path: &str) -> Result<Rule> {
    let value = || {
        line.value
            .as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .ok_or_else(|| Error::invalid(format!("{path}.value"), "is required for this condition"))
    };
    let date = |k: &str, v: &Option<String>| -> Result<Option<NaiveDate>> {
        v.as_deref().map(|d| util::date(&format!("{path}.{k}"), d)).transpose()
    };
    let range = || -> Result<()> {
        if line.min.is_none() && line.max.is_none() {
            return Err(Error::invalid(format!("{path}.min"), "give a lower or an upper bound"));
        }
        if let (Some(a), Some(b)) = (line.min, line.max)
            && a > b
        {
            return Err(Error::invalid(format!("{path}.max"), "must not be less than the lower bound"));
        }
        Ok(())
    };
    let days = |d: Option<Decimal>| d.map(|d| i64::try_from(d.trunc().mantissa()).unwrap_or(i64::MAX));
    let rule = match line.what.as_str() {
        "tag" => Rule::Tag(value()?),
        "city" => Rule::City(value()?.to_lowercase()),
        "country" => Rule::Country(value()?.to_lowercase()),
        "total_spent" => {
            range()?;
            Rule::Spent { min: line.min, max: line.max }
        }
        "days_since_purchase" => {
            range()?;
            Rule::DaysSince { min: days(line.min), max: days(line.max) }
        }
        "last_purchase" => {
            let (after, before) = (date("after", &line.after)?, date("before", &line.before)?);
            if after.is_none() && before.is_none() {
                return Err(Error::invalid(format!("{path}.after"), "give a start or an end date"));
            }
            Rule::LastPurchase { after, before }
        }
        "bought" => Rule::Bought { product: value()?, since: date("after", &line.after)? },
        "source" => {
            let values: Vec<Value> =
                value()?.split(',').map(str::trim).filter(|v| !v.is_empty()).map(Value::from).collect();
            Rule::Field { field: "source".into(), op: "in".into(), value: Value::Array(values) }
        }
        "person" | "organization" => {
            Rule::Field { field: "kind".into(), op: "eq".into(), value: Value::from(line.what.as_str()) }
        }
        "name" => Rule::Field { field: "name".into(), op: "contains".into(), value: Value::from(value()?) },
        other => return Err(Error::invalid(format!("{path}.what"), format!("{other:?} is not a condition"))),
    };
    Ok(if line.negate == Some(true) { Rule::Not(Box::new(rule)) } else { rule })
}

/// A segment's rule: its condition lines (all or any of them), or the API's `rule`.
pub fn segment_rule(data: &Value) -> Result<Rule> {
    let lines = data["conditions"].as_array().filter(|l| !l.is_empty());
    match (lines, data.get("rule").filter(|r| !r.is_null())) {
        (Some(_), Some(_)) => Err(Error::invalid("rule", "give conditions or a rule, not both")),
        (None, Some(rule)) => parse(rule, "rule"),
        (None, None) => Err(Error::invalid("conditions", "give at least one condition")),
        (Some(lines), None) => {
            if lines.len() > 50 {
                return Err(Error::invalid("conditions", "at most 50 conditions"));
            }
            let mut rules = Vec::with_capacity(lines.len());
            for (i, l) in lines.iter().enumerate() {
                let path = format!("conditions[{i}]");
                let line: Line = serde_json::from_value(l.clone()).map_err(|e| Error::invalid(&path, e.to_string()))?;
                rules.push(line_rule(line, &path)?);
            }
            Ok(if data["match"].as_str() == Some("any") { Rule::Any(rules) } else { Rule::All(rules) })
        }
    }
}

/// Validation of a segment: its conditions or its rule make a rule.
pub fn validate(after: &Value) -> Result<()> {
    segment_rule(after).map(|_| ())
}

/// Selecting by city or country reads personal data: the caller must be allowed to see it.
fn check_geography(rule: &Rule) -> Result<()> {
    if uses(rule, &|r| matches!(r, Rule::City(_) | Rule::Country(_)))
        && !erp_sdk::context::has_permission("crm.customer.pii")
    {
        return Err(Error::AccessDenied("selecting by city or country needs crm.customer.pii".into()));
    }
    Ok(())
}

fn rule_of(input: &Value) -> Result<(Option<Record<Value>>, Rule)> {
    match (input.get("segment").and_then(Value::as_str), input.get("rule")) {
        (Some(id), None) => {
            let s = store::get::<Value>("segment", id).map_err(|_| Error::invalid("segment", "no such segment"))?;
            let rule = segment_rule(&s.data)?;
            Ok((Some(s), rule))
        }
        (None, Some(r)) => Ok((None, parse(r, "rule")?)),
        _ => Err(Error::invalid("segment", "give a segment or a rule")),
    }
}

/// `preview-segment`: how many customers the rule selects now, with the first names.
pub fn preview(input: Value) -> Result<Value> {
    let (_, rule) = rule_of(&input)?;
    check_geography(&rule)?;
    let found = evaluate(&rule)?;
    let sample: Vec<Value> = found.iter().take(20).map(|(id, name)| json!({ "id": id, "name": name })).collect();
    Ok(json!({ "count": found.len(), "sample": sample }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Snap {
    segment: String,
}

/// `snapshot-segment`: freezes the customers a segment selects now.
pub fn snapshot(input: Value) -> Result<Value> {
    let s: Snap = erp_sdk::input(input)?;
    let (segment, rule) = rule_of(&json!({ "segment": s.segment }))?;
    check_geography(&rule)?;
    let found = evaluate(&rule)?;
    let ids: Vec<&String> = found.iter().map(|(id, _)| id).collect();
    let rec = store::create::<Value>(
        "snapshot",
        &json!({ "segment": segment.map(|x| x.id), "customers": ids, "count": ids.len(), "taken_at": erp_sdk::now() }),
    )?;
    Ok(json!({ "id": rec.id, "count": ids.len() }))
}
