//! Times: parsing and formatting RFC 3339 UTC.

use chrono::{DateTime, SecondsFormat, Utc};

/// An instant.
pub type Instant = DateTime<Utc>;

/// Parses an RFC 3339 time into UTC.
pub fn parse(s: &str) -> Option<Instant> {
    DateTime::parse_from_rfc3339(s.trim()).ok().map(|t| t.with_timezone(&Utc))
}

/// RFC 3339 UTC with a `Z`.
pub fn format(t: Instant) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// The kernel's clock.
pub fn now() -> Instant {
    parse(&erp_sdk::now()).unwrap_or_default()
}
