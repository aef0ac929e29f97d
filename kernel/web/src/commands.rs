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
use super::{Ctx, Form, Page, chart, format, meta, see_other};
use erp_kernel::ids;
use erp_kernel::plugins::manifest::{
    ChartKind, ChartSpec, ColumnSpec, ColumnType, CommandSpec, FieldSpec, FieldType, Manifest, Period,
};

/// Manifests' descriptions are the developer's English notes: shown in the English UI only.
pub(super) fn developer_note<'d>(ctx: &Ctx, text: &'d str) -> &'d str {
    if ctx.lang == "en" { text } else { "" }
}

fn plugin_model(ctx: &Ctx, m: &Manifest) -> Value {
    json!({ "name": m.plugin.name, "label": meta::plugin_label(m, ctx.lang), "description": meta::plugin_summary(m, ctx.lang) })
}

fn command_model(ctx: &Ctx, c: &CommandSpec) -> Value {
    json!({ "name": c.name, "label": meta::command_label(c, ctx.lang), "description": developer_note(ctx, &c.description), "report": c.report })
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
    // Commands of the chat, drive and discussion pages are used there, not listed here.
    let commands: Vec<Value> = m
        .commands
        .iter()
        .filter(allowed)
        .filter(|c| !c.report && !super::collab::on_a_page(company, m, &c.name))
        .map(|c| command_model(&ctx, c))
        .collect();
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

/// The first day of the period that holds `today`, and the first day of the next one.
fn period_bounds(period: Period, today: chrono::NaiveDate) -> (chrono::NaiveDate, chrono::NaiveDate) {
    use chrono::{Datelike, Months, NaiveDate};
    let (first_month, months) = match period {
        Period::Month => (today.month(), 1),
        Period::Quarter => ((today.month() - 1) / 3 * 3 + 1, 3),
        Period::Year => (1, 12),
    };
    let start = NaiveDate::from_ymd_opt(today.year(), first_month, 1).unwrap_or(today);
    (start, start.checked_add_months(Months::new(months)).unwrap_or(start))
}

/// What a report's input holds before the user chooses: its period's bounds for `from` and
/// `to` (a date input's end is the period's last day; a text input, which takes a date or a
/// time, is read as "before" and gets the next period's first day); for other required
/// inputs, the first choice of an enum or today's date.
pub(super) fn default_input(c: &CommandSpec, name: &str, f: &FieldSpec, today: chrono::NaiveDate) -> Option<Value> {
    let (start, next) = period_bounds(c.period.unwrap_or(Period::Month), today);
    let starts = ["from", "since", "start"].iter().any(|k| name.contains(k));
    let ends = ["to", "until", "end", "before"].iter().any(|k| name == *k || name.ends_with(&format!("_{k}")));
    match f.kind {
        FieldType::Date | FieldType::Text if c.report && starts => Some(Value::from(start.to_string())),
        FieldType::Date if c.report && ends => Some(Value::from(next.pred_opt().unwrap_or(next).to_string())),
        FieldType::Text if c.report && ends => Some(Value::from(next.to_string())),
        _ if !f.required => None,
        FieldType::Enum => f.values.first().map(|v| Value::from(v.as_str())),
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
        Err(f) => return page(&ctx, m, c, &Map::new(), Some(Err(f)), None).await,
    };
    if !submitted {
        let today = ctx.loc().today();
        for (name, f) in &c.input {
            if !input.contains_key(name)
                && let Some(v) = default_input(c, name, f, today)
            {
                input.insert(name.clone(), v);
            }
        }
    }
    let complete = c.input.iter().all(|(n, f)| !f.required || input.contains_key(n));
    let answer = if c.report && (submitted || complete) { Some(run(&ctx, m, c, &input).await) } else { None };
    page(&ctx, m, c, &input, answer, back(params.get("_back"))).await
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
    // A command that made a document (a printed form) opens it.
    if let Ok(Some(file)) = answer.as_ref().map(|a| a.get("open").and_then(Value::as_str)) {
        return Ok(see_other(&format!("{}/files/{}", ctx.base(), super::encode(file))));
    }
    // A record's action goes back to the record when it worked.
    let back = back(form.get("_back"));
    if answer.is_ok()
        && let Some(back) = &back
    {
        let sep = if back.contains('?') { '&' } else { '?' };
        return Ok(see_other(&format!("{back}{sep}ok=done")));
    }
    page(&ctx, m, c, &input, Some(answer), back).await
}

/// The page to return to after a command worked: a local path only.
fn back(raw: Option<&str>) -> Option<String> {
    raw.filter(|b| b.starts_with('/')).map(|b| super::session::local_path(Some(b))).filter(|b| b != "/")
}

/// The input of a command: its declared fields, or for a command that declares none, the JSON
/// object typed in the form's advanced box.
fn command_input(ctx: &Ctx, c: &CommandSpec, form: &Form) -> Result<Map<String, Value>, Failure> {
    if !c.input.is_empty() {
        return Ok(fields::read_form(&c.input, form, false, ctx.loc()));
    }
    match form.get("__json").map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(Map::new()),
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(o)) => Ok(o),
            _ => Err(Failure { status: StatusCode::UNPROCESSABLE_ENTITY, ..Failure::internal(ctx.t("json_object")) }),
        },
    }
}

