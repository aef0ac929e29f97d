//! The absence calendar (who is away when, per department) and presence: whether each
//! employee is away today, published as `hr.absence.changed` whenever that changes, so that
//! other plugins (the CRM's lead assignment) skip people who are away.

use erp_sdk::store::{self, Filter, Query, Record};
use erp_sdk::{Result, Value, events, json};
use serde::Deserialize;

use crate::model::{Employee, LeaveRequest, LeaveType};
use crate::{people, util};

/// True when an approved leave of the employee covers today.
pub fn away_today(employee: &str) -> Result<bool> {
    let today = util::day(util::today());
    let f = Filter::and(vec![
        Filter::eq("employee", employee),
        Filter::eq("state", "approved"),
        Filter::lte("from", today.as_str()),
        Filter::gte("to", today.as_str()),
    ]);
    Ok(store::first::<Value>("leave_request", Query::new().filter(f))?.is_some())
}

/// Records whether the employee is away today and publishes a change.
pub fn refresh(e: &Record<Employee>) -> Result<()> {
    let absent = away_today(&e.id)?;
    let known = store::first::<Value>("presence", Query::new().filter(Filter::eq("key", e.id.as_str())))?;
    let was = known.as_ref().map(|p| p.data["absent"].as_bool().unwrap_or(false)).unwrap_or(false);
    match known {
        Some(p) if was != absent => {
            store::update::<Value>("presence", &p.id, &json!({ "absent": absent }), Some(p.version))?;
        }
        Some(_) => return Ok(()),
        None => {
            store::create::<Value>("presence", &json!({ "key": e.id, "employee": e.id, "absent": absent }))?;
            if !absent {
                return Ok(());
            }
        }
    }
    events::publish("hr.absence.changed", &json!({ "employee": e.id, "user_id": e.data.user_id, "absent": absent }))?;
    Ok(())
}

/// The `presence` schedule: leave starting or ending today shows up as a change.
pub fn check_all() -> Result<()> {
    for e in people::active()? {
        refresh(&e)?;
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Calendar {
    from: String,
    to: String,
    department: Option<String>,
}

/// `absences`: approved leave in a period, for a department and those below it. The kind of
/// leave is shown to HR only.
pub fn calendar(input: Value) -> Result<Value> {
    let c: Calendar = erp_sdk::input(input)?;
    let (from, to) = util::period(&c.from, &c.to)?;
    let departments = c.department.as_deref().map(people::subtree).transpose()?;
    let hr = util::is_hr();
    let f = Filter::and(vec![
        Filter::eq("state", "approved"),
        Filter::lte("from", util::day(to)),
        Filter::gte("to", util::day(from)),
    ]);
    let mut rows = Vec::new();
    for r in util::all::<LeaveRequest>("leave_request", f)? {
        let Ok(e) = store::get::<Employee>("employee", &r.data.employee) else { continue };
        if let Some(ds) = &departments
            && !e.data.department.as_ref().is_some_and(|d| ds.contains(d))
        {
            continue;
        }
        let kind =
            if hr { store::get::<LeaveType>("leave_type", &r.data.leave_type).ok().map(|t| t.data.name) } else { None };
        let (a, b) = (util::date("from", &r.data.from)?.max(from), util::date("to", &r.data.to)?.min(to));
        rows.push(json!({ "employee": e.id, "name": e.data.name, "department": e.data.department,
                          "from": util::day(a), "to": util::day(b), "leave_type": kind }));
    }
    rows.sort_by(|x, y| (x["from"].as_str(), x["name"].as_str()).cmp(&(y["from"].as_str(), y["name"].as_str())));
    Ok(json!({ "from": util::day(from), "to": util::day(to), "absences": rows }))
}
