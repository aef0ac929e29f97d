//! The start page: each enabled plugin's `[[home]]` blocks as the person sees them (what is
//! theirs today, what waits for them, key figures), each block only where their permissions
//! reach.

use std::collections::HashMap;

use axum::extract::Path;
use chrono::{Duration, Utc};
use serde_json::{Map, Value, json};

use super::commands::{self, cell, default_input, lookup, people};
use super::format::Locale;
use super::{Ctx, Page, fields, format, meta};
use erp_kernel::plugins::manifest::{ColumnSpec, ColumnType, FieldType, HomeSpec, Manifest};

pub(super) async fn company_home(mut ctx: Ctx, Path(cid): Path<String>) -> Page {
    ctx.enter(&cid).await?;
    let company = ctx.company()?;
    let people = people(&ctx).await;
    let mut blocks = Vec::new();
    for m in &company.plugins {
        for h in &m.home {
            if let Some(b) = block(&ctx, m, h, &people).await {
                blocks.push(b);
            }
        }
    }
    Ok(ctx.render("home.html", json!({ "blocks": blocks })))
}

/// `"$me"`, `"$today"`, `"$tomorrow"`, `"$now"` and `"$end_of_today"` in a filter, replaced;
/// days are the person's days, in their time zone.
fn fill(filter: &Value, me: &str, loc: Locale) -> Value {
    let today = loc.today();
    let instant = |t: chrono::NaiveDateTime| loc.utc_of(t).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    match filter {
        Value::String(s) => match s.as_str() {
            "$me" => Value::from(me),
            "$today" => Value::from(today.to_string()),
            "$tomorrow" => Value::from((today + Duration::days(1)).to_string()),
            "$now" => Value::from(Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()),
            "$end_of_today" => {
                let midnight = (today + Duration::days(1)).and_hms_opt(0, 0, 0).unwrap_or_default();
                Value::from(instant(midnight - Duration::seconds(1)))
            }
            _ => filter.clone(),
        },
        Value::Array(items) => Value::Array(items.iter().map(|v| fill(v, me, loc)).collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), fill(v, me, loc))).collect()),
        other => other.clone(),
    }
}

