//! Automation robots: rules kept as data, not code. A robot fires when a deal enters a stage,
//! when an event about a deal arrives, or when a deal has sat in a stage for some days; if its
//! conditions on the deal's fields hold, it runs its actions: create an activity, move the
//! deal, assign a responsible, render a document, publish an event.
//!
//! Robots run after commit, from the bus, so a robot never holds up or vetoes the change that
//! triggered it. Rules are checked when saved. Each firing is logged in `robot_run` under a
//! unique key, so a robot fires once per triggering event even when the event is delivered
//! again. Chains are loop-protected: each deal change a robot makes carries a mark of its run
//! (only a running robot may set it), the events of that change carry the mark, and a robot
//! that already acted in the chain (or a chain of [`MAX_CHAIN`] robots) is skipped and logged.

use erp_sdk::store::{self, Filter, Query, Record};
use erp_sdk::{Error, FieldError, Result, Value, events, json, serde_json};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::model::{Activity, Deal, Stage};
use crate::time;
use crate::util;

/// Most robots one chain of changes may pass through.
pub const MAX_CHAIN: usize = 4;

/// Events an `event` robot may listen to (exact names): those that name a deal.
pub const EVENTS: &[&str] = &["crm.deal.won", "crm.deal.lost", "crm.deal.stage_changed", "crm.activity.due"];

const OPS: &[&str] = &["eq", "ne", "gt", "gte", "lt", "lte", "in", "contains", "empty", "not_empty"];
const FIELDS: &[&str] = &[
    "title",
    "customer",
    "pipeline",
    "stage",
    "status",
    "amount",
    "currency",
    "responsible",
    "expected_close",
    "source",
    "lead",
];

/// `robot`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Robot {
    pub name: String,
    pub active: Option<bool>,
    pub trigger: String,
    pub stage: Option<String>,
    pub event: Option<String>,
    pub days: Option<i64>,
    pub conditions: Option<Value>,
    pub actions: Value,
}

/// `robot_run`: one firing.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Run {
    pub robot: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deal: Option<String>,
    pub key: String,
    pub trigger: String,
    pub at: String,
    pub outcome: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<Value>,
    /// Robots that acted earlier in the same chain, oldest first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Condition {
    field: String,
    op: String,
    value: Option<Value>,
}

/// One line of a robot's actions as stored and typed: the action's kind and the columns it
/// uses (the others stay empty).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct ActionLine {
    #[serde(rename = "type")]
    action: String,
    title: Option<String>,
    kind: Option<String>,
    due_in_hours: Option<i64>,
    note: Option<String>,
    stage: Option<String>,
    reason: Option<String>,
    user: Option<String>,
    strategy: Option<String>,
    template: Option<String>,
    name: Option<String>,
}

#[derive(Debug, Clone)]
enum Action {
    CreateActivity { title: String, kind: Option<String>, due_in_hours: Option<i64>, note: Option<String> },
    MoveDeal { stage: String, reason: Option<String> },
    Assign { user: Option<String>, strategy: Option<String> },
    RenderDocument { template: String },
    PublishEvent { name: String },
}

impl ActionLine {
    /// The columns this line filled, by name.
    fn filled(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        let text = |v: &Option<String>| v.as_deref().is_some_and(|t| !t.trim().is_empty());
        for (name, set) in [
            ("title", text(&self.title)),
            ("kind", text(&self.kind)),
            ("due_in_hours", self.due_in_hours.is_some()),
            ("note", text(&self.note)),
            ("stage", text(&self.stage)),
            ("reason", text(&self.reason)),
            ("user", text(&self.user)),
            ("strategy", text(&self.strategy)),
            ("template", text(&self.template)),
            ("name", text(&self.name)),
        ] {
            if set {
                out.push(name);
            }
        }
        out
    }

