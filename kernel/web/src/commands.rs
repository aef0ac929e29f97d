//! Plugin commands as buttons with input forms, reports as tables and charts, and record
//! timelines from the commands plugins name for them.

use std::collections::HashMap;
use std::str::FromStr;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery};
use axum::http::StatusCode;
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};

use super::client::Failure;
use super::fields::{self, FormSpec};
use super::records::Params;
use super::{Ctx, Form, Page, chart, format, meta};
use erp_kernel::ids;
use erp_kernel::plugins::manifest::{CommandSpec, FieldSpec, FieldType, Manifest};

fn plugin_model(ctx: &Ctx, m: &Manifest) -> Value {
    json!({ "name": m.plugin.name, "label": meta::plugin_label(m, ctx.lang), "description": m.plugin.description })
}

fn command_model(ctx: &Ctx, c: &CommandSpec) -> Value {
    json!({ "name": c.name, "label": meta::command_label(c, ctx.lang), "description": c.description, "report": c.report })
}

pub(super) async fn plugin_home(mut ctx: Ctx, Path((cid, plugin)): Path<(String, String)>) -> Page {
    ctx.enter(&cid).await?;
    let company = ctx.company()?;
    let m = company.plugin(&plugin).ok_or_else(|| ctx.fail(&not_found(&ctx)))?;
    let collections: Vec<Value> = m
        .collections
        .iter()
        .filter(|(c, _)| company.may_read(m, c))
        .map(|(c, s)| json!({ "name": c, "label": meta::collection_label(s, c, ctx.lang) }))
        .collect();
    let allowed = |c: &&CommandSpec| company.can(&c.permission);
    let reports: Vec<Value> =
        m.commands.iter().filter(allowed).filter(|c| c.report).map(|c| command_model(&ctx, c)).collect();
    let commands: Vec<Value> =
        m.commands.iter().filter(allowed).filter(|c| !c.report).map(|c| command_model(&ctx, c)).collect();
    let page = json!({ "plugin": plugin_model(&ctx, m), "collections": collections, "reports": reports,
                       "commands": commands, "base": ctx.base() });
    Ok(ctx.render("plugin.html", page))
}

fn not_found(ctx: &Ctx) -> Failure {
    Failure { status: StatusCode::NOT_FOUND, ..Failure::internal(ctx.t("not_found")) }
}

fn find<'m>(ctx: &Ctx, m: &'m Manifest, command: &str) -> Result<&'m CommandSpec, Failure> {
    let c = m.command(command).ok_or_else(|| not_found(ctx))?;
    let company = ctx.company.as_ref().ok_or_else(|| Failure::internal("no company"))?;
    if !company.can(&c.permission) {
        return Err(Failure { status: StatusCode::FORBIDDEN, ..Failure::internal(ctx.t("forbidden")) });
    }
    Ok(c)
}

/// Defaults for a report's required inputs: the year so far for dates, the first choice of
/// an enum.
fn default_input(name: &str, f: &FieldSpec) -> Option<Value> {
    let today = chrono::Utc::now().date_naive();
    match f.kind {
        FieldType::Enum => f.values.first().map(|v| Value::from(v.as_str())),
        FieldType::Date if ["from", "since", "start"].iter().any(|k| name.contains(k)) => {
            Some(Value::from(format!("{}-01-01", today.format("%Y"))))
        }
        FieldType::Date => Some(Value::from(today.to_string())),
        _ => None,
    }
}

