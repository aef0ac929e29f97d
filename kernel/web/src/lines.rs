//! Line tables: a `json` field whose manifest declares its `line` (a deal's products, an
//! invoice's lines) is edited as a table inside its parent's form, one row per line, and read
//! back from inputs named `field[row].column`.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value, json};

use super::client::Failure;
use super::fields::{input_text, input_value, kind_name, options};
use super::{Ctx, Form, format, i18n, meta};
use erp_kernel::plugins::manifest::{FieldSpec, FieldType, Manifest};

/// Empty rows a form offers for new lines (more come from the "add a line" button).
const BLANK_ROWS: usize = 1;

/// The lines a submitted form holds, or `None` when the form did not show the table. Rows
/// left empty are dropped; what was typed goes to the kernel to check.
pub(super) fn read(name: &str, spec: &FieldSpec, form: &Form, loc: format::Locale) -> Option<Value> {
    if !form.all("__present").contains(&name) {
        return None;
    }
    let prefix = format!("{name}[");
    let mut rows: BTreeMap<usize, Map<String, Value>> = BTreeMap::new();
    for (key, raw) in &form.0 {
        let Some((row, column)) = key.strip_prefix(&prefix).and_then(|rest| rest.split_once("].")) else { continue };
        let (Ok(row), Some(sub)) = (row.parse::<usize>(), spec.line.get(column)) else { continue };
        let line = rows.entry(row).or_default();
        if sub.kind == FieldType::Bool {
            if raw == "true" {
                line.insert(column.to_string(), Value::Bool(true));
            }
        } else if !raw.trim().is_empty() {
            line.insert(column.to_string(), input_value(raw, sub.kind, loc));
        }
    }
    let lines: Vec<Value> = rows.into_values().filter(|l| !l.is_empty()).map(Value::Object).collect();
    Some(Value::Array(lines))
}

/// A list of lines as lists show it: how many.
pub(super) fn summary(v: &Value, lang: &str) -> Option<String> {
    let n = v.as_array()?.len();
    Some(format!("{}: {n}", i18n::text(lang, "lines")))
}

/// A cell's text where the line is shown, not edited.
fn shown(v: &Value, sub: &FieldSpec, titles: &HashMap<String, String>, loc: format::Locale) -> String {
    match (sub.kind, v.as_str()) {
        (FieldType::Ref | FieldType::User, Some(id)) => titles.get(id).cloned().unwrap_or_else(|| id.to_string()),
        _ => format::field(v, Some(sub), loc),
    }
}

