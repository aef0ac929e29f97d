//! The sales funnel: pipelines of ordered stages, deals moving between them under the
//! pipeline's rules, the stage history, and the events other plugins react to.
//!
//! The rules live in the validation hook, so they hold for the `move-deal` command and for a
//! plain update through the REST API alike; the history and the events come from a
//! synchronous subscription to this plugin's own `deal` record events, in the same
//! transaction as the change.

use erp_sdk::store::{self, Filter, Query};
use erp_sdk::{Error, FieldError, Result, Value, events, json, serde_json};
use rust_decimal::Decimal;
use serde::Deserialize;

use crate::model::{Deal, Entry, Stage, Stay};
use crate::time;
use crate::util;

fn stage(id: &str, field: &str) -> Result<Stage> {
    match store::get::<Stage>("stage", id) {
        Ok(s) => Ok(s.data),
        Err(Error::NotFound(_)) => Err(Error::invalid(field, "no such stage")),
        Err(e) => Err(e),
    }
}

/// Codes of the stages a stage may be left for; `None` when any stage of the pipeline will do.
fn allowed_next(s: &Stage) -> Result<Option<Vec<String>>> {
    match &s.next {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => Ok(Some(items.iter().filter_map(Value::as_str).map(str::to_string).collect())),
        Some(_) => Err(Error::invalid("next", "must be a list of stage codes")),
    }
}

/// The validation hook for stages: probability 0-100, `next` a list of codes, code unique in
/// its pipeline.
pub fn validate_stage(record_id: &str, after: &Value) -> Result<()> {
    let s: Stage = serde_json::from_value(after.clone()).map_err(|e| Error::invalid("stage", e.to_string()))?;
    let mut errors = Vec::new();
    if !(0..=100).contains(&s.probability.unwrap_or(0)) {
        errors.push(FieldError { field: "probability".into(), message: "must be between 0 and 100".into() });
    }
    if let Some(next) = &s.next
        && !next.is_null()
        && !next.as_array().is_some_and(|a| a.iter().all(Value::is_string))
    {
        errors.push(FieldError { field: "next".into(), message: "must be a list of stage codes".into() });
    }
    let same = util::all::<Stage>("stage", Filter::eq("pipeline", s.pipeline.as_str()))?;
    if same.iter().any(|o| o.id != record_id && o.data.code == s.code) {
        errors.push(FieldError { field: "code".into(), message: format!("{} is taken in this pipeline", s.code) });
    }
    if errors.is_empty() { Ok(()) } else { Err(Error::Invalid(errors)) }
}

/// The validation hook for deals: the stage belongs to the pipeline, the status matches the
/// stage's outcome, a new deal starts in an open stage, a move follows the allowed
/// transitions (a move to another pipeline lands in an open stage of it), a lost deal has a
/// reason, the close time follows the status, and only a running robot marks its changes.
pub fn validate_deal(record_id: &str, before: Option<&Value>, after: &Value) -> Result<()> {
    let d: Deal = serde_json::from_value(after.clone()).map_err(|e| Error::invalid("deal", e.to_string()))?;
    let target = stage(&d.stage, "stage")?;
    let mut errors = Vec::new();
    if target.pipeline != d.pipeline {
        errors.push(FieldError { field: "stage".into(), message: "is not a stage of the deal's pipeline".into() });
    }
    if d.status() != target.outcome() {
        errors.push(FieldError {
            field: "status".into(),
            message: format!(
                "must be {} in stage {} (move deals with the move-deal command to have it set)",
                target.outcome(),
                target.name
            ),
        });
    }
    if d.status() == "lost" && d.lost_reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
        errors.push(FieldError { field: "lost_reason".into(), message: "a lost deal needs a reason".into() });
    }
    if let Some(a) = d.amount.as_deref().and_then(|a| a.parse::<Decimal>().ok())
        && a < Decimal::ZERO
    {
        errors.push(FieldError { field: "amount".into(), message: "must not be negative".into() });
    }
    if let Some(lines) = &d.lines {
        check_lines(lines, &mut errors);
    }
    let old: Option<Deal> = match before {
        Some(b) => Some(serde_json::from_value(b.clone()).map_err(|e| Error::invalid("deal", e.to_string()))?),
        None => None,
    };
    let moved_pipeline = old.as_ref().is_some_and(|o| o.pipeline != d.pipeline);
    if (old.is_none() || moved_pipeline) && target.outcome() != "open" {
        errors.push(FieldError {
            field: "stage".into(),
            message: "a deal starts in an open stage of its pipeline; move it to close it".into(),
        });
    }
    check_close_time(old.as_ref(), &d, &mut errors);
    if d.robot_run.is_some() && d.robot_run != old.as_ref().and_then(|o| o.robot_run.clone()) {
        let mark = d.robot_run.as_deref().unwrap_or_default();
        if !crate::robots::is_running_for(mark, record_id)? {
            errors.push(FieldError { field: "robot_run".into(), message: "is set by robots only".into() });
        }
    }
    if let Some(old) = &old
        && old.stage != d.stage
        && old.pipeline == d.pipeline
    {
        let from = stage(&old.stage, "stage")?;
        if let Some(allowed) = allowed_next(&from)?
            && !allowed.contains(&target.code)
        {
            errors.push(FieldError {
                field: "stage".into(),
                message: format!(
                    "cannot move from {} to {}; allowed: {}",
                    from.name,
                    target.name,
                    if allowed.is_empty() { "none".to_string() } else { allowed.join(", ") }
                ),
            });
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(Error::Invalid(errors)) }
}

