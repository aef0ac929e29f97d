//! Time tracking: clocking in and out (one open interval at a time), timesheet lines, and
//! the attendance report against the schedule.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveTime, Utc};
use erp_sdk::store::{self, Filter, Query, Record};
use erp_sdk::{Error, Result, Value, json};
use rust_decimal::Decimal;
use serde::Deserialize;

use crate::model::{Attendance, Employee};
use crate::{calendar, people, util};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Clock {
    employee: Option<String>,
    at: Option<String>,
}

/// When: now, or (for HR, correcting) the time given.
fn when(at: Option<&str>) -> Result<DateTime<Utc>> {
    match at {
        Some(_) if !util::is_hr() => Err(Error::AccessDenied("only HR records a time other than now".into())),
        Some(t) => util::instant("at", t),
        None => Ok(util::now()),
    }
}

fn open_interval(employee: &str) -> Result<Option<Record<Attendance>>> {
    let q = Query::new().filter(Filter::and(vec![Filter::eq("employee", employee), Filter::eq("open", true)]));
    store::first("attendance", q)
}

/// `clock-in`.
pub fn clock_in(input: Value) -> Result<Value> {
    let c: Clock = erp_sdk::input(input)?;
    let e = util::subject(c.employee.as_deref())?;
    let at = when(c.at.as_deref())?;
    if let Some(open) = open_interval(&e.id)? {
        return Err(Error::invalid(
            "employee",
            format!("already clocked in since {}: clock out first", open.data.start),
        ));
    }
    let rec = store::create(
        "attendance",
        &Attendance {
            employee: e.id.clone(),
            user_id: e.data.user_id.clone(),
            start: util::rfc3339(at),
            end: None,
            open: true,
        },
    )?;
    Ok(json!({ "id": rec.id, "employee": e.id, "start": rec.data.start }))
}

