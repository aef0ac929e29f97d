//! Five-field cron expressions (minute hour day-of-month month day-of-week, UTC) and their
//! next firing time.

use chrono::{DateTime, Datelike, Duration, TimeZone, Timelike, Utc};

/// A parsed cron expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    minutes: Vec<u32>,
    hours: Vec<u32>,
    days: Vec<u32>,
    months: Vec<u32>,
    weekdays: Vec<u32>,
    /// Both day fields restricted: either may match (as in classic cron).
    day_or: bool,
}

fn field(text: &str, min: u32, max: u32, name: &str) -> Result<(Vec<u32>, bool), String> {
    let mut out = Vec::new();
    let mut restricted = true;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => {
                (r, s.parse::<u32>().ok().filter(|&s| s > 0).ok_or_else(|| format!("bad step in {name}: {part}"))?)
            }
            None => (part, 1),
        };
        let (lo, hi) = if range == "*" {
            if step == 1 && text == "*" {
                restricted = false;
            }
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            let a: u32 = a.parse().map_err(|_| format!("bad {name}: {part}"))?;
            let b: u32 = b.parse().map_err(|_| format!("bad {name}: {part}"))?;
            (a, b)
        } else {
            let v: u32 = range.parse().map_err(|_| format!("bad {name}: {part}"))?;
            (v, if step > 1 { max } else { v })
        };
        if lo < min || hi > max || lo > hi {
            return Err(format!("{name} must be within {min}-{max}: {part}"));
        }
        out.extend((lo..=hi).step_by(step as usize));
    }
    out.sort_unstable();
    out.dedup();
    Ok((out, restricted))
}

impl Cron {
    /// Parses `minute hour day-of-month month day-of-week`; day-of-week 0 or 7 is Sunday.
    pub fn parse(text: &str) -> Result<Cron, String> {
        let parts: Vec<&str> = text.split_whitespace().collect();
        if parts.len() != 5 {
            return Err("a cron expression has five fields: minute hour day month weekday".into());
        }
        let (minutes, _) = field(parts[0], 0, 59, "minute")?;
        let (hours, _) = field(parts[1], 0, 23, "hour")?;
        let (days, days_restricted) = field(parts[2], 1, 31, "day of month")?;
        let (months, _) = field(parts[3], 1, 12, "month")?;
        let (mut weekdays, weekdays_restricted) = field(parts[4], 0, 7, "day of week")?;
        if weekdays.contains(&7) {
            weekdays.retain(|&d| d != 7);
            if !weekdays.contains(&0) {
                weekdays.insert(0, 0);
            }
        }
        Ok(Cron { minutes, hours, days, months, weekdays, day_or: days_restricted && weekdays_restricted })
    }

    fn day_matches(&self, t: &DateTime<Utc>) -> bool {
        let dom = self.days.contains(&t.day());
        let dow = self.weekdays.contains(&t.weekday().num_days_from_sunday());
        if self.day_or { dom || dow } else { dom && dow }
    }

    /// The first firing time strictly after `after`, within about four years.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let start = after.with_second(0)?.with_nanosecond(0)? + Duration::minutes(1);
        let mut t = start;
        let limit = start + Duration::days(366 * 4);
        while t < limit {
            if !self.months.contains(&t.month()) {
                let (y, m) = if t.month() == 12 { (t.year() + 1, 1) } else { (t.year(), t.month() + 1) };
                t = Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0).single()?;
                continue;
            }
            if !self.day_matches(&t) {
                t = Utc.with_ymd_and_hms(t.year(), t.month(), t.day(), 0, 0, 0).single()? + Duration::days(1);
                continue;
            }
            if !self.hours.contains(&t.hour()) {
                t = Utc.with_ymd_and_hms(t.year(), t.month(), t.day(), t.hour(), 0, 0).single()? + Duration::hours(1);
                continue;
            }
            if !self.minutes.contains(&t.minute()) {
                t += Duration::minutes(1);
                continue;
            }
            return Some(t);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).expect("time").with_timezone(&Utc)
    }

    #[test]
    fn next_firing_times() {
        let cases = [
            ("0 3 * * *", "2026-11-29T10:15:00Z", "2026-11-30T03:00:00Z"),
            ("*/15 * * * *", "2026-11-29T10:15:00Z", "2026-11-29T10:30:00Z"),
            ("30 9 * * 1-5", "2026-11-28T12:00:00Z", "2026-11-30T09:30:00Z"),
            ("0 0 1 * *", "2026-12-15T00:00:00Z", "2027-01-01T00:00:00Z"),
            ("0 12 29 2 *", "2026-03-01T00:00:00Z", "2028-02-29T12:00:00Z"),
            ("0 8 1 * 0", "2026-11-29T09:00:00Z", "2026-12-01T08:00:00Z"),
        ];
        for (expr, after, expected) in cases {
            let cron = Cron::parse(expr).expect(expr);
            assert_eq!(cron.next_after(at(after)), Some(at(expected)), "{expr} after {after}");
        }
    }

    #[test]
    fn bad_expressions() {
        for bad in ["", "* * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "*/0 * * * *", "a * * * *", "5-1 * * * *"] {
            assert!(Cron::parse(bad).is_err(), "{bad}");
        }
    }
}
