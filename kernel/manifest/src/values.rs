//! Field values: type checks, normalisation, typed comparison and index keys.
//!
//! Stored values are normalised: decimals are exact decimal strings, datetimes are RFC 3339 in
//! UTC, dates are `YYYY-MM-DD`. Index keys are text that sorts like the value (or a number).

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use rust_decimal::Decimal;
use serde_json::{Map, Value};

use crate::manifest::{FieldSpec, FieldType, LinesTotal};
use crate::validation::{FieldError, Invalid};

/// Longest text value accepted when a field sets no `max_length`.
pub const DEFAULT_MAX_TEXT: usize = 100_000;

fn parse_decimal(v: &Value) -> Option<Decimal> {
    match v {
        Value::String(s) => Decimal::from_str(s.trim()).ok(),
        Value::Number(n) => Decimal::from_str(&n.to_string()).ok(),
        _ => None,
    }
}

fn parse_datetime(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
}

/// Checks a non-null value against a field and returns it normalised.
pub fn normalize(spec: &FieldSpec, v: &Value) -> Result<Value, String> {
    match spec.kind {
        FieldType::Text => {
            let s = v.as_str().ok_or("must be text")?;
            let max = spec.max_length.map(|m| m as usize).unwrap_or(DEFAULT_MAX_TEXT);
            if s.chars().count() > max {
                return Err(format!("must be at most {max} characters"));
            }
            if s.contains('\0') {
                return Err("must not contain NUL characters".into());
            }
            Ok(v.clone())
        }
        FieldType::Int => v.as_i64().map(Value::from).ok_or_else(|| "must be a whole number (64-bit)".to_string()),
        FieldType::Decimal => {
            let d = parse_decimal(v).ok_or("must be a decimal number, such as \"12.50\"")?;
            if let Some(scale) = spec.scale
                && d.normalize().scale() > scale
            {
                return Err(format!("must have at most {scale} decimal places"));
            }
            Ok(Value::String(d.to_string()))
        }
        FieldType::Bool => v.as_bool().map(Value::Bool).ok_or_else(|| "must be true or false".to_string()),
        FieldType::Date => {
            let s = v.as_str().ok_or("must be a date, YYYY-MM-DD")?;
            let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| "must be a date, YYYY-MM-DD")?;
            Ok(Value::String(d.format("%Y-%m-%d").to_string()))
        }
        FieldType::Datetime => {
            let s = v.as_str().ok_or("must be an RFC 3339 time, such as 2026-01-31T09:00:00Z")?;
            let t = parse_datetime(s).ok_or("must be an RFC 3339 time, such as 2026-01-31T09:00:00Z")?;
            Ok(Value::String(t.to_rfc3339_opts(SecondsFormat::AutoSi, true)))
        }
        FieldType::Enum => {
            let s = v.as_str().ok_or("must be text")?;
            if spec.values.iter().any(|x| x == s) {
                Ok(v.clone())
            } else {
                Err(format!("must be one of: {}", spec.values.join(", ")))
            }
        }
        FieldType::Ref => {
            let s = v.as_str().ok_or("must be a record id")?;
            crate::ids::parse(s).map(Value::String).ok_or_else(|| "must be a record id".to_string())
        }
        FieldType::User => match v.as_str().map(str::trim) {
            Some(s) if !s.is_empty() && s.len() <= 64 && !s.chars().any(char::is_whitespace) => {
                Ok(Value::String(s.to_string()))
            }
            _ => Err("must be a user id".into()),
        },
        FieldType::File => {
            // The kernel fills in the name, size and type from its own record of the upload.
            let id = match v {
                Value::String(s) => Some(s.as_str()),
                Value::Object(o) => o.get("id").and_then(Value::as_str),
                _ => None,
            };
            let id = id.and_then(crate::ids::parse).ok_or("must be the id of an uploaded file")?;
            Ok(serde_json::json!({ "id": id }))
        }
        FieldType::Json => {
            let size = v.to_string().len();
            if size > 256 * 1024 {
                return Err("must be at most 256 KiB of JSON".into());
            }
            if let Some(item) = spec.item_spec() {
                return normalize_items(&item, v);
            }
            if spec.line.is_empty() {
                return Ok(v.clone());
            }
            normalize_lines(spec, v).map_err(|problems| {
                problems.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; ")
            })
        }
    }
}