    /// The action this line describes; problems (a missing column, a column this action does
    /// not use) go to `errors` under `path.column`.
    fn action(self, path: &str, errors: &mut Vec<FieldError>) -> Option<Action> {
        let (uses, needs): (&[&str], &[&str]) = match self.action.as_str() {
            "create_activity" => (&["title", "kind", "due_in_hours", "note"], &["title"]),
            "move_deal" => (&["stage", "reason"], &["stage"]),
            "assign" => (&["user", "strategy"], &[]),
            "render_document" => (&["template"], &["template"]),
            "publish_event" => (&["name"], &["name"]),
            other => {
                problem(
                    errors,
                    format!("{path}.type"),
                    format!("{other:?} is not an action; use one of {}", ACTIONS.join(", ")),
                );
                return None;
            }
        };
        let filled = self.filled();
        let before = errors.len();
        for column in filled.iter().filter(|c| !uses.contains(c)) {
            problem(errors, format!("{path}.{column}"), format!("is not used by the action {}", self.action));
        }
        for column in needs.iter().filter(|c| !filled.contains(c)) {
            problem(errors, format!("{path}.{column}"), format!("is required for the action {}", self.action));
        }
        if errors.len() > before {
            return None;
        }
        Some(match self.action.as_str() {
            "create_activity" => Action::CreateActivity {
                title: self.title.unwrap_or_default(),
                kind: self.kind,
                due_in_hours: self.due_in_hours,
                note: self.note,
            },
            "move_deal" => Action::MoveDeal { stage: self.stage.unwrap_or_default(), reason: self.reason },
            "assign" => Action::Assign { user: self.user, strategy: self.strategy },
            "render_document" => Action::RenderDocument { template: self.template.unwrap_or_default() },
            _ => Action::PublishEvent { name: self.name.unwrap_or_default() },
        })
    }
}

/// The kinds of action a robot may take.
const ACTIONS: &[&str] = &["create_activity", "move_deal", "assign", "render_document", "publish_event"];

/// The actions of a robot that parse; the rest were refused when the robot was saved.
fn actions_of(robot: &Robot) -> Vec<Action> {
    let mut ignored = Vec::new();
    robot
        .actions
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| serde_json::from_value::<ActionLine>(a.clone()).ok())
        .filter_map(|line| line.action("", &mut ignored))
        .collect()
}

fn problem(errors: &mut Vec<FieldError>, field: impl Into<String>, message: impl Into<String>) {
    errors.push(FieldError { field: field.into(), message: message.into() });
}

