//! Who is calling, and the small list and input helpers every part shares.

use erp_sdk::{Error, Result, Value};
use serde::Deserialize;

/// The person the command runs for; commands here always act for someone.
pub fn me() -> Result<String> {
    erp_sdk::context::current()
        .user_id
        .filter(|u| !u.is_empty())
        .ok_or_else(|| Error::AccessDenied("a signed-in person (chats, groups and the drive are personal)".into()))
}

/// The company's settings of this plugin.
#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    /// Days a trashed file is kept.
    #[serde(default = "thirty")]
    pub trash_days: i64,
    /// Hours during which a message can be edited.
    #[serde(default = "day")]
    pub message_edit_hours: i64,
}

fn thirty() -> i64 {
    30
}

fn day() -> i64 {
    24
}

/// The settings, with their defaults where the admin left them out.
pub fn settings() -> Settings {
    erp_sdk::context::config::<Option<Settings>>()
        .ok()
        .flatten()
        .unwrap_or(Settings { trash_days: thirty(), message_edit_hours: day() })
}

/// A required text input, trimmed.
pub fn text(input: &Value, key: &str) -> Result<String> {
    optional_text(input, key).ok_or_else(|| Error::invalid(key, "is required"))
}

/// An optional text input, trimmed; blank is absent.
pub fn optional_text(input: &Value, key: &str) -> Option<String> {
    input.get(key).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

/// A list of user ids (or record ids) from the input; absent is empty.
pub fn ids(input: &Value, key: &str) -> Vec<String> {
    let mut out: Vec<String> = input
        .get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    dedup(&mut out);
    out
}

/// Removes repeats, keeping the first of each.
pub fn dedup(list: &mut Vec<String>) {
    let mut seen = std::collections::BTreeSet::new();
    list.retain(|x| seen.insert(x.clone()));
}

/// `a` then what `b` adds.
pub fn union(a: &[String], b: &[String]) -> Vec<String> {
    let mut out = a.to_vec();
    out.extend(b.iter().cloned());
    dedup(&mut out);
    out
}

/// True when `list` holds `who`.
pub fn holds(list: &[String], who: &str) -> bool {
    list.iter().any(|x| x == who)
}

/// The first `n` characters of `text`, with an ellipsis when cut.
pub fn preview(text: &str, n: usize) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= n {
        one_line
    } else {
        format!("{}…", one_line.chars().take(n).collect::<String>())
    }
}

/// Seconds since the epoch of an RFC 3339 UTC time as the kernel writes them
/// (`2026-12-06T10:00:00.123456Z`); `None` for anything else.
pub fn epoch_seconds(t: &str) -> Option<i64> {
    let (date, time) = t.split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>());
    let (y, m, day) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let time = time.trim_end_matches('Z');
    let mut parts = time.split(':');
    let (h, min) = (parts.next()?.parse::<i64>().ok()?, parts.next()?.parse::<i64>().ok()?);
    let s = parts.next()?.split('.').next()?.parse::<i64>().ok()?;
    // Days from civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + min * 60 + s)
}

/// An RFC 3339 UTC time `seconds` before `now`, keeping its fraction of a second.
pub fn seconds_before(now: &str, seconds: i64) -> Option<String> {
    let fraction = now.trim_end_matches('Z').split_once('.').map(|(_, f)| format!(".{f}")).unwrap_or_default();
    let t = epoch_seconds(now)? - seconds;
    let days = t.div_euclid(86_400);
    let rest = t.rem_euclid(86_400);
    // Civil date from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    Some(format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}{fraction}Z", rest / 3600, rest % 3600 / 60, rest % 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_go_back_across_months_and_years() {
        assert_eq!(seconds_before("2026-03-01T00:00:10.5Z", 11).as_deref(), Some("2026-02-28T23:59:59.5Z"));
        assert_eq!(seconds_before("2027-01-01T00:00:00Z", 86_400 * 30).as_deref(), Some("2026-12-02T00:00:00Z"));
        assert_eq!(epoch_seconds("1970-01-02T00:00:00Z"), Some(86_400));
        assert_eq!(epoch_seconds("yesterday"), None);
    }

    #[test]
    fn previews_cut_long_text_on_one_line() {
        assert_eq!(preview("a\n b", 10), "a b");
        assert_eq!(preview("абвгд", 3), "абв…");
    }
}
