//! Workload-based task distribution: a task goes to the present employee with its skill or
//! team who is least loaded (open estimated hours against hours available in the coming
//! days), or to the next in turn; and the workload report behind it.

use chrono::NaiveDate;
use erp_sdk::store::{self, Filter, Query, Record};
use erp_sdk::{Error, Result, Value, events, json};
use rust_decimal::Decimal;
use serde::Deserialize;

use crate::model::{Employee, Task};
use crate::{absence, calendar, people, util};

/// Validation of a task: a positive estimate, an active assignee when one is set (a task
/// of someone who has left can still be closed).
pub fn validate(before: Option<&Value>, after: &Value) -> Result<()> {
    let estimate: Decimal = after["estimate"].as_str().and_then(|s| s.parse().ok()).unwrap_or_default();
    if estimate <= Decimal::ZERO || estimate > Decimal::from(10_000) {
        return Err(Error::invalid("estimate", "must be more than 0 and at most 10000 hours"));
    }
    if let Some(a) = after["assignee"].as_str().filter(|a| before.is_none_or(|b| b["assignee"].as_str() != Some(*a))) {
        let e = store::get::<Employee>("employee", a).map_err(|_| Error::invalid("assignee", "no such employee"))?;
        if !e.data.active() {
            return Err(Error::invalid("assignee", format!("{} is not working here now", e.data.name)));
        }
    }
    Ok(())
}

/// One employee's load over a period.
struct Load {
    employee: Record<Employee>,
    open_tasks: usize,
    open_hours: Decimal,
    available: Decimal,
    absent: bool,
}

impl Load {
    /// Open hours per available hour; nothing available is an infinite load.
    fn ratio(&self) -> Option<Decimal> {
        (self.available > Decimal::ZERO).then(|| (self.open_hours / self.available).round_dp(4))
    }

    fn json(&self) -> Value {
        json!({ "employee": self.employee.id, "name": self.employee.data.name, "team": self.employee.data.team,
                "open_tasks": self.open_tasks, "open_hours": self.open_hours.normalize().to_string(),
                "available_hours": self.available.normalize().to_string(),
                "load": self.ratio().map(|r| r.normalize().to_string()), "absent_today": self.absent })
    }
}

fn load_of(e: Record<Employee>, open: &[Record<Task>], from: NaiveDate, to: NaiveDate) -> Result<Load> {
    let mine: Vec<&Record<Task>> = open.iter().filter(|t| t.data.assignee.as_deref() == Some(e.id.as_str())).collect();
    Ok(Load {
        open_tasks: mine.len(),
        open_hours: mine.iter().map(|t| t.data.estimate).sum(),
        available: calendar::available_hours(&e, from, to)?,
        absent: absence::away_today(&e.id)?,
        employee: e,
    })
}