pub(super) async fn run(
    ctx: &Ctx,
    m: &Manifest,
    c: &CommandSpec,
    input: &Map<String, Value>,
) -> Result<Value, Failure> {
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
    back: Option<String>,
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
            blank: false,
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
        "result": result, "error": error, "base": ctx.base(), "back": back,
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

/// A command's answer as summary values, tables (record ids shown by their titles, user ids
/// by names) and, for reports, a chart of the rows the manifest names (else of the first
/// table). A report's declared columns choose, order, label and format what is shown; lists
/// and values it does not describe show as they come.
async fn shape(ctx: &Ctx, m: &Manifest, c: &CommandSpec, v: &Value) -> Value {
    let mut scalars = Vec::new();
    let mut tables = Vec::new();
    collect("", v, &mut scalars, &mut tables);
    for t in &mut tables {
        let declared: Vec<&ColumnSpec> =
            c.columns.iter().filter(|col| col.rows.as_deref() == Some(t.path.as_str())).collect();
        if !declared.is_empty() {
            t.keys = declared.iter().map(|col| col.key.clone()).collect();
        }
        name_references(ctx, m, c, t).await;
    }
    let people =
        if c.columns.iter().any(|col| col.kind == ColumnType::User) { people(ctx).await } else { HashMap::new() };
    let declared_scalars: Vec<&ColumnSpec> = c.columns.iter().filter(|col| col.rows.is_none()).collect();
    // A report that declares its columns shows only the single values it declares (the period
    // it was asked for is in its form already); an undescribed answer shows them all.
    let summary: Vec<Value> = if c.columns.is_empty() {
        scalars
            .iter()
            .map(|(path, v)| {
                let label = if path.is_empty() { ctx.t("result") } else { meta::humanize(&path.replace('.', " · ")) };
                json!({ "label": label, "text": format::value(v, None, ctx.loc()) })
            })
            .collect()
    } else {
        declared_scalars
            .iter()
            .filter_map(|col| {
                let (_, v) = scalars.iter().find(|(path, _)| *path == col.key)?;
                Some(json!({ "label": col.label.text(ctx.lang), "text": cell(ctx, col, v, None, &people) }))
            })
            .collect()
    };
    // A report that declares its columns gets a chart only where it asks for one.
    let wants_chart = c.report && (c.chart.is_some() || c.columns.is_empty());
    let chart = if wants_chart { chart_of(ctx, c, v, &tables, &people) } else { None };
    let models: Vec<Value> = tables.iter().map(|t| table_model(ctx, c, t, &people)).collect();
    json!({ "summary": summary, "tables": models, "chart": chart })
}

/// The value under `key` in a row: a key of it, or a path into its objects (`buckets.1_30`).
pub(super) fn lookup<'r>(r: &'r Map<String, Value>, key: &str) -> Option<&'r Value> {
    r.get(key).or_else(|| {
        let mut parts = key.split('.');
        let first = r.get(parts.next()?)?;
        parts.try_fold(first, |v, part| v.get(part))
    })
}

/// The declared column of table `t` under `key`.
fn column<'c>(c: &'c CommandSpec, t: &Table, key: &str) -> Option<&'c ColumnSpec> {
    c.columns.iter().find(|col| col.rows.as_deref() == Some(t.path.as_str()) && col.key == key)
}