/// The command page: its form, and for reports the answer when the inputs are complete.
pub(super) async fn command_page(
    mut ctx: Ctx,
    Path((cid, plugin, command)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
) -> Page {
    ctx.enter(&cid).await?;
    let company = ctx.company()?;
    let m = company.plugin(&plugin).ok_or_else(|| ctx.fail(&not_found(&ctx)))?;
    let c = find(&ctx, m, &command).map_err(|f| ctx.fail(&f))?;
    let params = Params::parse(raw);
    let form = Form(params.0.clone());
    let submitted = params.get("_run").is_some();
    let mut input = match command_input(&ctx, c, &form) {
        Ok(i) => i,
        Err(f) => return page(&ctx, m, c, &Map::new(), Some(Err(f))).await,
    };
    if !submitted {
        for (name, f) in &c.input {
            if f.required
                && !input.contains_key(name)
                && let Some(v) = default_input(name, f)
            {
                input.insert(name.clone(), v);
            }
        }
    }
    let complete = c.input.iter().all(|(n, f)| !f.required || input.contains_key(n));
    let answer = if c.report && (submitted || complete) { Some(run(&ctx, m, c, &input).await) } else { None };
    page(&ctx, m, c, &input, answer).await
}

pub(super) async fn run_command(
    mut ctx: Ctx,
    Path((cid, plugin, command)): Path<(String, String, String)>,
    body: Bytes,
) -> Page {
    ctx.enter(&cid).await?;
    let form = ctx.form(&body)?;
    let company = ctx.company()?;
    let m = company.plugin(&plugin).ok_or_else(|| ctx.fail(&not_found(&ctx)))?;
    let c = find(&ctx, m, &command).map_err(|f| ctx.fail(&f))?;
    let answer = match command_input(&ctx, c, &form) {
        Ok(input) => (run(&ctx, m, c, &input).await, input),
        Err(f) => (Err(f), Map::new()),
    };
    let (answer, input) = answer;
    page(&ctx, m, c, &input, Some(answer)).await
}

/// The input of a command: its declared fields, or for a command that declares none, the JSON
/// object typed in the form's advanced box.
fn command_input(ctx: &Ctx, c: &CommandSpec, form: &Form) -> Result<Map<String, Value>, Failure> {
    if !c.input.is_empty() {
        return Ok(fields::read_form(&c.input, form, false, ctx.lang));
    }
    match form.get("__json").map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(Map::new()),
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(o)) => Ok(o),
            _ => Err(Failure { status: StatusCode::UNPROCESSABLE_ENTITY, ..Failure::internal(ctx.t("json_object")) }),
        },
    }
}

async fn run(ctx: &Ctx, m: &Manifest, c: &CommandSpec, input: &Map<String, Value>) -> Result<Value, Failure> {
    let company = ctx.company.as_ref().ok_or_else(|| Failure::internal("no company"))?;
    let path = format!("/api/v1/companies/{}/plugins/{}/commands/{}", company.id, m.plugin.name, c.name);
    ctx.api.post(&path, Value::Object(input.clone())).await
}

async fn page(
    ctx: &Ctx,
    m: &Manifest,
    c: &CommandSpec,
    input: &Map<String, Value>,
    answer: Option<Result<Value, Failure>>,
) -> Page {
    let failure = answer.as_ref().and_then(|a| a.as_ref().err());
    if let Some(f) = failure
        && (f.status == StatusCode::FORBIDDEN || f.status == StatusCode::NOT_FOUND)
        && f.code != "plugin_refused"
    {
        return Err(ctx.fail(f));
    }
    let fields = fields::form_fields(
        ctx,
        FormSpec {
            manifest: m,
            fields: &c.input,
            values: input,
            failure,
            readonly: false,
            hide_sensitive: false,
            order: c.input.iter().filter(|(_, f)| f.required).map(|(n, _)| n.clone()).collect(),
        },
    )
    .await
    .map_err(|f| ctx.fail(&f))?;
    let result = match &answer {
        Some(Ok(v)) => Some(shape(ctx, m, c, v).await),
        _ => None,
    };
    let error = failure.map(|f| {
        let detail: Vec<String> = f
            .fields
            .iter()
            .filter(|(k, _)| !c.input.contains_key(k.rsplit('.').next().unwrap_or(k)))
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        if detail.is_empty() { f.message.clone() } else { format!("{} ({})", f.message, detail.join("; ")) }
    });
    let status = failure.map(|f| f.status).unwrap_or(StatusCode::OK);
    let page = json!({
        "plugin": plugin_model(ctx, m), "command": command_model(ctx, c), "fields": fields,
        "action": format!("{}/p/{}/cmd/{}", ctx.base(), m.plugin.name, c.name),
        "raw_input": c.input.is_empty().then(|| Value::Object(input.clone()).to_string()),
        "result": result, "error": error, "base": ctx.base(),
    });
    Ok(ctx.render_status(status, "command.html", page))
}

/// A number in a report cell, if it is one.
fn numeric(v: &Value) -> Option<Decimal> {
    match v {
        Value::Number(n) => Decimal::from_str(&n.to_string()).ok(),
        Value::String(s) if format::looks_like_number(s) => Decimal::from_str(s).ok(),
        _ => None,
    }
}

