//! Fields in forms: the input model per field type (with the kernel's per-field errors), the
//! typed values read back from a submitted form, and reference titles and options.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value, json};

use super::client::Failure;
use super::format;
use super::meta::{self, Company};
use super::{Ctx, Form};
use erp_kernel::plugins::manifest::{FieldSpec, FieldType, Manifest};

/// How many records a reference picker offers before the user types.
const PICK_LIMIT: u32 = 50;

pub(super) fn kind_name(k: FieldType) -> &'static str {
    match k {
        FieldType::Text => "text",
        FieldType::Int => "int",
        FieldType::Decimal => "decimal",
        FieldType::Bool => "bool",
        FieldType::Date => "date",
        FieldType::Datetime => "datetime",
        FieldType::Enum => "enum",
        FieldType::Ref => "ref",
        FieldType::User => "user",
        FieldType::Json => "json",
        FieldType::File => "file",
    }
}

/// A stored value as the text an input shows (datetimes on the person's clock, JSON always as
/// JSON so that a string stays a string).
pub(super) fn input_text(v: Option<&Value>, kind: FieldType, loc: format::Locale) -> String {
    match (v, kind) {
        (None | Some(Value::Null), _) => String::new(),
        (Some(other), FieldType::Json) => serde_json::to_string_pretty(other).unwrap_or_default(),
        (Some(file), FieldType::File) => file.get("id").and_then(Value::as_str).unwrap_or_default().to_string(),
        (Some(Value::String(s)), FieldType::Datetime) => format::datetime_input(s, loc).unwrap_or_else(|| s.clone()),
        (Some(Value::String(s)), _) => s.clone(),
        (Some(Value::Number(n)), _) => n.to_string(),
        (Some(Value::Bool(b)), _) => b.to_string(),
        (Some(other), _) => serde_json::to_string_pretty(other).unwrap_or_default(),
    }
}

/// A typed value from what a person typed; what does not parse goes to the kernel as typed,
/// so that its message names the field. Texts keep what was typed (line breaks normalised);
/// times are typed on the person's clock.
pub(super) fn input_value(raw: &str, kind: FieldType, loc: format::Locale) -> Value {
    let text = raw.replace("\r\n", "\n");
    let raw = text.trim();
    match kind {
        FieldType::Text => Value::from(text),
        FieldType::Int => raw.parse::<i64>().map(Value::from).unwrap_or_else(|_| Value::from(raw)),
        FieldType::Decimal => Value::from(format::parse_number(raw, loc.lang)),
        FieldType::Datetime => Value::from(format::parse_datetime(raw, loc).unwrap_or_else(|| raw.to_string())),
        FieldType::Json => serde_json::from_str(raw).unwrap_or_else(|_| Value::from(raw)),
        _ => Value::from(raw),
    }
}

/// The fields of a submitted form as a JSON object. Empty inputs are left out when creating and
/// clear the field when updating; checkboxes count only when the form showed them.
pub(super) fn read_form(
    fields: &BTreeMap<String, FieldSpec>,
    form: &Form,
    updating: bool,
    loc: format::Locale,
) -> Map<String, Value> {
    let shown_checks = form.all("__present");
    let mut out = Map::new();
    for (name, spec) in fields {
        // The plugin sets computed fields, integrations set API-only ones; a form shows them and
        // never sends them.
        if spec.computed || spec.api_only {
            continue;
        }
        if !spec.line.is_empty() {
            match super::lines::read(name, spec, form, loc) {
                Some(Value::Array(lines)) if lines.is_empty() && !updating => {}
                Some(lines) => {
                    out.insert(name.clone(), lines);
                }
                None => {}
            }
            continue;
        }
        if let Some(item) = spec.items {
            if let Some(list) = read_items(name, item, form, loc)
                && (!list.is_empty() || updating)
            {
                out.insert(name.clone(), Value::Array(list));
            }
            continue;
        }
        if spec.kind == FieldType::Bool {
            if shown_checks.contains(&name.as_str()) {
                out.insert(name.clone(), Value::Bool(form.get(name) == Some("true")));
            }
            continue;
        }
        let Some(raw) = form.get(name) else { continue };
        if raw.trim().is_empty() {
            if updating {
                out.insert(name.clone(), Value::Null);
            }
            continue;
        }
        out.insert(name.clone(), input_value(raw, spec.kind, loc));
    }
    out
}

/// Separates typed items: commas between texts, semicolons between numbers and dates (a
/// comma is the decimal mark in Russian).
fn item_separator(item: FieldType) -> &'static str {
    if item == FieldType::Text { ", " } else { "; " }
}