/// The validation hook for robots: the trigger has what it needs, conditions and actions are
/// well formed and point at things that exist.
pub fn validate(after: &Value) -> Result<()> {
    let r: Robot = serde_json::from_value(after.clone()).map_err(|e| Error::invalid("robot", e.to_string()))?;
    let mut errors = Vec::new();
    let stage = match r.stage.as_deref() {
        Some(id) => match store::get::<Stage>("stage", id) {
            Ok(s) => Some(s.data),
            Err(Error::NotFound(_)) => {
                problem(&mut errors, "stage", "no such stage");
                None
            }
            Err(e) => return Err(e),
        },
        None => None,
    };
    match r.trigger.as_str() {
        "stage_entered" | "stale_in_stage" if r.stage.is_none() => {
            problem(&mut errors, "stage", "this trigger needs a stage")
        }
        "stale_in_stage" if !r.days.is_some_and(|d| (1..=365).contains(&d)) => {
            problem(&mut errors, "days", "give 1 to 365 days")
        }
        "event" => match r.event.as_deref() {
            None => problem(&mut errors, "event", "this trigger needs an event name or pattern"),
            Some(p) if !EVENTS.contains(&p) => {
                problem(&mut errors, "event", format!("must be one of {}", EVENTS.join(", ")))
            }
            Some(_) => {}
        },
        _ => {}
    }
    match r.conditions.as_ref().filter(|c| !c.is_null()) {
        None => {}
        Some(Value::Array(items)) if items.len() <= 20 => {
            for (i, c) in items.iter().enumerate() {
                let path = format!("conditions[{i}]");
                match serde_json::from_value::<Condition>(c.clone()) {
                    Err(e) => problem(&mut errors, &path, e.to_string()),
                    Ok(c) => check_condition(&c, &path, &mut errors)?,
                }
            }
        }
        Some(_) => problem(&mut errors, "conditions", "must be a list of at most 20 conditions"),
    }
    match r.actions.as_array().filter(|a| (1..=10).contains(&a.len())) {
        None => problem(&mut errors, "actions", "give 1 to 10 actions"),
        Some(items) => {
            for (i, a) in items.iter().enumerate() {
                let path = format!("actions[{i}]");
                match serde_json::from_value::<ActionLine>(a.clone()) {
                    Err(e) => problem(&mut errors, &path, e.to_string()),
                    Ok(line) => {
                        if let Some(action) = line.action(&path, &mut errors) {
                            check_action(&action, stage.as_ref(), &path, &mut errors)?;
                        }
                    }
                }
            }
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(Error::Invalid(errors)) }
}

/// One condition: a field robots know, an operator, and a value where the operator needs one;
/// a stage or pipeline named by its name or code must exist.
fn check_condition(c: &Condition, path: &str, errors: &mut Vec<FieldError>) -> Result<()> {
    if !FIELDS.contains(&c.field.as_str()) {
        problem(errors, format!("{path}.field"), format!("must be one of {}", FIELDS.join(", ")));
    }
    if !OPS.contains(&c.op.as_str()) {
        problem(errors, format!("{path}.op"), format!("must be one of {}", OPS.join(", ")));
    }
    let wanted = wanted(c);
    if matches!(c.op.as_str(), "empty" | "not_empty") {
        return Ok(());
    }
    if wanted.is_empty() {
        problem(errors, format!("{path}.value"), "is required");
        return Ok(());
    }
    let collection = match c.field.as_str() {
        "stage" => "stage",
        "pipeline" => "pipeline",
        _ => return Ok(()),
    };
    if !matches!(c.op.as_str(), "eq" | "ne" | "in") {
        return Ok(());
    }
    // A company has a few pipelines and some dozens of stages: read them once, then find each
    // value among their ids, codes and names (any case).
    let known = store::query_all::<Value>(collection, Query::new(), 2000)?;
    for w in &wanted {
        let Some(name) = w.as_str().map(str::trim) else { continue };
        let lower = name.to_lowercase();
        let found = known.iter().any(|r| {
            r.id == name
                || ["name", "code"]
                    .iter()
                    .any(|k| r.data[*k].as_str().is_some_and(|v| v.trim().to_lowercase() == lower))
        });
        if !found {
            let what = if collection == "stage" { "no stage" } else { "no pipeline" };
            problem(errors, format!("{path}.value"), format!("{what} is called {name:?}"));
        }
    }
    Ok(())
}

/// What a condition compares with: one value, a list for `in` (a JSON list, or text with the
/// values separated by commas).
fn wanted(c: &Condition) -> Vec<Value> {
    match &c.value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) if s.trim().is_empty() => Vec::new(),
        Some(Value::Array(items)) => items.clone(),
        Some(Value::String(s)) if c.op == "in" => {
            s.split(',').map(str::trim).filter(|p| !p.is_empty()).map(Value::from).collect()
        }
        Some(Value::String(s)) => vec![Value::from(s.trim())],
        Some(other) => vec![other.clone()],
    }
}

fn check_action(action: &Action, stage: Option<&Stage>, path: &str, errors: &mut Vec<FieldError>) -> Result<()> {
    match action {
        Action::CreateActivity { title, kind, due_in_hours, .. } => {
            if title.trim().is_empty() || title.chars().count() > 300 {
                problem(errors, format!("{path}.title"), "give a title of 1 to 300 characters");
            }
            if kind.as_deref().is_some_and(|k| !matches!(k, "call" | "meeting" | "task")) {
                problem(errors, format!("{path}.kind"), "must be call, meeting or task");
            }
            if due_in_hours.is_some_and(|h| !(0..=8760).contains(&h)) {
                problem(errors, format!("{path}.due_in_hours"), "must be 0 to 8760");
            }
        }
        Action::MoveDeal { stage: target, reason } => match store::get::<Stage>("stage", target) {
            Ok(t) => {
                if stage.is_some_and(|s| s.pipeline != t.data.pipeline) {
                    problem(errors, format!("{path}.stage"), "is not a stage of the trigger stage's pipeline");
                }
                if t.data.outcome() == "lost" && reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
                    problem(errors, format!("{path}.reason"), "a move to a lost stage needs a reason");
                }
            }
            Err(Error::NotFound(_)) => problem(errors, format!("{path}.stage"), "no such stage"),
            Err(e) => return Err(e),
        },
        Action::Assign { user, strategy } => match (user, strategy.as_deref()) {
            (Some(u), None) if !u.trim().is_empty() => {}
            (None, Some("round_robin" | "least_loaded")) => {}
            _ => problem(errors, path, "assign needs either user, or strategy round_robin or least_loaded"),
        },
        Action::RenderDocument { template } => match store::get::<Value>("template", template) {
            Ok(_) => {}
            Err(Error::NotFound(_)) => problem(errors, format!("{path}.template"), "no such template"),
            Err(e) => return Err(e),
        },
        Action::PublishEvent { name } => {
            let ok = !name.is_empty()
                && name.len() <= 64
                && name.split('.').all(|p| {
                    !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                });
            if !ok {
                problem(errors, format!("{path}.name"), "lower-case words separated by dots, such as offer.sent");
            }
        }
    }
    Ok(())
}

