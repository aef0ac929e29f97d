//! Values shown per locale: numbers and money with the locale's separators, dates and times in
//! the locale's order and the person's time zone, booleans in words.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::Value;

use super::i18n;
use erp_kernel::plugins::manifest::{FieldSpec, FieldType};

/// Groups the integer part of a decimal text and uses the locale's decimal mark.
pub(super) fn number(raw: &str, lang: &str) -> String {
    let raw = raw.trim();
    let (sign, digits) = match raw.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", raw),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return raw.to_string();
    }
    let (group, mark) = if lang == "ru" { ('\u{a0}', ',') } else { (',', '.') };
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(group);
        }
        grouped.push(c);
    }
    if frac.is_empty() { format!("{sign}{grouped}") } else { format!("{sign}{grouped}{mark}{frac}") }
}

/// `2026-11-29` as `29.11.2026` (ru) or `29 Nov 2026` (en).
pub(super) fn date(raw: &str, lang: &str) -> String {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let parts: Vec<&str> = raw.get(..10).unwrap_or(raw).split('-').collect();
    match parts.as_slice() {
        [y, m, d] if y.len() == 4 && m.len() == 2 && d.len() == 2 => {
            if lang == "ru" {
                format!("{d}.{m}.{y}")
            } else {
                let month = m.parse::<usize>().ok().and_then(|m| MONTHS.get(m.wrapping_sub(1))).unwrap_or(m);
                format!("{} {month} {y}", d.trim_start_matches('0'))
            }
        }
        _ => raw.to_string(),
    }
}

/// How one person reads values: their language and the time zone times are shown and typed in
/// (their own, else their company's).
#[derive(Debug, Clone, Copy)]
pub(super) struct Locale {
    pub(super) lang: &'static str,
    pub(super) tz: Tz,
}

impl Locale {
    /// The first zone that parses among the person's and the company's; UTC otherwise.
    pub(super) fn new(lang: &'static str, zones: &[Option<&str>]) -> Locale {
        let tz = zones.iter().flatten().find_map(|z| z.parse::<Tz>().ok()).unwrap_or(Tz::UTC);
        Locale { lang, tz }
    }

    /// Now, on this person's clock.
    pub(super) fn now(&self) -> DateTime<Tz> {
        Utc::now().with_timezone(&self.tz)
    }

    /// Today's date where this person is.
    pub(super) fn today(&self) -> NaiveDate {
        self.now().date_naive()
    }

    /// The instant a local wall-clock time means, in UTC. In the hour that summer time repeats
    /// the earlier one counts; a time that summer time skips moves one hour on.
    pub(super) fn utc_of(&self, local: NaiveDateTime) -> DateTime<Utc> {
        let found = self.tz.from_local_datetime(&local).earliest();
        let found = found.or_else(|| self.tz.from_local_datetime(&(local + chrono::Duration::hours(1))).earliest());
        found.map_or_else(|| Utc.from_utc_datetime(&local), |t| t.with_timezone(&Utc))
    }

    /// An RFC 3339 time on this person's clock.
    pub(super) fn local(&self, raw: &str) -> Option<NaiveDateTime> {
        DateTime::parse_from_rfc3339(raw).ok().map(|t| t.with_timezone(&self.tz).naive_local())
    }
}

/// An RFC 3339 time as date and `HH:MM` on the person's clock.
pub(super) fn datetime(raw: &str, loc: Locale) -> String {
    match loc.local(raw) {
        Some(t) => format!("{} {}", date(&t.format("%Y-%m-%d").to_string(), loc.lang), t.format("%H:%M")),
        None => raw.to_string(),
    }
}

/// An RFC 3339 time as `datetime-local` inputs show it, to the second
/// (`2026-12-06T09:30:00`), on the person's clock.
pub(super) fn datetime_input(raw: &str, loc: Locale) -> Option<String> {
    loc.local(raw).map(|t| t.format("%Y-%m-%dT%H:%M:%S").to_string())
}

