//! Values shown per locale: numbers and money with the locale's separators, dates and times in
//! the locale's order, booleans in words.

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

/// An RFC 3339 time as date and `HH:MM` (UTC).
pub(super) fn datetime(raw: &str, lang: &str) -> String {
    match raw.get(11..16) {
        Some(hm) if raw.len() >= 16 => format!("{} {hm}", date(raw, lang)),
        _ => raw.to_string(),
    }
}

/// A field value as text for lists, cards and read-only views.
pub(super) fn value(v: &Value, kind: Option<FieldType>, lang: &str) -> String {
    match (v, kind) {
        (Value::Null, _) => String::new(),
        (Value::Bool(b), _) => i18n::text(lang, if *b { "yes" } else { "no" }),
        (Value::Number(n), _) => number(&n.to_string(), lang),
        (Value::String(s), Some(FieldType::Decimal)) => number(s, lang),
        (Value::String(s), Some(FieldType::Date)) => date(s, lang),
        (Value::String(s), Some(FieldType::Datetime)) => datetime(s, lang),
        (Value::String(s), None) if looks_like_number(s) => number(s, lang),
        (Value::String(s), None) if s.len() == 10 && s.as_bytes().get(4) == Some(&b'-') => date(s, lang),
        (Value::String(s), None) if s.len() > 16 && s.as_bytes().get(10) == Some(&b'T') => datetime(s, lang),
        (Value::String(s), _) => s.clone(),
        (Value::Array(items), _) => {
            let all_scalar = items.iter().all(|i| !i.is_object() && !i.is_array());
            if all_scalar {
                items.iter().map(|i| value(i, None, lang)).collect::<Vec<_>>().join(", ")
            } else {
                format!("[{}]", items.len())
            }
        }
        (Value::Object(_), _) => v.to_string(),
    }
}

/// A field's value as text: an enum value by the label its manifest gives it, the rest as
/// [`value`] shows them.
pub(super) fn field(v: &Value, f: Option<&FieldSpec>, lang: &str) -> String {
    if let (Some(f), Value::String(s)) = (f, v)
        && let Some(label) = f.value_labels.get(s)
    {
        return label.text(lang).to_string();
    }
    value(v, f.map(|f| f.kind), lang)
}

/// An amount: two decimals (more when it has them), grouped per locale.
pub(super) fn money(v: &Value, lang: &str) -> String {
    match decimal(v) {
        Some(d) => {
            let mut d = d.normalize();
            if d.scale() < 2 {
                d.rescale(2);
            }
            number(&d.to_string(), lang)
        }
        None => value(v, None, lang),
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

    #[test]
    fn numbers_follow_the_locale() {
        assert_eq!(number("1234567.50", "ru"), "1\u{a0}234\u{a0}567,50");
        assert_eq!(number("1234567.50", "en"), "1,234,567.50");
        assert_eq!(number("-950", "en"), "-950");
        assert_eq!(number("abc", "en"), "abc");
    }

    #[test]
    fn money_has_two_decimals_and_enum_values_their_labels() {
        assert_eq!(money(&Value::from("59200"), "ru"), "59\u{a0}200,00");
        assert_eq!(money(&Value::from(12.5), "en"), "12.50");
        assert_eq!(money(&Value::from("0.125"), "en"), "0.125");
        let f: FieldSpec = serde_json::from_value(serde_json::json!({
            "type": "enum", "values": ["person"],
            "value_labels": { "person": { "en": "Person", "ru": "Физическое лицо" } }
        }))
        .unwrap();
        assert_eq!(field(&Value::from("person"), Some(&f), "ru"), "Физическое лицо");
        assert_eq!(field(&Value::from("other"), Some(&f), "ru"), "other");
    }

    #[test]
    fn dates_follow_the_locale() {
        assert_eq!(date("2026-11-09", "ru"), "09.11.2026");
        assert_eq!(date("2026-11-09", "en"), "9 Nov 2026");
        assert_eq!(datetime("2026-11-09T14:05:00Z", "ru"), "09.11.2026 14:05");
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