fn decimal(v: &Value) -> Option<Decimal> {
    match v {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.to_string().parse().ok(),
        _ => None,
    }
}

fn compare(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (decimal(a), decimal(b)) {
        (Some(x), Some(y)) => Some(x.cmp(&y)),
        _ => match (a.as_str(), b.as_str()) {
            (Some(x), Some(y)) => Some(x.cmp(y)),
            _ => None,
        },
    }
}

/// True when every condition holds for the deal. A stage, pipeline or customer may be named
/// by its id or by what people call it (`known_as` gives its names and codes); texts compare
/// without regard to case.
fn holds(conditions: Option<&Value>, deal: &Value, known_as: &dyn Fn(&str) -> Vec<Value>) -> bool {
    use std::cmp::Ordering::{Equal, Greater, Less};
    let Some(items) = conditions.and_then(Value::as_array) else { return true };
    let lower = |v: &Value| v.as_str().map(|s| s.trim().to_lowercase());
    items.iter().filter_map(|c| serde_json::from_value::<Condition>(c.clone()).ok()).all(|c| {
        let v = deal.get(&c.field).cloned().unwrap_or(Value::Null);
        let want = wanted(&c);
        let empty = v.is_null() || v.as_str().is_some_and(str::is_empty);
        // What the field's record is called, read once per condition and only when needed.
        let names = std::cell::OnceCell::new();
        let same = |w: &Value| {
            if compare(&v, w) == Some(Equal) || &v == w || (lower(&v).is_some() && lower(&v) == lower(w)) {
                return true;
            }
            let names: &Vec<Value> = names.get_or_init(|| known_as(&c.field));
            lower(w).is_some_and(|w| names.iter().any(|name| lower(name).as_deref() == Some(w.as_str())))
        };
        let first = want.first().cloned().unwrap_or(Value::Null);
        match c.op.as_str() {
            "empty" => empty,
            "not_empty" => !empty,
            "eq" | "in" => want.iter().any(same),
            "ne" => !want.iter().any(same),
            "gt" => compare(&v, &first) == Some(Greater),
            "gte" => compare(&v, &first).is_some_and(|o| o != Less),
            "lt" => compare(&v, &first) == Some(Less),
            "lte" => compare(&v, &first).is_some_and(|o| o != Greater),
            "contains" => match lower(&v) {
                Some(x) => want.iter().filter_map(lower).any(|y| x.contains(&y)),
                None => false,
            },
            _ => false,
        }
    })
}

/// What people call the record a deal's `field` points at (its name, a stage's code).
fn names_of(deal: &Value, field: &str) -> Vec<Value> {
    let (collection, keys): (&str, &[&str]) = match field {
        "stage" => ("stage", &["name", "code"]),
        "pipeline" => ("pipeline", &["name"]),
        "customer" => ("customer", &["name"]),
        _ => return Vec::new(),
    };
    match deal[field].as_str().map(|id| store::get::<Value>(collection, id)) {
        Some(Ok(r)) => keys.iter().map(|k| r.data[*k].clone()).collect(),
        _ => Vec::new(),
    }
}