fn horizon() -> (NaiveDate, NaiveDate) {
    let today = util::today();
    (today, today + chrono::Days::new(util::horizon_days() as u64 - 1))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Distribute {
    task: String,
    strategy: Option<String>,
}

/// `distribute`.
pub fn distribute(input: Value) -> Result<Value> {
    let d: Distribute = erp_sdk::input(input)?;
    let strategy = d.strategy.unwrap_or_else(|| "least_loaded".into());
    if !matches!(strategy.as_str(), "least_loaded" | "round_robin") {
        return Err(Error::invalid("strategy", "must be least_loaded or round_robin"));
    }
    let task = store::get::<Task>("task", &d.task).map_err(|_| Error::invalid("task", "no such task"))?;
    if task.data.state.as_deref().is_some_and(|s| s != "open") {
        return Err(Error::invalid("task", "is not open"));
    }
    if let Some(a) = &task.data.assignee {
        return Err(Error::invalid("task", format!("is already assigned to {a}")));
    }
    let fits = |e: &Employee| {
        task.data.skill.as_ref().is_none_or(|s| e.skills.as_ref().is_some_and(|k| k.contains(s)))
            && task.data.team.as_ref().is_none_or(|t| e.team.as_ref() == Some(t))
    };
    let open = util::all::<Task>("task", Filter::eq("state", "open"))?;
    let (from, to) = horizon();
    let mut loads = Vec::new();
    for e in people::active()?.into_iter().filter(|e| fits(&e.data)) {
        loads.push(load_of(e, &open, from, to)?);
    }
    let considered: Vec<Value> = loads.iter().map(Load::json).collect();
    let mut present: Vec<&Load> = loads.iter().filter(|l| !l.absent && l.ratio().is_some()).collect();
    if present.is_empty() {
        return Err(Error::invalid("task", "nobody with that skill or team is present and has hours available"));
    }
    present.sort_by(|a, b| a.employee.id.cmp(&b.employee.id));
    let chosen = match strategy.as_str() {
        "round_robin" => {
            let key = match (&task.data.skill, &task.data.team) {
                (Some(s), _) => format!("skill:{s}"),
                (None, Some(t)) => format!("team:{t}"),
                (None, None) => "all".into(),
            };
            let rot = store::first::<Value>("rotation", Query::new().filter(Filter::eq("key", key.as_str())))?;
            let last = rot.as_ref().and_then(|r| r.data["last"].as_str().map(str::to_string));
            let next =
                present.iter().find(|l| last.as_ref().is_some_and(|x| l.employee.id > *x)).or(present.first()).copied();
            let next = next.ok_or_else(|| Error::failed("no candidate"))?;
            match rot {
                Some(r) => {
                    store::update::<Value>("rotation", &r.id, &json!({ "last": next.employee.id }), Some(r.version))?
                }
                None => store::create::<Value>("rotation", &json!({ "key": key, "last": next.employee.id }))?,
            };
            next
        }
        _ => present
            .iter()
            .min_by(|a, b| (a.ratio(), a.open_hours).cmp(&(b.ratio(), b.open_hours)))
            .copied()
            .ok_or_else(|| Error::failed("no candidate"))?,
    };
    store::update::<Value>("task", &task.id, &json!({ "assignee": chosen.employee.id }), Some(task.version))?;
    let load = chosen.ratio().map(|r| r.normalize().to_string());
    events::publish(
        "hr.task.assigned",
        &json!({ "task": task.id, "title": task.data.title, "employee": chosen.employee.id,
                 "user_id": chosen.employee.data.user_id, "strategy": strategy, "load": load }),
    )?;
    Ok(
        json!({ "task": task.id, "assignee": chosen.employee.id, "name": chosen.employee.data.name, "strategy": strategy,
               "from": util::day(from), "to": util::day(to), "considered": considered }),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Workload {
    from: Option<String>,
    to: Option<String>,
    team: Option<String>,
}

/// `workload`: per employee and per team, open estimated hours against available hours.
pub fn workload(input: Value) -> Result<Value> {
    let w: Workload = erp_sdk::input(input)?;
    let (from, to) = match (w.from, w.to) {
        (Some(f), Some(t)) => util::period(&f, &t)?,
        (None, None) => horizon(),
        _ => return Err(Error::invalid("to", "give both from and to, or neither")),
    };
    let open = util::all::<Task>("task", Filter::eq("state", "open"))?;
    let mut rows = Vec::new();
    let mut teams: std::collections::BTreeMap<String, (Decimal, Decimal, usize)> = Default::default();
    for e in people::active()? {
        if w.team.as_ref().is_some_and(|t| e.data.team.as_ref() != Some(t)) {
            continue;
        }
        let l = load_of(e, &open, from, to)?;
        let team = teams.entry(l.employee.data.team.clone().unwrap_or_default()).or_default();
        team.0 += l.open_hours;
        team.1 += l.available;
        team.2 += 1;
        rows.push(l.json());
    }
    let unassigned: Decimal = open.iter().filter(|t| t.data.assignee.is_none()).map(|t| t.data.estimate).sum();
    let teams: Vec<Value> = teams
        .into_iter()
        .map(|(name, (open_hours, available, people))| {
            let load =
                (available > Decimal::ZERO).then(|| (open_hours / available).round_dp(4).normalize().to_string());
            json!({ "team": name, "people": people, "open_hours": open_hours.normalize().to_string(),
                    "available_hours": available.normalize().to_string(), "load": load })
        })
        .collect();
    Ok(json!({ "from": util::day(from), "to": util::day(to), "employees": rows, "teams": teams,
               "unassigned_hours": unassigned.normalize().to_string() }))
}
