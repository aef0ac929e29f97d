//! Records of a collection: the list (search, filters, sort, columns, pages), the form to
//! create or edit one (per-field errors, version conflicts), deletion and reference pickers.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::client::Failure;
use super::fields::{self, FormSpec};
use super::meta::{self, Company};
use super::{Ctx, Page, see_other};
use super::{format, i18n};
use erp_kernel::plugins::manifest::{CollectionSpec, FieldType, Manifest};

/// Rows per list page.
const PAGE_ROWS: u32 = 50;

/// A query string as ordered pairs, to read and to rebuild links from.
pub(super) struct Params(pub Vec<(String, String)>);

impl Params {
    pub(super) fn parse(raw: Option<String>) -> Params {
        Params(raw.and_then(|q| serde_urlencoded::from_str(&q).ok()).unwrap_or_default())
    }

    pub(super) fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
    }

    fn all(&self, key: &str) -> Vec<String> {
        self.0.iter().filter(|(k, _)| k == key).map(|(_, v)| v.clone()).collect()
    }

    /// A link to `base` with these parameters, `key` set to `value` (or removed).
    fn link(&self, base: &str, key: &str, value: Option<&str>, drop: &[&str]) -> String {
        let mut pairs: Vec<(String, String)> =
            self.0.iter().filter(|(k, _)| k != key && !drop.contains(&k.as_str())).cloned().collect();
        if let Some(v) = value {
            pairs.push((key.to_string(), v.to_string()));
        }
        let q = serde_urlencoded::to_string(&pairs).unwrap_or_default();
        if q.is_empty() { base.to_string() } else { format!("{base}?{q}") }
    }
}

/// The plugin and collection of a URL, if enabled and readable.
pub(super) fn resolve<'c>(
    ctx: &Ctx,
    company: &'c Company,
    plugin: &str,
    coll: &str,
) -> Result<(&'c Manifest, &'c CollectionSpec), Response> {
    let not_found = || ctx.fail(&Failure { status: StatusCode::NOT_FOUND, ..Failure::internal(ctx.t("not_found")) });
    let m = company.plugin(plugin).ok_or_else(not_found)?;
    let spec = m.collections.get(coll).ok_or_else(not_found)?;
    if !company.may_read(m, coll) {
        return Err(ctx.fail(&Failure { status: StatusCode::FORBIDDEN, ..Failure::internal(ctx.t("forbidden")) }));
    }
    Ok((m, spec))
}

/// The collection's header values for templates.
pub(super) fn coll_model(ctx: &Ctx, company: &Company, m: &Manifest, name: &str, spec: &CollectionSpec) -> Value {
    let view = m.views.get(name);
    json!({
        "name": name,
        "label": meta::collection_label(spec, name, ctx.lang),
        "plural": meta::plural_label(spec, name, ctx.lang),
        "url": format!("/c/{}/p/{}/d/{name}", company.id, m.plugin.name),
        "writable": company.may_write(m, name),
        "board": view.and_then(|v| v.stage_field.as_ref()).is_some(),
        "calendar": view.and_then(|v| v.calendar.as_ref()).is_some(),
    })
}

fn data_path(company: &Company, m: &Manifest, coll: &str) -> String {
    format!("/api/v1/companies/{}/data/{}/{coll}", company.id, m.plugin.name)
}

/// Cells of a row: values formatted per locale, references by their titles.
pub(super) fn cells(
    loc: format::Locale,
    spec: &CollectionSpec,
    record: &Value,
    columns: &[String],
    titles: &HashMap<String, HashMap<String, String>>,
) -> Vec<Value> {
    columns
        .iter()
        .map(|c| {
            let f = spec.fields.get(c);
            let v = match c.as_str() {
                "created_at" | "updated_at" => record.get(c).cloned().unwrap_or(Value::Null),
                _ => record["data"].get(c).cloned().unwrap_or(Value::Null),
            };
            let text = match (f.map(|f| f.kind), v.as_str(), titles.get(c)) {
                (Some(FieldType::Ref), Some(id), Some(t)) => {
                    t.get(id).cloned().unwrap_or_else(|| id.chars().take(8).collect())
                }
                (Some(FieldType::User), Some(id), Some(t)) => {
                    t.get(id).cloned().unwrap_or_else(|| i18n::text(loc.lang, "someone"))
                }
                (Some(FieldType::Json), None, Some(t)) if v.is_array() => v
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(|id| t.get(id).cloned().unwrap_or_else(|| id.chars().take(8).collect()))
                    .collect::<Vec<_>>()
                    .join(", "),
                _ => format::field(&v, f, loc),
            };
            let numeric = f.is_some_and(|f| matches!(f.kind, FieldType::Int | FieldType::Decimal));
            json!({ "text": text, "numeric": numeric })
        })
        .collect()
}

