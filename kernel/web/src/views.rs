//! The start page, the company switcher, and the kanban and calendar views of collections.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery};
use axum::http::StatusCode;
use chrono::{Datelike, Duration, Months, NaiveDate};
use serde_json::{Value, json};

use super::client::Failure;
use super::records::{Params, coll_model, resolve};
use super::{Ctx, Page, fields, format, meta, see_other};
use erp_kernel::plugins::manifest::FieldType;

/// Cards per kanban board.
const BOARD_CARDS: u32 = 300;
/// Entries per calendar month.
const CALENDAR_ITEMS: u32 = 500;

/// `/`: the first company of the user.
pub(super) async fn root(ctx: Ctx) -> Page {
    match ctx.me["companies"].as_array().and_then(|c| c.first()).and_then(|c| c["id"].as_str()) {
        Some(id) => Ok(see_other(&format!("/c/{id}"))),
        None => Ok(ctx.render("home.html", json!({}))),
    }
}

/// A page of a company that does not exist (a mistyped or outdated link): the UI's own "not
/// found" page, not the API's JSON.
pub(super) async fn not_found(mut ctx: Ctx) -> Page {
    let company = ctx.path.strip_prefix("/c/").and_then(|rest| rest.split('/').next()).map(str::to_string);
    if let Some(cid) = company {
        // Inside a company the page keeps its navigation when the user belongs to it.
        let _ = ctx.enter(&cid).await;
    }
    Err(ctx.fail(&Failure { status: StatusCode::NOT_FOUND, ..Failure::internal(ctx.t("not_found")) }))
}

pub(super) async fn switch_company(ctx: Ctx, RawQuery(raw): RawQuery) -> Page {
    let params = Params::parse(raw);
    let wanted = params.get("company").unwrap_or_default();
    let member = ctx.me["companies"].as_array().into_iter().flatten().any(|c| c["id"].as_str() == Some(wanted));
    if !member {
        return Err(ctx.fail(&Failure { status: StatusCode::NOT_FOUND, ..Failure::internal(ctx.t("not_found")) }));
    }
    Ok(see_other(&format!("/c/{wanted}")))
}