/// Most items one list holds.
pub const MAX_ITEMS: usize = 1000;

/// A list of plain values, each checked against `item`; blank texts and repeats are dropped.
fn normalize_items(item: &FieldSpec, v: &Value) -> Result<Value, String> {
    let Some(items) = v.as_array() else { return Err("must be a list".into()) };
    if items.len() > MAX_ITEMS {
        return Err(format!("must have at most {MAX_ITEMS} items"));
    }
    let mut out: Vec<Value> = Vec::with_capacity(items.len());
    for (i, x) in items.iter().enumerate() {
        let x = match x.as_str() {
            Some(t) if item.kind == FieldType::Text => Value::from(t.trim()),
            _ => x.clone(),
        };
        if x.is_null() || x.as_str() == Some("") {
            continue;
        }
        let x = normalize(item, &x).map_err(|m| format!("item {}: {m}", i + 1))?;
        if !out.contains(&x) {
            out.push(x);
        }
    }
    Ok(Value::Array(out))
}

/// Most lines one field holds.
pub const MAX_LINES: usize = 1000;

/// A list of lines, each checked like a record against the line's fields; problems name the
/// line and its field (`[2].quantity`).
pub fn normalize_lines(spec: &FieldSpec, v: &Value) -> Result<Value, Vec<FieldError>> {
    let Some(items) = v.as_array() else {
        return Err(vec![FieldError::new("", "must be a list of lines")]);
    };
    if items.len() > MAX_LINES {
        return Err(vec![FieldError::new("", format!("must have at most {MAX_LINES} lines"))]);
    }
    let mut problems = Vec::new();
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Some(object) = item.as_object() else {
            problems.push(FieldError::new(format!("[{i}]"), "must be an object of the line's fields"));
            continue;
        };
        match validate_object(&spec.line, object) {
            Ok(line) => out.push(Value::Object(line)),
            Err(Invalid(errors)) => {
                problems.extend(errors.into_iter().map(|e| FieldError::new(format!("[{i}].{}", e.field), e.message)));
            }
        }
    }
    if problems.is_empty() { Ok(Value::Array(out)) } else { Err(problems) }
}

/// Type check only (used for manifest defaults).
pub fn check_value(spec: &FieldSpec, v: &Value) -> Result<(), String> {
    normalize(spec, v).map(|_| ())
}