/// The items of a list field from a form: chosen options, or typed text split at the
/// separator. `None` when the form did not show the field.
fn read_items(name: &str, item: FieldType, form: &Form, loc: format::Locale) -> Option<Vec<Value>> {
    if matches!(item, FieldType::Enum | FieldType::Ref | FieldType::User) {
        if !form.all("__present").contains(&name) {
            return None;
        }
        return Some(form.all(name).into_iter().filter(|v| !v.is_empty()).map(Value::from).collect());
    }
    let raw = form.get(name)?;
    let sep = item_separator(item).trim();
    Some(raw.split(sep).map(str::trim).filter(|t| !t.is_empty()).map(|t| input_value(t, item, loc)).collect())
}

/// A list field's items as typed text.
fn items_text(v: Option<&Value>, item: FieldType, loc: format::Locale) -> String {
    let items = v.and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    items.iter().map(|i| input_text(Some(i), item, loc)).collect::<Vec<_>>().join(item_separator(item))
}

/// True when a typed value means what is stored: same decimal, same second, same JSON.
fn same(kind: FieldType, stored: Option<&Value>, typed: &Value) -> bool {
    let stored = stored.unwrap_or(&Value::Null);
    match kind {
        FieldType::Decimal | FieldType::Int => match (stored, typed) {
            (Value::Null, Value::Null) => true,
            _ => format::decimal(stored).is_some() && format::decimal(stored) == format::decimal(typed),
        },
        FieldType::Datetime => {
            let second = |v: &Value| {
                v.as_str().and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok()).map(|t| t.timestamp())
            };
            match (stored, typed) {
                (Value::Null, Value::Null) => true,
                _ => second(stored).is_some() && second(stored) == second(typed),
            }
        }
        // A file field holds the file's details; the form sends back only its id.
        FieldType::File => stored.get("id").or(Some(&Value::Null)) == Some(typed) || stored == typed,
        _ => stored == typed,
    }
}

/// Only the fields whose submitted value differs from the stored record: saving a form never
/// rewrites what the user did not change (sub-second times, number formats, JSON spacing).
pub(super) fn changes(
    fields: &BTreeMap<String, FieldSpec>,
    form: &Form,
    stored: &Map<String, Value>,
    loc: format::Locale,
) -> Map<String, Value> {
    read_form(fields, form, true, loc)
        .into_iter()
        .filter(|(name, typed)| fields.get(name).is_some_and(|f| !same(f.kind, stored.get(name), typed)))
        .collect()
}

/// Long texts get a text area: a generous limit, or a name that says it is prose.
fn multiline(name: &str, f: &FieldSpec) -> bool {
    const PROSE: &[&str] = &["body", "note", "notes", "description", "comment", "text", "message", "address", "reason"];
    f.kind == FieldType::Text && (f.max_length.is_some_and(|m| m > 1000) || PROSE.contains(&name))
}

/// What a form shows for each field.
pub(super) struct FormSpec<'a> {
    pub manifest: &'a Manifest,
    pub fields: &'a BTreeMap<String, FieldSpec>,
    /// Current values: a stored record, or what was submitted.
    pub values: &'a Map<String, Value>,
    pub failure: Option<&'a Failure>,
    /// A new record's blank form (not one sent back with errors).
    pub blank: bool,
    /// Show values without inputs.
    pub readonly: bool,
    /// Hide sensitive fields (the user may not see them).
    pub hide_sensitive: bool,
    /// Fields shown first, in this order; the rest follow by name.
    pub order: Vec<String>,
}

