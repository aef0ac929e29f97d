//! Dates of the books: parsing, months (the periods balances are kept for) and today.

use chrono::{Datelike, Days, Months, NaiveDate};
use erp_sdk::{Error, Result};

/// A date as `YYYY-MM-DD`.
pub fn parse(field: &str, s: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| Error::invalid(field, "must be a date, YYYY-MM-DD"))
}

/// An optional date input.
pub fn optional(field: &str, v: Option<&str>) -> Result<Option<NaiveDate>> {
    v.map(|s| parse(field, s)).transpose()
}

/// `YYYY-MM-DD`.
pub fn format(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// The month a date falls in, `YYYY-MM`: the period of the balances.
pub fn period(d: NaiveDate) -> String {
    d.format("%Y-%m").to_string()
}

/// The first day of the date's month.
pub fn month_start(d: NaiveDate) -> NaiveDate {
    d.with_day(1).unwrap_or(d)
}

/// The last day of the date's month.
pub fn month_end(d: NaiveDate) -> NaiveDate {
    month_start(d).checked_add_months(Months::new(1)).and_then(|n| n.pred_opt()).unwrap_or(d)
}

/// The next day.
pub fn next(d: NaiveDate) -> NaiveDate {
    d.succ_opt().unwrap_or(d)
}

/// The day before.
pub fn prev(d: NaiveDate) -> NaiveDate {
    d.pred_opt().unwrap_or(d)
}

/// `d` plus `days`.
pub fn plus_days(d: NaiveDate, days: u64) -> NaiveDate {
    d.checked_add_days(Days::new(days)).unwrap_or(d)
}

/// Today by the kernel's clock (UTC).
pub fn today() -> NaiveDate {
    let now = erp_sdk::now();
    NaiveDate::parse_from_str(now.get(..10).unwrap_or_default(), "%Y-%m-%d").unwrap_or_default()
}

/// Midnight UTC of a date, RFC 3339.
pub fn midnight(d: NaiveDate) -> String {
    format!("{}T00:00:00Z", format(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months() {
        let d = NaiveDate::from_ymd_opt(2024, 2, 10).unwrap();
        assert_eq!(period(d), "2024-02");
        assert_eq!(format(month_start(d)), "2024-02-01");
        assert_eq!(format(month_end(d)), "2024-02-29");
        assert_eq!(format(month_end(NaiveDate::from_ymd_opt(2026, 12, 31).unwrap())), "2026-12-31");
    }
}