/// Titles of every reference in `records` under `columns`, per column.
pub(super) async fn ref_titles(
    ctx: &Ctx,
    m: &Manifest,
    spec: &CollectionSpec,
    records: &[Value],
    columns: &[String],
) -> Result<HashMap<String, HashMap<String, String>>, Failure> {
    let mut out = HashMap::new();
    let shows_people = columns.iter().any(|c| spec.fields.get(c).is_some_and(|f| f.kind == FieldType::User));
    let people = if shows_people { super::commands::people(ctx).await } else { HashMap::new() };
    for c in columns {
        let Some(f) = spec.fields.get(c) else { continue };
        if f.kind == FieldType::User {
            out.insert(c.clone(), people.clone());
            continue;
        }
        let (Some(FieldType::Ref), Some(target)) = (f.items.or(Some(f.kind)), &f.to) else { continue };
        let ids: Vec<String> = records
            .iter()
            .filter_map(|r| r["data"].get(c))
            .flat_map(|v| match v {
                Value::Array(items) => items.iter().filter_map(Value::as_str).map(str::to_string).collect(),
                other => other.as_str().map(str::to_string).into_iter().collect::<Vec<_>>(),
            })
            .collect();
        out.insert(c.clone(), fields::titles(ctx, m, target, &ids).await?);
    }
    Ok(out)
}