/// A command's answer as summary values, tables (record ids shown by their titles) and, for
/// reports, a chart of the rows the manifest names (else of the first table).
async fn shape(ctx: &Ctx, m: &Manifest, c: &CommandSpec, v: &Value) -> Value {
    let mut summary = Vec::new();
    let mut tables = Vec::new();
    collect(ctx, "", v, &mut summary, &mut tables);
    for t in &mut tables {
        name_references(ctx, m, t).await;
    }
    let chart = if c.report { chart_of(ctx, c, &tables) } else { None };
    let models: Vec<Value> = tables
        .iter()
        .map(|t| {
            let columns: Vec<Value> = t
                .keys
                .iter()
                .map(|k| json!({ "key": k, "label": meta::humanize(k), "numeric": t.raw.iter().any(|r| r.get(k).and_then(numeric).is_some()) }))
                .collect();
            let rows: Vec<Value> = t
                .raw
                .iter()
                .map(|r| {
                    let cells: Map<String, Value> = t
                        .keys
                        .iter()
                        .map(|k| {
                            let raw = r.get(k).unwrap_or(&Value::Null);
                            let text = t.titles.get(k).and_then(|names| raw.as_str().and_then(|id| names.get(id)).cloned());
                            (k.clone(), Value::from(text.unwrap_or_else(|| format::value(raw, None, ctx.lang))))
                        })
                        .collect();
                    Value::Object(cells)
                })
                .collect();
            json!({ "title": meta::humanize(&t.path), "columns": columns, "rows": rows })
        })
        .collect();
    json!({ "summary": summary, "tables": models, "chart": chart })
}

/// One list of objects in an answer.
struct Table {
    /// Where it is in the answer (`stages`, `totals.rows`).
    path: String,
    raw: Vec<Map<String, Value>>,
    keys: Vec<String>,
    /// Titles of referenced records, per column named like one of the plugin's collections.
    titles: HashMap<String, HashMap<String, String>>,
}

fn collect(ctx: &Ctx, prefix: &str, v: &Value, summary: &mut Vec<Value>, tables: &mut Vec<Table>) {
    match v {
        Value::Array(items) if items.iter().any(Value::is_object) => {
            let rows: Vec<Map<String, Value>> = items.iter().filter_map(|i| i.as_object().cloned()).collect();
            let mut keys: Vec<String> = Vec::new();
            for r in rows.iter().take(20) {
                for (k, val) in r {
                    let nested_rows = val.as_array().is_some_and(|a| a.iter().any(Value::is_object));
                    if !keys.contains(k) && !nested_rows {
                        keys.push(k.clone());
                    }
                }
            }
            tables.push(Table { path: prefix.to_string(), raw: rows, keys, titles: HashMap::new() });
        }
        Value::Object(map) => {
            for (k, val) in map {
                let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                collect(ctx, &key, val, summary, tables);
            }
        }
        other => {
            let label = if prefix.is_empty() { ctx.t("result") } else { meta::humanize(&prefix.replace('.', " · ")) };
            summary.push(json!({ "label": label, "text": format::value(other, None, ctx.lang) }));
        }
    }
}

/// Columns named like a collection of the plugin (`product`, `employee`) that hold record ids
/// are shown by the records' titles, where the user may read them.
async fn name_references(ctx: &Ctx, m: &Manifest, t: &mut Table) {
    for k in &t.keys {
        if !m.collections.contains_key(k) {
            continue;
        }
        let ids: Vec<String> = t
            .raw
            .iter()
            .filter_map(|r| r.get(k).and_then(Value::as_str))
            .filter(|s| ids::parse(s).is_some())
            .map(str::to_string)
            .collect();
        if ids.is_empty() {
            continue;
        }
        if let Ok(names) = fields::titles(ctx, m, k, &ids).await {
            t.titles.insert(k.clone(), names);
        }
    }
}

