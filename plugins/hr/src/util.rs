//! Small helpers over the SDK: inputs, dates and times, the company's settings, and who is
//! calling.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use erp_sdk::store::{self, Filter, Query, Record};
use erp_sdk::{Error, Result, context};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::model::Employee;

/// Most records one command reads from a collection in one go.
pub const MAX_SCAN: usize = 20_000;
/// Longest period a command reports on, in days.
pub const MAX_DAYS: i64 = 400;

/// Every record that matches `filter`, page by page.
pub fn all<T: DeserializeOwned>(collection: &str, filter: Filter) -> Result<Vec<Record<T>>> {
    store::query_all(collection, Query::new().filter(filter), MAX_SCAN)
}

/// Every record of a collection.
pub fn every<T: DeserializeOwned>(collection: &str) -> Result<Vec<Record<T>>> {
    store::query_all(collection, Query::new(), MAX_SCAN)
}

/// A date `YYYY-MM-DD`.
pub fn date(field: &str, s: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| Error::invalid(field, "must be a date, YYYY-MM-DD"))
}

/// `YYYY-MM-DD`.
pub fn day(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// A period `from..=to` of at most [`MAX_DAYS`] days.
pub fn period(from: &str, to: &str) -> Result<(NaiveDate, NaiveDate)> {
    let (f, t) = (date("from", from)?, date("to", to)?);
    if f > t {
        return Err(Error::invalid("from", "must not be after to"));
    }
    if (t - f).num_days() >= MAX_DAYS {
        return Err(Error::invalid("to", format!("a period is at most {MAX_DAYS} days")));
    }
    Ok((f, t))
}

/// An RFC 3339 time, in UTC.
pub fn instant(field: &str, s: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| Error::invalid(field, "must be an RFC 3339 time, such as 2026-03-02T09:00:00Z"))
}

/// RFC 3339 UTC with a `Z`.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The kernel's clock.
pub fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&erp_sdk::now()).map(|t| t.with_timezone(&Utc)).unwrap_or_default()
}

/// The plugin's settings, and under `company` the company's own settings that the kernel
/// gives every plugin.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Config {
    grace_minutes: Option<i64>,
    horizon_days: Option<i64>,
    company: CompanySettings,
}

/// The company's settings shared by every plugin (Settings → Company in the kernel).
#[derive(Deserialize, Default)]
#[serde(default)]
struct CompanySettings {
    /// The company's time zone's offset from UTC now, in minutes.
    utc_offset_minutes: Option<i64>,
}

fn config() -> Config {
    context::config::<Config>().unwrap_or_default()
}

/// The company's time zone, minutes east of UTC: its offset now in the company's settings;
/// Moscow (180) when the kernel gives none.
pub fn utc_offset() -> i64 {
    config().company.utc_offset_minutes.unwrap_or(180).clamp(-14 * 60, 14 * 60)
}

/// Minutes of lateness that do not count.
pub fn grace_minutes() -> i64 {
    config().grace_minutes.unwrap_or(5).clamp(0, 240)
}

/// Days ahead that workload looks at.
pub fn horizon_days() -> i64 {
    config().horizon_days.unwrap_or(7).clamp(1, 92)
}

/// The company's local date of an instant.
pub fn local_date(t: DateTime<Utc>) -> NaiveDate {
    (t + chrono::Duration::minutes(utc_offset())).date_naive()
}

/// Today in the company's time zone.
pub fn today() -> NaiveDate {
    local_date(now())
}

/// HR: may see and act for everyone.
pub fn is_hr() -> bool {
    context::has_permission("hr.manage")
}

/// The employee record of the calling user.
pub fn me() -> Result<Record<Employee>> {
    let user = context::current().user_id.ok_or_else(|| Error::AccessDenied("no user is calling".into()))?;
    store::first::<Employee>("employee", Query::new().filter(Filter::eq("user_id", user.as_str())))?
        .ok_or_else(|| Error::invalid("user", "the caller has no employee record"))
}

/// The employee a command is about: the one named (HR, or the caller themselves), or the
/// caller. Others' records answer not found, as if they did not exist.
pub fn subject(named: Option<&str>) -> Result<Record<Employee>> {
    match named {
        Some(id) if is_hr() => {
            store::get::<Employee>("employee", id).map_err(|_| Error::invalid("employee", "no such employee"))
        }
        Some(id) => {
            let mine = me()?;
            if mine.id == id { Ok(mine) } else { Err(Error::not_found(format!("employee {id}"))) }
        }
        None => me(),
    }
}