/// The kanban board: one lane per stage, cards movable by form or by drag and drop.
pub(super) async fn board(
    mut ctx: Ctx,
    Path((cid, plugin, coll)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
) -> Page {
    ctx.enter(&cid).await?;
    let back = ctx.path.clone();
    board_page(&ctx, &plugin, &coll, &Params::parse(raw), &back, None).await
}

/// The board of `coll`; `back` is where its move forms return, `error` why the last move failed.
async fn board_page(
    ctx: &Ctx,
    plugin: &str,
    coll: &str,
    params: &Params,
    back: &str,
    error: Option<(StatusCode, String)>,
) -> Page {
    let coll = coll.to_string();
    let company = ctx.company()?;
    let (m, spec) = resolve(ctx, company, plugin, &coll)?;
    let view = m.views.get(&coll);
    let not_found = || ctx.fail(&Failure { status: StatusCode::NOT_FOUND, ..Failure::internal(ctx.t("not_found")) });
    let stage_field = view.and_then(|v| v.stage_field.clone()).ok_or_else(not_found)?;
    let stage_spec = spec.fields.get(&stage_field).ok_or_else(not_found)?;
    let query_path = format!("/api/v1/companies/{}/data/{}/{coll}/query", company.id, m.plugin.name);

    // Lanes: an enum's values, or the records of the referenced collection. When those belong
    // to a group the cards also point at (stages of a pipeline), one group is shown at a time.
    let mut lanes: Vec<(String, String)> = Vec::new();
    let mut groups = Vec::new();
    let mut group = None;
    let mut group_label = String::new();
    let mut filter = None;
    if stage_spec.kind == FieldType::Enum {
        lanes = stage_spec
            .values
            .iter()
            .map(|v| (v.clone(), format::field(&Value::from(v.as_str()), Some(stage_spec), ctx.loc())))
            .collect();
    } else if let Some(target) = &stage_spec.to {
        let tspec = m.collections.get(target).ok_or_else(not_found)?;
        // A field of the stages and a field of the cards that point at the same collection,
        // preferring fields of the same name (`pipeline` on both).
        let pairs: Vec<(String, String, String)> = tspec
            .fields
            .iter()
            .filter_map(|(gf, f)| {
                let to = f.to.as_ref().filter(|_| f.kind == FieldType::Ref)?;
                let (cf, _) = spec.fields.iter().find(|(cf, c)| {
                    c.kind == FieldType::Ref
                        && c.to.as_ref() == Some(to)
                        && (*cf == gf || !spec.fields.contains_key(gf))
                })?;
                Some((gf.clone(), cf.clone(), to.clone()))
            })
            .collect();
        let grouping = pairs.iter().find(|(g, c, _)| g == c).or(pairs.first()).cloned();
        let mut lane_filter = None;
        if let Some((stage_group_field, card_group_field, group_coll)) = grouping {
            let options = fields::options(ctx, m, &group_coll, None, None).await.map_err(|f| ctx.fail(&f))?;
            let preferred = default_record(ctx, m, &group_coll).await;
            let chosen = params
                .get("group")
                .map(str::to_string)
                .or(preferred)
                .or_else(|| options.first().map(|(id, _)| id.clone()));
            if let Some(g) = &chosen {
                lane_filter = Some(json!({ "field": stage_group_field, "op": "eq", "value": g }));
                filter = Some(json!({ "field": card_group_field, "op": "eq", "value": g }));
            }
            group_label = m
                .collections
                .get(&group_coll)
                .map(|s| meta::collection_label(s, &group_coll, ctx.lang))
                .unwrap_or_default();
            groups = options.into_iter().map(|(id, title)| json!({ "id": id, "title": title })).collect();
            group = chosen;
        }
        let mut body = json!({ "limit": 100 });
        if let Some(f) = lane_filter {
            body["filter"] = f;
        }
        let path = format!("/api/v1/companies/{}/data/{}/{target}/query", company.id, m.plugin.name);
        let found = ctx.api.post(&path, body).await.map_err(|f| ctx.fail(&f))?;
        let title = meta::title_field(m, target);
        let order = ["position", "sequence", "order"].into_iter().find(|k| tspec.fields.contains_key(*k));
        let mut items: Vec<Value> = found["items"].as_array().cloned().unwrap_or_default();
        if let Some(o) = order {
            items.sort_by_key(|r| r["data"][o].as_i64().unwrap_or(i64::MAX));
        }
        lanes = items
            .iter()
            .map(|r| (r["id"].as_str().unwrap_or_default().to_string(), fields::record_title(r, title.as_deref())))
            .collect();
    }
    let mut body = json!({ "limit": BOARD_CARDS });
    if let Some(f) = filter {
        body["filter"] = f;
    }
    let found = ctx.api.post(&query_path, body).await.map_err(|f| ctx.fail(&f))?;
    let cards: Vec<Value> = found["items"].as_array().cloned().unwrap_or_default();
    let title = meta::title_field(m, &coll);
    let extra_cols: Vec<String> = meta::default_columns(m, &coll)
        .into_iter()
        .filter(|c| {
            Some(c) != title.as_ref()
                && *c != stage_field
                && spec
                    .fields
                    .get(c)
                    .is_some_and(|f| matches!(f.kind, FieldType::Decimal | FieldType::Int | FieldType::Date))
        })
        .take(2)
        .collect();
    let columns: Vec<Value> = lanes
        .iter()
        .map(|(id, lane_title)| {
            let in_lane: Vec<Value> = cards
                .iter()
                .filter(|c| c["data"][&stage_field].as_str() == Some(id.as_str()))
                .map(|c| {
                    let extra: Vec<String> = extra_cols
                        .iter()
                        .filter_map(|k| c["data"].get(k).map(|v| format::field(v, spec.fields.get(k), ctx.loc())))
                        .collect();
                    json!({ "id": c["id"], "version": c["version"], "title": fields::record_title(c, title.as_deref()), "extra": extra.join(" · ") })
                })
                .collect();
            json!({ "id": id, "title": lane_title, "cards": in_lane })
        })
        .collect();
    let movable = match view.and_then(|v| v.move_command.as_deref()).and_then(|c| m.command(c)) {
        Some(c) => company.can(&c.permission),
        None => company.may_write(m, &coll),
    };
    let page = json!({
        "coll": coll_model(ctx, company, m, &coll, spec), "columns": columns, "movable": movable,
        "groups": groups, "group": group, "group_label": group_label,
        "error": error.as_ref().map(|(_, e)| e), "back": back,
    });
    Ok(ctx.render_status(error.map(|(s, _)| s).unwrap_or(StatusCode::OK), "board.html", page))
}

/// The record of `coll` marked as the default one (`is_default` or `default` true), if any.
async fn default_record(ctx: &Ctx, m: &erp_kernel::plugins::manifest::Manifest, coll: &str) -> Option<String> {
    let company = ctx.company.as_ref()?;
    let spec = m.collections.get(coll)?;
    let field = ["is_default", "default"]
        .into_iter()
        .find(|f| spec.fields.get(*f).is_some_and(|s| s.kind == FieldType::Bool))?;
    let path = format!("/api/v1/companies/{}/data/{}/{coll}/query", company.id, m.plugin.name);
    let found = ctx
        .api
        .post(&path, json!({ "filter": { "field": field, "op": "eq", "value": true }, "limit": 1 }))
        .await
        .ok()?;
    found["items"][0]["id"].as_str().map(str::to_string)
}

/// Moves a card: through the plugin's move command when it names one (so its rules and robots
/// run), else by changing the stage field under the card's version.
pub(super) async fn move_card(
    mut ctx: Ctx,
    Path((cid, plugin, coll, rid)): Path<(String, String, String, String)>,
    body: Bytes,
) -> Page {
    ctx.enter(&cid).await?;
    let rid = ctx.segment(&rid)?;
    let form = ctx.form(&body)?;
    let company = ctx.company()?;
    let (m, _) = resolve(&ctx, company, &plugin, &coll)?;
    let view = m.views.get(&coll);
    let Some(stage_field) = view.and_then(|v| v.stage_field.clone()) else {
        return Err(ctx.fail(&Failure { status: StatusCode::NOT_FOUND, ..Failure::internal(ctx.t("not_found")) }));
    };
    let stage = form.get("stage").unwrap_or_default();
    let version = form.get("version").and_then(|v| v.parse::<i64>().ok());
    let result = match view.and_then(|v| v.move_command.as_deref()) {
        Some(cmd) => {
            let path = format!("/api/v1/companies/{}/plugins/{}/commands/{cmd}", company.id, m.plugin.name);
            let mut input = json!({ "id": rid, stage_field.as_str(): stage });
            let takes_version = m.command(cmd).is_some_and(|c| c.input.contains_key("version"));
            if let (true, Some(v)) = (takes_version, version) {
                input["version"] = Value::from(v);
            }
            ctx.api.post(&path, input).await
        }
        None => {
            let path = format!("/api/v1/companies/{}/data/{}/{coll}/{rid}", company.id, m.plugin.name);
            ctx.api.patch(&path, json!({ stage_field.as_str(): stage }), version).await
        }
    };
    let back = super::session::local_path(form.get("back"));
    match result {
        Ok(_) => Ok(see_other(&back)),
        Err(f) if f.status == StatusCode::FORBIDDEN => Err(ctx.fail(&f)),
        Err(f) => {
            let message = if f.status == StatusCode::CONFLICT && f.code != "plugin_refused" {
                ctx.t("conflict")
            } else {
                f.message
            };
            // The board again, as it is now, with the reason; its forms return to `back`.
            let query = back.split_once('?').map(|(_, q)| q.to_string());
            board_page(&ctx, &plugin, &coll, &Params::parse(query), &back, Some((f.status, message))).await
        }
    }
}

/// A month grid with the collection's records on the days they span.
pub(super) async fn calendar(
    mut ctx: Ctx,
    Path((cid, plugin, coll)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
) -> Page {
    ctx.enter(&cid).await?;
    let company = ctx.company()?;
    let (m, spec) = resolve(&ctx, company, &plugin, &coll)?;
    let not_found = || ctx.fail(&Failure { status: StatusCode::NOT_FOUND, ..Failure::internal(ctx.t("not_found")) });
    let cal = m.views.get(&coll).and_then(|v| v.calendar.clone()).ok_or_else(not_found)?;
    let params = Params::parse(raw);
    let loc = ctx.loc();
    let today = loc.today();
    // Years 1..=9999 only, so that the month arithmetic below cannot overflow.
    let first = params
        .get("month")
        .and_then(|mo| NaiveDate::parse_from_str(&format!("{mo}-01"), "%Y-%m-%d").ok())
        .filter(|d| (1..=9999).contains(&d.year()))
        .unwrap_or_else(|| today.with_day(1).unwrap_or(today));
    let next_month = first.checked_add_months(Months::new(1)).unwrap_or(first);
    let prev_month = first.checked_sub_months(Months::new(1)).unwrap_or(first);
    let is_datetime = |f: &str| spec.fields.get(f).is_some_and(|s| s.kind == FieldType::Datetime);
    // A month of the person's days: datetimes from their local midnight.
    let bound = |d: NaiveDate, field: &str| {
        if is_datetime(field) {
            loc.utc_of(d.and_hms_opt(0, 0, 0).unwrap_or_default()).format("%Y-%m-%dT%H:%M:%SZ").to_string()
        } else {
            d.to_string()
        }
    };
    // Records starting in the month, and (with an end field) those that started earlier and
    // end in it or later; records without an end count as one day.
    let end_field = cal.end.clone().unwrap_or_else(|| cal.start.clone());
    let mut filters = vec![json!({ "and": [ { "field": cal.start, "op": "gte", "value": bound(first, &cal.start) },
                                            { "field": cal.start, "op": "lt", "value": bound(next_month, &cal.start) } ] })];
    if end_field != cal.start {
        filters.push(json!({ "and": [ { "field": cal.start, "op": "lt", "value": bound(first, &cal.start) },
                                      { "field": end_field, "op": "gte", "value": bound(first, &end_field) } ] }));
    }
    let path = format!("/api/v1/companies/{}/data/{}/{coll}/query", company.id, m.plugin.name);
    let mut items: Vec<Value> = Vec::new();
    let mut error = None;
    for filter in filters {
        match ctx.api.post(&path, json!({ "filter": filter, "limit": CALENDAR_ITEMS })).await {
            Ok(found) => items.extend(found["items"].as_array().cloned().unwrap_or_default()),
            Err(f) if f.status == StatusCode::FORBIDDEN => return Err(ctx.fail(&f)),
            Err(f) => error = Some(f.message),
        }
    }
    let title = meta::title_field(m, &coll);
    let day_of = |v: &Value| {
        let s = v.as_str()?;
        loc.local(s).map(|t| t.date()).or_else(|| NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok())
    };
    let entries: Vec<(NaiveDate, NaiveDate, Value)> = items
        .iter()
        .filter_map(|r| {
            let start = day_of(&r["data"][&cal.start])?;
            let end = day_of(&r["data"][&end_field]).unwrap_or(start).max(start);
            let entry = json!({ "title": fields::record_title(r, title.as_deref()),
                "url": format!("/c/{}/p/{}/d/{coll}/r/{}", company.id, m.plugin.name, r["id"].as_str().unwrap_or_default()) });
            Some((start, end, entry))
        })
        .collect();
    let grid_start =
        first.checked_sub_signed(Duration::days(first.weekday().num_days_from_monday() as i64)).unwrap_or(first);
    let mut weeks = Vec::new();
    let mut day = grid_start;
    while (day < next_month || weeks.is_empty()) && weeks.len() < 6 {
        let mut week = Vec::new();
        for _ in 0..7 {
            let items: Vec<&Value> =
                entries.iter().filter(|(s, e, _)| *s <= day && day <= *e).map(|(_, _, v)| v).collect();
            week.push(json!({ "day": day.day(), "in_month": day.month() == first.month(), "today": day == today, "items": items }));
            day = day.succ_opt().unwrap_or(day);
        }
        weeks.push(week);
    }
    let weekdays: Vec<&str> = if ctx.lang == "ru" {
        vec!["Пн", "Вт", "Ср", "Чт", "Пт", "Сб", "Вс"]
    } else {
        vec!["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    };
    let month_title =
        if ctx.lang == "ru" { first.format("%m.%Y").to_string() } else { first.format("%B %Y").to_string() };
    let page = json!({
        "coll": coll_model(&ctx, company, m, &coll, spec), "weeks": weeks, "weekdays": weekdays,
        "month_title": month_title, "prev": prev_month.format("%Y-%m").to_string(), "next": next_month.format("%Y-%m").to_string(),
        "error": error,
    });
    Ok(ctx.render("calendar.html", page))
}