/// A table's header, rows and, where columns ask for it, a totals row.
fn table_model(ctx: &Ctx, c: &CommandSpec, t: &Table, people: &HashMap<String, String>) -> Value {
    let numeric_col = |k: &String| match column(c, t, k) {
        Some(col) => col.kind.is_numeric(),
        None => t.raw.iter().any(|r| lookup(r, k).and_then(numeric).is_some()),
    };
    let columns: Vec<Value> = t
        .keys
        .iter()
        .map(|k| {
            let label = column(c, t, k).map_or_else(|| meta::humanize(k), |col| col.label.text(ctx.lang).to_string());
            json!({ "key": k, "label": label, "numeric": numeric_col(k) })
        })
        .collect();
    let rows: Vec<Value> = t
        .raw
        .iter()
        .map(|r| {
            let cells: Map<String, Value> = t
                .keys
                .iter()
                .map(|k| {
                    let raw = lookup(r, k).unwrap_or(&Value::Null);
                    let text = match column(c, t, k) {
                        Some(col) => cell(ctx, col, raw, t.titles.get(k), people),
                        None => t
                            .titles
                            .get(k)
                            .and_then(|names| raw.as_str().and_then(|id| names.get(id)).cloned())
                            .unwrap_or_else(|| format::value(raw, None, ctx.loc())),
                    };
                    (k.clone(), Value::from(text))
                })
                .collect();
            Value::Object(cells)
        })
        .collect();
    let totalled: Vec<&ColumnSpec> = t.keys.iter().filter_map(|k| column(c, t, k)).filter(|col| col.total).collect();
    let totals = (!totalled.is_empty() && t.raw.len() > 1).then(|| {
        let mut cells = Map::new();
        for (i, k) in t.keys.iter().enumerate() {
            let text = match column(c, t, k).filter(|col| col.total) {
                Some(col) => {
                    let sum: Decimal = t.raw.iter().filter_map(|r| lookup(r, k).and_then(numeric)).sum();
                    cell(ctx, col, &Value::from(sum.normalize().to_string()), None, people)
                }
                None if i == 0 => ctx.t("total"),
                None => String::new(),
            };
            cells.insert(k.clone(), Value::from(text));
        }
        Value::Object(cells)
    });
    let title = c
        .columns
        .iter()
        .any(|col| col.rows.as_deref() == Some(t.path.as_str()))
        .then(String::new)
        .unwrap_or_else(|| meta::humanize(&t.path));
    json!({ "title": title, "columns": columns, "rows": rows, "totals": totals })
}

/// One value of a declared column, as people read it.
pub(super) fn cell(
    ctx: &Ctx,
    col: &ColumnSpec,
    raw: &Value,
    titles: Option<&HashMap<String, String>>,
    people: &HashMap<String, String>,
) -> String {
    if raw.is_null() {
        return String::new();
    }
    let named = |names: Option<&HashMap<String, String>>| {
        raw.as_str().map(|id| names.and_then(|n| n.get(id)).cloned().unwrap_or_else(|| ctx.t("someone")))
    };
    match col.kind {
        ColumnType::Text => raw.as_str().map_or_else(|| format::value(raw, None, ctx.loc()), str::to_string),
        ColumnType::Int | ColumnType::Decimal => format::value(raw, Some(FieldType::Decimal), ctx.loc()),
        ColumnType::Money => format::money(raw, ctx.loc()),
        ColumnType::Percent => format!("{}\u{a0}%", format::value(raw, Some(FieldType::Decimal), ctx.loc())),
        ColumnType::Date => format::value(raw, Some(FieldType::Date), ctx.loc()),
        ColumnType::Datetime => format::value(raw, Some(FieldType::Datetime), ctx.loc()),
        ColumnType::Bool => format::value(raw, Some(FieldType::Bool), ctx.loc()),
        ColumnType::Ref => named(titles).unwrap_or_else(|| format::value(raw, None, ctx.loc())),
        ColumnType::User => named(Some(people)).unwrap_or_else(|| format::value(raw, None, ctx.loc())),
        ColumnType::Enum => match raw.as_str().and_then(|s| col.value_labels.get(s)) {
            Some(label) => label.text(ctx.lang).to_string(),
            None => format::value(raw, None, ctx.loc()),
        },
    }
}

