//! Charts drawn on the server, no script and no library: bars as SVG, timelines (who is away
//! when) as a table of days; both readable without colour.

use std::fmt::Write;

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

/// Escapes text for SVG content and attributes.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// Horizontal bars, one per `(label, value, shown value)`, scaled to the largest magnitude.
/// Negative values are drawn from the same axis in a second shade.
pub(super) fn bars(title: &str, items: &[(String, Decimal, String)]) -> String {
    const ROW: usize = 26;
    const LABEL_W: usize = 230;
    const BAR_W: f64 = 360.0;
    let height = items.len() * ROW + 30;
    let max = items.iter().map(|(_, v, _)| v.abs()).max().unwrap_or(Decimal::ZERO).to_f64().unwrap_or(0.0);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" role="img" class="bars" viewBox="0 0 {w} {height}" width="100%" preserveAspectRatio="xMinYMin meet"><title>{t}</title>"#,
        w = LABEL_W + BAR_W as usize + 140,
        t = esc(title),
    );
    let _ = write!(svg, r#"<text x="0" y="16" class="chart-title">{}</text>"#, esc(title));
    for (i, (label, value, shown)) in items.iter().enumerate() {
        let y = 30 + i * ROW;
        let v = value.to_f64().unwrap_or(0.0);
        let w = if max > 0.0 { (v.abs() / max * BAR_W).max(if v != 0.0 { 1.0 } else { 0.0 }) } else { 0.0 };
        let short: String =
            if label.chars().count() > 28 { label.chars().take(27).chain(['…']).collect() } else { label.clone() };
        let class = if v < 0.0 { "bar neg" } else { "bar" };
        let _ = write!(
            svg,
            r#"<text x="{lx}" y="{ty}" text-anchor="end" class="chart-label">{l}</text><rect x="{bx}" y="{y}" width="{w:.1}" height="{h}" class="{class}"><title>{lt}: {s}</title></rect><text x="{vx:.1}" y="{ty}" class="chart-value">{s}</text>"#,
            lx = LABEL_W - 8,
            ty = y + 15,
            l = esc(&short),
            bx = LABEL_W,
            h = ROW - 8,
            lt = esc(label),
            s = esc(shown),
            vx = LABEL_W as f64 + w + 6.0,
        );
    }
    svg.push_str("</svg>");
    svg
}

/// One span of a timeline: a line's label, its first and last day, and its kind.
pub(super) struct Span {
    pub label: String,
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub category: Option<String>,
}

/// Most days a timeline shows; longer periods are cut there.
const MAX_DAYS: i64 = 200;
/// Kinds told apart by colour; more share the last one.
const SHADES: usize = 6;

