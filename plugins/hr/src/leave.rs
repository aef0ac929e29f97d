//! Leave: allocations with yearly accrual, requests counted in working days, approval by the
//! employee's manager (never by themselves), balances that stay above zero unless the type
//! allows otherwise, and no overlapping requests.

use chrono::{Datelike, NaiveDate};
use erp_sdk::store::{self, Filter, Query, Record};
use erp_sdk::{Error, Result, Value, events, json};
use rust_decimal::Decimal;
use serde::Deserialize;

use crate::model::{Allocation, Employee, LeaveRequest, LeaveType};
use crate::{absence, calendar, people, util};

fn leave_type(field: &str, key: &str) -> Result<Record<LeaveType>> {
    if let Ok(t) = store::get::<LeaveType>("leave_type", key) {
        return Ok(t);
    }
    store::first("leave_type", Query::new().filter(Filter::eq("code", key)))?
        .ok_or_else(|| Error::invalid(field, format!("no leave type {key}")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Allocate {
    employee: String,
    leave_type: String,
    year: Decimal,
    days: Decimal,
    accrual: Option<String>,
}

/// `allocate`: sets the days of a leave type an employee gets for a year.
pub fn allocate(input: Value) -> Result<Value> {
    let a: Allocate = erp_sdk::input(input)?;
    let e =
        store::get::<Employee>("employee", &a.employee).map_err(|_| Error::invalid("employee", "no such employee"))?;
    let t = leave_type("leave_type", &a.leave_type)?;
    let year =
        i32::try_from(a.year.trunc().mantissa()).ok().filter(|y| (2000..=2100).contains(y) && a.year.fract().is_zero());
    let year = year.ok_or_else(|| Error::invalid("year", "must be a year such as 2026"))?;
    if a.days.is_sign_negative() || a.days > Decimal::from(366) || a.days.normalize().scale() > 2 {
        return Err(Error::invalid("days", "must be 0 to 366, in hundredths"));
    }
    let accrual = a.accrual.unwrap_or_else(|| "monthly".into());
    if !matches!(accrual.as_str(), "monthly" | "upfront") {
        return Err(Error::invalid("accrual", "must be monthly or upfront"));
    }
    let f = Filter::and(vec![
        Filter::eq("employee", e.id.as_str()),
        Filter::eq("leave_type", t.id.as_str()),
        Filter::eq("year", year),
    ]);
    let data = Allocation {
        employee: e.id.clone(),
        user_id: e.data.user_id.clone(),
        leave_type: t.id.clone(),
        year,
        days: a.days,
        accrual: Some(accrual),
    };
    let rec = match store::first::<Allocation>("allocation", Query::new().filter(f))? {
        Some(old) => store::update::<Allocation>("allocation", &old.id, &data, Some(old.version))?,
        None => store::create("allocation", &data)?,
    };
    Ok(
        json!({ "id": rec.id, "employee": e.id, "leave_type": t.data.code, "year": year, "days": a.days.normalize().to_string() }),
    )
}

/// Days of an allocation accrued by the end of `at`: all at once, or a twelfth at the start of
/// each month worked in its year (from the month of hire), rounded to hundredths.
pub fn accrued(a: &Allocation, hire: Option<NaiveDate>, at: NaiveDate) -> Decimal {
    if at.year() < a.year {
        return Decimal::ZERO;
    }
    let first = match hire {
        Some(h) if h.year() > a.year => return Decimal::ZERO,
        Some(h) if h.year() == a.year => h.month(),
        _ => 1,
    };
    let last = if at.year() > a.year { 12 } else { at.month() };
    if a.accrual.as_deref() == Some("upfront") {
        return a.days;
    }
    let months = Decimal::from(last.saturating_sub(first) + u32::from(last >= first));
    (a.days * months / Decimal::from(12)).round_dp(2)
}

struct Balance {
    accrued: Decimal,
    taken: Decimal,
    pending: Decimal,
}

/// Accrued, taken and pending days of a type for an employee in a year, at a date; `skip`
/// leaves one request out (the one being decided).
fn balance_of(e: &Record<Employee>, t: &str, year: i32, at: NaiveDate, skip: Option<&str>) -> Result<Balance> {
    let hire = e.data.hire_date.as_deref().and_then(|h| util::date("hire_date", h).ok());
    let f =
        Filter::and(vec![Filter::eq("employee", e.id.as_str()), Filter::eq("leave_type", t), Filter::eq("year", year)]);
    let accrued_days: Decimal =
        util::all::<Allocation>("allocation", f)?.iter().map(|a| accrued(&a.data, hire, at)).sum();
    let f = Filter::and(vec![
        Filter::eq("employee", e.id.as_str()),
        Filter::eq("leave_type", t),
        Filter::is_in("state", vec![json!("pending"), json!("approved")]),
        Filter::gte("from", format!("{year}-01-01")),
        Filter::lte("from", format!("{year}-12-31")),
    ]);
    let (mut taken, mut pending) = (Decimal::ZERO, Decimal::ZERO);
    for r in util::all::<LeaveRequest>("leave_request", f)? {
        if Some(r.id.as_str()) == skip {
            continue;
        }
        if r.data.state == "approved" { taken += r.data.days } else { pending += r.data.days }
    }
    Ok(Balance { accrued: accrued_days, taken, pending })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    employee: Option<String>,
    leave_type: String,
    from: String,
    to: String,
    reason: Option<String>,
}

/// Refuses a request beyond what is available, unless the type allows it.
fn check_balance(
    e: &Record<Employee>,
    t: &Record<LeaveType>,
    from: NaiveDate,
    to: NaiveDate,
    days: Decimal,
    skip: Option<&str>,
) -> Result<()> {
    if !t.data.needs_allocation.unwrap_or(true) || t.data.allow_negative.unwrap_or(false) {
        return Ok(());
    }
    if from.year() != to.year() {
        return Err(Error::invalid(
            "to",
            format!("each year's {} comes from that year's allocation: split the request at 31 December", t.data.name),
        ));
    }
    let b = balance_of(e, &t.id, from.year(), to, skip)?;
    let available = b.accrued - b.taken - b.pending;
    if days > available {
        return Err(Error::invalid(
            "to",
            format!(
                "{} working days asked, {} available of {} ({} accrued by {}, {} taken, {} pending)",
                days.normalize(),
                available.normalize(),
                t.data.name,
                b.accrued.normalize(),
                util::day(to),
                b.taken.normalize(),
                b.pending.normalize()
            ),
        ));
    }
    Ok(())
}

/// `request-leave`.
pub fn request(input: Value) -> Result<Value> {
    let r: Request = erp_sdk::input(input)?;
    let e = util::subject(r.employee.as_deref())?;
    let t = leave_type("leave_type", &r.leave_type)?;
    let (from, to) = util::period(&r.from, &r.to)?;
    let days = calendar::working_days(&calendar::schedule_of(&e.data), from, to)?;
    if days.is_zero() {
        return Err(Error::invalid("from", "there are no working days in that period"));
    }
    let overlap = Filter::and(vec![
        Filter::eq("employee", e.id.as_str()),
        Filter::is_in("state", vec![json!("pending"), json!("approved")]),
        Filter::lte("from", util::day(to)),
        Filter::gte("to", util::day(from)),
    ]);
    if let Some(other) = util::all::<LeaveRequest>("leave_request", overlap)?.into_iter().next() {
        return Err(Error::invalid(
            "from",
            format!("overlaps the {} request from {} to {}", other.data.state, other.data.from, other.data.to),
        ));
    }
    check_balance(&e, &t, from, to, days, None)?;
    let rec = store::create(
        "leave_request",
        &LeaveRequest {
            employee: e.id.clone(),
            user_id: e.data.user_id.clone(),
            leave_type: t.id.clone(),
            from: util::day(from),
            to: util::day(to),
            days,
            state: "pending".into(),
            reason: r.reason,
            decided_by: None,
            comment: None,
        },
    )?;
    crate::notices::leave_to_approve(&e, &rec.id, &rec.data.from, &rec.data.to)?;
    Ok(json!({ "id": rec.id, "days": days.normalize().to_string(), "state": "pending" }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Decide {
    id: String,
    approve: bool,
    comment: Option<String>,
}

/// `decide-leave`: the employee's manager (or HR) approves or refuses; nobody decides their
/// own request.
pub fn decide(input: Value) -> Result<Value> {
    let d: Decide = erp_sdk::input(input)?;
    let req = store::get::<LeaveRequest>("leave_request", &d.id)
        .map_err(|_| Error::not_found(format!("leave request {}", d.id)))?;
    let e = store::get::<Employee>("employee", &req.data.employee)?;
    let me = util::me().ok();
    if me.as_ref().is_some_and(|m| m.id == e.id) {
        return Err(Error::AccessDenied("nobody approves their own leave".into()));
    }
    let allowed = util::is_hr() || me.as_ref().map(|m| people::manages(&m.id, &e.data)).transpose()?.unwrap_or(false);
    if !allowed {
        return Err(Error::not_found(format!("leave request {}", d.id)));
    }
    if req.data.state != "pending" {
        return Err(Error::invalid("id", format!("the request is already {}", req.data.state)));
    }
    let (from, to) = (util::date("from", &req.data.from)?, util::date("to", &req.data.to)?);
    let state = if d.approve { "approved" } else { "refused" };
    if d.approve {
        let t = store::get::<LeaveType>("leave_type", &req.data.leave_type)?;
        check_balance(&e, &t, from, to, req.data.days, Some(&req.id))?;
    }
    let by = erp_sdk::context::current().user_id;
    store::update::<Value>(
        "leave_request",
        &req.id,
        &json!({ "state": state, "decided_by": by, "comment": d.comment }),
        Some(req.version),
    )?;
    if d.approve {
        events::publish(
            "hr.leave.approved",
            &json!({ "id": req.id, "employee": e.id, "user_id": e.data.user_id, "leave_type": req.data.leave_type,
                     "from": req.data.from, "to": req.data.to, "days": req.data.days.normalize().to_string() }),
        )?;
        absence::refresh(&e)?;
    }
    crate::notices::leave_decided(&req, d.approve, d.comment.as_deref())?;
    Ok(json!({ "id": req.id, "state": state }))
}

/// `cancel-leave`: one's own request before it starts (HR: any); an approved leave that is
/// under way brings the employee back.
pub fn cancel(input: Value) -> Result<Value> {
    let id = input["id"].as_str().ok_or_else(|| Error::invalid("id", "is required"))?;
    let req =
        store::get::<LeaveRequest>("leave_request", id).map_err(|_| Error::not_found(format!("leave request {id}")))?;
    let e = store::get::<Employee>("employee", &req.data.employee)?;
    let own = util::me().is_ok_and(|m| m.id == e.id);
    if !own && !util::is_hr() {
        return Err(Error::not_found(format!("leave request {id}")));
    }
    if !matches!(req.data.state.as_str(), "pending" | "approved") {
        return Err(Error::invalid("id", format!("the request is already {}", req.data.state)));
    }
    if own && !util::is_hr() && req.data.state == "approved" && util::date("from", &req.data.from)? <= util::today() {
        return Err(Error::invalid("id", "the leave has started: ask HR to change it"));
    }
    store::update::<Value>("leave_request", &req.id, &json!({ "state": "cancelled" }), Some(req.version))?;
    absence::refresh(&e)?;
    Ok(json!({ "id": req.id, "state": "cancelled" }))
}

/// `team-requests`: pending requests of the caller's reports (all of them for HR).
pub fn team_requests() -> Result<Value> {
    let me = util::me().ok();
    let hr = util::is_hr();
    let mut out = Vec::new();
    for r in util::all::<LeaveRequest>("leave_request", Filter::eq("state", "pending"))? {
        let Ok(e) = store::get::<Employee>("employee", &r.data.employee) else { continue };
        let mine = me.as_ref().is_some_and(|m| m.id == e.id);
        let reports = me.as_ref().map(|m| people::manages(&m.id, &e.data)).transpose()?.unwrap_or(false);
        if !mine && (hr || reports) {
            out.push(json!({ "id": r.id, "employee": e.id, "name": e.data.name, "leave_type": r.data.leave_type,
                             "from": r.data.from, "to": r.data.to, "days": r.data.days.normalize().to_string(), "reason": r.data.reason }));
        }
    }
    Ok(json!({ "requests": out }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BalanceInput {
    employee: Option<String>,
    at: Option<String>,
}

/// `balance`: per leave type of the year of `at`, accrued, taken, pending and available.
pub fn balance(input: Value) -> Result<Value> {
    let b: BalanceInput = erp_sdk::input(input)?;
    let e = crate::time::readable(b.employee.as_deref())?;
    let at = b.at.as_deref().map(|a| util::date("at", a)).transpose()?.unwrap_or_else(util::today);
    let mut rows = Vec::new();
    for t in util::every::<LeaveType>("leave_type")? {
        let x = balance_of(&e, &t.id, at.year(), at, None)?;
        if x.accrued.is_zero() && x.taken.is_zero() && x.pending.is_zero() {
            continue;
        }
        rows.push(json!({ "leave_type": t.id, "code": t.data.code, "name": t.data.name,
                          "accrued": x.accrued.normalize().to_string(), "taken": x.taken.normalize().to_string(),
                          "pending": x.pending.normalize().to_string(),
                          "available": (x.accrued - x.taken - x.pending).normalize().to_string() }));
    }
    Ok(json!({ "employee": e.id, "at": util::day(at), "year": at.year(), "types": rows }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn alloc(days: i64, accrual: &str) -> Allocation {
        Allocation { year: 2026, days: Decimal::from(days), accrual: Some(accrual.into()), ..Allocation::default() }
    }

    #[test]
    fn accrual_over_a_year() {
        let a = alloc(28, "monthly");
        let at = |s: &str| accrued(&a, None, d(s)).normalize().to_string();
        assert_eq!(at("2025-12-31"), "0");
        assert_eq!(at("2026-01-15"), "2.33");
        assert_eq!(at("2026-06-30"), "14");
        assert_eq!(at("2026-12-31"), "28");
        assert_eq!(at("2027-03-01"), "28");
        // Hired in April: nine months.
        assert_eq!(accrued(&a, Some(d("2026-04-10")), d("2026-12-31")).normalize().to_string(), "21");
        assert_eq!(accrued(&a, Some(d("2026-04-10")), d("2026-03-31")).to_string(), "0");
        assert_eq!(accrued(&alloc(14, "upfront"), None, d("2026-01-01")).to_string(), "14");
    }
}
