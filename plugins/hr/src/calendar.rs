//! The working calendar: hours an employee is expected to work on each day from their
//! schedule, company holidays and moved working days, and their approved leave.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate, Weekday};
use erp_sdk::store::{self, Filter};
use erp_sdk::{Result, Value, json};
use rust_decimal::Decimal;
use serde::Deserialize;

use crate::model::{Employee, Holiday, LeaveRequest, Schedule};
use crate::util;

/// Holidays and moved working days in a period, by date.
pub fn holidays(from: NaiveDate, to: NaiveDate) -> Result<BTreeMap<NaiveDate, Holiday>> {
    let f = Filter::and(vec![Filter::gte("date", util::day(from)), Filter::lte("date", util::day(to))]);
    let mut out = BTreeMap::new();
    for h in util::all::<Holiday>("holiday", f)? {
        if let Ok(d) = util::date("date", &h.data.date) {
            out.insert(d, h.data);
        }
    }
    Ok(out)
}

/// The schedule an employee works to (five eight-hour days when none is set).
pub fn schedule_of(e: &Employee) -> Schedule {
    e.schedule.as_deref().and_then(|id| store::get::<Schedule>("schedule", id).ok()).map(|r| r.data).unwrap_or_default()
}

/// Scheduled hours on a weekday.
pub fn weekday_hours(s: &Schedule, d: NaiveDate) -> Decimal {
    match d.weekday() {
        Weekday::Mon => s.mon,
        Weekday::Tue => s.tue,
        Weekday::Wed => s.wed,
        Weekday::Thu => s.thu,
        Weekday::Fri => s.fri,
        Weekday::Sat => s.sat,
        Weekday::Sun => s.sun,
    }
}

/// Hours expected on a day: none on a holiday; a moved working day has its own hours (or
/// the longest weekday's); otherwise the schedule's.
pub fn hours_on(s: &Schedule, d: NaiveDate, holidays: &BTreeMap<NaiveDate, Holiday>) -> Decimal {
    match holidays.get(&d) {
        Some(h) if h.kind.as_deref() == Some("workday") => h
            .hours
            .unwrap_or_else(|| [s.mon, s.tue, s.wed, s.thu, s.fri, s.sat, s.sun].into_iter().max().unwrap_or_default()),
        Some(_) => Decimal::ZERO,
        None => weekday_hours(s, d),
    }
}

/// The days of `from..=to`.
pub fn days(from: NaiveDate, to: NaiveDate) -> impl Iterator<Item = NaiveDate> {
    from.iter_days().take_while(move |d| *d <= to)
}

/// Working days (scheduled hours above zero) in a period.
pub fn working_days(s: &Schedule, from: NaiveDate, to: NaiveDate) -> Result<Decimal> {
    let hol = holidays(from, to)?;
    Ok(Decimal::from(days(from, to).filter(|d| hours_on(s, *d, &hol) > Decimal::ZERO).count() as u64))
}

/// Approved leave of an employee touching a period: the days it covers.
pub fn leave_days(employee: &str, from: NaiveDate, to: NaiveDate) -> Result<Vec<NaiveDate>> {
    let f = Filter::and(vec![
        Filter::eq("employee", employee),
        Filter::eq("state", "approved"),
        Filter::lte("from", util::day(to)),
    ]);
    let mut out = Vec::new();
    for r in util::all::<LeaveRequest>("leave_request", f)? {
        let (Ok(a), Ok(b)) = (util::date("from", &r.data.from), util::date("to", &r.data.to)) else { continue };
        out.extend(days(a.max(from), b.min(to)));
    }
    Ok(out)
}

/// Hours an employee is available in a period: scheduled, less approved leave.
pub fn available_hours(e: &erp_sdk::store::Record<Employee>, from: NaiveDate, to: NaiveDate) -> Result<Decimal> {
    let s = schedule_of(&e.data);
    let hol = holidays(from, to)?;
    let away = leave_days(&e.id, from, to)?;
    Ok(days(from, to).filter(|d| !away.contains(d)).map(|d| hours_on(&s, d, &hol)).sum())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Expected {
    employee: Option<String>,
    from: String,
    to: String,
}

/// `expected-hours`: per day, the scheduled hours and whether the employee is on leave.
pub fn expected(input: Value) -> Result<Value> {
    let i: Expected = erp_sdk::input(input)?;
    let e = match i.employee.as_deref() {
        Some(id) => store::get::<Employee>("employee", id)
            .map_err(|_| erp_sdk::Error::invalid("employee", "no such employee"))?,
        None => util::me()?,
    };
    let (from, to) = util::period(&i.from, &i.to)?;
    let s = schedule_of(&e.data);
    let hol = holidays(from, to)?;
    let away = leave_days(&e.id, from, to)?;
    let mut rows = Vec::new();
    let (mut scheduled, mut available) = (Decimal::ZERO, Decimal::ZERO);
    for d in days(from, to) {
        let h = hours_on(&s, d, &hol);
        let on_leave = away.contains(&d);
        scheduled += h;
        if !on_leave {
            available += h;
        }
        rows.push(
            json!({ "date": util::day(d), "hours": h.normalize().to_string(), "holiday": hol.get(&d).map(|x| &x.name),
                          "on_leave": on_leave }),
        );
    }
    Ok(json!({ "employee": e.id, "from": util::day(from), "to": util::day(to), "days": rows,
               "scheduled": scheduled.normalize().to_string(), "available": available.normalize().to_string() }))
}