/// The company's people by user id, for showing user ids by name.
pub(super) async fn people(ctx: &Ctx) -> HashMap<String, String> {
    let Some(company) = ctx.company.as_ref() else { return HashMap::new() };
    let mut out = HashMap::new();
    let mut cursor: Option<String> = None;
    // Twenty pages of 500: a company larger than that shows the rest as "someone".
    for _ in 0..20 {
        let mut path = format!("/api/v1/companies/{}/people?limit=500", company.id);
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let Ok(page) = ctx.api.get(&path).await else { break };
        for p in page["items"].as_array().into_iter().flatten() {
            if let (Some(id), Some(name)) = (p["user_id"].as_str(), p["name"].as_str()) {
                out.insert(id.to_string(), name.to_string());
            }
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    out
}

/// One list of objects in an answer.
struct Table {
    /// Where it is in the answer (`stages`, `totals.rows`).
    path: String,
    raw: Vec<Map<String, Value>>,
    keys: Vec<String>,
    /// Titles of referenced records, per column.
    titles: HashMap<String, HashMap<String, String>>,
}

/// Splits an answer into its lists of objects and its single values, each with its path.
fn collect(prefix: &str, v: &Value, scalars: &mut Vec<(String, Value)>, tables: &mut Vec<Table>) {
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
                collect(&key, val, scalars, tables);
            }
        }
        other => scalars.push((prefix.to_string(), other.clone())),
    }
}

/// Record ids shown by the records' titles, where the user may read them: in columns declared
/// as `ref`, and in undeclared columns named like a collection of the plugin (`product`).
async fn name_references(ctx: &Ctx, m: &Manifest, c: &CommandSpec, t: &mut Table) {
    for k in &t.keys {
        let target = match column(c, t, k) {
            Some(col) if col.kind == ColumnType::Ref => col.to.clone(),
            Some(_) => None,
            None => m.collections.contains_key(k).then(|| k.clone()),
        };
        let Some(target) = target else { continue };
        // Titles of a dependency's collection come through that plugin's manifest.
        let (owner, coll) = match target.split_once('.') {
            Some((p, coll)) if p != m.plugin.name => {
                (ctx.company.as_ref().and_then(|co| co.plugin(p)).map(|a| &**a), coll.to_string())
            }
            Some((_, coll)) => (Some(m), coll.to_string()),
            None => (Some(m), target.clone()),
        };
        let Some(owner) = owner else { continue };
        let ids: Vec<String> = t
            .raw
            .iter()
            .filter_map(|r| lookup(r, k).and_then(Value::as_str))
            .filter(|s| ids::parse(s).is_some())
            .map(str::to_string)
            .collect();
        if ids.is_empty() {
            continue;
        }
        if let Ok(names) = fields::titles(ctx, owner, &coll, &ids).await {
            t.titles.insert(k.clone(), names);
        }
    }
}

/// Bars of the chart's value against its label, from the rows the manifest names or else the
/// first text and number columns of the first table.
fn chart_of(
    ctx: &Ctx,
    c: &CommandSpec,
    answer: &Value,
    tables: &[Table],
    people: &HashMap<String, String>,
) -> Option<String> {
    let hint = c.chart.as_ref();
    let t = match hint.and_then(|h| h.rows.as_ref()) {
        Some(rows) => tables.iter().find(|t| &t.path == rows)?,
        None => tables.first()?,
    };
    if let Some(h) = hint.filter(|h| h.kind == ChartKind::Timeline) {
        return Some(timeline_of(ctx, c, h, answer, t, people));
    }
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
    let label_col = column(c, t, &label_key);
    let value_col = column(c, t, &value_key);
    let items: Vec<(String, Decimal, String)> = t
        .raw
        .iter()
        .filter(|r| lookup(r, &value_key).and_then(numeric).is_some_and(|d| !d.is_zero()))
        .take(40)
        .map(|r| {
            let v = lookup(r, &value_key).and_then(numeric).unwrap_or(Decimal::ZERO);
            let raw = lookup(r, &label_key).unwrap_or(&Value::Null);
            let label = match label_col {
                Some(col) => cell(ctx, col, raw, t.titles.get(&label_key), people),
                None => t
                    .titles
                    .get(&label_key)
                    .and_then(|names| raw.as_str().and_then(|id| names.get(id)).cloned())
                    .unwrap_or_else(|| format::value(raw, None, ctx.loc())),
            };
            let shown = match value_col {
                Some(col) => cell(ctx, col, &Value::from(v.normalize().to_string()), None, people),
                None => format::number(&v.normalize().to_string(), ctx.lang),
            };
            (label, v, shown)
        })
        .collect();
    let value_label = value_col.map_or_else(|| meta::humanize(&value_key), |col| col.label.text(ctx.lang).to_string());
    let title = format!("{}: {}", meta::command_label(c, ctx.lang), value_label);
    Some(chart::bars(&title, &items))
}