/// `closed_at` is set when a deal closes (not in the future), cleared when it reopens, and
/// otherwise left alone, so that period reports can trust it.
fn check_close_time(old: Option<&Deal>, d: &Deal, errors: &mut Vec<FieldError>) {
    let was = old.map(Deal::status).unwrap_or("open");
    let mut problem = |m: &str| errors.push(FieldError { field: "closed_at".into(), message: m.into() });
    match (was == d.status(), d.status()) {
        (false, "won" | "lost") => match d.closed_at.as_deref().and_then(time::parse) {
            None => problem("a closing deal needs its close time (move-deal sets it)"),
            Some(t) if t > time::plus_minutes(time::now(), 5) => problem("is in the future"),
            Some(_) => {}
        },
        (false, _) if d.closed_at.is_some() => problem("a reopened deal has no close time"),
        (true, _) if old.is_some_and(|o| o.closed_at != d.closed_at) => {
            problem("changes only when the deal closes or reopens")
        }
        _ => {}
    }
}

/// Deal lines: `[{"product", "name", "quantity", "price"}]` with positive quantities.
fn check_lines(lines: &Value, errors: &mut Vec<FieldError>) {
    let Some(items) = lines.as_array() else {
        errors.push(FieldError { field: "lines".into(), message: "must be a list".into() });
        return;
    };
    for (i, l) in items.iter().enumerate() {
        let dec = |k: &str| {
            l[k].as_str().and_then(|s| s.parse::<Decimal>().ok()).or_else(|| l[k].as_i64().map(Decimal::from))
        };
        if l["product"].as_str().is_none_or(|p| p.trim().is_empty()) {
            errors.push(FieldError { field: format!("lines[{i}].product"), message: "is required".into() });
        }
        if dec("quantity").is_none_or(|q| q <= Decimal::ZERO) {
            errors.push(FieldError {
                field: format!("lines[{i}].quantity"),
                message: "must be a positive number".into(),
            });
        }
        if dec("price").is_none_or(|p| p < Decimal::ZERO) {
            errors.push(FieldError {
                field: format!("lines[{i}].price"),
                message: "must be a number, not negative".into(),
            });
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Move {
    id: String,
    stage: String,
    reason: Option<String>,
    version: Option<u64>,
    /// When the move happened, for history entered afterwards; now when absent.
    at: Option<String>,
}

/// `move-deal`: to another stage; status, close time and reason follow the stage.
pub fn move_deal(input: Value) -> Result<Value> {
    let m: Move = util::input(input)?;
    let deal = store::get::<Deal>("deal", &m.id)?;
    if !util::may_see_deal(deal.data.responsible.as_deref()) {
        return Err(Error::not_found(format!("deal {}", m.id)));
    }
    if deal.data.stage == m.stage {
        return Err(Error::invalid("stage", "the deal is already in this stage"));
    }
    let target = stage(&m.stage, "stage")?;
    let now = match m.at.as_deref() {
        None => time::format(time::now()),
        Some(at) => {
            let t = time::parse(at).ok_or_else(|| Error::invalid("at", "is not an RFC 3339 time"))?;
            if t > time::plus_minutes(time::now(), 5) {
                return Err(Error::invalid("at", "is in the future"));
            }
            if deal.data.stage_since.as_deref().and_then(time::parse).is_some_and(|since| t < since) {
                return Err(Error::invalid("at", "is before the deal entered its current stage"));
            }
            time::format(t)
        }
    };
    let outcome = target.outcome().to_string();
    let mut patch = json!({ "stage": m.stage, "status": outcome, "stage_since": now });
    match outcome.as_str() {
        "open" => {
            patch["closed_at"] = Value::Null;
            patch["lost_reason"] = Value::Null;
        }
        "won" => {
            patch["closed_at"] = json!(now);
            patch["lost_reason"] = Value::Null;
        }
        _ => {
            patch["closed_at"] = json!(now);
            patch["lost_reason"] = json!(m.reason.as_deref().map(str::trim).filter(|r| !r.is_empty()));
        }
    }
    let updated = store::update::<Deal>("deal", &m.id, &patch, Some(m.version.unwrap_or(deal.version)))?;
    Ok(util::shown("deal", &updated, true))
}

/// The first open stage of a pipeline.
pub fn first_stage(pipeline: &str) -> Result<Option<(String, Stage)>> {
    let q = Query::new().filter(Filter::eq("pipeline", pipeline)).sort_asc("position").limit(200);
    Ok(store::query::<Stage>("stage", &q)?
        .records
        .into_iter()
        .find(|s| s.data.outcome() == "open")
        .map(|s| (s.id, s.data)))
}

/// The company's default pipeline: the one marked default, or the first.
pub fn default_pipeline() -> Result<Option<String>> {
    let all = util::all::<crate::model::Pipeline>("pipeline", Filter::ne("name", ""))?;
    Ok(all.iter().find(|p| p.data.is_default == Some(true)).or(all.first()).map(|p| p.id.clone()))
}

/// The synchronous handler of this plugin's own `crm.deal.created` and `crm.deal.updated`:
/// keeps the stage history, writes the customer's timeline and publishes the funnel events.
pub fn on_deal_changed(event: &erp_sdk::Event, payload: &Value) -> Result<()> {
    // Robots run after commit, from `crm.deal.created` and `crm.deal.stage_changed`.
    let (event_name, actor) = (event.name.as_str(), event.actor.as_deref());
    let Some(id) = payload["id"].as_str() else { return Ok(()) };
    let after: Deal = serde_json::from_value(payload["after"].clone()).map_err(|e| Error::Failed(e.to_string()))?;
    let before: Option<Deal> = match payload.get("before") {
        Some(b) if event_name.ends_with(".updated") => {
            Some(serde_json::from_value(b.clone()).map_err(|e| Error::Failed(e.to_string()))?)
        }
        _ => None,
    };
    if before.as_ref().is_some_and(|b| b.stage == after.stage) {
        return Ok(());
    }
    // The moment of the change: the deal's new `stage_since` where the change set one (a move
    // entered afterwards, a deal created with its history), never later than now.
    let now_t = time::now();
    let since =
        after.stage_since.as_deref().filter(|s| before.as_ref().is_none_or(|b| b.stage_since.as_deref() != Some(*s)));
    let now_t = since.and_then(time::parse).filter(|t| *t <= now_t).unwrap_or(now_t);
    let now = time::format(now_t);
    // Close the open stay, open the new one.
    for s in util::all::<Stay>("deal_stage", Filter::eq("deal", id))? {
        if s.data.left_at.is_none() {
            let spent = time::parse(&s.data.entered_at).map(|t| (now_t - t).num_seconds().max(0)).unwrap_or(0);
            let patch = json!({ "left_at": now, "duration_s": spent });
            store::update::<Value>("deal_stage", &s.id, &patch, Some(s.version))?;
        }
    }
    store::create(
        "deal_stage",
        &Stay {
            deal: id.to_string(),
            pipeline: after.pipeline.clone(),
            stage: after.stage.clone(),
            entered_at: now.clone(),
            left_at: None,
            by: actor.map(str::to_string),
            responsible: after.responsible.clone(),
            amount: after.amount.clone(),
            duration_s: None,
        },
    )?;
    let to = stage(&after.stage, "stage")?;
    let from = match &before {
        Some(b) => Some(stage(&b.stage, "stage")?),
        None => None,
    };
    if let Some(customer) = &after.customer {
        // The customer's history names the stages, not the deal's title or amount: those are
        // for readers of the deal.
        let title = match &from {
            Some(f) => format!("A deal moved: {} → {}", f.name, to.name),
            None => format!("A deal opened in {}", to.name),
        };
        let title_ru = match &from {
            Some(f) => format!("Сделка перешла: {} → {}", f.name, to.name),
            None => format!("Открыта сделка на этапе «{}»", to.name),
        };
        crate::timeline::add(Entry {
            customer: customer.clone(),
            kind: "stage_change".into(),
            at: now.clone(),
            title,
            title_ru: Some(title_ru),
            ref_id: Some(id.to_string()),
            data: Some(json!({ "deal": id, "from": before.as_ref().map(|b| &b.stage), "to": after.stage })),
            ..Entry::default()
        })?;
    }
    if before.is_none() {
        return Ok(());
    }
    // A change made by a robot carries its run's mark; robots it triggers (after commit)
    // continue that chain.
    let by_robot = after.robot_run.clone().filter(|r| before.as_ref().is_none_or(|b| b.robot_run.as_ref() != Some(r)));
    let common = json!({
        "id": id, "title": after.title, "customer": after.customer, "pipeline": after.pipeline,
        "responsible": after.responsible, "amount": after.amount, "currency": after.currency,
        "robot_run": by_robot,
    });
    let mut changed = common.clone();
    changed["from_stage"] = json!(before.as_ref().map(|b| &b.stage));
    changed["to_stage"] = json!(after.stage);
    changed["to_stage_code"] = json!(to.code);
    changed["probability"] = json!(to.probability.unwrap_or(0));
    events::publish("crm.deal.stage_changed", &changed)?;
    let was = before.as_ref().map(|b| b.status().to_string()).unwrap_or_default();
    match after.status() {
        "won" if was != "won" => {
            let mut won = common;
            won["lines"] = after.lines.clone().unwrap_or_else(|| json!([]));
            won["closed_at"] = json!(after.closed_at);
            events::publish("crm.deal.won", &won)?;
        }
        "lost" if was != "lost" => {
            let mut lost = common;
            lost["reason"] = json!(after.lost_reason);
            events::publish("crm.deal.lost", &lost)?;
        }
        _ => {}
    }
    Ok(())
}