/// The input models of a form, with reference options loaded.
pub(super) async fn form_fields(ctx: &Ctx, spec: FormSpec<'_>) -> Result<Vec<Value>, Failure> {
    let mut out = Vec::new();
    let mut order: Vec<&String> = spec.order.iter().filter(|n| spec.fields.contains_key(*n)).collect();
    order.extend(spec.fields.keys().filter(|n| !spec.order.contains(n)));
    let mut seen = std::collections::HashSet::new();
    order.retain(|n| seen.insert(*n));
    let people = if spec.fields.values().any(|f| {
        f.kind == FieldType::User
            || f.items == Some(FieldType::User)
            || f.line.values().any(|l| l.kind == FieldType::User)
    }) {
        super::commands::people(ctx).await
    } else {
        HashMap::new()
    };
    for name in order {
        let Some(f) = spec.fields.get(name) else { continue };
        if f.sensitive && spec.hide_sensitive {
            continue;
        }
        let current = spec.values.get(name);
        // What only the API gives is shown when there is something to show.
        if f.api_only && current.is_none_or(|v| v.is_null() || v.as_object().is_some_and(Map::is_empty)) {
            continue;
        }
        if !f.line.is_empty() {
            let readonly = spec.readonly || f.computed || f.api_only;
            out.push(super::lines::model(ctx, spec.manifest, name, f, current, spec.failure, readonly, &people).await?);
            continue;
        }
        let mut model = json!({
            "name": name,
            "label": meta::field_label(f, name, ctx.lang),
            "kind": kind_name(f.kind),
            "required": f.required,
            "values": f.values.iter().map(|v| json!({ "value": v, "label": f.value_labels.get(v).map_or(v.as_str(), |l| l.text(ctx.lang)) })).collect::<Vec<_>>(),
            "max_length": f.max_length,
            "multiline": multiline(name, f),
            "value": input_text(current, f.kind, ctx.loc()),
            "checked": current.and_then(Value::as_bool).unwrap_or(false),
            "readonly": spec.readonly || f.computed || f.api_only,
            "shown": format::field(current.unwrap_or(&Value::Null), Some(f), ctx.loc()),
            "error": spec.failure.and_then(|fl| fl.field(name)),
        });
        if f.kind == FieldType::File {
            model["upload_url"] = Value::from(format!("{}/files", ctx.base()));
            if let Some(id) = current.and_then(|v| v.get("id")).and_then(Value::as_str) {
                model["file"] = json!({
                    "url": format!("{}/files/{id}", ctx.base()),
                    "name": current.and_then(|v| v.get("name")).and_then(Value::as_str).unwrap_or_default(),
                    "size": format::file_size(current.and_then(|v| v.get("size")).and_then(Value::as_i64).unwrap_or(0), ctx.lang),
                });
            }
        }
        if let Some(item) = f.items {
            list_model(ctx, spec.manifest, f, item, current, &people, &mut model).await?;
            out.push(model);
            continue;
        }
        if f.kind == FieldType::User {
            // A new record's "responsible" is who opens the form, as the kernel will also say.
            let creator = f.default_to_creator && !spec.readonly && spec.blank;
            let me = ctx.me["id"].as_str().filter(|id| creator && people.contains_key(*id));
            let selected = current.and_then(Value::as_str).or(me).unwrap_or_default();
            if me.is_some() && current.is_none() {
                model["value"] = Value::from(selected);
            }
            let name = |id: &str| people.get(id).cloned().unwrap_or_else(|| ctx.t("someone"));
            if !selected.is_empty() {
                model["shown"] = Value::from(name(selected));
            }
            let mut options: Vec<(String, String)> = people.iter().map(|(id, n)| (id.clone(), n.clone())).collect();
            if !selected.is_empty() && !people.contains_key(selected) {
                options.push((selected.to_string(), name(selected)));
            }
            options.sort_by_key(|(_, n)| n.to_lowercase());
            model["options"] = options.into_iter().map(|(id, title)| json!({ "id": id, "title": title })).collect();
        }
        if let (FieldType::Ref, Some(target)) = (f.kind, &f.to) {
            let selected = current.and_then(Value::as_str);
            let options = options(ctx, spec.manifest, target, selected, None).await?;
            if spec.readonly {
                let title = options.iter().find(|(id, _)| Some(id.as_str()) == selected).map(|(_, t)| t.clone());
                model["shown"] = Value::from(title.unwrap_or_else(|| selected.unwrap_or_default().to_string()));
            }
            model["options"] = options.into_iter().map(|(id, title)| json!({ "id": id, "title": title })).collect();
            model["pick_url"] = Value::from(format!("{}/p/{}/d/{target}/pick", ctx.base(), spec.manifest.plugin.name));
        }
        out.push(model);
    }
    Ok(out)
}

