//! UTC time as stored by the kernel: microseconds since the Unix epoch.

use chrono::{DateTime, SecondsFormat, Utc};

/// Microseconds since the Unix epoch, UTC.
pub type Micros = i64;

/// The current time.
pub fn now() -> Micros {
    Utc::now().timestamp_micros()
}

/// RFC 3339 text for a stored timestamp, e.g. `2026-11-29T10:00:00.123456Z`.
pub fn to_rfc3339(at: Micros) -> String {
    DateTime::<Utc>::from_timestamp_micros(at)
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
        .to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Parses RFC 3339 text into a stored timestamp.
pub fn parse_rfc3339(text: &str) -> Option<Micros> {
    DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&Utc).timestamp_micros())
}

/// Seconds as microseconds.
pub const fn seconds(s: i64) -> Micros {
    s * 1_000_000
}