/// Days as columns and one line per label, each span's days marked in its kind's shade (and
/// its kind named in every marked cell's tooltip and in the legend), weekends and today set
/// apart: an HTML table that scrolls sideways on a phone with the names kept in view.
pub(super) fn timeline(
    title: &str,
    from: NaiveDate,
    to: NaiveDate,
    spans: &[Span],
    lang: &str,
    today: NaiveDate,
) -> String {
    const RU: [&str; 7] = ["Пн", "Вт", "Ср", "Чт", "Пт", "Сб", "Вс"];
    const EN: [&str; 7] = ["Mo", "Tu", "We", "Th", "Fr", "Sa", "Su"];
    let to = to.min(from + chrono::Duration::days(MAX_DAYS - 1)).max(from);
    let days: Vec<NaiveDate> = from.iter_days().take_while(|d| *d <= to).collect();
    let mut labels: Vec<&str> = spans.iter().map(|s| s.label.as_str()).collect();
    labels.sort_by_key(|l| l.to_lowercase());
    labels.dedup();
    let mut kinds: Vec<&str> = spans.iter().filter_map(|s| s.category.as_deref()).collect();
    kinds.sort();
    kinds.dedup();
    let shade =
        |k: Option<&str>| k.and_then(|k| kinds.iter().position(|x| *x == k)).map_or(0, |i| i.min(SHADES - 1) + 1);
    let mut html = String::new();
    let _ = write!(
        html,
        r#"<div class="timeline-chart"><p class="chart-title">{}</p><div class="scroll"><table class="timeline"><thead><tr><th scope="col" class="who"></th>"#,
        esc(title)
    );
    for d in &days {
        let wd = d.weekday().num_days_from_monday() as usize;
        let class = format!("{}{}", if wd >= 5 { "weekend" } else { "" }, if *d == today { " today" } else { "" });
        let name = if lang == "ru" { RU[wd] } else { EN[wd] };
        let _ = write!(
            html,
            r#"<th scope="col" class="{}" title="{}"><span>{}</span><small>{name}</small></th>"#,
            class.trim(),
            d.format("%Y-%m-%d"),
            d.day()
        );
    }
    html.push_str("</tr></thead><tbody>");
    for label in &labels {
        let _ = write!(html, r#"<tr><th scope="row" class="who">{}</th>"#, esc(label));
        for d in &days {
            let found = spans.iter().find(|s| s.label == *label && s.start <= *d && *d <= s.end);
            let wd = d.weekday().num_days_from_monday();
            let mut class = String::from(if wd >= 5 { "weekend" } else { "" });
            if *d == today {
                class.push_str(" today");
            }
            match found {
                Some(s) => {
                    let kind = s.category.as_deref().unwrap_or_default();
                    let tip = format!(
                        "{}: {}{}",
                        label,
                        d.format("%d.%m"),
                        if kind.is_empty() { String::new() } else { format!(", {kind}") }
                    );
                    let _ = write!(
                        html,
                        r#"<td class="{} on k{}" title="{}"></td>"#,
                        class.trim(),
                        shade(s.category.as_deref()),
                        esc(&tip)
                    );
                }
                None => {
                    let _ = write!(html, r#"<td class="{}"></td>"#, class.trim());
                }
            }
        }
        html.push_str("</tr>");
    }
    html.push_str("</tbody></table></div>");
    if !kinds.is_empty() {
        html.push_str(r#"<ul class="legend">"#);
        for (i, k) in kinds.iter().enumerate() {
            let _ = write!(html, r#"<li><span class="swatch k{}"></span>{}</li>"#, i.min(SHADES - 1) + 1, esc(k));
        }
        html.push_str("</ul>");
    }
    html.push_str("</div>");
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest_and_escape_labels() {
        let svg = bars(
            "<Funnel>",
            &[("New <b>".into(), Decimal::from(50), "50".into()), ("Won".into(), Decimal::from(100), "100".into())],
        );
        assert!(svg.contains(r#"width="180.0""#), "half of the largest: {svg}");
        assert!(svg.contains(r#"width="360.0""#));
        assert!(svg.contains("New &lt;b&gt;") && !svg.contains("<b>"));
        assert!(svg.contains("&lt;Funnel&gt;"));
    }

    #[test]
    fn a_timeline_marks_each_span_on_its_line_with_its_kind() {
        let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date");
        let spans = [
            Span {
                label: "Иванова А.".into(),
                start: day("2026-12-07"),
                end: day("2026-12-09"),
                category: Some("Отпуск".into()),
            },
            Span {
                label: "<Петров>".into(),
                start: day("2026-11-20"),
                end: day("2026-12-02"),
                category: Some("Больничный".into()),
            },
        ];
        let html = timeline("Отсутствия", day("2026-12-01"), day("2026-12-31"), &spans, "ru", day("2026-12-04"));
        assert_eq!(html.matches("<tr><th scope=\"row\"").count(), 2, "a line per person");
        assert_eq!(html.matches(" on k").count(), 3 + 2, "three days of leave and two of sick leave in December");
        assert!(html.contains("&lt;Петров&gt;") && !html.contains("<Петров>"), "escaped");
        assert!(html.contains("<small>Сб</small>") && html.contains("class=\"today\""));
        assert!(html.contains("<span class=\"swatch k1\"></span>Больничный"), "a legend of kinds");
        // Someone who may not see the kind sees only that the person is away.
        let plain = [Span {
            category: None,
            ..Span { label: "A".into(), start: day("2026-12-01"), end: day("2026-12-01"), category: None }
        }];
        let html = timeline("t", day("2026-12-01"), day("2026-12-02"), &plain, "en", day("2026-12-01"));
        assert!(html.contains("on k0") && !html.contains("legend"));
    }
}
