//! Demand forecast per product from its history of issues: weekly demand over a window,
//! forecast by a moving average and by exponential smoothing, each with its one-step-ahead
//! mean absolute error, the better one chosen.

use erp_sdk::store::Filter;
use erp_sdk::{Error, Result, Value, json};
use rust_decimal::Decimal;
use serde::Deserialize;

use crate::model::Move;
use crate::{stock, when};

/// Weeks of history read by default.
const WEEKS: i64 = 26;

/// A forecast of weekly demand.
#[derive(Debug, Clone, PartialEq)]
pub struct Forecast {
    /// Demand per week, oldest first.
    pub history: Vec<Decimal>,
    /// Next week's demand by the chosen method.
    pub weekly: Decimal,
    /// `moving_average` or `exponential_smoothing`.
    pub method: &'static str,
    /// Moving-average forecast and its mean absolute error.
    pub moving_average: (Decimal, Option<Decimal>),
    /// Exponential-smoothing forecast and its mean absolute error.
    pub smoothing: (Decimal, Option<Decimal>),
}

/// The moving average of the last `window` values, and the mean absolute error of the same
/// rule applied one step ahead over the history.
pub fn moving_average(history: &[Decimal], window: usize) -> (Decimal, Option<Decimal>) {
    let avg = |xs: &[Decimal]| -> Decimal {
        if xs.is_empty() { Decimal::ZERO } else { xs.iter().sum::<Decimal>() / Decimal::from(xs.len()) }
    };
    let forecast = avg(&history[history.len().saturating_sub(window)..]);
    let errors: Vec<Decimal> =
        (window..history.len()).map(|t| (history[t] - avg(&history[t - window..t])).abs()).collect();
    (forecast, (!errors.is_empty()).then(|| avg(&errors)))
}

/// Simple exponential smoothing with factor `alpha`, and its one-step-ahead mean absolute
/// error.
pub fn smoothing(history: &[Decimal], alpha: Decimal) -> (Decimal, Option<Decimal>) {
    let Some((first, rest)) = history.split_first() else { return (Decimal::ZERO, None) };
    let mut level = *first;
    let mut errors = Vec::new();
    for x in rest {
        errors.push((*x - level).abs());
        level = alpha * *x + (Decimal::ONE - alpha) * level;
    }
    let mae = (!errors.is_empty()).then(|| errors.iter().sum::<Decimal>() / Decimal::from(errors.len()));
    (level, mae)
}

/// Weekly issued quantities of a product over the last `weeks` weeks, oldest first.
pub fn history(product: &str, weeks: i64) -> Result<Vec<Decimal>> {
    let now = when::now();
    let since = now - chrono::TimeDelta::weeks(weeks);
    let f = Filter::and(vec![
        Filter::eq("product", product),
        Filter::eq("kind", "issue"),
        Filter::eq("state", "done"),
        Filter::gte("done_at", when::format(since).as_str()),
    ]);
    let mut buckets = vec![Decimal::ZERO; weeks as usize];
    for m in stock::every::<Move>("move", f, 100_000)? {
        let Some(t) = m.data.done_at.as_deref().and_then(when::parse) else { continue };
        let age = (now - t).num_weeks();
        if (0..weeks).contains(&age) {
            let i = (weeks - 1 - age) as usize;
            buckets[i] += m.data.quantity;
        }
    }
    Ok(buckets)
}

/// The forecast for a product.
pub fn of(product: &str, weeks: i64, window: usize, alpha: Decimal) -> Result<Forecast> {
    let history = history(product, weeks)?;
    let ma = moving_average(&history, window);
    let es = smoothing(&history, alpha);
    let (method, weekly) = match (ma.1, es.1) {
        (Some(a), Some(b)) if b < a => ("exponential_smoothing", es.0),
        (None, Some(_)) => ("exponential_smoothing", es.0),
        _ => ("moving_average", ma.0),
    };
    Ok(Forecast { history, weekly, method, moving_average: ma, smoothing: es })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Ask {
    product: String,
    weeks: Option<i64>,
    window: Option<usize>,
    alpha: Option<Decimal>,
}

fn shown(d: Decimal) -> String {
    d.round_dp(4).normalize().to_string()
}

/// `forecast`: weekly demand history and next week's demand by both methods, with errors.
pub fn forecast(input: Value) -> Result<Value> {
    let a: Ask = erp_sdk::serde_json::from_value(input).map_err(|e| Error::invalid("input", e.to_string()))?;
    let weeks = a.weeks.unwrap_or(WEEKS);
    let window = a.window.unwrap_or(4);
    let alpha = a.alpha.unwrap_or(Decimal::new(3, 1));
    if !(2..=104).contains(&weeks) {
        return Err(Error::invalid("weeks", "must be 2 to 104"));
    }
    if !(1..=52).contains(&window) {
        return Err(Error::invalid("window", "must be 1 to 52"));
    }
    if alpha <= Decimal::ZERO || alpha > Decimal::ONE {
        return Err(Error::invalid("alpha", "must be above 0 and at most 1"));
    }
    let f = of(&a.product, weeks, window, alpha)?;
    Ok(json!({
        "product": a.product,
        "weekly_history": f.history.iter().map(|d| shown(*d)).collect::<Vec<_>>(),
        "method": f.method,
        "next_week": shown(f.weekly),
        "moving_average": { "window": window, "forecast": shown(f.moving_average.0), "mean_abs_error": f.moving_average.1.map(shown) },
        "exponential_smoothing": { "alpha": alpha.to_string(), "forecast": shown(f.smoothing.0), "mean_abs_error": f.smoothing.1.map(shown) },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(xs: &[i64]) -> Vec<Decimal> {
        xs.iter().map(|x| Decimal::from(*x)).collect()
    }

    #[test]
    fn moving_average_by_hand() {
        // Last three of [10, 20, 30, 40]: 30. One step ahead: t=3 predicts 20 for 40 → error 20.
        let (f, mae) = moving_average(&d(&[10, 20, 30, 40]), 3);
        assert_eq!(f, Decimal::from(30));
        assert_eq!(mae, Some(Decimal::from(20)));
        assert_eq!(moving_average(&[], 3), (Decimal::ZERO, None));
    }

    #[test]
    fn smoothing_by_hand() {
        // alpha 0.5 over [10, 20, 30]: level 10 → 15 → 22.5; errors 10 and 15 → 12.5.
        let (f, mae) = smoothing(&d(&[10, 20, 30]), Decimal::new(5, 1));
        assert_eq!(f, Decimal::new(225, 1));
        assert_eq!(mae, Some(Decimal::new(125, 1)));
    }
}
