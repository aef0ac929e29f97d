//! Employees and departments: the rules their records keep, one's own profile, and the
//! department tree.

use erp_sdk::store::{self, Filter, Record};
use erp_sdk::{Error, Result, Value, json};
use rust_decimal::Decimal;

use crate::model::Employee;
use crate::util;

/// Validation of an employee: a manager that exists and is not the employee or below them.
pub fn validate_employee(id: &str, after: &Value) -> Result<()> {
    if after["name"].as_str().is_none_or(|n| n.trim().is_empty()) {
        return Err(Error::invalid("name", "must not be blank"));
    }
    if let Some(skills) = after.get("skills")
        && !skills.as_array().is_some_and(|a| a.len() <= 50 && a.iter().all(Value::is_string))
    {
        return Err(Error::invalid("skills", "must be a list of at most 50 texts"));
    }
    if after["salary"].as_str().is_some_and(|s| s.starts_with('-')) {
        return Err(Error::invalid("salary", "must not be negative"));
    }
    chain("employee", "manager", id, after["manager"].as_str())
}

/// Validation of a department: its parent is not itself or below it.
pub fn validate_department(id: &str, after: &Value) -> Result<()> {
    chain("department", "parent", id, after["parent"].as_str())
}

fn chain(collection: &str, field: &str, id: &str, first: Option<&str>) -> Result<()> {
    let mut next = first.map(str::to_string);
    let mut hops = 0;
    while let Some(p) = next {
        if p == id || hops > 50 {
            return Err(Error::invalid(field, "would make a loop: it cannot be itself or below itself"));
        }
        next = store::get::<Value>(collection, &p)?.data[field].as_str().map(str::to_string);
        hops += 1;
    }
    Ok(())
}

/// Validation of a schedule: 0 to 24 hours a day, a start time like 09:00.
pub fn validate_schedule(after: &Value) -> Result<()> {
    for day in ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] {
        let h: Decimal = after[day].as_str().and_then(|s| s.parse().ok()).unwrap_or_default();
        if h.is_sign_negative() || h > Decimal::from(24) {
            return Err(Error::invalid(day, "must be 0 to 24 hours"));
        }
    }
    for field in ["start", "end"] {
        if let Some(t) = after[field].as_str()
            && chrono::NaiveTime::parse_from_str(t, "%H:%M").is_err()
        {
            return Err(Error::invalid(field, "must be a time like 09:00"));
        }
    }
    Ok(())
}

/// `my-profile`: the caller's own record with their personal data, which only HR sees
/// for others.
pub fn my_profile() -> Result<Value> {
    let me = util::me()?;
    let full = store::get::<Value>("employee", &me.id)?;
    Ok(json!({ "id": full.id, "version": full.version, "data": full.data }))
}

/// A department and every department below it.
pub fn subtree(root: &str) -> Result<Vec<String>> {
    let all = util::every::<Value>("department")?;
    let mut out = vec![root.to_string()];
    let mut i = 0;
    while i < out.len() {
        let parent = out[i].clone();
        for d in &all {
            if d.data["parent"].as_str() == Some(parent.as_str()) && !out.contains(&d.id) {
                out.push(d.id.clone());
            }
        }
        i += 1;
    }
    Ok(out)
}

/// Active employees.
pub fn active() -> Result<Vec<Record<Employee>>> {
    util::all::<Employee>("employee", Filter::eq("status", "active"))
}

/// True when `manager` is `employee`'s manager, directly or higher up.
pub fn manages(manager: &str, employee: &Employee) -> Result<bool> {
    let mut next = employee.manager.clone();
    let mut hops = 0;
    while let Some(m) = next {
        if m == manager {
            return Ok(true);
        }
        if hops > 50 {
            return Ok(false);
        }
        next = store::get::<Employee>("employee", &m)?.data.manager;
        hops += 1;
    }
    Ok(false)
}
