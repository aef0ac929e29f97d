//! Bar charts drawn as SVG on the server: no script, no library, readable without colour.

use std::fmt::Write;

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
}