/// A time a person typed on their clock (`2026-12-06T09:30`, seconds optional) as RFC 3339 UTC.
pub(super) fn parse_datetime(typed: &str, loc: Locale) -> Option<String> {
    let t = typed.trim();
    let local = NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S"))
        .or_else(|_| NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M"))
        .ok()?;
    Some(loc.utc_of(local).format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

/// A field value as text for lists, cards and read-only views.
pub(super) fn value(v: &Value, kind: Option<FieldType>, loc: Locale) -> String {
    let lang = loc.lang;
    match (v, kind) {
        (Value::Null, _) => String::new(),
        (Value::Bool(b), _) => i18n::text(lang, if *b { "yes" } else { "no" }),
        (Value::Number(n), _) => number(&n.to_string(), lang),
        (Value::String(s), Some(FieldType::Decimal)) => number(s, lang),
        (Value::String(s), Some(FieldType::Date)) => date(s, lang),
        (Value::String(s), Some(FieldType::Datetime)) => datetime(s, loc),
        (Value::String(s), None) if looks_like_number(s) => number(s, lang),
        (Value::String(s), None) if s.len() == 10 && s.as_bytes().get(4) == Some(&b'-') => date(s, lang),
        (Value::String(s), None) if s.len() > 16 && s.as_bytes().get(10) == Some(&b'T') => datetime(s, loc),
        (Value::String(s), _) => s.clone(),
        (Value::Array(items), _) => {
            let all_scalar = items.iter().all(|i| !i.is_object() && !i.is_array());
            if all_scalar {
                items.iter().map(|i| value(i, None, loc)).collect::<Vec<_>>().join(", ")
            } else {
                format!("[{}]", items.len())
            }
        }
        (Value::Object(map), _) => {
            // Details an integration attached (UTM tags): one `key: value` per entry.
            let flat = map.values().all(|i| !i.is_object() && !i.is_array());
            if flat {
                map.iter().map(|(k, i)| format!("{k}: {}", value(i, None, loc))).collect::<Vec<_>>().join("; ")
            } else {
                v.to_string()
            }
        }
    }
}

/// A field's value as text: an enum value by the label its manifest gives it, the rest as
/// [`value`] shows them.
pub(super) fn field(v: &Value, f: Option<&FieldSpec>, loc: Locale) -> String {
    if let Some(f) = f
        && !f.line.is_empty()
        && let Some(text) = super::lines::summary(v, loc.lang)
    {
        return text;
    }
    if let (Some(f), Value::String(s)) = (f, v)
        && let Some(label) = f.value_labels.get(s)
    {
        return label.text(loc.lang).to_string();
    }
    if f.is_some_and(FieldSpec::is_file) {
        return file(v, loc.lang);
    }
    if let (Some(item), Value::Array(items)) = (f.and_then(|f| f.item_spec()), v) {
        return items.iter().map(|i| field(i, Some(&item), loc)).collect::<Vec<_>>().join(", ");
    }
    value(v, f.map(|f| f.kind), loc)
}

/// A file's size in the largest unit that keeps it above one: `1,2 МБ`, `340 KB`.
pub(super) fn file_size(bytes: i64, lang: &str) -> String {
    let units = ["bytes", "kilobytes", "megabytes", "gigabytes"];
    let mut size = bytes.max(0) as f64;
    let mut unit = 0;
    while size >= 1024.0 && unit + 1 < units.len() {
        size /= 1024.0;
        unit += 1;
    }
    let shown = if unit == 0 || size >= 10.0 { format!("{size:.0}") } else { format!("{size:.1}") };
    format!("{} {}", number(&shown, lang), i18n::text(lang, units[unit]))
}

/// A file field's value: its name and size.
pub(super) fn file(v: &Value, lang: &str) -> String {
    match (v.get("name").and_then(Value::as_str), v.get("size").and_then(Value::as_i64)) {
        (Some(name), Some(size)) => format!("{name} ({})", file_size(size, lang)),
        (Some(name), None) => name.to_string(),
        _ => String::new(),
    }
}

/// An amount: two decimals (more when it has them), grouped per locale.
pub(super) fn money(v: &Value, loc: Locale) -> String {
    match decimal(v) {
        Some(d) => {
            let mut d = d.normalize();
            if d.scale() < 2 {
                d.rescale(2);
            }
            number(&d.to_string(), loc.lang)
        }
        None => value(v, None, loc),
    }
}

/// A decimal number in text (`-12.50`), as APIs send money.
pub(super) fn looks_like_number(s: &str) -> bool {
    let t = s.strip_prefix('-').unwrap_or(s);
    !t.is_empty()
        && t.bytes().filter(|b| *b == b'.').count() <= 1
        && t.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && t.as_bytes()[0].is_ascii_digit()
}

/// A number typed by a person as decimal text (`1234.50`): spaces group digits; a comma is
/// the decimal mark in Russian and groups thousands in English (`1,234`); with both marks the
/// last one is the decimal mark. Anything else is returned as typed, for the kernel to explain.
pub(super) fn parse_number(typed: &str, lang: &str) -> String {
    let compact: String = typed.chars().filter(|c| !c.is_whitespace() && *c != '\u{a0}').collect();
    let normal = match (compact.rfind('.'), compact.rfind(',')) {
        (Some(dot), Some(comma)) if comma > dot => compact.replace('.', "").replace(',', "."),
        (Some(_), Some(_)) => compact.replace(',', ""),
        (None, Some(_)) if lang == "ru" && compact.matches(',').count() == 1 => compact.replace(',', "."),
        (None, Some(_)) if lang != "ru" && groups_of_three(&compact) => compact.replace(',', ""),
        _ => compact,
    };
    if looks_like_number(&normal) { normal } else { typed.trim().to_string() }
}

/// `1,234,567`: digits grouped by commas in threes.
fn groups_of_three(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let mut parts = digits.split(',');
    let first = parts.next().unwrap_or_default();
    (1..=3).contains(&first.len())
        && first.bytes().all(|b| b.is_ascii_digit())
        && parts.all(|p| p.len() == 3 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// A JSON number or decimal text as an exact decimal.
pub(super) fn decimal(v: &Value) -> Option<rust_decimal::Decimal> {
    use std::str::FromStr;
    match v {
        Value::Number(n) => rust_decimal::Decimal::from_str(&n.to_string()).ok(),
        Value::String(s) if looks_like_number(s) => rust_decimal::Decimal::from_str(s).ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ru() -> Locale {
        Locale::new("ru", &[])
    }

    fn en() -> Locale {
        Locale::new("en", &[])
    }

    #[test]
    fn numbers_follow_the_locale() {
        assert_eq!(number("1234567.50", "ru"), "1\u{a0}234\u{a0}567,50");
        assert_eq!(number("1234567.50", "en"), "1,234,567.50");
        assert_eq!(number("-950", "en"), "-950");
        assert_eq!(number("abc", "en"), "abc");
    }

    #[test]
    fn money_has_two_decimals_and_enum_values_their_labels() {
        assert_eq!(money(&Value::from("59200"), ru()), "59\u{a0}200,00");
        assert_eq!(money(&Value::from(12.5), en()), "12.50");
        assert_eq!(money(&Value::from("0.125"), en()), "0.125");
        let f: FieldSpec = serde_json::from_value(serde_json::json!({
            "type": "enum", "values": ["person"],
            "value_labels": { "person": { "en": "Person", "ru": "Физическое лицо" } }
        }))
        .unwrap();
        assert_eq!(field(&Value::from("person"), Some(&f), ru()), "Физическое лицо");
        assert_eq!(field(&Value::from("other"), Some(&f), ru()), "other");
    }

    #[test]
    fn dates_follow_the_locale() {
        assert_eq!(date("2026-11-09", "ru"), "09.11.2026");
        assert_eq!(date("2026-11-09", "en"), "9 Nov 2026");
        assert_eq!(datetime("2026-11-09T14:05:00Z", ru()), "09.11.2026 14:05");
        let moscow = Locale::new("ru", &[None, Some("Europe/Moscow")]);
        assert_eq!(datetime("2026-11-09T22:05:00Z", moscow), "10.11.2026 01:05");
        assert_eq!(datetime_input("2026-11-09T22:05:00Z", moscow).as_deref(), Some("2026-11-10T01:05:00"));
        assert_eq!(parse_datetime("2026-11-10T01:05", moscow).as_deref(), Some("2026-11-09T22:05:00Z"));
        // The person's own zone wins over the company's; an unknown one is skipped.
        let berlin = Locale::new("en", &[Some("Nowhere/City"), Some("Europe/Berlin"), Some("Europe/Moscow")]);
        assert_eq!(parse_datetime("2026-07-01T12:00", berlin).as_deref(), Some("2026-07-01T10:00:00Z"));
        // The hour summer time skips moves on by one hour; the repeated one counts once.
        assert_eq!(parse_datetime("2026-03-29T02:30", berlin).as_deref(), Some("2026-03-29T01:30:00Z"));
        assert_eq!(parse_datetime("2026-10-25T02:30", berlin).as_deref(), Some("2026-10-25T00:30:00Z"));
        assert_eq!(parse_datetime("tomorrow", berlin), None);
    }

    #[test]
    fn typed_numbers_are_read_in_either_locale() {
        assert_eq!(parse_number("1 234,50", "ru"), "1234.50");
        assert_eq!(parse_number("1,234.50", "en"), "1234.50");
        assert_eq!(parse_number("1.234,50", "en"), "1234.50");
        assert_eq!(parse_number("1,234", "en"), "1234", "a thousand and more, not one point two");
        assert_eq!(parse_number("1,5", "ru"), "1.5");
        assert_eq!(parse_number("1,5", "en"), "1,5", "ambiguous: left for the kernel to refuse");
        assert_eq!(parse_number("12", "en"), "12");
        assert_eq!(parse_number("twelve", "en"), "twelve");
    }
}