/// `clock-out`.
pub fn clock_out(input: Value) -> Result<Value> {
    let c: Clock = erp_sdk::input(input)?;
    let e = util::subject(c.employee.as_deref())?;
    let at = when(c.at.as_deref())?;
    let open = open_interval(&e.id)?.ok_or_else(|| Error::invalid("employee", "not clocked in"))?;
    let start = util::instant("start", &open.data.start)?;
    if at <= start {
        return Err(Error::invalid("at", "must be after the clock-in"));
    }
    let end = util::rfc3339(at);
    store::update::<Value>("attendance", &open.id, &json!({ "end": end, "open": false }), Some(open.version))?;
    let hours = Decimal::from((at - start).num_minutes()) / Decimal::from(60);
    Ok(json!({ "id": open.id, "start": open.data.start, "end": end, "hours": hours.round_dp(2).to_string() }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogTime {
    employee: Option<String>,
    date: String,
    hours: Decimal,
    task: Option<String>,
    project: Option<String>,
    note: Option<String>,
}

/// `log-time`: a timesheet line; a day holds at most 24 hours.
pub fn log_time(input: Value) -> Result<Value> {
    let l: LogTime = erp_sdk::input(input)?;
    let e = util::subject(l.employee.as_deref())?;
    let date = util::date("date", &l.date)?;
    if l.hours <= Decimal::ZERO || l.hours > Decimal::from(24) || l.hours.normalize().scale() > 2 {
        return Err(Error::invalid("hours", "must be more than 0 and at most 24, in hundredths"));
    }
    if let Some(t) = &l.task
        && store::get::<Value>("task", t).is_err()
    {
        return Err(Error::invalid("task", "no such task"));
    }
    let day = util::day(date);
    let f = Filter::and(vec![Filter::eq("employee", e.id.as_str()), Filter::eq("date", day.as_str())]);
    let logged: Decimal = util::all::<Value>("timesheet", f)?
        .iter()
        .filter_map(|r| r.data["hours"].as_str().and_then(|h| h.parse::<Decimal>().ok()))
        .sum();
    if logged + l.hours > Decimal::from(24) {
        return Err(Error::invalid("hours", format!("{} hours are already logged on {day}", logged.normalize())));
    }
    let rec = store::create::<Value>(
        "timesheet",
        &json!({ "employee": e.id, "user_id": e.data.user_id, "date": day, "hours": l.hours.to_string(),
                 "task": l.task, "project": l.project, "note": l.note }),
    )?;
    Ok(json!({ "id": rec.id, "date": day, "hours": l.hours.normalize().to_string() }))
}

/// The employee whose reports the caller may read: themselves, their reports, or anyone for HR.
pub fn readable(named: Option<&str>) -> Result<Record<Employee>> {
    let Some(id) = named else { return util::me() };
    if util::is_hr() {
        return util::subject(Some(id));
    }
    let me = util::me()?;
    let other = store::get::<Employee>("employee", id).map_err(|_| Error::not_found(format!("employee {id}")))?;
    if other.id == me.id || people::manages(&me.id, &other.data)? {
        Ok(other)
    } else {
        Err(Error::not_found(format!("employee {id}")))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Report {
    employee: Option<String>,
    from: String,
    to: String,
}

/// A clock interval: in, and out unless still open.
type Interval = (DateTime<Utc>, Option<DateTime<Utc>>);

fn minutes_between(a: NaiveTime, b: NaiveTime) -> i64 {
    (b - a).num_minutes()
}

/// `attendance`: per day what was scheduled and worked, with deviations.
pub fn attendance(input: Value) -> Result<Value> {
    let r: Report = erp_sdk::input(input)?;
    let e = readable(r.employee.as_deref())?;
    let (from, to) = util::period(&r.from, &r.to)?;
    let s = calendar::schedule_of(&e.data);
    let hol = calendar::holidays(from, to)?;
    let away = calendar::leave_days(&e.id, from, to)?;
    let offset = chrono::Duration::minutes(util::utc_offset());
    let start_of_day = s.start.as_deref().and_then(|t| NaiveTime::parse_from_str(t, "%H:%M").ok());
    let end_of_day = s.end.as_deref().and_then(|t| NaiveTime::parse_from_str(t, "%H:%M").ok());
    let today = util::today();
    // Intervals by the local day they began on (a day's start is a day earlier in UTC at most).
    let f = Filter::and(vec![
        Filter::eq("employee", e.id.as_str()),
        Filter::gte(
            "start",
            util::rfc3339((from - chrono::Days::new(1)).and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()),
        ),
        Filter::lte(
            "start",
            util::rfc3339((to + chrono::Days::new(1)).and_hms_opt(23, 59, 59).unwrap_or_default().and_utc()),
        ),
    ]);
    let mut by_day: BTreeMap<chrono::NaiveDate, Vec<Interval>> = BTreeMap::new();
    for a in util::all::<Attendance>("attendance", f)? {
        let start = util::instant("start", &a.data.start)?;
        let end = a.data.end.as_deref().map(|x| util::instant("end", x)).transpose()?;
        by_day.entry(util::local_date(start)).or_default().push((start, end));
    }
    let sheet = Filter::and(vec![
        Filter::eq("employee", e.id.as_str()),
        Filter::gte("date", util::day(from)),
        Filter::lte("date", util::day(to)),
    ]);
    let mut logged: BTreeMap<String, Decimal> = BTreeMap::new();
    for t in util::all::<Value>("timesheet", sheet)? {
        let h = t.data["hours"].as_str().and_then(|h| h.parse::<Decimal>().ok()).unwrap_or_default();
        *logged.entry(t.data["date"].as_str().unwrap_or_default().to_string()).or_default() += h;
    }
    let grace = util::grace_minutes();
    let mut rows = Vec::new();
    let (mut t_expected, mut t_worked, mut t_overtime) = (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
    let (mut late_days, mut early_days, mut missing, mut no_show) = (0, 0, 0, 0);
    for d in calendar::days(from, to) {
        let on_leave = away.contains(&d);
        let expected = if on_leave { Decimal::ZERO } else { calendar::hours_on(&s, d, &hol) };
        let intervals = by_day.get(&d).cloned().unwrap_or_default();
        let mut worked_minutes = 0;
        let mut missing_out = false;
        for (a, b) in &intervals {
            match b {
                Some(b) => worked_minutes += (*b - *a).num_minutes(),
                None if d < today => missing_out = true,
                None => {}
            }
        }
        let worked = Decimal::from(worked_minutes) / Decimal::from(60);
        let first_in = intervals.iter().map(|(a, _)| (*a + offset).time()).min();
        let last_out = intervals.iter().filter_map(|(_, b)| b.map(|b| (b + offset).naive_utc())).max();
        let late = match (first_in, start_of_day) {
            (Some(i), Some(st)) if expected > Decimal::ZERO && minutes_between(st, i) > grace => minutes_between(st, i),
            _ => 0,
        };
        // Compared as local date and time, so leaving after midnight is not leaving early.
        let early = match (last_out, end_of_day) {
            (Some(o), Some(en)) if expected > Decimal::ZERO && !missing_out && o < d.and_time(en) => {
                (d.and_time(en) - o).num_minutes()
            }
            _ => 0,
        };
        let overtime = (worked - expected).max(Decimal::ZERO);
        let absent = expected > Decimal::ZERO && intervals.is_empty() && d < today;
        t_expected += expected;
        t_worked += worked;
        t_overtime += overtime;
        late_days += usize::from(late > 0);
        early_days += usize::from(early > 0);
        missing += usize::from(missing_out);
        no_show += usize::from(absent);
        let text = |x: Decimal| x.round_dp(2).normalize().to_string();
        rows.push(json!({
            "date": util::day(d), "expected": text(expected), "worked": text(worked),
            "logged": logged.get(&util::day(d)).map(|x| text(*x)).unwrap_or_else(|| "0".into()),
            "late_minutes": late, "early_leave_minutes": early, "missing_clock_out": missing_out,
            "overtime": text(overtime), "on_leave": on_leave, "absent": absent,
            "holiday": hol.get(&d).map(|h| &h.name),
        }));
    }
    let text = |x: Decimal| x.round_dp(2).normalize().to_string();
    Ok(json!({
        "employee": e.id, "name": e.data.name, "from": util::day(from), "to": util::day(to), "days": rows,
        "totals": { "expected": text(t_expected), "worked": text(t_worked), "overtime": text(t_overtime),
                    "late_days": late_days, "early_leave_days": early_days, "missing_clock_outs": missing, "absent_days": no_show },
    }))
}