/// One block, or nothing where the person may not see it or it has nothing to show.
async fn block(ctx: &Ctx, m: &Manifest, h: &HomeSpec, people: &HashMap<String, String>) -> Option<Value> {
    let company = ctx.company.as_ref()?;
    let label = h.label.text(ctx.lang);
    let limit = h.limit.unwrap_or(10).clamp(1, 50);
    if let Some(coll) = &h.collection {
        if !company.may_read(m, coll) {
            return None;
        }
        let spec = m.collections.get(coll)?;
        let me = ctx.me["id"].as_str().unwrap_or_default();
        let filter = h.filter.as_ref().map(|f| fill(f, me, ctx.loc()));
        let data = format!("/api/v1/companies/{}/data/{}/{coll}", company.id, m.plugin.name);
        let url = format!("{}/p/{}/d/{coll}", ctx.base(), m.plugin.name);
        if let Some(group) = &h.group {
            let mut metrics = vec![json!({ "op": "count" })];
            if let Some(sum) = &h.sum {
                metrics.push(json!({ "op": "sum", "field": sum, "as": "sum" }));
            }
            let mut body = json!({ "group_by": [group], "metrics": metrics });
            if let Some(f) = filter {
                body["filter"] = f;
            }
            let answer = ctx.api.post(&format!("{data}/aggregate"), body).await.ok()?;
            let groups = answer["groups"].as_array().cloned().unwrap_or_default();
            let f = spec.fields.get(group)?;
            let keys: Vec<String> =
                groups.iter().filter_map(|g| g["key"][group].as_str().map(str::to_string)).collect();
            let titles = match (f.kind, &f.to) {
                (FieldType::Ref, Some(to)) => fields::titles(ctx, m, to, &keys).await.unwrap_or_default(),
                (FieldType::User, _) => people.clone(),
                _ => HashMap::new(),
            };
            let rows: Vec<Value> = groups
                .iter()
                .map(|g| {
                    let key = &g["key"][group];
                    let name = key
                        .as_str()
                        .and_then(|k| titles.get(k).cloned())
                        .unwrap_or_else(|| format::field(key, Some(f), ctx.loc()));
                    let sum = h.sum.as_ref().map(|_| format::money(&g["values"]["sum"], ctx.loc()));
                    json!({ "title": name, "count": g["values"]["count"], "sum": sum })
                })
                .collect();
            return Some(json!({ "name": h.name, "label": label, "url": url, "groups": rows }));
        }
        let mut body = json!({ "limit": limit });
        if let Some(f) = filter {
            body["filter"] = f;
        }
        if let Some(sort) = &h.sort {
            body["sort"] = json!({ "field": sort.trim_start_matches('-'), "desc": sort.starts_with('-') });
        }
        let found = ctx.api.post(&format!("{data}/query"), body).await.ok()?;
        let items = found["items"].as_array().cloned().unwrap_or_default();
        let title = meta::title_field(m, coll);
        let extra: Vec<String> = meta::default_columns(m, coll)
            .into_iter()
            .filter(|c| Some(c) != title.as_ref() && spec.fields.get(c).is_some_and(|f| f.kind != FieldType::Ref))
            .take(2)
            .collect();
        let rows: Vec<Value> = items
            .iter()
            .map(|r| {
                let id = r["id"].as_str().unwrap_or_default();
                let extra: Vec<String> = extra
                    .iter()
                    .filter_map(|c| {
                        let v = r["data"].get(c)?;
                        let f = spec.fields.get(c)?;
                        Some(match (f.kind, v.as_str()) {
                            (FieldType::User, Some(u)) => people.get(u).cloned().unwrap_or_else(|| ctx.t("someone")),
                            _ => format::field(v, Some(f), ctx.loc()),
                        })
                    })
                    .filter(|s| !s.is_empty())
                    .collect();
                json!({ "title": fields::record_title(r, title.as_deref()), "url": format!("{url}/r/{id}"),
                        "extra": extra.join(" · "), "actions": actions(ctx, m, h, id) })
            })
            .collect();
        return Some(json!({ "name": h.name, "label": label, "url": url, "items": rows }));
    }
    let c = m.command(h.command.as_deref()?)?;
    if !c.report || !company.can(&c.permission) {
        return None;
    }
    let today = ctx.loc().today();
    let input: Map<String, Value> =
        c.input.iter().filter_map(|(n, f)| default_input(c, n, f, today).map(|v| (n.clone(), v))).collect();
    let answer = commands::run(ctx, m, c, &input).await.ok()?;
    let url = format!("{}/p/{}/cmd/{}", ctx.base(), m.plugin.name, c.name);
    if let Some(key) = &h.key {
        let value = answer.as_object().and_then(|o| lookup(o, key))?;
        let figure = ColumnSpec {
            rows: None,
            key: key.clone(),
            label: h.label.clone(),
            kind: h.kind,
            total: false,
            to: None,
            value_labels: Default::default(),
        };
        return Some(
            json!({ "name": h.name, "label": label, "url": url, "figure": cell(ctx, &figure, value, None, people) }),
        );
    }
    let rows_path = h.rows.as_deref()?;
    let list = if rows_path.is_empty() { Some(&answer) } else { answer.as_object().and_then(|o| lookup(o, rows_path)) };
    let items = list.and_then(Value::as_array).cloned().unwrap_or_default();
    let columns: Vec<&ColumnSpec> = c.columns.iter().filter(|col| col.rows.as_deref() == Some(rows_path)).collect();
    let rows: Vec<Value> = items
        .iter()
        .filter_map(Value::as_object)
        .take(limit as usize)
        .map(|item| {
            let texts: Vec<String> = columns
                .iter()
                .filter(|col| col.kind != ColumnType::Ref)
                .filter_map(|col| lookup(item, &col.key).map(|v| cell(ctx, col, v, None, people)))
                .filter(|s| !s.is_empty())
                .collect();
            let id = item.get("id").and_then(Value::as_str).unwrap_or_default();
            let (title, extra) = texts.split_first().map(|(t, e)| (t.clone(), e.join(" · "))).unwrap_or_default();
            json!({ "title": title, "extra": extra, "actions": actions(ctx, m, h, id) })
        })
        .collect();
    Some(json!({ "name": h.name, "label": label, "url": url, "items": rows }))
}

/// The buttons of one listed item: each action's command with the item in its ref input.
fn actions(ctx: &Ctx, m: &Manifest, h: &HomeSpec, id: &str) -> Vec<Value> {
    let Some(company) = ctx.company.as_ref() else { return Vec::new() };
    if id.is_empty() {
        return Vec::new();
    }
    h.actions
        .iter()
        .filter_map(|a| {
            let c = m.command(&a.command).filter(|c| company.can(&c.permission))?;
            let (arg, _) = c.input.iter().find(|(_, f)| {
                f.kind == FieldType::Ref && f.required && (h.collection.is_none() || f.to == h.collection)
            })?;
            let mut inputs: Vec<Value> = vec![json!({ "name": arg, "value": id })];
            for (k, v) in &a.input {
                let text = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                inputs.push(json!({ "name": k, "value": text }));
                if matches!(v, Value::Bool(_)) {
                    inputs.push(json!({ "name": "__present", "value": k }));
                }
            }
            Some(json!({ "label": a.label.text(ctx.lang), "action": format!("{}/p/{}/cmd/{}", ctx.base(), m.plugin.name, c.name),
                         "inputs": inputs }))
        })
        .collect()
}
