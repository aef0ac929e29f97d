//! Time helpers: the kernel's clock, RFC 3339 parsing and formatting, day arithmetic.

use chrono::{DateTime, SecondsFormat, Utc};

/// A parsed instant.
pub type Instant = DateTime<Utc>;

/// Parses an RFC 3339 time (any offset) into UTC.
pub fn parse(s: &str) -> Option<Instant> {
    DateTime::parse_from_rfc3339(s.trim()).ok().map(|t| t.with_timezone(&Utc))
}

/// Formats as RFC 3339 UTC with a `Z`.
pub fn format(t: Instant) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Seconds since the Unix epoch as RFC 3339 UTC.
pub fn from_unix(secs: i64) -> Option<String> {
    DateTime::from_timestamp(secs, 0).map(format)
}

/// The kernel's current time.
pub fn now() -> Instant {
    parse(&erp_sdk::now()).unwrap_or_default()
}

/// `t` normalised to the form this plugin stores.
pub fn normalise(s: &str) -> Option<String> {
    parse(s).map(format)
}

/// `t` moved by whole minutes.
pub fn plus_minutes(t: Instant, minutes: i64) -> Instant {
    t + chrono::TimeDelta::minutes(minutes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_offsets() {
        let t = parse("2026-03-01T12:00:00+03:00").expect("parses");
        assert_eq!(format(t), "2026-03-01T09:00:00Z");
        assert_eq!(from_unix(0).as_deref(), Some("1970-01-01T00:00:00Z"));
        assert_eq!(parse("yesterday"), None);
    }
}