/// The table model of one line field: its columns, a row per line (and blank rows to add more
/// where it is editable), each cell with what was typed and the kernel's error for it.
#[allow(clippy::too_many_arguments)]
pub(super) async fn model(
    ctx: &Ctx,
    m: &Manifest,
    name: &str,
    f: &FieldSpec,
    current: Option<&Value>,
    failure: Option<&Failure>,
    readonly: bool,
    people: &HashMap<String, String>,
) -> Result<Value, Failure> {
    let loc = ctx.loc();
    let lines: Vec<Map<String, Value>> = current
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|l| l.as_object().cloned()).collect())
        .unwrap_or_default();
    let mut columns = Vec::new();
    let mut choices: HashMap<&str, HashMap<String, String>> = HashMap::new();
    for (col, sub) in f.line_fields() {
        let mut column = json!({
            "name": col, "label": meta::field_label(sub, col, ctx.lang), "kind": kind_name(sub.kind), "required": sub.required,
            "values": sub.values.iter().map(|v| json!({ "value": v, "label": sub.value_labels.get(v).map_or(v.as_str(), |l| l.text(ctx.lang)) })).collect::<Vec<_>>(),
            "numeric": matches!(sub.kind, FieldType::Int | FieldType::Decimal),
        });
        let titles: Option<HashMap<String, String>> = match (sub.kind, &sub.to) {
            (FieldType::Ref, Some(target)) => {
                let mut found: HashMap<String, String> =
                    options(ctx, m, target, None, None).await?.into_iter().collect();
                for l in &lines {
                    if let Some(id) = l.get(col).and_then(Value::as_str)
                        && !found.contains_key(id)
                    {
                        found.extend(options(ctx, m, target, Some(id), None).await?);
                    }
                }
                Some(found)
            }
            (FieldType::User, _) => Some(people.clone()),
            _ => None,
        };
        if let Some(titles) = titles {
            let mut sorted: Vec<(&String, &String)> = titles.iter().collect();
            sorted.sort_by_key(|(_, t)| t.to_lowercase());
            column["options"] = sorted.iter().map(|(id, t)| json!({ "id": id, "title": t })).collect();
            choices.insert(col.as_str(), titles);
        }
        columns.push(column);
    }
    let empty = HashMap::new();
    let blank = if readonly { 0 } else { BLANK_ROWS };
    let rows: Vec<Value> = (0..lines.len() + blank)
        .map(|i| {
            let line = lines.get(i);
            let cells: Vec<Value> = f
                .line_fields()
                .into_iter()
                .map(|(col, sub)| {
                    let v = line.and_then(|l| l.get(col));
                    let key = format!("{name}[{i}].{col}");
                    json!({
                        "name": key, "column": col,
                        "value": input_text(v, sub.kind, loc),
                        "checked": v.and_then(Value::as_bool).unwrap_or(false),
                        "shown": v.map(|v| shown(v, sub, choices.get(col.as_str()).unwrap_or(&empty), loc)).unwrap_or_default(),
                        // The kernel names a cell `lines[2].price`; plugins may say `lines.2.price`.
                        "error": failure.and_then(|fl| fl.exact(&key).or_else(|| fl.exact(&format!("{name}.{i}.{col}")))),
                    })
                })
                .collect();
            let row_error =
                failure.and_then(|fl| fl.exact(&format!("{name}[{i}]")).or_else(|| fl.exact(&format!("{name}.{i}"))));
            json!({ "cells": cells, "error": row_error, "blank": line.is_none() })
        })
        .collect();
    Ok(json!({
        "name": name, "label": meta::field_label(f, name, ctx.lang), "kind": "lines", "required": f.required,
        "readonly": readonly, "columns": columns, "rows": rows, "next": lines.len() + blank,
        "error": failure.and_then(|fl| fl.exact(name)),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> FieldSpec {
        serde_json::from_value(json!({ "type": "json", "line": {
            "name": { "type": "text", "required": true },
            "quantity": { "type": "decimal" },
            "urgent": { "type": "bool" },
        } }))
        .expect("spec")
    }

    fn form(pairs: &[(&str, &str)]) -> Form {
        Form(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    #[test]
    fn rows_come_back_in_order_typed_per_locale_without_empty_ones() {
        let ru = format::Locale::new("ru", &[]);
        let typed = form(&[
            ("__present", "lines"),
            ("lines[0].name", "Стул"),
            ("lines[0].quantity", "1 234,5"),
            ("lines[1].name", ""),
            ("lines[1].quantity", " "),
            ("lines[10].name", "Стол"),
            ("lines[10].urgent", "true"),
            ("lines[2].colour", "red"),
            ("other[0].name", "x"),
        ]);
        assert_eq!(
            read("lines", &spec(), &typed, ru),
            Some(json!([{ "name": "Стул", "quantity": "1234.5" }, { "name": "Стол", "urgent": true }]))
        );
        // A form that did not show the table changes nothing; one that showed it empty clears it.
        assert_eq!(read("lines", &spec(), &form(&[("lines[0].name", "x")]), ru), None);
        assert_eq!(read("lines", &spec(), &form(&[("__present", "lines")]), ru), Some(json!([])));
    }

    #[test]
    fn lists_show_how_many_lines() {
        assert_eq!(summary(&json!([{}, {}]), "ru").as_deref(), Some("Строк: 2"));
        assert_eq!(summary(&json!("x"), "en"), None);
    }
}