/// Spans of days from the rows' start and end, one line per label; the period is the answer's
/// own `from` and `to` where it gives them, else the spans' first and last day.
fn timeline_of(
    ctx: &Ctx,
    c: &CommandSpec,
    h: &ChartSpec,
    answer: &Value,
    t: &Table,
    people: &HashMap<String, String>,
) -> String {
    let day = |v: Option<&Value>| {
        v.and_then(Value::as_str).and_then(|s| chrono::NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok())
    };
    let text = |key: &str, r: &Map<String, Value>| {
        let raw = lookup(r, key).unwrap_or(&Value::Null);
        match column(c, t, key) {
            Some(col) => cell(ctx, col, raw, t.titles.get(key), people),
            None => format::value(raw, None, ctx.loc()),
        }
    };
    let (start_key, end_key) = (h.start.as_deref().unwrap_or_default(), h.end.as_deref().unwrap_or_default());
    let spans: Vec<chart::Span> = t
        .raw
        .iter()
        .filter_map(|r| {
            let start = day(lookup(r, start_key))?;
            let end = day(lookup(r, end_key)).unwrap_or(start).max(start);
            let category = h.category.as_deref().map(|k| text(k, r)).filter(|k| !k.is_empty());
            Some(chart::Span { label: text(&h.label, r), start, end, category })
        })
        .collect();
    let today = ctx.loc().today();
    let from = day(answer.get("from")).or_else(|| spans.iter().map(|s| s.start).min()).unwrap_or(today);
    let to = day(answer.get("to")).or_else(|| spans.iter().map(|s| s.end).max()).unwrap_or(today);
    chart::timeline(&meta::command_label(c, ctx.lang), from, to, &spans, ctx.lang, today)
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
            let when =
                ["at", "occurred_at", "created_at", "date"].iter().find_map(|k| e.get(*k)).unwrap_or(&Value::Null);
            let amount = e.get("amount").filter(|a| !a.is_null()).map(|a| {
                let currency = e.get("currency").and_then(Value::as_str).unwrap_or_default();
                format!("{} {currency}", format::value(a, Some(FieldType::Decimal), ctx.loc())).trim().to_string()
            });
            let kind = e.get("kind").and_then(Value::as_str).unwrap_or_default();
            json!({ "when": format::value(when, None, ctx.loc()), "kind": kind_label(m, kind, ctx.lang),
                    "text": text, "amount": amount })
        })
        .collect()
}

/// A timeline entry's kind as the plugin labels it: the value label of a `kind` field of its
/// collections (the `timeline` collection's first) that has this value.
fn kind_label(m: &Manifest, kind: &str, lang: &str) -> String {
    let timeline = m.collections.get("timeline").into_iter();
    timeline
        .chain(m.collections.values())
        .filter_map(|c| c.fields.get("kind"))
        .find_map(|f| f.value_labels.get(kind))
        .map_or_else(|| kind.to_string(), |l| l.text(lang).to_string())
}

/// Commands that act on this record: a button that runs at once where the record is all they
/// need (asking first for those that undo or remove), else a link to their form with the
/// record filled in.
pub(super) fn for_record(ctx: &Ctx, m: &Manifest, coll: &str, id: &str) -> Vec<Value> {
    let Some(company) = ctx.company.as_ref() else { return Vec::new() };
    let timeline = m.views.get(coll).and_then(|v| v.timeline_command.clone());
    m.commands
        .iter()
        .filter(|c| company.can(&c.permission) && Some(&c.name) != timeline.as_ref())
        .filter_map(|c| {
            let (arg, _) = c.input.iter().find(|(_, f)| f.kind == FieldType::Ref && f.to.as_deref() == Some(coll))?;
            // Its form goes back to the record when it worked.
            let url = format!(
                "{}/p/{}/cmd/{}?{}={id}{}",
                ctx.base(),
                m.plugin.name,
                c.name,
                arg,
                if c.report { String::new() } else { format!("&_back={}", super::encode(&ctx.path)) }
            );
            let direct = !c.report && c.input.iter().all(|(n, f)| n == arg || !f.required);
            let undoes = ["delete", "cancel", "junk", "reverse", "refuse"].iter().any(|w| c.name.starts_with(w));
            Some(json!({
                "label": meta::command_label(c, ctx.lang), "url": url, "direct": direct, "confirm": undoes,
                "action": format!("{}/p/{}/cmd/{}", ctx.base(), m.plugin.name, c.name), "arg": arg, "id": id,
            }))
        })
        .collect()
}