/// The run a change mark (`<run id>:<n>`) belongs to.
fn run_of(mark: &str) -> &str {
    mark.split(':').next().unwrap_or_default()
}

/// True when `mark` is the mark of a run that is acting on `deal` right now: the only way a
/// deal's `robot_run` may change.
pub fn is_running_for(mark: &str, deal: &str) -> Result<bool> {
    match store::get::<Run>("robot_run", run_of(mark)) {
        Ok(r) => Ok(r.data.outcome == "running" && r.data.deal.as_deref() == Some(deal)),
        Err(Error::NotFound(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Where a change stands in a chain of robot actions: the robots that already acted.
pub fn chain_of(mark: Option<&str>) -> Result<Vec<String>> {
    let Some(mark) = mark else { return Ok(Vec::new()) };
    let r = match store::get::<Run>("robot_run", run_of(mark)) {
        Ok(r) => r,
        Err(Error::NotFound(_)) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut chain: Vec<String> = r
        .data
        .chain
        .as_ref()
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    chain.push(r.data.robot);
    Ok(chain)
}

fn active(trigger: &str) -> Result<Vec<Record<Robot>>> {
    Ok(util::all::<Robot>("robot", Filter::eq("trigger", trigger))?
        .into_iter()
        .filter(|r| r.data.active != Some(false))
        .collect())
}

/// The `robots` handler (after commit): `crm.deal.created` and `crm.deal.stage_changed` fire
/// the `stage_entered` robots of the stage entered; every event in [`EVENTS`] fires the
/// `event` robots listening to it.
pub fn on_event(event: &erp_sdk::Event, payload: &Value) -> Result<()> {
    let deal_id = if event.name.starts_with("crm.deal.") { payload["id"].as_str() } else { payload["deal"].as_str() };
    let Some(deal_id) = deal_id else { return Ok(()) };
    let entered = match event.name.as_str() {
        "crm.deal.created" => payload["after"]["stage"].as_str(),
        "crm.deal.stage_changed" => payload["to_stage"].as_str(),
        _ => None,
    };
    let mut robots: Vec<(Record<Robot>, &str)> = Vec::new();
    if let Some(stage) = entered {
        robots.extend(
            active("stage_entered")?
                .into_iter()
                .filter(|r| r.data.stage.as_deref() == Some(stage))
                .map(|r| (r, "stage_entered")),
        );
    }
    robots.extend(
        active("event")?
            .into_iter()
            .filter(|r| r.data.event.as_deref() == Some(event.name.as_str()))
            .map(|r| (r, "event")),
    );
    if robots.is_empty() {
        return Ok(());
    }
    let deal = match store::get::<Deal>("deal", deal_id) {
        Ok(d) => d,
        Err(Error::NotFound(_)) => return Ok(()),
        Err(e) => return Err(e),
    };
    let mark = payload["robot_run"].as_str().or_else(|| payload["after"]["robot_run"].as_str());
    let chain = chain_of(mark)?;
    let data = deal_json(&deal)?;
    for (robot, kind) in robots {
        let trigger = if kind == "event" { format!("event {}", event.name) } else { "stage entered".to_string() };
        fire(&robot, deal_id, &data, &format!("{}:{}", robot.id, event.id), &trigger, &chain)?;
    }
    Ok(())
}

/// The `robots` schedule: deals that sat in a stage for a robot's days.
pub fn on_schedule() -> Result<()> {
    let now = time::now();
    for robot in active("stale_in_stage")? {
        let (Some(stage), Some(days)) = (robot.data.stage.clone(), robot.data.days) else { continue };
        // The open stays in the stage: the plugin writes them, so their entry time is true.
        let stays = util::all::<crate::model::Stay>("deal_stage", Filter::eq("stage", stage.as_str()))?;
        for stay in stays.into_iter().filter(|s| s.data.left_at.is_none()) {
            let Some(since) = time::parse(&stay.data.entered_at) else { continue };
            if (now - since).num_days() < days {
                continue;
            }
            let d = match store::get::<Deal>("deal", &stay.data.deal) {
                Ok(d) if d.data.status() == "open" => d,
                Ok(_) | Err(Error::NotFound(_)) => continue,
                Err(e) => return Err(e),
            };
            let data = deal_json(&d)?;
            fire(&robot, &d.id, &data, &format!("{}:{}", robot.id, stay.id), &format!("{days} days in stage"), &[])?;
        }
    }
    Ok(())
}

fn deal_json(d: &Record<Deal>) -> Result<Value> {
    let mut v = serde_json::to_value(&d.data)?;
    v["id"] = json!(d.id);
    Ok(v)
}

/// Fires one robot for one deal, once per `key`: checks the chain and the conditions, runs
/// the actions, logs the run. A failing action is logged, never vetoes the change that
/// triggered the robot.
fn fire(robot: &Record<Robot>, deal_id: &str, deal: &Value, key: &str, trigger: &str, chain: &[String]) -> Result<()> {
    if util::first::<Run>("robot_run", Query::new().filter(Filter::eq("key", key)))?.is_some() {
        return Ok(()); // this trigger was already handled
    }
    if !holds(robot.data.conditions.as_ref(), deal, &|field| names_of(deal, field)) {
        return Ok(());
    }
    let at = time::format(time::now());
    let base = Run {
        robot: robot.id.clone(),
        deal: Some(deal_id.to_string()),
        key: key.to_string(),
        trigger: trigger.to_string(),
        at,
        outcome: "running".into(),
        detail: None,
        chain: Some(json!(chain)),
    };
    if chain.contains(&robot.id) || chain.len() >= MAX_CHAIN {
        let why = if chain.contains(&robot.id) {
            format!("loop: robot {} already acted in this chain", robot.data.name)
        } else {
            format!("chain of {} robots is the most allowed", chain.len())
        };
        store::create("robot_run", &Run { outcome: "skipped".into(), detail: Some(json!({ "reason": why })), ..base })?;
        return Ok(());
    }
    let run = store::create("robot_run", &base)?;
    let actions = actions_of(&robot.data);
    let mut results = Vec::new();
    let mut failed = false;
    for (n, action) in actions.iter().enumerate() {
        // Each change gets its own mark, so the next change of the same run is seen as new.
        let mark = format!("{}:{n}", run.id);
        match act(action, robot, &run.id, &mark, deal_id, deal) {
            Ok(v) => results.push(json!({ "ok": v })),
            Err(e) => {
                failed = true;
                results.push(json!({ "error": error_text(&e) }));
                break;
            }
        }
    }
    let outcome = if failed { "failed" } else { "done" };
    store::update::<Value>(
        "robot_run",
        &run.id,
        &json!({ "outcome": outcome, "detail": { "actions": results } }),
        None,
    )?;
    Ok(())
}

fn error_text(e: &Error) -> String {
    match e {
        Error::Invalid(fields) => {
            fields.iter().map(|f| format!("{}: {}", f.field, f.message)).collect::<Vec<_>>().join("; ")
        }
        other => format!("{other:?}"),
    }
}

fn act(action: &Action, robot: &Record<Robot>, run: &str, mark: &str, deal_id: &str, deal: &Value) -> Result<Value> {
    match action {
        Action::CreateActivity { title, kind, due_in_hours, note } => {
            let due = time::now() + chrono::TimeDelta::hours(due_in_hours.unwrap_or(24));
            let a = store::create(
                "activity",
                &Activity {
                    kind: Some(kind.clone().unwrap_or_else(|| "task".into())),
                    title: title.clone(),
                    due_at: time::format(due),
                    responsible: deal["responsible"].as_str().map(str::to_string),
                    customer: deal["customer"].as_str().map(str::to_string),
                    deal: Some(deal_id.to_string()),
                    note: note.clone(),
                    ..Activity::default()
                },
            )?;
            Ok(json!({ "activity": a.id }))
        }
        Action::MoveDeal { stage, reason } => {
            let target = store::get::<Stage>("stage", stage)?;
            let now = time::format(time::now());
            let outcome = target.data.outcome().to_string();
            let mut patch = json!({ "stage": stage, "status": outcome, "stage_since": now, "robot_run": mark });
            patch["closed_at"] = if outcome == "open" { Value::Null } else { json!(now) };
            patch["lost_reason"] = if outcome == "lost" { json!(reason) } else { Value::Null };
            store::update::<Value>("deal", deal_id, &patch, None)?;
            Ok(json!({ "moved_to": stage }))
        }
        Action::Assign { user, strategy } => {
            let who = match (user, strategy.as_deref()) {
                (Some(u), _) => Some(u.clone()),
                (None, Some(s)) => crate::inbox::assign_with(s)?,
                (None, None) => None,
            };
            let Some(who) = who else { return Err(Error::Failed("nobody to assign: no active manager".into())) };
            store::update::<Value>("deal", deal_id, &json!({ "responsible": who, "robot_run": mark }), None)?;
            Ok(json!({ "responsible": who }))
        }
        Action::RenderDocument { template } => {
            let id = crate::documents::render_for(template, Some(deal_id), None, true, None)?.id;
            Ok(json!({ "document": id }))
        }
        Action::PublishEvent { name } => {
            let full = format!("crm.robot.{name}");
            let id = events::publish(
                &full,
                &json!({ "robot": robot.id, "robot_name": robot.data.name, "deal": deal_id, "run": run }),
            )?;
            Ok(json!({ "event": full, "id": id }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions() {
        let deal = json!({ "amount": "150000.00", "source": "yandex", "title": "Стулья для офиса", "customer": null });
        let names = |field: &str| {
            if field == "stage" { vec![json!("Переговоры"), json!("talks")] } else { Vec::new() }
        };
        let c = |v: Value| holds(Some(&v), &deal, &names);
        assert!(c(json!([{ "field": "amount", "op": "gte", "value": "100000" }])));
        assert!(!c(json!([{ "field": "amount", "op": "gt", "value": 150000 }])));
        assert!(c(json!([{ "field": "source", "op": "in", "value": ["google", "yandex"] }])));
        assert!(c(json!([{ "field": "title", "op": "contains", "value": "СТУЛЬЯ" }])));
        assert!(c(json!([{ "field": "customer", "op": "empty" }])));
        assert!(!c(
            json!([{ "field": "source", "op": "eq", "value": "yandex" }, { "field": "amount", "op": "lt", "value": "10" }])
        ));
        assert!(holds(None, &deal, &names));
        // As typed in a form: text values, a list separated by commas, names instead of ids.
        assert!(c(json!([{ "field": "source", "op": "in", "value": "google, Yandex" }])));
        assert!(!c(json!([{ "field": "source", "op": "ne", "value": "YANDEX" }])));
        let staged = json!({ "stage": "0190a4b2-0000-7000-8000-000000000001" });
        let on_stage = |v: &str| holds(Some(&json!([{ "field": "stage", "op": "eq", "value": v }])), &staged, &names);
        assert!(on_stage("переговоры") && on_stage("talks") && on_stage("0190a4b2-0000-7000-8000-000000000001"));
        assert!(!on_stage("Won"));
    }

    #[test]
    fn an_action_line_uses_its_own_columns_only() {
        let line = |v: Value| serde_json::from_value::<ActionLine>(v).unwrap();
        let mut errors = Vec::new();
        let a = line(json!({ "type": "create_activity", "title": "Позвонить", "due_in_hours": 4 }))
            .action("actions[0]", &mut errors);
        assert!(matches!(a, Some(Action::CreateActivity { due_in_hours: Some(4), .. })) && errors.is_empty());
        let a = line(json!({ "type": "move_deal", "title": "x" })).action("actions[1]", &mut errors);
        assert!(a.is_none());
        let named: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(named, ["actions[1].title", "actions[1].stage"]);
        errors.clear();
        assert!(line(json!({ "type": "teleport" })).action("actions[2]", &mut errors).is_none());
        assert_eq!(errors[0].field, "actions[2].type");
    }

    #[test]
    fn robots_listen_to_deal_events_only() {
        assert!(EVENTS.iter().all(|e| !e.starts_with("crm.robot.")), "robots never react to robots' events");
        assert_eq!(run_of("01a2:3"), "01a2");
    }
}