/// Validates a record's fields: no unknown fields, types, required. Missing fields get their
/// defaults (new records, and records written after an upgrade added defaulted fields).
/// Every problem is reported at once. Nulls are dropped (a null is an absent value).
pub fn validate_object(
    fields: &BTreeMap<String, FieldSpec>,
    data: &Map<String, Value>,
) -> Result<Map<String, Value>, Invalid> {
    let mut errors = Vec::new();
    let mut out = Map::new();
    for (name, value) in data {
        match fields.get(name) {
            None => errors.push(FieldError::new(name, "is not a field of this collection")),
            Some(_) if value.is_null() => {}
            Some(spec) if spec.kind == FieldType::Json && !spec.line.is_empty() => {
                match normalize(&FieldSpec { line: BTreeMap::new(), ..spec.clone() }, value)
                    .map_err(|m| vec![FieldError::new("", m)])
                    .and_then(|_| normalize_lines(spec, value))
                {
                    Ok(v) => {
                        out.insert(name.clone(), v);
                    }
                    Err(problems) => errors
                        .extend(problems.into_iter().map(|e| FieldError::new(format!("{name}{}", e.field), e.message))),
                }
            }
            Some(spec) => match normalize(spec, value) {
                Ok(v) => {
                    out.insert(name.clone(), v);
                }
                Err(msg) => errors.push(FieldError::new(name, msg)),
            },
        }
    }
    for (name, spec) in fields {
        if out.contains_key(name) {
            continue;
        }
        if let Some(default) = spec.default_json()
            && let Ok(v) = normalize(spec, &default)
        {
            out.insert(name.clone(), v);
            continue;
        }
        if spec.required && data.get(name).is_none_or(Value::is_null) && spec.lines_total.is_none() {
            errors.push(FieldError::new(name, "is required"));
        }
    }
    for (name, spec) in fields {
        let Some(total) = &spec.lines_total else { continue };
        match lines_total(total, spec.scale, out.get(&total.lines)) {
            Ok(Some(sum)) => {
                out.insert(name.clone(), Value::String(sum.to_string()));
            }
            Ok(None) if spec.required && !out.contains_key(name) => errors.push(FieldError::new(name, "is required")),
            Ok(None) => {}
            Err(msg) => errors.push(FieldError::new(name, msg)),
        }
    }
    if errors.is_empty() { Ok(out) } else { Err(Invalid(errors)) }
}

/// The sum over normalised lines of the product of the total's columns, at the field's scale;
/// `None` when there are no lines (the field keeps what was typed).
fn lines_total(total: &LinesTotal, scale: Option<u32>, lines: Option<&Value>) -> Result<Option<Decimal>, String> {
    let Some(lines) = lines.and_then(Value::as_array).filter(|l| !l.is_empty()) else { return Ok(None) };
    let too_big = || "the lines' total is too large".to_string();
    let mut sum = Decimal::ZERO;
    for line in lines {
        let mut amount = Decimal::ONE;
        for column in &total.product {
            let Some(v) = line.get(column).and_then(parse_decimal) else {
                amount = Decimal::ZERO;
                break;
            };
            amount = amount.checked_mul(v).ok_or_else(too_big)?;
        }
        sum = sum.checked_add(amount).ok_or_else(too_big)?;
    }
    let sum = match scale {
        Some(s) => sum.round_dp_with_strategy(s, rust_decimal::RoundingStrategy::MidpointAwayFromZero),
        None => sum,
    };
    Ok(Some(sum))
}

/// Compares two normalised values of a field; `None` when they are not comparable.
pub fn compare(kind: FieldType, a: &Value, b: &Value) -> Option<Ordering> {
    match kind {
        FieldType::Int | FieldType::Decimal => Some(parse_decimal(a)?.cmp(&parse_decimal(b)?)),
        FieldType::Datetime => Some(parse_datetime(a.as_str()?)?.cmp(&parse_datetime(b.as_str()?)?)),
        FieldType::Bool => Some(a.as_bool()?.cmp(&b.as_bool()?)),
        FieldType::Json | FieldType::File => (a == b).then_some(Ordering::Equal),
        _ => Some(a.as_str()?.cmp(b.as_str()?)),
    }
}

/// An index entry for a value: text that sorts like the value, or a number.
#[derive(Debug, Clone, PartialEq)]
pub enum Key {
    /// Ordered as text.
    Text(String),
    /// Ordered as a number (an approximation of exact decimals; results are rechecked exactly).
    Num(f64),
}

/// The index key of a normalised value.
pub fn index_key(kind: FieldType, v: &Value) -> Option<Key> {
    match kind {
        FieldType::Int | FieldType::Decimal => {
            parse_decimal(v).and_then(|d| f64::from_str(&d.to_string()).ok()).map(Key::Num)
        }
        FieldType::Datetime => {
            parse_datetime(v.as_str()?).map(|t| Key::Text(t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()))
        }
        FieldType::Bool => v.as_bool().map(|b| Key::Text(b.to_string())),
        FieldType::Json | FieldType::File => None,
        _ => v.as_str().map(|s| Key::Text(s.to_string())),
    }
}