pub(super) async fn list(
    mut ctx: Ctx,
    Path((cid, plugin, coll)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
) -> Page {
    ctx.enter(&cid).await?;
    let company = ctx.company()?;
    let (m, spec) = resolve(&ctx, company, &plugin, &coll)?;
    let params = Params::parse(raw);
    let sensitive_ok = company.may_see_sensitive(m, &coll);
    let visible = |name: &str| spec.fields.get(name).is_some_and(|f| !f.sensitive || sensitive_ok);
    let mut columns: Vec<String> = params.all("cols").into_iter().filter(|c| visible(c)).collect();
    if columns.is_empty() {
        columns = meta::default_columns(m, &coll).into_iter().filter(|c| visible(c)).collect();
    }
    let title = meta::title_field(m, &coll);
    if let Some(t) = &title
        && !columns.contains(t)
        && visible(t)
    {
        columns.insert(0, t.clone());
    }

    // Search and filters become one filter tree; the kernel validates and applies it.
    let mut conditions = Vec::new();
    let q = params.get("q").unwrap_or_default().to_string();
    if !q.is_empty() {
        let searchable: Vec<Value> = columns
            .iter()
            .filter(|c| spec.fields.get(*c).is_some_and(|f| matches!(f.kind, FieldType::Text | FieldType::Enum)))
            .map(|c| json!({ "field": c, "op": "contains", "value": q }))
            .collect();
        if !searchable.is_empty() {
            conditions.push(json!({ "or": searchable }));
        }
    }
    let mut filters = Vec::new();
    let people = if spec.fields.iter().any(|(n, f)| f.kind == FieldType::User && visible(n)) {
        super::commands::people(&ctx).await
    } else {
        HashMap::new()
    };
    for (name, f) in &spec.fields {
        let key = format!("f.{name}");
        let value = params.get(&key).unwrap_or_default().to_string();
        let offered = matches!(f.kind, FieldType::Enum | FieldType::Bool | FieldType::User) && visible(name);
        if !value.is_empty() {
            conditions.push(match f.kind {
                FieldType::Bool => json!({ "field": name, "op": "eq", "value": value == "true" }),
                FieldType::Text if !offered => json!({ "field": name, "op": "contains", "value": value }),
                FieldType::Int => json!({ "field": name, "op": "eq", "value": value.parse::<i64>().map(Value::from).unwrap_or(Value::from(value.clone())) }),
                _ => json!({ "field": name, "op": "eq", "value": value }),
            });
        }
        if offered {
            let options: Vec<Value> = match f.kind {
                FieldType::Bool => {
                    vec![json!({ "id": "true", "title": ctx.t("yes") }), json!({ "id": "false", "title": ctx.t("no") })]
                }
                FieldType::User => {
                    let mut named: Vec<(&String, &String)> = people.iter().collect();
                    named.sort_by_key(|(_, n)| n.to_lowercase());
                    named.into_iter().map(|(id, n)| json!({ "id": id, "title": n })).collect()
                }
                _ => f
                    .values
                    .iter()
                    .map(|v| json!({ "id": v, "title": format::field(&Value::from(v.as_str()), Some(f), ctx.loc()) }))
                    .collect(),
            };
            filters.push(json!({ "name": name, "label": meta::field_label(f, name, ctx.lang), "kind": fields::kind_name(f.kind), "value": value, "options": options }));
        }
    }
    let sort = params.get("sort").map(str::to_string);
    let desc = params.get("desc") == Some("1");
    let mut body = json!({ "limit": PAGE_ROWS });
    match conditions.len() {
        0 => {}
        1 => body["filter"] = conditions.remove(0),
        _ => body["filter"] = json!({ "and": conditions }),
    }
    if let Some(s) = &sort {
        body["sort"] = json!({ "field": s, "desc": desc });
    }
    if let Some(c) = params.get("cursor") {
        body["cursor"] = Value::from(c);
    }
    let url = format!("/c/{}/p/{}/d/{coll}", company.id, m.plugin.name);
    let (records, next, error) = match ctx.api.post(&format!("{}/query", data_path(company, m, &coll)), body).await {
        Ok(found) => (
            found["items"].as_array().cloned().unwrap_or_default(),
            found["next_cursor"].as_str().map(str::to_string),
            None,
        ),
        Err(f) if f.status == StatusCode::FORBIDDEN || f.status == StatusCode::NOT_FOUND => return Err(ctx.fail(&f)),
        Err(f) => {
            let detail = f.fields.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join("; ");
            (Vec::new(), None, Some(if detail.is_empty() { f.message } else { format!("{} ({detail})", f.message) }))
        }
    };
    let titles = ref_titles(&ctx, m, spec, &records, &columns).await.map_err(|f| ctx.fail(&f))?;
    let rows: Vec<Value> = records
        .iter()
        .map(|r| json!({ "url": format!("{url}/r/{}", r["id"].as_str().unwrap_or_default()), "cells": cells(ctx.loc(), spec, r, &columns, &titles) }))
        .collect();
    let header: Vec<Value> = columns
        .iter()
        .map(|c| {
            let f = spec.fields.get(c);
            let sortable = f.is_some_and(|f| f.is_indexed() && f.items.is_none());
            let next_desc = sort.as_deref() == Some(c) && !desc;
            let sort_url = sortable.then(|| {
                let p = Params(params.0.iter().filter(|(k, _)| k != "desc" && k != "cursor").cloned().collect());
                let link = p.link(&url, "sort", Some(c), &[]);
                if next_desc { format!("{link}&desc=1") } else { link }
            });
            json!({ "label": f.map(|f| meta::field_label(f, c, ctx.lang)).unwrap_or_else(|| meta::humanize(c)),
                    "sort_url": sort_url, "sorted": sort.as_deref() == Some(c) })
        })
        .collect();
    let all_columns: Vec<Value> = spec
        .fields
        .iter()
        .filter(|(n, f)| visible(n) && f.kind != FieldType::Json)
        .map(|(n, f)| json!({ "name": n, "label": meta::field_label(f, n, ctx.lang), "chosen": columns.contains(n) }))
        .collect();
    let page = json!({
        "coll": coll_model(&ctx, company, m, &coll, spec),
        "columns": header, "rows": rows, "q": q, "filters": filters, "sort": sort, "desc": desc,
        "chosen": params.all("cols"), "all_columns": all_columns, "error": error,
        "cursor": params.get("cursor"),
        "first_url": params.link(&url, "cursor", None, &[]),
        "next_url": next.map(|n| params.link(&url, "cursor", Some(&n), &[])),
    });
    Ok(ctx.render("list.html", page))
}

/// `?q=` → `[{id, title}]` for reference pickers.
pub(super) async fn pick(
    mut ctx: Ctx,
    Path((cid, plugin, coll)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
) -> Page {
    ctx.enter(&cid).await?;
    let company = ctx.company()?;
    let (m, _) = resolve(&ctx, company, &plugin, &coll)?;
    let params = Params::parse(raw);
    let found = fields::options(&ctx, m, &coll, None, params.get("q")).await.map_err(|f| ctx.fail(&f))?;
    let items: Vec<Value> = found.into_iter().map(|(id, title)| json!({ "id": id, "title": title })).collect();
    Ok(Json(items).into_response())
}

/// Renders the record form: new (no id) or existing, with values and errors.
#[allow(clippy::too_many_arguments)]
async fn form_page(
    ctx: &Ctx,
    m: &Manifest,
    coll: &str,
    spec: &CollectionSpec,
    record: Option<&Value>,
    values: &Map<String, Value>,
    failure: Option<&Failure>,
    status: StatusCode,
) -> Page {
    let company = ctx.company()?;
    let writable = company.may_write(m, coll);
    let model = coll_model(ctx, company, m, coll, spec);
    let url = model["url"].as_str().unwrap_or_default().to_string();
    let fields = fields::form_fields(
        ctx,
        FormSpec {
            manifest: m,
            fields: &spec.fields,
            values,
            failure,
            blank: record.is_none() && failure.is_none(),
            readonly: !writable,
            hide_sensitive: !company.may_see_sensitive(m, coll),
            order: meta::field_order(m, coll),
        },
    )
    .await
    .map_err(|f| ctx.fail(&f))?;
    let record_id = record.and_then(|r| r["id"].as_str()).map(str::to_string);
    let title = match &record_id {
        Some(id) => {
            let t = meta::title_field(m, coll).and_then(|t| values.get(&t).map(|v| format::value(v, None, ctx.loc())));
            t.filter(|s| !s.is_empty()).unwrap_or_else(|| id.chars().take(8).collect())
        }
        None => format!("{} — {}", model["label"].as_str().unwrap_or_default(), ctx.t("new")),
    };
    let (timeline, (related, add_related), commands, comments) = match &record_id {
        Some(id) => (
            super::commands::timeline(ctx, m, coll, id).await,
            related(ctx, m, coll, id).await,
            super::commands::for_record(ctx, m, coll, id),
            super::comments::panel(ctx, m, coll, id).await,
        ),
        None => (Vec::new(), (Vec::new(), Vec::new()), Vec::new(), None),
    };
    let conflict = failure.is_some_and(|f| f.status == StatusCode::CONFLICT && f.code != "plugin_refused");
    let error = failure
        .filter(|_| !conflict)
        .map(|f| if f.fields.is_empty() { f.message.clone() } else { ctx.t("fix_errors") });
    let page = json!({
        "coll": model, "title": title, "fields": fields, "writable": writable,
        "deletable": writable && record_id.is_some(),
        "record_id": record_id,
        "version": record.and_then(|r| r["version"].as_i64()),
        "action": match &record_id { Some(id) => format!("{url}/r/{id}"), None => format!("{url}/new") },
        "conflict": conflict, "error": error,
        "timeline": timeline, "related": related, "add_related": add_related, "commands": commands,
        "comments": comments,
        "back": record_id.as_ref().map(|id| format!("{url}/r/{id}")),
    });
    Ok(ctx.render_status(status, "record.html", page))
}

/// Records of the plugin's other collections that point at this one (a deal's activities),
/// each section with a link to add one already linked; collections the person may add to but
/// that hold nothing linked yet come as links only.
async fn related(ctx: &Ctx, m: &Manifest, coll: &str, id: &str) -> (Vec<Value>, Vec<Value>) {
    let Some(company) = ctx.company.as_ref() else { return (Vec::new(), Vec::new()) };
    let mut out = Vec::new();
    let mut add = Vec::new();
    for (other, spec) in &m.collections {
        if !company.may_read(m, other) {
            continue;
        }
        for (fname, f) in &spec.fields {
            if f.kind != FieldType::Ref || f.to.as_deref() != Some(coll) || f.computed {
                continue;
            }
            let new_url = company
                .may_write(m, other)
                .then(|| format!("/c/{}/p/{}/d/{other}/new?{fname}={}", company.id, m.plugin.name, super::encode(id)));
            let body = json!({ "filter": { "field": fname, "op": "eq", "value": id }, "limit": 10, "sort": { "field": "created_at", "desc": true } });
            let Ok(found) = ctx.api.post(&format!("{}/query", data_path(company, m, other)), body).await else {
                continue;
            };
            let items = found["items"].as_array().cloned().unwrap_or_default();
            if items.is_empty() {
                if let Some(url) = new_url {
                    add.push(json!({ "name": format!("{other}.{fname}"), "label": meta::collection_label(spec, other, ctx.lang), "url": url }));
                }
                continue;
            }
            // A title that is itself a reference (a stock row's product) names the record on
            // this page or another: the row reads by its other columns instead.
            let title =
                meta::title_field(m, other).filter(|t| spec.fields.get(t).is_some_and(|f| f.kind != FieldType::Ref));
            let cols = meta::default_columns(m, other);
            let rows: Vec<Value> = items
                .iter()
                .map(|r| {
                    let extra: Vec<String> = cols
                        .iter()
                        .filter(|c| Some(c.as_str()) != title.as_deref() && spec.fields.get(*c).is_some_and(|f| f.kind != FieldType::Ref))
                        .take(3)
                        .filter_map(|c| r["data"].get(c).map(|v| format::field(v, spec.fields.get(c), ctx.loc())))
                        .filter(|s| !s.is_empty())
                        .collect();
                    let url = format!("/c/{}/p/{}/d/{other}/r/{}", company.id, m.plugin.name, r["id"].as_str().unwrap_or_default());
                    match &title {
                        Some(_) => json!({ "url": url, "title": fields::record_title(r, title.as_deref()), "extra": extra.join(" · ") }),
                        None => json!({ "url": url, "title": extra.join(" · "), "extra": "" }),
                    }
                })
                .collect();
            let label = format!(
                "{} ({})",
                meta::collection_label(spec, other, ctx.lang),
                meta::field_label(f, fname, ctx.lang)
            );
            out.push(json!({ "name": format!("{other}.{fname}"), "label": label, "rows": rows, "new_url": new_url }));
        }
    }
    (out, add)
}

pub(super) async fn new_form(
    mut ctx: Ctx,
    Path((cid, plugin, coll)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
) -> Page {
    ctx.enter(&cid).await?;
    let company = ctx.company()?;
    let (m, spec) = resolve(&ctx, company, &plugin, &coll)?;
    // `?customer=<id>` and the like prefill fields, so "new activity" from a deal links it.
    let params = Params::parse(raw);
    let mut values = Map::new();
    for (k, v) in &params.0 {
        if let Some(f) = spec.fields.get(k) {
            values.insert(k.clone(), fields::input_value(v, f.kind, ctx.loc()));
        }
    }
    for (name, f) in &spec.fields {
        if let (false, Some(default)) = (values.contains_key(name), &f.default) {
            values.insert(name.clone(), serde_json::to_value(default).unwrap_or(Value::Null));
        }
    }
    form_page(&ctx, m, &coll, spec, None, &values, None, StatusCode::OK).await
}

pub(super) async fn create(
    mut ctx: Ctx,
    Path((cid, plugin, coll)): Path<(String, String, String)>,
    body: Bytes,
) -> Page {
    ctx.enter(&cid).await?;
    let form = ctx.form(&body)?;
    let company = ctx.company()?;
    let (m, spec) = resolve(&ctx, company, &plugin, &coll)?;
    let data = fields::read_form(&spec.fields, &form, false, ctx.loc());
    match ctx.api.post(&data_path(company, m, &coll), Value::Object(data.clone())).await {
        Ok(created) => {
            let id = created["id"].as_str().unwrap_or_default();
            Ok(see_other(&format!("/c/{}/p/{}/d/{coll}/r/{id}?ok=created", company.id, m.plugin.name)))
        }
        Err(f) if f.status == StatusCode::FORBIDDEN => Err(ctx.fail(&f)),
        Err(f) => form_page(&ctx, m, &coll, spec, None, &data, Some(&f), StatusCode::UNPROCESSABLE_ENTITY).await,
    }
}

pub(super) async fn show(mut ctx: Ctx, Path((cid, plugin, coll, rid)): Path<(String, String, String, String)>) -> Page {
    ctx.enter(&cid).await?;
    let rid = ctx.segment(&rid)?;
    let company = ctx.company()?;
    let (m, spec) = resolve(&ctx, company, &plugin, &coll)?;
    let record = ctx.api.get(&format!("{}/{rid}", data_path(company, m, &coll))).await.map_err(|f| ctx.fail(&f))?;
    let values = record["data"].as_object().cloned().unwrap_or_default();
    form_page(&ctx, m, &coll, spec, Some(&record), &values, None, StatusCode::OK).await
}

pub(super) async fn update(
    mut ctx: Ctx,
    Path((cid, plugin, coll, rid)): Path<(String, String, String, String)>,
    body: Bytes,
) -> Page {
    ctx.enter(&cid).await?;
    let rid = ctx.segment(&rid)?;
    let form = ctx.form(&body)?;
    let company = ctx.company()?;
    let (m, spec) = resolve(&ctx, company, &plugin, &coll)?;
    let version = form.get("_version").and_then(|v| v.parse::<i64>().ok());
    let path = format!("{}/{rid}", data_path(company, m, &coll));
    let stored = ctx.api.get(&path).await.map_err(|f| ctx.fail(&f))?;
    let patch = fields::changes(&spec.fields, &form, stored["data"].as_object().unwrap_or(&Map::new()), ctx.loc());
    if patch.is_empty() {
        // Nothing changed: nothing to write, and no new version.
        return Ok(see_other(&format!("/c/{}/p/{}/d/{coll}/r/{rid}?ok=saved", company.id, m.plugin.name)));
    }
    match ctx.api.patch(&path, Value::Object(patch.clone()), version).await {
        Ok(_) => Ok(see_other(&format!("/c/{}/p/{}/d/{coll}/r/{rid}?ok=saved", company.id, m.plugin.name))),
        Err(f) if f.status == StatusCode::FORBIDDEN || f.status == StatusCode::NOT_FOUND => Err(ctx.fail(&f)),
        Err(f) => {
            // Show the record as read before the change (its current version) with what the
            // user typed on top, so a conflict can be reviewed and saved again.
            let mut values = stored["data"].as_object().cloned().unwrap_or_default();
            let mut shown = stored.clone();
            if f.status != StatusCode::CONFLICT {
                shown["version"] = version.map(Value::from).unwrap_or(stored["version"].clone());
            }
            for (k, v) in patch {
                values.insert(k, v);
            }
            form_page(&ctx, m, &coll, spec, Some(&shown), &values, Some(&f), f.status).await
        }
    }
}

pub(super) async fn delete(
    mut ctx: Ctx,
    Path((cid, plugin, coll, rid)): Path<(String, String, String, String)>,
    body: Bytes,
) -> Page {
    ctx.enter(&cid).await?;
    let rid = ctx.segment(&rid)?;
    ctx.form(&body)?;
    let company = ctx.company()?;
    let (m, _) = resolve(&ctx, company, &plugin, &coll)?;
    ctx.api.delete(&format!("{}/{rid}", data_path(company, m, &coll))).await.map_err(|f| ctx.fail(&f))?;
    Ok(see_other(&format!("/c/{}/p/{}/d/{coll}?ok=deleted", company.id, m.plugin.name)))
}