/// Bars of the chart's value against its label, from the rows the manifest names or else the
/// first text and number columns of the first table.
fn chart_of(ctx: &Ctx, c: &CommandSpec, tables: &[Table]) -> Option<String> {
    let hint = c.chart.as_ref();
    let t = match hint.and_then(|h| h.rows.as_ref()) {
        Some(rows) => tables.iter().find(|t| &t.path == rows)?,
        None => tables.first()?,
    };
    let is_label = |k: &String| t.raw.iter().any(|r| r.get(k).is_some_and(|v| v.is_string() && numeric(v).is_none()));
    let is_value = |k: &String| t.raw.iter().any(|r| r.get(k).and_then(numeric).is_some_and(|d| !d.is_zero()));
    let label_key = match hint {
        Some(h) => h.label.clone(),
        None => t.keys.iter().find(|k| is_label(k))?.clone(),
    };
    let value_key = match hint {
        Some(h) => h.value.clone(),
        None => t.keys.iter().find(|k| **k != label_key && is_value(k))?.clone(),
    };
    let items: Vec<(String, Decimal, String)> = t
        .raw
        .iter()
        .take(40)
        .map(|r| {
            let v = r.get(&value_key).and_then(numeric).unwrap_or(Decimal::ZERO);
            let raw = r.get(&label_key).unwrap_or(&Value::Null);
            let label = t
                .titles
                .get(&label_key)
                .and_then(|names| raw.as_str().and_then(|id| names.get(id)).cloned())
                .unwrap_or_else(|| format::value(raw, None, ctx.lang));
            (label, v, format::number(&v.normalize().to_string(), ctx.lang))
        })
        .collect();
    let title = format!("{}: {}", meta::command_label(c, ctx.lang), meta::humanize(&value_key));
    Some(chart::bars(&title, &items))
}

/// The record's timeline, when the plugin names a command for it.
pub(super) async fn timeline(ctx: &Ctx, m: &Manifest, coll: &str, id: &str) -> Vec<Value> {
    let Some(cmd) = m.views.get(coll).and_then(|v| v.timeline_command.as_deref()).and_then(|c| m.command(c)) else {
        return Vec::new();
    };
    let Some(company) = ctx.company.as_ref().filter(|c| c.can(&cmd.permission)) else { return Vec::new() };
    let Some((arg, _)) = cmd.input.iter().find(|(_, f)| f.kind == FieldType::Ref && f.to.as_deref() == Some(coll))
    else {
        return Vec::new();
    };
    let path = format!("/api/v1/companies/{}/plugins/{}/commands/{}", company.id, m.plugin.name, cmd.name);
    let Ok(answer) = ctx.api.post(&path, json!({ arg: id })).await else { return Vec::new() };
    let items = answer
        .as_array()
        .cloned()
        .or_else(|| answer.as_object().and_then(|o| o.values().find_map(|v| v.as_array().cloned())));
    items
        .unwrap_or_default()
        .iter()
        .take(100)
        .map(|e| {
            let text = ["summary", "title", "text", "note", "body", "description"]
                .iter()
                .find_map(|k| e.get(*k).and_then(Value::as_str))
                .unwrap_or_default();
            let when = ["at", "occurred_at", "created_at", "date"].iter().find_map(|k| e.get(*k)).unwrap_or(&Value::Null);
            let amount = e.get("amount").filter(|a| !a.is_null()).map(|a| {
                let currency = e.get("currency").and_then(Value::as_str).unwrap_or_default();
                format!("{} {currency}", format::value(a, Some(FieldType::Decimal), ctx.lang)).trim().to_string()
            });
            json!({ "when": format::value(when, None, ctx.lang), "kind": e.get("kind").and_then(Value::as_str).unwrap_or_default(),
                    "text": text, "amount": amount })
        })
        .collect()
}

/// Commands that take this record as input, as links to their forms with it filled in.
pub(super) fn for_record(ctx: &Ctx, m: &Manifest, coll: &str, id: &str) -> Vec<Value> {
    let Some(company) = ctx.company.as_ref() else { return Vec::new() };
    let timeline = m.views.get(coll).and_then(|v| v.timeline_command.clone());
    m.commands
        .iter()
        .filter(|c| company.can(&c.permission) && Some(&c.name) != timeline.as_ref())
        .filter_map(|c| {
            let (arg, _) = c.input.iter().find(|(_, f)| f.kind == FieldType::Ref && f.to.as_deref() == Some(coll))?;
            let url = format!("{}/p/{}/cmd/{}?{}={id}", ctx.base(), m.plugin.name, c.name, arg);
            Some(json!({ "label": meta::command_label(c, ctx.lang), "url": url }))
        })
        .collect()
}