/// The canonical text of a value for uniqueness (`1.50` and `1.5` are the same decimal).
pub fn unique_text(kind: FieldType, v: &Value) -> Option<String> {
    match kind {
        FieldType::Decimal | FieldType::Int => parse_decimal(v).map(|d| d.normalize().to_string()),
        FieldType::Json | FieldType::File => None,
        _ => match index_key(kind, v)? {
            Key::Text(t) => Some(t),
            Key::Num(n) => Some(n.to_string()),
        },
    }
}

/// Exact decimal of a numeric value (for sums and averages).
pub fn decimal(v: &Value) -> Option<Decimal> {
    parse_decimal(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(kind: FieldType) -> FieldSpec {
        FieldSpec { values: vec!["a".into(), "b".into()], scale: Some(2), ..FieldSpec::of(kind) }
    }

    /// (type, input, normalised or error)
    fn check(kind: FieldType, input: Value, expected: Result<Value, ()>) {
        let got = normalize(&spec(kind), &input).map_err(|_| ());
        assert_eq!(got, expected, "{kind:?} {input}");
    }

    #[test]
    fn normalisation_per_type() {
        check(FieldType::Text, json!("hello"), Ok(json!("hello")));
        check(FieldType::Text, json!(5), Err(()));
        check(FieldType::Int, json!(42), Ok(json!(42)));
        check(FieldType::Int, json!(4.5), Err(()));
        check(FieldType::Int, json!("42"), Err(()));
        check(FieldType::Decimal, json!("12.50"), Ok(json!("12.50")));
        check(FieldType::Decimal, json!(12.5), Ok(json!("12.5")));
        check(FieldType::Decimal, json!("12.505"), Err(()));
        check(FieldType::Decimal, json!("abc"), Err(()));
        check(FieldType::Bool, json!(true), Ok(json!(true)));
        check(FieldType::Bool, json!("true"), Err(()));
        check(FieldType::Date, json!("2026-02-28"), Ok(json!("2026-02-28")));
        check(FieldType::Date, json!("2026-02-30"), Err(()));
        check(FieldType::Datetime, json!("2026-02-28T12:00:00+03:00"), Ok(json!("2026-02-28T09:00:00Z")));
        check(FieldType::Datetime, json!("yesterday"), Err(()));
        check(FieldType::Enum, json!("a"), Ok(json!("a")));
        check(FieldType::Enum, json!("c"), Err(()));
        check(
            FieldType::Ref,
            json!("01a2251d-75df-71d1-a3a0-fb45d5830114"),
            Ok(json!("01a2251d-75df-71d1-a3a0-fb45d5830114")),
        );
        check(FieldType::Ref, json!("nope"), Err(()));
        check(FieldType::Json, json!({"any": [1, 2]}), Ok(json!({"any": [1, 2]})));
    }

    #[test]
    fn lines_are_checked_like_records_and_name_the_line() {
        let mut line = BTreeMap::new();
        line.insert("name".to_string(), FieldSpec { required: true, ..spec(FieldType::Text) });
        line.insert("quantity".to_string(), FieldSpec { required: true, ..spec(FieldType::Decimal) });
        line.insert(
            "kind".to_string(),
            FieldSpec { default: Some(toml::Value::String("a".into())), ..spec(FieldType::Enum) },
        );
        let lines = FieldSpec { line, ..spec(FieldType::Json) };
        let mut fields = BTreeMap::new();
        fields.insert("lines".to_string(), lines);
        let good = json!({ "lines": [{ "name": "Chair", "quantity": 2 }, { "name": "Desk", "quantity": "1.50", "kind": "b" }] });
        let out = validate_object(&fields, good.as_object().unwrap()).unwrap();
        assert_eq!(
            out["lines"],
            json!([{ "name": "Chair", "quantity": "2", "kind": "a" }, { "name": "Desk", "quantity": "1.50", "kind": "b" }])
        );
        let bad =
            json!({ "lines": [{ "name": "Chair", "quantity": "many" }, 7, { "quantity": "1", "colour": "red" }] });
        let Err(Invalid(errors)) = validate_object(&fields, bad.as_object().unwrap()) else { panic!("accepted") };
        let named: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(named, ["lines[0].quantity", "lines[1]", "lines[2].colour", "lines[2].name"]);
        let not_a_list = json!({ "lines": { "name": "Chair" } });
        let Err(Invalid(errors)) = validate_object(&fields, not_a_list.as_object().unwrap()) else {
            panic!("accepted")
        };
        assert_eq!(errors[0].field, "lines");
    }

    #[test]
    fn a_lines_total_follows_the_lines_and_keeps_what_was_typed_without_them() {
        let mut line = BTreeMap::new();
        line.insert("quantity".to_string(), FieldSpec { required: true, ..spec(FieldType::Decimal) });
        line.insert("price".to_string(), FieldSpec { required: true, ..spec(FieldType::Decimal) });
        let mut fields = BTreeMap::new();
        fields.insert("lines".to_string(), FieldSpec { line, ..spec(FieldType::Json) });
        let total = LinesTotal { lines: "lines".into(), product: vec!["quantity".into(), "price".into()] };
        fields.insert("amount".to_string(), FieldSpec { lines_total: Some(total), ..spec(FieldType::Decimal) });
        let with_lines = json!({ "amount": "5", "lines": [{ "quantity": "3", "price": "19.99" }, { "quantity": "0.5", "price": "0.01" }] });
        let out = validate_object(&fields, with_lines.as_object().unwrap()).unwrap();
        // 59.97 + 0.005, rounded half away from zero to the field's two places.
        assert_eq!(out["amount"], json!("59.98"));
        let typed = json!({ "amount": "5", "lines": [] });
        assert_eq!(validate_object(&fields, typed.as_object().unwrap()).unwrap()["amount"], json!("5"));
        let huge = json!({ "lines": [{ "quantity": "79228162514264337593543950335", "price": "10" }] });
        let Err(Invalid(errors)) = validate_object(&fields, huge.as_object().unwrap()) else { panic!("accepted") };
        assert_eq!(errors[0].field, "amount");
    }

    #[test]
    fn objects_report_every_problem() {
        let mut fields = BTreeMap::new();
        fields.insert("name".to_string(), FieldSpec { required: true, ..spec(FieldType::Text) });
        fields
            .insert("count".to_string(), FieldSpec { default: Some(toml::Value::Integer(1)), ..spec(FieldType::Int) });
        fields.insert("kind".to_string(), spec(FieldType::Enum));
        let data = json!({ "kind": "zzz", "colour": "red" });
        let err = validate_object(&fields, data.as_object().expect("object")).expect_err("invalid");
        let names: Vec<&str> = err.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(names, vec!["colour", "kind", "name"]);
        let ok = validate_object(&fields, json!({ "name": "x" }).as_object().expect("object")).expect("valid");
        assert_eq!(Value::Object(ok), json!({ "name": "x", "count": 1 }));
    }

    #[test]
    fn keys_sort_like_values() {
        let a = index_key(FieldType::Datetime, &json!("2026-01-01T09:00:00Z"));
        let b = index_key(FieldType::Datetime, &json!("2026-01-01T10:00:00.5Z"));
        match (a, b) {
            (Some(Key::Text(a)), Some(Key::Text(b))) => assert!(a < b),
            other => panic!("{other:?}"),
        }
        assert_eq!(unique_text(FieldType::Decimal, &json!("1.50")), unique_text(FieldType::Decimal, &json!("1.5")));
        assert_eq!(compare(FieldType::Decimal, &json!("10.00"), &json!("9.5")), Some(Ordering::Greater));
    }
}