/// The input of a list field: typed text for texts, numbers and dates; a choice of several
/// for enum values and records, with the chosen ones by their labels and titles.
async fn list_model(
    ctx: &Ctx,
    m: &Manifest,
    f: &FieldSpec,
    item: FieldType,
    current: Option<&Value>,
    people: &HashMap<String, String>,
    model: &mut Value,
) -> Result<(), Failure> {
    let chosen: Vec<String> =
        current.and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).map(str::to_string).collect();
    let options: Vec<(String, String)> = match (item, &f.to) {
        (FieldType::Enum, _) => f
            .values
            .iter()
            .map(|v| (v.clone(), f.value_labels.get(v).map_or(v.as_str(), |l| l.text(ctx.lang)).to_string()))
            .collect(),
        (FieldType::User, _) => {
            let mut found: Vec<(String, String)> = people.iter().map(|(id, n)| (id.clone(), n.clone())).collect();
            for id in chosen.iter().filter(|id| !people.contains_key(*id)) {
                found.push((id.clone(), ctx.t("someone")));
            }
            found.sort_by_key(|(_, n)| n.to_lowercase());
            found
        }
        (FieldType::Ref, Some(target)) => {
            let mut found = options(ctx, m, target, None, None).await?;
            let missing: Vec<String> =
                chosen.iter().filter(|id| !found.iter().any(|(k, _)| k == *id)).cloned().collect();
            if !missing.is_empty() {
                found.extend(titles(ctx, m, target, &missing).await?);
            }
            found
        }
        _ => {
            model["kind"] = Value::from("items");
            model["value"] = Value::from(items_text(current, item, ctx.loc()));
            model["hint"] =
                Value::from(ctx.t(if item == FieldType::Text { "items_hint" } else { "items_hint_numbers" }));
            return Ok(());
        }
    };
    let title = |id: &str| options.iter().find(|(k, _)| k == id).map_or_else(|| id.to_string(), |(_, t)| t.clone());
    model["kind"] = Value::from("multi");
    model["size"] = Value::from(options.len().clamp(2, 8));
    model["shown"] = Value::from(chosen.iter().map(|id| title(id)).collect::<Vec<_>>().join(", "));
    model["options"] =
        options.iter().map(|(id, t)| json!({ "id": id, "title": t, "selected": chosen.contains(id) })).collect();
    Ok(())
}

fn company(ctx: &Ctx) -> Result<&Company, Failure> {
    ctx.company.as_ref().ok_or_else(|| Failure::internal("no company chosen"))
}

/// Records of `target` to pick from (the first ones, or those matching `search`), with the
/// selected one always among them. Nothing when the user may not read `target`.
pub(super) async fn options(
    ctx: &Ctx,
    m: &Manifest,
    target: &str,
    selected: Option<&str>,
    search: Option<&str>,
) -> Result<Vec<(String, String)>, Failure> {
    let company = company(ctx)?;
    if !company.may_read(m, target) {
        return Ok(selected.map(|s| vec![(s.to_string(), s.to_string())]).unwrap_or_default());
    }
    let title = meta::title_field(m, target);
    let mut body = json!({ "limit": PICK_LIMIT });
    if let (Some(q), Some(t)) = (search.filter(|q| !q.trim().is_empty()), &title) {
        body["filter"] = json!({ "field": t, "op": "contains", "value": q.trim() });
    }
    let path = format!("/api/v1/companies/{}/data/{}/{target}/query", company.id, m.plugin.name);
    let found = ctx.api.post(&path, body).await?;
    let mut list: Vec<(String, String)> = found["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| (r["id"].as_str().unwrap_or_default().to_string(), record_title(r, title.as_deref())))
        .collect();
    if let Some(sel) = selected.filter(|s| !s.is_empty())
        && !list.iter().any(|(id, _)| id == sel)
    {
        let titles = titles(ctx, m, target, &[sel.to_string()]).await?;
        list.insert(0, (sel.to_string(), titles.get(sel).cloned().unwrap_or_else(|| sel.to_string())));
    }
    list.sort_by_key(|(_, title)| title.to_lowercase());
    Ok(list)
}

/// A record's name: its title field, else its id.
pub(super) fn record_title(r: &Value, title: Option<&str>) -> String {
    title
        .and_then(|t| r["data"].get(t))
        .map(|v| format::value(v, Some(FieldType::Text), format::Locale::new("en", &[])))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| r["id"].as_str().map(|id| id.chars().take(8).collect()).unwrap_or_default())
}

/// Titles of the records `ids` of `target`, for showing references by name.
pub(super) async fn titles(
    ctx: &Ctx,
    m: &Manifest,
    target: &str,
    ids: &[String],
) -> Result<HashMap<String, String>, Failure> {
    let company = company(ctx)?;
    let mut unique: Vec<&String> = ids.iter().filter(|s| !s.is_empty()).collect();
    unique.sort();
    unique.dedup();
    if unique.is_empty() || !company.may_read(m, target) {
        return Ok(HashMap::new());
    }
    let title = meta::title_field(m, target);
    let mut out = HashMap::new();
    for chunk in unique.chunks(100) {
        let body = json!({ "filter": { "field": "id", "op": "in", "value": chunk }, "limit": chunk.len() });
        let path = format!("/api/v1/companies/{}/data/{}/{target}/query", company.id, m.plugin.name);
        let found = match ctx.api.post(&path, body).await {
            Ok(f) => f,
            // A record rule may hide some; their ids stay as they are.
            Err(f) if f.status.is_client_error() => continue,
            Err(f) => return Err(f),
        };
        for r in found["items"].as_array().into_iter().flatten() {
            out.insert(r["id"].as_str().unwrap_or_default().to_string(), record_title(r, title.as_deref()));
        }
    }
    Ok(out)
}
